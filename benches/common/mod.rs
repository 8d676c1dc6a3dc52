//! What the Criterion benches share.

use criterion::Criterion;

/// Whether this bench binary runs under `cargo bench` (ci/bench). `cargo test
/// --all-targets` runs bench targets without `--bench`; timing is ci/bench's
/// business, so `bench` (the file's name) says there is nothing to do then.
pub fn under_cargo_bench(bench: &str) -> bool {
    if std::env::args().any(|arg| arg == "--bench") {
        return true;
    }
    eprintln!("benches/{bench}: benchmarks run only under `cargo bench` (ci/bench)");
    false
}

/// A bench binary's `main`: under `cargo bench`, runs `benches` with a
/// Criterion configured from the command line, then its summary.
pub fn main(bench: &str, benches: impl FnOnce(&mut Criterion)) {
    if !under_cargo_bench(bench) {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
