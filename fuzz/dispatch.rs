//! Dispatch: whatever a client sends, the engine never panics and answers every
//! complete message with exactly one response (events aside), and the session
//! keeps working afterwards.

use proptest::prelude::*;
use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::{DriveConfig, MachineConfig, OptionList};
use qmpsim::qmp::session::ClientId;
use qmpsim::qmp::table::COMMANDS;
use qmpsim::wire::framing::Framer;

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9:._-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("1.5".to_owned()),
        Just("\"ide1-cd0\"".to_owned()),
        Just("\"vnc\"".to_owned()),
        Just("\"spice\"".to_owned()),
        Just("\"e1000\"".to_owned()),
        Just("\"user\"".to_owned()),
        Just("\"info block\"".to_owned()),
        Just("\"ide0-hd0\"".to_owned()),
        Just("\"tcp:127.0.0.1:1\"".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-z_-]{1,10}", inner), 0..4).prop_map(|v| {
                let members: Vec<String> =
                    v.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn command_name() -> impl Strategy<Value = String> {
    let known: Vec<String> = COMMANDS
        .iter()
        .map(|c| c.name.to_owned())
        .filter(|n| n != "quit")
        .collect();
    prop_oneof![proptest::sample::select(known), "[a-z_-]{0,12}"]
}

fn request() -> impl Strategy<Value = String> {
    let args = proptest::collection::vec(
        (
            prop_oneof![
                Just("device".to_owned()),
                Just("value".to_owned()),
                Just("id".to_owned()),
                Just("driver".to_owned()),
                Just("protocol".to_owned()),
                Just("command-line".to_owned()),
                Just("target".to_owned()),
                Just("uri".to_owned()),
                Just("type".to_owned()),
                "[a-z-]{1,8}"
            ],
            json_value(),
        ),
        0..4,
    );
    (command_name(), args, proptest::option::of(json_value())).prop_map(|(name, args, id)| {
        let members: Vec<String> = args
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        let id = id.map(|v| format!(",\"id\":{v}")).unwrap_or_default();
        format!(
            "{{\"execute\":\"{name}\",\"arguments\":{{{}}}{id}}}",
            members.join(",")
        )
    })
}

/// A machine where most handlers have something to work on: drives, VNC, SPICE,
/// a balloon, a watchdog that pauses, the x- commands, and `-no-shutdown` so a
/// guest shutdown does not end the session.
pub fn rich_machine() -> MachineConfig {
    let hda = DriveConfig {
        opts: "file=hda.img,index=0,media=disk,x-virtual=on,x-size=1073741824"
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .collect(),
        probe: None,
    };
    let spice = OptionList::from_iter([("port", "5930"), ("disable-ticketing", "on")]);
    let balloon = OptionList::from_iter([("type", "virtio")]);
    MachineConfig {
        drives: vec![hda],
        vnc: Some(":1".to_owned()),
        spice: Some(spice),
        balloon: Some(balloon),
        watchdog: Some(qmpsim::machine::watchdog::WatchdogModel::I6300esb),
        watchdog_action: Some(qmpsim::machine::watchdog::WatchdogAction::Pause),
        no_shutdown: true,
        extensions: true,
        smp: 2,
        ..MachineConfig::default()
    }
}

fn responses(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Send { data, .. } if !data.starts_with(b"{\"timestamp\"")))
        .count()
}

proptest! {
    #![proptest_config(crate::config("fuzz/regressions/dispatch.txt"))]

    #[test]
    fn dispatch_one_response_per_message(rich in any::<bool>(), reqs in proptest::collection::vec(request(), 1..8), junk in proptest::collection::vec(any::<u8>(), 0..16)) {
        let client = ClientId(1);
        let mut e = Engine::new(if rich { rich_machine() } else { MachineConfig::default() });
        e.step(Input::connect(client));
        e.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#));
        let mut bytes = reqs.join("\n").into_bytes();
        bytes.extend_from_slice(&junk);
        bytes.push(b'\xff');
        let frames = Framer::new().feed(&bytes).len();
        let out = e.step(Input::bytes(client, bytes));
        // Only `quit` ends the process, and the generator never sends it.
        prop_assert_eq!(e.exited(), None);
        prop_assert_eq!(responses(&out), frames);
        let alive = e.step(Input::bytes(client, br#"{"execute":"query-version","id":"z"}"#));
        let last = alive.iter().rev().find_map(|o| match o { Output::Send { data, .. } => Some(data.clone()), _ => None });
        let answered = last.is_some_and(|d| d.ends_with(b"\"id\": \"z\"}\r\n"));
        prop_assert!(answered, "session stopped answering");
    }
}
