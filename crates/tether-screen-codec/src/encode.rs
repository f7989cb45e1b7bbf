//! Frames to updates.

use crate::frame::{Frame, Rect};
use crate::ops::{Op, pack_palette};
use crate::pack::{Packer, Settings};
use crate::predict::{self, Predictor};
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

/// Encodes frames relative to the last one encoded (what the viewer has).
#[derive(Debug)]
pub struct Encoder {
    previous: Option<Frame>,
    /// The frame before `previous`, kept so the caller can capture into
    /// its buffer instead of allocating one per frame.
    spare: Option<Frame>,
    /// The streams were reset and no update has said so yet.
    fresh: bool,
    /// Where the last update changed the frame.
    last_area: Option<Rect>,
    shapes: Packer,
    pixels: Packer,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder {
            previous: None,
            spare: None,
            fresh: true,
            last_area: None,
            shapes: Packer::new(SHAPES),
            pixels: Packer::new(PIXELS),
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

    /// The update that turns the viewer's frame into `frame`. Takes the
    /// frame, which becomes the new reference: the encoder holds two frames
    /// (the reference and a spare, see [`Encoder::take_spare`]).
    pub fn encode(&mut self, frame: Frame) -> Update {
        let (width, height) = (frame.width(), frame.height());
        let mut ops = Vec::new();
        let mut reference = match self.previous.take() {
            Some(previous) if previous.width() == width && previous.height() == height => previous,
            _ => {
                // First frame or a new size: the decoder starts from black.
                self.reset();
                Frame::solid(width, height, 0).expect("same size as a valid frame")
            }
        };
        let Some(area) = scroll::changed_box(&reference, &frame) else {
            self.spare = Some(reference);
            self.previous = Some(frame);
            return Update { width, height, fresh: self.fresh, ..Update::default() };
        };
        // Scrolls first, applied to the reference as the decoder will.
        // They stay inside the changed area, so tiles outside it still
        // match.
        let mut copies = scroll::detect(&reference, &frame, area);
        // An area that changes in place update after update is content
        // (video, an animation), not a window being dragged, whose old and
        // new places move with it: spare it the search.
        if copies.is_empty() && self.last_area != Some(area) {
            copies = moves::detect(&reference, &frame, area);
        }
        self.last_area = Some(area);
        for op in copies {
            if let Op::Copy { rect, dx, dy } = &op {
                reference.move_rect(rect, *dx, *dy);
            }
            ops.push(op);
        }
        let mut indices = Vec::new();
        let mut residuals = Vec::new();
        let tiles = |from: u32, len: u32| (from / TILE * TILE..from + len).step_by(TILE as usize);
        for ty in tiles(area.y, area.h) {
            for tx in tiles(area.x, area.w) {
                let tile = Rect { x: tx, y: ty, w: TILE.min(width - tx), h: TILE.min(height - ty) };
                // Only the rows of the tile that changed.
                let differs = |r: &u32| reference.row(&tile, *r) != frame.row(&tile, *r);
                let Some(first) = (0..tile.h).find(differs) else { continue };
                let last = (0..tile.h).rev().find(differs).expect("a row differs");
                let rect = Rect { y: tile.y + first, h: last - first + 1, ..tile };
                let op = encode_tile(&frame, rect, &mut indices, &mut residuals);
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
        let update = Update {
            width,
            height,
            fresh: self.fresh,
            shapes: self.shapes.pack(&shapes),
            pixels: if residuals.is_empty() { Vec::new() } else { self.pixels.pack(&residuals) },
        };
        self.fresh = false;
        update
    }
}

/// The cheapest operation for one tile; palette indices are appended to
/// `indices`, prediction residuals to `residuals`.
fn encode_tile(frame: &Frame, rect: Rect, indices: &mut Vec<u8>, residuals: &mut Vec<u8>) -> Op {
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
            let predictor: Predictor = predict::choose(frame, &rect);
            predict::residuals(frame, &rect, predictor, residuals);
            Op::Pixels { rect, predictor }
        }
        _ => {
            pack_palette(frame, &rect, &colors, indices);
            Op::Palette { rect, colors }
        }
    }
}
