//! Trouble tickets for Tether's technicians: what a ticket is and how its
//! time frame runs ([`model`]), where tickets are kept ([`store`]: an
//! embedded SQLite file by default, a shared PostgreSQL database for
//! teams, both behind one [`Store`]), and what a team lead reads from them
//! ([`report`], pure computation over ticket summaries, and [`chart`], the
//! trend as a PNG).
//!
//! It knows nothing of agents, connections or certificates: the `tether`
//! binary records what technicians do. Nothing here reads a clock; every
//! change takes its time as an argument, so tests control time.

#![forbid(unsafe_code)]

pub mod chart;
pub mod model;
pub mod report;
pub mod store;

pub use model::{
    Attachment, Category, Deadline, Entry, Event, NewTicket, Priority, Ticket, TicketId,
    TicketSummary, TimeFrames, UnixTime,
};
pub use store::{Import, ListFilter, Location, NotALocation, Refusal, Store, StoreError, is_png};
