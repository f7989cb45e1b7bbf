//! Scroll detection: find rows of the new frame that appear in the old one
//! shifted vertically, and describe them as copies.

use std::collections::HashMap;

use crate::TILE;
use crate::frame::{Image, Rect};
use crate::moves::Copy;

/// Fewest rows a copy must cover to be worth sending.
const MIN_RUN: u32 = 8;
/// Fewest matching rows for a shift to be taken as a scroll.
const MIN_VOTES: u32 = 16;
/// Rows sharing one hash (blank lines) vote for at most this many shifts.
const MAX_BUCKET: usize = 4;

/// FNV-style mixing of pairs of pixels of `row` in four independent
/// lanes (pair `i` goes to lane `i % 4`), which the CPU runs side by side:
/// one chain of multiplications through the whole row made this the
/// encoder's costliest loop on wide changed areas. Collisions only cost a
/// failed exact comparison below.
fn row_hash(row: &[u32]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(PRIME);
    let offset = 0xcbf2_9ce4_8422_2325u64;
    let mut lanes = [offset, offset ^ 1, offset ^ 2, offset ^ 3];
    let pair = |a: u32, b: u32| u64::from(a) | u64::from(b) << 32;
    let mut chunks = row.chunks_exact(8);
    for c in chunks.by_ref() {
        lanes[0] = mix(lanes[0], pair(c[0], c[1]));
        lanes[1] = mix(lanes[1], pair(c[2], c[3]));
        lanes[2] = mix(lanes[2], pair(c[4], c[5]));
        lanes[3] = mix(lanes[3], pair(c[6], c[7]));
    }
    let h = lanes.iter().fold(offset, |h, &lane| mix(h, lane));
    chunks.remainder().iter().fold(h, |h, &p| mix(h, u64::from(p)))
}

/// Row `y` of `pieces` (one row cut where tiles meet) gathered into
/// `out`: a copy is far cheaper than hashing in pieces.
fn gather<'a>(image: &dyn Image, pieces: &[Rect], y: u32, out: &'a mut Vec<u32>) -> &'a [u32] {
    out.clear();
    for piece in pieces {
        out.extend_from_slice(image.row(piece, y));
    }
    out
}

/// Rows of the old frame sharing one narrow hash beyond which
/// [`could_scroll`] cannot tell (blank columns match everywhere).
const NARROW_BUCKET: usize = 16;

/// False only if no shift can gather [`MIN_VOTES`] in [`detect`]: every
/// vote there is a new row equal over the area's whole width to an old
/// row, so it is also equal over `piece`, one column piece of the area;
/// counting matches of that piece alone (all of them) bounds every
/// shift's votes from above. A photo, a panned picture or a dragged
/// window has no such matches, and the whole rows need not be hashed.
fn could_scroll(old: &dyn Image, new: &dyn Image, area: Rect, piece: Rect) -> bool {
    let rows = area.y..area.y + area.h;
    let mut where_old: HashMap<u64, Vec<u32>> = HashMap::new();
    for y in rows.clone() {
        let same = where_old.entry(row_hash(old.row(&piece, y))).or_default();
        if same.len() == NARROW_BUCKET {
            return true;
        }
        same.push(y);
    }
    let mut votes: HashMap<i64, u32> = HashMap::new();
    for y in rows {
        let same = where_old.get(&row_hash(new.row(&piece, y))).map(Vec::as_slice);
        for &oy in same.unwrap_or_default() {
            if oy != y {
                let count = votes.entry(i64::from(oy) - i64::from(y)).or_default();
                *count += 1;
                if *count >= MIN_VOTES {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether row `oy` of `old` equals row `y` of `new` over `pieces`.
fn same_row(old: &dyn Image, oy: u32, new: &dyn Image, y: u32, pieces: &[Rect]) -> bool {
    pieces.iter().all(|piece| old.row(piece, oy) == new.row(piece, y))
}

/// Columns `x..x + w`, cut where tiles meet, as rectangles from row 0.
fn pieces(x: u32, w: u32) -> Vec<Rect> {
    let mut out = Vec::new();
    let mut at = x;
    while at < x + w {
        let end = ((at / TILE + 1) * TILE).min(x + w);
        out.push(Rect { x: at, y: 0, w: end - at, h: 1 });
        at = end;
    }
    out
}

/// Copies that turn `old` into something closer to `new` by vertical
/// shifts within `area`, where they differ ([`changed_box`](crate::frame::changed_box)).
/// Rows are read in pieces within one column of tiles (see [`Image`]).
///
/// A copy lands only on rows where the new frame is what it brings over
/// the area's whole width: where the new frame did not change, a copy
/// writes what was there.
pub(crate) fn detect(old: &dyn Image, new: &dyn Image, area: Rect) -> Vec<Copy> {
    if area.h < MIN_RUN * 2 {
        return Vec::new();
    }
    let span = Rect { x: area.x, y: 0, w: area.w, h: new.height() };
    let pieces = pieces(area.x, area.w);
    match pieces.get(pieces.len() / 2) {
        Some(&piece) if could_scroll(old, new, area, piece) => {}
        _ => return Vec::new(),
    }
    let mut row = Vec::with_capacity(area.w as usize);
    let mut hashes = |image: &dyn Image| -> Vec<u64> {
        (area.y..area.y + area.h).map(|y| row_hash(gather(image, &pieces, y, &mut row))).collect()
    };
    let old_rows = hashes(old);
    let mut where_old: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, h) in old_rows.iter().enumerate() {
        let rows = where_old.entry(*h).or_default();
        if rows.len() < MAX_BUCKET {
            rows.push(area.y + i as u32);
        }
    }
    let mut votes: HashMap<i64, u32> = HashMap::new();
    let new_rows = hashes(new);
    for (i, h) in new_rows.iter().enumerate() {
        let y = area.y + i as u32;
        for &oy in where_old.get(h).map(Vec::as_slice).unwrap_or_default() {
            let shift = i64::from(oy) - i64::from(y);
            if shift != 0 {
                *votes.entry(shift).or_default() += 1;
            }
        }
    }
    let Some((&shift, &count)) = votes.iter().max_by_key(|(s, c)| (**c, -s.abs())) else {
        return Vec::new();
    };
    if count < MIN_VOTES {
        return Vec::new();
    }
    // Exact runs of rows: new row y equals old row y + shift.
    let mut ops = Vec::new();
    let mut run_start = None;
    for y in area.y..=area.y + area.h {
        let oy = i64::from(y) + shift;
        let inside =
            y < area.y + area.h && oy >= i64::from(area.y) && oy < i64::from(area.y + area.h);
        let same = inside && same_row(old, oy as u32, new, y, &pieces);
        match (same, run_start) {
            (true, None) => run_start = Some(y),
            (false, Some(start)) => {
                if y - start >= MIN_RUN {
                    let src = Rect {
                        x: span.x,
                        y: (i64::from(start) + shift) as u32,
                        w: span.w,
                        h: y - start,
                    };
                    ops.push((src, 0, (-shift) as i32));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, changed_box};

    /// Whether a text pixel is lit: a hash, so no two rows repeat.
    fn ink(x: u32, line: u32, row: u32) -> bool {
        let h = x.wrapping_mul(0x9E37_79B1)
            ^ line.wrapping_mul(0x85EB_CA6B)
            ^ row.wrapping_mul(0xC2B2_AE35);
        h.wrapping_mul(0x27D4_EB2F) >> 29 == 0
    }

    /// A terminal-like frame: distinct text rows.
    fn text(width: u32, height: u32, first_line: u32) -> Frame {
        let mut f = Frame::solid(width, height, 0x101010).unwrap();
        for y in 0..height {
            let line = first_line + y / 16;
            for x in 0..width {
                if ink(x, line, y % 16) {
                    f.set(x, y, 0xEEEEEE);
                }
            }
        }
        f
    }

    #[test]
    fn a_scrolled_terminal_is_found_as_a_copy() {
        let old = text(320, 240, 0);
        let new = text(320, 240, 3); // scrolled up by 3 lines of 16 px
        let ops = detect(&old, &new, changed_box(&old, &new).unwrap());
        assert_eq!(ops.len(), 1, "{ops:?}");
        let (rect, dx, dy) = ops[0];
        assert_eq!((dx, dy), (0, -48));
        assert_eq!(rect.y, 48);
        assert_eq!(rect.h, 240 - 48);
    }

    #[test]
    fn only_areas_whose_columns_repeat_shifted_are_hashed_whole() {
        let (old, new) = (text(320, 240, 0), text(320, 240, 3));
        let area = changed_box(&old, &new).unwrap();
        let middle = Rect { x: 128, y: 0, w: 64, h: 1 };
        assert!(could_scroll(&old, &new, area, middle));
        // A picture moved sideways and down: no column piece repeats.
        let mut moved = Frame::solid(320, 240, 0).unwrap();
        for y in 0..240 {
            for x in 0..320 {
                moved.set(x, y, old.pixel((x + 5) % 320, (y + 3) % 240) ^ (x * 7 + y));
            }
        }
        let area = changed_box(&old, &moved).unwrap();
        assert!(!could_scroll(&old, &moved, area, middle));
        assert!(detect(&old, &moved, area).is_empty());
    }

    #[test]
    fn unrelated_changes_are_not_scrolls() {
        let old = Frame::solid(320, 240, 0).unwrap();
        let mut new = old.clone();
        new.fill(Rect { x: 10, y: 10, w: 50, h: 50 }, 0xFF0000);
        assert!(detect(&old, &new, changed_box(&old, &new).unwrap()).is_empty());
        assert!(changed_box(&old, &old).is_none());
    }
}
