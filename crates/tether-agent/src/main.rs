//! `tether-agent`: the command line around the agent library.
//!
//! Exit codes: 0 success; 1 failure (the agent could not start or serve, or
//! `check-config` found a problem); 2 command-line usage error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use tether_agent::Agent;
use tether_agent::admin::{self, AdminRequest, AdminResponse};
use tether_agent::config::{AgentConfig, DEFAULT_CONFIG_PATH};
use tether_audit::{Follower, Record};
use tether_proto::text::Escaped;

mod service_cli;

const AFTER_HELP: &str = "\
Examples:
  tether-agent run --config /etc/tether/agent.toml
  tether-agent check-config --config /etc/tether/agent.toml
  tether-agent enroll ws-042.bundle
  tether-agent audit tail -n 50
  tether-agent audit tail --follow --json | jq .
  tether-agent audit verify --file /var/log/tether/audit.jsonl.1 --file /var/log/tether/audit.jsonl
  tether-agent sessions list
  tether-agent sessions end 3f2a9c1b7d4e5f60 --reason 'user asked'

Exit codes: 0 success, 1 failure (for `audit verify`: the chain is broken),
2 usage error.";

const SIMULATE_HELP: &str = "\
Examples:
  tether pki init --org Lab --dir /tmp/pki
  tether-agent simulate --count 1000 --pki-dir /tmp/pki --state-dir /tmp/sim
  tether fleet check --inventory /tmp/sim/inventory.toml --cert probe.crt --key probe.key --ca /tmp/pki/ca.crt

Every agent is the real agent library: real QUIC, real mutual TLS, its own
port and audit log. They share one certificate named tether-sim (the
inventory says so), this process's machine facts, and leave out the admin
socket and the CPU sampler. Prints one line once all listen; runs until
SIGTERM or Ctrl-C.

Exit codes: 0 stopped cleanly, 1 failure, 2 usage error.";

/// The Tether agent: answers authorised technicians over QUIC with mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "tether-agent", version, after_help = AFTER_HELP)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short, global = true, env = "TETHER_AGENT_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve technicians until SIGTERM or Ctrl-C (SIGHUP reloads the CRL).
    Run,
    /// Validate the configuration and TLS material, then exit.
    CheckConfig,
    /// Install an enrolment bundle (from `tether pki issue-agent --bundle`)
    /// where the configuration expects it, then check as `check-config`.
    #[command(after_help = "The configuration is --config, or agent.toml in --config-dir; one is \
written from the bundle (or the packaged default) if missing, and its `name` is set to \
the certificate's. The key is written with mode 0600 and never printed.\n\n\
Exit codes: 0 enrolled and checked, 1 the bundle or the result is unusable.")]
    Enroll {
        /// The bundle file.
        bundle: PathBuf,
        /// Directory holding agent.toml (default: that of --config).
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// List or end the technicians' sessions on this machine (talks to the
    /// running agent; root only).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Run N real agents in this process (each its own port and QUIC
    /// endpoint, a certificate from the PKI's CA) and write an inventory
    /// of them: a fleet for `tether fleet check` tests and benchmarks.
    #[command(after_help = SIMULATE_HELP)]
    Simulate {
        /// How many agents.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=60_000))]
        count: u32,
        /// The first agent's UDP port; the others follow. 0: any free ports.
        #[arg(long, default_value_t = 0, value_name = "PORT")]
        base_port: u16,
        /// The address the agents listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
        ip: std::net::IpAddr,
        /// An initialised PKI directory (`tether pki init`).
        #[arg(long, value_name = "DIR")]
        pki_dir: PathBuf,
        /// Where the agents' audit logs and configurations go.
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
        /// Where to write the inventory. Default: STATE_DIR/inventory.toml.
        #[arg(long, value_name = "FILE")]
        inventory: Option<PathBuf>,
    },
    /// Install, remove or run the agent as a Windows service.
    #[cfg_attr(not(windows), command(hide = true))]
    #[command(subcommand)]
    Service(service_cli::ServiceCommand),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// Who is connected, since when, on which ticket, viewing or controlling.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a session now: its view closes and anything it held is released.
    End {
        /// The session id (from `sessions list`).
        id: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Show the newest records, oldest first.
    Tail {
        /// How many records to show.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep printing records as they are written (survives rotation).
        #[arg(short, long)]
        follow: bool,
        /// Print raw JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Read this log file instead of the one named in the config.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Check the records' hash chain: finds records changed, removed or
    /// inserted anywhere but at the very end (compare the head with the
    /// one the agent logged at its last stop for that).
    #[command(after_help = "Exit codes: 0 the chain is intact, 1 it is broken or unreadable.")]
    Verify {
        /// Log files, oldest first (rotated ones before the live one);
        /// default: the log named in the config.
        #[arg(long)]
        file: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tether-agent: error: {}", tether_proto::text::error_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that print end quietly when their reader goes (`| head`).
    // The service keeps ignoring SIGPIPE; `sessions` talks to it over a
    // Unix socket and resets it itself once that exchange is over.
    if !matches!(cli.command, Command::Run | Command::Sessions(_) | Command::Service(_)) {
        tether_os::die_quietly_on_closed_pipe();
    }
    match cli.command {
        Command::Run => serve(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
        Command::Enroll { bundle, config_dir } => {
            let config = match config_dir {
                Some(dir) => dir.join("agent.toml"),
                None => cli.config.clone(),
            };
            enroll(&bundle, &config)
        }
        Command::Audit(AuditCommand::Tail { lines, follow, json, file }) => {
            let path = match file {
                Some(path) => path,
                None => AgentConfig::load(&cli.config)?.audit_path,
            };
            audit_tail(&path, lines, follow, json)
        }
        Command::Audit(AuditCommand::Verify { file }) => {
            let files = if file.is_empty() {
                vec![AgentConfig::load(&cli.config)?.audit_path]
            } else {
                file
            };
            audit_verify(&files)
        }
        Command::Sessions(command) => sessions(&cli.config, command),
        Command::Simulate { count, base_port, ip, pki_dir, state_dir, inventory } => {
            let inventory = inventory.unwrap_or_else(|| state_dir.join("inventory.toml"));
            let options = tether_agent::simulate::SimulateOptions {
                count: count as usize,
                base_port,
                ip,
                pki_dir,
                state_dir,
            };
            simulate(&options, &inventory)
        }
        Command::Service(command) => service_cli::run(&cli.config, command),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tether-agent",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn serve(config_path: &Path) -> anyhow::Result<ExitCode> {
    tether_os::memory::few_arenas();
    init_logging();
    let config = AgentConfig::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tether-agent")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let agent = Agent::open(config)?;
        let shutdown = tether_agent::stop_signal::watch(agent.reloader())
            .context("cannot watch for stop signals")?;
        agent.run(shutdown).await?;
        anyhow::Ok(())
    })?;
    // Blocking audit writes may still be finishing; they hold no locks we need.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// `tether-agent simulate`: opens every agent, writes the inventory, says
/// so on stdout, and serves until a signal.
fn simulate(
    options: &tether_agent::simulate::SimulateOptions,
    inventory: &Path,
) -> anyhow::Result<ExitCode> {
    // One line per agent at info would be thousands; warnings still show.
    if std::env::var_os("RUST_LOG").is_none() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .init();
    } else {
        init_logging();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tether-sim")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let simulation = tether_agent::simulate::Simulation::open(options)?;
        simulation.write_inventory(inventory)?;
        let shutdown = tether_agent::stop_signal::watch(tokio::sync::mpsc::channel(1).0)
            .context("cannot watch for stop signals")?;
        println!("{} simulated agents listening; inventory {}", options.count, inventory.display());
        simulation.run(shutdown).await?;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// `tether-agent audit verify`: one line saying what was checked.
fn audit_verify(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let v = tether_audit::chain::verify(files).context("cannot read the audit log")?;
    if let Some(b) = &v.broken {
        anyhow::bail!(
            "audit chain broken at {} line {}: {} ({} records before it are intact)",
            b.file.display(),
            b.line,
            b.why,
            v.records - 1
        );
    }
    let mut line = format!("{} records: chain intact", v.records);
    if v.unchained > 0 {
        line.push_str(&format!("; the first {} predate the chain", v.unchained));
    }
    if v.starts_mid_chain {
        line.push_str("; the first record links to an older file not given here");
    }
    if v.restarts > 0 {
        line.push_str(&format!("; the chain starts over {} time(s) at a file start", v.restarts));
    }
    if let Some(head) = v.head {
        line.push_str(&format!("; head {head}"));
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

fn check_config(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(config_path)?;
    let report = tether_agent::check::check(&config)?;
    println!("{}: ok", config_path.display());
    for line in &report.lines {
        println!("{line}");
    }
    for warning in &report.warnings {
        println!("  warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

fn enroll(bundle: &Path, config_path: &Path) -> anyhow::Result<ExitCode> {
    let done = tether_agent::enroll::enroll(bundle, config_path)?;
    let i = &done.installed;
    println!("enrolled {}", done.name);
    println!("  config       {} ({})", done.config_path.display(), done.config_note);
    println!("  certificate  {}", i.cert.display());
    println!("  key          {}  ({})", i.key.display(), tether_os::files::PRIVATE_FILE);
    println!("  CA           {}", i.ca.display());
    match &i.crl {
        Some(crl) => println!("  CRL          {}", crl.display()),
        None => println!("  CRL          not installed: the configuration names none"),
    }
    println!("{}: ok", config_path.display());
    for line in &done.report.lines {
        println!("{line}");
    }
    for warning in &done.report.warnings {
        println!("  warning: {warning}");
    }
    println!("start or restart the service to use it: {}", service_cli::RESTART_HINT);
    Ok(ExitCode::SUCCESS)
}

fn sessions(config_path: &Path, command: SessionsCommand) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (request, json) = match &command {
        SessionsCommand::List { json } => (AdminRequest::List, *json),
        SessionsCommand::End { id, reason } => {
            (AdminRequest::End { id: id.clone(), reason: reason.clone() }, false)
        }
    };
    let response = runtime.block_on(admin::ask(&config.control_socket, &request))?;
    drop(runtime);
    tether_os::die_quietly_on_closed_pipe();
    match response {
        AdminResponse::Sessions { sessions } if json => {
            println!("{}", serde_json::to_string_pretty(&sessions)?);
        }
        AdminResponse::Sessions { sessions } if sessions.is_empty() => println!("no sessions"),
        AdminResponse::Sessions { sessions } => {
            println!(
                "{:<16}  {:<16}  {:<6}  {:<12}  {:<21}  {:<20}  DOING",
                "ID", "TECHNICIAN", "ROLE", "TICKET", "FROM", "SINCE"
            );
            // Names and tickets come from certificates and hellos: escaped.
            for s in sessions {
                println!(
                    "{:<16}  {:<16}  {:<6}  {:<12}  {:<21}  {:<20}  {}",
                    Escaped(&s.id),
                    Escaped(&s.technician),
                    Escaped(&s.role),
                    Escaped(s.ticket.as_deref().unwrap_or("-")),
                    Escaped(&s.peer),
                    since(s.started),
                    Escaped(&s.activities.join(", "))
                );
            }
        }
        AdminResponse::Ended { session } => {
            println!(
                "ended session {} of {} ({})",
                Escaped(&session.id),
                Escaped(&session.technician),
                Escaped(&session.peer)
            );
        }
        AdminResponse::Error { message } => anyhow::bail!("{}", Escaped(&message)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A session's start as the audit log writes times.
fn since(unix_secs: u64) -> String {
    let secs = i64::try_from(unix_secs).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_or_else(|_| unix_secs.to_string(), |t| tether_audit::timestamp(t)[..19].to_owned())
}

fn audit_tail(path: &Path, lines: usize, follow: bool, json: bool) -> anyhow::Result<ExitCode> {
    let print = |record: &Record| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(record)?);
        } else {
            println!("{}", record.human_line());
        }
        Ok(())
    };
    let tail = tether_audit::read_tail(path, lines)?;
    for record in &tail.records {
        print(record)?;
    }
    if tail.skipped > 0 {
        eprintln!("tether-agent: warning: {} unreadable lines skipped", tail.skipped);
    }
    if follow {
        let mut follower = Follower::from_end(path)?;
        loop {
            std::thread::sleep(Duration::from_millis(500));
            for record in &follower.poll()?.records {
                print(record)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse() {
        let cli =
            Cli::try_parse_from(["tether-agent", "run", "--config", "/x/agent.toml"]).unwrap();
        assert_eq!(cli.config, Path::new("/x/agent.toml"));
        assert!(matches!(cli.command, Command::Run));
        let cli = Cli::try_parse_from(["tether-agent", "audit", "tail", "-n", "5", "-f", "--json"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Command::Audit(AuditCommand::Tail { lines: 5, follow: true, json: true, file: None })
        ));
        assert!(Cli::try_parse_from(["tether-agent", "audit", "tail", "-n", "x"]).is_err());
        assert!(Cli::try_parse_from(["tether-agent"]).is_err());
    }
}
