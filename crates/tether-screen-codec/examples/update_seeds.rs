//! Writes the seed corpus for the `update` fuzz target: a sequence of real
//! updates using every operation kind, and each of its prefixes. Run:
//! `cargo run -p tether-screen-codec --example update_seeds`.

use std::path::Path;

use tether_screen_codec::fuzzing::sequence;
use tether_screen_codec::{Encoder, Frame, Rect};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/update");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut encoder = Encoder::new();
    let mut frame = Frame::solid(200, 150, 0x202020).expect("valid size");
    let mut updates = vec![("fill", encoder.encode(frame.clone()))];
    for y in 0..150 {
        for x in 0..200 {
            if (x * 7 + y * 3) % 5 == 0 {
                frame.set(x, y, 0xEEEEEE);
            }
        }
    }
    updates.push(("palette", encoder.encode(frame.clone())));
    let mut s = 1u32;
    for y in 10..60 {
        for x in 10..90 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Noisy gradient (smooth predictor) left, hard noise right.
            let p = if x < 50 { (x * 3 + y) << 8 | (s % 5) } else { s };
            frame.set(x, y, p);
        }
    }
    updates.push(("pixels", encoder.encode(frame.clone())));
    // Scroll: shift everything up 32 rows.
    let mut scrolled = Frame::solid(200, 150, 0x202020).expect("valid size");
    for y in 0..118 {
        for x in 0..200 {
            scrolled.set(x, y, frame.pixel(x, y + 32));
        }
    }
    scrolled.fill(Rect { x: 0, y: 118, w: 200, h: 32 }, 0x0000FF);
    updates.push(("copy", encoder.encode(scrolled.clone())));
    updates.push(("empty", encoder.encode(scrolled.clone())));
    // Two textured blocks moving different ways (copies with different
    // offsets, swapping places) and a near-exact one: a pixel changed in
    // a moved block is coded against the copied pixels.
    let mut moved = scrolled.clone();
    for y in 0..64 {
        for x in 0..64 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            moved.set(x + 8, y + 70, s);
            moved.set(x + 120, y + 70, s.rotate_left(8));
        }
    }
    updates.push(("textures", encoder.encode(moved.clone())));
    let mut swapped = moved.clone();
    for y in 0..64 {
        for x in 0..64 {
            swapped.set(x + 120, y + 70, moved.pixel(x + 8, y + 70));
            swapped.set(x + 8, y + 70, moved.pixel(x + 120, y + 70));
        }
    }
    swapped.set(130, 80, 0x00FF00);
    updates.push(("moves", encoder.encode(swapped.clone())));
    // Light-correlated photo content: red and blue coded from green.
    let mut photo = swapped;
    for y in 0..40 {
        for x in 0..100 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let light = (x + y * 2 + (s >> 8) % 17).min(200);
            photo.set(x + 100, y + 10, (light + 40) << 16 | (light + 20) << 8 | light);
        }
    }
    updates.push(("photo", encoder.encode(photo)));
    for (name, update) in &updates {
        let coding = match update.pixels.first() {
            None => "no pixels",
            Some(0) => "pixels range-coded",
            Some(_) => "pixels as zstd",
        };
        println!("{name}: {} bytes, {coding}", update.to_bytes().len());
    }
    for n in 1..=updates.len() {
        let (name, _) = updates[n - 1];
        let prefix: Vec<_> = updates[..n].iter().map(|(_, u)| u.clone()).collect();
        std::fs::write(dir.join(format!("{n}-{name}")), sequence(&prefix))?;
    }
    Ok(())
}
