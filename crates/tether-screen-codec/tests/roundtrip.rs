//! Encoder and decoder on synthetic sequences: every decoded frame is
//! bit-exact, and each kind of content takes the method meant for it.

use tether_screen_codec::{
    Channels, DecodeError, Decoder, Encoder, Frame, Op, Predictor, Rect, Update,
};
use tether_testkit::random::XorShift32;

/// Seeded noise standing in for photos and video.
fn noise(frame: &mut Frame, rect: Rect, seed: u32) {
    let mut rng = XorShift32::new(seed.wrapping_mul(2_654_435_761) | 1);
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            let s = rng.next_u32();
            frame.set(x, y, s & 0xFF_FFFF);
        }
    }
}

/// Whether a text pixel is lit: a hash, so no two rows repeat.
fn ink(x: u32, line: u32, row: u32) -> bool {
    let h = x.wrapping_mul(0x9E37_79B1)
        ^ line.wrapping_mul(0x85EB_CA6B)
        ^ row.wrapping_mul(0xC2B2_AE35);
    row < 12 && h.wrapping_mul(0x27D4_EB2F) >> 29 == 0
}

/// A terminal: text rows 16 px high, `first` the top line's number.
fn terminal(width: u32, height: u32, first: u32) -> Frame {
    let mut f = Frame::solid(width, height, 0x1E1E1E).unwrap();
    for y in 0..height {
        let line = first + y / 16;
        for x in 0..width {
            if ink(x, line, y % 16) {
                f.set(x, y, 0xD0D0D0);
            }
        }
    }
    f
}

/// Encodes and decodes `frames` in turn, checking each decoded frame;
/// returns each update with the operations the decoder found in it.
fn roundtrip(frames: &[Frame]) -> Vec<(Update, Vec<Op>)> {
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new();
    let mut updates = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let update = Update::from_bytes(&encoder.encode(frame.clone()).to_bytes()).unwrap();
        let decoded = decoder.apply(&update).unwrap();
        assert!(decoded == frame, "frame {i} differs after decoding");
        updates.push((update, decoder.last_ops().to_vec()));
    }
    updates
}

fn wire_size(update: &Update) -> usize {
    update.to_bytes().len()
}

#[test]
fn a_desktop_sequence_is_bit_exact() {
    let (w, h) = (1000, 700); // not a multiple of the tile size
    let mut frames = vec![Frame::solid(w, h, 0x336699).unwrap()];
    let mut f = frames[0].clone();
    f.fill(Rect { x: 100, y: 100, w: 400, h: 300 }, 0xFFFFFF);
    frames.push(f.clone());
    noise(&mut f, Rect { x: 600, y: 50, w: 320, h: 180 }, 1);
    frames.push(f.clone());
    f.set(999, 699, 0x123456); // the last pixel
    frames.push(f.clone());
    frames.push(f.clone()); // unchanged
    frames.push(Frame::solid(640, 480, 0).unwrap()); // resolution change: all black
    frames.push(Frame::solid(640, 480, 0x010203).unwrap());
    let updates = roundtrip(&frames);
    assert!(updates[0].0.fresh && !updates[1].0.fresh);
    assert!(updates[4].0.is_empty(), "an unchanged frame costs nothing");
    assert!(updates[5].0.is_empty(), "black on a new size is what the decoder starts from");
    assert!(updates[6].0.fresh, "the first update after a size change starts over");
    assert!(matches!(updates[0].1[..], [Op::Fill { .. }, ..]));
    assert!(updates[0].1.len() <= 11, "solid rows merge: {} ops", updates[0].1.len());
    assert!(updates[2].1.iter().any(|op| matches!(op, Op::Pixels { .. })));
}

#[test]
fn text_is_sent_as_palettes_and_scrolling_as_a_copy() {
    let frames: Vec<Frame> = (0..6).map(|i| terminal(800, 600, i * 2)).collect();
    let updates = roundtrip(&frames);
    assert!(updates[0].1.iter().all(|op| matches!(op, Op::Palette { .. } | Op::Fill { .. })));
    for (update, ops) in &updates[1..] {
        assert!(matches!(ops[0], Op::Copy { dy: -32, .. }), "{:?}", &ops[..1]);
        // Only the two new lines at the bottom are painted.
        let painted: u64 = ops
            .iter()
            .filter_map(|op| match op {
                Op::Palette { rect, .. } | Op::Fill { rect, .. } | Op::Pixels { rect, .. } => {
                    Some(rect.area())
                }
                Op::Copy { .. } => None,
            })
            .sum();
        assert!(painted <= 800 * 40, "{painted} pixels painted");
        assert!(wire_size(update) * 10 < wire_size(&updates[0].0), "scrolling is cheap");
    }
}

#[test]
fn scrolling_down_around_a_fixed_bar_is_bit_exact() {
    // Content moves down 32 rows per frame while a status bar in the
    // middle stays: two copy runs whose sources overlap each other's
    // destinations, applied in place.
    let bar = Rect { x: 0, y: 300, w: 800, h: 16 };
    let frames: Vec<Frame> = (0..5)
        .map(|i| {
            let mut f = terminal(800, 600, 100 - i * 2);
            f.fill(bar, 0x0000AA);
            f
        })
        .collect();
    let updates = roundtrip(&frames);
    for (_, ops) in &updates[1..] {
        let copies = ops.iter().filter(|op| matches!(op, Op::Copy { dy: 32, .. })).count();
        assert!(copies >= 2, "{ops:?}");
    }
}

/// A desktop with a "window" (title bar and noisy contents) at `at`.
fn desktop_with_window(at: (u32, u32)) -> Frame {
    let mut f = Frame::solid(800, 600, 0x3A6EA5).unwrap();
    let window = Rect { x: at.0, y: at.1, w: 260, h: 190 };
    noise(&mut f, window, 7);
    f.fill(Rect { h: 24, ..window }, 0x1F3F7F);
    f
}

#[test]
fn a_dragged_window_is_sent_as_copies_in_every_direction() {
    // Diagonal, left, up-left by a few pixels (source and destination
    // overlap, so in-place order matters), then right.
    let places = [(100, 100), (340, 260), (120, 260), (113, 255), (400, 255)];
    let frames: Vec<Frame> = places.iter().map(|&at| desktop_with_window(at)).collect();
    let updates = roundtrip(&frames);
    let first = wire_size(&updates[0].0);
    for (i, pair) in places.windows(2).enumerate() {
        let (dx, dy) = (pair[1].0 as i32 - pair[0].0 as i32, pair[1].1 as i32 - pair[0].1 as i32);
        let (update, ops) = &updates[i + 1];
        assert!(
            ops.iter()
                .any(|op| matches!(op, Op::Copy { dx: x, dy: y, .. } if (*x, *y) == (dx, dy))),
            "move {i} by ({dx}, {dy}): {ops:?}"
        );
        // The noise inside the window is incompressible: a repaint would
        // cost about as much as the first frame.
        assert!(wire_size(update) * 4 < first, "move {i}: {} vs {first} bytes", wire_size(update));
    }
}

#[test]
fn text_seen_before_costs_a_reference() {
    // The same text block repainted lower down: the shapes stream finds it
    // in the previous update.
    let text = terminal(256, 64, 7);
    let mut first = Frame::solid(256, 512, 0x1E1E1E).unwrap();
    let mut second = first.clone();
    for y in 0..64 {
        for x in 0..256 {
            first.set(x, y, text.pixel(x, y));
            second.set(x, y + 256, text.pixel(x, y));
        }
    }
    let updates = roundtrip(&[Frame::solid(256, 512, 0x1E1E1E).unwrap(), first, second]);
    let (a, b) = (wire_size(&updates[1].0), wire_size(&updates[2].0));
    assert!(b * 3 < a, "repeated text: {b} bytes after {a}");
}

#[test]
fn noisy_photos_are_predicted_smoothly_and_compress() {
    // Gentle gradients with ±2 of noise per channel, as a camera gives.
    let (w, h) = (320, 192);
    let mut frames = Vec::new();
    let mut rng = XorShift32::new(99u32);
    for t in 0..3 {
        let mut f = Frame::solid(w, h, 0).unwrap();
        for y in 0..h {
            for x in 0..w {
                let s = rng.next_u32();
                let v = |k: u32, shift: u32| {
                    let base = 40 + x * k / 8 + y / 4 + t * 5;
                    base + (s >> shift) % 5 - 2
                };
                f.set(x, y, v(1, 0) << 16 | v(2, 8) << 8 | v(3, 16));
            }
        }
        frames.push(f);
    }
    let updates = roundtrip(&frames);
    for (update, ops) in &updates {
        let smooth = ops
            .iter()
            .filter(|op| matches!(op, Op::Pixels { predictor: Predictor::Smooth, .. }))
            .count();
        assert!(smooth * 4 > ops.len() * 3, "{smooth} of {} tiles smooth", ops.len());
        let raw = (w * h * 3) as usize;
        assert!(update.pixels.len() * 2 < raw, "{} of {raw} bytes", update.pixels.len());
    }
}

/// A photo-like picture: light from a gradient, ±2 of grain shared by the
/// channels, a colour tint.
fn photo(frame: &mut Frame, rect: Rect, seed: u32) {
    let mut rng = XorShift32::new(seed | 1);
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            let s = rng.next_u32();
            let light = 60 + x / 3 + y / 2 + s % 5;
            frame.set(x, y, (light + 30) << 16 | light << 8 | (light - 20));
        }
    }
}

/// Anti-aliased text in many colours (more than a palette holds): the
/// same few glyphs again and again.
fn coloured_text(frame: &mut Frame, rect: Rect) {
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            let (cell, gx, gy) = ((x - rect.x) / 7, (x - rect.x) % 7, (y - rect.y) % 14);
            let glyph = cell % 5;
            let bits = (glyph.wrapping_mul(0x9E37_79B1) ^ gy.wrapping_mul(0x85EB_CA6B))
                .wrapping_mul(0x27D4_EB2F);
            let coverage = bits >> (gx * 2 + 8) & 3;
            if gy < 11 && gx < 6 && coverage > 0 {
                let colour = [0x0000C0, 0xA02000, 0x008000, 0x800080, 0x806000, 0x008080, 0x202020]
                    [(cell % 7) as usize];
                let a = coverage * 85;
                let blend = |shift: u32| ((colour >> shift & 0xFF) * a + 255 * (255 - a)) / 255;
                frame.set(x, y, blend(16) << 16 | blend(8) << 8 | blend(0));
            }
        }
    }
}

#[test]
fn a_fresh_frame_goes_range_coded_or_through_zstd_whichever_is_smaller() {
    // A fresh photo: range-coded; a fresh page of coloured anti-aliased
    // text: zstd (repeated glyphs); then a photo over half the page, not
    // fresh: zstd (the range coder is for fresh frames only).
    let (w, h) = (256, 128);
    let mut photo_frame = Frame::solid(w, h, 0xFFFFFF).unwrap();
    photo(&mut photo_frame, Rect { x: 0, y: 0, w, h }, 3);
    let mut text = Frame::solid(w, h, 0xFFFFFF).unwrap();
    coloured_text(&mut text, Rect { x: 0, y: 0, w, h });
    let mut mixed = text.clone();
    photo(&mut mixed, Rect { x: 0, y: 0, w: 128, h }, 4);
    let mut encoder = Encoder::new();
    let fresh_photo = encoder.encode(photo_frame.clone());
    encoder.reset();
    let fresh_text = encoder.encode(text.clone());
    let later_photo = encoder.encode(mixed.clone());
    let updates = [&fresh_photo, &fresh_text, &later_photo];
    let modes = updates.map(|u| (u.fresh, u.pixels.first().copied()));
    assert_eq!(modes, [(true, Some(0)), (true, Some(1)), (false, Some(1))]);
    // The range coder's photo costs well under half the raw residuals.
    assert!(fresh_photo.pixels.len() * 2 < (w * h * 3) as usize);
    let mut decoder = Decoder::new();
    for (update, frame) in updates.into_iter().zip([&photo_frame, &text, &mixed]) {
        let update = Update::from_bytes(&update.to_bytes()).unwrap();
        assert!(decoder.apply(&update).unwrap() == frame);
    }
    // An unknown coding is refused and changes nothing.
    let mut decoder = Decoder::new();
    decoder.apply(&fresh_text).unwrap();
    let before = decoder.frame().unwrap().clone();
    let mut unknown = fresh_photo.clone();
    unknown.pixels[0] = 2;
    assert!(matches!(decoder.apply(&unknown), Err(DecodeError::Data(_))));
    assert!(decoder.frame() == Some(&before));
    // A zstd coding of the wrong size is refused too.
    let mut decoder = Decoder::new();
    decoder.apply(&fresh_text).unwrap();
    let mut short = later_photo.clone();
    short.pixels = [&[1][..], &zstd::bulk::compress(&[0; 100], 1).unwrap()].concat();
    assert!(matches!(decoder.apply(&short), Err(DecodeError::Data(_))));
    assert!(decoder.frame() == Some(&before));
}

#[test]
fn a_cut_or_lengthened_pixel_coding_is_refused_and_changes_nothing() {
    // A photo-like picture on a wallpaper: a fresh frame, so its pixel
    // residuals are range-coded, as the first frame of a view's are.
    let mut base = Frame::solid(192, 128, 0x336699).unwrap();
    noise(&mut base, Rect { x: 0, y: 0, w: 64, h: 128 }, 5);
    let mut next = base.clone();
    photo(&mut next, Rect { x: 64, y: 0, w: 128, h: 128 }, 17);
    let first = Encoder::new().encode(base);
    let second = Encoder::new().encode(next.clone());
    assert!(!second.pixels.is_empty() && second.fresh);
    assert_eq!(second.pixels[0], 0, "range-coded");
    let mut decoder = Decoder::new();
    decoder.apply(&first).unwrap();
    let before = decoder.frame().unwrap().clone();
    let len = second.pixels.len();
    let mut lengthened = second.pixels.clone();
    lengthened.push(0);
    let cuts = [1, 3, 5, 6, len / 2, len - 1].map(|cut| second.pixels[..cut].to_vec());
    for (i, pixels) in cuts.into_iter().chain([lengthened]).enumerate() {
        let mut probe = Decoder::new();
        probe.apply(&first).unwrap();
        let bad = Update { pixels, ..second.clone() };
        assert!(matches!(probe.apply(&bad), Err(DecodeError::Data(_))), "case {i}");
        assert!(probe.frame() == Some(&before), "case {i} changed the frame");
        // A later update of the old stream is out of step now.
        let mut later = Encoder::new();
        later.encode(before.clone());
        let mut moved = before.clone();
        moved.fill(Rect { x: 0, y: 0, w: 8, h: 8 }, 0xFF0000);
        let later = later.encode(moved);
        assert!(!later.fresh);
        assert!(matches!(probe.apply(&later), Err(DecodeError::OutOfStep(_))), "case {i}");
        // The intact fresh update starts over.
        assert!(probe.apply(&second).unwrap() == &next, "case {i}");
    }
    assert!(decoder.apply(&second).unwrap() == &next);
}

/// A hand-made fresh update: `ops` and `indices` as the shapes stream's
/// first piece, `pixels` as given.
fn forged(ops: &[Op], indices: &[u8], pixels: Vec<u8>) -> Update {
    let mut shapes = bincode::serde::encode_to_vec(ops, bincode::config::standard()).unwrap();
    shapes.extend_from_slice(indices);
    Update {
        width: 128,
        height: 128,
        fresh: true,
        shapes: zstd::bulk::compress(&shapes, 1).unwrap(),
        pixels,
    }
}

#[test]
fn hostile_updates_are_refused_and_change_nothing() {
    let mut decoder = Decoder::new();
    let good = Encoder::new().encode(Frame::solid(128, 128, 0xABCDEF).unwrap());
    decoder.apply(&good).unwrap();
    let before = decoder.frame().unwrap().clone();
    let rect = Rect { x: 0, y: 0, w: 64, h: 64 };
    let pixels = Op::Pixels { rect, predictor: Predictor::Median, channels: Channels::Independent };
    let fill = Op::Fill { rect, color: 0 };
    let copy = Op::Copy { rect, dx: 64, dy: 0 };
    let zeros = |n: usize| zstd::bulk::compress(&vec![0; n], 1).unwrap();
    let bad = [
        forged(&[Op::Fill { rect: Rect { x: 100, ..rect }, color: 1 }], &[], vec![]),
        forged(&[Op::Copy { rect, dx: 100, dy: 0 }], &[], vec![]),
        forged(&[Op::Copy { rect, dx: 0, dy: i32::MIN }], &[], vec![]),
        forged(&[Op::Palette { rect, colors: vec![1, 2] }], &[0; 3], vec![]),
        forged(&[Op::Palette { rect, colors: vec![1] }], &[], vec![]),
        forged(&[Op::Palette { rect, colors: vec![1; 17] }], &[0; 64 * 32], vec![]),
        forged(std::slice::from_ref(&pixels), &[], vec![1, 2, 3]),
        forged(std::slice::from_ref(&pixels), &[], zeros(10)),
        forged(std::slice::from_ref(&pixels), &[], zeros(64 * 64 * 3 + 1)),
        forged(std::slice::from_ref(&pixels), &[], vec![]),
        forged(&[Op::Fill { rect, color: 0 }], &[], zeros(3)),
        forged(&vec![Op::Fill { rect, color: 0 }; 10_000], &[], vec![]),
        // A copy after a drawing operation: copies come first.
        forged(&[fill.clone(), copy.clone()], &[], vec![]),
        // Copies of more pixels than the frame holds (the gather buffer).
        forged(&vec![copy.clone(); 5], &[], vec![]),
        forged(&[Op::Copy { rect: Rect { w: 0, ..rect }, dx: 1, dy: 0 }], &[], vec![]),
        forged(&[Op::Copy { rect: Rect { x: u32::MAX, ..rect }, dx: 1, dy: 0 }], &[], vec![]),
        Update { width: 128, height: 128, fresh: true, shapes: vec![], pixels: vec![1] },
        Update { width: 128, height: 128, fresh: true, shapes: vec![1, 2, 3, 4], pixels: vec![] },
        // A decompression bomb: far more than 128x128 can need.
        Update { width: 128, height: 128, fresh: true, shapes: zeros(8 << 20), pixels: vec![] },
        Update { width: 0, height: 128, ..Update::default() },
        Update { width: 100_000, height: 100_000, ..Update::default() },
    ];
    for (i, update) in bad.iter().enumerate() {
        let err = decoder.apply(update).expect_err(&format!("case {i} must be refused"));
        assert!(!matches!(err, DecodeError::Frame(_)) || i >= 19, "case {i}: {err}");
        assert!(decoder.frame() == Some(&before), "case {i} changed the frame");
    }
    // After a failure, only a fresh start is accepted; a size change must
    // be fresh too.
    let mut encoder = Encoder::new();
    encoder.encode(Frame::solid(128, 128, 1).unwrap());
    let next = encoder.encode(Frame::solid(128, 128, 2).unwrap());
    assert!(matches!(decoder.apply(&next), Err(DecodeError::OutOfStep(_))));
    let mut fine = Decoder::new();
    fine.apply(&good).unwrap();
    let other_size = Update { width: 64, ..next.clone() };
    assert!(matches!(fine.apply(&other_size), Err(DecodeError::OutOfStep(_))));
    assert!(decoder.frame() == Some(&before));
    decoder.apply(&good).unwrap();
}

#[test]
fn bgrx_capture_round_trips() {
    // A captured frame with row padding, as X11 delivers it.
    let (w, h, stride) = (70u32, 3u32, 70 * 4 + 8);
    let bytes: Vec<u8> = (0..stride * h as usize).map(|i| (i * 31 % 251) as u8).collect();
    let frame = Frame::from_bgrx(w, h, stride, &bytes).unwrap();
    roundtrip(&[frame]);
}

/// A photo-like texture (every segment unique) of `w`×`h`.
fn world(w: u32, h: u32, seed: u32) -> Frame {
    let mut f = Frame::solid(w, h, 0).unwrap();
    noise(&mut f, Rect { x: 0, y: 0, w, h }, seed);
    f
}

/// `view` of `world` at `at`, drawn into `frame` at `to`.
fn put(frame: &mut Frame, world: &Frame, at: (u32, u32), to: Rect) {
    for y in 0..to.h {
        for x in 0..to.w {
            frame.set(to.x + x, to.y + y, world.pixel(at.0 + x, at.1 + y));
        }
    }
}

#[test]
fn panned_content_in_several_places_costs_a_fraction_of_a_repaint() {
    // Two viewports panning in different directions over a textured
    // wallpaper, and a photo window dragged across it, at once.
    let wallpaper = world(900, 600, 1);
    let map = world(1200, 900, 2);
    let photo = world(200, 150, 3);
    let frame_at = |t: u32| {
        let mut f = wallpaper.clone();
        put(&mut f, &map, (100 + 4 * t, 100 + 2 * t), Rect { x: 20, y: 20, w: 400, h: 250 });
        put(&mut f, &map, (600 - 3 * t, 500), Rect { x: 450, y: 40, w: 420, h: 200 });
        put(&mut f, &photo, (0, 0), Rect { x: 100 + 9 * t, y: 330 + 5 * t, w: 200, h: 150 });
        f
    };
    let frames: Vec<Frame> = (0..6).map(frame_at).collect();
    let updates = roundtrip(&frames);
    let first = wire_size(&updates[0].0);
    for (i, (update, ops)) in updates.iter().enumerate().skip(1) {
        for offset in [(-4, -2), (3, 0), (9, 5)] {
            assert!(
                ops.iter().any(|op| matches!(op, Op::Copy { dx, dy, .. } if (*dx, *dy) == offset)),
                "frame {i}: no copy by {offset:?}"
            );
        }
        // New strips of the maps and uncovered wallpaper are noise: they
        // cost their share, the rest is copies.
        assert!(wire_size(update) * 8 < first, "frame {i}: {} vs {first}", wire_size(update));
    }
}

#[test]
fn copies_that_swap_two_areas_read_the_frame_before_the_update() {
    // Two textured blocks trade places: each copy's source is the other's
    // destination, which no in-place order can do.
    let a = world(128, 128, 4);
    let b = world(128, 128, 5);
    let mut before = Frame::solid(512, 256, 0x101010).unwrap();
    put(&mut before, &a, (0, 0), Rect { x: 0, y: 64, w: 128, h: 128 });
    put(&mut before, &b, (0, 0), Rect { x: 256, y: 64, w: 128, h: 128 });
    let mut after = Frame::solid(512, 256, 0x101010).unwrap();
    put(&mut after, &b, (0, 0), Rect { x: 0, y: 64, w: 128, h: 128 });
    put(&mut after, &a, (0, 0), Rect { x: 256, y: 64, w: 128, h: 128 });
    let updates = roundtrip(&[before, after]);
    let copies = updates[1].1.iter().filter(|op| matches!(op, Op::Copy { .. })).count();
    assert!(copies >= 2, "{:?}", updates[1].1);
    assert!(wire_size(&updates[1].0) < 1000, "{} bytes", wire_size(&updates[1].0));
}

#[test]
fn an_echoed_character_costs_only_its_cell() {
    // A terminal line; one character appears and the block cursor moves
    // one cell right (8×16 cells), as an xterm echoes a key.
    let mut screen = terminal(800, 480, 0);
    screen.fill(Rect { x: 0, y: 464, w: 800, h: 16 }, 0x1E1E1E);
    let cursor =
        |f: &mut Frame, col: u32| f.fill(Rect { x: col * 8, y: 464, w: 8, h: 16 }, 0xD0D0D0);
    let glyph = |f: &mut Frame, col: u32, seed: u32| {
        for y in 467..477 {
            for x in col * 8 + 1..col * 8 + 7 {
                if ink(x, seed, y) || (x + y + seed).is_multiple_of(3) {
                    f.set(x, y, 0xD0D0D0);
                }
            }
        }
    };
    let mut frames = vec![];
    let mut f = screen.clone();
    cursor(&mut f, 2);
    frames.push(f.clone());
    for col in 2..12 {
        f.fill(Rect { x: col * 8, y: 464, w: 8, h: 16 }, 0x1E1E1E);
        glyph(&mut f, col, col);
        cursor(&mut f, col + 1);
        frames.push(f.clone());
    }
    let updates = roundtrip(&frames);
    for (i, (update, ops)) in updates.iter().enumerate().skip(1) {
        let painted: u64 = ops
            .iter()
            .map(|op| match op {
                Op::Palette { rect, .. } | Op::Fill { rect, .. } | Op::Pixels { rect, .. } => {
                    rect.area()
                }
                Op::Copy { .. } => 0,
            })
            .sum();
        assert!(painted <= 16 * 16, "key {i}: {painted} pixels painted: {ops:?}");
        assert!(wire_size(update) <= 48, "key {i}: {} bytes", wire_size(update));
    }
}

#[test]
fn video_is_not_searched_for_moves_update_after_update() {
    // Noise changing in place: after a couple of fruitless searches the
    // encoder only probes now and then.
    let mut encoder = Encoder::new();
    let mut searched = 0;
    for t in 0..40 {
        let frame = world(320, 240, 100 + t);
        encoder.encode(frame);
        searched += u32::from(encoder.search_cost().scanned > 0);
    }
    assert!(searched <= 8, "{searched} searches in 40 updates");
}
