//! Which rows of the screen were drawn on since the last grab, as DAMAGE
//! regions report them, kept as a few bands of rows. The X11 backend grabs
//! only those rows of a monitor and tells the encoder the others are
//! unchanged: a typed character costs a grab of its line, not of the whole
//! screen (about 2 ms at 1080p, most of the time from a key to its echo
//! leaving the agent), and a clock ticking in a panel at the top does not
//! stretch the grab of a line typed at the bottom over the whole screen.

use std::ops::Range;
use std::time::{Duration, Instant};

/// Longest time between grabs of a whole monitor after a grab of some of
/// its rows, while the screen changes and after it stops: a safety net,
/// should some drawing ever go unreported or be reported smaller than it
/// was. It costs one whole grab a second of activity and one after it.
pub(crate) const WHOLE_GRAB_EVERY: Duration = Duration::from_secs(1);

/// Most separate bands of rows kept; beyond that, the two nearest merge.
/// Each band is a grab of its own (a request and its reply at least).
const MAX_BANDS: usize = 4;

/// Bands fewer than this many rows apart merge: grabbing the rows between
/// costs less than another request.
const JOIN_GAP: i64 = 32;

/// Rows drawn on since the last grab, in root-window coordinates.
#[derive(Debug)]
pub(crate) struct DrawnRows {
    /// From the first to past the last row of each band: sorted, at least
    /// [`JOIN_GAP`] rows apart, at most [`MAX_BANDS`].
    bands: Vec<(i64, i64)>,
    /// Something changed that cannot be placed: the first grab, a screen
    /// change, a failed grab, no damage regions. The next grab is whole.
    unknown: bool,
    last_whole: Option<Instant>,
    /// A grab of some rows came after the last whole one.
    partial_since_whole: bool,
    whole_every: Duration,
}

impl Default for DrawnRows {
    fn default() -> DrawnRows {
        DrawnRows {
            bands: Vec::new(),
            unknown: true,
            last_whole: None,
            partial_since_whole: false,
            whole_every: WHOLE_GRAB_EVERY,
        }
    }
}

impl DrawnRows {
    /// Sets the safety net's period (tests make it long, or short).
    pub(crate) fn set_whole_every(&mut self, every: Duration) {
        self.whole_every = every;
    }

    /// Rows `y..y + height` (root coordinates) were drawn on.
    pub(crate) fn add(&mut self, y: i16, height: u16) {
        if height == 0 {
            return;
        }
        let (top, bottom) = (i64::from(y), i64::from(y) + i64::from(height));
        let at = self.bands.partition_point(|&(t, _)| t < top);
        self.bands.insert(at, (top, bottom));
        // Merge neighbours that overlap or lie close, then the nearest
        // while there are too many.
        self.bands.dedup_by(|next, last| {
            let close = next.0 - last.1 < JOIN_GAP;
            if close {
                last.1 = last.1.max(next.1);
            }
            close
        });
        while self.bands.len() > MAX_BANDS {
            let bands = &mut self.bands;
            let i = (1..bands.len())
                .min_by_key(|&i| bands[i].0 - bands[i - 1].1)
                .expect("more than one band");
            bands[i - 1].1 = bands[i - 1].1.max(bands[i].1);
            bands.remove(i);
        }
    }

    /// Something changed somewhere: the next grab is whole.
    pub(crate) fn add_unknown(&mut self) {
        self.unknown = true;
    }

    /// When a whole grab is due though nothing more is drawn: a period
    /// after the last whole grab, if some rows were grabbed since.
    pub(crate) fn whole_due_at(&self) -> Option<Instant> {
        match (self.partial_since_whole, self.last_whole) {
            (true, Some(at)) => Some(at + self.whole_every),
            _ => None,
        }
    }

    /// The rows of a monitor whose top row is root row `top`, `height`
    /// rows tall, to grab now (monitor rows: sorted, apart, not empty),
    /// and forgets what was drawn: every row if `every_row` (the receiver
    /// needs them), if something changed that cannot be placed, or if the
    /// last whole grab is a period old; else the drawn bands within the
    /// monitor (none if the drawing was elsewhere).
    pub(crate) fn take(
        &mut self,
        top: i32,
        height: u32,
        every_row: bool,
        now: Instant,
    ) -> Vec<Range<u32>> {
        let bands = std::mem::take(&mut self.bands);
        let unknown = std::mem::take(&mut self.unknown);
        let due = self.last_whole.is_none_or(|at| now.duration_since(at) >= self.whole_every);
        if every_row || unknown || due {
            self.last_whole = Some(now);
            self.partial_since_whole = false;
            return std::iter::once(0..height).collect();
        }
        let clamp = |y: i64| (y - i64::from(top)).clamp(0, i64::from(height)) as u32;
        let rows: Vec<Range<u32>> = bands
            .iter()
            .map(|&(first, end)| clamp(first)..clamp(end))
            .filter(|r| !r.is_empty())
            .collect();
        self.partial_since_whole |= !rows.is_empty();
        rows
    }
}

#[cfg(test)]
// Lists of one band of rows are meant.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    /// Past the first, whole grab, with the safety net out of the way.
    fn started(now: Instant) -> DrawnRows {
        let mut drawn = DrawnRows::default();
        drawn.set_whole_every(Duration::from_secs(3600));
        assert_eq!(drawn.take(0, 1, false, now), vec![0..1], "the first grab is whole");
        drawn
    }

    #[test]
    fn the_first_grab_and_anything_unplaced_is_whole() {
        let now = Instant::now();
        let mut drawn = DrawnRows::default();
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), vec![0..100], "the first grab");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), vec![10..15]);
        drawn.add_unknown();
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), vec![0..100], "a screen change");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, true, now), vec![0..100], "the receiver needs every row");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), vec![10..15], "all of that was taken");
        drawn.add_unknown();
        assert_eq!(drawn.take(0, 100, true, now), vec![0..100]);
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), vec![10..15], "a whole grab covers the unknown");
    }

    #[test]
    fn drawn_rows_are_cut_to_the_monitor() {
        let now = Instant::now();
        let mut drawn = started(now);
        drawn.add(300, 20);
        drawn.add(250, 10);
        drawn.add(305, 0);
        // A monitor from root row 200, 100 rows tall.
        assert_eq!(drawn.take(200, 100, false, now), vec![50..60], "the lower band is below it");
        assert_eq!(drawn.take(200, 100, false, now), vec![], "taken: nothing drawn since");
        drawn.add(100, 50);
        assert_eq!(drawn.take(200, 100, false, now), vec![], "above the monitor");
        drawn.add(-20, 40);
        assert_eq!(drawn.take(0, 100, false, now), vec![0..20], "from above the root");
        drawn.add(i16::MAX, u16::MAX);
        assert_eq!(drawn.take(0, 100, false, now), vec![], "far below");
    }

    #[test]
    fn far_bands_stay_apart_and_near_ones_merge() {
        let now = Instant::now();
        let mut drawn = started(now);
        // A panel clock at the top, a line typed at the bottom.
        drawn.add(1050, 13);
        drawn.add(5, 20);
        assert_eq!(drawn.take(0, 1080, false, now), vec![5..25, 1050..1063]);
        // Overlapping and close bands are one.
        drawn.add(100, 10);
        drawn.add(105, 20);
        drawn.add(150, 10);
        assert_eq!(drawn.take(0, 1080, false, now), vec![100..160]);
        // Six far apart: the nearest merge until four are left.
        for y in [0, 100, 200, 700, 1000, 1040] {
            drawn.add(y, 10);
        }
        assert_eq!(drawn.take(0, 1080, false, now), vec![0..110, 200..210, 700..710, 1000..1050]);
    }

    #[test]
    fn a_whole_grab_comes_a_second_after_a_partial_one() {
        let start = Instant::now();
        let mut drawn = DrawnRows::default();
        assert_eq!(drawn.take(0, 100, false, start), vec![0..100]);
        assert_eq!(drawn.whole_due_at(), None, "nothing grabbed in part yet");
        drawn.add(1, 1);
        let soon = start + WHOLE_GRAB_EVERY / 2;
        assert_eq!(drawn.take(0, 100, false, soon), vec![1..2]);
        assert_eq!(drawn.whole_due_at(), Some(start + WHOLE_GRAB_EVERY), "due without drawing");
        drawn.add(1, 1);
        assert_eq!(drawn.take(0, 100, false, start + WHOLE_GRAB_EVERY), vec![0..100]);
        assert_eq!(drawn.whole_due_at(), None);
        drawn.add(1, 1);
        assert_eq!(drawn.take(0, 100, false, start + WHOLE_GRAB_EVERY), vec![1..2], "anew");
    }
}
