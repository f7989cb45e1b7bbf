//! The view stream through the in-process agent on a private Xvfb: the
//! first frames show what is on the screen, a change reaches the viewer,
//! a viewer that does not acknowledge what the agent asks it to is sent
//! no more, and the end is recorded with counts.

use std::time::{Duration, Instant};

use tether_proto::screen::{
    ACK_EVERY_FRAMES, MAX_ACKS_OUTSTANDING, MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, ScreenMessage,
    ViewerMessage,
};
use tether_proto::{Role, Tier, ViewRequest};
use tether_screen_codec::{Decoder, Update};
use tether_testkit::xvfb::{Xvfb, fill, rect};
use tether_transport::framed;

use crate::harness::{TIMEOUT, TestAgent};

const RED: u32 = 0xff0000;
const BLUE: u32 = 0x0000ff;

/// Reads frames, counting them in `seen` and acknowledging those that
/// ask, until the centre pixel is `colour`; returns that frame's count.
async fn wait_for_colour(
    recv: &mut quinn::RecvStream,
    send: &mut quinn::SendStream,
    decoder: &mut Decoder,
    seen: &mut u64,
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
        let ScreenMessage::Frame { encoded, ack, .. } = message else {
            panic!("unexpected {message:?}");
        };
        *seen += 1;
        let seq = *seen;
        if ack {
            framed::write_message::<_, MAX_VIEWER_FRAME>(send, &ViewerMessage::Ack { seq })
                .await
                .unwrap();
        }
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
    let mut seen = 0;
    let first = wait_for_colour(&mut recv, &mut send, &mut decoder, &mut seen, RED).await;
    x.fill_root(&[(BLUE, rect(0, 0, 640, 480))]);
    let later = wait_for_colour(&mut recv, &mut send, &mut decoder, &mut seen, BLUE).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_does_not_acknowledge_is_sent_no_more_than_two_asks() {
    let x = std::sync::Arc::new(Xvfb::start(640, 480));
    let extra = format!("[screen]\ndisplay = {:?}\n[consent]\nview = \"allow\"\n", x.display);
    let agent = TestAgent::start(&extra).await;
    let client = agent.connect(Role::Tier(Tier::One)).await;
    let request = ViewRequest { monitor: None, control: false, max_fps: 60 }.into();
    let (_start, mut send, mut recv) = client.open_view(&request, TIMEOUT).await.expect("view");

    // The first frame first: the capture is running before anything is
    // painted (on a loaded machine it may start seconds after the reply).
    let first = tokio::time::timeout(
        TIMEOUT,
        framed::read_message::<ScreenMessage, MAX_SCREEN_FRAME>(&mut recv),
    )
    .await;
    let Ok(Ok(ScreenMessage::Frame { ack, .. })) = first else { panic!("{first:?}") };
    let (mut frames, mut asks) = (1u64, if ack { vec![1] } else { Vec::new() });

    // Then the screen changes all the time (until told to stop, at most
    // 30 s); the viewer reads but acknowledges nothing. Small changes ask
    // every ACK_EVERY_FRAMES frames, so after two asks the agent must stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let painter = {
        let (x, stop) = (std::sync::Arc::clone(&x), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            // One connection for all of it: hundreds of connections opened
            // and closed in a burst fail on a loaded machine.
            let (conn, root) = x.connect();
            for i in 0..3000i16 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let colour = if i % 2 == 0 { RED } else { BLUE };
                fill(&conn, root, &[(colour, rect(i % 600, 0, 8, 8))]);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    // Read until two seconds pass without a frame while the painting goes
    // on: the agent has stopped sending.
    loop {
        let next = tokio::time::timeout(
            Duration::from_secs(2),
            framed::read_message::<ScreenMessage, MAX_SCREEN_FRAME>(&mut recv),
        )
        .await;
        let Ok(message) = next else { break };
        let ScreenMessage::Frame { ack, .. } = message.expect("a screen message") else {
            continue;
        };
        frames += 1;
        if ack {
            asks.push(frames);
        }
    }
    assert!(!painter.is_finished(), "the painter stopped before the agent did");
    assert_eq!(asks.len(), MAX_ACKS_OUTSTANDING, "frames that asked: {asks:?} of {frames}");
    assert_eq!(frames, asks[MAX_ACKS_OUTSTANDING - 1], "frames went on after the second ask");
    assert!(frames <= u64::from(ACK_EVERY_FRAMES) * MAX_ACKS_OUTSTANDING as u64, "{frames}");

    // Acknowledging the first ask lets frames flow again.
    framed::write_message::<_, MAX_VIEWER_FRAME>(&mut send, &ViewerMessage::Ack { seq: asks[0] })
        .await
        .unwrap();
    let more = tokio::time::timeout(
        Duration::from_secs(5),
        framed::read_message::<ScreenMessage, MAX_SCREEN_FRAME>(&mut recv),
    )
    .await;
    assert!(matches!(more, Ok(Ok(ScreenMessage::Frame { .. }))), "{more:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    painter.join().expect("the painter ran");
    drop((send, recv));
    client.close();
    agent.stop().await;
}
