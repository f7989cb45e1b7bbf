//! The screen codec: lossless, sans-IO, pure functions over frames.
//!
//! An [`Encoder`] turns each captured [`Frame`] into an [`Update`] relative
//! to the last frame it encoded (which is what the viewer has); a
//! [`Decoder`] applies updates to its copy. A capture can instead hand
//! the encoder strips of BGRX rows as it gets them ([`Encoder::begin`],
//! [`PutRows`]): each strip is compared with the last frame on arrival and
//! only the tiles that changed are kept, so the encoder holds one whole
//! frame plus the changed tiles. Per update the encoder
//!
//! 1. finds content that moved and sends it as [`Op::Copy`] operations:
//!    whole rows scrolled vertically (a terminal: a few bytes instead of a
//!    repaint), failing that a per-tile motion search that finds several
//!    areas moving in any direction at once (dragged windows, panned maps
//!    and pages), keeping copies that are almost exact. All copies of an
//!    update read the frame as it was before it, so their order does not
//!    matter. Content that changes in place (video) stops being searched
//!    after searches find nothing, and is probed now and then;
//! 2. compares the result with the new frame in 64×64 tiles and takes
//!    from each changed tile only the rectangle around its changed pixels
//!    (an echoed character is a few columns, not a tile);
//! 3. sends each such rectangle the cheapest fitting way: [`Op::Fill`] for
//!    one colour, [`Op::Palette`] for up to 16 colours (text, packed
//!    indices), else [`Op::Pixels`]: each pixel predicted from its
//!    already-sent neighbours, or from what the viewer has there (the
//!    remainder of a near-exact copy, content that changed a little), red
//!    and blue optionally relative to green ([`Predictor`], [`Channels`]),
//!    and only the small residuals sent, as lossless image coders do;
//! 4. compresses the operations with their palette indices through a zstd
//!    stream that lives as long as the view (an update is one flush of
//!    it, so text seen a few frames ago, the same words on the next log
//!    line, costs a reference, as VNC's ZRLE does with its zlib stream),
//!    and the pixel residuals through zstd, a new frame per update. A
//!    fresh frame (the first, after a reset or resize) also has them coded
//!    with an adaptive range coder whose probabilities depend on the
//!    neighbouring residuals' size (`model.rs`): about 30% fewer bytes on
//!    photos, sent when smaller (zstd wins on anti-aliased text, whose
//!    glyphs repeat). Only fresh frames, because the range coder costs
//!    about as much time again as the rest of an update: worth it once
//!    per view, not 25 times a second in motion. The decoder takes
//!    either coding in any update.
//!
//! Because the streams carry state from update to update, updates must be
//! applied in the order they were made and none may be skipped; the
//! encoder marks the first update after a start, a reset or a size change
//! as [`Update::fresh`], where the decoder starts over.
//!
//! The decoder treats updates as hostile: every dimension, rectangle and
//! length is checked against the frame before use, decompression is capped
//! at what the operations can need (and the zstd window at 8 MiB), the
//! residual coding must end exactly where its bytes do, and a refused
//! update leaves the frame as it was ([`DecodeError`]).
//!
//! No I/O, no clock, no threads; the agent's capture and the controller's
//! window live elsewhere.

#![forbid(unsafe_code)]

mod decode;
mod encode;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod model;
mod moves;
mod ops;
mod pack;
mod predict;
mod range;
mod scroll;
mod tiles;

pub use decode::{DecodeError, Decoder};
pub use encode::{Encoder, Incoming};
pub use frame::{Frame, FrameError, MAX_DIMENSION, PutRows, Rect};
pub use moves::SearchCost;
pub use ops::Op;
pub use predict::{Channels, Predictor};

/// Tile edge in pixels: change detection and encoding work per tile.
pub const TILE: u32 = 64;

/// Most colours a palette tile carries.
pub const MAX_PALETTE: usize = 16;

/// What changed in one frame, as it goes on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The residuals of the [`Op::Pixels`] in order, three per pixel:
    /// empty if there are none, else a mode byte and, for 0, the range
    /// coder's coding (`model.rs`: the green coding's length, the green
    /// coding, the chroma coding), for 1, one zstd frame.
    pub pixels: Vec<u8>,
}

/// Largest encoded update accepted from the wire: the protocol's screen
/// frame limit.
pub const MAX_ENCODED_BYTES: usize = 64 << 20;

/// The first byte of an update's pixels: how the residuals are coded.
/// The range coder (`model.rs`) learns from every update it codes, so an
/// update coded with zstd leaves it as it was, on both sides.
const PIXELS_RANGE_CODED: u8 = 0;
const PIXELS_AS_ZSTD: u8 = 1;

/// Bits of an update's first wire byte.
const FLAG_FRESH: u8 = 1;
const FLAG_PIXELS: u8 = 2;

impl Update {
    /// True when nothing changed (the agent then sends nothing at all).
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty() && self.pixels.is_empty()
    }

    /// The update's wire form, a few bytes around the two streams' pieces
    /// (an echoed keystroke is tens of bytes, so the header counts): one
    /// flags byte (fresh; pixels present), the width and height as LEB128
    /// varints (two bytes each for a screen), the shapes' length as a
    /// varint when pixels follow, the shapes, then the pixels to the end.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.shapes.len() + self.pixels.len());
        let has_pixels = !self.pixels.is_empty();
        out.push(
            if self.fresh { FLAG_FRESH } else { 0 } | if has_pixels { FLAG_PIXELS } else { 0 },
        );
        put_varint(&mut out, u64::from(self.width));
        put_varint(&mut out, u64::from(self.height));
        if has_pixels {
            put_varint(&mut out, self.shapes.len() as u64);
        }
        out.extend_from_slice(&self.shapes);
        out.extend_from_slice(&self.pixels);
        out
    }

    /// Parses an update from the wire, bounded by [`MAX_ENCODED_BYTES`]:
    /// a length that claims more than the bytes hold fails before anything
    /// is allocated. The result still has to pass [`Decoder::apply`]'s
    /// checks.
    pub fn from_bytes(bytes: &[u8]) -> Result<Update, DecodeError> {
        let malformed = |what: &str| DecodeError::Malformed(what.to_owned());
        if bytes.len() > MAX_ENCODED_BYTES {
            return Err(DecodeError::Malformed(format!(
                "{} bytes exceed the {MAX_ENCODED_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let (&flags, mut rest) = bytes.split_first().ok_or_else(|| malformed("empty update"))?;
        if flags & !(FLAG_FRESH | FLAG_PIXELS) != 0 {
            return Err(malformed("unknown flags"));
        }
        let width = take_varint(&mut rest).and_then(|v| u32::try_from(v).ok());
        let height = take_varint(&mut rest).and_then(|v| u32::try_from(v).ok());
        let (Some(width), Some(height)) = (width, height) else {
            return Err(malformed("bad frame size"));
        };
        let (shapes, pixels) = if flags & FLAG_PIXELS != 0 {
            let len = take_varint(&mut rest)
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&len| len <= rest.len())
                .ok_or_else(|| malformed("shapes length past the end"))?;
            let (shapes, pixels) = rest.split_at(len);
            if pixels.is_empty() {
                return Err(malformed("pixels flagged but absent"));
            }
            (shapes, pixels)
        } else {
            (rest, &[][..])
        };
        Ok(Update {
            width,
            height,
            fresh: flags & FLAG_FRESH != 0,
            shapes: shapes.to_vec(),
            pixels: pixels.to_vec(),
        })
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an LEB128 varint of at most 5 bytes (32 bits) from the front of
/// `bytes`.
pub(crate) fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..5 {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_round_trips_and_refuses_lies() {
        let update = Update {
            width: 1920,
            height: 1080,
            fresh: true,
            shapes: vec![1, 2, 3],
            pixels: vec![9; 300],
        };
        let bytes = update.to_bytes();
        assert_eq!(bytes.len(), 1 + 2 + 2 + 1 + 3 + 300);
        assert_eq!(Update::from_bytes(&bytes).unwrap(), update);
        let small =
            Update { width: 80, height: 24, fresh: false, shapes: vec![7; 20], pixels: vec![] };
        assert_eq!(small.to_bytes().len(), 1 + 1 + 1 + 20, "no length without pixels");
        assert_eq!(Update::from_bytes(&small.to_bytes()).unwrap(), small);
        for bad in [
            &[][..],
            &[4, 1, 1][..],
            &[0, 0x80, 0x80, 0x80, 0x80, 0x80, 1][..],
            &[2, 10, 10, 5, 1, 2][..],
            &[2, 10, 10, 2, 1, 2][..],
            &[0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1][..],
        ] {
            assert!(Update::from_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
