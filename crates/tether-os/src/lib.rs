//! Thin wrappers over operating-system calls that the binaries share, so
//! that each `unsafe` block lives in one place with the reason it is sound.
//! Nothing here knows about Tether's protocol or policy.

/// Makes writes to a closed pipe end the process quietly, as Unix tools
/// do (`tether ps HOST | head -1`). Rust ignores SIGPIPE by default, so
/// `println!` to a closed pipe panics with a backtrace instead.
///
/// Only for processes whose sockets cannot raise SIGPIPE (UDP, or none):
/// a long-running service must keep ignoring it, or a peer closing a
/// stream socket would kill it.
pub fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: signal(2) with SIG_DFL installs no handler of ours; it only
    // restores the kernel's default disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
