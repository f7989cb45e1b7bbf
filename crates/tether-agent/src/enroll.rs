//! `tether-agent enroll BUNDLE`: installs the certificate, key, CA and CRL
//! from `tether pki issue-agent --bundle` where the configuration expects
//! them, and checks the result as `check-config` does.
//!
//! Order matters: the bundle is validated on its own first (key matches
//! certificate, chains to the CA, not revoked), so a wrong bundle changes
//! nothing. The configuration decides where the parts go — its `[tls]`
//! paths — so an admin's own layout is respected. Only its top-level
//! `name` is set to the bundle's, because a name the certificate does not
//! carry makes every technician's connection fail; every other line and
//! comment is kept. A workstation without a configuration gets the
//! bundle's, or the packaged default.

use std::path::{Path, PathBuf};

use tether_pki::{AgentBundle, InstallPaths, PkiError};

use crate::check::{self, Report};
use crate::config::{AgentConfig, ConfigError, DEFAULT_AUDIT_PATH};

/// The configuration written when neither the machine nor the bundle has
/// one, as packaged (its audit path is the Unix one: see [`default_config`]).
pub const DEFAULT_CONFIG: &str = include_str!("../../../packaging/agent.toml");

/// The line of [`DEFAULT_CONFIG`] naming the audit log.
const PACKAGED_AUDIT_LINE: &str = "path = \"/var/log/tether/audit.jsonl\"";

/// [`DEFAULT_CONFIG`] with this platform's audit path (on Windows
/// `C:\ProgramData\Tether\audit\audit.jsonl`, not `C:\var\log\…`).
pub fn default_config() -> String {
    DEFAULT_CONFIG.replacen(PACKAGED_AUDIT_LINE, &format!("path = '{DEFAULT_AUDIT_PATH}'"), 1)
}

/// Why enrolment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Bundle(#[from] PkiError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The parts are installed but the agent would not start.
    #[error("installed, but check-config fails: {0:#}")]
    Check(anyhow::Error),
}

/// What enrolment did.
#[derive(Debug)]
pub struct Enrolled {
    pub name: String,
    pub config_path: PathBuf,
    /// What happened to the configuration file, for the admin.
    pub config_note: &'static str,
    pub installed: InstallPaths,
    pub report: Report,
}

/// Enrols this machine with the bundle at `bundle_path`, configured by
/// `config_path` (created if missing).
pub fn enroll(bundle_path: &Path, config_path: &Path) -> Result<Enrolled, EnrollError> {
    let bundle = AgentBundle::read(bundle_path)?;
    bundle.validate(bundle_path)?;
    let config_note = write_config(&bundle, config_path)?;
    let config = AgentConfig::load(config_path)?;
    let installed = InstallPaths {
        cert: config.cert.clone(),
        key: config.key.clone(),
        ca: config.ca.clone(),
        crl: config.crl.clone(),
    };
    for path in [&installed.cert, &installed.key, &installed.ca].into_iter().chain(&installed.crl) {
        if let Some(dir) = path.parent() {
            create_dir(dir)?;
        }
    }
    bundle.install(&installed)?;
    let report = check::check(&config).map_err(EnrollError::Check)?;
    Ok(Enrolled {
        name: bundle.name,
        config_path: config_path.to_owned(),
        config_note,
        installed,
        report,
    })
}

/// Creates or updates the configuration so its `name` is the bundle's.
fn write_config(bundle: &AgentBundle, path: &Path) -> Result<&'static str, EnrollError> {
    let (text, note) = match std::fs::read_to_string(path) {
        Ok(text) => {
            let named = with_name(&text, &bundle.name);
            if named == text {
                return Ok("kept as it was");
            }
            (named, "kept, name set to the certificate's")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (base, note) = match &bundle.config {
                Some(text) => (text.clone(), "written from the bundle"),
                None => (default_config(), "written from the packaged default"),
            };
            (with_name(&base, &bundle.name), note)
        }
        Err(source) => {
            return Err(EnrollError::Io { action: "read", path: path.to_owned(), source });
        }
    };
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    // Replace whole: the agent may read it at any moment (SIGHUP, restart).
    // The temporary file has a random name and must be new, made private
    // at creation: a file someone planted under a guessable name (theirs,
    // with their ACL) never becomes the configuration.
    let tmp = path.with_extension(format!("toml.enroll-{}", tether_os::random::unique_hex_id()));
    let io = |action, source| EnrollError::Io { action, path: path.to_owned(), source };
    let written = write_new(&tmp, text.as_bytes()).map_err(|e| io("write", e)).and_then(|()| {
        // An admin who made the file private keeps it private.
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())
                .map_err(|e| io("set the mode of", e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| io("replace", e))
    });
    if written.is_err() {
        // Best effort: it may not even exist.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    Ok(note)
}

/// `contents` in a new file at `path`, private from its creation.
fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = tether_os::files::Create::new(0o600).must_be_new().open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates the directories for the configuration and the TLS files. On
/// Windows (`C:\ProgramData\Tether`, which any user may create first)
/// they are made private, and an existing one others own or may write is
/// refused; on Unix as `mkdir -p` (under root-only `/etc`).
fn create_dir(dir: &Path) -> Result<(), EnrollError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    #[cfg(windows)]
    let made = tether_os::files::create_private_dir_all(dir);
    #[cfg(not(windows))]
    let made = std::fs::create_dir_all(dir);
    made.map_err(|source| EnrollError::Io {
        action: "create directory",
        path: dir.to_owned(),
        source,
    })
}

/// `text` with its top-level `name = …` set to `name`: the existing line
/// replaced in place, or one added at the top (top-level keys must precede
/// the first table). Agent names are DNS names, so quoting needs no escapes.
fn with_name(text: &str, name: &str) -> String {
    let wanted = format!("name = \"{name}\"");
    let mut out = Vec::new();
    let mut found = false;
    let mut in_table = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        in_table |= trimmed.starts_with('[');
        let is_name = !in_table
            && trimmed.strip_prefix("name").is_some_and(|rest| rest.trim_start().starts_with('='));
        if is_name && !found {
            found = true;
            out.push(wanted.clone());
        } else {
            out.push(line.to_owned());
        }
    }
    if !found {
        out.insert(0, wanted);
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_line_is_replaced_or_added_and_nothing_else_changes() {
        let text =
            "# comment\nname = \"old\"   # why\nlisten = \"0.0.0.0:7433\"\n[tls]\nname = \"x\"\n";
        let out = with_name(text, "ws-9");
        assert_eq!(
            out,
            "# comment\nname = \"ws-9\"\nlisten = \"0.0.0.0:7433\"\n[tls]\nname = \"x\"\n"
        );
        assert_eq!(with_name(&out, "ws-9"), out);
        let added = with_name("listen = \"0.0.0.0:1\"\n[audit]\npath = \"a\"\n", "ws-9");
        assert!(added.starts_with("name = \"ws-9\"\nlisten"), "{added}");
        // `names = …` is another key.
        assert!(with_name("names = 1\n", "a").starts_with("name = \"a\"\nnames = 1"));
    }

    /// A PKI with agent `name`'s bundle at `dir/NAME.bundle`, whose config
    /// keeps the audit log inside `dir`.
    fn bundle(dir: &Path, name: &str) -> PathBuf {
        let pki = tether_pki::Pki::open(dir.join("pki"));
        if !pki.is_initialised() {
            pki.init("Test", 30).unwrap();
        }
        let issued = pki.issue_agent(name, &[], &[], 10, true).unwrap();
        let config = format!(
            "name = \"placeholder\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"agent.crt\"\n\
             key = \"agent.key\"\nca = \"ca.crt\"\ncrl = \"crl.pem\"\n[audit]\npath = \"{}\"\n",
            dir.join("log/audit.jsonl").display()
        );
        let path = dir.join(format!("{name}.bundle"));
        pki.agent_bundle(&issued, Some(config)).unwrap().write(&path, true).unwrap();
        path
    }

    #[test]
    fn enrolment_installs_names_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = bundle(dir.path(), "ws-5");
        let config = dir.path().join("etc/agent.toml");
        let done = enroll(&path, &config).unwrap();
        assert_eq!(done.config_note, "written from the bundle");
        let mode = |p: &Path| tether_os::files::mode(&std::fs::metadata(p).unwrap());
        if let Some(mode) = mode(&dir.path().join("etc/agent.key")) {
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(dir.path().join("etc/crl.pem").exists());
        assert_eq!(AgentConfig::load(&config).unwrap().name, "ws-5");
        assert!(done.report.warnings.iter().all(|w| !w.contains("not in the agent's certificate")));
        // Again with another agent's bundle: the admin's edits stay, the name follows.
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("[limits]\nmax_sessions = 3\n");
        std::fs::write(&config, &text).unwrap();
        tether_os::files::set_mode(&config, 0o600).unwrap();
        let again = enroll(&bundle(dir.path(), "ws-6"), &config).unwrap();
        assert_eq!(again.config_note, "kept, name set to the certificate's");
        let config = AgentConfig::load(&config).unwrap();
        assert_eq!((config.name.as_str(), config.limits.max_sessions), ("ws-6", 3));
        if let Some(mode) = mode(&config.source) {
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_bundle_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = bundle(dir.path(), "ws-7");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text = text.replacen("BEGIN CERTIFICATE-----\n", "BEGIN CERTIFICATE-----\nAAAA", 1);
        std::fs::write(&path, text).unwrap();
        let config = dir.path().join("etc/agent.toml");
        assert!(enroll(&path, &config).is_err());
        assert!(!dir.path().join("etc").exists());
    }

    #[test]
    fn the_packaged_default_parses_once_named() {
        let text = with_name(&default_config(), "ws-1");
        let config = AgentConfig::parse(&text, Path::new("/etc/tether/agent.toml")).unwrap();
        assert_eq!(config.name, "ws-1");
        assert_eq!(config.key, Path::new("/etc/tether/agent.key"));
        // The platform's audit path, not the packaged Unix one (on
        // Windows that would be C:\var\log\..., open to every user).
        assert!(DEFAULT_CONFIG.contains(PACKAGED_AUDIT_LINE));
        assert_eq!(config.audit_path, Path::new(DEFAULT_AUDIT_PATH));
    }

    /// A file planted where the temporary configuration used to go (a
    /// fixed name) is neither used nor needed: the temporary name is
    /// random and created new, and nothing is left behind.
    #[test]
    fn a_planted_temporary_file_does_not_become_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let planted = etc.join("agent.toml.enroll-tmp");
        std::fs::write(&planted, b"planted").unwrap();
        let config = etc.join("agent.toml");
        enroll(&bundle(dir.path(), "ws-8"), &config).unwrap();
        assert_eq!(std::fs::read(&planted).unwrap(), b"planted");
        assert_eq!(AgentConfig::load(&config).unwrap().name, "ws-8");
        let mut left: Vec<_> = std::fs::read_dir(&etc)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("enroll"))
            .collect();
        left.sort();
        assert_eq!(left, ["agent.toml.enroll-tmp"], "only the planted file");
        if let Some(mode) = tether_os::files::mode(&std::fs::metadata(&config).unwrap()) {
            assert_eq!(mode & 0o077, 0, "a new configuration is private");
        }
    }
}
