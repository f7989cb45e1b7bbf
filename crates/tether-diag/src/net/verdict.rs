//! The layered diagnosis a help desk walks through: link, gateway, DNS,
//! then the remote service. Pure: it reads a report and names the first
//! layer that fails, with the evidence for it, plus warnings about what
//! works but deserves attention.

use std::collections::BTreeMap;

use tether_proto::net::{DnsOutcome, HttpCheck, Layer, NetReport, TcpOutcome, Verdict};

use super::probes::{parse_url, split_host_port};

/// Days before a server certificate's expiry from which an HTTPS check
/// warns, unless configured otherwise.
pub const DEFAULT_CERT_WARN_DAYS: i64 = 14;

/// Diagnoses a report whose checks have run. Certificates expiring within
/// `cert_warn_days` are warned about.
pub fn verdict(r: &NetReport, cert_warn_days: i64) -> Verdict {
    let warnings = warnings(r, cert_warn_days);
    let service_failures = service_failures(r);
    let dns_failures = dns_failures(r);
    let unresolved = unresolved_targets(r);
    let any_failure =
        !service_failures.is_empty() || !dns_failures.is_empty() || !unresolved.is_empty();

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
            warnings,
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
            warnings,
        );
    }

    if !dns_failures.is_empty() {
        let summary = dns_summary(r, &dns_failures, service_failures.is_empty());
        return fail(Layer::Dns, summary, warnings);
    }
    if let Some((host, needed_by)) = unresolved.first() {
        let more = match unresolved.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return fail(
            Layer::Dns,
            format!(
                "{host} does not resolve (needed by {needed_by}){more} → check the name, or the DNS records"
            ),
            warnings,
        );
    }

    if let Some(first) = service_failures.first() {
        let more = match service_failures.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return fail(
            Layer::Service,
            format!("{first}{more} → the remote service or the path to it"),
            warnings,
        );
    }

    let checks = r.dns.len() + r.tcp.len() + r.http.len() + r.ping.len();
    let mut summary = match warnings.len() {
        0 => format!("all {checks} checks passed"),
        1 => format!("all {checks} checks passed, with a warning: {}", warnings[0]),
        n => format!("all {checks} checks passed, with {n} warnings; first: {}", warnings[0]),
    };
    if let Some(gw) = &r.gateway {
        // Only what was seen: a gateway that was not pinged is not claimed.
        match &gw.ping {
            Some(p) if p.received > 0 => {
                summary.push_str(&format!("; gateway {} answers", gw.address));
            }
            _ if gw.neighbour_known => {
                summary.push_str(&format!("; gateway {} is in the ARP table", gw.address));
            }
            _ => {}
        }
    }
    Verdict { failing_layer: None, summary, warnings }
}

/// What works but deserves attention.
fn warnings(r: &NetReport, cert_warn_days: i64) -> Vec<String> {
    let mut out = Vec::new();
    // A name that resolved somewhere, but not through every resolver.
    let mut by_name: BTreeMap<&str, (Vec<&str>, bool)> = BTreeMap::new();
    for check in &r.dns {
        let entry = by_name.entry(check.name.as_str()).or_default();
        match &check.outcome {
            DnsOutcome::Resolved(_) => entry.1 = true,
            _ => entry.0.push(check.resolver.as_str()),
        }
    }
    for (name, (failed, resolved)) in by_name {
        if resolved && !failed.is_empty() {
            let outcomes: Vec<String> = r
                .dns
                .iter()
                .filter(|c| c.name == name && failed.contains(&c.resolver.as_str()))
                .map(|c| format!("{} {}", c.resolver, dns_outcome_words(&c.outcome)))
                .collect();
            out.push(format!("{name}: {} (other resolvers answered)", outcomes.join(", ")));
        }
    }
    for h in r.http.iter().filter(|h| h.failed_layer.is_none()) {
        if let Some(cert) = &h.certificate
            && cert.days_left < cert_warn_days
        {
            out.push(format!(
                "{}: the server certificate expires in {} day{} ({})",
                h.url,
                cert.days_left,
                if cert.days_left == 1 { "" } else { "s" },
                cert.not_after
            ));
        }
    }
    out
}

fn dns_outcome_words(o: &DnsOutcome) -> String {
    match o {
        DnsOutcome::Resolved(_) => "answered".into(),
        DnsOutcome::NxDomain => "says it does not exist".into(),
        DnsOutcome::NoAddress => "has no address for it".into(),
        DnsOutcome::Timeout => "timed out".into(),
        DnsOutcome::Failed(why) => format!("failed ({why})"),
    }
}

/// Hosts of TCP and HTTP checks that did not resolve, with the check that
/// needed them: a DNS-layer failure, not the service's.
fn unresolved_targets(r: &NetReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in &r.tcp {
        if let TcpOutcome::Unresolved(_) = &t.outcome {
            let host = split_host_port(&t.target).map_or_else(|| t.target.clone(), |(h, _)| h);
            out.push((host, format!("TCP to {}", t.target)));
        }
    }
    for h in r.http.iter().filter(|h| h.failed_layer == Some(Layer::Dns)) {
        let host = parse_url(&h.url).map_or_else(|| h.url.clone(), |u| u.host);
        out.push((host, h.url.clone()));
    }
    out
}

fn fail(layer: Layer, why: String, warnings: Vec<String>) -> Verdict {
    Verdict { failing_layer: Some(layer), summary: format!("{}: {why}", layer.as_str()), warnings }
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
            // Unresolved hosts are a DNS failure, reported as such.
            TcpOutcome::Unresolved(_) => continue,
            TcpOutcome::Failed(why) => why.clone(),
        };
        out.push(format!("TCP to {} {why}", t.target));
    }
    for h in r.http.iter().filter(|h| h.failed_layer.is_some_and(|l| l != Layer::Dns)) {
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
            verdict: Verdict { failing_layer: None, summary: String::new(), warnings: vec![] },
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
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, None);
        assert_eq!(v.summary, "all 2 checks passed");
    }

    #[test]
    fn resolver_problem_when_every_name_times_out_but_tcp_works() {
        let mut r = report();
        r.dns.push(dns("a.example", "10.0.0.53:53", DnsOutcome::Timeout));
        r.dns.push(dns("b.example", "10.0.0.53:53", DnsOutcome::Timeout));
        r.tcp.push(tcp("1.1.1.1:443", TcpOutcome::Connected { address: "1.1.1.1:443".into() }));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
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
        assert_eq!(verdict(&r, DEFAULT_CERT_WARN_DAYS).failing_layer, None);
    }

    #[test]
    fn nxdomain_is_named() {
        let mut r = report();
        r.dns.push(dns("typo.example", "10.0.0.53:53", DnsOutcome::NxDomain));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
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
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, Some(Layer::Gateway));
        assert!(v.summary.contains("192.0.2.1 on eth0 does not answer"), "{}", v.summary);
        // A gateway that drops ICMP but is in the ARP table is alive.
        r.gateway.as_mut().unwrap().neighbour_known = true;
        assert_eq!(verdict(&r, DEFAULT_CERT_WARN_DAYS).failing_layer, Some(Layer::Dns));
    }

    #[test]
    fn link_down_comes_first() {
        let mut r = report();
        r.links[1].up = false;
        r.tcp.push(tcp("192.0.2.9:443", TcpOutcome::Timeout));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, Some(Layer::Link));
        assert!(v.summary.contains("(eth0 down)"), "{}", v.summary);
    }

    #[test]
    fn service_failures_are_listed_with_a_count() {
        let mut r = report();
        r.tcp.push(tcp("127.0.0.1:9", TcpOutcome::Refused { address: "127.0.0.1:9".into() }));
        r.ping.push(ping(0));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, Some(Layer::Service));
        assert!(v.summary.starts_with("service: TCP to 127.0.0.1:9 refused"), "{}", v.summary);
        assert!(v.summary.contains("(and 1 more)"), "{}", v.summary);
    }

    #[test]
    fn a_gateway_that_was_not_pinged_is_not_claimed_reachable() {
        let mut r = report();
        r.gateway = Some(GatewayState {
            address: "192.0.2.1".into(),
            interface: "eth0".into(),
            neighbour_known: false,
            ping: None,
        });
        r.tcp.push(tcp("192.0.2.9:443", TcpOutcome::Connected { address: "192.0.2.9:443".into() }));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.summary, "all 1 checks passed");
        r.gateway.as_mut().unwrap().ping = Some(ping(3));
        assert!(verdict(&r, 14).summary.ends_with("; gateway 192.0.2.1 answers"));
    }

    #[test]
    fn a_target_that_does_not_resolve_fails_at_dns() {
        let mut r = report();
        r.tcp.push(tcp("nohost.invalid:80", TcpOutcome::Unresolved("no such host".into())));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, Some(Layer::Dns), "{}", v.summary);
        assert!(
            v.summary.starts_with(
                "DNS: nohost.invalid does not resolve (needed by TCP to nohost.invalid:80)"
            ),
            "{}",
            v.summary
        );
    }

    #[test]
    fn one_resolver_timing_out_is_a_warning() {
        let mut r = report();
        r.dns.push(dns("localhost", "10.0.0.53:53", DnsOutcome::Timeout));
        r.dns.push(dns("localhost", "/etc/hosts", DnsOutcome::Resolved(vec!["127.0.0.1".into()])));
        let v = verdict(&r, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, None);
        assert_eq!(v.warnings, ["localhost: 10.0.0.53:53 timed out (other resolvers answered)"]);
        assert!(
            v.summary.starts_with("all 2 checks passed, with a warning: localhost"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn a_certificate_about_to_expire_is_a_warning() {
        let mut r = report();
        r.http.push(HttpCheck {
            url: "https://intranet.example/".into(),
            status: Some(200),
            dns_ms: None,
            connect_ms: None,
            tls_ms: None,
            first_byte_ms: None,
            certificate: Some(tether_proto::net::CertificateStatus {
                subject: "CN=intranet.example".into(),
                issuer: "CN=Corp CA".into(),
                not_after: "2026-12-04T00:00:00Z".into(),
                days_left: 5,
            }),
            error: None,
            failed_layer: None,
        });
        let v = verdict(&r, 14);
        assert_eq!(v.failing_layer, None);
        assert_eq!(
            v.warnings,
            [
                "https://intranet.example/: the server certificate expires in 5 days (2026-12-04T00:00:00Z)"
            ]
        );
        assert!(verdict(&r, 3).warnings.is_empty(), "outside the window");
    }
}
