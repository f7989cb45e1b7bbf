//! The view window (minifb): shows the newest frame, scaled, with the
//! remote cursor in view-only mode; in control mode turns the window's
//! input into events; the title tells host, monitor, frame rate and
//! bandwidth.
//!
//! On Linux this needs an X display (libX11 and libXcursor are loaded at
//! run time). The same code builds for Windows and macOS through minifb's
//! backends but is unverified there; on macOS minifb wants the main thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minifb::{InputCallback, MouseButton, MouseMode, Window, WindowOptions};
use tether_proto::screen::{CursorShape, InputEvent};
use tokio::sync::mpsc;

use crate::input::{InputTracker, Snapshot};
use crate::scale::{Image, Placement, ScaleMode, blit};
use crate::stream::ViewState;

/// Window background around a fitted image.
const BACKGROUND: u32 = 0x202020;

/// Largest initial window for `--scale fit`; the user may resize.
const MAX_INITIAL: (u32, u32) = (1600, 900);

/// Why the window could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("cannot open the view window: {0} (is DISPLAY set to a running X server?)")]
    Open(String),
    #[error("the view window failed: {0}")]
    Update(String),
}

/// How the window behaves.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    /// The host as the technician named it, for the title.
    pub host: String,
    pub scale: ScaleMode,
    /// Whether input goes to the agent.
    pub control: bool,
}

/// Collects characters typed through keys the tracker cannot map.
struct TextSink(Arc<Mutex<String>>);

impl InputCallback for TextSink {
    fn add_char(&mut self, uni_char: u32) {
        if let Some(c) = char::from_u32(uni_char).filter(|c| !c.is_ascii() && !c.is_control()) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }
}

/// Runs the window until it is closed or `ended` is set. Blocking.
pub fn run(
    state: &ViewState,
    settings: &WindowSettings,
    input: Option<&mpsc::UnboundedSender<InputEvent>>,
    ended: &AtomicBool,
) -> Result<(), WindowError> {
    let (src_w, src_h) = {
        let screen = state.screen();
        (screen.monitor.width.max(1), screen.monitor.height.max(1))
    };
    let (w, h) = match settings.scale {
        ScaleMode::One => (src_w, src_h),
        ScaleMode::Fit => {
            let p = Placement::new(ScaleMode::Fit, src_w, src_h, MAX_INITIAL.0, MAX_INITIAL.1);
            if src_w <= MAX_INITIAL.0 && src_h <= MAX_INITIAL.1 {
                (src_w, src_h)
            } else {
                (p.width, p.height)
            }
        }
    };
    let options = WindowOptions { resize: true, ..WindowOptions::default() };
    let mut window = Window::new(&title(settings, state), w as usize, h as usize, options)
        .map_err(|e| WindowError::Open(e.to_string()))?;
    window.set_target_fps(60);
    let typed = Arc::new(Mutex::new(String::new()));
    window.set_input_callback(Box::new(TextSink(Arc::clone(&typed))));

    let mut tracker = InputTracker::new();
    let mut buffer = Vec::new();
    // What the buffer shows: frame, monitor size, window size, pointer.
    type Drawn = (u64, (u32, u32), usize, usize, Option<(i32, i32)>);
    let mut drawn: Option<Drawn> = None;
    let mut last_title = Instant::now();
    while window.is_open() && !ended.load(Ordering::Relaxed) {
        let (win_w, win_h) = window.get_size();
        let (win_w, win_h) = (win_w.max(1), win_h.max(1));
        let placement;
        {
            let screen = state.screen();
            let (sw, sh) = (screen.monitor.width, screen.monitor.height);
            placement = Placement::new(settings.scale, sw, sh, win_w as u32, win_h as u32);
            let key = (screen.seq, (sw, sh), win_w, win_h, screen.pointer);
            if drawn != Some(key) {
                match &screen.frame {
                    Some(frame) => blit(
                        Image { pixels: frame.pixels(), width: sw, height: sh },
                        &mut buffer,
                        (win_w as u32, win_h as u32),
                        placement,
                        BACKGROUND,
                    ),
                    None => {
                        buffer.clear();
                        buffer.resize(win_w * win_h, BACKGROUND);
                    }
                }
                if !settings.control
                    && let (Some(cursor), Some(pointer)) = (&screen.cursor, screen.pointer)
                {
                    draw_cursor(
                        &mut buffer,
                        win_w as u32,
                        win_h as u32,
                        placement,
                        (sw, sh),
                        cursor,
                        pointer,
                    );
                }
                drawn = Some(key);
            }
        }
        window
            .update_with_buffer(&buffer, win_w, win_h)
            .map_err(|e| WindowError::Update(e.to_string()))?;
        if let Some(input) = input {
            let (sw, sh) = {
                let screen = state.screen();
                (screen.monitor.width, screen.monitor.height)
            };
            let pointer = window
                .get_mouse_pos(MouseMode::Pass)
                .and_then(|(x, y)| placement.to_remote(x, y, sw, sh));
            let snapshot = Snapshot {
                active: window.is_active(),
                keys: window.get_keys(),
                pointer,
                buttons: [
                    window.get_mouse_down(MouseButton::Left),
                    window.get_mouse_down(MouseButton::Middle),
                    window.get_mouse_down(MouseButton::Right),
                ],
                wheel: window.get_scroll_wheel(),
                unmapped_text: std::mem::take(
                    &mut *typed.lock().unwrap_or_else(|p| p.into_inner()),
                ),
            };
            for event in tracker.update(&snapshot) {
                if input.send(event).is_err() {
                    return Ok(());
                }
            }
        }
        if last_title.elapsed() >= Duration::from_secs(1) {
            window.set_title(&title(settings, state));
            last_title = Instant::now();
        }
    }
    if let Some(input) = input {
        let _ = input.send(InputEvent::ReleaseAll);
    }
    Ok(())
}

fn title(settings: &WindowSettings, state: &ViewState) -> String {
    let (fps, bits) = state.rate();
    let monitor = state.screen().monitor.clone();
    let mode =
        if settings.control { "control (Ctrl+Alt+End sends Ctrl+Alt+Del)" } else { "view only" };
    format!(
        "{} — monitor {} {}x{} — {fps} fps, {:.2} Mbit/s — {mode} — tether",
        settings.host,
        monitor.index,
        monitor.width,
        monitor.height,
        bits as f64 / 1e6
    )
}

/// Blends the remote cursor (premultiplied ARGB) over the scaled image at
/// the pointer's place; the cursor itself is drawn unscaled.
fn draw_cursor(
    buffer: &mut [u32],
    win_w: u32,
    win_h: u32,
    place: Placement,
    (src_w, src_h): (u32, u32),
    cursor: &CursorShape,
    (px, py): (i32, i32),
) {
    if src_w == 0 || src_h == 0 {
        return;
    }
    let wx = place.x as i64 + px as i64 * place.width as i64 / src_w as i64 - cursor.hot_x as i64;
    let wy = place.y as i64 + py as i64 * place.height as i64 / src_h as i64 - cursor.hot_y as i64;
    for cy in 0..cursor.height as i64 {
        for cx in 0..cursor.width as i64 {
            let (x, y) = (wx + cx, wy + cy);
            if x < 0 || y < 0 || x >= win_w as i64 || y >= win_h as i64 {
                continue;
            }
            let argb = cursor.argb[(cy * cursor.width as i64 + cx) as usize];
            let alpha = argb >> 24;
            if alpha == 0 {
                continue;
            }
            let dst = &mut buffer[(y * win_w as i64 + x) as usize];
            let blend = |shift: u32| {
                let s = (argb >> shift) & 0xff;
                let d = (*dst >> shift) & 0xff;
                (s + d * (255 - alpha) / 255).min(255) << shift
            };
            *dst = blend(16) | blend(8) | blend(0);
        }
    }
}
