//! Typed requests on the user's screen: monitors, a screenshot, input
//! events, and opening a live view stream (which `tether-view` drives).

use std::time::Duration;

use quinn::{RecvStream, SendStream};
use tether_proto::screen::{InputEvent, Monitor, Screenshot, ViewStart};
use tether_proto::{Call, Request, Response, ScreenRequest, ViewRequest};

use crate::error::ClientError;
use crate::session::Session;

/// How long a view may take to start: the agent may be asking the user
/// for consent.
pub const VIEW_START_TIMEOUT: Duration = Duration::from_secs(120);

/// A started view: what the agent announced, and the stream that carries
/// screen messages in and viewer messages out (see
/// `tether_proto::screen`). It lives on its session's connection: keep the
/// [`Session`] until the view has ended.
#[derive(Debug)]
pub struct ViewStream {
    /// The monitor, the control granted and the frame rate in force.
    pub start: ViewStart,
    /// Viewer messages out: acks, heartbeats, input.
    pub send: SendStream,
    /// Screen messages in.
    pub recv: RecvStream,
}

impl Session {
    /// The machine's monitors.
    pub async fn monitors(&self) -> Result<Vec<Monitor>, ClientError> {
        self.ask(
            &Request::Call(Call::Screen(ScreenRequest::Monitors)),
            Duration::ZERO,
            "monitors",
            |r| match r {
                Response::Monitors(list) => Some(list),
                _ => None,
            },
        )
        .await
    }

    /// One screenshot of `monitor` (default: the primary), still encoded
    /// as one screen-codec update; decode it holding the agent to the
    /// monitor it names (`tether_view::stream::decode_for`).
    pub async fn screenshot(&self, monitor: Option<u32>) -> Result<Screenshot, ClientError> {
        self.ask(
            &Request::Call(Call::Screen(ScreenRequest::Screenshot { monitor })),
            Duration::ZERO,
            "screenshot",
            |r| match r {
                Response::Screenshot(shot) => Some(*shot),
                _ => None,
            },
        )
        .await
    }

    /// Applies input `events` on `monitor`, in order; returns how many the
    /// agent applied.
    pub async fn input(
        &self,
        monitor: Option<u32>,
        events: Vec<InputEvent>,
    ) -> Result<u32, ClientError> {
        self.ask(
            &Request::Call(Call::Screen(ScreenRequest::Input { monitor, events })),
            Duration::ZERO,
            "input",
            |r| match r {
                Response::InputDone { events } => Some(events),
                _ => None,
            },
        )
        .await
    }

    /// Opens a live view of `monitor` (with `control`, input too) at most
    /// `max_fps` frames a second, waiting up to [`VIEW_START_TIMEOUT`] (or
    /// the session's timeout, if longer) for the agent to start it.
    pub async fn open_view(
        &self,
        monitor: Option<u32>,
        control: bool,
        max_fps: u32,
    ) -> Result<ViewStream, ClientError> {
        let request = Request::View(ViewRequest { monitor, control, max_fps });
        let kind = request.kind();
        self.check_supported(kind)?;
        let timeout = self.timeout().max(VIEW_START_TIMEOUT);
        let (start, send, recv) = self
            .client()
            .open_view(&request, timeout)
            .await
            .map_err(|e| self.classify(e, Some(kind)))?;
        Ok(ViewStream { start, send, recv })
    }
}
