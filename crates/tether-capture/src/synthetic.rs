//! A capturer without a screen, for tests and benchmarks of the pipeline.
//!
//! [`Synthetic`] shows one frame at a time as a single monitor. Frames come
//! from one of two places:
//!
//! - **pushed** through a [`SyntheticHandle`] (from any thread): each push
//!   replaces the frame and wakes a blocked [`Capturer::wait_for_damage`],
//!   so a test controls exactly when "the screen changes";
//! - **generated** ([`Synthetic::from_frames`], [`Synthetic::from_fn`]): each
//!   `wait_for_damage` advances to the next frame at once and reports
//!   whether it differs from the previous one. Synthetic time does not pass,
//!   so a benchmark runs as fast as the pipeline can.
//!
//! A pushed frame of another size changes the monitor: grabbing the old one
//! then fails with [`CaptureError::MonitorGone`], like a resolution change.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tether_screen_codec::Frame;

use crate::{CaptureError, Capturer, CursorImage, MonitorInfo, Pointer};

type Generator = Box<dyn FnMut(u64) -> Frame + Send>;

/// A [`Capturer`] fed with frames in memory.
pub struct Synthetic {
    shared: Arc<Shared>,
    /// The sequence number the caller last saw.
    seen: u64,
    first: bool,
    generator: Option<Generator>,
    /// The generator's next frame number.
    next: u64,
}

/// Pushes frames and pointer state into a [`Synthetic`] capturer.
#[derive(Clone)]
pub struct SyntheticHandle {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    frame: Frame,
    /// Bumped on every new frame.
    seq: u64,
    pointer: Option<Pointer>,
    cursor: Option<CursorImage>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not turn into a second panic here.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_frame(&self, frame: Frame) {
        let mut state = self.lock();
        state.frame = frame;
        state.seq += 1;
        drop(state);
        self.changed.notify_all();
    }
}

impl Synthetic {
    /// Shows `frame` until a [`SyntheticHandle`] pushes another.
    pub fn new(frame: Frame) -> Synthetic {
        let state = State { frame, seq: 0, pointer: None, cursor: None };
        Synthetic {
            shared: Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new() }),
            seen: 0,
            first: true,
            generator: None,
            next: 1,
        }
    }

    /// Cycles through `frames`: the first is shown at once, each
    /// `wait_for_damage` moves to the next (wrapping around).
    pub fn from_frames(frames: Vec<Frame>) -> Result<Synthetic, CaptureError> {
        let Some(first) = frames.first().cloned() else {
            return Err(CaptureError::Backend(
                "a synthetic capturer needs at least one frame".into(),
            ));
        };
        let count = frames.len() as u64;
        Ok(Synthetic::from_fn_starting(first, move |n| frames[(n % count) as usize].clone()))
    }

    /// Shows `f(0)`, then `f(1)`, … one per `wait_for_damage`.
    pub fn from_fn(mut f: impl FnMut(u64) -> Frame + Send + 'static) -> Synthetic {
        let first = f(0);
        Synthetic::from_fn_starting(first, f)
    }

    fn from_fn_starting(first: Frame, f: impl FnMut(u64) -> Frame + Send + 'static) -> Synthetic {
        let mut s = Synthetic::new(first);
        s.generator = Some(Box::new(f));
        s
    }

    /// A handle to push frames and pointer state from elsewhere.
    pub fn handle(&self) -> SyntheticHandle {
        SyntheticHandle { shared: Arc::clone(&self.shared) }
    }
}

impl SyntheticHandle {
    /// Replaces the frame and wakes a waiting `wait_for_damage`.
    pub fn push(&self, frame: Frame) {
        self.shared.set_frame(frame);
    }

    /// What `pointer()` returns from now on.
    pub fn set_pointer(&self, pointer: Option<Pointer>) {
        self.shared.lock().pointer = pointer;
    }

    /// What `cursor_image()` returns from now on.
    pub fn set_cursor(&self, cursor: Option<CursorImage>) {
        self.shared.lock().cursor = cursor;
    }
}

impl Capturer for Synthetic {
    fn backend(&self) -> &'static str {
        "synthetic"
    }

    fn monitors(&mut self) -> Result<Vec<MonitorInfo>, CaptureError> {
        let state = self.shared.lock();
        Ok(vec![MonitorInfo {
            index: 0,
            name: "synthetic".to_owned(),
            x: 0,
            y: 0,
            width: state.frame.width(),
            height: state.frame.height(),
            primary: true,
        }])
    }

    fn grab(&mut self, monitor: &MonitorInfo) -> Result<Frame, CaptureError> {
        let state = self.shared.lock();
        let frame = &state.frame;
        if !monitor.fits(frame.width(), frame.height()) {
            return Err(CaptureError::MonitorGone { index: monitor.index });
        }
        if monitor.width == frame.width() && monitor.height == frame.height() {
            return Ok(frame.clone());
        }
        crop(frame, monitor)
    }

    fn wait_for_damage(&mut self, timeout: Duration) -> Result<bool, CaptureError> {
        if self.first {
            self.first = false;
            self.seen = self.shared.lock().seq;
            return Ok(true);
        }
        if let Some(generator) = &mut self.generator {
            // A pushed frame counts before the generator moves on.
            let seq = self.shared.lock().seq;
            if seq != self.seen {
                self.seen = seq;
                return Ok(true);
            }
            let next = generator(self.next);
            self.next = self.next.wrapping_add(1);
            let mut state = self.shared.lock();
            let differs = next != state.frame;
            if differs {
                state.frame = next;
                state.seq += 1;
            }
            self.seen = state.seq;
            return Ok(differs);
        }
        let state = self.shared.lock();
        let seen = self.seen;
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, timeout, |s| s.seq == seen)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let changed = state.seq != seen;
        self.seen = state.seq;
        Ok(changed)
    }

    fn pointer(&mut self) -> Result<Option<Pointer>, CaptureError> {
        Ok(self.shared.lock().pointer)
    }

    fn cursor_image(&mut self) -> Result<Option<CursorImage>, CaptureError> {
        Ok(self.shared.lock().cursor.clone())
    }
}

/// The part of `frame` under `m` (which fits).
fn crop(frame: &Frame, m: &MonitorInfo) -> Result<Frame, CaptureError> {
    let (fw, x, y) = (frame.width() as usize, m.x as usize, m.y as usize);
    let (w, h) = (m.width as usize, m.height as usize);
    let mut bytes = Vec::with_capacity(w * h * 4);
    for row in frame.pixels().chunks_exact(fw).skip(y).take(h) {
        bytes.extend(row[x..x + w].iter().flat_map(|p| p.to_le_bytes()));
    }
    Ok(Frame::from_bgrx(m.width, m.height, w * 4, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_screen_codec::Rect;

    #[test]
    fn crop_takes_the_monitor_rectangle() {
        let mut f = Frame::solid(8, 4, 0x111111).unwrap();
        f.fill(Rect { x: 4, y: 0, w: 4, h: 4 }, 0x222222);
        f.set(5, 2, 0xABCDEF);
        let m = MonitorInfo {
            index: 1,
            name: "r".into(),
            x: 4,
            y: 1,
            width: 4,
            height: 3,
            primary: false,
        };
        let c = crop(&f, &m).unwrap();
        assert_eq!((c.width(), c.height()), (4, 3));
        assert_eq!(c.pixel(1, 1), 0xABCDEF);
        assert!(c.pixels().iter().enumerate().all(|(i, &p)| i == 5 || p == 0x222222));
    }
}
