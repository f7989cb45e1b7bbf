//! `tether ticket export ID DIR`: the timeline as Markdown and the
//! screenshots as PNGs. The directory may be named by a hostile local
//! user first (`/tmp/T-42` made by someone else, a symlink planted at a
//! predictable file name), so it is checked and files are created, never
//! followed.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tether_os::files::{Create, Others};
use tether_tickets::{Attachment, Entry, Ticket, TicketId, UnixTime, is_png};

use super::ticket::{describe, facts, when};
use crate::render::remote;

#[derive(Serialize)]
pub(super) struct Exported {
    pub markdown: String,
    pub screenshots: Vec<String>,
}

/// Writes `DIR/T-42.md` and each screenshot as `DIR/T-42-<entry>-<name>.png`,
/// each private (0600; on Windows an ACL for the owner, SYSTEM and
/// Administrators) in a directory that is ours and not writable by others.
/// Existing files are refused unless `force`; symlinks never followed.
pub(super) fn export(
    dir: &Path,
    ticket: &Ticket,
    timeline: &[Entry],
    screenshots: &[Attachment],
    now: UnixTime,
    force: bool,
) -> anyhow::Result<Exported> {
    private_dir(dir)?;
    let mut files = std::collections::BTreeMap::new();
    let mut written = Vec::new();
    for shot in screenshots {
        let file = screenshot_file(ticket.id, shot);
        if !is_png(&shot.png) {
            anyhow::bail!(
                "screenshot #{} of {} is not a PNG; nothing of it was written",
                shot.entry,
                ticket.id
            );
        }
        write_new(&dir.join(&file), &shot.png, force)?;
        files.insert(shot.entry, file.clone());
        written.push(file);
    }
    let mut md = format!("# {}: {}\n\n", ticket.id, markdown(&ticket.title));
    for (label, value) in facts(ticket, now) {
        md.push_str(&format!("- **{label}**: {}\n", markdown(&value)));
    }
    md.push_str("\n## Timeline\n\n");
    for entry in timeline {
        md.push_str(&format!(
            "- {} — {} — {}\n",
            when(entry.at),
            markdown(&entry.actor),
            markdown(&describe(&entry.event))
        ));
        if let Some(file) = files.get(&entry.id) {
            md.push_str(&format!("\n  ![{}]({file})\n\n", markdown(&file.clone())));
        }
    }
    let name = format!("{}.md", ticket.id);
    write_new(&dir.join(&name), md.as_bytes(), force)?;
    Ok(Exported { markdown: name, screenshots: written })
}

/// Creates `dir` private (0700, or the owner-only ACL), or accepts an
/// existing one only if it is a real directory (not a symlink) of ours
/// that others cannot write.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let shown = || dir.display().to_string();
    match tether_os::files::create_private_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Missing parents: made like the directory itself.
            tether_os::files::create_private_dir_all(dir)
                .with_context(|| format!("cannot create {}", shown()))?;
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", shown())),
    }
    let meta =
        std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", shown()))?;
    if !meta.file_type().is_dir() {
        anyhow::bail!("{} is not a directory (a symlink is not followed)", shown());
    }
    let verdict = tether_os::files::not_private(dir, &meta, Others::MayNotWrite)
        .with_context(|| format!("cannot read who may use {}", shown()))?;
    if let Some(why) = verdict {
        anyhow::bail!("{} is refused for the export: {why}", shown());
    }
    Ok(())
}

/// Writes `bytes` to a new private file at `path`. An existing regular
/// file is replaced only with `force`; a symlink at `path` is never
/// followed, nor is anything but a regular file written into.
fn write_new(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let shown = || path.display().to_string();
    let create = Create::new(0o600).no_follow();
    let mut file: File =
        if force { create } else { create.must_be_new() }.open(path).map_err(|e| {
            match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    anyhow::anyhow!("{} exists; --force replaces it", shown())
                }
                _ if tether_os::files::is_symlink_refusal(&e) => {
                    anyhow::anyhow!("{} is a symlink; it is not followed", shown())
                }
                _ => anyhow::Error::new(e).context(format!("cannot create {}", shown())),
            }
        })?;
    let meta = file.metadata().with_context(|| format!("cannot read {}", shown()))?;
    if !meta.file_type().is_file() {
        anyhow::bail!("{} is not a regular file", shown());
    }
    // A replaced file keeps its inode: make it as private as a new one
    // (Unix; on Windows a replaced file keeps its ACL, and is refused
    // below when others may use it).
    tether_os::files::set_file_mode(&file, 0o600)
        .with_context(|| format!("cannot chmod {}", shown()))?;
    if let Some(why) = tether_os::files::not_private_file(&file, Others::MayNotUse)
        .with_context(|| format!("cannot read who may use {}", shown()))?
    {
        anyhow::bail!("{} is refused for the export: {why}", shown());
    }
    file.set_len(0).with_context(|| format!("cannot write {}", shown()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", shown()))?;
    Ok(())
}

/// A file name for a screenshot that stays inside the export directory:
/// only letters, digits, `-`, `_` and `.` from the stored name.
fn screenshot_file(ticket: TicketId, shot: &Attachment) -> String {
    let stem: String = shot
        .name
        .trim_end_matches(".png")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    format!("{ticket}-{}-{stem}.png", shot.entry)
}

/// Text for Markdown: control characters escaped, one line, markup
/// characters taken literally.
fn markdown(text: &str) -> String {
    let escaped = remote(text);
    let mut out = String::with_capacity(escaped.len());
    for c in escaped.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screenshot_files_stay_in_the_directory() {
        let shot = Attachment { entry: 7, name: "../../etc/passwd.png".into(), png: vec![] };
        assert_eq!(screenshot_file(TicketId(3), &shot), "T-3-7-______etc_passwd.png");
    }

    #[test]
    fn markdown_takes_markup_and_escapes_literally() {
        assert_eq!(markdown("a *b* [x](y)\n\x1b[31m"), "a \\*b\\* \\[x\\](y)\\\\n\\\\x1b\\[31m");
    }
}
