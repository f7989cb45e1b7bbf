//! The session's one connection: reused for every command, made again
//! when the network takes it away, and the rule for what may be sent
//! again after that.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tether_client::{ClientError, Connector, Session};

use crate::cli::Command;
use crate::commands::{Done, host};

/// Waits between attempts to reconnect; the last failure is the error.
const RECONNECT_BACKOFF: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The connection to the session's agent.
pub struct Link {
    connector: Connector,
    host: String,
    session: Arc<Session>,
}

impl Link {
    /// Connects to `host`; the first connection's failure ends the session
    /// before it starts, with the one-shot commands' exit codes.
    pub async fn open(connector: Connector, host: &str) -> anyhow::Result<Link> {
        let session = Arc::new(connector.connect(host).await?);
        Ok(Link { connector, host: host.to_owned(), session })
    }

    /// The current connection (a new one after a reconnect).
    pub fn session(&self) -> Arc<Session> {
        Arc::clone(&self.session)
    }

    /// Whether the connection is known to be gone.
    pub fn is_lost(&self) -> bool {
        self.session.client().connection().close_reason().is_some()
    }

    /// Connects again, saying so on stderr; tries for about 8 s.
    pub async fn reconnect(&mut self) -> anyhow::Result<()> {
        eprint!("link lost; reconnecting…");
        std::io::stderr().flush().ok();
        // The old connection may only be silent: close it so the agent
        // frees its session.
        self.session.client().close();
        let mut last = None;
        for wait in RECONNECT_BACKOFF {
            tokio::time::sleep(wait).await;
            match self.connector.connect(&self.host).await {
                Ok(session) => {
                    self.session = Arc::new(session);
                    eprintln!(
                        " reconnected (session {})",
                        tether_proto::text::escape(&self.session.welcome().session_id)
                    );
                    return Ok(());
                }
                Err(e) if e.is_local() => {
                    eprintln!(" failed");
                    return Err(e.into());
                }
                Err(e) => last = Some(e),
            }
        }
        eprintln!(" failed");
        let last = last.expect("RECONNECT_BACKOFF is not empty");
        Err(anyhow::Error::new(last).context("the link is lost and reconnecting failed"))
    }

    /// Runs `command` (parsed again by `reparse` for a retry), reconnecting
    /// first when the link is known lost, and after a loss during the
    /// command; the command is sent again only when [`host::is_read_only`].
    pub async fn run(
        &mut self,
        command: Command,
        reparse: impl FnOnce() -> Option<Command>,
    ) -> anyhow::Result<Done> {
        if self.is_lost() {
            self.reconnect().await?;
        }
        let read_only = host::is_read_only(&command);
        let session = self.session();
        let result = host::run_on(&session, command).await;
        let Err(err) = result else { return result };
        if !self.lost_by(&err) {
            return Err(err);
        }
        drop(session);
        self.reconnect().await?;
        if !read_only {
            anyhow::bail!(
                "the link was lost before the answer came; not sent again because it may have \
                 run on the agent (check before repeating it)"
            );
        }
        let command = reparse().context("the command could not be repeated")?;
        host::run_on(&self.session(), command).await
    }

    /// Whether `err` means the link went away (rather than the agent
    /// answering with an error, or the command failing here).
    fn lost_by(&self, err: &anyhow::Error) -> bool {
        let Some(client) = err.chain().find_map(|c| c.downcast_ref::<ClientError>()) else {
            return false;
        };
        client.agent_reply().is_none()
            && (self.is_lost() || matches!(client, ClientError::Unreachable(_)))
    }

    /// Ends the session: the close reaches the agent before this returns
    /// (when nothing else holds the connection).
    pub async fn finish(self) {
        match Arc::try_unwrap(self.session) {
            Ok(session) => session.finish().await,
            Err(shared) => shared.client().close(),
        }
    }
}
