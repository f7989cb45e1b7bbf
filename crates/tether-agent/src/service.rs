//! The agent as a Windows service: the parts every system can build and
//! test (the service name's rules, the command line the service control
//! manager runs, the size-bounded log file) and, on Windows only,
//! `windows` (install, uninstall, and the run under the service control
//! manager). Linux runs the agent under systemd instead
//! (`packaging/tether-agent.service`); the binary's `service_cli.rs` says
//! so.
//!
//! Stopping the service ends the agent through [`crate::Agent::run`]'s
//! shutdown future, the path SIGTERM and Ctrl+C take: sessions end, held
//! keys are released, the stop is recorded in the audit log.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

mod log_file;
#[cfg(windows)]
mod windows;

pub use log_file::RotatingLog;
#[cfg(windows)]
pub use windows::{install, run, uninstall};

/// The service's name when `--name` is not given.
pub const DEFAULT_NAME: &str = "TetherAgent";

/// Where the service writes its log when `--log-file` is not given: the
/// service has no console, so its stderr goes nowhere.
pub const DEFAULT_LOG_FILE: &str = r"C:\ProgramData\Tether\logs\agent.log";

/// The size at which the log is rotated: `agent.log` becomes
/// `agent.log.1` (replacing the older one), so the two take at most about
/// twice this. Big enough for weeks of an agent's info lines.
pub const LOG_LIMIT: u64 = 10 * 1024 * 1024;

/// The longest service name accepted. The system allows 256 characters;
/// a short one stays readable in `sc`, the Services console and the log.
pub const MAX_NAME_LEN: usize = 80;

/// What goes wrong installing, removing or running the service, each as
/// one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "service name {0:?} is not usable: 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.', starting with a letter"
    )]
    BadName(String),
    #[error("{0} needs an Administrator prompt")]
    NeedsAdmin(&'static str),
    #[error("service {0} already exists")]
    Exists(String),
    #[error("service {0} does not exist")]
    Missing(String),
    #[error(
        "service {0} is marked for deletion; close the Services console and `sc` sessions (or restart) and try again"
    )]
    MarkedForDeletion(String),
    #[error("service {0} did not stop within {1} s")]
    StopTimeout(String, u64),
    #[error(
        "`service run` is started by the service control manager (net start NAME); in a console use `tether-agent run`"
    )]
    NotUnderScm,
    /// The service would run as LocalSystem a program or configuration
    /// someone else could replace.
    #[error(
        "{} may be changed by others ({why}): a service running as LocalSystem must not start from it; move tether-agent.exe and its configuration under a directory only Administrators may write (C:\\Program Files, C:\\ProgramData\\Tether) or fix the ACL",
        path.display()
    )]
    Writable { path: PathBuf, why: String },
    #[error("{what}: {source}")]
    Os {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// What the service control manager runs, as `service install` wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The service's name (registered with the control handler).
    pub name: String,
    /// The agent's configuration, an absolute path.
    pub config: PathBuf,
    /// The log file, an absolute path.
    pub log_file: PathBuf,
}

/// Checks a service name against [`ServiceError::BadName`]'s rule.
pub fn check_name(name: &str) -> Result<(), ServiceError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if first_ok && rest_ok && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(ServiceError::BadName(name.to_owned()))
    }
}

/// The name shown in the Services console.
pub fn display_name(name: &str) -> String {
    if name == DEFAULT_NAME { "Tether agent".to_owned() } else { format!("Tether agent ({name})") }
}

/// The arguments after the executable in the service's command line. The
/// `windows-service` crate quotes each one as the C runtime and Rust's
/// `std::env::args` parse them back (spaces, quotes and trailing
/// backslashes survive), so they are kept apart here, never joined.
pub fn launch_arguments(launch: &Launch) -> Vec<OsString> {
    vec![
        "service".into(),
        "run".into(),
        "--config".into(),
        launch.config.clone().into_os_string(),
        "--name".into(),
        launch.name.clone().into(),
        "--log-file".into(),
        launch.log_file.clone().into_os_string(),
    ]
}

/// `path` made absolute against the current directory (the service does
/// not start where `service install` ran), without touching the disk.
pub fn absolute(path: &Path) -> Result<PathBuf, ServiceError> {
    std::path::absolute(path)
        .map_err(|source| ServiceError::Os { what: "cannot make the path absolute", source })
}

/// Refuses to register a service whose program or configuration (or the
/// directories holding them) anyone but the current user, SYSTEM and
/// Administrators may write: whoever could replace them would run code
/// as LocalSystem at the next start.
pub fn check_install_paths(executable: &Path, config: &Path) -> Result<(), ServiceError> {
    let os = |source| ServiceError::Os { what: "cannot check the service's files", source };
    let mut paths = vec![executable, config];
    paths.extend(executable.parent().filter(|d| !d.as_os_str().is_empty()));
    paths.extend(config.parent().filter(|d| !d.as_os_str().is_empty()));
    for path in paths {
        let meta = std::fs::symlink_metadata(path).map_err(os)?;
        let others = tether_os::files::Others::MayNotWrite;
        if let Some(why) = tether_os::files::not_private(path, &meta, others).map_err(os)? {
            return Err(ServiceError::Writable { path: path.to_owned(), why });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for good in [DEFAULT_NAME, "Tether-2", "a", "t.a_b-c", &"x".repeat(MAX_NAME_LEN)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "2tether", "-x", "a b", r"a\b", "a/b", "a\"b", "tëther", "a\0", &long] {
            let e = check_name(bad).unwrap_err();
            assert!(matches!(&e, ServiceError::BadName(n) if n == bad), "{bad}: {e}");
        }
        assert_eq!(
            check_name("a b").unwrap_err().to_string(),
            "service name \"a b\" is not usable: 1 to 80 letters, digits, '-', '_' or '.', starting with a letter"
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name(DEFAULT_NAME), "Tether agent");
        assert_eq!(display_name("Lab"), "Tether agent (Lab)");
    }

    #[test]
    fn launch_arguments_keep_each_value_whole() {
        let launch = Launch {
            name: "Lab".into(),
            config: PathBuf::from(r"C:\Program Data\Tether x\agent.toml"),
            log_file: PathBuf::from(r"C:\logs dir\agent.log"),
        };
        let args: Vec<String> =
            launch_arguments(&launch).into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(
            args,
            [
                "service",
                "run",
                "--config",
                r"C:\Program Data\Tether x\agent.toml",
                "--name",
                "Lab",
                "--log-file",
                r"C:\logs dir\agent.log",
            ]
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let made = absolute(Path::new("agent.toml")).unwrap();
        assert!(made.is_absolute(), "{}", made.display());
        assert_eq!(made, std::env::current_dir().unwrap().join("agent.toml"));
        let already = std::env::temp_dir().join("x.toml");
        assert_eq!(absolute(&already).unwrap(), already);
    }

    #[cfg(unix)]
    #[test]
    fn install_refuses_a_program_or_config_others_may_write() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let etc = dir.path().join("etc");
        std::fs::create_dir(&bin).unwrap();
        std::fs::create_dir(&etc).unwrap();
        let exe = bin.join("tether-agent.exe");
        let config = etc.join("agent.toml");
        std::fs::write(&exe, b"").unwrap();
        std::fs::write(&config, b"").unwrap();
        for p in [&bin, &etc] {
            mode(p, 0o755).unwrap();
        }
        for p in [&exe, &config] {
            mode(p, 0o644).unwrap();
        }
        check_install_paths(&exe, &config).unwrap();
        for p in [&exe, &bin, &config, &etc] {
            let before = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            mode(p, before | 0o002).unwrap();
            let e = check_install_paths(&exe, &config).unwrap_err();
            assert!(matches!(&e, ServiceError::Writable { path, .. } if path == p), "{e}");
            assert!(e.to_string().contains("Program Files"), "{e}");
            mode(p, before).unwrap();
        }
    }
}
