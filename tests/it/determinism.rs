//! Determinism self-check: every scenario runs twice; output bytes and the state
//! digest must match, and chunking the client's bytes differently must change
//! nothing. Failures print the scenario name and seed needed to reproduce.

use qmpsim::engine::{sent_bytes, Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;

use crate::scenarios::{Scenario, SCENARIOS};

/// Runs a scenario with the client's bytes cut into reads by `chunk` (0 = one read
/// per line) and returns every output and the final digest.
fn run(s: &Scenario, chunk: usize) -> (Vec<Output>, String) {
    let config = (s.config)();
    let mut engine = Engine::new(config);
    let client = ClientId(1);
    let mut out = engine.step(Input::connect(client));
    let mut bytes = Vec::new();
    for line in s.lines {
        if chunk == 0 {
            out.extend(engine.step(Input::bytes(client, line)));
        } else {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
    }
    for piece in bytes.chunks(chunk.max(1)) {
        out.extend(engine.step(Input::bytes(client, piece)));
    }
    for _ in 0..s.idle_advances {
        if let Some(at) = engine.next_deadline() {
            out.extend(engine.step(Input::AdvanceTo { at }));
        }
    }
    (out, engine.digest())
}

#[test]
fn determinism_every_scenario_twice_gives_same_bytes_and_digest() {
    for s in SCENARIOS {
        let a = run(s, 0);
        let b = run(s, 0);
        assert_eq!(
            a,
            b,
            "scenario {} (seed {}) differs between runs",
            s.name,
            (s.config)().seed
        );
    }
}

#[test]
fn determinism_chunking_does_not_change_bytes_or_digest() {
    for s in SCENARIOS {
        let one_byte = run(s, 1);
        let seven = run(s, 7);
        let whole = run(s, 1 << 20);
        assert_eq!(
            sent_bytes(&one_byte.0),
            sent_bytes(&whole.0),
            "scenario {}",
            s.name
        );
        assert_eq!(
            one_byte.1, whole.1,
            "scenario {} digest, 1-byte vs whole",
            s.name
        );
        assert_eq!(
            seven.1, whole.1,
            "scenario {} digest, 7-byte vs whole",
            s.name
        );
    }
}

#[test]
fn determinism_different_seed_same_qmp_bytes_for_seedless_scenario() {
    let s = &SCENARIOS[0];
    let mut other = s.clone();
    other.config = || MachineConfig {
        seed: 99,
        ..MachineConfig::default()
    };
    assert_eq!(sent_bytes(&run(s, 0).0), sent_bytes(&run(&other, 0).0));
}
