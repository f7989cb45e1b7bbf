//! Thin wrappers over operating-system calls that Tether's crates share, so
//! that each `unsafe` block lives in one place with the reason it is sound
//! and each failure comes back as a typed error. Nothing here knows about
//! Tether's protocol or policy; a wrapper takes plain values (a pid, a
//! path, a descriptor) and returns plain facts.
//!
//! # Layout
//! - [`signal`]: sending signals to a process or a process group, and the
//!   SIGPIPE disposition of printing commands.
//! - [`process`]: ending a child politely (SIGTERM, a grace period, then
//!   SIGKILL) and reaping it.
//! - [`fs`]: filesystem-wide facts and operations (`statvfs`, `syncfs`; Unix).
//! - [`dirs`]: the user's configuration and data directories (XDG on
//!   Unix, `%APPDATA%` and `%LOCALAPPDATA%` on Windows).
//! - [`files`]: per-file durability and permissions on every system
//!   (directory flush, files and directories private from their creation
//!   and the check that one is: modes, or ACLs on Windows; file identity).
//! - [`random`]: bytes from the system's random source and unique ids.
//! - [`memory`]: giving freed memory back to the system.
//! - [`net`]: what the kernel counted for a TCP connection (benches).
//! - `service` (Windows): the service dispatcher's entry point, whose
//!   system callback needs `unsafe`.
//!
//! Crates whose `unsafe` is specific to them keep it (the restore engine's
//! directory descriptors, the capture's shared memory); this crate holds
//! what more than one crate needs.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod dirs;
pub mod files;
pub mod fs;
pub mod memory;
#[cfg(target_os = "linux")]
pub mod net;
#[cfg(unix)]
pub mod process;
pub mod random;
#[cfg(windows)]
pub mod service;
pub mod signal;

pub use signal::die_quietly_on_closed_pipe;
