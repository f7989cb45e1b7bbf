//! The controller's side of the view stream: decode what arrives,
//! acknowledge the frames that ask for it, forward input, and keep held
//! input alive with heartbeats (only while something is held: an idle
//! view sends nothing).
//!
//! Everything from the agent is untrusted: messages are bounded by the
//! protocol's frame limit, updates by the codec's own parser and decoder
//! (which caps decompression at what the update's size implies), a
//! monitor larger than [`MAX_MONITOR_PIXELS`] ends the view before any
//! frame is allocated for it, and an update whose size differs from the
//! monitor the agent announced ends the view. A view holds at most two
//! frames: the decoder's and the published copy, which is overwritten in
//! place; a resize drops both before the new size's black frame is
//! allocated. The newest decoded frame is published in [`ViewState`];
//! whoever shows it (the window, a test, a benchmark) samples it at its own
//! pace, so a slow window never slows the stream.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quinn::{RecvStream, SendStream};
use tether_proto::screen::{
    CursorShape, HEARTBEAT_INTERVAL_MS, InputEvent, MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, Monitor,
    ScreenMessage, ViewStart, ViewerMessage,
};
use tether_screen_codec::{Decoder, Frame, MAX_DIMENSION, Update};
use tether_transport::framed::{self, FrameIoError};
use tokio::sync::{mpsc, watch};

/// The largest monitor a controller accepts from an agent, in pixels:
/// 7680×4320, 8K UHD, the largest monitors sold (a 32:9 7680×2160 or a
/// 6016×3384 fits too; either side must also be at most the codec's
/// [`MAX_DIMENSION`]). A frame is 4 bytes a pixel, so this is 126.6 MiB
/// per frame and at most 253 MiB per view (two frames); without it a
/// hostile agent could announce 8192×8192 (256 MiB a frame) or, on a codec
/// with no limit, anything at all.
pub const MAX_MONITOR_PIXELS: u64 = 7680 * 4320;

/// Why a view ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("the agent sent a bad screen update: {0}")]
    BadUpdate(String),
    #[error(
        "the agent announced a {width}x{height} monitor; a controller accepts at most \
         {MAX_MONITOR_PIXELS} pixels (7680x4320, 8K UHD) and {MAX_DIMENSION} a side"
    )]
    MonitorTooLarge { width: u32, height: u32 },
    #[error("the view stream failed: {0}")]
    Stream(#[from] FrameIoError),
}

/// The newest state of the remote screen.
#[derive(Debug, Clone)]
pub struct Screen {
    pub monitor: Monitor,
    /// The screen as decoded; black until the first update (the codec
    /// sends nothing for black).
    pub frame: Option<Frame>,
    /// Pointer position on the monitor, if on it.
    pub pointer: Option<(i32, i32)>,
    pub cursor: Option<CursorShape>,
    /// How many frames have been decoded (the agent counts the same).
    pub seq: u64,
    /// When the last update with pixels was decoded.
    pub decoded_at: Option<Instant>,
}

/// Frames and bytes over the last second, for the window title.
#[derive(Debug, Default)]
struct Rate {
    events: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn add(&mut self, now: Instant, bytes: u64) {
        self.events.push_back((now, bytes));
        while self
            .events
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(1))
        {
            self.events.pop_front();
        }
    }

    /// (frames per second, bits per second) over the last second.
    fn per_second(&self, now: Instant) -> (usize, u64) {
        let recent =
            self.events.iter().filter(|(t, _)| now.duration_since(*t) <= Duration::from_secs(1));
        recent.fold((0, 0), |(n, b), (_, bytes)| (n + 1, b + bytes * 8))
    }
}

/// What the stream publishes and the window reads.
#[derive(Debug)]
pub struct ViewState {
    screen: Mutex<Screen>,
    rate: Mutex<Rate>,
    totals: Mutex<(u64, u64)>,
    changed: watch::Sender<u64>,
}

impl ViewState {
    pub fn new(start: &ViewStart) -> Arc<ViewState> {
        let screen = Screen {
            monitor: start.monitor.clone(),
            frame: black(&start.monitor),
            pointer: None,
            cursor: None,
            seq: 0,
            decoded_at: None,
        };
        Arc::new(ViewState {
            screen: Mutex::new(screen),
            rate: Mutex::default(),
            totals: Mutex::default(),
            changed: watch::channel(0).0,
        })
    }

    pub fn screen(&self) -> MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires with the sequence number of every decoded frame.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// (frames per second, bits per second) over the last second.
    pub fn rate(&self) -> (usize, u64) {
        self.rate.lock().unwrap_or_else(|p| p.into_inner()).per_second(Instant::now())
    }

    /// (frames, bytes) since the view started.
    pub fn totals(&self) -> (u64, u64) {
        *self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, bytes: u64, frame: bool) {
        let now = Instant::now();
        if frame {
            self.rate.lock().unwrap_or_else(|p| p.into_inner()).add(now, bytes);
        }
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        totals.0 += u64::from(frame);
        totals.1 += bytes;
    }
}

/// Runs the stream until the agent ends it, the link fails, or `input`
/// closes (the window was closed). Returns why it ended.
pub async fn run(
    state: Arc<ViewState>,
    mut send: SendStream,
    mut recv: RecvStream,
    mut input: mpsc::UnboundedReceiver<InputEvent>,
) -> Result<String, ViewError> {
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<u64>();
    let reader = read_screen(&state, &mut recv, ack_tx);
    let writer = async {
        let interval = Duration::from_millis(HEARTBEAT_INTERVAL_MS);
        let mut held = HeldInput::default();
        let mut last_sent = tokio::time::Instant::now();
        loop {
            // A heartbeat is owed only while something is held, and only
            // when nothing else went out for a whole interval.
            let heartbeat = async {
                if held.any() {
                    tokio::time::sleep_until(last_sent + interval).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let message = tokio::select! {
                Some(seq) = ack_rx.recv() => ViewerMessage::Ack { seq },
                event = input.recv() => match event {
                    Some(event) => {
                        held.note(&event);
                        ViewerMessage::Input(event)
                    }
                    None => return Ok::<_, ViewError>("the window was closed".to_owned()),
                },
                () = heartbeat => ViewerMessage::Heartbeat,
            };
            framed::write_message::<_, MAX_VIEWER_FRAME>(&mut send, &message).await?;
            last_sent = tokio::time::Instant::now();
        }
    };
    let end = tokio::select! {
        end = reader => end,
        end = writer => end,
    };
    let _ = send.finish();
    end
}

/// The keys and buttons the viewer has pressed and not released, as far as
/// the events it sent say.
#[derive(Debug, Default)]
struct HeldInput {
    keys: std::collections::HashSet<tether_proto::screen::Key>,
    buttons: std::collections::HashSet<tether_proto::screen::MouseButton>,
}

impl HeldInput {
    fn note(&mut self, event: &InputEvent) {
        match *event {
            InputEvent::Key { key, pressed: true } => {
                self.keys.insert(key);
            }
            InputEvent::Key { key, pressed: false } => {
                self.keys.remove(&key);
            }
            InputEvent::Button { button, pressed: true } => {
                self.buttons.insert(button);
            }
            InputEvent::Button { button, pressed: false } => {
                self.buttons.remove(&button);
            }
            InputEvent::ReleaseAll => {
                self.keys.clear();
                self.buttons.clear();
            }
            InputEvent::MouseMove { .. } | InputEvent::Scroll { .. } | InputEvent::Text(_) => {}
        }
    }

    fn any(&self) -> bool {
        !self.keys.is_empty() || !self.buttons.is_empty()
    }
}

/// Refuses a monitor no controller should allocate frames for (see
/// [`MAX_MONITOR_PIXELS`]) or that has no pixels at all.
pub fn check_monitor(monitor: &Monitor) -> Result<(), ViewError> {
    let (width, height) = (monitor.width, monitor.height);
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 || pixels > MAX_MONITOR_PIXELS || width.max(height) > MAX_DIMENSION {
        return Err(ViewError::MonitorTooLarge { width, height });
    }
    Ok(())
}

/// Applies an update from the wire to `decoder`, holding the agent to the
/// monitor size it announced: a monitor beyond [`MAX_MONITOR_PIXELS`] or an
/// update of any other size is refused before anything is allocated for it.
pub fn decode_for<'d>(
    decoder: &'d mut Decoder,
    encoded: &[u8],
    monitor: &Monitor,
) -> Result<&'d Frame, ViewError> {
    check_monitor(monitor)?;
    let update = Update::from_bytes(encoded).map_err(|e| ViewError::BadUpdate(e.to_string()))?;
    if (update.width, update.height) != (monitor.width, monitor.height) {
        return Err(ViewError::BadUpdate(format!(
            "a {}x{} update for a {}x{} monitor",
            update.width, update.height, monitor.width, monitor.height
        )));
    }
    decoder.apply(&update).map_err(|e| ViewError::BadUpdate(e.to_string()))
}

/// The frame both sides start a monitor from (`None` for a size this
/// controller refuses, which no update can then match: nothing is
/// allocated for it).
fn black(monitor: &Monitor) -> Option<Frame> {
    check_monitor(monitor).ok()?;
    Frame::solid(monitor.width, monitor.height, 0).ok()
}

async fn read_screen(
    state: &ViewState,
    recv: &mut RecvStream,
    acks: mpsc::UnboundedSender<u64>,
) -> Result<String, ViewError> {
    // ViewState::new allocated nothing for a refused monitor; end here.
    check_monitor(&state.screen().monitor)?;
    let mut decoder = Decoder::new();
    loop {
        let payload = match framed::read_payload::<MAX_SCREEN_FRAME>(recv).await {
            Ok(payload) => payload,
            Err(FrameIoError::Finished) => return Ok("the agent ended the view".into()),
            Err(e) => return Err(e.into()),
        };
        let bytes = payload.len() as u64 + 4;
        let message: ScreenMessage =
            tether_proto::codec::decode_payload::<_, MAX_SCREEN_FRAME>(&payload)
                .map_err(FrameIoError::from)?;
        drop(payload);
        match message {
            ScreenMessage::Frame { encoded, pointer, cursor, ack } => {
                let frame = if encoded.is_empty() {
                    None
                } else {
                    let monitor = state.screen().monitor.clone();
                    Some(decode_for(&mut decoder, &encoded, &monitor)?)
                };
                drop(encoded);
                let seq = {
                    let mut screen = state.screen();
                    if let Some(frame) = frame {
                        // Overwritten in place: no third frame, even briefly.
                        match &mut screen.frame {
                            Some(shown) => shown.copy_from(frame),
                            None => screen.frame = Some(frame.clone()),
                        }
                        screen.decoded_at = Some(Instant::now());
                    }
                    screen.pointer = pointer.apply(screen.pointer);
                    if cursor.as_ref().is_some_and(CursorShape::is_valid) {
                        screen.cursor = cursor;
                    }
                    screen.seq += 1;
                    screen.seq
                };
                state.count(bytes, true);
                state.changed.send_replace(seq);
                if ack && acks.send(seq).is_err() {
                    return Ok("the view closed".into());
                }
            }
            ScreenMessage::Resized { monitor } => {
                state.count(bytes, false);
                check_monitor(&monitor)?;
                // Both sides start the new size from black. The old frames
                // go first, so a resize never holds old and new at once.
                decoder = Decoder::new();
                let seq = {
                    let mut screen = state.screen();
                    screen.frame = None;
                    screen.frame = black(&monitor);
                    screen.monitor = monitor;
                    screen.seq
                };
                state.changed.send_replace(seq);
            }
            ScreenMessage::Ended { reason } => return Ok(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(width: u32, height: u32) -> Monitor {
        Monitor { index: 0, name: "m".into(), x: 0, y: 0, width, height, primary: true }
    }

    #[test]
    fn monitors_beyond_8k_are_refused() {
        for (w, h) in [(7680, 4320), (1920, 1080), (6016, 3384), (7680, 2160), (1, 1)] {
            assert!(check_monitor(&monitor(w, h)).is_ok(), "{w}x{h}");
        }
        for (w, h) in [(8192, 8192), (7681, 4320), (0, 1080), (100_000, 1), (u32::MAX, u32::MAX)] {
            let err = check_monitor(&monitor(w, h)).unwrap_err();
            assert!(matches!(err, ViewError::MonitorTooLarge { .. }), "{w}x{h}: {err}");
        }
    }

    #[test]
    fn a_huge_announced_monitor_allocates_nothing_and_decodes_nothing() {
        let huge = monitor(8192, 8192);
        let start = ViewStart {
            monitor: huge.clone(),
            monitors: vec![huge.clone()],
            control: false,
            max_fps: 30,
            backend: "fake".into(),
        };
        assert!(ViewState::new(&start).screen().frame.is_none());
        // An update that matches the announced size is still refused.
        let update = Update { width: 8192, height: 8192, fresh: true, ..Update::default() };
        let mut decoder = Decoder::new();
        let err = decode_for(&mut decoder, &update.to_bytes(), &huge).unwrap_err();
        assert!(err.to_string().contains("8192x8192 monitor"), "{err}");
        assert!(decoder.frame().is_none());
    }
}
