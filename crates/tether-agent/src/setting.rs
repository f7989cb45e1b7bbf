//! What a configuration gets wrong, setting by setting: the error every
//! `[table]` validator returns, which `config` names the file around.

/// One unusable setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A value outside what the agent accepts: `key = value: accepted`.
    #[error("{key} = {value}: {accepted}")]
    Value { key: String, value: String, accepted: String },
    /// A setting that must be given, or given in another form: `key need`.
    #[error("{key} {need}")]
    Needs { key: String, need: String },
    /// Settings that contradict each other: `key conflict`.
    #[error("{key} {conflict}")]
    Conflict { key: String, conflict: String },
}

impl SettingError {
    /// `key = value` is not accepted; `accepted` says what is.
    pub fn value(
        key: impl Into<String>,
        value: impl ToString,
        accepted: impl Into<String>,
    ) -> Self {
        SettingError::Value { key: key.into(), value: value.to_string(), accepted: accepted.into() }
    }

    /// `key` needs something it lacks.
    pub fn needs(key: impl Into<String>, need: impl Into<String>) -> Self {
        SettingError::Needs { key: key.into(), need: need.into() }
    }

    /// `key` contradicts another setting.
    pub fn conflict(key: impl Into<String>, conflict: impl Into<String>) -> Self {
        SettingError::Conflict { key: key.into(), conflict: conflict.into() }
    }

    /// The setting in question, as written in the file (`limits.max_views`).
    pub fn key(&self) -> &str {
        match self {
            SettingError::Value { key, .. }
            | SettingError::Needs { key, .. }
            | SettingError::Conflict { key, .. } => key,
        }
    }
}
