//! `tether fleet serve` as Prometheus sees it: probes and its own
//! metrics over plain HTTP, then a real `prometheus` server (Debian
//! package, installed by packaging/deps.sh) scraping it with the
//! relabelling README.md documents, and the series in its query API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tether_tests::{Reaped, start_exporter, tether_as};

use crate::fleet::{CALM, Fleet, json, parse_prometheus};

/// `GET path` over HTTP/1.0; the status code and the body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("a reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status line");
    (status, body.to_owned())
}

/// A free loopback TCP port (released again; a race with another process
/// taking it is possible but rare).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn prometheus_scrapes_the_exporter_and_the_series_appear() {
    let fleet = Fleet::start(3);
    let quick = fleet.dir.path().join("quick.toml");
    std::fs::write(&quick, format!("deadline_secs = 0.8\nretries = 0\n{CALM}")).unwrap();
    let mut cmd = tether_as(&fleet.probe, fleet.dir.path());
    cmd.args(["fleet", "serve", "--listen", "127.0.0.1:0", "--inventory"]).arg(&fleet.inventory);
    cmd.arg("--module").arg(format!("quick={}", quick.display()));
    let (_exporter, addr) = start_exporter(cmd);

    let (status, body) = http_get(&addr, "/probe?target=sim-00001&module=quick");
    assert_eq!(status, 200, "{body}");
    let samples = parse_prometheus(&body);
    assert_eq!(
        samples["tether_fleet_host_up"],
        [("tether_fleet_host_up{host=\"sim-00001\"}".to_owned(), 1.0)]
    );
    assert_eq!(samples["tether_fleet_host_status"][0].1, 0.0, "{body}");
    assert_eq!(http_get(&addr, "/probe?target=sim-00001&module=nope").0, 400);
    assert_eq!(http_get(&addr, "/probe?module=quick").0, 400);
    assert_eq!(http_get(&addr, "/nowhere").0, 404);
    let (status, own) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        own.contains("tether_fleet_exporter_probes_total{module=\"quick\",status=\"OK\"} 1"),
        "{own}"
    );

    let port = free_port();
    let config = fleet.dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
             - job_name: tether_fleet\n  metrics_path: /probe\n  params:\n    module: [quick]\n\
             \x20 static_configs:\n    - targets: [sim-00000, sim-00001, sim-00002]\n\
             \x20 relabel_configs:\n\
             \x20   - source_labels: [__address__]\n      target_label: __param_target\n\
             \x20   - source_labels: [__param_target]\n      target_label: instance\n\
             \x20   - target_label: __address__\n      replacement: {addr}\n\
             - job_name: tether_fleet_exporter\n  static_configs:\n    - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let prometheus = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", fleet.dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus runs: install the Debian package prometheus (packaging/deps.sh)");
    let _prometheus = Reaped(prometheus);
    let api = format!("127.0.0.1:{port}");
    let query = |q: &str| -> Option<Vec<serde_json::Value>> {
        // Until Prometheus listens, there is nothing to ask.
        TcpStream::connect(&api).ok()?;
        let (status, body) = http_get(&api, &format!("/api/v1/query?query={q}"));
        (status == 200)
            .then(|| json(&body)["data"]["result"].as_array().cloned().unwrap_or_default())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let up = loop {
        if let Some(result) = query("tether_fleet_host_up").filter(|r| r.len() == 3) {
            break result;
        }
        assert!(Instant::now() < deadline, "no tether_fleet_host_up series for 3 hosts in time");
        std::thread::sleep(Duration::from_millis(500));
    };
    for series in &up {
        assert_eq!(series["metric"]["job"], "tether_fleet", "{series}");
        assert_eq!(series["value"][1], "1", "{series}");
    }
    let hosts: Vec<&str> = up.iter().map(|s| s["metric"]["instance"].as_str().unwrap()).collect();
    for want in ["sim-00000", "sim-00001", "sim-00002"] {
        assert!(hosts.contains(&want), "{hosts:?}");
    }
    let own = loop {
        if let Some(result) = query("tether_fleet_exporter_probes_total").filter(|r| !r.is_empty())
        {
            break result;
        }
        assert!(Instant::now() < deadline, "the exporter's own metrics were not scraped");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(own.iter().any(|s| s["metric"]["module"] == "quick"), "{own:?}");
}
