//! `tether fleet inventory` and `tether fleet check`: the fleet runner of
//! `tether_client::fleet`, rendered as a table, JSON, JSON lines,
//! Prometheus text or a Nagios line, written atomically when to a file.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tether_client::Connector;
use tether_client::exit::{CheckStatus, Outcome};
use tether_client::fleet::runner::{self, DEFAULT_CONCURRENCY};
use tether_client::fleet::{CheckSet, HostReport, Inventory, RunOptions, Selection, Summary};

use super::fleet_prometheus::Prometheus;
use crate::cli::{CheckArgs, FleetFormat, GlobalArgs};
use crate::render::{self, Align};

/// `tether fleet inventory --from-list FILE`.
pub fn inventory(
    list: &Path,
    groups: &[String],
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(list)
        .with_context(|| format!("cannot read the host list {}", list.display()))?;
    let plain = Inventory::from_list(&text).with_context(|| format!("in {}", list.display()))?;
    let mut inventory = Inventory::default();
    for (alias, host) in plain.iter() {
        let mut host = host.clone();
        host.groups = groups.to_vec();
        inventory.insert(alias.clone(), host);
    }
    let mut sink = Sink::open(output)?;
    sink.write_all(inventory.to_toml().as_bytes())?;
    sink.commit()?;
    if output.is_some() {
        eprintln!("{} hosts written", inventory.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// `tether fleet check`.
pub async fn check(global: &GlobalArgs, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let set = match &args.checks {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the checks file {}", path.display()))?;
            CheckSet::parse(&text)
                .map_err(|e| anyhow::anyhow!("invalid checks file {}: {e}", path.display()))?
        }
        None => CheckSet::default(),
    };
    let inventory = Inventory::load(&args.inventory)?;
    let selection = Selection { hosts: args.only_hosts, groups: args.groups, tags: args.tags };
    let hosts = inventory.select(&selection)?;
    anyhow::ensure!(!hosts.is_empty(), "no host of {} is selected", args.inventory.display());
    let total = hosts.len();

    let mut options = global.connect_options()?;
    // The inventory names every host and its certificate name.
    options.hosts_file = None;
    options.server_name = None;
    options.timeout = Duration::from_secs_f64(set.deadline_secs);
    let connector =
        Connector::new(options).map_err(crate::connect::with_flags)?.with_shared_endpoint();
    let run_options =
        RunOptions::new(&set, args.concurrency.try_into().unwrap_or(DEFAULT_CONCURRENCY));

    let mut sink = Sink::open(args.output.as_deref())?;
    let mut render = Render::new(args.format)?;
    let mut summary = Summary::default();
    let mut progress = Progress::new(total);
    let mut failed: Option<io::Error> = None;
    let started = Instant::now();
    runner::run(&connector, hosts, Arc::new(set), run_options, |report| {
        summary.add(&report);
        progress.tick(&summary);
        if failed.is_none()
            && let Err(e) = render.host(&mut sink, report)
        {
            failed = Some(e);
        }
    })
    .await;
    connector.close_shared(Duration::from_millis(200)).await;
    progress.clear();
    summary.wall_seconds = started.elapsed().as_secs_f64();
    if let Some(e) = failed {
        return Err(e).context("cannot write the output");
    }
    render.finish(&mut sink, &summary).context("cannot write the output")?;
    sink.commit()?;
    if args.exit_zero {
        return Ok(ExitCode::SUCCESS);
    }
    Ok(Outcome::Check(summary.worst).into())
}

/// Where output goes: stdout, or a temporary file beside the target that
/// replaces it only once complete, so a reader (node_exporter's textfile
/// collector) never sees half a file.
enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File { temp: BufWriter<tempfile::NamedTempFile>, path: PathBuf },
}

impl Sink {
    fn open(path: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(path) = path else { return Ok(Sink::Stdout(BufWriter::new(io::stdout()))) };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(Sink::File { temp: BufWriter::new(temp), path: path.to_owned() })
    }

    fn commit(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut out) => Ok(out.flush()?),
            Sink::File { temp, path } => {
                let temp = temp.into_inner().map_err(|e| e.into_error())?;
                // Readable by the collector that picks it up.
                tether_os::files::set_mode(temp.path(), 0o644)?;
                temp.as_file().sync_all()?;
                temp.persist(&path).with_context(|| format!("cannot write {}", path.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File { temp, .. } => temp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File { temp, .. } => temp.flush(),
        }
    }
}

/// Reports as each format wants them: kept (table, JSON, Nagios, which
/// sort or wrap), written at once (JSON lines) or spooled per metric
/// family (Prometheus).
enum Render {
    Table(Vec<HostReport>),
    Json(Vec<HostReport>),
    Jsonl,
    Prometheus(Prometheus),
    Nagios(Vec<HostReport>),
}

impl Render {
    fn new(format: FleetFormat) -> io::Result<Render> {
        Ok(match format {
            FleetFormat::Table => Render::Table(Vec::new()),
            FleetFormat::Json => Render::Json(Vec::new()),
            FleetFormat::Jsonl => Render::Jsonl,
            FleetFormat::Prometheus => Render::Prometheus(Prometheus::new()?),
            FleetFormat::Nagios => Render::Nagios(Vec::new()),
        })
    }

    fn host(&mut self, out: &mut dyn Write, report: HostReport) -> io::Result<()> {
        match self {
            Render::Json(all) => all.push(report),
            // People and Nagios see the hosts that need attention; the
            // summary counts the rest.
            Render::Table(bad) | Render::Nagios(bad) if report.status != CheckStatus::Ok => {
                bad.push(report)
            }
            Render::Table(_) | Render::Nagios(_) => {}
            Render::Jsonl => {
                serde_json::to_writer(&mut *out, &report)?;
                out.write_all(b"\n")?;
            }
            Render::Prometheus(p) => p.host(&report)?,
        }
        Ok(())
    }

    fn finish(self, out: &mut dyn Write, summary: &Summary) -> io::Result<()> {
        match self {
            Render::Table(mut bad) => {
                sort_worst_first(&mut bad);
                out.write_all(table(&bad, summary).as_bytes())
            }
            Render::Json(mut all) => {
                all.sort_by(|a, b| a.host.cmp(&b.host));
                let doc = serde_json::json!({ "summary": summary, "hosts": all });
                serde_json::to_writer_pretty(&mut *out, &doc)?;
                out.write_all(b"\n")
            }
            Render::Jsonl => {
                serde_json::to_writer(&mut *out, &serde_json::json!({ "summary": summary }))?;
                out.write_all(b"\n")
            }
            Render::Prometheus(p) => p.finish(out, summary),
            Render::Nagios(mut bad) => {
                sort_worst_first(&mut bad);
                out.write_all(nagios(&bad, summary).as_bytes())
            }
        }
    }
}

fn sort_worst_first(reports: &mut [HostReport]) {
    reports.sort_by(|a, b| b.status.cmp(&a.status).then_with(|| a.host.cmp(&b.host)));
}

/// The first check that is not OK, in words.
fn first_problem(r: &HostReport) -> String {
    r.checks
        .iter()
        .find(|c| c.status != CheckStatus::Ok)
        .map_or_else(String::new, |c| format!("{}: {}", c.check, c.message))
}

fn table(bad: &[HostReport], s: &Summary) -> String {
    let mut out = String::new();
    if !bad.is_empty() {
        let rows: Vec<Vec<String>> = bad
            .iter()
            .map(|r| {
                vec![
                    r.host.clone(),
                    r.status.as_str().to_owned(),
                    r.cause.map_or("", |c| c.as_str()).to_owned(),
                    format!("{:.2}", r.duration_seconds),
                    render::ellipsize(&first_problem(r), 100),
                ]
            })
            .collect();
        let headers = [
            ("HOST", Align::Left),
            ("STATUS", Align::Left),
            ("CAUSE", Align::Left),
            ("SECS", Align::Right),
            ("PROBLEM", Align::Left),
        ];
        out.push_str(&render::table(&headers, &rows));
        out.push('\n');
    }
    out.push_str(&format!(
        "{} hosts in {:.2} s: {} OK, {} WARNING, {} CRITICAL, {} UNKNOWN\n",
        s.hosts, s.wall_seconds, s.ok, s.warning, s.critical, s.unknown
    ));
    if !s.failures.is_empty() {
        out.push_str("Not OK, by cause:\n");
        for (cause, group) in &s.failures {
            let names: Vec<&str> = group.examples.iter().map(|(h, _)| h.as_str()).collect();
            let more = if group.hosts > names.len() { ", …" } else { "" };
            let line =
                format!("{:<15} {:>6}  {}{more}", cause.as_str(), group.hosts, names.join(", "));
            render::indent(&mut out, &render::remote(&line));
        }
    }
    let slowest: Vec<String> = s
        .slowest
        .iter()
        .map(|(host, secs)| format!("{} {secs:.2} s", render::remote(host)))
        .collect();
    out.push_str(&format!("Slowest: {}\n", slowest.join(", ")));
    out
}

fn nagios(bad: &[HostReport], s: &Summary) -> String {
    let mut out = format!(
        "TETHER FLEET {} - {} hosts: {} OK, {} WARNING, {} CRITICAL, {} UNKNOWN | hosts={} ok={} \
         warning={} critical={} unknown={} duration={:.3}s\n",
        s.worst.as_str(),
        s.hosts,
        s.ok,
        s.warning,
        s.critical,
        s.unknown,
        s.hosts,
        s.ok,
        s.warning,
        s.critical,
        s.unknown,
        s.wall_seconds,
    );
    for r in bad {
        // Nagios takes `|` as the start of performance data.
        let line = format!("{} {}: {}", r.status.as_str(), r.host, first_problem(r));
        out.push_str(&render::remote(&line).replace('|', "/"));
        out.push('\n');
    }
    out
}

/// A one-line count on stderr while hosts finish, only on a terminal.
struct Progress {
    total: usize,
    shown: Option<Instant>,
    on: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress { total, shown: None, on: io::stderr().is_terminal() }
    }

    fn tick(&mut self, s: &Summary) {
        let due = self.shown.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if self.on && (due || s.hosts == self.total) {
            self.shown = Some(Instant::now());
            let not_ok = s.hosts - s.ok;
            eprint!("\r\x1b[K{}/{} hosts checked, {not_ok} not OK", s.hosts, self.total);
        }
    }

    fn clear(&self) {
        if self.on && self.shown.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}
