//! A hostile agent for the controller's tests: a real QUIC server with a
//! real agent certificate from the test PKI that greets like an agent and
//! then answers every request from a script, saying whatever a compromised
//! machine might say.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use quinn::{Endpoint, SendStream};
use tether_proto::codec::{MAX_HELLO_FRAME, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use tether_proto::handshake::{HelloReply, Welcome};
use tether_proto::screen::{MAX_SCREEN_FRAME, Monitor, ScreenMessage, ViewStart};
use tether_proto::{Request, Response, Role, Tier};
use tether_tests::{Identity, Run, TestPki};
use tether_transport::framed;

/// What the fake agent does with one request.
pub enum Reply {
    /// One response on the request's stream.
    Once(Response),
    /// One response, after a pause (a slow operation on the agent).
    Later(Duration, Response),
    /// `Viewing(start)`, then these screen messages on the same stream.
    View(ViewStart, Vec<ScreenMessage>),
}

type Script = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running fake agent; stops when dropped.
pub struct FakeAgent {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeAgent {
    /// Serves as `agent-01` with a certificate issued by `pki`.
    pub fn start(
        pki: &TestPki,
        script: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_lacking(pki, &[], script)
    }

    /// Like [`FakeAgent::start`], for an older agent that does not serve
    /// the `lacking` request kinds (its welcome does not list them).
    pub fn start_lacking(
        pki: &TestPki,
        lacking: &[tether_proto::RequestKind],
        script: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let supported: Vec<String> = tether_proto::RequestKind::ALL
            .iter()
            .filter(|k| !lacking.contains(k))
            .map(|k| k.as_str().to_owned())
            .collect();
        let id = pki.issue_agent("agent-01");
        let chain = tether_pki::load_certs(&id.cert).unwrap();
        let key = tether_pki::load_private_key(&id.key).unwrap();
        let ca = tether_pki::load_certs(&id.ca).unwrap();
        let tls = tether_pki::server_config(chain, key, &ca, Vec::new()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let endpoint = runtime
            .block_on(async {
                tether_transport::server_endpoint("127.0.0.1:0".parse().unwrap(), tls)
            })
            .unwrap();
        let addr = endpoint.local_addr().unwrap();
        let script: Script = Arc::new(script);
        runtime.spawn(serve(endpoint, script, supported));
        FakeAgent { addr, runtime: Some(runtime) }
    }

    /// Runs the real `tether ARGS` as `id` against this agent, measuring the
    /// controller's peak resident memory (KiB, from wait4's rusage).
    pub fn tether(&self, id: &Identity, args: &[&str]) -> (Run, u64) {
        let home = tempfile::tempdir().unwrap();
        let mut cmd: Command = tether_tests::tether_as(id, home.path());
        cmd.args(["--server-name", "agent-01", "--timeout", "10"]).args(args);
        run_measured(cmd)
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `cmd` under GNU time, so its own peak RSS is known. Measuring it
/// from this process does not work: a child's ru_maxrss starts from the
/// resident size of the process that spawned it (Linux carries the old
/// address space's high-water mark across exec), and this test process is
/// large when the whole suite runs. GNU time is small, so the controller it
/// forks starts from almost nothing.
fn run_measured(cmd: Command) -> (Run, u64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = tether_tests::proc::under_gnu_time(&cmd, "%M", report.path());
    timed.stdin(Stdio::null());
    let run = tether_tests::run(timed);
    let text = std::fs::read_to_string(report.path()).unwrap();
    // The last line is the figure; a line before it may say the command
    // exited with a non-zero status.
    let peak = text.lines().last().and_then(|l| l.trim().parse().ok());
    (run, peak.unwrap_or_else(|| panic!("no peak RSS from GNU time: {text:?}")))
}

async fn serve(endpoint: Endpoint, script: Script, supported: Vec<String>) {
    while let Some(incoming) = endpoint.accept().await {
        let script = Arc::clone(&script);
        let supported = supported.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            let Ok((mut send, mut recv)) = conn.accept_bi().await else { return };
            if framed::read_payload::<MAX_HELLO_FRAME>(&mut recv).await.is_err() {
                return;
            }
            let welcome = Welcome {
                agent_name: "agent-01".into(),
                agent_software: "tether-agent 0.1.0".into(),
                session_id: "fa4e".into(),
                technician: "alice".into(),
                role: Role::Tier(Tier::Three),
                supported,
            };
            let reply = HelloReply::Welcome(welcome).encode().unwrap();
            if framed::write_payload(&mut send, reply).await.is_err() {
                return;
            }
            let _ = send.finish();
            while let Ok((send, mut recv)) = conn.accept_bi().await {
                let Ok(request) =
                    framed::read_message::<Request, MAX_REQUEST_FRAME>(&mut recv).await
                else {
                    return;
                };
                let reply = script(&request);
                tokio::spawn(answer(send, recv, reply));
            }
        });
    }
}

async fn answer(mut send: SendStream, mut recv: quinn::RecvStream, reply: Reply) {
    match reply {
        Reply::Once(response) => {
            let _ = framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &response).await;
            let _ = send.finish();
        }
        Reply::Later(pause, response) => {
            tokio::time::sleep(pause).await;
            let _ = framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &response).await;
            let _ = send.finish();
        }
        Reply::View(start, messages) => {
            let viewing = Response::Viewing(Box::new(start));
            let _ = framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &viewing).await;
            for message in &messages {
                if framed::write_message::<_, MAX_SCREEN_FRAME>(&mut send, message).await.is_err() {
                    return;
                }
            }
        }
    }
    // Keep the stream open until the controller goes: it must end the view
    // itself, not because the agent hung up.
    let _ = tokio::time::timeout(Duration::from_secs(20), recv.read_to_end(1 << 20)).await;
}

/// A monitor of the given size.
pub fn monitor(width: u32, height: u32) -> Monitor {
    Monitor { index: 0, name: "fake".into(), x: 0, y: 0, width, height, primary: true }
}

/// A zstd frame of `bytes` zeros, compressed as it goes (a few KiB hold
/// hundreds of MiB): the shape of a decompression bomb.
pub fn zstd_bomb(bytes: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..bytes / chunk.len() {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}
