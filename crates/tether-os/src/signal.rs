//! Signals: sending one to a process or a process group, and the SIGPIPE
//! disposition of commands that print.

/// The signals Tether sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: asks the process to end, letting it clean up.
    Term,
    /// SIGKILL: ends the process at once; it cannot be caught.
    Kill,
    /// SIGHUP: by convention, asks a service to reload its configuration.
    Hangup,
    /// SIGINT: what Ctrl+C sends.
    Interrupt,
}

#[cfg(unix)]
impl Signal {
    /// The signal's number on this system.
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
        }
    }
}

/// Why a signal could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// No process (or group) with that id exists.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// The id does not fit the system's pid type, or is 0 (which would
    /// signal the caller's own group).
    #[error("{0} is not a valid process id")]
    InvalidPid(u32),
    /// The system refused, e.g. for lack of permission.
    #[error("cannot signal pid {pid}: {source}")]
    Os {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// Sends `signal` to the process `pid`.
#[cfg(unix)]
pub fn send(pid: u32, signal: Signal) -> Result<(), SignalError> {
    let raw = positive_pid(pid)?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours;
    // `raw` is positive, so it names one process, never a group or "all".
    let rc = unsafe { libc::kill(raw, signal.number()) };
    checked(rc, pid)
}

/// Sends `signal` to every process in the group `pgid` (a child started
/// with `process_group(0)` leads a group whose id is its pid).
#[cfg(unix)]
pub fn send_to_group(pgid: u32, signal: Signal) -> Result<(), SignalError> {
    let raw = positive_pid(pgid)?;
    // SAFETY: killpg(2) takes two integers and touches no memory of ours;
    // `raw` is positive, so it names one group, never the caller's own.
    let rc = unsafe { libc::killpg(raw, signal.number()) };
    checked(rc, pgid)
}

#[cfg(unix)]
fn positive_pid(pid: u32) -> Result<libc::pid_t, SignalError> {
    match libc::pid_t::try_from(pid) {
        Ok(raw) if raw > 0 => Ok(raw),
        _ => Err(SignalError::InvalidPid(pid)),
    }
}

#[cfg(unix)]
fn checked(rc: libc::c_int, pid: u32) -> Result<(), SignalError> {
    if rc == 0 {
        return Ok(());
    }
    let source = std::io::Error::last_os_error();
    Err(match source.raw_os_error() {
        Some(libc::ESRCH) => SignalError::NoSuchProcess(pid),
        _ => SignalError::Os { pid, source },
    })
}

/// Windows has no signals: every signal ends the process at once
/// (`TerminateProcess`, exit code 1), as SIGKILL would; Windows has no
/// polite request to end an arbitrary process.
#[cfg(windows)]
pub fn send(pid: u32, _signal: Signal) -> Result<(), SignalError> {
    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_INVALID_PARAMETER};
    use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_TERMINATE, TerminateProcess};
    if pid == 0 {
        return Err(SignalError::InvalidPid(pid));
    }
    // SAFETY: OpenProcess takes plain integers and returns a handle or null.
    let handle = unsafe { OpenProcess(PROCESS_TERMINATE, 0, pid) };
    if handle.is_null() {
        let source = std::io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(code) if code == ERROR_INVALID_PARAMETER as i32 => SignalError::NoSuchProcess(pid),
            _ => SignalError::Os { pid, source },
        });
    }
    // SAFETY: `handle` is the open process handle just returned, with
    // PROCESS_TERMINATE access; it is closed once, right after.
    let ok = unsafe { TerminateProcess(handle, 1) };
    let source = std::io::Error::last_os_error();
    // SAFETY: as above; the handle is not used again.
    unsafe { CloseHandle(handle) };
    if ok == 0 {
        return Err(SignalError::Os { pid, source });
    }
    Ok(())
}

/// Windows has no process groups here: only the process `pgid` ends (see
/// [`send`]).
#[cfg(windows)]
pub fn send_to_group(pgid: u32, signal: Signal) -> Result<(), SignalError> {
    send(pgid, signal)
}

/// Makes writes to a closed pipe end the process quietly, as Unix tools
/// do (`tether ps HOST | head -1`). Rust ignores SIGPIPE by default, so
/// `println!` to a closed pipe panics with a backtrace instead.
///
/// Only for processes whose sockets cannot raise SIGPIPE (UDP, or none):
/// a long-running service must keep ignoring it, or a peer closing a
/// stream socket would kill it.
pub fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: signal(2) with SIG_DFL installs no handler of ours; it only
    // restores the kernel's default disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    #[test]
    fn a_signalled_child_ends_by_that_signal() {
        let mut child = Command::new("sleep").arg("300").spawn().unwrap();
        send(child.id(), Signal::Term).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        // Reaped, so the pid names nobody now (pids are not reused at once).
        assert!(matches!(send(child.id(), Signal::Term), Err(SignalError::NoSuchProcess(_))));
    }

    #[test]
    fn a_group_signal_reaches_the_grandchildren() {
        use std::io::Read;
        // A shell that starts a sleep and waits: both are in the new group
        // and both hold the write end of the shell's stdout.
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let sent = std::time::Instant::now();
        send_to_group(child.id(), Signal::Kill).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
        // End of file only once the sleep has died too: a missed
        // grandchild would keep the pipe open for 30 s.
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).unwrap();
        assert!(sent.elapsed().as_secs() < 10, "the grandchild outlived the group signal");
    }

    #[test]
    fn pids_that_would_reach_more_than_one_process_are_refused() {
        assert!(matches!(send(0, Signal::Term), Err(SignalError::InvalidPid(0))));
        assert!(matches!(send(u32::MAX, Signal::Term), Err(SignalError::InvalidPid(_))));
        assert!(matches!(send_to_group(0, Signal::Term), Err(SignalError::InvalidPid(0))));
    }
}
