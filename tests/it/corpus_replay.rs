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
use qmpsim::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList};
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::replay::corpus;
use qmpsim::trace::import::{self, EventSource, ImportOptions};
use qmpsim::trace::{record_inputs, TraceHeader};

use crate::scenarios::{Scenario, SCENARIOS};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);
/// Extension of every trace file in the corpus.
const TRACE_EXTENSION: &str = "qmptrace";
/// Traces in `traces/` that other modules record and check against a fresh
/// recording themselves (`lifecycle.rs`); they are replayed here like the rest.
const RECORDED_ELSEWHERE: &[&str] = &["lifecycle.qmptrace"];

/// How a trace of the corpus is made.
#[derive(Debug, Clone)]
enum Recipe {
    /// Every input, in order, recorded with qmpsim's outputs.
    Inputs(Vec<Input>),
    /// A transcript imported as `qmpsim trace import` does: its `<-` lines are
    /// the expected outputs.
    Transcript {
        /// The transcript.
        text: String,
        /// How it is imported.
        options: ImportOptions,
    },
}

/// One trace of the corpus and the recipe it is recorded from.
#[derive(Debug, Clone)]
struct Script {
    /// File name under `traces/`.
    file: String,
    /// The header's notes (a transcript's own `# notes:` when empty).
    notes: String,
    /// The machine.
    config: MachineConfig,
    /// How it is made.
    recipe: Recipe,
}

impl Script {
    fn header(&self) -> TraceHeader {
        TraceHeader::new(self.config.clone()).with_notes(&self.notes)
    }

    fn record(&self) -> Vec<u8> {
        match &self.recipe {
            Recipe::Inputs(inputs) => record_inputs(&self.header(), inputs)
                .unwrap_or_else(|e| panic!("recording {} failed: {e}", self.file)),
            Recipe::Transcript { text, options } => {
                let transcript =
                    import::parse_transcript(text).unwrap_or_else(|e| panic!("{}: {e}", self.file));
                let (trace, report) = import::import(self.config.clone(), &transcript, options)
                    .unwrap_or_else(|e| panic!("importing {} failed: {e}", self.file));
                assert_eq!(
                    report.differing, 0,
                    "{}: the transcript differs from what qmpsim sends:\n{text}",
                    self.file
                );
                trace
            }
        }
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}

fn connect(client: ClientId) -> Input {
    Input::connect(client)
}

fn send(client: ClientId, line: &str) -> Input {
    Input::bytes(client, line)
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
        recipe: Recipe::Inputs(scenario_inputs(s)),
    }
}

/// One trace per example of the seed's `qmp-commands.hx`, imported from its
/// transcript (see `seed_examples::corpus_transcripts`).
fn seed_script(seed: crate::seed_examples::SeedTranscript) -> Script {
    Script {
        file: seed.file,
        notes: String::new(),
        config: seed.config,
        recipe: Recipe::Transcript {
            text: seed.text,
            options: ImportOptions {
                events: EventSource::Qmpsim,
                negotiate: seed.negotiate,
                ..ImportOptions::default()
            },
        },
    }
}

/// The corpus recorded in process: the hand-written scripts, one per integration
/// scenario, and one per example of the seed. (`traces/src/*.qmp` are imported
/// through the binary, see [`source_files`].)
fn scripts() -> Vec<Script> {
    let mut all: Vec<Script> = hand_written()
        .into_iter()
        .map(|(file, notes, config, inputs)| Script {
            file: file.to_owned(),
            notes: notes.to_owned(),
            config,
            recipe: Recipe::Inputs(inputs),
        })
        .collect();
    all.extend(SCENARIOS.iter().map(scenario_script));
    all.extend(
        crate::seed_examples::corpus_transcripts()
            .into_iter()
            .map(seed_script),
    );
    all
}

/// A machine with an encrypted qcow2 disk whose password is `right`
/// (`-drive file=secret.qcow2,x-password=right` on an encrypted image).
fn encrypted_disk() -> MachineConfig {
    let opts = [
        ("file", "secret.qcow2"),
        ("index", "0"),
        ("media", "disk"),
        ("if", "ide"),
        ("x-password", "right"),
    ];
    MachineConfig {
        drives: vec![DriveConfig {
            opts: OptionList::from_iter(opts),
            probe: Some(ImageProbe::Found(ImageInfo {
                format: "qcow2".to_owned(),
                size_bytes: 1 << 30,
                backing_file: None,
                encrypted: true,
            })),
        }],
        start_paused: true,
        ..MachineConfig::default()
    }
}

/// The hand-written scripts: file name, notes, config, inputs.
fn hand_written() -> Vec<(&'static str, &'static str, MachineConfig, Vec<Input>)> {
    vec![
        (
            "errors-encrypted-disk.qmptrace",
            "An encrypted disk: cont before its key (DeviceEncrypted), a wrong password \
             (InvalidPassword), the right one, then cont.",
            encrypted_disk(),
            vec![
                connect(ONE),
                send(ONE, "{\"execute\":\"qmp_capabilities\"}\n"),
                send(ONE, "{\"execute\":\"cont\"}\n"),
                send(
                    ONE,
                    "{\"execute\":\"block_passwd\",\"arguments\":{\"device\":\"ide0-hd0\",\"password\":\"wrong\"}}\n",
                ),
                send(
                    ONE,
                    "{\"execute\":\"block_passwd\",\"arguments\":{\"device\":\"ide0-hd0\",\"password\":\"right\"}}\n",
                ),
                send(ONE, "{\"execute\":\"cont\"}\n"),
            ],
        ),
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
    expected.extend(source_files().iter().map(|(_, trace)| trace.clone()));
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

/// The transcripts of `traces/src/`, each with the trace file it becomes.
fn source_files() -> Vec<(PathBuf, String)> {
    let mut sources: Vec<(PathBuf, String)> = std::fs::read_dir(corpus_dir().join("src"))
        .expect("traces/src exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "qmp"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (p, format!("{stem}.{TRACE_EXTENSION}"))
        })
        .collect();
    sources.sort();
    sources
}

/// The arguments of a source's `# import:` line, as `ci/record-corpus` passes them.
fn import_args(source: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(source).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# import: "))
        .unwrap_or_else(|| panic!("{} has no # import: line", source.display()))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `qmpsim trace import SOURCE -o OUT ARGS...` through the binary.
fn import_with_binary(source: &Path, out: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "import"])
        .arg(source)
        .arg("-o")
        .arg(out)
        .args(import_args(source))
        .output()
        .expect("the built binary runs")
}

#[test]
fn corpus_sources_import_to_the_committed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let stale: Vec<String> = source_files()
        .iter()
        .filter_map(|(source, trace)| {
            let out = dir.path().join(trace);
            let run = import_with_binary(source, &out);
            let fresh = std::fs::read(&out).unwrap_or_default();
            match std::fs::read(corpus_dir().join(trace)) {
                Ok(committed) if run.status.success() && committed == fresh => None,
                Ok(_) => Some(format!(
                    "{trace} differs from a fresh import of {} ({})",
                    source.display(),
                    String::from_utf8_lossy(&run.stderr).trim()
                )),
                Err(e) => Some(format!("{trace} cannot be read: {e}")),
            }
        })
        .collect();
    assert!(
        stale.is_empty(),
        "re-recording the corpus changes bytes:\n  {}\nIf the change is intended, run \
         ci/record-corpus and review the dumps.",
        stale.join("\n  ")
    );
}

#[test]
fn corpus_replays_through_the_binary_twice_with_the_same_bytes() {
    // Every trace twice, on different workers, in an order shuffled with a fixed
    // seed (so a failure reproduces with the same command).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["replay", "--check-determinism", "--shuffle-seed", "8"])
        .arg(corpus_dir())
        .output()
        .expect("the built binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text
                .lines()
                .last()
                .is_some_and(|l| l.ends_with(" passed, 0 failed")),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Error classes no trace can hold: qmpsim never sends them (see
/// docs/trace-format.md, "The corpus").
const ERRORS_THAT_CANNOT_OCCUR: &str = "DeviceInUse, KVMMissingCap, UnknownBlockFormatFeature";

#[test]
fn corpus_covers_every_command_event_and_possible_error_class() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "coverage"])
        .arg(corpus_dir())
        .output()
        .expect("the built binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = [
        "commands: 46 of 46 requested".to_owned(),
        "  never requested: none".to_owned(),
        "  never answered with success: none".to_owned(),
        "events: 14 of 14 sent".to_owned(),
        "error classes: 38 of 41 sent".to_owned(),
        format!("  never sent: {ERRORS_THAT_CANNOT_OCCUR}"),
    ];
    let missing: Vec<&String> = expected
        .iter()
        .filter(|line| !text.lines().any(|l| l == line.as_str()))
        .collect();
    assert!(
        out.status.success() && missing.is_empty(),
        "missing {missing:?} in\n{text}"
    );
}

/// Rewrites `traces/` from the scripts. Ignored: run it on purpose
/// (`ci/record-corpus` runs it, then imports `traces/src/`).
#[test]
#[ignore = "rewrites the committed corpus"]
fn regenerate_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for script in scripts() {
        std::fs::write(dir.join(&script.file), script.record()).unwrap();
    }
}
