use super::*;

fn down(code: KeyCode, text: &str) -> KeyInput {
    KeyInput {
        code: Some(code),
        named: None,
        text: (!text.is_empty()).then(|| text.to_owned()),
        pressed: true,
        repeat: false,
        synthetic: false,
        dead: false,
    }
}

fn up(code: KeyCode) -> KeyInput {
    KeyInput {
        code: Some(code),
        named: None,
        text: None,
        pressed: false,
        repeat: false,
        synthetic: false,
        dead: false,
    }
}

fn repeat(code: KeyCode, text: &str) -> KeyInput {
    KeyInput { repeat: true, ..down(code, text) }
}

fn key(key: Key, pressed: bool) -> InputEvent {
    InputEvent::Key { key, pressed }
}

/// Feeds events in order and collects what they send.
fn feed(t: &mut Translator, inputs: &[KeyInput]) -> Vec<InputEvent> {
    inputs.iter().flat_map(|i| t.key(i)).collect()
}

#[test]
fn every_press_and_release_is_sent_in_order() {
    let mut t = Translator::new();
    // "A&" typed fast: Shift held across both, nothing merged or dropped.
    let sent = feed(
        &mut t,
        &[
            down(KeyCode::ShiftLeft, ""),
            down(KeyCode::KeyA, "A"),
            up(KeyCode::KeyA),
            down(KeyCode::Digit7, "&"),
            up(KeyCode::Digit7),
            up(KeyCode::ShiftLeft),
            down(KeyCode::KeyA, "a"),
            up(KeyCode::KeyA),
            down(KeyCode::KeyA, "a"),
            up(KeyCode::KeyA),
        ],
    );
    assert_eq!(
        sent,
        [
            key(Key::Shift, true),
            key(Key::Char('a'), true),
            key(Key::Char('a'), false),
            key(Key::Char('7'), true),
            key(Key::Char('7'), false),
            key(Key::Shift, false),
            key(Key::Char('a'), true),
            key(Key::Char('a'), false),
            key(Key::Char('a'), true),
            key(Key::Char('a'), false),
        ]
    );
}

#[test]
fn keys_down_before_the_focus_came_stay_local() {
    let mut t = Translator::new();
    assert_eq!(t.key(&up(KeyCode::KeyQ)), []);
    // Alt+Tab into the window: the window reports Alt and Tab as pressed
    // when the focus arrives; neither is sent, nor their releases.
    let arrived = |code| KeyInput { synthetic: true, ..down(code, "") };
    let sent = feed(
        &mut t,
        &[arrived(KeyCode::AltLeft), arrived(KeyCode::Tab), up(KeyCode::Tab), up(KeyCode::AltLeft)],
    );
    assert_eq!(sent, []);
    // A synthetic release of a key pressed here releases it.
    t.key(&down(KeyCode::ShiftLeft, ""));
    let left = KeyInput { synthetic: true, ..up(KeyCode::ShiftLeft) };
    assert_eq!(t.key(&left), [key(Key::Shift, false)]);
}

#[test]
fn local_auto_repeat_is_dropped() {
    let mut t = Translator::new();
    let mut inputs = vec![down(KeyCode::KeyX, "x")];
    inputs.extend(std::iter::repeat_n(repeat(KeyCode::KeyX, "x"), 30));
    inputs.push(up(KeyCode::KeyX));
    assert_eq!(
        feed(&mut t, &inputs),
        [key(Key::Char('x'), true), key(Key::Char('x'), false)],
        "the agent holds the key; the remote system repeats it"
    );
}

#[test]
fn ctrl_alt_end_sends_ctrl_alt_delete_once_per_press() {
    let mut t = Translator::new();
    let mut inputs =
        vec![down(KeyCode::ControlLeft, ""), down(KeyCode::AltLeft, ""), down(KeyCode::End, "")];
    inputs.extend(std::iter::repeat_n(repeat(KeyCode::End, ""), 50));
    inputs.extend([up(KeyCode::End), up(KeyCode::AltLeft), up(KeyCode::ControlLeft)]);
    assert_eq!(
        feed(&mut t, &inputs),
        [
            key(Key::Control, true),
            key(Key::Alt, true),
            key(Key::Delete, true),
            key(Key::Delete, false),
            key(Key::Alt, false),
            key(Key::Control, false),
        ]
    );
    // A second physical press is a second Ctrl+Alt+Delete; End alone is End.
    let again = feed(
        &mut t,
        &[
            down(KeyCode::ControlRight, ""),
            down(KeyCode::AltRight, ""),
            down(KeyCode::End, ""),
            up(KeyCode::End),
        ],
    );
    assert_eq!(again.iter().filter(|e| **e == key(Key::Delete, true)).count(), 1);
    let end = feed(&mut t, &[up(KeyCode::AltRight), down(KeyCode::End, ""), up(KeyCode::End)]);
    assert_eq!(end, [key(Key::Alt, false), key(Key::End, true), key(Key::End, false)]);
}

#[test]
fn both_shift_keys_hold_one_remote_shift_until_the_last_is_released() {
    let mut t = Translator::new();
    let sent = feed(
        &mut t,
        &[
            down(KeyCode::ShiftLeft, ""),
            down(KeyCode::ShiftRight, ""),
            up(KeyCode::ShiftLeft),
            down(KeyCode::KeyB, "B"),
            up(KeyCode::KeyB),
            up(KeyCode::ShiftRight),
        ],
    );
    assert_eq!(
        sent,
        [
            key(Key::Shift, true),
            key(Key::Char('b'), true),
            key(Key::Char('b'), false),
            key(Key::Shift, false),
        ]
    );
}

#[test]
fn non_ascii_and_unplaced_keys_are_sent_as_text() {
    let mut t = Translator::new();
    // ä on a German layout sits on the US quote key: the text is sent,
    // and its release sends nothing.
    assert_eq!(
        feed(&mut t, &[down(KeyCode::Quote, "ä"), up(KeyCode::Quote)]),
        [InputEvent::Text("ä".into())]
    );
    // The ISO key left of Z has no US place: its text goes.
    assert_eq!(t.key(&down(KeyCode::IntlBackslash, "<")), [InputEvent::Text("<".into())]);
    // An unidentified key with text (an IME, a remapped keycode).
    let unknown = KeyInput { code: None, ..down(KeyCode::KeyA, "€") };
    assert_eq!(t.key(&unknown), [InputEvent::Text("€".into())]);
    // Control characters never go as text; keys without a mapping or
    // text send nothing.
    assert_eq!(t.key(&down(KeyCode::Fn, "\u{1b}")), []);
    // With Ctrl held the key goes by its place (Ctrl+Ä is a shortcut).
    let shortcut = feed(&mut t, &[down(KeyCode::ControlLeft, ""), down(KeyCode::Quote, "ä")]);
    assert_eq!(shortcut, [key(Key::Control, true), key(Key::Char('\''), true)]);
}

#[test]
fn keypad_keys_follow_numlock() {
    let mut t = Translator::new();
    let digit = down(KeyCode::Numpad7, "7");
    let home = KeyInput { named: Some(NamedKey::Home), ..down(KeyCode::Numpad7, "") };
    assert_eq!(t.key(&digit), [key(Key::Char('7'), true)]);
    assert_eq!(t.key(&up(KeyCode::Numpad7)), [key(Key::Char('7'), false)]);
    assert_eq!(t.key(&home), [key(Key::Home, true)]);
    assert_eq!(map_key(KeyCode::F24, &up(KeyCode::F24)), Some(Key::F(24)));
    assert_eq!(map_key(KeyCode::Digit0, &up(KeyCode::Digit0)), Some(Key::Char('0')));
}

#[test]
fn losing_focus_releases_everything_once() {
    let mut t = Translator::new();
    t.key(&down(KeyCode::AltLeft, ""));
    assert_eq!(t.focus(false), [InputEvent::ReleaseAll]);
    assert_eq!(t.focus(false), [], "nothing held any more");
    // The release that comes after the focus left sends nothing more.
    assert_eq!(t.key(&up(KeyCode::AltLeft)), []);
    // A held button counts too.
    t.pointer(Some((1, 1)));
    t.button(MouseButton::Left, true);
    assert_eq!(t.focus(false), [InputEvent::ReleaseAll]);
    assert_eq!(t.button(MouseButton::Left, false), []);
}

#[test]
fn pointer_buttons_and_wheel() {
    let mut t = Translator::new();
    assert_eq!(t.pointer(Some((10, 20))), [InputEvent::MouseMove { x: 10, y: 20 }]);
    assert_eq!(t.pointer(Some((10, 20))), [], "no move, nothing sent");
    // A fast click: press and release both arrive.
    assert_eq!(
        [t.button(MouseButton::Left, true), t.button(MouseButton::Left, false)].concat(),
        [
            InputEvent::Button { button: MouseButton::Left, pressed: true },
            InputEvent::Button { button: MouseButton::Left, pressed: false }
        ]
    );
    assert_eq!(t.wheel(0.0, 0.5), []);
    assert_eq!(t.wheel(0.0, 0.5), [InputEvent::Scroll { dx: 0, dy: -1 }], "half steps add up");
    // Off the image: a press is not sent, but a release of a button
    // pressed on it is.
    t.button(MouseButton::Right, true);
    assert_eq!(t.pointer(None), []);
    assert_eq!(t.button(MouseButton::Left, true), []);
    assert_eq!(
        t.button(MouseButton::Right, false),
        [InputEvent::Button { button: MouseButton::Right, pressed: false }]
    );
    assert_eq!(t.wheel(0.0, 3.0), []);
}

#[test]
fn a_button_wheel_click_counts_once_and_a_smooth_wheel_every_time() {
    let mut echo = WheelEcho::default();
    // Button 5 clicked: raw press, wheel, raw release, wheel (the echo).
    echo.raw_button(5, true);
    assert!(!echo.is_echo());
    echo.raw_button(5, false);
    assert!(echo.is_echo());
    // A smooth-scroll wheel sends no raw button events: every step counts.
    assert!(!echo.is_echo());
    assert!(!echo.is_echo());
    // Other buttons do not matter.
    echo.raw_button(1, false);
    assert!(!echo.is_echo());
    // A release whose window event went to another window is forgotten at
    // the next click's press.
    echo.raw_button(4, false);
    echo.raw_button(4, true);
    assert!(!echo.is_echo());
}

#[test]
fn alt_gr_characters_and_dead_keys_go_as_the_text_they_make() {
    let mut t = Translator::new();
    let alt_gr = KeyInput { named: Some(NamedKey::AltGraph), ..down(KeyCode::AltRight, "") };
    // German AltGr+Q types @: not Alt+Q on the remote.
    let sent = feed(
        &mut t,
        &[alt_gr.clone(), down(KeyCode::KeyQ, "@"), up(KeyCode::KeyQ), up(KeyCode::AltRight)],
    );
    assert_eq!(sent, [InputEvent::Text("@".into())]);
    // Released, Q is Q again; on a US layout the right Alt is Alt.
    assert_eq!(t.key(&down(KeyCode::KeyQ, "q")), [key(Key::Char('q'), true)]);
    assert_eq!(t.key(&down(KeyCode::AltRight, "")), [key(Key::Alt, true)]);
    // A dead accent stays local; the composed character goes as text.
    let mut t = Translator::new();
    let dead = KeyInput { dead: true, ..down(KeyCode::Equal, "") };
    let sent =
        feed(&mut t, &[dead, up(KeyCode::Equal), down(KeyCode::KeyE, "é"), up(KeyCode::KeyE)]);
    assert_eq!(sent, [InputEvent::Text("é".into())]);
}
