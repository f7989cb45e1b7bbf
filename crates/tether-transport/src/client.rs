//! The controller's session with one agent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use tether_proto::codec::{MAX_HELLO_FRAME, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use tether_proto::handshake::{Hello, HelloReply, Welcome};
use tether_proto::screen::ViewStart;
use tether_proto::{Request, Response, Throughput, close};

use crate::error::TransportError;
use crate::framed::{self, FrameIoError};

/// Payload for uploads: the content is irrelevant, the link is measured.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// An established, greeted connection to one agent.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    welcome: Welcome,
    target: String,
}

impl Client {
    /// Connects to the agent at `addr`, verifying that its certificate is
    /// valid for `server_name`, and says hello. The whole exchange must
    /// complete within `timeout`.
    pub async fn connect(
        endpoint: &Endpoint,
        addr: SocketAddr,
        server_name: &str,
        hello: &Hello,
        timeout: Duration,
    ) -> Result<Client, TransportError> {
        let target = format!("{server_name} ({addr})");
        let attempt = async {
            let connecting = endpoint
                .connect(addr, server_name)
                .map_err(|source| TransportError::Connect { target: target.clone(), source })?;
            let conn =
                connecting.await.map_err(|e| TransportError::from_connection(&target, &e))?;
            let (mut send, mut recv) =
                conn.open_bi().await.map_err(|e| TransportError::from_connection(&target, &e))?;
            let frame_err = |e| TransportError::from_frame(&target, e);
            let payload = hello.encode().map_err(|e| frame_err(FrameIoError::Frame(e)))?;
            framed::write_payload(&mut send, payload).await.map_err(frame_err)?;
            send.finish().map_err(|e| frame_err(e.into()))?;
            let reply = framed::read_payload::<MAX_HELLO_FRAME>(&mut recv).await;
            let reply = match reply {
                Ok(reply) => reply,
                // The agent may close the connection right after refusing;
                // its close reason then says more than "stream ended".
                Err(e) => {
                    return Err(match conn.close_reason() {
                        Some(reason) => TransportError::from_connection(&target, &reason),
                        None => frame_err(e),
                    });
                }
            };
            let welcome = HelloReply::decode(&reply)
                .map_err(|source| TransportError::Handshake { target: target.clone(), source })?;
            Ok(Client { conn, welcome, target: target.clone() })
        };
        within(&target, timeout, "connecting and greeting the agent", attempt).await
    }

    /// Opens a stream and writes `request` on it; the caller finishes the
    /// send side when it has nothing more to add.
    async fn open_request(
        &self,
        request: &Request,
    ) -> Result<(SendStream, RecvStream), TransportError> {
        // An older agent says which kinds it serves: ask it nothing else.
        let kind = request.kind();
        if !self.welcome.supports(kind) {
            return Err(TransportError::Unsupported {
                target: self.target.clone(),
                agent: self.welcome.agent_software.clone(),
                kind: kind.as_str(),
            });
        }
        let (mut send, recv) = self
            .conn
            .open_bi()
            .await
            .map_err(|e| TransportError::from_connection(&self.target, &e))?;
        framed::write_message::<_, MAX_REQUEST_FRAME>(&mut send, request)
            .await
            .map_err(|e| TransportError::from_frame(&self.target, e))?;
        Ok((send, recv))
    }

    /// Reads the agent's reply on a request stream. An error reply becomes
    /// [`TransportError::Agent`]; when the read fails because the agent
    /// closed the connection, its close reason says more than "stream
    /// ended".
    async fn read_reply(&self, recv: &mut RecvStream) -> Result<Response, TransportError> {
        match framed::read_message::<Response, MAX_RESPONSE_FRAME>(recv).await {
            Ok(Response::Error(reply)) => {
                Err(TransportError::Agent { target: self.target.clone(), reply })
            }
            Ok(response) => Ok(response),
            Err(e) => Err(match self.conn.close_reason() {
                Some(reason) => TransportError::from_connection(&self.target, &reason),
                None => TransportError::from_frame(&self.target, e),
            }),
        }
    }

    /// A reply that does not answer `what` was asked.
    fn unexpected(&self, what: &str) -> TransportError {
        let reason = format!("unexpected reply to {what}");
        TransportError::from_frame(
            &self.target,
            FrameIoError::Frame(tether_proto::FrameError::Malformed(reason)),
        )
    }

    /// Sends one request on its own stream and waits for the response.
    ///
    /// An error reply from the agent comes back as [`TransportError::Agent`].
    pub async fn request(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, TransportError> {
        let target = &self.target;
        let exchange = async {
            let (mut send, mut recv) = self.open_request(request).await?;
            send.finish().map_err(|e| TransportError::from_frame(target, e.into()))?;
            self.read_reply(&mut recv).await
        };
        within(target, timeout, "waiting for the agent's reply", exchange).await
    }

    /// Opens a view stream: sends `Request::View(ViewRequest)` and waits for the agent's
    /// `Viewing` reply. The stream then carries screen messages in and
    /// viewer messages out (see `tether_proto::screen`).
    pub async fn open_view(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<(ViewStart, SendStream, RecvStream), TransportError> {
        let target = &self.target;
        let exchange = async {
            let (send, mut recv) = self.open_request(request).await?;
            match self.read_reply(&mut recv).await? {
                Response::Viewing(start) => Ok((*start, send, recv)),
                _ => Err(self.unexpected("a view request")),
            }
        };
        let what = "waiting for the agent to start the view (a consent prompt may be open)";
        within(target, timeout, what, exchange).await
    }

    /// Sends `bytes` bytes to the agent and returns how long the agent saw
    /// them take from first to last byte, and how long the whole exchange
    /// took here.
    pub async fn upload(
        &self,
        bytes: u64,
        timeout: Duration,
    ) -> Result<(Duration, Duration), TransportError> {
        let target = &self.target;
        let exchange = async {
            let start = Instant::now();
            let (mut send, mut recv) =
                self.open_request(&Request::Throughput(Throughput::Upload { bytes })).await?;
            let frame_err = |e| TransportError::from_frame(target, e);
            let mut left = bytes;
            while left > 0 {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(ZEROS.len());
                // A refusal (e.g. denied) stops the stream; the reply says why.
                if send.write_all(&ZEROS[..n]).await.is_err() {
                    break;
                }
                left -= n as u64;
            }
            let _ = send.finish();
            match framed::read_message::<Response, MAX_RESPONSE_FRAME>(&mut recv).await {
                Ok(Response::Received { bytes: got, micros }) if got == bytes => {
                    Ok((Duration::from_micros(micros), start.elapsed()))
                }
                Ok(Response::Error(reply)) => {
                    Err(TransportError::Agent { target: target.clone(), reply })
                }
                Ok(_) => Err(self.unexpected("an upload")),
                Err(e) => Err(frame_err(e)),
            }
        };
        within(target, timeout, "uploading to the agent", exchange).await
    }

    /// Asks the agent for `bytes` bytes and returns how long they took from
    /// the agent's header to the last byte. The agent may not send more
    /// than was asked for.
    pub async fn download(
        &self,
        bytes: u64,
        timeout: Duration,
    ) -> Result<Duration, TransportError> {
        let target = &self.target;
        let exchange = async {
            let (mut send, mut recv) =
                self.open_request(&Request::Throughput(Throughput::Download { bytes })).await?;
            let frame_err = |e| TransportError::from_frame(target, e);
            send.finish().map_err(|e| frame_err(e.into()))?;
            let announced =
                match framed::read_message::<Response, MAX_RESPONSE_FRAME>(&mut recv).await {
                    Ok(Response::Sending { bytes: n }) if n == bytes => n,
                    Ok(Response::Error(reply)) => {
                        return Err(TransportError::Agent { target: target.clone(), reply });
                    }
                    Ok(_) => return Err(self.unexpected("a download")),
                    Err(e) => return Err(frame_err(e)),
                };
            let start = Instant::now();
            let mut got = 0u64;
            while got < announced {
                let want = usize::try_from(announced - got).unwrap_or(usize::MAX).min(1 << 20);
                match recv.read_chunk(want, true).await {
                    Ok(Some(chunk)) => got += chunk.bytes.len() as u64,
                    Ok(None) => return Err(frame_err(FrameIoError::Truncated)),
                    Err(e) => return Err(frame_err(e.into())),
                }
            }
            Ok(start.elapsed())
        };
        within(target, timeout, "downloading from the agent", exchange).await
    }

    /// What the agent said when it accepted the session.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The underlying QUIC connection (for tests and measurements).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// "name (address)", as used in messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Closes the session politely.
    pub fn close(&self) {
        self.conn.close(VarInt::from_u32(close::NORMAL), b"done");
    }
}

/// Runs `work`, failing with [`TransportError::Timeout`] (naming `what`)
/// if it takes longer than `timeout`.
async fn within<T>(
    target: &str,
    timeout: Duration,
    what: &'static str,
    work: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    tokio::time::timeout(timeout, work).await.unwrap_or_else(|_| {
        Err(TransportError::Timeout { target: target.to_owned(), what, after: timeout })
    })
}
