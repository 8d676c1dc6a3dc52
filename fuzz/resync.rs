//! Resynchronisation: whatever bytes came before, a newline ends any string or
//! token, and the next request on its own line is answered normally unless the
//! bytes left a `{` or `[` open (a request may span lines); after the reset QEMU
//! documents (a control byte), it is answered in every case.

use proptest::prelude::*;
use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::wire::framing::Framer;

use crate::failtrace;

const PROBE: &[u8] = br#"{"execute":"query-version","id":"probe"}"#;

/// Malformed input: invalid UTF-8, the 0xFE/0xFF reset bytes, NUL, unbalanced
/// quotes and brackets, interrupted requests, and raw bytes.
pub fn malformed_prefix() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => Just(b"\"".to_vec()),
        4 => Just(b"'".to_vec()),
        3 => Just(b"\xff".to_vec()),
        3 => Just(b"\xfe".to_vec()),
        2 => Just(b"\0".to_vec()),
        2 => Just(b"}".to_vec()),
        2 => Just(b"]".to_vec()),
        1 => Just(b"{".to_vec()),
        1 => Just(b"[".to_vec()),
        2 => Just(b"\\".to_vec()),
        2 => Just(b"\\u12".to_vec()),
        2 => Just(b":,".to_vec()),
        3 => Just(br#"{"execute":"query-status","id":"a"#.to_vec()),
        2 => Just(br#"{"execute":"stop"}"#.to_vec()),
        2 => Just(b"-12.5e".to_vec()),
        1 => Just(b"%ll".to_vec()),
        1 => Just(b"tru".to_vec()),
        // Invalid UTF-8: lone continuation bytes, truncated and overlong sequences.
        3 => proptest::collection::vec(0x80u8..=0xFD, 1..4),
        2 => Just(b"\xc0\x80".to_vec()),
        2 => Just(b"\xe2\x82".to_vec()),
        3 => "[ -~]{0,6}".prop_map(String::into_bytes),
        3 => proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

/// Connect, negotiate, then `bytes` in one read.
fn inputs(bytes: Vec<u8>) -> Vec<Input> {
    qmpsim::scenario::negotiated_reads(ClientId(1), [bytes])
}

/// Runs [`inputs`]; returns the engine and everything sent after negotiation.
fn session(bytes: Vec<u8>) -> (Engine, Vec<Vec<u8>>) {
    let mut e = Engine::new(MachineConfig::default());
    let mut out = Vec::new();
    for input in inputs(bytes) {
        out = e.step(input);
    }
    let sent = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { data, .. } => Some(data),
            _ => None,
        })
        .collect();
    (e, sent)
}

/// The probe's normal reply, from a fresh session.
fn probe_reply() -> Vec<u8> {
    let (_, sent) = session(PROBE.to_vec());
    sent.last().cloned().unwrap_or_default()
}

fn lines(sent: &[Vec<u8>]) -> String {
    sent.iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn answered_last(sent: &[Vec<u8>], expected: &[u8]) -> bool {
    sent.last().is_some_and(|l| l == expected)
        && sent.iter().filter(|l| l.as_slice() == expected).count() == 1
}

proptest! {
    #![proptest_config(crate::config("fuzz/regressions/resync.txt"))]

    #[test]
    fn resync_newline_ends_any_string_or_token(prefix in malformed_prefix()) {
        let mut f = Framer::new();
        f.feed(&prefix);
        f.feed(b"\n");
        prop_assert!(!f.in_token(), "still inside a token after a newline");
    }

    #[test]
    fn resync_probe_on_its_own_line_is_answered(prefix in malformed_prefix()) {
        let mut f = Framer::new();
        f.feed(&prefix);
        f.feed(b"\n");
        let open = f.open_brackets();
        let mut bytes = prefix;
        bytes.push(b'\n');
        bytes.extend_from_slice(PROBE);
        let (e, sent) = session(bytes.clone());
        let ok = e.exited().is_none() && (open != 0 || answered_last(&sent, &probe_reply()));
        failtrace::check(ok, "resync_probe_on_its_own_line_is_answered", &MachineConfig::default(), &inputs(bytes), || {
            format!("probe not answered: {}", lines(&sent))
        })?;
    }

    #[test]
    fn resync_probe_after_control_byte_reset_is_answered(prefix in malformed_prefix(), reset in prop_oneof![Just(0x1bu8), Just(0x04), Just(0x00)]) {
        let mut bytes = prefix;
        bytes.push(b'\n');
        bytes.push(reset);
        bytes.extend_from_slice(PROBE);
        let (e, sent) = session(bytes.clone());
        let ok = e.exited().is_none() && answered_last(&sent, &probe_reply());
        failtrace::check(ok, "resync_probe_after_control_byte_reset_is_answered", &MachineConfig::default(), &inputs(bytes), || {
            format!("probe not answered: {}", lines(&sent))
        })?;
    }
}
