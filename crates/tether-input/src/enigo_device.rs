//! The real keyboard and mouse: enigo.
//!
//! On Linux this is enigo's x11rb backend, which injects through XTEST and
//! types characters missing from the keymap by remapping a spare keycode
//! for the keystroke. `linux_delay` is 0: enigo's default 12 ms per event
//! would put 24 ms into every click. enigo's own release-on-drop is left on
//! as a second line of defence behind [`crate::Injector`]'s tracking.

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use tether_proto::screen::{Key, MouseButton};

use crate::{Device, InputError};

/// Keyboard and mouse of one display.
pub struct EnigoDevice {
    enigo: Enigo,
}

impl EnigoDevice {
    /// Connects to `display` (an X display name such as `:0`; `None`: the
    /// agent's `$DISPLAY`).
    pub fn open(display: Option<&str>) -> Result<EnigoDevice, InputError> {
        let settings = Settings {
            x11_display: display.map(str::to_owned),
            linux_delay: 0,
            release_keys_when_dropped: true,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| InputError::Connect {
            display: display.map_or_else(
                || std::env::var("DISPLAY").unwrap_or_else(|_| "(unset $DISPLAY)".into()),
                str::to_owned,
            ),
            reason: e.to_string(),
        })?;
        Ok(EnigoDevice { enigo })
    }
}

fn inject(e: enigo::InputError) -> InputError {
    InputError::Inject(e.to_string())
}

fn direction(pressed: bool) -> Direction {
    if pressed { Direction::Press } else { Direction::Release }
}

/// Our key names in enigo's terms.
fn enigo_key(key: Key) -> enigo::Key {
    use enigo::Key as E;
    match key {
        Key::Char(c) => E::Unicode(c),
        Key::Return => E::Return,
        Key::Tab => E::Tab,
        Key::Escape => E::Escape,
        Key::Backspace => E::Backspace,
        Key::Delete => E::Delete,
        Key::Home => E::Home,
        Key::End => E::End,
        Key::PageUp => E::PageUp,
        Key::PageDown => E::PageDown,
        Key::Left => E::LeftArrow,
        Key::Right => E::RightArrow,
        Key::Up => E::UpArrow,
        Key::Down => E::DownArrow,
        Key::Space => E::Space,
        Key::Shift => E::Shift,
        Key::Control => E::Control,
        Key::Alt => E::Alt,
        Key::Meta => E::Meta,
        Key::CapsLock => E::CapsLock,
        #[cfg(any(windows, all(unix, not(target_os = "macos"))))]
        Key::Insert => E::Insert,
        #[cfg(any(windows, all(unix, not(target_os = "macos"))))]
        Key::PrintScreen => E::PrintScr,
        #[cfg(all(unix, not(target_os = "macos")))]
        // X keysyms: XK_Menu, and XK_F1 + n - 1 (F1..F35 are contiguous).
        Key::Menu => E::Other(0xff67),
        #[cfg(all(unix, not(target_os = "macos")))]
        Key::F(n) => E::Other(0xffbe + u32::from(n) - 1),
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Key::F(n) => function_key(n),
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Key::Menu => E::Alt,
        #[cfg(target_os = "macos")]
        Key::Insert | Key::PrintScreen => E::Help,
    }
}

/// F1 to F20 by name where keysyms are not available (unverified here).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn function_key(n: u8) -> enigo::Key {
    use enigo::Key as E;
    const KEYS: [E; 20] = [
        E::F1,
        E::F2,
        E::F3,
        E::F4,
        E::F5,
        E::F6,
        E::F7,
        E::F8,
        E::F9,
        E::F10,
        E::F11,
        E::F12,
        E::F13,
        E::F14,
        E::F15,
        E::F16,
        E::F17,
        E::F18,
        E::F19,
        E::F20,
    ];
    KEYS[usize::from(n.clamp(1, 20)) - 1]
}

fn enigo_button(button: MouseButton) -> Button {
    match button {
        MouseButton::Left => Button::Left,
        MouseButton::Middle => Button::Middle,
        MouseButton::Right => Button::Right,
        MouseButton::Back => Button::Back,
        MouseButton::Forward => Button::Forward,
    }
}

impl Device for EnigoDevice {
    fn key(&mut self, key: Key, pressed: bool) -> Result<(), InputError> {
        self.enigo.key(enigo_key(key), direction(pressed)).map_err(inject)
    }

    fn button(&mut self, button: MouseButton, pressed: bool) -> Result<(), InputError> {
        self.enigo.button(enigo_button(button), direction(pressed)).map_err(inject)
    }

    fn move_to(&mut self, x: i32, y: i32) -> Result<(), InputError> {
        self.enigo.move_mouse(x, y, Coordinate::Abs).map_err(inject)
    }

    fn scroll(&mut self, dx: i32, dy: i32) -> Result<(), InputError> {
        if dy != 0 {
            self.enigo.scroll(dy, Axis::Vertical).map_err(inject)?;
        }
        if dx != 0 {
            self.enigo.scroll(dx, Axis::Horizontal).map_err(inject)?;
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), InputError> {
        if text.is_empty() {
            return Ok(());
        }
        self.enigo.text(text).map_err(inject)
    }
}
