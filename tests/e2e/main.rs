//! End-to-end tests: real binaries, real certificates, loopback.
//!
//! One test binary (ripgrep's layout) so the binaries are located once and
//! tests run in parallel within it.

mod auth;
mod cli;
mod connect;
mod diagnostics;
mod distrust;
mod doctor;
mod enroll;
mod escapes;
mod fake_agent;
mod fleet;
mod fleet_serve;
mod hardening;
mod hostile_agent;
mod network;
mod pipes;
mod progress;
mod protocol;
mod raw;
mod readme;
mod restore;
mod restore_kills;
mod screen;
mod tickets;
mod view;
