//! Drawing operations: what an update is made of, and how each is drawn.

use serde::{Deserialize, Serialize};

use crate::frame::{Frame, Image, Rect};
use crate::predict::{Channels, Predictor};

/// One drawing operation. An update's copies come first; all of them read
/// the frame as it was before the update (so copies may overlap each
/// other's sources and destinations in any order), then the other
/// operations draw in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Copy `rect` of the frame as it was before the update to `rect`
    /// moved by (`dx`, `dy`): scrolling, moved windows, panned content.
    Copy { rect: Rect, dx: i32, dy: i32 },
    /// Fill `rect` with one colour (`0x00RRGGBB`).
    Fill { rect: Rect, color: u32 },
    /// `rect` drawn from `colors` by indices packed 1, 2 or 4 bits per
    /// pixel (for 2, 3–4 or 5–16 colours), rows padded to whole bytes; the
    /// indices follow the operations in the shapes stream.
    Palette { rect: Rect, colors: Vec<u32> },
    /// `rect` as residuals against `predictor`, their channels as
    /// `channels` says, `w * h * 3` bytes of the update's residuals.
    Pixels { rect: Rect, predictor: Predictor, channels: Channels },
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

/// Packs the indices of `rect`'s pixels into `out`; every pixel's colour
/// must be in `colors`.
pub(crate) fn pack_palette(frame: &dyn Image, rect: &Rect, colors: &[u32], out: &mut Vec<u8>) {
    let bits = bits_for(colors.len());
    for r in 0..rect.h {
        let mut byte = 0u8;
        let mut used = 0;
        for &p in frame.row(rect, r) {
            let index =
                colors.iter().position(|&c| c == p).expect("every pixel's colour is listed") as u8;
            byte |= index << (8 - bits - used);
            used += bits;
            if used == 8 {
                out.push(byte);
                byte = 0;
                used = 0;
            }
        }
        if used > 0 {
            out.push(byte);
        }
    }
}

/// Draws packed indices; `indices` has exactly [`packed_len`] bytes.
pub(crate) fn draw_palette(frame: &mut Frame, rect: &Rect, colors: &[u32], indices: &[u8]) {
    let bits = bits_for(colors.len());
    let per_row = packed_len(rect.w, 1, bits);
    let mask = (1u8 << bits) - 1;
    for r in 0..rect.h {
        let packed = &indices[r as usize * per_row..(r as usize + 1) * per_row];
        for (x, p) in frame.row_mut(rect, r).iter_mut().enumerate() {
            let bit = x * bits as usize;
            let index = (packed[bit / 8] >> (8 - bits as usize - bit % 8)) & mask;
            // An index past the palette (possible with 4 bits and fewer
            // than 16 colours) draws the last colour rather than failing.
            *p = colors[(index as usize).min(colors.len() - 1)] & 0xFF_FFFF;
        }
    }
}

/// Where `rect` lands moved by (`dx`, `dy`), if that is representable.
pub(crate) fn shifted(rect: &Rect, dx: i32, dy: i32) -> Option<Rect> {
    let x = u32::try_from(i64::from(rect.x) + i64::from(dx)).ok()?;
    let y = u32::try_from(i64::from(rect.y) + i64::from(dy)).ok()?;
    Some(Rect { x, y, ..*rect })
}

/// Applies `copies` (source rectangle, offset; each already checked to fit
/// both ways) to `frame`, every one reading the frame as it was before the
/// first: the sources are gathered, then written. `scratch` holds the
/// gathered pixels (at most the copies' total area) and is reused.
pub(crate) fn apply_copies(frame: &mut Frame, copies: &[(Rect, i32, i32)], scratch: &mut Vec<u32>) {
    scratch.clear();
    for (rect, _, _) in copies {
        for r in 0..rect.h {
            scratch.extend_from_slice(frame.row(rect, r));
        }
    }
    let mut at = 0;
    for (rect, dx, dy) in copies {
        let dest = shifted(rect, *dx, *dy).expect("checked to fit");
        for r in 0..rect.h {
            let n = rect.w as usize;
            frame.row_mut(&dest, r).copy_from_slice(&scratch[at..at + n]);
            at += n;
        }
    }
}
