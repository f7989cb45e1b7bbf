//! The snapper backend: restore points as btrfs snapshots managed by
//! snapper (`snapper -c CONFIG …`), behind the same operations as the
//! file-set engine.
//!
//! - create: `create --print-number`, the kind in userdata `tether=…`;
//!   `--keep` points get no cleanup algorithm (snapper never prunes them).
//! - list: `--utc --iso --jsonout list`.
//! - diff: `status N..0` (what changed from snapshot N to the live system).
//! - rollback: a pre-rollback snapshot first, then `undochange N..0`; undo
//!   runs `undochange PRE..0`.
//! - verify: snapper keeps no checksums; it only checks snapper answers.
//!
//! snapper's undochange is not journaled like the file-set engine's
//! rollback; what a crash in the middle leaves is up to snapper. Tested
//! here against a scripted stand-in for snapper only: no btrfs on the
//! development machines.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::backend::Backend;
use crate::error::RestoreError;
use crate::fsutil;
use crate::manifest::{PointDetail, PointKind, PointSummary};
use crate::plan::Diff;
use crate::points::valid_id;
use crate::report::{Counts, LastRollback, RollbackReport, VerifyReport};

/// Restore points kept by snapper.
#[derive(Debug)]
pub struct Snapper {
    program: PathBuf,
    config: String,
    last_path: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Snapshot {
    number: u64,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    cleanup: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    userdata: Option<std::collections::BTreeMap<String, String>>,
}

impl Snapper {
    /// Checks that snapper answers for `config` before the agent relies on it.
    pub fn open(
        program: PathBuf,
        config: String,
        state_dir: PathBuf,
    ) -> Result<Snapper, RestoreError> {
        fsutil::create_private_dir(&state_dir)?;
        let snapper = Snapper { program, config, last_path: state_dir.join("last-rollback.json") };
        snapper.snapshots()?;
        Ok(snapper)
    }

    fn run(&self, args: &[&str]) -> Result<String, RestoreError> {
        let output = Command::new(&self.program)
            .args(["--no-dbus", "--utc", "--iso", "-c", &self.config])
            .args(args)
            .output()
            .map_err(|e| {
                RestoreError::Backend(format!("cannot run {}: {e}", self.program.display()))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            return Err(RestoreError::Backend(format!(
                "snapper {} failed: {why}",
                args.first().unwrap_or(&"")
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>, RestoreError> {
        let json = self.run(&["--jsonout", "list", "--disable-used-space"])?;
        parse_list(&json, &self.config)
    }

    /// The snapshot `id` names (one `snapper list`).
    fn snapshot(&self, id: &str) -> Result<Snapshot, RestoreError> {
        let n: u64 = id.parse().map_err(|_| RestoreError::NoSuchPoint(id.to_owned()))?;
        self.snapshots()?
            .into_iter()
            .find(|s| s.number == n && n != 0)
            .ok_or_else(|| RestoreError::NoSuchPoint(id.to_owned()))
    }

    /// What changed from snapshot `n` to the live system.
    fn status(&self, n: u64) -> Result<Diff, RestoreError> {
        Ok(parse_status(&self.run(&["status", &format!("{n}..0")])?))
    }
}

/// Parses `snapper --jsonout list` for one config; snapshot 0 (the live
/// system) is left out.
fn parse_list(json: &str, config: &str) -> Result<Vec<Snapshot>, RestoreError> {
    let mut all: std::collections::BTreeMap<String, Vec<Snapshot>> = serde_json::from_str(json)
        .map_err(|e| RestoreError::Backend(format!("unexpected `snapper list` output: {e}")))?;
    let mut list = all.remove(config).unwrap_or_default();
    list.retain(|s| s.number != 0);
    Ok(list)
}

fn summary(s: &Snapshot) -> PointSummary {
    let tag = s.userdata.as_ref().and_then(|u| u.get("tether")).map(String::as_str);
    let kind = match tag {
        Some("manual") => PointKind::Manual,
        Some("pre-rollback") => PointKind::PreRollback,
        // Timeline, zypper/apt pre/post and tether's scheduled points.
        _ => PointKind::Automatic,
    };
    let created = PrimitiveDateTime::parse(
        &s.date,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .map(|t| t.assume_utc().unix_timestamp().max(0) as u64)
    .unwrap_or(0);
    let label = if s.description.is_empty() { None } else { Some(s.description.clone()) };
    PointSummary {
        id: s.number.to_string(),
        seq: s.number,
        created_unix: created,
        label: label.or_else(|| (s.kind != "single").then(|| format!("snapper {}", s.kind))),
        kind,
        keep: s.cleanup.is_empty(),
        files: 0,
        entries: 0,
        total_bytes: 0,
        skipped: Vec::new(),
    }
}

/// Parses `snapper status N..0`: one line per path, a change code then the
/// path (`+` created since, `-` deleted since, anything else modified).
fn parse_status(text: &str) -> Diff {
    let mut diff = Diff::default();
    for line in text.lines() {
        let Some((code, path)) = line.split_once(' ') else { continue };
        let path = path.trim_start().to_owned();
        if code.is_empty() || path.is_empty() {
            continue;
        }
        match code.as_bytes()[0] {
            b'+' => diff.added_since.push(path),
            b'-' => diff.removed_since.push(path),
            _ => {
                diff.modified.push(path);
                diff.modified_what.push("changed".into());
            }
        }
    }
    diff
}

impl Backend for Snapper {
    fn name(&self) -> &'static str {
        "snapper"
    }

    fn list(&self) -> Result<Vec<PointSummary>, RestoreError> {
        Ok(self.snapshots()?.iter().map(summary).collect())
    }

    fn show(&self, id: &str) -> Result<PointDetail, RestoreError> {
        // snapper does not list a snapshot's files; `diff` shows changes.
        Ok(PointDetail { summary: summary(&self.snapshot(id)?), entries: Vec::new() })
    }

    fn diff(&self, id: &str) -> Result<Diff, RestoreError> {
        self.status(self.snapshot(id)?.number)
    }

    fn create(
        &self,
        label: Option<&str>,
        keep: bool,
        kind: PointKind,
    ) -> Result<PointSummary, RestoreError> {
        let userdata = format!("tether={}", kind.as_str());
        let description = label.unwrap_or("tether restore point");
        let mut args =
            vec!["create", "--print-number", "--description", description, "--userdata", &userdata];
        if !keep {
            args.extend(["--cleanup-algorithm", "number"]);
        }
        let out = self.run(&args)?;
        let id = out.trim().to_owned();
        if !valid_id(&id) {
            return Err(RestoreError::Backend(format!(
                "snapper create printed {id:?}, not a number"
            )));
        }
        self.list()?.into_iter().find(|p| p.id == id).ok_or(RestoreError::NoSuchPoint(id))
    }

    fn rollback(&self, id: &str) -> Result<RollbackReport, RestoreError> {
        let n = self.snapshot(id)?.number;
        let changes = self.status(n)?;
        let pre =
            self.create(Some(&format!("before rollback to {id}")), false, PointKind::PreRollback)?;
        self.run(&["undochange", &format!("{n}..0")])?;
        LastRollback { point: id.to_owned(), pre_point: pre.id.clone() }.write(&self.last_path)?;
        let counts = Counts {
            restored: (changes.modified.len() + changes.removed_since.len()) as u64,
            moved_aside: changes.added_since.len() as u64,
            kept: 0,
            unchanged: 0,
            skipped: 0,
        };
        Ok(RollbackReport {
            point: id.to_owned(),
            pre_rollback_point: pre.id,
            counts,
            changes,
            skipped: Vec::new(),
        })
    }

    fn undo(&self) -> Result<RollbackReport, RestoreError> {
        let last = LastRollback::read(&self.last_path)?;
        match self.snapshot(&last.pre_point) {
            Err(RestoreError::NoSuchPoint(id)) => Err(RestoreError::UndoPointGone(id)),
            Err(e) => Err(e),
            Ok(_) => self.rollback(&last.pre_point),
        }
    }

    fn delete(&self, id: &str) -> Result<(), RestoreError> {
        let n = self.snapshot(id)?.number;
        self.run(&["delete", &n.to_string()]).map(drop)
    }

    fn verify(&self) -> Result<VerifyReport, RestoreError> {
        // snapper keeps no checksums: btrfs checks its own (scrub).
        let points = self.snapshots()?.len() as u64;
        Ok(VerifyReport { points, ..VerifyReport::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{
      "root": [
        {"subvolume": "/", "number": 0, "default": false, "active": false, "type": "single",
         "pre-number": null, "date": "", "user": "root", "cleanup": "", "description": "current", "userdata": null},
        {"subvolume": "/", "number": 7, "default": false, "active": false, "type": "single",
         "pre-number": null, "date": "2026-11-23 10:15:00", "user": "root", "cleanup": "number",
         "description": "before update", "userdata": {"tether": "manual"}},
        {"subvolume": "/", "number": 8, "default": false, "active": false, "type": "pre",
         "pre-number": null, "date": "2026-11-23 11:00:00", "user": "root", "cleanup": "number",
         "description": "", "userdata": {"important": "no"}}
      ]
    }"#;

    #[test]
    fn list_output_becomes_points() {
        let points: Vec<PointSummary> =
            parse_list(LIST, "root").unwrap().iter().map(summary).collect();
        assert_eq!(points.len(), 2, "snapshot 0 is the live system");
        assert_eq!(points[0].id, "7");
        assert_eq!(points[0].kind, PointKind::Manual);
        assert_eq!(points[0].label.as_deref(), Some("before update"));
        assert_eq!(points[0].created_unix, 1_795_428_900);
        assert!(!points[0].keep);
        assert_eq!(points[1].kind, PointKind::Automatic);
        assert_eq!(points[1].label.as_deref(), Some("snapper pre"));
        assert!(parse_list(LIST, "home").unwrap().is_empty());
        assert!(parse_list("not json", "root").is_err());
    }

    #[test]
    fn status_output_becomes_a_diff() {
        let diff = parse_status(
            "c..... /etc/hosts\n+..... /etc/new.conf\n-..... /etc/old.conf\n....x. /etc/attr\n\n",
        );
        assert_eq!(diff.modified, ["/etc/hosts", "/etc/attr"]);
        assert_eq!(diff.added_since, ["/etc/new.conf"]);
        assert_eq!(diff.removed_since, ["/etc/old.conf"]);
    }

    #[test]
    fn paths_with_spaces_survive() {
        let diff = parse_status("c..... /home/a/My Documents/x.txt\n");
        assert_eq!(diff.modified, ["/home/a/My Documents/x.txt"]);
    }
}
