//! Capture errors, each worded as what failed and what to do about it.
//!
//! The agent shows these to a technician and decides from the variant what
//! to do: [`CaptureError::MonitorGone`] means "list the monitors again",
//! [`CaptureError::Disconnected`] means "the session went away, re-open
//! later", everything else means "this capturer is unusable".

use tether_screen_codec::FrameError;
use x11rb::errors::{ConnectionError, ReplyError, ReplyOrIdError};

#[derive(thiserror::Error, Debug)]
pub enum CaptureError {
    #[error(
        "cannot connect to X display {display:?}: {reason}; check DISPLAY/XAUTHORITY and that the session is running"
    )]
    Connect { display: String, reason: String },

    #[error(
        "lost the connection to the X server ({0}); the session probably ended, open the capturer again"
    )]
    Disconnected(String),

    #[error("the X server lacks the {0} extension, which this capture backend requires")]
    MissingExtension(&'static str),

    #[error("X11 request failed: {0}")]
    Protocol(String),

    #[error(
        "unsupported screen format: {0}; capture needs a 24/32-bit little-endian BGRX TrueColor root"
    )]
    UnsupportedFormat(String),

    #[error(
        "monitor {index} no longer fits the screen (resolution or layout changed); list the monitors again"
    )]
    MonitorGone { index: u32 },

    #[error("captured image cannot become a frame: {0}")]
    Frame(#[from] FrameError),

    #[error("capture I/O failed: {0}")]
    Io(#[from] std::io::Error),

    #[error("capture backend failed: {0}")]
    Backend(String),

    #[error(
        "this agent was built without the {0} capture backend; rebuild with `--features {0}` or use the x11 backend"
    )]
    NotBuilt(&'static str),

    #[error("unknown capture backend {0:?}; expected \"x11\" or \"scrap\"")]
    UnknownBackend(String),
}

// The X11 request helpers below are used by the Linux backends only.
impl CaptureError {
    /// A failed request, labelled with what we were doing.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn request(what: &str, err: impl Into<RequestError>) -> CaptureError {
        match err.into() {
            RequestError::Connection(e) => CaptureError::Disconnected(format!("{what}: {e}")),
            RequestError::X11(e) => CaptureError::Protocol(format!("{what}: {e}")),
        }
    }
}

/// A request's failure, before it is labelled.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) enum RequestError {
    /// The connection broke (or the request could not be sent).
    Connection(String),
    /// The server answered with an X error.
    X11(String),
}

impl From<ConnectionError> for RequestError {
    fn from(e: ConnectionError) -> RequestError {
        RequestError::Connection(e.to_string())
    }
}

impl From<ReplyError> for RequestError {
    fn from(e: ReplyError) -> RequestError {
        match e {
            ReplyError::ConnectionError(e) => e.into(),
            ReplyError::X11Error(e) => RequestError::X11(format!("{:?} error", e.error_kind)),
        }
    }
}

impl From<ReplyOrIdError> for RequestError {
    fn from(e: ReplyOrIdError) -> RequestError {
        match e {
            ReplyOrIdError::ConnectionError(e) => e.into(),
            ReplyOrIdError::X11Error(e) => RequestError::X11(format!("{:?} error", e.error_kind)),
            ReplyOrIdError::IdsExhausted => RequestError::X11("X resource IDs exhausted".into()),
        }
    }
}

/// Waits for a request's reply, labelling any failure with `what`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn reply<C, R>(
    what: &str,
    cookie: Result<x11rb::cookie::Cookie<'_, C, R>, ConnectionError>,
) -> Result<R, CaptureError>
where
    C: x11rb::connection::RequestConnection + ?Sized,
    R: x11rb::x11_utils::TryParse,
{
    cookie
        .map_err(|e| CaptureError::request(what, e))?
        .reply()
        .map_err(|e| CaptureError::request(what, e))
}

/// Sends a void request and waits for the server to accept it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn check<C>(
    what: &str,
    cookie: Result<x11rb::cookie::VoidCookie<'_, C>, ConnectionError>,
) -> Result<(), CaptureError>
where
    C: x11rb::connection::RequestConnection + ?Sized,
{
    cookie
        .map_err(|e| CaptureError::request(what, e))?
        .check()
        .map_err(|e| CaptureError::request(what, e))
}
