//! `tether ps HOST` and `tether kill HOST PID`.

use std::process::ExitCode;

use tether_client::exit::Outcome;
use tether_proto::system::{KillSignal, ProcessList, ProcessSort};

use crate::cli::GlobalArgs;
use crate::connect;
use crate::render::{self, Align, table};

/// Widest command column in the table; `--json` carries the full line.
const COMMAND_WIDTH: usize = 60;

/// Widest process name shown (Linux names are at most 15 bytes; others
/// may be longer).
const NAME_WIDTH: usize = 20;

pub async fn list(
    global: &GlobalArgs,
    host: &str,
    sort: ProcessSort,
    filter: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let session = connect::connect(global, host).await?;
    let list = session.processes(sort, filter, limit).await;
    session.finish().await;
    let list = list?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print!("{}", human(&list));
    }
    Ok(ExitCode::SUCCESS)
}

/// The process table for people.
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

pub async fn kill(
    global: &GlobalArgs,
    host: &str,
    pid: u32,
    signal: KillSignal,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let session = connect::connect(global, host).await?;
    let outcome = session.kill(pid, signal).await;
    session.finish().await;
    let outcome = outcome?;
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
    Ok(Outcome::success_if(outcome.exited).into())
}
