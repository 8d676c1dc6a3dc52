//! Replay: feed a recorded trace's inputs to a fresh engine and demand the recorded
//! outputs byte for byte ([`one`]), for one trace or a whole corpus in parallel
//! ([`corpus`]); plus the entry points of `qmpsim replay` and `qmpsim trace dump`.
//!
//! This is edge code: it opens files (the core in `crate::trace` only sees
//! `Read`/`Write`) and prints to stdout/stderr.

pub mod corpus;
pub mod from;
pub mod one;
pub mod resume;

use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, StdoutLock, Write};
use std::path::{Path, PathBuf};

use crate::trace::export::{self, ExportError, Notation};

pub use corpus::{CorpusError, CorpusReport, TraceOutcome};
pub use one::{replay, replay_file, Divergence, DivergenceKind, ReplayError, ReplayReport};

/// `qmpsim replay PATH...`: replays every trace named (folders are searched for
/// `*.qmptrace`), prints one line per trace and `N passed, M failed`. Returns the
/// exit status documented in [`corpus`].
pub fn replay_cli(paths: &[PathBuf]) -> i32 {
    replay_cli_with(paths, &corpus::RunOptions::default(), None)
}

/// [`replay_cli`] with the runner's options and an optional JUnit file.
pub fn replay_cli_with(
    paths: &[PathBuf],
    options: &corpus::RunOptions,
    junit: Option<&Path>,
) -> i32 {
    if paths.is_empty() {
        eprintln!("qmpsim replay: no trace files or folders given");
        return corpus::EXIT_FAILED;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    corpus::run_and_print_with(paths, options, junit, &mut out)
}

/// `qmpsim trace dump FILE`: prints the session in `->`/`<-` notation. Returns 0
/// on success, 1 when the file cannot be read or is not a valid trace (what was
/// printed before the problem stays printed).
pub fn dump_cli(path: &Path) -> i32 {
    // First pass: which clients appear (lines get a client prefix when several
    // do). A damaged trace is reported by the second pass, after the frames
    // before the damage have been printed.
    let Some(first) = open_or_report(path) else {
        return 1;
    };
    let client_prefix = export::clients(first).is_ok_and(|c| c.len() > 1);
    let Some(file) = open_or_report(path) else {
        return 1;
    };
    finish_export(path, |out| {
        export::dump(file, Notation { client_prefix }, out)
    })
}

/// `qmpsim trace dump --json FILE`: prints the trace as JSON Lines (a header
/// object, then one object per frame). Exit status as [`dump_cli`].
pub fn dump_json_cli(path: &Path) -> i32 {
    let Some(file) = open_or_report(path) else {
        return 1;
    };
    finish_export(path, |out| export::export_json(file, out))
}

fn open_or_report(path: &Path) -> Option<BufReader<File>> {
    match File::open(path) {
        Ok(f) => Some(BufReader::new(f)),
        Err(e) => {
            eprintln!("qmpsim trace: cannot open {}: {e}", path.display());
            None
        }
    }
}

/// Runs an export to stdout and maps the outcome to an exit status. A closed
/// pipe (`| head`) is not an error.
fn finish_export(
    path: &Path,
    export: impl FnOnce(&mut BufWriter<StdoutLock<'static>>) -> Result<(), ExportError>,
) -> i32 {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = export(&mut out).and_then(|()| out.flush().map_err(ExportError::Write));
    match result {
        Ok(()) => 0,
        Err(ExportError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
        Err(e) => {
            // Whatever was rendered before the problem goes out first.
            let _ = out.flush();
            eprintln!(
                "qmpsim trace: {}: {}",
                path.display(),
                corpus::error_chain(&e)
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cli_without_paths_returns_one() {
        assert_eq!(replay_cli(&[]), 1);
    }

    #[test]
    fn replay_cli_with_missing_path_returns_one() {
        assert_eq!(replay_cli(&[PathBuf::from("/nonexistent/dir")]), 1);
    }

    #[test]
    fn dump_cli_with_missing_file_returns_one() {
        assert_eq!(dump_cli(Path::new("/nonexistent/x.qmptrace")), 1);
    }

    #[test]
    fn dump_json_cli_with_missing_file_returns_one() {
        assert_eq!(dump_json_cli(Path::new("/nonexistent/x.qmptrace")), 1);
    }
}
