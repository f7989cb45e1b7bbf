//! Frames to updates.

use crate::frame::{Frame, Rect};
use crate::{MAX_PALETTE, Op, TILE, Update, scroll};

/// zstd level for raw regions: 1 is fast enough for 1080p at 30 fps.
const RAW_LEVEL: i32 = 1;

/// Encodes frames relative to the last one encoded (what the viewer has).
#[derive(Debug, Default)]
pub struct Encoder {
    previous: Option<Frame>,
}

/// Applies copies from `source` into `target`.
pub(crate) fn apply_copy(source: &Frame, target: &mut Frame, rect: &Rect, dx: i32, dy: i32) {
    let dest = Rect {
        x: (i64::from(rect.x) + i64::from(dx)) as u32,
        y: (i64::from(rect.y) + i64::from(dy)) as u32,
        ..*rect
    };
    for row in 0..rect.h {
        target.row_mut(&dest, row).copy_from_slice(source.row(rect, row));
    }
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Forgets what the viewer has: the next update repaints everything.
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// The update that turns the viewer's frame into `frame`.
    pub fn encode(&mut self, frame: &Frame) -> Update {
        let (width, height) = (frame.width(), frame.height());
        let mut ops = Vec::new();
        let reference = match self.previous.take() {
            Some(previous) if previous.width() == width && previous.height() == height => {
                let copies = scroll::detect(&previous, frame);
                if copies.is_empty() {
                    previous
                } else {
                    let mut moved = previous.clone();
                    for op in &copies {
                        if let Op::Copy { rect, dx, dy } = op {
                            apply_copy(&previous, &mut moved, rect, *dx, *dy);
                        }
                    }
                    ops = copies;
                    moved
                }
            }
            // First frame or a new size: the decoder starts from black.
            _ => Frame::solid(width, height, 0).expect("same size as a valid frame"),
        };
        let mut raw = Vec::new();
        for ty in (0..height).step_by(TILE as usize) {
            for tx in (0..width).step_by(TILE as usize) {
                let tile = Rect { x: tx, y: ty, w: TILE.min(width - tx), h: TILE.min(height - ty) };
                // Only the rows of the tile that changed.
                let differs = |r: &u32| reference.row(&tile, *r) != frame.row(&tile, *r);
                let Some(first) = (0..tile.h).find(differs) else { continue };
                let last = (0..tile.h).rev().find(differs).expect("a row differs");
                let rect = Rect { y: tile.y + first, h: last - first + 1, ..tile };
                let op = encode_tile(frame, rect, &mut raw);
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
        let raw = if raw.is_empty() {
            Vec::new()
        } else {
            zstd::bulk::compress(&raw, RAW_LEVEL).expect("compressing into memory cannot fail")
        };
        self.previous = Some(frame.clone());
        Update { width, height, ops, raw }
    }
}

/// The cheapest operation for one tile; raw pixels are appended to `raw`.
fn encode_tile(frame: &Frame, rect: Rect, raw: &mut Vec<u8>) -> Op {
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
            for r in 0..rect.h {
                for &p in frame.row(&rect, r) {
                    raw.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
                }
            }
            Op::Raw { rect }
        }
        n => {
            let bits = bits_for(n);
            let mut indices = Vec::with_capacity(packed_len(rect.w, rect.h, bits));
            for r in 0..rect.h {
                let mut byte = 0u8;
                let mut used = 0;
                for &p in frame.row(&rect, r) {
                    let index = colors
                        .iter()
                        .position(|&c| c == p)
                        .expect("every pixel's colour is listed")
                        as u8;
                    byte |= index << (8 - bits - used);
                    used += bits;
                    if used == 8 {
                        indices.push(byte);
                        byte = 0;
                        used = 0;
                    }
                }
                if used > 0 {
                    indices.push(byte);
                }
            }
            Op::Palette { rect, colors, indices }
        }
    }
}

/// Bits per index for a palette of `n` colours.
pub(crate) fn bits_for(n: usize) -> u8 {
    match n {
        0..=2 => 1,
        3..=4 => 2,
        _ => 4,
    }
}

/// Bytes of packed indices for a `w`×`h` rectangle, rows padded to bytes.
pub(crate) fn packed_len(w: u32, h: u32, bits: u8) -> usize {
    (w as usize * bits as usize).div_ceil(8) * h as usize
}
