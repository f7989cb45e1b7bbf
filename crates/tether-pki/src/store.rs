//! The PKI directory: where each file lives (see [`Pki`]), and the index of
//! everything the CA has signed.
//!
//! `index.json` is the source of truth for revocation: `crl.pem` is always
//! regenerated from it, never edited.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tether_proto::Role;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::PkiError;
use crate::files;

/// Version of the `index.json` layout, bumped on incompatible changes.
const INDEX_FORMAT: u32 = 1;

/// A PKI directory. Cheap to create: nothing is read until an operation needs it.
///
/// Layout under the root (directories are created 0700):
///
/// ```text
/// ca.crt  ca.key (0600)  crl.pem  index.json  .lock
/// agents/NAME.crt  agents/NAME.key (0600)
/// techs/NAME.crt   techs/NAME.key (0600)
/// ```
///
/// Operations that change the directory hold an exclusive lock on `.lock`,
/// so two admins (or an admin and the CRL cron job) cannot lose each
/// other's index updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    root: PathBuf,
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    /// The organisation's CA, which signs everything else.
    Ca,
    /// An agent's server certificate.
    Agent,
    /// A technician's (or the fleet automation's) client certificate.
    Tech,
}

/// One certificate the CA has signed: a row of `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Lowercase hex, no separators, no leading zero bytes; the same form as
    /// [`crate::PeerIdentity::serial`].
    pub serial: String,
    /// What the certificate is for.
    pub kind: CertKind,
    /// The subject common name: organisation CA name, agent name or technician name.
    pub name: String,
    /// The role of a technician certificate, in its text form (`"tier2"`).
    #[serde(default, with = "role_text")]
    pub role: Option<Role>,
    /// Start of validity, RFC 3339 in UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 in UTC.
    pub not_after: String,
    /// When the certificate was revoked, RFC 3339 in UTC.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// A certificate just written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Its row in the index.
    pub entry: IndexEntry,
    /// Where the certificate (PEM) was written.
    pub cert_path: PathBuf,
    /// Where the private key (PEM, mode 0600) was written.
    pub key_path: PathBuf,
}

/// The whole of `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Index {
    #[serde(default = "default_format")]
    pub(crate) format: u32,
    /// Number of the last CRL written; the next one gets this plus one, so
    /// relying parties can tell a newer CRL from an older one.
    pub(crate) crl_number: u64,
    pub(crate) entries: Vec<IndexEntry>,
}

fn default_format() -> u32 {
    INDEX_FORMAT
}

impl Index {
    pub(crate) fn new() -> Index {
        Index { format: INDEX_FORMAT, crl_number: 0, entries: Vec::new() }
    }
}

impl Pki {
    /// Points at a PKI directory, which need not exist yet.
    pub fn open(root: impl Into<PathBuf>) -> Pki {
        Pki { root: root.into() }
    }

    /// The PKI directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The CA certificate, which agents and controllers are configured to trust.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.root.join("ca.crt")
    }

    /// The current CRL, which agents load to refuse revoked technicians.
    pub fn crl_path(&self) -> PathBuf {
        self.root.join("crl.pem")
    }

    pub(crate) fn ca_key_path(&self) -> PathBuf {
        self.root.join("ca.key")
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    pub(crate) fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }

    pub(crate) fn techs_dir(&self) -> PathBuf {
        self.root.join("techs")
    }

    /// Whether `init` has completed here: CA certificate, key and index all exist.
    pub fn is_initialised(&self) -> bool {
        self.ca_cert_path().is_file() && self.ca_key_path().is_file() && self.index_path().is_file()
    }

    /// All certificates the CA has signed, in the order they were issued, the
    /// CA first.
    pub fn list(&self) -> Result<Vec<IndexEntry>, PkiError> {
        Ok(self.load_index()?.entries)
    }

    /// Reads `index.json`. No lock is needed to read: writers replace the
    /// file atomically.
    pub(crate) fn load_index(&self) -> Result<Index, PkiError> {
        let path = self.index_path();
        if !path.exists() {
            return Err(PkiError::NotInitialised(self.root.clone()));
        }
        let text = files::read_text(&path)?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| PkiError::IndexCorrupt { path: path.clone(), detail: e.to_string() })?;
        if index.format != INDEX_FORMAT {
            return Err(PkiError::IndexCorrupt {
                path,
                detail: format!(
                    "format {} is not the supported format {INDEX_FORMAT}; use the matching tether version",
                    index.format
                ),
            });
        }
        Ok(index)
    }

    /// Writes `index.json` atomically. The caller holds the directory lock.
    pub(crate) fn save_index(&self, index: &Index) -> Result<(), PkiError> {
        let path = self.index_path();
        let mut text = serde_json::to_string_pretty(index)
            .map_err(|e| PkiError::IndexCorrupt { path: path.clone(), detail: e.to_string() })?;
        text.push('\n');
        files::write_replace(&path, text.as_bytes(), files::PUBLIC_MODE)
    }

    /// Fails unless `init` has run, naming the missing piece.
    pub(crate) fn require_initialised(&self) -> Result<(), PkiError> {
        if self.is_initialised() {
            Ok(())
        } else {
            Err(PkiError::NotInitialised(self.root.clone()))
        }
    }
}

/// Formats a time for the index: RFC 3339, UTC, whole seconds (X.509 has no
/// finer resolution, so the index shows exactly what the certificate says).
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let t = whole_seconds(t);
    // RFC 3339 formatting fails only for years outside 0..=9999 or offsets
    // with seconds; callers only pass UTC times checked to fit X.509, so the
    // fallback is never shown, but an odd string beats a panic.
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Parses a time written by [`format_time`].
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Drops sub-second precision.
pub(crate) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t - time::Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// (De)serialises `Option<Role>` as the role's certificate text form, so that
/// `index.json` and `--json` output read `"tier2"` rather than `{"Tier":"Two"}`.
mod role_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use tether_proto::Role;

    pub(super) fn serialize<S: Serializer>(role: &Option<Role>, s: S) -> Result<S::Ok, S::Error> {
        match role {
            Some(role) => s.serialize_some(role.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Role>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| t.parse::<Role>().map_err(D::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use tether_proto::Tier;

    use super::*;

    #[test]
    fn entry_json_uses_text_forms() {
        let entry = IndexEntry {
            serial: "0aff".into(),
            kind: CertKind::Tech,
            name: "alice".into(),
            role: Some(Role::Tier(Tier::Two)),
            not_before: "2026-01-01T00:00:00Z".into(),
            not_after: "2026-01-08T00:00:00Z".into(),
            revoked_at: None,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["kind"], "tech");
        assert_eq!(json["role"], "tier2");
        let back: IndexEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn unknown_role_in_index_is_an_error() {
        let json = r#"{"serial":"01","kind":"tech","name":"a","role":"admin",
                       "not_before":"x","not_after":"y","revoked_at":null}"#;
        assert!(serde_json::from_str::<IndexEntry>(json).is_err());
    }

    #[test]
    fn times_are_whole_seconds_utc() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let text = format_time(t);
        assert_eq!(text, "2023-11-14T22:13:20Z");
        assert_eq!(parse_time(&text).unwrap().unix_timestamp(), 1_700_000_000);
    }
}
