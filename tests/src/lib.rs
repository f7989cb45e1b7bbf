//! Test harness for Tether's end-to-end tests and benchmarks.
//!
//! It drives the real `tether` and `tether-agent` binaries, found in the
//! cargo target directory beside the test executable (build the workspace
//! first: `cargo build --workspace`). Every fixture lives in its own
//! temporary directory and every command runs with a clean environment, so
//! nothing from the developer's `~/.config/tether` leaks in.
//!
//! Only throw-away certificates are made here, and only through the same
//! `tether pki` commands an administrator runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tether_audit::Record;

pub mod xvfb;

/// How long an agent may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Path of a workspace binary, failing loudly when it was not built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> or target/<profile>/<bench>: look in both.
    let mut dir = exe.parent().expect("test executable has a parent directory").to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace{})",
        path.display(),
        if dir.ends_with("release") { " --release" } else { "" }
    );
    path
}

/// A command for a workspace binary with a clean environment rooted at `home`.
pub fn command(name: &str, home: &Path) -> Command {
    let mut cmd = Command::new(binary(name));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// `tether` running as the technician `id` (explicit --cert/--key/--ca).
pub fn tether_as(id: &Identity, home: &Path) -> Command {
    let mut cmd = command("tether", home);
    cmd.arg("--cert").arg(&id.cert).arg("--key").arg(&id.key).arg("--ca").arg(&id.ca);
    cmd
}

/// The result of running a binary, with text helpers.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "command failed ({:?}):\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts the exit code and that stderr is one clear line, no panic.
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        let lines: Vec<_> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "expected one error line, got:\n{}", self.stderr);
        lines[0].to_owned()
    }
}

/// Runs a binary to completion.
pub fn run(mut cmd: Command) -> Run {
    Run::from(cmd.output().expect("binary can be spawned"))
}

/// A child process the test owns, killed and reaped when dropped, so a
/// test that fails first leaves nothing running.
pub struct Reaped(pub Child);

impl Reaped {
    /// `sleep 600` under the name `tag` (`exec -a`), recognisable in `ps`.
    pub fn sleeper(tag: &str) -> Reaped {
        let script = format!("exec -a {tag} sleep 600");
        Reaped(Command::new("bash").args(["-c", &script]).spawn().expect("bash runs"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An organisation PKI made with `tether pki`.
pub struct TestPki {
    pub dir: TempDir,
}

impl TestPki {
    /// `tether pki init` in a fresh directory.
    pub fn new(org: &str) -> TestPki {
        let pki = TestPki { dir: tempfile::tempdir().expect("temp dir") };
        pki.tether(&["init", "--org", org]).ok();
        pki
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Runs `tether pki ARGS --pki-dir ROOT`.
    pub fn tether(&self, args: &[&str]) -> Run {
        let mut cmd = command("tether", self.dir.path());
        cmd.arg("pki").args(args).arg("--pki-dir").arg(self.root());
        run(cmd)
    }

    pub fn ca(&self) -> PathBuf {
        self.root().join("ca.crt")
    }

    pub fn crl(&self) -> PathBuf {
        self.root().join("crl.pem")
    }

    pub fn library(&self) -> tether_pki::Pki {
        tether_pki::Pki::open(self.root())
    }

    /// Issues an agent certificate for `name` valid for 127.0.0.1 too.
    pub fn issue_agent(&self, name: &str) -> Identity {
        self.tether(&["issue-agent", name, "--ip", "127.0.0.1"]).ok();
        self.identity("agents", name)
    }

    /// Issues a technician certificate; `role` is `tier1`..`tier3` or `fleet`.
    pub fn issue_tech(&self, name: &str, role: &str) -> Identity {
        let run = match role.strip_prefix("tier") {
            Some(n) => self.tether(&["issue-tech", name, "--tier", n]),
            None => self.tether(&["issue-tech", name, "--role", role]),
        };
        run.ok();
        self.identity("techs", name)
    }

    pub fn identity(&self, sub: &str, name: &str) -> Identity {
        let dir = self.root().join(sub);
        let serial = self
            .library()
            .list()
            .expect("index readable")
            .into_iter()
            .rev()
            .find(|e| e.name == name)
            .map(|e| e.serial)
            .expect("issued certificate is in the index");
        Identity {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            ca: self.ca(),
            serial,
        }
    }
}

/// A certificate, its key and the CA to trust.
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub serial: String,
}

/// Options for an agent under test.
pub struct AgentSetup<'a> {
    pub pki: &'a TestPki,
    pub name: &'a str,
    /// Extra TOML appended to the generated config (e.g. a `[policy]` table).
    pub extra: &'a str,
}

type AgentLog = Arc<Mutex<Vec<String>>>;

/// Starts `tether-agent run` and waits until it listens.
fn spawn_agent(home: &Path, config: &Path) -> (Child, String, AgentLog) {
    let mut child = command("tether-agent", home)
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent spawns");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr piped");
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(addr.trim().to_owned());
            }
            sink.lock().expect("log lock").push(line);
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(addr) => (child, addr, log),
        Err(_) => {
            let _ = child.kill();
            panic!("agent did not start:\n{}", log.lock().expect("log lock").join("\n"));
        }
    }
}

/// A running `tether-agent`, killed when dropped.
pub struct Agent {
    child: Child,
    pub addr: String,
    pub name: String,
    pub dir: TempDir,
    pub config: PathBuf,
    pub audit_path: PathBuf,
    log: AgentLog,
}

impl Agent {
    /// Issues a certificate for the agent and starts it on 127.0.0.1.
    pub fn start(setup: AgentSetup<'_>) -> Agent {
        let id = setup.pki.issue_agent(setup.name);
        Self::start_with(setup, &id)
    }

    /// Starts an agent with an existing certificate.
    pub fn start_with(setup: AgentSetup<'_>, id: &Identity) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let audit_path = dir.path().join("log/audit.jsonl");
        let config = dir.path().join("agent.toml");
        let text = format!(
            "name = {:?}\nlisten = \"127.0.0.1:0\"\ncontrol_socket = {:?}\n{}\n[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\ncrl = {:?}\n\n[audit]\npath = {:?}\n",
            setup.name,
            dir.path().join("agent.sock"),
            setup.extra,
            id.cert,
            id.key,
            id.ca,
            setup.pki.crl(),
            audit_path
        );
        std::fs::write(&config, text).expect("config written");
        let (child, addr, log) = spawn_agent(dir.path(), &config);
        Agent { child, addr, name: setup.name.to_owned(), dir, config, audit_path, log }
    }

    /// Starts an agent from a configuration made elsewhere (an enrolled
    /// one, say) in `dir`, which the agent owns from now on.
    pub fn run_config(name: &str, dir: TempDir, config: PathBuf, audit_path: PathBuf) -> Agent {
        let (child, addr, log) = spawn_agent(dir.path(), &config);
        Agent { child, addr, name: name.to_owned(), dir, config, audit_path, log }
    }

    /// Kills the agent with SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the agent again with the same configuration and files.
    pub fn restart(&mut self) {
        self.kill();
        let (child, addr, log) = spawn_agent(self.dir.path(), &self.config);
        self.child = child;
        self.addr = addr;
        self.log = log;
    }

    /// The agent's log so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Every record of the audit log.
    pub fn audit(&self) -> Vec<Record> {
        tether_audit::read_tail(&self.audit_path, usize::MAX).expect("audit log readable").records
    }

    /// Waits until an audit record satisfies `pred` (connection-level
    /// records are written after the controller has already given up).
    pub fn wait_for_audit(&self, pred: impl Fn(&Record) -> bool) -> Record {
        self.wait_for_audit_within(pred, Duration::from_secs(10))
    }

    /// Waits up to `timeout` for an audit record satisfying `pred`.
    pub fn wait_for_audit_within(
        &self,
        pred: impl Fn(&Record) -> bool,
        timeout: Duration,
    ) -> Record {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.audit().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(Instant::now() < deadline, "no matching audit record in:\n{:#?}", self.audit());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits in i32")
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on a child we own; no memory is shared.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Sends SIGTERM and waits for the agent to exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                return status;
            }
            assert!(Instant::now() < deadline, "agent ignored SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `tether ARGS` as the technician `id`, dialling this agent by name.
    pub fn tether(&self, id: &Identity, args: &[&str]) -> Run {
        let home = tempfile::tempdir().expect("temp dir");
        let mut cmd = tether_as(id, home.path());
        cmd.args(["--server-name", &self.name, "--timeout", "5"]);
        cmd.args(args);
        run(cmd)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DNS resolver on 127.0.0.1 for tests: names in `answers` resolve to
/// their address (A queries; AAAA gets an empty answer), names in
/// `nxdomain` do not exist, anything else gets no answer at all.
pub struct FakeResolver {
    pub addr: std::net::SocketAddr,
}

impl FakeResolver {
    pub fn start(answers: &[(&str, std::net::Ipv4Addr)], nxdomain: &[&str]) -> FakeResolver {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind resolver");
        let addr = socket.local_addr().expect("resolver address");
        let answers: Vec<(String, std::net::Ipv4Addr)> =
            answers.iter().map(|(n, a)| (n.to_ascii_lowercase(), *a)).collect();
        let nxdomain: Vec<String> = nxdomain.iter().map(|n| n.to_ascii_lowercase()).collect();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Some((name, question_end)) = question(&buf[..n]) else { continue };
                let qtype = u16::from_be_bytes([buf[question_end - 4], buf[question_end - 3]]);
                let mut reply = buf[..question_end].to_vec();
                reply[2] |= 0x80;
                if nxdomain.contains(&name) {
                    reply[3] = (reply[3] & 0xf0) | 3;
                } else if let Some((_, a)) = answers.iter().find(|(n, _)| *n == name) {
                    if qtype == 1 {
                        reply[7] = 1;
                        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                        reply.extend_from_slice(&a.octets());
                    }
                } else {
                    continue;
                }
                let _ = socket.send_to(&reply, peer);
            }
        });
        FakeResolver { addr }
    }
}

/// The question name (lowercase) and the offset after the question.
fn question(packet: &[u8]) -> Option<(String, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        if len == 0 {
            break;
        }
        labels
            .push(String::from_utf8_lossy(packet.get(at + 1..at + 1 + len)?).to_ascii_lowercase());
        at += 1 + len;
    }
    let end = at + 5;
    (end <= packet.len()).then(|| (labels.join("."), end))
}

/// An HTTP server on 127.0.0.1 answering every request with `status`.
pub fn http_server(status: u16) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
    let addr = listener.local_addr().expect("http address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    addr
}
