//! The whole check run against servers on loopback: a fake resolver, a TCP
//! listener, a closed port and an HTTP server.

use std::net::{Ipv4Addr, SocketAddr};

use tether_proto::net::{DnsOutcome, Layer, NetCheckRequest, PingMethod, TcpOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dns::tests::response;
use super::*;

/// A resolver on loopback: `good.test` has an address, `missing.test` does
/// not exist, `silent.test` gets no answer at all.
async fn fake_resolver() -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let q = &buf[..n];
            let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
            let answer = if contains(q, b"\x04good\x04test") {
                let addrs =
                    if qtype == dns::TYPE_A { vec![Ipv4Addr::new(192, 0, 2, 77)] } else { vec![] };
                response(q, 0, &addrs)
            } else if contains(q, b"\x07missing\x04test") {
                response(q, 3, &[])
            } else {
                continue;
            };
            let _ = socket.send_to(&answer, peer).await;
        }
    });
    addr
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// An HTTP server answering every request with `status`.
async fn http_server(status: u16) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await;
        }
    });
    addr
}

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn settings(resolver: SocketAddr) -> NetSettings {
    NetSettings { resolvers: Some(vec![resolver]), ..NetSettings::default() }
}

#[tokio::test]
async fn each_check_reports_what_happened() {
    let resolver = fake_resolver().await;
    let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_addr = open.local_addr().unwrap().to_string();
    let web = http_server(204).await;
    let closed = closed_port();
    let request = NetCheckRequest {
        dns: vec!["good.test".into(), "localhost".into()],
        tcp: vec![open_addr.clone()],
        urls: vec![format!("http://{web}/health")],
        ping: vec!["127.0.0.1".into()],
        defaults: false,
    };
    let r = run(&request, &settings(resolver)).await;

    assert_eq!(r.resolvers, vec![resolver.to_string()]);
    let good = r.dns.iter().find(|c| c.name == "good.test").unwrap();
    assert_eq!(good.outcome, DnsOutcome::Resolved(vec!["192.0.2.77".into()]));
    assert!(r.dns.iter().any(|c| c.name == "localhost" && c.resolver == "/etc/hosts"));
    assert!(matches!(r.tcp[0].outcome, TcpOutcome::Connected { .. }));
    assert_eq!(r.http[0].status, Some(204));
    assert!(r.http[0].connect_ms.is_some() && r.http[0].first_byte_ms.is_some());
    assert_eq!(r.http[0].dns_ms, None, "a literal address needs no lookup");
    assert_eq!(r.ping[0].received, r.ping[0].sent);
    assert!(matches!(r.ping[0].method, PingMethod::Icmp | PingMethod::TcpConnect { .. }));
    assert!(
        r.gateway.as_ref().is_none_or(|g| g.ping.is_none()),
        "no probe without the default set"
    );
    assert!(r.links.iter().any(|l| l.name == "lo" && l.up));
    assert_eq!(r.verdict.failing_layer, None, "{}", r.verdict.summary);

    // Now the failures, each in its own layer.
    let request = NetCheckRequest {
        dns: vec!["missing.test".into()],
        tcp: vec![closed.clone()],
        ..NetCheckRequest::default()
    };
    let r = run(&request, &settings(resolver)).await;
    assert_eq!(r.dns[0].outcome, DnsOutcome::NxDomain);
    assert!(matches!(r.tcp[0].outcome, TcpOutcome::Refused { .. }));
    assert_eq!(r.verdict.failing_layer, Some(Layer::Dns));
    assert!(r.verdict.summary.contains("missing.test does not exist"), "{}", r.verdict.summary);

    let request = NetCheckRequest {
        dns: vec!["silent.test".into()],
        tcp: vec![open_addr],
        ..Default::default()
    };
    let r = run(&request, &settings(resolver)).await;
    assert_eq!(r.dns[0].outcome, DnsOutcome::Timeout);
    assert!(r.dns[0].millis >= 1900.0, "waited for the timeout: {}", r.dns[0].millis);
    assert!(
        r.verdict.summary.contains("times out") && r.verdict.summary.contains("resolver problem"),
        "{}",
        r.verdict.summary
    );

    let request =
        NetCheckRequest { urls: vec![format!("http://{}/", closed)], ..Default::default() };
    let r = run(&request, &settings(resolver)).await;
    assert_eq!(r.http[0].failed_layer, Some(Layer::Service));
    assert_eq!(r.verdict.failing_layer, Some(Layer::Service));
    drop(open);
}

#[tokio::test]
async fn server_errors_fail_the_service_layer() {
    let web = http_server(503).await;
    let request = NetCheckRequest { urls: vec![format!("http://{web}/")], ..Default::default() };
    let r = run(&request, &NetSettings { resolvers: Some(vec![]), ..Default::default() }).await;
    assert_eq!(r.http[0].status, Some(503));
    assert_eq!(r.verdict.failing_layer, Some(Layer::Service));
    assert!(r.verdict.summary.contains("answered 503"), "{}", r.verdict.summary);
}

/// An HTTPS server on loopback with a self-signed certificate, which no
/// system trust store accepts.
async fn untrusted_https_server() -> SocketAddr {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    super::https::tests::server(vec![cert.der().clone()], &key).await
}

#[tokio::test]
async fn https_with_an_untrusted_certificate_fails_at_tls() {
    let server = untrusted_https_server().await;
    let check = probes::http(format!("https://localhost:{}/", server.port())).await;
    assert_eq!(check.failed_layer, Some(Layer::Service), "{check:?}");
    let error = check.error.unwrap();
    assert!(error.contains("which this machine does not trust"), "{error}");
    assert!(check.connect_ms.is_some() && check.tls_ms.is_none() && check.status.is_none());
    assert!(check.certificate.is_none(), "nothing is reported about an unverified certificate");
}
