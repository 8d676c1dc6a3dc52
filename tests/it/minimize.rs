//! `qmpsim trace minimize` through the real binary: each condition cuts a
//! two-client session down to the messages that matter, prints the transcript,
//! and writes a trace that meets the condition.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::assert_contains;
use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::trace::{record_inputs, TraceHeader, TraceWriter};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);

fn session() -> Vec<Input> {
    vec![
        Input::connect(ONE),
        Input::bytes(
            ONE,
            "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\"}\n",
        ),
        Input::connect(TWO),
        Input::bytes(TWO, "{\"execute\":\"qmp_capabilities\"}\n"),
        Input::bytes(
            ONE,
            "{\"execute\":\"stop\"}\n{\"execute\":\"query-name\"}\n",
        ),
        Input::bytes(TWO, "{\"execute\":\"query-kvm\",\"id\":7}\n"),
        Input::bytes(
            ONE,
            "{\"execute\":\"cont\"}\n{\"execute\":\"query-version\"}\n",
        ),
        Input::Disconnect { client: TWO },
    ]
}

fn minimize(dir: &Path, trace: &[u8], until: &[&str]) -> (Output, std::path::PathBuf) {
    let input = dir.join("in.qmptrace");
    std::fs::write(&input, trace).unwrap();
    let out = dir.join("out.qmptrace");
    let output = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "minimize"])
        .arg(&input)
        .arg("--until")
        .args(until)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    (output, out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn minimize_output_contains_keeps_what_produces_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record_inputs(&TraceHeader::new(MachineConfig::default()), &session()).unwrap();
    let (o, out) = minimize(
        dir.path(),
        &trace,
        &["output-contains", "\"event\": \"STOP\""],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_time, rest)| rest))
        .filter(|l| l.starts_with("->") || l.starts_with("<-"))
        .collect();
    assert_eq!(
        lines,
        [
            "<- {\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 14, \"major\": 0}, \"package\": \"\"}, \"capabilities\": []}}",
            "-> {\"execute\":\"qmp_capabilities\"}",
            "<- {\"return\": {}}",
            "-> {\"execute\":\"stop\"}",
            "<- {\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 3000}, \"event\": \"STOP\"}",
            "<- {\"return\": {}}",
        ]
    );
    // The transcript is the written trace's dump.
    let dump = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "dump"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(text(&dump.stdout), stdout);
    let stderr = text(&o.stderr);
    assert!(
        stderr.starts_with("qmpsim trace minimize: kept 2 of 9 messages and 1 of 2 clients, ")
            && stderr.ends_with(&format!(
                " candidates tried; written to {}\n",
                out.display()
            )),
        "{stderr}"
    );
    let replayed = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["replay"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(replayed.status.success(), "{}", text(&replayed.stdout));
}

#[test]
fn minimize_exec_runs_the_command_on_each_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record_inputs(&TraceHeader::new(MachineConfig::default()), &session()).unwrap();
    let cmd = format!(
        "f() {{ '{}' trace dump \"$1\" | grep -q '\"id\": 7'; }}; f",
        env!("CARGO_BIN_EXE_qmpsim")
    );
    let (o, out) = minimize(dir.path(), &trace, &["exec", &cmd]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let requests: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_time, rest)| rest))
        .filter(|l| l.starts_with("-> "))
        .collect();
    // query-kvm answers before negotiation too (with an error carrying the id).
    assert_eq!(
        requests,
        ["-> {\"execute\":\"query-kvm\",\"id\":7}"],
        "{stdout}"
    );
    assert!(out.exists());
    assert!(!dir.path().join("out.qmptrace.candidate.qmptrace").exists());
}

#[test]
fn minimize_replay_diverges_keeps_the_diverging_step() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = session();
    let mut engine = Engine::new(MachineConfig::default());
    let mut writer =
        TraceWriter::new(Vec::new(), &TraceHeader::new(MachineConfig::default())).unwrap();
    for input in &inputs {
        let mut outputs = engine.step(input.clone());
        if matches!(input, Input::Bytes { client, data } if *client == TWO && data.starts_with(b"{\"execute\":\"query-kvm\""))
        {
            outputs.clear();
        }
        writer.record(input, &outputs).unwrap();
    }
    let trace = writer
        .finish(inputs.len() as u64, &engine.digest())
        .unwrap();
    let (o, out) = minimize(dir.path(), &trace, &["replay-diverges"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert_contains(&stdout, "query-kvm");
    assert!(!stdout.contains("query-status"), "{stdout}");
    let replayed = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["replay"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!replayed.status.success());
    assert!(
        text(&replayed.stdout).contains("query-kvm"),
        "{}",
        text(&replayed.stdout)
    );
}

#[test]
fn minimize_condition_not_met_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let trace = record_inputs(&TraceHeader::new(MachineConfig::default()), &session()).unwrap();
    let (o, _) = minimize(dir.path(), &trace, &["output-contains", "nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).ends_with("in.qmptrace: the trace does not meet the condition\n"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn minimize_unknown_condition_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = minimize(dir.path(), b"", &["sometimes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).starts_with("qmpsim trace minimize: unknown condition 'sometimes'"));
}

#[test]
fn minimize_damaged_trace_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = minimize(dir.path(), b"not a trace", &["replay-diverges"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("Invalid trace"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn minimize_help_and_missing_output() {
    let help = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "minimize", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(
        text(&help.stdout).contains("--until <CONDITION> [ARG]"),
        "{}",
        text(&help.stdout)
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args([
            "trace",
            "minimize",
            "a.qmptrace",
            "--until",
            "replay-diverges",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
