//! Where a user's programs keep their files, from the environment: the
//! per-user configuration and data directories. Unix follows the XDG base
//! directory spec (`$XDG_CONFIG_HOME`, else `~/.config`; `$XDG_DATA_HOME`,
//! else `~/.local/share`; a relative value is ignored, as the spec says);
//! Windows uses the known folders' variables, `%APPDATA%` for settings
//! that roam with the user and `%LOCALAPPDATA%` for this machine's data.

use std::path::PathBuf;

/// The user's configuration directory (`None` when the environment names
/// none).
pub fn config_home() -> Option<PathBuf> {
    if cfg!(windows) {
        absolute("APPDATA")
    } else {
        absolute("XDG_CONFIG_HOME").or_else(|| home_join(".config"))
    }
}

/// The user's data directory (`None` when the environment names none).
pub fn data_home() -> Option<PathBuf> {
    if cfg!(windows) {
        absolute("LOCALAPPDATA")
    } else {
        absolute("XDG_DATA_HOME").or_else(|| home_join(".local/share"))
    }
}

fn absolute(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// `$HOME/<rest>`, for a non-empty `$HOME`.
fn home_join(rest: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(rest))
}
