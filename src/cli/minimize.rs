//! `qmpsim trace minimize TRACE --until CONDITION -o OUT`: the edge of
//! [`crate::trace::minimize`]. Reads the trace, runs the `exec` command on each
//! candidate (written next to OUT), writes OUT, prints the result as a `->`/`<-`
//! transcript on stdout and a summary on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::replay::corpus::error_chain;
use crate::trace::format::count;
use crate::trace::minimize::{minimize, MinimizeError, Until};

/// A parsed `--until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `replay-diverges`
    ReplayDiverges,
    /// `output-contains TEXT`
    OutputContains(String),
    /// `exec CMD`
    Exec(String),
}

/// Parses the words given to `--until`; `Err` is the message for the user.
pub fn parse_condition(words: &[String]) -> Result<Condition, String> {
    match words {
        [w] if w == "replay-diverges" => Ok(Condition::ReplayDiverges),
        [w, text] if w == "output-contains" => Ok(Condition::OutputContains(text.clone())),
        [w, cmd] if w == "exec" => Ok(Condition::Exec(cmd.clone())),
        [w] if w == "output-contains" || w == "exec" => Err(format!(
            "condition '{w}' needs an argument ({})",
            if w == "exec" {
                "a shell command"
            } else {
                "the text"
            }
        )),
        [w, ..] if w == "replay-diverges" => {
            Err("condition 'replay-diverges' takes no argument".to_owned())
        }
        [w, ..] => Err(format!(
            "unknown condition '{w}' (expected replay-diverges, output-contains TEXT or exec CMD)"
        )),
        [] => Err("--until needs a condition".to_owned()),
    }
}

/// Runs `cmd` through `sh -c` with the candidate's path as its last argument;
/// exit status 0 means the candidate meets the condition.
fn exec_meets(cmd: &str, candidate: &Path) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} \"$1\""))
        .arg("qmpsim-minimize")
        .arg(candidate)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn candidate_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".candidate.qmptrace");
    out.with_file_name(name)
}

/// `qmpsim trace minimize`; returns the exit status (0 done, 1 failed).
pub fn minimize_cli(trace: &Path, until: &[String], out: &Path) -> i32 {
    let condition = match parse_condition(until) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("qmpsim trace minimize: {msg}");
            return 2;
        }
    };
    let bytes = match std::fs::read(trace) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "qmpsim trace minimize: cannot read {}: {e}",
                trace.display()
            );
            return 1;
        }
    };
    let candidate = candidate_path(out);
    let mut write_error = None;
    let mut oracle = |t: &[u8]| match std::fs::write(&candidate, t) {
        Ok(()) => match &condition {
            Condition::Exec(cmd) => exec_meets(cmd, &candidate),
            _ => false,
        },
        Err(e) => {
            write_error.get_or_insert_with(|| format!("cannot write {}: {e}", candidate.display()));
            false
        }
    };
    let mut until = match &condition {
        Condition::ReplayDiverges => Until::ReplayDiverges,
        Condition::OutputContains(text) => Until::OutputContains(text.clone()),
        Condition::Exec(_) => Until::Oracle(&mut oracle),
    };
    let result = minimize(&bytes, &mut until);
    drop(until);
    let _ = std::fs::remove_file(&candidate);
    if let Some(e) = write_error {
        eprintln!("qmpsim trace minimize: {e}");
        return 1;
    }
    let m = match result {
        Ok(m) => m,
        Err(e @ (MinimizeError::NotMet | MinimizeError::DigestOnly)) => {
            eprintln!("qmpsim trace minimize: {}: {e}", trace.display());
            return 1;
        }
        Err(e) => {
            eprintln!(
                "qmpsim trace minimize: {}: {}",
                trace.display(),
                error_chain(&e)
            );
            return 1;
        }
    };
    if let Err(e) = std::fs::write(out, &m.trace) {
        eprintln!("qmpsim trace minimize: cannot write {}: {e}", out.display());
        return 1;
    }
    print!("{}", m.transcript);
    eprintln!(
        "qmpsim trace minimize: kept {} of {} and {} of {}, {} tried; written to {}",
        m.units_after,
        count(m.units_before as u64, "message", "messages"),
        m.clients_after,
        count(m.clients_before as u64, "client", "clients"),
        count(m.candidates as u64, "candidate", "candidates"),
        out.display()
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn conditions_parse() {
        assert_eq!(
            parse_condition(&words(&["replay-diverges"])),
            Ok(Condition::ReplayDiverges)
        );
        assert_eq!(
            parse_condition(&words(&["output-contains", "STOP"])),
            Ok(Condition::OutputContains("STOP".to_owned()))
        );
        assert_eq!(
            parse_condition(&words(&["exec", "true"])),
            Ok(Condition::Exec("true".to_owned()))
        );
    }

    #[test]
    fn bad_conditions_are_explained() {
        assert_eq!(
            parse_condition(&words(&["exec"])).unwrap_err(),
            "condition 'exec' needs an argument (a shell command)"
        );
        assert!(parse_condition(&words(&["sometimes"]))
            .unwrap_err()
            .starts_with("unknown condition 'sometimes'"));
        assert_eq!(
            parse_condition(&words(&["replay-diverges", "x"])).unwrap_err(),
            "condition 'replay-diverges' takes no argument"
        );
    }
}
