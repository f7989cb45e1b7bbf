//! `tether audit HOST`: the newest records of an agent's audit log.

use tether_audit::Record;
use tether_client::Session;

use super::Done;

/// Prints the newest `lines` records of the agent's audit log.
pub async fn on(session: &Session, lines: u32, json: bool) -> anyhow::Result<Done> {
    let entries = session.audit_tail(lines).await?;
    let records: Vec<Record> = entries.into_iter().map(Record::from_wire).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        // human_line escapes every field: records hold peers' words.
        for record in &records {
            println!("{}", record.human_line());
        }
    }
    Ok(Done::success(format!("audit: {}", crate::render::count(records.len() as u64, "record"))))
}
