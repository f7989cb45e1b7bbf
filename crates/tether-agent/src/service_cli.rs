//! `tether-agent service`: the command line of the Windows service. The
//! platform `cfg` stops here; what it does is `tether_agent::service`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
#[cfg(windows)]
use tether_agent::config::AgentConfig;
use tether_agent::service;

/// How to restart the agent's service, for `enroll`'s last line.
#[cfg(windows)]
pub const RESTART_HINT: &str =
    "net stop TetherAgent & net start TetherAgent (or `service install` first)";
/// How to restart the agent's service, for `enroll`'s last line.
#[cfg(not(windows))]
pub const RESTART_HINT: &str = "systemctl restart tether-agent";

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Register an auto-start service (LocalSystem) that runs the agent
    /// with --config, made absolute and checked as `check-config` first.
    #[command(
        after_help = "Run from an Administrator prompt. Then: net start NAME (or restart).\n\n\
Exit codes: 0 installed, 1 refused (configuration, rights, name taken)."
    )]
    Install {
        /// The service's name.
        #[arg(long, default_value = service::DEFAULT_NAME)]
        name: String,
        /// Where the service writes its log (rotated at 10 MiB to FILE.1).
        #[arg(long, value_name = "FILE", default_value = service::DEFAULT_LOG_FILE)]
        log_file: PathBuf,
    },
    /// Stop the service if it runs, then remove it.
    Uninstall {
        /// The service's name.
        #[arg(long, default_value = service::DEFAULT_NAME)]
        name: String,
    },
    /// What the service control manager starts (not for a console): serves
    /// until the service is stopped, logging to --log-file.
    Run {
        /// The service's name.
        #[arg(long, default_value = service::DEFAULT_NAME)]
        name: String,
        /// Where to write the log.
        #[arg(long, value_name = "FILE", default_value = service::DEFAULT_LOG_FILE)]
        log_file: PathBuf,
    },
}

/// `tether-agent service`: the cfg stops here; the logic is in
/// `tether_agent::service`.
#[cfg(windows)]
pub fn run(config: &Path, command: ServiceCommand) -> anyhow::Result<ExitCode> {
    let launch = |name: String, log_file: &Path| -> anyhow::Result<service::Launch> {
        Ok(service::Launch {
            name,
            config: service::absolute(config)?,
            log_file: service::absolute(log_file)?,
        })
    };
    match command {
        ServiceCommand::Install { name, log_file } => {
            service::check_name(&name)?;
            let launch = launch(name, &log_file)?;
            // A broken configuration is refused now, not at the first start.
            let loaded = AgentConfig::load(&launch.config)?;
            let report = tether_agent::check::check(&loaded)?;
            service::install(&launch)?;
            println!("installed service {} (automatic start, LocalSystem)", launch.name);
            println!("  config  {}", launch.config.display());
            println!("  log     {}", launch.log_file.display());
            for warning in &report.warnings {
                println!("  warning: {warning}");
            }
            println!("start it now with: net start {}", launch.name);
        }
        ServiceCommand::Uninstall { name } => {
            let was_running = service::uninstall(&name)?;
            let stopped = if was_running { "stopped and " } else { "" };
            println!("{stopped}removed service {name}");
        }
        ServiceCommand::Run { name, log_file } => {
            return match service::run(launch(name, &log_file)?)? {
                0 => Ok(ExitCode::SUCCESS),
                _ => Ok(ExitCode::FAILURE),
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tether-agent service` off Windows: systemd runs the agent there.
#[cfg(not(windows))]
pub fn run(_config: &Path, _command: ServiceCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "`service` is for Windows; on Linux systemd runs the agent: systemctl enable --now tether-agent (unit: packaging/tether-agent.service)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cli, Command};
    use clap::{CommandFactory, Parser};

    #[test]
    fn service_flags_parse() {
        let cli =
            Cli::try_parse_from(["tether-agent", "service", "install", "-c", "a.toml"]).unwrap();
        assert_eq!(cli.config, Path::new("a.toml"));
        let Command::Service(ServiceCommand::Install { name, log_file }) = cli.command else {
            panic!("not an install: {:?}", cli.command);
        };
        assert_eq!(
            (name.as_str(), log_file),
            (service::DEFAULT_NAME, service::DEFAULT_LOG_FILE.into())
        );
        let cli =
            Cli::try_parse_from(["tether-agent", "service", "uninstall", "--name", "Lab"]).unwrap();
        assert!(
            matches!(cli.command, Command::Service(ServiceCommand::Uninstall { name }) if name == "Lab")
        );
        assert!(Cli::try_parse_from(["tether-agent", "service"]).is_err());
        assert!(Cli::try_parse_from(["tether-agent", "service", "start"]).is_err());
    }

    /// The command line `service install` registers parses back into the
    /// same service, paths with spaces included.
    #[test]
    fn the_installed_service_command_line_parses_back() {
        let launch = service::Launch {
            name: "Lab-2".into(),
            config: PathBuf::from("/srv/Tether conf/agent.toml"),
            log_file: PathBuf::from("/var/log/tether x/agent.log"),
        };
        let mut argv = vec![std::ffi::OsString::from("tether-agent")];
        argv.extend(service::launch_arguments(&launch));
        let cli = Cli::try_parse_from(argv).unwrap();
        assert_eq!(cli.config, launch.config);
        let Command::Service(ServiceCommand::Run { name, log_file }) = cli.command else {
            panic!("not a service run: {:?}", cli.command);
        };
        assert_eq!((name, log_file), (launch.name, launch.log_file));
    }

    #[cfg(not(windows))]
    #[test]
    fn service_off_windows_points_to_systemd() {
        let cli = Cli::try_parse_from(["tether-agent", "service", "install"]).unwrap();
        let e = crate::run(cli).unwrap_err().to_string();
        assert!(e.starts_with("`service` is for Windows") && e.contains("systemctl"), "{e}");
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("service"), "the Linux help lists `service`: {help}");
    }
}
