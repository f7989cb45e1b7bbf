//! Encoder and decoder on synthetic sequences: every decoded frame is
//! bit-exact, and each kind of content takes the method meant for it.

use tether_screen_codec::{DecodeError, Decoder, Encoder, Frame, Op, Rect, Update};

/// Seeded noise standing in for photos and video.
fn noise(frame: &mut Frame, rect: Rect, seed: u32) {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
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

fn roundtrip(frames: &[Frame]) -> Vec<Update> {
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new();
    let mut updates = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let update = encoder.encode(frame);
        let decoded = decoder.apply(&update).unwrap();
        assert!(decoded == frame, "frame {i} differs after decoding");
        updates.push(update);
    }
    updates
}

fn wire_size(update: &Update) -> usize {
    update.raw.len()
        + update
            .ops
            .iter()
            .map(|op| match op {
                Op::Palette { indices, colors, .. } => indices.len() + colors.len() * 4 + 16,
                _ => 20,
            })
            .sum::<usize>()
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
    frames.push(Frame::solid(640, 480, 0).unwrap()); // resolution change
    let updates = roundtrip(&frames);
    assert!(updates[4].is_empty(), "an unchanged frame costs nothing");
    assert!(matches!(updates[0].ops[..], [Op::Fill { .. }, ..]));
    assert!(updates[0].ops.len() <= 11, "solid rows merge: {} ops", updates[0].ops.len());
    assert!(updates[2].ops.iter().any(|op| matches!(op, Op::Raw { .. })));
}

#[test]
fn text_is_sent_as_palettes_and_scrolling_as_a_copy() {
    let frames: Vec<Frame> = (0..6).map(|i| terminal(800, 600, i * 2)).collect();
    let updates = roundtrip(&frames);
    assert!(updates[0].ops.iter().all(|op| matches!(op, Op::Palette { .. } | Op::Fill { .. })));
    for update in &updates[1..] {
        assert!(matches!(update.ops[0], Op::Copy { dy: -32, .. }), "{:?}", &update.ops[..1]);
        // Only the two new lines at the bottom are painted.
        let painted: u64 = update
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Palette { rect, .. } | Op::Fill { rect, .. } | Op::Raw { rect } => {
                    Some(rect.area())
                }
                Op::Copy { .. } => None,
            })
            .sum();
        assert!(painted <= 800 * 40, "{painted} pixels painted");
        assert!(wire_size(update) * 10 < wire_size(&updates[0]), "scrolling is cheap");
    }
}

#[test]
fn hostile_updates_are_refused_and_change_nothing() {
    let mut decoder = Decoder::new();
    let good = Encoder::new().encode(&Frame::solid(128, 128, 0xABCDEF).unwrap());
    decoder.apply(&good).unwrap();
    let before = decoder.frame().unwrap().clone();
    let rect = Rect { x: 0, y: 0, w: 64, h: 64 };
    let bad = [
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Fill { rect: Rect { x: 100, ..rect }, color: 1 }],
            raw: vec![],
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Copy { rect, dx: 100, dy: 0 }],
            raw: vec![],
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Copy { rect, dx: 0, dy: i32::MIN }],
            raw: vec![],
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Palette { rect, colors: vec![1, 2], indices: vec![0; 3] }],
            raw: vec![],
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Palette { rect, colors: vec![1], indices: vec![] }],
            raw: vec![],
        },
        Update { width: 128, height: 128, ops: vec![Op::Raw { rect }], raw: vec![1, 2, 3] },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Raw { rect }],
            raw: zstd::bulk::compress(&[0; 10], 1).unwrap(),
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Raw { rect }],
            raw: zstd::bulk::compress(&vec![0; 64 * 64 * 3 + 1], 1).unwrap(),
        },
        Update {
            width: 128,
            height: 128,
            ops: vec![Op::Fill { rect, color: 0 }; 10_000],
            raw: vec![],
        },
        Update { width: 128, height: 128, ops: vec![], raw: vec![1] },
        Update { width: 0, height: 128, ops: vec![], raw: vec![] },
        Update { width: 100_000, height: 100_000, ops: vec![], raw: vec![] },
    ];
    for (i, update) in bad.iter().enumerate() {
        let err = decoder.apply(update).expect_err(&format!("case {i} must be refused"));
        assert!(!matches!(err, DecodeError::Frame(_)) || i >= 10, "case {i}: {err}");
        assert!(decoder.frame() == Some(&before), "case {i} changed the frame");
    }
}

#[test]
fn bgrx_capture_round_trips() {
    // A captured frame with row padding, as X11 delivers it.
    let (w, h, stride) = (70u32, 3u32, 70 * 4 + 8);
    let bytes: Vec<u8> = (0..stride * h as usize).map(|i| (i * 31 % 251) as u8).collect();
    let frame = Frame::from_bgrx(w, h, stride, &bytes).unwrap();
    roundtrip(&[frame]);
}
