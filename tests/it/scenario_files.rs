//! `-x-scenario FILE` through the binary: every file of `examples/scenarios/`
//! loads, one of them runs end to end over a real socket (a dropped monitor
//! connection, a guest reboot at 5 s of the manual clock, an RTC change after
//! the RESET) and its
//! recording replays byte for byte, and a bad file is refused with its line.

use std::io::Write;

use qmpsim::cli::config::read_scenario;

use crate::sockets::{connect_unix, negotiated_unix, sock_path, GREETING};
use crate::support::{assert_refused, qmpsim};

/// The files of `examples/scenarios/` and their step counts.
const EXAMPLES: [(&str, usize); 5] = [
    ("disk-fails-under-werror-stop.toml", 2),
    ("display-clients.toml", 4),
    ("guest-ignores-powerdown.toml", 2),
    ("migration-fails-at-90.toml", 2),
    ("monitor-drops.toml", 3),
];

#[test]
fn every_example_loads_with_its_steps() {
    for (name, steps) in EXAMPLES {
        let path = format!("{}/examples/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        let loaded = read_scenario(&path).expect("the example loads");
        assert_eq!(loaded.len(), steps, "{name}");
    }
}

#[test]
fn examples_folder_holds_exactly_the_tested_files() {
    let dir = format!("{}/examples/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, EXAMPLES.map(|(name, _)| name));
}

#[test]
fn scenario_end_to_end_drops_the_monitor_then_reboots_and_replays() {
    let (dir, path) = sock_path();
    let trace = dir.path().join("scenario.qmptrace");
    let scenario = format!(
        "{}/examples/scenarios/monitor-drops.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let trace_arg = trace.to_str().unwrap();
    // The manual clock: the 5 s step waits for x-clock-step, however long the
    // second client takes to connect.
    let (mut qemu, mut first) = negotiated_unix(
        &path,
        &[
            "-x-scenario",
            &scenario,
            "-record",
            trace_arg,
            "-x-extensions",
            "-x-clock",
            "manual",
        ],
    );
    let status = first.execute("query-status");
    let after_drop = first.line();
    let mut second = connect_unix(&path);
    let greeting = second.line();
    second.execute("qmp_capabilities");
    let reset = second.execute("x-clock-step");
    // The step's RESET comes with x-clock-step's reply; the RTC change, due
    // once the RESET is out, follows the reply.
    let stepped = second.line();
    let rtc = second.line();
    second.execute("quit");
    assert!(qemu.wait_exit().success());
    let (code, out, err) = qmpsim(&["replay", trace_arg]);
    assert_eq!(
        (status.as_str(), after_drop.as_str(), greeting.as_str()),
        (
            "{\"return\": {\"singlestep\": false, \"running\": true}}\r\n",
            "",
            GREETING
        )
    );
    assert_eq!(
        reset,
        "{\"timestamp\": {\"seconds\": 1300000005, \"microseconds\": 0}, \"event\": \"RESET\"}\r\n"
    );
    assert_eq!(
        rtc,
        "{\"timestamp\": {\"seconds\": 1300000005, \"microseconds\": 0}, \"event\": \"RTC_CHANGE\", \"data\": {\"offset\": -7200}}\r\n"
    );
    assert!(
        stepped.starts_with("{\"return\": {\"virtual-ns\": 5000000000}"),
        "{stepped}"
    );
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn scenario_with_unknown_action_exits_1_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"# a comment\n[[step]]\nat = \"1s\"\naction = \"reboot\"\n")
        .unwrap();
    let arg = path.to_str().unwrap();
    let (code, _, err) = qmpsim(&["-x-scenario", arg]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!(
            "qmpsim: -x-scenario {arg}: line 2: unknown action 'reboot' (one of block-io-error, "
        )),
        "{err}"
    );
}

#[test]
fn scenario_file_missing_exits_1() {
    assert_refused(
        &["-x-scenario", "/nonexistent/s.toml"],
        "qmpsim: -x-scenario /nonexistent/s.toml: No such file or directory",
    );
}

#[test]
fn scenario_file_past_size_limit_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    let limit = qmpsim::machine::scenario_steps::SCENARIO_FILE_BYTES_MAX;
    std::fs::write(&path, "#".repeat(limit + 1)).unwrap();
    let arg = path.to_str().unwrap();
    let (code, _, err) = qmpsim(&["-x-scenario", arg]);
    assert_eq!(
        (code, err.trim_end().to_owned()),
        (
            Some(1),
            format!("qmpsim: -x-scenario {arg}: larger than {limit} bytes")
        )
    );
}
