//! What the engine locks, and for how long. Operations run at once (the
//! agent serves several technicians), and none holds a lock while it
//! reads the user's files except against a rollback, so a read stalled
//! on a hung filesystem blocks no one else's `list`, `show`, `verify`,
//! `delete`, point or diff:
//!
//! - the **tree** lock: exclusive for a rollback, undo or resume (they
//!   change the tree and write the journal), shared for a point or a diff
//!   (they read it, and must not see a rollback half-way);
//! - the **store** lock: publishing a point, retention, deleting and
//!   verifying; held only for store I/O, never across a user file read;
//! - **holds**: objects a running operation will refer to but no
//!   published point does yet; garbage collection keeps them (and holds
//!   their lock for its whole pass, so nothing is held half-way through).
//!
//! Listing and showing points take no lock: points are published and
//! deleted by atomic renames and removals.
//!
//! Every wait for a lock is a [`watch`] step: whoever gave up on the
//! operation gets it back instead of a thread waiting behind a stalled one.

use std::cell::RefCell;
use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use super::*;

fn acquired<G>(result: Result<G, TryLockError<G>>) -> Option<G> {
    match result {
        Ok(guard) => Some(guard),
        // A panic (an injected crash in tests) poisons a lock; the journal,
        // not the lock, keeps the tree consistent, so carry on.
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Engine {
    pub(super) fn lock_store(&self) -> Result<MutexGuard<'_, ()>, RestoreError> {
        watch::wait_for("another operation on the restore store", || {
            acquired(self.store.try_lock())
        })
    }

    /// For a point or a diff: waits while a rollback runs.
    pub(super) fn read_tree(&self) -> Result<RwLockReadGuard<'_, ()>, RestoreError> {
        watch::wait_for("a rollback of the same paths to finish", || acquired(self.tree.try_read()))
    }

    /// For a rollback, undo or resume: waits for points and diffs being
    /// taken to finish.
    pub(super) fn write_tree(&self) -> Result<RwLockWriteGuard<'_, ()>, RestoreError> {
        watch::wait_for("other restore operations on the same paths to finish", || {
            acquired(self.tree.try_write())
        })
    }
}

/// Objects held by one operation, released when it is dropped.
pub(super) struct Holds<'a> {
    engine: &'a Engine,
    held: RefCell<Vec<String>>,
}

impl<'a> Holds<'a> {
    pub fn new(engine: &'a Engine) -> Holds<'a> {
        Holds { engine, held: RefCell::new(Vec::new()) }
    }

    /// Keeps `hash` from garbage collection until this is dropped. Waits
    /// while a collection runs (it does store I/O only).
    pub fn hold(&self, hash: &str) {
        let mut in_flight = self.engine.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        *in_flight.entry(hash.to_owned()).or_default() += 1;
        self.held.borrow_mut().push(hash.to_owned());
    }
}

impl Drop for Holds<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.engine.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for hash in self.held.borrow_mut().drain(..) {
            if let Some(count) = in_flight.get_mut(&hash) {
                *count -= 1;
                if *count == 0 {
                    in_flight.remove(&hash);
                }
            }
        }
    }
}
