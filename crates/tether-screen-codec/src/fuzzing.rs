//! The code the fuzz target runs, shared with the seed-corpus test.
//!
//! A fuzz input is a sequence of wire updates, each prefixed by its length
//! (u32, little-endian), applied in order to one decoder so the fuzzer
//! reaches the stream state that later updates depend on.

use crate::{Decoder, Encoder, Frame, Update};

/// Applies every update in `data` (see the module docs) to a fresh decoder,
/// and the first also to one already holding a frame and stream state.
/// Must never panic, whatever the bytes.
pub fn decode_updates(data: &[u8]) {
    let mut decoder = Decoder::new();
    let mut rest = data;
    let mut first = true;
    while rest.len() >= 4 {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let piece = &rest[4..4 + len.min(rest.len() - 4)];
        rest = &rest[4 + piece.len()..];
        let Ok(update) = Update::from_bytes(piece) else { continue };
        let _ = decoder.apply(&update);
        if std::mem::take(&mut first) {
            let mut holding = Decoder::new();
            let size = (update.width.clamp(1, 256), update.height.clamp(1, 256));
            holding.apply(&base_update(size)).expect("our own update decodes");
            let _ = holding.apply(&update);
        }
    }
}

/// The encoded first frame of a solid screen of `size`. Encoding it means
/// setting up zstd compression contexts, which cost more than the rest of
/// a fuzz run; the result depends only on the size, so recent ones are
/// kept (a bounded number, so memory stays flat over millions of runs).
fn base_update(size: (u32, u32)) -> Update {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const KEPT: usize = 256;
    thread_local! {
        static BASES: RefCell<HashMap<(u32, u32), Update>> = RefCell::new(HashMap::new());
    }
    BASES.with(|bases| {
        let mut bases = bases.borrow_mut();
        if let Some(update) = bases.get(&size) {
            return update.clone();
        }
        let frame = Frame::solid(size.0, size.1, 0x445566).expect("clamped to a valid size");
        let update = Encoder::new().encode(frame);
        if bases.len() >= KEPT {
            bases.clear();
        }
        bases.insert(size, update.clone());
        update
    })
}

/// Lays out updates as a fuzz input.
pub fn sequence(updates: &[Update]) -> Vec<u8> {
    let mut out = Vec::new();
    for update in updates {
        let bytes = update.to_bytes();
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}
