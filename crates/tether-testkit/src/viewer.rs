//! The real viewer window (`tether view`) on a private X server, as the
//! e2e view tests drive it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;

use crate::pki::{Identity, tether_as};
use crate::process::Reaped;
use crate::xvfb::Xvfb;

/// How long the viewer's window may take to appear.
const WINDOW_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `tether view` on an [`Xvfb`], killed on drop. Its stderr goes
/// to a file in its own home directory, read by [`Viewer::said`].
pub struct Viewer {
    process: Reaped,
    log: PathBuf,
    _home: TempDir,
}

impl Viewer {
    /// `tether --server-name SERVER_NAME view ADDR OPTIONS` as `tech`, its
    /// window on `x`.
    pub fn start(
        tech: &Identity,
        x: &Xvfb,
        server_name: &str,
        addr: &str,
        options: &[&str],
    ) -> Viewer {
        let home = tempfile::tempdir().expect("temp dir");
        let log = home.path().join("viewer.log");
        let stderr = std::fs::File::create(&log).expect("viewer log created");
        let child = tether_as(tech, home.path())
            .env("DISPLAY", &x.display)
            .args(["--server-name", server_name, "view", addr])
            .args(options)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("tether view spawns");
        Viewer { process: Reaped(child), log, _home: home }
    }

    /// The id of the viewer's window on `x` (titled `tether ...`), waiting
    /// for it to be mapped.
    pub fn window(&self, x: &Xvfb) -> String {
        x.find_window("tether", WINDOW_TIMEOUT)
    }

    /// What the viewer has written to stderr so far.
    pub fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Whether it is still running (reaping it once it has ended).
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.0.try_wait(), Ok(None))
    }

    /// Kills it with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }
}
