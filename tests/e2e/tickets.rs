//! `tether ticket …` and `tether report` end to end: the real binary, a
//! technician certificate from the real `tether pki`, the default SQLite
//! store under the throw-away home, and a real PostgreSQL server for
//! `--db postgres://…`. Datasets with known answers are seeded through
//! the library into the same store the binary reads.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;
use tether_testkit::{Identity, PostgresServer, Run, TestPki, run, tether_as};
use tether_tickets::store::Import;
use tether_tickets::{Category, Event, Location, Priority, Store, Ticket, TicketId};

/// A technician (`grace`, tier 1) with a home and a config directory.
struct Desk {
    _pki: TestPki,
    tech: Identity,
    home: TempDir,
}

impl Desk {
    fn new() -> Desk {
        let pki = TestPki::new("Ticket Desk");
        let tech = pki.issue_tech("grace", "tier1");
        Desk { _pki: pki, tech, home: tempfile::tempdir().unwrap() }
    }

    fn config_dir(&self) -> PathBuf {
        let dir = self.home.path().join("config");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Where the store is when nothing names one.
    fn default_store(&self) -> PathBuf {
        self.home.path().join(".local/share/tether/tickets.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = tether_as(&self.tech, self.home.path());
        cmd.arg("--config-dir").arg(self.config_dir()).args(args);
        cmd
    }

    fn tether(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        let run = self.tether(args);
        serde_json::from_str(run.ok())
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{}", run.stdout))
    }

    async fn store(&self) -> Store {
        Store::open(&Location::Sqlite(self.default_store())).await.unwrap()
    }
}

fn kinds(show: &Value) -> Vec<String> {
    show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_ticket_goes_through_its_life_on_the_command_line() {
    let desk = Desk::new();
    let opened = desk.json(&[
        "ticket",
        "open",
        "VPN drops every hour",
        "--requester",
        "Ada Lovelace",
        "--host",
        "ws-042",
        "--category",
        "network",
        "--priority",
        "P2",
        "--json",
    ]);
    assert_eq!(opened["display_id"], "T-1");
    assert_eq!(opened["opened_by"], "grace", "the certificate's CN");
    assert_eq!(opened["due_at"].as_i64().unwrap() - opened["opened_at"].as_i64().unwrap(), 86_400);
    assert!(
        opened["deadline_text"].as_str().unwrap().starts_with("due in 23h")
            || opened["deadline_text"] == "due in 1d"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(desk.default_store()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the default store is private");
    }

    let second = desk.tether(&["ticket", "open", "Printer jams", "--requester", "Bob"]);
    assert!(second.ok().starts_with("T-2 opened: Printer jams (due in"), "{}", second.stdout);

    assert!(
        desk.tether(&["ticket", "note", "T-1", "called back"]).ok().contains("T-1: note added")
    );
    let escalated =
        desk.tether(&["ticket", "escalate", "1", "--tier", "2", "--reason", "needs root"]);
    assert!(escalated.ok().starts_with("T-1 escalated to tier 2"), "{}", escalated.stdout);
    desk.tether(&["ticket", "assign", "T-2", "linus"]).ok();
    let resolved =
        desk.json(&["ticket", "resolve", "T-1", "--resolution", "new DNS server", "--json"]);
    assert_eq!(resolved["deadline"]["state"], "met");

    let mine = desk.json(&["ticket", "list", "--mine", "--json"]);
    let ids: Vec<_> = mine.as_array().unwrap().iter().map(|t| t["display_id"].clone()).collect();
    assert_eq!(ids, ["T-1"], "T-2 is linus's now");
    let open = desk.json(&["ticket", "list", "--open", "--json"]);
    assert_eq!(open.as_array().unwrap().len(), 1);
    let newest = desk.json(&["ticket", "list", "-n", "1", "--json"]);
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(newest[0]["display_id"], "T-2");
    let table = desk.tether(&["ticket", "list"]);
    assert!(table.ok().lines().next().unwrap().starts_with("ID  "), "{}", table.stdout);
    assert!(table.stdout.contains("T-2") && table.stdout.contains("linus"));

    // A change that does not fit: one line, exit 1.
    let refused = desk.tether(&["ticket", "escalate", "T-1", "--tier", "3"]).fails_with(1);
    assert!(refused.contains("T-1: it is resolved; reopen it first"), "{refused}");
    desk.tether(&["ticket", "reopen", "T-1"]).ok();
    let missing = desk.tether(&["ticket", "show", "T-99"]).fails_with(1);
    assert!(missing.contains("no ticket T-99 in the ticket store"), "{missing}");
    // A malformed id is a usage error, like any bad argument.
    let not_an_id = desk.tether(&["ticket", "show", "INC-7"]);
    assert_eq!(not_an_id.code(), Some(2), "{}", not_an_id.stderr);
    assert!(not_an_id.stderr.contains("is not a ticket id"), "{}", not_an_id.stderr);

    let show = desk.json(&["ticket", "show", "T-1", "--json"]);
    assert_eq!(kinds(&show), ["opened", "note", "escalated", "resolved", "reopened"]);
    assert_eq!(show["reopens"], 1);
    assert_eq!(show["first_resolved_at"], resolved["resolved_at"]);
    let text = desk.tether(&["ticket", "show", "T-1"]);
    assert!(text.ok().contains("escalated to tier 2: needs root"), "{}", text.stdout);

    // A screenshot kept with the ticket (as `tether screenshot --ticket`
    // and the session do), then the export.
    let png = b"\x89PNG\r\n\x1a\n stored as given".to_vec();
    desk.store()
        .await
        .attach_screenshot(
            TicketId(1),
            1_800_000_000,
            "grace",
            "ws-042",
            "../error.png",
            png.clone(),
        )
        .await
        .unwrap();
    let show = desk.tether(&["ticket", "show", "T-1"]);
    assert!(
        show.ok().contains("Screenshots") && show.stdout.contains("../error.png"),
        "{}",
        show.stdout
    );
    let out = desk.home.path().join("export");
    let exported = desk.json(&["ticket", "export", "T-1", out.to_str().unwrap(), "--json"]);
    let file = exported["screenshots"][0].as_str().unwrap();
    assert!(file.starts_with("T-1-") && !file.contains('/'), "{file}");
    assert_eq!(std::fs::read(out.join(file)).unwrap(), png);
    let markdown = std::fs::read_to_string(out.join("T-1.md")).unwrap();
    assert!(markdown.starts_with("# T-1: VPN drops every hour"), "{markdown}");
    assert!(
        markdown.contains("escalated to tier 2: needs root")
            && markdown.contains(&format!("]({file})")),
        "{markdown}"
    );
    export_is_private_and_follows_no_symlink(&desk, &out, file, &png);
}

/// The export made its directory 0700 and its files 0600; it replaces
/// nothing without --force, never writes through a symlink, and refuses
/// a directory others can write to.
fn export_is_private_and_follows_no_symlink(
    desk: &Desk,
    out: &std::path::Path,
    file: &str,
    png: &[u8],
) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(out), 0o700);
    assert_eq!((mode(&out.join(file)), mode(&out.join("T-1.md"))), (0o600, 0o600));
    let dir = out.to_str().unwrap();
    let again = desk.tether(&["ticket", "export", "T-1", dir]).fails_with(1);
    assert!(again.contains("exists; --force replaces it"), "{again}");
    std::fs::write(out.join(file), b"older").unwrap();
    std::fs::set_permissions(out.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    desk.tether(&["ticket", "export", "T-1", dir, "--force"]).ok();
    assert_eq!(std::fs::read(out.join(file)).unwrap(), png);
    assert_eq!(mode(&out.join(file)), 0o600, "a replaced file is made private");

    let victim = desk.home.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::remove_file(out.join("T-1.md")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("T-1.md")).unwrap();
    // Without --force the existing screenshot already stops it; with it,
    // the symlink does.
    desk.tether(&["ticket", "export", "T-1", dir]).fails_with(1);
    let refused = desk.tether(&["ticket", "export", "T-1", dir, "--force"]).fails_with(1);
    assert!(refused.contains("T-1.md is a symlink; it is not followed"), "{refused}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    let shared = desk.home.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = desk.tether(&["ticket", "export", "T-1", shared.to_str().unwrap()]).fails_with(1);
    assert!(refused.contains("others may use it"), "{refused}");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

#[test]
fn breaches_follow_the_configured_time_frames() {
    let desk = Desk::new();
    std::fs::write(desk.config_dir().join("tether.toml"), "[tickets.time_frames]\nP1 = \"1s\"\n")
        .unwrap();
    desk.tether(&["ticket", "open", "Server down", "--requester", "Ada", "--priority", "P1"]).ok();
    desk.tether(&["ticket", "open", "Slow laptop", "--requester", "Ada", "--priority", "P4"]).ok();
    // Past a one-second time frame, whatever the machine's load.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let breached = desk.json(&["ticket", "list", "--breached", "--json"]);
    let breached = breached.as_array().unwrap();
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0]["title"], "Server down");
    assert!(
        breached[0]["deadline_text"].as_str().unwrap().starts_with("breached "),
        "{}",
        breached[0]
    );
    let typo = desk.config_dir().join("tether.toml");
    std::fs::write(&typo, "[tickets]\ndbb = \"x\"\n").unwrap();
    let error = desk.tether(&["ticket", "list"]).fails_with(1);
    assert!(error.contains("tether.toml") && error.contains("dbb"), "{error}");
}

#[test]
fn concurrent_processes_lose_no_notes() {
    const PROCESSES: usize = 8;
    const NOTES: usize = 4;
    let desk = Desk::new();
    desk.tether(&["ticket", "open", "Busy", "--requester", "Ada"]).ok();
    std::thread::scope(|scope| {
        for p in 0..PROCESSES {
            let desk = &desk;
            scope.spawn(move || {
                for n in 0..NOTES {
                    desk.tether(&["ticket", "note", "T-1", &format!("process {p} note {n}")]).ok();
                }
            });
        }
    });
    let show = desk.json(&["ticket", "show", "T-1", "--json"]);
    let notes = kinds(&show).iter().filter(|k| *k == "note").count();
    assert_eq!(notes, PROCESSES * NOTES);
}

/// Seeds tickets relative to now: 4 network tickets resolved after 1, 2,
/// 3 and 10 hours (the 10-hour one escalated to tier 2), and 1 open
/// hardware ticket past due, all opened two days ago on ws-1/ws-2.
async fn seed_report(store: &Store) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let opened = now - 2 * 86_400;
    let ticket = |category, host: &str, resolve_after: Option<i64>, tier: u8| Ticket {
        id: TicketId(0),
        title: "seeded".into(),
        requester: "Ada, the \"caller\"".into(),
        host: Some(host.into()),
        category,
        priority: Priority::P3,
        opened_by: "grace".into(),
        assignee: None,
        opened_at: opened,
        due_at: opened + 86_400,
        resolved_at: resolve_after.map(|h| opened + h * 3_600),
        first_resolved_at: resolve_after.map(|h| opened + h * 3_600),
        resolution: resolve_after.map(|_| "fixed".into()),
        tier,
        max_tier: tier,
        escalations: u32::from(tier - 1),
        reopens: 0,
    };
    let batch = [
        ticket(Category::Network, "ws-1", Some(1), 1),
        ticket(Category::Network, "ws-1", Some(2), 1),
        ticket(Category::Network, "ws-2", Some(3), 1),
        ticket(Category::Network, "ws-1", Some(10), 2),
        ticket(Category::Hardware, "ws-2", None, 1),
    ]
    .into_iter()
    .map(|ticket| Import {
        ticket,
        entries: vec![(opened, "grace".into(), Event::Note { text: "seeded".into() })],
    })
    .collect();
    store.import(batch).await.unwrap();
}

#[tokio::test]
async fn reports_print_tables_json_csv_and_a_chart() {
    let desk = Desk::new();
    seed_report(&desk.store().await).await;
    let report = desk.json(&["report", "--since", "7d", "--json"]);
    let total = &report["total"];
    assert_eq!((total["volume"].as_u64(), total["resolved"].as_u64()), (Some(5), Some(4)));
    assert_eq!(total["resolution_rate"], 0.8);
    // 1, 2, 3, 10 h: median (2+3)/2 = 2.5 h; p90 rank ⌈3.6⌉ = 4th.
    assert_eq!(total["median_resolve_secs"], 9_000);
    assert_eq!(total["p90_resolve_secs"], 36_000);
    assert_eq!(total["first_contact_rate"], 0.75);
    assert_eq!(total["escalated_tier2_rate"], 0.2);
    // Every resolution came within the day; the open hardware ticket is past due.
    assert_eq!(total["breaches"], 1);
    assert_eq!(report["recurring_hosts"][0]["name"], "ws-1");
    assert_eq!(report["groups"][0]["key"], "network");

    let csv = desk.tether(&["report", "--since", "7d", "--by", "requester", "--format", "csv"]);
    let lines: Vec<&str> = csv.ok().lines().collect();
    assert!(lines[0].starts_with("requester,tickets,resolved,resolution_rate,"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("\"Ada, the \"\"caller\"\"\",5,4,0.8000,9000,36000,0.7500,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",\"network 4, hardware 1\""), "{}", lines[1]);
    assert_eq!(lines.len(), 3, "one requester and the total");
    // The total's key cannot be taken for a host or requester named "all".
    assert!(lines[2].starts_with("(all),5,"), "{}", lines[2]);

    let table = desk.tether(&["report", "--since", "7d", "--by", "host"]);
    assert!(table.ok().contains("Recurring hosts: ws-1 3, ws-2 2"), "{}", table.stdout);
    let none = desk.json(&["report", "--since", "1h", "--json"]);
    assert_eq!(none["total"]["volume"], 0, "nothing opened in the last hour");

    let chart = desk.home.path().join("trend.png");
    desk.tether(&["report", "--since", "30d", "--by", "week", "--chart", chart.to_str().unwrap()])
        .ok();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&chart).unwrap()));
    let reader = decoder.read_info().expect("--chart writes a valid PNG");
    assert_eq!((reader.info().width, reader.info().height), (1200, 800));
}

#[test]
fn the_store_can_be_a_postgres_database() {
    let server =
        PostgresServer::start().unwrap_or_else(|e| panic!("this test needs PostgreSQL: {e}"));
    let desk = Desk::new();
    let url = server.url();
    desk.tether(&["--db", &url, "ticket", "open", "Shared", "--requester", "Ada"]).ok();
    let mut by_env = desk.command(&["ticket", "list", "--json"]);
    by_env.env("TETHER_DB", &url);
    let listed: Value = serde_json::from_str(run(by_env).ok()).unwrap();
    assert_eq!(listed[0]["title"], "Shared");
    assert!(!desk.default_store().exists(), "nothing went to the default SQLite file");
    let report = desk.json(&["--db", &url, "report", "--json"]);
    assert_eq!(report["total"]["volume"], 1);
    let unreachable = desk
        .tether(&["--db", "postgres://postgres@127.0.0.1:1/none", "ticket", "list"])
        .fails_with(1);
    assert!(
        unreachable.contains("cannot open the ticket store postgres://postgres@127.0.0.1:1/none"),
        "{unreachable}"
    );
}

#[test]
fn ticket_text_is_escaped_on_the_terminal() {
    let desk = Desk::new();
    let evil = "Printer \x1b[2J\x1b[31mOK\u{202e}";
    desk.tether(&["ticket", "open", evil, "--requester", "Eve\nforged line"]).ok();
    desk.tether(&["ticket", "note", "T-1", "\x1b]0;title\x07"]).ok();
    for args in
        [&["ticket", "list"][..], &["ticket", "show", "T-1"], &["report", "--by", "requester"]]
    {
        let out = desk.tether(args);
        let text = out.ok();
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202e}') && !text.contains('\x07'),
            "{args:?}: {text:?}"
        );
        assert!(!text.contains("\nforged line"), "{args:?}: {text}");
    }
    assert!(desk.tether(&["ticket", "show", "T-1"]).ok().contains("Printer \\x1b[2J"));
    // CSV on a terminal is escaped too; into a pipe it keeps the text.
    let csv = ["report", "--by", "requester", "--format", "csv"];
    let on_terminal = tether_testkit::run_on_terminal(&desk.command(&csv));
    let text = on_terminal.ok();
    assert!(text.contains("Eve\\nforged line") && !text.contains('\x1b'), "{text:?}");
    assert!(desk.tether(&csv).ok().contains("\"Eve\nforged line\""));
    // JSON keeps the exact text.
    let show = desk.json(&["ticket", "show", "T-1", "--json"]);
    assert_eq!(show["title"], evil);
}

#[test]
fn help_never_shows_the_store_password() {
    let desk = Desk::new();
    for args in [&["--help"][..], &["ticket", "list", "--help"], &["report", "--help"]] {
        let mut cmd = desk.command(args);
        cmd.env("TETHER_DB", "postgres://helpdesk:SECRET-PW@localhost/tickets");
        let help = run(cmd);
        assert!(!help.ok().contains("SECRET-PW"), "{args:?}: {}", help.stdout);
    }
}

#[test]
fn a_mistyped_db_url_is_an_error_and_a_new_store_is_announced() {
    let desk = Desk::new();
    for typo in ["postgress://helpdesk@db/t", "host=db dbname=t"] {
        let mut cmd = desk.command(&["--db", typo, "ticket", "list"]);
        cmd.current_dir(desk.home.path());
        let err = run(cmd).fails_with(1);
        assert!(err.contains("the ticket store"), "{err}");
    }
    assert!(!desk.home.path().join("postgress:").exists(), "no directory made for a typo");
    let first = desk.tether(&["ticket", "list"]);
    assert!(first.stderr.contains("created a new ticket store at"), "{}", first.stderr);
    let second = desk.tether(&["ticket", "list"]);
    assert!(!second.stderr.contains("created"), "said once: {}", second.stderr);
}
