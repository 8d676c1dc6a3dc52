//! Replay: feed a recorded trace's inputs to a fresh engine and demand the recorded
//! outputs byte for byte ([`one`]), for one trace or a whole corpus in parallel
//! ([`corpus`]); plus the entry point of `qmpsim replay`.
//!
//! This is edge code: it opens files (the core in `crate::trace` only sees
//! `Read`/`Write`) and prints to stdout/stderr.

pub mod corpus;
pub mod from;
pub mod one;
pub mod resume;

use std::path::{Path, PathBuf};

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
}
