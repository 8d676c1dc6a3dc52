//! corpus_replay: every trace in `traces/` replays byte-exact through
//! `qmpsim::replay::corpus`, the same runner `qmpsim replay` uses, and every
//! committed trace still equals a fresh recording of the script it came from.
//!
//! The corpus is recorded from the hand-written scripts below plus one trace per
//! integration scenario of `tests/it/scenarios.rs` (`traces/<scenario>.qmptrace`);
//! `traces/lifecycle.qmptrace` belongs to `lifecycle.rs`, which checks it itself.
//! After an intended change to what the engine outputs, or to the layout of its
//! state or config (which changes digests and the header encoding), regenerate it
//! and review the diff of `qmpsim trace dump` before committing:
//!
//! ```text
//! cargo test --test it corpus_replay::regenerate_corpus -- --ignored
//! ```

// Integration tests are top-level functions by nature; the lint targets unit tests.
#![allow(clippy::tests_outside_test_module)]

use std::path::{Path, PathBuf};

use qmpsim::engine::{Engine, Input, Signal};
use qmpsim::machine::clock::VirtualTime;
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::replay::corpus;
use qmpsim::trace::{record_inputs, TraceHeader};

use crate::scenarios::{Scenario, SCENARIOS};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);
/// Extension of every trace file in the corpus.
const TRACE_EXTENSION: &str = "qmptrace";
/// Traces in `traces/` that other modules record and check against a fresh
/// recording themselves (`lifecycle.rs`); they are replayed here like the rest.
const RECORDED_ELSEWHERE: &[&str] = &["lifecycle.qmptrace"];

/// One trace of the corpus and the recipe it is recorded from.
#[derive(Debug, Clone)]
struct Script {
    /// File name under `traces/`.
    file: String,
    /// The header's notes.
    notes: String,
    /// The machine.
    config: MachineConfig,
    /// Every input, in order.
    inputs: Vec<Input>,
}

impl Script {
    fn header(&self) -> TraceHeader {
        TraceHeader::new(self.config.clone()).with_notes(&self.notes)
    }

    fn record(&self) -> Vec<u8> {
        record_inputs(&self.header(), &self.inputs)
            .unwrap_or_else(|e| panic!("recording {} failed: {e}", self.file))
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}

fn connect(client: ClientId) -> Input {
    Input::Connect { client, monitor: 0 }
}

fn send(client: ClientId, line: &str) -> Input {
    Input::Bytes {
        client,
        data: line.as_bytes().to_vec(),
    }
}

/// The inputs of an integration scenario as `determinism` feeds them (one read
/// per line, no separator), then one `AdvanceTo` per idle advance, each to the
/// deadline the engine reports at that point.
fn scenario_inputs(s: &Scenario) -> Vec<Input> {
    let mut engine = Engine::new((s.config)());
    let mut inputs = vec![connect(ONE)];
    inputs.extend(s.lines.iter().map(|line| send(ONE, line)));
    for input in &inputs {
        engine.step(input.clone());
    }
    for _ in 0..s.idle_advances {
        let Some(at) = engine.next_deadline() else {
            break;
        };
        let input = Input::AdvanceTo { at };
        engine.step(input.clone());
        inputs.push(input);
    }
    inputs
}

fn scenario_script(s: &Scenario) -> Script {
    Script {
        file: format!("{}.{TRACE_EXTENSION}", s.name),
        notes: format!(
            "Integration scenario `{}` of tests/it/scenarios.rs: one client, one read per \
             line, {} idle advance(s).",
            s.name, s.idle_advances
        ),
        config: (s.config)(),
        inputs: scenario_inputs(s),
    }
}

/// The whole corpus: the hand-written scripts, then one per integration scenario.
fn scripts() -> Vec<Script> {
    let mut all: Vec<Script> = hand_written()
        .into_iter()
        .map(|(file, notes, config, inputs)| Script {
            file: file.to_owned(),
            notes: notes.to_owned(),
            config,
            inputs,
        })
        .collect();
    all.extend(SCENARIOS.iter().map(scenario_script));
    all
}

/// The hand-written scripts: file name, notes, config, inputs.
fn hand_written() -> Vec<(&'static str, &'static str, MachineConfig, Vec<Input>)> {
    vec![
        (
            "runstate.qmptrace",
            "One client: negotiate, query-status, stop, cont, quit.",
            MachineConfig::default(),
            vec![
                connect(ONE),
                send(ONE, "{\"execute\":\"qmp_capabilities\"}\r\n"),
                send(ONE, "{\"execute\":\"query-status\"}\r\n"),
                send(ONE, "{\"execute\":\"stop\"}\r\n"),
                send(ONE, "{\"execute\":\"query-status\"}\r\n"),
                send(ONE, "{\"execute\":\"cont\"}\r\n"),
                send(ONE, "{\"execute\":\"quit\"}\r\n"),
            ],
        ),
        (
            "two-clients-events.qmptrace",
            "Two clients: events reach every client in command mode, in client order; \
             a client in negotiation gets none; SIGTERM shuts down.",
            MachineConfig {
                name: Some("corpus".to_owned()),
                seed: 7,
                ..MachineConfig::default()
            },
            vec![
                connect(ONE),
                send(ONE, "{\"execute\":\"qmp_capabilities\"}\n"),
                connect(TWO),
                send(ONE, "{\"execute\":\"stop\"}\n"),
                send(TWO, "{\"execute\":\"qmp_capabilities\"}\n"),
                send(TWO, "{\"execute\":\"cont\",\"id\":\"c2\"}\n"),
                send(ONE, "{\"execute\":\"query-name\"}\n"),
                Input::AdvanceTo {
                    at: VirtualTime(5 * VirtualTime::NS_PER_S),
                },
                Input::Disconnect { client: TWO },
                Input::Signal {
                    signal: Signal::Terminate,
                },
            ],
        ),
        (
            "negotiation-and-framing.qmptrace",
            "Commands before qmp_capabilities, malformed JSON, a message split across \
             reads, two messages in one read, a passed fd closed on disconnect.",
            MachineConfig {
                start_paused: true,
                seed: 3,
                ..MachineConfig::default()
            },
            vec![
                connect(ONE),
                send(ONE, "{\"execute\":\"query-status\"}\n"),
                send(ONE, "{\"execute\":\"qmp_capabilities\"}\n"),
                send(ONE, "{\"execute\":\"qmp_capabilities\"}\n"),
                send(ONE, "{\"execute\": \"query-"),
                send(ONE, "status\"}\n"),
                send(
                    ONE,
                    "{\"execute\":\"cont\"}{\"execute\":\"query-status\"}\n",
                ),
                send(ONE, "{\"execute\":]\n"),
                send(ONE, "{\"execute\":\"no-such-command\"}\n"),
                Input::Fd {
                    client: ONE,
                    fd: FdHandle(3),
                },
                Input::Disconnect { client: ONE },
            ],
        ),
    ]
}

#[test]
fn corpus_replay_all_traces_pass() {
    let report = corpus::run(&[corpus_dir()]).expect("traces/ exists");
    assert!(
        report.all_passed(),
        "corpus replay failed (regenerate only if the change is intended, see \
         tests/it/corpus_replay.rs):\n{}",
        report.render()
    );
}

#[test]
fn corpus_replay_finds_exactly_the_scripted_traces() {
    // `traces/regressions/` belongs to `regressions.rs`, which checks it itself.
    let mut found: Vec<String> = corpus::collect(&[corpus_dir()])
        .expect("traces/ exists")
        .iter()
        .filter(|p| !p.starts_with(corpus_dir().join("regressions")))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = scripts().into_iter().map(|s| s.file).collect();
    expected.extend(RECORDED_ELSEWHERE.iter().map(|f| (*f).to_owned()));
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn corpus_scripts_have_unique_file_names() {
    let mut names: Vec<String> = scripts().into_iter().map(|s| s.file).collect();
    names.extend(RECORDED_ELSEWHERE.iter().map(|f| (*f).to_owned()));
    let before = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), before);
}

#[test]
fn corpus_covers_every_integration_scenario() {
    let files: Vec<String> = scripts().into_iter().map(|s| s.file).collect();
    let missing: Vec<&str> = SCENARIOS
        .iter()
        .map(|s| s.name)
        .filter(|name| !files.contains(&format!("{name}.{TRACE_EXTENSION}")))
        .collect();
    assert!(missing.is_empty(), "scenarios without a trace: {missing:?}");
}

#[test]
fn corpus_committed_traces_equal_fresh_recordings() {
    let dir = corpus_dir();
    let stale: Vec<String> = scripts()
        .iter()
        .filter_map(|script| {
            let path = dir.join(&script.file);
            match std::fs::read(&path) {
                Ok(committed) if committed == script.record() => None,
                Ok(_) => Some(format!("{} differs from a fresh recording", script.file)),
                Err(e) => Some(format!("{} cannot be read: {e}", script.file)),
            }
        })
        .collect();
    assert!(
        stale.is_empty(),
        "the engine no longer records the committed corpus byte for byte:\n  {}\n\
         Its behaviour, state layout, config layout or crate version changed. If that \
         is intended, regenerate and review:\n  cargo test --test it \
         corpus_replay::regenerate_corpus -- --ignored\n  qmpsim trace dump \
         traces/<file> (compare with the previous commit's dump)",
        stale.join("\n  ")
    );
}

#[test]
fn corpus_replay_of_damaged_copy_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(corpus_dir().join("runstate.qmptrace")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(dir.path().join("damaged.qmptrace"), bytes).unwrap();
    let report = corpus::run(&[dir.path().to_owned()]).unwrap();
    assert_eq!((report.passed(), report.failed()), (0, 1));
}

#[test]
fn corpus_scripts_record_deterministically() {
    let script = scripts().remove(1);
    assert_eq!(script.record(), script.record());
}

#[test]
fn corpus_scenario_script_is_named_after_the_scenario() {
    let script = scenario_script(&SCENARIOS[0]);
    assert_eq!(script.file, format!("{}.qmptrace", SCENARIOS[0].name));
}

#[test]
fn corpus_scenario_without_pending_deadline_records_no_advance() {
    let scenario = Scenario {
        name: "idle",
        config: MachineConfig::default,
        args: &[],
        lines: &[r#"{"execute":"qmp_capabilities"}"#],
        idle_advances: 2,
    };
    assert_eq!(
        scenario_inputs(&scenario),
        vec![connect(ONE), send(ONE, r#"{"execute":"qmp_capabilities"}"#)]
    );
}

#[test]
fn corpus_scenario_with_pending_deadline_ends_with_an_advance() {
    let scenario = Scenario {
        name: "powerdown",
        config: MachineConfig::default,
        args: &[],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"system_powerdown"}"#,
        ],
        idle_advances: 1,
    };
    let inputs = scenario_inputs(&scenario);
    assert!(
        inputs.len() == 4 && matches!(inputs.last(), Some(Input::AdvanceTo { .. })),
        "{inputs:?}"
    );
}

/// Rewrites `traces/` from the scripts. Ignored: run it on purpose.
#[test]
#[ignore = "rewrites the committed corpus"]
fn regenerate_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for script in scripts() {
        std::fs::write(dir.join(&script.file), script.record()).unwrap();
    }
}
