//! Frames: 32-bit pixels `0x00RRGGBB`, row-major, no padding.

use serde::{Deserialize, Serialize};

/// Largest width or height accepted (8K is 7680).
pub const MAX_DIMENSION: u32 = 8192;

/// A rectangle in a frame.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// True if the rectangle is non-empty and lies inside `width`×`height`.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.w > 0
            && self.h > 0
            && self.x.checked_add(self.w).is_some_and(|r| r <= width)
            && self.y.checked_add(self.h).is_some_and(|b| b <= height)
    }

    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame size {0}x{1} is outside 1..={MAX_DIMENSION}")]
    Size(u32, u32),
    #[error("a {width}x{height} frame with stride {stride} needs {needed} bytes, got {got}")]
    Short { width: u32, height: u32, stride: usize, needed: usize, got: usize },
    /// Rows of a frame arriving in strips came out of order.
    #[error("rows from {got} arrived where row {expected} was due")]
    OutOfOrder { expected: u32, got: u32 },
    /// A frame arriving in strips was encoded before all its rows came.
    #[error("only {got} of the frame's {height} rows arrived")]
    Incomplete { got: u32, height: u32 },
    /// Rows were skipped as unchanged where every row is needed (a fresh
    /// frame, or no last frame to take them from).
    #[error("rows {y}..{end} were skipped, but this frame needs every row")]
    RowsNeeded { y: u32, end: u64 },
    /// Rows were skipped past the bottom of the frame.
    #[error("rows up to {end} were skipped in a frame {height} rows tall")]
    PastEnd { end: u64, height: u32 },
}

/// Takes a frame's pixels as BGRX bytes (X11 and most capture APIs),
/// strips of rows from the top down: a [`Frame`], or the
/// [`Incoming`](crate::Incoming) frame of an encoder, which compares each
/// strip with what the viewer has as it arrives.
pub trait PutRows {
    /// Takes `rows` rows from row `y` down, `stride` bytes apart.
    fn put_bgrx_rows(
        &mut self,
        y: u32,
        rows: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<(), FrameError>;

    /// False if rows the caller knows to be unchanged since the last
    /// frame may be skipped with [`PutRows::same_rows`] instead of given
    /// (an encoder's next frame); true if every row must come (a
    /// [`Frame`], an encoder's fresh frame).
    fn needs_every_row(&self) -> bool {
        true
    }

    /// Takes rows `y..y + rows` as they were in the last frame, in their
    /// place in the top-down order. Only where
    /// [`PutRows::needs_every_row`] is false; elsewhere
    /// [`FrameError::RowsNeeded`]. No rows is always fine.
    fn same_rows(&mut self, y: u32, rows: u32) -> Result<(), FrameError> {
        if rows == 0 {
            return Ok(());
        }
        Err(FrameError::RowsNeeded { y, end: u64::from(y) + u64::from(rows) })
    }
}

/// Read access to the rows of a picture: a whole [`Frame`], a [`Blank`]
/// one, or a frame known by its changed tiles (`tiles.rs`), whose rows
/// are contiguous only within a tile: callers ask such an image only for
/// rows of rectangles inside one column of tiles.
pub(crate) trait Image {
    fn width(&self) -> u32;
    fn height(&self) -> u32;
    /// Row `dy` of `rect`.
    fn row(&self, rect: &Rect, dy: u32) -> &[u32];
}

impl Image for Frame {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn row(&self, rect: &Rect, dy: u32) -> &[u32] {
        Frame::row(self, rect, dy)
    }
}

/// An all-black picture (what the decoder starts from) that costs one
/// row of memory, not a frame.
pub(crate) struct Blank {
    width: u32,
    height: u32,
    zeros: Vec<u32>,
}

impl Blank {
    pub(crate) fn new(width: u32, height: u32) -> Blank {
        Blank { width, height, zeros: vec![0; width as usize] }
    }
}

impl Image for Blank {
    fn width(&self) -> u32 {
        self.width
    }
    fn height(&self) -> u32 {
        self.height
    }
    fn row(&self, rect: &Rect, _dy: u32) -> &[u32] {
        &self.zeros[..rect.w as usize]
    }
}

/// Checks that `rows` rows of BGRX from row `y` down, `stride` bytes apart
/// in `len` bytes, fit a `width`×`height` frame.
pub(crate) fn check_rows(
    (width, height): (u32, u32),
    y: u32,
    rows: u32,
    stride: usize,
    len: usize,
) -> Result<(), FrameError> {
    let row = width as usize * 4;
    let needed = match (rows as usize).checked_sub(1) {
        Some(r) => stride.checked_mul(r).and_then(|n| n.checked_add(row)),
        None => Some(0),
    };
    let fits = y.checked_add(rows).is_some_and(|end| end <= height);
    match needed {
        Some(needed) if fits && stride >= row && len >= needed => Ok(()),
        _ => Err(FrameError::Short {
            width,
            height: rows,
            stride,
            needed: needed.unwrap_or(usize::MAX),
            got: len,
        }),
    }
}

/// One BGRX row as pixels `0x00RRGGBB` (the fourth byte is padding).
pub(crate) fn bgrx_to_pixels(from: &[u8], out: &mut [u32]) {
    for (p, b) in out.iter_mut().zip(from.chunks_exact(4)) {
        *p = u32::from_le_bytes([b[0], b[1], b[2], 0]);
    }
}

/// One screen image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

pub(crate) fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(FrameError::Size(width, height));
    }
    Ok(())
}

impl Frame {
    /// A frame of one colour.
    pub fn solid(width: u32, height: u32, color: u32) -> Result<Frame, FrameError> {
        check_size(width, height)?;
        Ok(Frame {
            width,
            height,
            pixels: vec![color & 0xFF_FFFF; width as usize * height as usize],
        })
    }

    /// A frame from BGRX bytes (X11 and most capture APIs), rows `stride`
    /// bytes apart.
    pub fn from_bgrx(
        width: u32,
        height: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<Frame, FrameError> {
        let mut frame = Frame::solid(width, height, 0)?;
        frame.put_bgrx_rows(0, height, stride, bytes)?;
        Ok(frame)
    }

    /// Overwrites `rows` rows from `y` down with BGRX bytes, rows
    /// `stride` bytes apart: for captures that arrive in strips.
    pub fn put_bgrx_rows(
        &mut self,
        y: u32,
        rows: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<(), FrameError> {
        check_rows((self.width, self.height), y, rows, stride, bytes.len())?;
        let (width, row) = (self.width as usize, self.width as usize * 4);
        let start = y as usize * width;
        let target = &mut self.pixels[start..start + rows as usize * width];
        for (line, out) in target.chunks_exact_mut(width).enumerate() {
            bgrx_to_pixels(&bytes[line * stride..line * stride + row], out);
        }
        Ok(())
    }

    /// Makes this frame a copy of `other`, reusing this frame's buffer when
    /// it is large enough: a viewer that mirrors a decoder's frame then
    /// copies pixels instead of allocating a third frame while two exist.
    pub fn copy_from(&mut self, other: &Frame) {
        self.width = other.width;
        self.height = other.height;
        self.pixels.clone_from(&other.pixels);
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixels `0x00RRGGBB`, row-major.
    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    pub fn pixel(&self, x: u32, y: u32) -> u32 {
        self.pixels[y as usize * self.width as usize + x as usize]
    }

    /// Row `y`, all of it.
    pub(crate) fn full_row(&self, y: u32) -> &[u32] {
        let start = y as usize * self.width as usize;
        &self.pixels[start..start + self.width as usize]
    }

    pub(crate) fn full_row_mut(&mut self, y: u32) -> &mut [u32] {
        let start = y as usize * self.width as usize;
        &mut self.pixels[start..start + self.width as usize]
    }

    /// One row of a rectangle.
    pub(crate) fn row(&self, rect: &Rect, dy: u32) -> &[u32] {
        let start = (rect.y + dy) as usize * self.width as usize + rect.x as usize;
        &self.pixels[start..start + rect.w as usize]
    }

    pub(crate) fn row_mut(&mut self, rect: &Rect, dy: u32) -> &mut [u32] {
        let start = (rect.y + dy) as usize * self.width as usize + rect.x as usize;
        &mut self.pixels[start..start + rect.w as usize]
    }

    /// Sets one pixel (tests and synthetic sources draw with it).
    pub fn set(&mut self, x: u32, y: u32, color: u32) {
        let i = y as usize * self.width as usize + x as usize;
        self.pixels[i] = color & 0xFF_FFFF;
    }

    /// Fills a rectangle (clipped to the frame).
    pub fn fill(&mut self, rect: Rect, color: u32) {
        for y in rect.y..(rect.y + rect.h).min(self.height) {
            for x in rect.x..(rect.x + rect.w).min(self.width) {
                self.set(x, y, color);
            }
        }
    }
}

impl PutRows for Frame {
    fn put_bgrx_rows(
        &mut self,
        y: u32,
        rows: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<(), FrameError> {
        Frame::put_bgrx_rows(self, y, rows, stride, bytes)
    }
}

/// The columns and rows where `old` and `new` differ, or `None` if equal.
pub(crate) fn changed_box(old: &dyn Image, new: &dyn Image) -> Option<Rect> {
    let full = Rect { x: 0, y: 0, w: new.width(), h: new.height() };
    let (mut x0, mut x1, mut y0, mut y1) = (u32::MAX, 0, u32::MAX, 0);
    for y in 0..new.height() {
        let (a, b) = (old.row(&full, y), new.row(&full, y));
        if a == b {
            continue;
        }
        let first = a.iter().zip(b).position(|(p, q)| p != q).unwrap_or(0) as u32;
        let last = a.iter().zip(b).rposition(|(p, q)| p != q).unwrap_or(0) as u32;
        x0 = x0.min(first);
        x1 = x1.max(last + 1);
        y0 = y0.min(y);
        y1 = y1.max(y + 1);
    }
    (y0 != u32::MAX).then(|| Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_from_reuses_the_buffer_of_a_frame_that_size() {
        let source = Frame::solid(64, 32, 0x123456).unwrap();
        let mut shown = Frame::solid(64, 32, 0).unwrap();
        let buffer = shown.pixels().as_ptr();
        shown.copy_from(&source);
        assert_eq!(shown, source);
        assert_eq!(shown.pixels().as_ptr(), buffer, "same size, same buffer");
        let mut smaller = Frame::solid(8, 8, 0).unwrap();
        smaller.copy_from(&source);
        assert_eq!(smaller, source);
    }

    #[test]
    fn bgrx_with_padding_becomes_pixels() {
        // 2x2, stride 12 (4 bytes of padding per row).
        let bytes = [
            0x01, 0x02, 0x03, 0xFF, 0x11, 0x12, 0x13, 0xFF, 0, 0, 0, 0, //
            0x21, 0x22, 0x23, 0xFF, 0x31, 0x32, 0x33, 0xFF, 0, 0, 0, 0,
        ];
        let f = Frame::from_bgrx(2, 2, 12, &bytes).unwrap();
        assert_eq!(f.pixels(), [0x030201, 0x131211, 0x232221, 0x333231]);
        assert!(Frame::from_bgrx(2, 2, 12, &bytes[..19]).is_err());
        assert!(Frame::from_bgrx(2, 2, 4, &bytes).is_err(), "stride shorter than a row");
        assert_eq!(Frame::solid(0, 5, 0), Err(FrameError::Size(0, 5)));
        // The same picture in two strips of one row each.
        let mut strips = Frame::solid(2, 2, 0x777777).unwrap();
        strips.put_bgrx_rows(1, 1, 12, &bytes[12..]).unwrap();
        strips.put_bgrx_rows(0, 1, 12, &bytes[..8]).unwrap();
        assert_eq!(strips, f);
        assert!(strips.put_bgrx_rows(1, 2, 12, &bytes).is_err(), "past the bottom");
        assert!(strips.put_bgrx_rows(0, 2, 12, &bytes[..19]).is_err(), "short");
    }

    #[test]
    fn rects_must_fit() {
        assert!(Rect { x: 0, y: 0, w: 10, h: 10 }.fits(10, 10));
        assert!(!Rect { x: 1, y: 0, w: 10, h: 10 }.fits(10, 10));
        assert!(!Rect { x: u32::MAX, y: 0, w: 2, h: 1 }.fits(10, 10));
        assert!(!Rect { x: 0, y: 0, w: 0, h: 1 }.fits(10, 10));
    }
}
