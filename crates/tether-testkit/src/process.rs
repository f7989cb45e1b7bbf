//! Child processes that cannot outlive their owner, and finding the
//! workspace's binaries.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process, killed and reaped when dropped, so a test (or a
/// command) that fails first leaves nothing running.
#[derive(Debug)]
pub struct Reaped(pub Child);

impl Reaped {
    /// Starts `cmd` with its stdout piped and waits for the first line it
    /// prints there (a server announcing its address): the process, and
    /// that line without its newline. Panics when it cannot start.
    pub fn spawn_until_first_line(mut cmd: Command) -> (Reaped, String) {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let child = Reaped(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("its first line is readable");
        (child, line.trim_end().to_owned())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name` in the directory of the running executable, if it is a file
/// there: how an installed `tether` finds `tether-agent`, and how a cargo
/// build finds its sibling binaries.
pub fn beside_current_exe(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.parent().map(|dir| dir.join(name)).filter(|path| path.is_file())
}

/// `name` in the first directory of `$PATH` that has it.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| Path::is_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_is_on_path_and_nonsense_is_not() {
        let sh = on_path("sh").expect("every Unix has sh on PATH");
        assert!(sh.ends_with("sh") && sh.is_absolute(), "{}", sh.display());
        assert_eq!(on_path("tether-testkit-no-such-binary"), None);
    }

    #[test]
    fn only_existing_files_beside_the_executable_are_found() {
        // The test executable itself is beside itself.
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_str().unwrap();
        assert_eq!(beside_current_exe(name), Some(exe.clone()));
        assert_eq!(beside_current_exe("tether-testkit-no-such-binary"), None);
    }

    #[test]
    fn the_first_line_is_read_and_the_process_kept() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo listening on 127.0.0.1:7; exec sleep 30"]);
        let (child, line) = Reaped::spawn_until_first_line(cmd);
        assert_eq!(line, "listening on 127.0.0.1:7");
        assert!(Path::new(&format!("/proc/{}", child.pid())).exists());
    }

    #[test]
    fn a_reaped_child_is_gone_after_drop() {
        let child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        drop(Reaped(child));
        // Reaped: no /proc entry, not even a zombie.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
