//! One module per subcommand. Each takes parsed arguments and returns the
//! process's exit code; errors carry context for the one-line report.

pub mod audit;
pub mod demo;
pub mod doctor;
pub mod fleet;
mod fleet_prometheus;
pub mod fleet_serve;
pub mod hosts;
pub mod info;
pub mod man;
pub mod net;
pub mod pki;
pub mod ps;
pub mod report;
pub mod restore;
pub mod screen;
pub mod ticket;
pub mod view;
