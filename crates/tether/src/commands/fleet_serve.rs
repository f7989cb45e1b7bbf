//! `tether fleet serve`: fleet checks as a Prometheus multi-target
//! exporter, in blackbox_exporter's style. `GET /probe?target=T&module=M`
//! checks one host with the checks file `M` and answers its
//! `tether_fleet_*` series; `GET /metrics` answers the exporter's own
//! counters. Prometheus schedules, shards and retries; each probe is one
//! host over the exporter's one shared QUIC endpoint.
//!
//! The HTTP side is the least a scraper needs: one `GET` per connection,
//! a request head of at most [`MAX_REQUEST_HEAD`] bytes read within
//! [`REQUEST_TIMEOUT`], `Connection: close` answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tether_client::Connector;
use tether_client::fleet::{
    CheckSet, FleetHost, HostReport, Inventory, RunOptions, Selection, runner,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::fleet_prometheus::Prometheus;
use crate::cli::{GlobalArgs, ServeArgs};

/// Largest request head read: a GET line and a scraper's few headers.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What every request handler shares.
struct Exporter {
    connector: Connector,
    modules: BTreeMap<String, Arc<CheckSet>>,
    inventory: Inventory,
    probes: Semaphore,
    concurrency: usize,
    counts: Mutex<ProbeCounts>,
}

/// The exporter's own tally, for `/metrics`.
#[derive(Debug, Clone, Default)]
struct ProbeCounts {
    /// Probes answered by module and host status.
    answered: BTreeMap<(String, &'static str), u64>,
    /// Seconds spent probing.
    seconds: f64,
}

pub async fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut modules = BTreeMap::new();
    for spec in &args.modules {
        let (name, file) = spec
            .split_once('=')
            .filter(|(n, f)| !n.is_empty() && !f.is_empty())
            .with_context(|| format!("--module {spec:?}: write NAME=FILE"))?;
        modules.insert(name.to_owned(), Arc::new(load_checks(Path::new(file))?));
    }
    modules.entry("default".to_owned()).or_insert_with(|| Arc::new(CheckSet::default()));
    let inventory = match &args.inventory {
        Some(path) => Inventory::load(path)?,
        None => Inventory::default(),
    };
    let longest = modules.values().map(|m| m.deadline_secs).fold(1.0, f64::max);
    let mut options = global.connect_options()?;
    options.hosts_file = None;
    options.server_name = None;
    options.timeout = Duration::from_secs_f64(longest);
    let connector =
        Connector::new(options).map_err(crate::connect::with_flags)?.with_shared_endpoint();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let concurrency = args.concurrency as usize;
    let exporter = Arc::new(Exporter {
        connector,
        modules,
        inventory,
        probes: Semaphore::new(concurrency),
        concurrency,
        counts: Mutex::default(),
    });
    println!("tether fleet serve listening on {}", listener.local_addr()?);
    let term = terminate_requested()?;
    tokio::pin!(term);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, Arc::clone(&exporter)));
                }
                Err(e) => tracing::warn!("accept failed: {e}"),
            },
            _ = tokio::signal::ctrl_c() => break,
            () = &mut term => break,
        }
    }
    exporter.connector.close_shared(Duration::from_millis(200)).await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM, how a service manager stops the exporter on Unix;
/// Windows has only Ctrl+C, which the loop watches beside this.
#[cfg(unix)]
fn terminate_requested() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        term.recv().await;
    })
}

#[cfg(not(unix))]
fn terminate_requested() -> anyhow::Result<std::future::Pending<()>> {
    Ok(std::future::pending())
}

fn load_checks(path: &Path) -> anyhow::Result<CheckSet> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the checks file {}", path.display()))?;
    CheckSet::parse(&text)
        .map_err(|e| anyhow::anyhow!("invalid checks file {}: {e}", path.display()))
}

/// Reads one request, answers it, closes. A client that sends too much
/// or too slowly gets 400 or nothing.
async fn answer(mut stream: TcpStream, exporter: Arc<Exporter>) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if read != Ok(true) {
        return;
    }
    let (status, body) = match request_target(&head) {
        Some(target) => route(&exporter, &target).await,
        None => ("400 Bad Request", "only GET requests are served\n".to_owned()),
    };
    let content_type = match status {
        "200 OK" => "text/plain; version=0.0.4; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The path and query of a `GET` request head.
fn request_target(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Some(target.to_owned())
        }
        _ => None,
    }
}

async fn route(exporter: &Exporter, target: &str) -> (&'static str, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/metrics" => ("200 OK", own_metrics(exporter)),
        "/probe" => probe(exporter, query).await,
        "/" => {
            ("200 OK", "tether fleet exporter: /probe?target=HOST&module=NAME, /metrics\n".into())
        }
        _ => ("404 Not Found", "not found\n".into()),
    }
}

async fn probe(exporter: &Exporter, query: &str) -> (&'static str, String) {
    let Some(target) = query_param(query, "target").filter(|t| !t.is_empty()) else {
        return ("400 Bad Request", "target is required\n".into());
    };
    let module = query_param(query, "module").unwrap_or_else(|| "default".into());
    let Some(set) = exporter.modules.get(&module) else {
        return ("400 Bad Request", format!("unknown module {module:?}\n"));
    };
    let host = match fleet_host(&exporter.inventory, &target) {
        Ok(host) => host,
        Err(why) => return ("400 Bad Request", format!("{why}\n")),
    };
    // The semaphore is never closed, so acquiring only waits.
    let Ok(_permit) = exporter.probes.acquire().await else {
        return ("503 Service Unavailable", "shutting down\n".into());
    };
    let started = Instant::now();
    let mut report: Option<HostReport> = None;
    let options = RunOptions::new(set, 1);
    runner::run(&exporter.connector, [host], Arc::clone(set), options, |r| report = Some(r)).await;
    let Some(report) = report else {
        return ("500 Internal Server Error", "the probe produced no report\n".into());
    };
    {
        let mut counts = exporter.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.answered.entry((module, report.status.as_str())).or_default() += 1;
        counts.seconds += started.elapsed().as_secs_f64();
    }
    let mut prometheus = Prometheus::in_memory();
    let mut body = Vec::new();
    match prometheus.host(&report).and_then(|()| prometheus.write(&mut body)) {
        Ok(()) => ("200 OK", String::from_utf8_lossy(&body).into_owned()),
        Err(e) => ("500 Internal Server Error", format!("{e}\n")),
    }
}

/// An inventory alias, or `host[:port]` whose certificate carries `host`.
fn fleet_host(inventory: &Inventory, target: &str) -> Result<FleetHost, String> {
    let selection = Selection { hosts: vec![target.to_owned()], ..Selection::default() };
    if let Ok(mut hosts) = inventory.select(&selection)
        && let Some(host) = hosts.pop()
    {
        return Ok(host);
    }
    let (name, _) = tether_client::hosts::split_host_port(target).map_err(|e| e.to_string())?;
    Ok(FleetHost { alias: target.to_owned(), address: target.to_owned(), server_name: name })
}

fn own_metrics(exporter: &Exporter) -> String {
    let ProbeCounts { answered, seconds } =
        exporter.counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = String::from(
        "# HELP tether_fleet_exporter_probes_total Probes answered, by module and host status.\n\
         # TYPE tether_fleet_exporter_probes_total counter\n",
    );
    for ((module, status), n) in &answered {
        let module = module.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = writeln!(
            out,
            "tether_fleet_exporter_probes_total{{module=\"{module}\",status=\"{status}\"}} {n}"
        );
    }
    let running = exporter.concurrency - exporter.probes.available_permits();
    let _ = write!(
        out,
        "# HELP tether_fleet_exporter_probe_duration_seconds_total Time spent probing.\n\
         # TYPE tether_fleet_exporter_probe_duration_seconds_total counter\n\
         tether_fleet_exporter_probe_duration_seconds_total {seconds}\n\
         # HELP tether_fleet_exporter_probes_in_flight Probes running now.\n\
         # TYPE tether_fleet_exporter_probes_in_flight gauge\n\
         tether_fleet_exporter_probes_in_flight {running}\n"
    );
    out
}

/// A query parameter, percent-decoded (`+` is a space); `None` when it
/// is absent or its encoding is broken.
fn query_param(query: &str, key: &str) -> Option<String> {
    let raw = query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let q = "target=127.0.0.1%3A7433&module=quick+set&empty=";
        assert_eq!(query_param(q, "target").as_deref(), Some("127.0.0.1:7433"));
        assert_eq!(query_param(q, "module").as_deref(), Some("quick set"));
        assert_eq!(query_param(q, "empty").as_deref(), Some(""));
        assert_eq!(query_param(q, "nope"), None);
        assert_eq!(query_param("target=%zz", "target"), None);
        assert_eq!(query_param("target=%4", "target"), None);
    }

    #[test]
    fn only_get_request_lines_are_taken() {
        assert_eq!(
            request_target(b"GET /probe?target=x HTTP/1.1\r\nHost: a\r\n\r\n").as_deref(),
            Some("/probe?target=x")
        );
        assert_eq!(request_target(b"POST /probe HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target(b"GET /probe\r\n\r\n"), None);
        assert_eq!(request_target(b"\xff\xfe\r\n\r\n"), None);
    }

    #[test]
    fn targets_are_aliases_or_addresses() {
        let inventory =
            Inventory::parse("[hosts.ws-1]\naddress = \"10.0.0.1:7433\"\nname = \"agent-one\"\n")
                .unwrap();
        let alias = fleet_host(&inventory, "ws-1").unwrap();
        assert_eq!(
            (alias.address.as_str(), alias.server_name.as_str()),
            ("10.0.0.1:7433", "agent-one")
        );
        let plain = fleet_host(&inventory, "pc-9.lan:7000").unwrap();
        assert_eq!(
            (plain.address.as_str(), plain.server_name.as_str()),
            ("pc-9.lan:7000", "pc-9.lan")
        );
        assert!(fleet_host(&inventory, "pc:port").is_err());
    }
}
