//! Tests of the motion search (`moves.rs`).

use super::*;
use crate::ops::apply_copies;
use tether_testkit::random::XorShift32;

/// Seeded noise in `rect` (photos and textures: every segment unique).
fn texture(frame: &mut Frame, rect: Rect, seed: u32) {
    let mut rng = XorShift32::new(seed | 1);
    for y in rect.y..rect.y + rect.h {
        for x in rect.x..rect.x + rect.w {
            let s = rng.next_u32();
            frame.set(x, y, s & 0xFF_FFFF);
        }
    }
}

/// A desktop with a noisy "window" at (`x`, `y`).
fn desktop(x: u32, y: u32) -> Frame {
    let mut f = Frame::solid(640, 480, 0x3A6EA5).unwrap();
    texture(&mut f, Rect { x, y, w: 200, h: 150 }, 12345);
    f.fill(Rect { x, y, w: 200, h: 20 }, 0x202080);
    f
}

/// Applies `copies` to `old` and counts the pixels still wrong.
fn still_wrong(old: &Frame, new: &Frame, copies: &[Copy]) -> u64 {
    let mut out = old.clone();
    apply_copies(&mut out, copies, &mut Vec::new());
    let full = Rect { x: 0, y: 0, w: new.width(), h: new.height() };
    wrong_pixels(&out, new, full, full)
}

#[test]
fn a_window_moved_diagonally_is_found() {
    let old = desktop(100, 80);
    let new = desktop(260, 200);
    let area = crate::frame::changed_box(&old, &new).unwrap();
    let mut cost = SearchCost::default();
    let copies = detect(&old, &new, area, &mut cost);
    assert!(!copies.is_empty());
    assert!(copies.iter().all(|c| (c.1, c.2) == (160, 120)), "{copies:?}");
    // What is left is the uncovered desktop: solid, not the texture.
    assert!(still_wrong(&old, &new, &copies) <= 200 * 150);
    assert!(cost.scanned <= area.area() && cost.compared <= COMPARE_BUDGET, "{cost:?}");
}

#[test]
fn several_areas_moving_differently_each_find_their_offset() {
    // A picture panned left-up inside a viewport, another panned right,
    // and a window dragged down, all in one update.
    let mut world = Frame::solid(1200, 900, 0).unwrap();
    texture(&mut world, Rect { x: 0, y: 0, w: 1200, h: 900 }, 7);
    let frame_at = |pan_a: (u32, u32), pan_b: u32, window_y: u32| {
        let mut f = Frame::solid(1000, 700, 0x808080).unwrap();
        for y in 0..300 {
            for x in 0..400 {
                f.set(20 + x, 20 + y, world.pixel(pan_a.0 + x, pan_a.1 + y));
                f.set(500 + x, 20 + y, world.pixel(pan_b + x, 600 + y));
            }
        }
        texture(&mut f, Rect { x: 300, y: window_y, w: 256, h: 128 }, 99);
        f
    };
    let old = frame_at((100, 100), 100, 400);
    let new = frame_at((103, 98), 93, 437);
    let area = crate::frame::changed_box(&old, &new).unwrap();
    let mut cost = SearchCost::default();
    let copies = detect(&old, &new, area, &mut cost);
    for offset in [(-3, 2), (7, 0), (0, 37)] {
        assert!(copies.iter().any(|c| (c.1, c.2) == offset), "{offset:?} in {copies:?}");
    }
    let before = still_wrong(&old, &new, &[]);
    let after = still_wrong(&old, &new, &copies);
    assert!(after * 10 < before, "{after} of {before} pixels still wrong");
}

#[test]
fn recent_offsets_are_followed_without_a_search_and_only_when_they_cover_enough() {
    let mut world = Frame::solid(900, 700, 0).unwrap();
    texture(&mut world, Rect { x: 0, y: 0, w: 900, h: 700 }, 5);
    let view = |t: u32| {
        let mut f = Frame::solid(640, 480, 0x3A6EA5).unwrap();
        for y in 0..400 {
            for x in 0..500 {
                f.set(20 + x, 30 + y, world.pixel(5 * t + x, 3 * t + y));
            }
        }
        f
    };
    let (a, b, c) = (view(10), view(11), view(12));
    let differs = |old: &Frame, new: &Frame| {
        let (old, new) = (old.clone(), new.clone());
        move |t: &Rect| (0..t.h).any(|r| old.row(t, r) != new.row(t, r))
    };
    let area = |old: &Frame, new: &Frame| crate::frame::changed_box(old, new).unwrap();
    let mut first = SearchCost::default();
    let found = detect_where(&a, &b, area(&a, &b), &differs(&a, &b), None, &mut first);
    assert!(!first.followed && first.scanned > 0 && first.covered > 0, "{first:?}");
    assert!(found.iter().all(|c| (c.1, c.2) == (-5, -3)), "{found:?}");
    // The same motion again: the recent offset is enough.
    let follow = Follow { offsets: &[(-5, -3)], tiles: first.tiles, covered: first.covered };
    let mut cost = SearchCost::default();
    let followed = detect_where(&b, &c, area(&b, &c), &differs(&b, &c), Some(follow), &mut cost);
    assert!(cost.followed && cost.scanned == 0, "{cost:?}");
    let mut full = SearchCost::default();
    let searched = detect_where(&b, &c, area(&b, &c), &differs(&b, &c), None, &mut full);
    assert_eq!(followed, searched);
    assert_eq!(cost.covered, full.covered);
    // An offset that no longer fits: the search runs and finds the new one.
    let follow = Follow { offsets: &[(7, 0)], tiles: first.tiles, covered: first.covered };
    let mut cost = SearchCost::default();
    let found = detect_where(&b, &c, area(&b, &c), &differs(&b, &c), Some(follow), &mut cost);
    assert!(!cost.followed && cost.scanned > 0, "{cost:?}");
    assert_eq!(found, searched);
}

#[test]
fn a_pan_with_a_little_change_is_still_a_copy() {
    let mut world = Frame::solid(700, 500, 0).unwrap();
    texture(&mut world, Rect { x: 0, y: 0, w: 700, h: 500 }, 3);
    let view = |ox: u32, oy: u32| {
        let mut f = Frame::solid(512, 384, 0).unwrap();
        for y in 0..384 {
            for x in 0..512 {
                f.set(x, y, world.pixel(ox + x, oy + y));
            }
        }
        f
    };
    let old = view(50, 50);
    let mut new = view(45, 56);
    // A pointer drawn over the panned picture.
    new.fill(Rect { x: 200, y: 100, w: 12, h: 18 }, 0xFFFFFF);
    let area = crate::frame::changed_box(&old, &new).unwrap();
    let copies = detect(&old, &new, area, &mut SearchCost::default());
    assert!(copies.iter().all(|c| (c.1, c.2) == (5, -6)), "{copies:?}");
    let covered: u64 = copies.iter().map(|c| c.0.area()).sum();
    assert!(covered * 10 > 512 * 384 * 9, "{covered} pixels copied");
}

#[test]
fn unrelated_changes_and_noise_are_not_moves() {
    let old = Frame::solid(320, 240, 0).unwrap();
    let mut new = old.clone();
    new.fill(Rect { x: 10, y: 10, w: 200, h: 150 }, 0xFF0000);
    let area = crate::frame::changed_box(&old, &new).unwrap();
    assert!(detect(&old, &new, area, &mut SearchCost::default()).is_empty());
    let mut a = Frame::solid(320, 240, 0).unwrap();
    let mut b = a.clone();
    texture(&mut a, Rect { x: 0, y: 0, w: 320, h: 240 }, 1);
    texture(&mut b, Rect { x: 0, y: 0, w: 320, h: 240 }, 2);
    let area = crate::frame::changed_box(&a, &b).unwrap();
    assert!(detect(&a, &b, area, &mut SearchCost::default()).is_empty());
}

#[test]
fn the_search_stays_within_its_budget_on_a_large_frame() {
    let mut a = Frame::solid(3840, 2160, 0).unwrap();
    texture(&mut a, Rect { x: 0, y: 0, w: 3840, h: 2160 }, 11);
    let mut b = Frame::solid(3840, 2160, 0).unwrap();
    for y in 0..2160 {
        for x in 0..3840 {
            b.set(x, y, a.pixel((x + 3840 - 9) % 3840, (y + 5) % 2160));
        }
    }
    let area = crate::frame::changed_box(&a, &b).unwrap();
    let mut cost = SearchCost::default();
    let copies = detect(&a, &b, area, &mut cost);
    assert!(cost.scanned <= SCAN_BUDGET + 3840, "{cost:?}");
    assert!(cost.compared <= COMPARE_BUDGET + 2 * u64::from(TILE * TILE), "{cost:?}");
    assert!(
        copies.iter().any(|c| (c.1, c.2) == (9, -5)),
        "still found: {:?}",
        &copies[..copies.len().min(3)]
    );
}
