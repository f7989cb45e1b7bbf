//! The process's own memory.

/// Gives memory the allocator holds but no longer uses back to the
/// system. glibc keeps freed large allocations mapped in its per-thread
/// arenas; after a burst (a view's frames) the resident size would stay at
/// its peak without this. A no-op where the allocator is not glibc's.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own heap under its own locks;
    // it takes no pointers from us and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes glibc give large freed blocks back at once: every block of
/// 128 KiB or more gets its own mapping, unmapped when freed. By default
/// glibc raises that threshold to the largest block freed so far (up to
/// 32 MiB), after which such blocks (a view's per-update buffers, search
/// tables) are carved from per-thread arenas that keep their peak
/// resident: 6 MiB of a 41 MiB agent streaming a photo desktop, 1.5 MiB
/// with this. It only changes where blocks live, at the cost of a
/// mapping per large block (tens per second while streaming). A no-op
/// where the allocator is not glibc's.
pub fn bound_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc tunable under glibc's own lock; it
    // takes no pointers and is safe to call from any thread at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

/// Lets glibc's allocator use at most two arenas. By default it gives a
/// thread that finds the arenas busy one of its own, up to eight per core,
/// and each keeps its freed small blocks resident: the agent's tokio
/// workers, capture thread and blocking pool spread a view's allocations
/// over several. Two leave little contention among the agent's few busy
/// threads (glibc's per-thread caches serve most small blocks without a
/// lock). Call before starting threads. A no-op where the allocator is
/// not glibc's.
pub fn few_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as in `bound_retention`: a glibc tunable set under its lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
