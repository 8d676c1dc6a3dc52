//! Criterion benchmarks of the pure core: framing, dispatch through `Engine::step`,
//! event broadcast, `Engine::digest`, snapshots, and trace record and replay.
//!
//! Run by `ci/bench` (`cargo bench --bench engine`), never by `cargo test`: the
//! custom `main` returns at once unless cargo passed `--bench`, so
//! `cargo test --all-targets` only checks that this file compiles. Every input is
//! built in memory or read from `traces/lifecycle.qmptrace` before timing starts;
//! nothing here touches a socket. Figures and how to read them:
//! `docs/performance.md`.

mod common;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use qmpsim::engine::{sent_bytes, Engine, Input, CLIENTS_MAX};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::snapshot;
use qmpsim::trace::{self, Frame, TraceHeader, TraceReader};
use qmpsim::wire::framing::Framer;

/// The recorded VM lifecycle every trace and snapshot benchmark starts from.
const LIFECYCLE_TRACE_PATH: &str = "traces/lifecycle.qmptrace";
/// Size the framing corpus is repeated up to, in bytes (about 64 KiB).
const FRAMING_CORPUS_BYTES_MIN: usize = 64 * 1024;
/// Client counts for the broadcast benchmark: one, a few, and the engine's limit.
const BROADCAST_CLIENT_COUNTS: [usize; 3] = [1, 8, CLIENTS_MAX];

/// The lifecycle trace, read once: its bytes, header and inputs.
struct Lifecycle {
    bytes: Vec<u8>,
    header: TraceHeader,
    inputs: Vec<Input>,
}

fn load_lifecycle() -> Lifecycle {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LIFECYCLE_TRACE_PATH);
    let bytes = std::fs::read(&path).expect("traces/lifecycle.qmptrace is in the repository");
    let (mut reader, header) = TraceReader::open(&bytes[..]).expect("the corpus trace is valid");
    let mut inputs = Vec::new();
    while let Some(frame) = reader.next_frame().expect("the corpus trace is valid") {
        if let Frame::Step { input, .. } = frame {
            inputs.push(input);
        }
    }
    Lifecycle {
        bytes,
        header,
        inputs,
    }
}

/// Every byte the lifecycle's clients sent, in order, repeated to at least
/// [`FRAMING_CORPUS_BYTES_MIN`]: real QMP requests with their whitespace.
fn framing_corpus(lifecycle: &Lifecycle) -> Vec<u8> {
    let sent: Vec<u8> = lifecycle
        .inputs
        .iter()
        .filter_map(|input| match input {
            Input::Bytes { data, .. } => Some(data.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    assert!(!sent.is_empty(), "the lifecycle trace has client bytes");
    let mut corpus = Vec::with_capacity(FRAMING_CORPUS_BYTES_MIN + sent.len());
    while corpus.len() < FRAMING_CORPUS_BYTES_MIN {
        corpus.extend_from_slice(&sent);
    }
    corpus
}

/// A default `pc` machine with `clients` negotiated clients, numbered from 1.
fn negotiated_engine(clients: usize) -> Engine {
    let mut engine = Engine::new(MachineConfig::default());
    for n in 1..=clients {
        let client = ClientId(u32::try_from(n).expect("client counts are small"));
        engine.step(Input::connect(client));
        let out = engine.step(bytes_input(client, r#"{"execute":"qmp_capabilities"}"#));
        assert_eq!(
            sent_bytes(&out),
            b"{\"return\": {}}\r\n",
            "negotiation failed"
        );
    }
    engine
}

fn bytes_input(client: ClientId, line: &str) -> Input {
    Input::bytes(client, line)
}

fn bench_framing(c: &mut Criterion, lifecycle: &Lifecycle) {
    let corpus = framing_corpus(lifecycle);
    let messages = Framer::new().feed(&corpus).len();
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.bench_function("whole", |b| {
        b.iter(|| {
            let frames = Framer::new().feed(black_box(&corpus));
            assert_eq!(frames.len(), messages);
            frames
        })
    });
    // The engine feeds its framer one byte at a time (so that nothing after an
    // exit is consumed), so this is the figure that applies to `Engine::step`.
    group.bench_function("byte_at_a_time", |b| {
        b.iter(|| {
            let mut framer = Framer::new();
            let mut count = 0;
            for byte in black_box(&corpus) {
                count += framer.feed(std::slice::from_ref(byte)).len();
            }
            assert_eq!(count, messages);
            count
        })
    });
    group.finish();
}

fn bench_dispatch(c: &mut Criterion) {
    let client = ClientId(1);
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(1));
    for command in ["query-status", "query-commands", "query-pci"] {
        let line = format!(r#"{{"execute":"{command}"}}"#);
        let mut engine = negotiated_engine(1);
        let reply = sent_bytes(&engine.step(bytes_input(client, &line)));
        assert!(reply.starts_with(b"{\"return\": "), "{command} failed");
        let data = line.into_bytes();
        group.bench_function(command, |b| {
            b.iter_batched(
                || data.clone(),
                |data| engine.step(Input::Bytes { client, data }),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bench_broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_stop_cont");
    for clients in BROADCAST_CLIENT_COUNTS {
        let mut engine = negotiated_engine(clients);
        let first = ClientId(1);
        // One STOP and one RESUME event to every client per iteration.
        group.throughput(Throughput::Elements(2 * clients as u64));
        group.bench_with_input(BenchmarkId::from_parameter(clients), &clients, |b, &n| {
            b.iter(|| {
                let stop = engine.step(bytes_input(first, r#"{"execute":"stop"}"#));
                let cont = engine.step(bytes_input(first, r#"{"execute":"cont"}"#));
                assert_eq!(stop.len() + cont.len(), 2 * n + 2, "one event per client");
                (stop, cont)
            })
        });
    }
    group.finish();
}

/// The engine after the whole lifecycle trace (more state than a fresh machine).
fn lifecycle_engine(lifecycle: &Lifecycle) -> Engine {
    let mut engine = Engine::new(lifecycle.header.config.clone());
    for input in &lifecycle.inputs {
        engine.step(input.clone());
    }
    engine
}

fn bench_digest_and_snapshot(c: &mut Criterion, lifecycle: &Lifecycle) {
    let engines = [
        ("fresh_pc", negotiated_engine(1)),
        ("after_lifecycle", lifecycle_engine(lifecycle)),
    ];
    let mut group = c.benchmark_group("digest");
    for (name, engine) in &engines {
        group.throughput(Throughput::Bytes(engine.encode_state().len() as u64));
        group.bench_function(*name, |b| b.iter(|| black_box(engine).digest()));
    }
    group.finish();
    let mut group = c.benchmark_group("snapshot");
    for (name, engine) in &engines {
        let saved = snapshot::save(engine).expect("a live engine saves");
        group.throughput(Throughput::Bytes(saved.len() as u64));
        group.bench_function(format!("save/{name}"), |b| {
            b.iter(|| snapshot::save(black_box(engine)).expect("a live engine saves"))
        });
        group.bench_function(format!("restore/{name}"), |b| {
            b.iter(|| snapshot::restore(black_box(&saved)).expect("a fresh snapshot restores"))
        });
    }
    group.finish();
}

fn bench_trace(c: &mut Criterion, lifecycle: &Lifecycle) {
    let recorded = trace::record_inputs(&lifecycle.header, &lifecycle.inputs)
        .expect("the lifecycle inputs record");
    assert_eq!(
        recorded, lifecycle.bytes,
        "recording reproduces the corpus trace"
    );
    let mut group = c.benchmark_group("trace_lifecycle");
    group.throughput(Throughput::Elements(lifecycle.inputs.len() as u64));
    group.bench_function("record", |b| {
        b.iter(|| trace::record_inputs(&lifecycle.header, black_box(&lifecycle.inputs)))
    });
    group.bench_function("read", |b| {
        b.iter(|| {
            let (reader, _) = TraceReader::open(black_box(&lifecycle.bytes[..])).expect("valid");
            reader.count()
        })
    });
    group.bench_function("replay", |b| {
        b.iter(|| qmpsim::replay::replay(black_box(&lifecycle.bytes[..])).expect("byte-exact"))
    });
    group.finish();
}

/// One line on stderr with the sizes the figures depend on, for the report.
fn print_context(lifecycle: &Lifecycle) {
    let mut engine = negotiated_engine(1);
    let mut reply_bytes = |command: &str| {
        let line = format!(r#"{{"execute":"{command}"}}"#);
        sent_bytes(&engine.step(bytes_input(ClientId(1), &line))).len()
    };
    let (status, commands, pci) = (
        reply_bytes("query-status"),
        reply_bytes("query-commands"),
        reply_bytes("query-pci"),
    );
    let fresh = negotiated_engine(1);
    let after = lifecycle_engine(lifecycle);
    eprintln!(
        "bench-context: framing_corpus_bytes={} reply_bytes query-status={status} \
         query-commands={commands} query-pci={pci} state_bytes fresh_pc={} \
         after_lifecycle={} lifecycle_trace_bytes={} lifecycle_steps={}",
        framing_corpus(lifecycle).len(),
        fresh.encode_state().len(),
        after.encode_state().len(),
        lifecycle.bytes.len(),
        lifecycle.inputs.len(),
    );
}

fn main() {
    common::main("engine.rs", |c| {
        let lifecycle = load_lifecycle();
        print_context(&lifecycle);
        bench_framing(c, &lifecycle);
        bench_dispatch(c);
        bench_broadcast(c);
        bench_digest_and_snapshot(c, &lifecycle);
        bench_trace(c, &lifecycle);
    });
}
