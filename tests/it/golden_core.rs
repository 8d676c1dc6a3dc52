//! Goldens for negotiation, the identity and status queries, the run-state
//! commands and `x-clock-step`: one snapshot per command (in `golden/`), with its
//! success paths and every error path, including argument checking.

use qmpsim::machine::config::MachineConfig;

use crate::support::{ext, goldens, kvm, paused, sessions, sessions_negotiated_or_not, snap};

fn pc() -> MachineConfig {
    MachineConfig::default()
}

goldens! {
    golden_core_qmp_capabilities => "core__qmp_capabilities", sessions_negotiated_or_not(&[
        (
            "negotiation: only qmp_capabilities, then everything",
            pc(),
            false,
            &[
                r#"{"execute":"query-status","id":1}"#,
                r#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":2}"#,
                r#"{"execute":"qmp_capabilities","id":3}"#,
                r#"{"execute":"qmp_capabilities","id":4}"#,
                r#"{"execute":"query-status","id":5}"#,
            ],
        ),
        (
            "wrong argument type before negotiation",
            pc(),
            false,
            &[r#"{"execute":"qmp_capabilities","arguments":{"x":1}}"#],
        ),
    ]);

    golden_core_query_version => "core__query_version", sessions(&[(
        "version and a stray argument",
        pc(),
        &[
            r#"{"execute":"query-version","id":"v"}"#,
            r#"{"execute":"query-version","arguments":{"verbose":true}}"#,
        ],
    )]);

    golden_core_query_commands => "core__query_commands", sessions(&[
        ("0.14 list", pc(), &[r#"{"execute":"query-commands"}"#]),
        (
            "x- commands are invisible and unknown without -x-extensions",
            pc(),
            &[r#"{"execute":"x-clock-step"}"#],
        ),
    ]);

    golden_core_query_kvm => "core__query_kvm", sessions(&[
        ("TCG", pc(), &[r#"{"execute":"query-kvm","id":"example"}"#]),
        ("-enable-kvm", kvm(), &[r#"{"execute":"query-kvm"}"#]),
    ]);

    golden_core_query_status => "core__query_status", sessions(&[
        ("running", pc(), &[r#"{"execute":"query-status"}"#]),
        (
            "-S, then cont",
            paused(),
            &[
                r#"{"execute":"query-status"}"#,
                r#"{"execute":"cont"}"#,
                r#"{"execute":"query-status"}"#,
            ],
        ),
    ]);

    golden_core_query_name_and_uuid => "core__query_name_and_uuid", sessions(&[
        (
            "no -name, no -uuid",
            pc(),
            &[r#"{"execute":"query-name"}"#, r#"{"execute":"query-uuid"}"#],
        ),
        (
            "-name vm1 -uuid ...",
            MachineConfig {
                name: Some("vm1".into()),
                uuid: Some("550e8400-e29b-41d4-a716-446655440000".into()),
                ..pc()
            },
            &[r#"{"execute":"query-name"}"#, r#"{"execute":"query-uuid"}"#],
        ),
    ]);

    golden_core_stop_and_cont => "core__stop_and_cont", sessions(&[
        (
            "stop twice, cont twice: one STOP, one RESUME, each before its return",
            pc(),
            &[
                r#"{"execute":"stop","id":1}"#,
                r#"{"execute":"stop","id":2}"#,
                r#"{"execute":"cont","id":3}"#,
                r#"{"execute":"cont","id":4}"#,
                r#"{"execute":"stop","arguments":{"now":true}}"#,
            ],
        ),
        (
            "-incoming: cont waits for the migration",
            MachineConfig {
                incoming: Some("tcp:0:4446".into()),
                ..pc()
            },
            &[
                r#"{"execute":"cont","id":5}"#,
                r#"{"execute":"query-status"}"#,
            ],
        ),
    ]);

    golden_core_quit => "core__quit", sessions(&[
        (
            "return, SHUTDOWN, exit",
            pc(),
            &[r#"{"execute":"quit","id":"bye"}"#],
        ),
        (
            "-no-shutdown does not keep quit from exiting",
            MachineConfig {
                no_shutdown: true,
                ..pc()
            },
            &[r#"{"execute":"quit"}"#, r#"{"execute":"query-status"}"#],
        ),
        (
            "argument",
            pc(),
            &[r#"{"execute":"quit","arguments":{"force":true}}"#],
        ),
    ]);

    golden_core_x_clock_step => "core__x_clock_step", sessions(&[(
        "steps, the next deadline, and errors",
        ext(),
        &[
            r#"{"execute":"x-clock-step","arguments":{"ns":250000000}}"#,
            r#"{"execute":"x-clock-step"}"#,
            r#"{"execute":"system_powerdown"}"#,
            r#"{"execute":"x-clock-step","id":"wait"}"#,
        ],
    )]) + &sessions(&[(
        "errors",
        ext(),
        &[
            r#"{"execute":"x-clock-step","arguments":{"ns":-1}}"#,
            r#"{"execute":"x-clock-step","arguments":{"ns":3600000000001}}"#,
            r#"{"execute":"x-clock-step","arguments":{"ns":1.5}}"#,
        ],
    )]);
}

/// The error path of the commands that take no arguments and cannot fail
/// otherwise: an argument is `InvalidParameter` (facts §4: "Query commands have
/// empty args_type, so any argument → InvalidParameter"), with the request's id.
#[test]
fn golden_core_argumentless_commands_refuse_arguments() {
    let names = [
        "system_powerdown",
        "query-commands",
        "query-chardev",
        "query-blockstats",
        "query-cpus",
        "query-pci",
        "query-kvm",
        "query-mice",
        "query-spice",
        "query-name",
        "query-uuid",
    ];
    let lines: Vec<String> = names
        .iter()
        .map(|n| format!(r#"{{"execute":"{n}","arguments":{{"verbose":true}},"id":"{n}"}}"#))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let text = sessions(&[("one stray argument each", pc(), &lines)]);
    snap("core__argumentless_commands_refuse_arguments", &text);
}
