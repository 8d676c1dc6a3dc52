//! `qmpsim conformance` through the real binary, against the four clients of
//! `tests/clients/`: the correct one survives every behaviour, each buggy one
//! is broken by the behaviour that shows its bug, and the table is also
//! written as JUnit XML and JSON.

use crate::support::{
    against_client, assert_contains, assert_replays, assert_stdout, qmpsim, stdout, trace_left_by,
};
use std::path::Path;
use std::process::Output;

fn conformance(out: &Path, extra: &[&str], client_name: &str) -> Output {
    against_client(&["conformance"], out, extra, client_name)
}

/// What conformance says of each client of `tests/clients/`, per row: the
/// client, the behaviours it runs (all when none are named), its exit status
/// and lines of its report. The correct one survives every behaviour; each
/// buggy one is broken by the behaviour that shows its bug.
#[test]
fn conformance_of_each_client() {
    let rows: [(&str, &[&str], i32, &[&str]); 5] = [
        (
            "correct",
            &[],
            0,
            &["qmpsim conformance: the client survived every behaviour (10 behaviours)\n"],
        ),
        (
            "mispaired",
            &[],
            1,
            &["  event-before-every-reply: an event (RTC_CHANGE) arrives before every reply, \
               qmp_capabilities' included\n    client said: mispaired: qmp_capabilities got \
               no reply but {\"timestamp\""],
        ),
        (
            "mispaired",
            &["--only", "error-without-id"],
            1,
            &["    client said: mispaired: query-status got no reply but {\"error\""],
        ),
        (
            "unplug_sync",
            &[],
            1,
            &[
                "qmpsim conformance: 1 of 10 behaviours broke the client:\n  guest-stopped: ",
                "    client said: unplug_sync: nic1 is still on the PCI bus after device_del returned",
            ],
        ),
        (
            "one_recv",
            &["--only", "baseline,split-replies"],
            1,
            &[
                "baseline       passed\nsplit-replies  FAILED (exit status 1)\n",
                "    client said: one_recv: cannot parse b'{'",
            ],
        ),
    ];
    for (client, only, code, lines) in rows {
        let dir = tempfile::tempdir().unwrap();
        let out = conformance(dir.path(), only, client);
        assert_stdout(client, &out, code, lines);
    }
}

#[test]
fn conformance_writes_junit_and_json_with_the_failing_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    let json = dir.path().join("report.json");
    let (junit_arg, json_arg) = (junit.display().to_string(), json.display().to_string());
    conformance(
        dir.path(),
        &[
            "--only",
            "baseline,split-replies",
            "--junit",
            &junit_arg,
            "--json",
            &json_arg,
        ],
        "one_recv",
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        (
            xml.contains("tests=\"2\"") && xml.contains("failures=\"1\""),
            rows[0]["passed"].as_bool(),
            rows[1]["behaviour"].as_str(),
            rows[1]["passed"].as_bool()
        ),
        (true, Some(true), Some("split-replies"), Some(false))
    );
}

#[test]
fn conformance_ids_row_names_the_id_types_the_client_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = conformance(dir.path(), &["--only", "ids-echoed"], "correct");
    assert_contains(&stdout(&out), "ids-echoed  passed (ids of type number)\n");
}

#[test]
fn conformance_failing_behaviour_trace_replays_byte_for_byte() {
    let (_dir, trace) = trace_left_by(
        &["conformance"],
        &["--only", "error-without-id"],
        "mispaired",
        "error-without-id.qmptrace",
    );
    assert_replays(&trace);
}

#[test]
fn conformance_with_unknown_behaviour_is_a_usage_error() {
    let (code, _, _) = qmpsim(&["conformance", "--only", "nope", "--", "true"]);
    assert_eq!(code, Some(2));
}
