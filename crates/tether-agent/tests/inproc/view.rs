//! The view stream through the in-process agent on a private Xvfb: the
//! first frames show what is on the screen, a change reaches the viewer
//! once it acknowledges, and the end is recorded with counts.

use std::time::{Duration, Instant};

use tether_proto::screen::{MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, ScreenMessage, ViewerMessage};
use tether_proto::{Role, Tier, ViewRequest};
use tether_screen_codec::{Decoder, Update};
use tether_testkit::xvfb::{Xvfb, rect};
use tether_transport::framed;

use crate::harness::{TIMEOUT, TestAgent};

const RED: u32 = 0xff0000;
const BLUE: u32 = 0x0000ff;

/// Reads frames, acknowledging each, until the centre pixel is `colour`.
async fn wait_for_colour(
    recv: &mut quinn::RecvStream,
    send: &mut quinn::SendStream,
    decoder: &mut Decoder,
    colour: u32,
) -> u64 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "the screen never showed {colour:06x}");
        let message = tokio::time::timeout(
            Duration::from_secs(10),
            framed::read_message::<ScreenMessage, MAX_SCREEN_FRAME>(recv),
        )
        .await
        .expect("a frame within 10 s")
        .expect("a screen message");
        let ScreenMessage::Frame { seq, encoded, .. } = message else {
            panic!("unexpected {message:?}");
        };
        let ack = ViewerMessage::Ack { seq };
        framed::write_message::<_, MAX_VIEWER_FRAME>(send, &ack).await.unwrap();
        if encoded.is_empty() {
            continue;
        }
        let update = Update::from_bytes(&encoded).expect("a valid update");
        let frame = decoder.apply(&update).expect("it applies");
        if frame.pixel(frame.width() / 2, frame.height() / 2) & 0xff_ffff == colour {
            return seq;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_shows_the_screen_follows_changes_and_records_its_end() {
    let x = Xvfb::start(640, 480);
    x.fill_root(&[(RED, rect(0, 0, 640, 480))]);
    let extra = format!("[screen]\ndisplay = {:?}\n[consent]\nview = \"allow\"\n", x.display);
    let agent = TestAgent::start(&extra).await;
    let client = agent.connect(Role::Tier(Tier::One)).await;
    let request = ViewRequest { monitor: None, control: false, max_fps: 30 }.into();
    let (start, mut send, mut recv) = client.open_view(&request, TIMEOUT).await.expect("view");
    assert_eq!((start.monitor.width, start.monitor.height), (640, 480));

    let mut decoder = Decoder::new();
    let first = wait_for_colour(&mut recv, &mut send, &mut decoder, RED).await;
    x.fill_root(&[(BLUE, rect(0, 0, 640, 480))]);
    let later = wait_for_colour(&mut recv, &mut send, &mut decoder, BLUE).await;
    assert!(later > first, "frames are numbered in order: {first} then {later}");

    // The viewer goes: the agent ends the view and records what it sent.
    drop((send, recv));
    client.close();
    let deadline = Instant::now() + TIMEOUT;
    let end = loop {
        if let Some(end) = agent.records_of("view-end").pop() {
            break end;
        }
        assert!(Instant::now() < deadline, "no view-end record");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(end.outcome, "closed");
    assert!(end.detail.contains("frames"), "{}", end.detail);
    let started = agent.records_of("view");
    assert_eq!(started.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(), ["started", "ok"]);
    agent.stop().await;
}
