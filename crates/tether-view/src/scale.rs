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

/// Where the remote image sits in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Placement {
    /// Places a `src_w`×`src_h` image in a `win_w`×`win_h` window.
    pub fn new(mode: ScaleMode, src_w: u32, src_h: u32, win_w: u32, win_h: u32) -> Placement {
        if src_w == 0 || src_h == 0 || win_w == 0 || win_h == 0 {
            return Placement { x: 0, y: 0, width: 0, height: 0 };
        }
        match mode {
            ScaleMode::One => {
                Placement { x: 0, y: 0, width: src_w.min(win_w), height: src_h.min(win_h) }
            }
            ScaleMode::Fit => {
                // The larger scale at which both sides fit.
                let (sw, sh, ww, wh) = (src_w as u64, src_h as u64, win_w as u64, win_h as u64);
                let (width, height) = if sw * wh <= sh * ww {
                    ((sw * wh / sh).max(1), wh)
                } else {
                    (ww, (sh * ww / sw).max(1))
                };
                let (width, height) = (width as u32, height as u32);
                Placement { x: (win_w - width) / 2, y: (win_h - height) / 2, width, height }
            }
        }
    }

    /// The remote pixel under window position (`wx`, `wy`), if any.
    pub fn to_remote(&self, wx: f32, wy: f32, src_w: u32, src_h: u32) -> Option<(i32, i32)> {
        if self.width == 0 || self.height == 0 {
            return None;
        }
        let (lx, ly) = (wx.floor() as i64 - self.x as i64, wy.floor() as i64 - self.y as i64);
        if lx < 0 || ly < 0 || lx >= self.width as i64 || ly >= self.height as i64 {
            return None;
        }
        let rx = lx * src_w as i64 / self.width as i64;
        let ry = ly * src_h as i64 / self.height as i64;
        Some((rx as i32, ry as i32))
    }
}

/// A remote image: `width`×`height` pixels `0x00RRGGBB`, row by row.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pub pixels: &'a [u32],
    pub width: u32,
    pub height: u32,
}

/// Draws `src` into `dst` (`win_w`×`win_h`) at `place`, the rest in
/// `background`.
pub fn blit(
    src: Image<'_>,
    dst: &mut Vec<u32>,
    (win_w, win_h): (u32, u32),
    place: Placement,
    background: u32,
) {
    let Image { pixels: src, width: src_w, height: src_h } = src;
    dst.clear();
    dst.resize(win_w as usize * win_h as usize, background);
    if place.width == 0 || src.len() < src_w as usize * src_h as usize {
        return;
    }
    let columns: Vec<usize> =
        (0..place.width).map(|x| (x as u64 * src_w as u64 / place.width as u64) as usize).collect();
    for y in 0..place.height {
        let sy = (y as u64 * src_h as u64 / place.height as u64) as usize;
        let src_row = &src[sy * src_w as usize..(sy + 1) * src_w as usize];
        let start = (place.y + y) as usize * win_w as usize + place.x as usize;
        let dst_row = &mut dst[start..start + place.width as usize];
        if place.width == src_w {
            dst_row.copy_from_slice(src_row);
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
        assert_eq!(p.to_remote(0.0, 210.0, 1920, 1080), Some((0, 0)));
        assert_eq!(p.to_remote(959.9, 749.9, 1920, 1080), Some((1918, 1078)));
        assert_eq!(p.to_remote(10.0, 100.0, 1920, 1080), None, "on the border");
        let one = Placement::new(ScaleMode::One, 640, 480, 800, 600);
        assert_eq!(one.to_remote(123.0, 45.0, 640, 480), Some((123, 45)));
        assert_eq!(one.to_remote(700.0, 45.0, 640, 480), None);
    }

    #[test]
    fn blit_at_one_to_one_is_exact_and_scaled_picks_nearest() {
        let src: Vec<u32> = (0..12).collect(); // 4x3
        let mut dst = Vec::new();
        let p = Placement::new(ScaleMode::One, 4, 3, 6, 4);
        blit(Image { pixels: &src, width: 4, height: 3 }, &mut dst, (6, 4), p, 0xff);
        assert_eq!(&dst[0..6], &[0, 1, 2, 3, 0xff, 0xff]);
        assert_eq!(&dst[12..18], &[8, 9, 10, 11, 0xff, 0xff]);
        assert!(dst[18..].iter().all(|&v| v == 0xff));
        let p = Placement::new(ScaleMode::Fit, 4, 3, 2, 2);
        blit(Image { pixels: &src, width: 4, height: 3 }, &mut dst, (2, 2), p, 0xff);
        // 2x1 at y=0 (fit: 2 wide, 1 high, centred at y 0).
        assert_eq!((p.width, p.height), (2, 1));
        assert_eq!(&dst[0..2], &[0, 2]);
    }
}
