//! Small formatting helpers for reports meant for people.
//!
//! Nearly everything in a report comes from the agent, which the controller
//! does not trust: [`table`] escapes every cell and [`remote`] every other
//! field (with [`tether_proto::text::escape`]), so no ESC sequence, newline
//! or bidi control from the other side reaches the terminal raw. Escape
//! each string exactly once, where it becomes part of the report.

use std::borrow::Cow;

pub use tether_proto::text::Escaped;

/// A string from the agent, made safe for a terminal line.
pub fn remote(text: &str) -> Cow<'_, str> {
    tether_proto::text::escape(text)
}

/// Bytes in IEC units with one decimal, e.g. "3.1 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A duration as days, hours and minutes, e.g. "3 d 4 h 12 min".
pub fn uptime(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h {m} min"),
    }
}

/// A Unix time as "YYYY-MM-DD HH:MM UTC".
pub fn unix_time(secs: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// A clock offset in plain words.
pub fn clock_offset(offset_ms: i64) -> String {
    tether_client::clock::describe_offset(offset_ms)
}

/// Column alignment for [`table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// An aligned text table: a header row and rows, two spaces between
/// columns, the last column never padded (so long commands do not push
/// trailing spaces). Widths count characters, not bytes. Every cell is
/// escaped here, so callers pass the agent's strings as they came.
pub fn table(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<Cow<'_, str>>> =
        rows.iter().map(|r| r.iter().map(|c| remote(c)).collect()).collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
                .max(h.len())
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            match headers[i].1 {
                _ if i == last && headers[i].1 == Align::Left => out.push_str(cell),
                Align::Left => {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            if i != last {
                out.push_str("  ");
            }
        }
        // An empty last cell would leave the separator dangling.
        let mut out = out.trim_end().to_owned();
        out.push('\n');
        out
    };
    let mut out = line(headers.iter().map(|(h, _)| *h).collect());
    for row in rows {
        out.push_str(&line(row.iter().map(|c| c.as_ref()).collect()));
    }
    out
}

/// Appends `block` to `out` with every line indented by two spaces.
pub fn indent(out: &mut String, block: &str) {
    for line in block.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
}

/// Shortens `text` to `max` characters, marking the cut with "…".
pub fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// "1 file", "38 files": `n` and the word, plural unless `n` is 1.
pub fn count(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 + 100 * 1024 * 1024), "3.1 GiB");
        assert_eq!(uptime(59), "0 min");
        assert_eq!(uptime(3 * 86_400 + 4 * 3600 + 12 * 60), "3 d 4 h 12 min");
        assert_eq!(unix_time(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(clock_offset(200), "in step with this machine (within 0.5 s)");
        assert_eq!(clock_offset(-2500), "2.5 s behind this machine");
        assert_eq!(clock_offset(61_000), "61.0 s ahead of this machine");
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(ellipsize("abc", 4), "abc");
    }

    #[test]
    fn tables_align() {
        let t = table(
            &[("PID", Align::Right), ("NAME", Align::Left), ("CMD", Align::Left)],
            &[
                vec!["7".into(), "sleep".into(), "sleep 300".into()],
                vec!["1234".into(), "sh".into(), "sh -c x".into()],
            ],
        );
        assert_eq!(t, " PID  NAME   CMD\n   7  sleep  sleep 300\n1234  sh     sh -c x\n");
    }

    #[test]
    fn table_cells_from_the_agent_are_escaped() {
        let t = table(
            &[("NAME", Align::Left), ("CMD", Align::Left)],
            &[vec!["\x1b[31mred".into(), "a\nforged line".into()]],
        );
        assert!(!t.contains('\x1b'), "{t:?}");
        assert_eq!(t.lines().count(), 2, "{t:?}");
        // Widths count the escaped text, so columns still line up.
        assert_eq!(t, "NAME         CMD\n\\x1b[31mred  a\\nforged line\n");
    }
}
