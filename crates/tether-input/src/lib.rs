//! Input injection on the agent, with a guarantee: whatever a session
//! presses, it releases.
//!
//! [`Injector`] applies [`InputEvent`]s through a [`Device`] and keeps the
//! set of keys and buttons it holds down. [`Injector::release_all`]
//! releases them (modifiers last, so no stray shortcut fires) and is called
//! when a viewer loses focus, when its stream closes or stalls past the
//! heartbeat timeout, and from `Drop` when the session or the agent ends.
//! The injector tracks what *it* pressed; keys pressed at the physical
//! keyboard are the user's and are left alone.
//!
//! [`EnigoDevice`] is the real device: enigo's x11rb backend (XTEST) on
//! Linux with `linux_delay` 0. The enigo backends for Windows and macOS are
//! compiled there but unverified: this project only tests on X11.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use tether_proto::screen::{InputEvent, Key, MouseButton};

mod enigo_device;
#[cfg(all(unix, not(target_os = "macos")))]
mod keymap;

pub use enigo_device::EnigoDevice;

/// Why input could not be injected.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "cannot reach the display {display} to inject input: {reason} (is the X server running, and may the agent use it? check [screen] display and xauthority)"
    )]
    Connect { display: String, reason: String },
    #[error("input injection failed: {0}")]
    Inject(String),
}

/// The primitive operations of a keyboard and mouse.
pub trait Device: Send {
    fn key(&mut self, key: Key, pressed: bool) -> Result<(), InputError>;
    fn button(&mut self, button: MouseButton, pressed: bool) -> Result<(), InputError>;
    /// Moves the pointer to absolute display coordinates.
    fn move_to(&mut self, x: i32, y: i32) -> Result<(), InputError>;
    fn scroll(&mut self, dx: i32, dy: i32) -> Result<(), InputError>;
    /// Types `text`. `shift_held`: the session holds Shift, which the
    /// device must leave held when it is done.
    fn text(&mut self, text: &str, shift_held: bool) -> Result<(), InputError>;
}

/// What a release freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    pub keys: usize,
    pub buttons: usize,
}

impl Released {
    pub fn is_empty(&self) -> bool {
        self.keys == 0 && self.buttons == 0
    }
}

/// Applies events to a device and remembers what is held.
pub struct Injector<D: Device> {
    device: D,
    /// Where monitor coordinates start on the display.
    origin: (i32, i32),
    keys: BTreeSet<Key>,
    buttons: BTreeSet<MouseButton>,
}

impl<D: Device> Injector<D> {
    pub fn new(device: D) -> Self {
        Injector { device, origin: (0, 0), keys: BTreeSet::new(), buttons: BTreeSet::new() }
    }

    /// Sets the monitor whose coordinates events use.
    pub fn set_origin(&mut self, x: i32, y: i32) {
        self.origin = (x, y);
    }

    /// Applies one event. A press of something already held and a release
    /// of something not held are dropped: the device's state and ours stay
    /// the same.
    pub fn apply(&mut self, event: &InputEvent) -> Result<(), InputError> {
        match event {
            InputEvent::MouseMove { x, y } => self
                .device
                .move_to(self.origin.0.saturating_add(*x), self.origin.1.saturating_add(*y)),
            InputEvent::Button { button, pressed } => {
                let changed = if *pressed {
                    self.buttons.insert(*button)
                } else {
                    self.buttons.remove(button)
                };
                if changed { self.device.button(*button, *pressed) } else { Ok(()) }
            }
            InputEvent::Scroll { dx, dy } => self.device.scroll(*dx, *dy),
            InputEvent::Key { key, pressed } => {
                let changed = if *pressed { self.keys.insert(*key) } else { self.keys.remove(key) };
                if changed { self.device.key(*key, *pressed) } else { Ok(()) }
            }
            InputEvent::Text(text) => self.device.text(text, self.keys.contains(&Key::Shift)),
            InputEvent::ReleaseAll => self.release_all().map(|_| ()),
        }
    }

    /// Presses a combo's keys in order and releases them in reverse.
    pub fn combo(&mut self, keys: &[Key]) -> Result<(), InputError> {
        for key in keys {
            self.apply(&InputEvent::Key { key: *key, pressed: true })?;
        }
        for key in keys.iter().rev() {
            self.apply(&InputEvent::Key { key: *key, pressed: false })?;
        }
        Ok(())
    }

    /// Releases every held button, then every held key, modifiers last.
    /// Keeps going past a failed release so one error cannot leave the
    /// rest held; returns the first error after trying them all.
    pub fn release_all(&mut self) -> Result<Released, InputError> {
        let mut first_error = None;
        let released = Released { keys: self.keys.len(), buttons: self.buttons.len() };
        for button in std::mem::take(&mut self.buttons) {
            if let Err(e) = self.device.button(button, false) {
                first_error.get_or_insert(e);
            }
        }
        let keys = std::mem::take(&mut self.keys);
        let (modifiers, others): (Vec<Key>, Vec<Key>) =
            keys.into_iter().partition(|k| k.is_modifier());
        for key in others.into_iter().chain(modifiers) {
            if let Err(e) = self.device.key(key, false) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            None => Ok(released),
            Some(e) => Err(e),
        }
    }

    /// Whether anything is held.
    pub fn holds_anything(&self) -> bool {
        !self.keys.is_empty() || !self.buttons.is_empty()
    }
}

impl<D: Device> Drop for Injector<D> {
    fn drop(&mut self) {
        if self.holds_anything()
            && let Err(e) = self.release_all()
        {
            tracing::warn!("releasing held input failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what reached the device.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Device for &mut Log {
        fn key(&mut self, key: Key, pressed: bool) -> Result<(), InputError> {
            self.0.push(format!("key {key:?} {}", if pressed { "down" } else { "up" }));
            Ok(())
        }
        fn button(&mut self, button: MouseButton, pressed: bool) -> Result<(), InputError> {
            self.0.push(format!(
                "button {} {}",
                button.as_str(),
                if pressed { "down" } else { "up" }
            ));
            Ok(())
        }
        fn move_to(&mut self, x: i32, y: i32) -> Result<(), InputError> {
            self.0.push(format!("move {x},{y}"));
            Ok(())
        }
        fn scroll(&mut self, dx: i32, dy: i32) -> Result<(), InputError> {
            self.0.push(format!("scroll {dx},{dy}"));
            Ok(())
        }
        fn text(&mut self, text: &str, shift_held: bool) -> Result<(), InputError> {
            self.0.push(format!("text {text}{}", if shift_held { " (shift held)" } else { "" }));
            Ok(())
        }
    }

    fn key(key: Key, pressed: bool) -> InputEvent {
        InputEvent::Key { key, pressed }
    }

    #[test]
    fn release_all_frees_what_is_held_modifiers_last() {
        let mut log = Log::default();
        {
            let mut inj = Injector::new(&mut log);
            inj.apply(&key(Key::Control, true)).unwrap();
            inj.apply(&key(Key::Char('c'), true)).unwrap();
            inj.apply(&InputEvent::Button { button: MouseButton::Left, pressed: true }).unwrap();
            inj.apply(&key(Key::Shift, true)).unwrap();
            inj.apply(&key(Key::Shift, false)).unwrap();
            let released = inj.release_all().unwrap();
            assert_eq!(released, Released { keys: 2, buttons: 1 });
            assert!(!inj.holds_anything());
        }
        assert_eq!(
            log.0,
            [
                "key Control down",
                "key Char('c') down",
                "button left down",
                "key Shift down",
                "key Shift up",
                "button left up",
                "key Char('c') up",
                "key Control up",
            ]
        );
    }

    #[test]
    fn drop_releases_and_duplicates_are_dropped() {
        let mut log = Log::default();
        {
            let mut inj = Injector::new(&mut log);
            inj.apply(&key(Key::Alt, true)).unwrap();
            inj.apply(&key(Key::Alt, true)).unwrap();
            inj.apply(&key(Key::Tab, false)).unwrap();
        }
        assert_eq!(log.0, ["key Alt down", "key Alt up"]);
    }

    #[test]
    fn moves_are_relative_to_the_monitor_and_combos_unwind() {
        let mut log = Log::default();
        {
            let mut inj = Injector::new(&mut log);
            inj.set_origin(1920, 0);
            inj.apply(&InputEvent::MouseMove { x: 10, y: 20 }).unwrap();
            inj.combo(&[Key::Control, Key::Alt, Key::Delete]).unwrap();
            assert!(!inj.holds_anything());
        }
        assert_eq!(
            log.0,
            [
                "move 1930,20",
                "key Control down",
                "key Alt down",
                "key Delete down",
                "key Delete up",
                "key Alt up",
                "key Control up",
            ]
        );
    }

    #[test]
    fn text_is_told_whether_the_session_holds_shift() {
        let mut log = Log::default();
        {
            let mut inj = Injector::new(&mut log);
            inj.apply(&InputEvent::Text("a".into())).unwrap();
            inj.apply(&key(Key::Shift, true)).unwrap();
            inj.apply(&InputEvent::Text("b".into())).unwrap();
        }
        assert_eq!(log.0, ["text a", "key Shift down", "text b (shift held)", "key Shift up"]);
    }
}
