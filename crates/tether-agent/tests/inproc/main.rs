//! In-process tests of the agent library, in the style of mini-redis: the
//! real [`tether_agent::Agent`] on `127.0.0.1:0` inside the test's runtime,
//! a real QUIC client, real certificates from a throw-away CA. No agent
//! or controller process is spawned; the spawned-binary tests in `tests/`
//! cover what only they can show (signals, the command line, packaging).

mod harness;

mod admission;
mod consent;
mod fleet;
mod restore;
mod versions;
mod view;
