//! One frame in or out of a QUIC stream.
//!
//! The length header is read and checked against the caller's limit before
//! the payload buffer is allocated, so a peer announcing four gigabytes costs
//! four bytes of reading and an error.

use quinn::{ReadExactError, RecvStream, SendStream};
use serde::{Serialize, de::DeserializeOwned};
use tether_proto::codec::{self, FrameError, HEADER_LEN};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameIoError {
    /// The stream ended cleanly before a frame began.
    #[error("the stream ended before a message arrived")]
    Finished,
    /// The stream ended inside a frame.
    #[error("the stream ended in the middle of a message")]
    Truncated,
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stream read failed: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("stream write failed: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream already closed")]
    Closed(#[from] quinn::ClosedStream),
}

/// Reads one frame's payload of at most `MAX` bytes.
pub async fn read_payload<const MAX: usize>(
    recv: &mut RecvStream,
) -> Result<Vec<u8>, FrameIoError> {
    let mut header = [0u8; HEADER_LEN];
    match recv.read_exact(&mut header).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Err(FrameIoError::Finished),
        Err(ReadExactError::FinishedEarly(_)) => return Err(FrameIoError::Truncated),
        Err(ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    let len = codec::check_header(header, MAX)?;
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => Ok(payload),
        Err(ReadExactError::FinishedEarly(_)) => Err(FrameIoError::Truncated),
        Err(ReadExactError::ReadError(e)) => Err(e.into()),
    }
}

/// Reads and decodes one message of at most `MAX` bytes.
pub async fn read_message<T: DeserializeOwned, const MAX: usize>(
    recv: &mut RecvStream,
) -> Result<T, FrameIoError> {
    let payload = read_payload::<MAX>(recv).await?;
    Ok(codec::decode_payload::<T, MAX>(&payload)?)
}

/// Writes a raw payload as one frame.
pub async fn write_payload(send: &mut SendStream, payload: Vec<u8>) -> Result<(), FrameIoError> {
    send.write_all(&codec::frame_payload(payload)).await?;
    Ok(())
}

/// Encodes and writes one message, refusing anything over `MAX` bytes.
pub async fn write_message<T: Serialize, const MAX: usize>(
    send: &mut SendStream,
    msg: &T,
) -> Result<(), FrameIoError> {
    let frame = codec::encode_frame::<T, MAX>(msg)?;
    send.write_all(&frame).await?;
    Ok(())
}
