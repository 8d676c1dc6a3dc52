//! Criterion benchmarks of replay: throughput in transactions per second on one
//! core (one large trace, and many small ones), scaling of the corpus runner
//! from one to two workers over 1,000 trace files, and trace bytes per
//! transaction against the raw JSON bytes exchanged (printed, not timed).
//!
//! Run by `ci/bench` (`cargo bench --bench replay`), never by `cargo test`: the
//! custom `main` returns at once unless cargo passed `--bench`. A *transaction*
//! is one QMP command a client sent and the reply it got (with any events the
//! command gave rise to). Figures and how to read them: `docs/performance.md`.

mod common;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput};
use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::replay::corpus::{replay_files_with, RunOptions};
use qmpsim::trace::{record_inputs, TraceHeader};

/// Transactions in the large trace.
const LARGE_TRANSACTIONS: usize = 100_000;
/// Small traces, and transactions in each.
const SMALL_TRACES: usize = 1_000;
/// Transactions in each small trace.
const SMALL_TRANSACTIONS: usize = 20;
/// Trace files for the scaling benchmark (at least 1,000, as the aim asks).
const SCALING_TRACES: usize = 1_000;

/// The commands a transaction cycles through: cheap queries and state changes
/// with events, as a test suite sends them.
const COMMANDS: [&str; 8] = [
    r#"{"execute":"query-status"}"#,
    r#"{"execute":"query-name"}"#,
    r#"{"execute":"stop"}"#,
    r#"{"execute":"query-kvm"}"#,
    r#"{"execute":"cont"}"#,
    r#"{"execute":"query-version"}"#,
    r#"{"execute":"query-status","id":7}"#,
    r#"{"execute":"query-uuid"}"#,
];

/// Inputs of a session with `transactions` commands after negotiation (the
/// negotiation counts as one transaction).
fn session(transactions: usize) -> Vec<Input> {
    let reads = (1..transactions).map(|i| COMMANDS[i % COMMANDS.len()]);
    qmpsim::scenario::negotiated_reads(ClientId(1), reads)
}

fn record(transactions: usize) -> Vec<u8> {
    record_inputs(
        &TraceHeader::new(MachineConfig::default()),
        &session(transactions),
    )
    .expect("the session records")
}

/// Bytes the clients sent plus bytes they were sent, over a whole session.
fn raw_json_bytes(inputs: &[Input]) -> usize {
    let mut engine = Engine::new(MachineConfig::default());
    let mut total = 0;
    for input in inputs {
        if let Input::Bytes { data, .. } = input {
            total += data.len();
        }
        for output in engine.step(input.clone()) {
            if let Output::Send { data, .. } = output {
                total += data.len();
            }
        }
    }
    total
}

fn bench_throughput(c: &mut Criterion) {
    let large = record(LARGE_TRANSACTIONS);
    let small = record(SMALL_TRANSACTIONS);
    let mut group = c.benchmark_group("replay_one_core");
    group.sample_size(10);
    group.throughput(Throughput::Elements(LARGE_TRANSACTIONS as u64));
    group.bench_function("one_large_trace", |b| {
        b.iter(|| qmpsim::replay::replay(black_box(&large[..])).expect("it replays"));
    });
    group.throughput(Throughput::Elements(
        (SMALL_TRACES * SMALL_TRANSACTIONS) as u64,
    ));
    group.bench_function("many_small_traces", |b| {
        b.iter(|| {
            for _ in 0..SMALL_TRACES {
                qmpsim::replay::replay(black_box(&small[..])).expect("it replays");
            }
        });
    });
    group.finish();
    let inputs = session(LARGE_TRANSACTIONS);
    let raw = raw_json_bytes(&inputs);
    println!(
        "bench-context: large_trace_bytes={} raw_json_bytes={raw} transactions={LARGE_TRANSACTIONS} \
         trace_bytes_per_transaction={:.1} raw_json_bytes_per_transaction={:.1} trace_over_raw={:.3}",
        large.len(),
        large.len() as f64 / LARGE_TRANSACTIONS as f64,
        raw as f64 / LARGE_TRANSACTIONS as f64,
        large.len() as f64 / raw as f64,
    );
    let small_raw = raw_json_bytes(&session(SMALL_TRANSACTIONS));
    println!(
        "bench-context: small_trace_bytes={} small_raw_json_bytes={small_raw} small_trace_over_raw={:.3}",
        small.len(),
        small.len() as f64 / small_raw as f64,
    );
}

fn bench_scaling(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let trace = record(SMALL_TRANSACTIONS);
    let files: Vec<PathBuf> = (0..SCALING_TRACES)
        .map(|i| {
            let path = dir.path().join(format!("t{i:04}.qmptrace"));
            std::fs::write(&path, &trace).expect("the trace is written");
            path
        })
        .collect();
    let mut group = c.benchmark_group("replay_corpus_workers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        (SCALING_TRACES * SMALL_TRANSACTIONS) as u64,
    ));
    for jobs in [1, 2] {
        let options = RunOptions {
            jobs,
            ..RunOptions::default()
        };
        group.bench_function(format!("{jobs}"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let report = replay_files_with(&files, &options, &|_, _| {});
                    assert!(report.all_passed());
                    report
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn main() {
    common::main("replay.rs", |c| {
        bench_throughput(c);
        bench_scaling(c);
    });
}
