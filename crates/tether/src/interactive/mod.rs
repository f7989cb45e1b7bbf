//! `tether connect HOST`: an interactive session with one agent.
//!
//! Data flow: the line editor runs on its own thread (`editor`) and sends
//! each typed line here; `line` parses it with the one-shot commands' clap
//! definitions minus HOST; host commands run on the session's one
//! connection (`link`, which reconnects when the network takes it away)
//! through the same cores as the one-shot commands
//! (`commands::host::run_on`), printing to stdout; with a ticket attached
//! each command and the session's start and end are recorded (`record`).

mod editor;
mod interrupts;
mod line;
mod link;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tether_client::Connector;
use tether_proto::RequestKind;
use tether_proto::system::ProcessSort;

use crate::cli::GlobalArgs;
use crate::commands::{Done, host};
use crate::connect;
use crate::timeline::Timeline;
use editor::{Ask, SharedSuggestions, Typed};
use line::{Entry, TicketAction};
use link::Link;

/// How often completion's process list and restore points are asked for
/// again (after a command, never while one runs).
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// The most processes completion offers.
const COMPLETION_PROCESSES: u32 = 2000;

/// Runs the session until `exit`, Ctrl-D or the end of piped input.
pub async fn run(global: &GlobalArgs, host: &str) -> anyhow::Result<ExitCode> {
    let connector = Connector::new(global.connect_options()?).map_err(connect::with_flags)?;
    let timeline = Timeline::for_flags(global).await;
    let mut link = Link::open(connector, host).await?;
    let started = Instant::now();
    if let Some(timeline) = &timeline {
        timeline.session_started(host, &link.session().welcome().session_id).await;
    }
    let ticket = match (&timeline, global.ticket.as_deref()) {
        (Some(timeline), _) => format!("ticket {}", timeline.ticket()),
        (None, Some(reference)) => format!("ticket {reference} (not recorded)"),
        (None, None) => "no ticket".to_owned(),
    };
    let mut interrupts = interrupts::Interrupts::watch()?;
    let on_terminal = std::io::stdin().is_terminal();
    let grammar = line::grammar(host);
    {
        let session = link.session();
        let w = session.welcome();
        eprintln!(
            "connected to {} as {} ({}), session {}; `help` lists the commands, `exit` ends",
            session.describe(),
            tether_proto::text::escape(&w.technician),
            w.role,
            tether_proto::text::escape(&w.session_id)
        );
    }

    let suggestions = SharedSuggestions::default();
    let mut refresher = Refresher { suggestions: Arc::clone(&suggestions), last: None, task: None };
    refresher.maybe_refresh(&link);
    let prompt = format!("{}> ", tether_proto::text::escape(host));
    let mut editor = editor::spawn(grammar.clone(), suggestions, prompt)?;

    let mut commands = 0u32;
    loop {
        let status = on_terminal.then(|| status_line(&link, &ticket));
        if editor.ask.send(Ask { status }).is_err() {
            break;
        }
        let typed = tokio::select! {
            typed = editor.typed.recv() => typed.unwrap_or(Typed::End),
            // Only piped input can be interrupted here (a terminal is in
            // raw mode at the prompt, where Ctrl-C clears the line).
            _ = interrupts.recv() => Typed::End,
        };
        let text = match typed {
            Typed::Line(text) => text,
            Typed::End => break,
            Typed::Failed(e) => {
                eprintln!("error: reading the line: {e}");
                break;
            }
        };
        let entry = match line::parse(&grammar, &text) {
            Ok(entry) => entry,
            Err(message) => {
                eprintln!("error: {message}");
                continue;
            }
        };
        match entry {
            Entry::Empty => {}
            Entry::Exit => break,
            Entry::Help(text) => print!("{text}"),
            Entry::Host(command) => {
                let ran =
                    run_host_command(&mut link, &grammar, *command, &text, &mut interrupts).await;
                if let Some(result) = ran {
                    commands += 1;
                    if let Some(timeline) = &timeline {
                        timeline.command(host, &text, &result).await;
                    }
                }
                refresher.maybe_refresh(&link);
            }
            Entry::Ticket(action) => {
                let Some(timeline) = &timeline else {
                    eprintln!(
                        "error: no ticket of the store is attached to this session (start it with --ticket N)"
                    );
                    continue;
                };
                if let Err(e) = on_ticket(timeline, &link, action).await {
                    eprintln!("error: {}", tether_proto::text::error_line(e.as_ref()));
                }
            }
        }
    }
    drop(editor.ask);
    let _ = editor.thread.join();
    refresher.stop();
    link.finish().await;
    if let Some(timeline) = &timeline {
        timeline.session_ended(host, started.elapsed(), commands).await;
    }
    eprintln!("session ended after {}", crate::render::count(commands.into(), "command"));
    Ok(ExitCode::SUCCESS)
}

/// `note`, `escalate` and `resolve`: straight to the ticket store.
async fn on_ticket(timeline: &Timeline, link: &Link, action: TicketAction) -> anyhow::Result<()> {
    let recorder = timeline.recorder();
    let ticket = timeline.ticket();
    match action {
        TicketAction::Note(text) => {
            recorder.note(&text).await?;
            println!("noted on ticket {ticket}");
        }
        TicketAction::Escalate { tier, reason } => {
            // Default: the tier above the technician's (the agent's view).
            let tier = tier.unwrap_or(match link.session().welcome().role {
                tether_proto::Role::Tier(own) => (own.number() + 1).min(3),
                tether_proto::Role::Fleet => 2,
            });
            recorder.escalate(tier, reason.as_deref()).await?;
            println!("ticket {ticket} escalated to tier {tier}");
        }
        TicketAction::Resolve(resolution) => {
            recorder.resolve(&resolution).await?;
            println!("ticket {ticket} resolved");
        }
    }
    Ok(())
}

/// Runs one host command; an error is one line on stderr and the session
/// goes on. Ctrl-C cancels it. `None` when it was refused before anything
/// was sent.
async fn run_host_command(
    link: &mut Link,
    grammar: &clap::Command,
    command: crate::cli::Command,
    text: &str,
    interrupts: &mut interrupts::Interrupts,
) -> Option<anyhow::Result<Done>> {
    if let Err(e) = host::preflight(&command) {
        eprintln!("error: {}", tether_proto::text::error_line(e.as_ref()));
        return None;
    }
    let read_only = host::is_read_only(&command);
    let reparse = || match line::parse(grammar, text) {
        Ok(Entry::Host(command)) => Some(*command),
        _ => None,
    };
    let result = tokio::select! {
        result = link.run(command, reparse) => result,
        _ = interrupts.recv() => {
            let what = if read_only { "cancelled" } else { "cancelled; it may have run on the agent" };
            Err(anyhow::anyhow!("{what} (Ctrl-C)"))
        }
    };
    if let Err(e) = &result {
        eprintln!("error: {}", tether_proto::text::error_line(e.as_ref()));
    }
    Some(result)
}

/// "[ws-042 (127.0.0.1:7433) · alice · tier2 · ticket T-12 · rtt 0.4 ms]"
fn status_line(link: &Link, ticket: &str) -> String {
    let session = link.session();
    let w = session.welcome();
    let rtt = if link.is_lost() {
        "link lost".to_owned()
    } else {
        format!("rtt {:.1} ms", session.rtt().as_secs_f64() * 1000.0)
    };
    let line =
        format!("[{} · {} · {} · {ticket} · {rtt}]", session.describe(), w.technician, w.role);
    tether_proto::text::escape(&line).into_owned()
}

/// Keeps completion's process list and restore points fresh, in the
/// background, on the session's connection.
struct Refresher {
    suggestions: SharedSuggestions,
    last: Option<Instant>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Refresher {
    fn maybe_refresh(&mut self, link: &Link) {
        if self.last.is_some_and(|at| at.elapsed() < REFRESH_EVERY)
            || self.task.as_ref().is_some_and(|t| !t.is_finished())
            || link.is_lost()
        {
            return;
        }
        self.last = Some(Instant::now());
        let session = link.session();
        let suggestions = Arc::clone(&self.suggestions);
        self.task = Some(tokio::spawn(async move {
            let processes = async {
                if !session.role_allows(RequestKind::Kill) {
                    return None;
                }
                let list =
                    session.processes(ProcessSort::Pid, None, COMPLETION_PROCESSES).await.ok()?;
                Some(list.processes.into_iter().map(|p| (p.pid, p.name, p.command)).collect())
            };
            let points = async {
                if !session.supports(RequestKind::RestoreList)
                    || !session.role_allows(RequestKind::RestoreList)
                {
                    return None;
                }
                let points = session.restore_list().await.ok()?;
                Some(points.into_iter().map(|p| p.id).collect())
            };
            let (processes, points) = tokio::join!(processes, points);
            let mut shared = editor::lock(&suggestions);
            if let Some(processes) = processes {
                shared.processes = processes;
            }
            if let Some(points) = points {
                shared.points = points;
            }
            shared.loaded = true;
        }));
    }

    fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
        }
    }
}
