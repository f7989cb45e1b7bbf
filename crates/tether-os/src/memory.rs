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
