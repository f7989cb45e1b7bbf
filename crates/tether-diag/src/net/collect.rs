//! Waiting for the probe tasks. A probe that panicked is a bug, never a
//! network outcome, but the technician still asked for that check: it
//! becomes a failed check of its kind whose detail says it crashed and
//! why, so a report never silently lacks a check or misreports it as
//! "no gateway".

use tether_proto::net::{DnsCheck, DnsOutcome, HttpCheck, Layer, PingCheck, TcpCheck, TcpOutcome};
use tokio::task::{JoinError, JoinHandle};

/// The detail line of a check whose task did not finish.
pub(crate) fn crash_detail(error: JoinError) -> String {
    if error.is_cancelled() {
        return "the check was cancelled before it finished".to_owned();
    }
    let payload = error.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    format!("the check crashed (a bug, not a network fault): {message}")
}

/// Waits for each probe in order; one that did not finish becomes
/// `failed(target, detail)`.
pub(crate) async fn join_probes<T>(
    tasks: Vec<(String, JoinHandle<T>)>,
    failed: fn(String, String) -> T,
) -> Vec<T> {
    let mut checks = Vec::with_capacity(tasks.len());
    for (target, task) in tasks {
        checks.push(match task.await {
            Ok(check) => check,
            Err(e) => failed(target, crash_detail(e)),
        });
    }
    checks
}

/// A name's resolution checks, when the task resolving it crashed.
pub(crate) fn failed_dns(name: String, detail: String) -> Vec<DnsCheck> {
    vec![DnsCheck { name, resolver: "-".into(), outcome: DnsOutcome::Failed(detail), millis: 0.0 }]
}

pub(crate) fn failed_tcp(target: String, detail: String) -> TcpCheck {
    TcpCheck { target, outcome: TcpOutcome::Failed(detail), millis: 0.0 }
}

pub(crate) fn failed_http(url: String, detail: String) -> HttpCheck {
    HttpCheck {
        error: Some(detail),
        failed_layer: Some(Layer::Service),
        ..super::probes::http_check(url)
    }
}

pub(crate) fn failed_ping(target: String, detail: String) -> PingCheck {
    PingCheck { error: Some(detail), ..super::probes::ping_check(target) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::verdict::{DEFAULT_CERT_WARN_DAYS, verdict};
    use tether_proto::net::{LinkState, NetReport, Verdict};

    /// A probe with a bug: it panics the way an indexing slip would.
    async fn panicking_probe<T>(what: &'static str) -> T {
        let empty: Vec<u8> = Vec::new();
        panic!("{what} probe: index out of bounds: the len is {} but the index is 3", empty.len())
    }

    async fn working_tcp(target: String) -> TcpCheck {
        TcpCheck {
            target: target.clone(),
            outcome: TcpOutcome::Connected { address: target },
            millis: 1.0,
        }
    }

    #[tokio::test]
    async fn a_panicking_probe_is_a_failed_check_that_says_so() {
        let dns = join_probes(
            vec![("example.test".to_owned(), tokio::spawn(panicking_probe("dns")))],
            failed_dns,
        )
        .await
        .concat();
        let tcp = join_probes(
            vec![
                ("127.0.0.1:1".to_owned(), tokio::spawn(panicking_probe("tcp"))),
                ("127.0.0.1:2".to_owned(), tokio::spawn(working_tcp("127.0.0.1:2".into()))),
            ],
            failed_tcp,
        )
        .await;
        let http = join_probes(
            vec![("https://example.test/".to_owned(), tokio::spawn(panicking_probe("http")))],
            failed_http,
        )
        .await;
        let ping = join_probes(
            vec![("192.0.2.1".to_owned(), tokio::spawn(panicking_probe("ping")))],
            failed_ping,
        )
        .await;

        let crashed = |kind: &str| {
            format!(
                "the check crashed (a bug, not a network fault): {kind} probe: index out of bounds: the len is 0 but the index is 3"
            )
        };
        assert_eq!(dns.len(), 1);
        assert_eq!(dns[0].name, "example.test");
        assert_eq!(dns[0].outcome, DnsOutcome::Failed(crashed("dns")));
        assert_eq!(tcp.len(), 2, "the working probe beside it still reports");
        assert_eq!(tcp[0].target, "127.0.0.1:1");
        assert_eq!(tcp[0].outcome, TcpOutcome::Failed(crashed("tcp")));
        assert!(matches!(tcp[1].outcome, TcpOutcome::Connected { .. }));
        assert_eq!(http[0].url, "https://example.test/");
        assert_eq!(http[0].error.as_deref(), Some(crashed("http").as_str()));
        assert_eq!(ping[0].target, "192.0.2.1");
        assert_eq!(ping[0].error.as_deref(), Some(crashed("ping").as_str()));

        // The verdict names the crash instead of calling the network fine.
        let report = NetReport {
            links: vec![LinkState {
                name: "eth0".into(),
                up: true,
                addresses: vec!["192.0.2.2/24".into()],
            }],
            gateway: None,
            resolvers: vec![],
            proxies: vec![],
            dns: vec![],
            tcp,
            http: vec![],
            ping: vec![],
            verdict: Verdict { failing_layer: None, summary: String::new(), warnings: vec![] },
        };
        let v = verdict(&report, DEFAULT_CERT_WARN_DAYS);
        assert_eq!(v.failing_layer, Some(Layer::Service));
        assert!(v.summary.contains(&crashed("tcp")), "{}", v.summary);
    }

    #[tokio::test]
    async fn a_cancelled_probe_says_it_was_cancelled() {
        let task = tokio::spawn(std::future::pending::<TcpCheck>());
        task.abort();
        let tcp = join_probes(vec![("127.0.0.1:1".to_owned(), task)], failed_tcp).await;
        assert_eq!(
            tcp[0].outcome,
            TcpOutcome::Failed("the check was cancelled before it finished".into())
        );
    }
}
