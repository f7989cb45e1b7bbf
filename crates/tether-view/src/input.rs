//! Turning the window's input state into input events, by difference.
//!
//! Each turn of the window loop hands [`InputTracker::update`] what is down
//! now; the tracker sends presses and releases for what changed since the
//! last turn. Working from states rather than the window's own events keeps
//! both sides in step by construction: a modifier released while another
//! window had focus is released remotely on the next turn, and losing focus
//! releases everything ([`InputEvent::ReleaseAll`]).
//!
//! Local shortcut: Ctrl+Alt+End sends Ctrl+Alt+Delete (the combo the local
//! desktop would otherwise take for itself), as in RDP clients.

use std::collections::BTreeSet;

use minifb::Key as Local;
use tether_proto::screen::{InputEvent, Key, MouseButton};

/// What the window saw on one turn.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub active: bool,
    pub keys: Vec<Local>,
    /// Pointer position in remote pixels, when over the image.
    pub pointer: Option<(i32, i32)>,
    /// Left, middle, right.
    pub buttons: [bool; 3],
    /// Wheel movement since the last turn (positive y: away from the user).
    pub wheel: Option<(f32, f32)>,
    /// Characters typed through keys with no mapping (dead keys, IMEs).
    pub unmapped_text: String,
}

/// The remote side's state as this viewer has made it.
#[derive(Debug, Default)]
pub struct InputTracker {
    keys: BTreeSet<Key>,
    buttons: [bool; 3],
    pointer: Option<(i32, i32)>,
    active: bool,
    /// Sub-step wheel movement carried to the next turn.
    wheel: (f32, f32),
}

const BUTTONS: [MouseButton; 3] = [MouseButton::Left, MouseButton::Middle, MouseButton::Right];

impl InputTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events that bring the remote side to `now`.
    pub fn update(&mut self, now: &Snapshot) -> Vec<InputEvent> {
        let mut events = Vec::new();
        if !now.active {
            if self.active && (self.holds_anything()) {
                events.push(InputEvent::ReleaseAll);
            }
            self.keys.clear();
            self.buttons = [false; 3];
            self.active = false;
            return events;
        }
        self.active = true;
        let shortcut = is_ctrl_alt(&now.keys) && now.keys.contains(&Local::End);
        let wanted: BTreeSet<Key> = now
            .keys
            .iter()
            .filter(|k| !(shortcut && **k == Local::End))
            .filter_map(|k| map_key(*k))
            .collect();
        for key in self.keys.difference(&wanted) {
            events.push(InputEvent::Key { key: *key, pressed: false });
        }
        // Modifiers first, so a combo's other keys land with them held.
        let mut presses: Vec<Key> = wanted.difference(&self.keys).copied().collect();
        presses.sort_by_key(|k| !k.is_modifier());
        for key in presses {
            events.push(InputEvent::Key { key, pressed: true });
        }
        self.keys = wanted;
        if shortcut && !self.keys.contains(&Key::Delete) {
            events.push(InputEvent::Key { key: Key::Delete, pressed: true });
            events.push(InputEvent::Key { key: Key::Delete, pressed: false });
        }
        if !now.unmapped_text.is_empty() {
            events.push(InputEvent::Text(now.unmapped_text.clone()));
        }
        if let Some(pointer) = now.pointer
            && self.pointer != Some(pointer)
        {
            events.push(InputEvent::MouseMove { x: pointer.0, y: pointer.1 });
            self.pointer = Some(pointer);
        }
        for (i, button) in BUTTONS.iter().enumerate() {
            let (was, is) = (self.buttons[i], now.buttons[i]);
            // Presses only over the image; releases wherever they happen.
            if was != is && (!is || now.pointer.is_some()) {
                events.push(InputEvent::Button { button: *button, pressed: is });
                self.buttons[i] = is;
            }
        }
        if let (Some((wx, wy)), Some(_)) = (now.wheel, now.pointer) {
            self.wheel.0 += wx;
            self.wheel.1 += wy;
            let (dx, dy) = (self.wheel.0.trunc() as i32, self.wheel.1.trunc() as i32);
            if dx != 0 || dy != 0 {
                self.wheel.0 -= dx as f32;
                self.wheel.1 -= dy as f32;
                // Away from the user scrolls up: negative steps remotely.
                events.push(InputEvent::Scroll { dx, dy: -dy });
            }
        }
        events
    }

    fn holds_anything(&self) -> bool {
        !self.keys.is_empty() || self.buttons.iter().any(|b| *b)
    }
}

fn is_ctrl_alt(keys: &[Local]) -> bool {
    let ctrl = keys.iter().any(|k| matches!(k, Local::LeftCtrl | Local::RightCtrl));
    let alt = keys.iter().any(|k| matches!(k, Local::LeftAlt | Local::RightAlt));
    ctrl && alt
}

/// A window key as a remote key (US layout for the symbol keys: the
/// remote keymap decides what they type).
pub fn map_key(key: Local) -> Option<Key> {
    let n = key as u8;
    Some(match key {
        _ if n <= 9 => Key::Char((b'0' + n) as char),
        _ if (10..=35).contains(&n) => Key::Char((b'a' + n - 10) as char),
        Local::F1 => Key::F(1),
        Local::F2 => Key::F(2),
        Local::F3 => Key::F(3),
        Local::F4 => Key::F(4),
        Local::F5 => Key::F(5),
        Local::F6 => Key::F(6),
        Local::F7 => Key::F(7),
        Local::F8 => Key::F(8),
        Local::F9 => Key::F(9),
        Local::F10 => Key::F(10),
        Local::F11 => Key::F(11),
        Local::F12 => Key::F(12),
        Local::F13 => Key::F(13),
        Local::F14 => Key::F(14),
        Local::F15 => Key::F(15),
        Local::Down => Key::Down,
        Local::Left => Key::Left,
        Local::Right => Key::Right,
        Local::Up => Key::Up,
        Local::Apostrophe => Key::Char('\''),
        Local::Backquote => Key::Char('`'),
        Local::Backslash => Key::Char('\\'),
        Local::Comma => Key::Char(','),
        Local::Equal => Key::Char('='),
        Local::LeftBracket => Key::Char('['),
        Local::Minus | Local::NumPadMinus => Key::Char('-'),
        Local::Period | Local::NumPadDot => Key::Char('.'),
        Local::RightBracket => Key::Char(']'),
        Local::Semicolon => Key::Char(';'),
        Local::Slash | Local::NumPadSlash => Key::Char('/'),
        Local::NumPadAsterisk => Key::Char('*'),
        Local::NumPadPlus => Key::Char('+'),
        Local::NumPad0 => Key::Char('0'),
        Local::NumPad1 => Key::Char('1'),
        Local::NumPad2 => Key::Char('2'),
        Local::NumPad3 => Key::Char('3'),
        Local::NumPad4 => Key::Char('4'),
        Local::NumPad5 => Key::Char('5'),
        Local::NumPad6 => Key::Char('6'),
        Local::NumPad7 => Key::Char('7'),
        Local::NumPad8 => Key::Char('8'),
        Local::NumPad9 => Key::Char('9'),
        Local::Backspace => Key::Backspace,
        Local::Delete => Key::Delete,
        Local::End => Key::End,
        Local::Enter | Local::NumPadEnter => Key::Return,
        Local::Escape => Key::Escape,
        Local::Home => Key::Home,
        Local::Insert => Key::Insert,
        Local::Menu => Key::Menu,
        Local::PageDown => Key::PageDown,
        Local::PageUp => Key::PageUp,
        Local::Space => Key::Space,
        Local::Tab => Key::Tab,
        Local::CapsLock => Key::CapsLock,
        Local::LeftShift | Local::RightShift => Key::Shift,
        Local::LeftCtrl | Local::RightCtrl => Key::Control,
        Local::LeftAlt | Local::RightAlt => Key::Alt,
        Local::LeftSuper | Local::RightSuper => Key::Meta,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(keys: &[Local]) -> Snapshot {
        Snapshot { active: true, keys: keys.to_vec(), ..Snapshot::default() }
    }

    fn key(key: Key, pressed: bool) -> InputEvent {
        InputEvent::Key { key, pressed }
    }

    #[test]
    fn keys_are_sent_by_difference_modifiers_first() {
        let mut t = InputTracker::new();
        assert_eq!(
            t.update(&snap(&[Local::C, Local::LeftCtrl])),
            [key(Key::Control, true), key(Key::Char('c'), true)]
        );
        assert_eq!(t.update(&snap(&[Local::C, Local::LeftCtrl])), []);
        assert_eq!(t.update(&snap(&[Local::LeftCtrl])), [key(Key::Char('c'), false)]);
        assert_eq!(map_key(Local::Key7), Some(Key::Char('7')));
        assert_eq!(map_key(Local::Z), Some(Key::Char('z')));
    }

    #[test]
    fn losing_focus_releases_everything_once() {
        let mut t = InputTracker::new();
        t.update(&Snapshot {
            buttons: [true, false, false],
            pointer: Some((5, 5)),
            ..snap(&[Local::LeftAlt])
        });
        let away = Snapshot { active: false, ..Snapshot::default() };
        assert_eq!(t.update(&away), [InputEvent::ReleaseAll]);
        assert_eq!(t.update(&away), []);
        // Back: Alt is still down locally, so it is pressed again.
        assert_eq!(t.update(&snap(&[Local::LeftAlt])), [key(Key::Alt, true)]);
    }

    #[test]
    fn ctrl_alt_end_sends_ctrl_alt_delete() {
        let mut t = InputTracker::new();
        let events = t.update(&snap(&[Local::LeftCtrl, Local::LeftAlt, Local::End]));
        assert_eq!(
            events,
            [
                key(Key::Control, true),
                key(Key::Alt, true),
                key(Key::Delete, true),
                key(Key::Delete, false)
            ]
        );
    }

    #[test]
    fn pointer_buttons_and_wheel() {
        let mut t = InputTracker::new();
        let over = |buttons, wheel| Snapshot {
            active: true,
            pointer: Some((10, 20)),
            buttons,
            wheel,
            ..Snapshot::default()
        };
        assert_eq!(
            t.update(&over([true, false, false], None)),
            [
                InputEvent::MouseMove { x: 10, y: 20 },
                InputEvent::Button { button: MouseButton::Left, pressed: true }
            ]
        );
        assert_eq!(
            t.update(&over([false, false, false], Some((0.0, 0.5)))),
            [InputEvent::Button { button: MouseButton::Left, pressed: false }]
        );
        assert_eq!(
            t.update(&over([false, false, false], Some((0.0, 0.5)))),
            [InputEvent::Scroll { dx: 0, dy: -1 }],
            "half steps add up"
        );
        // A press outside the image is not sent.
        let outside =
            Snapshot { active: true, buttons: [true, false, false], ..Snapshot::default() };
        assert_eq!(t.update(&outside), []);
    }
}
