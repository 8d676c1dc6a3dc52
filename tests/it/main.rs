//! Integration tests: real sockets, the CLI, replay of the corpus, determinism, tidy.
// Goldens of the machine-model commands (cfg(test) keeps clippy's
// tests_outside_test_module lint satisfied in this test crate).
#[cfg(test)]
mod golden_devices;
