//! `tether`: the technician's controller. This file only parses the command
//! line, runs the chosen command and turns its result into an exit code
//! (the table and the only choice of codes: `tether_client::exit`).

mod cli;
mod commands;
mod connect;
mod render;
mod tickets;

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
                    Command::Info { host, json } => commands::info::run(&global, &host, json).await,
                    Command::Ps { host, sort, filter, limit, json } => {
                        commands::ps::list(&global, &host, sort.into(), filter, limit, json).await
                    }
                    Command::Kill { host, pid, signal, json } => {
                        commands::ps::kill(&global, &host, pid, signal.into(), json).await
                    }
                    Command::Net { host, targets, defaults, throughput, throughput_mib, json } => {
                        let measure = throughput.then_some(throughput_mib << 20);
                        let request = targets.into_request(defaults);
                        commands::net::run(&global, &host, request, measure, json).await
                    }
                    Command::Doctor { host, targets, no_network, json } => {
                        let net = (!no_network).then(|| targets.into_request(false));
                        commands::doctor::run(&global, &host, net, json).await
                    }
                    Command::Restore(command) => commands::restore::run(&global, command).await,
                    Command::View { host, view_only, monitor, scale, fps } => {
                        let options = commands::view::Options { view_only, monitor, scale, fps };
                        commands::view::run(&global, &host, options).await
                    }
                    Command::Screenshot { host, output, monitor, json } => {
                        commands::screen::screenshot(&global, &host, &output, monitor, json).await
                    }
                    Command::Monitors { host, json } => {
                        commands::screen::monitors(&global, &host, json).await
                    }
                    Command::Input {
                        host,
                        move_to,
                        click,
                        button,
                        scroll,
                        keys,
                        text,
                        monitor,
                        json,
                    } => {
                        let actions = commands::screen::Actions {
                            move_to,
                            click,
                            button,
                            scroll,
                            keys,
                            text,
                        };
                        commands::screen::input(&global, &host, actions, monitor, json).await
                    }
                    Command::Audit { host, lines, json } => {
                        commands::audit::run(&global, &host, lines, json).await
                    }
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
