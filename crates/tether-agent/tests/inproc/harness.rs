//! One in-process agent per test, and clients of any role.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tether_agent::{Agent, AgentConfig, AgentError};
use tether_audit::Record;
use tether_pki::{Issued, Pki};
use tether_proto::handshake::Hello;
use tether_proto::{ErrorKind, Request, Response, Role, Tier};
use tether_transport::{Client, TransportError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any one exchange in these tests may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Every role a certificate can carry.
pub const ROLES: [Role; 4] =
    [Role::Tier(Tier::One), Role::Tier(Tier::Two), Role::Tier(Tier::Three), Role::Fleet];

/// A running in-process agent with its CA, files and audit log.
pub struct TestAgent {
    pub addr: SocketAddr,
    /// Holds the CA, the configuration and the audit log.
    _dir: TempDir,
    pki: Pki,
    audit_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), AgentError>>>,
}

impl TestAgent {
    /// Starts an agent named `agent-01` whose configuration has `extra`
    /// (TOML tables) after the basics. The screen is a display that does
    /// not exist, so screen requests reach their handler and fail there.
    pub async fn start(extra: &str) -> TestAgent {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki::open(dir.path().join("pki"));
        pki.init("In-process tests", 30).expect("CA");
        let agent = pki
            .issue_agent("agent-01", &[], &["127.0.0.1".parse().unwrap()], 1, true)
            .expect("agent certificate");
        let audit_path = dir.path().join("audit.jsonl");
        let has_screen = extra.contains("[screen]");
        let text = format!(
            "name = \"agent-01\"\nlisten = \"127.0.0.1:0\"\n{screen}{extra}\n\
             [tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\ncrl = {:?}\n\n[audit]\npath = {:?}\n",
            agent.cert_path,
            agent.key_path,
            pki.ca_cert_path(),
            pki.crl_path(),
            audit_path,
            screen = if has_screen { "" } else { "[screen]\ndisplay = \":97\"\n" },
        );
        let config = AgentConfig::parse(&text, &dir.path().join("agent.toml")).expect("config");
        let agent = Agent::open(config).expect("agent opens").without_admin_socket();
        let addr = agent.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(agent.run(async {
            let _ = stopped.await;
        }));
        TestAgent { addr, _dir: dir, pki, audit_path, stop: Some(stop), task: Some(task) }
    }

    /// A technician certificate with `role`, named after it.
    pub fn issue(&self, role: Role) -> Issued {
        let name = format!("tech-{}", role.as_str());
        self.pki.issue_tech(&name, role, 1, true).expect("technician certificate")
    }

    /// A greeted client with a fresh certificate of `role`.
    pub async fn connect(&self, role: Role) -> Client {
        self.connect_as(&self.issue(role)).await.expect("connects")
    }

    /// A greeted client with the certificate `tech`.
    pub async fn connect_as(&self, tech: &Issued) -> Result<Client, TransportError> {
        let chain = tether_pki::load_certs(&tech.cert_path).unwrap();
        let key = tether_pki::load_private_key(&tech.key_path).unwrap();
        let ca = tether_pki::load_certs(&self.pki.ca_cert_path()).unwrap();
        let tls = tether_pki::client_config(chain, key, &ca, vec![]).unwrap();
        let endpoint = tether_transport::client_endpoint(self.addr, tls).unwrap();
        let hello = Hello::new("in-process test", None);
        Client::connect(&endpoint, self.addr, "agent-01", &hello, TIMEOUT).await
    }

    /// Every audit record so far.
    pub fn audit(&self) -> Vec<Record> {
        tether_audit::read_tail(&self.audit_path, 100_000).expect("audit log readable").records
    }

    /// Records of one request kind, in order.
    pub fn records_of(&self, request: &str) -> Vec<Record> {
        self.audit().into_iter().filter(|r| r.request == request).collect()
    }

    /// Stops the agent as SIGTERM would and waits for its stop record.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let ran = tokio::time::timeout(TIMEOUT, task).await;
            ran.expect("agent stops in time").expect("agent task").expect("agent ran cleanly");
        }
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The kind of error the agent replied with, or `None` for a non-error
/// reply.
pub fn error_kind(result: &Result<Response, TransportError>) -> Option<ErrorKind> {
    match result {
        Ok(_) => None,
        Err(e) => Some(e.agent_reply().map(|r| r.kind).unwrap_or_else(|| {
            panic!("not an agent reply but a transport failure: {e}");
        })),
    }
}

/// The message of the agent's error reply.
pub fn message(result: Result<Response, TransportError>) -> String {
    let err = result.expect_err("an error reply");
    err.agent_reply().map(|r| r.message.clone()).unwrap_or_else(|| panic!("{err}"))
}

/// Sends `request` (view and throughput requests included: only the
/// agent's first reply is read).
pub async fn ask(client: &Client, request: &Request) -> Result<Response, TransportError> {
    match request {
        Request::View(_) => client
            .open_view(request, TIMEOUT)
            .await
            .map(|(start, _send, _recv)| Response::Viewing(Box::new(start))),
        Request::Throughput(tether_proto::Throughput::Upload { bytes }) => client
            .upload(*bytes, TIMEOUT)
            .await
            .map(|_| Response::Received { bytes: *bytes, micros: 0 }),
        _ => client.request(request, TIMEOUT).await,
    }
}

/// Whether `path` exists (for restore checks).
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}
