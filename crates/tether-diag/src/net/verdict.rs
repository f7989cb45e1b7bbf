//! The layered diagnosis a help desk walks through: link, gateway, DNS,
//! then the remote service. Pure: it reads a report and names the first
//! layer that fails, with the evidence for it.

use std::collections::BTreeMap;

use tether_proto::net::{DnsOutcome, HttpCheck, Layer, NetReport, TcpOutcome, Verdict};

/// Diagnoses a report whose checks have run.
pub fn verdict(r: &NetReport) -> Verdict {
    let service_failures = service_failures(r);
    let dns_failures = dns_failures(r);
    let any_failure = !service_failures.is_empty() || !dns_failures.is_empty();

    // Link: nothing but loopback is up, and something failed (or the
    // gateway check ran and so needed a link).
    let usable: Vec<&str> = r
        .links
        .iter()
        .filter(|l| l.up && l.name != "lo" && !l.addresses.is_empty())
        .map(|l| l.name.as_str())
        .collect();
    if usable.is_empty() && (any_failure || r.gateway.is_some()) {
        let down: Vec<&str> = r.links.iter().filter(|l| !l.up).map(|l| l.name.as_str()).collect();
        let detail =
            if down.is_empty() { String::new() } else { format!(" ({} down)", down.join(", ")) };
        return fail(
            Layer::Link,
            format!(
                "no network interface is up with an address{detail} → check the cable, Wi-Fi or VPN"
            ),
        );
    }

    if let Some(gw) = &r.gateway
        && let Some(ping) = &gw.ping
        && ping.received == 0
        && !gw.neighbour_known
    {
        return fail(
            Layer::Gateway,
            format!(
                "the default gateway {} on {} does not answer (no ARP entry, {}/{} pings lost) → local network or router problem",
                gw.address, gw.interface, ping.sent, ping.sent
            ),
        );
    }

    if !dns_failures.is_empty() {
        return fail(Layer::Dns, dns_summary(r, &dns_failures, service_failures.is_empty()));
    }

    if let Some(first) = service_failures.first() {
        let more = match service_failures.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return fail(
            Layer::Service,
            format!("{first}{more} → the remote service or the path to it"),
        );
    }

    let checks = r.dns.len() + r.tcp.len() + r.http.len() + r.ping.len();
    let mut summary = format!("all {checks} checks passed");
    if let Some(gw) = &r.gateway {
        summary.push_str(&format!("; gateway {} reachable", gw.address));
    }
    Verdict { failing_layer: None, summary }
}

fn fail(layer: Layer, why: String) -> Verdict {
    Verdict { failing_layer: Some(layer), summary: format!("{}: {why}", layer.as_str()) }
}

/// Names whose every lookup failed, with the outcomes seen.
fn dns_failures(r: &NetReport) -> BTreeMap<&str, Vec<&DnsOutcome>> {
    let mut by_name: BTreeMap<&str, Vec<&DnsOutcome>> = BTreeMap::new();
    for check in &r.dns {
        by_name.entry(check.name.as_str()).or_default().push(&check.outcome);
    }
    by_name.retain(|_, outcomes| !outcomes.iter().any(|o| matches!(o, DnsOutcome::Resolved(_))));
    by_name
}

fn dns_summary(
    r: &NetReport,
    failures: &BTreeMap<&str, Vec<&DnsOutcome>>,
    services_fine: bool,
) -> String {
    let all_timeouts = failures.values().flatten().all(|o| matches!(o, DnsOutcome::Timeout));
    let resolvers: Vec<&str> = {
        let mut v: Vec<&str> =
            r.dns.iter().map(|c| c.resolver.as_str()).filter(|r| *r != "/etc/hosts").collect();
        v.dedup();
        v
    };
    let reachable = r
        .tcp
        .iter()
        .find(|t| matches!(t.outcome, TcpOutcome::Connected { .. }))
        .map(|t| format!(", but TCP to {} works", t.target))
        .unwrap_or_default();
    if all_timeouts {
        let scope = if failures.len()
            == r.dns.iter().map(|c| &c.name).collect::<std::collections::BTreeSet<_>>().len()
        {
            "every name times out"
        } else {
            "some names time out"
        };
        let cause = if services_fine || !reachable.is_empty() {
            "resolver problem"
        } else {
            "resolvers unreachable"
        };
        return format!("{scope} on {}{reachable} → {cause}", resolvers.join(", "));
    }
    let (name, outcomes) = failures.iter().next().expect("called with at least one failure");
    let what = if outcomes.iter().any(|o| matches!(o, DnsOutcome::NxDomain)) {
        "does not exist (NXDOMAIN)".to_owned()
    } else if outcomes.iter().any(|o| matches!(o, DnsOutcome::NoAddress)) {
        "exists but has no address".to_owned()
    } else {
        match outcomes
            .iter()
            .find_map(|o| if let DnsOutcome::Failed(why) = o { Some(why) } else { None })
        {
            Some(why) => format!("fails to resolve: {why}"),
            None => "does not resolve".to_owned(),
        }
    };
    let others = match failures.len() {
        1 => String::new(),
        n => format!(" (and {} more names)", n - 1),
    };
    format!("{name} {what}{others} → check the name, or the DNS records")
}

/// One line per failed service check, in report order.
fn service_failures(r: &NetReport) -> Vec<String> {
    let mut out = Vec::new();
    for t in &r.tcp {
        let why = match &t.outcome {
            TcpOutcome::Connected { .. } => continue,
            TcpOutcome::Refused { .. } => {
                "refused (the host answers, nothing listens on that port)".to_owned()
            }
            TcpOutcome::Timeout => "timed out (no answer: host down or filtered)".to_owned(),
            TcpOutcome::Unresolved(why) | TcpOutcome::Failed(why) => why.clone(),
        };
        out.push(format!("TCP to {} {why}", t.target));
    }
    for h in r.http.iter().filter(|h| h.failed_layer.is_some()) {
        out.push(http_line(h));
    }
    for p in r.ping.iter().filter(|p| p.received == 0) {
        let why = p.error.clone().unwrap_or_else(|| format!("{}/{} probes lost", p.sent, p.sent));
        out.push(format!("ping {}: {why}", p.target));
    }
    out
}

fn http_line(h: &HttpCheck) -> String {
    format!("{}: {}", h.url, h.error.as_deref().unwrap_or("failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_proto::net::{DnsCheck, GatewayState, LinkState, PingCheck, PingMethod, TcpCheck};

    fn report() -> NetReport {
        NetReport {
            links: vec![
                LinkState { name: "lo".into(), up: true, addresses: vec!["127.0.0.1/8".into()] },
                LinkState { name: "eth0".into(), up: true, addresses: vec!["192.0.2.2/24".into()] },
            ],
            gateway: None,
            resolvers: vec!["10.0.0.53:53".into()],
            proxies: vec![],
            dns: vec![],
            tcp: vec![],
            http: vec![],
            ping: vec![],
            verdict: Verdict { failing_layer: None, summary: String::new() },
        }
    }

    fn dns(name: &str, resolver: &str, outcome: DnsOutcome) -> DnsCheck {
        DnsCheck { name: name.into(), resolver: resolver.into(), outcome, millis: 1.0 }
    }

    fn tcp(target: &str, outcome: TcpOutcome) -> TcpCheck {
        TcpCheck { target: target.into(), outcome, millis: 1.0 }
    }

    fn ping(received: u32) -> PingCheck {
        PingCheck {
            target: "192.0.2.1".into(),
            address: Some("192.0.2.1".into()),
            method: PingMethod::Icmp,
            sent: 4,
            received,
            rtt_min_ms: None,
            rtt_avg_ms: None,
            rtt_max_ms: None,
            error: None,
        }
    }

    #[test]
    fn all_good() {
        let mut r = report();
        r.dns.push(dns(
            "a.example",
            "10.0.0.53:53",
            DnsOutcome::Resolved(vec!["192.0.2.9".into()]),
        ));
        r.tcp.push(tcp("192.0.2.9:443", TcpOutcome::Connected { address: "192.0.2.9:443".into() }));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, None);
        assert_eq!(v.summary, "all 2 checks passed");
    }

    #[test]
    fn resolver_problem_when_every_name_times_out_but_tcp_works() {
        let mut r = report();
        r.dns.push(dns("a.example", "10.0.0.53:53", DnsOutcome::Timeout));
        r.dns.push(dns("b.example", "10.0.0.53:53", DnsOutcome::Timeout));
        r.tcp.push(tcp("1.1.1.1:443", TcpOutcome::Connected { address: "1.1.1.1:443".into() }));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, Some(Layer::Dns));
        assert_eq!(
            v.summary,
            "DNS: every name times out on 10.0.0.53:53, but TCP to 1.1.1.1:443 works → resolver problem"
        );
    }

    #[test]
    fn one_resolver_answering_is_enough() {
        let mut r = report();
        r.dns.push(dns("a.example", "10.0.0.53:53", DnsOutcome::Timeout));
        r.dns.push(dns(
            "a.example",
            "10.0.0.54:53",
            DnsOutcome::Resolved(vec!["192.0.2.1".into()]),
        ));
        assert_eq!(verdict(&r).failing_layer, None);
    }

    #[test]
    fn nxdomain_is_named() {
        let mut r = report();
        r.dns.push(dns("typo.example", "10.0.0.53:53", DnsOutcome::NxDomain));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, Some(Layer::Dns));
        assert!(
            v.summary.starts_with("DNS: typo.example does not exist (NXDOMAIN)"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn gateway_silence_beats_dns_and_service() {
        let mut r = report();
        r.gateway = Some(GatewayState {
            address: "192.0.2.1".into(),
            interface: "eth0".into(),
            neighbour_known: false,
            ping: Some(ping(0)),
        });
        r.dns.push(dns("a.example", "10.0.0.53:53", DnsOutcome::Timeout));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, Some(Layer::Gateway));
        assert!(v.summary.contains("192.0.2.1 on eth0 does not answer"), "{}", v.summary);
        // A gateway that drops ICMP but is in the ARP table is alive.
        r.gateway.as_mut().unwrap().neighbour_known = true;
        assert_eq!(verdict(&r).failing_layer, Some(Layer::Dns));
    }

    #[test]
    fn link_down_comes_first() {
        let mut r = report();
        r.links[1].up = false;
        r.tcp.push(tcp("192.0.2.9:443", TcpOutcome::Timeout));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, Some(Layer::Link));
        assert!(v.summary.contains("(eth0 down)"), "{}", v.summary);
    }

    #[test]
    fn service_failures_are_listed_with_a_count() {
        let mut r = report();
        r.tcp.push(tcp("127.0.0.1:9", TcpOutcome::Refused { address: "127.0.0.1:9".into() }));
        r.ping.push(ping(0));
        let v = verdict(&r);
        assert_eq!(v.failing_layer, Some(Layer::Service));
        assert!(v.summary.starts_with("service: TCP to 127.0.0.1:9 refused"), "{}", v.summary);
        assert!(v.summary.contains("(and 1 more)"), "{}", v.summary);
    }
}
