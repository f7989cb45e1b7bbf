//! Turning the window's input events into input events for the agent,
//! one for one and in order.
//!
//! The window hands every key, button, pointer and wheel event to a
//! [`Translator`] as it arrives; nothing is sampled, so no press or release
//! typed faster than the screen refreshes can be lost. The translator
//! remembers what it pressed remotely, so that:
//! - a release is sent only for what it pressed, and losing focus releases
//!   everything once ([`InputEvent::ReleaseAll`]);
//! - the local system's auto-repeat is dropped: the agent holds the key
//!   down (XTEST) and the remote system repeats it itself, so a held key
//!   never turns into a storm of presses;
//! - keys already down when the window gains the focus are not pressed
//!   remotely (the Alt+Tab that switched to the viewer stays local);
//! - Ctrl+Alt+End sends Ctrl+Alt+Delete (the combo the local desktop would
//!   otherwise take for itself, as in RDP clients), exactly once per
//!   physical press of End.
//!
//! Keys are sent by where they sit (US layout: the remote keymap decides
//! what they type), so shortcuts and Shift work as on a local keyboard.
//! A key that types a non-ASCII character locally (ä on a German layout,
//! a dead-key composition), a character of the AltGr level (@ on a German
//! Q), or that has no place in the US layout is sent as the text it typed
//! instead; AltGr and dead keys themselves stay local.

use std::collections::BTreeSet;

use tether_proto::screen::{InputEvent, Key, MouseButton};
use winit::keyboard::{KeyCode, NamedKey};

/// One key event as the window saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInput {
    /// The physical key, when the window could identify it.
    pub code: Option<KeyCode>,
    /// The layout's meaning of the key when it has a name (numeric keypad
    /// keys are Home, End… with NumLock off).
    pub named: Option<NamedKey>,
    /// What the key typed with the modifiers held, if anything.
    pub text: Option<String>,
    pub pressed: bool,
    /// Whether the local system generated this press by auto-repeat.
    pub repeat: bool,
    /// Whether the window made this event up for a key that was already
    /// down when it gained the focus (or still down when it lost it).
    pub synthetic: bool,
    /// Whether the layout makes this a dead key (an accent waiting for the
    /// next key, which then types the composed character).
    pub dead: bool,
}

/// The remote side's input state as this viewer has made it.
#[derive(Debug, Default)]
pub struct Translator {
    /// Physical keys held and the remote key each one pressed (both Shift
    /// keys press the one remote Shift, released with the last of them).
    held: Vec<(KeyCode, Key)>,
    /// Physical keys whose press sent something other than a key press
    /// (text, the Ctrl+Alt+Delete shortcut, AltGr, a dead key): their
    /// release sends nothing.
    swallowed: BTreeSet<KeyCode>,
    /// AltGr keys held: the layout's third level, whose characters (@ on
    /// a German Q) only the local layout knows, so they go as text.
    alt_graph: BTreeSet<KeyCode>,
    buttons: BTreeSet<MouseButton>,
    /// The pointer in remote pixels, when over the image.
    pointer: Option<(i32, i32)>,
    /// The last position sent.
    sent_pointer: Option<(i32, i32)>,
    /// Sub-step wheel movement carried to the next event.
    wheel: (f32, f32),
}

impl Translator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events for one key event.
    pub fn key(&mut self, input: &KeyInput) -> Vec<InputEvent> {
        // Keys already down when the focus came (Alt and Tab of the Alt+Tab
        // that brought the technician here) are not the remote's business.
        if input.repeat || (input.synthetic && input.pressed) {
            return Vec::new();
        }
        let Some(code) = input.code else {
            return self.text_only(input);
        };
        if !input.pressed {
            self.alt_graph.remove(&code);
            if self.swallowed.remove(&code) {
                return Vec::new();
            }
            return self.release(code);
        }
        if self.swallowed.contains(&code) || self.held.iter().any(|(c, _)| *c == code) {
            // A second press without a release between: nothing changed.
            return Vec::new();
        }
        if code == KeyCode::End && self.holds(Key::Control) && self.holds(Key::Alt) {
            self.swallowed.insert(code);
            return vec![
                InputEvent::Key { key: Key::Delete, pressed: true },
                InputEvent::Key { key: Key::Delete, pressed: false },
            ];
        }
        if input.named == Some(NamedKey::AltGraph) {
            self.alt_graph.insert(code);
            self.swallowed.insert(code);
            return Vec::new();
        }
        if input.dead {
            // The composed character comes as text with the next key.
            self.swallowed.insert(code);
            return Vec::new();
        }
        if let Some(text) = typed_text(input)
            && (!text.is_ascii() || !self.alt_graph.is_empty() || map_key(code, input).is_none())
            && !self.holds(Key::Control)
        {
            self.swallowed.insert(code);
            return vec![InputEvent::Text(text)];
        }
        let Some(key) = map_key(code, input) else {
            return Vec::new();
        };
        let already = self.holds(key);
        self.held.push((code, key));
        if already { Vec::new() } else { vec![InputEvent::Key { key, pressed: true }] }
    }

    /// A key the window could not place: only its text can be sent.
    fn text_only(&mut self, input: &KeyInput) -> Vec<InputEvent> {
        match typed_text(input) {
            Some(text) if input.pressed => vec![InputEvent::Text(text)],
            _ => Vec::new(),
        }
    }

    fn release(&mut self, code: KeyCode) -> Vec<InputEvent> {
        let Some(i) = self.held.iter().position(|(c, _)| *c == code) else {
            // Pressed before the window had the focus: not ours to release.
            return Vec::new();
        };
        let (_, key) = self.held.remove(i);
        if self.holds(key) { Vec::new() } else { vec![InputEvent::Key { key, pressed: false }] }
    }

    fn holds(&self, key: Key) -> bool {
        self.held.iter().any(|(_, k)| *k == key)
    }

    /// The window gained or lost the keyboard focus.
    pub fn focus(&mut self, focused: bool) -> Vec<InputEvent> {
        if focused {
            return Vec::new();
        }
        let held = !self.held.is_empty() || !self.buttons.is_empty();
        self.held.clear();
        self.swallowed.clear();
        self.alt_graph.clear();
        self.buttons.clear();
        if held { vec![InputEvent::ReleaseAll] } else { Vec::new() }
    }

    /// The pointer moved: to this remote pixel, or off the image.
    pub fn pointer(&mut self, at: Option<(i32, i32)>) -> Vec<InputEvent> {
        self.pointer = at;
        match at {
            Some((x, y)) if self.sent_pointer != at => {
                self.sent_pointer = at;
                vec![InputEvent::MouseMove { x, y }]
            }
            _ => Vec::new(),
        }
    }

    /// A button changed. Presses count only over the image; a release is
    /// sent wherever it happens, for a button pressed there.
    pub fn button(&mut self, button: MouseButton, pressed: bool) -> Vec<InputEvent> {
        let changed = if pressed {
            self.pointer.is_some() && self.buttons.insert(button)
        } else {
            self.buttons.remove(&button)
        };
        if changed { vec![InputEvent::Button { button, pressed }] } else { Vec::new() }
    }

    /// The wheel turned by (`dx`, `dy`) lines, positive `dy` away from the
    /// user. Fractions (touchpads) add up to whole steps.
    pub fn wheel(&mut self, dx: f32, dy: f32) -> Vec<InputEvent> {
        if self.pointer.is_none() {
            return Vec::new();
        }
        self.wheel.0 += dx;
        self.wheel.1 += dy;
        let (sx, sy) = (self.wheel.0.trunc() as i32, self.wheel.1.trunc() as i32);
        if sx == 0 && sy == 0 {
            return Vec::new();
        }
        self.wheel.0 -= sx as f32;
        self.wheel.1 -= sy as f32;
        // Away from the user scrolls up: negative steps remotely.
        vec![InputEvent::Scroll { dx: sx.clamp(-1000, 1000), dy: (-sy).clamp(-1000, 1000) }]
    }
}

/// Tells the wheel events winit 0.30 reports twice from the real ones.
///
/// On X11, a wheel click that arrives as buttons 4 to 7 (XTEST, evdev
/// wheel emulation, a nested or VNC-fed server) is reported as a wheel
/// step for its press and again for its release (fixed in winit after
/// 0.30.13), which would scroll the remote twice per click. Such a click
/// also comes as raw button events, press before its window event and
/// release before its; a wheel with smooth-scroll axes (libinput) sends no
/// raw button events at all. So a wheel event right after a raw release of
/// a wheel button is the echo.
#[derive(Debug, Default)]
pub struct WheelEcho {
    release_seen: bool,
}

impl WheelEcho {
    /// A raw button event from any device.
    pub fn raw_button(&mut self, button: u32, pressed: bool) {
        if (4..=7).contains(&button) {
            self.release_seen = !pressed;
        }
    }

    /// Whether this wheel event is the release's echo, to be dropped.
    pub fn is_echo(&mut self) -> bool {
        std::mem::take(&mut self.release_seen)
    }
}

/// The key's text, if it typed something printable.
fn typed_text(input: &KeyInput) -> Option<String> {
    input.text.clone().filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
}

/// A physical key as a remote key, by its place on a US keyboard.
/// Numeric keypad keys follow NumLock: digits with it, else what they name.
pub fn map_key(code: KeyCode, input: &KeyInput) -> Option<Key> {
    use KeyCode as C;
    let pad = |digit: char| match (&input.text, input.named) {
        (Some(t), _) if t.chars().eq([digit]) => Some(Key::Char(digit)),
        (_, Some(named)) => map_named(named),
        _ => Some(Key::Char(digit)),
    };
    let ch = |c: char| Some(Key::Char(c));
    match code {
        C::KeyA => ch('a'),
        C::KeyB => ch('b'),
        C::KeyC => ch('c'),
        C::KeyD => ch('d'),
        C::KeyE => ch('e'),
        C::KeyF => ch('f'),
        C::KeyG => ch('g'),
        C::KeyH => ch('h'),
        C::KeyI => ch('i'),
        C::KeyJ => ch('j'),
        C::KeyK => ch('k'),
        C::KeyL => ch('l'),
        C::KeyM => ch('m'),
        C::KeyN => ch('n'),
        C::KeyO => ch('o'),
        C::KeyP => ch('p'),
        C::KeyQ => ch('q'),
        C::KeyR => ch('r'),
        C::KeyS => ch('s'),
        C::KeyT => ch('t'),
        C::KeyU => ch('u'),
        C::KeyV => ch('v'),
        C::KeyW => ch('w'),
        C::KeyX => ch('x'),
        C::KeyY => ch('y'),
        C::KeyZ => ch('z'),
        C::Digit0 => ch('0'),
        C::Digit1 => ch('1'),
        C::Digit2 => ch('2'),
        C::Digit3 => ch('3'),
        C::Digit4 => ch('4'),
        C::Digit5 => ch('5'),
        C::Digit6 => ch('6'),
        C::Digit7 => ch('7'),
        C::Digit8 => ch('8'),
        C::Digit9 => ch('9'),
        C::Quote => ch('\''),
        C::Backquote => ch('`'),
        C::Backslash => ch('\\'),
        C::Comma => ch(','),
        C::Equal => ch('='),
        C::BracketLeft => ch('['),
        C::BracketRight => ch(']'),
        C::Minus | C::NumpadSubtract => ch('-'),
        C::Period => ch('.'),
        C::Semicolon => ch(';'),
        C::Slash | C::NumpadDivide => ch('/'),
        C::NumpadMultiply => ch('*'),
        C::NumpadAdd => ch('+'),
        C::Numpad0 => pad('0'),
        C::Numpad1 => pad('1'),
        C::Numpad2 => pad('2'),
        C::Numpad3 => pad('3'),
        C::Numpad4 => pad('4'),
        C::Numpad5 => pad('5'),
        C::Numpad6 => pad('6'),
        C::Numpad7 => pad('7'),
        C::Numpad8 => pad('8'),
        C::Numpad9 => pad('9'),
        C::NumpadDecimal => pad('.'),
        C::Enter | C::NumpadEnter => Some(Key::Return),
        C::Space => Some(Key::Space),
        C::Tab => Some(Key::Tab),
        C::Backspace => Some(Key::Backspace),
        C::Delete => Some(Key::Delete),
        C::Escape => Some(Key::Escape),
        C::Insert => Some(Key::Insert),
        C::Home => Some(Key::Home),
        C::End => Some(Key::End),
        C::PageUp => Some(Key::PageUp),
        C::PageDown => Some(Key::PageDown),
        C::ArrowLeft => Some(Key::Left),
        C::ArrowRight => Some(Key::Right),
        C::ArrowUp => Some(Key::Up),
        C::ArrowDown => Some(Key::Down),
        C::CapsLock => Some(Key::CapsLock),
        C::ContextMenu => Some(Key::Menu),
        C::PrintScreen => Some(Key::PrintScreen),
        C::ShiftLeft | C::ShiftRight => Some(Key::Shift),
        C::ControlLeft | C::ControlRight => Some(Key::Control),
        C::AltLeft | C::AltRight => Some(Key::Alt),
        C::SuperLeft | C::SuperRight | C::Meta => Some(Key::Meta),
        C::F1 => Some(Key::F(1)),
        C::F2 => Some(Key::F(2)),
        C::F3 => Some(Key::F(3)),
        C::F4 => Some(Key::F(4)),
        C::F5 => Some(Key::F(5)),
        C::F6 => Some(Key::F(6)),
        C::F7 => Some(Key::F(7)),
        C::F8 => Some(Key::F(8)),
        C::F9 => Some(Key::F(9)),
        C::F10 => Some(Key::F(10)),
        C::F11 => Some(Key::F(11)),
        C::F12 => Some(Key::F(12)),
        C::F13 => Some(Key::F(13)),
        C::F14 => Some(Key::F(14)),
        C::F15 => Some(Key::F(15)),
        C::F16 => Some(Key::F(16)),
        C::F17 => Some(Key::F(17)),
        C::F18 => Some(Key::F(18)),
        C::F19 => Some(Key::F(19)),
        C::F20 => Some(Key::F(20)),
        C::F21 => Some(Key::F(21)),
        C::F22 => Some(Key::F(22)),
        C::F23 => Some(Key::F(23)),
        C::F24 => Some(Key::F(24)),
        _ => None,
    }
}

/// Keypad keys with NumLock off, by what they name.
fn map_named(named: NamedKey) -> Option<Key> {
    use NamedKey as N;
    Some(match named {
        N::Home => Key::Home,
        N::End => Key::End,
        N::PageUp => Key::PageUp,
        N::PageDown => Key::PageDown,
        N::ArrowLeft => Key::Left,
        N::ArrowRight => Key::Right,
        N::ArrowUp => Key::Up,
        N::ArrowDown => Key::Down,
        N::Insert => Key::Insert,
        N::Delete => Key::Delete,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
