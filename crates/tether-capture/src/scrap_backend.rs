//! The legacy backend: the `scrap` crate (cargo feature `scrap`, off by
//! default). Prefer [`crate::X11Capturer`]; this exists as a fallback and
//! for comparison.
//!
//! Caveats, all measured on scrap 0.5.0 (see the shared crate notes):
//!
//! - **World-readable screen.** scrap shares pixels through a SysV shm
//!   segment created with mode 0777: any local user can read (and write)
//!   the captured screen while it exists.
//! - **Leaks on kill.** The segment is removed only in `Drop`; after SIGKILL
//!   (or SIGTERM without unwinding) it stays until `ipcrm` or reboot.
//! - **`!Send`.** scrap's `Capturer` holds an `Rc` and raw pointers, so it
//!   lives on its own thread here, and frames come back over a channel.
//! - **Unsound monitor iterator.** `Display::all()`/`DisplayIter` free the
//!   RandR reply before iterating it (use-after-free). We never call them:
//!   monitors come from our own x11rb RandR query, and scrap's `Display` is
//!   built from that rectangle directly.
//! - **Unmaintained** (last release 2019), links the C libraries libxcb,
//!   libxcb-shm and libxcb-randr (Debian: `libxcb1-dev libxcb-shm0-dev
//!   libxcb-randr0-dev` to build), ignores X errors (a failed grab silently
//!   returns the previous buffer), and fixes the size at creation, so we
//!   re-create it whenever another rectangle is grabbed and check the root
//!   size ourselves before every grab.
//! - **No change detection.** `wait_for_damage` sleeps up to 33 ms and says
//!   "changed", so the caller grabs ~30 times a second even when idle.
//!
//! Pointer and cursor come from a small x11rb connection (`xconn.rs`).

use std::ffi::CString;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tether_screen_codec::Frame;

use crate::x11::{POLL_INTERVAL, check_format};
use crate::xconn::{XConn, display_label};
use crate::{CaptureError, Capturer, CursorImage, MonitorInfo, Pointer};

/// One grab, sent to the scrap thread.
struct Grab {
    rect: scrap::x11::Rect,
    primary: bool,
}

pub(crate) struct ScrapCapturer {
    x: XConn,
    grabs: Option<mpsc::Sender<Grab>>,
    frames: mpsc::Receiver<Result<Frame, String>>,
    thread: Option<JoinHandle<()>>,
    first_wait: bool,
}

impl ScrapCapturer {
    pub fn connect(display: Option<&str>) -> Result<ScrapCapturer, CaptureError> {
        let x = XConn::connect(display)?;
        check_format(&x)?;
        // scrap would not notice: its requests' errors are ignored.
        if !x.has_extension(x11rb::protocol::shm::X11_EXTENSION_NAME)? {
            return Err(CaptureError::MissingExtension("MIT-SHM"));
        }
        let name = match display {
            Some(d) => Some(CString::new(d).map_err(|_| CaptureError::Connect {
                display: d.escape_debug().to_string(),
                reason: "the display name contains a NUL byte".into(),
            })?),
            None => None,
        };
        let root = x.root;
        let (grab_tx, grab_rx) = mpsc::channel();
        let (frame_tx, frame_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tether-scrap".into())
            .spawn(move || run(name, root, grab_rx, frame_tx, ready_tx))?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the scrap thread died while connecting".into()));
        if let Err(reason) = ready {
            let _ = thread.join();
            return Err(CaptureError::Connect { display: display_label(display), reason });
        }
        Ok(ScrapCapturer {
            x,
            grabs: Some(grab_tx),
            frames: frame_rx,
            thread: Some(thread),
            first_wait: true,
        })
    }
}

/// The scrap thread: owns scrap's `!Send` connection and capturer.
fn run(
    display: Option<CString>,
    root: u32,
    grabs: mpsc::Receiver<Grab>,
    frames: mpsc::Sender<Result<Frame, String>>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let addr = display.as_ref().map_or(std::ptr::null(), |d| d.as_ptr().cast());
    let server = match scrap::x11::Server::connect(addr) {
        Ok(server) => Rc::new(server),
        Err(e) => {
            let _ = ready.send(Err(format!("scrap could not connect: {e:?}")));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    let mut current: Option<(scrap::x11::Rect, scrap::x11::Capturer)> = None;
    for grab in grabs {
        if current.as_ref().is_none_or(|(rect, _)| *rect != grab.rect) {
            current = None; // frees the old segment before making a new one
            // SAFETY: `root` is the root window of the screen this server
            // connection uses (same display name), and `Display` only
            // stores the values.
            let display = unsafe {
                scrap::x11::Display::new(Rc::clone(&server), grab.primary, grab.rect, root)
            };
            match scrap::x11::Capturer::new(display) {
                Ok(c) => current = Some((grab.rect, c)),
                Err(e) => {
                    if frames
                        .send(Err(format!("scrap could not set up shared memory: {e}")))
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
        }
        let Some((rect, capturer)) = current.as_mut() else { continue };
        let bytes = capturer.frame();
        let (w, h) = (u32::from(rect.w), u32::from(rect.h));
        let stride = bytes.len() / rect.h.max(1) as usize;
        let frame = Frame::from_bgrx(w, h, stride, bytes).map_err(|e| e.to_string());
        if frames.send(frame).is_err() {
            return;
        }
    }
}

impl Capturer for ScrapCapturer {
    fn backend(&self) -> &'static str {
        "scrap"
    }

    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        self.x.monitors()
    }

    fn grab(&mut self, monitor: &MonitorInfo) -> Result<Frame, CaptureError> {
        let gone = || CaptureError::MonitorGone { index: monitor.index };
        let (w, h) = self.x.root_size()?;
        if !monitor.fits(w, h) {
            return Err(gone());
        }
        let rect = scrap::x11::Rect {
            x: i16::try_from(monitor.x).map_err(|_| gone())?,
            y: i16::try_from(monitor.y).map_err(|_| gone())?,
            w: u16::try_from(monitor.width).map_err(|_| gone())?,
            h: u16::try_from(monitor.height).map_err(|_| gone())?,
        };
        let stopped = || CaptureError::Backend("the scrap capture thread stopped".into());
        let grabs = self.grabs.as_ref().ok_or_else(stopped)?;
        grabs.send(Grab { rect, primary: monitor.primary }).map_err(|_| stopped())?;
        match self.frames.recv() {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(reason)) => Err(CaptureError::Backend(reason)),
            Err(_) => Err(stopped()),
        }
    }

    fn wait_for_damage(&mut self, timeout: Duration) -> Result<bool, CaptureError> {
        if self.first_wait {
            self.first_wait = false;
        } else {
            std::thread::sleep(timeout.min(POLL_INTERVAL));
        }
        Ok(true)
    }

    fn pointer(&mut self) -> Result<Option<Pointer>, CaptureError> {
        self.x.pointer()
    }

    fn cursor_image(&mut self) -> Result<Option<CursorImage>, CaptureError> {
        self.x.cursor_image()
    }
}

impl Drop for ScrapCapturer {
    fn drop(&mut self) {
        // Closing the channel ends the thread, whose scrap capturer then
        // detaches and removes its SysV segment; wait for that.
        self.grabs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
