//! What `/proc` says about a process: resident memory, CPU time, threads.
//! Linux only, for benches and resource tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A `kB` field of `/proc/PID/status` (`"VmRSS:"`, `"VmHWM:"`,
/// `"RssAnon:"`, ...), in KiB; `None` if the process or the field is gone.
pub fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory (VmRSS) in KiB; `None` if the process is gone.
pub fn rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// utime + stime of a process, in clock ticks (see [`ticks_per_sec`]).
pub fn cpu_ticks(pid: i32) -> std::io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, stat.clone());
    // The command name (field 2) may hold spaces and parentheses; what
    // follows its last ") " is field 3 onwards.
    let after = stat.rsplit_once(") ").ok_or_else(invalid)?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15: 11 and 12 counted from field 3.
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or_else(invalid);
    Ok(field(11)? + field(12)?)
}

/// Clock ticks per second, the unit of [`cpu_ticks`].
pub fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf takes an integer name and touches no memory of ours.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// utime + stime of a process as a duration.
pub fn cpu_time(pid: i32) -> std::io::Result<Duration> {
    Ok(Duration::from_secs_f64(cpu_ticks(pid)? as f64 / ticks_per_sec()))
}

/// How many threads the process has.
pub fn threads(pid: i32) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/task"))?.count())
}

/// Samples a process's VmRSS every 50 ms on a thread and keeps the
/// largest; stops when dropped.
pub struct RssSampler {
    pid: i32,
    max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often [`RssSampler`] reads VmRSS.
pub const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: i32) -> RssSampler {
        let max = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (max, stop) = (Arc::clone(&max), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_kib(pid) {
                        max.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(RSS_SAMPLE_INTERVAL);
                }
            })
        };
        RssSampler { pid, max, stop, thread: Some(thread) }
    }

    /// Starts a new window: the largest so far becomes the current VmRSS.
    pub fn reset(&self) {
        self.max.store(rss_kib(self.pid).unwrap_or(0), Ordering::Relaxed);
    }

    /// The largest VmRSS since the start or the last [`RssSampler::reset`],
    /// now included, in KiB.
    pub fn max(&self) -> u64 {
        let now = rss_kib(self.pid).unwrap_or(0);
        self.max.fetch_max(now, Ordering::Relaxed).max(now)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `cmd` (program, arguments and environment) run under GNU time, which
/// writes `format` (`%M` peak RSS in KiB, `%e` wall seconds, `%U %S` CPU)
/// to `report` (its last line). Measuring from the test itself does not
/// work: a child's ru_maxrss starts from its parent's high-water mark
/// (Linux carries it across exec), and GNU time is small.
pub fn under_gnu_time(
    cmd: &std::process::Command,
    format: &str,
    report: &std::path::Path,
) -> std::process::Command {
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed.env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            timed.env(key, value);
        }
    }
    timed.args(["-f", format, "-o"]).arg(report);
    timed.arg(cmd.get_program()).args(cmd.get_args());
    timed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> i32 {
        i32::try_from(std::process::id()).expect("pids fit in pid_t")
    }

    #[test]
    fn figures_of_this_process_are_plausible() {
        let rss = rss_kib(me()).expect("this process has a VmRSS");
        assert!(rss > 100, "{rss} KiB");
        assert!(status_kib(me(), "VmHWM:").unwrap() >= rss);
        assert_eq!(status_kib(me(), "NoSuchField:"), None);
        assert!(threads(me()).unwrap() >= 1);
        assert!((1.0..=10_000.0).contains(&ticks_per_sec()));
    }

    #[test]
    fn cpu_time_grows_with_work() {
        // Work until a tenth of a second of CPU time shows, however loaded
        // the machine is (a fixed wall time gets a varying CPU share);
        // the wall-time cap only keeps a broken counter from hanging.
        let before = cpu_ticks(me()).unwrap();
        let wanted = (0.1 * ticks_per_sec()).ceil() as u64;
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut spent = 0;
        while spent < wanted && start.elapsed() < Duration::from_secs(60) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            spent = cpu_ticks(me()).unwrap() - before;
        }
        assert!(spent >= wanted, "{spent} ticks after a minute of work");
        assert!(cpu_time(me()).unwrap() >= Duration::from_secs_f64(spent as f64 / ticks_per_sec()));
    }

    #[test]
    fn a_gone_process_has_no_figures() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        child.wait().unwrap();
        assert_eq!(rss_kib(pid), None);
        assert!(cpu_ticks(pid).is_err());
    }

    #[test]
    fn the_sampler_sees_memory_that_came_and_went() {
        let sampler = RssSampler::start(me());
        sampler.reset();
        let base = sampler.max();
        // 64 MiB touched, held for a few samples, then freed.
        let block = vec![1u8; 64 << 20];
        std::thread::sleep(RSS_SAMPLE_INTERVAL * 4);
        assert_eq!(std::hint::black_box(&block).iter().step_by(4096).count(), 16384);
        drop(block);
        assert!(sampler.max() >= base + 60 * 1024, "max {} from {base}", sampler.max());
    }
}
