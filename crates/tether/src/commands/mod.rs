//! One module per subcommand. Each takes parsed arguments and returns the
//! process's exit code; errors carry context for the one-line report.
//!
//! The commands that talk to one agent (`info`, `ps`, `kill`, `net`, …)
//! have a core that runs on a given [`tether_client::Session`] and returns
//! a [`Done`]; `host` dispatches to them, for one-shot commands (connect,
//! run the core, finish) and for `tether connect`'s session alike.

pub mod audit;
pub mod demo;
pub mod doctor;
pub mod fleet;
mod fleet_prometheus;
pub mod fleet_serve;
pub mod host;
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
mod ticket_export;
pub mod view;

use std::process::ExitCode;

use tether_client::exit::Outcome;

/// What a host command did: its exit status and one line saying so, for
/// a ticket's timeline ("net: DNS layer failed", "kill 4242: exited").
/// Text from the agent in `summary` is already escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub outcome: Outcome,
    pub summary: String,
    /// The PNG a screenshot wrote, so it can be kept with a ticket.
    pub screenshot: Option<Screenshot>,
}

/// A screenshot's file name and the PNG bytes written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    pub name: String,
    pub png: Vec<u8>,
}

impl Done {
    pub fn new(outcome: Outcome, summary: impl Into<String>) -> Done {
        Done { outcome, summary: summary.into(), screenshot: None }
    }

    pub fn success(summary: impl Into<String>) -> Done {
        Done::new(Outcome::Success, summary)
    }

    /// Whether the command's exit code is 0.
    pub fn succeeded(&self) -> bool {
        self.outcome.exit_code() == tether_client::exit::SUCCESS
    }

    pub fn exit_code(&self) -> ExitCode {
        self.outcome.into()
    }
}
