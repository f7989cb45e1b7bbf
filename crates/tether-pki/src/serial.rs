//! Certificate serial numbers and their one text form.
//!
//! The index, [`crate::PeerIdentity`] and the audit log must agree on how a
//! serial is spelled, or a revoked technician could not be matched to their
//! sessions. The form is lowercase hex of the DER INTEGER's magnitude with no
//! leading zero bytes and no separators: exactly what is left of the encoded
//! serial once its sign padding is dropped.

use crate::error::PkiError;

/// Number of random bytes in a new serial. RFC 5280 allows up to 20 octets;
/// 16 random bytes (less the cleared sign bit) make collisions and guessing
/// irrelevant.
pub(crate) const SERIAL_LEN: usize = 16;

/// A fresh random positive serial.
///
/// The top bit is cleared so the DER encoding needs no padding byte and the
/// number stays positive, as RFC 5280 requires.
pub(crate) fn random() -> Result<[u8; SERIAL_LEN], PkiError> {
    let mut bytes = [0u8; SERIAL_LEN];
    tether_os::random::fill(&mut bytes)?;
    bytes[0] &= 0x7f;
    Ok(bytes)
}

/// Lowercase hex of `bytes`, two digits per byte.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The canonical text form of a serial given as the DER INTEGER's content
/// bytes (as `x509-parser`'s `raw_serial` returns them).
pub(crate) fn canonical(raw: &[u8]) -> String {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    let magnitude = &raw[first..];
    if magnitude.is_empty() { "00".to_owned() } else { to_hex(magnitude) }
}

/// A key for comparing serials typed by people with indexed ones: hex digits
/// only, lowercase, without leading zeros. Accepts `3FA2...`, `3f:a2:...` and
/// OpenSSL's `00:3f:...` padding alike.
pub(crate) fn match_key(input: &str) -> Result<String, PkiError> {
    let trimmed = input.trim();
    let digits: String = trimmed.chars().filter(|&c| c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PkiError::InvalidSerial(input.to_owned()));
    }
    let key = digits.to_ascii_lowercase();
    let key = key.trim_start_matches('0');
    Ok(if key.is_empty() { "0".to_owned() } else { key.to_owned() })
}

/// Decodes a canonical serial back into bytes, for the CRL.
pub(crate) fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let padded = if hex.len() % 2 == 1 { format!("0{hex}") } else { hex.to_owned() };
    padded
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_and_differ() {
        let a = random().unwrap();
        let b = random().unwrap();
        assert!(a[0] < 0x80 && b[0] < 0x80);
        assert_ne!(a, b);
    }

    #[test]
    fn canonical_drops_sign_padding() {
        assert_eq!(canonical(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(canonical(&[0x0a, 0xff]), "0aff");
        assert_eq!(canonical(&[0x00]), "00");
    }

    #[test]
    fn match_key_accepts_human_spellings() {
        let want = match_key("0aff10").unwrap();
        for spelling in ["0AFF10", "0a:ff:10", "00:0A:FF:10", " aff10 ", "AF:F1:0"] {
            assert_eq!(match_key(spelling).unwrap(), want, "{spelling}");
        }
    }

    #[test]
    fn match_key_rejects_non_hex() {
        for bad in ["", ":", "xyz", "0a-ff", "0a ff"] {
            assert!(matches!(match_key(bad), Err(PkiError::InvalidSerial(_))), "{bad:?}");
        }
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(from_hex("0aff").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(from_hex("aff").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(to_hex(&[0x0a, 0xff]), "0aff");
    }
}
