//! A simulated fleet: many real agents in one process, for fleet-check
//! tests and benchmarks.
//!
//! Each simulated agent is the real [`Agent`]: its own UDP port and QUIC
//! endpoint, mutual TLS with a certificate from the organisation's CA, its
//! own audit log, the real permission table and handlers. What they share
//! is the process (and so the machine's facts), one agent certificate
//! (named [`SIMULATED_NAME`], valid for the listening IP) and the runtime.
//! They leave out the admin socket and the background CPU sampler, which
//! would otherwise run once per agent over the same process table.

use std::fmt::Write as _;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use tether_pki::Pki;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::agent::Agent;
use crate::config::AgentConfig;
use crate::error::AgentError;

/// The name in the simulated agents' one certificate: what the inventory
/// tells controllers to expect.
pub const SIMULATED_NAME: &str = "tether-sim";

/// How long the simulated agents' certificate is valid: past the default
/// expiry warning (30 days), so a healthy simulated fleet checks OK.
pub const SIMULATED_DAYS: u32 = 90;

/// What to simulate, and where.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// How many agents.
    pub count: usize,
    /// The first agent's port; the others follow one by one. 0: any free
    /// ports.
    pub base_port: u16,
    /// The address every agent listens on.
    pub ip: IpAddr,
    /// An initialised PKI (`tether pki init`): its CA issues the agents'
    /// certificate and verifies technicians.
    pub pki_dir: PathBuf,
    /// Where the audit logs and configuration go.
    pub state_dir: PathBuf,
}

/// The agents, bound and ready to serve.
pub struct Simulation {
    agents: Vec<(String, Agent)>,
}

impl Simulation {
    /// Issues the agents' certificate and opens `options.count` agents.
    /// Must be called inside a tokio runtime.
    pub fn open(options: &SimulateOptions) -> Result<Simulation, AgentError> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| AgentError::Internal(format!("{what}: {e}"));
        std::fs::create_dir_all(&options.state_dir)
            .map_err(|e| fail(&format!("cannot create {}", options.state_dir.display()), &e))?;
        // The configurations' relative paths would be read against their
        // own directory: make every path absolute first.
        let absolute =
            |p: &Path| std::path::absolute(p).map_err(|e| fail(&p.display().to_string(), &e));
        let state_dir = absolute(&options.state_dir)?;
        let pki = Pki::open(absolute(&options.pki_dir)?);
        let issued = pki
            .issue_agent(SIMULATED_NAME, &[], &[options.ip], SIMULATED_DAYS, true)
            .map_err(|e| fail("cannot issue the simulated agents' certificate", &e))?;
        let crl = pki.crl_path();
        let mut agents = Vec::with_capacity(options.count);
        for i in 0..options.count {
            let name = format!("sim-{i:05}");
            let port = match options.base_port {
                0 => 0,
                base => u16::try_from(usize::from(base) + i)
                    .map_err(|_| fail("ports", &"base port plus count passes 65535"))?,
            };
            let mut text = format!(
                "name = {name:?}\nlisten = {:?}\n\n[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
                SocketAddr::new(options.ip, port).to_string(),
                issued.cert_path,
                issued.key_path,
                pki.ca_cert_path(),
            );
            if crl.is_file() {
                let _ = writeln!(text, "crl = {crl:?}");
            }
            let _ = write!(
                text,
                "\n[audit]\npath = {:?}\n",
                state_dir.join(format!("{name}.audit.jsonl"))
            );
            let config = AgentConfig::parse(&text, &state_dir.join(format!("{name}.toml")))?;
            let agent = Agent::open(config)?.without_admin_socket().without_cpu_sampler();
            agents.push((name, agent));
        }
        Ok(Simulation { agents })
    }

    /// Each agent's name and address.
    pub fn addresses(&self) -> Vec<(String, SocketAddr)> {
        self.agents.iter().map(|(name, agent)| (name.clone(), agent.local_addr())).collect()
    }

    /// An inventory (TOML) of the agents, in the group `simulated`.
    pub fn inventory(&self) -> String {
        let mut out = String::new();
        for (name, addr) in self.addresses() {
            let _ = writeln!(
                out,
                "[hosts.{name}]\naddress = \"{addr}\"\nname = \"{SIMULATED_NAME}\"\ngroups = [\"simulated\"]\n"
            );
        }
        out
    }

    /// Writes [`Simulation::inventory`] to `path`.
    pub fn write_inventory(&self, path: &Path) -> Result<(), AgentError> {
        std::fs::write(path, self.inventory())
            .map_err(|e| AgentError::Internal(format!("cannot write {}: {e}", path.display())))
    }

    /// Serves until `shutdown` completes, then stops every agent.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for (_, agent) in self.agents {
            let mut stopped = stopped.clone();
            tasks.spawn(agent.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
        }
        shutdown.await;
        let _ = stop.send(true);
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            let result = done.map_err(|e| AgentError::Internal(format!("agent task: {e}")));
            if let Err(e) | Ok(Err(e)) = result
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
