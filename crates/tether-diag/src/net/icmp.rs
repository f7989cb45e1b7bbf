//! ICMP echo ("ping") without a setuid helper: Linux ping sockets
//! (`SOCK_DGRAM`, allowed by `net.ipv4.ping_group_range`), else raw sockets
//! (root or CAP_NET_RAW). Blocking; run it on a blocking thread.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// Why no ICMP echo could be done.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    /// Neither a ping socket nor a raw socket may be opened here.
    #[error("ICMP not permitted: {0}")]
    NotPermitted(String),
    #[error("ICMP: {0}")]
    Io(String),
}

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

struct Pinger {
    socket: Socket,
    raw: bool,
    v6: bool,
    ident: u16,
}

/// Sends `count` echo requests to `addr`, `interval` apart, and returns the
/// round-trip time of each one answered within `timeout`.
pub fn ping(
    addr: IpAddr,
    count: u32,
    interval: Duration,
    timeout: Duration,
) -> Result<Vec<Duration>, IcmpError> {
    let pinger = Pinger::open(addr)?;
    let mut rtts = Vec::new();
    for seq in 0..count as u16 {
        let sent_at = Instant::now();
        pinger.send(seq)?;
        if let Some(rtt) = pinger.wait_reply(seq, sent_at, timeout)? {
            rtts.push(rtt);
        }
        if u32::from(seq) + 1 < count {
            std::thread::sleep(interval.saturating_sub(sent_at.elapsed()));
        }
    }
    Ok(rtts)
}

impl Pinger {
    fn open(addr: IpAddr) -> Result<Pinger, IcmpError> {
        let (domain, protocol, v6) = match addr {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, false),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, true),
        };
        let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(s) => (s, false),
            Err(dgram) => match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(s) => (s, true),
                Err(raw) => {
                    return Err(IcmpError::NotPermitted(format!(
                        "ping socket: {dgram}; raw socket: {raw}"
                    )));
                }
            },
        };
        // Connecting filters replies to this peer's only.
        socket
            .connect(&SocketAddr::new(addr, 0).into())
            .map_err(|e| IcmpError::Io(e.to_string()))?;
        let ident = tether_os::random::u16().map_err(|e| IcmpError::Io(e.to_string()))?;
        Ok(Pinger { socket, raw, v6, ident })
    }

    fn send(&self, seq: u16) -> Result<(), IcmpError> {
        let kind = if self.v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
        let packet = echo_request(kind, self.ident, seq, !self.v6);
        self.socket.send(&packet).map_err(|e| IcmpError::Io(e.to_string()))?;
        Ok(())
    }

    fn wait_reply(
        &self,
        seq: u16,
        sent_at: Instant,
        timeout: Duration,
    ) -> Result<Option<Duration>, IcmpError> {
        let mut buf = [0u8; 1500];
        loop {
            let left = timeout.saturating_sub(sent_at.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left)).map_err(|e| IcmpError::Io(e.to_string()))?;
            let n = match (&self.socket).read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(IcmpError::Io(e.to_string())),
            };
            // Raw IPv4 sockets deliver the IP header too; skip it.
            let icmp = if self.raw && !self.v6 {
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                buf.get(ihl..n).unwrap_or_default()
            } else {
                &buf[..n]
            };
            let reply = if self.v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
            // Ping sockets rewrite the identifier, so only raw sockets check it.
            if is_reply(icmp, reply, seq, self.raw.then_some(self.ident)) {
                return Ok(Some(sent_at.elapsed()));
            }
        }
    }
}

/// An echo request: type, code 0, checksum, identifier, sequence, and an
/// 8-byte payload.
fn echo_request(kind: u8, ident: u16, seq: u16, checksum: bool) -> Vec<u8> {
    let mut p = vec![kind, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"tether\0\0");
    if checksum {
        // The kernel computes ICMPv6 checksums (they cover a pseudo-header).
        let sum = internet_checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

fn is_reply(icmp: &[u8], reply_type: u8, seq: u16, ident: Option<u16>) -> bool {
    icmp.len() >= 8
        && icmp[0] == reply_type
        && u16::from_be_bytes([icmp[6], icmp[7]]) == seq
        && ident.is_none_or(|id| u16::from_be_bytes([icmp[4], icmp[5]]) == id)
}

/// RFC 1071 checksum.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_verifies() {
        let p = echo_request(ECHO_REQUEST_V4, 0x1234, 7, true);
        // A packet including its own checksum sums to zero.
        assert_eq!(internet_checksum(&p), 0);
        assert!(is_reply(&[0, 0, 0, 0, 0x12, 0x34, 0, 7], ECHO_REPLY_V4, 7, Some(0x1234)));
        assert!(!is_reply(&[0, 0, 0, 0, 0x12, 0x35, 0, 7], ECHO_REPLY_V4, 7, Some(0x1234)));
        assert!(is_reply(&[0, 0, 0, 0, 0x99, 0x99, 0, 7], ECHO_REPLY_V4, 7, None));
        assert!(!is_reply(&[8, 0, 0, 0, 0, 0, 0, 7], ECHO_REPLY_V4, 7, None), "our own request");
    }

    #[test]
    fn loopback_answers_or_icmp_is_not_permitted() {
        match ping(
            "127.0.0.1".parse().unwrap(),
            2,
            Duration::from_millis(10),
            Duration::from_secs(1),
        ) {
            Ok(rtts) => assert_eq!(rtts.len(), 2, "loopback always answers"),
            Err(IcmpError::NotPermitted(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
