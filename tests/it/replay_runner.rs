//! replay_runner: `qmpsim replay` as a CI runner, through the binary: `-j`,
//! `--shard`, `--junit`, `--fail-fast`/`--keep-going`, `--check-determinism`,
//! the reproduce line and the divergence report, folder collection.

use crate::support::{assert_contains, qmpsim};
use std::path::{Path, PathBuf};

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::trace::{TraceHeader, TraceWriter};

const CLIENT: ClientId = ClientId(1);

fn script() -> Vec<Input> {
    let bytes = |s: &str| Input::bytes(CLIENT, s);
    vec![
        Input::connect(CLIENT),
        bytes(r#"{"execute":"qmp_capabilities"}"#),
        bytes(r#"{"execute":"stop"}"#),
        bytes(r#"{"execute":"query-status"}"#),
        bytes(r#"{"execute":"cont"}"#),
    ]
}

/// `script()` recorded; when `tamper` is set, query-status's recorded reply says
/// the VM is running (it is stopped).
fn trace(tamper: bool) -> Vec<u8> {
    let header = TraceHeader::new(MachineConfig::default());
    let mut engine = Engine::new(header.config.clone());
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    for (i, input) in script().iter().enumerate() {
        let mut outputs = engine.step(input.clone());
        if tamper && i == 3 {
            outputs = vec![Output::Send {
                client: CLIENT,
                data: b"{\"return\": {\"singlestep\": false, \"running\": true}}\r\n".to_vec(),
            }];
        }
        w.record_and_checkpoint(input, &outputs, &engine).unwrap();
    }
    w.finish_with(&engine).unwrap()
}

/// A folder with `n` good traces named `tNNN.qmptrace`.
fn good_corpus(n: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let good = trace(false);
    let paths = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("t{i:03}.qmptrace"));
            std::fs::write(&p, &good).unwrap();
            p
        })
        .collect();
    (dir, paths)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn replay_runner_help_lists_options_and_exit_status() {
    let (code, out, _) = qmpsim(&["replay", "--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--jobs <N>",
        "--shard <K/N>",
        "--junit <FILE>",
        "--keep-going",
        "--fail-fast",
        "--check-determinism",
        "--allow-truncated",
        "Exit status:",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
}

#[test]
fn replay_runner_bad_flag_is_a_usage_error() {
    let (code, _, err) = qmpsim(&["replay", "--jobs", "many", "x"]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: invalid value 'many' for '--jobs <N>'"),
        "{err}"
    );
}

#[test]
fn replay_runner_divergence_report_and_reproduce_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.qmptrace");
    std::fs::write(&bad, trace(true)).unwrap();
    let (code, out, _) = qmpsim(&["replay", "-j", "1", &s(&bad)]);
    assert_eq!(code, Some(1), "{out}");
    let expected = format!(
        "FAIL {p}: first divergence at frame 3 (after 3 steps, virtual time 0.003000s, client 1): \
         outputs differ for [1] -> {{\"execute\":\"query-status\"}}\n\
         \x20 before it (as recorded):\n\
         \x20   # connect client 1 monitor 0\n\
         \x20   [1] <- {{\"QMP\": {{\"version\": {{\"qemu\": {{\"micro\": 0, \"minor\": 14, \"major\": 0}}, \"package\": \"\"}}, \"capabilities\": []}}}}\n\
         \x20   [1] -> {{\"execute\":\"qmp_capabilities\"}}\n\
         \x20   [1] <- {{\"return\": {{}}}}\n\
         \x20   [1] -> {{\"execute\":\"stop\"}}\n\
         \x20   [1] <- {{\"timestamp\": {{\"seconds\": 1300000000, \"microseconds\": 3000}}, \"event\": \"STOP\"}}\n\
         \x20   [1] <- {{\"return\": {{}}}}\n\
         \x20 input:\n\
         \x20   [1] -> {{\"execute\":\"query-status\"}}\n\
         \x20 expected:\n\
         \x20   [1] <- {{\"return\": {{\"singlestep\": false, \"running\": true}}}}\n\
         \x20 actual:\n\
         \x20   [1] <- {{\"return\": {{\"singlestep\": false, \"running\": false}}}}\n\
         \x20 diff (- expected, + actual):\n\
         \x20   @@ -3,7 +3,7 @@\n\
         \x20        \"client\": 1,\n\
         \x20        \"message\": {{\n\
         \x20          \"return\": {{\n\
         \x20   -        \"running\": true,\n\
         \x20   +        \"running\": false,\n\
         \x20            \"singlestep\": false\n\
         \x20          }}\n\
         \x20        }}\n\
         \x20 no checkpoint came before it\n\
         \x20 reproduce: qmpsim replay {p}\n\
         0 passed, 1 failed\n",
        p = s(&bad)
    );
    assert_eq!(out, expected);
}

#[test]
fn replay_runner_jobs_one_and_two_give_the_same_report() {
    let (dir, _) = good_corpus(6);
    std::fs::write(dir.path().join("bad.qmptrace"), trace(true)).unwrap();
    let one = qmpsim(&["replay", "-j", "1", &s(dir.path())]);
    let two = qmpsim(&["replay", "-j", "2", &s(dir.path())]);
    assert_eq!((one.0, &one.1), (Some(1), &two.1));
    assert!(one.1.ends_with("6 passed, 1 failed\n"), "{}", one.1);
}

#[test]
fn replay_runner_shards_cover_the_corpus_once() {
    let (dir, paths) = good_corpus(30);
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let (code, out, _) = qmpsim(&["replay", "--shard", &shard, &s(dir.path())]);
        assert_eq!(code, Some(0), "{out}");
        seen.extend(
            out.lines()
                .filter_map(|l| l.strip_prefix("ok   "))
                .map(|l| l.split(" (").next().unwrap().to_owned()),
        );
    }
    seen.sort();
    assert_eq!(seen, paths.iter().map(|p| s(p)).collect::<Vec<_>>());
}

#[test]
fn replay_runner_writes_junit() {
    let (dir, _) = good_corpus(2);
    std::fs::write(dir.path().join("bad.qmptrace"), trace(true)).unwrap();
    let xml_path = dir.path().join("report.xml");
    let (code, _, _) = qmpsim(&["replay", "--junit", &s(&xml_path), &s(dir.path())]);
    assert_eq!(code, Some(1));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(
        (
            xml.matches("<testcase ").count(),
            xml.matches("<failure ").count()
        ),
        (3, 1),
        "{xml}"
    );
    assert_contains(&xml, "reproduce: qmpsim replay");
}

#[test]
fn replay_runner_unwritable_junit_fails_with_the_os_error() {
    let (dir, _) = good_corpus(1);
    let (code, _, err) = qmpsim(&["replay", "--junit", "/nonexistent/r.xml", &s(dir.path())]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "qmpsim replay: --junit /nonexistent/r.xml: No such file or directory\n"
    );
}

#[test]
fn replay_runner_fail_fast_skips_and_keep_going_runs_all() {
    let (dir, _) = good_corpus(5);
    // `a` sorts first; one worker takes the traces in order.
    std::fs::write(dir.path().join("a.qmptrace"), trace(true)).unwrap();
    let (code, out, _) = qmpsim(&["replay", "-j", "1", "--fail-fast", &s(dir.path())]);
    assert_eq!(code, Some(1));
    assert!(
        out.ends_with("0 passed, 1 failed, 5 skipped (--fail-fast)\n"),
        "{out}"
    );
    let (_, out, _) = qmpsim(&["replay", "-j", "1", "--keep-going", &s(dir.path())]);
    assert!(out.ends_with("5 passed, 1 failed\n"), "{out}");
}

#[test]
fn replay_runner_check_determinism_passes_a_deterministic_corpus() {
    let (dir, _) = good_corpus(8);
    let (code, out, err) = qmpsim(&[
        "replay",
        "-j",
        "2",
        "--check-determinism",
        "--shuffle-seed",
        "7",
        &s(dir.path()),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.ends_with("8 passed, 0 failed\n"), "{out}");
    assert_contains(&err, "--shuffle-seed 7");
}

#[test]
fn replay_runner_folder_with_symlink_loop_and_duplicate_counts_each_trace_once() {
    let (dir, paths) = good_corpus(2);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let (code, out, _) = qmpsim(&["replay", &s(dir.path()), &s(&paths[0])]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("2 passed, 0 failed\n"), "{out}");
}

#[test]
fn replay_runner_damaged_magic_is_reported_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.qmptrace");
    std::fs::write(&p, b"GIF89a\x00\x01 and more bytes of a picture").unwrap();
    let (code, out, _) = qmpsim(&["replay", &s(&p)]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with(&format!(
            "FAIL {}: invalid trace: not a qmpsim trace (it starts with \"GIF89a\\x00\\x01\", not \"QMPTRACE\")\n",
            s(&p)
        )),
        "{out}"
    );
}
