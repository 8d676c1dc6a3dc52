//! Criterion benchmarks of snapshots and full-state checkpoints: saving and
//! restoring the default machine's snapshot envelope, and recording a long
//! session with a `State` frame every K steps (K = none, 1024, 256, 64), whose
//! trace sizes are printed as `bench-context:` before timing starts.
//!
//! Run by `ci/bench` (`cargo bench --bench snapshots`), never by `cargo test`:
//! `main` returns at once unless cargo passed `--bench`. Figures:
//! `docs/performance.md`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::snapshot;
use qmpsim::trace::{TraceHeader, TraceWriter};

/// Steps of the recorded session: long enough for several `State` frames at
/// the default interval.
const SESSION_STEPS: usize = 4096;
/// The `State` intervals compared; 0 writes none.
const STATE_EVERY: [u64; 4] = [0, 1024, 256, 64];

/// The default machine with one negotiated client, as a fresh `qmpsim` has it
/// once a management stack has connected.
fn default_machine() -> Engine {
    let mut e = Engine::new(MachineConfig::default());
    let client = ClientId(1);
    e.step(Input::Connect { client, monitor: 0 });
    e.step(Input::Bytes {
        client,
        data: br#"{"execute":"qmp_capabilities"}"#.to_vec(),
    });
    e
}

/// A session of [`SESSION_STEPS`] inputs: negotiate, then a rotation of
/// queries and run-state changes.
fn session() -> Vec<Input> {
    let client = ClientId(1);
    let commands: [&[u8]; 4] = [
        br#"{"execute":"query-status"}"#,
        br#"{"execute":"stop"}"#,
        br#"{"execute":"query-block"}"#,
        br#"{"execute":"cont"}"#,
    ];
    let mut inputs = vec![
        Input::Connect { client, monitor: 0 },
        Input::Bytes {
            client,
            data: br#"{"execute":"qmp_capabilities"}"#.to_vec(),
        },
    ];
    inputs.extend((2..SESSION_STEPS).map(|i| Input::Bytes {
        client,
        data: commands[i % commands.len()].to_vec(),
    }));
    inputs
}

/// Records `inputs` with a `State` frame every `every` steps; the trace bytes.
fn record(inputs: &[Input], every: u64) -> Vec<u8> {
    let config = MachineConfig::default();
    let mut engine = Engine::new(config.clone());
    let mut w = TraceWriter::new(Vec::new(), &TraceHeader::new(config)).expect("header writes");
    w.set_state_every_steps(every);
    for input in inputs {
        let outputs = engine.step(input.clone());
        w.record_and_checkpoint(input, &outputs, &engine)
            .expect("in-memory recording");
    }
    w.finish_with(&engine).expect("in-memory recording")
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
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("benches/snapshots.rs: benchmarks run only under `cargo bench` (ci/bench)");
        return;
    }
    let inputs = session();
    print_context(&inputs);
    let mut c = Criterion::default().configure_from_args();
    bench_default_snapshot(&mut c);
    bench_state_checkpoints(&mut c, &inputs);
    c.final_summary();
}
