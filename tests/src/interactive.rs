//! Driving an interactive program (`tether connect`) line by line: its
//! stdin is a pipe the test writes to, its stdout and stderr are collected
//! as they come, and the test waits for what it expects to appear. With
//! [`Interactive::on_terminal`] the program runs on a pseudo-terminal
//! through script(1), which copies the pipe to the terminal, keys (TAB)
//! and all.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running interactive program.
pub struct Interactive {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let into = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

impl Interactive {
    /// Starts `cmd` with piped stdin, stdout and stderr.
    pub fn start(mut cmd: Command) -> Interactive {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the program starts");
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().expect("piped"));
        let stderr = collect(child.stderr.take().expect("piped"));
        Interactive { child, stdin, stdout, stderr }
    }

    /// Starts `cmd` on a pseudo-terminal (script(1)); stdout and stderr
    /// both arrive as [`Interactive::stdout`].
    pub fn on_terminal(cmd: &Command) -> Interactive {
        let mut script = tether_testkit::on_terminal(cmd);
        // Only the command's own environment (the tests' commands start
        // from a cleared one), and a terminal type.
        script.env_clear();
        for (key, value) in cmd.get_envs() {
            if let Some(value) = value {
                script.env(key, value);
            }
        }
        script.env("TERM", "xterm");
        Interactive::start(script)
    }

    /// Writes `text` as typed.
    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(text.as_bytes()).expect("the program reads its input");
        stdin.flush().expect("flushed");
    }

    /// Closes stdin (Ctrl-D for piped input).
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stdout shows `needle` `times` times in all.
    pub fn expect_out(&self, needle: &str, times: usize) {
        self.expect(needle, times, false);
    }

    /// Waits until stderr shows `needle` `times` times in all.
    pub fn expect_err(&self, needle: &str, times: usize) {
        self.expect(needle, times, true);
    }

    fn expect(&self, needle: &str, times: usize, on_stderr: bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = if on_stderr { self.stderr() } else { self.stdout() };
            if text.matches(needle).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} did not appear {times} times;\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes stdin and waits for the program to end.
    pub fn wait(&mut self) -> ExitStatus {
        self.close_input();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(Instant::now() < deadline, "still running;\nstdout:\n{}", self.stdout());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
