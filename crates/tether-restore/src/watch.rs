//! Watching a running operation from outside. Each step of an operation
//! (a directory listed, a file read, a journal operation done) is counted
//! and named on its thread's [`Watch`], so whoever started the operation
//! can tell a slow one from one stalled in a read that never returns (a
//! hung network filesystem), stop waiting for it and say where it stalled.
//!
//! A thread blocked in a system call cannot be interrupted, so giving up
//! is [`Watch::abandon`]: the operation stops at its next step with
//! [`RestoreError::Abandoned`] if it has changed nothing yet; a rollback
//! already committing runs on to its end (or its return), as it must.
//! The engine holds no lock during the steps that read the user's files,
//! so a stalled one blocks no other operation (see [`crate::Engine`]).
//!
//! Without a watch installed (`run`), steps cost one thread-local read.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::RestoreError;

/// The progress of one operation, shared between the thread running it
/// and the one waiting for it.
#[derive(Debug)]
pub struct Watch {
    steps: AtomicU64,
    /// When the last step began, and what it is.
    last: Mutex<(Instant, String)>,
    abandoned: AtomicBool,
    /// Set once the operation changes what the user sees (a rollback's
    /// commit, its return, a recovery): from then on it runs to its end.
    must_finish: AtomicBool,
}

impl Watch {
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            steps: AtomicU64::new(0),
            last: Mutex::new((Instant::now(), "starting".into())),
            abandoned: AtomicBool::new(false),
            must_finish: AtomicBool::new(false),
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    /// How long the current step has been running.
    pub fn idle_for(&self) -> Duration {
        self.last.lock().map(|l| l.0.elapsed()).unwrap_or_default()
    }

    /// What the current step is ("reading /etc/app.conf").
    pub fn doing(&self) -> String {
        self.last.lock().map(|l| l.1.clone()).unwrap_or_default()
    }

    /// Stops the operation at its next step, if it can still stop.
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }

    /// True if the operation has begun changing what the user sees, so
    /// abandoning it no longer stops it.
    pub fn must_finish(&self) -> bool {
        self.must_finish.load(Ordering::Relaxed)
    }

    fn stopped(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed) && !self.must_finish()
    }

    fn begin(&self, doing: String) {
        self.steps.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last.lock() {
            *last = (Instant::now(), doing);
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Watch>>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread with `watch` counting its steps.
pub fn run<T>(watch: &Arc<Watch>, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(watch)));
    let result = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    result
}

/// One step; `Abandoned` if whoever waits gave up and the operation has
/// not begun changing what the user sees.
pub(crate) fn step(doing: impl FnOnce() -> String) -> Result<(), RestoreError> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(watch) if watch.stopped() => Err(RestoreError::Abandoned),
        Some(watch) => {
            watch.begin(doing());
            Ok(())
        }
        None => Ok(()),
    })
}

/// Marks the operation as changing what the user sees: no later step is
/// abandoned.
pub(crate) fn must_finish() {
    CURRENT.with(|c| {
        if let Some(watch) = c.borrow().as_ref() {
            watch.must_finish.store(true, Ordering::Relaxed);
        }
    });
}

/// The step before reading the user's file or directory at `path`.
pub(crate) fn reading(path: &str) -> Result<(), RestoreError> {
    step(|| format!("reading {path}"))?;
    stall_if_armed(path);
    Ok(())
}

/// Waits for `lock` to be free, as a step named `what` that may be
/// abandoned (the lock's holder may itself be stalled).
pub(crate) fn wait_for<G>(
    what: &str,
    mut try_lock: impl FnMut() -> Option<G>,
) -> Result<G, RestoreError> {
    if let Some(guard) = try_lock() {
        return Ok(guard);
    }
    step(|| format!("waiting for {what}"))?;
    loop {
        // Polling keeps abandoning possible: a blocking lock would not be.
        std::thread::sleep(Duration::from_millis(20));
        if let Some(guard) = try_lock() {
            return Ok(guard);
        }
        if CURRENT.with(|c| c.borrow().as_ref().is_some_and(|w| w.stopped())) {
            return Err(RestoreError::Abandoned);
        }
    }
}

/// A test hook: the read of one path blocks until released, as on a hung
/// filesystem, on whatever thread reads it.
static STALL_ARMED: AtomicBool = AtomicBool::new(false);
#[allow(clippy::type_complexity)]
static STALLS: Mutex<Vec<(PathBuf, mpsc::Receiver<()>)>> = Mutex::new(Vec::new());

/// Makes the next read of `path` (by any thread) block until the returned
/// sender is dropped or sends.
#[doc(hidden)]
pub fn stall_reads_of(path: impl Into<PathBuf>) -> mpsc::Sender<()> {
    let (release, wait) = mpsc::channel();
    if let Ok(mut stalls) = STALLS.lock() {
        stalls.push((path.into(), wait));
    }
    STALL_ARMED.store(true, Ordering::Relaxed);
    release
}

fn stall_if_armed(path: &str) {
    if !STALL_ARMED.load(Ordering::Relaxed) {
        return;
    }
    let wait = STALLS.lock().ok().and_then(|mut stalls| {
        let at = stalls.iter().position(|(p, _)| p.as_os_str() == path)?;
        Some(stalls.remove(at).1)
    });
    if let Some(wait) = wait {
        let _ = wait.recv();
    }
}
