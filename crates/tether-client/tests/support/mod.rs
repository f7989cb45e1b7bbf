//! A real `tether-agent` on loopback with throw-away certificates, for the
//! library's tests. The agent binary comes from the same target directory
//! (`cargo build -p tether-agent` first); a missing one fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tether_client::{ConnectOptions, Crl, IdentityFiles};
use tether_pki::Pki;
use tether_proto::Role;

/// The agent's name, in its certificate.
pub const AGENT_NAME: &str = "lib-agent";

/// How long the agent may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running agent, killed when dropped.
pub struct TestAgent {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    pub pki: Pki,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let mut dir = exe.parent().expect("test executable has a parent directory").to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("tether-agent");
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build -p tether-agent)",
        path.display()
    );
    path
}

impl TestAgent {
    /// A fresh PKI and an agent on 127.0.0.1 using it.
    pub fn start() -> TestAgent {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki::open(dir.path().join("pki"));
        pki.init("Library Test", 30).expect("CA made");
        let ip = "127.0.0.1".parse().expect("an address");
        let agent = pki.issue_agent(AGENT_NAME, &[], &[ip], 1, false).expect("agent issued");
        let config = dir.path().join("agent.toml");
        let text = format!(
            "name = {AGENT_NAME:?}\nlisten = \"127.0.0.1:0\"\ncontrol_socket = {:?}\n\n[tls]\n\
             cert = {:?}\nkey = {:?}\nca = {:?}\ncrl = {:?}\n\n[audit]\npath = {:?}\n",
            dir.path().join("agent.sock"),
            agent.cert_path,
            agent.key_path,
            pki.ca_cert_path(),
            pki.crl_path(),
            dir.path().join("audit.jsonl"),
        );
        std::fs::write(&config, text).expect("config written");
        let mut child = Command::new(agent_binary())
            .args(["run", "--config"])
            .arg(&config)
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
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
        let Ok(addr) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = child.kill();
            panic!("agent did not start:\n{}", log.lock().expect("log lock").join("\n"));
        };
        TestAgent { child, addr, pki, log, _dir: dir }
    }

    /// Options for a technician `name` with `role`, issued now.
    pub fn technician(&self, name: &str, role: Role) -> ConnectOptions {
        let tech = self.pki.issue_tech(name, role, 1, false).expect("technician issued");
        ConnectOptions {
            identity: IdentityFiles {
                cert: tech.cert_path,
                key: tech.key_path,
                ca: self.pki.ca_cert_path(),
                crl: Crl::Required(self.pki.crl_path()),
            },
            hosts_file: None,
            server_name: Some(AGENT_NAME.to_owned()),
            ticket: Some("LIB-1".to_owned()),
            timeout: Duration::from_secs(10),
            software: "tether-client-tests".to_owned(),
        }
    }

    /// How many log lines contain `needle`.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log.lock().expect("log lock").iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `count` log lines contain `needle`; false on timeout.
    pub fn wait_for_log(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.count_in_log(needle) >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
