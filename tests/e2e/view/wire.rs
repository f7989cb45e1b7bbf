//! What a view costs on the wire beyond its frames: the controller's QUIC
//! acknowledgements of updates that come one at a time.

use std::time::Duration;

use tether_tests::TestPki;
use tether_tests::xvfb::Xvfb;

use super::OpenView;
use crate::raw;
use crate::screen::{PATTERN, fill, screen_agent};

/// Small updates 120 ms apart (a typed character's echo, ten a second):
/// quinn's default acknowledges each after 25 ms, one packet up per
/// update. The agent asks for 200 ms (`CONTROLLER_ACK_DELAY`, through the
/// patched quinn-proto in `vendor/`), so the second of two updates is
/// acknowledged together with the first.
#[test]
fn sparse_updates_are_acknowledged_in_pairs() {
    const UPDATES: u32 = 10;
    let x = Xvfb::start(320, 240);
    fill(&x.display, &PATTERN);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &x.display, "");
    let tina = pki.issue_tech("tina", "tier1");
    let rt = raw::runtime();
    rt.block_on(async {
        let view = OpenView::start(&agent, &tina, None).await;
        let (client, state, mut frames) = (&view.client, &view.state, view.state.subscribe());
        frames.changed().await.unwrap();
        // Let the first frame's acknowledgements and the ACK_FREQUENCY
        // exchange settle.
        tokio::time::sleep(Duration::from_millis(600)).await;

        let before = client.connection().stats();
        for i in 0..UPDATES {
            let colour = 0x102030 + i * 0x010203;
            let at = 10 + 12 * i as i16;
            fill(&x.display, &[(colour, at, 200, 8, 8)]);
            let arrived = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    frames.changed().await.unwrap();
                    let screen = state.screen();
                    if screen.frame.as_ref().is_some_and(|f| f.pixel(at as u32 + 4, 204) == colour)
                    {
                        break;
                    }
                }
            })
            .await;
            assert!(arrived.is_ok(), "update {i} never reached the controller");
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        let after = client.connection().stats();

        let received = after.udp_rx.datagrams - before.udp_rx.datagrams;
        let acks = after.frame_tx.acks - before.frame_tx.acks;
        assert!(received >= u64::from(UPDATES), "{received} packets for {UPDATES} updates");
        assert!(acks >= 1, "nothing was acknowledged");
        // One acknowledgement per update (10) without the longer delay;
        // about one per two with it. Slack for updates split over two
        // packets and for a keep-alive.
        assert!(
            acks <= u64::from(UPDATES) * 7 / 10,
            "{acks} acknowledgements sent for {UPDATES} updates ({received} packets received)"
        );
    });
}
