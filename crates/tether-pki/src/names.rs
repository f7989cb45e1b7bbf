//! The naming rules for agents, technicians and organisations.
//!
//! Names end up in three places at once: certificate subjects, file names
//! under the PKI directory, and (for agents) the DNS name the controller
//! dials and rustls checks. The rules are the intersection of what is safe in
//! all three, so that a name accepted here never fails later.

use rustls::pki_types::DnsName;

use crate::error::PkiError;

/// Longest DNS name: 253 characters, per RFC 1035 as used in practice.
const MAX_DNS_NAME: usize = 253;
/// Longest DNS label, per RFC 1035.
const MAX_DNS_LABEL: usize = 63;
/// Longest technician name: RFC 5280's upper bound for a common name.
const MAX_TECH_NAME: usize = 64;
/// Longest organisation name. RFC 5280 bounds both O and CN at 64; the CA's
/// CN is the organisation plus " Tether CA" (10 characters).
const MAX_ORGANISATION: usize = 64 - CA_CN_SUFFIX.len();
/// Appended to the organisation to form the CA's common name.
pub(crate) const CA_CN_SUFFIX: &str = " Tether CA";

/// Checks an agent name, which doubles as its DNS name.
pub(crate) fn check_agent_name(name: &str) -> Result<(), PkiError> {
    check_dns_name("agent", name)
}

/// Checks a DNS name in lowercase, as written into a certificate SAN.
///
/// Lowercase only, because rustls compares names case-insensitively but the
/// agent name is also a file name, and `Agent-A` and `agent-a` must not become
/// two files for one host.
pub(crate) fn check_dns_name(kind: &'static str, name: &str) -> Result<(), PkiError> {
    let fail = |reason| Err(PkiError::InvalidName { kind, name: name.to_owned(), reason });
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.len() > MAX_DNS_NAME {
        return fail("it is longer than 253 characters");
    }
    if !name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.')) {
        return fail("only lowercase letters, digits, '-' and '.' are allowed");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return fail("it has an empty label (a leading, trailing or doubled '.')");
        }
        if label.len() > MAX_DNS_LABEL {
            return fail("a label between dots is longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return fail("a label between dots starts or ends with '-'");
        }
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return fail("it is an IP address; pass it as an IP address instead");
    }
    // The last word goes to the same parser rustls uses for the dialled name,
    // which also rejects names such as `host.123` that look numeric.
    if DnsName::try_from(name).is_err() {
        return fail("it is not a DNS name TLS clients accept (is the last label all digits?)");
    }
    Ok(())
}

/// Checks a technician name: 1 to 64 of `A-Z a-z 0-9 . _ @ -`, so that
/// e-mail-like names work, and not starting with '.' or '-', so that the file
/// is not hidden and the name is not mistaken for a command-line option.
pub(crate) fn check_tech_name(name: &str) -> Result<(), PkiError> {
    let fail =
        |reason| Err(PkiError::InvalidName { kind: "technician", name: name.to_owned(), reason });
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.len() > MAX_TECH_NAME {
        return fail("it is longer than 64 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-')) {
        return fail("only letters, digits, '.', '_', '@' and '-' are allowed");
    }
    if name.starts_with(['.', '-']) {
        return fail("it must not start with '.' or '-'");
    }
    Ok(())
}

/// Checks the organisation name that goes into the CA's O and CN.
pub(crate) fn check_organisation(name: &str) -> Result<(), PkiError> {
    let fail = |reason| Err(PkiError::InvalidOrganisation { name: name.to_owned(), reason });
    if name.trim().is_empty() {
        return fail("it is empty");
    }
    if name.trim() != name {
        return fail("it starts or ends with white space");
    }
    if name.chars().count() > MAX_ORGANISATION {
        return fail("it is longer than 54 characters");
    }
    if name.chars().any(char::is_control) {
        return fail("it contains control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_agent_names_pass() {
        for name in ["agent-01", "pc42.corp.example", "a", "x-1.y-2"] {
            assert!(check_agent_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn bad_agent_names_fail() {
        let long_label = "a".repeat(64);
        let long_name = ["abc"; 64].join(".");
        for name in [
            "",
            "Agent-A",
            "agent_a",
            "agent a",
            "../etc",
            "a/b",
            ".a",
            "a.",
            "a..b",
            "-a",
            "a-",
            "10.0.0.1",
            "host.123",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(
                matches!(check_agent_name(name), Err(PkiError::InvalidName { kind: "agent", .. })),
                "{name:?} was accepted"
            );
        }
    }

    #[test]
    fn good_tech_names_pass() {
        for name in ["alice", "Bob.Smith", "j_doe@corp.example", "t-1", "_svc"] {
            assert!(check_tech_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn bad_tech_names_fail() {
        let long = "a".repeat(65);
        for name in
            ["", "alice smith", "a/b", "..", ".hidden", "-rf", "ålice", "a:b", long.as_str()]
        {
            assert!(
                matches!(
                    check_tech_name(name),
                    Err(PkiError::InvalidName { kind: "technician", .. })
                ),
                "{name:?} was accepted"
            );
        }
    }

    #[test]
    fn organisation_rules() {
        assert!(check_organisation("Example Corp").is_ok());
        assert!(check_organisation("Müller & Söhne GmbH").is_ok());
        for bad in ["", "  ", " Lead", "Trail ", "a\nb", &"x".repeat(55)] {
            assert!(check_organisation(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
