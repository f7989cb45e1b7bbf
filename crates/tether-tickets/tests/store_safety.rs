//! The store refuses what would leak or hang: files others can read, a
//! symlink at the path, URLs that are not URLs, plaintext to another host,
//! a row held by a stalled peer, and entries it cannot read.
//!
//! Unix only: the PostgreSQL server (initdb, a Unix socket) and the file
//! modes and symlinks these tests use; Windows runs the unit tests.
#![cfg(unix)]

use tether_testkit::PostgresServer;
use tether_tickets::store::{Location, Store, StoreError};
use tether_tickets::{Event, Priority, TimeFrames};

mod common;
use common::{T0, kinds, new_ticket};

/// A store file that is not ours alone is refused with a hint, and a
/// symlink at the path is never followed.
#[tokio::test]
async fn an_unsafe_sqlite_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tickets.db");
    drop(Store::open(&Location::Sqlite(path.clone())).await.unwrap());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match Store::open(&Location::Sqlite(path.clone())).await {
        Err(e @ StoreError::UnsafeFile { .. }) => {
            assert!(e.to_string().contains("chmod 600"), "{e}")
        }
        Err(other) => panic!("expected UnsafeFile, got {other}"),
        Ok(_) => panic!("a store others can read was opened"),
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(
        Store::open(&Location::Sqlite(link)).await.is_err(),
        "a symlink at the store's path is not followed"
    );
}

#[test]
fn locations_that_look_like_urls_are_not_taken_as_files() {
    use tether_tickets::NotALocation;
    assert_eq!(
        Location::parse("postgres://u@db/t"),
        Ok(Location::Postgres("postgres://u@db/t".into()))
    );
    assert_eq!(Location::parse("/var/lib/t.db"), Ok(Location::Sqlite("/var/lib/t.db".into())));
    assert_eq!(Location::parse("./t.db"), Ok(Location::Sqlite("./t.db".into())));
    for typo in ["postgress://helpdesk@db/t", "POSTGRES://h@db/t", "mysql://x"] {
        assert!(matches!(Location::parse(typo), Err(NotALocation::Scheme(_))), "{typo}");
    }
    assert_eq!(Location::parse("host=db user=u password=x"), Err(NotALocation::KeyValue));
    assert_eq!(Location::parse(" "), Err(NotALocation::Empty));
}

/// Without TLS, only a socket or the loopback is reached unless the URL
/// says sslmode=disable; nothing is sent before that is decided.
#[tokio::test]
async fn a_remote_postgres_host_needs_an_explicit_sslmode_disable() {
    for url in ["postgres://u@db.example/t", "postgres://u@10.0.0.5:5432/t?sslmode=prefer"] {
        match Store::open(&Location::Postgres(url.into())).await {
            Err(e @ StoreError::Plaintext(_)) => assert!(e.to_string().contains("sslmode=disable")),
            Err(other) => panic!("{url}: expected Plaintext, got {other}"),
            Ok(_) => panic!("{url}: opened without TLS"),
        }
    }
    // The loopback is tried (nothing listens on port 1, so it fails).
    let tried = Store::open_within(
        &Location::Postgres("postgres://u@127.0.0.1:1/t".into()),
        std::time::Duration::from_secs(2),
    )
    .await;
    assert!(matches!(tried, Err(StoreError::Postgres(_))), "{:?}", tried.err());
}

/// A change waiting on a row another controller holds fails after the
/// lock timeout instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_row_held_by_a_stalled_peer_times_out() {
    let server = PostgresServer::start().unwrap_or_else(|e| panic!("needs PostgreSQL: {e}"));
    let store = Store::open(&Location::Postgres(server.url())).await.unwrap();
    let t = store
        .open_ticket(new_ticket("held", Priority::P2, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    let (mut peer, connection) =
        tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let held = peer.transaction().await.unwrap();
    held.execute("SELECT id FROM tickets WHERE id = $1 FOR UPDATE", &[&t.id.0]).await.unwrap();
    let waited = store.record(t.id, T0 + 1, "bob", Event::Note { text: "n".into() }).await;
    let e = waited.expect_err("the held row times out");
    assert!(error_chain(&e).contains("lock timeout"), "{e:?}");
    held.rollback().await.unwrap();
    store.record(t.id, T0 + 2, "bob", Event::Note { text: "n".into() }).await.unwrap();
}

/// An error and its sources as one string.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// An entry of a kind a newer tether added is read as Unreadable, and the
/// rest of the timeline still reads.
#[tokio::test]
async fn an_unknown_entry_kind_does_not_break_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tickets.db");
    let store = Store::open(&Location::Sqlite(path.clone())).await.unwrap();
    let t = store
        .open_ticket(new_ticket("mixed", Priority::P3, "alice"), &TimeFrames::default(), T0)
        .await
        .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "INSERT INTO entries (ticket_id, at, actor, kind, detail) VALUES (?1, ?2, 'bob', 'remote_wipe', '{\"kind\":\"remote_wipe\",\"ok\":true}')",
        rusqlite::params![t.id.0, T0 + 1],
    )
    .unwrap();
    store.record(t.id, T0 + 2, "bob", Event::Note { text: "after".into() }).await.unwrap();
    let timeline = store.timeline(t.id).await.unwrap();
    assert_eq!(timeline[1].event, Event::Unreadable { stored_kind: "remote_wipe".into() });
    assert_eq!(kinds(&timeline), ["opened", "unreadable", "note"]);
}
