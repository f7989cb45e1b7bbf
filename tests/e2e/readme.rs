//! The README's set-up walkthrough, run as written: every line of the
//! block between its `walkthrough` markers, in a scratch root. The system
//! paths it names (/etc/tether, /usr/local/bin, …) are moved under that
//! root, `systemctl` starts the installed unit's commands, `cargo build`
//! is skipped because the test runs the binaries it was built with, and
//! the workstation's address becomes loopback. Nothing else is changed.

use std::path::Path;

/// The system locations the walkthrough writes to, moved under the root.
const SYSTEM_PATHS: &[&str] = &[
    "/etc/tether",
    "/etc/systemd/system",
    "/usr/local/bin",
    "/var/log/tether",
    "/var/lib/tether",
    "/run/tether",
];

fn rooted(text: &str, root: &Path) -> String {
    let mut out = text.replace("10.0.4.42", "127.0.0.1");
    for path in SYSTEM_PATHS {
        out = out.replace(path, &format!("{}{path}", root.display()));
    }
    out
}

fn walkthrough() -> &'static str {
    let readme = include_str!("../../README.md");
    let start = readme.find("<!-- walkthrough:begin -->\n```sh\n").expect("begin marker");
    let body = &readme[start..];
    let body = &body[body.find("```sh\n").unwrap() + 6..];
    let end = body.find("```\n<!-- walkthrough:end -->").expect("end marker");
    &body[..end]
}

#[test]
fn the_readme_walkthrough_works_as_typed() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let src = root.join("src");
    let release = src.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::create_dir_all(src.join("packaging")).unwrap();
    // What a Debian machine has before the walkthrough starts.
    for dir in ["home/alice", "usr/local/bin", "etc/systemd/system", "var/log", "var/lib", "run"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for name in ["tether", "tether-agent"] {
        std::fs::copy(tether_tests::workspace_binary(name), release.join(name)).unwrap();
    }
    let packaging = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging");
    for file in ["agent.toml", "tether-agent.service", "deps.sh"] {
        let text = std::fs::read_to_string(packaging.join(file)).unwrap();
        std::fs::write(src.join("packaging").join(file), rooted(&text, root)).unwrap();
    }
    let log = root.join("agent.log");
    let pid = root.join("agent.pid");
    let prelude = format!(
        r#"set -euo pipefail
unset XDG_CONFIG_HOME TETHER_CONFIG_DIR TETHER_CRL TETHER_TICKET
export PATH="{bin}:$PATH"
export HOME="{home}"
cargo() {{ echo "(cargo $*: the test brings its own build)"; }}
systemctl() {{
  case "$*" in
    daemon-reload) ;;
    "enable --now tether-agent")
      local unit="{units}/tether-agent.service"
      local pre start
      pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
      start=$(sed -n 's/^ExecStart=//p' "$unit")
      $pre
      $start > "{log}" 2>&1 &
      echo $! > "{pid}"
      for _ in $(seq 200); do
        grep -q "listening on" "{log}" && return 0
        sleep 0.05
      done
      cat "{log}" >&2
      return 1 ;;
    *) echo "systemctl $*: not part of the walkthrough" >&2; return 1 ;;
  esac
}}
cd "{src}"
"#,
        bin = root.join("usr/local/bin").display(),
        home = root.join("home/alice").display(),
        units = root.join("etc/systemd/system").display(),
        log = log.display(),
        pid = pid.display(),
        src = src.display(),
    );
    let script = prelude + &rooted(walkthrough(), root);
    let run = tether_tests::run({
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c").arg(&script).stdin(std::process::Stdio::null());
        cmd
    });
    // Stops the agent the walkthrough started; one already gone is fine.
    if let Some(pid) = std::fs::read_to_string(&pid).ok().and_then(|p| p.trim().parse().ok()) {
        let _ = tether_os::signal::send(pid, tether_os::signal::Signal::Term);
    }
    assert!(
        run.status.success(),
        "the walkthrough failed:\n--- stdout\n{}\n--- stderr\n{}\n--- agent\n{}",
        run.stdout,
        run.stderr,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // check-config passed, naming what would not work here.
    assert!(run.stdout.contains("agent.toml: ok"), "{}", run.stdout);
    assert!(!run.stdout.contains("is not in the agent's certificate"), "{}", run.stdout);
    // The technician reached the workstation by its alias.
    assert!(run.stdout.contains("ws-042 at 127.0.0.1:7433"), "{}", run.stdout);
    assert!(run.stdout.contains("you are alice (tier1)"), "{}", run.stdout);
    let key = root.join("etc/tether/agent.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
}
