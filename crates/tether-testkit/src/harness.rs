//! Running the workspace's binaries the way the end-to-end tests do: found
//! in the cargo target directory, with a clean environment rooted at a
//! throw-away home, and their output kept as text.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::process::Reaped;

/// Path of a workspace binary (`tether`, `tether-agent`) in the target
/// directory of the running test or bench, failing loudly when it was not
/// built. `TETHER_TEST_BIN_DIR` names another directory to take them from
/// (benches set it to `target/dist` to measure what the packages ship).
pub fn workspace_binary(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("TETHER_TEST_BIN_DIR") {
        let path = PathBuf::from(dir).join(name);
        assert!(path.is_file(), "{} is missing (TETHER_TEST_BIN_DIR)", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> or target/<profile>/<bench>: look in both.
    let mut dir = exe.parent().expect("test executable has a parent directory").to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace{})",
        path.display(),
        if dir.ends_with("release") { " --release" } else { "" }
    );
    path
}

/// A command for a workspace binary with a clean environment rooted at
/// `home`: only `HOME`, `PATH` and `RUST_LOG=info`, and stdin closed, so
/// nothing from the developer's `~/.config/tether` leaks in.
pub fn command(name: &str, home: &Path) -> Command {
    let mut cmd = Command::new(workspace_binary(name));
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// The result of running a binary, with text helpers.
#[derive(Debug)]
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout, lossily decoded.
    pub stdout: String,
    /// Its stderr, lossily decoded.
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The exit code, `None` when a signal ended it.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "command failed ({:?}):\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts the exit code and that stderr is one clear line, no panic.
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        let lines: Vec<_> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "expected one error line, got:\n{}", self.stderr);
        lines[0].to_owned()
    }
}

/// Runs a command to completion.
pub fn run(mut cmd: Command) -> Run {
    Run::from(cmd.output().expect("binary can be spawned"))
}

/// Runs a command to completion on a pseudo-terminal (through script(1),
/// from util-linux), as a person at a terminal would: what it wrote to
/// stdout and stderr comes back together, as `stdout`, escape sequences
/// and all. The command's environment is kept.
pub fn run_on_terminal(cmd: &Command) -> Run {
    let mut script = on_terminal(cmd);
    script.stdin(std::process::Stdio::null());
    run(script)
}

/// `cmd` run by script(1) on a pseudo-terminal: script copies its own
/// stdin to the terminal (keys, TAB and Ctrl-C included) and the terminal
/// to its stdout, flushing as it goes. The command's environment is kept.
pub fn on_terminal(cmd: &Command) -> Command {
    let words = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|word| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    // exec: the command itself is script's child, so a Ctrl-C typed on the
    // terminal reaches only it, and its exit status is the one reported.
    let line = format!("exec {words}");
    let mut script = Command::new("script");
    script.args(["-qfec", &line, "/dev/null"]);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    script
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after
/// `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Reaped {
    /// `sleep 600` under the name `tag` (`exec -a`), recognisable in `ps`.
    pub fn sleeper(tag: &str) -> Reaped {
        let script = format!("exec -a {tag} sleep 600");
        Reaped(Command::new("bash").args(["-c", &script]).spawn().expect("bash runs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keeps_output_and_fails_with_checks_one_line() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo 'tether: error: no' >&2; exit 4"]);
        let run = run(cmd);
        assert_eq!(run.stdout, "out\n");
        assert_eq!(run.fails_with(4), "tether: error: no");
    }

    #[test]
    fn two_error_lines_are_not_one_clear_line() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one >&2; echo two >&2; exit 1"]);
        let run = run(cmd);
        let caught = std::panic::catch_unwind(|| run.fails_with(1)).expect_err("two lines");
        let message = caught.downcast::<String>().expect("a formatted panic message");
        assert!(message.contains("expected one error line"), "{message}");
    }

    #[test]
    fn a_sleeper_shows_its_tag_in_proc() {
        let sleeper = Reaped::sleeper("testkit-probe");
        let cmdline = format!("/proc/{}/cmdline", sleeper.pid());
        eventually(Duration::from_secs(5), "the tag in the command line", || {
            std::fs::read(&cmdline).unwrap().starts_with(b"testkit-probe\x00600")
        });
    }

    #[test]
    fn eventually_returns_once_the_check_holds_and_names_what_never_did() {
        let mut calls = 0;
        eventually(Duration::from_secs(5), "the third call", || {
            calls += 1;
            calls == 3
        });
        assert_eq!(calls, 3);
        let caught = std::panic::catch_unwind(|| {
            eventually(Duration::from_millis(100), "a miracle", || false)
        })
        .expect_err("false never holds");
        let message = caught.downcast::<String>().expect("a formatted panic message");
        assert_eq!(*message, "timed out waiting for a miracle");
    }
}
