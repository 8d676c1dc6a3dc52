//! Criterion benchmarks of snapshots and full-state checkpoints: saving and
//! restoring the default machine's snapshot envelope, and recording a long
//! session with a `State` frame every K steps (K = none, 1024, 256, 64), whose
//! trace sizes are printed as `bench-context:` before timing starts.
//!
//! Run by `ci/bench` (`cargo bench --bench snapshots`), never by `cargo test`:
//! `main` returns at once unless cargo passed `--bench`. Figures:
//! `docs/performance.md`.

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::scenario::{negotiated_reads, negotiation};
use qmpsim::snapshot;
use qmpsim::trace::{record_inputs_with_states, TraceHeader};

/// Steps of the recorded session: long enough for several `State` frames at
/// the default interval.
const SESSION_STEPS: usize = 4096;
/// The `State` intervals compared; 0 writes none.
const STATE_EVERY: [u64; 4] = [0, 1024, 256, 64];

/// The default machine with one negotiated client, as a fresh `qmpsim` has it
/// once a management stack has connected.
fn default_machine() -> Engine {
    let mut e = Engine::new(MachineConfig::default());
    for input in negotiation(ClientId(1)) {
        e.step(input);
    }
    e
}

/// A session of [`SESSION_STEPS`] inputs: negotiate, then a rotation of
/// queries and run-state changes.
fn session() -> Vec<Input> {
    let commands = [
        r#"{"execute":"query-status"}"#,
        r#"{"execute":"stop"}"#,
        r#"{"execute":"query-block"}"#,
        r#"{"execute":"cont"}"#,
    ];
    let reads = (2..SESSION_STEPS).map(|i| commands[i % commands.len()]);
    negotiated_reads(ClientId(1), reads)
}

/// Records `inputs` with a `State` frame every `every` steps; the trace bytes.
fn record(inputs: &[Input], every: u64) -> Vec<u8> {
    let header = TraceHeader::new(MachineConfig::default());
    record_inputs_with_states(&header, inputs, Some(every)).expect("in-memory recording")
}

fn bench_default_snapshot(c: &mut Criterion) {
    let engine = default_machine();
    let bytes = snapshot::save(&engine).expect("the default machine seals");
    let mut group = c.benchmark_group("snapshot_default");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("save", |b| b.iter(|| snapshot::save(black_box(&engine))));
    group.bench_function("restore", |b| {
        b.iter(|| snapshot::restore(black_box(&bytes)))
    });
    group.finish();
}

fn bench_state_checkpoints(c: &mut Criterion, inputs: &[Input]) {
    let mut group = c.benchmark_group("record_with_state_every");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.sample_size(10);
    for every in STATE_EVERY {
        let label = if every == 0 {
            "none".to_owned()
        } else {
            every.to_string()
        };
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| record(black_box(inputs), every));
        });
    }
    group.finish();
}

fn print_context(inputs: &[Input]) {
    let envelope = snapshot::save(&default_machine()).expect("the default machine seals");
    let sizes: Vec<String> = STATE_EVERY
        .iter()
        .map(|&every| format!("every_{every}={}", record(inputs, every).len()))
        .collect();
    println!(
        "bench-context: default_snapshot_bytes={} session_steps={} trace_bytes {}",
        envelope.len(),
        inputs.len(),
        sizes.join(" ")
    );
}

fn main() {
    common::main("snapshots.rs", |c| {
        let inputs = session();
        print_context(&inputs);
        bench_default_snapshot(c);
        bench_state_checkpoints(c, &inputs);
    });
}
