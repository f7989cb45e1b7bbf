//! `tether ticket …`: the ticket store from the command line. Text in
//! tickets was written by people (possibly another technician sharing the
//! store), so it is escaped like remote text before it is printed.

use std::process::ExitCode;

use serde::Serialize;
use tether_tickets::{Deadline, Entry, Event, ListFilter, NewTicket, Ticket, TicketId, UnixTime};

use super::ticket_export::export;
use crate::cli::{GlobalArgs, TicketCommand};
use crate::render::{self, Align, remote};
use crate::tickets::{Settings, in_store, now, technician};

pub async fn run(global: &GlobalArgs, command: TicketCommand) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(global)?;
    let store = settings.open().await?;
    let not_found = in_store(&settings);
    let at = now();
    match command {
        TicketCommand::Open { title, requester, host, category, priority, json } => {
            let new = NewTicket {
                title,
                requester,
                host,
                category,
                priority,
                opened_by: technician(global)?,
            };
            let ticket = store.open_ticket(new, &settings.time_frames, at).await?;
            print_ticket(&ticket, at, json, "opened")?;
        }
        TicketCommand::List { open, mine, breached, limit, json } => {
            let filter = ListFilter {
                open_only: open,
                owner: if mine { Some(technician(global)?) } else { None },
                breached_at: breached.then_some(at),
                limit: (limit > 0).then_some(limit),
            };
            let tickets = store.list(&filter).await?;
            print_list(&tickets, at, json)?;
            if !json && limit > 0 && tickets.len() == limit as usize {
                println!("(the newest {limit}; -n 0 lists all)");
            }
        }
        TicketCommand::Show { id, json } => {
            let ticket = store.ticket(id).await.map_err(&not_found)?;
            let timeline = store.timeline(id).await.map_err(&not_found)?;
            print_show(&ticket, &timeline, at, json)?;
        }
        TicketCommand::Note { id, text, json } => {
            let (_, entry) = store
                .record(id, at, &technician(global)?, Event::Note { text })
                .await
                .map_err(&not_found)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entry)?);
            } else {
                println!("{id}: note added");
            }
        }
        TicketCommand::Escalate { id, tier, reason, json } => {
            let event = Event::Escalated { tier, reason };
            change(
                &store,
                global,
                &not_found,
                id,
                at,
                event,
                json,
                &format!("escalated to tier {tier}"),
            )
            .await?;
        }
        TicketCommand::Assign { id, tech, json } => {
            let done = format!("assigned to {}", remote(&tech));
            change(&store, global, &not_found, id, at, Event::Assigned { to: tech }, json, &done)
                .await?;
        }
        TicketCommand::Resolve { id, resolution, json } => {
            let event = Event::Resolved { resolution };
            change(&store, global, &not_found, id, at, event, json, "resolved").await?;
        }
        TicketCommand::Reopen { id, json } => {
            change(&store, global, &not_found, id, at, Event::Reopened, json, "reopened").await?;
        }
        TicketCommand::Export { id, dir, force, json } => {
            let ticket = store.ticket(id).await.map_err(&not_found)?;
            let timeline = store.timeline(id).await?;
            let screenshots = store.attachments(id).await?;
            let written = export(&dir, &ticket, &timeline, &screenshots, at, force)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&written)?);
            } else {
                println!(
                    "{id}: wrote {} and {} screenshot(s) in {}",
                    written.markdown,
                    written.screenshots.len(),
                    dir.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
async fn change(
    store: &tether_tickets::Store,
    global: &GlobalArgs,
    not_found: &impl Fn(tether_tickets::StoreError) -> anyhow::Error,
    id: TicketId,
    at: UnixTime,
    event: Event,
    json: bool,
    done: &str,
) -> anyhow::Result<()> {
    let (ticket, _) = store.record(id, at, &technician(global)?, event).await.map_err(not_found)?;
    print_ticket(&ticket, at, json, done)
}

/// A ticket with where it stands, as `--json` prints it.
#[derive(Serialize)]
struct TicketView<'a> {
    #[serde(flatten)]
    ticket: &'a Ticket,
    /// T-42.
    display_id: String,
    deadline: Deadline,
    /// "due in 3h 12m", "breached 2h ago", …
    deadline_text: String,
}

impl<'a> TicketView<'a> {
    fn new(ticket: &'a Ticket, now: UnixTime) -> TicketView<'a> {
        let deadline = ticket.deadline(now);
        TicketView {
            ticket,
            display_id: ticket.id.to_string(),
            deadline,
            deadline_text: deadline.to_string(),
        }
    }
}

fn print_ticket(ticket: &Ticket, now: UnixTime, json: bool, done: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&TicketView::new(ticket, now))?);
    } else {
        println!("{} {done}: {} ({})", ticket.id, remote(&ticket.title), ticket.deadline(now));
    }
    Ok(())
}

fn print_list(tickets: &[Ticket], now: UnixTime, json: bool) -> anyhow::Result<()> {
    if json {
        let views: Vec<_> = tickets.iter().map(|t| TicketView::new(t, now)).collect();
        println!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(());
    }
    if tickets.is_empty() {
        println!("no tickets");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.priority.to_string(),
                if t.is_open() { format!("open T{}", t.tier) } else { "resolved".into() },
                t.deadline(now).to_string(),
                t.owner().to_owned(),
                t.requester.clone(),
                t.host.clone().unwrap_or_default(),
                t.title.clone(),
            ]
        })
        .collect();
    let headers = [
        ("ID", Align::Left),
        ("PRI", Align::Left),
        ("STATE", Align::Left),
        ("TIME FRAME", Align::Left),
        ("TECHNICIAN", Align::Left),
        ("REQUESTER", Align::Left),
        ("HOST", Align::Left),
        ("TITLE", Align::Left),
    ];
    print!("{}", render::table(&headers, &rows));
    Ok(())
}

#[derive(Serialize)]
struct ShowView<'a> {
    #[serde(flatten)]
    ticket: TicketView<'a>,
    timeline: &'a [Entry],
    screenshots: Vec<ScreenshotView<'a>>,
}

/// A screenshot as its timeline entry describes it: `show` lists them
/// without loading the PNGs (up to 32 MiB each) from the store.
#[derive(Serialize)]
struct ScreenshotView<'a> {
    entry: i64,
    name: &'a str,
    bytes: u64,
}

fn screenshots(timeline: &[Entry]) -> Vec<ScreenshotView<'_>> {
    timeline
        .iter()
        .filter_map(|e| match &e.event {
            Event::Screenshot { name, bytes, .. } => {
                Some(ScreenshotView { entry: e.id, name, bytes: *bytes })
            }
            _ => None,
        })
        .collect()
}

fn print_show(
    ticket: &Ticket,
    timeline: &[Entry],
    now: UnixTime,
    json: bool,
) -> anyhow::Result<()> {
    let shots = screenshots(timeline);
    if json {
        let view = ShowView { ticket: TicketView::new(ticket, now), timeline, screenshots: shots };
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    println!("{}  {}", ticket.id, remote(&ticket.title));
    for (label, value) in facts(ticket, now) {
        println!("  {label:<11}{}", remote(&value));
    }
    println!("\nTimeline");
    for entry in timeline {
        println!(
            "  {}  {:<12} {}",
            when(entry.at),
            remote(&entry.actor),
            remote(&describe(&entry.event))
        );
    }
    if !shots.is_empty() {
        println!("\nScreenshots (tether ticket export {} DIR writes them)", ticket.id);
        for shot in shots {
            println!("  #{:<6} {}  {}", shot.entry, remote(shot.name), render::bytes(shot.bytes));
        }
    }
    Ok(())
}

/// The ticket's fields as label and text, for `show` and the export.
pub(super) fn facts(t: &Ticket, now: UnixTime) -> Vec<(&'static str, String)> {
    let state = match t.resolved_at {
        None => format!("open at tier {}", t.tier),
        Some(at) => format!("resolved {}", when(at)),
    };
    let mut facts = vec![
        ("requester", t.requester.clone()),
        ("host", t.host.clone().unwrap_or_else(|| "-".into())),
        ("category", t.category.to_string()),
        ("priority", t.priority.to_string()),
        ("state", state),
        ("opened", format!("{} by {}", when(t.opened_at), t.opened_by)),
        ("due", format!("{} ({})", when(t.due_at), t.deadline(now))),
        ("assignee", t.assignee.clone().unwrap_or_else(|| "-".into())),
        ("escalated", format!("{} time(s), highest tier {}", t.escalations, t.max_tier)),
        ("reopened", format!("{} time(s)", t.reopens)),
    ];
    if let Some(resolution) = &t.resolution {
        facts.push(("resolution", resolution.clone()));
    }
    facts
}

/// A timeline entry in words.
pub(super) fn describe(event: &Event) -> String {
    match event {
        Event::Opened { title, priority, category, due_at } => {
            format!("opened {priority} {category} \"{title}\", due {}", when(*due_at))
        }
        Event::Note { text } => format!("note: {text}"),
        Event::Escalated { tier, reason: Some(reason) } => {
            format!("escalated to tier {tier}: {reason}")
        }
        Event::Escalated { tier, reason: None } => format!("escalated to tier {tier}"),
        Event::Assigned { to } => format!("assigned to {to}"),
        Event::Resolved { resolution } => format!("resolved: {resolution}"),
        Event::Reopened => "reopened".into(),
        Event::Command { host, command, summary, ok } => {
            let outcome = if *ok { "" } else { " (failed)" };
            format!("{host}$ {command}: {summary}{outcome}")
        }
        Event::SessionStarted { host, agent_session } => {
            format!("session on {host} started (agent session {agent_session})")
        }
        Event::SessionEnded { host, seconds, commands } => format!(
            "session on {host} ended after {}, {commands} command(s)",
            tether_tickets::model::span(*seconds as i64)
        ),
        Event::Screenshot { host, name, bytes } => {
            format!("screenshot {name} of {host} ({})", render::bytes(*bytes))
        }
        Event::Unreadable { stored_kind } => {
            format!(
                "an entry of kind \"{stored_kind}\" this tether cannot read (a newer one wrote it?)"
            )
        }
    }
}

pub(super) fn when(at: UnixTime) -> String {
    render::unix_time(u64::try_from(at).unwrap_or(0))
}
