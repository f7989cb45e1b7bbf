//! Moved-window detection: a block of the old frame found elsewhere in the
//! new one, in any direction, sent as copies.
//!
//! Vertical scrolling has its own cheaper detector (`scroll.rs`); this one
//! runs when that found nothing. It hashes short horizontal segments of
//! the new frame (the keys), slides the same hash along every row of the
//! old frame's changed area, and lets each hit vote for the offset between
//! where a segment was and where it is. The winning offset is checked
//! tile by tile with exact comparisons, and the tiles that match become
//! copies.

use std::collections::HashMap;

use crate::TILE;
use crate::frame::{Frame, Rect};
use crate::ops::Op;

/// Pixels per hashed segment.
const SEGMENT: u32 = 32;
/// Keys are taken every this many rows and columns of the changed area.
const KEY_STEP_Y: u32 = 8;
const KEY_STEP_X: u32 = 32;
/// Most keys kept: enough for a window, bounded work.
const MAX_KEYS: usize = 512;
/// Fewest votes for an offset to be tried.
const MIN_VOTES: u32 = 6;
/// Smallest changed area worth searching (a moved window changes at least
/// its old and new place).
const MIN_SIDE: u32 = 64;

/// Bits of the key filter (8 KiB).
const FILTER_BITS: usize = 1 << 16;

const BASE: u64 = 0x0000_0100_0000_01B3;

fn power(n: u32) -> u64 {
    (0..n).fold(1u64, |p, _| p.wrapping_mul(BASE))
}

fn segment_hash(pixels: &[u32]) -> u64 {
    pixels.iter().fold(0u64, |h, &p| h.wrapping_mul(BASE).wrapping_add(u64::from(p) + 1))
}

/// Copies that move blocks of `old` to where `new` has them, inside `area`
/// (where the frames differ). Empty if no offset wins.
pub(crate) fn detect(old: &Frame, new: &Frame, area: Rect) -> Vec<Op> {
    if area.w < MIN_SIDE || area.h < MIN_SIDE {
        return Vec::new();
    }
    let Some((dx, dy)) = best_offset(old, new, area) else { return Vec::new() };
    copies(old, new, area, dx, dy)
}

/// The offset most key segments of `new` moved by since `old`.
fn best_offset(old: &Frame, new: &Frame, area: Rect) -> Option<(i64, i64)> {
    let mut keys: HashMap<u64, Option<(u32, u32)>> = HashMap::new();
    'rows: for y in (area.y..area.y + area.h).step_by(KEY_STEP_Y as usize) {
        for x in (area.x..area.x + area.w - SEGMENT + 1).step_by(KEY_STEP_X as usize) {
            let rect = Rect { x, y, w: SEGMENT, h: 1 };
            let pixels = new.row(&rect, 0);
            // Flat segments match everywhere: no information.
            if pixels.iter().all(|&p| p == pixels[0]) {
                continue;
            }
            // A hash seen twice is ambiguous: keep it, but as no position.
            keys.entry(segment_hash(pixels)).and_modify(|at| *at = None).or_insert(Some((x, y)));
            if keys.len() >= MAX_KEYS {
                break 'rows;
            }
        }
    }
    if keys.len() < MIN_VOTES as usize {
        return None;
    }
    // Most positions match no key: a bitmap of the keys' top hash bits
    // turns them away before the map is asked.
    let mut seen = vec![0u64; FILTER_BITS / 64];
    for h in keys.keys() {
        let bit = (*h >> 48) as usize % FILTER_BITS;
        seen[bit / 64] |= 1 << (bit % 64);
    }
    let top = power(SEGMENT - 1);
    let mut votes: HashMap<(i64, i64), u32> = HashMap::new();
    let span = Rect { x: area.x, y: 0, w: area.w, h: old.height() };
    for y in area.y..area.y + area.h {
        let row = old.row(&span, y);
        let mut h = segment_hash(&row[..SEGMENT as usize]);
        for start in 0..=row.len() - SEGMENT as usize {
            if start > 0 {
                let out = u64::from(row[start - 1]) + 1;
                let incoming = u64::from(row[start + SEGMENT as usize - 1]) + 1;
                h = h.wrapping_sub(out.wrapping_mul(top)).wrapping_mul(BASE).wrapping_add(incoming);
            }
            let bit = (h >> 48) as usize % FILTER_BITS;
            if seen[bit / 64] & (1 << (bit % 64)) == 0 {
                continue;
            }
            if let Some(Some((kx, ky))) = keys.get(&h) {
                let offset = (
                    i64::from(*kx) - i64::from(area.x + start as u32),
                    i64::from(*ky) - i64::from(y),
                );
                if offset != (0, 0) {
                    *votes.entry(offset).or_default() += 1;
                }
            }
        }
    }
    let (&offset, &count) = votes.iter().max_by_key(|(o, c)| (**c, -(o.0.abs() + o.1.abs())))?;
    (count >= MIN_VOTES).then_some(offset)
}

/// Tiles of `new` inside `area` that equal `old` at the tile moved back by
/// the offset, as copies, merged along tile rows and ordered so that
/// applying them one after the other in place reads no pixel an earlier
/// copy has overwritten.
fn copies(old: &Frame, new: &Frame, area: Rect, dx: i64, dy: i64) -> Vec<Op> {
    let (width, height) = (i64::from(new.width()), i64::from(new.height()));
    let mut rows: Vec<Vec<Rect>> = Vec::new();
    for ty in (area.y / TILE * TILE..area.y + area.h).step_by(TILE as usize) {
        let mut runs: Vec<Rect> = Vec::new();
        for tx in (area.x / TILE * TILE..area.x + area.w).step_by(TILE as usize) {
            let dest = Rect {
                x: tx,
                y: ty,
                w: TILE.min(new.width() - tx),
                h: TILE.min(new.height() - ty),
            };
            let (sx, sy) = (i64::from(dest.x) - dx, i64::from(dest.y) - dy);
            if sx < 0 || sy < 0 || sx + i64::from(dest.w) > width || sy + i64::from(dest.h) > height
            {
                continue;
            }
            let source = Rect { x: sx as u32, y: sy as u32, ..dest };
            let same = (0..dest.h).all(|r| old.row(&source, r) == new.row(&dest, r));
            // Tiles already equal gain nothing from a copy.
            let unchanged = (0..dest.h).all(|r| old.row(&dest, r) == new.row(&dest, r));
            if !same || unchanged {
                continue;
            }
            match runs.last_mut() {
                Some(last) if last.x + last.w == dest.x && last.h == dest.h => last.w += dest.w,
                _ => runs.push(dest),
            }
        }
        // Within a band, runs are disjoint in x; sources lie to the side
        // the content came from, so take first the run farthest from it.
        if dx > 0 {
            runs.reverse();
        }
        rows.push(runs);
    }
    // Across bands, likewise: when content moved down, the lowest first.
    if dy > 0 {
        rows.reverse();
    }
    rows.into_iter()
        .flatten()
        .map(|dest| Op::Copy {
            rect: Rect {
                x: (i64::from(dest.x) - dx) as u32,
                y: (i64::from(dest.y) - dy) as u32,
                ..dest
            },
            dx: dx as i32,
            dy: dy as i32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A desktop with a noisy "window" at (`x`, `y`).
    fn desktop(x: u32, y: u32) -> Frame {
        let mut f = Frame::solid(640, 480, 0x3A6EA5).unwrap();
        let mut s = 12345u32;
        for wy in 0..150 {
            for wx in 0..200 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                f.set(x + wx, y + wy, if wy < 20 { 0x202080 } else { s & 0xFF_FFFF });
            }
        }
        f
    }

    #[test]
    fn a_window_moved_diagonally_is_found() {
        let old = desktop(100, 80);
        let new = desktop(260, 200);
        let area = crate::scroll::changed_box(&old, &new).unwrap();
        let ops = detect(&old, &new, area);
        assert!(!ops.is_empty());
        assert!(ops.iter().all(|op| matches!(op, Op::Copy { dx: 160, dy: 120, .. })), "{ops:?}");
    }

    #[test]
    fn unrelated_changes_are_not_moves() {
        let old = Frame::solid(320, 240, 0).unwrap();
        let mut new = old.clone();
        new.fill(Rect { x: 10, y: 10, w: 200, h: 150 }, 0xFF0000);
        assert!(detect(&old, &new, crate::scroll::changed_box(&old, &new).unwrap()).is_empty());
    }
}
