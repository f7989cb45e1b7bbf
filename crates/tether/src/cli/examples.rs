//! Examples and exit codes for every subcommand's `--help` and man page,
//! kept in one table so that a test can hold every command to having them.

/// The top level's, view's, input's and restore's own after-help texts.
pub(super) const AFTER_HELP: &str = "\
Examples:
  tether info ws-042                       summary of a host from hosts.toml
  tether info 10.0.0.7 --json              an agent whose certificate carries that IP
  tether ps ws-042 --sort mem --filter chrome
  tether kill ws-042 4711 --signal KILL    (tier 2)
  tether net ws-042                        default network checks and a verdict
  tether net ws-042 --dns intranet.lan --url https://intranet.lan/ --tcp files.lan:445
  tether doctor ws-042                     ranked health findings (Nagios exit codes)
  tether --ticket INC-1042 info ws-042     attach the session to a trouble ticket
  tether audit ws-042 -n 50                the agent's audit log (tier 3)
  tether view ws-042                       live screen in a window; control with tier 2
  tether screenshot ws-042 -o shot.png     one frame for the ticket
  tether input ws-042 --keys ctrl+alt+delete   (tier 2)
  tether restore list ws-042               the machine's restore points
  tether restore rollback ws-042 ID        roll back, after showing what changes (tier 3)
  tether fleet check --inventory fleet.toml   every agent at once (fleet role, Nagios codes)
  tether ticket open 'VPN drops' --requester 'Ada Lovelace' --priority P2
  tether report --since 365d --by week --chart trend.png   tickets: volume, resolution, breaches
  tether pki init --org Example            create the organisation's CA
  tether demo                              try everything on loopback

Identity: tech.crt, tech.key, ca.crt and crl.pem in the config directory
(~/.config/tether by default), or --cert/--key/--ca/--crl.

Exit codes: 0 ok, 1 failure, 2 usage, 4 agent unreachable,
5 certificate refused, 6 denied by the agent, 7 version mismatch.
net and doctor are Nagios plugins: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.";

pub(super) const RESTORE_HELP: &str = "\
Examples:
  tether restore list ws-042
  tether restore create ws-042 --label 'before driver update' --keep   (tier 2)
  tether restore diff ws-042 20261123T101500Z-3fa29c01      what a rollback would change
  tether restore rollback ws-042 20261123T101500Z-3fa29c01  asks first; --yes in scripts (tier 3)
  tether restore undo ws-042 --yes         back to before the rollback (tier 3)
  tether restore verify ws-042             exit 1 if the store is damaged

A rollback first takes a restore point of the current state: files added
since the point are moved into it, never deleted, and undo returns to it.

Exit codes: 0 ok, 1 failure, 2 usage, 4 agent unreachable,
5 certificate refused, 6 denied by the agent, 7 version mismatch.";

pub(super) const VIEW_HELP: &str = "\
Examples:
  tether view ws-042                       watch and control (tier 2)
  tether view ws-042 --view-only           only watch (tier 1)
  tether view ws-042 --monitor 1 --scale 1

In the window: every key press and release is sent as it happens; a held
key is held remotely and repeats there (local auto-repeat is not sent).
Ctrl+Alt+End sends Ctrl+Alt+Delete, once per press. With --scale 1 and a
remote screen larger than the window, rest the pointer at a window edge to
pan (with --view-only the wheel pans too; Shift+wheel sideways). Leaving
the window releases every key and button held on the remote machine; so
does closing it, or losing the link for a few seconds.

Exit codes: 0 ok, 1 failure, 2 usage, 4 agent unreachable,
5 certificate refused, 6 denied by the agent, 7 version mismatch.";

pub(super) const CONNECT_HELP: &str = "\
Examples:
  tether connect ws-042                    then: info, ps, kill 4711, net, doctor, …
  tether connect ws-042 --ticket 12        record every command in ticket 12

In the session: the one-shot commands without the host (info, ps, kill,
net, doctor, audit, screenshot, monitors, input, view, restore …), and
note TEXT, escalate [--tier N] [REASON], resolve TEXT, help [COMMAND],
exit. TAB completes commands, flags, PIDs and restore point ids. Ctrl-C
cancels the running command; Ctrl-D or `exit` ends the session. If the
link is lost, the session reconnects; a query is sent again, an action
(kill, input, restore create/rollback/undo/delete) is not.
History: $XDG_DATA_HOME/tether/history (else ~/.local/share/tether/history).

Exit codes: 0 the session ended, 1 failure, 2 usage, 4 agent unreachable,
5 certificate refused, 6 denied by the agent, 7 version mismatch (when
the first connection fails).";

pub(super) const INPUT_HELP: &str = "\
Examples:
  tether input ws-042 --click 640,400
  tether input ws-042 --keys ctrl+alt+delete
  tether input ws-042 --click 200,300 --type 'hello' --keys enter
  tether input ws-042 --scroll -5 --monitor 1

The typed text is never written to the agent's audit log, only counts.

Exit codes: 0 ok, 1 failure, 2 usage, 4 agent unreachable,
5 certificate refused, 6 denied by the agent, 7 version mismatch.";

/// Examples by command path (words after `tether`). A command that already
/// declares its own `after_help` keeps it.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "info",
        "  tether info ws-042             a host from hosts.toml
  tether info 10.0.4.42 --json         an agent whose certificate carries that IP
  tether --ticket INC-1042 info ws-042 record the ticket in the agent's audit log",
    ),
    (
        "ps",
        "  tether ps ws-042                     the busiest processes first
  tether ps ws-042 --sort mem -n 10
  tether ps ws-042 --filter chrome --json",
    ),
    (
        "kill",
        "  tether kill ws-042 4711              SIGTERM, then wait up to 3 s (tier 2)
  tether kill ws-042 4711 --signal KILL",
    ),
    (
        "net",
        "  tether net ws-042                    the default set: gateway, resolvers, this controller
  tether net ws-042 --dns intranet.lan --url https://intranet.lan/ --tcp files.lan:445
  tether net ws-042 --throughput       plus RTT and throughput over the session",
    ),
    (
        "doctor",
        "  tether doctor ws-042                 ranked findings with next steps
  tether doctor ws-042 --no-network --json",
    ),
    (
        "audit",
        "  tether audit ws-042                  the newest 20 records (tier 3)
  tether audit ws-042 -n 200 --json | jq 'select(.outcome == \"denied\")'",
    ),
    (
        "screenshot",
        "  tether screenshot ws-042 -o shot.png
  tether screenshot ws-042 -o second.png --monitor 1 --json",
    ),
    (
        "monitors",
        "  tether monitors ws-042
  tether monitors ws-042 --json",
    ),
    (
        "restore list",
        "  tether restore list ws-042
  tether restore list ws-042 --json",
    ),
    ("restore show", "  tether restore show ws-042 20261123T101500Z-3fa29c01"),
    (
        "restore diff",
        "  tether restore diff ws-042 20261123T101500Z-3fa29c01   what a rollback would change",
    ),
    (
        "restore create",
        "  tether restore create ws-042 --label 'before driver update' --keep   (tier 2)",
    ),
    (
        "restore rollback",
        "  tether restore rollback ws-042 20261123T101500Z-3fa29c01   asks first (tier 3)
  tether restore rollback ws-042 20261123T101500Z-3fa29c01 --yes   in scripts",
    ),
    ("restore undo", "  tether restore undo ws-042 --yes     back to before the last rollback"),
    ("restore delete", "  tether restore delete ws-042 20261123T101500Z-3fa29c01"),
    ("restore verify", "  tether restore verify ws-042         exits 1 if the store is damaged"),
    ("pki init", "  tether pki init --org 'Example Corp' --pki-dir pki"),
    (
        "pki issue-agent",
        "  tether pki issue-agent ws-042 --dns ws-042.corp.example --ip 10.0.4.42 --pki-dir pki
  tether pki issue-agent ws-042 --pki-dir pki --bundle ws-042.bundle   then: tether-agent enroll ws-042.bundle",
    ),
    (
        "pki issue-tech",
        "  tether pki issue-tech alice --tier 1 --pki-dir pki
  tether pki issue-tech nagios --role fleet --days 365 --pki-dir pki",
    ),
    ("pki revoke", "  tether pki revoke 3f9a0c… --pki-dir pki   then copy crl.pem to agents and technicians"),
    ("pki refresh-crl", "  tether pki refresh-crl --pki-dir pki   from cron, weekly"),
    ("pki list", "  tether pki list --pki-dir pki\n  tether pki list --pki-dir pki --json"),
    ("hosts", "  tether hosts\n  tether hosts --json"),
    ("demo", "  tether demo\n  tether demo --dir /tmp/tether-demo   keep the files"),
    (
        "completions",
        "  tether completions bash > /etc/bash_completion.d/tether
  tether completions zsh > \"${fpath[1]}/_tether\"
  tether completions fish > ~/.config/fish/completions/tether.fish",
    ),
    (
        "man",
        "  tether man | man -l -
  tether man --dir /usr/local/share/man/man1   one page per command",
    ),
];

/// Exit codes of the check commands, as Nagios plugins have them.
pub const CHECK_EXIT_CODES: &str = "Exit codes (Nagios): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN \
(the check could not run, including usage errors and an unreachable agent).";

/// Exit codes of every other command.
pub const EXIT_CODES: &str = "Exit codes: 0 ok, 1 failure, 2 usage, 4 agent unreachable, \
5 certificate refused, 6 denied by the agent, 7 version mismatch.";

/// The exit codes paragraph for the command at `path`.
pub fn exit_codes(path: &str) -> &'static str {
    match path {
        "net" | "doctor" => CHECK_EXIT_CODES,
        _ => EXIT_CODES,
    }
}

/// `cmd` with examples and exit codes added to every subcommand's help.
pub fn decorate(cmd: clap::Command) -> clap::Command {
    decorate_at(cmd, "")
}

fn decorate_at(mut cmd: clap::Command, path: &str) -> clap::Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |sub| {
            let sub = decorate_at(sub, &sub_path);
            let own = sub.get_after_help().map(|h| h.to_string());
            match (own, examples(&sub_path)) {
                (Some(_), _) => sub,
                (None, Some(examples)) => {
                    sub.after_help(format!("Examples:\n{examples}\n\n{}", exit_codes(&sub_path)))
                }
                (None, None) if sub.has_subcommands() => sub,
                (None, None) => sub.after_help(exit_codes(&sub_path)),
            }
        });
    }
    cmd
}

/// The examples for the command at `path`, if the table has them.
pub fn examples(path: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}
