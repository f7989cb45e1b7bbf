//! `tether ticket …` and `tether report`: flags and their help.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use tether_tickets::{Category, Priority, TicketId};

pub const TICKET_HELP: &str = "\
Examples:
  tether ticket open 'VPN drops every hour' --requester 'Ada Lovelace' --host ws-042 \\
      --category network --priority P2
  tether ticket list --mine --open
  tether ticket note T-42 'called back, user on site until 17:00'
  tether ticket escalate 42 --tier 2 --reason 'needs a rollback'
  tether ticket resolve T-42 --resolution 'replaced the DNS server setting'
  tether ticket export T-42 ./T-42
  tether --db postgres://helpdesk@localhost/tickets ticket list --breached

The store: --db PATH|URL (or TETHER_DB), else [tickets] db in
CONFIG_DIR/tether.toml, else $XDG_DATA_HOME/tether/tickets.db. Time frames
per priority: [tickets.time_frames] P1 = \"4h\" (defaults P1 4h, P2 1d,
P3 3d, P4 5d). Your name on tickets is your certificate's CN (tech.crt).

Exit codes: 0 done, 1 failed (no such ticket, a change that does not fit
the ticket, the store unreachable), 2 usage error.";

pub const REPORT_HELP: &str = "\
Examples:
  tether report                              # last 30 days by category
  tether report --since 365d --by week --chart trend.png
  tether report --by requester --format csv > callers.csv
  tether report --by technician --json

Figures: volume, resolved (now), resolution rate, median and 90th
percentile time to resolve (opening to resolution, resolved tickets),
first-contact resolution (resolved tickets never escalated), share
escalated to tier 2 and to tier 3, breaches of the time frame (open past
due, or resolved late).

Exit codes: 0 done, 1 failed, 2 usage error.";

#[derive(Debug, Subcommand)]
pub enum TicketCommand {
    /// Open a ticket; its due time follows from the priority's time frame.
    #[command(after_help = TICKET_HELP)]
    Open {
        /// What the problem is, in a line.
        title: String,
        /// Who called: the person with the problem.
        #[arg(long, value_name = "NAME")]
        requester: String,
        /// The machine it is about (alias or name).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// network, hardware, software, account or other.
        #[arg(long, default_value = "other", value_parser = parse_category)]
        category: Category,
        /// P1 (most urgent) to P4.
        #[arg(long, default_value = "P3", value_parser = parse_priority)]
        priority: Priority,
        /// Print the ticket as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tickets, newest first, with their time frame's state.
    #[command(after_help = TICKET_HELP)]
    List {
        /// Only tickets not resolved.
        #[arg(long)]
        open: bool,
        /// Only yours: assigned to you, or opened by you and unassigned.
        #[arg(long)]
        mine: bool,
        /// Only tickets past their due time (open and overdue, or resolved late).
        #[arg(long)]
        breached: bool,
        /// At most this many, the newest; 0 for all.
        #[arg(short = 'n', long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a ticket and its timeline (screenshots listed).
    #[command(after_help = TICKET_HELP)]
    Show {
        /// T-42 or 42.
        id: TicketId,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Add a note to the timeline.
    #[command(after_help = TICKET_HELP)]
    Note {
        /// T-42 or 42.
        id: TicketId,
        /// The note.
        text: String,
        /// Print the entry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Escalate to a higher tier (2 or 3).
    #[command(after_help = TICKET_HELP)]
    Escalate {
        /// T-42 or 42.
        id: TicketId,
        /// The tier it goes to.
        #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
        tier: u8,
        /// Why.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Print the ticket as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Assign to a technician (their certificate's CN).
    #[command(after_help = TICKET_HELP)]
    Assign {
        /// T-42 or 42.
        id: TicketId,
        /// The technician's name.
        tech: String,
        /// Print the ticket as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve, saying how.
    #[command(after_help = TICKET_HELP)]
    Resolve {
        /// T-42 or 42.
        id: TicketId,
        /// What fixed it.
        #[arg(long, value_name = "TEXT")]
        resolution: String,
        /// Print the ticket as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reopen a resolved ticket (its due time stays).
    #[command(after_help = TICKET_HELP)]
    Reopen {
        /// T-42 or 42.
        id: TicketId,
        /// Print the ticket as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the timeline as Markdown (DIR/T-42.md) and its screenshots as PNGs.
    #[command(after_help = TICKET_HELP)]
    Export {
        /// T-42 or 42.
        id: TicketId,
        /// Where to write: created 0700 if missing; an existing one must be
        /// yours and not writable by others. Files are created 0600.
        dir: PathBuf,
        /// Replace files of an earlier export (symlinks are still refused).
        #[arg(long)]
        force: bool,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Tickets opened in this past period: 30d, 12w, 365d, 48h.
    #[arg(long, default_value = "30d", value_parser = parse_since)]
    pub since: i64,
    /// One row per category, host, technician (assignee, else opener),
    /// ISO week or requester.
    #[arg(long, value_enum, default_value_t = GroupArg::Category)]
    pub by: GroupArg,
    /// Table for people, JSON or CSV for other programs.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Also draw the weekly volume and resolution-time trend of the period
    /// as a PNG (needs the DejaVu Sans font: fonts-dejavu-core).
    #[arg(long, value_name = "FILE.png")]
    pub chart: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupArg {
    Category,
    Host,
    Technician,
    Week,
    Requester,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Csv,
}

fn parse_category(text: &str) -> Result<Category, String> {
    text.parse().map_err(|_| format!("{text:?}: use network, hardware, software, account or other"))
}

fn parse_priority(text: &str) -> Result<Priority, String> {
    text.parse().map_err(|_| format!("{text:?}: use P1, P2, P3 or P4"))
}

fn parse_since(text: &str) -> Result<i64, String> {
    tether_tickets::model::parse_span(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn ticket_flags_parse_and_bad_values_are_usage_errors() {
        let cli = Cli::try_parse_from([
            "tether",
            "ticket",
            "open",
            "VPN",
            "--requester",
            "Ada",
            "--priority",
            "p1",
            "--category",
            "network",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Ticket(super::TicketCommand::Open { .. })));
        assert!(
            Cli::try_parse_from(["tether", "ticket", "open", "VPN"]).is_err(),
            "--requester is required"
        );
        assert!(Cli::try_parse_from(["tether", "ticket", "escalate", "1", "--tier", "4"]).is_err());
        assert!(
            Cli::try_parse_from([
                "tether",
                "ticket",
                "open",
                "x",
                "--requester",
                "a",
                "--priority",
                "P5"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from([
            "tether",
            "--db",
            "/tmp/t.db",
            "report",
            "--since",
            "365d",
            "--by",
            "week",
        ])
        .unwrap();
        assert_eq!(cli.global.db.as_deref(), Some("/tmp/t.db"));
        match cli.command {
            Command::Report(args) => {
                assert_eq!((args.since, args.by), (365 * 86_400, super::GroupArg::Week))
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["tether", "report", "--since", "soon"]).is_err());
    }

    /// A malformed id is a usage error (exit 2), caught by clap before
    /// any store is opened.
    #[test]
    fn malformed_ticket_ids_are_usage_errors() {
        for bad in ["T-x", "0", "T-", "4 2", "+3"] {
            let e = Cli::try_parse_from(["tether", "ticket", "show", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
        let cli = Cli::try_parse_from(["tether", "ticket", "reopen", "t-7"]).unwrap();
        match cli.command {
            Command::Ticket(super::TicketCommand::Reopen { id, .. }) => {
                assert_eq!(id, tether_tickets::TicketId(7))
            }
            other => panic!("{other:?}"),
        }
    }
}
