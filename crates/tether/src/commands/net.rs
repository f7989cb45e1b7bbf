//! `tether net HOST`: network checks from the user's machine, ending in a
//! layered verdict. A check command: exits 0 when every layer works, 1
//! (WARNING) when they work with warnings, 2 (CRITICAL) naming the first
//! layer that fails, 3 (UNKNOWN) when the checks could not run.

use serde::Serialize;

use tether_client::Session;
use tether_client::diagnostics::LinkQuality;
use tether_client::exit::{CheckStatus, Outcome};
use tether_proto::net::{DnsOutcome, NetCheckRequest, NetReport, PingMethod, TcpOutcome};

use super::Done;
use crate::render::{self, Align, table};

/// The `--json` document: the agent's report, plus the link when measured.
#[derive(Debug, Serialize)]
struct NetOutput<'a> {
    #[serde(flatten)]
    report: &'a NetReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<LinkQuality>,
}

/// Runs the network checks on `session` (and the link measurement when
/// `throughput_bytes` is given) and prints the report.
pub async fn on(
    session: &Session,
    request: NetCheckRequest,
    throughput_bytes: Option<u64>,
    json: bool,
) -> anyhow::Result<Done> {
    let agent = &session.welcome().agent_name;
    let report = session.net(request).await?;
    let link = match throughput_bytes {
        Some(bytes) => Some(session.link_quality(bytes).await?),
        None => None,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&NetOutput { report: &report, link })?);
    } else {
        print!("{}", human(agent, &report));
        if let Some(link) = &link {
            print!("{}", human_link(link));
        }
    }
    let status = CheckStatus::of_verdict(&report.verdict);
    Ok(Done::new(Outcome::Check(status), summary(&report)))
}

/// "net: DNS layer failed", "net: OK", "net: OK with 1 warning".
fn summary(r: &NetReport) -> String {
    let v = &r.verdict;
    match (v.failing_layer, v.warnings.len()) {
        (Some(layer), _) => format!("net: {} layer failed", layer.as_str()),
        (None, 0) => "net: OK".to_owned(),
        (None, 1) => "net: OK with 1 warning".to_owned(),
        (None, n) => format!("net: OK with {n} warnings"),
    }
}

fn human_link(l: &LinkQuality) -> String {
    let rate = |mbit: f64| {
        if mbit >= 1000.0 {
            format!("{:.2} Gbit/s", mbit / 1000.0)
        } else {
            format!("{mbit:.1} Mbit/s")
        }
    };
    let mib = l.bytes >> 20;
    format!(
        "Link to this technician (over the session)\n  rtt       {:.2} ms\n  \
         download  agent → technician  {mib} MiB in {:.3} s = {}\n  \
         upload    technician → agent  {mib} MiB in {:.3} s = {}\n",
        l.rtt_ms,
        l.download_secs,
        rate(l.download_mbit_per_sec),
        l.upload_secs,
        rate(l.upload_mbit_per_sec)
    )
}

fn ms(v: f32) -> String {
    if v < 10.0 { format!("{v:.1} ms") } else { format!("{v:.0} ms") }
}

fn opt_ms(v: Option<f32>) -> String {
    v.map_or_else(|| "-".to_owned(), ms)
}

/// The report for people. Tables escape their cells; every other string
/// from the agent goes through [`render::remote`] here.
pub fn human(agent: &str, r: &NetReport) -> String {
    let mut out = format!("Network as seen from {}\n", render::remote(agent));
    out.push_str("Link\n");
    let links: Vec<Vec<String>> = r
        .links
        .iter()
        .map(|l| {
            vec![l.name.clone(), if l.up { "up" } else { "DOWN" }.into(), l.addresses.join(" ")]
        })
        .collect();
    render::indent(
        &mut out,
        &table(
            &[("IFACE", Align::Left), ("LINK", Align::Left), ("ADDRESSES", Align::Left)],
            &links,
        ),
    );

    let gateway = match &r.gateway {
        None => "no default route".to_owned(),
        Some(g) => {
            let arp = if g.neighbour_known {
                "in the neighbour table"
            } else {
                "not in the neighbour table"
            };
            let ping = match &g.ping {
                None => "not probed".to_owned(),
                Some(p) => {
                    format!("ping {}/{} answered, avg {}", p.received, p.sent, opt_ms(p.rtt_avg_ms))
                }
            };
            format!("{} on {} ({arp}); {ping}", g.address, g.interface)
        }
    };
    out.push_str(&format!("Gateway    {}\n", render::remote(&gateway)));
    let resolvers =
        if r.resolvers.is_empty() { "none configured".to_owned() } else { r.resolvers.join(", ") };
    out.push_str(&format!("Resolvers  {}\n", render::remote(&resolvers)));
    let proxies: Vec<String> =
        r.proxies.iter().map(|p| format!("{}={}", p.variable, p.value)).collect();
    out.push_str(&format!(
        "Proxy      {}\n",
        if proxies.is_empty() {
            "none".to_owned()
        } else {
            render::remote(&proxies.join(" ")).into_owned()
        }
    ));

    if !r.dns.is_empty() {
        out.push_str("DNS\n");
        let rows: Vec<Vec<String>> = r
            .dns
            .iter()
            .map(|d| {
                let result = match &d.outcome {
                    DnsOutcome::Resolved(a) => a.join(" "),
                    DnsOutcome::NxDomain => "NXDOMAIN (no such name)".into(),
                    DnsOutcome::NoAddress => "no address records".into(),
                    DnsOutcome::Timeout => "TIMEOUT (no answer)".into(),
                    DnsOutcome::Failed(why) => format!("FAILED: {why}"),
                };
                vec![d.name.clone(), d.resolver.clone(), ms(d.millis), result]
            })
            .collect();
        let headers = [
            ("NAME", Align::Left),
            ("RESOLVER", Align::Left),
            ("TIME", Align::Right),
            ("RESULT", Align::Left),
        ];
        render::indent(&mut out, &table(&headers, &rows));
    }
    if !r.tcp.is_empty() {
        out.push_str("TCP\n");
        let rows: Vec<Vec<String>> = r
            .tcp
            .iter()
            .map(|t| {
                let result = match &t.outcome {
                    TcpOutcome::Connected { address } => format!("connected to {address}"),
                    TcpOutcome::Refused { address } => {
                        format!("REFUSED by {address} (nothing listens)")
                    }
                    TcpOutcome::Timeout => "TIMEOUT (no answer)".into(),
                    TcpOutcome::Unresolved(why) => format!("UNRESOLVED: {why}"),
                    TcpOutcome::Failed(why) => format!("FAILED: {why}"),
                };
                vec![t.target.clone(), ms(t.millis), result]
            })
            .collect();
        render::indent(
            &mut out,
            &table(
                &[("TARGET", Align::Left), ("TIME", Align::Right), ("RESULT", Align::Left)],
                &rows,
            ),
        );
    }
    if !r.http.is_empty() {
        out.push_str("HTTP\n");
        let rows: Vec<Vec<String>> = r
            .http
            .iter()
            .map(|h| {
                let result = match (&h.error, h.status) {
                    (Some(e), _) => format!("FAILED: {e}"),
                    (None, Some(code)) => code.to_string(),
                    (None, None) => "-".into(),
                };
                let cert = h.certificate.as_ref().map_or_else(
                    || "-".to_owned(),
                    |c| format!("valid, expires in {} days", c.days_left),
                );
                vec![
                    h.url.clone(),
                    opt_ms(h.dns_ms),
                    opt_ms(h.connect_ms),
                    opt_ms(h.tls_ms),
                    opt_ms(h.first_byte_ms),
                    cert,
                    result,
                ]
            })
            .collect();
        let headers = [
            ("URL", Align::Left),
            ("DNS", Align::Right),
            ("CONNECT", Align::Right),
            ("TLS", Align::Right),
            ("1ST BYTE", Align::Right),
            ("CERTIFICATE", Align::Left),
            ("RESULT", Align::Left),
        ];
        render::indent(&mut out, &table(&headers, &rows));
        out.push_str("  (times are cumulative from the start of each request)\n");
    }
    if !r.ping.is_empty() {
        out.push_str("Ping\n");
        let rows: Vec<Vec<String>> = r
            .ping
            .iter()
            .map(|p| {
                let method = match p.method {
                    PingMethod::Icmp => "ICMP".to_owned(),
                    PingMethod::TcpConnect { port } => format!("TCP/{port} (ICMP not permitted)"),
                };
                let rtt = match (p.rtt_min_ms, p.rtt_avg_ms, p.rtt_max_ms) {
                    (Some(a), Some(b), Some(c)) => format!("{a:.2}/{b:.2}/{c:.2} ms"),
                    _ => p.error.clone().unwrap_or_else(|| "-".into()),
                };
                vec![p.target.clone(), method, format!("{:.0}%", p.loss_percent()), rtt]
            })
            .collect();
        let headers = [
            ("TARGET", Align::Left),
            ("METHOD", Align::Left),
            ("LOSS", Align::Right),
            ("MIN/AVG/MAX", Align::Left),
        ];
        render::indent(&mut out, &table(&headers, &rows));
    }
    let status = CheckStatus::of_verdict(&r.verdict).as_str();
    out.push_str(&format!("Verdict    {status} — {}\n", render::remote(&r.verdict.summary)));
    for warning in &r.verdict.warnings {
        out.push_str(&format!("  warning  {}\n", render::remote(warning)));
    }
    out
}
