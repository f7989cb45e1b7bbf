//! The view window (winit + softbuffer): shows the newest frame, scaled or
//! 1:1 with panning, with the remote cursor in view-only mode; in control
//! mode hands every key, button, pointer and wheel event to the
//! [`Translator`] as it arrives and forwards what it makes; the title tells
//! host, monitor, frame rate and bandwidth.
//!
//! Event-driven on purpose: a window that samples key state once per frame
//! (minifb, before) loses every press and release that falls between two
//! frames. On Linux this needs an X display; libX11, libXcursor and
//! libxkbcommon-x11 are loaded at run time. The event loop runs on the
//! caller's thread (X11 allows any thread; macOS would want the main one,
//! and only X11 is built and tested).

use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use softbuffer::{Context, Surface};
use tether_proto::screen::{CursorShape, InputEvent, MouseButton};
use tokio::sync::mpsc;
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{DeviceEvent, DeviceId, ElementState, KeyEvent, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, DeviceEvents, EventLoop};
use winit::keyboard::{Key as Logical, PhysicalKey};
use winit::window::{Window, WindowId};

use crate::input::{KeyInput, Translator, WheelEcho};
use crate::scale::{Image, Placement, ScaleMode, blit, edge_pan, pan_by};
use crate::stream::ViewState;

/// Window background around a fitted image.
const BACKGROUND: u32 = 0x202020;

/// Largest initial window for `--scale fit`; the user may resize.
const MAX_INITIAL: (u32, u32) = (1600, 900);

/// How often the window looks for a new frame, the end of the stream and
/// an edge pan when no event wakes it. Input never waits for this tick.
const TICK: Duration = Duration::from_millis(16);

/// How far one wheel step pans a view-only window, in remote pixels.
const WHEEL_PAN: f32 = 48.0;

/// Why the window could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "cannot open the view window: no display (DISPLAY is not set; run tether view in an X session, or with ssh -X)"
    )]
    NoDisplay,
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

/// Runs the window until it is closed or `ended` is set. Blocking; one
/// window per process (winit allows one event loop).
pub fn run(
    state: &ViewState,
    settings: &WindowSettings,
    input: Option<&mpsc::UnboundedSender<InputEvent>>,
    ended: &AtomicBool,
) -> Result<(), WindowError> {
    check_display()?;
    let event_loop = event_loop().map_err(|e| WindowError::Open(e.to_string()))?;
    let mut app = App {
        state,
        settings,
        input,
        ended,
        view: None,
        translator: Translator::new(),
        wheel_echo: WheelEcho::default(),
        pointer: None,
        pan: (0, 0),
        drawn: None,
        shift: false,
        title_at: Instant::now(),
        error: None,
    };
    let ran = event_loop.run_app(&mut app);
    if let Some(input) = input {
        let _ = input.send(InputEvent::ReleaseAll);
    }
    if let Some(error) = app.error {
        return Err(error);
    }
    ran.map_err(|e| WindowError::Update(e.to_string()))
}

/// Whether a window can be opened at all: the X display is named and
/// accepts a client. Cheap, so a controller can ask before it starts a
/// view (and before the user is asked for consent).
#[cfg(all(unix, not(target_os = "macos")))]
pub fn check_display() -> Result<(), WindowError> {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    if display.is_empty() {
        return Err(WindowError::NoDisplay);
    }
    x11rb::connect(Some(&display))
        .map(drop)
        .map_err(|e| WindowError::Open(format!("display {display}: {e}")))
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn check_display() -> Result<(), WindowError> {
    Ok(())
}

#[cfg(all(unix, not(target_os = "macos")))]
fn event_loop() -> Result<EventLoop<()>, winit::error::EventLoopError> {
    use winit::platform::x11::EventLoopBuilderExtX11;
    // The caller runs the window on a blocking worker thread.
    EventLoop::builder().with_any_thread(true).build()
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn event_loop() -> Result<EventLoop<()>, winit::error::EventLoopError> {
    EventLoop::new()
}

/// The window and its pixels, once the event loop has made them.
struct View {
    window: Rc<Window>,
    surface: Surface<Rc<Window>, Rc<Window>>,
    /// The window's size, from `Resized` events: on X11 winit's
    /// `inner_size()` is a GetGeometry round trip, and the window needs the
    /// size several times per frame.
    size: (u32, u32),
}

/// What the window shows: frame, monitor size, window size, pointer, pan.
type Drawn = (u64, (u32, u32), (u32, u32), Option<(i32, i32)>, (u32, u32));

struct App<'a> {
    state: &'a ViewState,
    settings: &'a WindowSettings,
    input: Option<&'a mpsc::UnboundedSender<InputEvent>>,
    ended: &'a AtomicBool,
    view: Option<View>,
    translator: Translator,
    wheel_echo: WheelEcho,
    /// The local pointer in window pixels, while over the window.
    pointer: Option<(f64, f64)>,
    /// Top-left remote pixel of a 1:1 view larger than the window.
    pan: (u32, u32),
    drawn: Option<Drawn>,
    /// Whether Shift is held (the view-only wheel pans sideways with it).
    shift: bool,
    title_at: Instant,
    error: Option<WindowError>,
}

impl App<'_> {
    fn fail(&mut self, event_loop: &ActiveEventLoop, error: WindowError) {
        self.error.get_or_insert(error);
        event_loop.exit();
    }

    /// Forwards events in order; a closed channel (the stream ended)
    /// closes the window.
    fn send(&mut self, event_loop: &ActiveEventLoop, events: Vec<InputEvent>) {
        let Some(input) = self.input else { return };
        for event in events {
            if input.send(event).is_err() {
                event_loop.exit();
                return;
            }
        }
    }

    fn monitor_size(&self) -> (u32, u32) {
        let screen = self.state.screen();
        (screen.monitor.width, screen.monitor.height)
    }

    fn window_size(&self) -> (u32, u32) {
        self.view.as_ref().map_or((0, 0), |v| v.size)
    }

    /// Where the image sits now, pan included.
    fn placement(&self) -> Placement {
        let (sw, sh) = self.monitor_size();
        let (ww, wh) = self.window_size();
        Placement::new(self.settings.scale, sw, sh, ww, wh).panned(self.pan, sw, sh)
    }

    /// The remote pixel under the local pointer, if it is over the image.
    fn remote_pointer(&self) -> Option<(i32, i32)> {
        let (x, y) = self.pointer?;
        self.placement().to_remote(x as f32, y as f32)
    }

    fn create(&mut self, event_loop: &ActiveEventLoop) -> Result<View, String> {
        let (src_w, src_h) = self.monitor_size();
        let (src_w, src_h) = (src_w.max(1), src_h.max(1));
        // No larger than the technician's own screen, so that a larger
        // remote screen at 1:1 pans rather than running off it.
        let (max_w, max_h) = event_loop.primary_monitor().map_or(MAX_INITIAL, |m| {
            let size = m.size();
            (size.width.clamp(1, MAX_INITIAL.0), size.height.clamp(1, MAX_INITIAL.1))
        });
        let (w, h) = match self.settings.scale {
            ScaleMode::One => (src_w.min(max_w), src_h.min(max_h)),
            ScaleMode::Fit if src_w <= max_w && src_h <= max_h => (src_w, src_h),
            ScaleMode::Fit => {
                let p = Placement::new(ScaleMode::Fit, src_w, src_h, max_w, max_h);
                (p.width, p.height)
            }
        };
        let attributes = Window::default_attributes()
            .with_title(title(self.settings, self.state))
            .with_inner_size(PhysicalSize::new(w, h));
        let window = Rc::new(event_loop.create_window(attributes).map_err(|e| e.to_string())?);
        let context = Context::new(Rc::clone(&window)).map_err(|e| e.to_string())?;
        let surface = Surface::new(&context, Rc::clone(&window)).map_err(|e| e.to_string())?;
        let size = window.inner_size();
        Ok(View { window, surface, size: (size.width, size.height) })
    }

    fn redraw(&mut self) -> Result<(), String> {
        let placement = self.placement();
        let (win_w, win_h) = self.window_size();
        let (Some(w), Some(h)) = (NonZeroU32::new(win_w), NonZeroU32::new(win_h)) else {
            return Ok(());
        };
        let Some(view) = self.view.as_mut() else { return Ok(()) };
        view.surface.resize(w, h).map_err(|e| e.to_string())?;
        let mut buffer = view.surface.buffer_mut().map_err(|e| e.to_string())?;
        let screen = self.state.screen();
        let (sw, sh) = (screen.monitor.width, screen.monitor.height);
        match &screen.frame {
            Some(frame) => blit(
                Image { pixels: frame.pixels(), width: sw, height: sh },
                &mut buffer,
                (win_w, win_h),
                placement,
                BACKGROUND,
            ),
            None => buffer.fill(BACKGROUND),
        }
        if !self.settings.control
            && let (Some(cursor), Some(pointer)) = (&screen.cursor, screen.pointer)
        {
            draw_cursor(&mut buffer, (win_w, win_h), placement, cursor, pointer);
        }
        self.drawn = Some((screen.seq, (sw, sh), (win_w, win_h), screen.pointer, self.pan));
        drop(screen);
        buffer.present().map_err(|e| e.to_string())
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, event: &KeyEvent, synthetic: bool) {
        let input = KeyInput {
            code: match event.physical_key {
                PhysicalKey::Code(code) => Some(code),
                PhysicalKey::Unidentified(_) => None,
            },
            named: match &event.logical_key {
                Logical::Named(named) => Some(*named),
                _ => None,
            },
            text: event.text.as_ref().map(|t| t.to_string()),
            pressed: event.state == ElementState::Pressed,
            repeat: event.repeat,
            synthetic,
            dead: matches!(event.logical_key, Logical::Dead(_)),
        };
        let events = self.translator.key(&input);
        self.send(event_loop, events);
    }

    /// Pans a 1:1 view by `delta` remote pixels; the pointer now lies over
    /// another remote pixel, which the agent is told.
    fn pan_by(&mut self, event_loop: &ActiveEventLoop, delta: (i32, i32)) {
        let (sw, sh) = self.monitor_size();
        let max = self.placement().max_pan(sw, sh);
        let pan = pan_by(self.pan, delta, max);
        if pan == self.pan {
            return;
        }
        self.pan = pan;
        let events = self.translator.pointer(self.remote_pointer());
        self.send(event_loop, events);
        if let Some(view) = &self.view {
            view.window.request_redraw();
        }
    }
}

impl ApplicationHandler for App<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.view.is_some() {
            return;
        }
        match self.create(event_loop) {
            Ok(view) => self.view = Some(view),
            Err(e) => self.fail(event_loop, WindowError::Open(e)),
        }
        // Raw button events tell a wheel click's echo from a step
        // (WheelEcho), also while the pointer scrolls an unfocused window.
        event_loop.listen_device_events(DeviceEvents::Always);
        event_loop.set_control_flow(ControlFlow::WaitUntil(Instant::now() + TICK));
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        let control = self.settings.control;
        match event {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => event_loop.exit(),
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    self.fail(event_loop, WindowError::Update(e));
                }
            }
            WindowEvent::Resized(size) => {
                if let Some(view) = &mut self.view {
                    view.size = (size.width, size.height);
                    view.window.request_redraw();
                }
            }
            WindowEvent::Focused(focused) => {
                let events = self.translator.focus(focused);
                self.send(event_loop, events);
            }
            WindowEvent::KeyboardInput { event, is_synthetic, .. } if control => {
                self.key(event_loop, &event, is_synthetic);
            }
            WindowEvent::CursorMoved { position, .. } => {
                self.pointer = Some((position.x, position.y));
                if control {
                    let events = self.translator.pointer(self.remote_pointer());
                    self.send(event_loop, events);
                }
            }
            WindowEvent::CursorLeft { .. } => {
                self.pointer = None;
                if control {
                    let events = self.translator.pointer(None);
                    self.send(event_loop, events);
                }
            }
            WindowEvent::MouseInput { state, button, .. } if control => {
                let button = match button {
                    winit::event::MouseButton::Left => MouseButton::Left,
                    winit::event::MouseButton::Middle => MouseButton::Middle,
                    winit::event::MouseButton::Right => MouseButton::Right,
                    winit::event::MouseButton::Back => MouseButton::Back,
                    winit::event::MouseButton::Forward => MouseButton::Forward,
                    winit::event::MouseButton::Other(_) => return,
                };
                let events = self.translator.button(button, state == ElementState::Pressed);
                self.send(event_loop, events);
            }
            WindowEvent::MouseWheel { .. } if self.wheel_echo.is_echo() => {}
            WindowEvent::MouseWheel { delta, .. } => {
                let (dx, dy) = match delta {
                    MouseScrollDelta::LineDelta(x, y) => (x, y),
                    // Touchpads: about 20 pixels to a wheel step.
                    MouseScrollDelta::PixelDelta(p) => (p.x as f32 / 20.0, p.y as f32 / 20.0),
                };
                if control {
                    let events = self.translator.wheel(dx, dy);
                    self.send(event_loop, events);
                } else {
                    // Nothing goes to the agent in view-only mode: the wheel
                    // pans (Shift or a sideways wheel: horizontally).
                    let (dx, dy) = if dx == 0.0 && self.shift { (dy, 0.0) } else { (dx, dy) };
                    let delta = ((-dx * WHEEL_PAN) as i32, (-dy * WHEEL_PAN) as i32);
                    self.pan_by(event_loop, delta);
                }
            }
            WindowEvent::ModifiersChanged(modifiers) => {
                self.shift = modifiers.state().shift_key();
            }
            _ => {}
        }
    }

    fn device_event(&mut self, _: &ActiveEventLoop, _: DeviceId, event: DeviceEvent) {
        if let DeviceEvent::Button { button, state } = event {
            self.wheel_echo.raw_button(button, state == ElementState::Pressed);
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        if self.ended.load(Ordering::Relaxed) {
            event_loop.exit();
            return;
        }
        if let Some(pointer) = self.pointer {
            let delta = edge_pan(pointer, self.window_size());
            if delta != (0, 0) {
                self.pan_by(event_loop, delta);
            }
        }
        let (win, pan) = (self.window_size(), self.pan);
        let current = {
            let screen = self.state.screen();
            let size = (screen.monitor.width, screen.monitor.height);
            (screen.seq, size, win, screen.pointer, pan)
        };
        if let Some(view) = &self.view {
            if self.drawn != Some(current) {
                view.window.request_redraw();
            }
            if self.title_at.elapsed() >= Duration::from_secs(1) {
                view.window.set_title(&title(self.settings, self.state));
                self.title_at = Instant::now();
            }
        }
        event_loop.set_control_flow(ControlFlow::WaitUntil(Instant::now() + TICK));
    }
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

/// Blends the remote cursor (premultiplied ARGB) over the image at the
/// pointer's place; the cursor itself is drawn unscaled.
fn draw_cursor(
    buffer: &mut [u32],
    (win_w, win_h): (u32, u32),
    place: Placement,
    cursor: &CursorShape,
    (px, py): (i32, i32),
) {
    if place.src_width == 0 || place.src_height == 0 {
        return;
    }
    let (wx, wy) = place.to_window(px, py);
    let (wx, wy) = (wx - cursor.hot_x as i64, wy - cursor.hot_y as i64);
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
            let Some(dst) = buffer.get_mut((y * win_w as i64 + x) as usize) else { continue };
            let blend = |shift: u32| {
                let s = (argb >> shift) & 0xff;
                let d = (*dst >> shift) & 0xff;
                (s + d * (255 - alpha) / 255).min(255) << shift
            };
            *dst = blend(16) | blend(8) | blend(0);
        }
    }
}
