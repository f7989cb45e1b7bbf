//! What goes into a ticket's timeline as a technician works, without
//! extra typing: every host command run with a ticket attached (one-shot
//! with `--ticket N`, or in `tether connect --ticket N`) with its host,
//! outcome summary and ok/failed, the screenshots it took, and a session's
//! start and end. Recording never fails the command it records: a failure
//! is one warning line on stderr.

use std::time::Duration;

use tether_proto::text;

use crate::cli::GlobalArgs;
use crate::commands::Done;
use crate::tickets::Recorder;

/// The timeline of the ticket named by `--ticket`.
pub struct Timeline {
    recorder: Recorder,
}

impl Timeline {
    /// The timeline of `--ticket`, when it names one of our tickets (`N`
    /// or `T-N`); an external reference stays in the agent's audit log
    /// only. When the store cannot be opened or has no such ticket, that
    /// is a warning and the command runs unrecorded (the reference still
    /// reaches the agent's audit log).
    pub async fn for_flags(global: &GlobalArgs) -> Option<Timeline> {
        match Recorder::from_flags(global).await {
            Ok(recorder) => recorder.map(|recorder| Timeline { recorder }),
            Err(e) => {
                warn(Err(e));
                None
            }
        }
    }

    /// The ticket, as the status line shows it.
    pub fn ticket(&self) -> String {
        self.recorder.ticket().to_string()
    }

    /// For the session's own commands (note, escalate, resolve), whose
    /// failure to record is their failure.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Records `line` (its `--type` text left out) run on `host` with its
    /// result, and keeps a screenshot it wrote with the ticket.
    pub async fn command(&self, host: &str, line: &str, result: &anyhow::Result<Done>) {
        let line = redacted(line);
        let (summary, ok) = match result {
            Ok(done) => (done.summary.clone(), done.succeeded()),
            Err(e) => (format!("failed: {}", text::error_line(e.as_ref())), false),
        };
        warn(self.recorder.command(host, &line, &summary, ok).await);
        if let Ok(Done { screenshot: Some(shot), .. }) = result {
            warn(self.recorder.screenshot(host, &shot.name, &shot.png).await);
        }
    }

    pub async fn session_started(&self, host: &str, agent_session: &str) {
        warn(self.recorder.session_started(host, agent_session).await);
    }

    pub async fn session_ended(&self, host: &str, duration: Duration, commands: u32) {
        warn(self.recorder.session_ended(host, duration, commands).await);
    }
}

/// The one warning line for a record that could not be written.
fn warn(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("tether: warning: not recorded: {}", text::error_line(e.as_ref()));
    }
}

/// `line` as it may be kept in history and a ticket's timeline: the text
/// of `--type` is left out (it may be a password; the agent's audit log
/// records only counts, too).
pub fn redacted(line: &str) -> String {
    let Some(words) = shlex::split(line) else {
        return line.to_owned();
    };
    if !words.iter().any(|w| w == "--type" || w.starts_with("--type=")) {
        return line.to_owned();
    }
    let mut out = Vec::with_capacity(words.len());
    let mut hide_next = false;
    for word in words {
        if hide_next {
            out.push(format!("‹{} characters›", word.chars().count()));
            hide_next = false;
        } else if let Some(text) = word.strip_prefix("--type=") {
            out.push(format!("--type=‹{} characters›", text.chars().count()));
        } else {
            hide_next = word == "--type";
            out.push(word);
        }
    }
    shlex::try_join(out.iter().map(String::as_str)).unwrap_or_else(|_| out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_left_out_of_what_is_kept() {
        assert_eq!(
            redacted("input --type 'hunter 2' --keys enter"),
            "input --type '‹8 characters›' --keys enter"
        );
        assert_eq!(redacted("input --type=secret"), "input '--type=‹6 characters›'");
        assert_eq!(redacted("kill 42"), "kill 42");
    }
}
