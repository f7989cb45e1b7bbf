//! systemd units' states for the fleet check, asked of `systemctl` (the one
//! interface to systemd every distribution ships) with a deadline, so a
//! wedged systemd cannot hold a fleet answer.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tether_proto::fleet::ServiceState;

/// How long `systemctl` may take to answer.
pub const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `ActiveState` of each unit in `names` (already validated as unit
/// names), in order, from `program` (`systemctl` in production). `Err`
/// says in one line why systemd could not be asked.
pub fn active_states(program: &str, names: &[String]) -> Result<Vec<ServiceState>, String> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = Command::new(program)
        .args(["show", "--property=ActiveState", "--value", "--"])
        .args(names)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let deadline = Instant::now() + SYSTEMCTL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} gave no answer within {} s",
                    SYSTEMCTL_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    // At most a few hundred bytes for the 32 units a request may name: the
    // pipes cannot fill before the exit above.
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.by_ref().take(64 * 1024).read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.by_ref().take(4 * 1024).read_to_string(&mut err);
    }
    parse(program, names, status.success(), &out, &err)
}

/// Pairs `systemctl show --value` output (one value per unit, units
/// separated by empty lines) with the names asked.
fn parse(
    program: &str,
    names: &[String],
    success: bool,
    out: &str,
    err: &str,
) -> Result<Vec<ServiceState>, String> {
    let states: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if !success || states.len() != names.len() {
        let why = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no usable answer");
        return Err(format!("{program}: {}", tether_proto::text::escape(why.trim())));
    }
    Ok(names
        .iter()
        .zip(states)
        .map(|(name, state)| ServiceState {
            name: name.clone(),
            active_state: tether_proto::text::escape(state).into_owned(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn values_pair_with_the_names_asked() {
        let asked = names(&["ssh.service", "cups.service"]);
        let got = parse("systemctl", &asked, true, "active\n\nfailed\n", "").unwrap();
        assert_eq!(got[0].active_state, "active");
        assert_eq!(
            (got[1].name.as_str(), got[1].active_state.as_str()),
            ("cups.service", "failed")
        );
    }

    #[test]
    fn no_systemd_is_an_error_in_its_own_words() {
        let err =
            "System has not been booted with systemd as init system (PID 1). Can't operate.\n";
        let why = parse("systemctl", &names(&["ssh.service"]), true, "", err).unwrap_err();
        assert!(why.starts_with("systemctl: System has not been booted"), "{why}");
        let short = parse("systemctl", &names(&["a.service", "b.service"]), true, "active\n", "");
        assert_eq!(short.unwrap_err(), "systemctl: no usable answer");
    }

    #[test]
    fn a_missing_program_and_a_silent_one_are_errors() {
        let why = active_states("/nonexistent/systemctl", &names(&["a.service"])).unwrap_err();
        assert!(why.starts_with("cannot run /nonexistent/systemctl"), "{why}");
        assert_eq!(active_states("/bin/true", &[]).unwrap(), Vec::new());
    }
}
