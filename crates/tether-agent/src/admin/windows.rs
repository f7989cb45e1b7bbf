//! The admin channel on Windows: a local named pipe (`\\.\pipe\…`).
//! Remote clients are refused. The pipe keeps Windows' default security
//! for pipes: full access for SYSTEM, Administrators and the agent's own
//! account, read-only for everyone else, so only they can send a request.
//! UNVERIFIED on Windows itself (compiled; not exercised under Wine).

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};

/// The agent's end of one admin connection.
pub type ServerStream = NamedPipeServer;
/// The administrator's end.
pub type ClientStream = NamedPipeClient;

/// Every instance of the pipe is busy serving another client.
const ERROR_PIPE_BUSY: i32 = 231;
/// The pipe exists already: another agent serves it.
const ERROR_ACCESS_DENIED: i32 = 5;

pub struct Listener {
    name: OsString,
    /// The instance the next client connects to.
    next: NamedPipeServer,
}

/// Creates the pipe's first instance; if one exists another agent owns
/// the name, which is an error.
pub fn bind(path: &Path) -> io::Result<Listener> {
    let next = ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .create(path)
        .map_err(|e| match e.raw_os_error() {
            Some(ERROR_ACCESS_DENIED) => {
                io::Error::new(io::ErrorKind::AddrInUse, "another agent is serving this admin pipe")
            }
            _ => e,
        })?;
    Ok(Listener { name: path.as_os_str().to_owned(), next })
}

impl Listener {
    pub async fn accept(&mut self) -> io::Result<ServerStream> {
        self.next.connect().await?;
        let fresh = ServerOptions::new().reject_remote_clients(true).create(&self.name)?;
        Ok(std::mem::replace(&mut self.next, fresh))
    }
}

/// Opens the pipe, waiting while every instance is busy (the caller
/// bounds the whole exchange in time).
pub async fn connect(path: &Path) -> io::Result<ClientStream> {
    loop {
        match ClientOptions::new().open(path) {
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// A pipe vanishes with its last handle: nothing to remove.
pub fn remove(_path: &Path) {}
