//! Tidy rule for stderr's one voice (docs/compat.md, "Messages on stderr"):
//! a message about a QEMU option is QEMU 0.14's own text, in one of 0.14's
//! forms; a message of qmpsim's own (its options, subcommands, traces and
//! diagnostics) starts with `qmpsim:` or `qmpsim SUBCOMMAND:`.
//!
//! Checked mechanically: the format string of every `eprintln!`/`eprint!` in
//! `src/` outside test code, and the `#[error("...")]` message of every variant
//! of the error enums the `run` command prints as a whole line ([`LINE_ERRORS`]).
//! A message made only of placeholders (`"{e}"`) passes through text checked
//! where it is defined. A bare QEMU text (no prefix) must be listed in
//! [`QEMU_BARE`] with the 0.14 source that prints it.

use std::path::Path;

use super::rust_files;

/// Error enums whose `Display` `run` prints as one whole stderr line (the
/// `#[error(transparent)]` variants of `cli::CliError`, and it).
const LINE_ERRORS: &[(&str, &str)] = &[
    ("src/cli/mod.rs", "CliError"),
    ("src/cli/raw/error.rs", "RawError"),
    ("src/cli/config.rs", "ConfigError"),
    ("src/server/mod.rs", "ServerError"),
    ("src/server/record.rs", "RecordError"),
    ("src/replay/resume.rs", "ResumeError"),
];

/// Prefixes of QEMU 0.14's located and program-named messages, with where 0.14
/// prints them.
const QEMU_PREFIXES: &[(&str, &str)] = &[
    // `{PROGRAM}` is `qemu-system-x86_64`, as 0.14's `error_set_progname(argv[0])`.
    (
        "{PROGRAM}: ",
        "qemu-error.c error_report() with the command-line location (error_print_loc)",
    ),
    ("qemu: ", "vl.c, blockdev.c: fprintf(stderr, \"qemu: ...\")"),
    ("chardev: ", "qemu-char.c qemu_chr_open_opts()"),
    ("spice: ", "ui/spice-core.c parse_name()"),
];

/// QEMU 0.14's messages that carry no prefix, each with the 0.14 source that
/// prints it.
const QEMU_BARE: &[(&str, &str)] = &[
    ("Invalid number of CPUs", "vl.c main(), QEMU_OPTION_smp"),
    (
        "maxcpus must be equal to or greater than smp",
        "vl.c main(), QEMU_OPTION_smp",
    ),
    ("Unsupported number of maxcpus", "vl.c main(), QEMU_OPTION_smp"),
    (
        "Number of SMP cpus requested ({cpus}), exceeds max cpus supported by machine `{machine}' ({max})",
        "vl.c main(), after option parsing",
    ),
    (
        "Fail to parse UUID string. Wrong format.",
        "vl.c main(), QEMU_OPTION_uuid",
    ),
    ("Unknown subargument {0} to -name", "vl.c main(), QEMU_OPTION_name"),
    ("Unable to find x86 CPU definition", "hw/pc.c pc_init1()"),
    ("parse error: {0}", "vl.c monitor_parse()"),
    ("chardev \\\"{0}\\\" not found", "vl.c mon_init_func()"),
    ("unknown monitor mode \\\"{0}\\\"", "vl.c mon_init_func()"),
    ("Unknown -balloon argument {0}", "vl.c main(), QEMU_OPTION_balloon"),
    (
        "Unknown -watchdog device. Supported devices are:\\n{}",
        "hw/watchdog.c select_watchdog()",
    ),
    (
        "Unknown -watchdog-action parameter",
        "vl.c main(), QEMU_OPTION_watchdog_action",
    ),
    (
        "Invalid date format. Valid formats are:\\n'2006-06-17T16:01:21' or '2006-06-17'",
        "vl.c configure_rtc_date_offset()",
    ),
    (
        "-nographic can not be used with -daemonize",
        "vl.c main(), QEMU_OPTION_daemonize check",
    ),
    ("Unknown vga type: {0}", "vl.c:1529 select_vgahw()"),
    ("-append only allowed with -kernel option", "vl.c:2881 main()"),
    ("-initrd only allowed with -kernel option", "vl.c:2886 main()"),
    ("could not initialize alarm timer", "vl.c:2893 main()"),
    ("Invalid boot device '{0}'", "vl.c validate_bootdevices()"),
    ("Boot device '{0}' was given twice", "vl.c validate_bootdevices()"),
    (
        "unknown migration protocol: {0}\\nMigration failed. Exit code {0}(-93), exiting.",
        "migration.c qemu_start_incoming_migration(), vl.c main()",
    ),
    (
        "invalid host/port combination: {rest}\\nMigration failed. Exit code {uri}(-22), exiting.",
        "migration-tcp.c tcp_start_incoming_migration(), vl.c main()",
    ),
    ("No certificate path provided", "ui/vnc.c vnc_display_open()"),
    (
        "inet_parse: {kind} parse error ({display})",
        "qemu-sockets.c inet_parse()",
    ),
    (
        "getaddrinfo({host},{service}): {reason}",
        "qemu-sockets.c inet_listen_opts()",
    ),
    ("Could not acquire pid file: {}", "os-posix.c os_pidfile_error()"),
    ("Could not acquire pidfile: {}", "os-posix.c os_daemonize()"),
    (
        "QEMU waiting for connection on: {filename}",
        "qemu-char.c qemu_chr_open_socket()",
    ),
];

/// The voice a message speaks in.
#[derive(Debug, PartialEq, Eq)]
enum Voice {
    /// `qmpsim:` or `qmpsim SUBCOMMAND:`.
    Qmpsim,
    /// QEMU 0.14's text, from this source.
    Qemu(&'static str),
    /// Only placeholders: the text comes from elsewhere.
    PassThrough,
    /// Neither: a violation.
    Unknown,
}

/// Whether `msg` starts with `qmpsim:` or `qmpsim WORD...:` (lowercase words,
/// or `{what}`: code shared by subcommands names the one that runs it).
fn is_qmpsim(msg: &str) -> bool {
    let Some(rest) = msg.strip_prefix("qmpsim") else {
        return false;
    };
    let Some(colon) = rest.find(':') else {
        return false;
    };
    rest[..colon].split(' ').skip(1).all(|w| {
        w == "{what}" || (!w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
    }) && rest.starts_with([':', ' '])
}

/// Whether `msg` is nothing but `{...}` placeholders.
fn is_pass_through(msg: &str) -> bool {
    let mut rest = msg;
    while let Some(open) = rest.strip_prefix('{') {
        let Some(close) = open.find('}') else {
            return false;
        };
        rest = &open[close + 1..];
    }
    rest.is_empty() && !msg.is_empty()
}

fn voice(msg: &str) -> Voice {
    if is_qmpsim(msg) {
        return Voice::Qmpsim;
    }
    if is_pass_through(msg) {
        return Voice::PassThrough;
    }
    if let Some((_, source)) = QEMU_PREFIXES.iter().find(|(p, _)| msg.starts_with(p)) {
        return Voice::Qemu(source);
    }
    match QEMU_BARE.iter().find(|(text, _)| *text == msg) {
        Some((_, source)) => Voice::Qemu(source),
        None => Voice::Unknown,
    }
}

/// The string literal starting at or after `from` in `text` (escapes kept).
fn literal_after(text: &str, from: usize) -> Option<&str> {
    let start = from + text[from..].find('"')? + 1;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(&text[start..start + i]),
            _ => escaped = false,
        }
    }
    None
}

/// The code of a `src/` file before its test module.
fn non_test_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// 1-based line of byte `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// `(line, format string)` of each `eprintln!`/`eprint!` in `code`.
fn stderr_formats(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for mac in ["eprintln!(", "eprint!("] {
        for (at, _) in code.match_indices(mac) {
            if let Some(lit) = literal_after(code, at + mac.len()) {
                out.push((line_of(code, at), lit));
            }
        }
    }
    out
}

/// `(line, message)` of each `#[error("...")]` of `pub enum name` in `code`.
fn error_messages<'a>(code: &'a str, name: &str) -> Vec<(usize, &'a str)> {
    let Some(start) = code.find(&format!("pub enum {name} {{")) else {
        return Vec::new();
    };
    let end = start + code[start..].find("\n}").unwrap_or(code.len() - start);
    let body = &code[start..end];
    body.match_indices("#[error(")
        .filter(|(at, _)| !body[*at..].starts_with("#[error(transparent"))
        .filter_map(|(at, _)| literal_after(body, at).map(|lit| (line_of(code, start + at), lit)))
        .collect()
}

fn report(path: &str, found: &[(usize, &str)], out: &mut String) {
    for (line, msg) in found {
        if voice(msg) == Voice::Unknown {
            out.push_str(&format!(
                "{path}:{line}: \"{msg}\" speaks in neither voice: start it with \
                 `qmpsim:` (qmpsim's own option, subcommand or trace), or, for a \
                 QEMU option, give 0.14's exact text and list a bare one in \
                 tests/it/tidy/voice.rs QEMU_BARE with its 0.14 source\n"
            ));
        }
    }
}

#[test]
fn tidy_every_stderr_message_speaks_as_qmpsim_or_as_qemu() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut out = String::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        let found = stderr_formats(non_test_code(&text));
        checked += found.len();
        report(&rel, &found, &mut out);
    }
    for (path, name) in LINE_ERRORS {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        let found = error_messages(&text, name);
        assert!(!found.is_empty(), "no messages found for {name} in {path}");
        checked += found.len();
        report(path, &found, &mut out);
    }
    assert!(checked >= 100, "too few messages found: {checked}");
    assert!(out.is_empty(), "{out}");
}

/// The voice of each form of message, per row: the format string and its voice.
#[test]
fn voice_of_each_form_of_message() {
    let rows = [
        // A subcommand's message.
        ("qmpsim trace minimize: {e}", Voice::Qmpsim),
        // Code shared by subcommands, naming its subcommand.
        ("qmpsim {what}: no client command", Voice::Qmpsim),
        ("qmpsim {other}: no client command", Voice::Unknown),
        // QEMU's program name.
        (
            "{PROGRAM}: {0}: invalid option",
            Voice::Qemu(QEMU_PREFIXES[0].1),
        ),
        // The message `-record` once gave: qemu's program name for qmpsim's option.
        ("-record: requires an argument", Voice::Unknown),
        // A bare text that is not listed.
        ("could not write the file", Voice::Unknown),
        // qmpsim without a colon.
        ("qmpsim could not start", Voice::Unknown),
    ];
    for (message, expected) in rows {
        assert_eq!(voice(message), expected, "{message}");
    }
}

#[test]
fn error_messages_skip_transparent_variants() {
    let code = "pub enum E {\n    #[error(transparent)]\n    A(X),\n    #[error(\"qmpsim: b\")]\n    B,\n}\n";
    assert_eq!(error_messages(code, "E"), [(4, "qmpsim: b")]);
}

#[test]
fn stderr_formats_read_the_literal_on_the_next_line() {
    let code = "fn f() {\n    eprintln!(\n        \"qmpsim: x {}\",\n        1\n    );\n}\n";
    assert_eq!(stderr_formats(code), [(2, "qmpsim: x {}")]);
}
