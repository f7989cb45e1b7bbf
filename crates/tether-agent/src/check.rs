//! `tether-agent check-config`: what the configuration amounts to, and
//! what would not work once the service runs, before it runs.
//!
//! Errors (unusable TLS material, an audit log that cannot be written) make
//! the check fail. Warnings name what would silently misbehave: a `name`
//! the agent's certificate does not carry, so every technician's
//! connection fails name verification; a consent prompt program that does
//! not exist, so every control request is denied; a display the agent
//! cannot open.

use std::path::{Path, PathBuf};

use tether_proto::permission::requirement;
use tether_proto::{RequestKind, Role};

use crate::config::AgentConfig;
use crate::consent::Consent;

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// The configuration, one `label value` line each.
    pub lines: Vec<String>,
    /// What would not work as configured.
    pub warnings: Vec<String>,
}

/// Checks `config`; `Err` for what makes the agent unable to start.
pub fn check(config: &AgentConfig) -> anyhow::Result<Report> {
    use anyhow::Context;
    crate::tls::server_config(config).context("TLS material is not usable")?;
    let audit_note = audit_writable(&config.audit_path)?;
    let mut r = Report::default();
    let mut line = |label: &str, value: String| r.lines.push(format!("  {label:<12} {value}"));
    line("name", config.name.clone());
    line("listen", format!("{} (UDP)", config.listen));
    line("certificate", config.cert.display().to_string());
    line("CA", config.ca.display().to_string());
    line(
        "CRL",
        match &config.crl {
            Some(crl) => crl.display().to_string(),
            None => "none (revoked technician certificates would be accepted)".into(),
        },
    );
    line("audit log", format!("{}{audit_note}", config.audit_path.display()));
    let l = &config.limits;
    line(
        "limits",
        format!(
            "{} sessions ({} fleet, {} per certificate), idle {} s, {} handshakes, {} views ({} per session)",
            l.max_sessions,
            l.max_fleet_sessions,
            l.max_sessions_per_identity,
            l.idle_timeout.as_secs_f64(),
            l.max_handshakes,
            l.max_views,
            l.max_views_per_session
        ),
    );
    line("restore", restore_line(config));
    line("screen", config.screen.describe());
    line("consent", config.consent.describe());
    line("admin socket", config.control_socket.display().to_string());
    r.lines.push("  permissions on this machine:".into());
    for kind in RequestKind::ALL {
        r.lines.push(format!("    {:<16} {}", kind.as_str(), who_may(config, *kind)));
    }
    r.warnings.extend(name_warning(config));
    r.warnings.extend(prompt_warning(config));
    r.warnings.extend(display_warning(config));
    Ok(r)
}

/// The configured name must be one the certificate carries: controllers
/// verify the agent's certificate against the name they dial.
fn name_warning(config: &AgentConfig) -> Option<String> {
    let certs = tether_pki::load_certs(&config.cert).ok()?;
    let names = tether_pki::server_names(certs.first()?);
    if names.iter().any(|n| n.eq_ignore_ascii_case(&config.name)) {
        return None;
    }
    Some(format!(
        "name {:?} is not in the agent's certificate (it carries {}): technicians dialling {:?} \
         will be refused; set name = one of those, or issue a certificate for this name",
        config.name,
        if names.is_empty() { "no names".to_owned() } else { names.join(", ") },
        config.name
    ))
}

/// A prompt that cannot start denies every request it guards.
fn prompt_warning(config: &AgentConfig) -> Option<String> {
    let consent = &config.consent;
    if consent.view != Consent::Prompt && consent.control != Consent::Prompt {
        return None;
    }
    let program = consent.prompt_command.first()?;
    if find_program(program).is_some() {
        return None;
    }
    Some(format!(
        "the consent prompt {program:?} is not an executable program here: every request it \
         guards will be denied; install it or change [consent]"
    ))
}

/// Screen requests need the configured display.
fn display_warning(config: &AgentConfig) -> Option<String> {
    let display = config.screen.display.clone().or_else(|| std::env::var("DISPLAY").ok())?;
    match crate::screen::monitors(&config.screen) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the display {display} cannot be opened ({}): view, screenshot and input will fail; \
             give the service the X authority (see the README)",
            e.message
        )),
    }
}

/// `program` as an executable file, looked up in PATH when it has no slash.
fn find_program(program: &str) -> Option<PathBuf> {
    let executable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| tether_os::files::is_executable(&m));
    if program.contains(['/', std::path::MAIN_SEPARATOR]) {
        return executable(Path::new(program)).then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| executable(p))
}

fn restore_line(config: &AgentConfig) -> String {
    use tether_restore::BackendConfig;
    let Some(restore) = &config.restore else { return "off (no [restore] table)".into() };
    let schedule = match restore.schedule {
        Some(every) => format!("automatic point every {:.1} h", every.as_secs_f64() / 3600.0),
        None => "no automatic points".into(),
    };
    match &restore.backend {
        BackendConfig::Files(store) => {
            let paths: Vec<String> = store.paths.iter().map(|p| p.display().to_string()).collect();
            let mut line =
                format!("{} in {}, {schedule}", paths.join(", "), store.state_dir.display());
            for inside in store.protected_inside() {
                line.push_str(&format!("; {} is always left out", inside.display()));
            }
            line
        }
        BackendConfig::Snapper { config, .. } => format!("snapper config {config:?}, {schedule}"),
        #[allow(unreachable_patterns)]
        _ => format!("other backend, {schedule}"),
    }
}

fn who_may(config: &AgentConfig, kind: RequestKind) -> String {
    let need = config.policy.effective(kind);
    let mut text = format!("tier {}+", need.min_tier.number());
    if need.min_tier > requirement(kind).min_tier {
        text.push_str(" (raised by policy)");
    }
    if config.policy.authorize(Role::Fleet, kind).is_ok() {
        text.push_str(", fleet");
    }
    text
}

/// Checks the audit log can be appended to. A log whose directory does not
/// exist yet is fine when the directory can be created: the agent creates
/// it at start. Returns a note for the report.
fn audit_writable(path: &Path) -> anyhow::Result<&'static str> {
    use anyhow::Context;
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("audit log {} is not writable", path.display()))?;
        return Ok("");
    }
    // The nearest existing ancestor must be a directory.
    let mut dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut created = false;
    while !dir.exists() {
        created = true;
        dir = dir.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("/"));
    }
    anyhow::ensure!(
        dir.is_dir(),
        "audit log {}: {} is not a directory",
        path.display(),
        dir.display()
    );
    Ok(if created { " (its directory is created at start)" } else { " (created at start)" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_in_path_or_by_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        assert!(find_program("/usr/bin/zenity-that-is-not-here").is_none());
        assert!(find_program("no-such-prompt-program").is_none());
    }

    #[test]
    fn a_missing_log_directory_is_created_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let note = audit_writable(&dir.path().join("var/log/tether/audit.jsonl")).unwrap();
        assert!(note.contains("created at start"), "{note}");
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(audit_writable(&dir.path().join("file/audit.jsonl")).is_err());
    }
}
