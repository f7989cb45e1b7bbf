//! QUIC endpoints and the transport settings both sides agree on.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{
    AckFrequencyConfig, Endpoint, EndpointConfig, IdleTimeout, TokioRuntime, TransportConfig,
    VarInt,
};
use quinn_proto::RandomConnectionIdGenerator;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::TransportError;

/// How often the controller sends a keep-alive on an otherwise silent
/// connection (a QUIC PING, which the agent acknowledges: about 100 bytes
/// on the wire every 5 s, both ways together, and the only cost of an idle
/// session or view). Well under the idle timeout, and short enough to keep
/// NAT bindings on typical home routers (which expire UDP mappings after
/// 30 s or more) alive. The agent sends none of its own: the controller's
/// keep it alive too, and a controller that stops sending is gone.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// Bytes of the connection ids both ends choose, which every packet to
/// them carries: 4 bytes tell an endpoint's connections apart (quinn
/// draws again on a collision; an agent serves a handful of controllers)
/// and save 4 bytes a packet against quinn's default 8: on every screen
/// update down, and on every acknowledgement and input event up. They
/// are routing labels, not secrets: every packet is authenticated.
pub const CID_LEN: usize = 4;

/// A connection with no traffic at all (not even keep-alives) for this long
/// is considered dead. The controller sends keep-alives every 5 s, so this
/// means about three lost in a row: a dropped link, a sleeping laptop, or a
/// killed peer, whose session then ends within seconds, not half a minute.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the agent asks a controller to wait before acknowledging
/// packets that come one at a time (QUIC's ACK frequency extension). At
/// quinn's 25 ms every screen update of a typed character cost its own
/// acknowledgement, one packet up per key; at 200 ms one acknowledgement
/// covers two updates (a second unacknowledged packet is acknowledged at
/// once, as without the extension, so bulk transfers are acknowledged as
/// often as before). The price: the agent notices a lost lone packet
/// (the last of a burst) up to 175 ms later. Only the agent asks: the
/// controller's own timers, and so how long a one-shot command lingers
/// after closing, stay as they were. Needs the patched quinn-proto in
/// `vendor/` (upstream caps the request at max(RTT, 25 ms)).
pub const CONTROLLER_ACK_DELAY: Duration = Duration::from_millis(200);

/// Requests a controller may have in flight on one connection. Each request
/// is a stream; the limit bounds the agent's work per connection.
pub const MAX_CONCURRENT_REQUESTS: u32 = 16;

/// Receive buffer asked for on the UDP socket. The default 208 KiB drops
/// packets on bursts even on loopback (measured: thousands per 200 MB);
/// 4 MiB brought that to zero. The kernel may grant less; that is fine.
pub const UDP_RECV_BUFFER: usize = 4 * 1024 * 1024;

/// Connection attempts waiting for the agent's decision (quinn's default
/// is 65,536, a lot of memory for a flood to fill).
pub const MAX_PENDING_INCOMING: usize = 1024;

/// Early data buffered per waiting attempt, and for all of them.
pub const PENDING_BUFFER: u64 = 16 * 1024;
pub const PENDING_BUFFER_TOTAL: u64 = 4 * 1024 * 1024;

/// Which end of a connection a configuration is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Agent,
    Controller,
}

fn transport_config(side: Side) -> TransportConfig {
    let mut t = TransportConfig::default();
    // 15 s fits in IdleTimeout's VarInt milliseconds by many orders of magnitude.
    t.max_idle_timeout(Some(
        IdleTimeout::try_from(IDLE_TIMEOUT).expect("15 s is a valid idle timeout"),
    ));
    t.keep_alive_interval((side == Side::Controller).then_some(KEEP_ALIVE_INTERVAL));
    t.max_concurrent_bidi_streams(VarInt::from_u32(MAX_CONCURRENT_REQUESTS));
    // Nothing in the protocol uses unidirectional streams yet.
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    if side == Side::Agent {
        let mut ack = AckFrequencyConfig::default();
        ack.max_ack_delay(Some(CONTROLLER_ACK_DELAY));
        t.ack_frequency_config(Some(ack));
    }
    t
}

/// Builds the agent's quinn server config from a rustls config.
///
/// Also used to swap in a new config (for example after the CRL changed)
/// with [`Endpoint::set_server_config`].
pub fn server_config(tls: rustls::ServerConfig) -> Result<quinn::ServerConfig, TransportError> {
    let crypto = QuicServerConfig::try_from(Arc::new(tls))
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(Side::Agent)));
    // Connection attempts quinn holds before the agent decides on them
    // (accept, retry or refuse). The agent decides at once, so these only
    // bound a burst between two turns of its accept loop. Whether an
    // address is validated with a Retry is the agent's choice (it knows
    // its load).
    config.max_incoming(MAX_PENDING_INCOMING);
    config.incoming_buffer_size(PENDING_BUFFER);
    config.incoming_buffer_size_total(PENDING_BUFFER_TOTAL);
    Ok(config)
}

/// Binds the agent's endpoint on `addr`.
pub fn server_endpoint(
    addr: SocketAddr,
    tls: rustls::ServerConfig,
) -> Result<Endpoint, TransportError> {
    let socket = udp_socket(addr)?;
    Endpoint::new(endpoint_config(), Some(server_config(tls)?), socket, Arc::new(TokioRuntime))
        .map_err(|source| TransportError::Bind { addr, source })
}

/// Binds a controller endpoint suited to reaching `remote` (IPv4 or IPv6).
pub fn client_endpoint(
    remote: SocketAddr,
    tls: rustls::ClientConfig,
) -> Result<Endpoint, TransportError> {
    let local: SocketAddr = match remote {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = udp_socket(local)?;
    let mut endpoint = Endpoint::new(endpoint_config(), None, socket, Arc::new(TokioRuntime))
        .map_err(|source| TransportError::Bind { addr: local, source })?;
    let crypto = QuicClientConfig::try_from(Arc::new(tls))
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(Side::Controller)));
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

fn endpoint_config() -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config.cid_generator(|| Box::new(RandomConnectionIdGenerator::new(CID_LEN)));
    config
}

fn udp_socket(addr: SocketAddr) -> Result<std::net::UdpSocket, TransportError> {
    let bind = |source| TransportError::Bind { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(bind)?;
    if addr.is_ipv6() {
        // Accept IPv4-mapped peers too when bound to [::], as most servers do.
        let _ = socket.set_only_v6(false);
    }
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECV_BUFFER) {
        tracing::debug!("could not enlarge the UDP receive buffer: {e}");
    }
    socket.bind(&addr.into()).map_err(bind)?;
    Ok(socket.into())
}
