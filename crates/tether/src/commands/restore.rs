//! `tether restore …`: a machine's restore points, what a rollback would
//! change, the rollback itself and its undo.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use tether_client::exit::Outcome;
use tether_client::{ClientError, Session};
use tether_proto::restore::{RestoreDiff, RestorePoint, RollbackOutcome};

use super::Done;
use crate::cli::RestoreCommand;
use crate::cli::restore::{Confirm, Detail, On, Point};
use crate::render::{self, Align, table};

/// Runs a restore command on `session` and prints its result.
pub async fn on(session: &Session, command: RestoreCommand) -> anyhow::Result<Done> {
    let (output, done) = run_on(session, command).await?;
    // `out` gives JSON exactly when --json was asked for.
    match output {
        Output::Json(value) => println!("{}", serde_json::to_string_pretty(&value)?),
        Output::Text(text) => print!("{text}"),
    }
    Ok(done)
}

enum Output {
    Text(String),
    Json(serde_json::Value),
}

fn out<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<Output> {
    Ok(if json { Output::Json(serde_json::to_value(value)?) } else { Output::Text(text()) })
}

async fn run_on(session: &Session, command: RestoreCommand) -> anyhow::Result<(Output, Done)> {
    // The agent's name, ids and paths are the agent's words: every one is
    // escaped where it enters the text (tables escape their own cells).
    let agent = render::remote(&session.welcome().agent_name).into_owned();
    match command {
        RestoreCommand::List { on: On { json, .. } } => {
            let points = session.restore_list().await?;
            let done = Done::success(format!(
                "restore list: {}",
                render::count(points.len() as u64, "point")
            ));
            Ok((out(json, &points, || points_table(&points))?, done))
        }
        RestoreCommand::Show { on: On { json, .. }, point: Point { id } } => {
            let detail = session.restore_show(&id).await?;
            let text = || {
                let mut text = points_table(std::slice::from_ref(&detail.point));
                let rows: Vec<Vec<String>> = detail
                    .entries
                    .iter()
                    .map(|e| {
                        let path = match &e.target {
                            Some(target) => format!("{} -> {target}", e.path),
                            None => e.path.clone(),
                        };
                        vec![
                            e.kind.clone(),
                            if e.kind == "symlink" {
                                "-".into()
                            } else {
                                format!("{:04o}", e.mode)
                            },
                            format!("{}:{}", e.uid, e.gid),
                            render::unix_time(u64::try_from(e.mtime_unix).unwrap_or(0)),
                            render::bytes(e.size),
                            path,
                        ]
                    })
                    .collect();
                text.push_str(&table(
                    &[
                        ("TYPE", Align::Left),
                        ("MODE", Align::Left),
                        ("OWNER", Align::Left),
                        ("MODIFIED", Align::Left),
                        ("SIZE", Align::Right),
                        ("PATH", Align::Left),
                    ],
                    &rows,
                ));
                if detail.more_entries > 0 {
                    text.push_str(&format!(
                        "… and {} more entries (--json lists the same)\n",
                        detail.more_entries
                    ));
                }
                text.push_str(&skipped_text(&detail.point));
                text
            };
            let entries = detail.entries.len() as u64 + detail.more_entries;
            let done = Done::success(format!(
                "restore show {}: {}",
                render::remote(&detail.point.id),
                render::count(entries, "path")
            ));
            Ok((out(json, &detail, text)?, done))
        }
        RestoreCommand::Diff {
            on: On { json, .. },
            point: Point { id },
            detail: Detail { all },
        } => {
            let diff = session.restore_diff(&id).await?;
            let paths = diff.modified_count + diff.removed_count + diff.added_count;
            let done = Done::success(format!(
                "restore diff {}: {} would change",
                render::remote(&diff.point),
                render::count(paths, "path")
            ));
            Ok((out(json, &diff, || diff_text(&diff, all))?, done))
        }
        RestoreCommand::Create { on: On { json, .. }, label, keep } => {
            let point = session.restore_create(label, keep).await?;
            let text = || {
                format!(
                    "created restore point {} on {agent}\n{}{}",
                    render::remote(&point.id),
                    points_table(std::slice::from_ref(&point)),
                    skipped_text(&point)
                )
            };
            let done =
                Done::success(format!("restore create: point {}", render::remote(&point.id)));
            Ok((out(json, &point, text)?, done))
        }
        RestoreCommand::Rollback {
            on: On { json, .. },
            point: Point { id },
            confirm: Confirm { yes },
            detail: Detail { all },
        } => {
            let diff = session.restore_diff(&id).await?;
            let question =
                format!("{}Roll {agent} back to {}?", diff_text(&diff, all), render::remote(&id));
            confirm(yes, &question)?;
            let paths = diff.modified_count + diff.removed_count + diff.added_count;
            let what = format!("rolling {agent} back ({paths} paths)");
            let reply = with_progress(&what, session.restore_rollback(&id)).await;
            let rolled = reply.map_err(|e| interrupted(e, &agent))?;
            let done = rolled_back("rollback to point", &rolled);
            Ok((out(json, &rolled, || rollback_text(&agent, &rolled, all))?, done))
        }
        RestoreCommand::Undo {
            on: On { json, .. },
            confirm: Confirm { yes },
            detail: Detail { all },
        } => {
            confirm(yes, &format!("Undo the last rollback on {agent}?"))?;
            let what = format!("undoing the last rollback on {agent}");
            let reply = with_progress(&what, session.restore_undo()).await;
            let undone = reply.map_err(|e| interrupted(e, &agent))?;
            let done = rolled_back("undo of the last rollback, back to point", &undone);
            Ok((out(json, &undone, || rollback_text(&agent, &undone, all))?, done))
        }
        RestoreCommand::Delete {
            on: On { json, .. },
            point: Point { id },
            force,
            confirm: Confirm { yes },
        } => {
            confirm(yes, &format!("Delete restore point {} on {agent}?", render::remote(&id)))?;
            let id = session.restore_delete(&id, force).await?;
            let done = Done::success(format!("restore delete: point {}", render::remote(&id)));
            Ok((
                out(json, &serde_json::json!({ "deleted": id }), || {
                    format!("deleted restore point {}\n", render::remote(&id))
                })?,
                done,
            ))
        }
        RestoreCommand::Verify { on: On { json, .. } } => {
            let v = session.restore_verify().await?;
            let done = Done::new(
                Outcome::success_if(v.problems.is_empty()),
                match v.problems.len() {
                    0 => format!("restore verify: {} points, store is sound", v.points),
                    n => format!("restore verify: {}", render::count(n as u64, "problem")),
                },
            );
            let text = || {
                let mut text = format!(
                    "{} points, {} stored contents ({} unreferenced): ",
                    v.points, v.blobs, v.unreferenced
                );
                if v.problems.is_empty() {
                    text.push_str("store is sound\n");
                } else {
                    text.push_str(&format!("{} problems\n", v.problems.len()));
                    for p in &v.problems {
                        text.push_str(&format!("  {}\n", render::remote(p)));
                    }
                }
                text
            };
            Ok((out(json, &v, text)?, done))
        }
    }
}

/// "rollback to point ID: 38 files": the files put back or moved aside.
fn rolled_back(what: &str, r: &RollbackOutcome) -> Done {
    let files = render::count(r.restored + r.moved_aside, "file");
    Done::success(format!("{what} {}: {files}", render::remote(&r.point)))
}

/// Asks on a terminal; without one, only `--yes` proceeds.
fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("not on a terminal: pass --yes to confirm");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer")?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        bail!("cancelled; nothing was changed")
    }
}

fn points_table(points: &[RestorePoint]) -> String {
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                render::unix_time(p.created_unix),
                p.kind.clone(),
                if p.keep { "keep" } else { "" }.to_owned(),
                p.files.to_string(),
                render::bytes(p.total_bytes),
                p.label.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        ("ID", Align::Left),
        ("CREATED", Align::Left),
        ("KIND", Align::Left),
        ("KEEP", Align::Left),
        ("FILES", Align::Right),
        ("SIZE", Align::Right),
        ("LABEL", Align::Left),
    ];
    table(&headers, &rows)
}

/// What the point left out, as a table of the agent's lines (escaped by
/// the table), and how many more there are; empty if nothing.
fn skipped_text(point: &RestorePoint) -> String {
    if point.skipped_count == 0 {
        return String::new();
    }
    let mut text = format!(
        "\n{} {} under the restore paths left out of this point (never recorded, never touched by a rollback):\n",
        point.skipped_count,
        if point.skipped_count == 1 { "entry" } else { "entries" }
    );
    let rows: Vec<Vec<String>> = point.skipped.iter().map(|line| vec![line.clone()]).collect();
    text.push_str(&table(&[("LEFT OUT: PATH AND REASON", Align::Left)], &rows));
    let more = point.skipped_count.saturating_sub(point.skipped.len() as u64);
    if more > 0 {
        text.push_str(&format!(
            "… and {more} more (the point's summary file on the agent lists them all)\n"
        ));
    }
    text
}

/// Runs `work`, and on a terminal, once it has taken a second, shows that
/// it is still going (the agent reports no progress of its own yet, so the
/// line says what is being done and for how long).
async fn with_progress<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    let mut shown = false;
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => {
                let secs = started.elapsed().as_secs_f64();
                if secs >= 1.0 {
                    const SPIN: [char; 4] = ['|', '/', '-', '\\'];
                    let frame = SPIN[(secs * 4.0) as usize % SPIN.len()];
                    eprint!("\r{frame} {what}… {secs:.0} s ");
                    std::io::stderr().flush().ok();
                    shown = true;
                }
            }
        }
    };
    if shown {
        // Clear the progress line before the result is printed.
        eprint!("\r\x1b[2K");
        std::io::stderr().flush().ok();
    }
    out
}

/// Paths of each kind listed before "… and N more", unless `--all`: a
/// rollback of thousands of files is a summary, not a scroll.
const FIRST_PATHS: usize = 10;

/// A rollback or undo that failed without an answer from the agent: the
/// agent may have stopped in the middle, and says what happens then.
fn interrupted(err: ClientError, agent: &str) -> anyhow::Error {
    if err.agent_reply().is_some() {
        return err.into();
    }
    anyhow::Error::new(err).context(format!(
        "no answer about the rollback: if {agent} stopped in the middle, it finishes or reverts \
         it when it starts again (check with `tether restore list {agent}`)"
    ))
}

/// The dry run for people: counts, then the first paths of each kind
/// (all of them with `all`).
pub fn diff_text(d: &RestoreDiff, all: bool) -> String {
    let mut text = format!(
        "rolling back to {} would restore {} modified, recreate {} removed and move aside {} added paths\n",
        render::remote(&d.point),
        d.modified_count,
        d.removed_count,
        d.added_count
    );
    text.push_str(&paths_text(d, all));
    text
}

/// One line per path: M modified, R recreated (removed since), A added
/// since (moved aside).
fn paths_text(d: &RestoreDiff, all: bool) -> String {
    let mut text = String::new();
    let mut cut = false;
    for (mark, list, count) in [
        ("M", &d.modified, d.modified_count),
        ("R", &d.removed_since, d.removed_count),
        ("A", &d.added_since, d.added_count),
    ] {
        let shown = if all { list.len() } else { list.len().min(FIRST_PATHS) };
        for (i, path) in list[..shown].iter().enumerate() {
            // What differs, for modified paths (older agents send nothing).
            let what = match d.modified_what.get(i).filter(|w| mark == "M" && !w.is_empty()) {
                Some(what) => format!(" ({})", render::remote(what)),
                None => String::new(),
            };
            text.push_str(&format!("  {mark} {}{what}\n", render::remote(path)));
        }
        if count > shown as u64 {
            text.push_str(&format!("  {mark} … and {} more\n", count - shown as u64));
            cut |= shown < list.len();
        }
    }
    if cut {
        text.push_str("  (--all lists every path the agent sent; --json gives them to scripts)\n");
    }
    text
}

/// A rollback's outcome for people; `agent` is already escaped.
fn rollback_text(agent: &str, r: &RollbackOutcome, all: bool) -> String {
    let mut text = format!(
        "{agent} rolled back to {}: {} restored, {} moved aside, {} unchanged\n",
        render::remote(&r.point),
        r.restored,
        r.moved_aside,
        r.unchanged
    );
    text.push_str(&paths_text(&r.changes, all));
    if r.kept > 0 {
        text.push_str(&format!("{} added directories stay: they hold excluded files\n", r.kept));
    }
    text.push_str(&format!(
        "moved-aside files are kept in point {}; undo with: tether restore undo {agent}\n",
        render::remote(&r.pre_rollback_point)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_text_marks_each_kind_and_counts_the_rest() {
        let d = RestoreDiff {
            point: "P1".into(),
            modified: vec!["/etc/hosts".into()],
            modified_what: vec!["content, mode".into()],
            added_since: vec!["/etc/new.conf".into()],
            removed_since: vec![],
            modified_count: 3,
            added_count: 1,
            removed_count: 0,
        };
        let text = diff_text(&d, false);
        assert!(text.starts_with("rolling back to P1 would restore 3 modified, recreate 0 removed and move aside 1 added paths\n"));
        assert!(
            text.contains("  M /etc/hosts (content, mode)\n  M … and 2 more\n  A /etc/new.conf\n"),
            "{text}"
        );
    }

    #[test]
    fn left_out_entries_are_listed_escaped_and_counted() {
        let mut point = RestorePoint {
            id: "P1".into(),
            created_unix: 0,
            label: None,
            kind: "manual".into(),
            keep: false,
            files: 1,
            total_bytes: 1,
            skipped: vec![],
            skipped_count: 0,
        };
        assert_eq!(skipped_text(&point), "");
        point.skipped = vec![
            "/home/a/\u{fffd}x: name is not UTF-8, not recorded".into(),
            "/home/a/evil\n\x1b[31mline: a FIFO, socket or device node, never recorded or touched"
                .into(),
        ];
        point.skipped_count = 5;
        let text = skipped_text(&point);
        assert!(text.contains("\n5 entries under the restore paths left out"), "{text}");
        assert!(text.contains("LEFT OUT: PATH AND REASON\n/home/a/\u{fffd}x: name is not UTF-8"));
        assert!(!text.contains('\x1b') && text.lines().count() == 6, "one line each:\n{text}");
        assert!(
            text.ends_with("… and 3 more (the point's summary file on the agent lists them all)\n")
        );
    }

    #[test]
    fn agent_paths_cannot_forge_lines_or_colour_the_terminal() {
        let d = RestoreDiff {
            point: "P\x1b[31m".into(),
            modified: vec!["/etc/\x1b]0;owned\x07name".into()],
            modified_what: vec!["content\x1b[2J".into()],
            added_since: vec!["/tmp/a\n  R /etc/shadow".into()],
            removed_since: vec![],
            modified_count: 1,
            added_count: 1,
            removed_count: 0,
        };
        let text = diff_text(&d, false);
        assert!(!text.contains('\x1b'), "{text:?}");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("  A /tmp/a\\n  R /etc/shadow\n"), "{text}");
    }

    #[test]
    fn a_large_change_is_a_summary_unless_all_is_asked() {
        let paths: Vec<String> = (0..3000).map(|i| format!("/srv/app/f{i}")).collect();
        let d = RestoreDiff {
            point: "P1".into(),
            modified: paths.clone(),
            modified_what: vec![],
            added_since: vec![],
            removed_since: vec![],
            modified_count: 3000,
            added_count: 0,
            removed_count: 0,
        };
        let short = diff_text(&d, false);
        assert_eq!(short.lines().count(), 1 + FIRST_PATHS + 2, "{short}");
        assert!(short.contains("  M … and 2990 more\n"), "{short}");
        assert!(short.contains("--all lists every path"), "{short}");
        let long = diff_text(&d, true);
        assert_eq!(long.lines().count(), 1 + 3000, "every path, no note");
    }

    #[test]
    fn a_rollback_without_an_answer_says_what_the_agent_will_do() {
        use tether_transport::TransportError;
        let lost = ClientError::Unreachable(TransportError::Timeout {
            target: "ws-042".into(),
            what: "waiting for the agent's reply",
            after: std::time::Duration::from_secs(70),
        });
        let line = tether_proto::text::error_line(interrupted(lost, "ws-042").as_ref());
        assert!(line.contains("it finishes or reverts it when it starts again"), "{line}");
        let refused = ClientError::Denied {
            target: "ws-042".into(),
            reply: tether_proto::ErrorReply::denied("rollback needs tier 3"),
        };
        let line = tether_proto::text::error_line(interrupted(refused, "ws-042").as_ref());
        assert!(!line.contains("starts again"), "an answer is not an interruption: {line}");
    }

    #[test]
    fn confirmation_needs_yes_without_a_terminal() {
        // cargo test runs without a terminal on stdin in CI; --yes always passes.
        assert!(confirm(true, "?").is_ok());
        if !std::io::stdin().is_terminal() {
            assert!(confirm(false, "?").unwrap_err().to_string().contains("--yes"));
        }
    }
}
