//! Every request kind against every role: allowed kinds reach their
//! handler, denied ones are refused with `denied` and an audit record, and
//! the session goes on either way.

use std::process::{Child, Command};

use tether_proto::screen::InputEvent;
use tether_proto::{Call, ErrorKind, Request, RequestKind, Role, ScreenRequest, Tier};

use crate::harness::{ROLES, TestAgent, ask, error_kind, message};

/// Which roles may run each kind under the default policy, in the order of
/// [`ROLES`] (tier 1, tier 2, tier 3, fleet). Written out here rather than
/// read from the permission table, so a change to the table must change
/// this test too.
const EXPECTED: &[(RequestKind, [bool; 4])] = &[
    (RequestKind::Info, [true, true, true, true]),
    (RequestKind::AuditTail, [false, false, true, false]),
    (RequestKind::Processes, [true, true, true, true]),
    (RequestKind::Kill, [false, true, true, false]),
    (RequestKind::Net, [true, true, true, true]),
    (RequestKind::Doctor, [true, true, true, true]),
    (RequestKind::Throughput, [true, true, true, false]),
    (RequestKind::RestoreList, [true, true, true, false]),
    (RequestKind::RestoreShow, [true, true, true, false]),
    (RequestKind::RestoreDiff, [true, true, true, false]),
    (RequestKind::RestoreVerify, [true, true, true, false]),
    (RequestKind::RestoreCreate, [false, true, true, false]),
    (RequestKind::RestoreRollback, [false, false, true, false]),
    (RequestKind::RestoreUndo, [false, false, true, false]),
    (RequestKind::RestoreDelete, [false, false, true, false]),
    (RequestKind::Monitors, [true, true, true, false]),
    (RequestKind::Screenshot, [true, true, true, false]),
    (RequestKind::View, [true, true, true, false]),
    (RequestKind::Control, [false, true, true, false]),
    (RequestKind::FleetFacts, [true, true, true, true]),
];

/// A process for `kill` to signal when it is allowed.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("60").spawn().expect("sleep starts"))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The requests that exercise `kind`: its example, with a live pid for
/// `kill`, and for control the one-shot input as well as the controlled
/// view.
fn requests(kind: RequestKind, sleeper: &Sleeper) -> Vec<Request> {
    match kind {
        RequestKind::Kill => vec![
            Call::Kill { pid: sleeper.0.id(), signal: tether_proto::system::KillSignal::Term }
                .into(),
        ],
        RequestKind::Control => vec![
            kind.example(),
            ScreenRequest::Input { monitor: None, events: vec![InputEvent::ReleaseAll] }.into(),
        ],
        _ => vec![kind.example()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_admitted_or_denied_by_tier_and_denials_are_audited() {
    assert_eq!(EXPECTED.len(), RequestKind::ALL.len(), "every kind has a row");
    // Consent allows, so screen requests reach their handler (and fail
    // there: the display does not exist).
    let agent = TestAgent::start("[consent]\nview = \"allow\"\ncontrol = \"allow\"\n").await;
    let mut denied_expected = 0;
    for (index, role) in ROLES.into_iter().enumerate() {
        let client = agent.connect(role).await;
        for &(kind, allowed) in EXPECTED {
            let sleeper = Sleeper::start();
            for request in requests(kind, &sleeper) {
                let result = ask(&client, &request).await;
                let got = error_kind(&result);
                if allowed[index] {
                    assert_ne!(got, Some(ErrorKind::Denied), "{role} {kind}: {result:?}");
                    assert_ne!(got, Some(ErrorKind::BadRequest), "{role} {kind}: {result:?}");
                } else {
                    denied_expected += 1;
                    assert_eq!(got, Some(ErrorKind::Denied), "{role} {kind}: {result:?}");
                    let message = message(result);
                    assert!(message.contains(kind.as_str()), "{role} {kind}: {message}");
                }
            }
        }
        // The session survived every refusal.
        assert!(client.request(&Call::Info.into(), crate::harness::TIMEOUT).await.is_ok());
        client.close();
    }
    let denied: Vec<_> = agent.audit().into_iter().filter(|r| r.outcome == "denied").collect();
    assert_eq!(denied.len(), denied_expected, "{denied:#?}");
    for record in &denied {
        assert!(record.technician.is_some() && record.role.is_some(), "{record:?}");
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_can_raise_a_kind_above_the_default_tier() {
    let agent = TestAgent::start("[policy.require]\nps = 2\n").await;
    let tier1 = agent.connect(Role::Tier(Tier::One)).await;
    let ps = RequestKind::Processes.example();
    let result = ask(&tier1, &ps).await;
    assert_eq!(error_kind(&result), Some(ErrorKind::Denied), "{result:?}");
    let tier2 = agent.connect(Role::Tier(Tier::Two)).await;
    assert!(ask(&tier2, &ps).await.is_ok());
    let records = agent.records_of("ps");
    let outcomes: Vec<_> = records.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["denied", "ok"]);
    agent.stop().await;
}
