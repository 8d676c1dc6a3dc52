//! `qmpsim trace minimize` through the real binary: each condition cuts a
//! two-client session down to the messages that matter, prints the transcript,
//! and writes a trace that meets the condition.

use std::path::{Path, PathBuf};

use crate::support::{assert_contains, assert_replays, qmpsim};
use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::trace::{record_inputs, TraceHeader, TraceWriter};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);

/// `{"execute":"NAME"}` for each of `names`, one line each, in one read of
/// `client`.
fn executes(client: ClientId, names: &[&str]) -> Input {
    let data: String = names
        .iter()
        .map(|name| format!("{{\"execute\":\"{name}\"}}\n"))
        .collect();
    Input::bytes(client, data)
}

/// Two clients: the first negotiates, queries, stops and resumes; the second
/// negotiates, asks `query-kvm` with id 7, and leaves.
fn session() -> Vec<Input> {
    vec![
        Input::connect(ONE),
        executes(ONE, &["qmp_capabilities", "query-status"]),
        Input::connect(TWO),
        executes(TWO, &["qmp_capabilities"]),
        executes(ONE, &["stop", "query-name"]),
        Input::bytes(TWO, "{\"execute\":\"query-kvm\",\"id\":7}\n"),
        executes(ONE, &["cont", "query-version"]),
        Input::Disconnect { client: TWO },
    ]
}

/// [`session`] recorded on a default machine.
fn recorded_session() -> Vec<u8> {
    record_inputs(&TraceHeader::new(MachineConfig::default()), &session()).unwrap()
}

/// [`minimize`] in a fresh directory, for a run that fails: the exit status
/// and stderr.
fn minimize_failure(trace: &[u8], until: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr, _) = minimize(dir.path(), trace, until);
    (code, stderr)
}

/// Writes `trace` to `dir/in.qmptrace` and runs `qmpsim trace minimize` on it
/// `--until UNTIL -o dir/out.qmptrace`: the exit status, stdout, stderr, and
/// the output's path.
fn minimize(dir: &Path, trace: &[u8], until: &[&str]) -> (Option<i32>, String, String, PathBuf) {
    let input = dir.join("in.qmptrace");
    std::fs::write(&input, trace).unwrap();
    let out = dir.join("out.qmptrace");
    let (input_arg, out_arg) = (input.display().to_string(), out.display().to_string());
    let args = [
        &["trace", "minimize", &input_arg, "--until"],
        until,
        &["-o", &out_arg],
    ]
    .concat();
    let (code, stdout, stderr) = qmpsim(&args);
    (code, stdout, stderr, out)
}

#[test]
fn minimize_output_contains_keeps_what_produces_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let trace = recorded_session();
    let (code, stdout, stderr, out) = minimize(
        dir.path(),
        &trace,
        &["output-contains", "\"event\": \"STOP\""],
    );
    assert_eq!(code, Some(0), "{stderr}");
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
    let (_, dump, _) = qmpsim(&["trace", "dump", &out.display().to_string()]);
    assert_eq!(dump, stdout);
    assert!(
        stderr.starts_with("qmpsim trace minimize: kept 2 of 9 messages and 1 of 2 clients, ")
            && stderr.ends_with(&format!(
                " candidates tried; written to {}\n",
                out.display()
            )),
        "{stderr}"
    );
    assert_replays(&out);
}

#[test]
fn minimize_exec_runs_the_command_on_each_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let trace = recorded_session();
    let cmd = format!(
        "f() {{ '{}' trace dump \"$1\" | grep -q '\"id\": 7'; }}; f",
        env!("CARGO_BIN_EXE_qmpsim")
    );
    let (code, stdout, stderr, out) = minimize(dir.path(), &trace, &["exec", &cmd]);
    assert_eq!(code, Some(0), "{stderr}");
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
    let (code, stdout, stderr, out) = minimize(dir.path(), &trace, &["replay-diverges"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_contains(&stdout, "query-kvm");
    assert!(!stdout.contains("query-status"), "{stdout}");
    let (replayed, report, _) = qmpsim(&["replay", &out.display().to_string()]);
    assert_ne!(replayed, Some(0));
    assert_contains(&report, "query-kvm");
}

#[test]
fn minimize_condition_not_met_fails_with_a_message() {
    let (code, stderr) = minimize_failure(&recorded_session(), &["output-contains", "nowhere"]);
    assert!(
        code == Some(1) && stderr.ends_with("in.qmptrace: the trace does not meet the condition\n"),
        "{code:?} {stderr}"
    );
}

#[test]
fn minimize_unknown_condition_is_a_usage_error() {
    let (code, stderr) = minimize_failure(b"", &["sometimes"]);
    assert!(
        code == Some(2)
            && stderr.starts_with("qmpsim trace minimize: unknown condition 'sometimes'"),
        "{code:?} {stderr}"
    );
}

#[test]
fn minimize_damaged_trace_is_an_error() {
    let (code, stderr) = minimize_failure(b"not a trace", &["replay-diverges"]);
    assert!(
        code == Some(1) && stderr.contains("Invalid trace"),
        "{code:?} {stderr}"
    );
}

#[test]
fn minimize_help_and_missing_output() {
    let (code, help, _) = qmpsim(&["trace", "minimize", "--help"]);
    assert_eq!(code, Some(0));
    assert_contains(&help, "--until <CONDITION> [ARG]");
    let (missing, _, _) = qmpsim(&[
        "trace",
        "minimize",
        "a.qmptrace",
        "--until",
        "replay-diverges",
    ]);
    assert_eq!(missing, Some(2));
}
