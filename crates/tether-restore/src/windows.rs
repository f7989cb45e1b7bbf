//! Windows System Restore behind the restore operations.
//!
//! UNVERIFIED: written for Windows and never built or run on this
//! project's Linux machines. It drives PowerShell's `Checkpoint-Computer`,
//! `Get-ComputerRestorePoint` and `Restore-Computer`.
//!
//! Windows creates at most one restore point per 24 hours unless the
//! `SystemRestorePointCreationFrequency` registry value says otherwise;
//! `Checkpoint-Computer` then only writes a warning. That warning is
//! caught and reported as [`RestoreError::Throttled`], never skipped.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use crate::backend::Backend;
use crate::error::RestoreError;
use crate::manifest::{PointDetail, PointKind, PointSummary};
use crate::plan::Diff;
use crate::report::{Counts, LastRollback, RollbackReport, VerifyReport};

#[derive(Debug)]
pub struct SystemRestore {
    last_path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestorePointRow {
    sequence_number: u64,
    description: String,
    /// Seconds since the Unix epoch, converted by the script below.
    created_unix: u64,
}

/// Quotes a string for a single-quoted PowerShell literal.
fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn powershell(script: &str) -> Result<String, RestoreError> {
    let output = Command::new("powershell.exe")
        .args(["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", script])
        .output()
        .map_err(|e| RestoreError::Backend(format!("cannot run PowerShell: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(RestoreError::Backend(format!("System Restore: {why}")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl SystemRestore {
    pub fn open(state_dir: PathBuf) -> Result<SystemRestore, RestoreError> {
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            RestoreError::Backend(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        let me = SystemRestore { last_path: state_dir.join("last-rollback.json") };
        me.rows()?;
        Ok(me)
    }

    fn rows(&self) -> Result<Vec<RestorePointRow>, RestoreError> {
        let script = "@(Get-ComputerRestorePoint | ForEach-Object { [pscustomobject]@{ \
            SequenceNumber = $_.SequenceNumber; Description = $_.Description; \
            CreatedUnix = [int64](([Management.ManagementDateTimeConverter]::ToDateTime($_.CreationTime)).ToUniversalTime() - [datetime]'1970-01-01').TotalSeconds } }) \
            | ConvertTo-Json -Compress";
        let out = powershell(script)?;
        let out = out.trim();
        if out.is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_str(out)
            .map_err(|e| RestoreError::Backend(format!("unexpected restore point list: {e}")))
    }

    fn summary(row: &RestorePointRow) -> PointSummary {
        let kind = if row.description.starts_with("tether: before rollback") {
            PointKind::PreRollback
        } else if row.description.starts_with("tether:") {
            PointKind::Manual
        } else {
            PointKind::Automatic
        };
        PointSummary {
            id: row.sequence_number.to_string(),
            seq: row.sequence_number,
            created_unix: row.created_unix,
            label: Some(row.description.clone()),
            kind,
            keep: false,
            files: 0,
            entries: 0,
            total_bytes: 0,
            skipped: Vec::new(),
        }
    }

    fn find(&self, id: &str) -> Result<PointSummary, RestoreError> {
        self.list()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| RestoreError::NoSuchPoint(id.to_owned()))
    }
}

impl Backend for SystemRestore {
    fn name(&self) -> &'static str {
        "windows"
    }

    fn list(&self) -> Result<Vec<PointSummary>, RestoreError> {
        Ok(self.rows()?.iter().map(SystemRestore::summary).collect())
    }

    fn show(&self, id: &str) -> Result<PointDetail, RestoreError> {
        Ok(PointDetail { summary: self.find(id)?, entries: Vec::new() })
    }

    fn diff(&self, id: &str) -> Result<Diff, RestoreError> {
        self.find(id)?;
        Err(RestoreError::Backend(
            "Windows System Restore cannot tell which files a rollback would change".into(),
        ))
    }

    fn create(
        &self,
        label: Option<&str>,
        _keep: bool,
        _kind: PointKind,
    ) -> Result<PointSummary, RestoreError> {
        let description = format!("tether: {}", label.unwrap_or("restore point"));
        let before: Vec<u64> = self.rows()?.iter().map(|r| r.sequence_number).collect();
        let script = format!(
            "Checkpoint-Computer -Description {} -RestorePointType MODIFY_SETTINGS \
             -WarningAction SilentlyContinue -WarningVariable w; if ($w) {{ 'THROTTLED: ' + ($w -join ' ') }}",
            ps_quote(&description)
        );
        let out = powershell(&script)?;
        if let Some(warning) = out.lines().find_map(|l| l.strip_prefix("THROTTLED: ")) {
            return Err(RestoreError::Throttled(format!(
                "Windows did not create a restore point: {warning} (at most one per 24 hours unless \
                 SystemRestorePointCreationFrequency is changed)"
            )));
        }
        self.list()?.into_iter().find(|p| !before.contains(&p.seq)).ok_or_else(|| {
            RestoreError::Backend(
                "Checkpoint-Computer reported success but no new point appeared".into(),
            )
        })
    }

    fn rollback(&self, id: &str) -> Result<RollbackReport, RestoreError> {
        self.find(id)?;
        // Windows itself takes a point before restoring; take ours so undo
        // has a known target, and fail loudly if throttled.
        let pre =
            self.create(Some(&format!("before rollback to {id}")), false, PointKind::PreRollback)?;
        LastRollback { point: id.to_owned(), pre_point: pre.id.clone() }.write(&self.last_path)?;
        // Restore-Computer restarts the machine to apply the point.
        powershell(&format!("Restore-Computer -RestorePoint {id} -Confirm:$false"))?;
        Ok(RollbackReport {
            point: id.to_owned(),
            pre_rollback_point: pre.id,
            counts: Counts::default(),
            changes: Diff::default(),
            skipped: Vec::new(),
        })
    }

    fn undo(&self) -> Result<RollbackReport, RestoreError> {
        let last = LastRollback::read(&self.last_path)?;
        self.rollback(&last.pre_point)
    }

    fn delete(&self, _id: &str) -> Result<(), RestoreError> {
        Err(RestoreError::Backend(
            "Windows System Restore cannot delete single restore points".into(),
        ))
    }

    fn verify(&self) -> Result<VerifyReport, RestoreError> {
        Ok(VerifyReport { points: self.rows()?.len() as u64, ..VerifyReport::default() })
    }
}
