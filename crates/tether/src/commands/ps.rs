//! `tether ps HOST` and `tether kill HOST PID`.

use tether_client::Session;
use tether_client::exit::Outcome;
use tether_proto::system::{KillSignal, ProcessList, ProcessSort};

use super::Done;
use crate::render::{self, Align, table};

/// Widest command column in the table; `--json` carries the full line.
const COMMAND_WIDTH: usize = 60;

/// Widest process name shown (Linux names are at most 15 bytes; others
/// may be longer).
const NAME_WIDTH: usize = 20;

/// Lists processes on `session` and prints them.
pub async fn list(
    session: &Session,
    sort: ProcessSort,
    filter: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<Done> {
    let list = session.processes(sort, filter, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", human(&list));
    }
    Ok(Done::success(format!("ps: {} of {} processes", list.processes.len(), list.total)))
}

pub fn human(list: &ProcessList) -> String {
    let rows: Vec<Vec<String>> = list
        .processes
        .iter()
        .map(|p| {
            let command =
                if p.command.is_empty() { format!("[{}]", p.name) } else { p.command.clone() };
            vec![
                p.pid.to_string(),
                render::ellipsize(&p.name, NAME_WIDTH),
                p.user.clone(),
                format!("{:.1}", p.cpu_percent),
                render::bytes(p.rss),
                p.state.clone(),
                render::unix_time(p.start_time_unix).trim_end_matches(" UTC").to_owned(),
                render::ellipsize(&command, COMMAND_WIDTH),
            ]
        })
        .collect();
    let headers = [
        ("PID", Align::Right),
        ("NAME", Align::Left),
        ("USER", Align::Left),
        ("CPU%", Align::Right),
        ("RSS", Align::Right),
        ("STATE", Align::Left),
        ("STARTED (UTC)", Align::Left),
        ("COMMAND", Align::Left),
    ];
    let mut out = table(&headers, &rows);
    out.push_str(&format!(
        "{} of {} processes; CPU sampled over {} ms\n",
        list.processes.len(),
        list.total,
        list.sample_ms
    ));
    out
}

/// Signals `pid` on `session` and says whether it exited.
pub async fn kill(
    session: &Session,
    pid: u32,
    signal: KillSignal,
    json: bool,
) -> anyhow::Result<Done> {
    let outcome = session.kill(pid, signal).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else if outcome.exited {
        println!(
            "sent SIG{} to {} (pid {}): it exited",
            signal.as_str(),
            render::remote(&outcome.name),
            pid
        );
    } else {
        println!(
            "sent SIG{} to {} (pid {}): still running{}",
            signal.as_str(),
            render::remote(&outcome.name),
            pid,
            if signal == KillSignal::Term { "; try --signal KILL" } else { "" }
        );
    }
    let what = if outcome.exited { "exited" } else { "still running" };
    let summary =
        format!("kill {pid} ({}, SIG{}): {what}", render::remote(&outcome.name), signal.as_str());
    Ok(Done::new(Outcome::success_if(outcome.exited), summary))
}
