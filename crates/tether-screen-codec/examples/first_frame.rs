//! The first frame of the screen bench's photo scene, composed in-process
//! (no X server): its encoded size, what the bytes go to, and the time to
//! encode and decode it (median of 5). The pictures and the xterm's
//! listing are the bench's (`tether_testkit::pictures`); the xterm's text
//! is drawn with made-up 6×13 glyphs, so the frame differs a little from
//! the bench's (x11vnc ZRLE sends that one in 2.47 MB). Run:
//! `cargo run --release -p tether-screen-codec --example first_frame`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tether_screen_codec::{Decoder, Encoder, Frame, Op};
use tether_testkit::pictures::{listing, page, photo};

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
