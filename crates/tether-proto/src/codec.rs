//! Framing: every message travels as a 4-byte little-endian length followed
//! by that many bytes of bincode.
//!
//! Every decode is bounded twice. The length prefix is checked against the
//! channel's maximum *before* anything is buffered or allocated, and bincode
//! itself runs with the same byte limit, so a payload that claims a
//! four-gigabyte vector fails with [`FrameError::Malformed`] instead of
//! allocating. Decoding separates *incomplete* input (`Ok(None)`: read more)
//! from *invalid* input (`Err`: close the stream).

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use serde::{Serialize, de::DeserializeOwned};

/// Size of the length prefix in front of every frame.
pub const HEADER_LEN: usize = 4;

/// Largest hello or hello reply. They carry a version, a software string, a
/// ticket reference and a few names: 4 KiB leaves ample room and keeps an
/// unauthenticated-looking first message cheap to reject.
pub const MAX_HELLO_FRAME: usize = 4 * 1024;

/// Largest request a controller may send. Requests carry arguments, never
/// bulk data; 64 KiB is far above any real request and small enough that a
/// hostile peer gains nothing by sending it.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;

/// Largest response an agent may send. Process lists and audit excerpts can
/// reach a few megabytes; 16 MiB bounds what a hostile agent can make the
/// controller hold (the controller treats the agent as untrusted too).
pub const MAX_RESPONSE_FRAME: usize = 16 * 1024 * 1024;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix announces more than the channel allows.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// The payload is not a valid message of the expected type.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The payload decoded but bytes were left over, which a well-formed
    /// peer never sends.
    #[error("malformed frame: {0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The message could not be encoded (only ever on our own side).
    #[error("could not encode message: {0}")]
    Encode(String),
}

type Limited<const N: usize> = Configuration<LittleEndian, Varint, Limit<N>>;

const fn bincode_config<const MAX: usize>() -> Limited<MAX> {
    config::standard().with_limit::<MAX>()
}

/// Reads a frame header and checks the announced length against `max`.
///
/// Returns the payload length. Call this before reading or allocating the
/// payload.
pub fn check_header(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Encodes `msg` as a complete frame (header and payload), refusing to
/// produce a frame the receiving side would reject.
pub fn encode_frame<T: Serialize, const MAX: usize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let payload = encode_payload::<T, MAX>(msg)?;
    Ok(frame_payload(payload))
}

/// Encodes `msg` as a bare payload of at most `MAX` bytes.
pub fn encode_payload<T: Serialize, const MAX: usize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let payload = bincode::serde::encode_to_vec(msg, bincode_config::<MAX>())
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    if payload.len() > MAX {
        return Err(FrameError::TooLarge { len: payload.len(), max: MAX });
    }
    Ok(payload)
}

/// Puts the length header in front of an already-checked payload.
pub fn frame_payload(payload: Vec<u8>) -> Vec<u8> {
    // Every caller checked the payload against a limit far below u32::MAX.
    let len = u32::try_from(payload.len()).expect("payloads are capped far below 4 GiB");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes one payload of at most `MAX` bytes, which must be consumed
/// entirely.
pub fn decode_payload<T: DeserializeOwned, const MAX: usize>(
    payload: &[u8],
) -> Result<T, FrameError> {
    if payload.len() > MAX {
        return Err(FrameError::TooLarge { len: payload.len(), max: MAX });
    }
    let (msg, used) = bincode::serde::decode_from_slice(payload, bincode_config::<MAX>())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(FrameError::TrailingBytes(payload.len() - used));
    }
    Ok(msg)
}

/// Parses one frame from the front of `buf`.
///
/// `Ok(None)` means the frame is not complete yet (read more bytes);
/// `Ok(Some((msg, consumed)))` returns the message and how many bytes of
/// `buf` it used; `Err` means the input is invalid and the stream should be
/// closed. Nothing is allocated for a frame whose header exceeds `MAX`.
pub fn parse_frame<T: DeserializeOwned, const MAX: usize>(
    buf: &[u8],
) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let len = check_header(*header, MAX)?;
    let Some(payload) = buf[HEADER_LEN..].get(..len) else {
        return Ok(None);
    };
    let msg = decode_payload::<T, MAX>(payload)?;
    Ok(Some((msg, HEADER_LEN + len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Response;
    use crate::request::{Call, Request};

    #[test]
    fn request_round_trips() {
        let req = Request::Call(Call::AuditTail { limit: 25 });
        let bytes = encode_frame::<_, MAX_REQUEST_FRAME>(&req).unwrap();
        let (back, used) = parse_frame::<Request, MAX_REQUEST_FRAME>(&bytes).unwrap().unwrap();
        assert_eq!(back, req);
        assert_eq!(used, bytes.len());
    }

    #[test]
    fn truncated_input_is_incomplete_not_invalid() {
        let bytes =
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::AuditTail { limit: 7 }))
                .unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_frame::<Request, MAX_REQUEST_FRAME>(&bytes[..cut]).unwrap(),
                None,
                "prefix of {cut} bytes"
            );
        }
    }

    #[test]
    fn oversized_header_is_rejected_before_the_payload_arrives() {
        let header = u32::MAX.to_le_bytes();
        assert_eq!(
            parse_frame::<Request, MAX_REQUEST_FRAME>(&header),
            Err(FrameError::TooLarge { len: u32::MAX as usize, max: MAX_REQUEST_FRAME })
        );
    }

    #[test]
    fn claimed_huge_vector_is_an_error_not_an_allocation() {
        // A Response::Error carries a String; claim it is 4 GiB long.
        // Variant index of Error, then ErrorKind, then a varint u64 length.
        let mut payload = Vec::new();
        let variant = bincode::serde::encode_to_vec(
            Response::Error(crate::message::ErrorReply::internal("x")),
            config::standard(),
        )
        .unwrap();
        payload.extend_from_slice(&variant[..2]);
        payload.push(0xFD); // varint marker for a following u64
        payload.extend_from_slice(&4_000_000_000u64.to_le_bytes());
        payload.extend_from_slice(&[b'a'; 23]);
        let frame = frame_payload(payload);
        let err = parse_frame::<Response, MAX_RESPONSE_FRAME>(&frame).unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn trailing_bytes_are_invalid() {
        let mut payload =
            encode_payload::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Info)).unwrap();
        payload.push(0);
        assert_eq!(
            decode_payload::<Request, MAX_REQUEST_FRAME>(&payload),
            Err(FrameError::TrailingBytes(1))
        );
    }

    #[test]
    fn unknown_variant_is_malformed() {
        let frame = frame_payload(vec![0xFA, 0xFF, 0xFF, 0x00]);
        assert!(matches!(
            parse_frame::<Request, MAX_REQUEST_FRAME>(&frame),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn encoder_refuses_frames_the_receiver_would_reject() {
        let big = Response::Error(crate::message::ErrorReply::internal("x".repeat(5000)));
        assert!(matches!(
            encode_frame::<_, MAX_HELLO_FRAME>(&big),
            Err(FrameError::Encode(_) | FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn two_frames_in_one_buffer_parse_in_order() {
        let mut buf = encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Info)).unwrap();
        buf.extend(
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::AuditTail { limit: 3 }))
                .unwrap(),
        );
        let (first, used) = parse_frame::<Request, MAX_REQUEST_FRAME>(&buf).unwrap().unwrap();
        let (second, _) = parse_frame::<Request, MAX_REQUEST_FRAME>(&buf[used..]).unwrap().unwrap();
        assert_eq!(
            (first, second),
            (Request::Call(Call::Info), Request::Call(Call::AuditTail { limit: 3 }))
        );
    }
}
