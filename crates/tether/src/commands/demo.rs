//! `tether demo`: the whole product on loopback in one command.
//!
//! Creates a throw-away PKI, starts a real `tether-agent` on 127.0.0.1,
//! queries it as a tier-1 technician, shows a request the tier does not
//! allow being denied, prints the agent's audit log and stops the agent.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail};
use tether_pki::Pki;
use tether_proto::{Role, Tier};
use tether_testkit::{AgentConfig, AgentProcess, LOOPBACK_ANY_PORT, SpawnError};

use crate::cli::GlobalArgs;

/// How long the agent may take to start listening.
const AGENT_START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the agent may take to stop after SIGTERM before it is killed.
const AGENT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(global: &GlobalArgs, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let temp;
    let root = match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let agent_bin = find_agent_binary()?;

    println!("== 1. A throw-away PKI in {}", root.display());
    let pki = Pki::open(root.join("pki"));
    pki.init("Demo Help Desk", tether_pki::DEFAULT_CA_DAYS)?;
    let agent = pki.issue_agent("demo-agent", &[], &["127.0.0.1".parse()?], 1, true)?;
    let tech = pki.issue_tech("demo-tech", Role::Tier(Tier::One), 1, true)?;
    println!("   CA, agent certificate for demo-agent, tier-1 certificate for demo-tech");

    println!("== 2. An agent on 127.0.0.1");
    let audit_path = root.join("audit.jsonl");
    let config_path = root.join("agent.toml");
    AgentConfig {
        name: "demo-agent".into(),
        listen: LOOPBACK_ANY_PORT.into(),
        control_socket: None,
        extra: String::new(),
        cert: agent.cert_path,
        key: agent.key_path,
        ca: pki.ca_cert_path(),
        crl: pki.crl_path(),
        audit_path: audit_path.clone(),
    }
    .write(&config_path)?;
    let mut agent = start_agent(&agent_bin, &config_path)?;
    let result = query(global, agent.addr(), &tech, &pki).await;
    stop(&mut agent);
    result?;

    println!("== 5. The agent's audit log ({})", audit_path.display());
    for record in tether_audit::read_tail(&audit_path, 50)?.records {
        println!("   {}", record.human_line());
    }
    Ok(ExitCode::SUCCESS)
}

async fn query(
    global: &GlobalArgs,
    addr: &str,
    tech: &tether_pki::Issued,
    pki: &Pki,
) -> anyhow::Result<()> {
    println!("== 3. tether info {addr}  (as demo-tech, tier 1)");
    let as_tech = GlobalArgs {
        cert: Some(tech.cert_path.clone()),
        key: Some(tech.key_path.clone()),
        ca: Some(pki.ca_cert_path()),
        // The demo PKI revokes nothing, but its own CRL is the honest setup.
        crl: Some(pki.crl_path()),
        server_name: Some("demo-agent".into()),
        ticket: Some("DEMO-1".into()),
        hosts: Some(pki.root().join("no-hosts.toml")),
        config_dir: global.config_dir.clone(),
        db: global.db.clone(),
        timeout: global.timeout,
        verbose: global.verbose,
    };
    let info = crate::cli::Command::Info { host: addr.to_owned(), json: false };
    super::host::one_shot(&as_tech, info).await?;

    println!("== 4. tether audit {addr}  (needs tier 3: denied, and audited)");
    let audit = crate::cli::Command::Audit { host: addr.to_owned(), lines: 5, json: false };
    match super::host::one_shot(&as_tech, audit).await {
        Ok(_) => bail!("the agent let a tier-1 technician read its audit log"),
        Err(e) => println!("   tether: error: {}", tether_proto::text::escape(&format!("{e:#}"))),
    }
    Ok(())
}

/// Starts the agent and waits until its log says where it listens.
fn start_agent(binary: &std::path::Path, config: &std::path::Path) -> anyhow::Result<AgentProcess> {
    match AgentProcess::spawn(Command::new(binary), config, AGENT_START_TIMEOUT) {
        Ok(agent) => {
            println!("   listening on {}", agent.addr());
            Ok(agent)
        }
        Err(SpawnError::Spawn { program, source }) => {
            Err(source).with_context(|| format!("cannot start {}", program.display()))
        }
        Err(e @ SpawnError::Exited { .. }) => {
            bail!("the agent failed to start: {}", e.failure_line().unwrap_or("it said nothing"))
        }
        Err(SpawnError::Timeout { .. }) => {
            bail!("the agent did not start listening within {AGENT_START_TIMEOUT:?}")
        }
    }
}

/// Asks the agent to stop (SIGTERM) and waits; kills it if it hangs.
fn stop(agent: &mut AgentProcess) {
    if !matches!(agent.terminate(AGENT_STOP_TIMEOUT), Ok(Some(_))) {
        agent.kill();
    }
}

/// The agent binary: next to this one (as installed and as built), else PATH.
fn find_agent_binary() -> anyhow::Result<PathBuf> {
    let name = format!("tether-agent{}", std::env::consts::EXE_SUFFIX);
    tether_testkit::beside_current_exe(&name)
        .or_else(|| tether_testkit::on_path(&name))
        .context("tether-agent not found next to tether or on PATH; build the workspace first")
}
