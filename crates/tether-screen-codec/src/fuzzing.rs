//! The code the fuzz target runs, shared with the seed-corpus test.

use crate::{Decoder, Encoder, Frame, Update};

/// Decodes `data` as the wire form of an update (size-limited) and applies
/// it to a fresh decoder and to one holding a frame. Must never panic.
pub fn decode_update(data: &[u8]) {
    let Ok(update) = Update::from_bytes(data) else {
        return;
    };
    let _ = Decoder::new().apply(&update);
    let mut decoder = Decoder::new();
    let base = Frame::solid(update.width.clamp(1, 256), update.height.clamp(1, 256), 0x445566)
        .expect("clamped to a valid size");
    decoder.apply(&Encoder::new().encode(&base)).expect("our own update decodes");
    let _ = decoder.apply(&update);
}

/// Encodes an update the way the fuzz seeds are stored.
pub fn encode_update(update: &Update) -> Vec<u8> {
    update.to_bytes()
}
