//! The one error type of the PKI, worded for the administrator at the prompt.
//!
//! Every message is a single line that names the file or serial involved and,
//! where there is one, the fix. The underlying error (I/O, PEM, rcgen, rustls)
//! is part of that line rather than exposed through `Error::source`, so that
//! a binary printing the chain with `{:#}` does not print it twice.

use std::path::PathBuf;

/// Why a PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file this operation would create is already there. For `init` this
    /// protects the CA; for issuing it protects a certificate in use.
    #[error(
        "{} already exists; refusing to overwrite it (pass --force to replace an agent or \
         technician certificate; a CA is never replaced)",
        .0.display()
    )]
    AlreadyExists(PathBuf),

    /// The directory holds no CA (or no index) yet.
    #[error("no Tether CA in {}: initialise the PKI first", .0.display())]
    NotInitialised(PathBuf),

    /// A file system operation failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being attempted, as a verb ("read", "create", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },

    /// `index.json` exists but cannot be understood.
    #[error("{} is damaged ({detail}); restore it from a backup", path.display())]
    IndexCorrupt {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// An agent or technician name does not follow the naming rules.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// The kind of name: "agent", "technician" or "DNS".
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The organisation name cannot go into the CA certificate.
    #[error("invalid organisation name {name:?}: {reason}")]
    InvalidOrganisation {
        /// The rejected organisation name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The requested validity period is empty, unrepresentable or outlives the CA.
    #[error("invalid validity period: {0}")]
    InvalidValidity(String),

    /// A serial given on the command line is not hexadecimal.
    #[error("{0:?} is not a certificate serial; give it in hex, e.g. 3fa2c4... or 3F:A2:C4:...")]
    InvalidSerial(String),

    /// No certificate in the index has this serial.
    #[error(
        "no certificate with serial {0} in the index; list the certificates to find the serial"
    )]
    UnknownSerial(String),

    /// The certificate is already on the CRL.
    #[error("certificate {serial} was already revoked at {revoked_at}; nothing to do")]
    AlreadyRevoked {
        /// The certificate's serial.
        serial: String,
        /// When it was revoked (RFC 3339).
        revoked_at: String,
    },

    /// Revoking the CA would be meaningless: the CRL it signs cannot revoke itself.
    #[error("serial {0} is the CA certificate, which cannot be revoked; create a new PKI instead")]
    CannotRevokeCa(String),

    /// `ca.key` does not belong to `ca.crt`, so nothing it signs would verify.
    #[error("{} does not match the CA certificate {}; restore the matching pair", key.display(), cert.display())]
    CaKeyMismatch {
        /// The CA key file.
        key: PathBuf,
        /// The CA certificate file.
        cert: PathBuf,
    },

    /// The CA certificate or key on disk cannot be used for signing.
    #[error("cannot load the CA from {}: {detail}", path.display())]
    CaUnusable {
        /// The file that could not be used.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// rcgen failed to build or sign a certificate or CRL.
    #[error("cannot sign the {what}: {error}")]
    Signing {
        /// What was being signed, e.g. "CRL" or "certificate for alice".
        what: String,
        /// rcgen's error.
        error: rcgen::Error,
    },

    /// New serials keep colliding with indexed ones, which only a broken
    /// random source can cause.
    #[error(
        "the system random number generator keeps repeating serials already in the index; check its entropy source"
    )]
    RepeatedSerial,

    /// The operating system's random number generator failed.
    #[error(transparent)]
    Random(#[from] tether_os::random::RandomError),

    /// A PEM file is malformed.
    #[error("cannot parse {}: {detail}", path.display())]
    Pem {
        /// The PEM file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },

    /// A PEM file holds none of the expected items.
    #[error("{} contains no {what}; check the path", path.display())]
    NoPemItems {
        /// The PEM file.
        path: PathBuf,
        /// What was expected: "certificate", "private key" or "CRL".
        what: &'static str,
    },

    /// No CA certificate was passed to a TLS config, so no peer could be trusted.
    #[error("no CA certificate was given; pass the Tether CA certificate (ca.crt)")]
    NoTrustAnchors,

    /// A CA certificate could not be used as a trust anchor.
    #[error("the CA certificate cannot be used as a trust anchor: {0}")]
    InvalidTrustAnchor(rustls::Error),

    /// rustls rejected the certificate, key or protocol settings.
    #[error("invalid TLS configuration (do the certificate and key files belong together?): {0}")]
    Tls(rustls::Error),

    /// The index was updated but `crl.pem` could not be rewritten, so agents
    /// still see the old CRL.
    #[error("{} could not be rewritten ({detail}); the index is up to date, so refresh the CRL once this is fixed", path.display())]
    CrlNotWritten {
        /// The CRL file.
        path: PathBuf,
        /// Why writing failed.
        detail: String,
    },

    /// An enrolment bundle cannot be written, read or used. The detail never
    /// quotes the bundle's text, which holds a private key.
    #[error("bundle {}: {detail}", path.display())]
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// The client-certificate verifier could not be built, usually because of the CRL.
    #[error("cannot build the technician certificate verifier (is the CRL from this CA?): {0}")]
    Verifier(rustls::server::VerifierBuilderError),

    /// The controller's agent-certificate verifier could not be built,
    /// usually because of the CRL.
    #[error("cannot build the agent certificate verifier (is the CRL from this CA?): {0}")]
    AgentVerifier(rustls::client::VerifierBuilderError),
}

impl PkiError {
    /// Wraps an I/O error with the action and path it happened on.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        error: std::io::Error,
    ) -> Self {
        PkiError::Io { action, path: path.into(), error }
    }
}
