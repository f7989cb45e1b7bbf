//! The baseline: x11vnc read by a minimal RFB 3.8 client that counts
//! bytes and updates without decoding them.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tether_tests::proc::{RssSampler, status_kib};

use crate::measure::{Probe, rss_parts};
use crate::results::{Counters, Results, Wire};
use crate::scene::{Scene, SceneKind};
use crate::tether::latency_key;
use crate::{HEIGHT, LATENCY_GAP, LATENCY_SAMPLES, LATENCY_TIMEOUT, WIDTH};

pub(crate) const ENC_COPYRECT: i32 = 1;
pub(crate) const ENC_TIGHT: i32 = 7;
pub(crate) const ENC_ZRLE: i32 = 16;
/// Pseudo-encoding: Tight may send JPEG at this quality (0-9).
pub(crate) const fn enc_jpeg_quality(level: i32) -> i32 {
    -32 + level
}

pub(crate) fn run_vnc(label: &str, encodings: &[i32], kind: SceneKind) -> Results {
    let mut scene = Scene::new(kind);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = scene
        .x
        .command("x11vnc")
        .args(["-display", &scene.x.display, "-rfbport", &port.to_string()])
        .args(["-localhost", "-nopw", "-shared", "-forever", "-quiet", "-ncache", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("x11vnc runs (apt-get install x11vnc)");
    let pid = i32::try_from(server.id()).expect("pid fits in i32");
    let deadline = Instant::now() + Duration::from_secs(20);
    let socket = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "x11vnc does not listen: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let vnc = VncClient::connect(socket, encodings);
    let probe = Probe {
        pid,
        rss: RssSampler::start(pid),
        counters: Box::new(|| Counters {
            stream: vnc.bytes.load(Ordering::Relaxed),
            wire: vnc.wire(),
            frames: vnc.updates.lock().expect("updates lock").len() as u64,
        }),
    };
    let (phases, note) = probe.phases(&mut scene, kind);
    let mut latency = Vec::new();
    let mut misses = 0;
    let samples = if kind == SceneKind::Classic { LATENCY_SAMPLES } else { 0 };
    for i in 0..samples {
        let pressed = Instant::now();
        scene.tap(latency_key(i));
        match vnc.update_after(pressed, LATENCY_TIMEOUT) {
            Some(at) => latency.push(at - pressed),
            None => misses += 1,
        }
        std::thread::sleep(LATENCY_GAP);
    }
    let hwm_kib = status_kib(pid, "VmHWM:").unwrap_or(0);
    let rss_parts = rss_parts(pid);
    drop(probe);
    let initial = vnc.initial;
    vnc.close();
    stop(&mut server);
    let names: Vec<String> = encodings
        .iter()
        .map(|&e| match e {
            ENC_ZRLE => "ZRLE".to_owned(),
            ENC_TIGHT => "Tight".to_owned(),
            ENC_COPYRECT => "CopyRect".to_owned(),
            q => format!("JPEG quality {}", q + 32),
        })
        .collect();
    Results {
        server: format!(
            "{label}, {kind:?} scene (x11vnc defaults + -ncache 0; client encodings [{}], no decoding)",
            names.join(", ")
        ),
        initial,
        phases,
        latency,
        latency_misses: misses,
        latency_what: "until the next FramebufferUpdate has been read",
        note,
        hwm_kib,
        rss_parts,
    }
}

/// Counts what a `Read` returns.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(crate) type RfbReader = BufReader<Counting<TcpStream>>;

/// A minimal RFB 3.8 viewer that reads updates without decoding them.
pub(crate) struct VncClient {
    pub(crate) socket: TcpStream,
    pub(crate) bytes: Arc<AtomicU64>,
    /// When each FramebufferUpdate after the first had been read.
    pub(crate) updates: Arc<Mutex<Vec<Instant>>>,
    /// Bytes of the answer to the first, full request, and on the wire
    /// from the request until it had been read.
    pub(crate) initial: (u64, Wire),
    pub(crate) reader: JoinHandle<()>,
}

impl VncClient {
    pub(crate) fn connect(socket: TcpStream, encodings: &[i32]) -> VncClient {
        socket.set_nodelay(true).expect("nodelay");
        let bytes = Arc::new(AtomicU64::new(0));
        let mut w = socket.try_clone().expect("socket clone");
        let mut r = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: socket.try_clone().expect("socket clone"),
                count: Arc::clone(&bytes),
            },
        );
        let mut version = [0u8; 12];
        r.read_exact(&mut version).expect("server version");
        assert_eq!(&version[..4], b"RFB ", "not an RFB server");
        w.write_all(b"RFB 003.008\n").expect("client version");
        let count = usize::from(read_u8(&mut r).expect("security types"));
        assert!(count > 0, "x11vnc refused the connection");
        let mut types = vec![0u8; count];
        r.read_exact(&mut types).expect("security types");
        assert!(types.contains(&1), "security None not offered: {types:?}");
        w.write_all(&[1]).expect("security choice");
        assert_eq!(read_u32(&mut r).expect("security result"), 0, "security failed");
        w.write_all(&[1]).expect("ClientInit (shared)");
        let width = read_u16(&mut r).expect("ServerInit");
        let height = read_u16(&mut r).expect("ServerInit");
        assert_eq!((u32::from(width), u32::from(height)), (WIDTH, HEIGHT), "framebuffer size");
        skip(&mut r, 16).expect("pixel format");
        let name_len = u64::from(read_u32(&mut r).expect("name length"));
        skip(&mut r, name_len).expect("name");

        // 32 bpp, depth 24, little-endian true colour, 0x00RRGGBB.
        let mut set_format = vec![0u8, 0, 0, 0, 32, 24, 0, 1];
        for max in [255u16, 255, 255] {
            set_format.extend_from_slice(&max.to_be_bytes());
        }
        set_format.extend_from_slice(&[16, 8, 0, 0, 0, 0]);
        let mut set_encodings = vec![2u8, 0];
        set_encodings.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            set_encodings.extend_from_slice(&e.to_be_bytes());
        }
        w.write_all(&set_format).expect("SetPixelFormat");
        w.write_all(&set_encodings).expect("SetEncodings");

        let before = (bytes.load(Ordering::Relaxed), wire(&socket));
        w.write_all(&update_request(false)).expect("FramebufferUpdateRequest");
        while !read_message(&mut r).expect("first update") {}
        let initial = (bytes.load(Ordering::Relaxed) - before.0, wire(&socket).since(before.1));

        let updates = Arc::new(Mutex::new(Vec::new()));
        w.write_all(&update_request(true)).expect("FramebufferUpdateRequest");
        let reader = {
            let updates = Arc::clone(&updates);
            std::thread::spawn(move || {
                // Ends when the socket is shut down.
                while let Ok(update) = read_message(&mut r) {
                    if update {
                        updates.lock().expect("updates lock").push(Instant::now());
                        if w.write_all(&update_request(true)).is_err() {
                            return;
                        }
                    }
                }
            })
        };
        VncClient { socket, bytes, updates, initial, reader }
    }

    pub(crate) fn wire(&self) -> Wire {
        wire(&self.socket)
    }

    /// When the first update read after `t` arrived.
    pub(crate) fn update_after(&self, t: Instant, timeout: Duration) -> Option<Instant> {
        let deadline = t + timeout;
        while Instant::now() < deadline {
            if let Some(&at) = self.updates.lock().expect("updates lock").last()
                && at > t
            {
                return Some(at);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        None
    }

    pub(crate) fn close(self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        let _ = self.reader.join();
    }
}

/// What crossed the wire on `socket` so far, headers and acknowledgements
/// included.
fn wire(socket: &TcpStream) -> Wire {
    let c = tether_os::net::tcp_counters(socket).expect("TCP_INFO");
    Wire {
        down: c.wire_in(),
        up: c.wire_out(),
        down_packets: c.segments_in,
        up_packets: c.segments_out,
    }
}

/// FramebufferUpdateRequest for the whole screen.
pub(crate) fn update_request(incremental: bool) -> Vec<u8> {
    let mut m = vec![3u8, u8::from(incremental), 0, 0, 0, 0];
    m.extend_from_slice(&(WIDTH as u16).to_be_bytes());
    m.extend_from_slice(&(HEIGHT as u16).to_be_bytes());
    m
}

/// Reads one server message, skipping its payload; true for a
/// FramebufferUpdate.
pub(crate) fn read_message(r: &mut RfbReader) -> std::io::Result<bool> {
    match read_u8(r)? {
        0 => {
            skip(r, 1)?;
            let rects = read_u16(r)?;
            let mut i = 0u32;
            // 0xffff: as many as the server likes, ended by LastRect.
            while rects == 0xffff || i < u32::from(rects) {
                i += 1;
                skip(r, 4)?;
                let w = u64::from(read_u16(r)?);
                let h = u64::from(read_u16(r)?);
                let mask = w.div_ceil(8) * h;
                match read_u32(r)? as i32 {
                    0 => skip(r, w * h * 4)?,
                    1 => skip(r, 4)?,
                    16 => {
                        let len = u64::from(read_u32(r)?);
                        skip(r, len)?;
                    }
                    7 => skip_tight(r, w, h)?,
                    -239 => skip(r, w * h * 4 + mask)?,
                    -240 if w * h > 0 => skip(r, 6 + 2 * mask)?,
                    -240 | -223 | -232 => {}
                    -224 => break,
                    other => panic!("x11vnc sent encoding {other}, which was not offered"),
                }
            }
            Ok(true)
        }
        1 => {
            skip(r, 3)?;
            let n = u64::from(read_u16(r)?);
            skip(r, n * 6)?;
            Ok(false)
        }
        2 => Ok(false),
        3 => {
            skip(r, 3)?;
            let n = u64::from(read_u32(r)?);
            skip(r, n)?;
            Ok(false)
        }
        other => panic!("unknown RFB server message {other}"),
    }
}

/// Skips one Tight-encoded rectangle of `w`×`h` (32 bpp true colour, so
/// a pixel travels as 3 bytes).
fn skip_tight(r: &mut RfbReader, w: u64, h: u64) -> std::io::Result<()> {
    const TPIXEL: u64 = 3;
    let control = read_u8(r)?;
    match control >> 4 {
        0x8 => skip(r, TPIXEL),
        0x9 => {
            let len = read_compact_length(r)?;
            skip(r, len)
        }
        kind if kind & 0x8 == 0 => {
            let filter = if kind & 0x4 != 0 { read_u8(r)? } else { 0 };
            let size = match filter {
                0 | 2 => w * h * TPIXEL,
                1 => {
                    let colours = u64::from(read_u8(r)?) + 1;
                    skip(r, colours * TPIXEL)?;
                    if colours == 2 { w.div_ceil(8) * h } else { w * h }
                }
                other => panic!("x11vnc sent Tight filter {other}"),
            };
            // Under 12 bytes the data is sent as it is, uncompressed.
            let len = if size < 12 { size } else { read_compact_length(r)? };
            skip(r, len)
        }
        other => panic!("x11vnc sent Tight compression type {other:#x}"),
    }
}

/// Tight's 1 to 3 byte length: 7 bits a byte, low bits first.
fn read_compact_length(r: &mut RfbReader) -> std::io::Result<u64> {
    let mut len = 0u64;
    for shift in [0, 7, 14] {
        let b = read_u8(r)?;
        len |= u64::from(b & if shift == 14 { 0xff } else { 0x7f }) << shift;
        if b & 0x80 == 0 || shift == 14 {
            break;
        }
    }
    Ok(len)
}

pub(crate) fn read_u8(r: &mut impl Read) -> std::io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

pub(crate) fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

pub(crate) fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

pub(crate) fn skip(r: &mut impl Read, n: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if copied < n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Stops x11vnc with SIGTERM, so it removes its SysV shared-memory
/// segments (SIGKILL leaks them, and after a few thousand the system's
/// limit makes every later MIT-SHM user fail, x11vnc included); SIGKILL
/// only if it has not exited within five seconds.
fn stop(server: &mut std::process::Child) {
    let _ = tether_os::signal::send(server.id(), tether_os::signal::Signal::Term);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
}
