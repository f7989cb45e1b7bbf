//! Throughput between agent and technician over the live connection: the
//! raw payload that follows an upload request, and the one a download
//! reply is followed by. Both are bounded by the request (itself capped at
//! `MAX_THROUGHPUT_BYTES`) and by a time limit.

use std::time::{Duration, Instant};

use quinn::{RecvStream, SendStream, VarInt};
use tether_proto::ErrorReply;

/// Longest a transfer may take; at 64 MiB that still allows about
/// 9 Mbit/s, slower links should be measured with smaller transfers.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads exactly `bytes` payload bytes and returns the microseconds from
/// the first to the last. Anything beyond is refused with STOP_SENDING.
pub async fn receive(recv: &mut RecvStream, bytes: u64) -> Result<u64, ErrorReply> {
    let transfer = async {
        let mut got = 0u64;
        let mut first: Option<Instant> = None;
        while got < bytes {
            let want = usize::try_from(bytes - got).unwrap_or(usize::MAX).min(1 << 20);
            match recv.read_chunk(want, true).await {
                Ok(Some(chunk)) => {
                    first.get_or_insert_with(Instant::now);
                    got += chunk.bytes.len() as u64;
                }
                Ok(None) => {
                    return Err(ErrorReply::bad_request(format!(
                        "upload ended after {got} of {bytes} bytes"
                    )));
                }
                Err(e) => return Err(ErrorReply::bad_request(format!("upload failed: {e}"))),
            }
        }
        let _ = recv.stop(VarInt::from_u32(0));
        Ok(first.map_or(0, |t| t.elapsed().as_micros() as u64))
    };
    tokio::time::timeout(TRANSFER_TIMEOUT, transfer).await.unwrap_or_else(|_| {
        Err(ErrorReply::unavailable(format!("upload not finished within {TRANSFER_TIMEOUT:?}")))
    })
}

/// Why a download's payload was not all sent.
#[derive(Debug, thiserror::Error)]
pub enum SendFailed {
    #[error(transparent)]
    Write(#[from] quinn::WriteError),
    #[error("download not finished within {TRANSFER_TIMEOUT:?}")]
    TimedOut,
}

/// Writes `bytes` payload bytes after the reply.
pub async fn send(send: &mut SendStream, bytes: u64) -> Result<(), SendFailed> {
    // Zeros: the point is the link, not the content; QUIC encrypts it anyway.
    static CHUNK: [u8; 64 * 1024] = [0; 64 * 1024];
    let transfer = async {
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(CHUNK.len());
            send.write_all(&CHUNK[..n]).await?;
            left -= n as u64;
        }
        Ok(())
    };
    tokio::time::timeout(TRANSFER_TIMEOUT, transfer).await.unwrap_or(Err(SendFailed::TimedOut))
}
