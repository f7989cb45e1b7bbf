//! Ctrl-C while a session runs, as a stream the session loop selects on:
//! SIGINT on Unix, the console's Ctrl+C event on Windows. Watching it
//! keeps Ctrl-C from ending the process, so it cancels the command
//! running instead of the session.

pub struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(windows)]
    signal: tokio::signal::windows::CtrlC,
}

impl Interrupts {
    pub fn watch() -> std::io::Result<Interrupts> {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c()?;
        Ok(Interrupts { signal })
    }

    /// The next Ctrl-C (`None` once no more can come).
    pub async fn recv(&mut self) -> Option<()> {
        self.signal.recv().await
    }
}
