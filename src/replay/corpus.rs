//! Replay of many traces, the runner behind `qmpsim replay`: collect trace files
//! from the paths given (recursing into folders, each file once by its canonical
//! path, no symlink loops), keep this machine's shard, replay them on `-j N`
//! workers, and report them sorted by path, so the report does not depend on
//! scheduling.
//!
//! Report, one line per trace and a closing count:
//!
//! ```text
//! ok   traces/runstate.qmptrace (9 steps)
//! FAIL traces/broken.qmptrace: first divergence at frame 4 (after 3 steps, ...): ...
//!   ... the transcript before it, expected, actual, the JSON diff ...
//!   reproduce: qmpsim replay traces/broken.qmptrace
//! 1 passed, 1 failed
//! ```
//!
//! Exit status of `qmpsim replay` ([`CorpusReport::exit_status`]): 0 when at least
//! one trace ran and every trace passed; [`EXIT_FAILED`] when a trace failed (a
//! divergence, a damaged file, a difference under `--check-determinism`), no
//! trace was found or a path could not be read; [`EXIT_TRUNCATED`] when the only
//! failures are traces cut before their `End` frame whose complete frames all
//! replayed (accepted as passes with `--allow-truncated`); 2 for a usage error.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::one::{replay_file_with, ReplayError, ReplayOptions, ReplayReport};
use crate::trace::format::count;

/// The extension of trace files picked up from folders.
pub const TRACE_EXTENSION: &str = "qmptrace";
/// Exit status when a trace failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status when the only failures are truncated traces.
pub const EXIT_TRUNCATED: i32 = 3;
/// Lines of plain progress (on a stream that is not a terminal) per run, at most.
pub const PROGRESS_LINES_MAX: usize = 10;

/// Why the corpus could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A path given does not exist.
    #[error("no such file or directory: {}", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A folder could not be listed.
    #[error("cannot read directory {}: {}", path.display(), crate::trace::format::os_text(source))]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// `--shard K/N`: this run takes the traces whose path hash is `K - 1` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether `path` (as collected) belongs to this shard: the first eight bytes
    /// of sha256 of the path's bytes, as a little-endian integer, modulo the count.
    /// Stable across machines and runs for the same relative paths.
    pub fn takes(&self, path: &Path) -> bool {
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let h = u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 8 bytes"));
        h % self.count == self.index - 1
    }
}

/// How to run the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Workers (threads); at least 1.
    pub jobs: usize,
    /// Only this shard of the traces.
    pub shard: Option<Shard>,
    /// Stop starting traces after the first failure.
    pub fail_fast: bool,
    /// Replay every trace twice, on different workers, in a shuffled order, and
    /// fail on any difference in outputs or digest.
    pub check_determinism: bool,
    /// Count a truncated trace whose complete frames all replayed as passed.
    pub allow_truncated: bool,
    /// Seed of the `--check-determinism` shuffle.
    pub shuffle_seed: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: default_jobs(),
            shard: None,
            fail_fast: false,
            check_determinism: false,
            allow_truncated: false,
            shuffle_seed: 0,
        }
    }
}

/// All cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Why a trace failed under `--check-determinism`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nondeterminism {
    /// What differed: outputs or digest.
    pub what: String,
    /// The workers of the two runs.
    pub workers: (usize, usize),
}

/// One trace's result.
#[derive(Debug)]
pub struct TraceOutcome {
    /// The trace file.
    pub path: PathBuf,
    /// The report, or why it failed; `None` when `--fail-fast` skipped it.
    pub result: Option<Result<ReplayReport, ReplayError>>,
    /// Under `--check-determinism`, a difference between the two runs.
    pub nondeterminism: Option<Nondeterminism>,
    /// Wall time of the replay (both runs under `--check-determinism`).
    pub time: Duration,
}

impl TraceOutcome {
    fn verdict(&self, allow_truncated: bool) -> Verdict {
        match &self.result {
            None => Verdict::Skipped,
            Some(_) if self.nondeterminism.is_some() => Verdict::Failed,
            Some(Ok(_)) => Verdict::Passed,
            Some(Err(ReplayError::Truncated { .. })) if allow_truncated => Verdict::Passed,
            Some(Err(ReplayError::Truncated { .. })) => Verdict::Truncated,
            Some(Err(_)) => Verdict::Failed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passed,
    Failed,
    Truncated,
    Skipped,
}

/// Every result, sorted by path.
#[derive(Debug)]
pub struct CorpusReport {
    /// One entry per trace, by path.
    pub outcomes: Vec<TraceOutcome>,
    /// The options of the run (for verdicts and reproduce lines).
    pub options: RunOptions,
}

impl CorpusReport {
    fn counted(&self, v: Verdict) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.verdict(self.options.allow_truncated) == v)
            .count()
    }

    /// Traces that replayed cleanly.
    pub fn passed(&self) -> usize {
        self.counted(Verdict::Passed)
    }

    /// Traces that did not (truncated ones included).
    pub fn failed(&self) -> usize {
        self.counted(Verdict::Failed) + self.counted(Verdict::Truncated)
    }

    /// Traces `--fail-fast` did not run.
    pub fn skipped(&self) -> usize {
        self.counted(Verdict::Skipped)
    }

    /// True when at least one trace ran and every one passed.
    pub fn all_passed(&self) -> bool {
        !self.outcomes.is_empty() && self.passed() == self.outcomes.len()
    }

    /// The exit status (see the module docs).
    pub fn exit_status(&self) -> i32 {
        if self.all_passed() {
            0
        } else if self.outcomes.is_empty() || self.counted(Verdict::Failed) > 0 {
            EXIT_FAILED
        } else if self.counted(Verdict::Truncated) > 0 {
            EXIT_TRUNCATED
        } else {
            EXIT_FAILED
        }
    }

    /// The per-trace lines and the closing `N passed, M failed` line.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for outcome in &self.outcomes {
            text.push_str(&render_outcome(outcome, &self.options));
        }
        text.push_str(&format!(
            "{} passed, {} failed",
            self.passed(),
            self.failed()
        ));
        if self.skipped() > 0 {
            text.push_str(&format!(", {} skipped (--fail-fast)", self.skipped()));
        }
        text.push('\n');
        text
    }

    /// The report as JUnit XML: one test suite, one test case per trace.
    pub fn junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("qmpsim replay");
        for outcome in &self.outcomes {
            let name = outcome.path.display().to_string();
            let status = match outcome.verdict(self.options.allow_truncated) {
                Verdict::Passed => TestCaseStatus::success(),
                Verdict::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("not run: --fail-fast stopped after a failure");
                    s
                }
                Verdict::Failed | Verdict::Truncated => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let (summary, details) = failure_text(outcome);
                    s.set_message(summary);
                    s.set_description(format!(
                        "{details}reproduce: {}\n",
                        reproduce(outcome, &self.options)
                    ));
                    s
                }
            };
            let mut case = TestCase::new(name, status);
            case.set_classname("qmpsim.replay");
            case.set_time(outcome.time);
            suite.add_test_case(case);
        }
        let mut report = Report::new("qmpsim");
        report.add_test_suite(suite);
        report.to_string()
    }
}

/// The trace files named by `paths`: files as given, folders searched recursively
/// for `*.qmptrace`. Each file appears once, whatever the paths or symlinks that
/// lead to it (by canonical path); a folder reached again through a symlink is not
/// entered again. Sorted by path.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CorpusError> {
    let mut files = Vec::new();
    let mut seen_files = BTreeSet::new();
    let mut seen_dirs = BTreeSet::new();
    for path in paths {
        let Ok(canonical) = std::fs::canonicalize(path) else {
            return Err(CorpusError::Missing { path: path.clone() });
        };
        if canonical.is_dir() {
            collect_dir(path, canonical, &mut files, &mut seen_files, &mut seen_dirs)?;
        } else if seen_files.insert(canonical) {
            files.push(path.clone());
        }
    }
    files.sort();
    Ok(files)
}

/// [`collect`] in folder `dir`, whose canonical path is `canonical`. Only a
/// symlink is resolved with `canonicalize` (a `realpath`, one `lstat` per path
/// component): the canonical path of anything else in the folder is the
/// folder's plus its name, and its type comes with the folder listing. So a
/// folder of a thousand traces costs a listing, not a thousand resolutions, on
/// the one thread that collects before the workers start.
fn collect_dir(
    dir: &Path,
    canonical: PathBuf,
    files: &mut Vec<PathBuf>,
    seen_files: &mut BTreeSet<PathBuf>,
    seen_dirs: &mut BTreeSet<PathBuf>,
) -> Result<(), CorpusError> {
    let read_dir_error = |source| CorpusError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    if !seen_dirs.insert(canonical.clone()) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let kind = entry.file_type().map_err(read_dir_error)?;
        entries.push((entry.path(), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let (resolved, is_dir) = if kind.is_symlink() {
            // A dangling symlink has no canonical path: not a trace, skipped.
            let Ok(resolved) = std::fs::canonicalize(&path) else {
                continue;
            };
            let is_dir = resolved.is_dir();
            (resolved, is_dir)
        } else {
            let name = path.file_name().expect("a folder entry has a name");
            (canonical.join(name), kind.is_dir())
        };
        if is_dir {
            collect_dir(&path, resolved, files, seen_files, seen_dirs)?;
        } else if path.extension().is_some_and(|e| e == TRACE_EXTENSION)
            && seen_files.insert(resolved)
        {
            files.push(path);
        }
    }
    Ok(())
}

/// One replay to run: which trace, which of its runs (0, or 1 under
/// `--check-determinism`).
#[derive(Debug, Clone, Copy)]
struct Job {
    trace: usize,
    run: usize,
}

/// What a job gave.
struct Done {
    result: Result<ReplayReport, ReplayError>,
    worker: usize,
    time: Duration,
}

/// Replays `files` with `options`; results sorted by path. `progress` is told
/// of each trace as it finishes.
pub fn replay_files_with(
    files: &[PathBuf],
    options: &RunOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> CorpusReport {
    let jobs = options.jobs.max(1);
    let runs = if options.check_determinism { 2 } else { 1 };
    // One queue per worker. Normally every worker takes from queue 0; under
    // --check-determinism, the two runs of a trace go to two different workers'
    // queues (when there are two), each queue in a shuffled order.
    let mut queues: Vec<Vec<Job>> = vec![Vec::new(); if runs == 2 { jobs } else { 1 }];
    for trace in 0..files.len() {
        for run in 0..runs {
            let q = if runs == 2 { (trace + run) % jobs } else { 0 };
            queues[q].push(Job { trace, run });
        }
    }
    if options.check_determinism {
        let mut rng = SplitMix(options.shuffle_seed);
        for q in &mut queues {
            shuffle(q, &mut rng);
        }
    }
    let next: Vec<AtomicUsize> = queues.iter().map(|_| AtomicUsize::new(0)).collect();
    let slots: Vec<Mutex<Vec<Option<Done>>>> = files
        .iter()
        .map(|_| Mutex::new((0..runs).map(|_| None).collect()))
        .collect();
    let stop = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let hash = ReplayOptions {
        hash_outputs: options.check_determinism,
    };
    std::thread::scope(|scope| {
        for worker in 0..jobs {
            let (queues, next, slots, stop, finished) = (&queues, &next, &slots, &stop, &finished);
            scope.spawn(move || {
                let q = if queues.len() == 1 { 0 } else { worker };
                loop {
                    let i = next[q].fetch_add(1, Ordering::Relaxed);
                    let Some(job) = queues[q].get(i) else { break };
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let result = replay_file_with(&files[job.trace], hash);
                    let failed = result.is_err();
                    let done = Done {
                        result,
                        worker,
                        time: started.elapsed(),
                    };
                    let complete = {
                        let mut slot = slots[job.trace].lock().expect("no worker panics");
                        slot[job.run] = Some(done);
                        slot.iter().all(Option::is_some)
                    };
                    if failed && options.fail_fast {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if complete {
                        let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                        progress(n, files.len());
                    }
                }
            });
        }
    });
    let outcomes = files
        .iter()
        .zip(slots)
        .map(|(path, slot)| outcome(path, slot.into_inner().expect("no worker panics")))
        .collect();
    CorpusReport {
        outcomes,
        options: options.clone(),
    }
}

/// Combines the runs of one trace.
fn outcome(path: &Path, runs: Vec<Option<Done>>) -> TraceOutcome {
    let mut runs = runs.into_iter();
    let first = runs.next().flatten();
    let second = runs.next().flatten();
    let (first, second) = match (first, second) {
        (Some(a), b) => (a, b),
        // A trace whose first run was skipped but whose second ran: use it.
        (None, Some(b)) => (b, None),
        (None, None) => {
            return TraceOutcome {
                path: path.to_owned(),
                result: None,
                nondeterminism: None,
                time: Duration::ZERO,
            }
        }
    };
    let mut time = first.time;
    let mut nondeterminism = None;
    if let Some(b) = &second {
        time += b.time;
        let what = match (&first.result, &b.result) {
            (Ok(x), Ok(y)) if x.outputs_sha256 != y.outputs_sha256 => Some("outputs differ"),
            (Ok(x), Ok(y)) if x.digest != y.digest => Some("final digests differ"),
            (Ok(_), Ok(_)) => None,
            (Err(x), Err(y)) if x.to_string() == y.to_string() => None,
            _ => Some("one run passed and the other failed"),
        };
        nondeterminism = what.map(|w| Nondeterminism {
            what: w.to_owned(),
            workers: (first.worker, b.worker),
        });
    }
    TraceOutcome {
        path: path.to_owned(),
        result: Some(first.result),
        nondeterminism,
        time,
    }
}

/// A small seeded generator for the shuffle (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Fisher-Yates.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next() % (i as u64 + 1)).expect("at most i");
        items.swap(i, j);
    }
}

/// Replays `files` on all cores; results sorted by path.
pub fn replay_files(files: &[PathBuf]) -> CorpusReport {
    replay_files_with(files, &RunOptions::default(), &|_, _| {})
}

/// [`collect`] then [`replay_files`].
pub fn run(paths: &[PathBuf]) -> Result<CorpusReport, CorpusError> {
    Ok(replay_files(&collect(paths)?))
}

/// [`collect`] (and the shard) then [`replay_files_with`].
pub fn run_with(
    paths: &[PathBuf],
    options: &RunOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CorpusReport, CorpusError> {
    let mut files = collect(paths)?;
    if let Some(shard) = options.shard {
        files.retain(|f| shard.takes(f));
    }
    Ok(replay_files_with(&files, options, progress))
}

/// [`run`], printing the report to `out`. Returns the process exit status.
pub fn run_and_print<W: Write>(paths: &[PathBuf], out: &mut W) -> i32 {
    let options = RunOptions::default();
    run_and_print_with(paths, &options, None, out)
}

/// `qmpsim replay`: [`run_with`] with a progress bar on a terminal (plain
/// progress lines on stderr otherwise), the report on `out`, the JUnit file if
/// asked for. Returns the process exit status (see the module docs).
pub fn run_and_print_with<W: Write>(
    paths: &[PathBuf],
    options: &RunOptions,
    junit: Option<&Path>,
    out: &mut W,
) -> i32 {
    let files = match collect(paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("qmpsim replay: {e}");
            return EXIT_FAILED;
        }
    };
    let files: Vec<PathBuf> = match options.shard {
        Some(shard) => files.into_iter().filter(|f| shard.takes(f)).collect(),
        None => files,
    };
    let report = if std::io::stderr().is_terminal() && files.len() > 1 {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} traces {elapsed}")
                .expect("the template is valid"),
        );
        let report = replay_files_with(&files, options, &|n, _| bar.set_position(n as u64));
        bar.finish_and_clear();
        report
    } else {
        replay_files_with(&files, options, &|n, total| {
            if progress_line_due(n, total) {
                eprintln!("qmpsim replay: {n} of {total} traces replayed");
            }
        })
    };
    if let Err(e) = out.write_all(report.render().as_bytes()) {
        eprintln!("qmpsim replay: cannot write the report: {e}");
        return EXIT_FAILED;
    }
    if let Some(path) = junit {
        let written = report.junit().map_err(|e| e.to_string()).and_then(|xml| {
            std::fs::write(path, xml).map_err(|e| crate::trace::format::os_text(&e))
        });
        if let Err(e) = written {
            eprintln!("qmpsim replay: --junit {}: {e}", path.display());
            return EXIT_FAILED;
        }
    }
    if report.outcomes.is_empty() {
        match options.shard {
            Some(s) if !paths.is_empty() => eprintln!(
                "qmpsim replay: no .{TRACE_EXTENSION} files in shard {}/{}",
                s.index, s.count
            ),
            _ => eprintln!("qmpsim replay: no .{TRACE_EXTENSION} files found"),
        }
    }
    report.exit_status()
}

/// The summary line and the indented details of a failed trace.
fn failure_text(outcome: &TraceOutcome) -> (String, String) {
    if let Some(n) = &outcome.nondeterminism {
        let (a, b) = n.workers;
        let detail = if a == b {
            format!("  both runs were on worker {a} (one worker)\n")
        } else {
            format!("  the runs were on workers {a} and {b}\n")
        };
        return (format!("not deterministic: {}", n.what), detail);
    }
    match &outcome.result {
        Some(Err(ReplayError::Diverged(d))) => (d.summary(), d.details()),
        Some(Err(e)) => (error_chain(e), String::new()),
        _ => (String::new(), String::new()),
    }
}

/// The one-line command that replays a failed trace alone.
fn reproduce(outcome: &TraceOutcome, options: &RunOptions) -> String {
    let mut cmd = "qmpsim replay".to_owned();
    if outcome.nondeterminism.is_some() {
        cmd.push_str(" --check-determinism -j 2");
    }
    cmd.push(' ');
    cmd.push_str(&shell_quote(&outcome.path.display().to_string()));
    let _ = options;
    cmd
}

/// Quotes `s` for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn render_outcome(outcome: &TraceOutcome, options: &RunOptions) -> String {
    let path = outcome.path.display();
    match outcome.verdict(options.allow_truncated) {
        Verdict::Skipped => format!("skip {path}\n"),
        Verdict::Passed => match &outcome.result {
            Some(Ok(report)) => format!("ok   {path} ({})\n", count(report.steps, "step", "steps")),
            Some(Err(e)) => format!("ok   {path} ({e}; allowed by --allow-truncated)\n"),
            None => unreachable!("a passed trace ran"),
        },
        Verdict::Failed | Verdict::Truncated => {
            let (summary, details) = failure_text(outcome);
            format!(
                "FAIL {path}: {summary}\n{details}  reproduce: {}\n",
                reproduce(outcome, options)
            )
        }
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

/// Whether plain progress prints a line after trace `n` of `total`: none for a
/// run of at most [`PROGRESS_LINES_MAX`] traces, else at most that many lines,
/// evenly spaced, the last at the end.
fn progress_line_due(n: usize, total: usize) -> bool {
    let step = total.div_ceil(PROGRESS_LINES_MAX).max(1);
    total > PROGRESS_LINES_MAX && (n % step == 0 || n == total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Input;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::{record_inputs, TraceHeader, TraceWriter};

    fn good_trace() -> Vec<u8> {
        let inputs = [Input::connect(ClientId(1))];
        record_inputs(&TraceHeader::new(MachineConfig::default()), &inputs).unwrap()
    }

    fn bad_trace() -> Vec<u8> {
        let w = TraceWriter::new(Vec::new(), &TraceHeader::new(MachineConfig::default())).unwrap();
        w.finish(0, "wrong").unwrap()
    }

    /// Adds `cut.qmptrace` to `dir`: a good trace without its last byte.
    fn add_cut_trace(dir: &tempfile::TempDir) {
        let good = good_trace();
        std::fs::write(dir.path().join("cut.qmptrace"), &good[..good.len() - 1]).unwrap();
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
    fn collect_same_file_twice_keeps_it_once() {
        let dir = corpus_dir();
        let file = dir.path().join("b.qmptrace");
        let again = dir.path().join("sub/../b.qmptrace");
        assert_eq!(collect(&[file.clone(), again]).unwrap(), [file]);
    }

    #[test]
    fn collect_does_not_follow_a_symlink_loop() {
        let dir = corpus_dir();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).unwrap();
        let files = collect(&[dir.path().to_owned()]).unwrap();
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn collect_counts_a_symlinked_trace_once() {
        let dir = corpus_dir();
        std::os::unix::fs::symlink(dir.path().join("b.qmptrace"), dir.path().join("c.qmptrace"))
            .unwrap();
        assert_eq!(collect(&[dir.path().to_owned()]).unwrap().len(), 2);
    }

    #[test]
    fn shard_parses_k_of_n() {
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { index: 3, count: 8 }));
    }

    #[test]
    fn shard_at_its_count_parses_and_past_it_does_not() {
        assert!("4/4".parse::<Shard>().is_ok());
        assert!("5/4".parse::<Shard>().is_err());
    }

    #[test]
    fn shards_split_paths_into_disjoint_covering_sets() {
        let paths: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("t/{i}.qmptrace")))
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|index| Shard { index, count: 3 }).collect();
        for p in &paths {
            assert_eq!(shards.iter().filter(|s| s.takes(p)).count(), 1, "{p:?}");
        }
        // Every shard gets some of 200 paths.
        assert!(shards.iter().all(|s| paths.iter().any(|p| s.takes(p))));
    }

    #[test]
    fn shard_of_a_path_is_stable() {
        // sha256("traces/runstate.qmptrace") fixes the split for every machine.
        let p = Path::new("traces/runstate.qmptrace");
        let taken: Vec<u64> = (1..=4)
            .filter(|&index| Shard { index, count: 4 }.takes(p))
            .collect();
        assert_eq!(taken.len(), 1);
        assert_eq!(
            taken,
            (1..=4)
                .filter(|&index| Shard { index, count: 4 }
                    .takes(&PathBuf::from("traces/runstate.qmptrace")))
                .collect::<Vec<_>>()
        );
    }

    fn options() -> RunOptions {
        RunOptions {
            jobs: 2,
            ..RunOptions::default()
        }
    }

    #[test]
    fn fail_fast_on_one_worker_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.qmptrace"), bad_trace()).unwrap();
        std::fs::write(dir.path().join("b.qmptrace"), good_trace()).unwrap();
        let files = collect(&[dir.path().to_owned()]).unwrap();
        let opts = RunOptions {
            jobs: 1,
            fail_fast: true,
            ..RunOptions::default()
        };
        let report = replay_files_with(&files, &opts, &|_, _| {});
        assert_eq!(
            (report.passed(), report.failed(), report.skipped()),
            (0, 1, 1)
        );
    }

    #[test]
    fn check_determinism_passes_a_good_trace_on_two_workers() {
        let dir = corpus_dir();
        let opts = RunOptions {
            check_determinism: true,
            ..options()
        };
        let files = collect(&[dir.path().join("b.qmptrace")]).unwrap();
        let report = replay_files_with(&files, &opts, &|_, _| {});
        assert!(report.all_passed(), "{}", report.render());
    }

    #[test]
    fn outcome_with_different_output_hashes_is_not_deterministic() {
        let report = |hash: &str| ReplayReport {
            header: TraceHeader::new(MachineConfig::default()),
            steps: 1,
            frames: 2,
            checkpoints: 0,
            digest: "d".to_owned(),
            outputs_sha256: Some(hash.to_owned()),
        };
        let done = |hash: &str, worker| {
            Some(Done {
                result: Ok(report(hash)),
                worker,
                time: Duration::ZERO,
            })
        };
        let o = outcome(Path::new("t"), vec![done("a", 0), done("b", 1)]);
        assert_eq!(
            o.nondeterminism,
            Some(Nondeterminism {
                what: "outputs differ".to_owned(),
                workers: (0, 1)
            })
        );
    }

    #[test]
    fn truncated_only_failure_exits_with_its_own_status() {
        let dir = tempfile::tempdir().unwrap();
        add_cut_trace(&dir);
        let report = run(&[dir.path().to_owned()]).unwrap();
        assert_eq!(report.exit_status(), EXIT_TRUNCATED);
    }

    #[test]
    fn truncated_trace_passes_with_allow_truncated() {
        let dir = tempfile::tempdir().unwrap();
        add_cut_trace(&dir);
        let opts = RunOptions {
            allow_truncated: true,
            ..options()
        };
        let report = run_with(&[dir.path().to_owned()], &opts, &|_, _| {}).unwrap();
        assert_eq!(report.exit_status(), 0);
    }

    #[test]
    fn truncated_and_diverged_exits_failed() {
        let dir = corpus_dir();
        add_cut_trace(&dir);
        let report = run(&[dir.path().to_owned()]).unwrap();
        assert_eq!(report.exit_status(), EXIT_FAILED);
    }

    #[test]
    fn junit_has_one_case_per_trace_and_the_failure() {
        let dir = corpus_dir();
        let report = run(&[dir.path().to_owned()]).unwrap();
        let xml = report.junit().unwrap();
        assert_eq!(
            (
                xml.matches("<testcase ").count(),
                xml.matches("<failure ").count()
            ),
            (2, 1),
            "{xml}"
        );
    }

    #[test]
    fn reproduce_line_quotes_a_path_with_spaces() {
        assert_eq!(shell_quote("a b/it's.qmptrace"), r"'a b/it'\''s.qmptrace'");
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
                "ok   {d}/b.qmptrace (1 step)\n\
                 FAIL {d}/sub/a.qmptrace: first divergence at frame 0 (after 0 steps, virtual time 0.000000s): final digest differs\n\
                 \x20 expected digest: wrong\n\
                 \x20 actual digest:   {}\n\
                 \x20 no checkpoint came before it\n\
                 \x20 reproduce: qmpsim replay {d}/sub/a.qmptrace\n\
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
                "FAIL {}: invalid trace: truncated in its header at byte offset 8\n\
                 \x20 reproduce: qmpsim replay {}\n\
                 0 passed, 1 failed\n",
                path.display(),
                path.display()
            )
        );
    }

    #[test]
    fn all_passed_with_no_traces_is_false() {
        let report = CorpusReport {
            outcomes: Vec::new(),
            options: RunOptions::default(),
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

    /// How many progress lines a plain run over `total` traces prints.
    fn progress_lines(total: usize) -> usize {
        (1..=total).filter(|&n| progress_line_due(n, total)).count()
    }

    #[test]
    fn progress_at_line_limit_of_traces_prints_nothing() {
        assert_eq!(progress_lines(PROGRESS_LINES_MAX), 0);
    }

    #[test]
    fn progress_past_line_limit_prints_at_most_the_limit() {
        assert_eq!(
            (
                progress_lines(PROGRESS_LINES_MAX + 1),
                progress_lines(PROGRESS_LINES_MAX * 100)
            ),
            (6, PROGRESS_LINES_MAX)
        );
    }
}
