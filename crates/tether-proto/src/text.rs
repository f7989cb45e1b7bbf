//! Making text from the other side safe to show on a terminal or in a log
//! line.
//!
//! Every string a peer controls (process names, file names, network targets,
//! error messages, certificate names, …) may carry terminal escape sequences
//! that recolour, retitle or rewrite the screen, newlines that forge whole
//! lines, or Unicode format characters that reorder or hide text. Both sides
//! pass such text through [`escape`] (or [`escape_bytes`] for bytes that may
//! not be UTF-8) before printing it for people. Machine output (`--json`,
//! the JSON audit log) is escaped by the JSON encoder instead and keeps the
//! raw text.
//!
//! # The scheme
//! One documented, unambiguous, reversible form, close to Rust's and C's:
//!
//! | input | shown as |
//! |-------|----------|
//! | backslash | `\\` (doubled, so every other `\` starts an escape) |
//! | TAB, LF, CR | `\t`, `\n`, `\r` |
//! | other C0 controls (incl. ESC) and DEL | `\xNN`, e.g. `\x1b`, `\x7f` |
//! | C1 controls U+0080–U+009F | `\u{NN}`, e.g. `\u{9b}` |
//! | format characters that reorder or hide text (bidi embeddings, overrides and isolates, zero-width characters, line/paragraph separators, BOM, tag characters) | `\u{NNNN}`, e.g. `\u{202e}` |
//! | bytes that are not UTF-8 ([`escape_bytes`] only) | `\xNN` with NN ≥ 80 |
//!
//! `\xNN` below 0x80 is always a character and at or above 0x80 always an
//! invalid byte, since a valid character in that range is written `\u{..}`.
//! Everything else, including every printable non-ASCII letter, passes
//! unchanged; text that needs no escape is returned borrowed, without
//! allocating. The zero-width joiner is escaped too, so emoji sequences that
//! use it show as their parts: safety over looks.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// `text` with every control and text-hiding format character escaped (see
/// the module documentation for the scheme). Borrowed when nothing needs
/// escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    match text.char_indices().find(|&(_, c)| needs_escape(c)) {
        None => Cow::Borrowed(text),
        Some((at, _)) => {
            let mut out = String::with_capacity(text.len() + 8);
            out.push_str(&text[..at]);
            escape_into(&mut out, &text[at..]);
            Cow::Owned(out)
        }
    }
}

/// An error and its causes as one line, each cause said once: where an
/// error's message already includes its source's (as `"cannot read X:
/// {source}"` does), the source is not repeated. The line is escaped, since
/// causes may quote the other side.
pub fn error_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = e.source();
    }
    escape(&line).into_owned()
}

/// Like [`escape`] for bytes that may not be UTF-8 (file names, raw command
/// lines): each byte that is not part of a valid character becomes `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        escape_into(&mut out, chunk.valid());
        for byte in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

/// A `Display` wrapper that escapes as it formats, for `format!` and log
/// macros: `format!("{}", Escaped(name))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padding flags ({:<20}) apply to the escaped text.
        f.pad(&escape(self.0))
    }
}

/// Whether `c` is shown as an escape rather than as itself.
pub fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || hides_text(c)
}

/// Unicode format characters that can reorder, hide or break text on a
/// terminal: Trojan-Source-style bidi controls, zero-width characters, line
/// and paragraph separators, invisible operators, the BOM, interlinear
/// annotations and the tag characters used to smuggle invisible ASCII.
fn hides_text(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for plain in ["", "sleep 300", "/home/zoë/Документы/報告.txt", "naïve café 🙂", "a/b c:d"]
        {
            assert!(matches!(escape(plain), Cow::Borrowed(s) if s == plain), "{plain:?}");
            assert!(matches!(escape_bytes(plain.as_bytes()), Cow::Borrowed(s) if s == plain));
        }
    }

    #[test]
    fn terminal_sequences_lose_their_escape() {
        assert_eq!(escape("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
        // OSC 0 sets the window title; BEL ends it.
        assert_eq!(escape("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        // CSI as a single C1 character.
        assert_eq!(escape("a\u{9b}2Jb"), "a\\u{9b}2Jb");
        assert_eq!(escape("del\x7f\x00nul"), "del\\x7f\\x00nul");
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let shown = escape(&c.to_string()).into_owned();
            assert!(shown.starts_with('\\') && shown.chars().all(|c| c.is_ascii_graphic()));
        }
    }

    #[test]
    fn newlines_cannot_forge_lines() {
        let forged = "ok\n2026-11-23T12:00:00.000Z  ok  root (tier3)\r\tx";
        let shown = escape(forged);
        assert_eq!(shown, "ok\\n2026-11-23T12:00:00.000Z  ok  root (tier3)\\r\\tx");
        assert!(!shown.contains(['\n', '\r', '\t']));
        assert_eq!(escape("a\u{2028}b\u{2029}c"), "a\\u{2028}b\\u{2029}c");
    }

    #[test]
    fn bidi_and_invisible_characters_are_shown() {
        // Trojan Source: "admin" displayed, "nimda" stored.
        assert_eq!(escape("\u{202e}nimda\u{202c}"), "\\u{202e}nimda\\u{202c}");
        assert_eq!(escape("x\u{2066}y\u{2069}"), "x\\u{2066}y\\u{2069}");
        assert_eq!(escape("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(escape("tag\u{e0041}"), "tag\\u{e0041}");
    }

    #[test]
    fn backslashes_double_so_escapes_are_unambiguous() {
        assert_eq!(escape("C:\\x1b"), "C:\\\\x1b");
        assert_ne!(escape("\\x1b"), escape("\x1b"));
        assert_eq!(escape("\x1b"), "\\x1b");
    }

    #[test]
    fn invalid_utf8_shows_its_bytes() {
        assert_eq!(escape_bytes(b"ab\xffc\xc3"), "ab\\xffc\\xc3");
        assert_eq!(escape_bytes(b"\xe2\x80\xae\x1b\xfe"), "\\u{202e}\\x1b\\xfe");
        // A valid C1 character and the same number as an invalid byte differ.
        assert_ne!(escape_bytes("\u{9b}".as_bytes()), escape_bytes(b"\x9b"));
    }

    #[test]
    fn display_wrapper_escapes_and_pads() {
        assert_eq!(format!("[{:<6}]", Escaped("a\nb")), "[a\\nb  ]");
        assert_eq!(format!("{}", Escaped("plain")), "plain");
    }

    #[test]
    fn each_cause_is_said_once() {
        #[derive(Debug)]
        struct E(String, Option<Box<E>>);
        impl fmt::Display for E {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let io = E("No such file or directory (os error 2)".into(), None);
        let outer = E(
            "cannot read x.pem: No such file or directory (os error 2)".into(),
            Some(Box::new(io)),
        );
        assert_eq!(error_line(&outer), "cannot read x.pem: No such file or directory (os error 2)");
        let lost = E("connection lost: closed by peer".into(), None);
        let read =
            E("stream read failed: connection lost: closed by peer".into(), Some(Box::new(lost)));
        let top = E("fetching the report".into(), Some(Box::new(read)));
        assert_eq!(
            error_line(&top),
            "fetching the report: stream read failed: connection lost: closed by peer"
        );
        let plain = E("outer".into(), Some(Box::new(E("inner\x1b[31m".into(), None))));
        assert_eq!(error_line(&plain), r"outer: inner\x1b[31m", "escaped");
    }
}
