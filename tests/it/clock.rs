//! The three clock modes through the binary (`-x-clock idle|manual|realtime`):
//! `x-query-clock` reports the mode, the guest's shutdown after
//! `system_powerdown` arrives by itself in idle and realtime mode and only with
//! `x-clock-step` in manual mode, and a realtime session recorded with
//! `-record` replays byte for byte.

use crate::sockets::{answer, negotiated_unix, negotiated_vm, sock_path};
use crate::support::{assert_contains, assert_refused, assert_replays, qmpsim};

/// Reads lines until one contains `needle`; returns every line read.
fn lines_until(
    client: &mut crate::sockets::Client<std::os::unix::net::UnixStream>,
    needle: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = client.line();
        assert!(
            !line.is_empty(),
            "the connection ended before {needle}: {lines:?}"
        );
        let done = line.contains(needle);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

#[test]
fn clock_idle_reports_its_mode() {
    assert_eq!(
        answer(&["-x-extensions"], "x-query-clock"),
        "{\"return\": {\"mode\": \"idle\", \"virtual-ns\": 3000000}}\r\n"
    );
}

#[test]
fn clock_idle_jumps_to_the_guest_shutdown() {
    let (_dir, _qemu, mut client) = negotiated_vm(&["-x-extensions"]);
    client.send(r#"{"execute":"system_powerdown"}"#);
    let lines = lines_until(&mut client, "SHUTDOWN");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("{\"timestamp\": {\"seconds\": 1300000001"),
        "{lines:?}"
    );
}

#[test]
fn clock_manual_reports_its_mode() {
    let (_dir, _qemu, mut client) = negotiated_vm(&["-x-extensions", "-x-clock", "manual"]);
    assert_eq!(
        client.execute("x-query-clock"),
        "{\"return\": {\"mode\": \"manual\", \"virtual-ns\": 3000000}}\r\n"
    );
}

#[test]
fn clock_manual_shutdown_comes_with_the_clock_step() {
    let (_dir, _qemu, mut client) = negotiated_vm(&["-x-extensions", "-x-clock", "manual"]);
    client.send(r#"{"execute":"system_powerdown"}"#);
    client.send(r#"{"execute":"x-query-clock"}"#);
    let before = lines_until(&mut client, "virtual-ns");
    client.send(r#"{"execute":"x-clock-step"}"#);
    let after = lines_until(&mut client, "virtual-ns");
    let shutdown_before = before.iter().any(|l| l.contains("SHUTDOWN"));
    let shutdown_after = after.iter().any(|l| l.contains("SHUTDOWN"));
    assert_eq!(
        (shutdown_before, shutdown_after),
        (false, true),
        "{before:?} {after:?}"
    );
}

#[test]
fn clock_realtime_session_replays_byte_exact() {
    let (dir, path) = sock_path();
    let trace = dir.path().join("realtime.qmptrace");
    let trace_arg = trace.to_str().unwrap();
    let (mut qemu, mut client) = negotiated_unix(
        &path,
        &[
            "-x-extensions",
            "-x-clock",
            "realtime",
            "-record",
            trace_arg,
        ],
    );
    let mode = client.execute("x-query-clock");
    client.send(r#"{"execute":"system_powerdown"}"#);
    let lines = lines_until(&mut client, "SHUTDOWN");
    assert_contains(&mode, "\"mode\": \"realtime\"");
    assert!(lines.iter().any(|l| l.contains("POWERDOWN")), "{lines:?}");
    assert!(qemu.wait_exit().success());
    assert_replays(&trace);
}

#[test]
fn clock_realtime_trace_info_names_the_mode() {
    let (dir, path) = sock_path();
    let trace = dir.path().join("realtime.qmptrace");
    let trace_arg = trace.to_str().unwrap();
    let (mut qemu, mut client) =
        negotiated_unix(&path, &["-x-clock", "realtime", "-record", trace_arg]);
    client.execute("quit");
    assert!(qemu.wait_exit().success());
    let (code, out, _) = qmpsim(&["trace", "info", trace_arg]);
    assert_eq!(code, Some(0));
    assert_contains(&out, "clock:       realtime, ");
}

#[test]
fn clock_bad_mode_is_refused_with_exit_1() {
    assert_refused(
        &["-x-clock", "fast"],
        "qmpsim: -x-clock: invalid clock mode 'fast' (idle, manual or realtime)",
    );
}
