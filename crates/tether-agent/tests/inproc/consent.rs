//! The user's say over their screen: allow, deny and prompt (yes, no,
//! no answer), for one-shot requests and view streams, and what the
//! prompt and notify commands are told.

use tether_proto::screen::InputEvent;
use tether_proto::{ErrorKind, RequestKind, Role, ScreenRequest, Tier};

use crate::harness::{TestAgent, ask, error_kind, message};

const TIER2: Role = Role::Tier(Tier::Two);

/// A `[consent]` table whose prompt runs `script` with `sh -c`.
fn prompting(script: &str, timeout_secs: u32) -> String {
    format!(
        "[consent]\nview = \"prompt\"\ncontrol = \"prompt\"\nprompt_command = [\"/bin/sh\", \"-c\", {script:?}]\nprompt_timeout_secs = {timeout_secs}\n"
    )
}

fn input() -> tether_proto::Request {
    ScreenRequest::Input { monitor: None, events: vec![InputEvent::ReleaseAll] }.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_of_deny_refuses_view_and_control_and_says_why() {
    let agent = TestAgent::start("[consent]\nview = \"deny\"\ncontrol = \"deny\"\n").await;
    let client = agent.connect(TIER2).await;
    for request in [
        RequestKind::Screenshot.example(),
        RequestKind::View.example(),
        RequestKind::Control.example(),
        input(),
    ] {
        let result = ask(&client, &request).await;
        assert_eq!(error_kind(&result), Some(ErrorKind::Denied), "{request:?}");
        let message = message(result);
        assert!(message.contains("this machine's policy does not allow"), "{message}");
    }
    let denied = agent.audit().into_iter().filter(|r| r.outcome == "denied").count();
    assert_eq!(denied, 4);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_allowed_but_control_denied_separates_looking_from_touching() {
    let agent = TestAgent::start("[consent]\nview = \"allow\"\ncontrol = \"deny\"\n").await;
    let client = agent.connect(TIER2).await;
    // Looking reaches the screen (which does not exist here).
    let looked = ask(&client, &RequestKind::Screenshot.example()).await;
    assert_eq!(error_kind(&looked), Some(ErrorKind::Unavailable), "{looked:?}");
    let viewed = ask(&client, &RequestKind::View.example()).await;
    assert_eq!(error_kind(&viewed), Some(ErrorKind::Unavailable), "{viewed:?}");
    // Touching does not.
    for request in [RequestKind::Control.example(), input()] {
        let result = ask(&client, &request).await;
        assert_eq!(error_kind(&result), Some(ErrorKind::Denied), "{request:?}");
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_is_told_who_asks_and_its_answer_decides() {
    let told = tempfile::NamedTempFile::new().unwrap();
    let script = format!(
        "echo \"$TETHER_EVENT $TETHER_CAPABILITY $TETHER_TECHNICIAN $TETHER_ROLE $TETHER_AGENT\" >> {:?}; \
         test \"$TETHER_CAPABILITY\" = view",
        told.path()
    );
    let agent = TestAgent::start(&prompting(&script, 10)).await;
    let client = agent.connect(TIER2).await;
    // The user says yes to looking: the request reaches the screen.
    let looked = ask(&client, &RequestKind::Screenshot.example()).await;
    assert_eq!(error_kind(&looked), Some(ErrorKind::Unavailable), "{looked:?}");
    // And no to control.
    let touched = ask(&client, &input()).await;
    assert_eq!(error_kind(&touched), Some(ErrorKind::Denied), "{touched:?}");
    let message = message(touched);
    assert!(message.contains("the user declined control"), "{message}");
    let lines = std::fs::read_to_string(told.path()).unwrap();
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        ["prompt view tech-tier2 tier2 agent-01", "prompt control tech-tier2 tier2 agent-01"]
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_prompt_denies_after_its_timeout() {
    let agent = TestAgent::start(&prompting("sleep 30", 1)).await;
    let client = agent.connect(TIER2).await;
    let started = std::time::Instant::now();
    let result = ask(&client, &RequestKind::View.example()).await;
    assert_eq!(error_kind(&result), Some(ErrorKind::Denied), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    let records = agent.records_of("view");
    assert_eq!(records.last().map(|r| r.outcome.as_str()), Some("denied"), "{records:#?}");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_is_notified_of_one_shot_access() {
    let told = tempfile::NamedTempFile::new().unwrap();
    let script = format!("echo \"$TETHER_EVENT $TETHER_CAPABILITY\" >> {:?}", told.path());
    let extra = format!(
        "[consent]\nview = \"allow\"\nnotify_command = [\"/bin/sh\", \"-c\", {script:?}]\n"
    );
    let agent = TestAgent::start(&extra).await;
    let client = agent.connect(TIER2).await;
    let _ = ask(&client, &RequestKind::Screenshot.example()).await;
    // The notify command runs detached; give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut lines = String::new();
    while std::time::Instant::now() < deadline {
        lines = std::fs::read_to_string(told.path()).unwrap();
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(lines.trim(), "once view");
    agent.stop().await;
}
