//! Photo-like content for the motion phase.

use tether_testkit::random::XorShift32;

use crate::{MOTION, NOISE};

/// Photo-like frames for the motion window: smooth moving gradients per
/// channel, a finer texture, and per-frame noise.
pub(crate) struct MotionImage {
    pub(crate) bgrx: Vec<u8>,
    /// Per wave: sin and cos of its x term, per column (constant).
    pub(crate) columns: Vec<(Vec<f32>, Vec<f32>)>,
}

/// (channel, amplitude, x frequency, y frequency, temporal frequency,
/// phase); frequencies in radians per pixel and per frame.
pub(crate) const WAVES: [(usize, f32, f32, f32, f32, f32); 10] = [
    (0, 50.0, 0.011, 0.004, 0.05, 0.0),
    (0, 30.0, -0.006, 0.017, -0.08, 1.0),
    (0, 8.0, 0.09, 0.13, 0.31, 2.0),
    (1, 45.0, 0.008, -0.012, 0.06, 0.5),
    (1, 35.0, 0.019, 0.007, -0.04, 2.5),
    (1, 7.0, -0.11, 0.08, 0.27, 1.5),
    (2, 55.0, -0.009, 0.010, 0.07, 3.0),
    (2, 25.0, 0.014, 0.021, 0.05, 0.7),
    (2, 9.0, 0.07, -0.15, -0.35, 0.2),
    (1, 12.0, 0.03, 0.03, 0.12, 4.0),
];

impl MotionImage {
    pub(crate) fn new() -> MotionImage {
        let w = usize::from(MOTION.2);
        let columns = WAVES
            .iter()
            .map(|&(_, _, kx, _, _, _)| {
                let sin = (0..w).map(|x| (kx * x as f32).sin()).collect();
                let cos = (0..w).map(|x| (kx * x as f32).cos()).collect();
                (sin, cos)
            })
            .collect();
        MotionImage { bgrx: vec![0; w * usize::from(MOTION.3) * 4], columns }
    }

    /// Frame `t`: sin(kx·x + ky·y + ω·t + φ) summed per channel, split as
    /// sin(a)cos(b) + cos(a)sin(b) so each pixel costs a few multiplies.
    pub(crate) fn render(&mut self, t: u32) {
        let (w, h) = (usize::from(MOTION.2), usize::from(MOTION.3));
        let mut rng = XorShift32::new(0x9e37_79b9u32.wrapping_mul(t + 1));
        for y in 0..h {
            let rows: Vec<(f32, f32)> = WAVES
                .iter()
                .map(|&(_, amp, _, ky, omega, phase)| {
                    let b = ky * y as f32 + omega * t as f32 + phase;
                    (amp * b.cos(), amp * b.sin())
                })
                .collect();
            let line = &mut self.bgrx[y * w * 4..(y + 1) * w * 4];
            for x in 0..w {
                let mut rgb = [128.0f32; 3];
                for (i, &(channel, ..)) in WAVES.iter().enumerate() {
                    let (sin, cos) = &self.columns[i];
                    rgb[channel] += sin[x] * rows[i].0 + cos[x] * rows[i].1;
                }
                let noise = rng.next_u32();
                let px = &mut line[x * 4..x * 4 + 4];
                for (c, value) in rgb.iter().enumerate() {
                    let n = ((noise >> (c * 8)) & 0xff) as i32 % (2 * NOISE + 1) - NOISE;
                    // BGRX: blue first.
                    px[2 - c] = (*value as i32 + n).clamp(0, 255) as u8;
                }
                px[3] = 0;
            }
        }
    }
}
