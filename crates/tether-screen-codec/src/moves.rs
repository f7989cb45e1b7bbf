//! Motion search: content of the new frame found in the old one moved by
//! any offset, each tile its own, sent as copies. Several areas moving at
//! once (a dragged window, a panned map, a scrolled page) each find their
//! offset; a copy that is almost exact (a pan with a pointer drawn over
//! it) is kept, and the encoder codes what is left against the copied
//! pixels.
//!
//! Vertical scrolling of whole rows has its own cheaper detector
//! (`scroll.rs`); this one runs when that found nothing. It hashes short
//! horizontal segments of the new frame's changed tiles (the keys), slides
//! the same hash along the old frame's rows through the changed tiles
//! (moved content's old place changed too), and
//! lets each hit vote, for the tile its key came from, for the offset
//! between where the segment was and where it is. Each changed tile then
//! tries its own best offsets, its neighbours' and the update's most voted
//! ones, with exact pixel comparisons; the best that explains most of the
//! tile becomes a copy.
//!
//! Cost is bounded per update: at most [`SCAN_BUDGET`] old pixels are
//! hashed (beyond that, rows are sampled and keys taken on as many
//! consecutive rows, so every vertical offset is still seen) and at most
//! [`COMPARE_BUDGET`] pixels compared; [`SearchCost`] reports both.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::TILE;
use crate::frame::{Frame, Image, Rect};

/// Pixels per hashed segment.
const SEGMENT: u32 = 32;
/// Rows of a tile (from its top) where keys are taken, each at columns 0
/// and 32 of the tile.
const KEY_ROWS: [u32; 4] = [5, 21, 37, 53];
/// Old pixels hashed per update at most: two 1080p frames.
pub(crate) const SCAN_BUDGET: u64 = 1920 * 1080 * 2;
/// Pixels compared per update at most while trying offsets.
pub(crate) const COMPARE_BUDGET: u64 = 1920 * 1080 * 4;
/// Hits recorded per update at most (repetitive content hits often).
const MAX_HITS: usize = 1 << 16;
/// Offsets each tile tries from its own votes.
const OWN_OFFSETS: usize = 3;
/// The update's most voted offsets every tile also tries, and the fewest
/// votes such an offset needs.
const COMMON_OFFSETS: usize = 4;
const MIN_COMMON_VOTES: u32 = 4;
/// Part (numerator, denominator) of what the last search covered that
/// recent offsets must cover for their copies to be taken without a
/// search. Tiles they leave are coded as pixels, as new motion in a small
/// area would be until the encoder's next full search (`encode.rs`).
const FOLLOWED_PART: (usize, usize) = (7, 8);

/// What the encoder recalls of recent searches: offsets of the latest
/// copies, and the changed tiles and tiles covered of the last full search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Follow<'a> {
    pub(crate) offsets: &'a [(i32, i32)],
    pub(crate) tiles: usize,
    pub(crate) covered: usize,
}
/// Bits of the key filter (8 KiB).
const FILTER_BITS: usize = 1 << 16;

const BASE: u64 = 0x0000_0100_0000_01B3;

/// What one search cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchCost {
    /// Old pixels hashed.
    pub scanned: u64,
    /// Pixels compared while verifying offsets.
    pub compared: u64,
    /// Keys taken from the new frame.
    pub keys: usize,
    /// Changed tiles, and how many of them copies cover.
    pub tiles: usize,
    pub covered: usize,
    /// Copies were taken from recent offsets alone, without a search.
    pub followed: bool,
}

fn power(n: u32) -> u64 {
    (0..n).fold(1u64, |p, _| p.wrapping_mul(BASE))
}

fn segment_hash(pixels: &[u32]) -> u64 {
    pixels.iter().fold(0u64, |h, &p| h.wrapping_mul(BASE).wrapping_add(u64::from(p) + 1))
}

/// Keys are hashes already: the map uses them as they are.
#[derive(Default)]
struct Unhashed(u64);

impl Hasher for Unhashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Key segments by hash: (tile index, x, y), or `None` when the same
/// segment occurs twice (ambiguous).
type Keys = HashMap<u64, Option<(u32, u32, u32)>, BuildHasherDefault<Unhashed>>;

/// A copy found: the source rectangle and where it goes.
pub(crate) type Copy = (Rect, i32, i32);

/// The tiles of `area` (aligned to the tile grid, clipped to the frame).
fn tiles(frame: &dyn Image, area: Rect) -> impl Iterator<Item = Rect> + use<> {
    let (width, height) = (frame.width(), frame.height());
    (area.y / TILE * TILE..area.y + area.h).step_by(TILE as usize).flat_map(move |ty| {
        (area.x / TILE * TILE..area.x + area.w).step_by(TILE as usize).map(move |tx| Rect {
            x: tx,
            y: ty,
            w: TILE.min(width - tx),
            h: TILE.min(height - ty),
        })
    })
}

/// [`detect_where`], finding the changed tiles by comparing them.
#[cfg(test)]
pub(crate) fn detect(old: &Frame, new: &dyn Image, area: Rect, cost: &mut SearchCost) -> Vec<Copy> {
    let differs = |t: &Rect| (0..t.h).any(|r| old.row(t, r) != new.row(t, r));
    detect_where(old, new, area, &differs, None, cost)
}

/// Copies that bring content of `old` to where `new` has it, inside `area`
/// (where the frames differ); empty if nothing moved. `new` is read only
/// within tiles (see [`Image`]). `changed` tells which tiles of the grid
/// differ: the encoder knows from receiving the frame, and comparing them
/// again cost a pass over the whole changed area. With `follow`, the
/// offsets of recent copies are tried first, and when their copies cover
/// about as large a part of the changed tiles as the last search's did
/// ([`FOLLOWED_PART`]), the search is not run.
pub(crate) fn detect_where(
    old: &Frame,
    new: &dyn Image,
    area: Rect,
    changed: &dyn Fn(&Rect) -> bool,
    follow: Option<Follow<'_>>,
    cost: &mut SearchCost,
) -> Vec<Copy> {
    *cost = SearchCost::default();
    if area.w < SEGMENT || area.h < KEY_ROWS[0] {
        return Vec::new();
    }
    let changed: Vec<Rect> = tiles(new, area).filter(|t| changed(t)).collect();
    cost.tiles = changed.len();
    if let Some(Follow { offsets, tiles, covered: searched }) = follow
        && !offsets.is_empty()
    {
        // Content that moved last update mostly moves the same way now (a
        // pan, a drag, a scroll): trying those offsets first costs about
        // one tile comparison per tile, the search hashes the old frame
        // through every changed tile.
        let votes = Votes { per_tile: HashMap::new(), common: offsets.to_vec() };
        let (copies, covered) = verify(old, new, &changed, &votes, cost);
        // As large a part of the tiles as the last search covered, give
        // or take FOLLOWED_PART.
        let part = covered * tiles * FOLLOWED_PART.1;
        if covered > 0 && part >= searched * changed.len() * FOLLOWED_PART.0 {
            (cost.covered, cost.followed) = (covered, true);
            return copies;
        }
    }
    // Over budget, hash every `step`-th old row and take keys on `step`
    // consecutive rows: some key row then lands on a hashed row whatever
    // the vertical offset.
    let changed_area: u64 = changed.iter().map(Rect::area).sum();
    let step = changed_area.div_ceil(SCAN_BUDGET).max(1) as u32;
    let keys = keys(new, &changed, step);
    cost.keys = keys.len();
    if keys.is_empty() {
        return Vec::new();
    }
    let hits = scan(old, &changed, area.y, step, &keys, cost);
    let votes = Votes::count(hits);
    let (copies, covered) = verify(old, new, &changed, &votes, cost);
    cost.covered = covered;
    copies
}

/// Key segments of the changed tiles.
fn keys(new: &dyn Image, changed: &[Rect], step: u32) -> Keys {
    let mut keys = Keys::default();
    for (i, tile) in changed.iter().enumerate() {
        for base in KEY_ROWS {
            for y in (tile.y + base..tile.y + base + step).filter(|&y| y < tile.y + tile.h) {
                for x in [tile.x, tile.x + SEGMENT] {
                    if x + SEGMENT > tile.x + tile.w {
                        continue;
                    }
                    let pixels = new.row(&Rect { x, y, w: SEGMENT, h: 1 }, 0);
                    // Flat segments match everywhere: no information.
                    if pixels.iter().all(|&p| p == pixels[0]) {
                        continue;
                    }
                    keys.entry(segment_hash(pixels))
                        .and_modify(|at| *at = None)
                        .or_insert(Some((i as u32, x, y)));
                }
            }
        }
    }
    keys
}

/// Slides the segment hash along the old frame's rows through the changed
/// tiles (where moved content came from: its old place changed too), every
/// `step`-th row counted from `top`; each match with a key is a hit:
/// (tile, dx, dy).
fn scan(
    old: &Frame,
    changed: &[Rect],
    top: u32,
    step: u32,
    keys: &Keys,
    cost: &mut SearchCost,
) -> Vec<(u32, i32, i32)> {
    // Most positions match no key: a bitmap of the keys' top hash bits
    // turns them away before the map is asked.
    let mut seen = vec![0u64; FILTER_BITS / 64];
    for h in keys.keys() {
        let bit = (*h >> 48) as usize % FILTER_BITS;
        seen[bit / 64] |= 1 << (bit % 64);
    }
    let power_next = power(SEGMENT);
    let mut hits = Vec::new();
    // Runs of changed tiles side by side (`changed` is in row order).
    let mut runs: Vec<Rect> = Vec::new();
    for tile in changed {
        match runs.last_mut() {
            Some(run) if run.y == tile.y && run.x + run.w == tile.x => run.w += tile.w,
            _ => runs.push(*tile),
        }
    }
    for run in runs.iter().filter(|run| run.w >= SEGMENT) {
        // Tiles start on the grid, possibly above `top`.
        let first = run.y + (i64::from(top) - i64::from(run.y)).rem_euclid(i64::from(step)) as u32;
        for y in (first..run.y + run.h).step_by(step as usize) {
            let row = old.row(run, y - run.y);
            cost.scanned += row.len() as u64;
            let mut h = segment_hash(&row[..SEGMENT as usize]);
            for start in 0..=row.len() - SEGMENT as usize {
                if start > 0 {
                    let out = u64::from(row[start - 1]) + 1;
                    let incoming = u64::from(row[start + SEGMENT as usize - 1]) + 1;
                    // (h - out * power) * BASE + incoming, with the
                    // part that does not need `h` computed beside it.
                    h = h
                        .wrapping_mul(BASE)
                        .wrapping_add(incoming.wrapping_sub(out.wrapping_mul(power_next)));
                }
                let bit = (h >> 48) as usize % FILTER_BITS;
                if seen[bit / 64] & (1 << (bit % 64)) == 0 {
                    continue;
                }
                if let Some(Some((tile, kx, ky))) = keys.get(&h) {
                    let dx = i64::from(*kx) - i64::from(run.x + start as u32);
                    let dy = i64::from(*ky) - i64::from(y);
                    if (dx, dy) != (0, 0) {
                        hits.push((*tile, dx as i32, dy as i32));
                        if hits.len() >= MAX_HITS {
                            return hits;
                        }
                    }
                }
            }
        }
    }
    hits
}

/// An offset (dx, dy) and how many hits voted for it.
type Tally = ((i32, i32), u32);

/// Offsets by votes: per tile and for the whole update, most voted first.
struct Votes {
    per_tile: HashMap<u32, Vec<(i32, i32)>>,
    common: Vec<(i32, i32)>,
}

impl Votes {
    fn count(mut hits: Vec<(u32, i32, i32)>) -> Votes {
        hits.sort_unstable();
        let mut per_tile: HashMap<u32, Vec<Tally>> = HashMap::new();
        let mut common: HashMap<(i32, i32), u32> = HashMap::new();
        for run in hits.chunk_by(|a, b| a == b) {
            let (tile, dx, dy) = run[0];
            per_tile.entry(tile).or_default().push(((dx, dy), run.len() as u32));
            *common.entry((dx, dy)).or_default() += run.len() as u32;
        }
        let ranked = |mut list: Vec<Tally>, n: usize, min: u32| {
            // Most votes first; among equals the shorter move.
            list.sort_unstable_by_key(|&((dx, dy), c)| {
                (std::cmp::Reverse(c), dx.unsigned_abs() + dy.unsigned_abs(), dx, dy)
            });
            list.into_iter().filter(|&(_, c)| c >= min).take(n).map(|(o, _)| o).collect()
        };
        Votes {
            per_tile: per_tile
                .into_iter()
                .map(|(tile, list)| (tile, ranked(list, OWN_OFFSETS, 1)))
                .collect(),
            common: ranked(common.into_iter().collect(), COMMON_OFFSETS, MIN_COMMON_VOTES),
        }
    }
}

/// How well one offset explains one tile.
struct Fit {
    /// The part of the tile copied.
    dest: Rect,
    offset: (i32, i32),
    /// Pixels of `dest` the copy gets wrong.
    wrong: u64,
}

/// Tries offsets on each changed tile; returns the copies, adjacent ones
/// with the same offset merged, and how many tiles they cover.
fn verify(
    old: &Frame,
    new: &dyn Image,
    changed: &[Rect],
    votes: &Votes,
    cost: &mut SearchCost,
) -> (Vec<Copy>, usize) {
    let mut chosen: HashMap<(u32, u32), (i32, i32)> = HashMap::new();
    let mut copies: Vec<Copy> = Vec::new();
    for (i, tile) in changed.iter().enumerate() {
        if cost.compared >= COMPARE_BUDGET {
            break;
        }
        let (col, row) = (tile.x / TILE, tile.y / TILE);
        let mut candidates: Vec<(i32, i32)> = Vec::with_capacity(12);
        let own = votes.per_tile.get(&(i as u32)).map(Vec::as_slice).unwrap_or_default();
        let left = col.checked_sub(1).and_then(|c| chosen.get(&(c, row)));
        let up = row.checked_sub(1).and_then(|r| chosen.get(&(col, r)));
        for &offset in own.iter().chain(left).chain(up).chain(&votes.common) {
            if !candidates.contains(&offset) {
                candidates.push(offset);
            }
        }
        let mut best: Option<Fit> = None;
        for offset in candidates {
            let Some(fit) = fit(old, new, *tile, offset, cost) else { continue };
            let exact = fit.wrong == 0 && fit.dest == *tile;
            if best.as_ref().is_none_or(|b| gain(&fit) > gain(b)) {
                best = Some(fit);
            }
            if exact || cost.compared >= COMPARE_BUDGET {
                break;
            }
        }
        let Some(best) = best else { continue };
        // Worth it only if the copy leaves fewer wrong pixels than leaving
        // the old ones in place.
        let stay = wrong_pixels(old, new, best.dest, best.dest);
        cost.compared += best.dest.area();
        if best.wrong * 2 >= stay {
            continue;
        }
        chosen.insert((col, row), best.offset);
        let (dx, dy) = best.offset;
        let source = Rect {
            x: (i64::from(best.dest.x) - i64::from(dx)) as u32,
            y: (i64::from(best.dest.y) - i64::from(dy)) as u32,
            ..best.dest
        };
        match copies.last_mut() {
            Some((last, ldx, ldy))
                if (*ldx, *ldy) == (dx, dy)
                    && last.y == source.y
                    && last.h == source.h
                    && last.x + last.w == source.x =>
            {
                last.w += source.w
            }
            _ => copies.push((source, dx, dy)),
        }
    }
    (copies, chosen.len())
}

/// Pixels a fit gets right, the measure offsets are ranked by.
fn gain(fit: &Fit) -> u64 {
    fit.dest.area() - fit.wrong
}

/// Pixels of `new` at `dest` that differ from `old` at `source`.
fn wrong_pixels(old: &Frame, new: &dyn Image, source: Rect, dest: Rect) -> u64 {
    (0..dest.h)
        .map(|r| old.row(&source, r).iter().zip(new.row(&dest, r)).filter(|(a, b)| a != b).count())
        .sum::<usize>() as u64
}

/// How well moving `old` by `offset` explains `tile` of `new`: the tile is
/// clipped to where the source lies in the frame, then rows and columns
/// that are mostly wrong are trimmed from its edges (content that came in
/// from outside). `None` if too little is left or too much is wrong.
fn fit(
    old: &Frame,
    new: &dyn Image,
    tile: Rect,
    offset: (i32, i32),
    cost: &mut SearchCost,
) -> Option<Fit> {
    let (dx, dy) = (i64::from(offset.0), i64::from(offset.1));
    let (width, height) = (i64::from(old.width()), i64::from(old.height()));
    // Destination pixels whose source lies in the frame.
    let x0 = i64::from(tile.x).max(dx);
    let y0 = i64::from(tile.y).max(dy);
    let x1 = i64::from(tile.x + tile.w).min(width + dx);
    let y1 = i64::from(tile.y + tile.h).min(height + dy);
    if x1 - x0 < i64::from(TILE / 4) || y1 - y0 < i64::from(TILE / 4) {
        return None;
    }
    let dest = Rect { x: x0 as u32, y: y0 as u32, w: (x1 - x0) as u32, h: (y1 - y0) as u32 };
    let source = Rect { x: (x0 - dx) as u32, y: (y0 - dy) as u32, ..dest };
    // A quick look at four rows first: most offsets tried are wrong, and
    // a fit needs at least a quarter of the tile right.
    let sample = [dest.h / 8, dest.h * 3 / 8, dest.h * 5 / 8, dest.h * 7 / 8];
    let right: usize = sample
        .iter()
        .map(|&r| old.row(&source, r).iter().zip(new.row(&dest, r)).filter(|(a, b)| a == b).count())
        .sum();
    cost.compared += 4 * u64::from(dest.w);
    if right * 5 < 4 * dest.w as usize {
        return None;
    }
    let mut by_row = [0u32; TILE as usize];
    let mut by_col = [0u32; TILE as usize];
    for r in 0..dest.h {
        let (a, b) = (old.row(&source, r), new.row(&dest, r));
        // Most rows of a good offset match whole: one comparison.
        if a == b {
            continue;
        }
        for (c, (p, q)) in a.iter().zip(b).enumerate() {
            if p != q {
                by_row[r as usize] += 1;
                by_col[c] += 1;
            }
        }
    }
    cost.compared += dest.area();
    // Trim edges where most pixels are wrong.
    let row_bad = |r: u32| by_row[r as usize] * 2 > dest.w;
    let col_bad = |c: u32| by_col[c as usize] * 2 > dest.h;
    let top = (0..dest.h).find(|&r| !row_bad(r))?;
    let bottom = (0..dest.h).rev().find(|&r| !row_bad(r))?;
    let left = (0..dest.w).find(|&c| !col_bad(c))?;
    let right = (0..dest.w).rev().find(|&c| !col_bad(c))?;
    let trimmed =
        Rect { x: dest.x + left, y: dest.y + top, w: right + 1 - left, h: bottom + 1 - top };
    if trimmed.area() * 4 < tile.area() {
        return None;
    }
    let wrong = if trimmed == dest {
        by_row.iter().map(|&n| u64::from(n)).sum()
    } else {
        let from = Rect {
            x: (i64::from(trimmed.x) - dx) as u32,
            y: (i64::from(trimmed.y) - dy) as u32,
            ..trimmed
        };
        cost.compared += trimmed.area();
        wrong_pixels(old, new, from, trimmed)
    };
    // An almost exact copy: the rest is coded against the copied pixels.
    (wrong * 8 <= trimmed.area()).then_some(Fit { dest: trimmed, offset, wrong })
}

#[cfg(test)]
mod tests;
