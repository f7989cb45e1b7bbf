//! Updates to frames, trusting nothing in them.

use crate::frame::{Frame, FrameError, check_size};
use crate::model::{Model, ModelDecoder};
use crate::ops::{Op, apply_copies, bits_for, draw_palette, packed_len, shifted};
use crate::pack::Unpacker;
use crate::predict::{self, Coding};
use crate::{MAX_PALETTE, TILE, Update};

/// Why an update was refused. The decoder's frame is unchanged then.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("operation {0} lies outside the frame")]
    Outside(usize),
    #[error("copy {0} follows a drawing operation")]
    LateCopy(usize),
    #[error("the update copies {0} pixels, more than its frame has")]
    TooMuchCopied(u64),
    #[error("operation {0} has a malformed palette")]
    Palette(usize),
    #[error("the update has {0} operations, more than a frame this size needs")]
    TooManyOps(usize),
    #[error("the update's data does not match its operations: {0}")]
    Data(String),
    #[error("the update continues streams this decoder does not have: {0}")]
    OutOfStep(&'static str),
    #[error("malformed update: {0}")]
    Malformed(String),
}

/// Bytes one operation takes at most in bincode (a palette with 16
/// colours), to bound the shapes stream before parsing it.
const MAX_OP_BYTES: usize = 4 + 4 * 5 + 1 + MAX_PALETTE * 5;

/// Holds the viewer's copy of the screen, the decompressing end of the
/// shapes stream and what the residual coder learned.
#[derive(Debug, Default)]
pub struct Decoder {
    frame: Option<Frame>,
    shapes: Unpacker,
    /// What the residuals' coder learned from earlier updates.
    pixels: Model,
    /// For residuals that came as a zstd frame.
    pixels_zstd: Unpacker,
    /// An earlier update failed after its streams were read: later
    /// updates cannot be decompressed until a fresh one.
    broken: bool,
    ops: Vec<Op>,
    /// Pixels gathered by copies, reused.
    scratch: Vec<u32>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// The current frame, once an update has been applied.
    pub fn frame(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// The current frame, taking it from the decoder (which is done with
    /// it): a one-shot decode keeps one frame, not a frame and its copy.
    pub fn into_frame(self) -> Option<Frame> {
        self.frame
    }

    /// The operations of the last update applied (for tests and figures).
    pub fn last_ops(&self) -> &[Op] {
        &self.ops
    }

    /// Applies an update; on error the frame does not change (every check
    /// runs before the first pixel is drawn).
    pub fn apply(&mut self, update: &Update) -> Result<&Frame, DecodeError> {
        let (width, height) = (update.width, update.height);
        check_size(width, height)?;
        let same_size =
            self.frame.as_ref().is_some_and(|f| f.width() == width && f.height() == height);
        if update.fresh {
            self.shapes.reset();
            self.pixels.reset();
            self.broken = false;
        } else if self.broken {
            return Err(DecodeError::OutOfStep("an earlier update failed"));
        } else if self.frame.is_some() && !same_size {
            return Err(DecodeError::OutOfStep("the size changed without a fresh start"));
        }
        let contents = match self.read(update) {
            Ok(contents) => contents,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        let mut next = match self.frame.take() {
            Some(frame) if same_size && !update.fresh => frame,
            other => {
                self.frame = other;
                Frame::solid(width, height, 0)?
            }
        };
        draw(&contents, &mut next, &mut self.scratch);
        self.ops = contents.ops;
        Ok(self.frame.insert(next))
    }

    /// Decompresses and checks everything an update says: its operations,
    /// their palette indices and their pixel residuals.
    fn read(&mut self, update: &Update) -> Result<Contents, DecodeError> {
        let (width, height) = (update.width, update.height);
        if update.shapes.is_empty() {
            if !update.pixels.is_empty() {
                return Err(DecodeError::Data("pixels without operations".into()));
            }
            return Ok(Contents::default());
        }
        // Every tile once, plus a copy per tile (moved windows) and two per
        // tile row (scrolls): the encoder never sends more.
        let tiles = (width.div_ceil(TILE) as usize) * (height.div_ceil(TILE) as usize);
        let max_ops = tiles * 2 + height.div_ceil(TILE) as usize * 2 + 16;
        let area = width as usize * height as usize;
        let shapes_limit = 8 + max_ops * MAX_OP_BYTES + area.div_ceil(2);
        let shapes = self.shapes.unpack(&update.shapes, shapes_limit).map_err(DecodeError::Data)?;
        let config = bincode::config::standard().with_limit::<{ 64 << 20 }>();
        let (ops, used): (Vec<Op>, usize) = bincode::serde::decode_from_slice(&shapes, config)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if ops.len() > max_ops {
            return Err(DecodeError::TooManyOps(ops.len()));
        }
        let (indices_len, residuals_len) = check(&ops, width, height)?;
        let indices = &shapes[used..];
        if indices.len() as u64 != indices_len {
            return Err(DecodeError::Data(format!(
                "{} bytes of palette indices, {indices_len} expected",
                indices.len()
            )));
        }
        let residuals = match (residuals_len, update.pixels.is_empty()) {
            (0, true) => Vec::new(),
            (0, false) => return Err(DecodeError::Data("pixels without pixel operations".into())),
            (_, true) => return Err(DecodeError::Data("pixel operations without pixels".into())),
            (n, false) if update.pixels[0] == crate::PIXELS_AS_ZSTD => {
                let n = n as usize;
                // A zstd frame of its own: no history to keep.
                self.pixels_zstd.reset();
                let data =
                    self.pixels_zstd.unpack(&update.pixels[1..], n).map_err(DecodeError::Data)?;
                if data.len() != n {
                    return Err(DecodeError::Data(format!(
                        "{} bytes of pixels, {n} expected",
                        data.len()
                    )));
                }
                data
            }
            (_, false) if update.pixels[0] == crate::PIXELS_RANGE_CODED => {
                // `check` bounded the rectangles' total by the frame; each
                // one's room is reserved only as it is decoded, so a short
                // stream stops before claiming the rest.
                let mut data = Vec::new();
                let mut decoder = ModelDecoder::new(&mut self.pixels, &update.pixels[1..])
                    .map_err(DecodeError::Data)?;
                for op in &ops {
                    if let Op::Pixels { rect, .. } = op {
                        decoder
                            .get(rect.w as usize, rect.h as usize, &mut data)
                            .map_err(DecodeError::Data)?;
                    }
                }
                decoder.finish().map_err(DecodeError::Data)?;
                data
            }
            (_, false) => return Err(DecodeError::Data("unknown pixel coding".into())),
        };
        Ok(Contents { indices: indices.to_vec(), ops, residuals })
    }
}

/// What an update carries, decompressed and checked.
#[derive(Default)]
struct Contents {
    ops: Vec<Op>,
    /// Palette indices of the `Palette` operations, in order.
    indices: Vec<u8>,
    /// Residuals of the `Pixels` operations, in order.
    residuals: Vec<u8>,
}

/// Checks every operation against a `width`×`height` frame; returns how
/// many bytes of palette indices and of pixel residuals they need.
fn check(ops: &[Op], width: u32, height: u32) -> Result<(u64, u64), DecodeError> {
    let (mut indices, mut residuals, mut copied) = (0u64, 0u64, 0u64);
    let mut drawn = false;
    for (i, op) in ops.iter().enumerate() {
        let rect = match op {
            Op::Copy { rect, dx, dy } => {
                if drawn {
                    return Err(DecodeError::LateCopy(i));
                }
                if !shifted(rect, *dx, *dy).is_some_and(|d| d.fits(width, height)) {
                    return Err(DecodeError::Outside(i));
                }
                copied += rect.area();
                rect
            }
            Op::Fill { rect, .. } => rect,
            Op::Palette { rect, colors } => {
                if !(2..=MAX_PALETTE).contains(&colors.len()) {
                    return Err(DecodeError::Palette(i));
                }
                if rect.fits(width, height) {
                    indices += packed_len(rect.w, rect.h, bits_for(colors.len())) as u64;
                }
                rect
            }
            Op::Pixels { rect, .. } => {
                residuals += rect.area() * 3;
                rect
            }
        };
        drawn |= !matches!(op, Op::Copy { .. });
        if !rect.fits(width, height) {
            return Err(DecodeError::Outside(i));
        }
    }
    // Copies gather their sources before writing: bounded by the frame.
    if copied > u64::from(width) * u64::from(height) {
        return Err(DecodeError::TooMuchCopied(copied));
    }
    let frame_bytes = u64::from(width) * u64::from(height) * 3;
    if residuals > frame_bytes {
        return Err(DecodeError::Data(format!(
            "{residuals} bytes of pixels claimed for a {frame_bytes}-byte frame"
        )));
    }
    Ok((indices, residuals))
}

/// Draws checked operations: the copies (which come first) together, each
/// reading the frame as it was before the update, then the rest in order.
fn draw(contents: &Contents, frame: &mut Frame, scratch: &mut Vec<u32>) {
    let Contents { ops, indices, residuals } = contents;
    let copies: Vec<(crate::Rect, i32, i32)> = ops
        .iter()
        .map_while(|op| match op {
            Op::Copy { rect, dx, dy } => Some((*rect, *dx, *dy)),
            _ => None,
        })
        .collect();
    apply_copies(frame, &copies, scratch);
    let (mut indices_at, mut residuals_at) = (0, 0);
    for op in &ops[copies.len()..] {
        match op {
            // `check` refused copies after the first drawing operation.
            Op::Copy { .. } => {}
            Op::Fill { rect, color } => {
                for r in 0..rect.h {
                    frame.row_mut(rect, r).fill(color & 0xFF_FFFF);
                }
            }
            Op::Palette { rect, colors } => {
                let n = packed_len(rect.w, rect.h, bits_for(colors.len()));
                draw_palette(frame, rect, colors, &indices[indices_at..indices_at + n]);
                indices_at += n;
            }
            Op::Pixels { rect, predictor, channels } => {
                let n = rect.area() as usize * 3;
                let coding = Coding { predictor: *predictor, channels: *channels };
                predict::reconstruct(frame, rect, coding, &residuals[residuals_at..][..n]);
                residuals_at += n;
            }
        }
    }
}
