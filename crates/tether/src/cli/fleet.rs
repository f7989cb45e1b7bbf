//! `tether fleet …`: health checks across many agents.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

pub(super) const INVENTORY_HELP: &str = "\
Examples:
  tether fleet inventory --from-list hosts.txt > fleet.toml
  tether fleet inventory --from-list hosts.txt --group lab -o lab.toml

The list has one `host[:port]` or `alias host[:port]` per line; `#` starts
a comment. Add groups and tags by editing the TOML, e.g.
  [hosts.ws-042]
  address = \"10.0.0.42\"
  groups = [\"front-office\"]
  tags = [\"floor-2\"]

Exit codes: 0 ok, 1 failure, 2 usage.";

pub(super) const CHECK_HELP: &str = "\
Examples:
  tether fleet check --inventory fleet.toml
  tether fleet check --inventory ~/.config/tether/hosts.toml --group lab --format nagios
  tether fleet check --inventory fleet.toml --checks checks.toml --format prometheus \\
      -o /var/lib/node_exporter/textfile/tether.prom --exit-zero
  tether fleet check --inventory fleet.toml --format jsonl | jq 'select(.status != \"OK\")'

Use a certificate with the fleet role (tether pki issue-tech NAME --role fleet),
named with --cert/--key or as tech.crt/tech.key in the config directory.
Checks: reachability, handshake time, agent version, certificate expiry,
load per core, memory, disk space and inodes per mount, clock skew and
required processes; see README.md for the checks file and its defaults.
A check that cannot run is UNKNOWN, never OK.

Exit codes (Nagios, the worst host's status): 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (also for a run that could not start); --exit-zero exits 0
whenever the run completed.";

pub(super) const SERVE_HELP: &str = "\
Examples:
  tether fleet serve --inventory fleet.toml
  tether fleet serve --listen 0.0.0.0:9434 --inventory fleet.toml --module quick=quick.toml
  curl 'http://127.0.0.1:9434/probe?target=ws-042&module=default'
  curl http://127.0.0.1:9434/metrics            the exporter's own counters

A multi-target exporter, as blackbox_exporter: Prometheus names the host
(an inventory alias, or host:port whose certificate carries the host) and
the module (a checks file; `default` is the documented defaults) for each
scrape, and gets that host's tether_fleet_* series. See README.md for the
prometheus.yml relabelling and for sharding a large fleet over several
exporters. Runs until SIGTERM or Ctrl-C.

Exit codes: 0 stopped by a signal, 1 failure, 2 usage.";

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Turn a plain list of hosts into an inventory (TOML).
    #[command(after_help = INVENTORY_HELP)]
    Inventory {
        /// The list: one `host[:port]` or `alias host[:port]` per line.
        #[arg(long, value_name = "FILE")]
        from_list: PathBuf,
        /// Put every host in this group (repeatable).
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
        /// Write here (atomically) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check every selected host of an inventory at once (fleet role).
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Serve fleet checks to Prometheus over HTTP (/probe, /metrics).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

/// `tether fleet serve`'s arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen for Prometheus (HTTP).
    #[arg(long, default_value = "127.0.0.1:9434", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// An inventory whose aliases targets may name; other targets are
    /// host[:port], whose certificate must carry the host.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// A module: NAME=FILE, a checks file that `module=NAME` selects
    /// (repeatable). `default` is the documented defaults unless given.
    #[arg(long = "module", value_name = "NAME=FILE")]
    pub modules: Vec<String>,
    /// Probes run at once; more wait their turn.
    #[arg(long, default_value_t = 64, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
}

/// `tether fleet check`'s arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The inventory (TOML); a hosts.toml works as one.
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Thresholds, deadline and retries (TOML); default: the documented
    /// defaults.
    #[arg(long, value_name = "FILE")]
    pub checks: Option<PathBuf>,
    /// Only hosts in this group (repeatable: any of them).
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Only hosts with this tag (repeatable: all of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only this host, by its inventory alias (repeatable).
    #[arg(long = "host", id = "only_host", value_name = "ALIAS")]
    pub only_hosts: Vec<String>,
    /// Hosts checked at once.
    #[arg(long, default_value_t = 512, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub concurrency: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Table)]
    pub format: FleetFormat,
    /// Write the output here, atomically (for node_exporter's textfile
    /// collector), instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 0 whenever the run completed, whatever the hosts' status.
    #[arg(long)]
    pub exit_zero: bool,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    /// Hosts that are not OK, then the summary, for people.
    Table,
    /// One JSON document: the summary and every host.
    Json,
    /// One JSON object per host as it finishes, then the summary.
    Jsonl,
    /// Prometheus text exposition format.
    Prometheus,
    /// One Nagios plugin line with performance data, then the failures.
    Nagios,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn check(args: &[&str]) -> Result<CheckArgs, clap::Error> {
        let words = ["tether", "fleet", "check"].iter().chain(args);
        match Cli::try_parse_from(words)?.command {
            Command::Fleet(FleetCommand::Check(args)) => Ok(args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_flags_parse_with_their_defaults() {
        let a = check(&["--inventory", "f.toml"]).unwrap();
        assert_eq!((a.concurrency, a.format, a.exit_zero), (512, FleetFormat::Table, false));
        let a = check(&[
            "--inventory",
            "f.toml",
            "--checks",
            "c.toml",
            "--group",
            "lab",
            "--group",
            "front",
            "--tag",
            "x",
            "--host",
            "ws-1",
            "--concurrency",
            "8",
            "--format",
            "prometheus",
            "-o",
            "out.prom",
            "--exit-zero",
            "--hosts",
            "aliases.toml",
        ])
        .unwrap();
        assert_eq!(a.groups, ["lab", "front"]);
        assert_eq!((a.tags.len(), a.only_hosts.len(), a.concurrency), (1, 1, 8));
        assert_eq!((a.format, a.exit_zero), (FleetFormat::Prometheus, true));
        assert!(check(&[]).is_err(), "--inventory is required");
        assert!(check(&["--inventory", "f", "--concurrency", "0"]).is_err());
        assert!(check(&["--inventory", "f", "--format", "xml"]).is_err());
    }

    #[test]
    fn serve_flags_parse() {
        let parse = |args: &[&str]| {
            let words = ["tether", "fleet", "serve"].iter().chain(args);
            Cli::try_parse_from(words).map(|cli| match cli.command {
                Command::Fleet(FleetCommand::Serve(args)) => args,
                other => panic!("{other:?}"),
            })
        };
        let a = parse(&[]).unwrap();
        assert_eq!((a.listen.to_string().as_str(), a.concurrency), ("127.0.0.1:9434", 64));
        let a =
            parse(&["--listen", "0.0.0.0:9999", "--module", "q=q.toml", "--module", "d=d.toml"])
                .unwrap();
        assert_eq!(a.modules, ["q=q.toml", "d=d.toml"]);
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--concurrency", "0"]).is_err());
    }

    #[test]
    fn inventory_flags_parse() {
        let cli = Cli::try_parse_from(["tether", "fleet", "inventory", "--from-list", "l.txt"]);
        assert!(matches!(cli.unwrap().command, Command::Fleet(FleetCommand::Inventory { .. })));
        assert!(Cli::try_parse_from(["tether", "fleet", "inventory"]).is_err());
    }
}
