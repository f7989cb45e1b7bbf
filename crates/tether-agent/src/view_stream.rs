//! A view request from consent to its end record.
//!
//! Unlike other requests, a view outlives its reply: the agent audits the
//! grant, answers `Viewing`, streams until the viewer goes, and then
//! audits the end with what was sent and what input arrived (counts, never
//! the typed text).

use std::sync::Arc;
use std::time::Instant;

use quinn::{RecvStream, SendStream, VarInt};
use tether_proto::codec::MAX_RESPONSE_FRAME;
use tether_proto::screen::ViewStart;
use tether_proto::session::Admitted;
use tether_proto::{ErrorReply, Request, Response, ViewRequest};
use tether_transport::framed;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::admission::ViewSlot;
use crate::audit::Who;
use crate::consent::{self, Asker, Capability};
use crate::screen::{ControlGuard, ScreenSettings, to_wire};
use crate::state::Shared;
use crate::view::{self, View};

/// One admitted view request and its stream.
pub(crate) struct ViewStream<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) who: &'a Who,
    pub(crate) asker: Asker,
    pub(crate) send: SendStream,
    pub(crate) recv: RecvStream,
}

impl<'a> ViewStream<'a> {
    pub(crate) async fn serve(
        mut self,
        admitted: Admitted<'_, ViewRequest>,
        stop: watch::Receiver<bool>,
    ) {
        let ViewRequest { monitor, control, max_fps } = *admitted.request();
        let request = Request::View(*admitted.request());
        let kind = request.kind().as_str();
        let shared = self.shared;
        let opened = self.open(monitor, control, max_fps).await;
        let (view, start, detail, _control, _slot) = match opened {
            Ok(opened) => opened,
            Err((reply, outcome)) => {
                let mut record = self.who.record(kind, outcome, reply.message.clone());
                record.args = request.audit_summary();
                shared.audit.append_or_log(record).await;
                let _ = self.recv.stop(VarInt::from_u32(0));
                self.refuse(reply).await;
                return;
            }
        };
        let mut record = self.who.record(kind, "ok", detail);
        record.args = request.audit_summary();
        // As for every request: no reply before its record is durable.
        if let Err(e) = shared.audit.append(record).await {
            debug!("audit failed: {e}");
            self.refuse(ErrorReply::internal(
                "the agent could not write its audit log; see its log",
            ))
            .await;
            return;
        }
        let response = Response::Viewing(Box::new(start));
        if let Err(e) =
            framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut self.send, &response).await
        {
            debug!("view reply not delivered: {e}");
            return;
        }
        let capability = if control { Capability::Control } else { Capability::View };
        let consent_settings = &shared.config.consent;
        consent::notify(consent_settings, capability, &self.asker, "start");
        let _activity = shared.sessions.activity(&self.who.session, capability.as_str());
        info!(session = %self.who.session, "{kind} started");
        let started = Instant::now();
        let summary = view::run(view, self.send, self.recv, stop).await;
        consent::notify(consent_settings, capability, &self.asker, "end");
        let detail = summary.detail(started);
        info!(session = %self.who.session, "{kind} ended: {detail}");
        shared.audit.append_or_log(self.who.record(&format!("{kind}-end"), "closed", detail)).await;
        // A view's frames are large allocations glibc would keep mapped.
        tether_os::memory::release_freed();
    }

    /// Answers with an error and ends the stream.
    async fn refuse(&mut self, reply: ErrorReply) {
        let response = Response::Error(reply);
        if framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut self.send, &response).await.is_ok() {
            let _ = self.send.finish();
        }
    }

    /// Consent, the control slot and the display, in that order.
    async fn open(
        &self,
        monitor: Option<u32>,
        control: bool,
        max_fps: u32,
    ) -> Result<
        (View, ViewStart, String, Option<ControlGuard<'a>>, ViewSlot),
        (ErrorReply, &'static str),
    > {
        let shared: &'a Arc<Shared> = self.shared;
        // First the slot: a session over its view limit does not even
        // get to put a consent prompt on the user's screen.
        let slot = shared
            .views
            .take(&self.who.session)
            .map_err(|full| (ErrorReply::unavailable(full.to_string()), "error"))?;
        let settings = &shared.config.consent;
        let denied = |why: consent::Refused| (ErrorReply::denied(why.to_string()), "denied");
        let mut grants =
            vec![consent::ask(settings, Capability::View, &self.asker).await.map_err(denied)?];
        if control {
            grants.push(
                consent::ask(settings, Capability::Control, &self.asker).await.map_err(denied)?,
            );
        }
        let guard = if control {
            Some(shared.control.take(&self.who.session).map_err(|e| (e, "error"))?)
        } else {
            None
        };
        let screen = shared.config.screen.clone();
        let fps = max_fps.min(screen.max_fps);
        let opened =
            tokio::task::spawn_blocking(move || open_display(&screen, monitor, control, fps))
                .await
                .map_err(|e| (ErrorReply::internal(format!("view task failed: {e}")), "error"))?;
        let (view, start) = opened.map_err(|e| {
            let outcome =
                if e.kind == tether_proto::ErrorKind::BadRequest { "bad-request" } else { "error" };
            (e, outcome)
        })?;
        let m = &start.monitor;
        let grant = grants.last().map_or("", |g| g.as_str());
        let detail = format!(
            "{grant}; monitor {} ({}x{}), {} fps cap, {}",
            m.index, m.width, m.height, start.max_fps, start.backend
        );
        Ok((view, start, detail, guard, slot))
    }
}

/// Opens the capturer (and the input device for control) on the chosen
/// monitor.
fn open_display(
    settings: &ScreenSettings,
    monitor: Option<u32>,
    control: bool,
    max_fps: u32,
) -> Result<(View, ViewStart), ErrorReply> {
    let (capturer, list, chosen) = settings.open_monitor(monitor)?;
    let injector = if control { Some(settings.injector(&chosen)?) } else { None };
    let start = ViewStart {
        monitor: to_wire(&chosen),
        monitors: list.iter().map(to_wire).collect(),
        control,
        max_fps,
        backend: capturer.backend().to_owned(),
    };
    Ok((View { capturer, monitor: chosen, max_fps, injector }, start))
}
