//! The command line as words, for what a parse cannot say: whether a line
//! that failed to parse asks for a check, and the words a ticket's
//! timeline records.

use super::Cli;

/// Whether `word` is a global option that takes its value from the next
/// word (`--timeout 2`, not `--timeout=2` or `-v`).
fn global_takes_value(cli: &clap::Command, word: &str) -> bool {
    !word.contains('=')
        && cli.get_arguments().any(|a| {
            let named = a.get_long().is_some_and(|l| word == format!("--{l}"))
                || a.get_short().is_some_and(|c| word == format!("-{c}"));
            named && a.get_action().takes_values()
        })
}

/// Whether `word` is a global option, with or without its value
/// (`--ticket`, `--ticket=12`, `-vv`).
fn is_global(cli: &clap::Command, word: &str) -> bool {
    let name = word.split_once('=').map_or(word, |(name, _)| name);
    cli.get_arguments().any(|a| {
        a.get_long().is_some_and(|l| name == format!("--{l}"))
            || a.get_short().is_some_and(|c| {
                name.len() > 1 && name.starts_with('-') && name[1..].chars().all(|w| w == c)
            })
    })
}

/// The command line without `tether` and the global options (identity
/// files, --ticket, --timeout…): what a ticket's timeline records, e.g.
/// `kill ws-042 4242 --signal KILL`.
pub fn command_words(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<String> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let mut kept = Vec::new();
    let mut words = args.into_iter().skip(1).map(|w| w.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word == "--" {
            kept.push(word);
            kept.extend(words.by_ref());
        } else if global_takes_value(&cli, &word) {
            words.next();
        } else if !is_global(&cli, &word) {
            kept.push(word);
        }
    }
    kept
}

/// Whether a command line that failed to parse asks for a check command
/// (`net`, `doctor`), whose usage errors exit 3 (UNKNOWN), not 2.
pub fn names_a_check(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    use clap::CommandFactory;
    let cli = Cli::command();
    // The first word that is not a global option or its value names the
    // subcommand; a parse that failed cannot say, so walk the words.
    let mut words = args.into_iter().skip(1).map(|w| w.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word.starts_with('-') {
            if global_takes_value(&cli, &word) {
                words.next();
            }
            continue;
        }
        return match word.as_str() {
            "net" | "doctor" => true,
            // `fleet check` is a check; `fleet inventory` is not.
            "fleet" => words.any(|w| w == "check"),
            _ => false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_of_checks_are_recognised() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(names_a_check(args(&["tether", "net", "h", "--bogus"])));
        assert!(names_a_check(args(&["tether", "--timeout", "2", "doctor"])));
        assert!(!names_a_check(args(&["tether", "info", "--bogus"])));
        assert!(!names_a_check(args(&["tether", "info", "net"])));
        assert!(names_a_check(args(&["tether", "fleet", "check", "--bogus"])));
        assert!(!names_a_check(args(&["tether", "fleet", "inventory", "--bogus"])));
    }

    #[test]
    fn the_recorded_command_line_leaves_out_global_options() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let words = command_words(args(&[
            "tether",
            "--ticket",
            "12",
            "--cert=/x/tech.crt",
            "-vv",
            "kill",
            "ws-042",
            "4242",
            "--timeout",
            "2",
            "--signal",
            "KILL",
        ]));
        assert_eq!(words, ["kill", "ws-042", "4242", "--signal", "KILL"]);
        let words = command_words(args(&["tether", "ps", "h", "-n", "5", "--", "--ticket"]));
        assert_eq!(words, ["ps", "h", "-n", "5", "--", "--ticket"]);
    }
}
