//! `qmpsim explore` through the real binary, against the four clients of
//! `tests/clients/`: it reports nothing for the correct one and finds the bug
//! planted in each of the other three, naming the placement; a failing
//! placement's trace replays byte for byte.

use crate::support::{
    against_client, assert_contains, assert_replays, assert_stdout, qmpsim, stdout,
    test_client as client, trace_left_by,
};
use std::path::Path;
use std::process::{Command, Output};

/// The events every explore test places: one that changes the run state and
/// one that only reports.
const EVENTS: &str = "STOP,RTC_CHANGE";

/// `qmpsim explore` placing [`EVENTS`].
const EXPLORE: [&str; 3] = ["explore", "--events", EVENTS];

fn explore(out: &Path, extra: &[&str], client_name: &str) -> Output {
    against_client(&EXPLORE, out, extra, client_name)
}

/// VM options under which the correct client's session is the same whatever
/// the machine's load: virtual time moves only by messages and `x-clock-step`.
const STEPPED_VM: [&str; 3] = ["-x-extensions", "-x-clock", "manual"];

/// `explore` of `correct.py --step-clock` against [`STEPPED_VM`]s: the client
/// waits for the unplug by stepping the VM's clock, not by sleeping, so its
/// session (and so its gap count) depends on the replies alone.
fn explore_stepped_correct(out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["explore", "--events", EVENTS, "--out"])
        .arg(out)
        .args(extra)
        .arg("--")
        .args(STEPPED_VM)
        .arg("--")
        .arg("python3")
        .arg(client("correct"))
        .arg("--step-clock")
        .output()
        .expect("the built binary runs")
}

#[test]
fn explore_correct_client_reports_nothing_under_the_default_events() {
    // STOP, RESET, POWERDOWN and RTC_CHANGE at every gap: the client resumes a
    // stopped guest and asks again for an unplug a RESET undid.
    let dir = tempfile::tempdir().unwrap();
    let out = against_client(&["explore"], dir.path(), &[], "correct");
    assert_stdout("correct", &out, 0, &["no placement made the client fail"]);
}

/// `explore` finds the bug planted in each buggy client of `tests/clients/`,
/// per row: the client and the line of its report that names the placement.
#[test]
fn explore_finds_each_buggy_clients_bug() {
    let rows = [
        (
            "mispaired",
            "  RTC_CHANGE at gap 2, between qmp_capabilities and its reply (client 1): \
             exit status 1\n    client said: mispaired: qmp_capabilities got no reply \
             but {\"timestamp\"",
        ),
        // A STOP keeps the guest from ejecting.
        (
            "unplug_sync",
            "  STOP at gap 5, between device_del and its reply (client 1): exit status 1\n    \
             client said: unplug_sync: nic1 is still on the PCI bus after device_del returned",
        ),
        // Whether an event and its reply arrive in one read depends on
        // scheduling, so which placements fail varies; over 24 runs some do.
        (
            "one_recv",
            "and its reply (client 1): exit status 1\n    client said: one_recv: cannot parse",
        ),
    ];
    for (client, line) in rows {
        let dir = tempfile::tempdir().unwrap();
        let out = explore(dir.path(), &[], client);
        assert_stdout(client, &out, 1, &[line]);
    }
}

#[test]
fn explore_failing_placement_names_its_reproduce_line_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = explore(dir.path(), &["--gap", "2"], "mispaired");
    let trace = dir.path().join("run-2-gap2-RTC_CHANGE.qmptrace");
    let text = stdout(&out);
    assert_contains(&text, &format!("    trace:       {}\n", trace.display()));
    assert_contains(
        &text,
        &format!(
            "    reproduce:   qmpsim explore --gap 2 --events RTC_CHANGE -- python3 {}\n",
            client("mispaired").display()
        ),
    );
}

#[test]
fn explore_failing_trace_replays_byte_for_byte_with_its_placement() {
    let (_dir, trace) = trace_left_by(
        &EXPLORE,
        &["--gap", "2"],
        "mispaired",
        "run-2-gap2-RTC_CHANGE.qmptrace",
    );
    assert_replays(&trace);
    let (_, dump, _) = qmpsim(&["trace", "dump", &trace.display().to_string()]);
    assert_contains(&dump, "# -x-explore-gap 2,event=RTC_CHANGE\n");
}

#[test]
fn explore_past_budget_runs_budget_many_placements() {
    let dir = tempfile::tempdir().unwrap();
    let out = explore_stepped_correct(dir.path(), &["--budget", "3"]);
    let text = stdout(&out);
    // 14 gaps: before and after the greeting, then one per request (capabilities,
    // query-status, device_add, device_del, and two rounds of query-pci,
    // query-status, x-clock-step before the last query-pci, then query-name);
    // two events at each.
    assert_contains(&text, "; 3 of 28 placements to run");
    assert_contains(&text, "(3 runs)");
}

#[test]
fn explore_without_client_is_a_usage_error() {
    let (code, _, _) = qmpsim(&["explore"]);
    assert_eq!(code, Some(2));
}

#[test]
fn explore_with_unknown_event_is_a_usage_error_naming_the_events() {
    let (code, _, err) = qmpsim(&["explore", "--events", "NOPE", "--", "true"]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(2),
            "qmpsim explore: unknown event 'NOPE' (one of STOP, RESUME, RESET, SHUTDOWN, \
             POWERDOWN, BLOCK_IO_ERROR, VNC_CONNECTED, RTC_CHANGE, WATCHDOG)\n"
        )
    );
}

#[test]
fn explore_client_failing_without_events_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let (code, out, _) = qmpsim(&["explore", "--out", &out_dir, "--", "false"]);
    assert!(
        code == Some(1)
            && out.starts_with(
                "qmpsim explore: the client failed without any placed event (exit status 1)"
            ),
        "{out}"
    );
}
