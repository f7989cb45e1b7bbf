//! Crash injection for tests. A test arms a countdown; the n-th step of an
//! operation then panics, which leaves the disk exactly as a kill -9 at
//! that instant would (the engine never cleans up on unwind). Unarmed, a
//! step costs one thread-local read.

use std::cell::Cell;

thread_local! {
    static COUNTDOWN: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Makes the `n`-th step (0-based) from now panic on this thread.
#[doc(hidden)]
pub fn arm(n: u64) {
    COUNTDOWN.with(|c| c.set(Some(n)));
}

/// Disarms; returns true if the armed step was never reached.
#[doc(hidden)]
pub fn disarm() -> bool {
    COUNTDOWN.with(|c| c.replace(None).is_some())
}

/// One step of a multi-step operation.
pub(crate) fn hit(step: &str) {
    COUNTDOWN.with(|c| match c.get() {
        Some(0) => {
            c.set(None);
            panic!("failpoint: crashed at {step}");
        }
        Some(n) => c.set(Some(n - 1)),
        None => {}
    });
}
