//! `tether restore …`: a machine's restore points.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum RestoreCommand {
    /// List restore points, oldest first.
    List {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one restore point and its files.
    Show {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// The restore point's id (from `tether restore list`).
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What rolling back to a point would change (a dry run).
    Diff {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// The restore point's id (from `tether restore list`).
        id: String,
        /// List every path the agent sent, not only the first few of each kind.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take a restore point now.
    Create {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// A note on why, shown in the list.
        #[arg(long)]
        label: Option<String>,
        /// Never prune this point automatically.
        #[arg(long)]
        keep: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Roll back to a point; shows the changes and asks first (a restore
    /// point taken just before makes it undoable).
    Rollback {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// The restore point's id (from `tether restore list`).
        id: String,
        /// Do not ask (required when not on a terminal).
        #[arg(long, short)]
        yes: bool,
        /// List every path the agent sent, not only the first few of each kind.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Undo the last rollback.
    Undo {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// Do not ask (required when not on a terminal).
        #[arg(long, short)]
        yes: bool,
        /// List every path the agent sent, not only the first few of each kind.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a restore point.
    Delete {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// The restore point's id (from `tether restore list`).
        id: String,
        /// Also delete the point the last rollback can be undone to (the
        /// rollback then becomes final).
        #[arg(long)]
        force: bool,
        /// Do not ask (required when not on a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the restore store's integrity (exits 1 on problems).
    Verify {
        /// The agent: an alias from hosts.toml, a name or an address.
        host: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl RestoreCommand {
    pub fn host(&self) -> &str {
        match self {
            RestoreCommand::List { host, .. }
            | RestoreCommand::Show { host, .. }
            | RestoreCommand::Diff { host, .. }
            | RestoreCommand::Create { host, .. }
            | RestoreCommand::Rollback { host, .. }
            | RestoreCommand::Undo { host, .. }
            | RestoreCommand::Delete { host, .. }
            | RestoreCommand::Verify { host, .. } => host,
        }
    }
}
