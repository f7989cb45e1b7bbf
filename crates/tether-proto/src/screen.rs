//! Remote screen and input: the monitors an agent shows, screenshots, the
//! view stream's messages in both directions and the input events a
//! technician sends.
//!
//! A screen update travels as opaque bytes (`encoded`): the screen codec
//! (`tether-screen-codec`) owns its format and decodes it with its own
//! bounds. This crate only bounds the frame that carries it.
//!
//! # The view stream
//! `Request::View` opens a long-lived bidirectional stream. After the
//! agent's `Response::Viewing`, the agent sends [`ScreenMessage`] frames
//! and the controller sends [`ViewerMessage`] frames on the same stream,
//! each with the usual length prefix and the limits below.
//!
//! Flow control is by acknowledgement, asked for sparingly: the agent
//! marks a frame `ack` once [`ACK_EVERY_BYTES`] or [`ACK_EVERY_FRAMES`]
//! have gone out since the last marked one, the viewer acknowledges only
//! marked frames, and the agent keeps at most [`MAX_ACKS_OUTSTANDING`]
//! marked frames unacknowledged, capturing the next frame only when it
//! may send it. So a slow viewer gets the newest screen, never a queue of
//! stale ones (at most about two marks' worth of bytes are in flight),
//! every delta is relative to what the viewer will have, and a typed
//! character costs one packet each way, not three: QUIC acknowledges
//! packets by itself.
//!
//! Both sides count `Frame` messages from 1; [`ViewerMessage::Ack`] names
//! a frame by that count.
//!
//! Silence is free: the viewer sends [`ViewerMessage::Heartbeat`] only
//! while it holds a key or a mouse button and has sent nothing for
//! [`HEARTBEAT_INTERVAL_MS`], so an idle view costs no application bytes;
//! a link that dies is found by QUIC's keep-alive and idle timeout. An
//! agent that holds input for a viewer silent for [`HEARTBEAT_TIMEOUT_MS`]
//! releases it, and ends the view if the silence lasts as long again.

use serde::{Deserialize, Serialize};

/// Largest screen-stream frame from the agent. A 4K screen of noise is
/// 24 MiB of RGB before compression; 64 MiB bounds what a hostile agent can
/// make the controller buffer.
pub const MAX_SCREEN_FRAME: usize = 64 * 1024 * 1024;

/// Largest viewer-stream frame from the controller: one input event or an
/// acknowledgement, never bulk data.
pub const MAX_VIEWER_FRAME: usize = 16 * 1024;

/// Frame bytes after which the agent asks for an acknowledgement.
pub const ACK_EVERY_BYTES: u64 = 64 * 1024;

/// Frames after which the agent asks for an acknowledgement, however small.
pub const ACK_EVERY_FRAMES: u32 = 16;

/// Frames marked `ack` that may be unacknowledged at once.
pub const MAX_ACKS_OUTSTANDING: usize = 2;

/// Highest frame rate a viewer may ask for.
pub const MAX_FPS: u32 = 60;

/// How often the viewer sends [`ViewerMessage::Heartbeat`] while it holds
/// a key or a button and has nothing else to send.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1_000;

/// How long the agent waits for anything from a viewer it holds keys or
/// buttons for before it releases every one of them.
pub const HEARTBEAT_TIMEOUT_MS: u64 = 3_000;

/// Most events one `ScreenRequest::Input` may carry.
pub const MAX_INPUT_EVENTS: usize = 1_000;

/// Longest text one [`InputEvent::Text`] may type.
pub const MAX_TEXT_LEN: usize = 4_096;

/// Largest cursor image, per side, in pixels.
pub const MAX_CURSOR_SIDE: u32 = 256;

/// One monitor of the agent's display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    /// Position in the agent's list, used by `--monitor`.
    pub index: u32,
    pub name: String,
    /// Top-left corner in the display's coordinates.
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

/// One captured frame, for a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screenshot {
    pub monitor: Monitor,
    /// The full frame as one screen-codec update from nothing.
    pub encoded: Vec<u8>,
    /// Where the pointer was, relative to the monitor, if on it.
    pub pointer: Option<(i32, i32)>,
}

/// The agent's answer to `Request::View`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewStart {
    pub monitor: Monitor,
    /// Every monitor, so the viewer can tell the technician what else exists.
    pub monitors: Vec<Monitor>,
    /// Whether input is accepted on this stream.
    pub control: bool,
    /// The frame rate cap in force (the request's, bounded by the agent's).
    pub max_fps: u32,
    /// Which capture backend serves the stream (for the technician's title).
    pub backend: String,
}

/// The cursor's shape: premultiplied ARGB pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorShape {
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    pub argb: Vec<u32>,
}

impl CursorShape {
    /// Whether the dimensions are within bounds and match the pixels.
    pub fn is_valid(&self) -> bool {
        self.width <= MAX_CURSOR_SIDE
            && self.height <= MAX_CURSOR_SIDE
            && self.argb.len() as u64 == u64::from(self.width) * u64::from(self.height)
            && (self.width == 0 || self.hot_x < self.width)
            && (self.height == 0 || self.hot_y < self.height)
    }
}

/// Agent to viewer, on the view stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenMessage {
    /// The next screen state. `encoded` is a screen-codec update relative
    /// to the previous frame (empty when only the pointer or cursor
    /// changed).
    Frame {
        encoded: Vec<u8>,
        pointer: PointerUpdate,
        /// The cursor shape, when it changed since the last frame.
        cursor: Option<CursorShape>,
        /// The viewer acknowledges this frame once decoded.
        ack: bool,
    },
    /// The monitor changed size or layout; frames from now on are of
    /// this monitor and start from black.
    Resized { monitor: Monitor },
    /// The agent ends the view (the local admin ended the session,
    /// consent was withdrawn, the display went away).
    Ended { reason: String },
}

/// Where the pointer is, in a frame: only a change travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PointerUpdate {
    /// Where it was in the last frame (nowhere before the first).
    Unchanged,
    /// Off this monitor.
    Off,
    /// At this position relative to the monitor's corner.
    At(i32, i32),
}

impl PointerUpdate {
    /// The update that takes a viewer from `before` to `now`.
    pub fn between(before: Option<(i32, i32)>, now: Option<(i32, i32)>) -> PointerUpdate {
        match now {
            _ if now == before => PointerUpdate::Unchanged,
            None => PointerUpdate::Off,
            Some((x, y)) => PointerUpdate::At(x, y),
        }
    }

    /// Where the pointer is after this update, given where it was.
    pub fn apply(self, before: Option<(i32, i32)>) -> Option<(i32, i32)> {
        match self {
            PointerUpdate::Unchanged => before,
            PointerUpdate::Off => None,
            PointerUpdate::At(x, y) => Some((x, y)),
        }
    }
}

/// Viewer to agent, on the view stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewerMessage {
    /// Frames up to the `seq`th (counted from 1) have been decoded.
    Ack { seq: u64 },
    /// Nothing else to say while input is held; keeps it held.
    Heartbeat,
    /// Input, only on a control stream.
    Input(InputEvent),
}

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

impl MouseButton {
    pub const fn as_str(self) -> &'static str {
        match self {
            MouseButton::Left => "left",
            MouseButton::Middle => "middle",
            MouseButton::Right => "right",
            MouseButton::Back => "back",
            MouseButton::Forward => "forward",
        }
    }

    pub fn from_name(name: &str) -> Option<MouseButton> {
        [
            MouseButton::Left,
            MouseButton::Middle,
            MouseButton::Right,
            MouseButton::Back,
            MouseButton::Forward,
        ]
        .into_iter()
        .find(|b| b.as_str().eq_ignore_ascii_case(name))
    }
}

/// A key, by what it means rather than where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    /// A key that types this character (unshifted for letters: `Char('a')`
    /// with Shift held types "A").
    Char(char),
    Return,
    Tab,
    Escape,
    Backspace,
    Delete,
    Insert,
    Home,
    End,
    PageUp,
    PageDown,
    Left,
    Right,
    Up,
    Down,
    Space,
    /// F1 to F24.
    F(u8),
    Shift,
    Control,
    Alt,
    /// The Windows / Super / Command key.
    Meta,
    CapsLock,
    Menu,
    PrintScreen,
}

impl Key {
    /// Whether this key is a modifier, which combos hold around the others.
    pub const fn is_modifier(self) -> bool {
        matches!(self, Key::Shift | Key::Control | Key::Alt | Key::Meta)
    }

    /// Parses a key name as written in `--key` combos: `ctrl`, `alt`,
    /// `shift`, `super`/`meta`/`win`, `enter`, `f5`, `a`, `delete`…
    /// (case-insensitive).
    pub fn from_name(name: &str) -> Option<Key> {
        let lower = name.to_ascii_lowercase();
        let key = match lower.as_str() {
            "ctrl" | "control" => Key::Control,
            "alt" | "option" => Key::Alt,
            "shift" => Key::Shift,
            "super" | "meta" | "win" | "cmd" | "command" => Key::Meta,
            "enter" | "return" => Key::Return,
            "tab" => Key::Tab,
            "esc" | "escape" => Key::Escape,
            "backspace" => Key::Backspace,
            "del" | "delete" => Key::Delete,
            "ins" | "insert" => Key::Insert,
            "home" => Key::Home,
            "end" => Key::End,
            "pageup" | "pgup" => Key::PageUp,
            "pagedown" | "pgdn" => Key::PageDown,
            "left" => Key::Left,
            "right" => Key::Right,
            "up" => Key::Up,
            "down" => Key::Down,
            "space" => Key::Space,
            "capslock" => Key::CapsLock,
            "menu" => Key::Menu,
            "print" | "printscreen" => Key::PrintScreen,
            "plus" => Key::Char('+'),
            "minus" => Key::Char('-'),
            _ => {
                if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    return (1..=24).contains(&n).then_some(Key::F(n));
                }
                let mut chars = name.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => Key::Char(c.to_ascii_lowercase()),
                    _ => return None,
                }
            }
        };
        Some(key)
    }

    /// Whether the key is one an agent can press.
    pub fn is_valid(self) -> bool {
        match self {
            Key::Char(c) => !c.is_control(),
            Key::F(n) => (1..=24).contains(&n),
            _ => true,
        }
    }
}

/// Parses a combo such as `ctrl+alt+delete` or `ctrl+plus` into keys in
/// press order.
pub fn parse_combo(combo: &str) -> Result<Vec<Key>, String> {
    let keys: Vec<Key> = combo
        .split('+')
        .map(|part| {
            let part = part.trim();
            Key::from_name(part).ok_or_else(|| format!("{part:?} is not a key name"))
        })
        .collect::<Result<_, _>>()?;
    if keys.is_empty() || keys.len() > 8 {
        return Err(format!("{combo:?}: a combo has 1 to 8 keys"));
    }
    Ok(keys)
}

/// One input action, in monitor coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputEvent {
    /// Move the pointer to (`x`, `y`) relative to the monitor's corner.
    MouseMove {
        x: i32,
        y: i32,
    },
    Button {
        button: MouseButton,
        pressed: bool,
    },
    /// Wheel steps: positive `dy` scrolls down, positive `dx` right.
    Scroll {
        dx: i32,
        dy: i32,
    },
    Key {
        key: Key,
        pressed: bool,
    },
    /// Type text as if by keyboard.
    Text(String),
    /// Release every key and button this session holds (the viewer lost
    /// focus).
    ReleaseAll,
}

impl InputEvent {
    /// Checks what a well-behaved controller never gets wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            InputEvent::Text(text) if text.len() > MAX_TEXT_LEN => {
                Err(format!("text longer than {MAX_TEXT_LEN} bytes"))
            }
            InputEvent::Text(text)
                if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
            {
                Err("text may not hold control characters other than newline and tab".into())
            }
            InputEvent::Key { key, .. } if !key.is_valid() => Err(format!("{key:?} is not a key")),
            // unsigned_abs: i32::MIN has no positive counterpart, and abs()
            // of it overflows (found by fuzzing: a panic in checked builds,
            // a wrapped negative that passed the check in release builds).
            InputEvent::Scroll { dx, dy }
                if dx.unsigned_abs() > 1_000 || dy.unsigned_abs() > 1_000 =>
            {
                Err("at most 1000 wheel steps at once".into())
            }
            InputEvent::MouseMove { x, y }
                if x.unsigned_abs() > 1 << 20 || y.unsigned_abs() > 1 << 20 =>
            {
                Err("pointer position out of range".into())
            }
            _ => Ok(()),
        }
    }
}

/// Counts of what a control session did, for the audit log (never the
/// typed text itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTally {
    pub keys: u64,
    pub characters: u64,
    pub clicks: u64,
    pub moves: u64,
    pub scrolls: u64,
}

impl InputTally {
    pub fn count(&mut self, event: &InputEvent) {
        match event {
            InputEvent::MouseMove { .. } => self.moves += 1,
            InputEvent::Button { pressed: true, .. } => self.clicks += 1,
            InputEvent::Scroll { .. } => self.scrolls += 1,
            InputEvent::Key { pressed: true, .. } => self.keys += 1,
            InputEvent::Text(text) => self.characters += text.chars().count() as u64,
            InputEvent::Button { .. } | InputEvent::Key { .. } | InputEvent::ReleaseAll => {}
        }
    }

    /// "12 keys, 40 characters, 3 clicks, 120 moves, 2 scrolls".
    pub fn summary(&self) -> String {
        format!(
            "{} keys, {} characters, {} clicks, {} moves, {} scrolls",
            self.keys, self.characters, self.clicks, self.moves, self.scrolls
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_parse() {
        assert_eq!(
            parse_combo("ctrl+alt+delete").unwrap(),
            vec![Key::Control, Key::Alt, Key::Delete]
        );
        assert_eq!(parse_combo("Ctrl+Plus").unwrap(), vec![Key::Control, Key::Char('+')]);
        assert_eq!(parse_combo("super+L").unwrap(), vec![Key::Meta, Key::Char('l')]);
        assert_eq!(parse_combo("F12").unwrap(), vec![Key::F(12)]);
        assert!(parse_combo("f25").is_err());
        assert!(parse_combo("ctrl+").is_err());
        assert!(parse_combo("hyper").is_err());
    }

    #[test]
    fn events_are_validated() {
        assert!(InputEvent::Text("hello\n".into()).validate().is_ok());
        assert!(InputEvent::Text("\u{1b}[2J".into()).validate().is_err());
        assert!(InputEvent::Text("x".repeat(MAX_TEXT_LEN + 1)).validate().is_err());
        assert!(InputEvent::Key { key: Key::F(0), pressed: true }.validate().is_err());
        assert!(InputEvent::Key { key: Key::Char('\u{7}'), pressed: true }.validate().is_err());
        assert!(InputEvent::Scroll { dx: 0, dy: 5000 }.validate().is_err());
        // Found by fuzzing: abs() of i32::MIN overflowed.
        assert!(InputEvent::Scroll { dx: i32::MIN, dy: 0 }.validate().is_err());
        assert!(InputEvent::MouseMove { x: 0, y: i32::MIN }.validate().is_err());
    }

    #[test]
    fn tally_never_holds_text() {
        let mut tally = InputTally::default();
        tally.count(&InputEvent::Text("secret password".into()));
        tally.count(&InputEvent::Key { key: Key::Return, pressed: true });
        tally.count(&InputEvent::Key { key: Key::Return, pressed: false });
        tally.count(&InputEvent::Button { button: MouseButton::Left, pressed: true });
        let summary = tally.summary();
        assert_eq!(summary, "1 keys, 15 characters, 1 clicks, 0 moves, 0 scrolls");
        assert!(!summary.contains("secret"));
    }

    #[test]
    fn cursor_shapes_are_bounded() {
        let ok = CursorShape { width: 2, height: 2, hot_x: 1, hot_y: 1, argb: vec![0; 4] };
        assert!(ok.is_valid());
        assert!(!CursorShape { argb: vec![0; 3], ..ok.clone() }.is_valid());
        assert!(!CursorShape { hot_x: 2, ..ok.clone() }.is_valid());
        let big = MAX_CURSOR_SIDE + 1;
        assert!(
            !CursorShape { width: big, height: 1, argb: vec![0; big as usize], ..ok }.is_valid()
        );
    }
}
