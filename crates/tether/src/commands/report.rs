//! `tether report`: figures over the tickets opened in a period, as a
//! table, JSON or CSV.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;

use tether_tickets::model::span;
use tether_tickets::report::{self, Count, Figures, GroupBy, Report};

use crate::cli::{FormatArg, GlobalArgs, GroupArg, ReportArgs};
use crate::render::{self, Align};
use crate::tickets::{Settings, now};

pub async fn run(global: &GlobalArgs, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(global)?;
    let store = settings.open().await?;
    let at = now();
    let since = at - args.since;
    let rows = store.summaries(since).await?;
    let by = match args.by {
        GroupArg::Category => GroupBy::Category,
        GroupArg::Host => GroupBy::Host,
        GroupArg::Technician => GroupBy::Technician,
        GroupArg::Week => GroupBy::Week,
        GroupArg::Requester => GroupBy::Requester,
    };
    let report = report::compute(&rows, by, since, at);
    if let Some(path) = &args.chart {
        // Drawn before anything is printed, so a missing font fails the
        // command without half its output.
        let weekly = if by == GroupBy::Week {
            report.clone()
        } else {
            report::compute(&rows, GroupBy::Week, since, at)
        };
        let png = tether_tickets::chart::weekly_trend(&weekly, font()?)?;
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let format = if args.json { FormatArg::Json } else { args.format };
    match format {
        FormatArg::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        // On a terminal the fields are escaped like any text from the
        // store; into a file or pipe they stay exact.
        FormatArg::Csv => print!("{}", csv(&report, std::io::stdout().is_terminal())),
        FormatArg::Table => print!("{}", table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The chart's font (Debian's fonts-dejavu-core).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The font's bytes, kept for the rest of the process (plotters keeps
/// registered fonts by `'static` reference).
fn font() -> anyhow::Result<&'static [u8]> {
    let bytes = std::fs::read(FONT).with_context(|| {
        format!("--chart needs the DejaVu Sans font, {FONT} (apt-get install fonts-dejavu-core)")
    })?;
    Ok(Box::leak(bytes.into_boxed_slice()))
}

fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn duration(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), span)
}

fn by_name(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Category => "CATEGORY",
        GroupBy::Host => "HOST",
        GroupBy::Technician => "TECHNICIAN",
        GroupBy::Week => "WEEK",
        GroupBy::Requester => "REQUESTER",
    }
}

/// The figures of one row, in column order.
fn cells(figures: &Figures) -> Vec<String> {
    vec![
        figures.volume.to_string(),
        figures.resolved.to_string(),
        percent(figures.resolution_rate),
        duration(figures.median_resolve_secs),
        duration(figures.p90_resolve_secs),
        figures.first_contact_rate.map_or_else(|| "-".into(), percent),
        percent(figures.escalated_tier2_rate),
        percent(figures.escalated_tier3_rate),
        figures.reopen_rate.map_or_else(|| "-".into(), percent),
        figures.breaches.to_string(),
    ]
}

fn counted(counts: &[Count]) -> String {
    counts.iter().map(|c| format!("{} {}", c.name, c.tickets)).collect::<Vec<_>>().join(", ")
}

fn table(report: &Report) -> String {
    let mut headers = vec![
        (by_name(report.by), Align::Left),
        ("TICKETS", Align::Right),
        ("RESOLVED", Align::Right),
        ("RATE", Align::Right),
        ("MEDIAN", Align::Right),
        ("P90", Align::Right),
        ("FIRST-CONTACT", Align::Right),
        ("TO T2", Align::Right),
        ("TO T3", Align::Right),
        ("REOPENED", Align::Right),
        ("BREACHED", Align::Right),
    ];
    let about = report.by == GroupBy::Requester;
    if about {
        headers.push(("ABOUT", Align::Left));
    }
    let mut rows: Vec<Vec<String>> = report
        .groups
        .iter()
        .map(|g| {
            let mut row = vec![g.key.clone()];
            row.extend(cells(&g.figures));
            if about {
                row.push(counted(&g.categories));
            }
            row
        })
        .collect();
    let mut total = vec![TOTAL.to_owned()];
    total.extend(cells(&report.total));
    if about {
        total.push(counted(&report.top_categories));
    }
    rows.push(total);
    let mut out = format!(
        "Tickets opened {} to {}\n\n",
        render::unix_time(report.since.max(0) as u64),
        render::unix_time(report.now.max(0) as u64)
    );
    out.push_str(&render::table(&headers, &rows));
    let listed = |counts: &[Count]| if counts.is_empty() { "none".into() } else { counted(counts) };
    let _ =
        writeln!(out, "\nRecurring hosts: {}", render::remote(&listed(&report.recurring_hosts)));
    let _ = writeln!(out, "Top categories: {}", listed(&report.top_categories));
    out
}

/// The key of the total line in tables and CSV: in parentheses, so that
/// it is not taken for a host, technician or category named `all`.
const TOTAL: &str = "(all)";

/// One line per group and a final `(all)` line; durations in seconds,
/// rates as fractions; fields quoted as RFC 4180 says, and escaped for
/// the terminal when `on_terminal`.
fn csv(report: &Report, on_terminal: bool) -> String {
    let field = |text: &str| {
        if on_terminal { field(&tether_proto::text::escape(text)) } else { field(text) }
    };
    let mut out = format!(
        "{},tickets,resolved,resolution_rate,median_resolve_secs,p90_resolve_secs,first_contact_rate,\
         escalated_tier2_rate,escalated_tier3_rate,reopen_rate,breaches,categories\n",
        by_name(report.by).to_lowercase()
    );
    let mut line = |key: &str, f: &Figures, categories: &[Count]| {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{:.4},{},{},{},{:.4},{:.4},{},{},{}",
            field(key),
            f.volume,
            f.resolved,
            f.resolution_rate,
            opt(f.median_resolve_secs),
            opt(f.p90_resolve_secs),
            f.first_contact_rate.map(|r| format!("{r:.4}")).unwrap_or_default(),
            f.escalated_tier2_rate,
            f.escalated_tier3_rate,
            f.reopen_rate.map(|r| format!("{r:.4}")).unwrap_or_default(),
            f.breaches,
            field(&counted(categories)),
        );
    };
    for g in &report.groups {
        line(&g.key, &g.figures, &g.categories);
    }
    line(TOTAL, &report.total, &report.top_categories);
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break; a
/// leading `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'`
/// so a spreadsheet does not run it as a formula (OWASP's list).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("ws-1"), "ws-1");
        assert_eq!(field("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("\t=cmd()"), "'\t=cmd()");
        assert_eq!(field("\r=cmd()"), "\"'\r=cmd()\"");
    }
}
