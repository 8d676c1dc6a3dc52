//! Goldens of every fault kind of `x-inject` (one snapshot per action, in
//! `golden/`): what 0.14 sends when that fault happens, and where it falls
//! relative to the reply; plus `x-inject`'s own errors. Time passes with
//! `x-clock-step`, so each session is a plain line script.

use qmpsim::machine::config::MachineConfig;

use crate::support::{
    ext, ext_spice, ext_vnc, goldens, inject, opts, sessions, snap, virtual_disk,
};

const STEP: &str = r#"{"execute":"x-clock-step"}"#;
const QUERY_STATUS: &str = r#"{"execute":"query-status"}"#;
const POWERDOWN: &str = r#"{"execute":"system_powerdown"}"#;
/// One second of virtual time.
const STEP_1S: &str = r#"{"execute":"x-clock-step","arguments":{"ns":1000000000}}"#;

/// Runs `sessions` over string lines.
fn run(parts: &[(&str, MachineConfig, Vec<String>)]) -> String {
    let owned: Vec<(&str, MachineConfig, Vec<&str>)> = parts
        .iter()
        .map(|(l, c, lines)| (*l, c.clone(), lines.iter().map(String::as_str).collect()))
        .collect();
    let borrowed: Vec<(&str, MachineConfig, &[&str])> = owned
        .iter()
        .map(|(l, c, lines)| (*l, c.clone(), lines.as_slice()))
        .collect();
    sessions(&borrowed)
}

#[test]
fn golden_faults_block_io_error() {
    let io = |op: &str, err: &str| {
        inject(
            "block-io-error",
            &format!(r#""device":"ide0-hd0","operation":"{op}","error":"{err}""#),
        )
    };
    let text = run(&[
        (
            "defaults (rerror=report, werror=enospc): reads report, EIO writes report, ENOSPC writes stop",
            virtual_disk(&[]),
            vec![io("read", "eio"), io("write", "eio"), io("write", "enospc"), QUERY_STATUS.into()],
        ),
        (
            "werror=stop: BLOCK_IO_ERROR, STOP, then the reply",
            virtual_disk(&[("werror", "stop")]),
            vec![io("write", "eio"), QUERY_STATUS.into()],
        ),
        (
            "werror=ignore",
            virtual_disk(&[("werror", "ignore")]),
            vec![io("write", "enospc"), QUERY_STATUS.into()],
        ),
        (
            "werror=report",
            virtual_disk(&[("werror", "report")]),
            vec![io("write", "enospc")],
        ),
        (
            "rerror=stop",
            virtual_disk(&[("rerror", "stop")]),
            vec![io("read", "eio"), QUERY_STATUS.into()],
        ),
        (
            "rerror=ignore",
            virtual_disk(&[("rerror", "ignore")]),
            vec![io("read", "eio")],
        ),
        (
            "an empty drive, an unknown one, a bad operation",
            virtual_disk(&[]),
            vec![
                inject("block-io-error", r#""device":"ide1-cd0","operation":"read""#),
                inject("block-io-error", r#""device":"nosuch","operation":"read""#),
                inject("block-io-error", r#""device":"ide0-hd0","operation":"flush""#),
            ],
        ),
    ]);
    snap("faults__block_io_error", &text);
}

goldens! {
    golden_faults_powerdown_ignore => "faults__powerdown_ignore", run(&[(
        "POWERDOWN and nothing more; the clock has nothing to wait for",
        ext(),
        vec![
            inject("powerdown-ignore", ""),
            POWERDOWN.into(),
            STEP.into(),
            QUERY_STATUS.into(),
        ],
    )]);

    golden_faults_powerdown_delay => "faults__powerdown_delay", run(&[
        (
            "SHUTDOWN 5 s (and the jitter) after POWERDOWN",
            ext(),
            vec![
                inject("powerdown-delay", r#""ms":5000"#),
                POWERDOWN.into(),
                STEP.into(),
            ],
        ),
        (
            "ms past the limit",
            ext(),
            vec![inject("powerdown-delay", r#""ms":3600001"#)],
        ),
    ]);

    golden_faults_powerdown_obey => "faults__powerdown_obey", run(&[(
        "ignored, then obeyed again: SHUTDOWN after the configured delay",
        ext(),
        vec![
            inject("powerdown-ignore", ""),
            inject("powerdown-obey", ""),
            POWERDOWN.into(),
            STEP.into(),
        ],
    )]);

    golden_faults_guest_reboot => "faults__guest_reboot", run(&[
        (
            "RESET after the reply",
            ext(),
            vec![inject("guest-reboot", "")],
        ),
        (
            "-no-reboot: SHUTDOWN, exit",
            MachineConfig {
                no_reboot: true,
                ..ext()
            },
            vec![inject("guest-reboot", "")],
        ),
    ]);

    golden_faults_guest_shutdown => "faults__guest_shutdown", run(&[
        (
            "SHUTDOWN after the reply, exit",
            ext(),
            vec![inject("guest-shutdown", "")],
        ),
        (
            "-no-shutdown: SHUTDOWN, STOP, QEMU stays",
            MachineConfig {
                no_shutdown: true,
                ..ext()
            },
            vec![inject("guest-shutdown", ""), QUERY_STATUS.into()],
        ),
    ]);
}

/// `-x-extensions -watchdog i6300esb -watchdog-action ACTION`.
fn watchdog(action: &str) -> MachineConfig {
    MachineConfig {
        watchdog: Some(qmpsim::machine::watchdog::WatchdogModel::I6300esb),
        watchdog_action: qmpsim::machine::watchdog::WatchdogAction::parse(action),
        ..ext()
    }
}

/// The watchdog expires; then `query-status`.
fn expire() -> Vec<String> {
    vec![inject("watchdog-expire", ""), QUERY_STATUS.into()]
}

goldens! {
    golden_faults_watchdog_expire => "faults__watchdog_expire", run(&[
        ("-watchdog-action reset", watchdog("reset"), expire()),
        ("-watchdog-action shutdown", watchdog("shutdown"), expire()),
        ("-watchdog-action poweroff", watchdog("poweroff"), expire()),
        ("-watchdog-action pause", watchdog("pause"), expire()),
        ("-watchdog-action debug", watchdog("debug"), expire()),
        ("-watchdog-action none", watchdog("none"), expire()),
        ("no watchdog", ext(), expire()),
    ]);

    golden_faults_rtc_change => "faults__rtc_change", run(&[(
        "RTC_CHANGE before the reply; an offset past a C int",
        ext(),
        vec![
            inject("rtc-change", r#""offset":-3600"#),
            inject("rtc-change", r#""offset":2147483648"#),
        ],
    )]);

    golden_faults_vnc => "faults__vnc", run(&[
        (
            "connect and authenticate at once; disconnect",
            ext_vnc(":1"),
            vec![
                inject("vnc-connect", r#""service":"50001""#),
                inject("vnc-disconnect", r#""service":"50001""#),
            ],
        ),
        (
            "connect, listed before authenticating, then authenticate",
            ext_vnc(":1"),
            vec![
                inject("vnc-connect", r#""service":"50002","authenticate":false"#),
                r#"{"execute":"query-vnc"}"#.into(),
                inject("vnc-authenticate", r#""service":"50002""#),
                inject("vnc-authenticate", r#""service":"50009""#),
            ],
        ),
        (
            "no VNC display",
            ext(),
            vec![inject("vnc-connect", r#""service":"50001""#)],
        ),
    ]);

    golden_faults_spice => "faults__spice", run(&[
        (
            "connect and link at once; disconnect",
            spice_no_ticketing(),
            vec![
                inject("spice-connect", r#""port":"40001","connection-id":7"#),
                inject("spice-disconnect", r#""port":"40001""#),
            ],
        ),
        (
            "connect, then link",
            spice_no_ticketing(),
            vec![
                inject(
                    "spice-connect",
                    r#""port":"40002","connection-id":8,"authenticate":false"#,
                ),
                inject("spice-authenticate", r#""port":"40002""#),
            ],
        ),
        (
            "no SPICE",
            ext(),
            vec![inject("spice-connect", r#""port":"40001""#)],
        ),
    ]);
}

/// `-x-extensions -spice port=5930,disable-ticketing`.
fn spice_no_ticketing() -> MachineConfig {
    ext_spice(&[("port", "5930"), ("disable-ticketing", "on")])
}

/// `-x-extensions -balloon virtio`.
fn balloon() -> MachineConfig {
    MachineConfig {
        balloon: Some(opts(&[("driver", "virtio")])),
        ..ext()
    }
}

/// Asks the guest for 64 MiB after `fault` (when given), lets 100 ms pass,
/// and queries the balloon.
fn balloon_to_64_mib(fault: Option<String>) -> Vec<String> {
    let mut v: Vec<String> = fault.into_iter().collect();
    v.extend([
        r#"{"execute":"balloon","arguments":{"value":67108864}}"#.to_owned(),
        r#"{"execute":"x-clock-step","arguments":{"ns":100000000}}"#.to_owned(),
        r#"{"execute":"query-balloon"}"#.to_owned(),
    ]);
    v
}

goldens! {
    golden_faults_balloon_slow => "faults__balloon_slow", run(&[
        ("normal: ten batches in 100 ms", balloon(), balloon_to_64_mib(None)),
        (
            "factor 10: one batch in 100 ms",
            balloon(),
            balloon_to_64_mib(Some(inject("balloon-slow", r#""factor":10"#))),
        ),
        (
            "factor past the limit",
            balloon(),
            vec![inject("balloon-slow", r#""factor":1001"#)],
        ),
    ]);

    golden_faults_balloon_stuck => "faults__balloon_stuck", run(&[(
        "actual never moves",
        balloon(),
        vec![
            inject("balloon-stuck", ""),
            r#"{"execute":"balloon","arguments":{"value":67108864}}"#.into(),
            STEP_1S.into(),
            r#"{"execute":"query-balloon"}"#.into(),
        ],
    )]);
}

const MIGRATE: &str = r#"{"execute":"migrate","arguments":{"uri":"tcp:127.0.0.1:4444"}}"#;
const QUERY_MIGRATE: &str = r#"{"execute":"query-migrate"}"#;

goldens! {
    golden_faults_migration_fail => "faults__migration_fail", run(&[
        (
            "fails at 10 %: failed, the channel closes, the VM runs on",
            MachineConfig {
                ram_mb: 64,
                ..ext()
            },
            vec![
                inject("migration-fail", r#""percent":10"#),
                MIGRATE.into(),
                QUERY_MIGRATE.into(),
                STEP_1S.into(),
                QUERY_MIGRATE.into(),
                QUERY_STATUS.into(),
            ],
        ),
        (
            "an active migration fails now",
            ext(),
            vec![
                MIGRATE.into(),
                inject("migration-fail", ""),
                QUERY_MIGRATE.into(),
            ],
        ),
        (
            "percent past 100",
            ext(),
            vec![inject("migration-fail", r#""percent":101"#)],
        ),
    ]);

    golden_faults_migration_slow => "faults__migration_slow", run(&[(
        "factor 5: one chunk per 500 ms",
        ext(),
        vec![
            inject("migration-slow", r#""factor":5"#),
            MIGRATE.into(),
            r#"{"execute":"x-clock-step","arguments":{"ns":400000000}}"#.into(),
            QUERY_MIGRATE.into(),
            r#"{"execute":"x-clock-step","arguments":{"ns":200000000}}"#.into(),
            QUERY_MIGRATE.into(),
        ],
    )]);

    golden_faults_unplug_stuck => "faults__unplug_stuck", run(&[(
        "device_del answers, the device never leaves, its id stays taken",
        ext(),
        vec![
            r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"nic1"}}"#.into(),
            STEP.into(),
            inject("unplug-stuck", ""),
            r#"{"execute":"device_del","arguments":{"id":"nic1"}}"#.into(),
            r#"{"execute":"x-clock-step","arguments":{"ns":10000000000}}"#.into(),
            r#"{"execute":"device_add","arguments":{"driver":"e1000","id":"nic1"}}"#.into(),
        ],
    )]);

    golden_faults_drop_monitor => "faults__drop_monitor", run(&[
        (
            "the reply, then the connection closes; nothing after",
            ext(),
            vec![inject("drop-monitor", ""), QUERY_STATUS.into()],
        ),
        (
            "a client that is not connected: nothing closes",
            ext(),
            vec![inject("drop-monitor", r#""client":9"#), QUERY_STATUS.into()],
        ),
    ]);

    golden_faults_x_inject_errors => "faults__x_inject_errors", run(&[
        (
            "unknown action, missing action, another action's argument, a bad type",
            ext(),
            vec![
                inject("meteor-strike", ""),
                r#"{"execute":"x-inject","arguments":{}}"#.into(),
                inject("guest-reboot", r#""device":"ide0-hd0""#),
                inject("rtc-change", r#""offset":"soon""#),
                inject("rtc-change", ""),
                inject("guest-reboot", r#""bogus":1"#),
            ],
        ),
        (
            "without -x-extensions",
            MachineConfig::default(),
            vec![inject("guest-reboot", "")],
        ),
    ]);
}

/// docs/faults.md ends with `actions_markdown()`; `QMPSIM_UPDATE_DOCS=1 cargo
/// test --test it faults_page` rewrites that part after the table changed.
#[test]
fn faults_page_of_the_book_is_generated_from_actions() {
    use qmpsim::machine::faults::{actions_markdown, FAULTS_PAGE_MARKER};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/faults.md");
    let page = std::fs::read_to_string(path).expect("docs/faults.md is readable");
    let (intro, generated) = page
        .split_once(FAULTS_PAGE_MARKER)
        .expect("docs/faults.md has the generated-part marker");
    let expected = actions_markdown();
    let fresh = generated.trim_start_matches('\n') == expected;
    if !fresh && std::env::var_os("QMPSIM_UPDATE_DOCS").is_some() {
        std::fs::write(path, format!("{intro}{FAULTS_PAGE_MARKER}\n{expected}"))
            .expect("docs/faults.md is writable");
        return;
    }
    assert!(
        fresh,
        "docs/faults.md is out of date with ACTIONS: run \
         QMPSIM_UPDATE_DOCS=1 cargo test --test it faults_page"
    );
}
