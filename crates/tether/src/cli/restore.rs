//! `tether restore …`: a machine's restore points.

use clap::{Args, Subcommand};

/// The agent, and how to print: every restore command has both.
#[derive(Debug, Args)]
pub struct On {
    /// The agent: an alias from hosts.toml, a name or an address.
    pub host: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The restore point a command acts on.
#[derive(Debug, Args)]
pub struct Point {
    /// The restore point's id (from `tether restore list`).
    pub id: String,
}

/// Confirmation of a change to the machine.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Do not ask (required when not on a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

/// How much of a change list to print.
#[derive(Debug, Args)]
pub struct Detail {
    /// List every path the agent sent, not only the first few of each kind.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// List restore points, oldest first.
    List {
        #[command(flatten)]
        on: On,
    },
    /// Show one restore point and its files.
    Show {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        point: Point,
    },
    /// What rolling back to a point would change (a dry run).
    Diff {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        point: Point,
        #[command(flatten)]
        detail: Detail,
    },
    /// Take a restore point now.
    Create {
        #[command(flatten)]
        on: On,
        /// A note on why, shown in the list.
        #[arg(long)]
        label: Option<String>,
        /// Never prune this point automatically.
        #[arg(long)]
        keep: bool,
    },
    /// Roll back to a point; shows the changes and asks first (a restore
    /// point taken just before makes it undoable).
    Rollback {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        point: Point,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        detail: Detail,
    },
    /// Undo the last rollback.
    Undo {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        confirm: Confirm,
        #[command(flatten)]
        detail: Detail,
    },
    /// Delete a restore point.
    Delete {
        #[command(flatten)]
        on: On,
        #[command(flatten)]
        point: Point,
        /// Also delete the point the last rollback can be undone to (the
        /// rollback then becomes final).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Check the restore store's integrity (exits 1 on problems).
    Verify {
        #[command(flatten)]
        on: On,
    },
}

impl RestoreCommand {
    /// The agent the command goes to.
    pub fn host(&self) -> &str {
        match self {
            RestoreCommand::List { on }
            | RestoreCommand::Show { on, .. }
            | RestoreCommand::Diff { on, .. }
            | RestoreCommand::Create { on, .. }
            | RestoreCommand::Rollback { on, .. }
            | RestoreCommand::Undo { on, .. }
            | RestoreCommand::Delete { on, .. }
            | RestoreCommand::Verify { on } => &on.host,
        }
    }
}
