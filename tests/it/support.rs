//! Helpers the golden and scenario modules share: the insta settings of `golden/`,
//! labelled sessions through `qmpsim::scenario::run`, and configuration pieces
//! built from literals.

use qmpsim::engine::Engine;
use qmpsim::machine::config::{ImageInfo, MachineConfig, OptionList};
use qmpsim::scenario::{self, SCRIPT_CLIENT};

/// Checks `text` against `golden/NAME.snap` (reviewed; CI never updates it).
pub fn snap(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../golden", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

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

/// An option list from `(key, value)` pairs, in order.
pub fn opts(pairs: &[(&str, &str)]) -> OptionList {
    pairs.iter().copied().collect()
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
