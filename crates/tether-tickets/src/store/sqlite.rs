//! The embedded store: one SQLite file in WAL mode with a busy timeout, so
//! several `tether` processes write to it at once without losing records.
//! Each write is an `IMMEDIATE` transaction (the write lock taken at its
//! start, so two writers never deadlock upgrading a read). rusqlite is
//! blocking: calls run on tokio's blocking threads.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

use super::migrations::{self, CREATE_VERSION_TABLE, MIGRATIONS};
use super::{
    Columns, INSERT_ATTACHMENT, INSERT_ENTRY, INSERT_TICKET, Import, ListFilter,
    SELECT_ATTACHMENTS, SELECT_LIST, SELECT_SUMMARIES, SELECT_TICKET, SELECT_TIMELINE, StoreError,
    UPDATE_TICKET, apply, detail_of, entry_from, opened_event, summary_from, ticket_from,
};
use crate::model::{Attachment, Entry, Event, Ticket, TicketId, TicketSummary, UnixTime};
use tether_os::files::{Create, Others};

/// How long a writer waits for another process's transaction to end.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    /// This open made the file.
    created: bool,
}

/// `$N` placeholders as SQLite's `?N`; any other `$` (in a string
/// literal, say) stays as it is.
fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let placeholder = c == '$' && chars.peek().is_some_and(|n| n.is_ascii_digit());
        out.push(if placeholder { '?' } else { c });
    }
    out
}

impl SqliteStore {
    /// Opens (creating 0600, its directory 0700) and migrates the file.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_busy_timeout(path, BUSY_TIMEOUT).await
    }

    /// [`SqliteStore::open`], waiting at most `busy` for another process's
    /// write transaction (tests use a short one).
    pub async fn open_with_busy_timeout(
        path: &Path,
        busy: Duration,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let (connection, created) = tokio::task::spawn_blocking(move || open_blocking(&path, busy))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))??;
        Ok(SqliteStore { connection: Arc::new(Mutex::new(connection)), created })
    }

    /// Whether this open created the file (a new, empty store).
    pub fn created(&self) -> bool {
        self.created
    }

    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite consistent (its
            // transaction rolls back on drop), so a poisoned lock is usable.
            let mut guard = connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    pub(super) async fn insert(&self, ticket: Ticket) -> Result<Ticket, StoreError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = insert_ticket(&tx, &ticket)?;
            let ticket = Ticket { id, ..ticket };
            let opened = opened_event(&ticket);
            tx.query_row(
                &dialect(INSERT_ENTRY),
                params![
                    id.0,
                    ticket.opened_at,
                    ticket.opened_by,
                    opened.kind(),
                    detail_of(&opened)
                ],
                |_| Ok(()),
            )?;
            tx.commit()?;
            Ok(ticket)
        })
        .await
    }

    pub(super) async fn get(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.call(move |c| {
            c.query_row(&dialect(SELECT_TICKET), [id.0], |row| Ok(ticket_from(row)))
                .optional()?
                .transpose()
        })
        .await
    }

    pub(super) async fn list(&self, filter: &ListFilter) -> Result<Vec<Ticket>, StoreError> {
        let filter = filter.clone();
        self.call(move |c| {
            let mut statement = c.prepare(&dialect(SELECT_LIST))?;
            let rows = statement.query_map(
                params![
                    filter.owner,
                    filter.breached_at,
                    i64::from(filter.open_only),
                    filter.limit.map_or(-1, i64::from)
                ],
                |row| Ok(ticket_from(row)),
            )?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    pub(super) async fn append(
        &self,
        id: TicketId,
        at: UnixTime,
        actor: &str,
        event: Event,
        attachment: Option<(String, Vec<u8>)>,
    ) -> Result<(Ticket, Entry), StoreError> {
        let actor = actor.to_owned();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut ticket = tx
                .query_row(&dialect(SELECT_TICKET), [id.0], |row| Ok(ticket_from(row)))
                .optional()?
                .transpose()?
                .ok_or(StoreError::NotFound(id))?;
            apply(&mut ticket, &event, at).map_err(|why| StoreError::Refused { id, why })?;
            tx.execute(
                &dialect(UPDATE_TICKET),
                params![
                    id.0,
                    ticket.assignee,
                    ticket.resolved_at,
                    ticket.first_resolved_at,
                    ticket.resolution,
                    ticket.tier,
                    ticket.max_tier,
                    ticket.escalations,
                    ticket.reopens
                ],
            )?;
            let entry_id: i64 = tx.query_row(
                &dialect(INSERT_ENTRY),
                params![id.0, at, actor, event.kind(), detail_of(&event)],
                |row| row.get(0),
            )?;
            if let Some((name, png)) = attachment {
                tx.execute(&dialect(INSERT_ATTACHMENT), params![entry_id, id.0, name, png])?;
            }
            tx.commit()?;
            Ok((ticket, Entry { id: entry_id, ticket: id, at, actor, event }))
        })
        .await
    }

    pub(super) async fn timeline(&self, id: TicketId) -> Result<Vec<Entry>, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(&dialect(SELECT_TIMELINE))?;
            let rows = statement.query_map([id.0], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?;
            rows.map(|r| {
                let (entry, at, actor, kind, detail) = r?;
                entry_from(entry, id, at, actor, &kind, &detail)
            })
            .collect()
        })
        .await
    }

    pub(super) async fn attachments(&self, id: TicketId) -> Result<Vec<Attachment>, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(&dialect(SELECT_ATTACHMENTS))?;
            let rows = statement.query_map([id.0], |row| {
                Ok(Attachment { entry: row.get(0)?, name: row.get(1)?, png: row.get(2)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn summaries(
        &self,
        since: UnixTime,
    ) -> Result<Vec<TicketSummary>, StoreError> {
        self.call(move |c| {
            let mut statement = c.prepare(&dialect(SELECT_SUMMARIES))?;
            let rows = statement.query_map([since], |row| Ok(summary_from(row)))?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    pub(super) async fn import(&self, batch: Vec<Import>) -> Result<(), StoreError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut entry = tx.prepare(&dialect(INSERT_ENTRY))?;
                for item in &batch {
                    let id = insert_ticket(&tx, &item.ticket)?;
                    for (at, actor, event) in &item.entries {
                        entry.query_row(
                            params![id.0, at, actor, event.kind(), detail_of(event)],
                            |_| Ok(()),
                        )?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

fn open_blocking(path: &Path, busy: Duration) -> Result<(Connection, bool), StoreError> {
    let create = |source| StoreError::Create { path: path.to_owned(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        tether_os::files::create_private_dir_all(dir).map_err(create)?;
    }
    // Created here, private (0600; on Windows an ACL for the owner, SYSTEM
    // and Administrators), before SQLite sees it: the store holds what
    // technicians wrote about people and their machines. A symlink planted
    // at the path is refused, never followed.
    let created = match Create::new(0o600).must_be_new().no_follow().open(path) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(create(e)),
    };
    check_private(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let mut connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(busy)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut connection)?;
    Ok((connection, created))
}

/// Refuses a store file that is not a regular file of ours that only we
/// can read and write: another user's file (or one they can read) at the
/// path would take or leak what technicians write.
fn check_private(path: &Path) -> Result<(), StoreError> {
    let unsafe_store = |why: String| StoreError::UnsafeFile { path: path.to_owned(), why };
    let io = |e| StoreError::Create { path: path.to_owned(), source: e };
    let file = tether_os::files::no_follow(OpenOptions::new().read(true)).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(unsafe_store("it is not a regular file".into()));
    }
    match tether_os::files::not_private_file(&file, Others::MayNotUse).map_err(io)? {
        Some(why) => Err(unsafe_store(why)),
        None => Ok(()),
    }
}

/// Brings the schema up to date. The version is read without a lock
/// first: a store already current (every open but the first after an
/// upgrade) takes no write lock, so `list` and `report` neither wait
/// behind writers nor need write access to the schema.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let known = migrations::latest();
    let has_version_table: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if has_version_table {
        let found: i64 = connection.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |row| row.get(0),
        )?;
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
        if found == known {
            return Ok(());
        }
    }
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_VERSION_TABLE)?;
    let found: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for step in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.execute_batch(&step.sqlite())?;
    }
    if found < known {
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [known])?;
    }
    tx.commit()?;
    Ok(())
}

fn insert_ticket(tx: &rusqlite::Transaction<'_>, t: &Ticket) -> Result<TicketId, StoreError> {
    let id = tx.query_row(
        &dialect(INSERT_TICKET),
        params![
            t.title,
            t.requester,
            t.host,
            t.category.as_str(),
            t.priority.as_str(),
            t.opened_by,
            t.assignee,
            t.opened_at,
            t.due_at,
            t.resolved_at,
            t.first_resolved_at,
            t.resolution,
            t.tier,
            t.max_tier,
            t.escalations,
            t.reopens
        ],
        |row| row.get(0),
    )?;
    Ok(TicketId(id))
}

impl Columns for Row<'_> {
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }

    fn text(&self, i: usize) -> Result<String, StoreError> {
        Ok(self.get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_numbered_placeholders_are_rewritten() {
        assert_eq!(
            super::dialect("SELECT '$x', $1, $12 WHERE a = '$'"),
            "SELECT '$x', ?1, ?12 WHERE a = '$'"
        );
    }
}
