//! The screen and input requests that fit in one reply: the monitor list,
//! a screenshot, and a batch of input events. The view stream lives in
//! `view`.
//!
//! Capture and injection are blocking (X round trips), so each request
//! runs on a blocking thread with its own display connections; nothing is
//! kept open between requests.

use std::sync::Mutex;

use serde::Deserialize;
use tether_capture::{Backend, Capturer, MonitorInfo};
use tether_input::{EnigoDevice, Injector};
use tether_proto::ErrorReply;
use tether_proto::screen::{InputEvent, InputTally, MAX_FPS, Monitor, Screenshot};
use tether_screen_codec::Encoder;

use crate::setting::SettingError;

/// Frame rate cap unless configured otherwise.
pub const DEFAULT_MAX_FPS: u32 = 30;

/// The `[screen]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScreen {
    display: Option<String>,
    backend: Option<String>,
    max_fps: Option<u32>,
}

/// Where the screen comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenSettings {
    /// The X display (`:0`); `None`: the agent's `$DISPLAY`.
    pub display: Option<String>,
    /// The capture backend: `x11` (MIT-SHM over memfd, damage-driven) or
    /// `scrap`; unset, the system's own (X11 on Linux, DXGI through scrap
    /// on Windows).
    pub backend: Backend,
    /// The highest frame rate any viewer gets.
    pub max_fps: u32,
}

impl ScreenSettings {
    pub fn from_raw(raw: RawScreen) -> Result<ScreenSettings, SettingError> {
        let backend = match raw.backend.as_deref() {
            None => Backend::default(),
            Some(name) => name.parse::<Backend>().map_err(|_| {
                SettingError::value(
                    "screen.backend",
                    format!("{name:?}"),
                    "use \"x11\" or \"scrap\"",
                )
            })?,
        };
        let max_fps = raw.max_fps.unwrap_or(DEFAULT_MAX_FPS);
        if max_fps == 0 || max_fps > MAX_FPS {
            return Err(SettingError::value(
                "screen.max_fps",
                max_fps,
                format!("use 1 to {MAX_FPS}"),
            ));
        }
        if let Some(d) = &raw.display
            && d.trim().is_empty()
        {
            return Err(SettingError::needs(
                "screen.display",
                "must not be empty (remove it to use $DISPLAY)",
            ));
        }
        Ok(ScreenSettings { display: raw.display, backend, max_fps })
    }

    /// One line for `check-config`.
    pub fn describe(&self) -> String {
        let display = self.display.clone().unwrap_or_else(|| {
            std::env::var("DISPLAY").unwrap_or_else(|_| "$DISPLAY (unset)".into())
        });
        format!("display {display}, backend {}, up to {} fps", self.backend, self.max_fps)
    }

    /// Connects a capturer to the display and picks the requested monitor
    /// (`None`: the primary). Returns the whole layout too.
    pub fn open_monitor(&self, requested: Option<u32>) -> Result<OpenMonitor, ErrorReply> {
        let mut capturer =
            tether_capture::open(self.backend, self.display.as_deref()).map_err(unavailable)?;
        let list = capturer.monitors().map_err(unavailable)?;
        let monitor = pick(&list, requested)?;
        Ok((capturer, list, monitor))
    }

    /// The display's monitors, without setting up capture.
    fn list_monitors(&self) -> Result<Vec<MonitorInfo>, ErrorReply> {
        tether_capture::list_monitors(self.display.as_deref()).map_err(unavailable)
    }

    /// Keyboard and mouse of the display, in `monitor`'s coordinates.
    pub fn injector(&self, monitor: &MonitorInfo) -> Result<Injector<EnigoDevice>, ErrorReply> {
        let device = EnigoDevice::open(self.display.as_deref()).map_err(unavailable)?;
        let mut injector = Injector::new(device);
        injector.set_origin(monitor.x, monitor.y);
        Ok(injector)
    }
}

/// The display (or the input device) cannot serve the request.
fn unavailable(e: impl std::fmt::Display) -> ErrorReply {
    ErrorReply::unavailable(e.to_string())
}

/// A capturer, the display's layout and the monitor picked from it.
pub type OpenMonitor = (Box<dyn Capturer>, Vec<MonitorInfo>, MonitorInfo);

/// Who holds mouse and keyboard: one session at a time, so two technicians
/// never fight over the pointer.
#[derive(Debug, Default)]
pub struct ControlSlot {
    holder: Mutex<Option<String>>,
}

/// Holds the control slot until dropped.
#[derive(Debug)]
pub struct ControlGuard<'a> {
    slot: &'a ControlSlot,
}

impl ControlSlot {
    /// Takes the slot for `session`, or says who has it.
    pub fn take(&self, session: &str) -> Result<ControlGuard<'_>, ErrorReply> {
        let mut holder = self.holder.lock().unwrap_or_else(|p| p.into_inner());
        match holder.as_deref() {
            Some(other) => Err(ErrorReply::unavailable(format!(
                "session {other} is controlling this screen; only one technician controls at a time"
            ))),
            None => {
                *holder = Some(session.to_owned());
                Ok(ControlGuard { slot: self })
            }
        }
    }
}

impl Drop for ControlGuard<'_> {
    fn drop(&mut self) {
        *self.slot.holder.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

pub fn to_wire(m: &MonitorInfo) -> Monitor {
    Monitor {
        index: m.index,
        name: m.name.clone(),
        x: m.x,
        y: m.y,
        width: m.width,
        height: m.height,
        primary: m.primary,
    }
}

/// The requested monitor (`None`: the primary, else the first).
pub fn pick(monitors: &[MonitorInfo], requested: Option<u32>) -> Result<MonitorInfo, ErrorReply> {
    let found = match requested {
        None => monitors.iter().find(|m| m.primary).or_else(|| monitors.first()),
        Some(i) => monitors.iter().find(|m| m.index == i),
    };
    found.cloned().ok_or_else(|| {
        let list: Vec<String> = monitors
            .iter()
            .map(|m| {
                let primary = if m.primary { ", primary" } else { "" };
                format!("{} ({}x{}{primary})", m.index, m.width, m.height)
            })
            .collect();
        ErrorReply::bad_request(format!(
            "no monitor {}; this display has: {}",
            requested.unwrap_or(0),
            if list.is_empty() { "none".into() } else { list.join(", ") }
        ))
    })
}

/// Lists the monitors.
pub fn monitors(settings: &ScreenSettings) -> Result<Vec<Monitor>, ErrorReply> {
    Ok(settings.list_monitors()?.iter().map(to_wire).collect())
}

/// One full frame of a monitor, encoded losslessly.
pub fn screenshot(
    settings: &ScreenSettings,
    requested: Option<u32>,
) -> Result<Screenshot, ErrorReply> {
    let (mut capturer, _, monitor) = settings.open_monitor(requested)?;
    let frame = capturer.grab(&monitor).map_err(unavailable)?;
    let encoded = Encoder::new().encode(frame).to_bytes();
    let pointer = capturer.pointer().ok().flatten().and_then(|p| relative(&monitor, p.x, p.y));
    Ok(Screenshot { monitor: to_wire(&monitor), encoded, pointer })
}

/// A root-window position relative to `monitor`, if it lies on it.
pub fn relative(monitor: &MonitorInfo, x: i32, y: i32) -> Option<(i32, i32)> {
    let (rx, ry) = (x - monitor.x, y - monitor.y);
    let inside =
        (0..monitor.width as i32).contains(&rx) && (0..monitor.height as i32).contains(&ry);
    inside.then_some((rx, ry))
}

/// Injects a batch of events on `requested`'s coordinates, then releases
/// whatever the batch left held. Returns the audit summary.
pub fn inject(
    settings: &ScreenSettings,
    requested: Option<u32>,
    events: &[InputEvent],
) -> Result<String, ErrorReply> {
    let monitor = pick(&settings.list_monitors()?, requested)?;
    let mut injector = settings.injector(&monitor)?;
    let mut tally = InputTally::default();
    for event in events {
        injector.apply(event).map_err(unavailable)?;
        tally.count(event);
    }
    let released = injector.release_all().map_err(unavailable)?;
    let mut summary = tally.summary();
    if !released.is_empty() {
        summary.push_str(&format!(
            "; released {} keys and {} buttons left held",
            released.keys, released.buttons
        ));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(index: u32, x: i32, primary: bool) -> MonitorInfo {
        MonitorInfo { index, name: format!("m{index}"), x, y: 0, width: 960, height: 1080, primary }
    }

    #[test]
    fn monitors_are_picked_by_index_or_primary() {
        let list = [monitor(0, 0, false), monitor(1, 960, true)];
        assert_eq!(pick(&list, None).unwrap().index, 1, "the primary");
        assert_eq!(pick(&list, Some(0)).unwrap().index, 0);
        let err = pick(&list, Some(2)).unwrap_err().message;
        assert!(err.contains("no monitor 2") && err.contains("1 (960x1080, primary)"), "{err}");
        assert_eq!(pick(&[monitor(0, 0, false)], None).unwrap().index, 0, "else the first");
        assert_eq!(relative(&list[1], 970, 5), Some((10, 5)));
        assert_eq!(relative(&list[1], 5, 5), None);
    }

    #[test]
    fn settings_are_validated() {
        let s = ScreenSettings::from_raw(RawScreen::default()).unwrap();
        assert_eq!((s.backend, s.max_fps, s.display), (Backend::X11, DEFAULT_MAX_FPS, None));
        let raw = RawScreen { max_fps: Some(61), ..RawScreen::default() };
        let err = ScreenSettings::from_raw(raw).unwrap_err();
        assert_eq!(err.key(), "screen.max_fps");
        assert!(err.to_string().contains("1 to 60"), "{err}");
        let raw = RawScreen { backend: Some("vnc".into()), ..RawScreen::default() };
        assert_eq!(ScreenSettings::from_raw(raw).unwrap_err().key(), "screen.backend");
    }

    #[test]
    fn one_controller_at_a_time() {
        let slot = ControlSlot::default();
        let guard = slot.take("a").unwrap();
        assert!(slot.take("b").unwrap_err().message.contains("session a"));
        drop(guard);
        assert!(slot.take("b").is_ok());
    }
}
