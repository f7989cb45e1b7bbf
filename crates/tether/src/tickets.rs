//! The controller's ticket store: which store the flags and the config
//! name, the technician's name on what they record (their certificate's
//! CN), and the [`Recorder`] that appends what a technician does with a
//! ticket attached to its timeline.
//!
//! Configuration: `CONFIG_DIR/tether.toml`
//!
//! ```toml
//! [tickets]
//! db = "postgres://helpdesk@localhost/tickets"   # or a file path
//! [tickets.time_frames]
//! P1 = "4h"
//! P2 = "1d"
//! P3 = "3d"
//! P4 = "5d"
//! ```
//!
//! `--db` (or `TETHER_DB`) overrides `db`; without either the store is
//! `$XDG_DATA_HOME/tether/tickets.db` (else `~/.local/share/tether/…`).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Deserialize;
use tether_tickets::store::default_sqlite_path;
use tether_tickets::{Event, Location, Store, StoreError, TicketId, TimeFrames, UnixTime};

use crate::cli::GlobalArgs;

/// The config file's name in the config directory.
pub const CONFIG_FILE: &str = "tether.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    tickets: TicketsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketsSection {
    db: Option<String>,
    #[serde(default)]
    time_frames: TimeFramesSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeFramesSection {
    #[serde(rename = "P1")]
    p1: Option<String>,
    #[serde(rename = "P2")]
    p2: Option<String>,
    #[serde(rename = "P3")]
    p3: Option<String>,
    #[serde(rename = "P4")]
    p4: Option<String>,
}

/// What the config and flags say about tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub location: Location,
    pub time_frames: TimeFrames,
    /// How long a PostgreSQL store may take to answer (`--timeout`).
    pub connect_timeout: std::time::Duration,
}

impl Settings {
    /// From `--db`/`TETHER_DB`, then `CONFIG_DIR/tether.toml`, then the
    /// defaults. A missing config file is the defaults; a broken one is an
    /// error naming it.
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let path = global.config_dir().join(CONFIG_FILE);
        let config = read_config(&path)?;
        let mut time_frames = TimeFrames::default();
        let frames = &config.tickets.time_frames;
        for (text, slot) in [
            (&frames.p1, &mut time_frames.p1),
            (&frames.p2, &mut time_frames.p2),
            (&frames.p3, &mut time_frames.p3),
            (&frames.p4, &mut time_frames.p4),
        ] {
            if let Some(text) = text {
                *slot = tether_tickets::model::parse_span(text)
                    .with_context(|| format!("{}: [tickets.time_frames]", path.display()))?;
            }
        }
        let location = match global.db.as_deref().or(config.tickets.db.as_deref()) {
            Some(text) => Location::parse(text)
                .context("the ticket store (--db, TETHER_DB or [tickets] db)")?,
            None => Location::Sqlite(default_sqlite_path().context(
                "no place for the ticket store: set HOME or XDG_DATA_HOME, or pass --db",
            )?),
        };
        let connect_timeout = std::time::Duration::try_from_secs_f64(global.timeout)
            .context("--timeout: not a number of seconds")?;
        Ok(Settings { location, time_frames, connect_timeout })
    }

    /// Opens the store, saying on stderr when that created a new one (a
    /// mistyped `--db` path shows up here rather than as missing tickets).
    pub async fn open(&self) -> anyhow::Result<Store> {
        let store = Store::open_within(&self.location, self.connect_timeout)
            .await
            .with_context(|| format!("cannot open the ticket store {}", self.location))?;
        if store.created() {
            eprintln!(
                "tether: created a new ticket store at {}",
                tether_proto::text::escape(&self.location.to_string())
            );
        }
        Ok(store)
    }
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let config: ConfigFile = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("{}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // A store URL with a password makes the file a secret: it must be
    // ours and unreadable by others, as the store file itself.
    if let Some(db) = &config.tickets.db
        && let Ok(location @ Location::Postgres(_)) = Location::parse(db)
        && location.to_string() != *db
    {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let verdict =
            tether_os::files::not_private(path, &meta, tether_os::files::Others::MayNotUse)
                .with_context(|| format!("cannot read who may use {}", path.display()))?;
        if let Some(why) = verdict {
            anyhow::bail!("{} holds a database password but is refused: {why}", path.display());
        }
    }
    Ok(config)
}

/// The technician's name: the CN of their certificate (`--cert`, else
/// `CONFIG_DIR/tech.crt`).
pub fn technician(global: &GlobalArgs) -> anyhow::Result<String> {
    let path = global.cert.clone().unwrap_or_else(|| global.config_dir().join("tech.crt"));
    technician_in(&path)
}

fn technician_in(path: &Path) -> anyhow::Result<String> {
    let context = || {
        format!(
            "your name on tickets is your certificate's CN, and {} cannot be read as one (pass --cert)",
            path.display()
        )
    };
    let certs = tether_pki::load_certs(path).with_context(context)?;
    let first = certs.first().with_context(context)?;
    let identity = tether_pki::peer_identity(first).with_context(context)?;
    Ok(identity.name)
}

/// Now, in seconds since the epoch.
pub fn now() -> UnixTime {
    // A clock before 1970 is a broken machine; it counts as the epoch.
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Adds where the store is to a "no such ticket" error.
pub fn in_store(settings: &Settings) -> impl Fn(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound(id) => {
            anyhow::anyhow!("no ticket {id} in the ticket store {}", settings.location)
        }
        other => other.into(),
    }
}

/// Appends what a technician does against hosts to one ticket's timeline,
/// as that technician, at the time it happens.
pub struct Recorder {
    store: Store,
    ticket: TicketId,
    technician: String,
}

impl Recorder {
    /// None when no --ticket is given, or it is an external reference (anything
    /// that is not `N` / `T-N`, e.g. INC-2026/0042: those stay audit-only at the agent,
    /// as today). Error when it looks like ours but the store has no such ticket.
    pub async fn from_flags(global: &GlobalArgs) -> anyhow::Result<Option<Recorder>> {
        let Some(id) = global.ticket.as_deref().and_then(|t| t.parse::<TicketId>().ok()) else {
            return Ok(None);
        };
        let settings = Settings::load(global)?;
        let store = settings.open().await?;
        store.ticket(id).await.map_err(in_store(&settings))?;
        let technician = technician(global)?;
        Ok(Some(Recorder { store, ticket: id, technician }))
    }

    #[allow(dead_code, reason = "shown by `tether connect` (issue 18, session branch)")]
    pub fn ticket(&self) -> TicketId {
        self.ticket
    }

    async fn record(&self, event: Event) -> anyhow::Result<()> {
        self.store
            .record(self.ticket, now(), &self.technician, event)
            .await
            .with_context(|| format!("cannot record on ticket {}", self.ticket))?;
        Ok(())
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn command(
        &self,
        host: &str,
        command: &str,
        summary: &str,
        ok: bool,
    ) -> anyhow::Result<()> {
        self.record(Event::Command {
            host: host.to_owned(),
            command: command.to_owned(),
            summary: summary.to_owned(),
            ok,
        })
        .await
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn session_started(&self, host: &str, agent_session: &str) -> anyhow::Result<()> {
        self.record(Event::SessionStarted {
            host: host.to_owned(),
            agent_session: agent_session.to_owned(),
        })
        .await
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn session_ended(
        &self,
        host: &str,
        duration: Duration,
        commands: u32,
    ) -> anyhow::Result<()> {
        self.record(Event::SessionEnded {
            host: host.to_owned(),
            seconds: duration.as_secs(),
            commands,
        })
        .await
    }

    pub async fn screenshot(&self, host: &str, name: &str, png: &[u8]) -> anyhow::Result<()> {
        self.store
            .attach_screenshot(self.ticket, now(), &self.technician, host, name, png.to_vec())
            .await
            .with_context(|| format!("cannot keep the screenshot with ticket {}", self.ticket))?;
        Ok(())
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn note(&self, text: &str) -> anyhow::Result<()> {
        self.record(Event::Note { text: text.to_owned() }).await
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn escalate(&self, tier: u8, reason: Option<&str>) -> anyhow::Result<()> {
        self.record(Event::Escalated { tier, reason: reason.map(str::to_owned) }).await
    }

    #[allow(dead_code, reason = "recorded by `tether connect` (issue 18, session branch)")]
    pub async fn resolve(&self, resolution: &str) -> anyhow::Result<()> {
        self.record(Event::Resolved { resolution: resolution.to_owned() }).await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use tether_pki::Pki;
    use tether_proto::role::{Role, Tier};

    use super::*;
    use crate::cli::Cli;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut argv = vec!["tether"];
        argv.extend(args);
        argv.push("hosts");
        Cli::try_parse_from(argv).unwrap().global
    }

    #[tokio::test]
    async fn the_recorder_appends_to_our_tickets_and_ignores_external_references() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::open(dir.path().join("pki"));
        pki.init("Test Desk", 30).unwrap();
        let tech = pki.issue_tech("grace", Role::Tier(Tier::Two), 30, true).unwrap();
        let db = dir.path().join("tickets.db");
        let config = dir.path().join("config");
        let flags = |ticket: &str| {
            global(&[
                "--config-dir",
                config.to_str().unwrap(),
                "--db",
                db.to_str().unwrap(),
                "--cert",
                tech.cert_path.to_str().unwrap(),
                "--ticket",
                ticket,
            ])
        };

        let settings = Settings::load(&flags("T-1")).unwrap();
        let store = settings.open().await.unwrap();
        let new = tether_tickets::NewTicket {
            title: "Outlook".into(),
            requester: "Ada".into(),
            host: Some("ws-1".into()),
            category: tether_tickets::Category::Software,
            priority: tether_tickets::Priority::P2,
            opened_by: "grace".into(),
        };
        let ticket = store.open_ticket(new, &settings.time_frames, now()).await.unwrap();

        assert!(Recorder::from_flags(&flags("INC-2026/0042")).await.unwrap().is_none());
        let missing = Recorder::from_flags(&flags("T-99")).await.err().expect("no T-99");
        assert!(missing.to_string().contains("no ticket T-99"), "{missing}");

        let recorder =
            Recorder::from_flags(&flags(&ticket.id.0.to_string())).await.unwrap().unwrap();
        assert_eq!(recorder.ticket(), ticket.id);
        recorder.session_started("ws-1", "s-17").await.unwrap();
        recorder.command("ws-1", "net", "net: DNS layer failed", false).await.unwrap();
        recorder.screenshot("ws-1", "error.png", b"\x89PNG\r\n\x1a\n bytes").await.unwrap();
        recorder.note("user restarted").await.unwrap();
        recorder.escalate(2, Some("needs a rollback")).await.unwrap();
        recorder.session_ended("ws-1", Duration::from_secs(95), 2).await.unwrap();
        recorder.resolve("rolled back to point 12").await.unwrap();

        let timeline = store.timeline(ticket.id).await.unwrap();
        let kinds: Vec<_> = timeline.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                "opened",
                "session_started",
                "command",
                "screenshot",
                "note",
                "escalated",
                "session_ended",
                "resolved"
            ]
        );
        assert!(
            timeline[1..].iter().all(|e| e.actor == "grace"),
            "recorded as the certificate's CN"
        );
        assert_eq!(store.attachments(ticket.id).await.unwrap()[0].png, b"\x89PNG\r\n\x1a\n bytes");
        assert!(!store.ticket(ticket.id).await.unwrap().is_open());
    }

    #[test]
    fn the_config_sets_the_store_and_time_frames_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path();
        std::fs::write(
            config.join(CONFIG_FILE),
            "[tickets]\ndb = \"/srv/tickets.db\"\n[tickets.time_frames]\nP1 = \"2h\"\n",
        )
        .unwrap();
        let settings =
            Settings::load(&global(&["--config-dir", config.to_str().unwrap()])).unwrap();
        assert_eq!(settings.location, Location::Sqlite("/srv/tickets.db".into()));
        assert_eq!(settings.time_frames.p1, 2 * 3600);
        assert_eq!(settings.time_frames.p2, TimeFrames::default().p2);
        let flagged = Settings::load(&global(&[
            "--config-dir",
            config.to_str().unwrap(),
            "--db",
            "postgres://u@h/db",
        ]))
        .unwrap();
        assert_eq!(flagged.location, Location::Postgres("postgres://u@h/db".into()));

        std::fs::write(config.join(CONFIG_FILE), "[tickets.time_frames]\nP5 = \"2h\"\n").unwrap();
        let typo =
            Settings::load(&global(&["--config-dir", config.to_str().unwrap()])).unwrap_err();
        assert!(format!("{typo:#}").contains("P5"), "{typo:#}");
        std::fs::write(config.join(CONFIG_FILE), "[tickets.time_frames]\nP1 = \"soon\"\n").unwrap();
        let bad = Settings::load(&global(&["--config-dir", config.to_str().unwrap()])).unwrap_err();
        assert!(format!("{bad:#}").contains("soon"), "{bad:#}");
    }

    #[test]
    fn a_config_holding_a_password_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        let load = || Settings::load(&global(&["--config-dir", dir.path().to_str().unwrap()]));
        std::fs::write(&file, "[tickets]\ndb = \"postgres://u:pw@localhost/t\"\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = load().unwrap_err();
        assert!(format!("{refused:#}").contains("holds a database password"), "{refused:#}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        load().unwrap();
        // Without a password the file is not a secret.
        std::fs::write(&file, "[tickets]\ndb = \"postgres://u@localhost/t\"\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        load().unwrap();
    }
}
