//! `tether man`: man pages from the command line definition, one per
//! command (`tether-restore-rollback(1)` and so on, the names the pages
//! refer to each other by), with examples kept line for line.
//!
//! clap_mangen renders the after-help text as filled paragraphs, which
//! reflows example command lines into prose; the examples here go into a
//! no-fill block instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};

/// Writes the page for `cmd` (already built, so subcommands carry their
/// full display names).
fn render(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(w)?;
    }
    if let Some(after) = cmd.get_after_help() {
        let mut roff = Roff::new();
        roff.control("SH", ["EXAMPLES AND NOTES"]);
        roff.control("nf", []);
        for line in after.to_string().lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
        roff.to_writer(w)?;
    }
    if cmd.get_version().or_else(|| cmd.get_long_version()).is_some() {
        man.render_version_section(w)?;
    }
    Ok(())
}

/// The top-level page, for stdout.
pub fn print(cmd: clap::Command) -> anyhow::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = std::io::stdout().lock();
    render(&cmd, &mut out)?;
    out.flush()?;
    Ok(())
}

/// One page per command in `dir`; returns the files written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    write_tree(&cmd, dir, &mut written)?;
    Ok(written)
}

fn write_tree(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir, written)?;
    }
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    render(cmd, &mut page)?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_a_page_refers_to_exists_and_examples_keep_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_all(crate::cli::command(), dir.path()).unwrap();
        assert!(written.len() > 20, "{written:?}");
        let page = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        for file in &written {
            let text = std::fs::read_to_string(file).unwrap();
            // Every "tether-…(1)" reference names a page that was written.
            for (at, _) in text.match_indices("(1)") {
                let start = text[..at].rfind(|c: char| c.is_whitespace()).map_or(0, |i| i + 1);
                let name = text[start..at]
                    .trim_start_matches("\\fR")
                    .trim_start_matches("\\fB")
                    .replace("\\-", "-");
                if name.starts_with("tether") {
                    assert!(dir.path().join(format!("{name}.1")).exists(), "{name}(1) in {file:?}");
                }
            }
        }
        let rollback = page("tether-restore-rollback.1");
        assert!(rollback.contains(".nf"), "examples in a no-fill block");
        assert!(
            rollback
                .lines()
                .any(|l| l.trim_start().starts_with("tether restore rollback ws\\-042")),
            "an example on a line of its own:\n{rollback}"
        );
        assert!(page("tether-net.1").contains("3 UNKNOWN"));
        assert!(page("tether.1").contains("tether\\-info(1)"));
    }
}
