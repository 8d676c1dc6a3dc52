//! Helpers the golden and scenario modules share: the insta settings of `golden/`
//! and the `goldens!` table of golden tests, labelled sessions through
//! `qmpsim::scenario::run`, the machines of common command lines, and
//! configuration pieces built from literals.

use qmpsim::engine::{Engine, Input};
use qmpsim::machine::clock::VirtualTime;
use qmpsim::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList};
use qmpsim::qmp::session::FdHandle;
use qmpsim::scenario::{self, SCRIPT_CLIENT};

/// Checks `text` against `golden/NAME.snap` (reviewed; CI never updates it).
pub fn snap(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

/// One `#[test]` per row `TEST => "NAME", TEXT;` (doc comments allowed before
/// a row): the test computes the expression TEXT and checks it against
/// `golden/NAME.snap` with [`snap`]. Rows hold goldens that differ only in
/// what they run.
macro_rules! goldens {
    ($($(#[$attr:meta])* $test:ident => $name:literal, $text:expr;)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $test() {
                $crate::support::snap($name, &$text);
            }
        )*
    };
}
pub(crate) use goldens;

/// One negotiated session per `(label, config, lines)`, concatenated under
/// `## label` headers.
pub fn sessions(parts: &[(&str, MachineConfig, &[&str])]) -> String {
    let mut text = String::new();
    for (label, config, lines) in parts {
        push_session(&mut text, label, config, true, lines);
    }
    text
}

/// Like [`sessions`], each part saying whether the harness sends
/// `qmp_capabilities` first.
pub fn sessions_negotiated_or_not(parts: &[(&str, MachineConfig, bool, &[&str])]) -> String {
    let mut text = String::new();
    for (label, config, negotiate, lines) in parts {
        push_session(&mut text, label, config, *negotiate, lines);
    }
    text
}

fn push_session(
    text: &mut String,
    label: &str,
    config: &MachineConfig,
    negotiate: bool,
    lines: &[&str],
) {
    text.push_str(&format!("## {label}\n"));
    text.push_str(&scenario::run(config.clone(), negotiate, lines).text);
}

/// An engine for `config` whose script client is connected and has negotiated,
/// for sessions that feed more than client lines.
pub fn negotiated(config: MachineConfig) -> Engine {
    let mut engine = Engine::new(config);
    for input in scenario::negotiation(SCRIPT_CLIENT) {
        engine.step(input);
    }
    engine
}

/// Runs the built binary with `args` to its end: the exit status, stdout and
/// stderr (lossy UTF-8).
pub fn qmpsim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(args)
        .output()
        .expect("the built binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of `tests/clients/NAME.py`, one of the small QMP clients that
/// `explore` and `conformance` run.
pub fn test_client(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(format!("{name}.py"))
}

/// Runs `qmpsim TOOL_ARGS --out OUT EXTRA -- python3 tests/clients/NAME.py` to
/// its end: the client-driving subcommands (`explore`, `conformance`).
pub fn against_client(
    tool_args: &[&str],
    out: &std::path::Path,
    extra: &[&str],
    name: &str,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(tool_args)
        .arg("--out")
        .arg(out)
        .args(extra)
        .arg("--")
        .arg("python3")
        .arg(test_client(name))
        .output()
        .expect("the built binary runs")
}

/// Runs [`against_client`] with its `--out` in a fresh directory, and returns
/// that directory with the path of the trace named `trace_name` in it.
pub fn trace_left_by(
    tool_args: &[&str],
    extra: &[&str],
    name: &str,
    trace_name: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    against_client(tool_args, dir.path(), extra, name);
    let trace = dir.path().join(trace_name);
    (dir, trace)
}

/// A finished process's stdout, lossy UTF-8.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An option list from `(key, value)` pairs, in order.
pub fn opts(pairs: &[(&str, &str)]) -> OptionList {
    pairs.iter().copied().collect()
}

/// The default machine after `change`: one option's worth of difference.
fn default_with(change: impl FnOnce(&mut MachineConfig)) -> MachineConfig {
    let mut config = MachineConfig::default();
    change(&mut config);
    config
}

/// `-x-extensions`.
pub fn ext() -> MachineConfig {
    default_with(|c| c.extensions = true)
}

/// `-vnc DISPLAY`.
pub fn vnc(display: &str) -> MachineConfig {
    default_with(|c| c.vnc = Some(display.to_owned()))
}

/// `-x-extensions -vnc DISPLAY`.
pub fn ext_vnc(display: &str) -> MachineConfig {
    MachineConfig {
        extensions: true,
        ..vnc(display)
    }
}

/// `-spice OPTS`.
pub fn spice(pairs: &[(&str, &str)]) -> MachineConfig {
    default_with(|c| c.spice = Some(opts(pairs)))
}

/// `-x-extensions -spice OPTS`.
pub fn ext_spice(pairs: &[(&str, &str)]) -> MachineConfig {
    MachineConfig {
        extensions: true,
        ..spice(pairs)
    }
}

/// `-balloon virtio`.
pub fn balloon_virtio() -> MachineConfig {
    default_with(|c| c.balloon = Some(opts(&[("type", "virtio")])))
}

/// `-enable-kvm`.
pub fn kvm() -> MachineConfig {
    default_with(|c| c.kvm = true)
}

/// `-nodefaults`.
pub fn nodefaults() -> MachineConfig {
    default_with(|c| c.nodefaults = true)
}

/// `-nographic`.
pub fn nographic() -> MachineConfig {
    default_with(|c| c.nographic = true)
}

/// `-S`.
pub fn paused() -> MachineConfig {
    default_with(|c| c.start_paused = true)
}

/// `-x-extensions -drive file=disk.img,if=ide,index=0,x-virtual=on,x-size=1G[,EXTRA]`:
/// a virtual 1 GiB disk `ide0-hd0` with `extra` options.
pub fn virtual_disk(extra: &[(&str, &str)]) -> MachineConfig {
    let mut o = opts(&[
        ("file", "disk.img"),
        ("if", "ide"),
        ("index", "0"),
        ("x-virtual", "on"),
        ("x-size", "1073741824"),
    ]);
    for (k, v) in extra {
        o.push(k, v);
    }
    MachineConfig {
        drives: vec![DriveConfig {
            opts: o,
            probe: None,
        }],
        ..ext()
    }
}

/// `-hda FILE` of a probed image.
pub fn hda(file: &str, info: ImageInfo) -> DriveConfig {
    DriveConfig {
        opts: opts(&[("file", file), ("index", "0"), ("media", "disk")]),
        probe: Some(ImageProbe::Found(info)),
    }
}

/// `-hda FILE` of a probed image, and nothing else.
pub fn hda_only(file: &str, info: ImageInfo) -> MachineConfig {
    MachineConfig {
        drives: vec![hda(file, info)],
        ..MachineConfig::default()
    }
}

/// A probed image without backing file or encryption.
pub fn image(format: &str, size_bytes: u64) -> ImageInfo {
    ImageInfo {
        format: format.to_owned(),
        size_bytes,
        backing_file: None,
        encrypted: false,
    }
}

/// One input of a [`timed`] session.
pub enum Step<'a> {
    /// A client line, sent as it is.
    Send(&'a str),
    /// An HMP command line, sent through `human-monitor-command`.
    Hmp(&'a str),
    /// Let this many milliseconds of virtual time pass.
    AdvanceMs(u64),
    /// Pass a descriptor with the next line.
    Fd(u64),
    /// The edge reports that migration `id` failed.
    MigrationFailed(u64),
    /// The edge probed an image file.
    Probe(&'a str, ImageInfo),
}

/// The `human-monitor-command` request that runs HMP `line`.
pub fn hmp(line: &str) -> String {
    let args = serde_json::json!({ "command-line": line });
    format!(r#"{{"execute":"human-monitor-command","arguments":{args}}}"#)
}

/// `{"execute":"x-inject","arguments":{"action":ACTION,REST}}` (REST: more
/// members, or none).
pub fn inject(action: &str, rest: &str) -> String {
    let sep = if rest.is_empty() { "" } else { "," };
    format!(r#"{{"execute":"x-inject","arguments":{{"action":"{action}"{sep}{rest}}}}}"#)
}

/// HMP lines as requests: a line starting with `{` is raw QMP, sent as it is;
/// any other goes through `human-monitor-command`.
pub fn hmp_or_raw(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            if l.starts_with('{') {
                (*l).to_owned()
            } else {
                hmp(l)
            }
        })
        .collect()
}

/// A negotiated session with time passing, descriptors, edge reports and
/// probes: the `-> `/`<- ` notation of `qmpsim::scenario::run`, plus a `## `
/// line for each input that is not a client line.
pub fn timed(config: MachineConfig, steps: &[Step<'_>]) -> String {
    let mut engine = negotiated(config);
    let client = SCRIPT_CLIENT;
    let mut text = String::new();
    for step in steps {
        let input = match step {
            Step::Send(line) => {
                text.push_str(&format!("-> {line}\n"));
                Input::bytes(client, line)
            }
            Step::Hmp(line) => {
                let request = hmp(line);
                text.push_str(&format!("-> {request}\n"));
                Input::bytes(client, request)
            }
            Step::AdvanceMs(ms) => {
                text.push_str(&format!("## advance {ms} ms\n"));
                Input::AdvanceTo {
                    at: VirtualTime(engine.now().0 + ms * 1_000_000),
                }
            }
            Step::Fd(fd) => {
                text.push_str(&format!("## pass fd {fd}\n"));
                Input::Fd {
                    client,
                    fd: FdHandle(*fd),
                }
            }
            Step::MigrationFailed(id) => {
                text.push_str(&format!("## edge: migration {id} failed\n"));
                Input::MigrationFailed { id: *id }
            }
            Step::Probe(path, info) => {
                let (format, size) = (&info.format, info.size_bytes);
                text.push_str(&format!("## probe {path}: {format} {size}\n"));
                Input::ImageProbed {
                    path: (*path).to_owned(),
                    probe: ImageProbe::Found(info.clone()),
                }
            }
        };
        scenario::append_outputs(&mut text, &engine.step(input));
    }
    text
}

/// Asserts that `text` contains `needle`, showing `text` when it does not.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}");
}

/// Asserts that the binary run with `args` exits 1 with `message` on stderr
/// (trailing white space aside): a refused option.
#[track_caller]
pub fn assert_refused(args: &[&str], message: &str) {
    let (code, _, err) = qmpsim(args);
    assert_eq!((code, err.trim_end()), (Some(1), message));
}

/// Asserts that the binary run with `args` is a usage error (exit 2) whose
/// stderr contains `needle`.
#[track_caller]
pub fn assert_usage_error(args: &[&str], needle: &str) {
    let (code, _, err) = qmpsim(args);
    assert_eq!(code, Some(2));
    assert_contains(&err, needle);
}

/// Asserts that a finished process (`what`, named in a failure) exited with
/// `code` and that its stdout holds each of `needles`, showing stdout when not.
#[track_caller]
pub fn assert_stdout(what: &str, out: &std::process::Output, code: i32, needles: &[&str]) {
    let text = stdout(out);
    assert!(
        out.status.code() == Some(code) && needles.iter().all(|n| text.contains(n)),
        "{what}:\n{text}"
    );
}

/// Asserts that `qmpsim replay TRACE` passes, showing its report when not.
#[track_caller]
pub fn assert_replays(trace: &std::path::Path) {
    let (code, out, _) = qmpsim(&["replay", &trace.display().to_string()]);
    assert_eq!(code, Some(0), "{out}");
}
