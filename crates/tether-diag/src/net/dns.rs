//! A minimal DNS stub client: one A or AAAA question over UDP to one
//! resolver, so each configured resolver can be checked on its own and
//! NXDOMAIN told apart from silence. The parser treats the answer as
//! hostile: every offset is checked and name-compression loops are bounded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

/// Record types asked for.
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const RCODE_NXDOMAIN: u8 = 3;
/// Largest answer read; plain DNS over UDP is limited to 512 bytes without
/// EDNS, which we do not offer.
const MAX_PACKET: usize = 512;

/// What one question got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Addresses(Vec<IpAddr>),
    NxDomain,
    /// Any other error code (SERVFAIL, REFUSED…), with its number.
    Rcode(u8),
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0} is not a valid DNS name")]
    InvalidName(String),
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    #[error("{0}")]
    Io(String),
}

/// Builds a query packet for `name` with id `id`.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, DnsError> {
    let invalid = || DnsError::InvalidName(name.to_owned());
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(invalid());
    }
    let mut packet = Vec::with_capacity(18 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&0x0100u16.to_be_bytes()); // standard query, recursion desired
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(invalid());
        }
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(packet)
}

/// Parses an answer to the query with id `id` and type `qtype`.
pub fn parse_answer(packet: &[u8], id: u16, qtype: u16) -> Result<Answer, DnsError> {
    let header = packet.get(..12).ok_or(DnsError::Malformed("shorter than a header"))?;
    if u16::from_be_bytes([header[0], header[1]]) != id {
        return Err(DnsError::Malformed("answer to another query"));
    }
    if header[2] & 0x80 == 0 {
        return Err(DnsError::Malformed("not a response"));
    }
    match header[3] & 0x0f {
        0 => {}
        RCODE_NXDOMAIN => return Ok(Answer::NxDomain),
        code => return Ok(Answer::Rcode(code)),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at)? + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = skip_name(packet, at)?;
        let fixed = packet.get(at..at + 10).ok_or(DnsError::Malformed("truncated record"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = packet
            .get(at + 10..at + 10 + len)
            .ok_or(DnsError::Malformed("truncated record data"))?;
        at += 10 + len;
        if class != CLASS_IN || rtype != qtype {
            continue; // CNAMEs and the like: the addresses follow.
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => {
                addresses.push(IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])))
            }
            (TYPE_AAAA, 16) => {
                let octets: [u8; 16] =
                    data.try_into().map_err(|_| DnsError::Malformed("bad AAAA"))?;
                addresses.push(IpAddr::V6(Ipv6Addr::from(octets)));
            }
            _ => return Err(DnsError::Malformed("address record of the wrong size")),
        }
    }
    Ok(Answer::Addresses(addresses))
}

/// Returns the offset just past the name starting at `at`. A compression
/// pointer ends the name in place; following it is not needed to skip it.
fn skip_name(packet: &[u8], mut at: usize) -> Result<usize, DnsError> {
    // A name has at most 127 labels; anything longer is garbage.
    for _ in 0..128 {
        let len = *packet.get(at).ok_or(DnsError::Malformed("truncated name"))?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => {
                packet.get(at + 1).ok_or(DnsError::Malformed("truncated pointer"))?;
                return Ok(at + 2);
            }
            l if l & 0xc0 != 0 => return Err(DnsError::Malformed("reserved label type")),
            l => at += 1 + usize::from(l),
        }
    }
    Err(DnsError::Malformed("name too long"))
}

/// Asks `resolver` one question and waits up to `timeout` for the answer,
/// ignoring stray packets (wrong source or id) in the meantime.
pub async fn query(
    resolver: SocketAddr,
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> Result<Answer, DnsError> {
    let id = tether_os::random::u16().map_err(|e| DnsError::Io(e.to_string()))?;
    let packet = build_query(id, name, qtype)?;
    let local: SocketAddr = if resolver.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| DnsError::Io(e.to_string()))?;
    socket.connect(resolver).await.map_err(|e| DnsError::Io(e.to_string()))?;
    socket.send(&packet).await.map_err(|e| DnsError::Io(e.to_string()))?;
    let exchange = async {
        let mut buf = [0u8; MAX_PACKET];
        loop {
            match socket.recv(&mut buf).await {
                Ok(n) => match parse_answer(&buf[..n], id, qtype) {
                    Err(DnsError::Malformed("answer to another query")) => continue,
                    other => return other,
                },
                // An ICMP port unreachable surfaces as a refused receive.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(DnsError::Io(
                        "the resolver refused (nothing listens on port 53)".into(),
                    ));
                }
                Err(e) => return Err(DnsError::Io(e.to_string())),
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(DnsError::Timeout(timeout)))
}

/// Entry point shared by the fuzz target and the seed corpus test: parses
/// `data` as an answer to a query with the id and type found in it.
/// Panics only on a bug. Not API.
#[doc(hidden)]
pub fn fuzz_answer(data: &[u8]) {
    let id = data.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    for qtype in [TYPE_A, TYPE_AAAA] {
        if let Ok(Answer::Addresses(list)) = parse_answer(data, id, qtype) {
            // Every address came out of the packet: at least 4 bytes each.
            assert!(list.len() * 4 <= data.len());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response to `query` with the given rcode and A records; used by
    /// this module's tests and by the fake resolver in the net tests.
    pub(crate) fn response(query: &[u8], rcode: u8, addrs: &[Ipv4Addr]) -> Vec<u8> {
        let question_end = skip_name(query, 12).unwrap() + 4;
        let mut out = query[..question_end].to_vec();
        out[2] |= 0x80; // QR
        out[3] = (out[3] & 0xf0) | rcode;
        out[6..8].copy_from_slice(&(addrs.len() as u16).to_be_bytes());
        for a in addrs {
            out.extend_from_slice(&[0xc0, 12]); // pointer to the question name
            out.extend_from_slice(&TYPE_A.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&60u32.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&a.octets());
        }
        out
    }

    #[test]
    fn query_encodes_labels() {
        let q = build_query(0x1234, "www.example.com.", TYPE_A).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..], b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert!(build_query(1, "a..b", TYPE_A).is_err());
        assert!(build_query(1, &"x".repeat(64), TYPE_A).is_err());
        assert!(build_query(1, "", TYPE_A).is_err());
    }

    #[test]
    fn answers_parse() {
        let q = build_query(7, "example.com", TYPE_A).unwrap();
        let ok = response(&q, 0, &[Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 0, 2, 8)]);
        assert_eq!(
            parse_answer(&ok, 7, TYPE_A).unwrap(),
            Answer::Addresses(vec!["192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap()])
        );
        assert_eq!(parse_answer(&response(&q, 3, &[]), 7, TYPE_A).unwrap(), Answer::NxDomain);
        assert_eq!(parse_answer(&response(&q, 2, &[]), 7, TYPE_A).unwrap(), Answer::Rcode(2));
        assert_eq!(
            parse_answer(&response(&q, 0, &[]), 7, TYPE_A).unwrap(),
            Answer::Addresses(vec![])
        );
        assert!(parse_answer(&ok, 8, TYPE_A).is_err(), "wrong id");
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        let q = build_query(7, "example.com", TYPE_A).unwrap();
        let ok = response(&q, 0, &[Ipv4Addr::LOCALHOST]);
        for cut in 0..ok.len() {
            let _ = parse_answer(&ok[..cut], 7, TYPE_A);
        }
        // A record claiming more data than the packet holds.
        let mut long = ok.clone();
        let len_at = long.len() - 6;
        long[len_at..len_at + 2].copy_from_slice(&0xffffu16.to_be_bytes());
        assert!(matches!(parse_answer(&long, 7, TYPE_A), Err(DnsError::Malformed(_))));
        // A name made of 200 one-byte labels.
        let mut deep = ok[..12].to_vec();
        deep[4..6].copy_from_slice(&1u16.to_be_bytes());
        for _ in 0..200 {
            deep.extend_from_slice(&[1, b'a']);
        }
        assert!(matches!(parse_answer(&deep, 7, TYPE_A), Err(DnsError::Malformed(_))));
        // An A record of 5 bytes.
        let mut odd = ok.clone();
        let len_at = odd.len() - 6;
        odd[len_at..len_at + 2].copy_from_slice(&5u16.to_be_bytes());
        odd.push(0);
        assert!(matches!(parse_answer(&odd, 7, TYPE_A), Err(DnsError::Malformed(_))));
    }
}
