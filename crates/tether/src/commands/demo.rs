//! `tether demo`: the whole product on loopback in one command.
//!
//! Creates a throw-away PKI, starts a real `tether-agent` on 127.0.0.1,
//! queries it as a tier-1 technician, shows a request the tier does not
//! allow being denied, prints the agent's audit log and stops the agent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use tether_pki::Pki;
use tether_proto::{Role, Tier};

use crate::cli::GlobalArgs;
use crate::commands::info;

/// How long the agent may take to start listening.
const AGENT_START_TIMEOUT: Duration = Duration::from_secs(15);

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
    std::fs::write(
        &config_path,
        format!(
            "name = \"demo-agent\"\nlisten = \"127.0.0.1:0\"\n\n[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\ncrl = {:?}\n\n[audit]\npath = {:?}\n",
            agent.cert_path,
            agent.key_path,
            pki.ca_cert_path(),
            pki.crl_path(),
            audit_path
        ),
    )?;
    let mut child = Command::new(&agent_bin)
        .args(["run", "--config"])
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", agent_bin.display()))?;
    let result = query(global, &mut child, &tech, &pki).await;
    stop(&mut child);
    result?;

    println!("== 5. The agent's audit log ({})", audit_path.display());
    for record in tether_audit::read_tail(&audit_path, 50)?.records {
        println!("   {}", record.human_line());
    }
    Ok(ExitCode::SUCCESS)
}

async fn query(
    global: &GlobalArgs,
    child: &mut Child,
    tech: &tether_pki::Issued,
    pki: &Pki,
) -> anyhow::Result<()> {
    let addr = wait_for_listening(child)?;
    println!("   listening on {addr}");

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
        timeout: global.timeout,
        verbose: global.verbose,
    };
    info::run(&as_tech, &addr, false).await?;

    println!("== 4. tether audit {addr}  (needs tier 3: denied, and audited)");
    match crate::commands::audit::run(&as_tech, &addr, 5, false).await {
        Ok(_) => bail!("the agent let a tier-1 technician read its audit log"),
        Err(e) => println!("   tether: error: {}", tether_proto::text::escape(&format!("{e:#}"))),
    }
    Ok(())
}

/// Reads the agent's log until it says where it listens.
fn wait_for_listening(child: &mut Child) -> anyhow::Result<String> {
    let stderr = child.stderr.take().context("agent stderr not captured")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(Ok(addr.trim().to_owned()));
            } else if line.contains("error") {
                let _ = tx.send(Err(line));
            }
        }
    });
    match rx.recv_timeout(AGENT_START_TIMEOUT) {
        Ok(Ok(addr)) => Ok(addr),
        Ok(Err(line)) => bail!("the agent failed to start: {line}"),
        Err(_) => bail!("the agent did not start listening within {AGENT_START_TIMEOUT:?}"),
    }
}

/// Asks the agent to stop (SIGTERM) and waits; kills it if it hangs.
fn stop(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a pid we spawned and still own; no memory involved.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    for _ in 0..100 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The agent binary: next to this one (as installed and as built), else PATH.
fn find_agent_binary() -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("tether-agent")))
        .filter(|p| p.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("tether-agent")).find(|p| Path::is_file(p))
    });
    on_path.context("tether-agent not found next to tether or on PATH; build the workspace first")
}
