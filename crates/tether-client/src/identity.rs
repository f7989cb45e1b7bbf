//! The technician's identity: certificate, key, CA and revocation list, and
//! the TLS client configuration made from them.
//!
//! Files in the config directory ([`default_config_dir`]):
//! - `tech.crt`, `tech.key`: the technician's certificate and key;
//! - `ca.crt`: the organisation CA that agent certificates chain to;
//! - `crl.pem`: the CA's revocation list, copied from the admin's `pki/`
//!   like `ca.crt` and refreshed whenever the admin re-issues it. Agents on
//!   it are refused. Optional: without it the controller works as before
//!   but cannot tell a revoked (stolen) agent certificate from a good one;
//! - `hosts.toml`: aliases, like ssh's config (see [`crate::hosts`]).

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateRevocationListDer;

use crate::error::ClientError;

/// The default config directory: `$TETHER_CONFIG_DIR` is the caller's
/// business; this is `$XDG_CONFIG_HOME/tether`, else `~/.config/tether`
/// (on Windows `%APPDATA%\tether`), else `.tether`.
pub fn default_config_dir() -> PathBuf {
    match tether_os::dirs::config_home() {
        Some(base) => base.join("tether"),
        None => PathBuf::from(".tether"),
    }
}

/// The files that make up a technician's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFiles {
    /// The technician's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The organisation CA that agent certificates must chain to.
    pub ca: PathBuf,
    /// Where the revocation list comes from.
    pub crl: Crl,
}

/// Where the revocation list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crl {
    /// Named explicitly: it must exist.
    Required(PathBuf),
    /// The config directory's `crl.pem`, used when present.
    IfPresent(PathBuf),
}

impl IdentityFiles {
    /// The identity in config directory `dir`: `tech.crt`, `tech.key`,
    /// `ca.crt` and, when present, `crl.pem`.
    ///
    /// ```
    /// use tether_client::identity::{Crl, IdentityFiles};
    ///
    /// let files = IdentityFiles::in_dir("/etc/tether".as_ref());
    /// assert_eq!(files.cert, std::path::Path::new("/etc/tether/tech.crt"));
    /// assert_eq!(files.crl, Crl::IfPresent("/etc/tether/crl.pem".into()));
    /// ```
    pub fn in_dir(dir: &Path) -> Self {
        Self::resolve(dir, None, None, None, None)
    }

    /// Explicit paths win; the rest come from the config directory `dir`.
    pub fn resolve(
        dir: &Path,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
        crl: Option<PathBuf>,
    ) -> Self {
        IdentityFiles {
            cert: cert.unwrap_or_else(|| dir.join("tech.crt")),
            key: key.unwrap_or_else(|| dir.join("tech.key")),
            ca: ca.unwrap_or_else(|| dir.join("ca.crt")),
            crl: crl.map_or_else(|| Crl::IfPresent(dir.join("crl.pem")), Crl::Required),
        }
    }

    /// The CRLs to check agents against: none when no file is installed.
    fn crls(&self) -> Result<Vec<CertificateRevocationListDer<'static>>, ClientError> {
        let path = match &self.crl {
            Crl::Required(path) if !path.exists() => {
                return Err(ClientError::CrlMissing { path: path.clone() });
            }
            Crl::IfPresent(path) if !path.exists() => {
                tracing::debug!(
                    "no CRL at {}: revoked agent certificates cannot be recognised",
                    path.display()
                );
                return Ok(Vec::new());
            }
            Crl::Required(path) | Crl::IfPresent(path) => path,
        };
        tether_pki::load_crls(path)
            .map_err(|source| ClientError::Crl { path: path.clone(), source })
    }

    /// Builds the TLS client config, saying which file is missing.
    pub fn client_tls(&self) -> Result<rustls::ClientConfig, ClientError> {
        for (what, path) in
            [("certificate", &self.cert), ("key", &self.key), ("CA certificate", &self.ca)]
        {
            if !path.exists() {
                return Err(ClientError::IdentityFileMissing { what, path: path.clone() });
            }
        }
        let chain = tether_pki::load_certs(&self.cert)?;
        let key = tether_pki::load_private_key(&self.key)?;
        let ca = tether_pki::load_certs(&self.ca)?;
        Ok(tether_pki::client_config(chain, key, &ca, self.crls()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crl_is_optional_in_the_config_directory_but_not_when_named() {
        let dir = tempfile::tempdir().unwrap();
        let implicit = IdentityFiles::in_dir(dir.path());
        assert_eq!(implicit.crl, Crl::IfPresent(dir.path().join("crl.pem")));
        assert!(implicit.crls().unwrap().is_empty());
        let named = dir.path().join("gone.pem");
        let explicit = IdentityFiles::resolve(dir.path(), None, None, None, Some(named));
        let err = explicit.crls().unwrap_err();
        assert!(matches!(err, ClientError::CrlMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("gone.pem"), "{err}");
        std::fs::write(dir.path().join("crl.pem"), "not a CRL").unwrap();
        let err = implicit.crls().unwrap_err();
        assert!(err.to_string().contains("cannot use the CRL"), "{err}");
        assert!(err.is_local());
    }

    #[test]
    fn a_missing_identity_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = IdentityFiles::in_dir(dir.path()).client_tls().unwrap_err();
        let ClientError::IdentityFileMissing { what, path } = &err else { panic!("{err:?}") };
        assert_eq!((*what, path.as_path()), ("certificate", dir.path().join("tech.crt").as_path()));
    }
}
