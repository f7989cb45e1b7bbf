//! The screen codec: lossless, sans-IO, pure functions over frames.
//!
//! An [`Encoder`] turns each captured [`Frame`] into an [`Update`] relative
//! to the last frame it encoded (which is what the viewer has); a
//! [`Decoder`] applies updates to its copy. Per update the encoder
//!
//! 1. detects vertical scrolling (rows of the new frame found shifted in
//!    the old one) and sends it as [`Op::Copy`] operations, so a scrolling
//!    terminal costs a few bytes instead of a repaint; failing that, a
//!    block moved in any direction (a dragged window) is looked for and
//!    sent as copies too;
//! 2. compares the result with the new frame in 64×64 tiles;
//! 3. sends each changed tile the cheapest fitting way: [`Op::Fill`] for
//!    one colour, [`Op::Palette`] for up to 16 colours (text, packed
//!    indices), else [`Op::Pixels`]: each pixel predicted from its
//!    already-sent neighbours ([`Predictor`]) and only the small residuals
//!    sent, as lossless image coders do;
//! 4. compresses the operations with their palette indices, and the pixel
//!    residuals, each through its own zstd stream that lives as long as the
//!    view: an update is one flush of each stream, so text seen a few
//!    frames ago (the same words on the next log line) costs a reference,
//!    as VNC's ZRLE does with its zlib stream.
//!
//! Because the streams carry state from update to update, updates must be
//! applied in the order they were made and none may be skipped; the
//! encoder marks the first update after a start, a reset or a size change
//! as [`Update::fresh`], where the decoder starts over.
//!
//! The decoder treats updates as hostile: every dimension, rectangle and
//! length is checked against the frame before use, decompression is capped
//! at what the operations can need (and the zstd window at 8 MiB), and a
//! refused update leaves the frame as it was ([`DecodeError`]).
//!
//! No I/O, no clock, no threads; the agent's capture and the controller's
//! window live elsewhere.

#![forbid(unsafe_code)]

mod decode;
mod encode;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod moves;
mod ops;
mod pack;
mod predict;
mod scroll;

pub use decode::{DecodeError, Decoder};
pub use encode::Encoder;
pub use frame::{Frame, FrameError, MAX_DIMENSION, Rect};
pub use ops::Op;
pub use predict::Predictor;

use serde::{Deserialize, Serialize};

/// Tile edge in pixels: change detection and encoding work per tile.
pub const TILE: u32 = 64;

/// Most colours a palette tile carries.
pub const MAX_PALETTE: usize = 16;

/// What changed in one frame, as it goes on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The frame's size; a change of size comes with `fresh`.
    pub width: u32,
    pub height: u32,
    /// The encoder started over (first update, reset, new size): the
    /// decoder starts from a black frame and new compression streams.
    pub fresh: bool,
    /// The operations (bincode) followed by the palette indices of the
    /// [`Op::Palette`]s in order: one flush of the "shapes" zstd stream.
    /// Empty when nothing changed.
    pub shapes: Vec<u8>,
    /// The residuals of the [`Op::Pixels`] in order, three bytes per pixel:
    /// one flush of the "pixels" zstd stream, or empty if there are none.
    pub pixels: Vec<u8>,
}

/// Largest encoded update accepted from the wire: the protocol's screen
/// frame limit.
pub const MAX_ENCODED_BYTES: usize = 64 << 20;

impl Update {
    /// True when nothing changed (the agent then sends nothing at all).
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty() && self.pixels.is_empty()
    }

    /// The update's wire form (bincode).
    pub fn to_bytes(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("updates always encode")
    }

    /// Parses an update from the wire, bounded by [`MAX_ENCODED_BYTES`]:
    /// a length that claims more fails before anything is allocated.
    /// The result still has to pass [`Decoder::apply`]'s checks.
    pub fn from_bytes(bytes: &[u8]) -> Result<Update, DecodeError> {
        if bytes.len() > MAX_ENCODED_BYTES {
            return Err(DecodeError::Malformed(format!(
                "{} bytes exceed the {MAX_ENCODED_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let config = bincode::config::standard().with_limit::<MAX_ENCODED_BYTES>();
        match bincode::serde::decode_from_slice::<Update, _>(bytes, config) {
            Ok((update, used)) if used == bytes.len() => Ok(update),
            Ok((_, used)) => {
                Err(DecodeError::Malformed(format!("{} trailing bytes", bytes.len() - used)))
            }
            Err(e) => Err(DecodeError::Malformed(e.to_string())),
        }
    }
}
