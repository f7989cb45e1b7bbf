//! `tether view HOST`: the live view window.
//!
//! The stream runs on the async runtime; the window on a blocking thread
//! samples the newest decoded frame. Closing the window ends the stream
//! (the agent releases whatever is held); the stream ending closes the
//! window.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tether_client::screen::ViewStream;
use tether_view::window::{self, WindowSettings};
use tether_view::{ScaleMode, ViewState, stream};

use crate::cli::{GlobalArgs, ScaleArg};
use crate::connect;

#[derive(Debug)]
pub struct Options {
    pub view_only: bool,
    pub monitor: Option<u32>,
    pub scale: ScaleArg,
    pub fps: u32,
}

pub async fn run(global: &GlobalArgs, host: &str, options: Options) -> anyhow::Result<ExitCode> {
    // Before anything reaches the agent: no view (and no consent prompt
    // for the user) when no window can be shown.
    window::check_display()?;
    let session = connect::connect(global, host).await?;
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
    let target = session.describe().to_owned();
    let (frames, bytes) = state.totals();
    session.finish().await;
    shown?;
    let end = streamed.with_context(|| format!("{target}: the view ended"))?;
    // The reason may be the agent's words.
    let end = tether_proto::text::escape(&end);
    eprintln!("{target}: {end} ({frames} frames, {} KiB)", bytes / 1024);
    Ok(ExitCode::SUCCESS)
}
