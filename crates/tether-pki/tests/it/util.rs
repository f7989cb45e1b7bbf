//! Shared fixtures: a fresh PKI in a temporary directory and an in-memory
//! TLS handshake driver.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use tempfile::TempDir;
use tether_pki::{Issued, Pki};

/// The organisation every test PKI is created for.
pub const ORG: &str = "Example Corp";

/// A fresh, initialised PKI for [`ORG`]. The `TempDir` must outlive the `Pki`.
pub fn new_pki() -> (TempDir, Pki) {
    new_pki_for(ORG)
}

/// A fresh, initialised PKI for `organisation`.
pub fn new_pki_for(organisation: &str) -> (TempDir, Pki) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let pki = Pki::open(dir.path().join("pki"));
    pki.init(organisation, tether_pki::DEFAULT_CA_DAYS).expect("init");
    (dir, pki)
}

/// The certificate chain and key of an issued certificate, read back from disk.
pub fn credentials(issued: &Issued) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let chain = tether_pki::load_certs(&issued.cert_path).expect("load certificate");
    let key = tether_pki::load_private_key(&issued.key_path).expect("load key");
    (chain, key)
}

/// The CA certificate of a PKI, as a trust list.
pub fn ca(pki: &Pki) -> Vec<CertificateDer<'static>> {
    tether_pki::load_certs(&pki.ca_cert_path()).expect("load CA")
}

/// Which side of the handshake gave up, and why.
#[derive(Debug)]
pub enum Failure {
    Client(rustls::Error),
    Server(rustls::Error),
}

/// More round trips than any TLS 1.3 handshake needs; reaching it means the
/// driver is stuck, not that the handshake is slow.
const MAX_ROUNDS: usize = 10;

/// Runs a full handshake between the two configs through in-memory buffers,
/// the client dialling `server_name`. Returns the server side on success, so
/// tests can look at what it saw.
pub fn handshake(
    client: ClientConfig,
    server: ServerConfig,
    server_name: &str,
) -> Result<ServerConnection, Failure> {
    let name = ServerName::try_from(server_name.to_owned()).expect("valid server name");
    let mut client =
        Connection::Client(ClientConnection::new(Arc::new(client), name).expect("client"));
    let mut server = Connection::Server(ServerConnection::new(Arc::new(server)).expect("server"));
    for _ in 0..MAX_ROUNDS {
        transfer(&mut client, &mut server).map_err(Failure::Server)?;
        transfer(&mut server, &mut client).map_err(Failure::Client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return match server {
                Connection::Server(server) => Ok(server),
                Connection::Client(_) => unreachable!("the server side is a server"),
            };
        }
    }
    panic!("handshake did not finish within {MAX_ROUNDS} rounds");
}

/// Moves everything `from` wants to send into `to` and lets `to` process it.
fn transfer(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("writing into a Vec cannot fail");
    }
    let mut rest = wire.as_slice();
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("handshake records fit the receive buffer");
    }
    to.process_new_packets().map(|_| ())
}
