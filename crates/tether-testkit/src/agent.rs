//! An agent's configuration file, and a running `tether-agent run` whose
//! log is kept.
//!
//! Both `tether demo` and the tests start agents the same way: write a
//! config that listens on `127.0.0.1:0`, start the binary, and read its log
//! until it says `listening on ADDR`, the only way to learn the port the
//! kernel picked.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use tether_os::signal::Signal;

use crate::process::Reaped;

/// What the agent logs, followed by its address, once it accepts
/// connections.
pub const LISTENING: &str = "listening on ";

/// Listen on the loopback address, on a port the kernel picks.
pub const LOOPBACK_ANY_PORT: &str = "127.0.0.1:0";

/// The settings of an agent's configuration file that the kit writes.
///
/// Anything else goes into [`AgentConfig::extra`], raw TOML placed after
/// the top-level keys and before the `[tls]` table, so it may hold more
/// top-level keys as well as tables of its own (`[screen]`, `[policy]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The agent's name, as in its certificate.
    pub name: String,
    /// `listen`, usually [`LOOPBACK_ANY_PORT`].
    pub listen: String,
    /// `control_socket`, left out when `None` (the agent's default).
    pub control_socket: Option<PathBuf>,
    /// Raw TOML; see the type's documentation.
    pub extra: String,
    /// `[tls] cert`: the agent's certificate.
    pub cert: PathBuf,
    /// `[tls] key`: its private key.
    pub key: PathBuf,
    /// `[tls] ca`: the CA technicians' certificates must chain to.
    pub ca: PathBuf,
    /// `[tls] crl`: the CA's revocation list.
    pub crl: PathBuf,
    /// `[audit] path`: where the audit log goes.
    pub audit_path: PathBuf,
}

/// Why a configuration could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// TOML strings are UTF-8; a path that is not cannot be named in one.
    #[error("{} is not valid UTF-8, so an agent config cannot name it", path.display())]
    NotUtf8 {
        /// The offending path.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The configuration file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

impl AgentConfig {
    /// The configuration as TOML text.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut text = String::new();
        // Writing to a String cannot fail: the `let _` drops an Ok.
        let _ = writeln!(text, "name = {}", toml_string(&self.name));
        let _ = writeln!(text, "listen = {}", toml_string(&self.listen));
        if let Some(socket) = &self.control_socket {
            let _ = writeln!(text, "control_socket = {}", toml_path(socket)?);
        }
        text.push_str(&self.extra);
        text.push_str("\n[tls]\n");
        for (key, path) in [("cert", &self.cert), ("key", &self.key), ("ca", &self.ca)] {
            let _ = writeln!(text, "{key} = {}", toml_path(path)?);
        }
        let _ = writeln!(text, "crl = {}", toml_path(&self.crl)?);
        let _ = write!(text, "\n[audit]\npath = {}\n", toml_path(&self.audit_path)?);
        Ok(text)
    }

    /// Writes the configuration to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        std::fs::write(path, self.to_toml()?)
            .map_err(|source| ConfigError::Write { path: path.to_owned(), source })
    }
}

/// A TOML basic string: quoted, with quotes, backslashes and control
/// characters escaped.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_path(path: &Path) -> Result<String, ConfigError> {
    let text = path.to_str().ok_or_else(|| ConfigError::NotUtf8 { path: path.to_owned() })?;
    Ok(toml_string(text))
}

/// Why an agent did not come up.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The binary could not be executed at all.
    #[error("cannot start {}: {source}", program.display())]
    Spawn {
        /// The program that was to run.
        program: PathBuf,
        /// What `exec` said.
        source: std::io::Error,
    },
    /// The agent exited (or closed its log) before it listened.
    #[error("the agent exited before it listened ({}); its log:\n{}", describe(status), log.join("\n"))]
    Exited {
        /// Its exit status, when it could be collected.
        status: Option<ExitStatus>,
        /// Everything it logged.
        log: Vec<String>,
    },
    /// The agent said nothing about listening in time; it has been killed.
    #[error("the agent did not start listening within {timeout:?}; its log:\n{}", log.join("\n"))]
    Timeout {
        /// How long it was given.
        timeout: Duration,
        /// Everything it logged.
        log: Vec<String>,
    },
}

fn describe(status: &Option<ExitStatus>) -> String {
    status.map_or_else(|| "status unknown".to_owned(), |s| s.to_string())
}

impl SpawnError {
    /// The line that best says why the agent failed: the first one that
    /// mentions an error, else the last one it logged.
    pub fn failure_line(&self) -> Option<&str> {
        let log = match self {
            SpawnError::Spawn { .. } => return None,
            SpawnError::Exited { log, .. } | SpawnError::Timeout { log, .. } => log,
        };
        log.iter().find(|line| line.contains("error")).or(log.last()).map(String::as_str)
    }
}

type Log = Arc<Mutex<Vec<String>>>;

/// A running `tether-agent run`, killed and reaped when dropped.
///
/// Its stdout is discarded and its stderr (the log) is read by a thread
/// into memory, so a failing test can show what the agent said.
#[derive(Debug)]
pub struct AgentProcess {
    child: Reaped,
    addr: String,
    log: Log,
}

impl AgentProcess {
    /// Runs `agent run --config CONFIG`, where `agent` is a command for the
    /// `tether-agent` binary (with whatever environment the caller chose),
    /// and waits up to `timeout` for its listening line.
    pub fn spawn(
        mut agent: Command,
        config: &Path,
        timeout: Duration,
    ) -> Result<AgentProcess, SpawnError> {
        agent
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let program = PathBuf::from(agent.get_program());
        let mut child =
            Reaped(agent.spawn().map_err(|source| SpawnError::Spawn { program, source })?);
        let log = Log::default();
        let listening = follow_log(&mut child.0, &log);
        match listening.recv_timeout(timeout) {
            Ok(Some(addr)) => Ok(AgentProcess { child, addr, log }),
            // The log ended: the agent is gone, or as good as gone.
            Ok(None) => {
                let _ = child.0.kill();
                let status = child.0.wait().ok();
                Err(SpawnError::Exited { status, log: snapshot(&log) })
            }
            Err(_) => {
                drop(child);
                Err(SpawnError::Timeout { timeout, log: snapshot(&log) })
            }
        }
    }

    /// The address it listens on, from its log (`127.0.0.1:PORT`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Everything it has logged so far, one line per line.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).join("\n")
    }

    /// Whether it is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }

    /// Sends it `signal`. Our own child is not reaped before drop, so
    /// its pid cannot have been reused.
    pub fn signal(&self, signal: Signal) -> Result<(), tether_os::signal::SignalError> {
        tether_os::signal::send(self.pid(), signal)
    }

    /// Asks it to stop (SIGTERM) and waits up to `grace` for it to exit:
    /// `Ok(Some(status))` if it did, `Ok(None)` if it is still running.
    pub fn terminate(&mut self, grace: Duration) -> std::io::Result<Option<ExitStatus>> {
        self.signal(Signal::Term).map_err(std::io::Error::other)?;
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = self.child.0.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

/// Starts a thread that copies the child's stderr into `log` and returns
/// a channel that gets the listening address, or `None` when the log ends
/// without one.
fn follow_log(child: &mut Child, log: &Log) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    let Some(stderr) = child.stderr.take() else {
        // Not piped: there is no log to follow, which reads as "ended".
        let _ = tx.send(None);
        return rx;
    };
    let sink = Arc::clone(log);
    std::thread::spawn(move || {
        let mut told = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let addr = (!told).then(|| listening_address(&line)).flatten();
            sink.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            if let Some(addr) = addr {
                told = true;
                let _ = tx.send(Some(addr));
            }
        }
        if !told {
            let _ = tx.send(None);
        }
    });
    rx
}

/// The address in a log line saying where the agent listens.
pub fn listening_address(line: &str) -> Option<String> {
    line.split(LISTENING).nth(1).map(|addr| addr.trim().to_owned())
}

fn snapshot(log: &Log) -> Vec<String> {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AgentConfig {
        AgentConfig {
            name: "agent-01".into(),
            listen: LOOPBACK_ANY_PORT.into(),
            control_socket: None,
            extra: "max_sessions = 3\n[policy]\nfloor = \"tier2\"\n".into(),
            cert: "/pki/agents/a.crt".into(),
            key: "/pki/agents/a.key".into(),
            ca: "/pki/ca.crt".into(),
            crl: "/pki/crl.pem".into(),
            audit_path: "/var/log/tether/audit.jsonl".into(),
        }
    }

    #[test]
    fn config_text_puts_extra_between_the_keys_and_the_tls_table() {
        let text = config().to_toml().unwrap();
        assert_eq!(
            text,
            "name = \"agent-01\"\nlisten = \"127.0.0.1:0\"\nmax_sessions = 3\n[policy]\nfloor = \"tier2\"\n\n\
             [tls]\ncert = \"/pki/agents/a.crt\"\nkey = \"/pki/agents/a.key\"\nca = \"/pki/ca.crt\"\n\
             crl = \"/pki/crl.pem\"\n\n[audit]\npath = \"/var/log/tether/audit.jsonl\"\n"
        );
    }

    #[test]
    fn control_socket_is_written_only_when_set() {
        let with = AgentConfig { control_socket: Some("/run/a.sock".into()), ..config() };
        assert!(with.to_toml().unwrap().contains("\ncontrol_socket = \"/run/a.sock\"\n"));
        assert!(!config().to_toml().unwrap().contains("control_socket"));
    }

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(toml_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(toml_string("tab\there\n"), "\"tab\\u0009here\\u000A\"");
        assert_eq!(toml_string("café"), "\"café\"");
    }

    #[test]
    fn a_path_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff.crt"));
        let err = AgentConfig { cert: odd, ..config() }.to_toml().unwrap_err();
        assert!(matches!(err, ConfigError::NotUtf8 { .. }), "{err}");
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = "2026-11-29T10:00:00Z  INFO tether_agent: listening on 127.0.0.1:40123";
        assert_eq!(listening_address(line).as_deref(), Some("127.0.0.1:40123"));
        assert_eq!(listening_address("loading config"), None);
    }

    /// A stand-in agent: a shell script that ignores `run --config PATH`.
    fn script(body: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", body, "fake-agent"]);
        cmd
    }

    #[test]
    fn spawn_returns_the_address_and_keeps_the_log() {
        let body = "echo starting >&2; echo 'INFO listening on 127.0.0.1:4567' >&2; \
                    echo served >&2; exec sleep 30";
        let mut agent =
            AgentProcess::spawn(script(body), Path::new("/dev/null"), Duration::from_secs(10))
                .unwrap();
        assert_eq!(agent.addr(), "127.0.0.1:4567");
        assert!(agent.is_alive());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !agent.log().contains("served") {
            assert!(Instant::now() < deadline, "log so far: {}", agent.log());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(agent.log().starts_with("starting\nINFO listening on"), "{}", agent.log());
        let status = agent.terminate(Duration::from_secs(5)).unwrap().expect("sleep obeys SIGTERM");
        assert!(!status.success());
        assert!(!agent.is_alive());
    }

    #[test]
    fn an_agent_that_exits_first_is_reported_with_its_log() {
        let body = "echo 'loading config' >&2; echo 'tether-agent: error: bad [tls]' >&2; exit 3";
        let err =
            AgentProcess::spawn(script(body), Path::new("/dev/null"), Duration::from_secs(10))
                .unwrap_err();
        match &err {
            SpawnError::Exited { status, log } => {
                assert_eq!(status.and_then(|s| s.code()), Some(3));
                assert_eq!(log.len(), 2, "{log:?}");
            }
            other => panic!("expected Exited, got {other}"),
        }
        assert_eq!(err.failure_line(), Some("tether-agent: error: bad [tls]"));
        assert!(err.to_string().contains("loading config"), "{err}");
    }

    #[test]
    fn an_agent_that_never_listens_times_out_and_is_killed() {
        let body = "echo waiting >&2; exec sleep 30";
        let started = Instant::now();
        let err =
            AgentProcess::spawn(script(body), Path::new("/dev/null"), Duration::from_millis(300))
                .unwrap_err();
        assert!(matches!(err, SpawnError::Timeout { .. }), "{err}");
        assert_eq!(err.failure_line(), Some("waiting"));
        assert!(started.elapsed() < Duration::from_secs(10), "waited for sleep to end");
    }

    #[test]
    fn a_missing_binary_is_named() {
        let cmd = Command::new("/nonexistent/tether-agent");
        let err =
            AgentProcess::spawn(cmd, Path::new("/dev/null"), Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().starts_with("cannot start /nonexistent/tether-agent: "), "{err}");
        assert_eq!(err.failure_line(), None);
    }
}
