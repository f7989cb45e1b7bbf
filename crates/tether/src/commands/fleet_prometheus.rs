//! `tether fleet check --format prometheus`: the text exposition format,
//! streamed with bounded memory.
//!
//! The format wants each metric family's samples together under one
//! HELP/TYPE header, while hosts finish in any order. Each family's
//! samples are therefore spooled to its own temporary file as hosts
//! finish, and the families are written out one after another at the end:
//! memory stays constant whatever the fleet's size.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};

use tether_client::exit::CheckStatus;
use tether_client::fleet::{HostReport, Summary};

/// Metric families: name, help text. All are gauges.
const FAMILIES: &[(&str, &str)] = &[
    ("tether_fleet_host_up", "Whether the agent was reached and answered (1) or not (0)."),
    (
        "tether_fleet_host_status",
        "The host's worst check status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    ),
    ("tether_fleet_check_status", "Each check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."),
    ("tether_fleet_probe_duration_seconds", "Time spent on the host, retries included."),
    ("tether_fleet_handshake_seconds", "QUIC and TLS handshake time."),
    ("tether_fleet_cert_expiry_seconds", "Time until the agent's certificate expires."),
    ("tether_fleet_load1_per_cpu", "1-minute load average divided by the logical CPUs."),
    ("tether_fleet_memory_used_ratio", "Memory in use (total less available) over total."),
    ("tether_fleet_filesystem_used_ratio", "Filesystem space in use, as df's Use%, over 1."),
    ("tether_fleet_filesystem_inodes_used_ratio", "Filesystem inodes in use over the total."),
    ("tether_fleet_clock_skew_seconds", "The agent's clock minus the controller's."),
    ("tether_fleet_hosts", "Hosts of this run by status."),
    ("tether_fleet_run_duration_seconds", "Wall time of the whole run."),
];

fn family(name: &str) -> usize {
    // Every name passed below is in FAMILIES (a test checks each).
    FAMILIES.iter().position(|(n, _)| *n == name).unwrap_or(0)
}

/// Where one family's samples wait: a temporary file for a whole fleet,
/// memory for one host (the exporter's probe).
enum Spool {
    File(BufWriter<File>),
    Memory(Vec<u8>),
}

impl Spool {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Spool::File(file) => file,
            Spool::Memory(bytes) => bytes,
        }
    }

    /// Whether no sample was spooled.
    fn is_empty(&mut self) -> io::Result<bool> {
        match self {
            Spool::Memory(bytes) => Ok(bytes.is_empty()),
            Spool::File(file) => {
                Ok(file.get_mut().stream_position()? == 0 && file.buffer().is_empty())
            }
        }
    }

    /// Copies the samples to `out`.
    fn copy_to(self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Spool::Memory(bytes) => out.write_all(&bytes),
            Spool::File(spool) => {
                let mut file = spool.into_inner().map_err(|e| e.into_error())?;
                file.rewind()?;
                io::copy(&mut file, out).map(drop)
            }
        }
    }
}

/// Spools samples per family; [`Prometheus::finish`] writes them out.
pub struct Prometheus {
    spools: Vec<Spool>,
}

impl Prometheus {
    /// Spooled to temporary files: memory stays flat for any fleet.
    pub fn new() -> io::Result<Prometheus> {
        let spools = FAMILIES
            .iter()
            .map(|_| tempfile::tempfile().map(|f| Spool::File(BufWriter::new(f))))
            .collect::<io::Result<_>>()?;
        Ok(Prometheus { spools })
    }

    /// Spooled in memory: for a few hosts, as one exporter probe checks.
    pub fn in_memory() -> Prometheus {
        Prometheus { spools: FAMILIES.iter().map(|_| Spool::Memory(Vec::new())).collect() }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> io::Result<()> {
        let out = self.spools[family(name)].writer();
        write!(out, "{name}")?;
        if !labels.is_empty() {
            out.write_all(b"{")?;
            for (i, (key, val)) in labels.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                write!(out, "{sep}{key}=\"{}\"", label_value(val))?;
            }
            out.write_all(b"}")?;
        }
        writeln!(out, " {}", number(value))
    }

    /// Spools one host's samples.
    pub fn host(&mut self, r: &HostReport) -> io::Result<()> {
        let host = [("host", r.host.as_str())];
        let up = r.checks.iter().any(|c| c.check == "reachability" && c.status == CheckStatus::Ok);
        self.sample("tether_fleet_host_up", &host, f64::from(u8::from(up)))?;
        self.sample("tether_fleet_host_status", &host, f64::from(r.status.exit_code()))?;
        self.sample("tether_fleet_probe_duration_seconds", &host, r.duration_seconds)?;
        for c in &r.checks {
            let labels = [("host", r.host.as_str()), ("check", c.check.as_str())];
            self.sample("tether_fleet_check_status", &labels, f64::from(c.status.exit_code()))?;
            let Some(value) = c.value else { continue };
            let (kind, subject) = c.check.split_once(':').unwrap_or((c.check.as_str(), ""));
            let mount = [("host", r.host.as_str()), ("mountpoint", subject)];
            match kind {
                "handshake" => self.sample("tether_fleet_handshake_seconds", &host, value)?,
                "cert_expiry" => {
                    self.sample("tether_fleet_cert_expiry_seconds", &host, value * 86_400.0)?
                }
                "load" => self.sample("tether_fleet_load1_per_cpu", &host, value)?,
                "memory" => self.sample("tether_fleet_memory_used_ratio", &host, value / 100.0)?,
                "disk" => {
                    self.sample("tether_fleet_filesystem_used_ratio", &mount, value / 100.0)?
                }
                "inodes" => {
                    self.sample("tether_fleet_filesystem_inodes_used_ratio", &mount, value / 100.0)?
                }
                "clock_skew" => self.sample("tether_fleet_clock_skew_seconds", &host, value)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes every family, header first, then the run's own series.
    pub fn finish(mut self, out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
        self.run_series(summary)?;
        self.write(out)
    }

    /// The whole run's series: hosts by status and the wall time.
    fn run_series(&mut self, summary: &Summary) -> io::Result<()> {
        for (status, count) in [
            ("OK", summary.ok),
            ("WARNING", summary.warning),
            ("CRITICAL", summary.critical),
            ("UNKNOWN", summary.unknown),
        ] {
            self.sample("tether_fleet_hosts", &[("status", status)], count as f64)?;
        }
        self.sample("tether_fleet_run_duration_seconds", &[], summary.wall_seconds)
    }

    /// Writes every family with samples, each under its HELP and TYPE.
    pub fn write(self, out: &mut dyn Write) -> io::Result<()> {
        for ((name, help), mut spool) in FAMILIES.iter().zip(self.spools) {
            if !spool.is_empty()? {
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge")?;
                spool.copy_to(out)?;
            }
        }
        Ok(())
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format asks.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".to_owned(),
        v if v == f64::INFINITY => "+Inf".to_owned(),
        v if v == f64::NEG_INFINITY => "-Inf".to_owned(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_name_is_conventional_and_unique() {
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            assert_eq!(family(name), i, "{name} is listed twice");
            assert!(name.starts_with("tether_fleet_") && !help.is_empty());
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }

    #[test]
    fn labels_and_numbers_follow_the_format() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1e21), "1000000000000000000000");
    }
}
