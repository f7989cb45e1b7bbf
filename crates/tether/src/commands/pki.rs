//! `tether pki …`: the help-desk admin's certificate authority.

use std::process::ExitCode;

use anyhow::Context;

use tether_pki::{CertKind, IndexEntry, Issued, Pki};
use tether_proto::{Role, Tier};

use crate::cli::PkiCommand;

pub fn run(command: PkiCommand) -> anyhow::Result<ExitCode> {
    match command {
        PkiCommand::Init { dir, org, days } => {
            let pki = Pki::open(&dir.pki_dir);
            let issued = pki.init(&org, days)?;
            println!("created the {org} CA in {}", pki.root().display());
            println!("  serial    {}", issued.entry.serial);
            println!("  valid to  {}", issued.entry.not_after);
            println!(
                "  CA cert   {}  (give to every agent and technician)",
                issued.cert_path.display()
            );
            println!(
                "  CA key    {}  ({}; keep it private and backed up)",
                issued.key_path.display(),
                tether_os::files::PRIVATE_FILE
            );
            println!("  CRL       {}  (give to every agent)", pki.crl_path().display());
        }
        PkiCommand::IssueAgent { dir, name, ips, dns, days, force, bundle, bundle_config } => {
            let pki = Pki::open(&dir.pki_dir);
            // Read the config first: a wrong path should not leave a
            // certificate issued without the bundle asked for.
            let config = match &bundle_config {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                ),
                None => None,
            };
            if let Some(path) = bundle.as_ref().filter(|p| !force && p.exists()) {
                anyhow::bail!(
                    "{} already exists; refusing to overwrite it (pass --force to replace it)",
                    path.display()
                );
            }
            let issued = pki.issue_agent(&name, &dns, &ips, days, force)?;
            print_issued("agent", &issued);
            if let Some(path) = bundle {
                pki.agent_bundle(&issued, config)?.write(&path, force)?;
                println!(
                    "  bundle    {}  ({}; on the agent: tether-agent enroll {})",
                    path.display(),
                    tether_os::files::PRIVATE_FILE,
                    path.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "  install   {} and {} on the agent with {}, and point its agent.toml at them",
                issued.cert_path.display(),
                issued.key_path.display(),
                pki.ca_cert_path().display()
            );
        }
        PkiCommand::IssueTech { dir, name, tier, role, days, force } => {
            let pki = Pki::open(&dir.pki_dir);
            let role = match (tier.and_then(Tier::from_number), role) {
                (Some(tier), _) => Role::Tier(tier),
                // clap allows only "fleet" and requires one of the two.
                (None, _) => Role::Fleet,
            };
            let default_days = match role {
                Role::Fleet => tether_pki::DEFAULT_FLEET_DAYS,
                Role::Tier(_) => tether_pki::DEFAULT_TECH_DAYS,
            };
            let issued = pki.issue_tech(&name, role, days.unwrap_or(default_days), force)?;
            print_issued(&format!("technician ({role})"), &issued);
            println!(
                "  install   copy to the technician's ~/.config/tether/ as tech.crt, tech.key \
                 (mode 0600) and ca.crt ({})",
                pki.ca_cert_path().display()
            );
        }
        PkiCommand::Revoke { dir, serial } => {
            let pki = Pki::open(&dir.pki_dir);
            let entry = pki.revoke(&serial)?;
            println!("revoked {} {} ({})", kind_name(entry.kind), entry.name, entry.serial);
            println!(
                "  CRL       {} re-signed; agents pick it up within 30 s (or at once on SIGHUP)",
                pki.crl_path().display()
            );
        }
        PkiCommand::RefreshCrl { dir } => {
            let pki = Pki::open(&dir.pki_dir);
            pki.refresh_crl()?;
            println!("re-signed {}", pki.crl_path().display());
        }
        PkiCommand::List { dir, json } => {
            let entries = Pki::open(&dir.pki_dir).list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                print!("{}", table(&entries));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_issued(what: &str, issued: &Issued) {
    println!("issued {what} certificate for {}", issued.entry.name);
    println!("  serial    {}", issued.entry.serial);
    println!("  valid to  {}", issued.entry.not_after);
    println!("  cert      {}", issued.cert_path.display());
    println!("  key       {}  ({})", issued.key_path.display(), tether_os::files::PRIVATE_FILE);
}

fn kind_name(kind: CertKind) -> &'static str {
    match kind {
        CertKind::Ca => "ca",
        CertKind::Agent => "agent",
        CertKind::Tech => "tech",
    }
}

/// The `pki list` table.
pub fn table(entries: &[IndexEntry]) -> String {
    let serial_w = entries.iter().map(|e| e.serial.len()).max().unwrap_or(6).max(6);
    let name_w = entries.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<serial_w$}  {:<5}  {:<name_w$}  {:<5}  {:<20}  STATUS\n",
        "SERIAL", "KIND", "NAME", "ROLE", "NOT AFTER"
    );
    for e in entries {
        let status = match &e.revoked_at {
            Some(at) => format!("revoked {at}"),
            None if is_past(&e.not_after) => "expired".to_owned(),
            None => "valid".to_owned(),
        };
        let role = e.role.map_or("-", Role::as_str);
        out.push_str(&format!(
            "{:<serial_w$}  {:<5}  {:<name_w$}  {:<5}  {:<20}  {status}\n",
            e.serial,
            kind_name(e.kind),
            e.name,
            role,
            e.not_after
        ));
    }
    out
}

fn is_past(rfc3339: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .is_ok_and(|t| t < time::OffsetDateTime::now_utc())
}
