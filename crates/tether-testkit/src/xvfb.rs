//! Private X servers for screen and input tests.
//!
//! Each [`Xvfb`] is its own server: `-displayfd` lets Xvfb pick a free
//! display number and say when it listens, `-noreset` keeps what the test
//! drew when the last client disconnects. A missing Xvfb (or xdotool,
//! xrandr) fails the test with the package to install; nothing is skipped.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ChangeGCAux, ConnectionExt as _, CreateGCAux, Drawable, Rectangle, Window,
};
use x11rb::rust_connection::RustConnection;

use crate::process::Reaped;

/// How long a new server may take to accept clients.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Why an Xvfb did not start.
#[derive(Debug, thiserror::Error)]
pub enum XvfbError {
    /// The binary is not there (or not executable).
    #[error("cannot start Xvfb ({0}); install it: apt-get install xvfb")]
    NotInstalled(std::io::Error),
    /// The pipe for `-displayfd` could not be made or read.
    #[error("cannot learn Xvfb's display number: {0}")]
    DisplayFd(std::io::Error),
    /// It exited without telling its display number.
    #[error("Xvfb exited before it was ready")]
    Exited,
    /// It told its display number but accepted no client in time.
    #[error("Xvfb {display} accepts no clients after {READY_TIMEOUT:?}")]
    NotReady {
        /// The display it announced.
        display: String,
    },
}

/// A private Xvfb, stopped on drop.
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts a `width`×`height`×24 server and waits until it accepts
    /// clients; panics with the reason (and the package to install).
    pub fn start(width: u32, height: u32) -> Xvfb {
        Xvfb::try_start(width, height).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Xvfb::start`], returning what went wrong instead of panicking.
    pub fn try_start(width: u32, height: u32) -> Result<Xvfb, XvfbError> {
        let mut fds = [0; 2];
        // Close-on-exec, so other tests' children do not inherit it; only
        // Xvfb gets the write end (cleared in pre_exec below).
        // SAFETY: pipe2(2) fills the two descriptors we pass.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(XvfbError::DisplayFd(std::io::Error::last_os_error()));
        }
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
        let child = command.spawn().map_err(XvfbError::NotInstalled)?;
        drop(writer);
        // From here on the server is stopped on drop, whatever fails.
        let mut server = Xvfb { child, display: String::new() };
        // Xvfb writes its display number and a newline once it listens
        // (and keeps the pipe open, so read to the newline, not to EOF).
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while reader.read(&mut byte).map_err(XvfbError::DisplayFd)? == 1 && byte[0] != b'\n' {
            number.push(char::from(byte[0]));
        }
        let number = number.trim();
        if number.is_empty() {
            return Err(XvfbError::Exited);
        }
        server.display = format!(":{number}");
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> Result<(), XvfbError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(XvfbError::Exited);
            }
            if x11rb::connect(Some(&self.display)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(XvfbError::NotReady { display: self.display.clone() })
    }

    /// A new client connection and the root window of its screen.
    pub fn connect(&self) -> (RustConnection, Window) {
        let (conn, screen) = x11rb::connect(Some(&self.display))
            .unwrap_or_else(|e| panic!("cannot connect to Xvfb {}: {e}", self.display));
        let root = conn.setup().roots[screen].root;
        (conn, root)
    }

    /// Fills rectangles of the root window with colours `0xRRGGBB` and
    /// waits until the server has drawn them.
    pub fn fill_root(&self, rects: &[(u32, Rectangle)]) {
        let (conn, root) = self.connect();
        fill(&conn, root, rects);
    }

    /// A command for X client `tool` on this display.
    pub fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        cmd.env("DISPLAY", &self.display).env_remove("XAUTHORITY");
        cmd
    }

    /// `xterm -geometry GEOMETRY -e sh -c SCRIPT` on this display, its
    /// output discarded; killed when the guard is dropped.
    pub fn xterm(&self, geometry: &str, script: &str) -> Reaped {
        let child = self
            .command("xterm")
            .args(["-geometry", geometry, "-e", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run xterm ({e}); apt-get install xterm"));
        Reaped(child)
    }

    /// Runs `tool ARGS` and returns its output, asserting success; panics
    /// naming `package` if the tool is missing.
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

    /// `xrandr ARGS`.
    pub fn xrandr(&self, args: &[&str]) {
        self.run("xrandr", "x11-xserver-utils", args);
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

    /// The id of the first window whose name matches `name` (an xdotool
    /// pattern), waiting up to `timeout` for one to be mapped.
    pub fn find_window(&self, name: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            // Not `run`: xdotool exits 1 while nothing matches.
            let found =
                self.command("xdotool").args(["search", "--name", name]).output().unwrap_or_else(
                    |e| panic!("cannot run xdotool ({e}); apt-get install xdotool"),
                );
            let text = String::from_utf8_lossy(&found.stdout);
            if let Some(id) = text.lines().next().map(str::trim).filter(|id| !id.is_empty()) {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "no window named {name:?} on {}", self.display);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket.
        // Our own, not yet reaped, child: the pid is still its.
        let _ = tether_os::signal::send(self.child.id(), tether_os::signal::Signal::Term);
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

/// Fills rectangles of `drawable` (the root, or a window) with colours
/// `0xRRGGBB` and waits until the server has drawn them.
pub fn fill(conn: &impl Connection, drawable: Drawable, rects: &[(u32, Rectangle)]) {
    let gc = conn.generate_id().expect("X ids left");
    conn.create_gc(gc, drawable, &CreateGCAux::new().graphics_exposures(0)).expect("create GC");
    for (color, rect) in rects {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(*color)).expect("set colour");
        conn.poly_fill_rectangle(drawable, gc, &[*rect]).expect("fill");
    }
    conn.free_gc(gc).expect("free GC");
    // A round trip: everything before it has been drawn.
    conn.get_input_focus().expect("request").reply().expect("X server alive");
}

/// A rectangle, shorter to write than the struct.
pub fn rect(x: i16, y: i16, width: u16, height: u16) -> Rectangle {
    Rectangle { x, y, width, height }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x11rb::protocol::xproto::ImageFormat;

    #[test]
    fn two_servers_get_different_displays_and_draw() {
        let a = Xvfb::start(64, 48);
        let b = Xvfb::start(32, 16);
        assert_ne!(a.display, b.display);
        let (conn, root) = b.connect();
        assert_eq!(conn.setup().roots[0].width_in_pixels, 32);
        fill(&conn, root, &[(0x102030, rect(0, 0, 32, 16)), (0xabcdef, rect(3, 4, 1, 1))]);
        let pixel = |x, y| {
            let image = conn.get_image(ImageFormat::Z_PIXMAP, root, x, y, 1, 1, !0).unwrap();
            let data = image.reply().unwrap().data;
            u32::from_le_bytes([data[0], data[1], data[2], 0])
        };
        assert_eq!((pixel(3, 4), pixel(4, 4)), (0xabcdef, 0x102030));
    }

    #[test]
    fn dropping_stops_the_server() {
        let x = Xvfb::start(16, 16);
        let pid = x.child.id();
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        drop(x);
        // The process, not the display number: tests running beside this
        // one may start a new server on the number just freed.
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "Xvfb (pid {pid}) still runs"
        );
    }

    #[test]
    fn pointer_moves_and_windows_are_found() {
        let x = Xvfb::start(200, 100);
        x.xdotool(&["mousemove", "123", "45"]);
        assert_eq!(x.pointer(), (123, 45));
        let xterm = x.xterm("20x5+0+0", "printf '\\033]2;testkit-window\\007'; exec sleep 30");
        let id = x.find_window("testkit-window", Duration::from_secs(20));
        assert!(id.parse::<u32>().is_ok(), "{id}");
        let pid = xterm.pid().to_string();
        let by_pid = x.xdotool(&["search", "--pid", &pid, "--class", "xterm"]);
        assert!(by_pid.lines().any(|l| l.trim() == id), "{id} not in {by_pid:?}");
    }
}
