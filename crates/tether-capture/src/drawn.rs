//! Which rows of the screen were drawn on since the last grab, as DAMAGE
//! regions report them. The X11 backend grabs only those rows of a monitor
//! and tells the encoder the others are unchanged: a typed character costs
//! a grab of its line, not of the whole screen (about 2 ms at 1080p, most
//! of the time from a key to its echo leaving the agent).

use std::ops::Range;
use std::time::{Duration, Instant};

/// Longest time between grabs of a whole monitor while the screen keeps
/// changing: a safety net, should some drawing ever go unreported, that
/// costs one whole grab a second. An idle screen is never grabbed.
pub(crate) const WHOLE_GRAB_EVERY: Duration = Duration::from_secs(1);

/// Rows drawn on since the last grab, in root-window coordinates.
#[derive(Debug)]
pub(crate) struct DrawnRows {
    /// From the first to past the last row drawn on; `None` if none.
    rows: Option<(i64, i64)>,
    /// Something changed that cannot be placed: the first grab, a screen
    /// change, a failed grab, no damage regions. The next grab is whole.
    unknown: bool,
    last_whole: Option<Instant>,
}

impl Default for DrawnRows {
    fn default() -> DrawnRows {
        DrawnRows { rows: None, unknown: true, last_whole: None }
    }
}

impl DrawnRows {
    /// Rows `y..y + height` (root coordinates) were drawn on.
    pub(crate) fn add(&mut self, y: i16, height: u16) {
        if height == 0 {
            return;
        }
        let (top, bottom) = (i64::from(y), i64::from(y) + i64::from(height));
        self.rows = Some(match self.rows {
            Some((t, b)) => (t.min(top), b.max(bottom)),
            None => (top, bottom),
        });
    }

    /// Something changed somewhere: the next grab is whole.
    pub(crate) fn add_unknown(&mut self) {
        self.unknown = true;
    }

    /// The rows of a monitor whose top row is root row `top`, `height`
    /// rows tall, to grab now (monitor rows), and forgets what was drawn:
    /// every row if `every_row` (the receiver needs them), if something
    /// changed that cannot be placed, or if the last whole grab is
    /// [`WHOLE_GRAB_EVERY`] old; else the drawn rows within the monitor
    /// (none if the drawing was elsewhere).
    pub(crate) fn take(
        &mut self,
        top: i32,
        height: u32,
        every_row: bool,
        now: Instant,
    ) -> Range<u32> {
        let rows = self.rows.take();
        let unknown = std::mem::take(&mut self.unknown);
        let due = self.last_whole.is_none_or(|at| now.duration_since(at) >= WHOLE_GRAB_EVERY);
        if every_row || unknown || due {
            self.last_whole = Some(now);
            return 0..height;
        }
        let Some((first, end)) = rows else { return 0..0 };
        let clamp = |y: i64| (y - i64::from(top)).clamp(0, i64::from(height)) as u32;
        let (first, end) = (clamp(first), clamp(end));
        if first < end { first..end } else { 0..0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_grab_and_anything_unplaced_is_whole() {
        let now = Instant::now();
        let mut drawn = DrawnRows::default();
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), 0..100, "the first grab");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), 10..15);
        drawn.add_unknown();
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), 0..100, "a screen change");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, true, now), 0..100, "the receiver needs every row");
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), 10..15, "all of that was taken");
        drawn.add_unknown();
        assert_eq!(drawn.take(0, 100, true, now), 0..100);
        drawn.add(10, 5);
        assert_eq!(drawn.take(0, 100, false, now), 10..15, "a whole grab covers the unknown");
    }

    #[test]
    fn drawn_rows_join_and_are_cut_to_the_monitor() {
        let now = Instant::now();
        let mut drawn = DrawnRows::default();
        drawn.take(0, 1, false, now);
        drawn.add(300, 20);
        drawn.add(250, 10);
        drawn.add(305, 0);
        // A monitor from root row 200, 100 rows tall.
        assert_eq!(drawn.take(200, 100, false, now), 50..100, "250..320 cut at its bottom");
        assert_eq!(drawn.take(200, 100, false, now), 0..0, "taken: nothing drawn since");
        drawn.add(100, 50);
        assert_eq!(drawn.take(200, 100, false, now), 0..0, "above the monitor");
        drawn.add(-20, 40);
        assert_eq!(drawn.take(0, 100, false, now), 0..20, "from above the root");
        drawn.add(i16::MAX, u16::MAX);
        assert_eq!(drawn.take(0, 100, false, now), 0..0, "far below");
    }

    #[test]
    fn a_whole_grab_comes_at_least_every_second_while_drawing_goes_on() {
        let start = Instant::now();
        let mut drawn = DrawnRows::default();
        assert_eq!(drawn.take(0, 100, false, start), 0..100);
        drawn.add(1, 1);
        let soon = start + WHOLE_GRAB_EVERY / 2;
        assert_eq!(drawn.take(0, 100, false, soon), 1..2);
        drawn.add(1, 1);
        assert_eq!(drawn.take(0, 100, false, start + WHOLE_GRAB_EVERY), 0..100);
        drawn.add(1, 1);
        assert_eq!(drawn.take(0, 100, false, start + WHOLE_GRAB_EVERY), 1..2, "counted anew");
    }
}
