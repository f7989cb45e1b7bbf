//! Deterministic picture content for the screen bench and the codec's
//! offline examples, so both measure the same pixels: photo-like
//! textures (a wallpaper, a panned picture, a dragged photo), a page with
//! pictures and lines of "words", and an `ls -l` listing for a terminal.
//! The same bytes in every run and on every machine.

use crate::random::XorShift32;

/// A value in -1..=1 at lattice point (`i`, `j`) of layer `salt`.
fn lattice(i: i32, j: i32, salt: u32) -> f32 {
    let mut h = (i as u32).wrapping_mul(0x8DA6_B343)
        ^ (j as u32).wrapping_mul(0xD816_3841)
        ^ salt.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5BD1_E995);
    h ^= h >> 15;
    (h & 0xFFFF) as f32 / 32767.5 - 1.0
}

/// Smoothly interpolated lattice noise with cells `cell` pixels wide.
fn value_noise(x: f32, y: f32, cell: f32, salt: u32) -> f32 {
    let (fx, fy) = (x / cell, y / cell);
    let (i, j) = (fx.floor() as i32, fy.floor() as i32);
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (smooth(fx - i as f32), smooth(fy - j as f32));
    let top = lattice(i, j, salt) * (1.0 - tx) + lattice(i + 1, j, salt) * tx;
    let bottom = lattice(i, j + 1, salt) * (1.0 - tx) + lattice(i + 1, j + 1, salt) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// A `w`×`h` photo-like picture as BGRX: light from seven octaves of
/// value noise (soft shapes down to fine detail, as in landscapes and
/// foliage) shared by the three channels, a slowly varying colour tint,
/// and sensor grain of ±2 levels on the light, per pixel. The grain is the
/// same in the three channels: photos on screens come through a camera's
/// JPEG, whose 4:2:0 chroma subsampling and quantisation leave little
/// per-pixel colour noise.
pub fn photo(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut rng = XorShift32::new(seed.wrapping_mul(0x9E37_79B9) | 1);
    let mut out = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let mut light = 0.0;
            let mut amplitude = 1.0;
            for octave in 0..7u32 {
                let cell = (256 >> octave) as f32;
                light += amplitude * value_noise(fx, fy, cell, seed + octave);
                amplitude *= 0.55;
            }
            let warm = value_noise(fx, fy, 400.0, seed + 100) * 40.0;
            let green = value_noise(fx, fy, 300.0, seed + 101) * 25.0;
            let grain = rng.next_u32();
            let luma = 120.0 + 75.0 * light + ((grain & 0xFF) % 5) as f32 - 2.0;
            let rgb = [luma + warm, luma + green, luma - warm];
            let px = &mut out[(y * w + x) * 4..(y * w + x) * 4 + 4];
            for (c, value) in rgb.iter().enumerate() {
                // BGRX: blue first.
                px[2 - c] = value.clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// A `w`×`h` page (BGRX): white, with lines of dark "words" and every
/// `period` rows a picture band, as a web page or a document with images.
pub fn page(w: usize, h: usize, seed: u32) -> Vec<u8> {
    let mut out = vec![0xF8u8; w * h * 4];
    let picture_rows = 220;
    let period = 400;
    let pictures = photo(w - 40, picture_rows, seed);
    let mut rng = XorShift32::new(seed | 1);
    for y in 0..h {
        let in_period = y % period;
        let row = &mut out[y * w * 4..(y + 1) * w * 4];
        if in_period < picture_rows {
            let src = &pictures[in_period * (w - 40) * 4..(in_period + 1) * (w - 40) * 4];
            row[20 * 4..(w - 20) * 4].copy_from_slice(src);
        } else if (in_period - picture_rows) % 18 < 11 && in_period + 18 < period {
            // A text line: runs of dark pixels ("words"), fixed per line.
            let line = (y / 18) as u32;
            let mut words = XorShift32::new(line.wrapping_mul(0x85EB_CA6B) | 1);
            let mut x = 20;
            while x + 60 < w - 20 {
                let len = 12 + words.below(48) as usize;
                for px in row[x * 4..(x + len) * 4].chunks_exact_mut(4) {
                    if rng.below(3) > 0 {
                        px[..3].copy_from_slice(&[0x30, 0x30, 0x30]);
                    }
                }
                x += len + 6 + words.below(6) as usize;
            }
        }
    }
    out
}

/// Copies the `w`×`h` part of `src` (BGRX, `src_w` pixels wide) at
/// (`x`, `y`) into `out`.
pub fn crop(
    src: &[u8],
    src_w: usize,
    (x, y): (usize, usize),
    (w, h): (usize, usize),
    out: &mut Vec<u8>,
) {
    out.clear();
    for row in y..y + h {
        out.extend_from_slice(&src[(row * src_w + x) * 4..(row * src_w + x + w) * 4]);
    }
}

/// 36 lines that look like `ls -l` output, for the initial screen.
pub fn listing() -> String {
    let mut rng = XorShift32::new(0xdead_beef);
    let words = [
        "agent",
        "audit",
        "capture",
        "codec",
        "config",
        "doctor",
        "input",
        "network",
        "restore",
        "screen",
        "session",
        "transport",
        "viewer",
        "window",
    ];
    let exts = ["rs", "toml", "md", "log", "json", "txt", "sh"];
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov"];
    let mut out = String::from("$ ls -l /srv/tether/workspace\ntotal 1184\n");
    for _ in 0..34 {
        let dir = rng.below(5) == 0;
        out.push_str(&format!(
            "{} {:>2} tech  staff {:>8} {} {:>2} {:02}:{:02} {}_{}{}\n",
            if dir { "drwxr-xr-x" } else { "-rw-r--r--" },
            1 + rng.below(12),
            rng.below(400_000),
            rng.pick(&months),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.pick(&words),
            rng.pick(&words),
            if dir { String::new() } else { format!(".{}", rng.pick(&exts)) },
        ));
    }
    out.push_str("$ ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_repeat_for_a_seed_and_differ_between_seeds() {
        assert_eq!(photo(64, 48, 7), photo(64, 48, 7));
        assert_ne!(photo(64, 48, 7), photo(64, 48, 8));
        assert_eq!(page(200, 500, 3), page(200, 500, 3));
        assert_eq!(listing(), listing());
        assert_eq!(listing().lines().count(), 37, "a prompt, a total, 34 entries and a prompt");
    }

    #[test]
    fn a_page_has_picture_bands_text_lines_and_white_margins() {
        let (w, h) = (200, 500);
        let page = page(w, h, 3);
        let px = |x: usize, y: usize| &page[(y * w + x) * 4..(y * w + x) * 4 + 3];
        assert_eq!(px(5, 100), [0xF8; 3], "margin");
        assert_ne!(px(100, 100), [0xF8; 3], "picture band");
        let text_row = 220 + 5;
        let dark = (20..w - 20).filter(|&x| px(x, text_row) == [0x30; 3]).count();
        assert!(dark > 20, "a line of words: {dark} dark pixels");
        let mut out = Vec::new();
        crop(&page, w, (20, 10), (3, 2), &mut out);
        assert_eq!(out.len(), 3 * 2 * 4);
        assert_eq!(&out[..4], &page[(10 * w + 20) * 4..(10 * w + 20) * 4 + 4]);
    }
}
