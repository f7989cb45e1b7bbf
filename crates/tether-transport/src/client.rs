//! The controller's session with one agent.

use std::net::SocketAddr;
use std::time::Duration;

use quinn::{Connection, Endpoint, VarInt};
use tether_proto::codec::{MAX_HELLO_FRAME, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use tether_proto::handshake::{Hello, HelloReply, Welcome};
use tether_proto::{Request, Response, close};

use crate::error::TransportError;
use crate::framed::{self, FrameIoError};

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
        tokio::time::timeout(timeout, attempt).await.unwrap_or_else(|_| {
            Err(TransportError::Timeout {
                target: target.clone(),
                what: "connecting and greeting the agent",
                after: timeout,
            })
        })
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
            let (mut send, mut recv) = self
                .conn
                .open_bi()
                .await
                .map_err(|e| TransportError::from_connection(target, &e))?;
            let frame_err = |e| TransportError::from_frame(target, e);
            framed::write_message::<_, MAX_REQUEST_FRAME>(&mut send, request)
                .await
                .map_err(frame_err)?;
            send.finish().map_err(|e| frame_err(e.into()))?;
            let response = framed::read_message::<Response, MAX_RESPONSE_FRAME>(&mut recv).await;
            match response {
                Ok(Response::Error(reply)) => {
                    Err(TransportError::Agent { target: target.clone(), reply })
                }
                Ok(response) => Ok(response),
                Err(e) => Err(match self.conn.close_reason() {
                    Some(reason) => TransportError::from_connection(target, &reason),
                    None => frame_err(e),
                }),
            }
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| {
            Err(TransportError::Timeout {
                target: target.clone(),
                what: "waiting for the agent's reply",
                after: timeout,
            })
        })
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
