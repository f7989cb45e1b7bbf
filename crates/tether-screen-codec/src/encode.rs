//! Frames to updates.

use crate::frame::{Frame, Rect};
use crate::moves::SearchCost;
use crate::ops::{Op, apply_copies, pack_palette};
use crate::pack::{Packer, Settings};
use crate::predict;
use crate::{MAX_PALETTE, TILE, Update, moves, scroll};

/// The shapes stream (operations and palette indices: text) carries
/// kilobytes per update, so a middle level is cheap; its 512 KiB window
/// holds the last few dozen lines of text (a larger one gained 3% on the
/// scrolling benchmark for twice the memory).
const SHAPES: Settings = Settings { level: 6, window_log: 19, table_log: 17 };

/// The pixels stream (prediction residuals of photos and video, up to
/// megabytes per update): level 1 is fast enough for 1080p at 30 fps and
/// compresses residuals as well as higher levels; they gain nothing from
/// a long history.
const PIXELS: Settings = Settings { level: 1, window_log: 17, table_log: 0 };

/// Motion searches in a row that found nothing to copy, after which the
/// search only probes every [`PROBE_EVERY`]-th update: content that
/// changes in place (video, an animation, noise) never yields copies,
/// while panned or dragged content yields them update after update and
/// keeps being searched.
const SEARCH_MISSES: u32 = 2;
const PROBE_EVERY: u32 = 8;

/// Encodes frames relative to the last one encoded (what the viewer has).
#[derive(Debug)]
pub struct Encoder {
    previous: Option<Frame>,
    /// The frame before `previous`, kept so the caller can capture into
    /// its buffer instead of allocating one per frame.
    spare: Option<Frame>,
    /// The streams were reset and no update has said so yet.
    fresh: bool,
    /// Motion searches in a row that found nothing, and updates since the
    /// last search.
    misses: u32,
    since_search: u32,
    /// What the last motion search cost (zero if it did not run).
    search_cost: SearchCost,
    shapes: Packer,
    pixels: Packer,
    /// Pixels gathered by copies, reused.
    scratch: Vec<u32>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder {
            previous: None,
            spare: None,
            fresh: true,
            misses: 0,
            since_search: 0,
            search_cost: SearchCost::default(),
            shapes: Packer::new(SHAPES),
            pixels: Packer::new(PIXELS),
            scratch: Vec::new(),
        }
    }
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Forgets what the viewer has: the next update repaints everything
    /// and is marked fresh.
    pub fn reset(&mut self) {
        self.previous = None;
        self.fresh = true;
        self.shapes.reset();
        self.pixels.reset();
    }

    /// A frame-sized buffer to capture the next frame into (its pixels are
    /// stale), if the encoder has one: with it, streaming allocates no
    /// frames at all.
    pub fn take_spare(&mut self) -> Option<Frame> {
        self.spare.take()
    }

    /// What the motion search of the last update cost (all zero when it
    /// did not run): for figures and tests.
    pub fn search_cost(&self) -> SearchCost {
        self.search_cost
    }

    /// The update that turns the viewer's frame into `frame`. Takes the
    /// frame, which becomes the new reference: the encoder holds two frames
    /// (the reference and a spare, see [`Encoder::take_spare`]).
    pub fn encode(&mut self, frame: Frame) -> Update {
        let (width, height) = (frame.width(), frame.height());
        let mut reference = match self.previous.take() {
            Some(previous) if previous.width() == width && previous.height() == height => previous,
            _ => {
                // First frame or a new size: the decoder starts from black.
                self.reset();
                Frame::solid(width, height, 0).expect("same size as a valid frame")
            }
        };
        self.search_cost = SearchCost::default();
        let Some(area) = crate::frame::changed_box(&reference, &frame) else {
            self.spare = Some(reference);
            self.previous = Some(frame);
            return Update { width, height, fresh: self.fresh, ..Update::default() };
        };
        let copies = self.copies(&reference, &frame, area);
        apply_copies(&mut reference, &copies, &mut self.scratch);
        let mut ops: Vec<Op> =
            copies.iter().map(|&(rect, dx, dy)| Op::Copy { rect, dx, dy }).collect();
        let mut indices = Vec::new();
        let mut pixels = Vec::new();
        let mut residuals = Vec::new();
        let mut any_residuals = false;
        let previous = (!self.fresh).then_some(&reference);
        let tiles = |from: u32, len: u32| (from / TILE * TILE..from + len).step_by(TILE as usize);
        for ty in tiles(area.y, area.h) {
            for tx in tiles(area.x, area.w) {
                let tile = Rect { x: tx, y: ty, w: TILE.min(width - tx), h: TILE.min(height - ty) };
                let Some(rect) = changed_part(&reference, &frame, tile) else { continue };
                residuals.clear();
                let op = encode_tile(&frame, previous, rect, &mut indices, &mut residuals);
                if !residuals.is_empty() {
                    // zstd may hold the bytes until the flush below.
                    self.pixels.write(&residuals, &mut pixels);
                    any_residuals = true;
                }
                // Runs of same-colour tiles along a row become one fill.
                if let (
                    Op::Fill { rect: new, color },
                    Some(Op::Fill { rect: last, color: last_color }),
                ) = (&op, ops.last_mut())
                    && color == last_color
                    && last.y == new.y
                    && last.h == new.h
                    && last.x + last.w == new.x
                {
                    last.w += new.w;
                    continue;
                }
                ops.push(op);
            }
        }
        self.spare = Some(reference);
        self.previous = Some(frame);
        let mut shapes = bincode::serde::encode_to_vec(&ops, bincode::config::standard())
            .expect("operations always encode");
        shapes.extend_from_slice(&indices);
        if any_residuals {
            self.pixels.flush(&mut pixels);
        }
        let update =
            Update { width, height, fresh: self.fresh, shapes: self.shapes.pack(&shapes), pixels };
        self.fresh = false;
        update
    }

    /// Copies for this update: scrolled rows if the whole area scrolled,
    /// else whatever the motion search finds (unless recent searches found
    /// nothing: see [`SEARCH_MISSES`]).
    fn copies(&mut self, reference: &Frame, frame: &Frame, area: Rect) -> Vec<moves::Copy> {
        let scrolled = scroll::detect(reference, frame, area);
        if !scrolled.is_empty() || self.fresh {
            return scrolled;
        }
        self.since_search += 1;
        if self.misses >= SEARCH_MISSES && self.since_search < PROBE_EVERY {
            return Vec::new();
        }
        self.since_search = 0;
        let found = moves::detect(reference, frame, area, &mut self.search_cost);
        self.misses = if found.is_empty() { self.misses.saturating_add(1) } else { 0 };
        found
    }
}

/// The smallest rectangle of `tile` holding every pixel where `frame`
/// differs from `reference`, or `None` if none does.
fn changed_part(reference: &Frame, frame: &Frame, tile: Rect) -> Option<Rect> {
    let differs = |r: &u32| reference.row(&tile, *r) != frame.row(&tile, *r);
    let first = (0..tile.h).find(differs)?;
    let last = (0..tile.h).rev().find(differs).expect("a row differs");
    let (mut left, mut right) = (tile.w, 0);
    for r in first..=last {
        let (a, b) = (reference.row(&tile, r), frame.row(&tile, r));
        if let Some(l) = a.iter().zip(b).position(|(p, q)| p != q) {
            let rr = a.iter().zip(b).rposition(|(p, q)| p != q).expect("a pixel differs");
            left = left.min(l as u32);
            right = right.max(rr as u32);
        }
    }
    Some(Rect { x: tile.x + left, y: tile.y + first, w: right + 1 - left, h: last - first + 1 })
}

/// The cheapest operation for one changed rectangle; palette indices are
/// appended to `indices`, prediction residuals to `residuals`. `previous`
/// is what the viewer has (after the update's copies), unless it starts
/// from black.
fn encode_tile(
    frame: &Frame,
    previous: Option<&Frame>,
    rect: Rect,
    indices: &mut Vec<u8>,
    residuals: &mut Vec<u8>,
) -> Op {
    let mut colors: Vec<u32> = Vec::with_capacity(MAX_PALETTE);
    'scan: for r in 0..rect.h {
        for &p in frame.row(&rect, r) {
            if !colors.contains(&p) {
                if colors.len() == MAX_PALETTE {
                    colors.clear();
                    break 'scan;
                }
                colors.push(p);
            }
        }
    }
    match colors.len() {
        1 => Op::Fill { rect, color: colors[0] },
        0 => {
            let coding = predict::choose(frame, previous, &rect);
            // Without a reference `choose` never picks `Previous`, the
            // only coding that reads it: any frame serves.
            predict::residuals(frame, previous.unwrap_or(frame), &rect, coding, |b| {
                residuals.extend_from_slice(b)
            });
            Op::Pixels { rect, predictor: coding.predictor, channels: coding.channels }
        }
        _ => {
            pack_palette(frame, &rect, &colors, indices);
            Op::Palette { rect, colors }
        }
    }
}
