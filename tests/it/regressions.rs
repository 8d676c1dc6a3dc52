//! regressions: each trace in `traces/regressions/` is the shrunk failing case of
//! a fuzz property (written by `fuzz/failtrace.rs`), named after the bug, and
//! re-recorded with the fixed engine. Each must equal a fresh recording of its
//! inputs (so it replays byte-exact, which `corpus_replay` also checks), and the
//! property it once broke must hold on it. After an intended change of output,
//! re-record them and review `qmpsim trace dump` of each:
//!
//! ```text
//! cargo test --test it regressions::regenerate_regressions -- --ignored
//! ```

use std::path::{Path, PathBuf};

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::replay::corpus;
use qmpsim::trace::{record_inputs, TraceHeader};

const PROBE: &str = r#"{"execute":"query-version","id":"probe"}"#;

/// One committed regression: the bytes a client sent after negotiating, which
/// end with [`PROBE`] on its own line; the probe must be answered normally.
struct Regression {
    file: &'static str,
    notes: &'static str,
    bytes: &'static [u8],
}

const REGRESSIONS: &[Regression] = &[
    Regression {
        file: "unclosed-quote-swallowed-the-next-line.qmptrace",
        notes: "A lone double quote, a newline, then a request: the request became \
                string content (0.14 allowed raw newlines in strings). Found by \
                resync_probe_on_its_own_line_is_answered.",
        bytes: b"\"\n{\"execute\":\"query-version\",\"id\":\"probe\"}",
    },
    Regression {
        file: "ff-inside-string-left-a-phantom-string.qmptrace",
        notes: "Invalid UTF-8 with 0xFF/0xFE inside a string: the reset byte \
                restarted the lexer mid-string, the closing quote opened a phantom \
                string, and every later request failed.",
        bytes: b"{\"execute\":\"query-status\",\"id\":\"a\xc3\xff\xfe\x80b\"}\n\
                 {\"execute\":\"query-version\",\"id\":\"probe\"}",
    },
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/regressions")
}

fn inputs(r: &Regression) -> Vec<Input> {
    qmpsim::scenario::negotiated_reads(ClientId(1), [r.bytes])
}

fn record(r: &Regression) -> Vec<u8> {
    let header = TraceHeader::new(MachineConfig::default()).with_notes(r.notes);
    record_inputs(&header, &inputs(r)).expect("recording in memory")
}

fn last_sent(outputs: &[Output]) -> Option<String> {
    outputs.iter().rev().find_map(|o| match o {
        Output::Send { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
        _ => None,
    })
}

#[test]
fn regressions_committed_traces_equal_fresh_recordings() {
    for r in REGRESSIONS {
        let path = dir().join(r.file);
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == record(r),
            "{} differs from a fresh recording (see the module docs)",
            r.file
        );
    }
}

#[test]
fn regressions_directory_holds_exactly_the_listed_traces() {
    let mut found: Vec<String> = corpus::collect(&[dir()])
        .expect("traces/regressions exists")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = REGRESSIONS.iter().map(|r| r.file.to_owned()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

#[test]
fn regressions_probe_is_answered_normally() {
    let mut fresh = Engine::new(MachineConfig::default());
    let mut expected = None;
    for input in inputs(&Regression {
        file: "",
        notes: "",
        bytes: PROBE.as_bytes(),
    }) {
        expected = last_sent(&fresh.step(input));
    }
    let expected = expected.expect("the probe is answered");
    assert!(expected.contains("\"id\": \"probe\""), "{expected}");
    for r in REGRESSIONS {
        let mut e = Engine::new(MachineConfig::default());
        let mut last = None;
        for input in inputs(r) {
            last = last_sent(&e.step(input));
        }
        assert_eq!(last.as_deref(), Some(expected.as_str()), "{}", r.file);
    }
}

#[test]
fn regressions_replay_byte_exact() {
    let report = corpus::run(&[dir()]).expect("traces/regressions exists");
    assert!(report.all_passed(), "{}", report.render());
    assert_eq!(report.passed(), REGRESSIONS.len());
}

/// Rewrites `traces/regressions/` from the list. Ignored: run it on purpose.
#[test]
#[ignore = "rewrites the committed regression traces"]
fn regenerate_regressions() {
    std::fs::create_dir_all(dir()).unwrap();
    for r in REGRESSIONS {
        std::fs::write(dir().join(r.file), record(r)).unwrap();
    }
}
