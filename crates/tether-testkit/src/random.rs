//! Random ids and seeds, and two small reproducible generators.
//!
//! Tests want two kinds of randomness: a value that differs between runs
//! (an id, a seed to print), and a sequence that a printed seed repeats.
//! Neither needs a cryptographic source, so both come from std alone.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A value that differs between calls, processes and runs; never zero,
/// so it can seed the generators below.
pub fn random_seed() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys come from the OS once per thread and change for
    // every new RandomState; the clock, pid and a counter are mixed in too.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mixed = RandomState::new().hash_one((
        nanos,
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed),
    ));
    mixed.max(1)
}

/// 16 lowercase hex digits from [`random_seed`], for names that must not
/// collide with another test's or another run's.
pub fn random_id() -> String {
    format!("{:016x}", random_seed())
}

/// Marsaglia's xorshift64 (shifts 13, 7, 17): a reproducible sequence for
/// tests that print their seed.
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// The generator for `seed`; zero, which would only give zeros, is
    /// replaced by a fixed odd constant.
    pub fn new(seed: u64) -> XorShift64 {
        XorShift64(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Marsaglia's xorshift32 (shifts 13, 17, 5): deterministic content for
/// benches, whose figures must not change from run to run.
#[derive(Debug, Clone)]
pub struct XorShift32(u32);

impl XorShift32 {
    /// The generator for `seed`; zero is replaced by a fixed odd constant.
    pub fn new(seed: u32) -> XorShift32 {
        XorShift32(if seed == 0 { 0x9e37_79b9 } else { seed })
    }

    /// The next value.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }

    /// One of `items` (not empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
        items[self.below(len) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_ids_differ_and_are_never_zero() {
        let seeds: Vec<u64> = (0..100).map(|_| random_seed()).collect();
        assert!(seeds.iter().all(|&s| s != 0));
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len(), "repeated seeds");
        let id = random_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
        assert_ne!(id, random_id());
    }

    #[test]
    fn generators_repeat_their_reference_sequences() {
        // Marsaglia's paper: xorshift32 from 2463534242 starts 723471715.
        let mut small = XorShift32::new(2_463_534_242);
        assert_eq!(small.next_u32(), 723_471_715);
        let mut a = XorShift64::new(88_172_645_463_325_252);
        let mut b = XorShift64::new(88_172_645_463_325_252);
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_eq!(first[0], 8_748_534_153_485_358_512, "Marsaglia's first xorshift64 value");
    }

    #[test]
    fn below_and_pick_stay_in_range_and_zero_seeds_still_move() {
        let mut g = XorShift32::new(0);
        assert!((0..1000).all(|_| g.below(7) < 7));
        let items = ["a", "b", "c"];
        assert!((0..100).all(|_| items.contains(&g.pick(&items))));
        let mut h = XorShift64::new(0);
        assert_ne!(h.next_u64(), h.next_u64());
        assert!((0..1000).all(|_| h.below(10) < 10));
    }
}
