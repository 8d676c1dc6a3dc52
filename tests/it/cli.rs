//! The command line of the built binary: option errors with QEMU's exact messages
//! and exit status 1, `-version`, `--help`, subcommands not wired yet, and disk
//! images that cannot be opened.

use super::sockets::run_to_end;

/// Runs the binary to its end (bounded by the guard's timeout) with nothing on
/// stdin: status, stdout, stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    run_to_end(args, "")
}

fn error_run(args: &[&str]) -> (Option<i32>, String) {
    let (status, _, err) = run(args);
    (status, err)
}

/// Command lines the binary refuses, per row: what the row shows, the
/// arguments, the exit status and everything on stderr (QEMU's own messages
/// for QEMU's options, clap's usage errors for qmpsim's subcommands).
#[test]
fn refused_command_lines_exit_with_their_message() {
    let rows: [(&str, &[&str], i32, &str); 8] = [
        (
            "invalid option exits one with qemu message",
            &["-foo"],
            1,
            "qemu-system-x86_64: -foo: invalid option\n",
        ),
        (
            "run subcommand invalid option exits one",
            &["run", "-S", "-bar"],
            1,
            "qemu-system-x86_64: -bar: invalid option\n",
        ),
        (
            "missing argument exits one with qemu message",
            &["-S", "-name"],
            1,
            "qemu-system-x86_64: -name: requires an argument\n",
        ),
        (
            "bad ram size exits one",
            &["-m", "abc"],
            1,
            "qemu: invalid ram size: abc\n",
        ),
        (
            "malformed qmp spec exits one",
            &["-qmp", "unix"],
            1,
            "parse error: unix\n",
        ),
        (
            "replay without paths is usage error",
            &["replay"],
            2,
            "error: the following required arguments were not provided:\n  <PATH>...\n\n\
             Usage: qmpsim replay <PATH>...\n\nFor more information, try '--help'.\n",
        ),
        (
            "trace without verb is usage error",
            &["trace", "x.qmptrace"],
            2,
            "error: unrecognized subcommand 'x.qmptrace'\n\nUsage: qmpsim trace <COMMAND>\n\n\
             For more information, try '--help'.\n",
        ),
        (
            "incoming unknown protocol exits with 014 status and lines",
            &["-incoming", "http:x"],
            163,
            "unknown migration protocol: http:x\nMigration failed. Exit code http:x(-93), exiting.\n",
        ),
    ];
    for (what, args, status, message) in rows {
        assert_eq!(
            error_run(args),
            (Some(status), message.to_owned()),
            "{what}"
        );
    }
}

#[test]
fn version_prints_qemu_line_and_exits_zero() {
    let (status, out, _) = run(&["-version"]);
    assert_eq!(
        (status, out),
        (
            Some(0),
            format!(
                "QEMU emulator version 0.14.0 (qmpsim {}), Copyright (c) 2003-2008 Fabrice Bellard\n",
                env!("CARGO_PKG_VERSION")
            )
        )
    );
}

#[test]
fn double_dash_help_prints_usage() {
    let (status, out, _) = run(&["--help"]);
    assert_eq!(
        (status, out.starts_with("qmpsim: a deterministic QEMU 0.14")),
        (Some(0), true)
    );
}

#[test]
fn replay_of_missing_file_exits_one() {
    let (status, stderr) = error_run(&["replay", "/nonexistent/x.qmptrace"]);
    assert_eq!(
        (status, stderr.contains("/nonexistent/x.qmptrace")),
        (Some(1), true)
    );
}

#[test]
fn missing_disk_image_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.img").display().to_string();
    let expected = format!(
        "qemu-system-x86_64: -hda {path}: could not open disk image {path}: \
         No such file or directory\n"
    );
    assert_eq!(error_run(&["-hda", &path]), (Some(1), expected));
}

#[test]
fn machine_question_mark_lists_machines() {
    let (status, out, _) = run(&["-M", "?"]);
    assert_eq!(
        (status, out.lines().nth(1)),
        (Some(0), Some("pc         Standard PC (alias of pc-0.14)"))
    );
}

#[test]
fn incoming_tcp_port_in_use_exits_with_minus_eaddrinuse() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("tcp:127.0.0.1:{}", taken.local_addr().unwrap().port());
    assert_eq!(
        error_run(&["-incoming", &uri]),
        (
            Some(158),
            format!("Migration failed. Exit code {uri}(-98), exiting.\n")
        )
    );
}

#[test]
fn incoming_exec_of_a_damaged_file_prints_why_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.save");
    std::fs::write(&path, b"QEVM\0\0\0\x03not a qmpsim stream").unwrap();
    let uri = format!("exec:cat {}", path.display());
    assert_eq!(
        error_run(&["-incoming", &uri]),
        (
            Some(0),
            "qmpsim: incoming migration: Not a qmpsim migration stream (bad magic)\nload of migration failed\n"
                .to_owned()
        )
    );
}
