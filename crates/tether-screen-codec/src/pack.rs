//! The compression streams an update's bytes go through: zstd contexts
//! that live as long as the view, flushed once per update, so each update
//! can refer back to what earlier ones carried.

use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
use zstd::zstd_safe::{CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer, ResetDirective};

/// Largest zstd window the encoder uses and the decoder accepts, as a
/// power of two: 8 MiB, so a hostile stream cannot make the decoder hold
/// more history than that.
const MAX_WINDOW_LOG: u32 = 23;

/// Output grows in steps of at most this much.
const GROW: usize = 256 << 10;

/// The compressing end of one stream.
pub(crate) struct Packer {
    cctx: CCtx<'static>,
    settings: Settings,
}

/// How a stream compresses: a zstd level, and the window, hash-table and
/// chain-table sizes as powers of two (a table's 0: the level's own). The
/// window and tables are most of a compressor's memory (level 6 with its
/// defaults takes 5.9 MiB; with a 512 KiB window and 2^17 tables, 2 MiB;
/// a 2^16 chain table saves 0.25 MiB of that).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub level: i32,
    pub window_log: u32,
    pub hash_log: u32,
    pub chain_log: u32,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packer").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Packer {
    pub(crate) fn new(settings: Settings) -> Packer {
        let mut packer = Packer { cctx: CCtx::create(), settings };
        packer.reset();
        packer
    }

    /// Starts a new stream: later output does not refer to earlier input.
    pub(crate) fn reset(&mut self) {
        let Settings { level, window_log, hash_log, chain_log } = self.settings;
        let cctx = &mut self.cctx;
        let mut configured = cctx
            .reset(ResetDirective::SessionAndParameters)
            .and_then(|_| cctx.set_parameter(CParameter::CompressionLevel(level)))
            .and_then(|_| {
                cctx.set_parameter(CParameter::WindowLog(window_log.min(MAX_WINDOW_LOG)))
            });
        if hash_log > 0 {
            configured = configured.and_then(|_| cctx.set_parameter(CParameter::HashLog(hash_log)));
        }
        if chain_log > 0 {
            configured =
                configured.and_then(|_| cctx.set_parameter(CParameter::ChainLog(chain_log)));
        }
        configured.expect("valid zstd parameters");
    }

    /// Compresses `data` and flushes: the result decodes completely, given
    /// every earlier result of this stream.
    pub(crate) fn pack(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(data, &mut out);
        self.flush(&mut out);
        out
    }

    /// Compresses `data` into `out` without flushing: an update's pieces
    /// go in one by one (no buffer for all of them), then [`Packer::flush`].
    pub(crate) fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.drive(data, out, ZSTD_EndDirective::ZSTD_e_continue);
    }

    /// Ends the piece written since the last flush: `out` then decodes
    /// completely, given every earlier piece of this stream.
    pub(crate) fn flush(&mut self, out: &mut Vec<u8>) {
        self.drive(&[], out, ZSTD_EndDirective::ZSTD_e_flush);
    }

    fn drive(&mut self, data: &[u8], out: &mut Vec<u8>, directive: ZSTD_EndDirective) {
        let mut input = InBuffer::around(data);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(GROW.min(zstd::zstd_safe::compress_bound(data.len()) + 64));
            }
            let len = out.len();
            let mut output = OutBuffer::around_pos(out, len);
            let remaining = self
                .cctx
                .compress_stream2(&mut output, &mut input, directive)
                .expect("compressing into memory cannot fail");
            let room_left = output.pos() < output.capacity();
            let done = input.pos() == data.len()
                && match directive {
                    ZSTD_EndDirective::ZSTD_e_continue => room_left,
                    _ => remaining == 0,
                };
            if done {
                return;
            }
            out.reserve(GROW);
        }
    }
}

/// The decompressing end of one stream.
pub(crate) struct Unpacker {
    dctx: DCtx<'static>,
}

impl std::fmt::Debug for Unpacker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unpacker").finish_non_exhaustive()
    }
}

impl Default for Unpacker {
    fn default() -> Unpacker {
        let mut unpacker = Unpacker { dctx: DCtx::create() };
        unpacker.reset();
        unpacker
    }
}

impl Unpacker {
    /// Starts a new stream.
    pub(crate) fn reset(&mut self) {
        let configured = self
            .dctx
            .reset(ResetDirective::SessionAndParameters)
            .and_then(|_| self.dctx.set_parameter(DParameter::WindowLogMax(MAX_WINDOW_LOG)));
        configured.expect("valid zstd parameters");
    }

    /// Decompresses one flushed piece of the stream, refusing output past
    /// `limit` bytes. Memory grows with what is actually produced, not with
    /// the limit.
    pub(crate) fn unpack(&mut self, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        let over = || format!("decompresses to more than {limit} bytes");
        let mut out: Vec<u8> = Vec::new();
        let mut input = InBuffer::around(data);
        loop {
            if out.len() == out.capacity() {
                // Room up to one byte past the limit, to notice going over.
                out.reserve_exact((limit + 1 - out.len()).min(GROW.max(out.len())));
            }
            let len = out.len();
            let full = {
                let mut output = OutBuffer::around_pos(&mut out, len);
                self.dctx
                    .decompress_stream(&mut output, &mut input)
                    .map_err(|code| zstd::zstd_safe::get_error_name(code).to_owned())?;
                output.pos() == output.capacity()
            };
            if out.len() > limit {
                return Err(over());
            }
            // All input taken and zstd stopped short of the room it had:
            // everything flushed into this piece is out.
            if input.pos() == data.len() && !full {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_refer_back_and_decode_in_order() {
        let mut packer =
            Packer::new(Settings { level: 3, window_log: 20, hash_log: 0, chain_log: 0 });
        let mut unpacker = Unpacker::default();
        let line: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let first = packer.pack(&line);
        let second = packer.pack(&line);
        assert!(second.len() * 10 < first.len(), "{} vs {}", second.len(), first.len());
        assert_eq!(unpacker.unpack(&first, 4000).unwrap(), line);
        assert_eq!(unpacker.unpack(&second, 4000).unwrap(), line);
        assert_eq!(unpacker.unpack(&packer.pack(&[]), 0).unwrap(), Vec::<u8>::new());
        // Written in pieces, flushed once: the same bytes come out.
        let mut out = Vec::new();
        for piece in line.chunks(333) {
            packer.write(piece, &mut out);
        }
        packer.flush(&mut out);
        assert_eq!(unpacker.unpack(&out, 4000).unwrap(), line);
    }

    #[test]
    fn limits_and_garbage_are_refused() {
        let mut packer =
            Packer::new(Settings { level: 1, window_log: 19, hash_log: 16, chain_log: 16 });
        let piece = packer.pack(&[7; 10_000]);
        assert!(Unpacker::default().unpack(&piece, 9_999).is_err());
        assert_eq!(Unpacker::default().unpack(&piece, 10_000).unwrap().len(), 10_000);
        assert!(Unpacker::default().unpack(&[1, 2, 3, 4, 5, 6, 7, 8], 100).is_err());
        // A later piece needs the earlier ones.
        let later = packer.pack(&[7; 10_000]);
        let mut fresh = Unpacker::default();
        assert!(fresh.unpack(&later, 10_000).is_err());
    }
}
