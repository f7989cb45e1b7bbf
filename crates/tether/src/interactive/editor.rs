//! The line editor (rustyline, which is synchronous) on its own thread:
//! it prints the status line and prompt when the session asks, and sends
//! back each line typed. Completion of command names, flags, PIDs and
//! restore point ids; history in a 0600 file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};
use tokio::sync::mpsc;

use super::line;

/// How long the first TAB after the start waits for the agent's process
/// list (one `ps` sample takes 250 ms).
const FIRST_LIST_WAIT: Duration = Duration::from_secs(3);

/// What completion offers beyond the grammar, refreshed from the agent.
#[derive(Debug, Default)]
pub struct Suggestions {
    /// PID, name and command line of the agent's processes.
    pub processes: Vec<(u32, String, String)>,
    /// Restore point ids.
    pub points: Vec<String>,
    /// Whether a first refresh finished (or failed).
    pub loaded: bool,
}

/// The suggestions, shared with the session's refresher.
pub type SharedSuggestions = Arc<Mutex<Suggestions>>;

pub fn lock(shared: &SharedSuggestions) -> MutexGuard<'_, Suggestions> {
    // Replacing whole vectors cannot be left half-done by a panic.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the editor sends the session.
#[derive(Debug)]
pub enum Typed {
    Line(String),
    /// Ctrl-D, or the end of piped input.
    End,
    Failed(String),
}

/// The session's request for the next line: the status line to print
/// first (on a terminal).
pub struct Ask {
    pub status: Option<String>,
}

/// The editor thread's two ends.
pub struct EditorThread {
    pub ask: std::sync::mpsc::Sender<Ask>,
    pub typed: mpsc::UnboundedReceiver<Typed>,
    pub thread: std::thread::JoinHandle<()>,
}

/// `$XDG_DATA_HOME/tether/history`, else `~/.local/share/tether/history`
/// (on Windows `%LOCALAPPDATA%\tether\history`).
pub fn history_path() -> Option<PathBuf> {
    Some(tether_os::dirs::data_home()?.join("tether").join("history"))
}

/// Creates the history file private (0600, its directory 0700; on Windows
/// an ACL for the owner, SYSTEM and Administrators) when missing.
fn prepare_history(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        tether_os::files::create_private_dir_all(dir)?;
    }
    tether_os::files::Create::new(0o600).append().open(path)?;
    Ok(())
}

/// Starts the editor thread with `prompt`.
pub fn spawn(
    grammar: clap::Command,
    suggestions: SharedSuggestions,
    prompt: String,
) -> anyhow::Result<EditorThread> {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(2000)
        .context("history size")?
        .build();
    let mut editor: Editor<SessionHelper, DefaultHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    editor.set_helper(Some(SessionHelper { grammar, suggestions }));
    let history = history_path();
    if let Some(path) = &history {
        match prepare_history(path) {
            Ok(()) => {
                let _ = editor.load_history(path);
            }
            Err(e) => eprintln!("warning: history {} not kept: {e}", path.display()),
        }
    }
    let (ask_tx, ask_rx) = std::sync::mpsc::channel::<Ask>();
    let (typed_tx, typed_rx) = mpsc::unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("line-editor".into())
        .spawn(move || {
            while let Ok(ask) = ask_rx.recv() {
                if let Some(status) = ask.status {
                    println!("{status}");
                }
                let typed = loop {
                    match editor.readline(&prompt) {
                        Ok(text) => break Typed::Line(text),
                        // Ctrl-C at the prompt clears the line, as in a shell.
                        Err(ReadlineError::Interrupted) => continue,
                        Err(ReadlineError::Eof) => break Typed::End,
                        Err(e) => break Typed::Failed(e.to_string()),
                    }
                };
                if let (Typed::Line(text), Some(path)) = (&typed, &history)
                    && !text.trim().is_empty()
                {
                    let _ = editor.add_history_entry(crate::timeline::redacted(text));
                    let _ = editor.append_history(path);
                }
                let end = !matches!(typed, Typed::Line(_));
                if typed_tx.send(typed).is_err() || end {
                    break;
                }
            }
        })
        .context("cannot start the line editor thread")?;
    Ok(EditorThread { ask: ask_tx, typed: typed_rx, thread })
}

struct SessionHelper {
    grammar: clap::Command,
    suggestions: SharedSuggestions,
}

impl SessionHelper {
    fn candidates(&self, before: &[&str], word: &str) -> Vec<Pair> {
        let plain = |s: &str| Pair { display: s.to_owned(), replacement: s.to_owned() };
        let names = |command: &clap::Command| -> Vec<Pair> {
            command
                .get_subcommands()
                .flat_map(|s| std::iter::once(s.get_name()).chain(s.get_all_aliases()))
                .filter(|n| n.starts_with(word))
                .map(|n| Pair { display: n.to_owned(), replacement: format!("{n} ") })
                .collect()
        };
        match before {
            [] => return names(&self.grammar),
            ["help"] => {
                return names(&self.grammar).into_iter().filter(|p| p.display != "help").collect();
            }
            ["restore"] if !word.starts_with('-') => {
                if let Some(restore) = self.grammar.find_subcommand("restore") {
                    return names(restore);
                }
            }
            _ => {}
        }
        if word.starts_with('-') {
            let path: Vec<&str> = before.iter().copied().filter(|w| !w.starts_with('-')).collect();
            return line::flags_of(&self.grammar, &path)
                .iter()
                .filter(|f| f.starts_with(word))
                .map(|f| plain(f))
                .collect();
        }
        match before {
            ["kill", ..] => self.pids(word),
            ["restore", "show" | "diff" | "rollback" | "delete", ..] => {
                let shared = self.wait_loaded();
                // An id goes into the edited line as it is: only plain ones
                // are offered, so the agent cannot put control characters
                // on the terminal through completion.
                let plain_id = |id: &&String| {
                    id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
                };
                let points = shared.points.iter().filter(plain_id);
                points.filter(|p| p.starts_with(word)).map(|p| plain(p)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// PIDs starting with `word`, or of processes whose name or program
    /// starts with it ("kill fire<TAB>").
    fn pids(&self, word: &str) -> Vec<Pair> {
        let shared = self.wait_loaded();
        let program = |command: &str| {
            let first = command.split_whitespace().next().unwrap_or("");
            first.rsplit('/').next().unwrap_or("").to_owned()
        };
        shared
            .processes
            .iter()
            .filter(|(pid, name, command)| {
                let by_pid =
                    word.chars().all(|c| c.is_ascii_digit()) && pid.to_string().starts_with(word);
                let by_name = !word.is_empty()
                    && !word.starts_with(|c: char| c.is_ascii_digit())
                    && (name.starts_with(word) || program(command).starts_with(word));
                by_pid || by_name
            })
            .map(|(pid, name, command)| Pair {
                display: tether_proto::text::escape(&format!("{pid} {name} {command}"))
                    .chars()
                    .take(70)
                    .collect(),
                replacement: format!("{pid} "),
            })
            .collect()
    }

    /// The suggestions, after waiting a little for the first refresh.
    fn wait_loaded(&self) -> MutexGuard<'_, Suggestions> {
        let deadline = Instant::now() + FIRST_LIST_WAIT;
        loop {
            let shared = lock(&self.suggestions);
            if shared.loaded || Instant::now() >= deadline {
                return shared;
            }
            drop(shared);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Completer for SessionHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        text: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let text = &text[..pos];
        let start = text.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let before: Vec<&str> = text[..start].split_whitespace().collect();
        Ok((start, self.candidates(&before, &text[start..])))
    }
}

impl Hinter for SessionHelper {
    type Hint = String;
}
impl Highlighter for SessionHelper {}
impl Validator for SessionHelper {}
impl Helper for SessionHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> SessionHelper {
        let suggestions = Suggestions {
            processes: vec![
                (4242, "firefox-esr".into(), "/usr/lib/firefox-esr/firefox-esr -P".into()),
                (4250, "sleep".into(), "tether-probe 600".into()),
                (77, "bash".into(), "-bash".into()),
            ],
            points: vec!["20261123T101500Z-3fa2".into(), "20261124\x1b]0;owned\x07".into()],
            loaded: true,
        };
        SessionHelper {
            grammar: line::grammar("h"),
            suggestions: Arc::new(Mutex::new(suggestions)),
        }
    }

    fn replacements(before: &[&str], word: &str) -> Vec<String> {
        helper().candidates(before, word).into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn commands_subcommands_and_flags_complete() {
        assert_eq!(replacements(&[], "res"), ["restore ", "resolve "]);
        assert_eq!(replacements(&[], "qu"), ["quit "]);
        assert_eq!(replacements(&["restore"], "ro"), ["rollback "]);
        assert_eq!(replacements(&["kill", "42"], "--si"), ["--signal"]);
        assert_eq!(replacements(&["help"], "mon"), ["monitors "]);
    }

    #[test]
    fn pids_complete_by_number_and_by_program() {
        assert_eq!(replacements(&["kill"], "42"), ["4242 ", "4250 "]);
        assert_eq!(replacements(&["kill"], "fire"), ["4242 "]);
        assert_eq!(replacements(&["kill"], "tether-pr"), ["4250 "]);
        let shown = helper().candidates(&["kill"], "424");
        assert!(shown[0].display.starts_with("4242 firefox-esr"), "{:?}", shown[0].display);
    }

    #[test]
    fn only_plain_point_ids_are_offered() {
        assert_eq!(replacements(&["restore", "diff"], "2026"), ["20261123T101500Z-3fa2"]);
    }
}
