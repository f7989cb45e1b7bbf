//! Network checks from the machine's point of view, all with timeouts and
//! run concurrently, ending in a layered verdict.
//!
//! Name resolution is checked per resolver with our own small DNS client
//! ([`dns`]) rather than through the OS resolver, so that each resolver's
//! answer and timing is visible and NXDOMAIN is told apart from silence;
//! the hosts file is consulted as the OS would. TCP, HTTP and ping targets
//! are resolved by the OS, as applications resolve them.

mod collect;
pub mod dns;
pub mod https;
pub mod icmp;
pub mod local;
pub mod probes;
pub mod verdict;

pub use verdict::DEFAULT_CERT_WARN_DAYS;

use collect::join_probes;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tether_proto::net::{
    DnsCheck, DnsOutcome, GatewayState, LinkState, NetCheckRequest, NetReport, Verdict,
};

/// How long one resolver has to answer one question.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// The agent's network settings and what the default set covers.
#[derive(Debug, Clone)]
pub struct NetSettings {
    /// Resolvers to check; `None` means the system's (resolv.conf).
    pub resolvers: Option<Vec<SocketAddr>>,
    /// Names the default set resolves through every resolver.
    pub default_names: Vec<String>,
    /// Targets from the agent's configuration, added to the default set.
    pub default_targets: NetCheckRequest,
    /// The controller's address; the default set pings it.
    pub controller: Option<IpAddr>,
    /// HTTPS certificates expiring within this many days are a warning.
    pub cert_warn_days: i64,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            resolvers: None,
            default_names: Vec::new(),
            default_targets: NetCheckRequest::default(),
            controller: None,
            cert_warn_days: verdict::DEFAULT_CERT_WARN_DAYS,
        }
    }
}

/// Runs the requested checks (and the default set when asked for, or when
/// nothing was asked for) and returns the report with its verdict.
pub async fn run(request: &NetCheckRequest, settings: &NetSettings) -> NetReport {
    let defaults = request.defaults || !request.has_targets();
    let mut want = request.clone();
    if defaults {
        let extra = &settings.default_targets;
        want.dns.extend(settings.default_names.iter().chain(&extra.dns).cloned());
        want.tcp.extend(extra.tcp.iter().cloned());
        want.urls.extend(extra.urls.iter().cloned());
        want.ping.extend(extra.ping.iter().cloned());
        if let Some(controller) = settings.controller {
            want.ping.push(controller.to_string());
        }
    }
    let resolvers = settings.resolvers.clone().unwrap_or_else(local::system_resolvers);

    // Every probe runs in its own task, so one that panics (a bug) ends
    // only itself; `join_probes` turns it into a failed check that says so.
    let dns: Vec<_> = want
        .dns
        .iter()
        .map(|name| {
            (name.clone(), tokio::spawn(resolve_everywhere(name.clone(), resolvers.clone())))
        })
        .collect();
    let tcp: Vec<_> =
        want.tcp.iter().map(|t| (t.clone(), tokio::spawn(probes::tcp(t.clone())))).collect();
    let http: Vec<_> =
        want.urls.iter().map(|u| (u.clone(), tokio::spawn(probes::http(u.clone())))).collect();
    let ping: Vec<_> =
        want.ping.iter().map(|p| (p.clone(), tokio::spawn(probes::ping(p.clone())))).collect();

    let mut report = NetReport {
        links: links(),
        gateway: gateway(defaults).await,
        resolvers: resolvers.iter().map(SocketAddr::to_string).collect(),
        proxies: local::proxies(std::env::vars()),
        dns: join_probes(dns, collect::failed_dns).await.concat(),
        tcp: join_probes(tcp, collect::failed_tcp).await,
        http: join_probes(http, collect::failed_http).await,
        ping: join_probes(ping, collect::failed_ping).await,
        verdict: Verdict { failing_layer: None, summary: String::new(), warnings: vec![] },
    };
    report.verdict = verdict::verdict(&report, settings.cert_warn_days);
    report
}

fn links() -> Vec<LinkState> {
    crate::system::interface_list()
        .into_iter()
        .map(|i| LinkState { name: i.name, up: i.up, addresses: i.addresses })
        .collect()
}

/// The default gateway, pinged when the default set runs.
async fn gateway(probe: bool) -> Option<GatewayState> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    let (interface, address) = local::default_route(&routes)?;
    let arp = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
    let ping = if probe {
        let target = address.to_string();
        let task = tokio::spawn(probes::ping(target.clone()));
        join_probes(vec![(target, task)], collect::failed_ping).await.pop()
    } else {
        None
    };
    Some(GatewayState {
        address: address.to_string(),
        interface,
        // Read after the ping, which refreshes the neighbour entry.
        neighbour_known: local::neighbour_known(
            &std::fs::read_to_string("/proc/net/arp").unwrap_or(arp),
            address,
        ),
        ping,
    })
}

/// Resolves `name` through the hosts file and each resolver (A and AAAA).
async fn resolve_everywhere(name: String, resolvers: Vec<SocketAddr>) -> Vec<DnsCheck> {
    let mut checks = Vec::new();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let from_hosts = local::hosts_lookup(&hosts, &name);
    if !from_hosts.is_empty() {
        checks.push(DnsCheck {
            name: name.clone(),
            resolver: "/etc/hosts".into(),
            outcome: DnsOutcome::Resolved(from_hosts.iter().map(IpAddr::to_string).collect()),
            millis: 0.0,
        });
    }
    let lookups: Vec<_> =
        resolvers.iter().map(|r| tokio::spawn(resolve_with(name.clone(), *r))).collect();
    for (task, resolver) in lookups.into_iter().zip(&resolvers) {
        let (outcome, millis) =
            task.await.unwrap_or_else(|e| (DnsOutcome::Failed(collect::crash_detail(e)), 0.0));
        checks.push(DnsCheck {
            name: name.clone(),
            resolver: resolver.to_string(),
            outcome,
            millis,
        });
    }
    checks
}

/// One resolver, A and AAAA in parallel, merged into one outcome.
async fn resolve_with(name: String, resolver: SocketAddr) -> (DnsOutcome, f32) {
    let start = Instant::now();
    let (a, aaaa) = tokio::join!(
        dns::query(resolver, &name, dns::TYPE_A, DNS_TIMEOUT),
        dns::query(resolver, &name, dns::TYPE_AAAA, DNS_TIMEOUT)
    );
    let millis = start.elapsed().as_secs_f32() * 1000.0;
    (merge(a, aaaa), millis)
}

fn merge(
    a: Result<dns::Answer, dns::DnsError>,
    aaaa: Result<dns::Answer, dns::DnsError>,
) -> DnsOutcome {
    use dns::{Answer, DnsError};
    let mut addresses = Vec::new();
    for answer in [&a, &aaaa] {
        if let Ok(Answer::Addresses(list)) = answer {
            addresses.extend(list.iter().map(IpAddr::to_string));
        }
    }
    if !addresses.is_empty() {
        return DnsOutcome::Resolved(addresses);
    }
    match (a, aaaa) {
        (Ok(Answer::NxDomain), _) | (_, Ok(Answer::NxDomain)) => DnsOutcome::NxDomain,
        (Ok(Answer::Addresses(_)), Ok(Answer::Addresses(_))) => DnsOutcome::NoAddress,
        (Err(DnsError::Timeout(_)), Err(DnsError::Timeout(_))) => DnsOutcome::Timeout,
        (Ok(Answer::Rcode(code)), _) | (_, Ok(Answer::Rcode(code))) => DnsOutcome::Failed(format!(
            "the resolver answered {}",
            match code {
                2 => "SERVFAIL (server failure)".to_owned(),
                5 => "REFUSED".to_owned(),
                c => format!("error code {c}"),
            }
        )),
        (Err(e), _) | (_, Err(e)) => DnsOutcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
