//! What the machine's own configuration says about its network, read
//! without sending anything: the default route, the neighbour table, the
//! resolvers, the hosts file and proxy settings. Each reader takes the
//! file's text so tests use fixtures.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tether_proto::net::ProxySetting;

/// The IPv4 default route from `/proc/net/route`: (interface, gateway).
pub fn default_route(route_table: &str) -> Option<(String, Ipv4Addr)> {
    route_table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (iface, dest, gateway, flags) =
            (cols.first()?, cols.get(1)?, cols.get(2)?, cols.get(3)?);
        let flags = u16::from_str_radix(flags, 16).ok()?;
        // RTF_UP (1) and RTF_GATEWAY (2), destination 0.0.0.0.
        if *dest != "00000000" || flags & 0x3 != 0x3 {
            return None;
        }
        // The kernel prints the address in host (little-endian) order.
        let raw = u32::from_str_radix(gateway, 16).ok()?;
        Some(((*iface).to_owned(), Ipv4Addr::from(raw.swap_bytes())))
    })
}

/// Whether `addr` has a complete entry in `/proc/net/arp`.
pub fn neighbour_known(arp_table: &str, addr: Ipv4Addr) -> bool {
    arp_table.lines().skip(1).any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // ATF_COM (0x2): the hardware address is resolved.
        cols.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) == Some(addr)
            && cols
                .get(2)
                .and_then(|f| u16::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .is_some_and(|f| f & 0x2 != 0)
    })
}

/// The `nameserver` lines of a resolv.conf, as socket addresses (port 53).
pub fn resolvers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        // A link-local IPv6 resolver may carry a zone (%eth0): not supported here.
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The machine's resolvers: resolv.conf, but when that only names the
/// systemd-resolved stub, the upstream servers the stub forwards to.
pub fn system_resolvers() -> Vec<SocketAddr> {
    let main =
        std::fs::read_to_string("/etc/resolv.conf").map(|t| resolvers(&t)).unwrap_or_default();
    let stub: SocketAddr = ([127, 0, 0, 53], 53).into();
    if main == [stub]
        && let Ok(text) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
    {
        let upstream = resolvers(&text);
        if !upstream.is_empty() {
            return [vec![stub], upstream].concat();
        }
    }
    main
}

/// Addresses the hosts file gives `name` (case-insensitive).
pub fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let addr = cols.next()?.parse::<IpAddr>().ok()?;
            cols.any(|n| n.eq_ignore_ascii_case(name)).then_some(addr)
        })
        .collect()
}

/// Proxy variables in the agent's environment, with credentials masked.
pub fn proxies(env: impl Iterator<Item = (String, String)>) -> Vec<ProxySetting> {
    let mut list: Vec<ProxySetting> = env
        .filter(|(k, _)| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "http_proxy" | "https_proxy" | "all_proxy" | "no_proxy" | "ftp_proxy"
            )
        })
        .map(|(variable, value)| ProxySetting { variable, value: mask_credentials(&value) })
        .collect();
    list.sort_by(|a, b| a.variable.cmp(&b.variable));
    list
}

/// `http://user:secret@proxy:3128` → `http://user:***@proxy:3128`.
fn mask_credentials(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else { return value.to_owned() };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";

    #[test]
    fn default_route_is_decoded() {
        assert_eq!(default_route(ROUTE), Some(("eth0".into(), Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(default_route("Iface\tDestination\n"), None);
    }

    #[test]
    fn neighbours() {
        let arp = "IP address       HW type     Flags       HW address            Mask     Device\n\
                   192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
                   192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        assert!(neighbour_known(arp, Ipv4Addr::new(192, 0, 2, 1)));
        assert!(!neighbour_known(arp, Ipv4Addr::new(192, 0, 2, 9)), "incomplete entry");
        assert!(!neighbour_known(arp, Ipv4Addr::new(192, 0, 2, 2)));
    }

    #[test]
    fn resolv_conf_and_hosts() {
        let conf = "# comment\nsearch lan\nnameserver 10.0.0.53\nnameserver ::1\nnameserver fe80::1%eth0\noptions ndots:1\n";
        assert_eq!(
            resolvers(conf),
            vec!["10.0.0.53:53".parse::<SocketAddr>().unwrap(), "[::1]:53".parse().unwrap()]
        );
        let hosts =
            "127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n10.0.0.5 Files.Lan files\n";
        assert_eq!(hosts_lookup(hosts, "localhost").len(), 2);
        assert_eq!(hosts_lookup(hosts, "files.lan"), vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert!(hosts_lookup(hosts, "nothing").is_empty());
    }

    #[test]
    fn proxy_credentials_are_masked() {
        let env = vec![
            ("HTTPS_PROXY".to_owned(), "http://bob:hunter2@proxy.lan:3128".to_owned()),
            ("no_proxy".to_owned(), "localhost,.lan".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let got = proxies(env.into_iter());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].value, "http://bob:***@proxy.lan:3128");
        assert_eq!(got[1].value, "localhost,.lan");
    }
}
