//! The view stream: screen updates out, acknowledgements and input in.
//!
//! Three parts per stream:
//! - the **capture thread** (blocking) waits for damage, grabs the
//!   monitor's rows drawn on (all of them for a fresh encoder), encodes
//!   against what the viewer has and hands one message at
//!   a time to the writer. It captures only when the viewer has credit
//!   (fewer than `MAX_ACKS_OUTSTANDING` frames that asked for an
//!   acknowledgement unacknowledged; a frame asks once `ACK_EVERY_BYTES`
//!   or `ACK_EVERY_FRAMES` went out since the last that did), so a slow
//!   viewer is sent the newest screen, never a backlog: latest frame wins
//!   and the agent's memory is one frame, whatever the viewer does. The
//!   rate adapts by itself: no change, no frame; a slow link, fewer acks.
//!   Each grab goes strip by strip into the encoder, which keeps only the
//!   tiles that changed, so the agent holds one whole frame.
//! - the **writer** puts messages on the stream.
//! - the **reader** takes acknowledgements, heartbeats and input. Input is
//!   applied in order on a blocking thread; when a viewer the session
//!   holds keys or buttons for sends nothing for `HEARTBEAT_TIMEOUT_MS`,
//!   when it sends `ReleaseAll`, and when the stream ends in any way, every
//!   key and button the session holds is released
//!   ([`tether_input::Injector`]). A viewer that holds nothing may be
//!   silent for as long as it likes: an idle view costs nothing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use quinn::{RecvStream, SendStream};
use tether_capture::{CaptureError, Capturer, MonitorInfo};
use tether_input::{EnigoDevice, Injector};
use tether_proto::screen::{
    ACK_EVERY_BYTES, ACK_EVERY_FRAMES, CursorShape, HEARTBEAT_TIMEOUT_MS, InputEvent, InputTally,
    MAX_ACKS_OUTSTANDING, MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, PointerUpdate, ScreenMessage,
    ViewerMessage,
};
use tether_screen_codec::Encoder;
use tether_transport::framed::{self, FrameIoError};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::screen::{pick, relative, to_wire};

/// How often an idle stream looks at the pointer (which moves without
/// damaging the screen).
const IDLE_POINTER_POLL: Duration = Duration::from_millis(100);

/// How long the pointer counts as moving after its last move: meanwhile
/// it is polled at the frame rate.
const POINTER_ACTIVE: Duration = Duration::from_secs(1);

/// How often the monitor layout is re-read while damage keeps coming.
const LAYOUT_CHECK: Duration = Duration::from_secs(2);

/// What one view stream did, for the audit record.
#[derive(Debug, Default)]
pub struct ViewSummary {
    pub frames: u64,
    pub bytes: u64,
    pub input: InputTally,
    /// Keys and buttons released because of focus loss, a stall or the end.
    pub released: usize,
    pub end: String,
}

impl ViewSummary {
    pub fn detail(&self, started: Instant) -> String {
        let mut line = format!(
            "{} frames, {} bytes in {:.1} s; {}",
            self.frames,
            self.bytes,
            started.elapsed().as_secs_f64(),
            self.end
        );
        if self.input != InputTally::default() {
            line.push_str(&format!("; input: {}", self.input.summary()));
        }
        if self.released > 0 {
            line.push_str(&format!("; released {} held keys/buttons", self.released));
        }
        line
    }
}

/// A view that passed admission and consent, with its display open.
pub struct View {
    pub capturer: Box<dyn Capturer>,
    pub monitor: MonitorInfo,
    pub max_fps: u32,
    /// The input device when the stream may control.
    pub injector: Option<Injector<EnigoDevice>>,
}

/// Credit between the capture thread and the reader.
#[derive(Default)]
struct Flow {
    state: Mutex<FlowState>,
    wake: Condvar,
}

#[derive(Default)]
struct FlowState {
    /// Frames handed to the writer, counted from 1.
    sent: u64,
    /// Frames that asked for an acknowledgement and have none yet, oldest
    /// first; at most `MAX_ACKS_OUTSTANDING`.
    awaiting: std::collections::VecDeque<u64>,
    /// Bytes and frames since the last frame that asked.
    since_ask: (u64, u32),
    closed: bool,
}

impl Flow {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlowState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until a frame may be sent; false once the stream is closed.
    fn wait_for_credit(&self) -> bool {
        let mut state = self.lock();
        while !state.closed && state.awaiting.len() >= MAX_ACKS_OUTSTANDING {
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        !state.closed
    }

    /// Counts a frame of `bytes` about to be sent; true if it asks for an
    /// acknowledgement.
    fn send(&self, bytes: u64) -> bool {
        let mut state = self.lock();
        state.sent += 1;
        state.since_ask.0 += bytes;
        state.since_ask.1 += 1;
        let ask = state.since_ask.0 >= ACK_EVERY_BYTES || state.since_ask.1 >= ACK_EVERY_FRAMES;
        if ask {
            let sent = state.sent;
            state.awaiting.push_back(sent);
            state.since_ask = (0, 0);
        }
        ask
    }

    /// Records an acknowledgement of frames up to `seq`; false if it
    /// acknowledges a frame never sent (a protocol violation).
    fn ack(&self, seq: u64) -> bool {
        let mut state = self.lock();
        if seq > state.sent {
            return false;
        }
        while state.awaiting.front().is_some_and(|&asked| asked <= seq) {
            state.awaiting.pop_front();
        }
        self.wake.notify_all();
        true
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// Streams `view` until the viewer goes, the stream breaks, the display
/// fails or `stop` fires (agent shutdown, admin ending the session).
pub async fn run(
    view: View,
    mut send: SendStream,
    mut recv: RecvStream,
    mut stop: watch::Receiver<bool>,
) -> ViewSummary {
    // Per-update buffers must not stay resident at their peak.
    tether_os::memory::bound_retention();
    let flow = Arc::new(Flow::default());
    let (tx, mut rx) = mpsc::channel::<ScreenMessage>(1);
    let View { capturer, monitor, max_fps, injector } = view;
    let capture = {
        let flow = Arc::clone(&flow);
        std::thread::Builder::new()
            .name("tether-capture".into())
            .spawn(move || capture_loop(capturer, monitor, max_fps, &flow, &tx))
    };
    let capture = match capture {
        Ok(handle) => handle,
        Err(e) => {
            return ViewSummary {
                end: format!("capture thread failed to start: {e}"),
                ..ViewSummary::default()
            };
        }
    };
    let injector = injector.map(|i| Arc::new(Mutex::new(i)));
    let mut summary = ViewSummary::default();
    let frames = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);

    let writer = async {
        while let Some(msg) = rx.recv().await {
            let is_frame = matches!(msg, ScreenMessage::Frame { .. });
            // A frame left out would desynchronise the codec's streams and
            // the frame count acknowledgements use: end the view instead.
            let frame = match tether_proto::codec::encode_frame::<_, MAX_SCREEN_FRAME>(&msg) {
                Ok(frame) => frame,
                Err(e) => return format!("a screen frame could not be sent: {e}"),
            };
            if let Err(e) = send.write_all(&frame).await {
                return format!("the stream broke: {e}");
            }
            bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
            frames.fetch_add(u64::from(is_frame), Ordering::Relaxed);
            if let ScreenMessage::Ended { reason } = msg {
                return reason;
            }
        }
        "the capture ended".to_owned()
    };
    let released = AtomicUsize::new(0);
    let reader = read_viewer(&mut recv, &flow, injector.as_ref(), &mut summary.input, &released);

    let end = tokio::select! {
        end = writer => end,
        end = reader => end,
        _ = stop.changed() => "the session ended".to_owned(),
    };
    flow.close();
    let _ = send.finish();
    summary.end = end;
    summary.released = released.load(Ordering::Relaxed);
    summary.frames = frames.load(Ordering::Relaxed);
    summary.bytes = bytes.load(Ordering::Relaxed);
    if let Some(injector) = injector {
        summary.released += release(&injector).await;
    }
    // The capture thread sees the closed flow within one damage wait.
    let _ = tokio::task::spawn_blocking(move || capture.join()).await;
    summary
}

/// Reads viewer messages until the stream ends; returns why it ended.
/// Held keys and buttons released on the way (stalls, focus losses) are
/// added to `released`.
async fn read_viewer(
    recv: &mut RecvStream,
    flow: &Flow,
    injector: Option<&Arc<Mutex<Injector<EnigoDevice>>>>,
    tally: &mut InputTally,
    released: &AtomicUsize,
) -> String {
    let stall = Duration::from_millis(HEARTBEAT_TIMEOUT_MS);
    // Set when the viewer went silent while the session held input for
    // it: a viewer holding input sends heartbeats, so the silence means
    // it is stalled or gone. A second timeout in a row ends the view, which
    // frees the control slot long before QUIC's idle timeout would.
    let mut released_on_silence = false;
    loop {
        let holding =
            injector.is_some_and(|i| i.lock().unwrap_or_else(|p| p.into_inner()).holds_anything());
        let next = framed::read_message::<ViewerMessage, MAX_VIEWER_FRAME>(recv);
        let next = if holding || released_on_silence {
            match tokio::time::timeout(stall, next).await {
                Ok(next) => next,
                Err(_) if released_on_silence => {
                    let secs = stall.as_secs() * 2;
                    return format!("the viewer went silent for {secs} s");
                }
                Err(_) => {
                    if let Some(injector) = injector {
                        let n = release(injector).await;
                        debug!("viewer silent for {stall:?}: released {n} held keys/buttons");
                        released.fetch_add(n, Ordering::Relaxed);
                    }
                    released_on_silence = true;
                    continue;
                }
            }
        } else {
            // Holding nothing, the viewer owes nothing: a dead link ends
            // at QUIC's idle timeout.
            next.await
        };
        let message = match next {
            Ok(message) => {
                released_on_silence = false;
                message
            }
            Err(FrameIoError::Finished) => return "the viewer closed the view".into(),
            Err(e) => return format!("the view stream ended: {e}"),
        };
        match message {
            ViewerMessage::Ack { seq } => {
                if !flow.ack(seq) {
                    return format!("protocol violation: acknowledged frame {seq}, never sent");
                }
            }
            ViewerMessage::Heartbeat => {}
            ViewerMessage::Input(event) => {
                let Some(injector) = injector else {
                    return "protocol violation: input on a view-only stream".into();
                };
                if let Err(e) = event.validate() {
                    return format!("protocol violation: {e}");
                }
                tally.count(&event);
                if event == InputEvent::ReleaseAll {
                    released.fetch_add(release(injector).await, Ordering::Relaxed);
                    continue;
                }
                let injector = Arc::clone(injector);
                let outcome = tokio::task::spawn_blocking(move || {
                    injector.lock().unwrap_or_else(|p| p.into_inner()).apply(&event)
                })
                .await;
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return format!("input failed: {e}"),
                    Err(e) => return format!("input task failed: {e}"),
                }
            }
        }
    }
}

/// Releases everything held; returns how many keys and buttons that was.
async fn release(injector: &Arc<Mutex<Injector<EnigoDevice>>>) -> usize {
    let injector = Arc::clone(injector);
    let released = tokio::task::spawn_blocking(move || {
        let mut injector = injector.lock().unwrap_or_else(|p| p.into_inner());
        injector.release_all()
    })
    .await;
    match released {
        Ok(Ok(r)) => r.keys + r.buttons,
        Ok(Err(e)) => {
            warn!("releasing held input failed: {e}");
            0
        }
        Err(e) => {
            warn!("release task failed: {e}");
            0
        }
    }
}

/// The capture thread's body: damage → grab → encode → hand over, one
/// frame per credit. Ends with an `Ended` message when the display fails.
fn capture_loop(
    mut capturer: Box<dyn Capturer>,
    mut monitor: MonitorInfo,
    max_fps: u32,
    flow: &Flow,
    tx: &mpsc::Sender<ScreenMessage>,
) {
    let interval = Duration::from_secs_f64(1.0 / f64::from(max_fps.max(1)));
    let mut encoder = Encoder::new();
    let mut last_sent: Option<Instant> = None;
    // Where the viewer was last told the pointer is.
    let mut sent_pointer: Option<(i32, i32)> = None;
    let mut last_layout = Instant::now();
    let mut pointer: Option<(i32, i32)> = None;
    let mut pointer_moved: Option<Instant> = None;
    let mut cursor_serial: Option<u32> = None;
    let mut dirty = true;
    let result: Result<(), CaptureError> = (|| {
        loop {
            if !flow.wait_for_credit() {
                return Ok(());
            }
            if let Some(last) = last_sent {
                let next = last + interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
            }
            let pointer_active = pointer_moved.is_some_and(|t| t.elapsed() < POINTER_ACTIVE);
            let wait = if dirty {
                Duration::ZERO
            } else if pointer_active {
                interval
            } else {
                IDLE_POINTER_POLL
            };
            dirty |= capturer.wait_for_damage(wait)?;
            if flow.is_closed() {
                return Ok(());
            }
            if dirty && last_layout.elapsed() >= LAYOUT_CHECK {
                last_layout = Instant::now();
                if let Some(changed) = relayout(capturer.as_mut(), &monitor)? {
                    monitor = changed;
                    encoder.reset();
                    if tx
                        .blocking_send(ScreenMessage::Resized { monitor: to_wire(&monitor) })
                        .is_err()
                    {
                        return Ok(());
                    }
                }
            }
            let now_pointer = capturer.pointer()?.and_then(|p| relative(&monitor, p.x, p.y));
            let cursor = match capturer.cursor_image()? {
                Some(image) if cursor_serial != Some(image.serial) => {
                    cursor_serial = Some(image.serial);
                    let shape = CursorShape {
                        width: image.width,
                        height: image.height,
                        hot_x: image.hot_x,
                        hot_y: image.hot_y,
                        argb: image.argb,
                    };
                    shape.is_valid().then_some(shape)
                }
                _ => None,
            };
            let pointer_changed = now_pointer != pointer;
            if pointer_changed {
                pointer = now_pointer;
                pointer_moved = Some(Instant::now());
            }
            // The frame interval runs from capture to capture, so encoding
            // time does not lower the frame rate below the cap.
            let captured_at = Instant::now();
            let encoded = if dirty {
                dirty = false;
                // Strips go into the encoder as the capture gets them and
                // are compared with what the viewer has on arrival: the
                // agent holds one frame plus the tiles that changed.
                let mut incoming = encoder.begin(monitor.width, monitor.height)?;
                match capturer.grab_rows(&monitor, &mut incoming) {
                    Ok(()) => {}
                    Err(CaptureError::MonitorGone { .. }) => {
                        last_layout = Instant::now() - LAYOUT_CHECK;
                        dirty = true;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                let update = incoming.encode()?;
                if update.is_empty() { Vec::new() } else { update.to_bytes() }
            } else {
                Vec::new()
            };
            if encoded.is_empty() && !pointer_changed && cursor.is_none() {
                continue;
            }
            let bytes =
                encoded.len() as u64 + cursor.as_ref().map_or(0, |c| 4 * c.argb.len() as u64);
            let ack = flow.send(bytes);
            let pointer = PointerUpdate::between(sent_pointer, pointer);
            sent_pointer = pointer.apply(sent_pointer);
            let msg = ScreenMessage::Frame { encoded, pointer, cursor, ack };
            if tx.blocking_send(msg).is_err() {
                return Ok(());
            }
            last_sent = Some(captured_at);
        }
    })();
    if let Err(e) = result {
        warn!("screen capture stopped: {e}");
        let _ = tx
            .blocking_send(ScreenMessage::Ended { reason: format!("screen capture failed: {e}") });
    }
}

/// Re-reads the layout; returns the monitor to stream from now on if it
/// changed (same index if it still exists, else the primary).
fn relayout(
    capturer: &mut dyn Capturer,
    current: &MonitorInfo,
) -> Result<Option<MonitorInfo>, CaptureError> {
    let list = capturer.monitors()?;
    let next = pick(&list, Some(current.index))
        .or_else(|_| pick(&list, None))
        .map_err(|_| CaptureError::MonitorGone { index: current.index })?;
    Ok((next != *current).then_some(next))
}
