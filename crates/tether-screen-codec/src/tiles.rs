//! The next frame as the encoder receives it: only the tiles where it
//! differs from the last frame are kept; everywhere else it *is* the last
//! frame. Rows are compared with the last frame as they arrive (strips of
//! a capture), so the encoder holds one whole frame plus the changed
//! tiles, never two whole frames.

use crate::TILE;
use crate::frame::{Frame, Image, Rect};
use crate::moves::Copy;
use crate::ops::shifted;

/// Pixels of one stored tile (edge tiles use part of theirs).
const BLOCK: usize = (TILE * TILE) as usize;

/// The changed tiles of a frame arriving row by row, against a base frame
/// of the same size.
#[derive(Debug, Default)]
pub(crate) struct ChangedTiles {
    width: u32,
    height: u32,
    cols: u32,
    /// Per tile, row-major: 1 + the index of its block, 0 while unchanged.
    slots: Vec<u32>,
    /// The changed tiles' pixels, `TILE`×`TILE` each, rows `TILE` apart.
    blocks: Vec<u32>,
    /// Rows taken so far.
    rows: u32,
    /// Where pixels differ: columns `x0..x1`, rows `y0..y1`.
    x0: u32,
    x1: u32,
    y0: u32,
    y1: u32,
}

impl ChangedTiles {
    /// Starts over for a `width`×`height` frame.
    pub(crate) fn start(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.cols = width.div_ceil(TILE);
        self.slots.clear();
        self.slots.resize((self.cols * height.div_ceil(TILE)) as usize, 0);
        self.blocks.clear();
        self.rows = 0;
        (self.x0, self.x1, self.y0, self.y1) = (u32::MAX, 0, u32::MAX, 0);
    }

    /// Rows taken so far.
    pub(crate) fn rows(&self) -> u32 {
        self.rows
    }

    /// Takes the next row of the new frame (`row`, `width` pixels) and
    /// compares it with the same row of `base`.
    pub(crate) fn put_row(&mut self, base: &Frame, row: &[u32]) {
        let y = self.rows;
        let old = base.full_row(y);
        let same = old == row;
        if !same {
            let first = old.iter().zip(row).position(|(p, q)| p != q).unwrap_or(0) as u32;
            let last = old.iter().zip(row).rposition(|(p, q)| p != q).unwrap_or(0) as u32;
            self.x0 = self.x0.min(first);
            self.x1 = self.x1.max(last + 1);
            self.y0 = self.y0.min(y);
            self.y1 = self.y1.max(y + 1);
        }
        let top = y / TILE * TILE;
        let at = ((y - top) * TILE) as usize;
        for col in 0..self.cols {
            let x = (col * TILE) as usize;
            let end = (x + TILE as usize).min(self.width as usize);
            let slot = &mut self.slots[(y / TILE * self.cols + col) as usize];
            if *slot == 0 {
                if same || old[x..end] == row[x..end] {
                    continue;
                }
                // The tile's first differing row: the rows above it in the
                // tile are the base's.
                let index = self.blocks.len() / BLOCK;
                *slot = index as u32 + 1;
                self.blocks.resize(self.blocks.len() + BLOCK, 0);
                let block = &mut self.blocks[index * BLOCK..];
                for r in top..y {
                    let from = &base.full_row(r)[x..end];
                    block[((r - top) * TILE) as usize..][..end - x].copy_from_slice(from);
                }
            }
            let start = (*slot as usize - 1) * BLOCK + at;
            self.blocks[start..start + end - x].copy_from_slice(&row[x..end]);
        }
        self.rows += 1;
    }

    /// Takes the next `rows` rows as the base's, without comparing them.
    /// Tiles of the current row of tiles that changed above hold their
    /// own copy of these rows, so those get the base's; a tile further
    /// down that changes later copies its rows above from the base then.
    /// The caller keeps the rows within the frame.
    pub(crate) fn same_rows(&mut self, base: &Frame, rows: u32) {
        let end = self.rows + rows;
        debug_assert!(end <= self.height);
        // The rest of the current row of tiles goes in as the base's own
        // rows: no tile changes, the changed ones get their copy.
        let tiles_end = (self.rows / TILE + 1) * TILE;
        while self.rows < end.min(tiles_end) {
            self.put_row(base, base.full_row(self.rows));
        }
        self.rows = end;
    }

    /// The columns and rows where the frame differs from the base, or
    /// `None` if it does not (as [`crate::frame::changed_box`] finds).
    pub(crate) fn changed_box(&self) -> Option<Rect> {
        (self.y0 != u32::MAX).then(|| Rect {
            x: self.x0,
            y: self.y0,
            w: self.x1 - self.x0,
            h: self.y1 - self.y0,
        })
    }

    /// Writes the changed tiles into `base`, which then is the new frame.
    pub(crate) fn apply_to(&self, base: &mut Frame) {
        for (i, &slot) in self.slots.iter().enumerate().filter(|(_, s)| **s != 0) {
            let (x, top) = ((i as u32 % self.cols) * TILE, (i as u32 / self.cols) * TILE);
            let w = TILE.min(self.width - x) as usize;
            let block = &self.blocks[(slot as usize - 1) * BLOCK..][..BLOCK];
            for r in 0..TILE.min(self.height - top) {
                let to = &mut base.full_row_mut(top + r)[x as usize..x as usize + w];
                to.copy_from_slice(&block[(r * TILE) as usize..][..w]);
            }
        }
    }

    /// True if `tile` (a tile of the grid) differs from the base.
    pub(crate) fn is_changed(&self, tile: &Rect) -> bool {
        self.slots[(tile.y / TILE * self.cols + tile.x / TILE) as usize] != 0
    }

    /// Pixels held for changed tiles (memory, not area).
    pub(crate) fn held(&self) -> usize {
        self.blocks.capacity()
    }

    /// Gives back memory beyond what `used` blocks need when it is much
    /// more: one update that changed the whole screen does not keep a
    /// second frame's worth resident for the rest of the view.
    pub(crate) fn trim(&mut self) {
        let used = self.blocks.len();
        if self.blocks.capacity() > (4 * used).max(4 * BLOCK) {
            self.blocks.shrink_to(used);
        }
    }
}

/// The new frame: `tiles` where they changed, `base` elsewhere.
pub(crate) struct Overlay<'a> {
    pub(crate) base: &'a Frame,
    pub(crate) tiles: &'a ChangedTiles,
}

impl Image for Overlay<'_> {
    fn width(&self) -> u32 {
        self.base.width()
    }

    fn height(&self) -> u32 {
        self.base.height()
    }

    /// `rect` must lie within one column of tiles (see [`Image`]).
    fn row(&self, rect: &Rect, dy: u32) -> &[u32] {
        let y = rect.y + dy;
        let col = rect.x / TILE;
        debug_assert!(rect.w == 0 || (rect.x + rect.w - 1) / TILE == col, "{rect:?} spans tiles");
        match self.tiles.slots[(y / TILE * self.tiles.cols + col) as usize] {
            0 => self.base.row(rect, dy),
            slot => {
                let at = (slot as usize - 1) * BLOCK
                    + ((y % TILE) * TILE) as usize
                    + (rect.x % TILE) as usize;
                &self.tiles.blocks[at..at + rect.w as usize]
            }
        }
    }
}

/// One tile of what the viewer has once an update's copies are drawn:
/// the last frame's pixels there, with every copy that lands on the tile
/// applied in order, each reading the last frame as it was before the
/// update. Copies land only in changed tiles or where they change nothing
/// (`scroll.rs`), so this is all the encoder needs of the frame after the
/// copies: one tile of memory, and the last frame itself is left alone.
#[derive(Debug, Default)]
pub(crate) struct CopiedTile {
    tile: Rect,
    pixels: Vec<u32>,
}

impl CopiedTile {
    /// Becomes `tile` of `base` after `copies` (each checked to fit).
    pub(crate) fn load(&mut self, base: &Frame, tile: Rect, copies: &[Copy]) {
        self.tile = tile;
        self.pixels.resize(BLOCK, 0);
        for r in 0..tile.h {
            self.pixels[(r * TILE) as usize..][..tile.w as usize]
                .copy_from_slice(base.row(&tile, r));
        }
        for &(source, dx, dy) in copies {
            let Some(dest) = shifted(&source, dx, dy) else { continue };
            let (x0, y0) = (dest.x.max(tile.x), dest.y.max(tile.y));
            let x1 = (dest.x + dest.w).min(tile.x + tile.w);
            let y1 = (dest.y + dest.h).min(tile.y + tile.h);
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            let from = Rect {
                x: (i64::from(x0) - i64::from(dx)) as u32,
                y: (i64::from(y0) - i64::from(dy)) as u32,
                w: x1 - x0,
                h: y1 - y0,
            };
            for r in 0..from.h {
                let at = ((y0 + r - tile.y) * TILE + x0 - tile.x) as usize;
                self.pixels[at..at + from.w as usize].copy_from_slice(base.row(&from, r));
            }
        }
    }
}

impl Image for CopiedTile {
    fn width(&self) -> u32 {
        self.tile.x + self.tile.w
    }

    fn height(&self) -> u32 {
        self.tile.y + self.tile.h
    }

    /// `rect` must lie within the loaded tile.
    fn row(&self, rect: &Rect, dy: u32) -> &[u32] {
        debug_assert!(rect.x >= self.tile.x && rect.x + rect.w <= self.tile.x + self.tile.w);
        let at = ((rect.y + dy - self.tile.y) * TILE + rect.x - self.tile.x) as usize;
        &self.pixels[at..at + rect.w as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_testkit::random::XorShift32;

    fn texture(w: u32, h: u32, seed: u32) -> Frame {
        let mut f = Frame::solid(w, h, 0).unwrap();
        let mut rng = XorShift32::new(seed | 1);
        for y in 0..h {
            for x in 0..w {
                let s = rng.next_u32();
                f.set(x, y, s & 0xFF_FFFF);
            }
        }
        f
    }

    #[test]
    fn the_overlay_reads_as_the_new_frame_and_only_changed_tiles_are_held() {
        // 150x100: partial tiles on the right and at the bottom.
        let base = texture(150, 100, 1);
        let mut new = base.clone();
        new.fill(Rect { x: 140, y: 90, w: 10, h: 10 }, 0x123456); // last tile
        new.fill(Rect { x: 70, y: 40, w: 3, h: 30 }, 0xABCDEF); // two tiles
        let mut tiles = ChangedTiles::default();
        tiles.start(150, 100);
        for y in 0..100 {
            tiles.put_row(&base, new.full_row(y));
        }
        assert_eq!(tiles.changed_box(), crate::frame::changed_box(&base, &new));
        assert_eq!(tiles.blocks.len(), 3 * BLOCK, "three tiles changed");
        let overlay = Overlay { base: &base, tiles: &tiles };
        for ty in (0..100).step_by(TILE as usize) {
            for tx in (0..150).step_by(TILE as usize) {
                let tile = Rect { x: tx, y: ty, w: TILE.min(150 - tx), h: TILE.min(100 - ty) };
                for r in 0..tile.h {
                    assert_eq!(overlay.row(&tile, r), new.row(&tile, r), "{tile:?} row {r}");
                }
            }
        }
        let mut applied = base.clone();
        tiles.apply_to(&mut applied);
        assert_eq!(applied, new);
        tiles.start(150, 100);
        for y in 0..100 {
            tiles.put_row(&base, base.full_row(y));
        }
        assert_eq!(tiles.changed_box(), None);
        assert!(tiles.blocks.is_empty());
    }

    #[test]
    fn a_copied_tile_is_the_frame_after_the_copies_there() {
        let base = texture(200, 150, 2);
        // Overlapping copies, the later winning, one from outside the tile
        // and one swapping with another.
        let copies: Vec<Copy> = vec![
            (Rect { x: 100, y: 80, w: 40, h: 30 }, -90, -70),
            (Rect { x: 0, y: 0, w: 64, h: 64 }, 64, 0),
            (Rect { x: 64, y: 0, w: 64, h: 64 }, -64, 0),
            (Rect { x: 5, y: 5, w: 20, h: 20 }, 3, 4),
        ];
        let mut after = base.clone();
        crate::ops::apply_copies(&mut after, &copies, &mut Vec::new());
        let mut tile = CopiedTile::default();
        for ty in (0..150).step_by(TILE as usize) {
            for tx in (0..200).step_by(TILE as usize) {
                let rect = Rect { x: tx, y: ty, w: TILE.min(200 - tx), h: TILE.min(150 - ty) };
                tile.load(&base, rect, &copies);
                for r in 0..rect.h {
                    assert_eq!(tile.row(&rect, r), after.row(&rect, r), "{rect:?} row {r}");
                }
            }
        }
    }
}
