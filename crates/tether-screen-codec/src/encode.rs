//! Frames to updates.

use crate::frame::{
    Blank, Frame, FrameError, Image, PutRows, Rect, bgrx_to_pixels, check_rows, check_size,
};
use crate::model::ModelEncoder;
use crate::moves::SearchCost;
use crate::ops::{Op, pack_palette};
use crate::pack::{Packer, Settings};
use crate::predict;
use crate::tiles::{ChangedTiles, CopiedTile, Overlay};
use crate::{MAX_PALETTE, TILE, Update, moves, scroll};

/// The shapes stream (operations and palette indices: text) carries
/// kilobytes per update, so a middle level is cheap; its 512 KiB window
/// holds the last few dozen lines of text (a larger one gained 3% on the
/// scrolling benchmark for twice the memory). A 2^16-entry chain table
/// takes 0.25 MiB less than 2^17 for the same bytes on the screen bench;
/// a 2^16 hash table too cost 8% more on its scrolling phase.
const SHAPES: Settings = Settings { level: 6, window_log: 19, hash_log: 17, chain_log: 16 };

/// The residuals go through zstd (level 1: fast enough for 1080p at 30
/// fps, and as good on residuals as higher levels); a fresh frame's also
/// through the range coder, and the update carries whichever coding is
/// smaller: the range coder wins on photos and video by a quarter or
/// more, zstd on anti-aliased text and
/// drawings with more than a palette's colours (a glyph's residuals
/// repeat byte for byte wherever the glyph does, which only a match
/// finder sees; 16% smaller on a page of coloured anti-aliased text). A
/// new zstd frame per update, so the choice never breaks a history. A
/// 64 KiB window: 0.17 MiB less resident than 128 KiB for 0.1 % more
/// bytes (`examples/encode_cost.rs`).
const PIXELS_ZSTD: Settings = Settings { level: 1, window_log: 16, hash_log: 0, chain_log: 0 };

/// Motion searches in a row that found nothing to copy, after which the
/// search only probes every [`PROBE_EVERY`]-th update: content that
/// changes in place (video, an animation, noise) never yields copies,
/// while panned or dragged content yields them update after update and
/// keeps being searched.
const SEARCH_MISSES: u32 = 2;
const PROBE_EVERY: u32 = 8;

/// Offsets of recent copies kept to try first (`moves.rs`), and how
/// many updates may take copies from them alone before a full search
/// looks for motion elsewhere.
const RECENT_OFFSETS: usize = 6;
const FOLLOW_AT_MOST: u32 = 8;

/// Encodes frames relative to the last one encoded (what the viewer has).
///
/// It holds one whole frame: the last one encoded, into whose buffer a
/// fresh frame is received directly. Every other frame is received as the
/// tiles where it differs from that one ([`Encoder::begin`], `tiles.rs`),
/// which are written into it once the update is made.
#[derive(Debug)]
pub struct Encoder {
    /// What the viewer has, unless `fresh` (then only a buffer).
    previous: Option<Frame>,
    /// The streams were reset and no update has said so yet: the viewer
    /// starts from black.
    fresh: bool,
    /// Motion searches in a row that found nothing, and updates since the
    /// last search.
    misses: u32,
    since_search: u32,
    /// Offsets of the latest copies found, newest first, and updates in a
    /// row that took copies from them without a full search.
    recent: Vec<(i32, i32)>,
    followed: u32,
    /// Changed tiles and tiles covered by copies in the last full search.
    searched: (usize, usize),
    /// What the last motion search cost (zero if it did not run).
    search_cost: SearchCost,
    shapes: Packer,
    /// The prediction residuals' coder (`model.rs`), whose probabilities
    /// carry over from update to update, and the zstd alternative, a new
    /// zstd frame per update (see [`PIXELS_ZSTD`]).
    pixels: ModelEncoder,
    pixels_zstd: Packer,
    /// One tile of the viewer's frame after an update's copies, reused.
    copied: CopiedTile,
    /// The frame being received, as its changed tiles (unless fresh).
    tiles: ChangedTiles,
    /// One row of it converted from BGRX, reused.
    row: Vec<u32>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder {
            previous: None,
            fresh: true,
            misses: 0,
            since_search: 0,
            recent: Vec::new(),
            followed: 0,
            searched: (0, 0),
            search_cost: SearchCost::default(),
            shapes: Packer::new(SHAPES),
            pixels: ModelEncoder::default(),
            pixels_zstd: Packer::new(PIXELS_ZSTD),
            copied: CopiedTile::default(),
            tiles: ChangedTiles::default(),
            row: Vec::new(),
        }
    }
}

/// A frame being received in strips of rows, top to bottom
/// ([`PutRows`]); [`Incoming::encode`] makes its update once all rows
/// came. Dropped before that, the encoder is as it was.
#[derive(Debug)]
pub struct Incoming<'a> {
    encoder: &'a mut Encoder,
    /// Rows received (for a fresh frame; else the tiles count them).
    rows: u32,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Forgets what the viewer has: the next update repaints everything
    /// and is marked fresh.
    pub fn reset(&mut self) {
        self.fresh = true;
        self.recent.clear();
        self.shapes.reset();
        self.pixels.reset();
    }

    /// What the motion search of the last update cost (all zero when it
    /// did not run): for figures and tests.
    pub fn search_cost(&self) -> SearchCost {
        self.search_cost
    }

    /// Bytes of frame memory held: the last frame plus the changed tiles
    /// of the frame being received, or those of the last update (kept for
    /// the next unless far larger than it needed). For figures and tests.
    pub fn held_bytes(&self) -> usize {
        4 * (self.previous.as_ref().map_or(0, |f| f.pixels().len()) + self.tiles.held())
    }

    /// Starts receiving the next frame, `width`×`height`, in strips of
    /// BGRX rows: each strip is compared with the last frame as it
    /// arrives and only the tiles that differ are kept.
    pub fn begin(&mut self, width: u32, height: u32) -> Result<Incoming<'_>, FrameError> {
        check_size(width, height)?;
        let same_size =
            self.previous.as_ref().is_some_and(|p| (p.width(), p.height()) == (width, height));
        if !same_size {
            // A new size: the decoder starts from black. The old buffer
            // goes before the new one is made.
            self.reset();
            self.previous = None;
            self.previous = Some(Frame::solid(width, height, 0)?);
        }
        if !self.fresh {
            self.tiles.start(width, height);
        }
        self.row.resize(width as usize, 0);
        Ok(Incoming { encoder: self, rows: 0 })
    }

    /// The update that turns the viewer's frame into `frame`, a whole
    /// frame at hand (a screenshot, tests): as [`Encoder::begin`] with all
    /// its rows. A fresh frame is kept as it is.
    pub fn encode(&mut self, frame: Frame) -> Update {
        let same_size = self
            .previous
            .as_ref()
            .is_some_and(|p| (p.width(), p.height()) == (frame.width(), frame.height()));
        if !same_size {
            self.reset();
        }
        if self.fresh {
            self.previous = Some(frame);
            return self.encode_fresh();
        }
        let Some(previous) = &self.previous else { unreachable!("not fresh: a frame is held") };
        self.tiles.start(frame.width(), frame.height());
        for y in 0..frame.height() {
            self.tiles.put_row(previous, frame.full_row(y));
        }
        drop(frame);
        self.encode_changes()
    }

    /// The update of a fresh frame, received into `previous`: against
    /// black, which the decoder starts from.
    fn encode_fresh(&mut self) -> Update {
        let Some(frame) = self.previous.take() else { unreachable!("a fresh frame is held") };
        let (width, height) = (frame.width(), frame.height());
        self.search_cost = SearchCost::default();
        let black = Blank::new(width, height);
        let update = match crate::frame::changed_box(&black, &frame) {
            None => Update { width, height, fresh: true, ..Update::default() },
            Some(area) => {
                // Only whole rows scroll against black: copies of black
                // onto black, which change nothing there, so black stays
                // the reference.
                let copies = scroll::detect(&black, &frame, area);
                let update = self.make_update(&frame, None, area, &copies);
                self.fresh = false;
                update
            }
        };
        self.previous = Some(frame);
        update
    }

    /// The update of a frame received as its changed tiles against
    /// `previous`, which then becomes that frame.
    fn encode_changes(&mut self) -> Update {
        let Some(mut previous) = self.previous.take() else {
            unreachable!("not fresh: a frame is held")
        };
        let (width, height) = (previous.width(), previous.height());
        self.search_cost = SearchCost::default();
        let Some(area) = self.tiles.changed_box() else {
            self.previous = Some(previous);
            return Update { width, height, fresh: false, ..Update::default() };
        };
        let copies = self.copies(&previous, area);
        let tiles = std::mem::take(&mut self.tiles);
        let frame = Overlay { base: &previous, tiles: &tiles };
        let update = self.make_update(&frame, Some((&previous, &tiles)), area, &copies);
        tiles.apply_to(&mut previous);
        self.tiles = tiles;
        self.tiles.trim();
        self.previous = Some(previous);
        update
    }

    /// Copies for this update: scrolled rows if the whole area scrolled,
    /// else whatever the motion search finds (unless recent searches found
    /// nothing: see [`SEARCH_MISSES`]).
    fn copies(&mut self, previous: &Frame, area: Rect) -> Vec<moves::Copy> {
        let frame = Overlay { base: previous, tiles: &self.tiles };
        let scrolled = scroll::detect(previous, &frame, area);
        if !scrolled.is_empty() {
            return scrolled;
        }
        self.since_search += 1;
        if self.misses >= SEARCH_MISSES && self.since_search < PROBE_EVERY {
            return Vec::new();
        }
        self.since_search = 0;
        let changed = |tile: &Rect| self.tiles.is_changed(tile);
        let follow = (self.followed < FOLLOW_AT_MOST).then_some(moves::Follow {
            offsets: &self.recent,
            tiles: self.searched.0,
            covered: self.searched.1,
        });
        let cost = &mut self.search_cost;
        let found = moves::detect_where(previous, &frame, area, &changed, follow, cost);
        if cost.followed {
            self.followed += 1;
        } else {
            self.followed = 0;
            self.searched = (cost.tiles, cost.covered);
        }
        self.misses = if found.is_empty() { self.misses.saturating_add(1) } else { 0 };
        self.remember(&found);
        found
    }

    /// Puts the offsets of `copies` first among the recent ones, the
    /// largest first.
    fn remember(&mut self, copies: &[moves::Copy]) {
        let mut offsets: Vec<((i32, i32), u64)> = Vec::new();
        for (rect, dx, dy) in copies {
            match offsets.iter_mut().find(|(o, _)| *o == (*dx, *dy)) {
                Some((_, area)) => *area += rect.area(),
                None => offsets.push(((*dx, *dy), rect.area())),
            }
        }
        offsets.sort_by_key(|&(_, area)| std::cmp::Reverse(area));
        let older = std::mem::take(&mut self.recent);
        self.recent = offsets.into_iter().map(|(o, _)| o).collect();
        for o in older {
            if !self.recent.contains(&o) {
                self.recent.push(o);
            }
        }
        self.recent.truncate(RECENT_OFFSETS);
    }

    /// The update from `copies` and the tiles of `area` where `frame`
    /// still differs from what the viewer has after the copies: `last`
    /// (the last frame and the tiles where `frame` differs from it), or
    /// black when the viewer starts from black.
    fn make_update(
        &mut self,
        frame: &dyn Image,
        last: Option<(&Frame, &ChangedTiles)>,
        area: Rect,
        copies: &[moves::Copy],
    ) -> Update {
        let (width, height) = (frame.width(), frame.height());
        let black = Blank::new(width, height);
        let mut copied = std::mem::take(&mut self.copied);
        let mut ops: Vec<Op> =
            copies.iter().map(|&(rect, dx, dy)| Op::Copy { rect, dx, dy }).collect();
        let mut indices = Vec::new();
        let mut residuals = Vec::new();
        let mut zstd_pixels = Vec::new();
        let mut any_residuals = false;
        // The range coder for a fresh frame only (see `PIXELS_ZSTD`).
        let model_too = self.fresh;
        let tiles = |from: u32, len: u32| (from / TILE * TILE..from + len).step_by(TILE as usize);
        for ty in tiles(area.y, area.h) {
            for tx in tiles(area.x, area.w) {
                let tile = Rect { x: tx, y: ty, w: TILE.min(width - tx), h: TILE.min(height - ty) };
                // Copies change nothing where the frame did not change.
                let reference: &dyn Image = match last {
                    Some((_, tiles)) if !tiles.is_changed(&tile) => continue,
                    Some((previous, _)) => {
                        copied.load(previous, tile, copies);
                        &copied
                    }
                    None => &black,
                };
                let Some(rect) = changed_part(reference, frame, tile) else { continue };
                residuals.clear();
                let previous = last.is_some().then_some(reference);
                let op = encode_tile(frame, previous, rect, &mut indices, &mut residuals);
                if !residuals.is_empty() {
                    if !any_residuals {
                        self.pixels_zstd.reset();
                    }
                    if model_too {
                        self.pixels.put(rect.w as usize, &residuals);
                    }
                    // zstd may hold the bytes until the flush below.
                    self.pixels_zstd.write(&residuals, &mut zstd_pixels);
                    any_residuals = true;
                }
                // Runs of same-colour tiles along a row become one fill.
                if let (
                    Op::Fill { rect: new, color },
                    Some(Op::Fill { rect: last, color: last_color }),
                ) = (&op, ops.last_mut())
                    && color == last_color
                    && last.y == new.y
                    && last.h == new.h
                    && last.x + last.w == new.x
                {
                    last.w += new.w;
                    continue;
                }
                ops.push(op);
            }
        }
        self.copied = copied;
        let mut shapes = bincode::serde::encode_to_vec(&ops, bincode::config::standard())
            .expect("operations always encode");
        shapes.extend_from_slice(&indices);
        let pixels = if any_residuals {
            self.pixels_zstd.flush(&mut zstd_pixels);
            if model_too {
                self.smaller_pixels(zstd_pixels)
            } else {
                let mut out = Vec::with_capacity(1 + zstd_pixels.len());
                out.push(crate::PIXELS_AS_ZSTD);
                out.extend_from_slice(&zstd_pixels);
                out
            }
        } else {
            Vec::new()
        };
        Update { width, height, fresh: self.fresh, shapes: self.shapes.pack(&shapes), pixels }
    }
}

impl Encoder {
    /// The update's pixels: a mode byte ([`crate::PIXELS_RANGE_CODED`] or
    /// [`crate::PIXELS_AS_ZSTD`]), then the smaller of the residuals' two
    /// codings; the range coder forgets the update if zstd's is taken.
    fn smaller_pixels(&mut self, zstd: Vec<u8>) -> Vec<u8> {
        let model = self.pixels.finish();
        let (mode, coding) = if zstd.len() < model.len() {
            self.pixels.undo();
            (crate::PIXELS_AS_ZSTD, zstd)
        } else {
            (crate::PIXELS_RANGE_CODED, model)
        };
        let mut out = Vec::with_capacity(1 + coding.len());
        out.push(mode);
        out.extend_from_slice(&coding);
        out
    }
}

impl PutRows for Incoming<'_> {
    fn put_bgrx_rows(
        &mut self,
        y: u32,
        rows: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<(), FrameError> {
        let encoder = &mut *self.encoder;
        let Some(previous) = encoder.previous.as_mut() else { unreachable!("begin made a frame") };
        let size = (previous.width(), previous.height());
        check_rows(size, y, rows, stride, bytes.len())?;
        let expected = if encoder.fresh { self.rows } else { encoder.tiles.rows() };
        if y != expected {
            return Err(FrameError::OutOfOrder { expected, got: y });
        }
        if encoder.fresh {
            previous.put_bgrx_rows(y, rows, stride, bytes)?;
            self.rows += rows;
            return Ok(());
        }
        let row = size.0 as usize * 4;
        for line in 0..rows as usize {
            bgrx_to_pixels(&bytes[line * stride..line * stride + row], &mut encoder.row);
            encoder.tiles.put_row(previous, &encoder.row);
        }
        Ok(())
    }

    /// False unless fresh: a fresh frame is coded against black, so it
    /// needs every pixel.
    fn needs_every_row(&self) -> bool {
        self.encoder.fresh
    }

    fn same_rows(&mut self, y: u32, rows: u32) -> Result<(), FrameError> {
        if rows == 0 {
            return Ok(());
        }
        let encoder = &mut *self.encoder;
        let Some(previous) = encoder.previous.as_ref() else { unreachable!("begin made a frame") };
        let height = previous.height();
        let end = u64::from(y) + u64::from(rows);
        if encoder.fresh {
            return Err(FrameError::RowsNeeded { y, end });
        }
        if end > u64::from(height) {
            return Err(FrameError::PastEnd { end, height });
        }
        let expected = encoder.tiles.rows();
        if y != expected {
            return Err(FrameError::OutOfOrder { expected, got: y });
        }
        encoder.tiles.same_rows(previous, rows);
        Ok(())
    }
}

impl Incoming<'_> {
    /// The update, once every row has come.
    pub fn encode(self) -> Result<Update, FrameError> {
        let encoder = self.encoder;
        let height = encoder.previous.as_ref().map_or(0, Frame::height);
        let got = if encoder.fresh { self.rows } else { encoder.tiles.rows() };
        if got != height {
            return Err(FrameError::Incomplete { got, height });
        }
        Ok(if encoder.fresh { encoder.encode_fresh() } else { encoder.encode_changes() })
    }
}

/// The smallest rectangle of `tile` holding every pixel where `frame`
/// differs from `reference`, or `None` if none does.
fn changed_part(reference: &dyn Image, frame: &dyn Image, tile: Rect) -> Option<Rect> {
    let differs = |r: &u32| reference.row(&tile, *r) != frame.row(&tile, *r);
    let first = (0..tile.h).find(differs)?;
    let last = (0..tile.h).rev().find(differs).expect("a row differs");
    let (mut left, mut right) = (tile.w, 0);
    for r in first..=last {
        let (a, b) = (reference.row(&tile, r), frame.row(&tile, r));
        if let Some(l) = a.iter().zip(b).position(|(p, q)| p != q) {
            let rr = a.iter().zip(b).rposition(|(p, q)| p != q).expect("a pixel differs");
            left = left.min(l as u32);
            right = right.max(rr as u32);
        }
    }
    Some(Rect { x: tile.x + left, y: tile.y + first, w: right + 1 - left, h: last - first + 1 })
}

/// The cheapest operation for one changed rectangle; palette indices are
/// appended to `indices`, prediction residuals to `residuals`. `previous`
/// is what the viewer has (after the update's copies), unless it starts
/// from black.
fn encode_tile(
    frame: &dyn Image,
    previous: Option<&dyn Image>,
    rect: Rect,
    indices: &mut Vec<u8>,
    residuals: &mut Vec<u8>,
) -> Op {
    let mut colors: Vec<u32> = Vec::with_capacity(MAX_PALETTE);
    'scan: for r in 0..rect.h {
        for &p in frame.row(&rect, r) {
            if !colors.contains(&p) {
                if colors.len() == MAX_PALETTE {
                    colors.clear();
                    break 'scan;
                }
                colors.push(p);
            }
        }
    }
    match colors.len() {
        1 => Op::Fill { rect, color: colors[0] },
        0 => {
            let coding = predict::choose(frame, previous, &rect);
            // Without a reference `choose` never picks `Previous`, the
            // only coding that reads it: any frame serves.
            predict::residuals(frame, previous.unwrap_or(frame), &rect, coding, |b| {
                residuals.extend_from_slice(b)
            });
            Op::Pixels { rect, predictor: coding.predictor, channels: coding.channels }
        }
        _ => {
            pack_palette(frame, &rect, &colors, indices);
            Op::Palette { rect, colors }
        }
    }
}
