//! corpus_replay: every trace in `traces/` replays byte-exact through
//! `qmpsim::replay::corpus`, the same runner `qmpsim replay` uses.
//!
//! The corpus is recorded from the scripts below. After an intended change to
//! what the engine outputs, or to the layout of its state or config (which
//! changes digests and the header encoding), regenerate it and review the diff of
//! `qmpsim trace dump` before committing:
//!
//! ```text
//! cargo test --test it corpus_replay::regenerate_corpus -- --ignored
//! ```

// Integration tests are top-level functions by nature; the lint targets unit tests.
#![allow(clippy::tests_outside_test_module)]

use std::path::{Path, PathBuf};

use qmpsim::engine::{Input, Signal};
use qmpsim::machine::clock::VirtualTime;
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::replay::corpus;
use qmpsim::trace::{record_inputs, TraceHeader};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);

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

/// The corpus: file name, notes, config, inputs.
fn scripts() -> Vec<(&'static str, &'static str, MachineConfig, Vec<Input>)> {
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
fn corpus_replay_finds_every_script() {
    let report = corpus::run(&[corpus_dir()]).expect("traces/ exists");
    // The scripts here, plus traces/lifecycle.qmptrace from tests/it/lifecycle.rs.
    assert_eq!(report.outcomes.len(), scripts().len() + 1);
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
    let (_, notes, config, inputs) = scripts().remove(1);
    let header = TraceHeader::new(config).with_notes(notes);
    assert_eq!(
        record_inputs(&header, &inputs).unwrap(),
        record_inputs(&header, &inputs).unwrap()
    );
}

/// Rewrites `traces/` from the scripts. Ignored: run it on purpose.
#[test]
#[ignore = "rewrites the committed corpus"]
fn regenerate_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, notes, config, inputs) in scripts() {
        let header = TraceHeader::new(config).with_notes(notes);
        let bytes = record_inputs(&header, &inputs).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
