//! Screen capture for the agent, behind one [`Capturer`] trait.
//!
//! The streaming pipeline only needs four things from a screen: which
//! monitors exist, the pixels of one of them, a way to sleep until something
//! changed, and where the pointer is (with its shape). [`Capturer`] is
//! exactly that, so the pipeline can be fed by
//!
//! - the **X11 backend** ([`Backend::X11`], the default, `x11.rs`): pure-Rust
//!   x11rb, MIT-SHM 1.2 through three private `memfd` segments (≈2 ms for
//!   all of 1920×1080 on the reference machine), DAMAGE to block until the
//!   screen changes and to grab only the rows drawn on, RandR for
//!   monitors, XFixes for the cursor and damage regions. It degrades rather
//!   than fails when an extension is missing (plain `GetImage`, ~20 ms;
//!   sleeping instead of DAMAGE; the whole root as one monitor);
//! - the **scrap backend** ([`Backend::Scrap`], cargo feature `scrap`), kept
//!   on Linux as a fallback with documented caveats (`scrap_backend.rs`),
//!   and the only backend on Windows and macOS (`scrap_native.rs`:
//!   **unverified**, never compiled here; this project builds and tests on
//!   Linux);
//! - [`Synthetic`] frames, for tests and benchmarks without an X server.
//!
//! Everything is blocking and single-owner: the agent runs a capturer on a
//! blocking thread. X errors become [`CaptureError`]s; nothing reachable from
//! the X server panics.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "linux")]
mod drawn;
mod error;
#[cfg(target_os = "linux")]
mod shm;
mod synthetic;
#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
mod xconn;

#[cfg(all(target_os = "linux", feature = "scrap"))]
mod scrap_backend;
#[cfg(all(any(windows, target_os = "macos"), feature = "scrap"))]
mod scrap_native;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use error::CaptureError;
pub use synthetic::{Synthetic, SyntheticHandle};
pub use tether_screen_codec::{Frame, PutRows};
#[cfg(target_os = "linux")]
pub use x11::X11Capturer;

/// One monitor: a rectangle of the root window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MonitorInfo {
    /// Position in the list [`Capturer::monitors`] returned, from 0.
    pub index: u32,
    /// RandR's name (e.g. `DP-1`), or `root` when the whole screen stands in.
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

impl MonitorInfo {
    /// True if this monitor lies entirely inside a `width`×`height` root.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.width > 0
            && self.height > 0
            && self.x >= 0
            && self.y >= 0
            && (self.x as u64 + u64::from(self.width)) <= u64::from(width)
            && (self.y as u64 + u64::from(self.height)) <= u64::from(height)
    }
}

/// The pointer position in root-window coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pointer {
    pub x: i32,
    pub y: i32,
}

/// Largest cursor edge passed on; bigger cursors are reported as `None`.
pub const MAX_CURSOR_SIZE: u32 = 256;

/// The current cursor shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Changes whenever the shape changes; compare it to skip re-sending.
    pub serial: u32,
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    /// `width * height` premultiplied ARGB pixels, row-major, as XFixes
    /// gives them.
    pub argb: Vec<u32>,
}

/// A source of screen frames. Implementations are blocking and owned by
/// one thread at a time.
pub trait Capturer: Send {
    /// Short name for logs: `"x11-shm"`, `"x11-getimage"`, `"scrap"` or
    /// `"synthetic"`.
    fn backend(&self) -> &'static str;

    /// The monitors, indexed from 0 in RandR's order, primary flagged. If
    /// RandR lists none (or is missing), one monitor covering the root.
    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError>;

    /// The pixels of `monitor`'s rectangle. [`CaptureError::MonitorGone`] if
    /// it no longer fits the screen: list the monitors again.
    fn grab(&mut self, monitor: &MonitorInfo) -> Result<Frame, CaptureError>;

    /// The pixels of `monitor`'s rectangle as strips of BGRX rows, top to
    /// bottom, into `out` (an encoder's [`Incoming`](tether_screen_codec::Incoming)
    /// frame, which keeps only what changed). The X11 backend hands on
    /// each strip its shared memory gets, so no whole frame is made, and
    /// grabs only the rows [`Capturer::wait_for_damage`] found drawn on
    /// since the last grab, giving the others as unchanged
    /// ([`PutRows::same_rows`]) where `out` allows it; the default grabs a
    /// frame and hands it on in strips. Skipping rows assumes `out` is the
    /// same receiver this capturer's previous `grab_rows` of the same
    /// monitor filled (one encoder per capturer, reset when the monitor
    /// changes): a receiver that needs every row says so
    /// ([`PutRows::needs_every_row`]).
    fn grab_rows(
        &mut self,
        monitor: &MonitorInfo,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let frame = self.grab(monitor)?;
        put_frame(&frame, out)
    }

    /// Blocks up to `timeout` for the screen to change since the previous
    /// call. `Ok(true)`: changed, or may have (the first call after opening
    /// always says so). `Ok(false)`: timed out with no change.
    fn wait_for_damage(&mut self, timeout: Duration) -> Result<bool, CaptureError>;

    /// Where the pointer is, or `None` if it is on another X screen.
    fn pointer(&mut self) -> Result<Option<Pointer>, CaptureError>;

    /// The current cursor shape, or `None` if unavailable (no XFixes, no
    /// cursor, or larger than [`MAX_CURSOR_SIZE`]).
    fn cursor_image(&mut self) -> Result<Option<CursorImage>, CaptureError>;
}

/// Rows per strip when a whole frame is handed on as strips.
const STRIP_ROWS: u32 = 16;

/// Hands `frame` to `out` as strips of BGRX rows.
fn put_frame(frame: &Frame, out: &mut dyn PutRows) -> Result<(), CaptureError> {
    let width = frame.width() as usize;
    let mut bytes = Vec::with_capacity(width * 4 * STRIP_ROWS as usize);
    for top in (0..frame.height()).step_by(STRIP_ROWS as usize) {
        let rows = STRIP_ROWS.min(frame.height() - top);
        let start = top as usize * width;
        bytes.clear();
        for p in &frame.pixels()[start..start + rows as usize * width] {
            bytes.extend_from_slice(&p.to_le_bytes());
        }
        out.put_bgrx_rows(top, rows, width * 4, &bytes)?;
    }
    Ok(())
}

/// Which real capture backend [`open`] uses. The default is the system's
/// own: X11 on Linux, scrap (DXGI, Quartz) on Windows and macOS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// x11rb with MIT-SHM and DAMAGE (recommended on Linux).
    X11,
    /// The scrap crate (needs the `scrap` cargo feature).
    Scrap,
}

impl Default for Backend {
    fn default() -> Self {
        if cfg!(target_os = "linux") { Backend::X11 } else { Backend::Scrap }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::X11 => "x11",
            Backend::Scrap => "scrap",
        })
    }
}

impl FromStr for Backend {
    type Err = CaptureError;

    fn from_str(s: &str) -> Result<Backend, CaptureError> {
        match s {
            "x11" => Ok(Backend::X11),
            "scrap" => Ok(Backend::Scrap),
            other => Err(CaptureError::UnknownBackend(other.to_owned())),
        }
    }
}

/// True if this build includes the scrap backend.
pub const SCRAP_AVAILABLE: bool = cfg!(feature = "scrap");

/// The monitors of `display` (`None`: `$DISPLAY`), as every backend lists
/// them, without setting up capture (no shared memory, no damage object):
/// for callers that only need the layout.
pub fn list_monitors(display: Option<&str>) -> Result<Vec<MonitorInfo>, CaptureError> {
    platform_monitors(display)
}

#[cfg(target_os = "linux")]
fn platform_monitors(display: Option<&str>) -> Result<Vec<MonitorInfo>, CaptureError> {
    xconn::XConn::connect(display)?.monitors()
}

#[cfg(all(any(windows, target_os = "macos"), feature = "scrap"))]
fn platform_monitors(_display: Option<&str>) -> Result<Vec<MonitorInfo>, CaptureError> {
    scrap_native::monitors()
}

#[cfg(not(any(target_os = "linux", all(any(windows, target_os = "macos"), feature = "scrap"))))]
fn platform_monitors(_display: Option<&str>) -> Result<Vec<MonitorInfo>, CaptureError> {
    Err(CaptureError::NotBuilt("scrap"))
}

/// Opens a capturer on `display` (`None`: `$DISPLAY`).
pub fn open(backend: Backend, display: Option<&str>) -> Result<Box<dyn Capturer>, CaptureError> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::X11 => Ok(Box::new(X11Capturer::connect(display)?)),
        #[cfg(not(target_os = "linux"))]
        Backend::X11 => Err(CaptureError::NotBuilt("x11")),
        #[cfg(all(target_os = "linux", feature = "scrap"))]
        Backend::Scrap => Ok(Box::new(scrap_backend::ScrapCapturer::connect(display)?)),
        // Unverified: never compiled here (see scrap_native.rs).
        #[cfg(all(any(windows, target_os = "macos"), feature = "scrap"))]
        Backend::Scrap => {
            let _ = display;
            Ok(Box::new(scrap_native::ScrapCapturer::open()?))
        }
        #[cfg(not(all(
            feature = "scrap",
            any(target_os = "linux", windows, target_os = "macos")
        )))]
        Backend::Scrap => Err(CaptureError::NotBuilt("scrap")),
    }
}

/// Flags the first monitor as primary when none is: X servers without a
/// primary output set (Xvfb, many single-monitor setups) put the desktop's
/// panels and new windows on the first one, and a list with no primary
/// told technicians something false.
pub fn ensure_primary(monitors: &mut [MonitorInfo]) {
    if !monitors.iter().any(|m| m.primary)
        && let Some(first) = monitors.first_mut()
    {
        first.primary = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::X11, Backend::Scrap] {
            assert_eq!(b.to_string().parse::<Backend>().ok(), Some(b));
        }
        assert!(
            matches!("wayland".parse::<Backend>(), Err(CaptureError::UnknownBackend(s)) if s == "wayland")
        );
    }

    #[test]
    fn monitor_fit() {
        let m = MonitorInfo {
            index: 0,
            name: "a".into(),
            x: 960,
            y: 0,
            width: 960,
            height: 1080,
            primary: false,
        };
        assert!(m.fits(1920, 1080));
        assert!(!m.fits(1919, 1080));
        assert!(!MonitorInfo { x: -1, ..m.clone() }.fits(4000, 4000));
        assert!(!MonitorInfo { width: 0, ..m }.fits(4000, 4000));
    }

    #[test]
    fn the_first_monitor_is_primary_when_none_is() {
        let m = |index, primary| MonitorInfo {
            index,
            name: format!("m{index}"),
            x: 0,
            y: 0,
            width: 10,
            height: 10,
            primary,
        };
        let mut none = vec![m(0, false), m(1, false)];
        ensure_primary(&mut none);
        assert_eq!((none[0].primary, none[1].primary), (true, false));
        let mut second = vec![m(0, false), m(1, true)];
        ensure_primary(&mut second);
        assert_eq!((second[0].primary, second[1].primary), (false, true));
        ensure_primary(&mut []);
    }

    #[test]
    fn scrap_without_feature_is_a_clear_error() {
        if !SCRAP_AVAILABLE {
            let err =
                open(Backend::Scrap, Some(":0")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("without the scrap"), "{err}");
        }
    }
}
