//! What a line typed in `tether connect` means. The grammar is clap's, made
//! from the one-shot commands' own definitions (`cli::command()`) with HOST
//! taken away, plus the session's own commands; so flags, help and errors
//! match the one-shot commands word for word.

use clap::{Arg, ArgAction, FromArgMatches};

use crate::cli;

/// The one-shot commands a session runs, without their HOST.
pub const HOST_COMMANDS: &[&str] = &[
    "info",
    "ps",
    "kill",
    "net",
    "doctor",
    "audit",
    "screenshot",
    "monitors",
    "input",
    "view",
    "restore",
];

/// One line, understood.
#[derive(Debug)]
pub enum Entry {
    /// Nothing typed.
    Empty,
    /// A one-shot command, its HOST the session's.
    Host(Box<cli::Command>),
    /// `note`, `escalate` or `resolve`: for the ticket store.
    Ticket(TicketAction),
    /// `help`, `help CMD`, `CMD --help`: the text to print.
    Help(String),
    /// `exit`, `quit`.
    Exit,
}

/// What the session's own commands do to the attached ticket.
#[derive(Debug, PartialEq, Eq)]
pub enum TicketAction {
    /// `note TEXT`.
    Note(String),
    /// `escalate [--tier N] [REASON]`.
    Escalate { tier: Option<u8>, reason: Option<String> },
    /// `resolve TEXT`.
    Resolve(String),
}

/// The session's grammar; `host` fills every command's HOST.
pub fn grammar(host: &str) -> clap::Command {
    let full = cli::command();
    let mut repl = clap::Command::new("tether connect")
        .no_binary_name(true)
        .disable_version_flag(true)
        .subcommand_required(true)
        .override_usage("COMMAND [ARGS]  (`help COMMAND` for one)")
        .about("Commands of this session; each runs on the agent it is connected to.")
        .after_help("Ctrl-C cancels the running command; Ctrl-D or `exit` ends the session.");
    for (order, name) in HOST_COMMANDS.iter().enumerate() {
        let one_shot = full.find_subcommand(name).expect("HOST_COMMANDS are cli::command()'s");
        repl = repl.subcommand(without_host(one_shot.clone(), host).display_order(order));
    }
    let text = |id: &'static str, help: &'static str| {
        Arg::new(id).help(help).num_args(1..).allow_hyphen_values(true).trailing_var_arg(true)
    };
    let session_commands = [
        clap::Command::new("note")
            .about("Add a note to the ticket's timeline")
            .arg(text("text", "What to note").required(true)),
        clap::Command::new("escalate")
            .about("Escalate the ticket to a higher tier")
            .arg(
                Arg::new("tier")
                    .long("tier")
                    .value_name("N")
                    .help("The tier it goes to. Default: the one above yours")
                    .value_parser(clap::value_parser!(u8).range(1..=3)),
            )
            .arg(text("reason", "Why")),
        clap::Command::new("resolve")
            .about("Resolve the ticket, saying how")
            .arg(text("resolution", "How it was resolved").required(true)),
        clap::Command::new("exit").about("End the session (also: quit, Ctrl-D)").alias("quit"),
    ];
    // Listed in this order in `help`: the host commands, then the session's.
    for (order, command) in session_commands.into_iter().enumerate() {
        repl = repl.subcommand(command.display_order(HOST_COMMANDS.len() + order));
    }
    repl
}

/// `command` and its subcommands with the HOST positional turned into a
/// hidden option that defaults to `host`, and without the one-shot
/// examples (they name a host).
fn without_host(mut command: clap::Command, host: &str) -> clap::Command {
    if command.get_arguments().any(|a| a.get_id() == "host") {
        command = command.mut_arg("host", |a| {
            a.long("host").hide(true).required(false).default_value(host.to_owned())
        });
    }
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        command = command.mut_subcommand(name, |sub| without_host(sub, host));
    }
    command.after_help(None::<&'static str>).after_long_help(None::<&'static str>)
}

/// Understands `line`; `Err` is the one line to print.
pub fn parse(grammar: &clap::Command, line: &str) -> Result<Entry, String> {
    if let Some(entry) = free_text(grammar, line) {
        return entry;
    }
    let words = shlex::split(line).ok_or("unbalanced quotes")?;
    if words.is_empty() {
        return Ok(Entry::Empty);
    }
    let matches = match grammar.clone().try_get_matches_from(&words) {
        Ok(matches) => matches,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Entry::Help(text))
                }
                _ => Err(one_line(&text, &words[0])),
            };
        }
    };
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    let joined = |id: &str| {
        sub.get_many::<String>(id).map(|words| words.cloned().collect::<Vec<_>>().join(" "))
    };
    Ok(match name {
        "note" => Entry::Ticket(TicketAction::Note(joined("text").unwrap_or_default())),
        "resolve" => Entry::Ticket(TicketAction::Resolve(joined("resolution").unwrap_or_default())),
        "escalate" => Entry::Ticket(TicketAction::Escalate {
            tier: sub.get_one::<u8>("tier").copied(),
            reason: joined("reason"),
        }),
        "exit" => Entry::Exit,
        _ => {
            let command = cli::Command::from_arg_matches(&matches)
                .map_err(|e| one_line(&e.render().to_string(), &words[0]))?;
            Entry::Host(Box::new(command))
        }
    })
}

/// `note`, `resolve` and `escalate` take the rest of the line as typed,
/// so "note the user's disk" needs no quotes; `None` for every other line
/// (and for their `--help` or a missing text, which clap answers).
fn free_text(grammar: &clap::Command, line: &str) -> Option<Result<Entry, String>> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    if matches!(rest, "" | "-h" | "--help") {
        return None;
    }
    let action = match word {
        "note" => TicketAction::Note(rest.to_owned()),
        "resolve" => TicketAction::Resolve(rest.to_owned()),
        "escalate" => {
            // `--tier N` (or `--tier=N`) first, checked by clap; the rest is
            // the reason.
            let mut tier = None;
            let mut reason = rest;
            if let Some(after) = rest.strip_prefix("--tier") {
                let after = after.trim_start_matches('=').trim_start();
                let (value, remainder) =
                    after.split_once(char::is_whitespace).unwrap_or((after, ""));
                let words = ["escalate", "--tier", value];
                let matches = grammar.clone().try_get_matches_from(words);
                let matches = matches.map_err(|e| one_line(&e.render().to_string(), "escalate"));
                let matches = match matches {
                    Ok(matches) => matches,
                    Err(e) => return Some(Err(e)),
                };
                let (_, sub) = matches.subcommand().expect("escalate parsed");
                tier = sub.get_one::<u8>("tier").copied();
                reason = remainder.trim();
            }
            let reason = (!reason.is_empty()).then(|| reason.to_owned());
            TicketAction::Escalate { tier, reason }
        }
        _ => return None,
    };
    Some(Ok(Entry::Ticket(action)))
}

/// clap's first line ("error: unexpected argument '--x' found") and where
/// to look.
fn one_line(text: &str, command: &str) -> String {
    let first = text.lines().next().unwrap_or("error").trim_start_matches("error: ");
    if HOST_COMMANDS.contains(&command) || ["note", "escalate", "resolve"].contains(&command) {
        format!("{first} (see `help {command}`)")
    } else {
        format!("{first} (see `help`)")
    }
}

/// The long flags of the command a line starts with, for completion.
pub fn flags_of(grammar: &clap::Command, path: &[&str]) -> Vec<String> {
    let mut command = grammar;
    for word in path {
        match command.find_subcommand(word) {
            Some(sub) => command = sub,
            None => break,
        }
    }
    command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !matches!(a.get_action(), ArgAction::Help))
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .chain(std::iter::once("--help".to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_command(line: &str) -> cli::Command {
        match parse(&grammar("pc-7"), line) {
            Ok(Entry::Host(command)) => *command,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn host_commands_get_the_session_host() {
        assert!(
            matches!(host_command("info --json"), cli::Command::Info { ref host, json: true } if host == "pc-7")
        );
        assert!(matches!(
            host_command("kill 4242 --signal KILL"),
            cli::Command::Kill { ref host, pid: 4242, signal: cli::SignalArg::Kill, .. } if host == "pc-7"
        ));
        let cli::Command::Restore(restore) = host_command("restore diff 20261123T1 --all") else {
            panic!("restore");
        };
        assert_eq!(restore.host(), "pc-7");
        assert!(matches!(host_command("ps --sort mem -n 3"), cli::Command::Ps { limit: 3, .. }));
    }

    #[test]
    fn errors_are_one_line_and_help_is_clap_s() {
        let g = grammar("pc-7");
        let err = parse(&g, "kill notapid").unwrap_err();
        assert!(!err.contains('\n') && err.contains("help kill"), "{err}");
        assert!(parse(&g, "bogus").unwrap_err().contains("bogus"));
        assert!(parse(&g, "info 'unbalanced").unwrap_err().contains("quotes"));
        let Ok(Entry::Help(text)) = parse(&g, "help kill") else { panic!("help kill") };
        assert!(
            text.contains("--signal") && !text.contains("HOST") && !text.contains("--host"),
            "{text}"
        );
        let Ok(Entry::Help(text)) = parse(&g, "help") else { panic!("help") };
        // Every command, the host commands first.
        let at = |name: &str| text.find(&format!("\n  {name} ")).unwrap_or(usize::MAX);
        let order = ["info", "ps", "kill", "restore", "note", "escalate", "resolve", "exit"];
        for pair in order.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{pair:?} out of order in\n{text}");
        }
        assert!(at("exit") < usize::MAX, "{text}");
        assert!(matches!(parse(&g, "  "), Ok(Entry::Empty)));
        assert!(matches!(parse(&g, "quit"), Ok(Entry::Exit)));
    }

    #[test]
    fn session_commands_take_free_text() {
        let g = grammar("pc-7");
        let action = |line: &str| match parse(&g, line) {
            Ok(Entry::Ticket(action)) => action,
            other => panic!("{line:?}: {other:?}"),
        };
        assert_eq!(action("note disk is --full"), TicketAction::Note("disk is --full".into()));
        assert_eq!(
            action("escalate --tier 3 needs root"),
            TicketAction::Escalate { tier: Some(3), reason: Some("needs root".into()) }
        );
        assert_eq!(action("escalate"), TicketAction::Escalate { tier: None, reason: None });
        assert_eq!(action("resolve it's fixed"), TicketAction::Resolve("it's fixed".into()));
        assert_eq!(
            action("escalate --tier=2 the user's VPN"),
            TicketAction::Escalate { tier: Some(2), reason: Some("the user's VPN".into()) }
        );
        assert!(parse(&g, "resolve").is_err());
        assert!(parse(&g, "escalate --tier 9 why").unwrap_err().contains("help escalate"));
        assert!(matches!(parse(&g, "note --help"), Ok(Entry::Help(_))));
    }

    #[test]
    fn flags_complete_from_the_grammar() {
        let g = grammar("pc-7");
        let flags = flags_of(&g, &["kill"]);
        assert!(flags.contains(&"--signal".to_owned()) && !flags.contains(&"--host".to_owned()));
        assert!(flags_of(&g, &["restore", "rollback"]).contains(&"--yes".to_owned()));
    }
}
