//! Fault injection for tests. A test arms one fault or a sequence of
//! them; each fires at the n-th step counted from the previous one (the
//! first from arming). A crash panics, which leaves the disk exactly as a
//! kill -9 at that instant would (the engine never cleans up on unwind);
//! an error fails the step as a full disk or a refused write would; a hook
//! runs test code there (a hostile user swapping a directory at exactly
//! that step) and lets the step go on. Unarmed, a step costs one
//! thread-local read.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::error::RestoreError;

/// What happens at an armed step.
#[doc(hidden)]
pub enum Fault {
    /// Panic: a crash at this instant.
    Crash,
    /// Fail the step with an error.
    Error,
    /// Run this, then go on.
    Hook(Box<dyn FnOnce()>),
}

thread_local! {
    static ARMED: RefCell<VecDeque<(u64, Fault)>> = const { RefCell::new(VecDeque::new()) };
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Arms a sequence of faults on this thread: `(n, fault)` fires at the
/// n-th step (0-based) after the previous fault fired.
#[doc(hidden)]
pub fn arm_faults(faults: Vec<(u64, Fault)>) {
    ARMED.with(|a| *a.borrow_mut() = faults.into());
}

/// Makes the `n`-th step (0-based) from now panic on this thread.
#[doc(hidden)]
pub fn arm(n: u64) {
    arm_faults(vec![(n, Fault::Crash)]);
}

/// Makes the `n`-th step (0-based) from now fail with an error.
#[doc(hidden)]
pub fn arm_error(n: u64) {
    arm_faults(vec![(n, Fault::Error)]);
}

/// Runs `hook` at the `n`-th step (0-based) from now, then goes on.
#[doc(hidden)]
pub fn arm_hook(n: u64, hook: impl FnOnce() + 'static) {
    arm_faults(vec![(n, Fault::Hook(Box::new(hook)))]);
}

/// Disarms; returns true if an armed fault was never reached.
#[doc(hidden)]
pub fn disarm() -> bool {
    ARMED.with(|a| {
        let mut a = a.borrow_mut();
        let left = !a.is_empty();
        a.clear();
        left
    })
}

/// How many armed faults have not fired yet.
#[doc(hidden)]
pub fn remaining() -> usize {
    ARMED.with(|a| a.borrow().len())
}

/// Steps passed on this thread so far (armed or not).
#[doc(hidden)]
pub fn steps() -> u64 {
    STEPS.with(|s| s.get())
}

/// One step of a multi-step operation.
pub(crate) fn hit(step: &str) -> Result<(), RestoreError> {
    STEPS.with(|s| s.set(s.get() + 1));
    let fired = ARMED.with(|a| {
        let mut a = a.borrow_mut();
        let front = a.front_mut()?;
        if front.0 > 0 {
            front.0 -= 1;
            return None;
        }
        a.pop_front().map(|(_, fault)| fault)
    });
    match fired {
        None => Ok(()),
        Some(Fault::Crash) => panic!("failpoint: crashed at {step}"),
        Some(Fault::Error) => Err(RestoreError::Backend(format!("injected failure at {step}"))),
        Some(Fault::Hook(hook)) => {
            hook();
            Ok(())
        }
    }
}
