//! The synthetic capturer behaves like a screen: pushes wake waiters,
//! grabs return what was pushed, size changes make monitors gone.

use std::time::{Duration, Instant};

use tether_capture::{CaptureError, Capturer, CursorImage, Frame, Pointer, Synthetic};

fn solid(w: u32, h: u32, color: u32) -> Frame {
    Frame::solid(w, h, color).unwrap()
}

#[test]
fn pushed_frames_wake_the_waiter_and_are_grabbed() {
    let mut cap = Synthetic::new(solid(64, 32, 0x111111));
    let handle = cap.handle();
    assert_eq!(cap.backend(), "synthetic");
    let monitors = cap.monitors().unwrap();
    assert_eq!(monitors.len(), 1);
    let m = &monitors[0];
    assert_eq!((m.x, m.y, m.width, m.height, m.primary), (0, 0, 64, 32, true));

    assert!(cap.wait_for_damage(Duration::from_secs(5)).unwrap(), "first call");
    assert_eq!(cap.grab(m).unwrap(), solid(64, 32, 0x111111));
    let start = Instant::now();
    assert!(!cap.wait_for_damage(Duration::from_millis(200)).unwrap(), "nothing pushed");
    assert!(start.elapsed() >= Duration::from_millis(190));

    let mut pushed = solid(64, 32, 0x222222);
    pushed.set(3, 4, 0xABCDEF);
    let expected = pushed.clone();
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.push(pushed);
        handle
    });
    let timeout = Duration::from_secs(10);
    let start = Instant::now();
    assert!(cap.wait_for_damage(timeout).unwrap());
    assert!(start.elapsed() < timeout);
    let handle = pusher.join().unwrap();
    assert_eq!(cap.grab(m).unwrap(), expected);
    assert!(!cap.wait_for_damage(Duration::from_millis(50)).unwrap(), "already seen");

    // A push made before the wait is not lost.
    handle.push(solid(64, 32, 0x333333));
    assert!(cap.wait_for_damage(Duration::ZERO).unwrap());

    // A new size: the old monitor is gone, the new list has the new size.
    handle.push(solid(32, 16, 0x444444));
    assert!(matches!(cap.grab(m), Err(CaptureError::MonitorGone { index: 0 })));
    assert_eq!(cap.monitors().unwrap()[0].width, 32);

    handle.set_pointer(Some(Pointer { x: 3, y: 9 }));
    assert_eq!(cap.pointer().unwrap(), Some(Pointer { x: 3, y: 9 }));
    assert_eq!(cap.cursor_image().unwrap(), None);
    let cursor =
        CursorImage { serial: 7, width: 1, height: 1, hot_x: 0, hot_y: 0, argb: vec![0xFF00_0000] };
    handle.set_cursor(Some(cursor.clone()));
    assert_eq!(cap.cursor_image().unwrap(), Some(cursor));
}

#[test]
fn frame_lists_cycle_and_report_real_changes() {
    let frames = vec![solid(8, 8, 1), solid(8, 8, 2), solid(8, 8, 2), solid(8, 8, 3)];
    let mut cap = Synthetic::from_frames(frames).unwrap();
    let m = cap.monitors().unwrap().remove(0);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let changed = cap.wait_for_damage(Duration::from_secs(60)).unwrap();
        seen.push((changed, cap.grab(&m).unwrap().pixel(0, 0)));
    }
    // First call, then 2, 2 (unchanged), 3, back to 1, 2.
    assert_eq!(seen, [(true, 1), (true, 2), (false, 2), (true, 3), (true, 1), (true, 2)]);
    assert!(Synthetic::from_frames(Vec::new()).is_err());
}

#[test]
fn generated_frames_advance_per_wait() {
    let mut cap = Synthetic::from_fn(|n| solid(4, 4, n as u32));
    let m = cap.monitors().unwrap().remove(0);
    for n in 0..5 {
        assert!(cap.wait_for_damage(Duration::from_secs(60)).unwrap());
        assert_eq!(cap.grab(&m).unwrap().pixel(1, 1), n);
    }
}

#[test]
fn synthetic_is_a_boxed_capturer() {
    let boxed: Box<dyn Capturer> = Box::new(Synthetic::new(solid(2, 2, 0)));
    std::thread::spawn(move || assert_eq!(boxed.backend(), "synthetic")).join().unwrap();
}

#[test]
fn the_default_grab_rows_hands_on_the_whole_frame_in_strips() {
    // 37 rows: strips of 16 and a short last one.
    let mut shown = solid(50, 37, 0x010203);
    for y in 0..37 {
        shown.set(y, y, 0xF0E0D0 ^ y);
    }
    let mut cap = Synthetic::new(shown.clone());
    let m = cap.monitors().unwrap().remove(0);
    let mut into = solid(50, 37, 0);
    cap.grab_rows(&m, &mut into).unwrap();
    assert_eq!(into, shown);
    let mut wrong_size = solid(50, 36, 0);
    assert!(matches!(cap.grab_rows(&m, &mut wrong_size), Err(CaptureError::Frame(_))));
}
