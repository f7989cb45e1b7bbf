//! Updates to frames, trusting nothing in them.

use crate::encode::{apply_copy, bits_for, packed_len};
use crate::frame::{Frame, FrameError, Rect};
use crate::{MAX_PALETTE, Op, TILE, Update};

/// Why an update was refused. The decoder's frame is unchanged then.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("operation {0} lies outside the frame")]
    Outside(usize),
    #[error("operation {0} has a malformed palette")]
    Palette(usize),
    #[error("the update has {0} operations, more than a frame this size needs")]
    TooManyOps(usize),
    #[error("the raw pixels do not match their operations: {0}")]
    Raw(String),
    #[error("malformed update: {0}")]
    Malformed(String),
}

/// Holds the viewer's copy of the screen.
#[derive(Debug, Default)]
pub struct Decoder {
    frame: Option<Frame>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// The current frame, once an update has been applied.
    pub fn frame(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// Applies an update; on error nothing changes (every check runs
    /// before the first pixel is drawn).
    pub fn apply(&mut self, update: &Update) -> Result<&Frame, DecodeError> {
        let (width, height) = (update.width, update.height);
        let same_size =
            self.frame.as_ref().is_some_and(|f| f.width() == width && f.height() == height);
        let mut next = match self.frame.take() {
            Some(f) if same_size => f,
            other => {
                self.frame = other;
                Frame::solid(width, height, 0)?
            }
        };
        let result = Self::draw(update, &mut next);
        if result.is_ok() || same_size {
            self.frame = Some(next);
        }
        result.map(|()| self.frame.as_ref().expect("just set"))
    }

    fn draw(update: &Update, next: &mut Frame) -> Result<(), DecodeError> {
        let (width, height) = (update.width, update.height);
        // Every tile once, plus a copy per tile row: the encoder never sends
        // more.
        let tiles = (width.div_ceil(TILE) as usize) * (height.div_ceil(TILE) as usize);
        let max_ops = tiles + height.div_ceil(TILE) as usize * 2 + 16;
        if update.ops.len() > max_ops {
            return Err(DecodeError::TooManyOps(update.ops.len()));
        }
        // Check everything before touching a pixel.
        let mut raw_len: u64 = 0;
        let mut copies = false;
        for (i, op) in update.ops.iter().enumerate() {
            match op {
                Op::Copy { rect, dx, dy } => {
                    let dest = shifted(rect, *dx, *dy);
                    if !rect.fits(width, height) || !dest.is_some_and(|d| d.fits(width, height)) {
                        return Err(DecodeError::Outside(i));
                    }
                    copies = true;
                }
                Op::Fill { rect, .. } => {
                    if !rect.fits(width, height) {
                        return Err(DecodeError::Outside(i));
                    }
                }
                Op::Palette { rect, colors, indices } => {
                    if !rect.fits(width, height) {
                        return Err(DecodeError::Outside(i));
                    }
                    let n = colors.len();
                    if !(2..=MAX_PALETTE).contains(&n)
                        || indices.len() != packed_len(rect.w, rect.h, bits_for(n))
                    {
                        return Err(DecodeError::Palette(i));
                    }
                }
                Op::Raw { rect } => {
                    if !rect.fits(width, height) {
                        return Err(DecodeError::Outside(i));
                    }
                    raw_len += rect.area() * 3;
                }
            }
        }
        let frame_bytes = u64::from(width) * u64::from(height) * 3;
        if raw_len > frame_bytes {
            return Err(DecodeError::Raw(format!(
                "{raw_len} bytes claimed for a {frame_bytes}-byte frame"
            )));
        }
        let raw = if raw_len == 0 {
            if !update.raw.is_empty() {
                return Err(DecodeError::Raw("raw bytes without raw operations".into()));
            }
            Vec::new()
        } else {
            // Capped at exactly what the operations need.
            let raw = zstd::bulk::decompress(&update.raw, raw_len as usize)
                .map_err(|e| DecodeError::Raw(e.to_string()))?;
            if raw.len() as u64 != raw_len {
                return Err(DecodeError::Raw(format!("{} bytes, {raw_len} expected", raw.len())));
            }
            raw
        };
        let before = copies.then(|| next.clone());
        let mut raw_at = 0;
        for op in &update.ops {
            match op {
                Op::Copy { rect, dx, dy } => apply_copy(
                    before.as_ref().expect("cloned when copies exist"),
                    next,
                    rect,
                    *dx,
                    *dy,
                ),
                Op::Fill { rect, color } => {
                    for r in 0..rect.h {
                        next.row_mut(rect, r).fill(color & 0xFF_FFFF);
                    }
                }
                Op::Palette { rect, colors, indices } => draw_palette(next, rect, colors, indices),
                Op::Raw { rect } => {
                    for r in 0..rect.h {
                        let row = next.row_mut(rect, r);
                        let bytes = &raw[raw_at..raw_at + row.len() * 3];
                        for (p, rgb) in row.iter_mut().zip(bytes.chunks_exact(3)) {
                            *p = u32::from(rgb[0]) << 16
                                | u32::from(rgb[1]) << 8
                                | u32::from(rgb[2]);
                        }
                        raw_at += bytes.len();
                    }
                }
            }
        }
        Ok(())
    }
}

fn shifted(rect: &Rect, dx: i32, dy: i32) -> Option<Rect> {
    let x = u32::try_from(i64::from(rect.x) + i64::from(dx)).ok()?;
    let y = u32::try_from(i64::from(rect.y) + i64::from(dy)).ok()?;
    Some(Rect { x, y, ..*rect })
}

fn draw_palette(frame: &mut Frame, rect: &Rect, colors: &[u32], indices: &[u8]) {
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
