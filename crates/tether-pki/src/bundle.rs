//! The enrolment bundle: everything one agent needs from the PKI, in one
//! file the admin carries to the workstation.
//!
//! Format: a TOML file (mode 0600, it holds a private key) with
//! `format = 1`, the agent's `name`, and the PEM texts `cert`, `key`, `ca`
//! and `crl`, plus an optional `config`: agent.toml text used when the
//! workstation has no configuration yet. TOML because the agent already
//! parses it, it carries multi-line PEM as plain strings, and an admin can
//! read every part of it except the key with `grep`/`less`.
//!
//! A bundle is checked as a whole before anything is installed
//! ([`AgentBundle::validate`]): the key belongs to the certificate, the
//! certificate chains to the CA for the bundle's name as a server
//! certificate, is valid now and is not on the CRL. The key is never part
//! of a `Debug` rendering or an error message.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use serde::{Deserialize, Serialize};

use crate::error::PkiError;
use crate::files::{self, KEY_MODE, PUBLIC_MODE};
use crate::store::{Issued, Pki};

/// The bundle format this build writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;

/// One agent's certificate, key, CA, CRL and optional configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBundle {
    /// [`BUNDLE_FORMAT`]; a reader refuses other versions.
    pub format: u32,
    /// The agent's name (its certificate's CN and first DNS name).
    pub name: String,
    /// The agent's certificate (PEM).
    pub cert: String,
    /// The agent's private key (PEM). Never printed.
    key: String,
    /// The organisation CA certificate (PEM).
    pub ca: String,
    /// The CA's current revocation list (PEM).
    pub crl: String,
    /// agent.toml text for a workstation that has none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

impl fmt::Debug for AgentBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentBundle")
            .field("format", &self.format)
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .field("config", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

/// Where [`AgentBundle::install`] puts each part.
#[derive(Debug, Clone)]
pub struct InstallPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// `None`: the configuration names no CRL, so it is not installed.
    pub crl: Option<PathBuf>,
}

impl Pki {
    /// Assembles the bundle for an agent issued by this PKI.
    pub fn agent_bundle(
        &self,
        issued: &Issued,
        config: Option<String>,
    ) -> Result<AgentBundle, PkiError> {
        Ok(AgentBundle {
            format: BUNDLE_FORMAT,
            name: issued.entry.name.clone(),
            cert: files::read_text(&issued.cert_path)?,
            key: files::read_text(&issued.key_path)?,
            ca: files::read_text(&self.ca_cert_path())?,
            crl: files::read_text(&self.crl_path())?,
            config,
        })
    }
}

impl AgentBundle {
    /// Writes the bundle to `path` with mode 0600; an existing file is
    /// replaced only with `force`.
    pub fn write(&self, path: &Path, force: bool) -> Result<(), PkiError> {
        let text = toml::to_string(self)
            .map_err(|e| PkiError::Bundle { path: path.to_owned(), detail: e.to_string() })?;
        if force {
            files::write_replace(path, text.as_bytes(), KEY_MODE)
        } else {
            files::write_new(path, text.as_bytes(), KEY_MODE)
        }
    }

    /// Reads and parses a bundle file (not yet validated).
    pub fn read(path: &Path) -> Result<AgentBundle, PkiError> {
        let text = files::read_text(path)?;
        // toml's messages quote the offending line, which may be key text:
        // only its one-line summary goes into the error.
        let bundle: AgentBundle = toml::from_str(&text).map_err(|e| PkiError::Bundle {
            path: path.to_owned(),
            detail: format!("not a Tether agent bundle ({})", e.message()),
        })?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(PkiError::Bundle {
                path: path.to_owned(),
                detail: format!(
                    "bundle format {} is not the format {BUNDLE_FORMAT} this tether-agent reads; \
                     issue it again with the matching tether",
                    bundle.format
                ),
            });
        }
        Ok(bundle)
    }

    /// Checks the parts belong together: the key matches the certificate,
    /// which chains to the CA as a server certificate for `name`, is valid
    /// now and is not revoked by the CRL (itself signed by the CA).
    pub fn validate(&self, path: &Path) -> Result<(), PkiError> {
        let bad = |detail: String| PkiError::Bundle { path: path.to_owned(), detail };
        let chain = pem_all::<CertificateDer<'static>>(&self.cert, "agent certificate", path)?;
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|_| bad("its private key is not a PEM private key".into()))?;
        let ca = pem_all::<CertificateDer<'static>>(&self.ca, "CA certificate", path)?;
        let crls = pem_all::<CertificateRevocationListDer<'static>>(&self.crl, "CRL", path)?;
        // The server config refuses a key that does not match the certificate.
        crate::server_config(chain.clone(), key, &ca, crls.clone())
            .map_err(|e| bad(format!("its parts do not fit together: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in &ca {
            roots.add(cert.clone()).map_err(PkiError::InvalidTrustAnchor)?;
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls)
            .build()
            .map_err(PkiError::AgentVerifier)?;
        let server_name = ServerName::try_from(self.name.clone())
            .map_err(|_| bad(format!("its name {:?} is not a DNS name", self.name)))?;
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], UnixTime::now())
            .map_err(|e| {
                bad(format!("the agent certificate for {} is not usable: {e}", self.name))
            })?;
        Ok(())
    }

    /// Writes each part to its place: the key with mode 0600, the rest
    /// 0644, each replaced atomically so a running agent never reads half a
    /// file. Directories must exist.
    pub fn install(&self, to: &InstallPaths) -> Result<(), PkiError> {
        files::write_replace(&to.cert, self.cert.as_bytes(), PUBLIC_MODE)?;
        files::write_replace(&to.key, self.key.as_bytes(), KEY_MODE)?;
        files::write_replace(&to.ca, self.ca.as_bytes(), PUBLIC_MODE)?;
        if let Some(crl) = &to.crl {
            files::write_replace(crl, self.crl.as_bytes(), PUBLIC_MODE)?;
        }
        Ok(())
    }
}

fn pem_all<T: PemObject>(text: &str, what: &str, path: &Path) -> Result<Vec<T>, PkiError> {
    let items: Vec<T> =
        T::pem_slice_iter(text.as_bytes()).collect::<Result<_, _>>().map_err(|e| {
            PkiError::Bundle { path: path.to_owned(), detail: format!("its {what}: {e}") }
        })?;
    if items.is_empty() {
        return Err(PkiError::Bundle {
            path: path.to_owned(),
            detail: format!("it has no {what}"),
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::assert_mode;

    fn pki_with_agent(dir: &Path, name: &str) -> (Pki, Issued) {
        let pki = Pki::open(dir.join("pki"));
        pki.init("Test", 30).unwrap();
        let issued = pki.issue_agent(name, &[], &[], 10, false).unwrap();
        (pki, issued)
    }

    #[test]
    fn a_bundle_round_trips_with_a_private_mode_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, issued) = pki_with_agent(dir.path(), "ws-1");
        let bundle = pki.agent_bundle(&issued, Some("name = \"ws-1\"\n".into())).unwrap();
        let path = dir.path().join("ws-1.bundle");
        bundle.write(&path, false).unwrap();
        assert_mode(&path, 0o600);
        // No silent overwrite.
        assert!(matches!(bundle.write(&path, false), Err(PkiError::AlreadyExists(_))));
        let read = AgentBundle::read(&path).unwrap();
        assert_eq!(read.name, "ws-1");
        assert_eq!(read.config.as_deref(), Some("name = \"ws-1\"\n"));
        read.validate(&path).unwrap();
        assert!(!format!("{read:?}").contains("PRIVATE KEY"), "{read:?}");
    }

    #[test]
    fn installed_parts_get_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, issued) = pki_with_agent(dir.path(), "ws-2");
        let bundle = pki.agent_bundle(&issued, None).unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let to = InstallPaths {
            cert: etc.join("agent.crt"),
            key: etc.join("agent.key"),
            ca: etc.join("ca.crt"),
            crl: Some(etc.join("crl.pem")),
        };
        bundle.install(&to).unwrap();
        assert_mode(&to.key, 0o600);
        assert_mode(&to.cert, 0o644);
        assert_eq!(std::fs::read_to_string(&to.ca).unwrap(), bundle.ca);
    }

    #[test]
    fn mismatched_or_foreign_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, issued) = pki_with_agent(dir.path(), "ws-3");
        let good = pki.agent_bundle(&issued, None).unwrap();
        let path = Path::new("x.bundle");
        // Another PKI's CA: the certificate does not chain to it.
        let other = tempfile::tempdir().unwrap();
        let (other_pki, other_issued) = pki_with_agent(other.path(), "ws-3");
        let foreign = other_pki.agent_bundle(&other_issued, None).unwrap();
        let mut wrong_ca = good.clone();
        wrong_ca.ca = foreign.ca.clone();
        wrong_ca.crl = foreign.crl.clone();
        assert!(wrong_ca.validate(path).is_err());
        // A key that belongs to another certificate.
        let mut wrong_key = good.clone();
        wrong_key.key = foreign.key.clone();
        let err = wrong_key.validate(path).unwrap_err().to_string();
        assert!(!err.contains("PRIVATE KEY"), "{err}");
        // A revoked agent certificate.
        pki.revoke(&issued.entry.serial).unwrap();
        let revoked = pki.agent_bundle(&issued, None).unwrap();
        let err = revoked.validate(path).unwrap_err().to_string();
        assert!(err.contains("not usable"), "{err}");
    }

    #[test]
    fn other_formats_and_garbage_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        std::fs::write(&path, "format = 2\nname=\"a\"\ncert=\"\"\nkey=\"\"\nca=\"\"\ncrl=\"\"\n")
            .unwrap();
        let err = AgentBundle::read(&path).unwrap_err().to_string();
        assert!(err.contains("format 2"), "{err}");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nabc\n").unwrap();
        let err = AgentBundle::read(&path).unwrap_err().to_string();
        assert!(err.contains("not a Tether agent bundle") && !err.contains("abc"), "{err}");
    }
}
