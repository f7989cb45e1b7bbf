//! The Tether run: the real agent, an in-process controller decoding
//! every frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tether_proto::handshake::Hello;
use tether_proto::screen::InputEvent;
use tether_proto::{Request, ViewRequest};
use tether_tests::proc::{RssSampler, status_kib};
use tether_tests::{Agent, AgentSetup, Identity, TestPki, endpoint_with};
use tether_transport::Client;
use tether_view::{ViewState, stream};

use crate::measure::{Probe, rss_parts, write_png};
use crate::results::{Counters, Results, Wire};
use crate::scene::{Scene, SceneKind};
use crate::{
    HEIGHT, KEYSYM_BACKSPACE, LATENCY_GAP, LATENCY_SAMPLES, LATENCY_TIMEOUT, WIDTH, XTERM_AREA,
};

pub(crate) fn run_tether(pki: &TestPki, alice: &Identity, kind: SceneKind) -> Results {
    let mut scene = Scene::new(kind);
    let extra = format!("[screen]\ndisplay = {:?}\nmax_fps = 30\n", scene.x.display);
    // One agent certificate per scene: the PKI refuses to issue a name twice.
    let name = match kind {
        SceneKind::Classic => "agent-01",
        SceneKind::Photo => "agent-02",
    };
    let mut agent = Agent::start(AgentSetup { pki, name, extra: &extra });
    let addr: std::net::SocketAddr = agent.addr.parse().expect("agent address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (endpoint, client) = rt.block_on(async {
        let endpoint = endpoint_with(alice, addr);
        let hello = Hello::new("bench", None);
        let client = Client::connect(&endpoint, addr, name, &hello, Duration::from_secs(5))
            .await
            .expect("connect");
        (endpoint, client)
    });
    // IPv4 or IPv6 header plus the UDP header, per datagram.
    let headers = if addr.is_ipv6() { 48 } else { 28 };
    let wire = || {
        let stats = client.connection().stats();
        Wire {
            down: stats.udp_rx.bytes + stats.udp_rx.datagrams * headers,
            up: stats.udp_tx.bytes + stats.udp_tx.datagrams * headers,
            down_packets: stats.udp_rx.datagrams,
            up_packets: stats.udp_tx.datagrams,
        }
    };

    // The initial frame.
    let wire_before = wire();
    let request = Request::View(ViewRequest { monitor: None, control: false, max_fps: 30 });
    let (start, send, recv) =
        rt.block_on(client.open_view(&request, Duration::from_secs(10))).expect("view opens");
    assert_eq!((start.monitor.width, start.monitor.height), (WIDTH, HEIGHT));
    let state = ViewState::new(&start);
    let mut changed = state.subscribe();
    // Kept alive: the stream ends when the input channel closes.
    let (_input, input_rx) = tokio::sync::mpsc::unbounded_channel::<InputEvent>();
    let view = rt.spawn(stream::run(Arc::clone(&state), send, recv, input_rx));
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), changed.changed()).await })
        .expect("first frame within 10 s")
        .expect("view stream alive");
    let (frames, bytes) = state.totals();
    let initial = (bytes, wire().since(wire_before));
    if frames != 1 {
        println!("note: {frames} frames had arrived when the first was counted");
    }

    let probe = Probe {
        pid: agent.pid(),
        rss: RssSampler::start(agent.pid()),
        counters: Box::new(|| {
            let (frames, stream) = state.totals();
            Counters { stream, wire: wire(), frames }
        }),
    };
    let (phases, note) = probe.phases(&mut scene, kind);

    let mut latency = Vec::new();
    let mut misses = 0;
    let samples = if kind == SceneKind::Classic { LATENCY_SAMPLES } else { 0 };
    for i in 0..samples {
        match tether_key_to_pixels(&rt, &state, &scene, latency_key(i)) {
            Some(d) => latency.push(d),
            None => misses += 1,
        }
        std::thread::sleep(LATENCY_GAP);
    }
    let hwm_kib = status_kib(agent.pid(), "VmHWM:").unwrap_or(0);
    let rss_parts = rss_parts(agent.pid());
    if let Some(path) = std::env::var_os("TETHER_BENCH_SNAPSHOT") {
        let screen = state.screen();
        write_png(&path, screen.frame.as_ref().expect("a frame was decoded"));
    }
    drop(probe);
    assert!(!view.is_finished(), "the view ended early: {:?}", rt.block_on(view));
    client.close();
    rt.block_on(endpoint.wait_idle());
    agent.stop();
    Results {
        server: format!(
            "Tether, {kind:?} scene (lossless, max_fps 30; in-process controller decoding every frame)"
        ),
        initial,
        phases,
        latency,
        latency_misses: misses,
        latency_what: "until a frame with changed pixels in the xterm is decoded",
        note,
        hwm_kib,
        rss_parts,
    }
}

/// Presses `keysym` and waits until the controller has decoded a frame
/// whose pixels in the xterm's area differ from before.
pub(crate) fn tether_key_to_pixels(
    rt: &tokio::runtime::Runtime,
    state: &ViewState,
    scene: &Scene,
    keysym: u32,
) -> Option<Duration> {
    let mut changed = state.subscribe();
    let before = xterm_pixels(state);
    let pressed = Instant::now();
    scene.tap(keysym);
    let wait = async {
        loop {
            changed.changed().await.ok()?;
            let screen = state.screen();
            let (Some(frame), Some(at)) = (&screen.frame, screen.decoded_at) else { continue };
            if at > pressed && region(frame) != before {
                return Some(at - pressed);
            }
        }
    };
    // The timer needs the runtime: create it inside.
    rt.block_on(async { tokio::time::timeout(LATENCY_TIMEOUT, wait).await }).ok().flatten()
}

pub(crate) fn xterm_pixels(state: &ViewState) -> Vec<u32> {
    region(state.screen().frame.as_ref().expect("a frame was decoded"))
}

pub(crate) fn region(frame: &tether_screen_codec::Frame) -> Vec<u32> {
    let (w, h) = XTERM_AREA;
    let stride = frame.width() as usize;
    let pixels = frame.pixels();
    (0..h as usize).flat_map(|y| &pixels[y * stride..y * stride + w as usize]).copied().collect()
}

/// `a` and BackSpace in turn, so the line does not grow.
pub(crate) fn latency_key(i: usize) -> u32 {
    if i.is_multiple_of(2) { u32::from(b'a') } else { KEYSYM_BACKSPACE }
}
