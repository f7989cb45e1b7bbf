//! The real keyboard and mouse: enigo.
//!
//! On Linux this is enigo's x11rb backend, which injects through XTEST and
//! types characters missing from the keymap by remapping a spare keycode
//! for the keystroke. Text is typed with the keymap's own keys where it
//! has them (see [`crate::keymap`]), through a second connection that
//! reads the keymap. `linux_delay` is 0: enigo's default 12 ms per event
//! would put 24 ms into every click. enigo's own release-on-drop is left on
//! as a second line of defence behind [`crate::Injector`]'s tracking.

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use tether_proto::screen::{Key, MouseButton};

use crate::{Device, InputError};

/// Keyboard and mouse of one display.
pub struct EnigoDevice {
    enigo: Enigo,
    /// Reads the display's keymap for typing text.
    #[cfg(all(unix, not(target_os = "macos")))]
    keymap: x11rb::rust_connection::RustConnection,
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
        let connect = |reason: String| InputError::Connect {
            display: display.map_or_else(
                || std::env::var("DISPLAY").unwrap_or_else(|_| "(unset $DISPLAY)".into()),
                str::to_owned,
            ),
            reason,
        };
        let enigo = Enigo::new(&settings).map_err(|e| connect(e.to_string()))?;
        #[cfg(all(unix, not(target_os = "macos")))]
        let keymap = x11rb::connect(display).map_err(|e| connect(e.to_string()))?.0;
        Ok(EnigoDevice {
            enigo,
            #[cfg(all(unix, not(target_os = "macos")))]
            keymap,
        })
    }

    /// The display's keymap as it is now (the user may switch layouts).
    #[cfg(all(unix, not(target_os = "macos")))]
    fn current_keymap(&self) -> Result<crate::keymap::Keymap, InputError> {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::ConnectionExt;
        let setup = self.keymap.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let reply = self
            .keymap
            .get_keyboard_mapping(min, max - min + 1)
            .map_err(|e| InputError::Inject(format!("reading the keymap: {e}")))?
            .reply()
            .map_err(|e| InputError::Inject(format!("reading the keymap: {e}")))?;
        Ok(crate::keymap::Keymap {
            min,
            per: usize::from(reply.keysyms_per_keycode),
            keysyms: reply.keysyms,
        })
    }

    /// Types `text` with the keymap's keys, Shift pressed for the shifted
    /// column, and leaves Shift as the session holds it.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn type_with_keymap(&mut self, text: &str, shift_held: bool) -> Result<(), InputError> {
        let keymap = self.current_keymap()?;
        let mut shifted = shift_held;
        let mut typed = Ok(());
        for c in text.chars() {
            typed = match keymap.find(c) {
                Some((keycode, shift)) => {
                    if shift != shifted {
                        self.enigo.key(enigo::Key::Shift, direction(shift)).map_err(inject)?;
                        shifted = shift;
                    }
                    self.enigo.raw(u16::from(keycode), Direction::Click).map_err(inject)
                }
                // Not in the keymap: enigo binds a spare keycode for it.
                None => self.enigo.text(c.encode_utf8(&mut [0; 4])).map_err(inject),
            };
            if typed.is_err() {
                break;
            }
        }
        if shifted != shift_held {
            self.enigo.key(enigo::Key::Shift, direction(shift_held)).map_err(inject)?;
        }
        typed
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

    fn text(&mut self, text: &str, shift_held: bool) -> Result<(), InputError> {
        if text.is_empty() {
            return Ok(());
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        return self.type_with_keymap(text, shift_held);
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            let _ = shift_held;
            self.enigo.text(text).map_err(inject)
        }
    }
}
