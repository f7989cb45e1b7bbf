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
