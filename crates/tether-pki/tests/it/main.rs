//! Integration tests of the public API, in one binary so they link once.
//!
//! `store` covers the PKI directory (init, issue, revoke, CRL, index);
//! `handshake` drives real rustls client and server connections against each
//! other in memory, with certificates from the PKI, and checks who is let in.

mod handshake;
mod store;
mod util;
