//! Application close codes: why one side closed a connection.
//!
//! Carried in QUIC's CONNECTION_CLOSE frame so the other side can tell the
//! user what happened instead of "connection lost".

/// The conversation is over; nothing went wrong.
pub const NORMAL: u32 = 0;
/// The peer sent a frame that is oversized, malformed or out of order.
pub const PROTOCOL_VIOLATION: u32 = 1;
/// The agent refused the hello (see the reason text).
pub const HELLO_REFUSED: u32 = 2;
/// The two sides speak different protocol versions.
pub const VERSION_MISMATCH: u32 = 3;
/// The client certificate carries no usable role or name.
pub const UNAUTHORIZED: u32 = 4;
/// The agent is shutting down.
pub const SHUTTING_DOWN: u32 = 5;
/// The agent already serves as many sessions as it allows.
pub const BUSY: u32 = 6;
/// No hello arrived in time.
pub const HELLO_TIMEOUT: u32 = 7;
/// The machine's administrator ended the session locally.
pub const ENDED_BY_ADMIN: u32 = 8;
/// The session sent no request for the agent's idle limit.
pub const IDLE: u32 = 9;

/// A short explanation of a close code, for messages to the user.
pub fn describe(code: u64) -> &'static str {
    match code {
        0 => "the session ended",
        1 => "protocol violation (an oversized, malformed or unexpected message)",
        2 => "the agent refused the session",
        3 => "protocol version mismatch",
        4 => "the technician certificate carries no valid Tether role",
        5 => "the agent is shutting down",
        6 => "the agent is busy (too many sessions); try again shortly",
        7 => "no hello was received in time",
        8 => "the machine's administrator ended the session",
        9 => "the session was idle too long and the agent ended it",
        _ => "unknown reason",
    }
}
