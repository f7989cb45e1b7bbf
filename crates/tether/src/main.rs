//! `tether`: the technician's controller. This file only parses the command
//! line, runs the chosen command and turns its result into an exit code
//! (the table and the only choice of codes: `tether_client::exit`).

mod cli;
mod commands;
mod connect;
mod interactive;
mod render;
mod tickets;
mod timeline;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use tether_client::{ClientError, exit};

use crate::cli::{Cli, Command, FleetCommand};

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.use_stderr() {
                false => exit::SUCCESS,
                true => exit::for_usage_error(cli::names_a_check(std::env::args_os())),
            });
        }
    };
    init_logging(cli.global.verbose);
    // The controller's sockets are UDP; a closed stdout ends it quietly.
    // The viewer keeps Rust's default: its X connection is a stream socket
    // and losing the X server must be an error message, not silence.
    if !matches!(cli.command, Command::View { .. }) {
        tether_os::die_quietly_on_closed_pipe();
    }
    let is_check = cli.command.is_check();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The chain may hold the agent's words (error replies, close
            // reasons): the one line is escaped as a whole, each cause
            // said once.
            eprintln!("tether: error: {}", tether_proto::text::error_line(e.as_ref()));
            let cause = e.chain().find_map(|c| c.downcast_ref::<ClientError>());
            ExitCode::from(exit::for_failure(cause, is_check))
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Pki(command) => commands::pki::run(command),
        Command::Hosts { json } => commands::hosts::run(&global, json),
        Command::Fleet(FleetCommand::Inventory { from_list, groups, output }) => {
            commands::fleet::inventory(&from_list, &groups, output.as_deref())
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut cli::command(), "tether", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: None } => {
            commands::man::print(cli::command())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: Some(dir) } => {
            let written = commands::man::write_all(cli::command(), &dir)?;
            println!("{} man pages written to {}", written.len(), dir.display());
            Ok(ExitCode::SUCCESS)
        }
        network => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let result = runtime.block_on(async {
                match network {
                    Command::Connect { host } => interactive::run(&global, &host).await,
                    Command::Demo { dir } => commands::demo::run(&global, dir).await,
                    Command::Ticket(command) => commands::ticket::run(&global, command).await,
                    Command::Report(args) => commands::report::run(&global, args).await,
                    Command::Fleet(FleetCommand::Check(args)) => {
                        commands::fleet::check(&global, args).await
                    }
                    Command::Fleet(FleetCommand::Serve(args)) => {
                        commands::fleet_serve::serve(&global, args).await
                    }
                    Command::Pki(_)
                    | Command::Fleet(FleetCommand::Inventory { .. })
                    | Command::Hosts { .. }
                    | Command::Completions { .. }
                    | Command::Man { .. } => {
                        unreachable!("handled above without a runtime")
                    }
                    host_command => one_shot(&global, host_command).await,
                }
            });
            // However the command ended (a refusal, an error, `?` on the
            // way), its connections are closed properly, so the agent ends
            // the session at once instead of at its idle timeout.
            runtime.block_on(tether_client::close_all());
            result
        }
    }
}

/// A host command run once; with `--ticket N` it goes into the ticket's
/// timeline.
async fn one_shot(global: &cli::GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    let timeline = timeline::Timeline::for_flags(global).await;
    let host = commands::host::host_of(&command).unwrap_or_default().to_owned();
    let result = commands::host::one_shot(global, command).await;
    if let Some(timeline) = &timeline {
        let words = cli::command_words(std::env::args_os());
        let line =
            shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "));
        timeline.command(&host, &line, &result).await;
    }
    Ok(result?.exit_code())
}
