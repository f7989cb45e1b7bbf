//! The command line: every flag's doc comment is its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod examples;
use examples::{AFTER_HELP, CONNECT_HELP, INPUT_HELP, RESTORE_HELP, VIEW_HELP};
mod fleet;
mod pki;
pub mod restore;
mod ticket;
mod words;
pub use fleet::{CheckArgs, FleetCommand, FleetFormat, ServeArgs};
pub use pki::PkiCommand;
pub use restore::RestoreCommand;
pub use ticket::{FormatArg, GroupArg, ReportArgs, TicketCommand};
pub use words::{command_words, names_a_check};

/// Tether controller: reach help-desk agents over QUIC with mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "tether", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory holding tech.crt, tech.key, ca.crt, crl.pem and hosts.toml.
    #[arg(long, global = true, env = "TETHER_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Technician certificate (PEM). Default: CONFIG_DIR/tech.crt.
    #[arg(long, global = true, env = "TETHER_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Technician private key (PEM). Default: CONFIG_DIR/tech.key.
    #[arg(long, global = true, env = "TETHER_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Organisation CA certificate (PEM). Default: CONFIG_DIR/ca.crt.
    #[arg(long, global = true, env = "TETHER_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The CA's revocation list (PEM): agents on it are refused. Default:
    /// CONFIG_DIR/crl.pem when present; without one, revoked agent
    /// certificates are accepted. A file named here must exist.
    #[arg(long, global = true, env = "TETHER_CRL", value_name = "FILE")]
    pub crl: Option<PathBuf>,
    /// Hosts file with aliases. Default: CONFIG_DIR/hosts.toml.
    #[arg(long, global = true, env = "TETHER_HOSTS", value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Name the agent's certificate must carry, when it differs from HOST.
    #[arg(long, global = true, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Trouble ticket this session works on, recorded in the agent's audit
    /// log; one of ours (T-42 or 42) must be in the ticket store, which
    /// keeps what is done for it.
    #[arg(long, global = true, env = "TETHER_TICKET", value_name = "ID")]
    pub ticket: Option<String>,
    /// The ticket store: an SQLite file, or a postgres:// URL shared by a
    /// team. Default: [tickets] db in CONFIG_DIR/tether.toml, else
    /// $XDG_DATA_HOME/tether/tickets.db.
    /// The value is never shown in help: a URL may hold a password.
    #[arg(long, global = true, env = "TETHER_DB", hide_env_values = true, value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Seconds to wait for the agent to connect and to answer.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a machine's system information: host, CPU, memory, disks, network,
    /// sensors, users, batteries, clock skew (tier 1, fleet).
    Info {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// List processes, sampled over 250 ms (tier 1, fleet).
    Ps {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Sort by CPU, memory or pid.
        #[arg(long, value_enum, default_value_t = SortArg::Cpu)]
        sort: SortArg,
        /// Only processes whose name or command contains this (any case).
        #[arg(long, value_name = "NAME")]
        filter: Option<String>,
        /// At most this many processes.
        #[arg(short = 'n', long, default_value_t = 40)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Signal a process and wait up to 3 s for it to exit (tier 2). Exits 1 if it
    /// is still running.
    Kill {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// The process id, as `tether ps` shows it.
        pid: u32,
        /// TERM asks the process to end; KILL ends it at once.
        #[arg(long, value_enum, default_value_t = SignalArg::Term)]
        signal: SignalArg,
        /// Print JSON instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Check the network from the machine's point of view: link, gateway, DNS
    /// per resolver, TCP, HTTP(S), ping, ending in a layered verdict (tier 1,
    /// fleet). Without targets it runs the default set. Exits 0 OK, 1 WARNING,
    /// 2 CRITICAL, 3 UNKNOWN.
    Net {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        #[command(flatten)]
        targets: NetTargets,
        /// Also measure the link to this controller over the session: RTT and
        /// throughput in both directions (tier 1).
        #[arg(long)]
        throughput: bool,
        /// How much each throughput direction moves, in MiB (1 to 64).
        #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=64))]
        throughput_mib: u64,
        /// Also run the default set (gateway, resolvers, this controller,
        /// the agent's configured targets); implied when no target is given.
        #[arg(long)]
        defaults: bool,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Health check: disks, memory and swap, stuck and zombie processes, CPU
    /// hogs, failed services, recent crashes, pending reboot, clock skew and the
    /// network, ranked by severity with next steps (tier 1, fleet). Exits 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Doctor {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        #[command(flatten)]
        targets: NetTargets,
        /// Leave the network checks out.
        #[arg(long, conflicts_with_all = ["dns", "tcp", "urls", "ping"])]
        no_network: bool,
        /// Print JSON instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Show the newest records of an agent's audit log (tier 3).
    Audit {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Open a window on the machine's screen, live; with tier 2 and the
    /// user's consent where policy asks, control mouse and keyboard.
    #[command(after_help = VIEW_HELP)]
    View {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Only look: send no mouse or keyboard input (tier 1).
        #[arg(long)]
        view_only: bool,
        /// Which monitor (see `tether monitors`). Default: the primary.
        #[arg(long, value_name = "N")]
        monitor: Option<u32>,
        /// Fit the screen to the window, or show it 1:1 (a larger screen
        /// pans with the pointer at the window's edges).
        #[arg(long, value_enum, default_value_t = ScaleArg::Fit)]
        scale: ScaleArg,
        /// Frame rate cap (the agent's own cap may be lower).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
        fps: u32,
    },
    /// Save one frame of the machine's screen as PNG (tier 1).
    Screenshot {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Where to write the PNG.
        #[arg(short, long, value_name = "FILE.png")]
        output: PathBuf,
        /// Which monitor. Default: the primary.
        #[arg(long, value_name = "N")]
        monitor: Option<u32>,
        /// Print what was saved as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the monitors of the machine's display (tier 1).
    Monitors {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send mouse and keyboard input once (tier 2). Actions run in this
    /// order: --move, --click, --scroll, --type, --keys; whatever is still
    /// held afterwards is released.
    #[command(after_help = INPUT_HELP)]
    Input {
        /// Alias from hosts.toml, or host[:port].
        host: String,
        /// Move the pointer to X,Y (monitor pixels).
        #[arg(long = "move", value_name = "X,Y", value_parser = parse_point)]
        move_to: Option<(i32, i32)>,
        /// Click at X,Y.
        #[arg(long, value_name = "X,Y", value_parser = parse_point)]
        click: Option<(i32, i32)>,
        /// The button --click uses: left, middle, right, back, forward.
        #[arg(long, default_value = "left", value_parser = parse_button)]
        button: tether_proto::screen::MouseButton,
        /// Scroll N wheel steps (negative: up).
        #[arg(long, value_name = "N", allow_hyphen_values = true)]
        scroll: Option<i32>,
        /// Press a key combo, e.g. ctrl+alt+delete, super+l, enter, f5.
        /// (`--keys`, as `--key` names the technician's private key.)
        #[arg(long, value_name = "COMBO")]
        keys: Option<String>,
        /// Type text as if on the keyboard.
        #[arg(long = "type", value_name = "TEXT")]
        text: Option<String>,
        /// Which monitor the coordinates are on. Default: the primary.
        #[arg(long, value_name = "N")]
        monitor: Option<u32>,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// An interactive session with one machine: the host commands (info,
    /// ps, kill, net, …) without the host, on one connection, with history,
    /// completion and help.
    /// With --ticket N every command is recorded in the ticket's timeline.
    #[command(after_help = CONNECT_HELP)]
    Connect {
        /// Alias from hosts.toml, or host[:port].
        host: String,
    },
    /// Restore points: list, show, diff and verify (tier 1), create (tier 2),
    /// rollback, undo and delete (tier 3).
    #[command(subcommand, after_help = RESTORE_HELP)]
    Restore(RestoreCommand),
    /// Trouble tickets: open, list, show, note, escalate, assign, resolve,
    /// reopen, export.
    #[command(subcommand)]
    Ticket(TicketCommand),
    /// How often which problems come in, how many get resolved, how fast,
    /// and which breached their time frame.
    #[command(after_help = ticket::REPORT_HELP)]
    Report(ReportArgs),
    /// Manage the organisation's certificates (run by the help-desk admin).
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Health checks across a fleet: inventories and one run over many
    /// agents (fleet role).
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// List the aliases in the hosts file.
    Hosts {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a throw-away PKI, start an agent on loopback and query it.
    Demo {
        /// Keep the demo's files in DIR instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per command
    /// into a directory.
    Man {
        /// Write tether.1, tether-info.1, tether-restore-list.1, … here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Network check targets, shared by `net` and `doctor`.
#[derive(Debug, Args)]
pub struct NetTargets {
    /// Resolve NAME through the hosts file and every resolver (repeatable).
    #[arg(long = "dns", value_name = "NAME")]
    pub dns: Vec<String>,
    /// Connect to HOST:PORT over TCP (repeatable).
    #[arg(long = "tcp", value_name = "HOST:PORT")]
    pub tcp: Vec<String>,
    /// GET an http:// or https:// URL (repeatable).
    #[arg(long = "url", value_name = "URL")]
    pub urls: Vec<String>,
    /// Ping HOST (ICMP, or TCP where ICMP is not permitted; repeatable).
    #[arg(long = "ping", value_name = "HOST")]
    pub ping: Vec<String>,
}

impl NetTargets {
    /// The request; with no target the agent runs its default set.
    pub fn into_request(self, defaults: bool) -> tether_proto::net::NetCheckRequest {
        tether_proto::net::NetCheckRequest {
            dns: self.dns,
            tcp: self.tcp,
            urls: self.urls,
            ping: self.ping,
            defaults,
        }
    }
}

/// `--sort` values.
/// How `tether view` fits the screen into its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleArg {
    /// Scaled to the window, aspect ratio kept.
    Fit,
    /// One remote pixel per screen pixel.
    #[value(name = "1")]
    One,
}

fn parse_point(text: &str) -> Result<(i32, i32), String> {
    let (x, y) = text.split_once(',').ok_or_else(|| format!("{text:?}: write X,Y"))?;
    let coord = |v: &str| {
        v.trim()
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("{v:?} is not a pixel coordinate"))
    };
    Ok((coord(x)?, coord(y)?))
}

fn parse_button(text: &str) -> Result<tether_proto::screen::MouseButton, String> {
    tether_proto::screen::MouseButton::from_name(text)
        .ok_or_else(|| format!("{text:?}: use left, middle, right, back or forward"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    Cpu,
    Mem,
    Pid,
}

impl From<SortArg> for tether_proto::system::ProcessSort {
    fn from(s: SortArg) -> Self {
        match s {
            SortArg::Cpu => Self::Cpu,
            SortArg::Mem => Self::Memory,
            SortArg::Pid => Self::Pid,
        }
    }
}

/// `--signal` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignalArg {
    #[value(name = "TERM", alias = "term")]
    Term,
    #[value(name = "KILL", alias = "kill")]
    Kill,
}

impl From<SignalArg> for tether_proto::system::KillSignal {
    fn from(s: SignalArg) -> Self {
        match s {
            SignalArg::Term => Self::Term,
            SignalArg::Kill => Self::Kill,
        }
    }
}

impl Command {
    /// Whether this is a check command, which exits with Nagios codes.
    pub fn is_check(&self) -> bool {
        matches!(
            self,
            Command::Net { .. } | Command::Doctor { .. } | Command::Fleet(FleetCommand::Check(_))
        )
    }
}

/// The command line definition with every subcommand's examples and exit
/// codes: what `--help`, the man pages and completions are made from.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    examples::decorate(Cli::command())
}

/// Parses the process's arguments against [`command`].
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_command_has_examples_and_exit_codes() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let sub_path = format!("{path} {}", sub.get_name()).trim().to_owned();
                if sub.has_subcommands() {
                    walk(sub, &sub_path, missing);
                    continue;
                }
                let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
                if !help.contains("Examples:") || !help.contains("Exit codes") {
                    missing.push(sub_path);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&command(), "", &mut missing);
        assert!(missing.is_empty(), "without examples or exit codes: {missing:?}");
        let net = command().find_subcommand("net").unwrap().get_after_help().unwrap().to_string();
        assert!(net.contains("3 UNKNOWN"), "{net}");
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn info_and_globals_parse() {
        let cli = Cli::try_parse_from([
            "tether",
            "--ticket",
            "INC-1",
            "info",
            "pc-7",
            "--json",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(cli.global.ticket.as_deref(), Some("INC-1"));
        assert_eq!(cli.global.timeout, 2.5);
        assert!(matches!(cli.command, Command::Info { ref host, json: true } if host == "pc-7"));
    }

    #[test]
    fn issue_tech_needs_exactly_one_of_tier_and_role() {
        let parse = |args: &[&str]| {
            let mut full = vec!["tether", "pki", "issue-tech", "alice"];
            full.extend_from_slice(args);
            Cli::try_parse_from(full)
        };
        assert!(parse(&["--tier", "2"]).is_ok());
        assert!(parse(&["--role", "fleet"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--tier", "4"]).is_err());
        assert!(parse(&["--tier", "1", "--role", "fleet"]).is_err());
        assert!(parse(&["--role", "admin"]).is_err());
    }

    #[test]
    fn issue_agent_collects_repeated_sans() {
        let cli = Cli::try_parse_from([
            "tether",
            "pki",
            "issue-agent",
            "ws-1",
            "--ip",
            "10.0.0.1",
            "--ip",
            "::1",
            "--dns",
            "ws-1.lan",
        ])
        .unwrap();
        let Command::Pki(PkiCommand::IssueAgent { ips, dns, .. }) = cli.command else {
            panic!("expected issue-agent");
        };
        assert_eq!(ips.len(), 2);
        assert_eq!(dns, ["ws-1.lan"]);
        assert!(
            Cli::try_parse_from(["tether", "pki", "issue-agent", "x", "--ip", "nope"]).is_err()
        );
    }

    #[test]
    fn ps_and_kill_parse() {
        let cli = Cli::try_parse_from([
            "tether", "ps", "h", "--sort", "mem", "--filter", "fox", "-n", "5",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Ps { sort: SortArg::Mem, ref filter, limit: 5, json: false, .. } if filter.as_deref() == Some("fox")
        ));
        let cli = Cli::try_parse_from(["tether", "kill", "h", "42", "--signal", "KILL"]).unwrap();
        assert!(matches!(cli.command, Command::Kill { pid: 42, signal: SignalArg::Kill, .. }));
        assert!(Cli::try_parse_from(["tether", "kill", "h", "42", "--signal", "kill"]).is_ok());
        assert!(Cli::try_parse_from(["tether", "kill", "h", "-5"]).is_err());
        assert!(Cli::try_parse_from(["tether", "kill", "h", "1", "--signal", "HUP"]).is_err());
        assert!(Cli::try_parse_from(["tether", "ps", "h", "--sort", "name"]).is_err());
    }

    #[test]
    fn doctor_and_net_share_targets() {
        let cli =
            Cli::try_parse_from(["tether", "doctor", "h", "--dns", "a", "--tcp", "b:1"]).unwrap();
        let Command::Doctor { targets, no_network: false, .. } = cli.command else {
            panic!("doctor")
        };
        assert_eq!((targets.dns.len(), targets.tcp.len()), (1, 1));
        assert!(
            Cli::try_parse_from(["tether", "doctor", "h", "--no-network", "--dns", "a"]).is_err()
        );
        let cli = Cli::try_parse_from(["tether", "net", "h", "--url", "https://x/", "--defaults"])
            .unwrap();
        assert!(matches!(cli.command, Command::Net { defaults: true, .. }));
        assert!(cli.command.is_check());
    }

    #[test]
    fn audit_lines_must_be_a_number() {
        assert!(Cli::try_parse_from(["tether", "audit", "h", "-n", "many"]).is_err());
    }
}
