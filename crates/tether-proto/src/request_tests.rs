use super::*;
use crate::codec::{MAX_REQUEST_FRAME, encode_payload};

fn payload(r: impl Into<Request>) -> Vec<u8> {
    encode_payload::<_, MAX_REQUEST_FRAME>(&r.into()).unwrap().to_vec()
}

/// Each variant's wire path. Exhaustive on purpose: a new variant does not
/// compile here until it is listed, and the tests below then check
/// `VARIANTS` against the encoder.
fn path(r: &Request) -> Vec<u8> {
    match r {
        Request::Call(call) => {
            let mut p = vec![0];
            match call {
                Call::Info => p.push(0),
                Call::AuditTail { .. } => p.push(1),
                Call::Processes { .. } => p.push(2),
                Call::Kill { .. } => p.push(3),
                Call::Net(_) => p.push(4),
                Call::Doctor(_) => p.push(5),
                Call::Restore(r) => p.extend([
                    6,
                    match r {
                        RestoreRequest::List => 0,
                        RestoreRequest::Show { .. } => 1,
                        RestoreRequest::Diff { .. } => 2,
                        RestoreRequest::Verify => 3,
                        RestoreRequest::Create { .. } => 4,
                        RestoreRequest::Rollback { .. } => 5,
                        RestoreRequest::Undo => 6,
                        RestoreRequest::Delete { .. } => 7,
                    },
                ]),
                Call::Screen(s) => p.extend([
                    7,
                    match s {
                        ScreenRequest::Monitors => 0,
                        ScreenRequest::Screenshot { .. } => 1,
                        ScreenRequest::Input { .. } => 2,
                    },
                ]),
                Call::FleetFacts(_) => p.push(8),
            }
            p
        }
        Request::Throughput(Throughput::Upload { .. }) => vec![1, 0],
        Request::Throughput(Throughput::Download { .. }) => vec![1, 1],
        Request::View(_) => vec![2],
    }
}

/// The last variant of every enum on the table, and its count.
fn last_variants() -> Vec<(Request, &'static [u8], u8)> {
    let view = ViewRequest { monitor: None, control: false, max_fps: 1 };
    vec![
        (view.into(), &[], 3),
        (Call::FleetFacts(Default::default()).into(), &[0], 9),
        (RestoreRequest::Delete { id: "x".into(), force: false }.into(), &[0, 6], 8),
        (ScreenRequest::Input { monitor: None, events: vec![] }.into(), &[0, 7], 3),
        (Throughput::Download { bytes: 1 }.into(), &[1], 2),
    ]
}

#[test]
fn the_variant_table_matches_the_wire() {
    let table = last_variants();
    assert_eq!(table.len(), VARIANTS.len());
    for ((request, at, count), (table_path, table_count)) in table.iter().zip(VARIANTS) {
        assert_eq!((at, count), (table_path, table_count));
        let mut expected = at.to_vec();
        expected.push(count - 1);
        assert_eq!(path(request)[..expected.len()], expected, "{request:?}");
        assert!(payload(request.clone()).starts_with(&expected), "{request:?}");
        assert!(!is_unknown_request_kind(&payload(request.clone())));
    }
}

#[test]
fn unknown_kinds_are_told_from_malformed_payloads() {
    for unknown in [&[3u8, 0][..], &[0, 9], &[0, 6, 8, 0], &[0, 7, 3], &[1, 2, 0]] {
        assert!(is_unknown_request_kind(unknown), "{unknown:?}");
    }
    for malformed in [&[][..], &[251, 0, 0, 0], &[0, 251], &[0, 6, 255], &[0]] {
        assert!(!is_unknown_request_kind(malformed), "{malformed:?}");
    }
}

#[test]
fn every_kind_has_a_valid_example_of_that_kind() {
    for &kind in RequestKind::ALL {
        let example = kind.example();
        assert_eq!(example.kind(), kind);
        assert_eq!(example.validate(), Ok(()), "{kind}");
    }
    let input = ScreenRequest::Input { monitor: None, events: vec![] };
    assert_eq!(Request::from(input).kind(), RequestKind::Control);
}

#[test]
fn audit_tail_limit_is_validated() {
    assert!(Request::from(Call::AuditTail { limit: 0 }).validate().is_err());
    assert!(Request::from(Call::AuditTail { limit: MAX_AUDIT_TAIL + 1 }).validate().is_err());
    assert!(Request::from(Call::AuditTail { limit: 1 }).validate().is_ok());
}

#[test]
fn restore_ids_and_labels_are_validated() {
    let ok = RestoreRequest::Rollback { id: "20261123T120000Z-7f3a".into() };
    assert!(Request::from(ok).validate().is_ok());
    for bad in ["", "../etc", "a b", &"x".repeat(65)] {
        let diff = RestoreRequest::Diff { id: bad.into() };
        assert!(Request::from(diff).validate().is_err(), "{bad:?}");
    }
    let label = |l: &str| RestoreRequest::Create { label: Some(l.into()), keep: true };
    assert!(Request::from(label("before update")).validate().is_ok());
    assert!(Request::from(label("a\nb")).validate().is_err());
    assert_eq!(Request::from(label("x")).audit_summary(), "label=\"x\" keep=true");
}

#[test]
fn throughput_and_view_arguments_are_validated() {
    assert!(Request::from(Throughput::Upload { bytes: 0 }).validate().is_err());
    let too_much = Throughput::Download { bytes: MAX_THROUGHPUT_BYTES + 1 };
    assert!(Request::from(too_much).validate().is_err());
    let view = |max_fps| Request::from(ViewRequest { monitor: None, control: false, max_fps });
    assert!(view(0).validate().is_err());
    assert!(view(MAX_FPS + 1).validate().is_err());
    assert!(view(MAX_FPS).validate().is_ok());
}
