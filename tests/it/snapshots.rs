//! Snapshots as a property: random command sequences interrupted by a snapshot
//! and a restore give the same later outputs as an uninterrupted run. The state
//! moves in process (`snapshot::save`/`restore`), and through the destination
//! side of a migration (a fresh `-incoming` engine fed the source's stream as
//! the edge feeds it: `Input::IncomingPreamble`, then `Input::IncomingState`),
//! and through HMP `savevm`/`loadvm` on a qcow2 disk (what happens in between
//! is undone). `qmpsim replay --from` is checked through the binary.
//! Migration between real processes is in `tests/python/test_migration.py`.

use proptest::prelude::*;

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::snapshot;

/// One step of a random session.
#[derive(Debug, Clone)]
enum Op {
    /// A QMP command (the whole request).
    Qmp(&'static str),
    /// Let this many milliseconds of virtual time pass.
    AdvanceMs(u64),
}

/// Commands whose effects live in the state a snapshot carries.
const COMMANDS: &[&str] = &[
    r#"{"execute":"stop"}"#,
    r#"{"execute":"cont"}"#,
    r#"{"execute":"query-status"}"#,
    r#"{"execute":"system_reset"}"#,
    r#"{"execute":"system_powerdown"}"#,
    r#"{"execute":"eject","arguments":{"device":"ide1-cd0"}}"#,
    r#"{"execute":"query-block"}"#,
    r#"{"execute":"query-cpus"}"#,
    r#"{"execute":"cpu","arguments":{"index":1}}"#,
    r#"{"execute":"human-monitor-command","arguments":{"command-line":"info status"}}"#,
    r#"{"execute":"query-mice"}"#,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::sample::select(COMMANDS).prop_map(Op::Qmp),
        1 => (0_u64..2_000).prop_map(Op::AdvanceMs),
    ]
}

fn config() -> MachineConfig {
    MachineConfig {
        smp: 2,
        ..MachineConfig::default()
    }
}

/// Connects `client` and negotiates; returns the outputs.
fn join(e: &mut Engine, client: ClientId) -> Vec<Output> {
    let mut out = e.step(Input::connect(client));
    out.extend(e.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#)));
    out
}

fn apply(e: &mut Engine, client: ClientId, ops: &[Op]) -> Vec<Output> {
    let mut out = Vec::new();
    for op in ops {
        out.extend(match op {
            Op::Qmp(text) => e.step(Input::bytes(client, text)),
            Op::AdvanceMs(ms) => {
                let at = e.now().plus_ns(ms * 1_000_000);
                e.step(Input::AdvanceTo { at })
            }
        });
    }
    out
}

/// An engine after `before` on client 1.
fn after(before: &[Op]) -> Engine {
    let mut e = Engine::new(config());
    join(&mut e, ClientId(1));
    apply(&mut e, ClientId(1), before);
    e
}

/// What client 2 receives when it joins and runs `later`.
fn later_outputs(e: &mut Engine, later: &[Op]) -> Vec<Output> {
    let mut out = join(e, ClientId(2));
    out.extend(apply(e, ClientId(2), later));
    out.retain(|o| matches!(o, Output::Send { client, .. } if *client == ClientId(2)));
    out
}

/// The destination of a migration of `source`: started with `-incoming`, and
/// with `-S` when the source was paused (as libvirt does), then fed the stream.
fn migrated(source: &Engine) -> Engine {
    let running = source.machine().run_state.is_running();
    let mut dest = Engine::new(MachineConfig {
        incoming: Some("tcp:0:4444".into()),
        start_paused: !running,
        ..config()
    });
    let preamble = source.machine().migration_preamble(Vec::new());
    dest.step(Input::IncomingPreamble { preamble });
    let snapshot = snapshot::save(source).expect("the source's state seals");
    dest.step(Input::IncomingState { snapshot });
    dest
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_restore_in_process_changes_no_later_output(
        before in proptest::collection::vec(op(), 0..10),
        later in proptest::collection::vec(op(), 1..10),
    ) {
        let mut straight = after(&before);
        let expected = later_outputs(&mut straight, &later);
        let bytes = snapshot::save(&after(&before)).expect("state seals");
        let mut restored = snapshot::restore(&bytes).expect("state restores");
        prop_assert_eq!(later_outputs(&mut restored, &later), expected);
        prop_assert_eq!(restored.digest(), straight.digest());
    }

    #[test]
    fn migration_to_a_destination_changes_no_later_output(
        before in proptest::collection::vec(op(), 0..10),
        later in proptest::collection::vec(op(), 1..10),
    ) {
        let source = after(&before);
        // A VM that exited cannot be migrated.
        prop_assume!(source.exited().is_none());
        let expected = later_outputs(&mut after(&before), &later);
        let mut dest = migrated(&source);
        prop_assert_eq!(dest.exited(), None);
        prop_assert_eq!(later_outputs(&mut dest, &later), expected);
    }
}

#[test]
fn destination_refuses_a_source_with_other_ram_and_exits_zero() {
    let source = after(&[]);
    let mut dest = Engine::new(MachineConfig {
        incoming: Some("tcp:0:4444".into()),
        ram_mb: 256,
        ..config()
    });
    let preamble = source.machine().migration_preamble(Vec::new());
    let out = dest.step(Input::IncomingPreamble { preamble });
    assert_eq!(out.last(), Some(&Output::Exit { code: 0 }));
}

#[test]
fn destination_refuses_a_damaged_snapshot_and_exits_zero() {
    let source = after(&[]);
    let mut dest = Engine::new(MachineConfig {
        incoming: Some("tcp:0:4444".into()),
        ..config()
    });
    let mut snapshot = snapshot::save(&source).unwrap();
    snapshot[40] ^= 1;
    let out = dest.step(Input::IncomingState { snapshot });
    assert_eq!(
        out,
        [
            Output::Effect(qmpsim::machine::Effect::Stderr {
                text: "qmpsim: incoming migration: Snapshot checksum mismatch (body damaged)\n"
                    .into()
            }),
            Output::Effect(qmpsim::machine::Effect::Stderr {
                text: "load of migration failed\n".into()
            }),
            Output::Exit { code: 0 }
        ]
    );
}

/// A trace of `n` steps of one client (connect, negotiate, then `query-status`)
/// with a full-state checkpoint every `every` steps, written to `path`.
fn write_trace(path: &std::path::Path, n: usize, every: u64) {
    use qmpsim::trace::{record_inputs_with_states, TraceHeader};
    let reads = (2..n).map(|_| r#"{"execute":"query-status"}"#);
    let inputs = qmpsim::scenario::negotiated_reads(ClientId(1), reads);
    let trace = record_inputs_with_states(&TraceHeader::new(config()), &inputs, Some(every));
    std::fs::write(path, trace.unwrap()).unwrap();
}

fn replay_cli(args: &[&str]) -> (Option<i32>, String) {
    let (code, out, _) = crate::support::qmpsim(&[&["replay"], args].concat());
    (code, out)
}

#[test]
fn replay_from_a_middle_frame_starts_at_the_state_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.qmptrace");
    // States after steps 4 and 8 are frames 4 and 9; frame 11 is step 10.
    write_trace(&path, 12, 4);
    let (code, out) = replay_cli(&["--from", "11", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(": ok from the state at frame 9: 4 of 12 steps replayed, digest "),
        "{out}"
    );
}

#[test]
fn replay_from_with_two_traces_is_refused() {
    let (code, _) = replay_cli(&["--from", "3", "a.qmptrace", "b.qmptrace"]);
    assert_eq!(code, Some(2));
}

/// Commands for the stretch between `savevm` and `loadvm`: everything they
/// change lives in the machine state a snapshot holds. Not `cpu` (its choice
/// belongs to the monitor session), nor `stop`/`cont`: as in 0.14's
/// `do_loadvm`, the run state after a load is the one before it.
const BETWEEN: &[&str] = &[
    r#"{"execute":"system_reset"}"#,
    r#"{"execute":"system_powerdown"}"#,
    r#"{"execute":"eject","arguments":{"device":"ide1-cd0"}}"#,
    r#"{"execute":"query-status"}"#,
];

fn hmp(line: &str) -> Op {
    let text =
        format!(r#"{{"execute":"human-monitor-command","arguments":{{"command-line":"{line}"}}}}"#);
    Op::Qmp(Box::leak(text.into_boxed_str()))
}

/// A machine whose first disk takes snapshots (an `x-virtual` qcow2 image).
fn qcow2_config() -> MachineConfig {
    let mut drive = qmpsim::machine::config::DriveConfig::default();
    drive.opts.push("file", "disk.qcow2");
    drive.opts.push("format", "qcow2");
    drive.opts.push("x-virtual", "on");
    drive.opts.push("x-size", "1G");
    MachineConfig {
        drives: vec![drive],
        ..config()
    }
}

/// Client 1's outputs for `later`, run after `before`, `savevm s`, `middle` and
/// `loadvm s` on a fresh qcow2 machine; `None` when the VM exited first.
fn after_loadvm(before: &[Op], middle: &[Op], later: &[Op]) -> Option<Vec<Output>> {
    let mut e = Engine::new(qcow2_config());
    join(&mut e, ClientId(1));
    apply(&mut e, ClientId(1), before);
    apply(&mut e, ClientId(1), &[hmp("savevm s")]);
    apply(&mut e, ClientId(1), middle);
    apply(&mut e, ClientId(1), &[hmp("loadvm s")]);
    if e.exited().is_some() {
        return None;
    }
    Some(apply(&mut e, ClientId(1), later))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn savevm_then_loadvm_undoes_what_came_between(
        before in proptest::collection::vec(op(), 0..8),
        between in proptest::collection::vec(proptest::sample::select(BETWEEN), 0..6),
        later in proptest::collection::vec(op(), 1..8),
    ) {
        // The same number of messages either way, so virtual time agrees.
        let quiet = vec![Op::Qmp(r#"{"execute":"query-status"}"#); between.len()];
        let detour: Vec<Op> = between.iter().map(|c| Op::Qmp(c)).collect();
        let straight = after_loadvm(&before, &quiet, &later);
        prop_assume!(straight.is_some());
        prop_assert_eq!(after_loadvm(&before, &detour, &later), straight);
    }
}
