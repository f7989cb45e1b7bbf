//! Test harness for Tether's end-to-end tests and benchmarks.
//!
//! It drives the real `tether` and `tether-agent` binaries, found in the
//! cargo target directory beside the test executable (build the workspace
//! first: `cargo build --workspace`). Every fixture lives in its own
//! temporary directory and every command runs with a clean environment, so
//! nothing from the developer's `~/.config/tether` leaks in.
//!
//! The general pieces (binary lookup, `tether pki` fixtures, agent configs
//! and spawning, Xvfb, /proc figures) live in `tether-testkit` and are
//! re-exported here; this crate keeps what only these tests need: an
//! [`Agent`] with its audit log, a fake DNS resolver, an HTTP server and a
//! controller-side QUIC endpoint.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tempfile::TempDir;

mod interactive;
pub use interactive::Interactive;
use tether_audit::Record;
use tether_testkit::{AgentConfig, AgentProcess, LOOPBACK_ANY_PORT};
pub use tether_testkit::{
    Identity, Reaped, Run, TestPki, Viewer, command, eventually, proc, run, run_on_terminal,
    tether_as, workspace_binary, xvfb,
};

/// How long an agent may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Agent::stop`] waits for the agent to obey SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A client endpoint presenting `id`'s certificate, for in-process
/// controllers (tests and benches).
pub fn endpoint_with(id: &Identity, addr: SocketAddr) -> quinn::Endpoint {
    let chain = tether_pki::load_certs(&id.cert).expect("certificate readable");
    let key = tether_pki::load_private_key(&id.key).expect("key readable");
    let ca = tether_pki::load_certs(&id.ca).expect("CA readable");
    let tls = tether_pki::client_config(chain, key, &ca, Vec::new()).expect("TLS config");
    tether_transport::client_endpoint(addr, tls).expect("client endpoint")
}

/// Options for an agent under test.
pub struct AgentSetup<'a> {
    pub pki: &'a TestPki,
    pub name: &'a str,
    /// Extra TOML appended to the generated config (e.g. a `[policy]` table).
    pub extra: &'a str,
}

/// Starts `tether-agent run --config CONFIG` with a clean environment
/// rooted at `home`, panicking with the agent's log if it does not listen.
fn spawn_agent(home: &std::path::Path, config: &std::path::Path) -> AgentProcess {
    AgentProcess::spawn(command("tether-agent", home), config, START_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A running `tether-agent`, killed when dropped.
pub struct Agent {
    process: AgentProcess,
    pub addr: String,
    pub name: String,
    pub dir: TempDir,
    pub config: PathBuf,
    pub audit_path: PathBuf,
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
        AgentConfig {
            name: setup.name.to_owned(),
            listen: LOOPBACK_ANY_PORT.to_owned(),
            control_socket: Some(dir.path().join("agent.sock")),
            extra: setup.extra.to_owned(),
            cert: id.cert.clone(),
            key: id.key.clone(),
            ca: id.ca.clone(),
            crl: setup.pki.crl(),
            audit_path: audit_path.clone(),
        }
        .write(&config)
        .expect("config written");
        Self::run_config(setup.name, dir, config, audit_path)
    }

    /// Starts an agent from a configuration made elsewhere (an enrolled
    /// one, say) in `dir`, which the agent owns from now on.
    pub fn run_config(name: &str, dir: TempDir, config: PathBuf, audit_path: PathBuf) -> Agent {
        let process = spawn_agent(dir.path(), &config);
        let addr = process.addr().to_owned();
        Agent { process, addr, name: name.to_owned(), dir, config, audit_path }
    }

    /// Kills the agent with SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the agent again with the same configuration and files.
    pub fn restart(&mut self) {
        self.kill();
        self.process = spawn_agent(self.dir.path(), &self.config);
        self.addr = self.process.addr().to_owned();
    }

    /// The agent's log so far.
    pub fn log(&self) -> String {
        self.process.log()
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
        i32::try_from(self.process.pid()).expect("pid fits in i32")
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.process.is_alive()
    }

    pub fn signal(&self, signal: tether_os::signal::Signal) {
        if let Err(e) = self.process.signal(signal) {
            panic!("kill({}, {signal:?}) failed: {e}", self.pid());
        }
    }

    /// Sends SIGTERM and waits for the agent to exit.
    pub fn stop(&mut self) -> ExitStatus {
        match self.process.terminate(STOP_TIMEOUT) {
            Ok(Some(status)) => status,
            Ok(None) => panic!("agent ignored SIGTERM:\n{}", self.log()),
            Err(e) => panic!("cannot stop the agent ({e}):\n{}", self.log()),
        }
    }

    /// Stops the agent with SIGTERM (it closes its sessions) and starts it
    /// again on the same port with the same files.
    pub fn restart_in_place(&mut self) {
        let config = std::fs::read_to_string(&self.config).expect("config readable");
        let listen = format!("listen = \"{LOOPBACK_ANY_PORT}\"");
        let pinned = config.replace(&listen, &format!("listen = \"{}\"", self.addr));
        std::fs::write(&self.config, pinned).expect("config written");
        self.stop();
        self.process = spawn_agent(self.dir.path(), &self.config);
        assert_eq!(self.process.addr(), self.addr, "the agent came back on its port");
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

/// An agent named `agent-01` whose restore points cover `<data>/tree`
/// (created here), its store in `<data>/state`, `*.cache` files excluded,
/// no scheduled points.
pub fn agent_with_restore(pki: &TestPki, data: &std::path::Path) -> Agent {
    std::fs::create_dir_all(data.join("tree")).expect("tree created");
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{:?}]\nexclude = [\"**/*.cache\"]\nschedule_hours = 0\n",
        data.join("state"),
        data.join("tree"),
    );
    Agent::start(AgentSetup { pki, name: "agent-01", extra: &extra })
}

/// Median, 10th and 90th percentile, minimum and maximum of `samples` in
/// milliseconds, as the bench binaries print them.
pub fn stats(samples: &mut [Duration]) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "median {:.2} ms  p10 {:.2}  p90 {:.2}  min {:.2}  max {:.2}",
        ms(pct(0.5)),
        ms(pct(0.1)),
        ms(pct(0.9)),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    )
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

/// `tether-agent simulate`: `count` real agents in one process, with
/// certificates from `pki` and their state (and `inventory.toml`) in
/// `state`. Returns the process once it says its agents listen, and the
/// inventory's path. `cmd` is the `tether-agent` command to run it with
/// (from [`command`], with any environment the caller adds).
pub fn start_simulation(
    mut cmd: std::process::Command,
    pki: &TestPki,
    state: &std::path::Path,
    count: usize,
) -> (Reaped, PathBuf) {
    cmd.args(["simulate", "--count", &count.to_string(), "--pki-dir"]).arg(pki.root());
    cmd.arg("--state-dir").arg(state);
    let (child, line) = Reaped::spawn_until_first_line(cmd);
    assert!(line.contains(&format!("{count} simulated agents listening")), "{line:?}");
    (child, state.join("inventory.toml"))
}

/// Starts `tether fleet serve` as `cmd` (its arguments given) and returns
/// the process and the address it announced.
pub fn start_exporter(cmd: std::process::Command) -> (Reaped, String) {
    let (child, line) = Reaped::spawn_until_first_line(cmd);
    let addr = line.rsplit(' ').next().unwrap_or_default().to_owned();
    assert!(addr.parse::<SocketAddr>().is_ok(), "no address in {line:?}");
    (child, addr)
}
