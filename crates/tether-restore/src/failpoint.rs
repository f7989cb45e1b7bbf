//! Fault injection for tests. A test arms a countdown; the n-th step of an
//! operation from then on either panics, which leaves the disk exactly as a
//! kill -9 at that instant would (the engine never cleans up on unwind),
//! or fails with an error, as a full disk or a refused write would.
//! Unarmed, a step costs one thread-local read.

use std::cell::Cell;

use crate::error::RestoreError;

#[derive(Clone, Copy)]
struct Armed {
    countdown: u64,
    crash: bool,
}

thread_local! {
    static ARMED: Cell<Option<Armed>> = const { Cell::new(None) };
}

/// Makes the `n`-th step (0-based) from now panic on this thread.
#[doc(hidden)]
pub fn arm(n: u64) {
    ARMED.with(|c| c.set(Some(Armed { countdown: n, crash: true })));
}

/// Makes the `n`-th step (0-based) from now fail with an error.
#[doc(hidden)]
pub fn arm_error(n: u64) {
    ARMED.with(|c| c.set(Some(Armed { countdown: n, crash: false })));
}

/// Disarms; returns true if the armed step was never reached.
#[doc(hidden)]
pub fn disarm() -> bool {
    ARMED.with(|c| c.replace(None).is_some())
}

/// One step of a multi-step operation.
pub(crate) fn hit(step: &str) -> Result<(), RestoreError> {
    ARMED.with(|c| match c.get() {
        Some(Armed { countdown: 0, crash }) => {
            c.set(None);
            if crash {
                panic!("failpoint: crashed at {step}");
            }
            Err(RestoreError::Backend(format!("injected failure at {step}")))
        }
        Some(armed) => {
            c.set(Some(Armed { countdown: armed.countdown - 1, ..armed }));
            Ok(())
        }
        None => Ok(()),
    })
}
