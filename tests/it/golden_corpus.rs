//! Goldens of `qmpsim trace dump` for every trace of the corpus (`traces/` and
//! `traces/regressions/`), through the real binary: `golden/dump__NAME.snap`, or
//! `golden/dump__regressions__NAME.snap`. A dump is the session as people read
//! it, so a change to what a trace records, or to how the dump shows it, shows up
//! here for review. The dump depends only on the trace's bytes: there is nothing
//! to redact.

use std::path::{Path, PathBuf};

use crate::support::{qmpsim, snap};

/// The corpus traces below `dir` (not recursive), sorted by name.
fn traces_in(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus folder exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "qmptrace"))
        .collect();
    paths.sort();
    paths
}

/// Dumps each trace of `dir` and checks it against `golden/PREFIX__NAME.snap`;
/// returns how many traces there were.
fn check_dumps(dir: &Path, prefix: &str) -> usize {
    let traces = traces_in(dir);
    for trace in &traces {
        let (code, out, err) = qmpsim(&["trace", "dump", trace.to_str().unwrap()]);
        assert!(
            code == Some(0) && err.is_empty(),
            "{}: exit {code:?}\n{err}",
            trace.display()
        );
        let stem = trace.file_stem().unwrap().to_string_lossy();
        snap(&format!("{prefix}__{stem}"), &out);
    }
    traces.len()
}

#[test]
fn corpus_dumps_match_their_goldens() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    assert!(check_dumps(&root, "dump") >= 60, "the corpus shrank");
}

#[test]
fn regression_trace_dumps_match_their_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/regressions");
    assert!(check_dumps(&dir, "dump__regressions") >= 2);
}

#[test]
fn every_dump_golden_has_its_trace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expected: Vec<String> = traces_in(&root.join("traces"))
        .iter()
        .map(|p| format!("dump__{}.snap", p.file_stem().unwrap().to_string_lossy()))
        .chain(traces_in(&root.join("traces/regressions")).iter().map(|p| {
            format!(
                "dump__regressions__{}.snap",
                p.file_stem().unwrap().to_string_lossy()
            )
        }))
        .collect();
    expected.sort();
    let mut goldens: Vec<String> = std::fs::read_dir(root.join("golden"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dump__") && n.ends_with(".snap"))
        .collect();
    goldens.sort();
    assert_eq!(
        goldens, expected,
        "a dump golden without its trace, or the reverse"
    );
}
