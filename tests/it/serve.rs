//! serve: `qmpsim serve` with real processes and sockets. A session recorded
//! through the proxy (or by `-record`, or imported from a libvirt `.replies`
//! file) is played back to the same client script byte for byte; a changed
//! script gets the divergence report; the match options, `--strict`, the
//! unused rest, several sessions, record modes, `--help` and usage errors.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::proxy::{terminate, Rig};
use crate::sockets::{connect_unix, spawn_recorder, Client, Qemu, GREETING};
use crate::support::{assert_contains, assert_refused, assert_usage_error, qmpsim};

/// The session most tests record: negotiation, two queries, and `stop`, whose
/// STOP event comes between the command and its reply.
const SCRIPT: &[&str] = &[
    r#"{"execute":"qmp_capabilities","id":1}"#,
    r#"{"execute":"query-status","id":2}"#,
    r#"{"execute":"cont","id":3}"#,
    r#"{"execute":"query-block","id":4}"#,
    r#"{"execute":"stop","id":5}"#,
];

/// Sends each request in turn and reads up to its response; returns every
/// byte read, the greeting first.
fn run_script<S: Read + Write>(client: &mut Client<S>, requests: &[&str]) -> String {
    let mut seen = client.line();
    for request in requests {
        client.send(&format!("{request}\r\n"));
        loop {
            let line = client.line();
            seen.push_str(&line);
            if line.is_empty() || line.contains("\"return\"") || line.contains("\"error\"") {
                break;
            }
        }
    }
    seen
}

/// Records `sessions` (one script per client, in turn) through the proxy in
/// front of a paused qmpsim; returns the rig (its trace is complete) and what
/// each client read.
fn record(sessions: &[&[&str]]) -> (Rig, Vec<String>) {
    let mut rig = Rig::start();
    let seen = sessions
        .iter()
        .map(|requests| {
            let mut c = connect_unix(&rig.sock());
            run_script(&mut c, requests)
        })
        .collect();
    rig.stop();
    (rig, seen)
}

/// `qmpsim serve TRACE --listen unix:DIR/m.sock ARGS...`.
fn spawn_serve(trace: &Path, dir: &Path, args: &[&str]) -> Qemu {
    let listen = format!("unix:{}", dir.join("m.sock").display());
    let trace = trace.display().to_string();
    let mut all = vec!["serve", trace.as_str(), "--listen", listen.as_str()];
    all.extend_from_slice(args);
    Qemu::spawn(&all, false)
}

/// Plays `requests` against `serve ARGS` of `trace`; returns what the client
/// read, the exit status and serve's stderr.
fn play(trace: &Path, args: &[&str], requests: &[&str]) -> (String, Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = spawn_serve(trace, dir.path(), args);
    let mut c = connect_unix(&dir.path().join("m.sock"));
    let seen = run_script(&mut c, requests);
    drop(c);
    let status = serve.wait_exit();
    (seen, status.code(), stderr_of(&serve))
}

fn stderr_of(q: &Qemu) -> String {
    let mut text = String::new();
    while let Some(line) = q.stderr.next_or_end() {
        text.push_str(&line);
    }
    text
}

fn changed_script() -> Vec<&'static str> {
    let mut changed = SCRIPT.to_vec();
    changed[3] = r#"{"execute":"query-block","id":4,"arguments":{"device":"ide0-hd0"}}"#;
    changed
}

#[test]
fn serve_plays_a_proxied_session_back_byte_for_byte() {
    let (rig, seen) = record(&[SCRIPT]);
    let (played, code, _) = play(&rig.trace(), &["--pace", "instant"], SCRIPT);
    assert_eq!((played, code), (seen[0].clone(), Some(0)));
}

#[test]
fn serve_keeps_an_event_between_a_command_and_its_reply() {
    let (rig, _) = record(&[SCRIPT]);
    let (played, _, _) = play(&rig.trace(), &[], SCRIPT);
    let stop_part = &played[played.find("\"STOP\"").expect("the STOP event")..];
    assert!(
        stop_part.contains("{\"return\": {}, \"id\": 5}"),
        "{played}"
    );
}

#[test]
fn serve_answers_a_changed_request_with_an_error_naming_both() {
    let (rig, _) = record(&[SCRIPT]);
    let (played, code, _) = play(&rig.trace(), &[], &changed_script());
    let error = played.lines().find(|l| l.contains("\"error\"")).unwrap();
    assert_eq!(code, Some(1));
    assert_contains(
        error,
        r#"expected {\"execute\":\"query-block\",\"id\":4}, got {\"execute\":\"query-block\",\"id\":4,\"arguments\":{\"device\":\"ide0-hd0\"}}"#,
    );
}

#[test]
fn serve_logs_a_divergence_report_with_the_frame_and_a_json_diff() {
    let (rig, _) = record(&[SCRIPT]);
    let (_, _, stderr) = play(&rig.trace(), &[], &changed_script());
    let report = &stderr[stderr.find("divergence").expect("a report")..];
    assert!(
        report.starts_with("divergence in session 1 at request 4 (trace frame "),
        "{stderr}"
    );
    assert!(
        report.contains("+  \"arguments\": {\n") || report.contains("+  \"arguments\": {"),
        "{stderr}"
    );
}

#[test]
fn serve_strict_closes_the_connection_at_the_first_mismatch() {
    let (rig, _) = record(&[SCRIPT]);
    let dir = tempfile::tempdir().unwrap();
    let mut serve = spawn_serve(&rig.trace(), dir.path(), &["--strict"]);
    let mut c = connect_unix(&dir.path().join("m.sock"));
    let played = run_script(&mut c, &changed_script()[..4]);
    // After the error, the end of the stream.
    assert_eq!(
        (
            played.lines().last().unwrap().contains("\"error\""),
            c.line()
        ),
        (true, String::new())
    );
    assert_eq!(serve.wait_exit().code(), Some(1));
}

#[test]
fn serve_reports_the_unused_rest_of_a_shorter_session() {
    let (rig, _) = record(&[SCRIPT]);
    let (_, code, stderr) = play(&rig.trace(), &[], &SCRIPT[..3]);
    assert_eq!(code, Some(3));
    assert_contains(
        &stderr,
        "session 1 ended after 3 of 5 recorded requests; unused:\n  frame ",
    );
}

#[test]
fn serve_match_command_accepts_a_changed_argument() {
    let (rig, _) = record(&[SCRIPT]);
    let (_, code, _) = play(&rig.trace(), &["--match", "command"], &changed_script());
    assert_eq!(code, Some(0));
}

#[test]
fn serve_ignore_id_echoes_the_clients_ids() {
    let (rig, _) = record(&[SCRIPT]);
    let renumbered: Vec<String> = SCRIPT
        .iter()
        .zip(1..)
        .map(|(r, n)| r.replace(&format!("\"id\":{n}"), "\"id\":\"c\""))
        .collect();
    let requests: Vec<&str> = renumbered.iter().map(String::as_str).collect();
    let (played, code, _) = play(&rig.trace(), &["--ignore-id"], &requests);
    assert_eq!(code, Some(0));
    assert_contains(&played, "{\"return\": {}, \"id\": \"c\"}");
}

#[test]
fn serve_without_ignore_id_refuses_other_ids() {
    let (rig, _) = record(&[SCRIPT]);
    let requests = [r#"{"execute":"qmp_capabilities","id":"other"}"#];
    let (played, code, _) = play(&rig.trace(), &["--strict"], &requests);
    assert_eq!(code, Some(1));
    assert_contains(&played, "does not match the recording");
}

#[test]
fn serve_plays_each_session_to_the_client_in_its_turn() {
    let second: &[&str] = &[SCRIPT[0], r#"{"execute":"query-name","id":9}"#];
    let (rig, seen) = record(&[SCRIPT, second]);
    let dir = tempfile::tempdir().unwrap();
    let mut serve = spawn_serve(&rig.trace(), dir.path(), &[]);
    let mut one = connect_unix(&dir.path().join("m.sock"));
    let mut two = connect_unix(&dir.path().join("m.sock"));
    let played_two = run_script(&mut two, second);
    let played_one = run_script(&mut one, SCRIPT);
    drop((one, two));
    assert_eq!(
        (played_one, played_two, serve.wait_exit().code()),
        (seen[0].clone(), seen[1].clone(), Some(0))
    );
}

#[test]
fn serve_plays_an_engine_recorded_trace() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("q.sock");
    let trace = dir.path().join("e.qmptrace");
    let mut vm = spawn_recorder(&sock, &trace, &["-S"]);
    let mut c = connect_unix(&sock);
    let seen = run_script(&mut c, SCRIPT);
    drop(c);
    terminate(&vm);
    vm.wait_exit();
    let (played, code, _) = play(&trace, &["--pace", "instant"], SCRIPT);
    assert_eq!((played, code), (seen, Some(0)));
}

/// The libvirt capabilities probe of QEMU 10.0.0 (its first three
/// exchanges), imported by `trace import --format replies`.
fn imported_replies(dir: &Path) -> PathBuf {
    let trace = dir.join("caps.qmptrace");
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/caps_10.0.0_x86_64.head.replies"
    );
    let (code, _, err) = qmpsim(&[
        "trace",
        "import",
        "--format",
        "replies",
        source,
        "-o",
        &trace.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    trace
}

#[test]
fn serve_plays_an_imported_libvirt_replies_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace = imported_replies(dir.path());
    let requests = [
        r#"{"execute": "qmp_capabilities", "id": "libvirt-1"}"#,
        r#"{"execute": "query-version", "id": "libvirt-2"}"#,
        r#"{"execute": "query-target", "id": "libvirt-3"}"#,
    ];
    let (played, code, _) = play(&trace, &[], &requests);
    assert_eq!(code, Some(0));
    assert_contains(&played, "\"package\": \"v10.0.0\"");
    assert_contains(&played, "\"arch\": \"x86_64\"");
}

#[test]
fn serve_new_episodes_asks_the_upstream_and_adds_them_to_the_trace() {
    let (rig, _) = record(&[&SCRIPT[..2]]);
    let longer: Vec<&str> = vec![SCRIPT[0], SCRIPT[1], r#"{"execute":"query-name","id":7}"#];
    let up = format!("unix:{}", rig.dir.path().join("up.sock").display());
    let (first, code, _) = play(
        &rig.trace(),
        &["--record-mode", "new-episodes", "--upstream", &up],
        &longer,
    );
    assert_eq!(code, Some(0));
    let (again, code, _) = play(&rig.trace(), &["--record-mode", "none"], &longer);
    assert_eq!((again, code), (first, Some(0)));
}

#[test]
fn serve_once_without_a_trace_records_it_from_the_upstream() {
    let rig = Rig::start();
    let trace = rig.dir.path().join("new.qmptrace");
    let up = format!("unix:{}", rig.dir.path().join("up.sock").display());
    let dir = tempfile::tempdir().unwrap();
    let mut serve = spawn_serve(&trace, dir.path(), &["--upstream", &up]);
    let mut c = connect_unix(&dir.path().join("m.sock"));
    let seen = run_script(&mut c, &SCRIPT[..2]);
    drop(c);
    terminate(&serve);
    serve.wait_exit();
    let (played, code, _) = play(&trace, &[], &SCRIPT[..2]);
    assert_eq!((played, code), (seen, Some(0)));
}

#[test]
fn serve_greets_with_the_recorded_greeting() {
    let (rig, _) = record(&[SCRIPT]);
    let (played, _, _) = play(&rig.trace(), &[], &SCRIPT[..1]);
    assert!(played.starts_with(GREETING));
}

#[test]
fn serve_help_exits_zero_and_names_every_option() {
    let (code, out, _) = qmpsim(&["serve", "--help"]);
    assert_eq!(code, Some(0));
    let options = [
        "--match",
        "--ignore-id",
        "--pace",
        "--strict",
        "--record-mode",
        "--upstream",
    ];
    assert_eq!(
        options.iter().filter(|o| out.contains(*o)).count(),
        options.len(),
        "{out}"
    );
}

#[test]
fn serve_without_listen_is_a_usage_error() {
    assert_usage_error(&["serve", "t.qmptrace"], "--listen <ADDR>");
}

#[test]
fn serve_with_an_unknown_match_is_a_usage_error() {
    let (code, _, _) = qmpsim(&[
        "serve",
        "t.qmptrace",
        "--listen",
        "unix:/tmp/x",
        "--match",
        "bytes",
    ]);
    assert_eq!(code, Some(2));
}

#[test]
fn serve_new_episodes_without_upstream_is_refused() {
    assert_refused(&[
        "serve",
        "t.qmptrace",
        "--listen",
        "unix:/tmp/x",
        "--record-mode",
        "new-episodes",
    ], "qmpsim serve: --record-mode new-episodes needs --upstream (the server that answers new requests)");
}

#[test]
fn serve_of_a_missing_trace_reports_the_os_error() {
    assert_refused(
        &[
            "serve",
            "/nonexistent/t.qmptrace",
            "--listen",
            "unix:/tmp/x",
        ],
        "qmpsim serve: /nonexistent/t.qmptrace: No such file or directory",
    );
}

/// Sends every request of `requests` in one write and reads until as many
/// responses came; returns every byte read, the greeting first.
fn run_pipelined(client: &mut Client<UnixStream>, requests: &[&str]) -> String {
    let mut seen = client.line();
    client.send(
        &requests
            .iter()
            .map(|r| format!("{r}\r\n"))
            .collect::<String>(),
    );
    let mut responses = 0;
    while responses < requests.len() {
        let line = client.line();
        assert!(!line.is_empty(), "the stream ended after {seen}");
        responses += usize::from(line.contains("\"return\"") || line.contains("\"error\""));
        seen.push_str(&line);
    }
    seen
}

#[test]
fn serve_plays_a_pipelined_recording_to_a_client_that_waits_for_each_reply() {
    let mut rig = Rig::start();
    let mut c = connect_unix(&rig.sock());
    let pipelined = run_pipelined(&mut c, SCRIPT);
    drop(c);
    rig.stop();
    let (played, code, _) = play(&rig.trace(), &[], SCRIPT);
    assert_eq!((played, code), (pipelined, Some(0)));
}

#[test]
fn proxy_and_serve_over_tcp_give_the_same_bytes() {
    let rig = Rig::start();
    let (proxy_port, port) = (crate::sockets::free_port(), crate::sockets::free_port());
    let trace = rig.dir.path().join("tcp.qmptrace");
    let up = format!("unix:{}", rig.dir.path().join("up.sock").display());
    let mut proxy = Qemu::spawn(
        &[
            "proxy",
            "--listen",
            &format!("tcp:127.0.0.1:{proxy_port}"),
            "--upstream",
            &up,
            "-record",
            &trace.display().to_string(),
        ],
        false,
    );
    let mut c = crate::sockets::connect_tcp(proxy_port);
    let seen = run_script(&mut c, SCRIPT);
    drop(c);
    terminate(&proxy);
    proxy.wait_exit();
    let listen = format!("tcp:127.0.0.1:{port}");
    let trace = trace.display().to_string();
    let mut serve = Qemu::spawn(&["serve", &trace, "--listen", &listen], false);
    let mut c = crate::sockets::connect_tcp(port);
    let played = run_script(&mut c, SCRIPT);
    drop(c);
    assert_eq!((played, serve.wait_exit().code()), (seen, Some(0)));
}

#[test]
fn serve_plays_an_imported_transcript_with_its_own_replies() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("doc.txt");
    // A reply qmpsim itself would never give: serve plays the transcript's.
    std::fs::write(
        &transcript,
        "-> {\"execute\": \"qmp_capabilities\"}\n<- {\"return\": {}}\n\
         -> {\"execute\": \"query-name\"}\n<- {\"return\": {\"name\": \"from-a-transcript\"}}\n",
    )
    .unwrap();
    let trace = dir.path().join("doc.qmptrace");
    let (code, _, err) = qmpsim(&[
        "trace",
        "import",
        &transcript.display().to_string(),
        "-o",
        &trace.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let requests = [
        r#"{"execute":"qmp_capabilities"}"#,
        r#"{"execute":"query-name"}"#,
    ];
    let (played, code, _) = play(&trace, &[], &requests);
    assert_eq!(code, Some(0));
    assert!(
        played.ends_with("{\"return\": {\"name\": \"from-a-transcript\"}}\r\n"),
        "{played}"
    );
}

/// Records `getfd` with a descriptor passed, through the proxy.
fn recorded_getfd() -> Rig {
    let mut rig = Rig::start();
    let mut c = connect_unix(&rig.sock());
    run_script(&mut c, &SCRIPT[..1]);
    send_getfd(&mut c, true);
    assert_eq!(c.line(), "{\"return\": {}}\r\n");
    drop(c);
    rig.stop();
    rig
}

const GETFD: &str = r#"{"execute":"getfd","arguments":{"fdname":"f"}}"#;

fn send_getfd(c: &mut Client<UnixStream>, with_fd: bool) {
    use std::os::fd::AsRawFd;
    let (_read_end, write_end) = crate::sockets::pipe();
    let fds = if with_fd {
        vec![write_end.as_raw_fd()]
    } else {
        Vec::new()
    };
    qmpsim::server::fds::send_with_fds(c.stream().as_raw_fd(), GETFD.as_bytes(), &fds).unwrap();
}

/// Plays the recorded `getfd` to a client that passes a descriptor or not;
/// returns the reply and serve's exit status.
fn play_getfd(with_fd: bool) -> (String, Option<i32>) {
    let rig = recorded_getfd();
    let dir = tempfile::tempdir().unwrap();
    let mut serve = spawn_serve(&rig.trace(), dir.path(), &[]);
    let mut c = connect_unix(&dir.path().join("m.sock"));
    run_script(&mut c, &SCRIPT[..1]);
    send_getfd(&mut c, with_fd);
    let reply = c.line();
    drop(c);
    (reply, serve.wait_exit().code())
}

#[test]
fn serve_getfd_with_the_recorded_descriptor_matches() {
    assert_eq!(
        play_getfd(true),
        ("{\"return\": {}}\r\n".to_owned(), Some(0))
    );
}

#[test]
fn serve_getfd_without_the_recorded_descriptor_diverges() {
    let (reply, code) = play_getfd(false);
    assert_eq!(code, Some(1));
    assert_contains(
        &reply,
        r#"(with 1 passed descriptor), got {\"execute\":\"getfd\""#,
    );
}
