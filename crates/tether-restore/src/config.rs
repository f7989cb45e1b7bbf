//! Which paths restore points cover, and how much the store may keep.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::RestoreError;

/// Default number of points kept, not counting those marked keep.
pub const DEFAULT_KEEP_COUNT: usize = 20;
/// Default ceiling on the store's size on disk.
pub const DEFAULT_MAX_STORE_BYTES: u64 = 2 << 30;

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
}

impl StoreConfig {
    pub fn new(state_dir: impl Into<PathBuf>, paths: Vec<PathBuf>) -> StoreConfig {
        StoreConfig {
            state_dir: state_dir.into(),
            paths,
            exclude: Vec::new(),
            keep_count: DEFAULT_KEEP_COUNT,
            max_store_bytes: DEFAULT_MAX_STORE_BYTES,
        }
    }
}

/// The validated path selection: roots, exclusions, and the state
/// directory, which is always left out.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub roots: Vec<PathBuf>,
    excludes: GlobSet,
    state_dir: PathBuf,
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
        Ok(Selection { roots, excludes, state_dir: config.state_dir.clone() })
    }

    /// True for paths points leave out (and rollbacks never touch).
    pub fn is_excluded(&self, path: &Path) -> bool {
        path.starts_with(&self.state_dir) || self.excludes.is_match(path)
    }
}

#[cfg(test)]
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
}
