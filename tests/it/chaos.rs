//! `-x-chaos` through the binary: the same seed with the same client gives the
//! same bytes twice, two seeds give two different sessions, a chaos run
//! recorded with `-record` replays byte for byte, `kinds=` restricts what
//! happens, stderr names the seed (and the trace), and a bad option is refused.
//! The byte comparisons use `-x-clock manual`, where nothing waits for the
//! wall clock; the recorded run uses the default idle clock, whose held-back
//! pieces are released by idle time jumps.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use crate::sockets::{connected_unix, sock_path};
use crate::support::{assert_contains, assert_refused, assert_replays, qmpsim};

/// The client's commands, each sent once the previous one's reply came.
const SCRIPT: &[&str] = &[
    r#"{"execute":"qmp_capabilities"}"#,
    r#"{"execute":"query-status"}"#,
    r#"{"execute":"stop"}"#,
    r#"{"execute":"cont"}"#,
    r#"{"execute":"eject","arguments":{"device":"ide1-cd0"}}"#,
    r#"{"execute":"query-block"}"#,
    r#"{"execute":"system_reset"}"#,
    r#"{"execute":"query-name"}"#,
    r#"{"execute":"query-status"}"#,
    r#"{"execute":"quit"}"#,
];

/// Runs [`SCRIPT`] against `qmpsim -qmp ... ARGS` and returns every byte the
/// client received, in order, up to the end of the connection (a reply is a
/// line that is not an event; the script stops early when the connection
/// ends), and the VM's stderr lines.
fn session(args: &[&str]) -> (String, Vec<String>) {
    let (_dir, path) = sock_path();
    let (mut qemu, client) = connected_unix(&path, args);
    let stream: UnixStream = client.into_stream();
    let mut writer = stream.try_clone().expect("socket clones");
    let mut reader = BufReader::new(stream);
    let mut got = String::new();
    let mut line = String::new();
    let read = |reader: &mut BufReader<UnixStream>, line: &mut String| {
        line.clear();
        reader.read_line(line).unwrap_or(0)
    };
    read(&mut reader, &mut line);
    got.push_str(&line);
    'script: for request in SCRIPT {
        if writer.write_all(request.as_bytes()).is_err() {
            break;
        }
        loop {
            if read(&mut reader, &mut line) == 0 {
                break 'script;
            }
            got.push_str(&line);
            if !line.starts_with("{\"timestamp\"") {
                break;
            }
        }
    }
    while read(&mut reader, &mut line) > 0 {
        got.push_str(&line);
    }
    // The connection ended: after quit, or because chaos dropped it or the
    // guest powered off. SIGTERM ends a VM still running, as a user would;
    // it finishes its recording first.
    // SAFETY: signals a process this test started (and has not reaped).
    unsafe { libc::kill(qemu.pid(), libc::SIGTERM) };
    qemu.wait_exit();
    let mut stderr = Vec::new();
    while let Some(l) = qemu.stderr.next_or_end() {
        stderr.push(l.trim_end().to_owned());
    }
    (got, stderr)
}

const MANUAL: [&str; 2] = ["-x-clock", "manual"];

#[test]
fn chaos_same_seed_gives_the_same_bytes_twice() {
    let args = [&MANUAL[..], &["-x-chaos", "seed=42,rate=0.5"]].concat();
    let (first, _) = session(&args);
    let (second, _) = session(&args);
    assert_eq!(first, second);
}

#[test]
fn chaos_different_seeds_give_different_sessions() {
    let one = [&MANUAL[..], &["-x-chaos", "seed=1,rate=0.5"]].concat();
    let two = [&MANUAL[..], &["-x-chaos", "seed=2,rate=0.5"]].concat();
    assert_ne!(session(&one).0, session(&two).0);
}

#[test]
fn chaos_changes_the_session() {
    let chaos = [&MANUAL[..], &["-x-chaos", "seed=2,rate=0.5"]].concat();
    assert_ne!(session(&chaos).0, session(&MANUAL).0);
}

#[test]
fn chaos_kinds_split_only_changes_no_byte() {
    let split = [&MANUAL[..], &["-x-chaos", "seed=3,rate=1,kinds=split"]].concat();
    assert_eq!(session(&split).0, session(&MANUAL).0);
}

#[test]
fn chaos_kinds_events_only_adds_rtc_changes_before_replies() {
    let events = [&MANUAL[..], &["-x-chaos", "seed=4,rate=1,kinds=events"]].concat();
    let (got, _) = session(&events);
    let names: Vec<&str> = got
        .lines()
        .filter_map(|l| l.split("\"event\": \"").nth(1))
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    // One RTC_CHANGE per command, before its reply (after the command's own
    // STOP or RESUME); the RESET of system_reset and the SHUTDOWN of quit
    // follow their replies.
    let expected = [
        "RTC_CHANGE", // qmp_capabilities
        "RTC_CHANGE", // query-status
        "STOP",
        "RTC_CHANGE", // stop
        "RESUME",
        "RTC_CHANGE", // cont
        "RTC_CHANGE", // eject
        "RTC_CHANGE", // query-block
        "RTC_CHANGE", // system_reset
        "RESET",
        "RTC_CHANGE", // query-name
        "RTC_CHANGE", // query-status
        "RTC_CHANGE", // quit
        "SHUTDOWN",
    ];
    assert_eq!(names, expected, "{got}");
}

#[test]
fn chaos_stderr_names_the_seed_and_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("c.qmptrace");
    let trace_arg = trace.to_str().unwrap();
    let (_, stderr) = session(&["-x-chaos", "seed=77,rate=0", "-record", trace_arg]);
    assert_eq!(
        stderr,
        [
            "qmpsim: chaos seed 77".to_owned(),
            format!("qmpsim: chaos seed 77: trace {trace_arg}")
        ]
    );
}

#[test]
fn chaos_run_recorded_with_the_idle_clock_replays_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("chaos.qmptrace");
    let trace_arg = trace.to_str().unwrap();
    session(&["-x-chaos", "seed=9,rate=0.3", "-record", trace_arg]);
    assert_replays(&trace);
    let (_, dump, _) = qmpsim(&["trace", "dump", trace_arg]);
    assert_contains(
        &dump,
        "# -x-chaos seed=9,rate=0.3,kinds=events+guest+failures+split+delay+disconnect",
    );
}

#[test]
fn chaos_bad_rate_is_refused_with_exit_1() {
    assert_refused(&["-x-chaos", "seed=1,rate=2"], "qmpsim: -x-chaos seed=1,rate=2: rate takes a probability from 0 to 1 with at most 6 decimals, not '2'");
}

#[test]
fn chaos_without_seed_is_refused_with_exit_1() {
    assert_refused(
        &["-x-chaos", "rate=0.5"],
        "qmpsim: -x-chaos rate=0.5: seed=N is missing",
    );
}
