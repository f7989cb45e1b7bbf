//! Bytes from the system's random source (`getrandom(2)` on Linux), and
//! the ids built from them.

use std::time::{SystemTime, UNIX_EPOCH};

/// The system's random source failed (on Linux: no entropy pool yet, or
/// the call is blocked by a sandbox).
#[derive(Debug, thiserror::Error)]
#[error("the system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

/// Fills `buf` with bytes from the system's random source, fit for keys,
/// serial numbers and nonces.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(RandomError)
}

/// A random 16-bit number, e.g. a DNS query id or an ICMP identifier.
pub fn u16() -> Result<u16, RandomError> {
    let mut bytes = [0u8; 2];
    fill(&mut bytes)?;
    Ok(u16::from_ne_bytes(bytes))
}

/// Sixteen lowercase hex digits (64 bits) for names that only need to be
/// unique, not secret: session ids, temporary file names, point ids.
///
/// When the random source fails, the clock and the process id stand in:
/// a name that is merely unique enough beats failing the operation that
/// needs it.
pub fn unique_hex_id() -> String {
    let mut bytes = [0u8; 8];
    if fill(&mut bytes).is_err() {
        let nanos =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sixteen_hex_digits_and_differ() {
        let ids: std::collections::HashSet<String> = (0..100).map(|_| unique_hex_id()).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        assert!(ids.iter().all(|id| id.bytes().all(|b| !b.is_ascii_uppercase())));
    }

    #[test]
    fn filled_bytes_are_not_left_zero() {
        // 64 zero bytes from a working source has probability 2^-512.
        let mut buf = [0u8; 64];
        fill(&mut buf).unwrap();
        assert!(buf.iter().any(|&b| b != 0));
        let draws: std::collections::HashSet<u16> = (0..50).map(|_| u16().unwrap()).collect();
        assert!(draws.len() > 1, "fifty draws of sixteen bits were all equal");
    }
}
