//! Typing text through the display's own keymap.
//!
//! enigo types a character by looking for its keysym in the first column
//! of the keymap only; every shifted character (capitals, `&`, `?`, `"`…)
//! is missing there, so enigo binds it to a spare keycode for the
//! keystroke. With few spare keycodes, a long text rebinds them over and
//! over while the target client is still reading the key events of the
//! previous binding, and it reads them with the new one: a 2 KB paste into
//! an xterm lost or garbled about 1 character in 15. Looking a character
//! up in the unshifted and the shifted column, and pressing Shift for the
//! latter, types every character of the keymap without changing it; only
//! characters the keymap lacks (é on a US keymap) are left to enigo.

/// X keysyms for the two control characters text may hold.
const XK_RETURN: u32 = 0xff0d;
const XK_TAB: u32 = 0xff09;

/// The keysym that types `c`.
pub fn keysym_of(c: char) -> u32 {
    match c {
        '\n' => XK_RETURN,
        '\t' => XK_TAB,
        _ => xkeysym::Keysym::from_char(c).raw(),
    }
}

/// The core keyboard mapping of a display: `per` keysyms for each keycode
/// from `min` on (column 0 unshifted, column 1 with Shift).
#[derive(Debug, Clone)]
pub struct Keymap {
    pub min: u8,
    pub per: usize,
    pub keysyms: Vec<u32>,
}

impl Keymap {
    /// The keycode that types `c`, and whether Shift must be held for it.
    /// The unshifted column wins, then the lowest keycode.
    pub fn find(&self, c: char) -> Option<(u8, bool)> {
        let sym = keysym_of(c);
        if sym == 0 || self.per == 0 {
            return None;
        }
        let rows = || self.keysyms.chunks(self.per).enumerate();
        let keycode = |i: usize| u8::try_from(usize::from(self.min) + i).ok();
        if let Some((i, _)) = rows().find(|(_, syms)| syms[0] == sym) {
            return keycode(i).map(|k| (k, false));
        }
        rows()
            .find(|(_, syms)| shifted(syms) == Some(sym))
            .and_then(|(i, _)| keycode(i).map(|k| (k, true)))
    }
}

/// What a keycode types with Shift: its second keysym, or for a letter
/// listed once, its capital (the core protocol's rule for a lone keysym).
fn shifted(syms: &[u32]) -> Option<u32> {
    match syms.get(1).copied() {
        Some(0) | None => {
            let lone = char::from_u32(syms[0]).filter(char::is_ascii_lowercase)?;
            Some(u32::from(lone.to_ascii_uppercase()))
        }
        sym => sym,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few US keycodes: 10 `1 !`, 16 `7 &`, 24 `q Q`, 38 `a` (alone),
    /// 36 Return, 23 Tab.
    fn us() -> Keymap {
        let mut keysyms = vec![0; 2 * 40];
        let mut set = |code: usize, a: u32, b: u32| {
            keysyms[(code - 8) * 2] = a;
            keysyms[(code - 8) * 2 + 1] = b;
        };
        set(10, '1' as u32, '!' as u32);
        set(16, '7' as u32, '&' as u32);
        set(24, 'q' as u32, 'Q' as u32);
        set(38, 'a' as u32, 0);
        set(36, XK_RETURN, 0);
        set(23, XK_TAB, 0xfe20);
        Keymap { min: 8, per: 2, keysyms }
    }

    #[test]
    fn characters_are_found_in_the_keymap_with_shift_when_needed() {
        let map = us();
        assert_eq!(map.find('7'), Some((16, false)));
        assert_eq!(map.find('&'), Some((16, true)));
        assert_eq!(map.find('!'), Some((10, true)));
        assert_eq!(map.find('Q'), Some((24, true)));
        assert_eq!(map.find('A'), Some((38, true)), "a lone letter's capital");
        assert_eq!(map.find('\n'), Some((36, false)));
        assert_eq!(map.find('\t'), Some((23, false)));
        assert_eq!(map.find('é'), None, "left to enigo");
        assert_eq!(keysym_of('€'), 0x20ac, "the legacy keysym where one exists");
    }
}
