//! `tether view HOST`: the live view window.
//!
//! The stream runs on the async runtime; the window on a blocking thread
//! samples the newest decoded frame. Closing the window ends the stream
//! (the agent releases whatever is held); the stream ending closes the
//! window.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tether_client::Session;
use tether_client::screen::ViewStream;
use tether_view::window::{self, WindowSettings};
use tether_view::{ScaleMode, ViewState, stream};

use super::Done;
use crate::cli::ScaleArg;

#[derive(Debug)]
pub struct Options {
    pub view_only: bool,
    pub monitor: Option<u32>,
    pub scale: ScaleArg,
    pub fps: u32,
}

/// Whether a window can be shown; checked before anything reaches the
/// agent, so there is no view (and no consent prompt for the user) when
/// none can.
pub fn check_display() -> anyhow::Result<()> {
    Ok(window::check_display()?)
}

/// Opens the view on `session` in a window titled with `host` and returns
/// when either ends. [`check_display`] first.
pub async fn on(session: &Session, host: &str, options: Options) -> anyhow::Result<Done> {
    // A tier-1 technician may look but not control: open view-only and
    // say so, rather than ask for control and be denied.
    let role = session.welcome().role;
    let may_control = session.role_allows(tether_proto::RequestKind::Control);
    let view_only = options.view_only || !may_control;
    if !options.view_only && !may_control {
        eprintln!(
            "{}: your certificate is {role}; control needs tier 2, so the view opens view-only",
            session.describe()
        );
    }
    if !view_only {
        eprintln!("waiting for {} to start the view (the user may be asked)…", session.describe());
    }
    let ViewStream { start, send, recv } =
        session.open_view(options.monitor, !view_only, options.fps).await?;
    // No window for a monitor the stream would refuse.
    stream::check_monitor(&start.monitor)
        .with_context(|| format!("{}: the view cannot start", session.describe()))?;
    let state = ViewState::new(&start);
    let (input_tx, input_rx) = tokio::sync::mpsc::unbounded_channel();
    let ended = Arc::new(AtomicBool::new(false));
    let settings = WindowSettings {
        host: host.to_owned(),
        scale: match options.scale {
            ScaleArg::Fit => ScaleMode::Fit,
            ScaleArg::One => ScaleMode::One,
        },
        control: start.control,
    };
    let window = {
        let (state, ended) = (Arc::clone(&state), Arc::clone(&ended));
        let control = start.control;
        tokio::task::spawn_blocking(move || {
            let input = control.then_some(&input_tx);
            let result = window::run(&state, &settings, input, &ended);
            drop(input_tx);
            result
        })
    };
    let streamed = stream::run(Arc::clone(&state), send, recv, input_rx).await;
    ended.store(true, Ordering::Relaxed);
    let shown = window.await.context("the window thread failed")?;
    let target = session.describe();
    let (frames, bytes) = state.totals();
    shown?;
    let end = streamed.with_context(|| format!("{target}: the view ended"))?;
    // The reason may be the agent's words.
    let end = tether_proto::text::escape(&end);
    eprintln!("{target}: {end} ({frames} frames, {} KiB)", bytes / 1024);
    let mode = if start.control { "control" } else { "view only" };
    Ok(Done::success(format!("view ({mode}): {end}, {frames} frames")))
}
