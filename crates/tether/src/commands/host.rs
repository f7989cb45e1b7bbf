//! The commands that talk to one agent, as one set: which they are, what
//! each needs checked before connecting, which are safe to repeat, and
//! running one on a session. `tether info HOST` and friends run here as
//! one-shot commands; `tether connect`'s session runs the same cores.

use anyhow::Context;
use tether_client::Session;

use super::{Done, audit, doctor, info, net, ps, restore, screen, view};
use crate::cli::{Command, GlobalArgs, RestoreCommand};
use crate::connect;

/// The HOST argument of a command that talks to one agent; `None` for
/// every other command (`pki`, `fleet`, `hosts`, …).
pub fn host_of(command: &Command) -> Option<&str> {
    match command {
        Command::Info { host, .. }
        | Command::Ps { host, .. }
        | Command::Kill { host, .. }
        | Command::Net { host, .. }
        | Command::Doctor { host, .. }
        | Command::Audit { host, .. }
        | Command::View { host, .. }
        | Command::Screenshot { host, .. }
        | Command::Monitors { host, .. }
        | Command::Input { host, .. } => Some(host),
        Command::Restore(restore) => Some(restore.host()),
        _ => None,
    }
}

/// Whether running `command` twice does no more than running it once, so
/// that it may be sent again when the link was lost before its answer
/// came: queries are, actions on the machine are not.
pub fn is_read_only(command: &Command) -> bool {
    match command {
        Command::Info { .. }
        | Command::Ps { .. }
        | Command::Net { .. }
        | Command::Doctor { .. }
        | Command::Audit { .. }
        | Command::Screenshot { .. }
        | Command::Monitors { .. } => true,
        Command::Restore(restore) => matches!(
            restore,
            RestoreCommand::List { .. }
                | RestoreCommand::Show { .. }
                | RestoreCommand::Diff { .. }
                | RestoreCommand::Verify { .. }
        ),
        _ => false,
    }
}

/// What can be refused before anything reaches the agent: input that
/// names no action, a view where no window can be shown.
pub fn preflight(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Input { .. } => {
            if let Some(actions) = actions(command) {
                actions.events()?;
            }
            Ok(())
        }
        Command::View { .. } => view::check_display(),
        _ => Ok(()),
    }
}

fn actions(command: &Command) -> Option<screen::Actions> {
    let Command::Input { move_to, click, button, scroll, keys, text, .. } = command else {
        return None;
    };
    Some(screen::Actions {
        move_to: *move_to,
        click: *click,
        button: *button,
        scroll: *scroll,
        keys: keys.clone(),
        text: text.clone(),
    })
}

/// Runs a host command on `session` (its HOST argument only names the
/// agent in reports) and prints the result.
pub async fn run_on(session: &Session, command: Command) -> anyhow::Result<Done> {
    let actions = actions(&command);
    match command {
        Command::Info { host, json } => info::on(session, &host, json).await,
        Command::Ps { sort, filter, limit, json, .. } => {
            ps::list(session, sort.into(), filter, limit, json).await
        }
        Command::Kill { pid, signal, json, .. } => {
            ps::kill(session, pid, signal.into(), json).await
        }
        Command::Net { targets, defaults, throughput, throughput_mib, json, .. } => {
            let measure = throughput.then_some(throughput_mib << 20);
            net::on(session, targets.into_request(defaults), measure, json).await
        }
        Command::Doctor { targets, no_network, json, .. } => {
            let net = (!no_network).then(|| targets.into_request(false));
            doctor::on(session, net, json).await
        }
        Command::Audit { lines, json, .. } => audit::on(session, lines, json).await,
        Command::Restore(command) => restore::on(session, command).await,
        Command::View { host, view_only, monitor, scale, fps } => {
            let options = view::Options { view_only, monitor, scale, fps };
            view::on(session, &host, options).await
        }
        Command::Screenshot { host, output, monitor, json } => {
            screen::screenshot(session, &host, &output, monitor, json).await
        }
        Command::Monitors { json, .. } => screen::monitors(session, json).await,
        Command::Input { host, monitor, json, .. } => {
            let actions = actions.expect("actions() is Some for every Command::Input");
            screen::input(session, &host, actions, monitor, json).await
        }
        _ => anyhow::bail!("this command does not run on one agent"),
    }
}

/// A one-shot host command: connect, run the core, finish.
pub async fn one_shot(global: &GlobalArgs, command: Command) -> anyhow::Result<Done> {
    let host = host_of(&command).context("not a host command")?.to_owned();
    preflight(&command)?;
    let session = connect::connect(global, &host).await?;
    let done = run_on(&session, command).await;
    session.finish().await;
    done
}
