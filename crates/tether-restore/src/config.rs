//! Which paths restore points cover, and how much the store may keep.

#![forbid(unsafe_code)]

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::RestoreError;

/// Default number of points kept, not counting those marked keep.
pub const DEFAULT_KEEP_COUNT: usize = 20;
/// Default ceiling on the store's size on disk.
pub const DEFAULT_MAX_STORE_BYTES: u64 = 2 << 30;
/// Default depth below a root past which a scan records nothing (and
/// reports what it left out). Deep enough for any real tree, shallow
/// enough that a hostile one costs little.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// The engine's configuration (the agent's `[restore]` table).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Where the store, the points and the journal live (mode 0700: the
    /// store holds copies of whatever the paths hold, /etc/shadow included).
    pub state_dir: PathBuf,
    /// Absolute roots recorded by every point. Must not nest.
    pub paths: Vec<PathBuf>,
    /// Globs matched against absolute paths; a matching directory is left
    /// out with everything under it. Excluded paths are never touched by a
    /// rollback.
    pub exclude: Vec<String>,
    /// Points kept, not counting those marked keep; the oldest automatic
    /// ones go first.
    pub keep_count: usize,
    /// Ceiling on the store's size on disk, enforced the same way.
    pub max_store_bytes: u64,
    /// Directories this deep below a root are recorded, their content is
    /// not (it is listed in the point's `skipped`). The scan holds one
    /// descriptor per level; a level it cannot open (the process's
    /// descriptor limit) is reported as skipped the same way.
    pub max_depth: usize,
    /// Paths that are always left out, whatever `paths` and `exclude` say:
    /// the agent's audit log and its state. A point never records them and
    /// a rollback never touches them ([`StoreConfig::protected_inside`]
    /// tells `check-config` which of them the roots would have covered).
    /// The state directory is always protected too.
    pub protected: Vec<PathBuf>,
}

impl StoreConfig {
    pub fn new(state_dir: impl Into<PathBuf>, paths: Vec<PathBuf>) -> StoreConfig {
        StoreConfig {
            state_dir: state_dir.into(),
            paths,
            exclude: Vec::new(),
            keep_count: DEFAULT_KEEP_COUNT,
            max_store_bytes: DEFAULT_MAX_STORE_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            protected: Vec::new(),
        }
    }

    /// The protected paths (the state directory included) that lie inside
    /// a configured root: points leave them out, which the administrator
    /// should know.
    pub fn protected_inside(&self) -> Vec<PathBuf> {
        let mut inside: Vec<PathBuf> = std::iter::once(&self.state_dir)
            .chain(&self.protected)
            .filter(|p| self.paths.iter().any(|root| p.starts_with(root)))
            .cloned()
            .collect();
        inside.dedup();
        inside
    }
}

/// The validated path selection: roots, exclusions, and the state
/// directory, which is always left out.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub roots: Vec<PathBuf>,
    excludes: GlobSet,
    /// The state directory and the configured protected paths.
    protected: Vec<PathBuf>,
    pub max_depth: usize,
}

impl Selection {
    pub fn new(config: &StoreConfig) -> Result<Selection, RestoreError> {
        if !config.state_dir.is_absolute() {
            return Err(RestoreError::Config(format!(
                "state_dir {} must be an absolute path",
                config.state_dir.display()
            )));
        }
        if config.paths.is_empty() {
            return Err(RestoreError::Config("no paths configured for restore points".into()));
        }
        let mut roots = Vec::new();
        for path in &config.paths {
            if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(RestoreError::Config(format!(
                    "restore path {} must be absolute, without `..`",
                    path.display()
                )));
            }
            if path.to_str().is_none() {
                return Err(RestoreError::Config(format!(
                    "restore path {} is not UTF-8",
                    path.display()
                )));
            }
            if path.parent().is_none() {
                return Err(RestoreError::Config(
                    "the whole filesystem (/) cannot be a restore path".into(),
                ));
            }
            let path: PathBuf = path.components().collect();
            if config.state_dir.starts_with(&path) && config.state_dir != path {
                // Fine: the state directory is excluded below.
            } else if path.starts_with(&config.state_dir) {
                return Err(RestoreError::Config(format!(
                    "restore path {} is inside the state directory",
                    path.display()
                )));
            }
            roots.push(path);
        }
        roots.sort();
        roots.dedup();
        for pair in roots.windows(2) {
            if pair[1].starts_with(&pair[0]) {
                return Err(RestoreError::Config(format!(
                    "restore paths {} and {} overlap; keep only the outer one",
                    pair[0].display(),
                    pair[1].display()
                )));
            }
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in &config.exclude {
            let glob = Glob::new(pattern)
                .map_err(|e| RestoreError::Config(format!("exclude pattern {pattern:?}: {e}")))?;
            builder.add(glob);
        }
        let excludes =
            builder.build().map_err(|e| RestoreError::Config(format!("exclude patterns: {e}")))?;
        let mut protected = vec![config.state_dir.clone()];
        for path in &config.protected {
            if !path.is_absolute() {
                return Err(RestoreError::Config(format!(
                    "protected path {} must be absolute",
                    path.display()
                )));
            }
            protected.push(path.components().collect());
        }
        Ok(Selection { roots, excludes, protected, max_depth: config.max_depth })
    }

    /// True for paths points leave out (and rollbacks never touch).
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.protected.iter().any(|p| path.starts_with(p)) || self.excludes.is_match(path)
    }
}

// Unix only: the cases are written with Unix absolute paths.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn config(paths: &[&str], exclude: &[&str]) -> StoreConfig {
        let mut c =
            StoreConfig::new("/var/lib/tether/restore", paths.iter().map(PathBuf::from).collect());
        c.exclude = exclude.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn roots_must_be_absolute_and_disjoint() {
        assert!(Selection::new(&config(&["/etc", "/opt/app"], &[])).is_ok());
        for bad in [&["etc"][..], &["/etc", "/etc/ssh"], &["/"], &["/etc/../root"], &[]] {
            assert!(Selection::new(&config(bad, &[])).is_err(), "{bad:?}");
        }
        assert!(Selection::new(&config(&["/var/lib/tether/restore/x"], &[])).is_err());
    }

    #[test]
    fn exclusions_match_globs_and_the_state_dir() {
        let s = Selection::new(&config(
            &["/etc", "/var"],
            &["**/*.swp", "/etc/cache/**", "/etc/cache"],
        ))
        .unwrap();
        assert!(s.is_excluded(Path::new("/etc/x/.a.swp")));
        assert!(s.is_excluded(Path::new("/etc/cache")));
        assert!(s.is_excluded(Path::new("/var/lib/tether/restore/objects")));
        assert!(!s.is_excluded(Path::new("/etc/passwd")));
        assert!(Selection::new(&config(&["/etc"], &["a{"])).is_err());
    }

    #[test]
    fn protected_paths_are_always_excluded_and_reported() {
        let mut c = config(&["/var/log", "/etc"], &[]);
        c.protected = vec!["/var/log/tether/audit.jsonl".into(), "/srv/elsewhere".into()];
        let s = Selection::new(&c).unwrap();
        assert!(s.is_excluded(Path::new("/var/log/tether/audit.jsonl")));
        assert!(!s.is_excluded(Path::new("/var/log/tether/other.log")));
        assert_eq!(c.protected_inside(), [PathBuf::from("/var/log/tether/audit.jsonl")]);
        c.protected = vec!["relative".into()];
        assert!(Selection::new(&c).is_err());
    }
}
