//! Facts about a TCP connection from the kernel, for measuring what a
//! protocol costs on the wire.

use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// What the kernel counted for one TCP connection (`TCP_INFO`), from this
/// end's point of view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Payload bytes sent and acknowledged by the peer.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Segments sent, pure acknowledgements included.
    pub segments_out: u64,
    /// Segments received, pure acknowledgements included.
    pub segments_in: u64,
    /// Bytes of IP and TCP header per segment: 20 + 20, plus 12 when the
    /// connection carries timestamps (IPv4; IPv6 adds 20).
    pub header_bytes: u64,
}

impl TcpCounters {
    /// Bytes this end sent on the wire: payload plus every segment's headers.
    pub fn wire_out(&self) -> u64 {
        self.bytes_sent + self.segments_out * self.header_bytes
    }

    /// Bytes this end received on the wire.
    pub fn wire_in(&self) -> u64 {
        self.bytes_received + self.segments_in * self.header_bytes
    }
}

/// Reads `TCP_INFO` for `stream`.
pub fn tcp_counters(stream: &TcpStream) -> std::io::Result<TcpCounters> {
    // SAFETY: tcp_info is plain old data; all-zero bytes are a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the borrow's duration, and `info`
    // is a writable buffer of `len` bytes that the kernel fills at most.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let ip = if stream.local_addr()?.is_ipv6() { 40 } else { 20 };
    let timestamps = info.tcpi_options & 1 != 0; // TCPI_OPT_TIMESTAMPS
    Ok(TcpCounters {
        // The kernel counts the acknowledged SYN as one byte.
        bytes_sent: info.tcpi_bytes_acked.saturating_sub(1),
        bytes_received: info.tcpi_bytes_received,
        segments_out: u64::from(info.tcpi_segs_out),
        segments_in: u64::from(info.tcpi_segs_in),
        header_bytes: ip + 20 + if timestamps { 12 } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn counts_what_crossed_a_loopback_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[7; 1000]).unwrap();
        let mut buf = [0; 1000];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&[9; 300]).unwrap();
        client.read_exact(&mut buf[..300]).unwrap();
        let c = tcp_counters(&client).unwrap();
        assert_eq!((c.bytes_sent, c.bytes_received), (1000, 300));
        assert!(c.segments_out >= 2 && c.segments_in >= 2, "{c:?}");
        assert!(c.header_bytes >= 40, "{c:?}");
        assert!(c.wire_out() >= 1000 + 2 * 40 && c.wire_in() >= 300 + 2 * 40, "{c:?}");
    }
}
