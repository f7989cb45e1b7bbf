//! Adaptive binary range coding: the arithmetic under `model.rs`.
//!
//! A range coder narrows an interval by each coded bit's probability, so
//! a bit costs about `-log2(p)` bits of output, fractions included. The
//! probabilities are 12-bit and adapt as they are used; symbols of a few
//! bits are coded as paths in binary trees of probabilities. The
//! encoder's first byte is always 0 and the decoder reads exactly the
//! bytes the encoder wrote, so a coding cut short or carrying extra bytes
//! can be refused.

/// Probability bits: a probability is `p / 4096` that the next bit is 0.
const PROB_BITS: u32 = 12;
const PROB_ONE: u16 = 1 << PROB_BITS;
/// Adaptation speed: each coded bit moves its probability 1/32 of the
/// way towards what it saw.
const ADAPT: u32 = 5;
/// The range is renormalised (a byte shifted out) below this.
const TOP: u32 = 1 << 24;

/// A probability that adapts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bit(u16);

impl Default for Bit {
    fn default() -> Bit {
        Bit(PROB_ONE / 2)
    }
}

/// `p` moved 1/32 of the way towards what `bit` says. It stays within
/// 31..=4065, so neither outcome's share of the range is ever empty.
#[inline(always)]
fn adapt(p: u16, bit: bool) -> u16 {
    let down = p - (p >> ADAPT);
    let up = p + ((PROB_ONE - p) >> ADAPT);
    if bit { down } else { up }
}

/// The probabilities of a binary tree over `N` symbols: node `n`'s
/// children are `2n` and `2n + 1`, node 1 the root (node 0 unused).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree<const N: usize>(pub(crate) [Bit; N]);

impl<const N: usize> Default for Tree<N> {
    fn default() -> Tree<N> {
        Tree([Bit::default(); N])
    }
}

/// The trees of residuals past the small symbols: up to 15 more, then
/// the rest.
pub(crate) struct Escape<'a> {
    pub(crate) medium: &'a mut Tree<16>,
    pub(crate) large: &'a mut Tree<256>,
}

/// The compressing end of a range coder (the carry-propagating
/// arrangement LZMA uses: a byte held back, and a count of 0xFF bytes
/// behind it that a carry would turn to zeros). The interval (`low`,
/// `range`), which every bit changes, is apart from the output, which
/// only every eighth bit or so touches, so a coder's interval can stay in
/// registers while it codes ([`RangeEncoder::split`]).
#[derive(Debug)]
pub(crate) struct RangeEncoder {
    interval: Interval,
    output: Output,
}

/// A range coder's interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interval {
    low: u64,
    range: u32,
}

/// What a range coder has written, and the bytes it holds back.
#[derive(Debug)]
pub(crate) struct Output {
    held: u8,
    pending: u64,
    out: Vec<u8>,
}

impl Output {
    /// Shifts the top byte out of `low`, writing what a carry can no
    /// longer change.
    #[inline(always)]
    fn shift_low(&mut self, low: &mut u64) {
        if *low < 0xFF00_0000 || *low >= 1 << 32 {
            self.flush_held(*low);
        }
        self.pending += 1;
        *low = (*low & 0x00FF_FFFF) << 8;
    }

    /// Writes the held byte and the 0xFF bytes behind it, carry included.
    #[cold]
    #[inline(never)]
    fn flush_held(&mut self, low: u64) {
        let carry = (low >> 32) as u8;
        let mut byte = self.held;
        while self.pending > 0 {
            self.out.push(byte.wrapping_add(carry));
            byte = 0xFF;
            self.pending -= 1;
        }
        self.held = (low >> 24) as u8;
    }
}

impl Interval {
    /// Codes `bit` with probability `p`, without branching on the bit
    /// (photos' bits are unpredictable; a mispredicted branch costs more
    /// than the arithmetic).
    #[inline(always)]
    fn bit(&mut self, output: &mut Output, bit: bool, p: &mut Bit) {
        let bound = (self.range >> PROB_BITS) * u32::from(p.0);
        let ones = u32::from(bit).wrapping_neg();
        self.low += u64::from(bound & ones);
        self.range = (self.range - bound) & ones | bound & !ones;
        p.0 = adapt(p.0, bit);
        while self.range < TOP {
            self.range <<= 8;
            output.shift_low(&mut self.low);
        }
    }

    /// Codes the low `bits` bits of `value`, high first, with `tree`.
    #[inline(always)]
    fn tree(&mut self, output: &mut Output, tree: &mut [Bit], bits: u32, value: u32) {
        let mut node = 1;
        for i in (0..bits).rev() {
            let bit = value >> i & 1;
            self.bit(output, bit == 1, &mut tree[node]);
            node = node << 1 | bit as usize;
        }
    }

    /// Codes a residual byte: its symbol in `small` (`bits` questions);
    /// after the last symbol, the excess in `escape`'s 4-question tree,
    /// whose last symbol is followed by the rest in its 8-question one.
    #[inline(always)]
    pub(crate) fn residual(
        &mut self,
        output: &mut Output,
        small: &mut [Bit],
        bits: u32,
        escape: Escape<'_>,
        byte: u8,
    ) {
        let last = (1u8 << bits) - 1;
        self.tree(output, small, bits, u32::from(byte.min(last)));
        if byte >= last {
            let excess = byte - last;
            self.tree(output, &mut escape.medium.0, 4, u32::from(excess.min(15)));
            if excess >= 15 {
                self.tree(output, &mut escape.large.0, 8, u32::from(excess - 15));
            }
        }
    }
}

impl RangeEncoder {
    pub(crate) fn new() -> RangeEncoder {
        RangeEncoder {
            interval: Interval { low: 0, range: u32::MAX },
            output: Output { held: 0, pending: 1, out: Vec::new() },
        }
    }

    /// The interval, to code with in a local, and the output.
    pub(crate) fn split(&mut self) -> (Interval, &mut Output) {
        (self.interval, &mut self.output)
    }

    /// Takes back the interval [`RangeEncoder::split`] gave.
    pub(crate) fn join(&mut self, interval: Interval) {
        self.interval = interval;
    }

    /// The coded bytes: the encoder's first byte is always 0 (nothing
    /// carries into it), and the decoder reads exactly these.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        for _ in 0..5 {
            self.output.shift_low(&mut self.interval.low);
        }
        self.output.out
    }
}

/// The decompressing end of a range coder. Reading past the end gives
/// zeros and marks the coding as overrun.
#[derive(Clone, Copy)]
pub(crate) struct RangeDecoder<'a> {
    data: &'a [u8],
    at: usize,
    range: u32,
    code: u32,
    /// The coding ended before the bits read so far.
    pub(crate) overrun: bool,
}

impl<'a> RangeDecoder<'a> {
    /// A decoder of `data`, which must start as [`RangeEncoder::finish`]
    /// output does.
    pub(crate) fn new(data: &'a [u8]) -> Result<RangeDecoder<'a>, String> {
        match data {
            [0, a, b, c, d, ..] => Ok(RangeDecoder {
                data,
                at: 5,
                range: u32::MAX,
                code: u32::from_be_bytes([*a, *b, *c, *d]),
                overrun: false,
            }),
            _ => Err("a residual coding does not start as it must".into()),
        }
    }

    #[inline(always)]
    fn next_byte(&mut self) -> u32 {
        match self.data.get(self.at) {
            Some(&b) => {
                self.at += 1;
                u32::from(b)
            }
            None => {
                self.overrun = true;
                0
            }
        }
    }

    #[inline(always)]
    fn bit(&mut self, p: &mut Bit) -> bool {
        let bound = (self.range >> PROB_BITS) * u32::from(p.0);
        let bit = self.code >= bound;
        let ones = u32::from(bit).wrapping_neg();
        self.code -= bound & ones;
        self.range = (self.range - bound) & ones | bound & !ones;
        p.0 = adapt(p.0, bit);
        while self.range < TOP {
            self.range <<= 8;
            self.code = self.code << 8 | self.next_byte();
        }
        bit
    }

    /// Reads `bits` bits, high first, coded with `tree`.
    #[inline(always)]
    fn tree(&mut self, tree: &mut [Bit], bits: u32) -> u32 {
        let mut node = 1;
        for _ in 0..bits {
            node = node << 1 | usize::from(self.bit(&mut tree[node]));
        }
        (node - (1 << bits)) as u32
    }

    /// Reads a residual byte (see [`RangeEncoder::residual`]). Any bits
    /// give some byte: an excess past 255 wraps.
    #[inline(always)]
    pub(crate) fn residual(&mut self, small: &mut [Bit], bits: u32, escape: Escape<'_>) -> u8 {
        let last = (1u8 << bits) - 1;
        let byte = self.tree(small, bits) as u8;
        if byte != last {
            return byte;
        }
        let mut excess = self.tree(&mut escape.medium.0, 4) as u8;
        if excess == 15 {
            excess = excess.wrapping_add(self.tree(&mut escape.large.0, 8) as u8);
        }
        last.wrapping_add(excess)
    }

    /// Whether the coding ended exactly at its last byte.
    pub(crate) fn check_end(&self) -> Result<(), String> {
        if self.overrun {
            return Err("a residual coding ends early".into());
        }
        match self.data.len() - self.at {
            0 => Ok(()),
            extra => Err(format!("{extra} bytes past a residual coding's end")),
        }
    }
}
