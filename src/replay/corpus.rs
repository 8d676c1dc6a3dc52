//! Replay of many traces: collect `*.qmptrace` files from the paths given
//! (recursing into folders), replay them in parallel with rayon, and report them
//! sorted by path, so the output does not depend on scheduling.
//!
//! Output, one line per trace and a closing count:
//!
//! ```text
//! ok   traces/runstate.qmptrace (9 steps)
//! FAIL traces/broken.qmptrace: first divergence at frame 4 (after 3 steps): ...
//! 1 passed, 1 failed
//! ```
//!
//! A failing trace's line is followed by indented detail lines (the input and the
//! expected and actual outputs, or the error chain).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::one::{replay_file, ReplayError, ReplayReport};

/// The extension of trace files picked up from folders.
pub const TRACE_EXTENSION: &str = "qmptrace";

/// Why the corpus could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A path given does not exist.
    #[error("No such file or directory: {path}")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A folder could not be listed.
    #[error("Cannot read directory {path}")]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One trace's result.
#[derive(Debug)]
pub struct TraceOutcome {
    /// The trace file.
    pub path: PathBuf,
    /// The report, or why it failed.
    pub result: Result<ReplayReport, ReplayError>,
}

/// Every result, sorted by path.
#[derive(Debug)]
pub struct CorpusReport {
    /// One entry per trace, by path.
    pub outcomes: Vec<TraceOutcome>,
}

impl CorpusReport {
    /// Traces that replayed cleanly.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.result.is_ok()).count()
    }

    /// Traces that did not.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }

    /// True when at least one trace ran and every one passed.
    pub fn all_passed(&self) -> bool {
        !self.outcomes.is_empty() && self.failed() == 0
    }

    /// The per-trace lines and the closing `N passed, M failed` line.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for outcome in &self.outcomes {
            text.push_str(&render_outcome(outcome));
        }
        text.push_str(&format!(
            "{} passed, {} failed\n",
            self.passed(),
            self.failed()
        ));
        text
    }
}

/// The trace files named by `paths`: files as given, folders searched recursively
/// for `*.qmptrace`. Sorted, without duplicates.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CorpusError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_dir(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(CorpusError::Missing { path: path.clone() });
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CorpusError> {
    let read_dir_error = |source| CorpusError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let path = entry.map_err(read_dir_error)?.path();
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if path.extension().is_some_and(|e| e == TRACE_EXTENSION) {
            files.push(path);
        }
    }
    Ok(())
}

/// Replays `files` in parallel; results sorted by path.
pub fn replay_files(files: &[PathBuf]) -> CorpusReport {
    let done = AtomicUsize::new(0);
    let progress = std::io::stderr().is_terminal() && files.len() > 1;
    let mut outcomes: Vec<TraceOutcome> = files
        .par_iter()
        .map(|path| {
            let result = replay_file(path);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if progress {
                eprint!("\rreplayed {n}/{}", files.len());
            }
            TraceOutcome {
                path: path.clone(),
                result,
            }
        })
        .collect();
    if progress {
        eprint!("\r\x1b[K");
    }
    outcomes.sort_by(|a, b| a.path.cmp(&b.path));
    CorpusReport { outcomes }
}

/// [`collect`] then [`replay_files`].
pub fn run(paths: &[PathBuf]) -> Result<CorpusReport, CorpusError> {
    Ok(replay_files(&collect(paths)?))
}

/// [`run`], printing the report to `out`. Returns the process exit status: 0 only
/// when at least one trace ran and all passed.
pub fn run_and_print<W: Write>(paths: &[PathBuf], out: &mut W) -> i32 {
    let report = match run(paths) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("qmpsim replay: {e}");
            return 1;
        }
    };
    if let Err(e) = out.write_all(report.render().as_bytes()) {
        eprintln!("qmpsim replay: cannot write the report: {e}");
        return 1;
    }
    if report.outcomes.is_empty() {
        eprintln!("qmpsim replay: no .{TRACE_EXTENSION} files found");
    }
    i32::from(!report.all_passed())
}

fn render_outcome(outcome: &TraceOutcome) -> String {
    let path = outcome.path.display();
    match &outcome.result {
        Ok(report) => format!("ok   {path} ({} steps)\n", report.steps),
        Err(ReplayError::Diverged(d)) => {
            format!("FAIL {path}: {}\n{}", d.summary(), d.details())
        }
        Err(e) => format!("FAIL {path}: {}\n", error_chain(e)),
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Input;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::{record_inputs, TraceHeader, TraceWriter};

    fn good_trace() -> Vec<u8> {
        let inputs = [Input::Connect {
            client: ClientId(1),
            monitor: 0,
        }];
        record_inputs(&TraceHeader::new(MachineConfig::default()), &inputs).unwrap()
    }

    fn bad_trace() -> Vec<u8> {
        let w = TraceWriter::new(Vec::new(), &TraceHeader::new(MachineConfig::default())).unwrap();
        w.finish(0, "wrong").unwrap()
    }

    /// A folder with `b.qmptrace` (good), `sub/a.qmptrace` (bad) and `notes.txt`.
    fn corpus_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.qmptrace"), good_trace()).unwrap();
        std::fs::write(dir.path().join("sub/a.qmptrace"), bad_trace()).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a trace").unwrap();
        dir
    }

    #[test]
    fn collect_recurses_and_keeps_only_traces() {
        let dir = corpus_dir();
        let files = collect(&[dir.path().to_owned()]).unwrap();
        assert_eq!(
            files,
            [
                dir.path().join("b.qmptrace"),
                dir.path().join("sub/a.qmptrace")
            ]
        );
    }

    #[test]
    fn collect_keeps_named_file_whatever_its_extension() {
        let dir = corpus_dir();
        let notes = dir.path().join("notes.txt");
        assert_eq!(collect(std::slice::from_ref(&notes)).unwrap(), [notes]);
    }

    #[test]
    fn collect_drops_duplicates() {
        let dir = corpus_dir();
        let file = dir.path().join("b.qmptrace");
        let files = collect(&[file.clone(), dir.path().to_owned()]).unwrap();
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn collect_missing_path_fails() {
        let missing = PathBuf::from("/nonexistent/traces");
        assert!(matches!(
            collect(std::slice::from_ref(&missing)),
            Err(CorpusError::Missing { path }) if path == missing
        ));
    }

    #[test]
    fn run_counts_passed_and_failed() {
        let dir = corpus_dir();
        let report = run(&[dir.path().to_owned()]).unwrap();
        assert_eq!((report.passed(), report.failed()), (1, 1));
    }

    #[test]
    fn render_lists_traces_by_path_and_closes_with_counts() {
        let dir = corpus_dir();
        let report = run(&[dir.path().to_owned()]).unwrap();
        let text = report.render();
        let d = dir.path().display();
        assert_eq!(
            text,
            format!(
                "ok   {d}/b.qmptrace (1 steps)\n\
                 FAIL {d}/sub/a.qmptrace: first divergence at frame 0 (after 0 steps): final digest differs\n\
                 \x20 expected digest: wrong\n\
                 \x20 actual digest:   {}\n\
                 1 passed, 1 failed\n",
                crate::engine::Engine::new(MachineConfig::default()).digest()
            )
        );
    }

    #[test]
    fn render_of_invalid_trace_shows_error_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.qmptrace");
        std::fs::write(&path, b"QMPTRACE").unwrap();
        let report = run(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            report.render(),
            format!(
                "FAIL {}: Invalid trace: Trace truncated in its header at byte offset 8\n\
                 0 passed, 1 failed\n",
                path.display()
            )
        );
    }

    #[test]
    fn all_passed_with_no_traces_is_false() {
        let report = CorpusReport {
            outcomes: Vec::new(),
        };
        assert!(!report.all_passed());
    }

    #[test]
    fn run_and_print_with_failure_returns_one() {
        let dir = corpus_dir();
        let mut out = Vec::new();
        assert_eq!(run_and_print(&[dir.path().to_owned()], &mut out), 1);
    }

    #[test]
    fn run_and_print_with_all_passing_returns_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("good.qmptrace");
        std::fs::write(&path, good_trace()).unwrap();
        let mut out = Vec::new();
        assert_eq!(run_and_print(&[path], &mut out), 0);
    }

    #[test]
    fn run_and_print_with_missing_path_returns_one() {
        let mut out = Vec::new();
        assert_eq!(
            run_and_print(&[PathBuf::from("/nonexistent/x.qmptrace")], &mut out),
            1
        );
    }

    #[test]
    fn run_and_print_with_empty_folder_returns_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(run_and_print(&[dir.path().to_owned()], &mut out), 1);
    }
}
