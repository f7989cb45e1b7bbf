//! What stops the agent from outside, per system: SIGTERM or SIGINT on
//! Unix (SIGHUP asks for a reload), Ctrl+C, Ctrl+Break, closing the
//! console, logoff or shutdown on Windows (which has no reload signal).

use std::future::Future;
use std::io;

use tokio::sync::mpsc;
use tracing::info;

/// Resolves when the agent is asked to stop; forwards reload requests to
/// `reload` where the system has them.
#[cfg(unix)]
pub fn watch(reload: mpsc::Sender<()>) -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { info!("SIGTERM received"); break }
                _ = int.recv() => { info!("SIGINT received"); break }
                _ = hup.recv() => { let _ = reload.try_send(()); }
            }
        }
    })
}

/// Resolves when the agent is asked to stop; forwards reload requests to
/// `reload` where the system has them.
#[cfg(windows)]
pub fn watch(reload: mpsc::Sender<()>) -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
    let mut c = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    let mut logoff = ctrl_logoff()?;
    let mut shutdown = ctrl_shutdown()?;
    Ok(async move {
        // Windows has no reload signal; the sender lives as long as the
        // watch, so the agent's reload channel stays open.
        let _reload = reload;
        tokio::select! {
            _ = c.recv() => info!("Ctrl+C received"),
            _ = brk.recv() => info!("Ctrl+Break received"),
            _ = close.recv() => info!("console closed"),
            _ = logoff.recv() => info!("logoff"),
            _ = shutdown.recv() => info!("system shutdown"),
        }
    })
}
