//! The Tether wire protocol, with no I/O.
//!
//! This crate is the contract between `tether-agent` and the `tether`
//! controller, in the way `quinn-proto` sits under `quinn`: it holds the
//! message types, the length-prefixed framing with its size limits, the
//! version handshake, the permission table and the per-connection session
//! state machine. It opens no socket, spawns no task and reads no clock; the
//! caller passes bytes (and, where needed, times) in and gets bytes and
//! decisions out. That makes every rule here testable without a network.
//!
//! # Layout
//! - [`codec`]: frames (`u32` little-endian length + bincode payload) and the
//!   limits every decode is held to.
//! - [`handshake`]: the first exchange on a connection, which fails clearly
//!   when the two sides speak different protocol versions.
//! - [`message`]: requests and responses.
//! - [`system`], [`net`], [`doctor`]: the data diagnostics carry;
//!   [`fleet`]: the cheap facts a fleet health check judges.
//! - [`restore`]: restore points as technicians see them.
//! - [`screen`]: monitors, screenshots, the view stream and input events.
//! - [`role`]: technician tiers and roles as carried in certificates.
//! - [`permission`]: the one table mapping each request kind to the role it
//!   needs, and the agent policy that may only tighten it.
//! - [`session`]: the agent's and the controller's view of one connection.
//! - [`text`]: the one escaping function for peer text shown to people.
//!
//! # What this crate is not
//! It knows nothing about certificates (see `tether-pki`), QUIC streams (see
//! `tether-transport`) or how the agent gathers facts (see `tether-diag`).

#![forbid(unsafe_code)]

pub mod close;
pub mod codec;
pub mod doctor;
pub mod fleet;
pub mod handshake;
pub mod kind;
pub mod message;
pub mod net;
pub mod permission;
pub mod request;
pub mod restore;
pub mod role;
pub mod screen;
pub mod session;
pub mod system;
pub mod text;

#[doc(hidden)]
pub mod fuzzing;

pub use codec::FrameError;
pub use handshake::{ALPN, PROTOCOL_VERSION};
pub use kind::RequestKind;
pub use message::{ErrorKind, ErrorReply, Response};
pub use permission::{Denial, Policy};
pub use request::{Call, Request, RestoreRequest, ScreenRequest, Throughput, ViewRequest};
pub use role::{Role, Tier};
