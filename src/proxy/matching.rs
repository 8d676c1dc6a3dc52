//! How `qmpsim serve` compares a client's request with the recorded one, and
//! puts the client's id into a recorded reply. Pure: bytes in, bytes out.
//!
//! Three ways to compare ([`MatchOn`]), as vcrpy's `match_on` chooses what
//! identifies a request: `exact` (the message's bytes, surrounding whitespace
//! aside), `value` (the JSON value: key order and whitespace do not count) and
//! `command` (the `execute` member only). With `--ignore-id` the `id` member
//! is left out of the comparison, and [`with_id`] writes the client's id into
//! the recorded reply, byte for byte as the client wrote it, so the rest of the
//! reply keeps its recorded bytes.

use std::ops::Range;

use crate::qobject::QObject;
use crate::wire::framing::{Frame, Framer};
use crate::wire::parser;

/// What identifies a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MatchOn {
    /// The bytes of the message (surrounding whitespace aside).
    Exact,
    /// The JSON value: key order and whitespace do not count.
    #[default]
    Value,
    /// The `execute` member only.
    Command,
}

/// Whether `actual` (the client's message) matches `expected` (the recorded
/// one).
pub fn matches(on: MatchOn, ignore_id: bool, expected: &[u8], actual: &[u8]) -> bool {
    let (expected, actual) = (trim(expected), trim(actual));
    match on {
        MatchOn::Exact if ignore_id => without_id(expected) == without_id(actual),
        MatchOn::Exact => expected == actual,
        MatchOn::Value => match (value(expected), value(actual)) {
            (Some(mut e), Some(mut a)) => {
                if ignore_id {
                    remove_id(&mut e);
                    remove_id(&mut a);
                }
                e == a
            }
            _ => expected == actual,
        },
        MatchOn::Command => match (value(expected), value(actual)) {
            (Some(e), Some(a)) => e.get("execute") == a.get("execute"),
            _ => expected == actual,
        },
    }
}

fn remove_id(v: &mut serde_json::Value) {
    if let Some(map) = v.as_object_mut() {
        map.remove("id");
    }
}

/// The message with its top-level `id` member cut out (for `exact` with
/// `--ignore-id`).
fn without_id(text: &[u8]) -> Vec<u8> {
    match member(text, "id") {
        Some(m) => {
            let mut out = text[..m.member.start].to_vec();
            out.extend_from_slice(&text[m.member.end..]);
            out
        }
        None => text.to_vec(),
    }
}

/// The JSON value of one message: standard JSON, or QMP's (single-quoted
/// strings), through qmpsim's own parser.
pub fn value(text: &[u8]) -> Option<serde_json::Value> {
    if let Ok(v) = serde_json::from_slice(text) {
        return Some(v);
    }
    let mut framer = Framer::new();
    let mut frames = framer.feed(text);
    frames.extend(framer.feed(b"\n"));
    match frames.as_slice() {
        [Frame::Message(tokens)] => parser::parse(tokens).ok().map(|q| to_json(&q)),
        _ => None,
    }
}

fn to_json(q: &QObject) -> serde_json::Value {
    use serde_json::Value;
    match q {
        QObject::Int(i) => Value::from(*i),
        QObject::Float(f) => Value::from(*f),
        QObject::Bool(b) => Value::Bool(*b),
        QObject::Str(s) => Value::String(s.clone()),
        QObject::List(items) => Value::Array(items.iter().map(to_json).collect()),
        QObject::Dict(d) => Value::Object(
            d.iter_inserted()
                .map(|(k, v)| (k.to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

/// Where a top-level member of an object lies in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member with one adjoining comma (so cutting it leaves valid JSON).
    pub member: Range<usize>,
    /// Its value.
    pub value: Range<usize>,
}

/// The top-level member `key` of the object in `text`, found by scanning the
/// text (strings in double or single quotes, nesting), so that it can be
/// replaced without touching any other byte.
pub fn member(text: &[u8], key: &str) -> Option<Member> {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut previous_comma: Option<usize> = None;
    loop {
        i = skip_ws(text, i);
        let key_start = i;
        let key_end = string_end(text, i)?;
        let name = &text[key_start + 1..key_end - 1];
        i = skip_ws(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(text, i + 1);
        let value_start = i;
        let value_end = value_end(text, i)?;
        i = skip_ws(text, value_end);
        let after = i;
        let more = text.get(i) == Some(&b',');
        if name == key.as_bytes() {
            let member = match (more, previous_comma) {
                (true, _) => key_start..skip_ws(text, after + 1),
                (false, Some(comma)) => comma..value_end,
                (false, None) => key_start..value_end,
            };
            return Some(Member {
                member,
                value: value_start..value_end,
            });
        }
        match text.get(i) {
            Some(b',') => {
                previous_comma = Some(value_end);
                i += 1;
            }
            _ => return None,
        }
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the string starting at `i`.
fn string_end(text: &[u8], i: usize) -> Option<usize> {
    let quote = *text.get(i)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let mut j = i + 1;
    while let Some(&c) = text.get(j) {
        match c {
            b'\\' => j += 2,
            c if c == quote => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The end (exclusive) of the value starting at `i`.
fn value_end(text: &[u8], i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' | b'\'' => string_end(text, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = text.get(j) {
                match c {
                    b'"' | b'\'' => {
                        j = string_end(text, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while text
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The bytes of the `id` member's value in a request, as the client wrote them.
pub fn id_of(request: &[u8]) -> Option<Vec<u8>> {
    let request = trim(request);
    member(request, "id").map(|m| request[m.value].to_vec())
}

/// `reply` with its top-level `id` replaced by `id` (the client's, as it wrote
/// it): added before the closing brace when the reply has none, removed when
/// `id` is `None`. Every other byte stays as recorded. A reply that is not an
/// object is returned unchanged.
pub fn with_id(reply: &[u8], id: Option<&[u8]>) -> Vec<u8> {
    let start = reply.len() - trim_start(reply).len();
    let body = trim(reply);
    let end = start + body.len();
    let existing = member(body, "id");
    let mut out = reply[..start].to_vec();
    match (existing, id) {
        (Some(m), Some(id)) => {
            out.extend_from_slice(&body[..m.value.start]);
            out.extend_from_slice(id);
            out.extend_from_slice(&body[m.value.end..]);
        }
        (Some(m), None) => {
            out.extend_from_slice(&body[..m.member.start]);
            out.extend_from_slice(&body[m.member.end..]);
        }
        (None, Some(id)) if body.ends_with(b"}") && body.len() >= 2 => {
            let inner = trim(&body[1..body.len() - 1]);
            out.extend_from_slice(&body[..body.len() - 1]);
            if !inner.is_empty() {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(b"\"id\": ");
            out.extend_from_slice(id);
            out.push(b'}');
        }
        (None, _) => out.extend_from_slice(body),
    }
    out.extend_from_slice(&reply[end..]);
    out
}

fn trim_start(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    &data[start..]
}

/// `data` without surrounding whitespace.
pub fn trim(data: &[u8]) -> &[u8] {
    crate::trace::walk::trim(data)
}

/// A unified diff of two messages as pretty-printed JSON (the hunks only);
/// messages that are not JSON are compared as text.
pub fn json_diff(expected: &[u8], actual: &[u8]) -> String {
    let pretty = |text: &[u8]| match value(trim(text)) {
        Some(v) => serde_json::to_string_pretty(&v).expect("JSON values serialize") + "\n",
        None => String::from_utf8_lossy(trim(text)).into_owned() + "\n",
    };
    crate::replay::one::unified_hunks(&pretty(expected), &pretty(actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &[u8] = br#"{"execute": "query-block", "arguments": {"a": 1}, "id": 7}"#;

    #[test]
    fn value_match_ignores_key_order_and_whitespace() {
        let actual = br#"{"id":7,"arguments":{"a":1},"execute":"query-block"}"#;
        assert!(matches(MatchOn::Value, false, RECORDED, actual));
    }

    #[test]
    fn value_match_sees_a_changed_argument() {
        let actual = br#"{"execute": "query-block", "arguments": {"a": 2}, "id": 7}"#;
        assert!(!matches(MatchOn::Value, false, RECORDED, actual));
    }

    #[test]
    fn value_match_reads_single_quoted_strings() {
        let actual = br#"{'execute': 'query-block', 'arguments': {'a': 1}, 'id': 7}"#;
        assert!(matches(MatchOn::Value, false, RECORDED, actual));
    }

    #[test]
    fn exact_match_sees_key_order() {
        let actual = br#"{"id": 7, "execute": "query-block", "arguments": {"a": 1}}"#;
        assert!(!matches(MatchOn::Exact, false, RECORDED, actual));
    }

    #[test]
    fn exact_match_with_ignore_id_cuts_the_id_out() {
        let actual = br#"{"execute": "query-block", "arguments": {"a": 1}, "id": "x-9"}"#;
        assert!(matches(MatchOn::Exact, true, RECORDED, actual));
    }

    #[test]
    fn command_match_compares_execute_only() {
        let actual = br#"{"execute": "query-block", "arguments": {"b": 2}}"#;
        assert!(matches(MatchOn::Command, false, RECORDED, actual));
    }

    #[test]
    fn id_difference_counts_unless_ignored() {
        let actual = br#"{"execute": "query-block", "arguments": {"a": 1}, "id": 8}"#;
        assert_eq!(
            (
                matches(MatchOn::Value, false, RECORDED, actual),
                matches(MatchOn::Value, true, RECORDED, actual)
            ),
            (false, true)
        );
    }

    #[test]
    fn with_id_replaces_only_the_id_bytes() {
        let reply = b"{\"return\": {\"id\": 1}, \"id\": 7}\r\n";
        assert_eq!(
            with_id(reply, Some(b"\"abc\"")),
            b"{\"return\": {\"id\": 1}, \"id\": \"abc\"}\r\n"
        );
    }

    #[test]
    fn with_id_adds_an_id_the_reply_lacked() {
        assert_eq!(
            with_id(b"{\"return\": {}}\r\n", Some(b"5")),
            b"{\"return\": {}, \"id\": 5}\r\n"
        );
    }

    #[test]
    fn with_id_none_removes_the_recorded_id() {
        assert_eq!(
            with_id(b"{\"return\": {}, \"id\": 7}\r\n", None),
            b"{\"return\": {}}\r\n"
        );
    }

    #[test]
    fn id_of_keeps_the_clients_spelling() {
        assert_eq!(
            id_of(br#"{"execute":"x","id":{"n": [1, "}"]}}"#),
            Some(br#"{"n": [1, "}"]}"#.to_vec())
        );
    }

    #[test]
    fn json_diff_shows_the_changed_line() {
        let diff = json_diff(
            RECORDED,
            br#"{"execute":"query-block","arguments":{"a":2},"id":7}"#,
        );
        assert!(diff.contains("-    \"a\": 1\n+    \"a\": 2\n"), "{diff}");
    }
}
