//! `tether audit HOST`: the newest records of an agent's audit log.

use std::process::ExitCode;

use tether_audit::Record;

use crate::cli::GlobalArgs;
use crate::connect;

pub async fn run(
    global: &GlobalArgs,
    host: &str,
    lines: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let session = connect::connect(global, host).await?;
    let entries = session.audit_tail(lines).await;
    session.finish().await;
    let entries = entries?;
    let records: Vec<Record> = entries.into_iter().map(Record::from_wire).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        // human_line escapes every field: records hold peers' words.
        for record in &records {
            println!("{}", record.human_line());
        }
    }
    Ok(ExitCode::SUCCESS)
}
