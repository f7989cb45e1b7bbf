//! Windows and macOS capture through the `scrap` crate (DXGI desktop
//! duplication on Windows, CGDisplayStream on macOS), cargo feature
//! `scrap`, which the agent enables.
//!
//! **Unverified:** written against scrap 0.5.0's cross-platform API
//! (`Display::all`, `Capturer::new`, `Capturer::frame` answering
//! `WouldBlock` while nothing new is there) but never built for or run on
//! those systems: the project's machines build and test Linux only (it was
//! type-checked once on Linux, where scrap's common API has the same
//! signatures, by enabling the module there). Known gaps, by design of
//! scrap 0.5:
//!
//! - monitor **positions** are not exposed, so every monitor is reported
//!   at (0, 0): input on a secondary monitor lands relative to the primary
//!   one's origin;
//! - no **pointer position or cursor shape** (the viewer draws none);
//! - change detection is polling `frame()` every 16 ms, which on Windows
//!   is cheap (DXGI reports "no new frame") and on macOS returns the
//!   stream's latest frame only when there is one.
//!
//! scrap's capturer is `!Send`, so it lives on its own thread, as in the
//! Linux scrap backend.

use std::io::ErrorKind;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tether_screen_codec::Frame;

use crate::{CaptureError, Capturer, CursorImage, MonitorInfo, Pointer};

/// How often the screen is asked for a new frame while waiting.
const POLL: Duration = Duration::from_millis(16);

/// How long a grab waits for the first frame of a new capturer.
const FIRST_FRAME: Duration = Duration::from_secs(2);

enum Request {
    /// Has monitor `n` a new frame? (Keeps it for the next `Take`.)
    Poll(usize),
    /// The newest frame of monitor `n`.
    Take(usize),
}

enum Reply {
    Changed(bool),
    Frame(Frame),
}

/// The monitors scrap lists, the first as primary.
pub(crate) fn monitors() -> Result<Vec<MonitorInfo>, CaptureError> {
    let displays = scrap::Display::all()?;
    Ok(displays
        .iter()
        .enumerate()
        .map(|(i, d)| MonitorInfo {
            index: i as u32,
            name: format!("display{i}"),
            x: 0,
            y: 0,
            width: d.width() as u32,
            height: d.height() as u32,
            primary: i == 0,
        })
        .collect())
}

pub(crate) struct ScrapCapturer {
    requests: Option<mpsc::Sender<Request>>,
    replies: mpsc::Receiver<Result<Reply, String>>,
    thread: Option<JoinHandle<()>>,
    first_wait: bool,
    /// The monitor last grabbed: the one waits poll.
    watching: usize,
}

impl ScrapCapturer {
    pub fn open() -> Result<ScrapCapturer, CaptureError> {
        let (request_tx, request_rx) = mpsc::channel();
        let (reply_tx, reply_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tether-scrap".into())
            .spawn(move || run(request_rx, reply_tx))?;
        Ok(ScrapCapturer {
            requests: Some(request_tx),
            replies: reply_rx,
            thread: Some(thread),
            first_wait: true,
            watching: 0,
        })
    }

    fn ask(&mut self, request: Request) -> Result<Reply, CaptureError> {
        let stopped = || CaptureError::Backend("the scrap capture thread stopped".into());
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request).map_err(|_| stopped())?;
        match self.replies.recv() {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(reason)) => Err(CaptureError::Backend(reason)),
            Err(_) => Err(stopped()),
        }
    }
}

/// The thread owning scrap's capturer and the newest frame it gave.
fn run(requests: mpsc::Receiver<Request>, replies: mpsc::Sender<Result<Reply, String>>) {
    let mut current: Option<(usize, scrap::Capturer)> = None;
    let mut latest: Option<Frame> = None;
    for request in requests {
        let (Request::Poll(n) | Request::Take(n)) = request;
        if current.as_ref().is_none_or(|(index, _)| *index != n) {
            current = None;
            latest = None;
            let opened = scrap::Display::all()
                .and_then(|mut all| {
                    if n < all.len() {
                        scrap::Capturer::new(all.swap_remove(n))
                    } else {
                        Err(ErrorKind::NotFound.into())
                    }
                })
                .map_err(|e| format!("scrap could not capture monitor {n}: {e}"));
            match opened {
                Ok(capturer) => current = Some((n, capturer)),
                Err(reason) => {
                    if replies.send(Err(reason)).is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        let (_, capturer) = current.as_mut().expect("opened above");
        let reply = match request {
            Request::Poll(_) => next_frame(capturer).map(|frame| {
                let changed = frame.is_some();
                latest = frame.or(latest.take());
                Reply::Changed(changed)
            }),
            Request::Take(_) => {
                let started = Instant::now();
                loop {
                    match next_frame(capturer) {
                        Ok(Some(frame)) => latest = Some(frame),
                        Ok(None) if latest.is_none() && started.elapsed() < FIRST_FRAME => {
                            std::thread::sleep(POLL);
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                    break latest
                        .clone()
                        .map(Reply::Frame)
                        .ok_or_else(|| "scrap delivered no frame".to_owned());
                }
            }
        };
        if replies.send(reply).is_err() {
            return;
        }
    }
}

/// The capturer's new frame, `None` if there is none since the last.
fn next_frame(capturer: &mut scrap::Capturer) -> Result<Option<Frame>, String> {
    let (w, h) = (capturer.width() as u32, capturer.height() as u32);
    match capturer.frame() {
        Ok(bytes) => {
            let stride = bytes.len() / (h.max(1) as usize);
            Frame::from_bgrx(w, h, stride, &bytes).map(Some).map_err(|e| e.to_string())
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(format!("scrap capture failed: {e}")),
    }
}

impl Capturer for ScrapCapturer {
    fn backend(&self) -> &'static str {
        "scrap"
    }

    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        monitors()
    }

    fn grab(&mut self, monitor: &MonitorInfo) -> Result<Frame, CaptureError> {
        let listed = monitors()?;
        let same = listed
            .get(monitor.index as usize)
            .is_some_and(|m| (m.width, m.height) == (monitor.width, monitor.height));
        if !same {
            return Err(CaptureError::MonitorGone { index: monitor.index });
        }
        self.watching = monitor.index as usize;
        match self.ask(Request::Take(self.watching))? {
            Reply::Frame(frame) => Ok(frame),
            Reply::Changed(_) => Err(CaptureError::Backend("scrap thread out of step".into())),
        }
    }

    fn wait_for_damage(&mut self, timeout: Duration) -> Result<bool, CaptureError> {
        if std::mem::take(&mut self.first_wait) {
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Reply::Changed(true) = self.ask(Request::Poll(self.watching))? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    fn pointer(&mut self) -> Result<Option<Pointer>, CaptureError> {
        Ok(None)
    }

    fn cursor_image(&mut self) -> Result<Option<CursorImage>, CaptureError> {
        Ok(None)
    }
}

impl Drop for ScrapCapturer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
