//! Fitting the remote screen into the window, and mapping window
//! positions back to remote pixels, with the same arithmetic both ways.
//!
//! Nearest-neighbour on purpose: it keeps one-pixel text strokes crisp at
//! 1:1 and costs one table lookup per pixel when scaled.

/// How the remote screen is fitted into the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleMode {
    /// Scaled to fit the window, aspect ratio kept, centred.
    Fit,
    /// One remote pixel per window pixel, from the top-left corner.
    One,
}

/// Which part of the remote image is shown, and where in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The shown part of the remote image: all of it when fitted, the
    /// panned window-sized part at 1:1.
    pub src_x: u32,
    pub src_y: u32,
    pub src_width: u32,
    pub src_height: u32,
}

/// Width of the window's border in which the pointer pans a 1:1 view.
pub const PAN_EDGE: u32 = 24;

impl Placement {
    /// Places a `src_w`×`src_h` image in a `win_w`×`win_h` window.
    pub fn new(mode: ScaleMode, src_w: u32, src_h: u32, win_w: u32, win_h: u32) -> Placement {
        if src_w == 0 || src_h == 0 || win_w == 0 || win_h == 0 {
            return Placement::at(0, 0, 0, 0);
        }
        match mode {
            ScaleMode::One => Placement::at(0, 0, src_w.min(win_w), src_h.min(win_h)),
            ScaleMode::Fit => {
                // The larger scale at which both sides fit.
                let (sw, sh, ww, wh) = (src_w as u64, src_h as u64, win_w as u64, win_h as u64);
                let (width, height) = if sw * wh <= sh * ww {
                    ((sw * wh / sh).max(1), wh)
                } else {
                    (ww, (sh * ww / sw).max(1))
                };
                let (width, height) = (width as u32, height as u32);
                Placement {
                    src_width: src_w,
                    src_height: src_h,
                    ..Placement::at((win_w - width) / 2, (win_h - height) / 2, width, height)
                }
            }
        }
    }

    /// An unscaled placement showing the image's top-left corner.
    fn at(x: u32, y: u32, width: u32, height: u32) -> Placement {
        Placement { x, y, width, height, src_x: 0, src_y: 0, src_width: width, src_height: height }
    }

    /// The same placement showing the image from `offset` (remote pixels)
    /// when it is larger than the window at 1:1, the offset held inside
    /// the image; a fitted image shows all of itself and ignores it.
    pub fn panned(self, offset: (u32, u32), src_w: u32, src_h: u32) -> Placement {
        let (max_x, max_y) = self.max_pan(src_w, src_h);
        Placement { src_x: offset.0.min(max_x), src_y: offset.1.min(max_y), ..self }
    }

    /// The largest pan offset: how much of the image lies beyond the view.
    pub fn max_pan(&self, src_w: u32, src_h: u32) -> (u32, u32) {
        if self.src_width != self.width {
            return (0, 0);
        }
        (src_w.saturating_sub(self.src_width), src_h.saturating_sub(self.src_height))
    }

    /// The remote pixel under window position (`wx`, `wy`), if any.
    pub fn to_remote(&self, wx: f32, wy: f32) -> Option<(i32, i32)> {
        if self.width == 0 || self.height == 0 {
            return None;
        }
        let (lx, ly) = (wx.floor() as i64 - self.x as i64, wy.floor() as i64 - self.y as i64);
        if lx < 0 || ly < 0 || lx >= self.width as i64 || ly >= self.height as i64 {
            return None;
        }
        let rx = self.src_x as i64 + lx * self.src_width as i64 / self.width as i64;
        let ry = self.src_y as i64 + ly * self.src_height as i64 / self.height as i64;
        Some((rx as i32, ry as i32))
    }

    /// The window position of remote pixel (`rx`, `ry`) (outside the
    /// window when panned out of view).
    pub fn to_window(&self, rx: i32, ry: i32) -> (i64, i64) {
        let scale = |r: i32, src: u32, from: u32, to: u32, at: u32| {
            at as i64 + (r as i64 - from as i64) * to as i64 / src.max(1) as i64
        };
        (
            scale(rx, self.src_width, self.src_x, self.width, self.x),
            scale(ry, self.src_height, self.src_y, self.height, self.y),
        )
    }
}

/// How far to pan a 1:1 view on one tick with the pointer at (`px`, `py`)
/// in a `win_w`×`win_h` window: towards the edges it is within
/// [`PAN_EDGE`] of, faster the closer it is (up to `PAN_EDGE` pixels).
pub fn edge_pan((px, py): (f64, f64), (win_w, win_h): (u32, u32)) -> (i32, i32) {
    let axis = |p: f64, size: u32| {
        if size < 4 * PAN_EDGE || p < 0.0 || p >= size as f64 {
            return 0;
        }
        let p = p as i64;
        let far = size as i64 - 1 - p;
        let edge = PAN_EDGE as i64;
        if p < edge {
            -(edge - p) as i32
        } else if far < edge {
            (edge - far) as i32
        } else {
            0
        }
    };
    (axis(px, win_w), axis(py, win_h))
}

/// Moves a pan offset by `delta`, held inside `0..=max`.
pub fn pan_by(offset: (u32, u32), delta: (i32, i32), max: (u32, u32)) -> (u32, u32) {
    let one = |o: u32, d: i32, m: u32| (o as i64 + d as i64).clamp(0, m as i64) as u32;
    (one(offset.0.min(max.0), delta.0, max.0), one(offset.1.min(max.1), delta.1, max.1))
}

/// A remote image: `width`×`height` pixels `0x00RRGGBB`, row by row.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pub pixels: &'a [u32],
    pub width: u32,
    pub height: u32,
}

/// Draws `src` into `dst` (`win_w`×`win_h`, resized to fit) at `place`,
/// the rest in `background`.
pub fn blit(
    src: Image<'_>,
    dst: &mut [u32],
    (win_w, win_h): (u32, u32),
    place: Placement,
    background: u32,
) {
    let Image { pixels: src, width: src_w, height: src_h } = src;
    dst.fill(background);
    let shown_right = place.src_x as u64 + place.src_width as u64;
    let shown_bottom = place.src_y as u64 + place.src_height as u64;
    if place.width == 0
        || src.len() < src_w as usize * src_h as usize
        || dst.len() < win_w as usize * win_h as usize
        || shown_right > src_w as u64
        || shown_bottom > src_h as u64
        || place.x as u64 + place.width as u64 > win_w as u64
        || place.y as u64 + place.height as u64 > win_h as u64
    {
        return;
    }
    let columns: Vec<usize> = (0..place.width)
        .map(|x| {
            place.src_x as usize + (x as u64 * place.src_width as u64 / place.width as u64) as usize
        })
        .collect();
    for y in 0..place.height {
        let sy = place.src_y as usize
            + (y as u64 * place.src_height as u64 / place.height as u64) as usize;
        let src_row = &src[sy * src_w as usize..(sy + 1) * src_w as usize];
        let start = (place.y + y) as usize * win_w as usize + place.x as usize;
        let dst_row = &mut dst[start..start + place.width as usize];
        if place.width == place.src_width {
            let from = place.src_x as usize;
            dst_row.copy_from_slice(&src_row[from..from + place.width as usize]);
        } else {
            for (d, &sx) in dst_row.iter_mut().zip(&columns) {
                *d = src_row[sx];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio_and_centres() {
        let p = Placement::new(ScaleMode::Fit, 1920, 1080, 960, 960);
        assert_eq!((p.x, p.y, p.width, p.height), (0, 210, 960, 540));
        let p = Placement::new(ScaleMode::Fit, 1000, 2000, 1000, 1000);
        assert_eq!((p.x, p.y, p.width, p.height), (250, 0, 500, 1000));
        let one = Placement::new(ScaleMode::One, 1920, 1080, 800, 600);
        assert_eq!((one.width, one.height), (800, 600));
    }

    #[test]
    fn window_positions_map_back_to_remote_pixels() {
        let p = Placement::new(ScaleMode::Fit, 1920, 1080, 960, 960);
        assert_eq!(p.to_remote(0.0, 210.0), Some((0, 0)));
        assert_eq!(p.to_remote(959.9, 749.9), Some((1918, 1078)));
        assert_eq!(p.to_remote(10.0, 100.0), None, "on the border");
        assert_eq!(p.to_window(1918, 1078), (959, 749));
        let one = Placement::new(ScaleMode::One, 640, 480, 800, 600);
        assert_eq!(one.to_remote(123.0, 45.0), Some((123, 45)));
        assert_eq!(one.to_remote(700.0, 45.0), None);
    }

    #[test]
    fn blit_at_one_to_one_is_exact_and_scaled_picks_nearest() {
        let src: Vec<u32> = (0..12).collect(); // 4x3
        let mut dst = vec![0; 24];
        let p = Placement::new(ScaleMode::One, 4, 3, 6, 4);
        blit(Image { pixels: &src, width: 4, height: 3 }, &mut dst, (6, 4), p, 0xff);
        assert_eq!(&dst[0..6], &[0, 1, 2, 3, 0xff, 0xff]);
        assert_eq!(&dst[12..18], &[8, 9, 10, 11, 0xff, 0xff]);
        assert!(dst[18..].iter().all(|&v| v == 0xff));
        let p = Placement::new(ScaleMode::Fit, 4, 3, 2, 2);
        let mut dst = vec![0; 4];
        blit(Image { pixels: &src, width: 4, height: 3 }, &mut dst, (2, 2), p, 0xff);
        // 2x1 at y=0 (fit: 2 wide, 1 high, centred at y 0).
        assert_eq!((p.width, p.height), (2, 1));
        assert_eq!(&dst[0..2], &[0, 2]);
    }

    #[test]
    fn a_large_screen_at_one_to_one_pans_within_its_bounds() {
        // 4x3 image in a 2x2 window at 1:1: up to 2 right and 1 down.
        let src: Vec<u32> = (0..12).collect();
        let p = Placement::new(ScaleMode::One, 4, 3, 2, 2);
        assert_eq!(p.max_pan(4, 3), (2, 1));
        let panned = p.panned((5, 5), 4, 3);
        assert_eq!((panned.src_x, panned.src_y), (2, 1), "held inside the image");
        let mut dst = vec![0; 4];
        blit(Image { pixels: &src, width: 4, height: 3 }, &mut dst, (2, 2), panned, 0xff);
        assert_eq!(dst, [6, 7, 10, 11]);
        // Clicks land where the panned view shows them.
        assert_eq!(panned.to_remote(1.0, 0.0), Some((3, 1)));
        assert_eq!(panned.to_window(3, 1), (1, 0));
        // A fitted image never pans.
        let fit = Placement::new(ScaleMode::Fit, 4, 3, 2, 2);
        assert_eq!(fit.max_pan(4, 3), (0, 0));
        assert_eq!(fit.panned((1, 1), 4, 3), fit);
    }

    #[test]
    fn the_pointer_at_an_edge_pans_towards_it() {
        let win = (800, 600);
        assert_eq!(edge_pan((400.0, 300.0), win), (0, 0), "the middle does not pan");
        assert_eq!(edge_pan((0.0, 300.0), win), (-(PAN_EDGE as i32), 0));
        assert_eq!(edge_pan((799.0, 599.0), win), (PAN_EDGE as i32, PAN_EDGE as i32));
        assert_eq!(edge_pan((20.0, 590.0), win), (-4, 15));
        assert_eq!(edge_pan((-5.0, 300.0), win), (0, 0), "outside the window");
        assert_eq!(edge_pan((0.0, 0.0), (50, 50)), (0, 0), "too small a window to pan");
        assert_eq!(pan_by((10, 10), (-24, 24), (100, 20)), (0, 20));
        assert_eq!(pan_by((500, 0), (0, 0), (100, 0)), (100, 0), "a shrunken screen");
    }
}
