//! Whole sessions of structured-random requests built from the command table
//! (right and wrong argument types, missing and extra arguments, odd ids) and of
//! HMP command lines, and the properties a session must have:
//! - exactly one response per request, with the request's id, in order; events
//!   never carry an id;
//! - no panic, and the session answers afterwards, for huge strings and deep
//!   nesting too, with the engine's state staying small;
//! - determinism: the same session twice, and under any re-chunking of its
//!   input, gives the same bytes to each client and the same digest;
//! - replay round trip: the session, recorded, replays byte-exact;
//! - snapshot round trip: saved and restored at a random point, the rest of the
//!   session gives the same outputs and digest;
//! - the trace reader and the snapshot decoder, given arbitrary or mutated
//!   bytes, return errors and never panic.

use std::collections::BTreeMap;

use proptest::prelude::*;
use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::qmp::table::COMMANDS;
use qmpsim::trace::{record_inputs, TraceHeader, TraceReader};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::dispatch::rich_machine;
use crate::failtrace;

const ONE: ClientId = ClientId(1);
const TWO: ClientId = ClientId(2);

/// Largest state, in encoded bytes, a fuzzed session may leave behind.
const STATE_BYTES_BOUND: usize = 4 << 20;

/// A JSON value of the right type for an `args_type` letter (0.14's letters).
fn right_value(ty: &str) -> BoxedStrategy<Value> {
    let letter = ty.trim_start_matches('-').chars().next().unwrap_or('s');
    match letter {
        'i' | 'l' | 'o' => prop_oneof![Just(0i64), 1i64..4096, any::<i64>()]
            .prop_map(Value::from)
            .boxed(),
        // `balloon`'s value: 0 is 0.14's two-response stats quirk, left out.
        'M' => (1i64..1 << 40).prop_map(Value::from).boxed(),
        'T' => prop_oneof![(0i64..100).prop_map(Value::from), Just(Value::from(0.5))].boxed(),
        'b' | 'f' | 'x' | 'y' | 'a' if ty.starts_with('-') || letter == 'b' => {
            any::<bool>().prop_map(Value::from).boxed()
        }
        'O' => Just(Value::from("user")).boxed(),
        _ => prop_oneof![
            Just("ide1-cd0"),
            Just("ide0-hd0"),
            Just("vnc"),
            Just("spice"),
            Just("keep"),
            Just("e1000"),
            Just("user"),
            Just("tcp:127.0.0.1:4444"),
            Just("info status"),
            Just("now"),
            Just("+5"),
            Just("x"),
            Just(""),
        ]
        .prop_map(Value::from)
        .boxed(),
    }
}

/// Any JSON value 0.14 parses (no `null`: 0.14 refuses it), nested up to `depth`.
fn any_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request from the command table: each declared argument present with the
/// right type, or left out, or of a wrong type; sometimes an extra argument;
/// sometimes an unknown command. `quit` is never sent.
fn table_request() -> impl Strategy<Value = (String, serde_json::Map<String, Value>)> {
    let commands: Vec<(&'static str, &'static str)> = COMMANDS
        .iter()
        .filter(|c| c.name != "quit")
        .map(|c| (c.name, c.args_type))
        .collect();
    (prop::sample::select(commands), "[a-z-]{1,10}").prop_flat_map(
        |((name, args_type), unknown)| {
            let specs: Vec<(String, String)> = args_type
                .split(',')
                .filter_map(|i| i.split_once(':'))
                .map(|(n, t)| (n.to_owned(), t.to_owned()))
                .collect();
            let args: Vec<BoxedStrategy<Option<(String, Value)>>> = specs
                .into_iter()
                .map(|(n, t)| {
                    let right = right_value(&t);
                    let n2 = n.clone();
                    prop_oneof![
                        6 => right.prop_map(move |v| Some((n.clone(), v))),
                        1 => Just(None),
                        1 => any_value(2).prop_map(move |v| Some((n2.clone(), v))),
                    ]
                    .boxed()
                })
                .collect();
            let extra = prop::option::weighted(0.1, ("[a-z-]{1,8}", any_value(1)));
            let name = prop_oneof![9 => Just(name.to_owned()), 1 => Just(unknown)];
            (name, args, extra).prop_map(|(name, args, extra)| {
                let mut map: serde_json::Map<String, Value> = args.into_iter().flatten().collect();
                if let Some((k, v)) = extra {
                    map.insert(k, v);
                }
                (name, map)
            })
        },
    )
}

/// The HMP command names, as `help` lists them (first name of each line).
fn hmp_names() -> Vec<String> {
    let mut e = Engine::new(MachineConfig::default());
    e.step(Input::connect(ONE));
    e.step(Input::bytes(ONE, br#"{"execute":"qmp_capabilities"}"#));
    let out = e.step(Input::Bytes {
        client: ONE,
        data: br#"{"execute":"human-monitor-command","arguments":{"command-line":"help"}}"#
            .to_vec(),
    });
    let reply = lines_to(&out, ONE).pop().unwrap_or(Value::Null);
    let names: Vec<String> = reply["return"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.split('|').next().unwrap_or(w).to_owned())
        .collect();
    assert!(names.len() > 20, "help lists the HMP commands: {reply}");
    names
}

/// An HMP command line: a command name from the HMP table and random words.
fn hmp_line() -> impl Strategy<Value = String> {
    let names: Vec<String> = hmp_names()
        .into_iter()
        .filter(|n| !matches!(n.as_str(), "quit" | "q"))
        .collect();
    let word = prop_oneof![
        "[a-z0-9_.-]{1,8}",
        "-?[0-9]{1,20}",
        Just("$pc".to_owned()),
        Just("$eax".to_owned()),
        Just("1+2*(3".to_owned()),
        Just("0x10/0".to_owned()),
        Just("\"quoted \\\" str\"".to_owned()),
        Just("/x".to_owned()),
        Just("-f".to_owned()),
        Just("ide1-cd0".to_owned()),
        Just("status".to_owned()),
        "[ -~]{0,6}",
    ];
    (
        prop::sample::select(names),
        prop::collection::vec(word, 0..5),
    )
        .prop_map(|(name, words)| format!("{name} {}", words.join(" ")).trim_end().to_owned())
}

/// An id of an odd shape that still says which request it belongs to.
fn id_for(n: usize, shape: u8) -> Value {
    match shape % 6 {
        0 => Value::from(n),
        1 => Value::from(format!("req-{n}")),
        2 => serde_json::json!([n, "x", {"deep": [[n]]}]),
        3 => serde_json::json!({"n": n, "a": {"b": [true, false]}}),
        // Characters outside the BMP are left out: 0.14 reads a 4-byte UTF-8
        // sequence as a 3-byte one and a stray byte, so they do not echo back.
        4 => Value::from(format!("\u{e9}\u{7ff}\u{fffd}{n}\u{0001}")),
        _ => Value::from(n as f64 + 0.5),
    }
}

/// A request: from the table, or an HMP line through `human-monitor-command`.
fn request() -> impl Strategy<Value = (String, serde_json::Map<String, Value>)> {
    prop_oneof![
        4 => table_request(),
        1 => hmp_line().prop_map(|line| {
            let mut m = serde_json::Map::new();
            m.insert("command-line".to_owned(), Value::from(line));
            ("human-monitor-command".to_owned(), m)
        }),
    ]
}

/// Requests with their ids, as JSON text.
fn requests() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec((request(), any::<u8>()), 1..12).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(n, ((name, args), shape))| {
                let id = id_for(n, shape);
                let text = serde_json::json!({"execute": name, "arguments": args, "id": id});
                (text.to_string(), id)
            })
            .collect()
    })
}

fn lines_to(outputs: &[Output], to: ClientId) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { client, data } if *client == to => Some(data),
            _ => None,
        })
        .flat_map(|d| {
            String::from_utf8_lossy(d)
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_str::<Value>(l).unwrap_or(Value::Null))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Connect two clients, negotiate both, then the requests from client one with
/// client two's `query-status` between them, each request in its own read.
fn session_inputs(reqs: &[(String, Value)]) -> Vec<Input> {
    let bytes = |c, s: &str| Input::Bytes {
        client: c,
        data: format!("{s}\n").into_bytes(),
    };
    let mut inputs = vec![
        Input::connect(ONE),
        bytes(ONE, r#"{"execute":"qmp_capabilities"}"#),
        Input::connect(TWO),
        bytes(TWO, r#"{"execute":"qmp_capabilities"}"#),
    ];
    for (i, (text, _)) in reqs.iter().enumerate() {
        inputs.push(bytes(ONE, text));
        if i % 3 == 2 {
            inputs.push(bytes(TWO, r#"{"execute":"query-status","id":"two"}"#));
        }
    }
    inputs
}

fn run(config: &MachineConfig, inputs: &[Input]) -> (Engine, Vec<Output>) {
    let mut e = Engine::new(config.clone());
    let mut all = Vec::new();
    for input in inputs {
        all.extend(e.step(input.clone()));
    }
    (e, all)
}

/// The bytes each client received, and the effects, in order.
fn streams(outputs: &[Output]) -> (BTreeMap<u32, Vec<u8>>, Vec<String>) {
    let mut sent: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut other = Vec::new();
    for o in outputs {
        match o {
            Output::Send { client, data } => sent.entry(client.0).or_default().extend(data),
            o => other.push(format!("{o:?}")),
        }
    }
    (sent, other)
}

/// `inputs` with every `Bytes` input cut at the given sizes.
fn rechunk(inputs: &[Input], cuts: &[usize]) -> Vec<Input> {
    let mut out = Vec::new();
    let mut k = 0;
    for input in inputs {
        match input {
            Input::Bytes { client, data } => {
                let mut rest: &[u8] = data;
                while !rest.is_empty() {
                    let n = cuts[k % cuts.len()].min(rest.len());
                    k += 1;
                    out.push(Input::Bytes {
                        client: *client,
                        data: rest[..n].to_vec(),
                    });
                    rest = &rest[n..];
                }
            }
            other => out.push(other.clone()),
        }
    }
    out
}

fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8, u8)]) {
    for &(at, value, kind) in edits {
        if bytes.is_empty() {
            bytes.push(value);
            continue;
        }
        let at = at % bytes.len();
        match kind % 4 {
            0 => bytes[at] ^= value | 1,
            1 => bytes.truncate(at),
            2 => bytes.insert(at, value),
            _ => {
                bytes.remove(at);
            }
        }
    }
}

/// Cases per session property in CI (each runs whole sessions).
const SESSION_CASES: u32 = 64;
/// Cases of the megabyte-message property in CI.
const HUGE_CASES: u32 = 8;

proptest! {
    #![proptest_config(crate::config_with("fuzz/regressions/session.txt", SESSION_CASES))]

    #[test]
    fn session_one_response_per_request_with_its_id_in_order(reqs in requests()) {
        let config = rich_machine();
        let inputs = session_inputs(&reqs);
        let (e, outputs) = run(&config, &inputs);
        let ones = lines_to(&outputs, ONE);
        let replies: Vec<&Value> = ones
            .iter()
            .filter(|v| v.get("event").is_none() && v.get("QMP").is_none())
            .collect();
        let events_with_id = lines_to(&outputs, ONE)
            .into_iter()
            .chain(lines_to(&outputs, TWO))
            .filter(|v| v.get("event").is_some() && v.get("id").is_some())
            .count();
        // Negotiation's reply, then one per request with the request's id.
        let ids_ok = replies.len() == reqs.len() + 1
            && replies[1..].iter().zip(&reqs).all(|(r, (_, id))| r.get("id") == Some(id));
        let ok = e.exited().is_none() && ids_ok && events_with_id == 0;
        failtrace::check(ok, "session_one_response_per_request_with_its_id_in_order", &config, &inputs, || {
            format!("{} requests, replies {replies:?}, {events_with_id} events with an id", reqs.len())
        })?;
    }

    #[test]
    fn session_same_bytes_and_digest_twice_and_under_any_chunking(
        reqs in requests(),
        cuts in prop::collection::vec(1usize..24, 1..16),
    ) {
        let config = rich_machine();
        let inputs = session_inputs(&reqs);
        let (a, out_a) = run(&config, &inputs);
        let (b, out_b) = run(&config, &inputs);
        let chunked = rechunk(&inputs, &cuts);
        let (c, out_c) = run(&config, &chunked);
        let ok = out_a == out_b
            && a.digest() == b.digest()
            && streams(&out_a) == streams(&out_c)
            && a.digest() == c.digest();
        failtrace::check(ok, "session_same_bytes_and_digest_twice_and_under_any_chunking", &config, &chunked, || {
            "runs differ".to_owned()
        })?;
    }

    #[test]
    fn session_recorded_replays_byte_exact(reqs in requests()) {
        let config = rich_machine();
        let inputs = session_inputs(&reqs);
        let trace = record_inputs(&TraceHeader::new(config.clone()), &inputs).expect("in memory");
        let (e, _) = run(&config, &inputs);
        let replayed = qmpsim::replay::replay(&trace[..]);
        prop_assert!(replayed.as_ref().is_ok_and(|r| r.digest == e.digest()), "{:?}", replayed.err().map(|e| e.to_string()));
    }

    #[test]
    fn session_snapshot_round_trip_at_a_random_point(reqs in requests(), at in any::<prop::sample::Index>()) {
        let config = rich_machine();
        let inputs = session_inputs(&reqs);
        let cut = at.index(inputs.len() + 1);
        let (mut whole, _) = run(&config, &inputs[..cut]);
        let bytes = qmpsim::snapshot::save(&whole).expect("saves");
        let mut restored = qmpsim::snapshot::restore(&bytes).expect("restores");
        prop_assert_eq!(restored.digest(), whole.digest());
        for input in &inputs[cut..] {
            let a = whole.step(input.clone());
            let b = restored.step(input.clone());
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(restored.digest(), whole.digest());
    }

}

proptest! {
    #![proptest_config(crate::config_with("fuzz/regressions/session.txt", HUGE_CASES))]

    #[test]
    fn session_huge_strings_and_deep_nesting_do_not_break_it(
        size in prop_oneof![0usize..64, 1000usize..4096, Just(qmpsim::wire::framing::MESSAGE_BYTES_MAX - 40), Just(qmpsim::wire::framing::MESSAGE_BYTES_MAX + 1)],
        depth in prop_oneof![0usize..8, Just(qmpsim::wire::framing::NESTING_DEPTH_MAX - 2), Just(qmpsim::wire::framing::NESTING_DEPTH_MAX + 5)],
        name in prop::sample::select(COMMANDS.iter().filter(|c| c.name != "quit").map(|c| c.name).collect::<Vec<_>>()),
        key in "[a-z-]{1,8}",
    ) {
        let config = rich_machine();
        let huge = "a".repeat(size);
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(
            "{{\"execute\":\"{name}\",\"arguments\":{{\"{key}\":\"{huge}\",\"deep\":{nested}}},\"id\":{nested}}}\n\
             {{\"execute\":\"query-version\",\"id\":\"probe\"}}\n"
        );
        let inputs = vec![
            Input::connect(ONE),
            Input::bytes(ONE, br#"{"execute":"qmp_capabilities"}"#),
            Input::bytes(ONE, text),
        ];
        let (e, outputs) = run(&config, &inputs);
        let last = lines_to(&outputs, ONE).into_iter().rev().find(|v| v.get("event").is_none());
        let answered = last.as_ref().is_some_and(|v| v.get("id") == Some(&Value::from("probe")) && v.get("return").is_some());
        let small = e.encode_state().len() < STATE_BYTES_BOUND;
        let ok = e.exited().is_none() && answered && small;
        failtrace::check(ok, "session_huge_strings_and_deep_nesting_do_not_break_it", &config, &inputs, || {
            format!("probe answered: {answered}, state under {STATE_BYTES_BOUND} bytes: {small}")
        })?;
    }

}

proptest! {
    #![proptest_config(crate::config_with("fuzz/regressions/session.txt", SESSION_CASES))]

    #[test]
    fn trace_reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok((mut reader, _)) = TraceReader::open(&bytes[..]) {
            for _ in 0..1000 {
                match reader.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        prop_assert!(qmpsim::replay::replay(&bytes[..]).is_err());
    }

    #[test]
    fn trace_reader_and_replay_reject_mutated_traces(
        reqs in requests(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let config = MachineConfig::default();
        let trace = record_inputs(&TraceHeader::new(config), &session_inputs(&reqs)).expect("in memory");
        let mut bad = trace.clone();
        mutate(&mut bad, &edits);
        let result = qmpsim::replay::replay(&bad[..]);
        prop_assert!(bad == trace || result.is_err(), "a mutated trace replayed");
    }

    #[test]
    fn snapshot_decoder_never_panics_on_arbitrary_or_mutated_bytes(
        junk in prop::collection::vec(any::<u8>(), 0..256),
        reqs in requests(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        prop_assert!(qmpsim::snapshot::restore(&junk).is_err());
        let (e, _) = run(&MachineConfig::default(), &session_inputs(&reqs));
        let good = qmpsim::snapshot::save(&e).expect("saves");
        // Damage the body and then fix the envelope (length and checksum), so the
        // decoder itself sees the damage.
        let prefix = qmpsim::snapshot::SNAPSHOT_PREFIX_BYTES;
        let hash = qmpsim::snapshot::SNAPSHOT_HASH_BYTES;
        let mut body = good[prefix..good.len() - hash].to_vec();
        mutate(&mut body, &edits);
        let mut bad = good[..prefix].to_vec();
        bad[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
        bad.extend_from_slice(&body);
        bad.extend_from_slice(&Sha256::digest(&body));
        if let Ok(restored) = qmpsim::snapshot::restore(&bad) {
            // Whatever decodes is a state that encodes back to the same body.
            prop_assert_eq!(restored.encode_state(), body);
        }
        let mut raw = good.clone();
        mutate(&mut raw, &edits);
        prop_assert!(raw == good || qmpsim::snapshot::restore(&raw).is_err());
    }
}
