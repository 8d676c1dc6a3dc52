//! Record then replay, end to end: every integration scenario runs against the real
//! binary over a real socket with `-record`; the client's transcript must equal the
//! in-process engine's bytes, `qmpsim replay` must pass the trace, and a damaged
//! trace must fail with a precise error.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::qmp::session::ClientId;

use crate::scenarios::{Scenario, SCENARIOS};
use crate::sockets::{connect_unix, spawn_recorder};

/// Whether a line is an event rather than a response.
fn is_event(line: &str) -> bool {
    line.starts_with("{\"timestamp\"")
}

/// What the engine alone sends for a scenario: greeting, then per line its output.
fn engine_bytes(s: &Scenario) -> String {
    let mut e = Engine::new((s.config)());
    let client = ClientId(1);
    let mut out = e.step(Input::connect(client));
    for line in s.lines {
        out.extend(e.step(Input::Bytes {
            client,
            data: format!("{line}\n").into_bytes(),
        }));
    }
    out.iter()
        .filter_map(|o| match o {
            Output::Send { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
            _ => None,
        })
        .collect()
}

/// Runs a scenario over a unix socket with `-record`; returns the bytes received
/// and the trace path.
fn socket_run(s: &Scenario, dir: &Path, extra: &[&str]) -> (String, PathBuf) {
    let sock = dir.join(format!("{}.sock", s.name));
    let trace = dir.join(format!("{}.qmptrace", s.name));
    let mut qemu = spawn_recorder(&sock, &trace, extra);
    let client = connect_unix(&sock);
    let mut reader = BufReader::new(client.stream().try_clone().expect("socket clones"));
    let mut writer: UnixStream = client.stream().try_clone().expect("socket clones");
    let mut got = String::new();
    let mut line = String::new();
    reader.read_line(&mut line).expect("greeting arrives");
    got.push_str(&line);
    for request in s.lines {
        writer
            .write_all(format!("{request}\n").as_bytes())
            .expect("request is sent");
        loop {
            line.clear();
            if reader.read_line(&mut line).expect("reply arrives") == 0 {
                break;
            }
            got.push_str(&line);
            if !is_event(&line) {
                break;
            }
        }
    }
    if s.lines.last().is_some_and(|l| l.contains("\"quit\"")) {
        line.clear();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            got.push_str(&line);
            line.clear();
        }
    } else {
        writer
            .write_all(b"{\"execute\":\"quit\"}\n")
            .expect("quit is sent");
    }
    assert_eq!(qemu.wait_exit().code(), Some(0), "scenario {}", s.name);
    (got, trace)
}

fn replay(paths: &[&Path]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .arg("replay")
        .args(paths)
        .output()
        .expect("the built binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The response bytes of `got` that the engine produced (the quit added at the end
/// of scenarios without one is excluded by taking the engine's length).
fn prefix(got: &str, len: usize) -> &str {
    &got[..len.min(got.len())]
}

#[test]
fn record_replay_every_scenario_over_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let mut traces = Vec::new();
    for s in SCENARIOS {
        let expected = engine_bytes(s);
        let (got, trace) = socket_run(s, dir.path(), s.args);
        assert_eq!(
            prefix(&got, expected.len()),
            expected,
            "scenario {}",
            s.name
        );
        traces.push(trace);
    }
    let paths: Vec<&Path> = traces.iter().map(PathBuf::as_path).collect();
    let (code, text) = replay(&paths);
    let summary = format!("{} passed, 0 failed", SCENARIOS.len());
    assert_eq!(
        (code, text.lines().any(|l| l == summary)),
        (Some(0), true),
        "{text}"
    );
}

#[test]
fn record_replay_same_script_twice_gives_same_bytes() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let s = &SCENARIOS[1];
    let (a, _) = socket_run(s, dir_a.path(), s.args);
    let (b, _) = socket_run(s, dir_b.path(), s.args);
    assert_eq!(a, b);
}

#[test]
fn record_replay_damaged_trace_fails_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let (_, trace) = socket_run(&SCENARIOS[1], dir.path(), &[]);
    let mut bytes = std::fs::read(&trace).unwrap();
    // A byte of a message's text past the middle, so the flip lands in a
    // frame's body (a flipped length field would read as a truncation).
    let at = bytes.len() / 2
        + bytes[bytes.len() / 2..]
            .iter()
            .position(|&b| b == b'"')
            .expect("a message past the middle");
    bytes[at] ^= 0x20;
    std::fs::write(&trace, &bytes).unwrap();
    let (code, text) = replay(&[&trace]);
    assert_eq!((code, text.contains("FAIL")), (Some(1), true), "{text}");
    assert!(text.lines().any(|l| l == "0 passed, 1 failed"), "{text}");
}

#[test]
fn record_replay_truncated_trace_fails_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let (_, trace) = socket_run(&SCENARIOS[0], dir.path(), &[]);
    let bytes = std::fs::read(&trace).unwrap();
    std::fs::write(&trace, &bytes[..bytes.len() - 5]).unwrap();
    let (code, text) = replay(&[&trace]);
    // Cut inside the End frame: every step verified, exit status 3 (truncated).
    assert_eq!(
        (code, text.contains("truncated after frame")),
        (Some(3), true),
        "{text}"
    );
}

#[test]
fn record_trace_dump_shows_session_in_doc_notation() {
    let dir = tempfile::tempdir().unwrap();
    let (_, trace) = socket_run(&SCENARIOS[1], dir.path(), &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "dump"])
        .arg(&trace)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains(" -> {\"execute\":\"stop\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" <- {\"return\": {}, \"id\": \"s1\"}")),
        "{text}"
    );
}
