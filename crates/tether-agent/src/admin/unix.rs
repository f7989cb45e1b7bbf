//! The admin channel on Unix: a socket file, mode 0600 (owner only: root
//! for the packaged service), in a directory created 0755 if missing.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::net::{UnixListener, UnixStream};

/// The agent's end of one admin connection.
pub type ServerStream = UnixStream;
/// The administrator's end.
pub type ClientStream = UnixStream;

pub struct Listener(UnixListener);

/// Binds the socket. A stale socket file (no agent answering) is replaced;
/// a live one means another agent owns it, which is an error.
pub fn bind(path: &Path) -> io::Result<Listener> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another agent is serving this admin socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Bind under a restrictive umask-independent mode: set it right after.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Listener(listener))
}

impl Listener {
    pub async fn accept(&mut self) -> io::Result<ServerStream> {
        self.0.accept().await.map(|(stream, _)| stream)
    }
}

pub async fn connect(path: &Path) -> io::Result<ClientStream> {
    UnixStream::connect(path).await
}

/// Removes the socket file once the agent stops serving it.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_refused() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/agent.sock");
            let first = bind(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            assert_eq!(bind(&path).err().unwrap().kind(), io::ErrorKind::AddrInUse);
            drop(first);
            bind(&path).expect("a stale socket file is replaced");
        });
    }
}
