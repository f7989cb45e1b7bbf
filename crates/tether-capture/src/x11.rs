//! The default backend: x11rb (pure Rust, `Send + Sync`, no C libraries).
//!
//! - **Pixels** come from MIT-SHM 1.2 `ShmGetImage` into three private
//!   memfd segments (`shm.rs`) of 128 KiB each, in strips of rows with
//!   three requests in flight (64 for 1920×1080), no pixel data on the
//!   socket;
//!   [`Capturer::grab_rows`] hands each strip on as it arrives, so the
//!   agent's encoder never needs a second whole frame. Without MIT-SHM, or when descriptors cannot be
//!   passed (a TCP display), we fall back to plain `GetImage`, which streams
//!   the image over the socket (≈20 ms for 1920×1080) and say so in a warning
//!   and in [`Capturer::backend`] (`"x11-getimage"`).
//! - **Change detection** is DAMAGE on the root with `NonEmpty` reports: the
//!   server sends one event when the damaged region stops being empty, and
//!   we `Subtract` (empty) it each time we report a change, so an idle screen
//!   costs nothing: we block in `poll(2)` on the connection's socket. RandR
//!   screen changes also count as changes. Without DAMAGE we sleep at most
//!   33 ms and claim a change, which costs a grab per tick.
//! - **Only drawn rows are grabbed**: the subtracted region goes into an
//!   XFixes region whose rectangles say which rows were drawn on (`drawn.rs`);
//!   [`Capturer::grab_rows`] grabs those rows of the monitor, in up to four
//!   bands, and tells the encoder the others are unchanged
//!   ([`PutRows::same_rows`]). A fresh encoder, a screen change, a failed
//!   grab or a grab without a wait before it get a whole grab, and a whole
//!   grab follows a second after any grab of some rows, drawing or not.
//! - **Resolution changes**: a grab outside the current root fails on the
//!   server (BadMatch); we then re-read the root size and answer
//!   [`CaptureError::MonitorGone`] so the caller lists monitors again.

use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tether_screen_codec::{Frame, PutRows};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::{ConnectionExt as _, NotifyMask};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, VisualClass};

use crate::drawn::DrawnRows;
use crate::error::{check, reply};
use crate::shm::Segment;
use crate::xconn::XConn;
use crate::{CaptureError, Capturer, CursorImage, MonitorInfo, Pointer};

/// The longest we sleep when the server cannot tell us about changes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(33);

/// Screen capture over an X11 connection (see the module docs).
pub struct X11Capturer {
    x: XConn,
    /// [`SEGMENTS`] segments when MIT-SHM with descriptor passing works:
    /// the server fills the next ones while we read one.
    shm: Option<Vec<Shm>>,
    damage: Option<damage::Damage>,
    /// Where each subtracted damage region goes to be read (XFixes ≥ 2).
    parts: Option<xfixes::Region>,
    /// What was drawn on since the last grab, as far as the waits since
    /// then found; `waited` says there was one.
    drawn: DrawnRows,
    waited: bool,
    first_wait: bool,
    /// Cached root size; `None` after a RandR event made it stale.
    root_size: Option<(u32, u32)>,
}

struct Shm {
    seg: shm::Seg,
    segment: Segment,
}

impl X11Capturer {
    /// Connects to `display` (`None`: `$DISPLAY`) with MIT-SHM if possible.
    pub fn connect(display: Option<&str>) -> Result<X11Capturer, CaptureError> {
        X11Capturer::open(display, true)
    }

    /// Connects without MIT-SHM (plain `GetImage`): slower, for comparison
    /// and for testing the fallback.
    pub fn connect_without_shm(display: Option<&str>) -> Result<X11Capturer, CaptureError> {
        X11Capturer::open(display, false)
    }

    /// True if grabs go through MIT-SHM.
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// True if `wait_for_damage` blocks on DAMAGE events (else it sleeps).
    pub fn uses_damage(&self) -> bool {
        self.damage.is_some()
    }

    /// Sets how long after a grab of some rows a whole grab comes at the
    /// latest (one second unless set; `drawn.rs`): for tests.
    #[doc(hidden)]
    pub fn set_whole_grab_every(&mut self, every: Duration) {
        self.drawn.set_whole_every(every);
    }

    fn open(display: Option<&str>, want_shm: bool) -> Result<X11Capturer, CaptureError> {
        let x = XConn::connect(display)?;
        check_format(&x)?;
        let root_size = x.root_size()?;
        let mut cap = X11Capturer {
            x,
            shm: None,
            damage: None,
            parts: None,
            drawn: DrawnRows::default(),
            waited: false,
            first_wait: true,
            root_size: None,
        };
        cap.root_size = Some(root_size);
        if want_shm {
            match cap.attach_shm(SEGMENT_BYTES).and_then(|a| {
                let mut all = vec![a];
                for _ in 1..SEGMENTS {
                    all.push(cap.attach_shm(SEGMENT_BYTES)?);
                }
                Ok(all)
            }) {
                Ok(shm) => cap.shm = Some(shm),
                Err(e) => tracing::warn!(
                    "MIT-SHM unavailable ({e}); capturing with plain GetImage, which is much slower"
                ),
            }
        }
        cap.damage = cap.create_damage()?;
        if cap.damage.is_none() {
            tracing::warn!("X server lacks DAMAGE; polling the screen every {POLL_INTERVAL:?}");
        } else if cap.x.xfixes_regions {
            let region = cap
                .x
                .conn
                .generate_id()
                .map_err(|e| CaptureError::request("generate an XID", e))?;
            // Without a region every grab is whole, as before regions.
            match check("XFixes CreateRegion", cap.x.conn.xfixes_create_region(region, &[])) {
                Ok(()) => cap.parts = Some(region),
                Err(e) => tracing::warn!("grabbing whole screens: {e}"),
            }
        }
        if cap.x.randr {
            let mask =
                NotifyMask::SCREEN_CHANGE | NotifyMask::CRTC_CHANGE | NotifyMask::OUTPUT_CHANGE;
            check("RandR SelectInput", cap.x.conn.randr_select_input(cap.x.root, mask))?;
        }
        Ok(cap)
    }

    /// Creates and attaches a segment of at least `len` bytes.
    fn attach_shm(&self, len: usize) -> Result<Shm, CaptureError> {
        if !self.x.has_extension(shm::X11_EXTENSION_NAME)? {
            return Err(CaptureError::MissingExtension("MIT-SHM"));
        }
        let v = reply("MIT-SHM QueryVersion", self.x.conn.shm_query_version())?;
        if (v.major_version, v.minor_version) < (1, 2) {
            return Err(CaptureError::MissingExtension("MIT-SHM 1.2 (AttachFd)"));
        }
        let (segment, fd) = Segment::new(len)?;
        let seg =
            self.x.conn.generate_id().map_err(|e| CaptureError::request("generate an XID", e))?;
        check("MIT-SHM AttachFd", self.x.conn.shm_attach_fd(seg, fd, false))?;
        Ok(Shm { seg, segment })
    }

    fn create_damage(&self) -> Result<Option<damage::Damage>, CaptureError> {
        if !self.x.has_extension(damage::X11_EXTENSION_NAME)? {
            return Ok(None);
        }
        reply("DAMAGE QueryVersion", self.x.conn.damage_query_version(1, 1))?;
        let id =
            self.x.conn.generate_id().map_err(|e| CaptureError::request("generate an XID", e))?;
        let level = damage::ReportLevel::NON_EMPTY;
        check("DAMAGE Create", self.x.conn.damage_create(id, self.x.root, level))?;
        Ok(Some(id))
    }

    fn current_root_size(&mut self) -> Result<(u32, u32), CaptureError> {
        match self.root_size {
            Some(size) => Ok(size),
            None => {
                let size = self.x.root_size()?;
                self.root_size = Some(size);
                Ok(size)
            }
        }
    }

    /// After a failed grab: `MonitorGone` if the root no longer holds the
    /// monitor, else `err`.
    fn explain_failure(&mut self, monitor: &MonitorInfo, err: CaptureError) -> CaptureError {
        if matches!(err, CaptureError::Disconnected(_)) {
            return err;
        }
        self.root_size = None;
        match self.current_root_size() {
            Ok((w, h)) if !monitor.fits(w, h) => CaptureError::MonitorGone { index: monitor.index },
            Ok(_) => err,
            Err(e) => e,
        }
    }

    /// Grabs `r` through the segments in strips of as many rows as fit,
    /// one request in flight per segment: the server copies the next
    /// strips while `out` takes the last one.
    fn grab_shm(
        &mut self,
        r: XRect,
        first: u32,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let row = usize::from(r.w) * 4;
        let strip_rows = strip_rows(r.w).min(r.h);
        // A row fits a segment: X limits screens to 32767 pixels wide, 128 KiB
        // of BGRX; wider is refused below as a missing segment.
        let Some(shm) = self
            .shm
            .as_ref()
            .filter(|s| s.iter().all(|s| s.segment.len() >= row * usize::from(strip_rows)))
        else {
            return Err(CaptureError::Backend("MIT-SHM segment missing".into()));
        };
        let strips: Vec<(u16, u16)> = (0..r.h)
            .step_by(usize::from(strip_rows))
            .map(|top| (top, strip_rows.min(r.h - top)))
            .collect();
        let format = ImageFormat::Z_PIXMAP.into();
        let conn = &self.x.conn;
        let request = |i: usize| {
            let (top, rows) = strips[i];
            let seg = shm[i % SEGMENTS].seg;
            conn.shm_get_image(self.x.root, r.x, r.y + top as i16, r.w, rows, !0, format, seg, 0)
        };
        let mut in_flight = std::collections::VecDeque::new();
        in_flight.extend((0..strips.len().min(SEGMENTS)).map(request));
        for (i, &(top, rows)) in strips.iter().enumerate() {
            let cookie = in_flight.pop_front().expect("one request per strip");
            let got = reply("MIT-SHM GetImage", cookie)?;
            let expected = row * usize::from(rows);
            if got.size as usize != expected {
                return Err(CaptureError::UnsupportedFormat(format!(
                    "GetImage of {}x{rows} returned {} bytes, expected {expected}",
                    r.w, got.size
                )));
            }
            out.put_bgrx_rows(
                first + u32::from(top),
                rows.into(),
                row,
                shm[i % SEGMENTS].segment.bytes(expected),
            )?;
            // Only now may the server overwrite this segment.
            if i + SEGMENTS < strips.len() {
                in_flight.push_back(request(i + SEGMENTS));
            }
        }
        Ok(())
    }

    /// A grab of `monitor`'s rows `rows` (not empty) into `out`.
    fn grab_to(
        &mut self,
        monitor: &MonitorInfo,
        rows: Range<u32>,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let gone = CaptureError::MonitorGone { index: monitor.index };
        let Some(whole) = XRect::of(monitor) else { return Err(gone) };
        // Within the monitor, which `XRect::of` keeps within i16 and u16.
        let rect = XRect { y: whole.y + rows.start as i16, h: rows.len() as u16, ..whole };
        let (w, h) = self.current_root_size()?;
        if !monitor.fits(w, h) {
            // The cached size may be stale: ask once before giving up.
            self.root_size = None;
            let (w, h) = self.current_root_size()?;
            if !monitor.fits(w, h) {
                return Err(gone);
            }
        }
        let result = if self.shm.is_some() {
            self.grab_shm(rect, rows.start, out)
        } else {
            self.grab_plain(rect, rows.start, out)
        };
        result.map_err(|e| match e {
            CaptureError::Protocol(_) => self.explain_failure(monitor, e),
            other => other,
        })
    }

    fn grab_plain(
        &mut self,
        r: XRect,
        first: u32,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let format = ImageFormat::Z_PIXMAP;
        let got =
            reply("GetImage", self.x.conn.get_image(format, self.x.root, r.x, r.y, r.w, r.h, !0))?;
        Ok(out.put_bgrx_rows(first, r.h.into(), usize::from(r.w) * 4, &got.data)?)
    }

    /// The rows of `monitor` drawn on since the last grab into `out`, as
    /// the waits since then found them, the others given as unchanged; all
    /// of them if `out` needs every row, if there was no wait, or where it
    /// is unknown what was drawn (`drawn.rs`).
    fn grab_drawn(
        &mut self,
        monitor: &MonitorInfo,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let height = monitor.height;
        if !std::mem::take(&mut self.waited) {
            // No wait since the last grab: nobody looked at what changed.
            self.drawn.add_unknown();
        }
        let bands = self.drawn.take(monitor.y, height, out.needs_every_row(), Instant::now());
        let mut next = 0;
        for rows in bands {
            out.same_rows(next, rows.start - next)?;
            next = rows.end;
            self.grab_to(monitor, rows, out)?;
        }
        out.same_rows(next, height - next)?;
        Ok(())
    }

    /// Handles queued events; true if any says the screen changed.
    fn drain_events(&mut self) -> Result<bool, CaptureError> {
        let mut changed = false;
        while let Some(event) =
            self.x.conn.poll_for_event().map_err(|e| CaptureError::request("reading events", e))?
        {
            match event {
                Event::DamageNotify(_) => changed = true,
                Event::RandrScreenChangeNotify(_) | Event::RandrNotify(_) => {
                    self.root_size = None;
                    self.drawn.add_unknown();
                    changed = true;
                }
                // Errors of unchecked requests (detach, subtract) and
                // unrelated events need no action.
                _ => {}
            }
        }
        Ok(changed)
    }

    /// Empties the damage region so the next drawing sends a new event,
    /// noting which rows its rectangles held (one round trip) where
    /// regions exist.
    fn rearm(&mut self, damage: damage::Damage) -> Result<(), CaptureError> {
        let none = x11rb::NONE;
        self.x
            .conn
            .damage_subtract(damage, none, self.parts.unwrap_or(none))
            .map_err(|e| CaptureError::request("DAMAGE Subtract", e))?;
        let Some(parts) = self.parts else {
            self.drawn.add_unknown();
            return self.x.conn.flush().map_err(|e| CaptureError::request("flush", e));
        };
        // The reply's round trip sends the subtract too.
        let region = reply("XFixes FetchRegion", self.x.conn.xfixes_fetch_region(parts))?;
        for r in &region.rectangles {
            self.drawn.add(r.y, r.height);
        }
        Ok(())
    }
}

impl Capturer for X11Capturer {
    fn backend(&self) -> &'static str {
        if self.shm.is_some() { "x11-shm" } else { "x11-getimage" }
    }

    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        self.root_size = None;
        self.x.monitors()
    }

    fn grab(&mut self, monitor: &MonitorInfo) -> Result<Frame, CaptureError> {
        let mut frame = Frame::solid(monitor.width, monitor.height, 0)
            .map_err(|_| CaptureError::MonitorGone { index: monitor.index })?;
        self.grab_to(monitor, 0..monitor.height, &mut frame)?;
        Ok(frame)
    }

    fn grab_rows(
        &mut self,
        monitor: &MonitorInfo,
        out: &mut dyn PutRows,
    ) -> Result<(), CaptureError> {
        let result = self.grab_drawn(monitor, out);
        if result.is_err() {
            // What the receiver got is unknown: start over whole.
            self.drawn.add_unknown();
        }
        result
    }

    fn wait_for_damage(&mut self, timeout: Duration) -> Result<bool, CaptureError> {
        self.waited = true;
        let Some(damage) = self.damage else {
            self.drawn.add_unknown();
            if self.first_wait {
                self.first_wait = false;
            } else {
                std::thread::sleep(timeout.min(POLL_INTERVAL));
            }
            return Ok(true);
        };
        if self.first_wait {
            // Drop the events sent so far (the round trip guarantees they
            // have arrived), then empty the region: drawing after that
            // sends a new event. Emptied first, an event sent in between
            // would be dropped with the region non-empty, and no event
            // would ever come again. The first grab is whole.
            self.first_wait = false;
            reply("GetInputFocus", self.x.conn.get_input_focus())?;
            self.drain_events()?;
            self.rearm(damage)?;
            self.drawn.add_unknown();
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if self.drain_events()? {
                self.rearm(damage)?;
                return Ok(true);
            }
            let now = Instant::now();
            // The safety net (`drawn.rs`) fires even if nothing more is
            // drawn after a grab of some rows.
            let due = self.drawn.whole_due_at();
            if due.is_some_and(|due| now >= due) {
                self.drawn.add_unknown();
                return Ok(true);
            }
            if now >= deadline {
                return Ok(false);
            }
            self.x.conn.flush().map_err(|e| CaptureError::request("flush", e))?;
            let fd = self.x.conn.stream().as_raw_fd();
            let until = due.map_or(deadline, |due| due.min(deadline));
            if !wait_readable(fd, until.saturating_duration_since(now))? && until == deadline {
                return Ok(false);
            }
        }
    }

    fn pointer(&mut self) -> Result<Option<Pointer>, CaptureError> {
        self.x.pointer()
    }

    fn cursor_image(&mut self) -> Result<Option<CursorImage>, CaptureError> {
        self.x.cursor_image()
    }
}

impl Drop for X11Capturer {
    fn drop(&mut self) {
        // Best effort: the server frees both when the connection closes.
        for shm in self.shm.take().into_iter().flatten() {
            let _ = self.x.conn.shm_detach(shm.seg);
        }
        if let Some(damage) = self.damage.take() {
            let _ = self.x.conn.damage_destroy(damage);
        }
        if let Some(parts) = self.parts.take() {
            let _ = self.x.conn.xfixes_destroy_region(parts);
        }
        let _ = self.x.conn.flush();
    }
}

/// Blocks until `fd` is readable or `timeout` passes; false on timeout.
/// A hung-up socket counts as readable: the next read reports the error.
fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) -> Result<bool, CaptureError> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // Round up so we never wake just before the deadline and spin.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        // Interrupted: report "woke up"; the caller re-checks and re-waits.
        return if err.kind() == std::io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(err.into())
        };
    }
    if rc > 0 && pfd.revents & libc::POLLNVAL != 0 {
        return Err(CaptureError::Disconnected("X connection socket is closed".into()));
    }
    Ok(rc > 0)
}

/// A monitor rectangle in X11's request types.
#[derive(Clone, Copy)]
struct XRect {
    x: i16,
    y: i16,
    w: u16,
    h: u16,
}

impl XRect {
    /// `m` if it is not empty and lies where X coordinates reach (below
    /// 32768 on both axes), so any rectangle inside it fits the request
    /// types too.
    fn of(m: &MonitorInfo) -> Option<XRect> {
        let reach = |at: i32, len: u32| i64::from(at) + i64::from(len) <= 1 << 15;
        if !reach(m.x, m.width) || !reach(m.y, m.height) {
            return None;
        }
        let r = XRect {
            x: i16::try_from(m.x).ok()?,
            y: i16::try_from(m.y).ok()?,
            w: u16::try_from(m.width).ok()?,
            h: u16::try_from(m.height).ok()?,
        };
        (r.w > 0 && r.h > 0).then_some(r)
    }
}

/// Bytes of each shared segment: grabs go in strips of as many rows as
/// fit (17 at 1920 wide), so the agent does not keep a whole screen's
/// worth of shared memory resident next to the frame it encodes (8 MiB at
/// 1080p, 32 MiB at 4K); all segments are resident, so they count in the
/// agent's memory (384 KiB; three of 256 KiB were 768 KiB, two of 1 MiB
/// 2 MiB).
const SEGMENT_BYTES: usize = 128 << 10;

/// Shared segments, each with a request in flight. Three of 128 KiB grab
/// 1080p in a median 2.04 ms on the reference machine
/// (`examples/grab_bench.rs`), four of them as fast, three of 256 KiB in
/// 1.82 ms; two of 256 KiB took 2.7-3.5 ms. The 0.2 ms buy back 384 KiB.
const SEGMENTS: usize = 3;

/// Rows per strip for a grab `width` pixels wide: at least one.
fn strip_rows(width: u16) -> u16 {
    let rows = SEGMENT_BYTES / (usize::from(width.max(1)) * 4);
    rows.clamp(1, usize::from(u16::MAX)) as u16
}

/// Refuses screens whose pixels are not 32-bit little-endian BGRX.
pub(crate) fn check_format(x: &XConn) -> Result<(), CaptureError> {
    let setup = x.conn.setup();
    let Some(screen) = setup.roots.iter().find(|s| s.root == x.root) else {
        return Err(CaptureError::Protocol("root window not in the setup".into()));
    };
    let depth = screen.root_depth;
    if depth != 24 && depth != 32 {
        return Err(CaptureError::UnsupportedFormat(format!("root depth {depth}")));
    }
    let bpp = setup.pixmap_formats.iter().find(|f| f.depth == depth).map(|f| f.bits_per_pixel);
    if bpp != Some(32) {
        return Err(CaptureError::UnsupportedFormat(format!(
            "{bpp:?} bits per pixel at depth {depth}"
        )));
    }
    if setup.image_byte_order != ImageOrder::LSB_FIRST {
        return Err(CaptureError::UnsupportedFormat("big-endian image byte order".into()));
    }
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|d| &d.visuals)
        .find(|v| v.visual_id == screen.root_visual)
        .ok_or_else(|| CaptureError::Protocol("root visual not in the setup".into()))?;
    let class_ok =
        visual.class == VisualClass::TRUE_COLOR || visual.class == VisualClass::DIRECT_COLOR;
    let masks = (visual.red_mask, visual.green_mask, visual.blue_mask);
    if !class_ok || masks != (0xFF_0000, 0xFF00, 0xFF) {
        return Err(CaptureError::UnsupportedFormat(format!(
            "visual class {:?} with masks {:06x}/{:06x}/{:06x}",
            visual.class, masks.0, masks.1, masks.2
        )));
    }
    Ok(())
}
