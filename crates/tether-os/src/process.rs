//! Ending a child process politely: SIGTERM, a grace period to clean up
//! (an X server removes its lock file, an agent writes its stop record),
//! then SIGKILL; the child is reaped either way.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use crate::signal::{self, Signal};

/// How often a terminating child is polled for its exit.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How a child ended under [`terminate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    /// Its exit status, as reaped.
    pub status: ExitStatus,
    /// Whether it outlived the grace period and was killed.
    pub killed: bool,
}

/// Sends SIGTERM to `child`, waits up to `grace` for it to exit, then
/// kills it; returns once it has been reaped. A child that had already
/// exited is simply reaped.
pub fn terminate(child: &mut Child, grace: Duration) -> std::io::Result<Termination> {
    if let Some(status) = child.try_wait()? {
        return Ok(Termination { status, killed: false });
    }
    // The child is not reaped yet, so its pid is still its own. It may
    // exit in between, which leaves a zombie to reap, not an error.
    match signal::send(child.id(), Signal::Term) {
        Ok(()) | Err(signal::SignalError::NoSuchProcess(_)) => {}
        Err(signal::SignalError::Os { source, .. }) => return Err(source),
        Err(e @ signal::SignalError::InvalidPid(_)) => {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
        }
    }
    let deadline = Instant::now() + grace;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Termination { status, killed: false });
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    child.kill()?;
    Ok(Termination { status: child.wait()?, killed: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    #[test]
    fn a_child_that_ends_on_sigterm_is_not_killed() {
        let mut child = Command::new("sleep").arg("300").spawn().unwrap();
        let ended = terminate(&mut child, Duration::from_secs(5)).unwrap();
        assert!(!ended.killed);
        assert_eq!(ended.status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
        // The shell ignores TERM and tells us so before we signal it.
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready, "ready\n");
        let start = Instant::now();
        let ended = terminate(&mut child, Duration::from_millis(300)).unwrap();
        assert!(ended.killed);
        assert_eq!(ended.status.signal(), Some(libc::SIGKILL));
        assert!(start.elapsed() >= Duration::from_millis(300), "waited the grace period");
    }

    #[test]
    fn a_child_that_already_exited_is_reaped() {
        let mut child = Command::new("true").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let ended = terminate(&mut child, Duration::from_secs(5)).unwrap();
        assert!(ended.status.success() && !ended.killed);
    }
}
