//! Writes the seed corpus for the `update` fuzz target: real updates of
//! each operation kind. Run: `cargo run -p tether-screen-codec --example fuzz_seeds`.

use std::path::Path;

use tether_screen_codec::fuzzing::encode_update;
use tether_screen_codec::{Encoder, Frame, Rect};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/update");
    std::fs::create_dir_all(&dir)?;
    let mut encoder = Encoder::new();
    let mut frame = Frame::solid(200, 150, 0x202020).expect("valid size");
    let mut seeds = vec![("fill", encode_update(&encoder.encode(&frame)))];
    for y in 0..150 {
        for x in 0..200 {
            if (x * 7 + y * 3) % 5 == 0 {
                frame.set(x, y, 0xEEEEEE);
            }
        }
    }
    seeds.push(("palette", encode_update(&encoder.encode(&frame))));
    let mut s = 1u32;
    for y in 10..60 {
        for x in 10..90 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            frame.set(x, y, s);
        }
    }
    seeds.push(("raw", encode_update(&encoder.encode(&frame))));
    // Scroll: shift everything up 32 rows.
    let mut scrolled = Frame::solid(200, 150, 0x202020).expect("valid size");
    for y in 0..118 {
        for x in 0..200 {
            scrolled.set(x, y, frame.pixel(x, y + 32));
        }
    }
    scrolled.fill(Rect { x: 0, y: 118, w: 200, h: 32 }, 0x0000FF);
    seeds.push(("copy", encode_update(&encoder.encode(&scrolled))));
    seeds.push(("empty", encode_update(&encoder.encode(&scrolled))));
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
