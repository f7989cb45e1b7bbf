//! One store test suite, run against both backends: each scenario is an
//! async function over a [`Backend`] and `suite!` makes a SQLite test and a
//! PostgreSQL test of it. The PostgreSQL tests start their own server
//! (Debian's, through tether-testkit) and fail when it cannot start.
//!
//! Unix only: the PostgreSQL server (initdb, a Unix socket) and the file
//! modes and symlinks these tests use; Windows runs the unit tests.
#![cfg(unix)]

use std::collections::BTreeSet;

use tether_testkit::PostgresServer;
use tether_tickets::store::{Import, ListFilter, Location, Store, StoreError};
use tether_tickets::{Deadline, Event, Priority, TicketId, TimeFrames};

mod common;
use common::{DAY, HOUR, T0, kinds, new_ticket};

/// Where a scenario's store lives; new connections to it are independent
/// writers (another technician's controller).
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresServer),
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Backend {
        Backend::Postgres(
            PostgresServer::start()
                .unwrap_or_else(|e| panic!("the PostgreSQL tests need a server: {e}")),
        )
    }

    fn location(&self) -> Location {
        match self {
            Backend::Sqlite(dir) => Location::Sqlite(dir.path().join("data/tether/tickets.db")),
            Backend::Postgres(server) => Location::Postgres(server.url()),
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.location()).await.unwrap()
    }
}

macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::postgres()).await;
                }
            )*
        }
    };
}

suite!(
    a_ticket_lives_through_open_note_escalate_resolve_reopen,
    changes_that_do_not_fit_the_ticket_are_refused,
    lists_filter_by_state_owner_and_breach,
    screenshots_are_kept_with_their_bytes,
    the_schema_is_created_once_and_a_newer_one_refused,
    concurrent_writers_lose_no_records,
    summaries_start_at_since_and_imports_land_whole,
    an_up_to_date_store_opens_without_schema_rights_or_the_write_lock,
);

/// Opening a store whose schema is current touches no schema: on
/// PostgreSQL a role with data rights only (no CREATE on the schema, the
/// PostgreSQL 15 default) works with it; on SQLite a writer holding the
/// lock does not stop another process from opening and listing.
async fn an_up_to_date_store_opens_without_schema_rights_or_the_write_lock(backend: Backend) {
    let owner = backend.open().await;
    owner
        .open_ticket(new_ticket("set up", Priority::P3, "owner"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    drop(owner);
    match &backend {
        Backend::Sqlite(_) => {
            let Location::Sqlite(path) = backend.location() else { unreachable!() };
            let writer = rusqlite::Connection::open(&path).unwrap();
            writer.execute_batch("BEGIN IMMEDIATE").unwrap();
            // With the old open (BEGIN IMMEDIATE on every open) this waited
            // out the busy timeout and failed with "database is locked".
            let reader = tether_tickets::store::SqliteStore::open_with_busy_timeout(
                &path,
                std::time::Duration::from_millis(200),
            )
            .await
            .expect("an up-to-date store opens while another process writes");
            let reader = Store::Sqlite(reader);
            let listed = reader.list(&ListFilter::default()).await.unwrap();
            assert_eq!(listed.len(), 1);
            writer.execute_batch("ROLLBACK").unwrap();
        }
        Backend::Postgres(server) => {
            let (admin, connection) =
                tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            admin
                .batch_execute(
                    "CREATE ROLE tech LOGIN;
                     REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                     GRANT USAGE ON SCHEMA public TO tech;
                     GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO tech;
                     GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tech;",
                )
                .await
                .unwrap();
            let url = server.url().replace("postgres://postgres@", "postgres://tech@");
            let tech = Store::open(&Location::Postgres(url))
                .await
                .expect("a data-only role opens a migrated store");
            let listed = tech.list(&ListFilter::default()).await.unwrap();
            assert_eq!(listed.len(), 1);
            tech.record(listed[0].id, T0 + HOUR, "tech", Event::Note { text: "works".into() })
                .await
                .expect("and writes to it");
        }
    }
}

async fn a_ticket_lives_through_open_note_escalate_resolve_reopen(backend: Backend) {
    let store = backend.open().await;
    let frames = TimeFrames::default();
    let t = store
        .open_ticket(new_ticket("VPN drops", Priority::P2, "alice"), &frames, T0)
        .await
        .unwrap();
    assert_eq!(t.due_at, T0 + DAY, "P2 is due a day after opening");
    assert_eq!(t.deadline(T0 + 3 * HOUR), Deadline::Due { remaining: 21 * HOUR });

    store.record(t.id, T0 + 60, "alice", Event::Note { text: "called back".into() }).await.unwrap();
    let (escalated, _) = store
        .record(
            t.id,
            T0 + 120,
            "alice",
            Event::Escalated { tier: 2, reason: Some("needs root".into()) },
        )
        .await
        .unwrap();
    assert_eq!((escalated.tier, escalated.max_tier, escalated.escalations), (2, 2, 1));
    let (resolved, _) = store
        .record(t.id, T0 + 2 * HOUR, "bob", Event::Resolved { resolution: "new DNS server".into() })
        .await
        .unwrap();
    assert_eq!(resolved.resolved_at, Some(T0 + 2 * HOUR));
    assert_eq!(resolved.deadline(T0 + 5 * DAY), Deadline::Met);

    let (reopened, _) = store.record(t.id, T0 + 2 * DAY, "alice", Event::Reopened).await.unwrap();
    assert!(reopened.is_open());
    assert_eq!(reopened.reopens, 1);
    assert_eq!(reopened.first_resolved_at, Some(T0 + 2 * HOUR), "the first resolution is kept");
    assert_eq!(reopened.deadline(T0 + 2 * DAY), Deadline::Breached { overdue: DAY });

    store
        .record(t.id, T0 + 3 * DAY, "bob", Event::Resolved { resolution: "for good".into() })
        .await
        .unwrap();
    let stored = store.ticket(t.id).await.unwrap();
    assert_eq!(stored.deadline(T0 + 9 * DAY), Deadline::ResolvedLate { overdue: 2 * DAY });
    assert_eq!(stored.first_resolved_at, Some(T0 + 2 * HOUR));
    assert_eq!(stored.resolution.as_deref(), Some("for good"));
    assert_eq!(stored.tier, 2);

    let timeline = store.timeline(t.id).await.unwrap();
    assert_eq!(
        kinds(&timeline),
        ["opened", "note", "escalated", "resolved", "reopened", "resolved"]
    );
    assert_eq!(timeline[2].event, Event::Escalated { tier: 2, reason: Some("needs root".into()) });
    assert_eq!((timeline[3].at, timeline[3].actor.as_str()), (T0 + 2 * HOUR, "bob"));
}

async fn changes_that_do_not_fit_the_ticket_are_refused(backend: Backend) {
    let store = backend.open().await;
    let t = store
        .open_ticket(new_ticket("Printer", Priority::P4, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    let refused = |result: Result<_, StoreError>| match result {
        Err(StoreError::Refused { id, why }) => {
            assert_eq!(id, t.id);
            why.to_string()
        }
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(refused(store.record(t.id, T0, "a", Event::Reopened).await).contains("open"));
    assert!(
        refused(store.record(t.id, T0, "a", Event::Escalated { tier: 1, reason: None }).await)
            .contains("tier 1")
    );
    assert!(
        refused(store.record(t.id, T0, "a", Event::Escalated { tier: 4, reason: None }).await)
            .contains("does not exist")
    );
    store.record(t.id, T0, "a", Event::Escalated { tier: 3, reason: None }).await.unwrap();
    assert!(
        refused(store.record(t.id, T0, "a", Event::Escalated { tier: 2, reason: None }).await)
            .contains("tier 3")
    );
    store.record(t.id, T0, "a", Event::Resolved { resolution: "r".into() }).await.unwrap();
    assert!(
        refused(store.record(t.id, T0, "a", Event::Resolved { resolution: "r".into() }).await)
            .contains("already")
    );
    assert!(
        refused(store.record(t.id, T0 - 1, "a", Event::Note { text: "n".into() }).await)
            .contains("before the ticket was opened")
    );
    let long = "x".repeat(tether_tickets::store::MAX_TEXT_CHARS + 1);
    assert!(
        refused(store.record(t.id, T0, "a", Event::Note { text: long }).await).contains("longer")
    );
    for (title, requester) in [(" ", "Ada"), ("t", "")] {
        let mut new = new_ticket(title, Priority::P4, "alice");
        new.requester = requester.into();
        assert!(matches!(
            store.open_ticket(new, &TimeFrames::default(), T0).await,
            Err(StoreError::Invalid(tether_tickets::Refusal::Blank(_)))
        ));
    }
    // Refused changes leave no trace.
    assert_eq!(kinds(&store.timeline(t.id).await.unwrap()), ["opened", "escalated", "resolved"]);

    let missing = TicketId(t.id.0 + 1000);
    assert!(matches!(store.ticket(missing).await, Err(StoreError::NotFound(id)) if id == missing));
    assert!(matches!(store.timeline(missing).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        store.record(missing, T0, "a", Event::Note { text: "x".into() }).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn lists_filter_by_state_owner_and_breach(backend: Backend) {
    let store = backend.open().await;
    let frames = TimeFrames::default();
    // a: P1 by alice, open (due T0+4h). b: P4 by bob assigned to alice, open.
    // c: P1 by alice assigned to bob, resolved late. d: P3 by bob, resolved in time.
    let a = store.open_ticket(new_ticket("a", Priority::P1, "alice"), &frames, T0).await.unwrap();
    let b = store.open_ticket(new_ticket("b", Priority::P4, "bob"), &frames, T0).await.unwrap();
    let c = store.open_ticket(new_ticket("c", Priority::P1, "alice"), &frames, T0).await.unwrap();
    let d = store.open_ticket(new_ticket("d", Priority::P3, "bob"), &frames, T0).await.unwrap();
    store.record(b.id, T0, "bob", Event::Assigned { to: "alice".into() }).await.unwrap();
    store.record(c.id, T0, "alice", Event::Assigned { to: "bob".into() }).await.unwrap();
    store
        .record(c.id, T0 + 5 * HOUR, "bob", Event::Resolved { resolution: "late".into() })
        .await
        .unwrap();
    store
        .record(d.id, T0 + HOUR, "bob", Event::Resolved { resolution: "quick".into() })
        .await
        .unwrap();

    let ids =
        |tickets: Vec<tether_tickets::Ticket>| tickets.iter().map(|t| t.id).collect::<Vec<_>>();
    let list = |filter: ListFilter| {
        let store = &store;
        async move { ids(store.list(&filter).await.unwrap()) }
    };
    assert_eq!(list(ListFilter::default()).await, [d.id, c.id, b.id, a.id], "newest first");
    assert_eq!(list(ListFilter { open_only: true, ..Default::default() }).await, [b.id, a.id]);
    assert_eq!(list(ListFilter { limit: Some(3), ..Default::default() }).await, [d.id, c.id, b.id]);
    let alice = ListFilter { owner: Some("alice".into()), ..Default::default() };
    assert_eq!(list(alice).await, [b.id, a.id], "assigned to alice, or hers and unassigned");
    let bob = ListFilter { owner: Some("bob".into()), ..Default::default() };
    assert_eq!(list(bob).await, [d.id, c.id]);
    let breached_early = ListFilter { breached_at: Some(T0 + HOUR), ..Default::default() };
    assert_eq!(list(breached_early).await, [c.id], "only the late resolution, an hour in");
    let breached_later =
        ListFilter { breached_at: Some(T0 + 6 * HOUR), open_only: true, ..Default::default() };
    assert_eq!(list(breached_later).await, [a.id], "the open P1 is past due after 4 h");
}

async fn screenshots_are_kept_with_their_bytes(backend: Backend) {
    let store = backend.open().await;
    let t = store
        .open_ticket(new_ticket("Screen", Priority::P3, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    let png = b"\x89PNG\r\n\x1a\n not really".to_vec();
    let entry = store
        .attach_screenshot(t.id, T0 + 10, "alice", "ws-042", "error.png", png.clone())
        .await
        .unwrap();
    let second = b"\x89PNG\r\n\x1a\n second".to_vec();
    let other = store
        .attach_screenshot(t.id, T0 + 20, "alice", "ws-042", "after.png", second.clone())
        .await
        .unwrap();
    // Not a PNG, or too large: refused, nothing recorded.
    for bad in [vec![1, 2, 3], [&png[..], &vec![0; tether_tickets::store::MAX_PNG_BYTES]].concat()]
    {
        match store.attach_screenshot(t.id, T0 + 30, "alice", "ws-042", "x.png", bad).await {
            Err(StoreError::Invalid(_)) => {}
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    let attachments = store.attachments(t.id).await.unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!((attachments[0].entry, attachments[0].name.as_str()), (entry.id, "error.png"));
    assert_eq!(attachments[0].png, png);
    assert_eq!((attachments[1].entry, &attachments[1].png), (other.id, &second));
    let timeline = store.timeline(t.id).await.unwrap();
    assert_eq!(
        timeline[1].event,
        Event::Screenshot {
            host: "ws-042".into(),
            name: "error.png".into(),
            bytes: png.len() as u64
        }
    );
}

async fn the_schema_is_created_once_and_a_newer_one_refused(backend: Backend) {
    let first = backend.open().await;
    let t = first
        .open_ticket(new_ticket("kept", Priority::P2, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    drop(first);
    // Reopening an up-to-date store applies nothing and keeps the data.
    let again = backend.open().await;
    assert_eq!(again.ticket(t.id).await.unwrap().title, "kept");
    drop(again);

    match &backend {
        Backend::Sqlite(_) => {
            let Location::Sqlite(path) = backend.location() else { unreachable!() };
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "the store file is private");
                let dir_mode =
                    std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
                assert_eq!(dir_mode, 0o700, "its directory is private");
            }
            let raw = rusqlite::Connection::open(&path).unwrap();
            assert_eq!(
                raw.query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get::<_, i64>(0))
                    .unwrap(),
                1
            );
            raw.execute("UPDATE schema_version SET version = 99", []).unwrap();
        }
        Backend::Postgres(server) => {
            let (client, connection) =
                tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let rows: i64 =
                client.query_one("SELECT COUNT(*) FROM schema_version", &[]).await.unwrap().get(0);
            assert_eq!(rows, 1);
            client.execute("UPDATE schema_version SET version = 99", &[]).await.unwrap();
        }
    }
    match Store::open(&backend.location()).await {
        Err(StoreError::NewerSchema { found: 99, known: 1 }) => {}
        Err(other) => panic!("expected NewerSchema, got {other}"),
        Ok(_) => panic!("a store from a newer tether was opened"),
    }
}

async fn concurrent_writers_lose_no_records(backend: Backend) {
    const WRITERS: usize = 6;
    const NOTES: usize = 25;
    // Controllers that open an empty store at once: one creates the
    // schema, the others wait for it and find it made.
    let opening: Vec<_> = (0..WRITERS)
        .map(|_| {
            let location = backend.location();
            tokio::spawn(async move { Store::open(&location).await.map(drop) })
        })
        .collect();
    for open in opening {
        open.await.unwrap().unwrap();
    }
    let setup = backend.open().await;
    let t = setup
        .open_ticket(new_ticket("busy", Priority::P1, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    let location = backend.location();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let location = location.clone();
        tasks.push(tokio::spawn(async move {
            // Each writer its own connection, as separate controllers have.
            let store = Store::open(&location).await.unwrap();
            for n in 0..NOTES {
                let text = format!("writer {writer} note {n}");
                store
                    .record(t.id, T0 + n as i64, &format!("tech{writer}"), Event::Note { text })
                    .await
                    .unwrap();
                if n == 0 {
                    // Every writer also opens tickets at the same time.
                    store
                        .open_ticket(
                            new_ticket("parallel", Priority::P3, "x"),
                            &TimeFrames::default(),
                            T0,
                        )
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let timeline = setup.timeline(t.id).await.unwrap();
    let notes: BTreeSet<String> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            Event::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), WRITERS * NOTES, "every note from every writer is there once");
    assert_eq!(timeline.len(), WRITERS * NOTES + 1);
    assert_eq!(setup.list(&ListFilter::default()).await.unwrap().len(), WRITERS + 1);
}

async fn summaries_start_at_since_and_imports_land_whole(backend: Backend) {
    let store = backend.open().await;
    let frames = TimeFrames::default();
    let old = store
        .open_ticket(new_ticket("old", Priority::P2, "alice"), &frames, T0 - 40 * DAY)
        .await
        .unwrap();
    let new =
        store.open_ticket(new_ticket("new", Priority::P2, "alice"), &frames, T0).await.unwrap();
    store.record(new.id, T0 + HOUR, "bob", Event::Assigned { to: "bob".into() }).await.unwrap();
    store
        .record(new.id, T0 + 2 * HOUR, "bob", Event::Escalated { tier: 3, reason: None })
        .await
        .unwrap();
    // Entered late, out of time order: one before the period, one in it.
    let older = store
        .open_ticket(new_ticket("older", Priority::P2, "alice"), &frames, T0 - 35 * DAY)
        .await
        .unwrap();
    let backfilled = store
        .open_ticket(new_ticket("backfilled", Priority::P2, "alice"), &frames, T0 - 10 * DAY)
        .await
        .unwrap();
    let mut summaries = store.summaries(T0 - 30 * DAY).await.unwrap();
    summaries.sort_by_key(|s| s.id);
    let ids: Vec<TicketId> = summaries.iter().map(|s| s.id).collect();
    assert_eq!(ids, [new.id, backfilled.id], "not {:?} nor {:?}", old.id, older.id);
    let s = &summaries[0];
    assert_eq!((s.technician.as_str(), s.max_tier, s.escalations), ("bob", 3, 1));
    assert!(store.summaries(T0 + DAY).await.unwrap().is_empty(), "nothing opened since");

    let mut template = store.ticket(new.id).await.unwrap();
    template.title = "imported".into();
    let batch = (0..50)
        .map(|i| Import {
            ticket: template.clone(),
            entries: (0..4)
                .map(|n| (T0 + n, "importer".to_owned(), Event::Note { text: format!("{i}/{n}") }))
                .collect(),
        })
        .collect();
    store.import(batch).await.unwrap();
    let all = store.list(&ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), 54);
    let newest = &all[0];
    assert_eq!(newest.title, "imported");
    assert_eq!(store.timeline(newest.id).await.unwrap().len(), 4);
    // Ids keep counting after an import.
    let after =
        store.open_ticket(new_ticket("after", Priority::P2, "a"), &frames, T0).await.unwrap();
    assert!(after.id > newest.id);
}
