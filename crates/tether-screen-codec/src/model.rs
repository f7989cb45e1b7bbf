//! Context-modelled coding of prediction residuals: adaptive binary range
//! coding whose probabilities depend on how large the neighbouring
//! residuals were.
//!
//! zstd's literal coder gives each byte value one Huffman code for a whole
//! block: never less than a bit per byte, and blind to where a byte sits.
//! A photo's residuals are small where the picture is smooth and larger
//! where it is busy, and red's and blue's (relative to green) are mostly
//! zero or one; learning their distribution separately for every "how
//! busy is it here" context spends close to the residuals' information
//! (on the screen bench's photo scene, 30% fewer bytes than zstd).
//!
//! A residual (a zigzag byte, `predict.rs`) is a symbol of a small
//! alphabet, sent as the path to it in a binary tree whose every node has
//! its own adaptive probability: 16 symbols (4 questions) for green, 4
//! (2 questions) for red and blue, the last symbol of each meaning "this
//! or more", followed by the excess in a 4-question tree per context
//! (whose last symbol is followed by the rest in an 8-question tree). The
//! context of a residual is the sum of the magnitudes of the same
//! channel's residuals left, above, above-left and above-right (coded
//! before it, inside the rectangle), quantised; red and blue, coded after
//! green, also use the same pixel's green residual, and blue red's (their
//! rounding errors go together: on the photo scene, 3% fewer bytes).
//! Probabilities are 12-bit and carry over from update to update, as the
//! shapes stream's zstd history does.
//!
//! Green and the chroma (red, blue) go through two range coders, each
//! flushed per update: every symbol costs a chain of dependent multiplies,
//! and two chains run side by side on one core. An update's coding is the
//! green coder's length (LEB128), its bytes, then the chroma coder's. The
//! encoder sends it unless zstd codes the same residuals smaller
//! (`encode.rs`, `PIXELS_ZSTD`: anti-aliased text, whose repeated glyphs
//! only a match finder sees); the range coder then forgets that update.
//!
//! The decoder reads exactly the bytes the encoder wrote: a coding that
//! ends early or has bytes past its end is refused. Any other bytes
//! decode to some residuals, as many as the operations announce (a
//! corrupted coding cannot be told from another picture, as zstd without
//! checksums cannot).

use crate::range::{Escape, RangeDecoder, RangeEncoder, Tree};

/// Largest neighbourhood sum: weights 2, 2, 1, 1 of magnitudes of at
/// most 128.
const MAX_SUM: usize = 6 * 128;

/// Contexts of the neighbourhood sum.
const BUCKETS: usize = 14;

/// The neighbourhood sum's context: buckets end (inclusive) at 0, 1, 2,
/// 4, 6, 9, 13, 18, 25, 35, 50, 75, 110 and the rest; finer where
/// residuals are small, as photos' mostly are.
const BUCKET_OF: [u8; MAX_SUM + 1] = {
    let ends = [0, 1, 2, 4, 6, 9, 13, 18, 25, 35, 50, 75, 110];
    let mut table = [0u8; MAX_SUM + 1];
    let mut sum = 0;
    while sum <= MAX_SUM {
        let mut b = 0;
        while b < ends.len() && sum > ends[b] {
            b += 1;
        }
        table[sum] = b as u8;
        sum += 1;
    }
    table
};

/// Contexts of the same pixel's green residual for red and blue (its
/// zigzag byte: 0, −1, 1, −2, 2, −3, larger), and of red's for blue
/// (0, −1, 1, larger).
const GREEN_LEVELS: usize = 7;
const RED_LEVELS: usize = 4;

/// Questions per green and per chroma symbol.
const GREEN_BITS: u32 = 4;
const CHROMA_BITS: u32 = 2;

/// Every context's tree: green's by neighbourhood, red's by neighbourhood
/// and green's residual, blue's by those and red's residual; and per
/// channel (red, green, blue) the trees of the excess of residuals past
/// the small symbols: by neighbourhood up to 15, then one for the rest.
#[derive(Debug, Clone)]
struct Contexts {
    green: [Tree<{ 1 << GREEN_BITS }>; BUCKETS],
    red: [[Tree<{ 1 << CHROMA_BITS }>; GREEN_LEVELS]; BUCKETS],
    blue: [[[Tree<{ 1 << CHROMA_BITS }>; RED_LEVELS]; GREEN_LEVELS]; BUCKETS],
    medium: [[Tree<16>; BUCKETS]; 3],
    large: [Tree<256>; 3],
}

impl Default for Contexts {
    fn default() -> Contexts {
        Contexts {
            green: [Tree::default(); BUCKETS],
            red: [[Tree::default(); GREEN_LEVELS]; BUCKETS],
            blue: [[[Tree::default(); RED_LEVELS]; GREEN_LEVELS]; BUCKETS],
            medium: [[Tree::default(); BUCKETS]; 3],
            large: [Tree::default(); 3],
        }
    }
}

#[inline(always)]
fn bucket(sum: u32) -> usize {
    usize::from(BUCKET_OF[(sum as usize).min(MAX_SUM)])
}

/// The contexts of red and blue that the same pixel's green and red
/// residuals (zigzag bytes) select.
#[inline(always)]
fn levels(green: u8, red: u8) -> (usize, usize) {
    (usize::from(green).min(GREEN_LEVELS - 1), usize::from(red).min(RED_LEVELS - 1))
}

/// The magnitude (0..=128) of the signed residual behind a zigzag byte.
#[inline(always)]
fn magnitude(byte: u8) -> u32 {
    u32::from(byte).div_ceil(2)
}

/// What the coder learned, kept from update to update (the encoder's and
/// the decoder's stay alike as long as updates are applied in order; both
/// start over on a fresh update): the contexts' probabilities; and the
/// residual magnitudes of the row above and of this row, each with one
/// entry of padding at both ends, and what the row above adds to each
/// pixel's neighbourhood sum.
#[derive(Debug, Default)]
pub(crate) struct Model {
    contexts: Box<Contexts>,
    above: Vec<[u8; 3]>,
    row: Vec<[u8; 3]>,
    from_above: Vec<[u32; 3]>,
}

impl Model {
    /// Forgets what was learned: even odds everywhere.
    pub(crate) fn reset(&mut self) {
        *self.contexts = Contexts::default();
    }

    /// Starts a `width`-wide rectangle: no row above.
    fn start(&mut self, width: usize) {
        self.above.clear();
        self.above.resize(width + 2, [0; 3]);
        self.row.clear();
        self.row.resize(width + 2, [0; 3]);
        self.from_above.clear();
        self.from_above.resize(width, [0; 3]);
    }

    /// Starts a row. A pixel's neighbourhood sum (per channel) is twice
    /// left and above plus above-left and above-right, four times left on
    /// the first row; at the sides the padding repeats the edge pixel, and
    /// above stands in for a missing left. Fills in what the row above
    /// adds, and returns the left neighbour of the first pixel and the
    /// left one's weight as a shift: the sum of pixel `x` is then
    /// `left << shift` + `from_above[x]`, which the coders keep `left` for
    /// in registers (the next pixel's context waits on it).
    fn start_row(&mut self, first_row: bool) -> ([u32; 3], u32) {
        if first_row {
            return ([0; 3], 2);
        }
        let at = |i: usize| self.above[i].map(u32::from);
        for (x, sum) in self.from_above.iter_mut().enumerate() {
            let (up_left, up, up_right) = (at(x), at(x + 1), at(x + 2));
            *sum = [0, 1, 2].map(|c| 2 * up[c] + up_left[c] + up_right[c]);
        }
        (at(1), 1)
    }

    /// The neighbourhood sums (red, green, blue) of pixel `x`.
    #[inline(always)]
    fn sums(&self, x: usize, left: [u32; 3], shift: u32) -> [u32; 3] {
        let above = self.from_above[x];
        [0, 1, 2].map(|c| (left[c] << shift) + above[c])
    }

    /// Records pixel `x`'s residual bytes (red, green, blue); returns
    /// their magnitudes, the next pixel's left.
    #[inline(always)]
    fn set(&mut self, x: usize, bytes: [u8; 3]) -> [u32; 3] {
        let magnitudes = bytes.map(magnitude);
        self.row[x + 1] = magnitudes.map(|m| m as u8);
        magnitudes
    }

    /// Moves to the next row.
    fn next_row(&mut self) {
        let last = self.row.len() - 1;
        self.row[0] = self.row[1];
        self.row[last] = self.row[last - 1];
        std::mem::swap(&mut self.above, &mut self.row);
    }
}

/// Codes the residuals of the rectangles of each update, in order.
#[derive(Debug, Default)]
pub(crate) struct ModelEncoder {
    model: Model,
    /// The coders (green, chroma) of the update being made, once it has
    /// residuals.
    coders: Option<(RangeEncoder, RangeEncoder)>,
    /// The contexts as the update being made found them, for
    /// [`ModelEncoder::undo`].
    saved: Box<Contexts>,
}

impl ModelEncoder {
    /// Starts over: the next update is fresh.
    pub(crate) fn reset(&mut self) {
        self.model.reset();
        self.coders = None;
    }

    /// Forgets the last update's coding, which is not sent (the decoder
    /// will not learn from it either).
    pub(crate) fn undo(&mut self) {
        self.model.contexts.clone_from(&self.saved);
    }

    /// Codes one `width`-wide rectangle's residuals (three bytes per
    /// pixel, red, green, blue; a whole number of rows).
    pub(crate) fn put(&mut self, width: usize, residuals: &[u8]) {
        if self.coders.is_none() {
            self.saved.clone_from(&self.model.contexts);
        }
        let (mut green_coder, mut chroma_coder) =
            self.coders.take().unwrap_or_else(|| (RangeEncoder::new(), RangeEncoder::new()));
        // The coders' intervals in locals, where they can stay in
        // registers.
        let (mut green, green_out) = green_coder.split();
        let (mut chroma, chroma_out) = chroma_coder.split();
        let model = &mut self.model;
        model.start(width);
        for (y, line) in residuals.chunks_exact(width * 3).enumerate() {
            let (mut left, shift) = model.start_row(y == 0);
            for (x, px) in line.chunks_exact(3).enumerate() {
                let [r_sum, g_sum, b_sum] = model.sums(x, left, shift);
                let (r, g, b) = (px[0], px[1], px[2]);
                let c = &mut *model.contexts;
                let (g_bucket, r_bucket, b_bucket) = (bucket(g_sum), bucket(r_sum), bucket(b_sum));
                let escape = Escape { medium: &mut c.medium[1][g_bucket], large: &mut c.large[1] };
                green.residual(green_out, &mut c.green[g_bucket].0, GREEN_BITS, escape, g);
                let (by_green, by_red) = levels(g, r);
                let red = &mut c.red[r_bucket][by_green].0;
                let escape = Escape { medium: &mut c.medium[0][r_bucket], large: &mut c.large[0] };
                chroma.residual(chroma_out, red, CHROMA_BITS, escape, r);
                let blue = &mut c.blue[b_bucket][by_green][by_red].0;
                let escape = Escape { medium: &mut c.medium[2][b_bucket], large: &mut c.large[2] };
                chroma.residual(chroma_out, blue, CHROMA_BITS, escape, b);
                left = model.set(x, [r, g, b]);
            }
            model.next_row();
        }
        green_coder.join(green);
        chroma_coder.join(chroma);
        self.coders = Some((green_coder, chroma_coder));
    }

    /// The coding of this update's residuals: empty if it had none.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let Some((green, chroma)) = self.coders.take() else { return Vec::new() };
        let (green, chroma) = (green.finish(), chroma.finish());
        let mut out = Vec::with_capacity(5 + green.len() + chroma.len());
        crate::put_varint(&mut out, green.len() as u64);
        out.extend_from_slice(&green);
        out.extend_from_slice(&chroma);
        out
    }
}

/// Decodes the residuals of an update's rectangles, in order.
pub(crate) struct ModelDecoder<'a> {
    model: &'a mut Model,
    green: RangeDecoder<'a>,
    chroma: RangeDecoder<'a>,
}

impl<'a> ModelDecoder<'a> {
    /// Starts reading an update's pixels with what `model` learned from
    /// the earlier updates.
    pub(crate) fn new(model: &'a mut Model, data: &'a [u8]) -> Result<ModelDecoder<'a>, String> {
        let mut rest = data;
        let green_len = crate::take_varint(&mut rest)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|&len| len <= rest.len())
            .ok_or("the green coding's length is past the end")?;
        let (green, chroma) = rest.split_at(green_len);
        Ok(ModelDecoder {
            model,
            green: RangeDecoder::new(green)?,
            chroma: RangeDecoder::new(chroma)?,
        })
    }

    /// Appends a `width`×`height` rectangle's residual bytes to `out`,
    /// or fails if the coding ends before them.
    pub(crate) fn get(
        &mut self,
        width: usize,
        height: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let model = &mut *self.model;
        model.start(width);
        // The coders' state in locals, where it can stay in registers.
        let (mut green, mut chroma) = (self.green, self.chroma);
        for y in 0..height {
            // Room for one row at a time: a coding that ends early stops
            // before claiming the rest of a large rectangle.
            out.reserve(width * 3);
            let (mut left, shift) = model.start_row(y == 0);
            for x in 0..width {
                let [r_sum, g_sum, b_sum] = model.sums(x, left, shift);
                let c = &mut *model.contexts;
                let (g_bucket, r_bucket, b_bucket) = (bucket(g_sum), bucket(r_sum), bucket(b_sum));
                let escape = Escape { medium: &mut c.medium[1][g_bucket], large: &mut c.large[1] };
                let g = green.residual(&mut c.green[g_bucket].0, GREEN_BITS, escape);
                let red = &mut c.red[r_bucket][levels(g, 0).0].0;
                let escape = Escape { medium: &mut c.medium[0][r_bucket], large: &mut c.large[0] };
                let r = chroma.residual(red, CHROMA_BITS, escape);
                let (by_green, by_red) = levels(g, r);
                let blue = &mut c.blue[b_bucket][by_green][by_red].0;
                let escape = Escape { medium: &mut c.medium[2][b_bucket], large: &mut c.large[2] };
                let b = chroma.residual(blue, CHROMA_BITS, escape);
                out.extend_from_slice(&[r, g, b]);
                left = model.set(x, [r, g, b]);
            }
            model.next_row();
            if green.overrun || chroma.overrun {
                return Err("a residual coding ends early".into());
            }
        }
        (self.green, self.chroma) = (green, chroma);
        Ok(())
    }

    /// Checks that both codings ended exactly where their bytes do.
    pub(crate) fn finish(self) -> Result<(), String> {
        self.green.check_end()?;
        self.chroma.check_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift32: reproducible test data.
    fn next(s: &mut u32) -> u32 {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        *s
    }

    /// Residual bytes of kinds the coder meets: uniform noise (every
    /// byte value, escapes everywhere), photo-like (small, zigzag),
    /// text-like (mostly zero, a few large).
    fn residuals(kind: u32, pixels: usize, seed: u32) -> Vec<u8> {
        let mut s = seed | 1;
        (0..pixels * 3)
            .map(|_| {
                let v = next(&mut s);
                match kind {
                    0 => v as u8,
                    1 => (v % 9) as u8,
                    _ if v.is_multiple_of(13) => (v >> 8) as u8,
                    _ => 0,
                }
            })
            .collect()
    }

    /// Rectangles (width, height, bytes) of every kind and some odd
    /// shapes: one pixel, one column, one row.
    fn rects(seed: u32) -> Vec<(usize, usize, Vec<u8>)> {
        let shapes = [(64, 64), (1, 1), (1, 17), (33, 1), (7, 9), (64, 20)];
        let mut out = Vec::new();
        for (i, (w, h)) in shapes.into_iter().enumerate() {
            let kind = (i as u32 + seed) % 3;
            out.push((w, h, residuals(kind, w * h, seed * 31 + i as u32)));
        }
        out
    }

    fn encode(encoder: &mut ModelEncoder, rects: &[(usize, usize, Vec<u8>)]) -> Vec<u8> {
        for (w, _, bytes) in rects {
            encoder.put(*w, bytes);
        }
        encoder.finish()
    }

    fn decode(
        model: &mut Model,
        data: &[u8],
        rects: &[(usize, usize, Vec<u8>)],
    ) -> Result<Vec<u8>, String> {
        let mut decoder = ModelDecoder::new(model, data)?;
        let mut out = Vec::new();
        for (w, h, _) in rects {
            decoder.get(*w, *h, &mut out)?;
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn updates_round_trip_with_what_earlier_ones_taught() {
        let mut encoder = ModelEncoder::default();
        let mut model = Model::default();
        for update in 0..4 {
            let rects = rects(update);
            let data = encode(&mut encoder, &rects);
            let want: Vec<u8> = rects.iter().flat_map(|r| r.2.iter().copied()).collect();
            assert_eq!(decode(&mut model, &data, &rects).unwrap(), want, "update {update}");
        }
        assert!(encoder.finish().is_empty(), "no residuals, no bytes");
        // Small residuals in busy-looking contexts still cost little:
        // photo-like residuals take well under a byte per channel.
        let photo = vec![(64, 64, residuals(1, 64 * 64, 9))];
        let data = encode(&mut encoder, &photo);
        assert!(data.len() < 64 * 64 * 3 * 6 / 10, "{} bytes", data.len());
        assert_eq!(decode(&mut model, &data, &photo).unwrap(), photo[0].2);
        // After a reset on both sides they agree again; a decoder that
        // kept what it learned does not.
        encoder.reset();
        let data = encode(&mut encoder, &photo);
        assert_ne!(decode(&mut model, &data, &photo).ok().as_ref(), Some(&photo[0].2));
        let mut fresh = Model::default();
        assert_eq!(decode(&mut fresh, &data, &photo).unwrap(), photo[0].2);
    }

    #[test]
    fn truncated_extended_and_corrupted_codings_never_panic() {
        let rects = rects(5);
        let data = encode(&mut ModelEncoder::default(), &rects);
        for cut in (0..data.len()).step_by(5).chain(data.len() - 20..data.len()) {
            let refused = decode(&mut Model::default(), &data[..cut], &rects);
            assert!(refused.is_err(), "cut at {cut} of {}", data.len());
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(decode(&mut Model::default(), &longer, &rects).is_err());
        let want: Vec<u8> = rects.iter().flat_map(|r| r.2.iter().copied()).collect();
        let mut s = 3;
        for _ in 0..300 {
            let mut bad = data.clone();
            let at = next(&mut s) as usize % bad.len();
            bad[at] ^= 1 << (next(&mut s) % 8);
            // Either refused, or some residuals of the right count.
            if let Ok(out) = decode(&mut Model::default(), &bad, &rects) {
                assert_eq!(out.len(), want.len());
            }
        }
        // A short coding claiming a large rectangle stops early.
        let huge = [(4096, 4096, Vec::new())];
        assert!(decode(&mut Model::default(), &[5, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0], &huge).is_err());
        for garbage in [&[][..], &[0], &[0xFF; 9], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]] {
            assert!(decode(&mut Model::default(), garbage, &rects).is_err(), "{garbage:?}");
        }
    }
}
