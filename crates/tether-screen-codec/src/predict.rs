//! Lossless prediction for pixel regions that fit no cheaper method
//! (photos, video, gradients, anti-aliased drawings).
//!
//! Each channel of each pixel is predicted from neighbours already sent
//! (left and above, inside the same rectangle) and only the difference,
//! modulo 256 and zigzag-mapped so small errors of either sign become
//! small bytes, goes to the pixels stream, where zstd's entropy coder turns
//! the skewed byte distribution into few bits. The encoder picks, per
//! rectangle, the predictor that leaves the smaller residuals on a sample
//! of rows.

use serde::{Deserialize, Serialize};

use crate::frame::{Frame, Rect};

/// How a [`crate::Op::Pixels`] rectangle's pixels are predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Predictor {
    /// JPEG-LS's median edge detector (LOCO-I): the median of left, above
    /// and left + above − above-left. Sharp edges and flat areas.
    Median,
    /// A weighted average of six neighbours (left, above, above-left,
    /// above-right, two to the left, two up-right; weights 4, 2, 1, 3, 3, 3
    /// sixteenths): smooth, noisy natural images, where averaging
    /// several neighbours cancels part of their noise.
    Smooth,
}

/// Every `SAMPLE_STEP`-th row is tried with both predictors.
const SAMPLE_STEP: u32 = 8;

#[inline(always)]
fn channel(p: u32, shift: u32) -> i32 {
    ((p >> shift) & 0xFF) as i32
}

/// A pixel's three channels in 16-bit lanes of a u64, so the smooth
/// predictor's weighted sum runs on all three at once (at most
/// 16 × 255 + 8 per lane: no carries between lanes).
#[inline(always)]
fn lanes(p: u32) -> u64 {
    let p = u64::from(p);
    (p & 0xFF_0000) << 16 | (p & 0xFF00) << 8 | (p & 0xFF)
}

/// The prediction for all three channels of pixel `x` of a row, as a
/// `0x00RRGGBB` value, from the row's earlier pixels (`row[..x]`) and the
/// row above (`above`, `None` on the first row). Only causal neighbours
/// are read, so the decoder, which fills the row left to right, computes
/// the same value.
#[inline(always)]
fn predict(predictor: Predictor, row: &[u32], above: Option<&[u32]>, x: usize) -> u32 {
    let Some(above) = above else {
        return if x == 0 { 0 } else { row[x - 1] };
    };
    if x == 0 {
        return above[0];
    }
    let last = row.len() - 1;
    match predictor {
        Predictor::Median => {
            let (w, n, nw) = (row[x - 1], above[x], above[x - 1]);
            let mut out = 0;
            for shift in SHIFTS {
                let (a, b, c) = (channel(w, shift), channel(n, shift), channel(nw, shift));
                let guess = if c >= a.max(b) {
                    a.min(b)
                } else if c <= a.min(b) {
                    a.max(b)
                } else {
                    a + b - c
                };
                out |= (guess as u32) << shift;
            }
            out
        }
        Predictor::Smooth => {
            let sum = 4 * lanes(row[x - 1])
                + 2 * lanes(above[x])
                + lanes(above[x - 1])
                + 3 * lanes(above[(x + 1).min(last)])
                + 3 * lanes(row[x.saturating_sub(2)])
                + 3 * lanes(above[(x + 2).min(last)])
                + 0x0008_0008_0008;
            let s = sum >> 4;
            ((s >> 16) & 0xFF_0000 | (s >> 8) & 0xFF00 | s & 0xFF) as u32
        }
    }
}

#[inline(always)]
fn zigzag(difference: i32) -> u8 {
    let s = difference as u8 as i8;
    ((s << 1) ^ (s >> 7)) as u8
}

#[inline(always)]
fn unzigzag(byte: u8) -> i32 {
    i32::from(((byte >> 1) as i8) ^ -((byte & 1) as i8))
}

const SHIFTS: [u32; 3] = [16, 8, 0];

/// Calls `out` with the residual bytes of one row (red, green, blue per
/// pixel), `above` being the row before it.
#[inline(always)]
fn row_residuals(
    predictor: Predictor,
    row: &[u32],
    above: Option<&[u32]>,
    mut out: impl FnMut(u8),
) {
    for (x, &p) in row.iter().enumerate() {
        let guess = predict(predictor, row, above, x);
        for shift in SHIFTS {
            out(zigzag(channel(p, shift) - channel(guess, shift)));
        }
    }
}

/// Appends the residuals of `rect` under `predictor` to `out`: three bytes
/// (red, green, blue) per pixel, row by row.
pub(crate) fn residuals(frame: &Frame, rect: &Rect, predictor: Predictor, out: &mut Vec<u8>) {
    out.reserve(rect.area() as usize * 3);
    for r in 0..rect.h {
        let above = (r > 0).then(|| frame.row(rect, r - 1));
        row_residuals(predictor, frame.row(rect, r), above, |b| out.push(b));
    }
}

/// The predictor that leaves the smaller residuals on a sample of `rect`'s
/// rows.
pub(crate) fn choose(frame: &Frame, rect: &Rect) -> Predictor {
    let cost = |predictor| -> u64 {
        let mut sum = 0;
        for r in (1..rect.h).step_by(SAMPLE_STEP as usize) {
            let above = Some(frame.row(rect, r - 1));
            row_residuals(predictor, frame.row(rect, r), above, |b| sum += u64::from(b));
        }
        sum
    };
    if cost(Predictor::Smooth) < cost(Predictor::Median) {
        Predictor::Smooth
    } else {
        Predictor::Median
    }
}

/// Draws `rect` from its residuals; `data` has exactly `w * h * 3` bytes.
pub(crate) fn reconstruct(frame: &mut Frame, rect: &Rect, predictor: Predictor, data: &[u8]) {
    let width = rect.w as usize;
    let mut above: Vec<u32> = Vec::with_capacity(width);
    let mut row: Vec<u32> = vec![0; width];
    for (r, line) in data.chunks_exact(width * 3).enumerate() {
        for x in 0..width {
            let guess = predict(predictor, &row, (r > 0).then_some(&above[..]), x);
            let mut pixel = 0u32;
            for (c, shift) in SHIFTS.into_iter().enumerate() {
                let value = (channel(guess, shift) + unzigzag(line[x * 3 + c])) as u32 & 0xFF;
                pixel |= value << shift;
            }
            row[x] = pixel;
        }
        frame.row_mut(rect, r as u32).copy_from_slice(&row);
        std::mem::swap(&mut above, &mut row);
        row.resize(width, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_every_difference() {
        for d in -255..=255 {
            let z = zigzag(d);
            assert_eq!((unzigzag(z) - d).rem_euclid(256), 0, "{d}");
        }
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }

    #[test]
    fn both_predictors_round_trip_and_each_wins_its_content() {
        let rect = Rect { x: 3, y: 2, w: 37, h: 23 };
        let mut sharp = Frame::solid(50, 30, 0xFFFFFF).unwrap();
        sharp.fill(Rect { x: 10, y: 5, w: 15, h: 9 }, 0x204080);
        let mut noisy = Frame::solid(50, 30, 0).unwrap();
        let mut s = 7u32;
        for y in 0..30 {
            for x in 0..50 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let v = |base: u32, k: u32| (base + x * k + y + (s >> (k * 3)) % 5).min(255);
                noisy.set(x, y, v(60, 2) << 16 | v(90, 1) << 8 | v(30, 3));
            }
        }
        for (frame, best) in [(&sharp, Predictor::Median), (&noisy, Predictor::Smooth)] {
            assert_eq!(choose(frame, &rect), best);
            for predictor in [Predictor::Median, Predictor::Smooth] {
                let mut data = Vec::new();
                residuals(frame, &rect, predictor, &mut data);
                assert_eq!(data.len(), rect.area() as usize * 3);
                let mut out = Frame::solid(50, 30, 0x123456).unwrap();
                reconstruct(&mut out, &rect, predictor, &data);
                for y in 0..30 {
                    for x in 0..50 {
                        let inside = (3..40).contains(&x) && (2..25).contains(&y);
                        let want = if inside { frame.pixel(x, y) } else { 0x123456 };
                        assert_eq!(out.pixel(x, y), want, "{predictor:?} at {x},{y}");
                    }
                }
            }
        }
    }
}
