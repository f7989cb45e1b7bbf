//! `tether hosts`: the aliases a technician has configured.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::GlobalArgs;

#[derive(Serialize)]
struct Row<'a> {
    alias: &'a str,
    address: &'a str,
    name: &'a str,
}

pub fn run(global: &GlobalArgs, json: bool) -> anyhow::Result<ExitCode> {
    let hosts = global.load_hosts()?;
    let rows: Vec<Row<'_>> = hosts
        .iter()
        .map(|(alias, e)| Row {
            alias,
            address: &e.address,
            name: e.name.as_deref().unwrap_or(alias),
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let width = rows.iter().map(|r| r.alias.len()).max().unwrap_or(5).max(5);
    let addr_width = rows.iter().map(|r| r.address.len()).max().unwrap_or(7).max(7);
    println!("{:<width$}  {:<addr_width$}  CERTIFICATE NAME", "ALIAS", "ADDRESS");
    for r in &rows {
        println!("{:<width$}  {:<addr_width$}  {}", r.alias, r.address, r.name);
    }
    Ok(ExitCode::SUCCESS)
}
