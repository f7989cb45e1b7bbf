//! Active probes: TCP connect, HTTP(S) GET with a timing breakdown, ping.
//! Every probe has a timeout and returns a report, never an error: a
//! failure is a finding.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tether_proto::net::{HttpCheck, Layer, PingCheck, PingMethod, TcpCheck, TcpOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{https, icmp};

/// Time allowed for one TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for a whole HTTP(S) exchange up to the status line.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Probes per ping, their spacing and how long each waits for its reply.
pub const PING_COUNT: u32 = 4;
pub const PING_INTERVAL: Duration = Duration::from_millis(200);
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Ports tried, in order, when ICMP is not allowed.
const TCP_PING_PORTS: [u16; 3] = [443, 80, 22];

fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}

/// Splits `host:port` (IPv6 as `[::1]:443`).
pub fn split_host_port(target: &str) -> Option<(String, u16)> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Some((addr.ip().to_string(), addr.port()));
    }
    let (host, port) = target.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| Some((host.to_owned(), port.parse().ok()?)))?
}

/// Resolves `host` as applications do (the OS resolver), timing it.
/// Literal addresses take no time and no lookup.
async fn resolve(host: &str, port: u16) -> (Result<SocketAddr, String>, Option<Duration>) {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return (Ok(SocketAddr::new(ip, port)), None);
    }
    let start = Instant::now();
    let lookup = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port))).await;
    let took = Some(start.elapsed());
    let result = match lookup {
        Err(_) => Err(format!("resolving {host} timed out")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| format!("{host} has no address")),
    };
    (result, took)
}

/// Connects over TCP, telling a refusal (the host answered) from silence.
pub async fn tcp(target: String) -> TcpCheck {
    let start = Instant::now();
    let outcome = match split_host_port(&target) {
        None => TcpOutcome::Failed(format!("{target:?} is not host:port")),
        Some((host, port)) => match resolve(&host, port).await.0 {
            Err(why) => TcpOutcome::Unresolved(why),
            Ok(addr) => connect(addr).await,
        },
    };
    TcpCheck { target, outcome, millis: ms(start.elapsed()) }
}

async fn connect(addr: SocketAddr) -> TcpOutcome {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => TcpOutcome::Timeout,
        Ok(Ok(_)) => TcpOutcome::Connected { address: addr.to_string() },
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            TcpOutcome::Refused { address: addr.to_string() }
        }
        Ok(Err(e)) => TcpOutcome::Failed(e.to_string()),
    }
}

/// The parts of an http(s) URL a GET needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Parses `http[s]://host[:port][/path]`.
pub fn parse_url(url: &str) -> Option<Url> {
    let (tls, rest) = match url.split_once("://")? {
        ("http", rest) => (false, rest),
        ("https", rest) => (true, rest),
        _ => return None,
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default_port),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_owned() };
    Some(Url { tls, host, port, path })
}

/// An HTTP check of `url` with nothing measured yet.
pub(crate) fn http_check(url: String) -> HttpCheck {
    HttpCheck {
        url,
        status: None,
        dns_ms: None,
        connect_ms: None,
        tls_ms: None,
        first_byte_ms: None,
        certificate: None,
        error: None,
        failed_layer: None,
    }
}

/// GETs `url` and reports status, timings and, for HTTPS, the verified
/// server certificate's validity.
pub async fn http(url: String) -> HttpCheck {
    let parsed = parse_url(&url);
    let mut check = http_check(url);
    let fail = |check: &mut HttpCheck, layer: Layer, why: String| {
        check.error = Some(why);
        check.failed_layer = Some(layer);
    };
    let Some(parsed) = parsed else {
        fail(&mut check, Layer::Service, "not an http:// or https:// URL".into());
        return check;
    };
    let run = async {
        let start = Instant::now();
        let (addr, dns) = resolve(&parsed.host, parsed.port).await;
        check.dns_ms = dns.map(ms);
        let addr = match addr {
            Ok(addr) => addr,
            Err(why) => return fail(&mut check, Layer::Dns, why),
        };
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => return fail(&mut check, Layer::Service, format!("connect to {addr}: {e}")),
        };
        check.connect_ms = Some(ms(start.elapsed()));
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tether-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            parsed.path, parsed.host
        );
        let status = if parsed.tls {
            let server_name = match rustls::pki_types::ServerName::try_from(parsed.host.clone()) {
                Ok(n) => n,
                Err(e) => return fail(&mut check, Layer::Service, format!("bad TLS name: {e}")),
            };
            let (config, recording) = match https::client_config() {
                Ok(pair) => pair,
                Err(why) => return fail(&mut check, Layer::Service, why),
            };
            let connector = tokio_rustls::TlsConnector::from(config);
            let mut tls = match connector.connect(server_name, stream).await {
                Ok(tls) => tls,
                Err(e) => {
                    let why = https::describe_failure(&e, &parsed.host, recording.leaf().as_ref());
                    return fail(&mut check, Layer::Service, why);
                }
            };
            check.tls_ms = Some(ms(start.elapsed()));
            check.certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(https::certificate_status);
            exchange(&mut tls, &request, start, &mut check.first_byte_ms).await
        } else {
            let mut stream = stream;
            exchange(&mut stream, &request, start, &mut check.first_byte_ms).await
        };
        match status {
            Ok(code) => check.status = Some(code),
            Err(why) => fail(&mut check, Layer::Service, why),
        }
    };
    let completed = tokio::time::timeout(HTTP_TIMEOUT, run).await.is_ok();
    if !completed {
        check.error = Some(format!("no response within {HTTP_TIMEOUT:?}"));
        check.failed_layer = Some(Layer::Service);
    }
    if let Some(code) = check.status.filter(|c| *c >= 500) {
        check.error = Some(format!("the server answered {code}"));
        check.failed_layer = Some(Layer::Service);
    }
    check
}

/// Sends the request and reads up to the end of the status line.
async fn exchange<S: AsyncReadExt + AsyncWriteExt + Unpin>(
    stream: &mut S,
    request: &str,
    start: Instant,
    first_byte: &mut Option<f32>,
) -> Result<u16, String> {
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !head.contains(&b'\n') {
        let n = stream.read(&mut buf).await.map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection without answering".into());
        }
        first_byte.get_or_insert_with(|| ms(start.elapsed()));
        head.extend_from_slice(&buf[..n]);
        if head.len() > 8192 {
            return Err("no HTTP status line in the first 8 KiB".into());
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|c| c.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err("the answer is not HTTP".into()),
    }
}

/// A ping of `target` that has not run yet: nothing sent, no error.
pub(crate) fn ping_check(target: String) -> PingCheck {
    PingCheck {
        target,
        address: None,
        method: PingMethod::Icmp,
        sent: 0,
        received: 0,
        rtt_min_ms: None,
        rtt_avg_ms: None,
        rtt_max_ms: None,
        error: None,
    }
}

/// Pings `target`: ICMP echo where the OS allows it, otherwise TCP
/// connection set-up to a common port, labelled as such.
pub async fn ping(target: String) -> PingCheck {
    let host = target.trim_start_matches('[').trim_end_matches(']').to_owned();
    let mut check = ping_check(target);
    let addr = match resolve(&host, 0).await.0 {
        Ok(addr) => addr.ip(),
        Err(why) => {
            check.error = Some(why);
            return check;
        }
    };
    check.address = Some(addr.to_string());
    let icmp = tokio::task::spawn_blocking(move || {
        icmp::ping(addr, PING_COUNT, PING_INTERVAL, PING_TIMEOUT)
    })
    .await;
    let rtts = match icmp {
        Ok(Ok(rtts)) => rtts,
        // ICMP not allowed here (or not possible): time TCP set-up instead.
        Ok(Err(icmp::IcmpError::NotPermitted(_))) => return tcp_ping(check, addr).await,
        Ok(Err(e)) => {
            check.error = Some(e.to_string());
            return check;
        }
        Err(e) => {
            check.error = Some(super::collect::crash_detail(e));
            return check;
        }
    };
    check.sent = PING_COUNT;
    fill_rtts(&mut check, &rtts);
    check
}

async fn tcp_ping(mut check: PingCheck, addr: IpAddr) -> PingCheck {
    for port in TCP_PING_PORTS {
        let mut rtts = Vec::new();
        for i in 0..PING_COUNT {
            if i > 0 {
                tokio::time::sleep(PING_INTERVAL).await;
            }
            let start = Instant::now();
            let answered =
                match tokio::time::timeout(PING_TIMEOUT, TcpStream::connect((addr, port))).await {
                    Ok(Ok(_)) => true,
                    Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
                    Err(_) => false,
                };
            if answered {
                rtts.push(start.elapsed());
            }
        }
        check.method = PingMethod::TcpConnect { port };
        check.sent = PING_COUNT;
        if !rtts.is_empty() {
            fill_rtts(&mut check, &rtts);
            return check;
        }
    }
    check.error = Some("no answer to ICMP (not permitted) or TCP on ports 443, 80, 22".into());
    check
}

fn fill_rtts(check: &mut PingCheck, rtts: &[Duration]) {
    check.received = rtts.len() as u32;
    if let (Some(min), Some(max)) = (rtts.iter().min(), rtts.iter().max()) {
        check.rtt_min_ms = Some(ms(*min));
        check.rtt_max_ms = Some(ms(*max));
        check.rtt_avg_ms = Some(ms(rtts.iter().sum::<Duration>() / rtts.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = parse_url("https://example.com/a?b=1").unwrap();
        assert_eq!(
            u,
            Url { tls: true, host: "example.com".into(), port: 443, path: "/a?b=1".into() }
        );
        let u = parse_url("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.path.as_str(), u.tls), (8080, "/", false));
        let u = parse_url("http://[::1]:81/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 81));
        assert_eq!(parse_url("http://h?q").unwrap().path, "/?q");
        assert_eq!(parse_url("http://user:pw@h/").unwrap().host, "h");
        for bad in ["ftp://x", "http://", "http://h:port/", "example.com"] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("h:1"), Some(("h".into(), 1)));
        assert_eq!(split_host_port("[::1]:2"), Some(("::1".into(), 2)));
        assert_eq!(split_host_port("h"), None);
        assert_eq!(split_host_port(":80"), None);
    }

    #[tokio::test]
    async fn tcp_tells_refused_from_connected() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().to_string();
        let check = tcp(open).await;
        assert!(matches!(check.outcome, TcpOutcome::Connected { .. }), "{check:?}");
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        assert!(matches!(tcp(closed).await.outcome, TcpOutcome::Refused { .. }));
    }
}
