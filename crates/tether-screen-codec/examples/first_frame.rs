//! The first frame of the screen bench's photo scene, composed in-process
//! (no X server): its encoded size, what the bytes go to, and the time to
//! encode and decode it (median of 5). The generators are copies of
//! `tests/benches/screen/photo.rs` and the xterm listing of `scene.rs`; the
//! xterm's text is drawn with made-up 6×13 glyphs, so the frame differs a
//! little from the bench's (x11vnc ZRLE sends that one in 2.47 MB). Run:
//! `cargo run --release -p tether-screen-codec --example first_frame`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tether_screen_codec::{Decoder, Encoder, Frame, Op};

/// The generator of `tether_testkit::random::XorShift32` (shifts 13, 17,
/// 5), which this crate does not depend on.
struct XorShift32(u32);

impl XorShift32 {
    fn new(seed: u32) -> XorShift32 {
        XorShift32(if seed == 0 { 0x9e37_79b9 } else { seed })
    }
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u32) as usize]
    }
}

fn lattice(i: i32, j: i32, salt: u32) -> f32 {
    let mut h = (i as u32).wrapping_mul(0x8DA6_B343)
        ^ (j as u32).wrapping_mul(0xD816_3841)
        ^ salt.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5BD1_E995);
    h ^= h >> 15;
    (h & 0xFFFF) as f32 / 32767.5 - 1.0
}

fn value_noise(x: f32, y: f32, cell: f32, salt: u32) -> f32 {
    let (fx, fy) = (x / cell, y / cell);
    let (i, j) = (fx.floor() as i32, fy.floor() as i32);
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (smooth(fx - i as f32), smooth(fy - j as f32));
    let top = lattice(i, j, salt) * (1.0 - tx) + lattice(i + 1, j, salt) * tx;
    let bottom = lattice(i, j + 1, salt) * (1.0 - tx) + lattice(i + 1, j + 1, salt) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// The bench's `photo()`: a `w`×`h` photo-like picture as BGRX.
fn photo(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut rng = XorShift32::new(seed.wrapping_mul(0x9E37_79B9) | 1);
    let mut out = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let mut light = 0.0;
            let mut amplitude = 1.0;
            for octave in 0..7u32 {
                let cell = (256 >> octave) as f32;
                light += amplitude * value_noise(fx, fy, cell, seed + octave);
                amplitude *= 0.55;
            }
            let warm = value_noise(fx, fy, 400.0, seed + 100) * 40.0;
            let green = value_noise(fx, fy, 300.0, seed + 101) * 25.0;
            let grain = rng.next_u32();
            let luma = 120.0 + 75.0 * light + ((grain & 0xFF) % 5) as f32 - 2.0;
            let rgb = [luma + warm, luma + green, luma - warm];
            let px = &mut out[(y * w + x) * 4..(y * w + x) * 4 + 4];
            for (c, value) in rgb.iter().enumerate() {
                px[2 - c] = value.clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// The bench's `page()`: white, lines of dark "words", picture bands.
fn page(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut out = vec![0xF8u8; w * h * 4];
    let picture_rows = 220;
    let period = 400;
    let pictures = photo(w - 40, picture_rows, seed);
    let mut rng = XorShift32::new(seed | 1);
    for y in 0..h {
        let in_period = y % period;
        let row = &mut out[y * w * 4..(y + 1) * w * 4];
        if in_period < picture_rows {
            let src = &pictures[in_period * (w - 40) * 4..(in_period + 1) * (w - 40) * 4];
            row[20 * 4..(w - 20) * 4].copy_from_slice(src);
        } else if (in_period - picture_rows) % 18 < 11 && in_period + 18 < period {
            let line = (y / 18) as u32;
            let mut words = XorShift32::new(line.wrapping_mul(0x85EB_CA6B) | 1);
            let mut x = 20;
            while x + 60 < w - 20 {
                let len = 12 + words.below(48) as usize;
                for px in row[x * 4..(x + len) * 4].chunks_exact_mut(4) {
                    if rng.below(3) > 0 {
                        px[..3].copy_from_slice(&[0x30, 0x30, 0x30]);
                    }
                }
                x += len + 6 + words.below(6) as usize;
            }
        }
    }
    out
}

/// The bench's xterm banner (`scene.rs`, `listing()`).
fn listing() -> String {
    let mut rng = XorShift32::new(0xdead_beef);
    let words = [
        "agent",
        "audit",
        "capture",
        "codec",
        "config",
        "doctor",
        "input",
        "network",
        "restore",
        "screen",
        "session",
        "transport",
        "viewer",
        "window",
    ];
    let exts = ["rs", "toml", "md", "log", "json", "txt", "sh"];
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov"];
    let mut out = String::from("$ ls -l /srv/tether/workspace\ntotal 1184\n");
    for _ in 0..34 {
        let dir = rng.below(5) == 0;
        out.push_str(&format!(
            "{} {:>2} tech  staff {:>8} {} {:>2} {:02}:{:02} {}_{}{}\n",
            if dir { "drwxr-xr-x" } else { "-rw-r--r--" },
            1 + rng.below(12),
            rng.below(400_000),
            rng.pick(&months),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.pick(&words),
            rng.pick(&words),
            if dir { String::new() } else { format!(".{}", rng.pick(&exts)) },
        ));
    }
    out.push_str("$ ");
    out
}

/// Pastes a `w`×`h` BGRX picture at (`x`, `y`), reading it from (`sx`,
/// `sy`) of a `src_w`-wide source.
#[allow(clippy::too_many_arguments)]
fn paste(
    frame: &mut Frame,
    src: &[u8],
    src_w: usize,
    (sx, sy): (usize, usize),
    x: u32,
    y: u32,
    w: u32,
    h: u32,
) {
    for r in 0..h as usize {
        for c in 0..w as usize {
            let i = ((sy + r) * src_w + sx + c) * 4;
            let p = u32::from(src[i + 2]) << 16 | u32::from(src[i + 1]) << 8 | u32::from(src[i]);
            frame.set(x + c as u32, y + r as u32, p);
        }
    }
}

/// The scene's first frame: wallpaper, xterm (white, black 6×13 text,
/// 2-pixel border), viewer, photo window and page window.
fn scene() -> Frame {
    let (width, height) = (1920u32, 1080u32);
    let mut frame = Frame::solid(width, height, 0).expect("valid size");
    paste(&mut frame, &photo(1920, 1080, 11), 1920, (0, 0), 0, 0, width, height);
    frame.fill(tether_screen_codec::Rect { x: 0, y: 0, w: 724, h: 524 }, 0xFFFFFF);
    for (row, line) in listing().lines().enumerate() {
        for (col, ch) in line.chars().enumerate().take(120) {
            if ch == ' ' {
                continue;
            }
            // A made-up glyph: 5×8 bits from the character, rows 2..10.
            let mut bits = (ch as u32).wrapping_mul(0x9E37_79B9) ^ 0x5bd1_e995;
            for gy in 0..8u32 {
                bits = bits.rotate_left(5).wrapping_mul(0x2C1B_3C6D) ^ ch as u32;
                for gx in 0..5u32 {
                    if bits >> (gx + 7) & 1 == 1 {
                        frame.set(2 + col as u32 * 6 + gx, 2 + row as u32 * 13 + 2 + gy, 0);
                    }
                }
            }
        }
    }
    let pan = photo(2560, 1600, 37);
    paste(&mut frame, &pan, 2560, (0, 0), 800, 40, 960, 540);
    paste(&mut frame, &photo(400, 300, 23), 400, (0, 0), 60, 650, 400, 300);
    paste(&mut frame, &page(560, 2400, 41), 560, (0, 0), 1300, 620, 560, 400);
    frame
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let frame = scene();
    let update = Encoder::new().encode(frame.clone());
    let bytes = update.to_bytes();
    println!("first frame: {} bytes on the wire", bytes.len());
    println!("  shapes (zstd): {} bytes", update.shapes.len());
    println!("  pixels: {} bytes", update.pixels.len());
    // A mode byte (0: the range coder), then the green coding's length
    // (LEB128).
    let (mut green, mut shift, mut at) = (0usize, 0, 1);
    while let Some(&b) = update.pixels.get(at) {
        green |= usize::from(b & 0x7F) << shift;
        (shift, at) = (shift + 7, at + 1);
        if b & 0x80 == 0 {
            break;
        }
    }
    if update.pixels.first() == Some(&0) {
        println!(
            "    green: {green} bytes, red and blue: {} bytes",
            update.pixels.len() - at - green
        );
    } else {
        println!("    as zstd (smaller than the range coder's)");
    }
    let mut decoder = Decoder::new();
    let decoded = decoder.apply(&update).expect("our own update decodes");
    assert_eq!(decoded, &frame, "the decoded frame is the frame");
    let mut kinds: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for op in decoder.last_ops() {
        let (name, area) = match op {
            Op::Copy { rect, .. } => ("copy".to_owned(), rect.area()),
            Op::Fill { rect, .. } => ("fill".to_owned(), rect.area()),
            Op::Palette { rect, .. } => ("palette".to_owned(), rect.area()),
            Op::Pixels { rect, predictor, channels } => {
                (format!("pixels {predictor:?}/{channels:?}"), rect.area())
            }
        };
        let entry = kinds.entry(name).or_default();
        entry.0 += 1;
        entry.1 += area;
    }
    for (name, (count, area)) in kinds {
        println!("  {name:<28} {count:>5} ops {area:>9} pixels");
    }
    let (mut encode, mut decode) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let copy = frame.clone();
        let start = Instant::now();
        let update = Encoder::new().encode(copy);
        encode.push(start.elapsed());
        let start = Instant::now();
        Decoder::new().apply(&update).expect("decodes");
        decode.push(start.elapsed());
    }
    println!("encode {:.1} ms, decode {:.1} ms (median of 5)", median(encode), median(decode));
    println!(
        "vs the bench's x11vnc ZRLE first frame (2_470_000 bytes): {:.3}x",
        bytes.len() as f64 / 2.47e6
    );
}
