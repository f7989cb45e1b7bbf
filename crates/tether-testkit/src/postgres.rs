//! A private PostgreSQL server for a test: Debian's `initdb` and
//! `postgres` (postgresql package, binaries under
//! `/usr/lib/postgresql/<version>/bin`) on a fresh data directory in a
//! temporary directory, listening on a free loopback port and a socket in
//! that directory, trust authentication, stopped and removed on drop.
//!
//! `initdb` refuses to run as root, so as root the directory is handed to
//! the `postgres` system user and both programs run as that user.
//! Nothing is skipped: a server that cannot start is an error that says why.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Reaped;

/// Where Debian installs the server binaries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "PostgreSQL is not installed: no {DEBIAN_ROOT}/<version>/bin/initdb (apt-get install postgresql; see packaging/deps.sh)"
    )]
    NotInstalled,
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("initdb failed ({status}): {output}")]
    Initdb { status: std::process::ExitStatus, output: String },
    #[error("postgres did not accept connections (waited up to {0:?}); its log:\n{1}")]
    NotReady(Duration, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PostgresError {
    let what = what.into();
    move |source| PostgresError::Io { what, source }
}

/// A running server; stopped (SIGTERM, then SIGKILL) and removed on drop.
pub struct PostgresServer {
    server: Reaped,
    port: u16,
    dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Creates a cluster and starts it.
    pub fn start() -> Result<PostgresServer, PostgresError> {
        let bin = binaries()?;
        let dir = tempfile::Builder::new()
            .prefix("tether-pg")
            .tempdir()
            .map_err(io("temporary directory"))?;
        let data = dir.path().join("data");
        let as_root = is_root();
        if as_root {
            chown_to_postgres(dir.path())?;
        }
        let output = as_server_user(&bin.join("initdb"), as_root)
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(io("running initdb"))?;
        if !output.status.success() {
            return Err(PostgresError::Initdb {
                status: output.status,
                output: String::from_utf8_lossy(&[output.stdout, output.stderr].concat())
                    .into_owned(),
            });
        }
        // The free port is free when asked, not necessarily when the server
        // binds it: a server that lost it to someone else is started again.
        for _ in 0..PORT_ATTEMPTS {
            if let Some((server, port)) = serve(&bin, &data, dir.path(), as_root)? {
                return Ok(PostgresServer { server, port, dir });
            }
        }
        let text = std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default();
        Err(PostgresError::NotReady(START_TIMEOUT, text))
    }

    /// A connection URL for database `postgres` as user `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The data directory's size on disk in bytes (for benches).
    pub fn disk_usage(&self) -> u64 {
        du(&self.dir.path().join("data"))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

fn du(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    let children = std::fs::read_dir(path).into_iter().flatten().flatten();
    own + children.map(|e| du(&e.path())).sum::<u64>()
}

/// How many ports a server is tried on before giving up.
const PORT_ATTEMPTS: usize = 5;

/// Starts the server on a free port and waits until it accepts
/// connections; `None` when it ended because the port was taken.
fn serve(
    bin: &Path,
    data: &Path,
    dir: &Path,
    as_root: bool,
) -> Result<Option<(Reaped, u16)>, PostgresError> {
    let port = free_port()?;
    let log = dir.join("postgres.log");
    let log_file = std::fs::File::create(&log).map_err(io("the server log"))?;
    let child: Child = as_server_user(&bin.join("postgres"), as_root)
        .arg("-D")
        .arg(data)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c"])
        .arg(format!("port={port}"))
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(io("the server log"))?)
        .stderr(log_file)
        .spawn()
        .map_err(io("starting postgres"))?;
    let mut server = Reaped(child);
    let deadline = Instant::now() + START_TIMEOUT;
    while !accepts(bin, port) {
        let text = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(_)) = server.0.try_wait() {
            let log = text();
            if log.contains("could not bind") || log.contains("Address already in use") {
                return Ok(None);
            }
            return Err(PostgresError::NotReady(START_TIMEOUT, log));
        }
        if Instant::now() > deadline {
            return Err(PostgresError::NotReady(START_TIMEOUT, text()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Some((server, port)))
}

/// The newest installed version's bin directory.
fn binaries() -> Result<PathBuf, PostgresError> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .map_err(|_| PostgresError::NotInstalled)?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or(PostgresError::NotInstalled)
}

/// Whether this process runs as root (the owner of its own /proc entry).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn chown_to_postgres(dir: &Path) -> Result<(), PostgresError> {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .map_err(io("running chown"))?;
    if !status.success() {
        return Err(PostgresError::Io {
            what: format!("chown postgres {} (is there a postgres user?)", dir.display()),
            source: std::io::Error::other(format!("chown exited {status}")),
        });
    }
    Ok(())
}

/// `program` as the `postgres` user when we are root, else as ourselves.
/// setpriv execs the program, so the child is the server itself and
/// signals reach it.
fn as_server_user(program: &Path, as_root: bool) -> Command {
    if as_root {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, PostgresError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(listener.local_addr().map_err(io("finding a free port"))?.port())
}

fn accepts(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How long a fast shutdown may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: clients are disconnected
        // and the backends end with the postmaster. Reaped's own drop
        // kills whatever is left after the grace period.
        if tether_os::signal::send(self.server.pid(), tether_os::signal::Signal::Interrupt).is_ok()
        {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && matches!(self.server.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_answers_and_is_gone_after_drop() {
        let server = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
        let bin = binaries().unwrap();
        assert!(accepts(&bin, server.port), "{}", server.url());
        assert!(server.url().starts_with("postgres://postgres@127.0.0.1:"));
        assert!(server.disk_usage() > 1 << 20, "initdb wrote a cluster");
        let (pid, port, dir) = (server.pid(), server.port, server.dir.path().to_owned());
        drop(server);
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "postgres {pid} still runs");
        assert!(!accepts(&bin, port));
        assert!(!dir.exists(), "the cluster's directory is removed");
    }
}
