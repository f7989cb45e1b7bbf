//! The X11 queries both real backends share: connecting, monitors (RandR
//! 1.5 `GetMonitors`), the pointer (`QueryPointer`) and the cursor shape
//! (XFixes `GetCursorImage`).
//!
//! The scrap backend cannot answer these itself (scrap has no pointer or
//! cursor API and its monitor iterator is unsound), so it opens one of these
//! small pure-Rust connections next to scrap's own.

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

use crate::error::reply;
use crate::{CaptureError, CursorImage, MAX_CURSOR_SIZE, MonitorInfo, Pointer};

pub(crate) struct XConn {
    pub conn: RustConnection,
    pub root: Window,
    /// RandR ≥ 1.2 (screen-change events).
    pub randr: bool,
    /// RandR ≥ 1.5 (`GetMonitors`).
    pub randr_monitors: bool,
    /// XFixes ≥ 1 (`GetCursorImage`).
    pub xfixes: bool,
    /// XFixes ≥ 2 (regions, to learn where DAMAGE saw drawing).
    pub xfixes_regions: bool,
}

/// The display name used in messages.
pub(crate) fn display_label(display: Option<&str>) -> String {
    match display {
        Some(d) => d.to_owned(),
        None => std::env::var("DISPLAY").unwrap_or_else(|_| "$DISPLAY (unset)".to_owned()),
    }
}

impl XConn {
    pub fn connect(display: Option<&str>) -> Result<XConn, CaptureError> {
        let (conn, screen) = RustConnection::connect(display).map_err(|e| {
            CaptureError::Connect { display: display_label(display), reason: e.to_string() }
        })?;
        let root =
            conn.setup().roots.get(screen).map(|s| s.root).ok_or_else(|| {
                CaptureError::Protocol(format!("the server has no screen {screen}"))
            })?;
        let mut x = XConn {
            conn,
            root,
            randr: false,
            randr_monitors: false,
            xfixes: false,
            xfixes_regions: false,
        };
        if x.has_extension(randr::X11_EXTENSION_NAME)? {
            let v = reply("RandR QueryVersion", x.conn.randr_query_version(1, 5))?;
            let version = (v.major_version, v.minor_version);
            x.randr = version >= (1, 2);
            x.randr_monitors = version >= (1, 5);
        }
        if x.has_extension(xfixes::X11_EXTENSION_NAME)? {
            let v = reply("XFixes QueryVersion", x.conn.xfixes_query_version(5, 0))?;
            x.xfixes = v.major_version >= 1;
            x.xfixes_regions = v.major_version >= 2;
        }
        Ok(x)
    }

    pub fn has_extension(&self, name: &'static str) -> Result<bool, CaptureError> {
        self.conn
            .extension_information(name)
            .map(|info| info.is_some())
            .map_err(|e| CaptureError::request("QueryExtension", e))
    }

    /// The root window's current size (the setup data goes stale on resize).
    pub fn root_size(&self) -> Result<(u32, u32), CaptureError> {
        let g = reply("GetGeometry of the root", self.conn.get_geometry(self.root))?;
        Ok((u32::from(g.width), u32::from(g.height)))
    }

    pub fn monitors(&self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let listed = if self.randr_monitors {
            reply("RandR GetMonitors", self.conn.randr_get_monitors(self.root, true))?.monitors
        } else {
            Vec::new()
        };
        let listed: Vec<_> = listed.into_iter().filter(|m| m.width > 0 && m.height > 0).collect();
        if listed.is_empty() {
            let (width, height) = self.root_size()?;
            return Ok(vec![MonitorInfo {
                index: 0,
                name: "root".to_owned(),
                x: 0,
                y: 0,
                width,
                height,
                primary: true,
            }]);
        }
        // Pipeline the name lookups: one round trip for all monitors.
        let mut cookies = Vec::with_capacity(listed.len());
        for m in &listed {
            cookies.push(
                self.conn
                    .get_atom_name(m.name)
                    .map_err(|e| CaptureError::request("GetAtomName", e))?,
            );
        }
        let mut out = Vec::with_capacity(listed.len());
        for (i, (m, cookie)) in listed.into_iter().zip(cookies).enumerate() {
            let name = match cookie.reply() {
                Ok(r) => String::from_utf8_lossy(&r.name).into_owned(),
                // A monitor named by a vanished atom is still a monitor.
                Err(x11rb::errors::ReplyError::X11Error(_)) => format!("monitor-{i}"),
                Err(e) => return Err(CaptureError::request("GetAtomName", e)),
            };
            out.push(MonitorInfo {
                index: i as u32,
                name,
                x: i32::from(m.x),
                y: i32::from(m.y),
                width: u32::from(m.width),
                height: u32::from(m.height),
                primary: m.primary,
            });
        }
        crate::ensure_primary(&mut out);
        Ok(out)
    }

    pub fn pointer(&self) -> Result<Option<Pointer>, CaptureError> {
        let p = reply("QueryPointer", self.conn.query_pointer(self.root))?;
        Ok(p.same_screen.then(|| Pointer { x: i32::from(p.root_x), y: i32::from(p.root_y) }))
    }

    pub fn cursor_image(&self) -> Result<Option<CursorImage>, CaptureError> {
        if !self.xfixes {
            return Ok(None);
        }
        let c = reply("XFixes GetCursorImage", self.conn.xfixes_get_cursor_image())?;
        let (width, height) = (u32::from(c.width), u32::from(c.height));
        if width == 0 || height == 0 || width > MAX_CURSOR_SIZE || height > MAX_CURSOR_SIZE {
            return Ok(None);
        }
        if c.cursor_image.len() != (width * height) as usize {
            return Err(CaptureError::Protocol(format!(
                "XFixes GetCursorImage: a {width}x{height} cursor came with {} pixels",
                c.cursor_image.len()
            )));
        }
        Ok(Some(CursorImage {
            serial: c.cursor_serial,
            width,
            height,
            hot_x: u32::from(c.xhot),
            hot_y: u32::from(c.yhot),
            argb: c.cursor_image,
        }))
    }
}
