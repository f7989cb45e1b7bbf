//! Lossless prediction for pixel regions that fit no cheaper method
//! (photos, video, gradients, anti-aliased drawings).
//!
//! Each channel of each pixel is predicted, from neighbours already sent
//! (left and above, inside the same rectangle) or from the pixel the
//! viewer already has at that place ([`Predictor::Previous`]: what a copy
//! brought there, or the last frame), and only the difference, modulo 256
//! and zigzag-mapped so small errors of either sign become small bytes,
//! goes to the residual coder (`model.rs`), which turns the skewed byte
//! distribution into few bits. Real photos' channels err together
//! (light and sensor noise hit red, green and blue alike), so red's and
//! blue's differences can be sent relative to green's ([`Channels`]). The
//! encoder picks, per rectangle, what leaves the smaller residuals on a
//! sample of rows.

use serde::{Deserialize, Serialize};

use crate::frame::{Frame, Image, Rect};

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
    /// The pixel the viewer has at the same place before this operation
    /// draws (after the update's copies): content that changed a little,
    /// and the remainder of a copy that was almost exact.
    Previous,
}

/// How the three channels' prediction errors are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channels {
    /// Each channel's own error.
    Independent,
    /// Green's error, and red's and blue's minus green's (modulo 256): a
    /// reversible decorrelation for content whose channels err together.
    FromGreen,
}

/// Every `SAMPLE_STEP`-th row is tried with each candidate.
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

/// The rows a prediction reads besides the row being coded: the one above
/// in the rectangle (`None` on the first row) and the viewer's pixels at
/// this row before drawing (`None` where [`Predictor::Previous`] is not
/// used).
#[derive(Clone, Copy)]
struct Context<'a> {
    above: Option<&'a [u32]>,
    prior: Option<&'a [u32]>,
}

/// The prediction for all three channels of pixel `x` of a row, as a
/// `0x00RRGGBB` value, from the row's earlier pixels (`row[..x]`) and the
/// context. Only causal neighbours are read, so the decoder, which fills
/// the row left to right, computes the same value.
#[inline(always)]
fn predict(predictor: Predictor, row: &[u32], context: Context<'_>, x: usize) -> u32 {
    if predictor == Predictor::Previous
        && let Some(prior) = context.prior
    {
        return prior[x];
    }
    let Some(above) = context.above else {
        return if x == 0 { 0 } else { row[x - 1] };
    };
    if x == 0 {
        return above[0];
    }
    let last = row.len() - 1;
    match predictor {
        Predictor::Median | Predictor::Previous => {
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

/// The three residual bytes (red, green, blue) of pixel `p` against
/// `guess`.
#[inline(always)]
fn pixel_residuals(p: u32, guess: u32, channels: Channels) -> [u8; 3] {
    let [r, g, b] = SHIFTS.map(|shift| channel(p, shift) - channel(guess, shift));
    match channels {
        Channels::Independent => [zigzag(r), zigzag(g), zigzag(b)],
        Channels::FromGreen => [zigzag(r - g), zigzag(g), zigzag(b - g)],
    }
}

/// Calls `out` with the residual bytes of one row (red, green, blue per
/// pixel).
#[inline(always)]
fn row_residuals(
    predictor: Predictor,
    channels: Channels,
    row: &[u32],
    context: Context<'_>,
    mut out: impl FnMut([u8; 3]),
) {
    for (x, &p) in row.iter().enumerate() {
        let guess = predict(predictor, row, context, x);
        out(pixel_residuals(p, guess, channels));
    }
}

/// How one rectangle's pixels are coded: the predictor and the channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Coding {
    pub(crate) predictor: Predictor,
    pub(crate) channels: Channels,
}

/// Calls `out` with the residuals of `rect` of `frame` under `coding`,
/// `reference` being what the viewer has there (needed by
/// [`Predictor::Previous`]), row by row.
pub(crate) fn residuals(
    frame: &dyn Image,
    reference: &dyn Image,
    rect: &Rect,
    coding: Coding,
    mut out: impl FnMut(&[u8]),
) {
    let mut line = Vec::with_capacity(rect.w as usize * 3);
    for r in 0..rect.h {
        let context = Context {
            above: (r > 0).then(|| frame.row(rect, r - 1)),
            prior: Some(reference.row(rect, r)),
        };
        line.clear();
        row_residuals(coding.predictor, coding.channels, frame.row(rect, r), context, |b| {
            line.extend_from_slice(&b)
        });
        out(&line);
    }
}

/// The coding that leaves the smallest residuals on a sample of `rect`'s
/// rows: the spatial predictors always, [`Predictor::Previous`] when the
/// viewer has a `reference` worth predicting from; then whether red and
/// blue go relative to green under the winner.
pub(crate) fn choose(frame: &dyn Image, reference: Option<&dyn Image>, rect: &Rect) -> Coding {
    let cost = |coding: Coding| -> u64 {
        let mut sum = 0;
        for r in (1..rect.h).step_by(SAMPLE_STEP as usize) {
            let context = Context {
                above: Some(frame.row(rect, r - 1)),
                prior: reference.map(|f| f.row(rect, r)),
            };
            row_residuals(coding.predictor, coding.channels, frame.row(rect, r), context, |b| {
                sum += u64::from(b[0]) + u64::from(b[1]) + u64::from(b[2])
            });
        }
        sum
    };
    let mut candidates = vec![Predictor::Median, Predictor::Smooth];
    if reference.is_some() {
        candidates.push(Predictor::Previous);
    }
    let (mut best, mut best_cost) =
        (Coding { predictor: Predictor::Median, channels: Channels::Independent }, u64::MAX);
    for predictor in candidates {
        let coding = Coding { predictor, channels: Channels::Independent };
        let c = cost(coding);
        if c < best_cost {
            (best, best_cost) = (coding, c);
        }
    }
    let green = Coding { channels: Channels::FromGreen, ..best };
    if cost(green) < best_cost { green } else { best }
}

/// Draws `rect` from its residuals; `data` has exactly `w * h * 3` bytes.
/// [`Predictor::Previous`] reads the frame's pixels before they are
/// overwritten.
pub(crate) fn reconstruct(frame: &mut Frame, rect: &Rect, coding: Coding, data: &[u8]) {
    let width = rect.w as usize;
    let mut above: Vec<u32> = Vec::with_capacity(width);
    let mut row: Vec<u32> = vec![0; width];
    let mut prior: Vec<u32> = Vec::new();
    for (r, line) in data.chunks_exact(width * 3).enumerate() {
        if coding.predictor == Predictor::Previous {
            prior.clear();
            prior.extend_from_slice(frame.row(rect, r as u32));
        }
        for x in 0..width {
            let context = Context {
                above: (r > 0).then_some(&above[..]),
                prior: (coding.predictor == Predictor::Previous).then_some(&prior[..]),
            };
            let guess = predict(coding.predictor, &row, context, x);
            let bytes = &line[x * 3..x * 3 + 3];
            let g = unzigzag(bytes[1]);
            let [r_d, b_d] = match coding.channels {
                Channels::Independent => [unzigzag(bytes[0]), unzigzag(bytes[2])],
                Channels::FromGreen => [unzigzag(bytes[0]) + g, unzigzag(bytes[2]) + g],
            };
            let mut pixel = 0u32;
            for (d, shift) in [r_d, g, b_d].into_iter().zip(SHIFTS) {
                pixel |= ((channel(guess, shift) + d) as u32 & 0xFF) << shift;
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
    use tether_testkit::random::XorShift32;

    #[test]
    fn zigzag_round_trips_every_difference() {
        for d in -255..=255 {
            let z = zigzag(d);
            assert_eq!((unzigzag(z) - d).rem_euclid(256), 0, "{d}");
        }
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }

    #[test]
    fn every_coding_round_trips_and_each_predictor_wins_its_content() {
        let rect = Rect { x: 3, y: 2, w: 37, h: 23 };
        let mut sharp = Frame::solid(50, 30, 0xFFFFFF).unwrap();
        sharp.fill(Rect { x: 10, y: 5, w: 15, h: 9 }, 0x204080);
        let mut noisy = Frame::solid(50, 30, 0).unwrap();
        let mut rng = XorShift32::new(7u32);
        for y in 0..30 {
            for x in 0..50 {
                let s = rng.next_u32();
                let v = |base: u32, k: u32| (base + x * k + y + (s >> (k * 3)) % 5).min(255);
                noisy.set(x, y, v(60, 2) << 16 | v(90, 1) << 8 | v(30, 3));
            }
        }
        for (frame, best) in [(&sharp, Predictor::Median), (&noisy, Predictor::Smooth)] {
            assert_eq!(choose(frame, None, &rect).predictor, best);
            let reference = Frame::solid(50, 30, 0x123456).unwrap();
            for predictor in [Predictor::Median, Predictor::Smooth, Predictor::Previous] {
                for channels in [Channels::Independent, Channels::FromGreen] {
                    let coding = Coding { predictor, channels };
                    let mut data = Vec::new();
                    residuals(frame, &reference, &rect, coding, |b| data.extend_from_slice(b));
                    assert_eq!(data.len(), rect.area() as usize * 3);
                    let mut out = reference.clone();
                    reconstruct(&mut out, &rect, coding, &data);
                    for y in 0..30 {
                        for x in 0..50 {
                            let inside = (3..40).contains(&x) && (2..25).contains(&y);
                            let want = if inside { frame.pixel(x, y) } else { 0x123456 };
                            assert_eq!(out.pixel(x, y), want, "{coding:?} at {x},{y}");
                        }
                    }
                }
            }
        }
    }

    /// A photo-like texture whose channels move together (light), with a
    /// little independent noise.
    fn photo(seed: u32) -> Frame {
        let mut f = Frame::solid(64, 64, 0).unwrap();
        let mut rng = XorShift32::new(seed | 1);
        for y in 0..64 {
            for x in 0..64 {
                let s = rng.next_u32();
                let light = (x * 3 + y * 2 + (s >> 8) % 23) as i32;
                let v = |k: i32, n: u32| (light + k + ((s >> n) % 3) as i32).clamp(0, 255) as u32;
                f.set(x, y, v(40, 0) << 16 | v(20, 2) << 8 | v(0, 4));
            }
        }
        f
    }

    #[test]
    fn correlated_channels_go_relative_to_green_and_a_near_copy_uses_the_previous_pixels() {
        let rect = Rect { x: 0, y: 0, w: 64, h: 64 };
        let picture = photo(5);
        assert_eq!(choose(&picture, None, &rect).channels, Channels::FromGreen);
        // The viewer has nearly the same picture: two pixels differ.
        let mut next = picture.clone();
        next.set(10, 10, 0xFF00FF);
        next.set(40, 50, 0x00FF00);
        let coding = choose(&next, Some(&picture), &rect);
        assert_eq!(coding.predictor, Predictor::Previous);
        let mut data = Vec::new();
        residuals(&next, &picture, &rect, coding, |b| data.extend_from_slice(b));
        let nonzero = data.iter().filter(|&&b| b != 0).count();
        assert!((1..=6).contains(&nonzero), "two pixels' worth, not {nonzero}");
        let mut out = picture.clone();
        reconstruct(&mut out, &rect, coding, &data);
        assert_eq!(out, next);
    }
}
