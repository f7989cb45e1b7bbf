//! Report figures over a large ticket store: a bench binary printing
//! medians, not a timed test.
//!
//! Run: `cargo build --release -p tether && cargo bench -p tether-tests --bench tickets`
//! (or `--profile dev` after a debug build, for slower, indicative figures).
//!
//! It seeds 100,000 tickets and 1,000,000 timeline entries spread over the
//! last year (batched transactions on SQLite, COPY on PostgreSQL), then
//! times `tether report --since 365d --by week` as a whole process three
//! times per backend and prints the median, the seeding time and the
//! store's size on disk (SQLite: the file with its WAL; PostgreSQL: the
//! database, and the data directory with its WAL). PostgreSQL is a private server from
//! tether-testkit (Debian's postgresql package).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tether_testkit::random::XorShift64;
use tether_testkit::{PostgresServer, workspace_binary};
use tether_tickets::store::Import;
use tether_tickets::{Category, Event, Location, Priority, Store, Ticket, TicketId};

const TICKETS: usize = 100_000;
const ENTRIES_PER_TICKET: usize = 10;
const BATCH: usize = 10_000;
const RUNS: usize = 3;

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;

    let sqlite = dir.path().join("tickets.db");
    let seeding = runtime.block_on(seed(&Location::Sqlite(sqlite.clone()), now));
    let median = time_report(sqlite.to_str().unwrap(), dir.path());
    let size = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", sqlite.display())).ok())
        .map(|m| m.len())
        .sum::<u64>();
    print("SQLite", seeding, median, size);

    let server =
        PostgresServer::start().unwrap_or_else(|e| panic!("the bench needs PostgreSQL: {e}"));
    let url = server.url();
    let seeding = runtime.block_on(seed(&Location::Postgres(url.clone()), now));
    let median = time_report(&url, dir.path());
    print("PostgreSQL", seeding, median, database_size(&url));
    println!(
        "PostgreSQL  the whole data directory, WAL included: {:.1} MiB",
        server.disk_usage() as f64 / (1024.0 * 1024.0)
    );
}

/// `pg_database_size` of the store's database, through psql.
fn database_size(url: &str) -> u64 {
    let output = Command::new("psql")
        .args([url, "-Atc", "SELECT pg_database_size(current_database())"])
        .output()
        .expect("psql (postgresql-client) runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("psql printed a size")
}

fn print(backend: &str, seeding: Duration, median: Duration, bytes: u64) {
    println!(
        "{backend:<10}  seed {TICKETS} tickets + {} entries: {:.1} s   report --since 365d --by week: median of {RUNS} {:.0} ms   store on disk: {:.1} MiB",
        TICKETS * ENTRIES_PER_TICKET,
        seeding.as_secs_f64(),
        median.as_secs_f64() * 1000.0,
        bytes as f64 / (1024.0 * 1024.0)
    );
}

/// Seeds the store in batches; returns how long it took.
async fn seed(location: &Location, now: i64) -> Duration {
    let store = Store::open(location).await.unwrap();
    let mut rng = XorShift64::new(0x7e7e);
    let started = Instant::now();
    for _ in 0..TICKETS / BATCH {
        let batch = (0..BATCH).map(|_| ticket(&mut rng, now)).collect();
        store.import(batch).await.unwrap();
    }
    started.elapsed()
}

fn ticket(rng: &mut XorShift64, now: i64) -> Import {
    let opened = now - rng.below(365 * 86_400) as i64;
    let priority = Priority::ALL[rng.below(4) as usize];
    let category = Category::ALL[rng.below(5) as usize];
    let frames = tether_tickets::TimeFrames::default();
    let resolved = (rng.below(10) < 8).then(|| (opened + rng.below(5 * 86_400) as i64).min(now));
    let tier = [1, 1, 1, 2, 3][rng.below(5) as usize];
    let host = format!("ws-{:03}", rng.below(1000));
    let tech = format!("tech{:02}", rng.below(20));
    let entries = (0..ENTRIES_PER_TICKET)
        .map(|n| {
            let event = match n {
                0 => Event::Opened {
                    title: "seeded".into(),
                    priority,
                    category,
                    due_at: frames.due_at(priority, opened),
                },
                _ if n % 3 == 0 => {
                    Event::Note { text: format!("note {n} on the call with the requester") }
                }
                _ => Event::Command {
                    host: host.clone(),
                    command: "net".into(),
                    summary: "net: DNS layer failed".into(),
                    ok: n % 2 == 0,
                },
            };
            (opened + n as i64 * 60, tech.clone(), event)
        })
        .collect();
    Import {
        ticket: Ticket {
            id: TicketId(0),
            title: format!("seeded ticket about {category}"),
            requester: format!("user{:04}", rng.below(2000)),
            host: Some(host),
            category,
            priority,
            opened_by: tech.clone(),
            assignee: (rng.below(2) == 0).then(|| tech.clone()),
            opened_at: opened,
            due_at: frames.due_at(priority, opened),
            resolved_at: resolved,
            first_resolved_at: resolved,
            resolution: resolved.map(|_| "fixed".into()),
            tier,
            max_tier: tier,
            escalations: u32::from(tier - 1),
            reopens: 0,
        },
        entries,
    }
}

/// The median wall time of `tether report --since 365d --by week` against `db`.
fn time_report(db: &str, home: &Path) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let mut cmd = Command::new(workspace_binary("tether"));
            cmd.env_clear().env("HOME", home).args([
                "--config-dir",
                home.to_str().unwrap(),
                "--db",
                db,
                "report",
                "--since",
                "365d",
                "--by",
                "week",
            ]);
            let started = Instant::now();
            let output = cmd.output().unwrap();
            let took = started.elapsed();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let text = String::from_utf8_lossy(&output.stdout);
            assert!(
                text.contains(&format!("  {TICKETS}  ")) || text.contains(&TICKETS.to_string()),
                "{text}"
            );
            took
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}
