//! Tether over QUIC.
//!
//! This crate drives `tether-proto` over real sockets: it builds quinn
//! endpoints from rustls configs (made by `tether-pki`), reads and writes
//! length-prefixed frames on QUIC streams with every length checked before
//! anything is allocated, and offers the controller's [`Client`]: connect,
//! say hello, send requests. It decides nothing about who may do what; the
//! agent's accept loop lives in `tether-agent` and the rules in
//! `tether-proto`.
//!
//! # Layout
//! - [`endpoint`]: socket and transport settings (keep-alive, idle timeout,
//!   stream limits) for both sides.
//! - [`framed`]: one frame in or out of a QUIC stream.
//! - [`client`]: the controller's session with one agent.
//! - [`error`]: typed errors with messages a technician can act on.

#![forbid(unsafe_code)]

pub mod client;
pub mod endpoint;
pub mod error;
pub mod framed;

pub use client::Client;
pub use endpoint::{client_endpoint, server_config, server_endpoint};
pub use error::{TransportError, describe_connection_error};
