//! trace_tools: `qmpsim trace dump|info|export|import|coverage` through the real
//! binary, on traces written to a temporary folder and on `traces/`.

use crate::support::{assert_contains, assert_replays, qmpsim, vnc};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use qmpsim::engine::{Input, Signal};
use qmpsim::machine::clock::VirtualTime;
use qmpsim::machine::config::{
    ChardevBackend, ChardevConfig, MachineConfig, MonitorConfig, MonitorMode,
};
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::trace::{record_inputs, TraceHeader};

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);

fn send(client: ClientId, text: &str) -> Input {
    Input::bytes(client, text)
}

fn connect(client: ClientId) -> Input {
    Input::connect(client)
}

/// Records `inputs` on `config` into `name` in a fresh temporary directory:
/// the directory (removed when it drops) and the trace's path.
fn write_trace(name: &str, config: MachineConfig, inputs: &[Input]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = record_inputs(&TraceHeader::new(config), inputs).unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// [`write_trace`] on a default `pc` machine.
fn pc_trace(name: &str, inputs: &[Input]) -> (TempDir, PathBuf) {
    write_trace(name, MachineConfig::default(), inputs)
}

/// One client: negotiation, a request split over two reads, two requests in one
/// read, a passed fd, a VNC password, a time jump, SIGTERM.
fn session() -> (TempDir, PathBuf) {
    let config = vnc(":0,password");
    write_trace(
        "session.qmptrace",
        config,
        &[
            connect(ONE),
            send(ONE, "{\"execute\":\"qmp_capabilities\"}\r\n"),
            send(ONE, "{\"execute\":\"query-"),
            send(ONE, "status\"}\r\n"),
            send(ONE, "{\"execute\":\"stop\"}{\"execute\":\"cont\"}\r\n"),
            Input::Fd {
                client: ONE,
                fd: FdHandle(4),
            },
            send(
                ONE,
                "{\"execute\":\"set_password\",\"arguments\":{\"protocol\":\"vnc\",\"password\":\"hunter2\"}}\r\n",
            ),
            Input::AdvanceTo {
                at: VirtualTime(3 * VirtualTime::NS_PER_S),
            },
            Input::Signal {
                signal: Signal::Terminate,
            },
        ],
    )
}

/// `qmpsim trace ARGS TRACE` on a fresh [`session`] trace: the exit status,
/// stdout and stderr.
fn on_session(args: &[&str]) -> (Option<i32>, String, String) {
    let (_dir, trace) = session();
    qmpsim(&[&["trace"], args, &[arg(&trace)]].concat())
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Writes `text` to `dir/t.txt` and runs `qmpsim trace import FLAGS t.txt -o
/// dir/t.qmptrace [-- VM_OPTIONS]`: the trace's path, the exit status, stdout and
/// stderr.
fn import(
    dir: &Path,
    text: &str,
    flags: &[&str],
    vm_options: &[&str],
) -> (PathBuf, Option<i32>, String, String) {
    let transcript = dir.join("t.txt");
    std::fs::write(&transcript, text).unwrap();
    import_file(&transcript, dir.join("t.qmptrace"), flags, vm_options)
}

/// [`import`] into a fresh temporary directory, which the first value keeps.
fn import_fresh(
    text: &str,
    flags: &[&str],
    vm_options: &[&str],
) -> (TempDir, (PathBuf, Option<i32>, String, String)) {
    let dir = tempfile::tempdir().unwrap();
    let imported = import(dir.path(), text, flags, vm_options);
    (dir, imported)
}

/// `qmpsim trace import FLAGS FILE -o OUT [-- VM_OPTIONS]`: OUT, the exit
/// status, stdout and stderr.
fn import_file(
    file: &Path,
    out: PathBuf,
    flags: &[&str],
    vm_options: &[&str],
) -> (PathBuf, Option<i32>, String, String) {
    let mut args = [&["trace", "import"], flags, &[arg(file), "-o", arg(&out)]].concat();
    if !vm_options.is_empty() {
        args.push("--");
        args.extend_from_slice(vm_options);
    }
    let (code, stdout, err) = qmpsim(&args);
    (out, code, stdout, err)
}

/// Flips (`flip`) or cuts off (otherwise) a byte near the end of `trace`.
fn damage(trace: &Path, flip: bool) {
    let mut bytes = std::fs::read(trace).unwrap();
    if flip {
        let at = bytes.len() - 40;
        bytes[at] ^= 0x01;
    } else {
        bytes.truncate(bytes.len() - 10);
    }
    std::fs::write(trace, bytes).unwrap();
}

/// What a dump shows, its flags, what it contains, what it must not contain.
type DumpRow<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

/// What `trace dump` shows of [`session`]: per row, what it shows, the flags,
/// what the output contains and what it must not contain.
#[test]
fn trace_dump_of_the_session() {
    let rows: [DumpRow; 6] = [
        (
            "a request split over two reads is one line with its time",
            &[],
            &["\n0.003000 -> {\"execute\":\"query-status\"}\n0.003000 <- {\"return\""],
            &[],
        ),
        (
            "two requests of one read are two lines",
            &[],
            &[
                "0.004000 -> {\"execute\":\"stop\"}\n",
                "0.005000 -> {\"execute\":\"cont\"}\n",
            ],
            &[],
        ),
        (
            "--raw keeps one line per read",
            &["--raw"],
            &["\n0.002000 -> {\"execute\":\"query-\n0.003000 -> status\"}\n"],
            &[],
        ),
        (
            "a passed fd, a time jump and a signal are comments",
            &[],
            &[
                "0.005000 # fd 4 from client 1\n",
                "3.000000 # advance to 3.000000\n",
                "3.000000 # signal TERM\n",
            ],
            &[],
        ),
        (
            "passwords are masked",
            &[],
            &["\"password\":\"********\""],
            &["hunter2"],
        ),
        (
            "--show-secrets shows passwords",
            &["--show-secrets"],
            &["\"password\":\"hunter2\""],
            &[],
        ),
    ];
    for (what, flags, shown, hidden) in rows {
        let (code, out, _) = on_session(&[&["dump"], flags].concat());
        assert_eq!(code, Some(0), "{what}:\n{out}");
        for text in shown {
            assert!(out.contains(text), "{what}: no {text:?} in\n{out}");
        }
        for text in hidden {
            assert!(!out.contains(text), "{what}: {text:?} in\n{out}");
        }
    }
}

#[test]
fn trace_dump_names_clients_when_several_appear() {
    let (_dir, trace) = pc_trace(
        "two.qmptrace",
        &[
            connect(ONE),
            connect(TWO),
            send(TWO, "{\"execute\":\"qmp_capabilities\"}"),
            Input::Disconnect { client: ONE },
        ],
    );
    let (_, out, _) = qmpsim(&["trace", "dump", arg(&trace)]);
    assert_contains(&out, "0.003000 [2] -> {\"execute\":\"qmp_capabilities\"}\n0.003000 [2] <- {\"return\": {}}\n0.004000 # disconnect client 1\n");
}

#[test]
fn trace_dump_of_damaged_trace_prints_up_to_the_damage_and_fails() {
    let (_dir, trace) = session();
    damage(&trace, true);
    let (code, out, err) = qmpsim(&["trace", "dump", arg(&trace)]);
    assert!(
        code == Some(1)
            && out.contains("-> {\"execute\":\"qmp_capabilities\"}")
            && err.contains("chain hash mismatch at frame"),
        "{out}\n{err}"
    );
}

#[test]
fn trace_info_counts_commands_errors_events_and_clients() {
    let (code, out, _) = on_session(&["info"]);
    assert_eq!(code, Some(0));
    for line in [
        "seed:        0",
        "epoch:       1300000000 s",
        "clock:       idle, 1 time jump",
        "steps:       9 (10 frames, 0 checkpoints)",
        "duration:    3.000000 s of virtual time",
        "  client 1: 5 messages sent, 9 messages received",
        "commands:    5",
        "  query-status 1",
        "errors:      0",
        "  SHUTDOWN 1",
        "exit:        0",
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
    }
}

#[test]
fn trace_export_jsonl_has_one_object_per_frame() {
    let (code, out, _) = on_session(&["export", "--jsonl"]);
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        (code, objects.len(), objects[10]["end"]["steps"].as_u64()),
        (Some(0), 11, Some(9))
    );
}

#[test]
fn trace_json_is_still_the_jsonl_export() {
    let (_, json, _) = on_session(&["json"]);
    let (_, jsonl, _) = on_session(&["export"]);
    assert_eq!(json, jsonl);
}

#[test]
fn trace_import_of_a_correct_transcript_replays() {
    let (_dir, (out, code, stdout, err)) = import_fresh(
        "# notes: query-kvm as the QMP docs show it\n\
         -> { \"execute\": \"qmp_capabilities\" }\n<- { \"return\": {} }\n\
         -> { \"execute\": \"query-kvm\" }\n<- { \"return\": { \"enabled\": true, \"present\": true } }\n",
        &[],
        &["-enable-kvm"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_contains(&stdout, "2 expected messages matched");
    assert_replays(&out);
}

#[test]
fn trace_import_of_a_wrong_transcript_fails_replay() {
    let (_dir, (out, code, stdout, _)) = import_fresh(
        "-> { \"execute\": \"qmp_capabilities\" }\n<- { \"return\": {} }\n\
         -> { \"execute\": \"query-kvm\" }\n<- { \"return\": { \"enabled\": true, \"present\": true } }\n",
        &[],
        &[],
    );
    assert!(
        code == Some(0)
            && stdout.contains("1 of 2 expected messages differ")
            && stdout.contains("line 4"),
        "{stdout}"
    );
    let (replayed, text, _) = qmpsim(&["replay", arg(&out)]);
    assert!(replayed == Some(1) && text.contains("query-kvm"), "{text}");
}

#[test]
fn trace_import_strict_fails_on_a_difference() {
    let (_dir, (_, code, _, _)) = import_fresh(
        "-> {\"execute\":\"qmp_capabilities\"}\n<- {\"return\": 1}\n",
        &["--strict"],
        &[],
    );
    assert_eq!(code, Some(1));
}

#[test]
fn trace_import_of_prose_names_the_line() {
    let (_dir, (_, code, _, err)) = import_fresh("-> {}\nthis is prose\n", &[], &[]);
    assert!(
        code == Some(1) && err.contains("t.txt: Line 2: expected ->, <- or #"),
        "{err}"
    );
}

#[test]
fn trace_dump_then_import_rebuilds_the_same_trace() {
    let (dir, trace) = session();
    let (_, text, _) = qmpsim(&["trace", "dump", "--show-secrets", arg(&trace)]);
    let (rebuilt, code, _, err) = import(dir.path(), &text, &[], &["-vnc", ":0,password"]);
    assert_eq!(code, Some(0), "{err}");
    assert_replays(&rebuilt);
}

/// `trace import --format replies` of the libvirt sample kept in tests/data
/// (see tests/data/README.md) into `dir/libvirt.qmptrace`.
fn import_libvirt_sample(dir: &Path) -> (PathBuf, Option<i32>, String, String) {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/caps_10.0.0_x86_64.head.replies");
    import_file(
        &sample,
        dir.join("libvirt.qmptrace"),
        &["--format", "replies"],
        &[],
    )
}

#[test]
fn trace_import_replies_turns_libvirt_exchanges_into_a_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let (out, code, stdout, err) = import_libvirt_sample(dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_contains(&stdout, "2 of 3 expected messages differ");
    let (_, dump, _) = qmpsim(&["trace", "dump", arg(&out)]);
    assert_contains(&dump, "-> {   \"execute\": \"query-version\",   \"id\": \"libvirt-2\" }\n0.003000 <- {\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 10}, \"package\": \"v10.0.0\"}, \"id\": \"libvirt-2\"}");
}

#[test]
fn trace_import_replies_of_a_modern_qemu_does_not_replay_on_0_14() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, _, _) = import_libvirt_sample(dir.path());
    let (code, text, _) = qmpsim(&["replay", arg(&out)]);
    assert!(code == Some(1) && text.contains("query-version"), "{text}");
}

#[test]
fn trace_export_replies_writes_libvirts_format() {
    let (_dir, trace) = pc_trace(
        "kvm.qmptrace",
        &[
            connect(ONE),
            send(
                ONE,
                "{\"execute\":\"qmp_capabilities\",\"id\":\"libvirt-1\"}",
            ),
            send(ONE, "{\"execute\":\"stop\",\"id\":\"libvirt-2\"}"),
        ],
    );
    let (code, out, _) = qmpsim(&["trace", "export", "--format", "replies", arg(&trace)]);
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "{\n  \"execute\": \"qmp_capabilities\",\n  \"id\": \"libvirt-1\"\n}\n\n\
             {\n  \"return\": {},\n  \"id\": \"libvirt-1\"\n}\n\n\
             {\n  \"execute\": \"stop\",\n  \"id\": \"libvirt-2\"\n}\n\n\
             {\n  \"return\": {},\n  \"id\": \"libvirt-2\"\n}\n"
        )
    );
}

#[test]
fn trace_export_then_import_replies_replays() {
    let (dir, trace) = session();
    let (_, replies, _) = qmpsim(&["trace", "export", "--format", "replies", arg(&trace)]);
    let (back, code, stdout, err) = import(
        dir.path(),
        &replies,
        &["--format", "replies", "--events", "qmpsim"],
        &["-vnc", ":0,password"],
    );
    assert!(
        code == Some(0) && !stdout.contains("differ"),
        "{stdout}{err}"
    );
    assert_replays(&back);
}

#[test]
fn trace_subcommands_answer_help() {
    for sub in ["dump", "info", "export", "import", "coverage"] {
        let (code, out, _) = qmpsim(&["trace", sub, "--help"]);
        assert!(
            code == Some(0) && out.contains("Usage: qmpsim trace"),
            "{sub}: {out}"
        );
    }
}

#[test]
fn trace_bad_flag_is_a_usage_error() {
    let (code, _, err) = qmpsim(&["trace", "info", "--bogus", "x"]);
    assert!(code == Some(2) && err.contains("--bogus"), "{err}");
}

#[test]
fn trace_info_of_missing_file_fails_with_the_os_error() {
    let (code, _, err) = qmpsim(&["trace", "info", "/nonexistent/x.qmptrace"]);
    assert!(
        code == Some(1) && err.contains("cannot open /nonexistent/x.qmptrace: No such file"),
        "{err}"
    );
}

/// `bytes` as `xxd` prints them.
fn xxd(bytes: &[u8]) -> String {
    let mut text = String::new();
    for (n, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line
            .chunks(2)
            .map(|pair| pair.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let ascii: String = line
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        text.push_str(&format!("{:08x}: {:<39}  {ascii}\n", n * 16, hex.join(" ")));
    }
    text
}

#[test]
fn trace_format_doc_shows_what_the_binary_writes() {
    let (_dir, (out, _, _, _)) = import_fresh(
        "-> {\"execute\":\"qmp_capabilities\"}\n<- {\"return\": {}}\n",
        &[],
        &[],
    );
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/trace-format.md"))
            .unwrap();
    let hex = xxd(&std::fs::read(&out).unwrap());
    assert!(
        doc.contains(&hex),
        "docs/trace-format.md no longer shows the bytes of its example; it is now:\n{hex}"
    );
}

#[test]
fn trace_dump_masks_block_passwd_and_hmp_vnc_password() {
    let (_dir, trace) = write_trace(
        "secrets.qmptrace",
        vnc(":0,password"),
        &[
            connect(ONE),
            send(ONE, "{\"execute\":\"qmp_capabilities\"}"),
            send(
                ONE,
                "{\"execute\":\"block_passwd\",\"arguments\":{\"device\":\"ide1-cd0\",\"password\":\"pw-one\"}}",
            ),
            send(
                ONE,
                "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"change vnc password pw-two\"}}",
            ),
            send(
                ONE,
                "{\"execute\":\"change\",\"arguments\":{\"device\":\"vnc\",\"target\":\"password\",\"arg\":\"pw-three\"}}",
            ),
        ],
    );
    let (_, out, _) = qmpsim(&["trace", "dump", arg(&trace)]);
    assert!(
        !out.contains("pw-") && out.matches("********").count() == 3,
        "{out}"
    );
}

/// What `trace export` writes of [`session`] (a `set_password` of `hunter2`),
/// per row: the flags, whether the password must show.
#[test]
fn trace_export_masks_passwords_unless_show_secrets() {
    let rows: [(&[&str], bool); 4] = [
        (&["--jsonl"], false),
        (&["--jsonl", "--show-secrets"], true),
        (&["--format", "replies"], false),
        (&["--format", "replies", "--show-secrets"], true),
    ];
    for (flags, shown) in rows {
        let (code, out, _) = on_session(&[&["export"], flags].concat());
        assert!(
            code == Some(0)
                && out.contains("hunter2") == shown
                && out.contains("********") != shown,
            "{flags:?}:\n{out}"
        );
    }
}

/// A trace of a human monitor on a socket: HMP `set_password`, `block_passwd`
/// and `change vnc password`, each echoed key by key, then `help set_password`.
fn human_monitor_secrets() -> (TempDir, PathBuf) {
    let config = MachineConfig {
        vnc: Some(":0".to_owned()),
        chardevs: vec![ChardevConfig {
            label: "hmp".to_owned(),
            backend: ChardevBackend::Unix {
                path: "hmp.sock".to_owned(),
                server: true,
                wait: false,
            },
        }],
        monitors: vec![MonitorConfig {
            chardev: "hmp".to_owned(),
            mode: MonitorMode::Readline,
            pretty: false,
        }],
        ..MachineConfig::default()
    };
    write_trace(
        "hmp-secrets.qmptrace",
        config,
        &[
            connect(ONE),
            send(ONE, "set_password vnc pw-one\r\n"),
            send(ONE, "block_passwd ide1-cd0 pw-two\r\n"),
            send(ONE, "change vnc password pw-three\r\n"),
            send(ONE, "help set_password\r\n"),
        ],
    )
}

/// `trace dump` and `trace export` of [`human_monitor_secrets`] hide every
/// password, in what the client typed and in the monitor's echo of it, and
/// leave the help text that names the `password` argument as it is.
#[test]
fn trace_tools_mask_hmp_passwords_and_their_echo() {
    let (_dir, trace) = human_monitor_secrets();
    for tool in [&["dump"][..], &["export", "--jsonl"]] {
        let (code, out, _) = qmpsim(&[&["trace"], tool, &[arg(&trace)]].concat());
        assert!(
            code == Some(0)
                && !out.contains("pw-")
                && out.contains("set_password vnc ********")
                && out.contains("block_passwd ide1-cd0 ********")
                && out.contains("change vnc password ********")
                && out.contains("set_password protocol password action-if-connected"),
            "{tool:?}:\n{out}"
        );
    }
}

#[test]
fn trace_dump_show_secrets_shows_hmp_passwords() {
    let (_dir, trace) = human_monitor_secrets();
    let (_, out, _) = qmpsim(&["trace", "dump", "--show-secrets", arg(&trace)]);
    assert!(
        out.contains("set_password vnc pw-one") && !out.contains("********"),
        "{out}"
    );
}

#[test]
fn trace_coverage_of_one_trace_lists_what_it_never_did() {
    let (dir, _trace) = pc_trace(
        "small.qmptrace",
        &[
            connect(ONE),
            send(ONE, "{\"execute\":\"qmp_capabilities\"}"),
            send(ONE, "{\"execute\":\"stop\"}"),
            send(ONE, "{\"execute\":\"frobnicate\"}"),
        ],
    );
    let (code, out, _) = qmpsim(&["trace", "coverage", arg(dir.path())]);
    let expected = [
        "1 trace, 4 steps",
        "commands: 2 of 46 requested",
        "  unknown commands requested: frobnicate",
        "error classes: 1 of 41 sent",
        "  CommandNotFound             1",
        "events: 1 of 14 sent",
    ];
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|line| !out.lines().any(|l| l == *line))
        .collect();
    assert!(
        code == Some(0) && missing.is_empty(),
        "missing {missing:?} in\n{out}"
    );
}

#[test]
fn trace_coverage_of_a_damaged_trace_fails_naming_it() {
    let (dir, trace) = session();
    damage(&trace, false);
    let (code, _, err) = qmpsim(&["trace", "coverage", arg(dir.path())]);
    assert!(
        code == Some(1)
            && err.contains("session.qmptrace")
            && err.to_lowercase().contains("truncated"),
        "{err}"
    );
}

#[test]
fn trace_export_replies_of_the_second_client() {
    let (_dir, trace) = pc_trace(
        "two.qmptrace",
        &[
            connect(ONE),
            connect(TWO),
            send(ONE, "{\"execute\":\"qmp_capabilities\",\"id\":1}"),
            send(TWO, "{\"execute\":\"qmp_capabilities\",\"id\":2}"),
        ],
    );
    let (code, out, _) = qmpsim(&[
        "trace",
        "export",
        "--format",
        "replies",
        "--client",
        "2",
        arg(&trace),
    ]);
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "{\n  \"execute\": \"qmp_capabilities\",\n  \"id\": 2\n}\n\n{\n  \"return\": {},\n  \"id\": 2\n}\n"
        )
    );
}
