//! Failures become traces: a property that drives the engine hands its inputs to
//! [`check`]; when the check fails, the case is recorded as a `.qmptrace` under
//! [`FAILURE_DIR`] and the assertion message names the file. Proptest re-runs the
//! property while shrinking and the last failing run overwrites the file, so what
//! is left is the shrunk case. `qmpsim trace dump FILE` shows it,
//! `qmpsim trace minimize FILE --until ...` cuts it further, and the fix commits
//! it to `traces/regressions/` under a name that says what it was (re-recorded
//! with the fixed engine: see `tests/it/regressions.rs`).

use std::path::{Path, PathBuf};

use qmpsim::engine::Input;
use qmpsim::machine::config::MachineConfig;
use qmpsim::trace::{record_inputs, TraceHeader};

/// Where failing cases are written, relative to the crate root.
pub const FAILURE_DIR: &str = "target/fuzz-failures";

/// Writes the case as `FAILURE_DIR/<property>.qmptrace`; returns its path, or why
/// it could not be written.
pub fn write(property: &str, config: &MachineConfig, inputs: &[Input]) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FAILURE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let header = TraceHeader::new(config.clone())
        .with_notes(&format!("Shrunk failing case of the property {property}."));
    let bytes = record_inputs(&header, inputs).map_err(|e| format!("cannot record: {e}"))?;
    let path = dir.join(format!("{property}.qmptrace"));
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// `Ok` when `ok`; otherwise records the case and returns a failure message that
/// names the trace.
pub fn check(
    ok: bool,
    property: &str,
    config: &MachineConfig,
    inputs: &[Input],
    what: impl FnOnce() -> String,
) -> Result<(), proptest::test_runner::TestCaseError> {
    if ok {
        return Ok(());
    }
    let saved = match write(property, config, inputs) {
        Ok(path) => format!("reproduced by {}", path.display()),
        Err(e) => format!("no trace written: {e}"),
    };
    Err(proptest::test_runner::TestCaseError::fail(format!(
        "{}; {saved}",
        what()
    )))
}
