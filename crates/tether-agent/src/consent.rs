//! The user's say over their screen: per capability (`view`, `control`)
//! the machine allows it unattended, asks the user, or refuses it; and a
//! notify command tells the user when someone starts and stops looking.
//!
//! Both commands are run directly (no shell) with the facts in environment
//! variables, never spliced into arguments, so a technician's name or a
//! ticket reference cannot inject anything:
//! `TETHER_EVENT` (`prompt`; `start` and `end` of a view stream; `once`
//! for a one-shot screenshot or input), `TETHER_CAPABILITY` (`view`,
//! `control`), `TETHER_TECHNICIAN`, `TETHER_ROLE`, `TETHER_TICKET`,
//! `TETHER_SESSION`, `TETHER_AGENT`. The prompt command allows with exit
//! status 0; any other status, a failure to start, or no answer within the
//! timeout denies.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;
use tracing::{debug, warn};

use crate::setting::SettingError;

/// How long a prompt waits for the user unless configured otherwise.
pub const DEFAULT_PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a notify command may run before it is killed.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the machine does when a capability is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consent {
    /// Unattended machines: no question asked.
    Allow,
    /// Ask the user with the prompt command.
    Prompt,
    /// Never.
    Deny,
}

/// A capability the user's consent governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Seeing the screen: view and screenshot.
    View,
    /// Mouse and keyboard.
    Control,
}

impl Capability {
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::View => "view",
            Capability::Control => "control",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[consent]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    view: Option<Consent>,
    control: Option<Consent>,
    #[serde(default)]
    prompt_command: Vec<String>,
    prompt_timeout_secs: Option<f64>,
    #[serde(default)]
    notify_command: Vec<String>,
}

/// Validated consent settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentSettings {
    pub view: Consent,
    pub control: Consent,
    /// Program and arguments; empty when no capability prompts.
    pub prompt_command: Vec<String>,
    pub prompt_timeout: Duration,
    /// Program and arguments run at the start and end of a view or
    /// control; empty: none.
    pub notify_command: Vec<String>,
}

impl Default for ConsentSettings {
    /// Unattended: technicians' tiers alone decide.
    fn default() -> Self {
        ConsentSettings {
            view: Consent::Allow,
            control: Consent::Allow,
            prompt_command: Vec::new(),
            prompt_timeout: DEFAULT_PROMPT_TIMEOUT,
            notify_command: Vec::new(),
        }
    }
}

impl ConsentSettings {
    pub fn from_raw(raw: RawConsent) -> Result<ConsentSettings, SettingError> {
        let d = ConsentSettings::default();
        let settings = ConsentSettings {
            view: raw.view.unwrap_or(d.view),
            control: raw.control.unwrap_or(d.control),
            prompt_timeout: match raw.prompt_timeout_secs {
                None => d.prompt_timeout,
                Some(s) if s.is_finite() && (1.0..=600.0).contains(&s) => {
                    Duration::from_secs_f64(s)
                }
                Some(s) => {
                    return Err(SettingError::value(
                        "consent.prompt_timeout_secs",
                        s,
                        "use 1 to 600",
                    ));
                }
            },
            prompt_command: raw.prompt_command,
            notify_command: raw.notify_command,
        };
        let prompts = settings.view == Consent::Prompt || settings.control == Consent::Prompt;
        if prompts && settings.prompt_command.is_empty() {
            return Err(SettingError::needs(
                "consent.prompt_command",
                "must name a program that exits 0 when the user agrees, since a capability is \"prompt\"",
            ));
        }
        for (name, command) in [
            ("prompt_command", &settings.prompt_command),
            ("notify_command", &settings.notify_command),
        ] {
            if command.first().is_some_and(|p| p.trim().is_empty()) {
                return Err(SettingError::needs(
                    format!("consent.{name}"),
                    "has an empty program name",
                ));
            }
        }
        Ok(settings)
    }

    pub fn policy(&self, capability: Capability) -> Consent {
        match capability {
            Capability::View => self.view,
            Capability::Control => self.control,
        }
    }

    /// One line for `check-config`.
    pub fn describe(&self) -> String {
        let word = |c: Consent| match c {
            Consent::Allow => "allow",
            Consent::Prompt => "prompt",
            Consent::Deny => "deny",
        };
        let mut line = format!("view {}, control {}", word(self.view), word(self.control));
        if !self.prompt_command.is_empty() {
            line.push_str(&format!(
                "; prompt {:?} ({} s)",
                self.prompt_command[0],
                self.prompt_timeout.as_secs_f64()
            ));
        }
        if !self.notify_command.is_empty() {
            line.push_str(&format!("; notify {:?}", self.notify_command[0]));
        }
        line
    }
}

/// Who asks, as the commands are told.
#[derive(Debug, Clone)]
pub struct Asker {
    pub technician: String,
    pub role: String,
    pub ticket: Option<String>,
    pub session: String,
    pub agent: String,
}

/// How consent was obtained, for the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ByPolicy,
    ByUser,
}

impl Grant {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Grant::ByPolicy => "allowed by policy",
            Grant::ByUser => "allowed by the user",
        }
    }
}

/// Why a capability was not granted; the message is for the technician.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("this machine's policy does not allow {0}")]
    ByPolicy(Capability),
    #[error("the user could not be asked for {0} (the prompt command failed to start)")]
    PromptDidNotStart(Capability),
    #[error("the user declined {0}")]
    Declined(Capability),
    #[error("the user could not be asked for {0}")]
    PromptFailed(Capability),
    #[error("the user did not answer the {capability} prompt within {secs} s")]
    NoAnswer { capability: Capability, secs: f64 },
}

/// Decides whether `capability` may go ahead, asking the user if the
/// policy says so.
pub async fn ask(
    settings: &ConsentSettings,
    capability: Capability,
    asker: &Asker,
) -> Result<Grant, Refused> {
    match settings.policy(capability) {
        Consent::Allow => Ok(Grant::ByPolicy),
        Consent::Deny => Err(Refused::ByPolicy(capability)),
        Consent::Prompt => {
            let mut command = command(&settings.prompt_command, asker, capability, "prompt");
            let mut child = command.spawn().map_err(|e| {
                warn!("consent prompt {:?} could not start: {e}", settings.prompt_command[0]);
                Refused::PromptDidNotStart(capability)
            })?;
            let answer = tokio::time::timeout(settings.prompt_timeout, child.wait()).await;
            if answer.is_ok() {
                // A wrapper that answered may have left its dialog behind.
                end_group(&mut child).await;
            }
            match answer {
                Ok(Ok(status)) if status.success() => Ok(Grant::ByUser),
                Ok(Ok(status)) => {
                    debug!("consent prompt answered {status}");
                    Err(Refused::Declined(capability))
                }
                Ok(Err(e)) => {
                    warn!("consent prompt failed: {e}");
                    Err(Refused::PromptFailed(capability))
                }
                Err(_) => {
                    end_group(&mut child).await;
                    Err(Refused::NoAnswer {
                        capability,
                        secs: settings.prompt_timeout.as_secs_f64(),
                    })
                }
            }
        }
    }
}

/// Runs the notify command, if any, without holding the caller up; a
/// failure is logged, never fatal.
pub fn notify(settings: &ConsentSettings, capability: Capability, asker: &Asker, event: &str) {
    if settings.notify_command.is_empty() {
        return;
    }
    let mut command = command(&settings.notify_command, asker, capability, event);
    match command.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                if tokio::time::timeout(NOTIFY_TIMEOUT, child.wait()).await.is_err() {
                    end_group(&mut child).await;
                    warn!("notify command still running after {NOTIFY_TIMEOUT:?}; killed");
                }
            });
        }
        Err(e) => warn!("notify command {:?} could not start: {e}", settings.notify_command[0]),
    }
}

fn command(argv: &[String], asker: &Asker, capability: Capability, event: &str) -> Command {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env("TETHER_EVENT", event)
        .env("TETHER_CAPABILITY", capability.as_str())
        .env("TETHER_TECHNICIAN", &asker.technician)
        .env("TETHER_ROLE", &asker.role)
        .env("TETHER_TICKET", asker.ticket.as_deref().unwrap_or(""))
        .env("TETHER_SESSION", &asker.session)
        .env("TETHER_AGENT", &asker.agent)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // Its own process group, so that ending it ends whatever it started
    // (a wrapper script's dialog must not outlive a timed-out prompt).
    #[cfg(unix)]
    command.process_group(0);
    command
}

/// Ends the command and everything in its process group, and reaps it.
async fn end_group(child: &mut tokio::process::Child) {
    // The group was created for this child by process_group(0), so it
    // holds nothing of ours.
    if let Some(pid) = child.id() {
        let _ = tether_os::signal::send_to_group(pid, tether_os::signal::Signal::Kill);
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Result<ConsentSettings, String> {
        ConsentSettings::from_raw(toml::from_str(toml_text).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    }

    fn asker() -> Asker {
        Asker {
            technician: "alice; rm -rf /".into(),
            role: "tier2".into(),
            ticket: Some("INC-1".into()),
            session: "s1".into(),
            agent: "pc-1".into(),
        }
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(settings("").unwrap(), ConsentSettings::default());
        assert!(settings("control = \"prompt\"").unwrap_err().contains("prompt_command"));
        assert!(settings("view = \"maybe\"").is_err());
        assert!(settings("prompt_timeout_secs = 0").unwrap_err().contains("1 to 600"));
        let s = settings("view = \"deny\"\ncontrol = \"prompt\"\nprompt_command = [\"/bin/true\"]")
            .unwrap();
        assert_eq!((s.view, s.control), (Consent::Deny, Consent::Prompt));
    }

    #[tokio::test]
    async fn prompt_answers_allow_deny_and_timeout() {
        let run = |script: &str, timeout: f64| {
            settings(&format!(
                "control = \"prompt\"\nprompt_command = [\"/bin/sh\", \"-c\", {script:?}]\nprompt_timeout_secs = {timeout}"
            ))
            .unwrap()
        };
        // The environment carries the facts; the name is not interpreted.
        let allow = run(
            "test \"$TETHER_TECHNICIAN\" = 'alice; rm -rf /' && test \"$TETHER_CAPABILITY\" = control",
            5.0,
        );
        assert_eq!(ask(&allow, Capability::Control, &asker()).await, Ok(Grant::ByUser));
        let deny = run("exit 1", 5.0);
        let why = ask(&deny, Capability::Control, &asker()).await.unwrap_err();
        assert_eq!(why, Refused::Declined(Capability::Control));
        let silent = run("sleep 30", 1.0);
        let why = ask(&silent, Capability::Control, &asker()).await.unwrap_err();
        assert_eq!(why.to_string(), "the user did not answer the control prompt within 1 s");
        // A wrapper's dialog (here a background sleep) goes with it.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("dialog.pid");
        let wrapper = run(&format!("sleep 30 & echo $! > {pidfile:?}; wait"), 1.0);
        let why = ask(&wrapper, Capability::Control, &asker()).await.unwrap_err();
        assert!(matches!(why, Refused::NoAnswer { .. }), "{why}");
        let dialog = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while running(&dialog) {
            assert!(std::time::Instant::now() < deadline, "the wrapper's dialog {dialog} lives on");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let missing =
            settings("control = \"prompt\"\nprompt_command = [\"/nonexistent/ask\"]").unwrap();
        let why = ask(&missing, Capability::Control, &asker()).await.unwrap_err();
        assert_eq!(why, Refused::PromptDidNotStart(Capability::Control));
        // View stays allowed by policy meanwhile.
        assert_eq!(ask(&missing, Capability::View, &asker()).await, Ok(Grant::ByPolicy));
    }

    /// Whether the process exists and is not a zombie waiting for init.
    fn running(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.contains(" Z ")))
    }
}
