//! Property-based fuzz suites (proptest) of the wire layer and the dispatcher.
//!
//! CI runs a modest number of cases; the long mode is `ci/fuzz` (`ci/fuzz
//! --cases N`). Failing seeds are persisted under `fuzz/regressions/` and
//! committed, so every past failure is replayed first; properties that drive the
//! engine also write the shrunk case as a trace (`failtrace`). See
//! docs/testing.md.

// Properties are top-level test functions by nature; the lint targets unit tests.
#![allow(clippy::tests_outside_test_module)]

mod dispatch;
mod failtrace;
mod framing;
mod model;
mod resync;
mod session;

use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases per property in CI unless `PROPTEST_CASES` says otherwise.
pub const CI_CASES: u32 = 256;

/// Cases per property: `PROPTEST_CASES` when set, else `ci_default`.
pub fn cases(ci_default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(ci_default)
}

/// The shared proptest configuration, persisting failures in `fuzz/regressions/`.
pub fn config(file: &'static str) -> Config {
    config_with(file, CI_CASES)
}

/// [`config`] with another CI case count, for properties whose cases are slow
/// (whole sessions, megabyte messages).
pub fn config_with(file: &'static str, ci_cases: u32) -> Config {
    Config {
        cases: cases(ci_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..Config::default()
    }
}
