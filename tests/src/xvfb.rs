//! X servers for screen and input tests.
//!
//! Each [`Xvfb`] is a private server: `-displayfd` lets Xvfb pick a free
//! display number and tell us when it is ready, `-noreset` keeps what the
//! test drew when the last client disconnects. Missing tools fail the test
//! with the package to install; nothing is skipped.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private Xvfb, stopped on drop.
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts a `width`×`height`×24 server and waits until it accepts
    /// clients.
    pub fn start(width: u32, height: u32) -> Xvfb {
        let mut fds = [0; 2];
        // Close-on-exec, so other tests' children do not inherit it; only
        // Xvfb gets the write end (cleared in pre_exec below).
        // SAFETY: pipe2(2) fills the two descriptors we pass.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe failed");
        // SAFETY: both descriptors were just created and are owned here.
        let (mut reader, writer) =
            unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) };
        let fd = writer.as_raw_fd();
        let mut command = Command::new("Xvfb");
        command
            .args(["-displayfd", &fd.to_string(), "-noreset", "-nolisten", "tcp"])
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: fcntl is async-signal-safe; it only touches our pipe fd.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start Xvfb ({e}); install it: apt-get install xvfb")
        });
        drop(writer);
        // Xvfb writes its display number and a newline once it listens
        // (and keeps the pipe open, so read to the newline, not to EOF).
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while reader.read(&mut byte).expect("Xvfb's display number") == 1 && byte[0] != b'\n' {
            number.push(char::from(byte[0]));
        }
        let number = number.trim();
        assert!(!number.is_empty(), "Xvfb exited before it was ready");
        let server = Xvfb { child, display: format!(":{number}") };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if x11rb::connect(Some(&self.display)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("Xvfb {} accepts no clients", self.display);
    }

    /// Runs an X client with this display; panics naming the package if it
    /// is missing.
    pub fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.env("DISPLAY", &self.display).env_remove("XAUTHORITY");
        cmd
    }

    /// Runs `tool ARGS` and returns its output, asserting success.
    pub fn run(&self, tool: &str, package: &str, args: &[&str]) -> Output {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool} ({e}); apt-get install {package}"));
        assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// `xdotool ARGS`, its stdout.
    pub fn xdotool(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.run("xdotool", "xdotool", args).stdout).into_owned()
    }

    /// Where the pointer is, by `xdotool getmouselocation`.
    pub fn pointer(&self) -> (i32, i32) {
        let out = self.xdotool(&["getmouselocation", "--shell"]);
        let value = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {out:?}"))
        };
        (value("X"), value("Y"))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
