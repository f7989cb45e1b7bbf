//! The shared store: a PostgreSQL database a team's controllers all point
//! at. tokio-postgres runs on the caller's runtime. A change locks its
//! ticket's row (`SELECT … FOR UPDATE`) for the length of its transaction.
//!
//! Connections are made without TLS: point the URL at a Unix socket, the
//! loopback, or a tunnel. Another host is refused unless the URL says
//! `sslmode=disable` (a URL asking for `sslmode=require` is refused by the
//! client rather than sent in the clear). Every connection has a connect
//! timeout, TCP keepalives, a lock timeout and a statement timeout, so an
//! unreachable server or a stalled peer holding a row fails a command
//! instead of hanging it.

use tokio::sync::Mutex;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row};

use super::migrations::{self, CREATE_VERSION_TABLE, MIGRATIONS};
use super::{
    Columns, INSERT_ATTACHMENT, INSERT_ENTRY, INSERT_TICKET, Import, ListFilter,
    SELECT_ATTACHMENTS, SELECT_LIST, SELECT_SUMMARIES, SELECT_TICKET, SELECT_TIMELINE, StoreError,
    UPDATE_TICKET, apply, detail_of, entry_from, opened_event, summary_from, ticket_from,
};
use crate::model::{Attachment, Entry, Event, Ticket, TicketId, TicketSummary, UnixTime};

/// Serialises schema migrations between controllers opening the same
/// database at once (an arbitrary constant: "tether" in ASCII).
const MIGRATION_LOCK: i64 = 0x7465_7468_6572;

pub struct PostgresStore {
    client: Mutex<Client>,
}

/// `url` without its password, for messages. The URL is split the way
/// tokio-postgres splits it: the user information runs to the first `@`
/// anywhere (so `u:pa/ss@h` has the password `pa/ss`), and a
/// `password=` query parameter is a password too.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (user, rest) = match rest.split_once('@') {
        Some((user_info, rest)) => {
            (format!("{}@", user_info.split(':').next().unwrap_or("")), rest)
        }
        None => (String::new(), rest),
    };
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://{user}{address}");
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or("");
                !percent_decoded(key).eq_ignore_ascii_case("password")
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// `text` with `%XX` escapes decoded (as tokio-postgres decodes parameter
/// keys); anything malformed is kept as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How long a change waits for a row another controller has locked
/// before it fails (a stalled peer must not hang every technician).
const LOCK_TIMEOUT: &str = "10s";

/// How long one statement may run: a report over a year of a busy desk
/// takes well under a second; a minute is a server in trouble.
const STATEMENT_TIMEOUT: &str = "60s";

/// Whether `host` is this machine: reaching it without TLS sends nothing
/// over a network. (tokio-postgres has Unix-socket hosts on Unix only.)
fn is_loopback(host: &Host) -> bool {
    match host {
        #[cfg(unix)]
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

impl PostgresStore {
    /// Connects (waiting at most `connect_timeout` per host, with TCP
    /// keepalives) and migrates. Connections carry no TLS, so a host other
    /// than a Unix socket or the loopback is refused unless the URL says
    /// `sslmode=disable`: plaintext to another machine is then a choice
    /// (a trusted network, a tunnel), not an accident.
    pub async fn connect(
        url: &str,
        connect_timeout: std::time::Duration,
    ) -> Result<PostgresStore, StoreError> {
        let mut config: Config = url.parse()?;
        let remote: Vec<String> = config
            .get_hosts()
            .iter()
            .filter(|h| !is_loopback(h))
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        if !remote.is_empty() && config.get_ssl_mode() != SslMode::Disable {
            return Err(StoreError::Plaintext(remote.join(", ")));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(connect_timeout);
        }
        config.keepalives(true).keepalives_idle(std::time::Duration::from_secs(30));
        let (mut client, connection) = config.connect(NoTls).await?;
        // The connection's own error has no caller to go to: the client's
        // next query fails with "connection closed", which is reported.
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{LOCK_TIMEOUT}'; SET statement_timeout = '{STATEMENT_TIMEOUT}'"
            ))
            .await?;
        migrate(&mut client).await?;
        Ok(PostgresStore { client: Mutex::new(client) })
    }

    pub(super) async fn insert(&self, ticket: Ticket) -> Result<Ticket, StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let row = tx.query_one(INSERT_TICKET, &TicketParams::new(&ticket).values()).await?;
        let ticket = Ticket { id: TicketId(row.try_get(0)?), ..ticket };
        let opened = opened_event(&ticket);
        tx.execute(
            INSERT_ENTRY,
            &[
                &ticket.id.0,
                &ticket.opened_at,
                &ticket.opened_by,
                &opened.kind(),
                &detail_of(&opened),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(ticket)
    }

    pub(super) async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let client = self.client.lock().await;
        client.query_opt(SELECT_TICKET, &[&id.0]).await?.as_ref().map(ticket_from).transpose()
    }

    pub(super) async fn list(&self, filter: &ListFilter) -> Result<Vec<Ticket>, StoreError> {
        let client = self.client.lock().await;
        let open_only = i64::from(filter.open_only);
        let limit = filter.limit.map(i64::from);
        let rows = client
            .query(SELECT_LIST, &[&filter.owner, &filter.breached_at, &open_only, &limit])
            .await?;
        rows.iter().map(ticket_from).collect()
    }

    pub(super) async fn append(
        &self,
        id: TicketId,
        at: UnixTime,
        actor: &str,
        event: Event,
        attachment: Option<(String, Vec<u8>)>,
    ) -> Result<(Ticket, Entry), StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        let locked = format!("{SELECT_TICKET} FOR UPDATE");
        let mut ticket = tx
            .query_opt(&locked, &[&id.0])
            .await?
            .as_ref()
            .map(ticket_from)
            .transpose()?
            .ok_or(StoreError::NotFound(id))?;
        apply(&mut ticket, &event, at).map_err(|why| StoreError::Refused { id, why })?;
        tx.execute(
            UPDATE_TICKET,
            &[
                &id.0,
                &ticket.assignee,
                &ticket.resolved_at,
                &ticket.first_resolved_at,
                &ticket.resolution,
                &i64::from(ticket.tier),
                &i64::from(ticket.max_tier),
                &i64::from(ticket.escalations),
                &i64::from(ticket.reopens),
            ],
        )
        .await?;
        let row = tx
            .query_one(INSERT_ENTRY, &[&id.0, &at, &actor, &event.kind(), &detail_of(&event)])
            .await?;
        let entry_id: i64 = row.try_get(0)?;
        if let Some((name, png)) = attachment {
            tx.execute(INSERT_ATTACHMENT, &[&entry_id, &id.0, &name, &png]).await?;
        }
        tx.commit().await?;
        Ok((ticket, Entry { id: entry_id, ticket: id, at, actor: actor.to_owned(), event }))
    }

    pub(super) async fn timeline(&self, id: TicketId) -> Result<Vec<Entry>, StoreError> {
        let client = self.client.lock().await;
        let rows = client.query(SELECT_TIMELINE, &[&id.0]).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(3)?;
                entry_from(r.try_get(0)?, id, r.try_get(1)?, r.try_get(2)?, &kind, r.try_get(4)?)
            })
            .collect()
    }

    pub(super) async fn attachments(&self, id: TicketId) -> Result<Vec<Attachment>, StoreError> {
        let client = self.client.lock().await;
        let rows = client.query(SELECT_ATTACHMENTS, &[&id.0]).await?;
        rows.iter()
            .map(|r| {
                Ok(Attachment { entry: r.try_get(0)?, name: r.try_get(1)?, png: r.try_get(2)? })
            })
            .collect()
    }

    pub(super) async fn summaries(
        &self,
        since: UnixTime,
    ) -> Result<Vec<TicketSummary>, StoreError> {
        let client = self.client.lock().await;
        let rows = client.query(SELECT_SUMMARIES, &[&since]).await?;
        rows.iter().map(summary_from).collect()
    }

    /// Reserves the ids, then COPYs tickets and entries in binary form.
    pub(super) async fn import(&self, batch: Vec<Import>) -> Result<(), StoreError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await?;
        // A bulk load of a million entries may run past the statement
        // timeout; it is not a peer waiting on a technician.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        let entry_count: i64 = batch.iter().map(|i| i.entries.len() as i64).sum();
        let ticket_ids = reserve_ids(&tx, "tickets", batch.len() as i64).await?;
        let entry_ids = reserve_ids(&tx, "entries", entry_count).await?;

        let sink = tx
            .copy_in(
                "COPY tickets (id, title, requester, host, category, priority, opened_by, assignee, \
                 opened_at, due_at, resolved_at, first_resolved_at, resolution, tier, max_tier, \
                 escalations, reopens) FROM STDIN BINARY",
            )
            .await?;
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for (item, id) in batch.iter().zip(&ticket_ids) {
            let params = TicketParams::new(&item.ticket);
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![id];
            row.extend(params.values());
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;

        let sink = tx
            .copy_in("COPY entries (id, ticket_id, at, actor, kind, detail) FROM STDIN BINARY")
            .await?;
        let writer = BinaryCopyInWriter::new(
            sink,
            &[Type::INT8, Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT],
        );
        let mut writer = std::pin::pin!(writer);
        let mut next_entry = entry_ids.iter();
        for (item, ticket_id) in batch.iter().zip(&ticket_ids) {
            for (at, actor, event) in &item.entries {
                // reserve_ids returned exactly entry_count ids.
                let id = next_entry.next().expect("one reserved id per entry");
                let kind = event.kind();
                let detail = detail_of(event);
                writer.as_mut().write(&[id, ticket_id, at, actor, &kind, &detail]).await?;
            }
        }
        writer.finish().await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn reserve_ids(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    n: i64,
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1::BIGINT)"
    );
    let rows = tx.query(&sql, &[&n]).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Brings the schema up to date. The version is read first with a plain
/// query: a store already current (every open but the first after an
/// upgrade) needs no CREATE right on the schema and takes no lock, so a
/// technician role with data rights only can use a store an owner set up.
async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let known = migrations::latest();
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if exists {
        let found: i64 = client
            .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version", &[])
            .await?
            .try_get(0)?;
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
        if found == known {
            return Ok(());
        }
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(CREATE_VERSION_TABLE).await?;
    let found: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
        .await?
        .try_get(0)?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for step in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(&step.postgres()).await?;
    }
    if found < known {
        tx.execute("DELETE FROM schema_version", &[]).await?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A ticket's values as `INSERT_TICKET` (and the COPY, after the id)
/// takes them: PostgreSQL's BIGINT for the small numbers.
struct TicketParams<'a> {
    t: &'a Ticket,
    category: &'static str,
    priority: &'static str,
    numbers: [i64; 4],
}

impl<'a> TicketParams<'a> {
    fn new(t: &'a Ticket) -> TicketParams<'a> {
        TicketParams {
            t,
            category: t.category.as_str(),
            priority: t.priority.as_str(),
            numbers: [t.tier.into(), t.max_tier.into(), t.escalations.into(), t.reopens.into()],
        }
    }

    fn values(&self) -> [&(dyn ToSql + Sync); 16] {
        let t = self.t;
        [
            &t.title,
            &t.requester,
            &t.host,
            &self.category,
            &self.priority,
            &t.opened_by,
            &t.assignee,
            &t.opened_at,
            &t.due_at,
            &t.resolved_at,
            &t.first_resolved_at,
            &t.resolution,
            &self.numbers[0],
            &self.numbers[1],
            &self.numbers[2],
            &self.numbers[3],
        ]
    }
}

impl Columns for Row {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_drops_every_form_of_password() {
        let cases = [
            ("postgres://u:secret@db/tickets", "postgres://u@db/tickets"),
            // tokio-postgres takes everything before the first '@' as
            // user information, '/' included.
            ("postgres://u:pa/ss@db/tickets", "postgres://u@db/tickets"),
            ("postgresql://u:p?x@db", "postgresql://u@db"),
            ("postgres://u@db/t?password=secret", "postgres://u@db/t"),
            (
                "postgres://u@db/t?sslmode=disable&pass%77ord=secret&application_name=x",
                "postgres://u@db/t?sslmode=disable&application_name=x",
            ),
            ("postgres://u@db/t?PASSWORD=secret", "postgres://u@db/t"),
            ("postgres://u@db/t", "postgres://u@db/t"),
            ("postgres://%2Frun%2Fpostgresql/t", "postgres://%2Frun%2Fpostgresql/t"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("secret") && !redact(url).contains("pa/ss"));
        }
    }
}
