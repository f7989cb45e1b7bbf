//! Tether's test kit: the helpers the end-to-end tests, the crates' own
//! tests, the benches and `tether demo` share, written once.
//!
//! It is **not** a mock of anything. Every helper drives a real part: the
//! real `tether-agent` and `tether` binaries, certificates made by the
//! real `tether pki`, a real Xvfb. It holds no Tether logic of its own and
//! depends on no Tether crate but `tether-pki` (for the PKI fixtures).
//!
//! # Features
//!
//! | feature   | what it adds                                            | who enables it |
//! |-----------|---------------------------------------------------------|----------------|
//! | (none)    | [`AgentConfig`], [`AgentProcess`], [`Reaped`], binary lookup, [`random`] | `tether demo` |
//! | `harness` | [`TestPki`], [`Identity`], [`command`], [`run`], [`Run`], [`eventually`] | e2e tests, benches |
//! | `proc`    | [`proc`]: RSS, CPU time and threads of a pid             | benches, resource tests |
//! | `xvfb`    | [`Xvfb`] and X drawing helpers                           | screen and input tests |
//! | `viewer`  | [`Viewer`]: the real `tether view` window on an Xvfb     | e2e view tests |
//! | `postgres` | [`PostgresServer`]: a private PostgreSQL server (Debian's) | ticket store tests, benches |
//!
//! Without features the kit needs only std, libc and thiserror, so the
//! product binary that links it (`tether`, for `tether demo`) gains no
//! test-only dependency.
//!
//! # Examples
//!
//! Writing an agent's configuration and starting it (what `tether demo`
//! does); the address is the one the agent logged:
//!
//! ```no_run
//! use std::path::Path;
//! use std::process::Command;
//! use std::time::Duration;
//! use tether_testkit::{AgentConfig, AgentProcess, LOOPBACK_ANY_PORT};
//!
//! let dir = Path::new("/tmp/demo");
//! let config = AgentConfig {
//!     name: "demo-agent".into(),
//!     listen: LOOPBACK_ANY_PORT.into(),
//!     control_socket: None,
//!     extra: String::new(),
//!     cert: dir.join("pki/agents/demo-agent.crt"),
//!     key: dir.join("pki/agents/demo-agent.key"),
//!     ca: dir.join("pki/ca.crt"),
//!     crl: dir.join("pki/crl.pem"),
//!     audit_path: dir.join("audit.jsonl"),
//! };
//! config.write(&dir.join("agent.toml"))?;
//! let binary = tether_testkit::beside_current_exe("tether-agent")
//!     .or_else(|| tether_testkit::on_path("tether-agent"))
//!     .expect("tether-agent is installed");
//! let mut agent =
//!     AgentProcess::spawn(Command::new(binary), &dir.join("agent.toml"), Duration::from_secs(15))?;
//! println!("listening on {}", agent.addr());
//! agent.terminate(Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A throw-away PKI and a technician, then `tether` as that technician in
//! a clean environment (feature `harness`):
//!
//! ```no_run
//! use tether_testkit::{TestPki, run, tether_as};
//!
//! let pki = TestPki::new("Example");
//! let tina = pki.issue_tech("tina", "tier1");
//! let home = tempfile::tempdir()?;
//! let mut info = tether_as(&tina, home.path());
//! info.args(["--timeout", "1", "info", "127.0.0.1:9"]);
//! // Nothing listens there: exit code 4 and one line saying so.
//! let line = run(info).fails_with(4);
//! eprintln!("{line}");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A private X server, drawn on and read back (feature `xvfb`):
//!
//! ```no_run
//! use std::time::Duration;
//! use tether_testkit::{Xvfb, eventually, xvfb::rect};
//!
//! let x = Xvfb::start(320, 240);
//! x.fill_root(&[(0xff0000, rect(0, 0, 40, 30))]);
//! x.xdotool(&["mousemove", "10", "20"]);
//! assert_eq!(x.pointer(), (10, 20));
//! // An xterm on it, killed when `_xterm` is dropped.
//! let _xterm = x.xterm("80x24+0+0", "touch /tmp/started; exec cat");
//! eventually(Duration::from_secs(20), "the xterm's shell", || {
//!     std::path::Path::new("/tmp/started").exists()
//! });
//! ```
//!
//! The viewer window of a technician, on its own X server (feature
//! `viewer`):
//!
//! ```no_run
//! use tether_testkit::{TestPki, Viewer, Xvfb};
//!
//! let pki = TestPki::new("Example");
//! let tom = pki.issue_tech("tom", "tier2");
//! let screen = Xvfb::start(800, 600);
//! let viewer = Viewer::start(&tom, &screen, "agent-01", "127.0.0.1:4433", &["--scale", "1"]);
//! let window = viewer.window(&screen);
//! screen.xdotool(&["windowfocus", "--sync", &window]);
//! ```
//!
//! A process's memory and CPU time (feature `proc`):
//!
//! ```no_run
//! use tether_testkit::proc::{RssSampler, cpu_time, rss_kib};
//!
//! let pid = 1234;
//! let sampler = RssSampler::start(pid);
//! let before = cpu_time(pid)?;
//! // ... the workload ...
//! println!("CPU {:?}, peak RSS {} KiB, now {:?} KiB", cpu_time(pid)? - before, sampler.max(), rss_kib(pid));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Random ids, and a sequence a printed seed repeats:
//!
//! ```
//! use tether_testkit::random::{XorShift64, random_id, random_seed};
//!
//! let seed = random_seed();
//! eprintln!("seed {seed}");
//! let mut rng = XorShift64::new(seed);
//! assert!(rng.below(10) < 10);
//! assert_ne!(random_id(), random_id());
//! ```

mod agent;
#[cfg(feature = "pictures")]
pub mod pictures;
mod process;
pub mod random;

#[cfg(feature = "harness")]
mod harness;
#[cfg(feature = "harness")]
mod pki;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "proc")]
pub mod proc;
#[cfg(feature = "viewer")]
mod viewer;
#[cfg(feature = "xvfb")]
pub mod xvfb;

pub use agent::{
    AgentConfig, AgentProcess, ConfigError, LISTENING, LOOPBACK_ANY_PORT, SpawnError,
    listening_address,
};
#[cfg(feature = "harness")]
pub use harness::{Run, command, eventually, on_terminal, run, run_on_terminal, workspace_binary};
#[cfg(feature = "harness")]
pub use pki::{Identity, TestPki, tether_as};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresError, PostgresServer};
pub use process::{Reaped, beside_current_exe, on_path};
#[cfg(feature = "viewer")]
pub use viewer::Viewer;
#[cfg(feature = "xvfb")]
pub use xvfb::Xvfb;
