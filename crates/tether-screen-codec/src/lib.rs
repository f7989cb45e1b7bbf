//! The screen codec: lossless, sans-IO, pure functions over frames.
//!
//! An [`Encoder`] turns each captured [`Frame`] into an [`Update`] relative
//! to the last frame it encoded (which is what the viewer has); a
//! [`Decoder`] applies updates to its copy. Per update the encoder
//!
//! 1. detects vertical scrolling (rows of the new frame found shifted in
//!    the old one) and sends it as [`Op::Copy`] operations, so a scrolling
//!    terminal costs a few bytes instead of a repaint;
//! 2. compares the result with the new frame in 64×64 tiles;
//! 3. sends each changed tile the cheapest fitting way: [`Op::Fill`] for
//!    one colour, [`Op::Palette`] for up to 16 colours (text), else
//!    [`Op::Raw`], whose pixels go into one zstd stream per update.
//!
//! The decoder treats updates as hostile: every dimension, rectangle and
//! length is checked against the frame before use, and decompression is
//! capped at the exact size the update implies ([`DecodeError`]).
//!
//! No I/O, no clock, no threads; the agent's capture and the controller's
//! window live elsewhere.

mod decode;
mod encode;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod scroll;

pub use decode::{DecodeError, Decoder};
pub use encode::Encoder;
pub use frame::{Frame, FrameError, MAX_DIMENSION, Rect};

use serde::{Deserialize, Serialize};

/// Tile edge in pixels: change detection and encoding work per tile.
pub const TILE: u32 = 64;

/// Most colours a palette tile carries.
pub const MAX_PALETTE: usize = 16;

/// One drawing operation, applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Copy `rect` from the frame as it was before this update, moved by
    /// (`dx`, `dy`): scrolling and moved windows.
    Copy { rect: Rect, dx: i32, dy: i32 },
    /// Fill `rect` with one colour (`0x00RRGGBB`).
    Fill { rect: Rect, color: u32 },
    /// `rect` drawn from `colors` by packed indices (1, 2 or 4 bits per
    /// pixel for 2, 4 or 16 colours), rows padded to whole bytes.
    Palette { rect: Rect, colors: Vec<u32>, indices: Vec<u8> },
    /// `rect` as RGB bytes, the next `w * h * 3` bytes of the update's
    /// decompressed raw stream.
    Raw { rect: Rect },
}

/// What changed in one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The frame's size; a change of size starts from a black frame.
    pub width: u32,
    pub height: u32,
    pub ops: Vec<Op>,
    /// zstd-compressed RGB of every [`Op::Raw`], in order.
    pub raw: Vec<u8>,
}

/// Largest encoded update accepted from the wire: the protocol's screen
/// frame limit.
pub const MAX_ENCODED_BYTES: usize = 64 << 20;

impl Update {
    /// True when nothing changed (the agent then sends nothing at all).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
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
