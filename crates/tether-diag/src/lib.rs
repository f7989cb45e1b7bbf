//! Diagnostics: what the agent knows about its own machine.
//!
//! Functions here read the operating system (through `sysinfo` where it
//! covers the ground) and return `tether-proto` types, ready for the wire.
//! They block for as long as the OS takes to answer, so the agent calls them
//! on a blocking thread. Nothing here talks to the network or decides who
//! may ask.

mod summary;

pub use summary::system_summary;

/// Why facts could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    #[error("cannot read system information: {0}")]
    System(String),
}
