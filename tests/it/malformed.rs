//! Every malformed input from the reference (facts §4, §5) and from QEMU's own
//! tests/qtest/qmp-test.c `test_malformed`: each gets its 0.14 error (no id) and the
//! connection lives on, which a following `query-status` proves.

use qmpsim::machine::config::MachineConfig;
use qmpsim::scenario;

const ALIVE: &str = r#"{"execute":"query-status","id":"alive"}"#;
const ALIVE_REPLY: &str = r#"<- {"return": {"singlestep": false, "running": true}, "id": "alive"}"#;
const JSON_PARSING: &str =
    r#"<- {"error": {"class": "JSONParsing", "desc": "Invalid JSON syntax", "data": {}}}"#;

/// Sends `bad` then the liveness probe; returns the reply lines (without requests).
fn replies(bad: &[u8]) -> Vec<String> {
    let bad = String::from_utf8_lossy(bad).into_owned();
    let t = scenario::run(MachineConfig::default(), true, &[&bad, ALIVE]);
    t.text
        .lines()
        .filter(|l| l.starts_with("<- "))
        .map(str::to_owned)
        .collect()
}

fn replies_bytes(bad: &[u8]) -> Vec<String> {
    use qmpsim::engine::{Engine, Input};
    let client = scenario::SCRIPT_CLIENT;
    let mut e = Engine::new(MachineConfig::default());
    e.step(Input::connect(client));
    e.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#));
    let mut out = e.step(Input::bytes(client, bad));
    out.extend(e.step(Input::Bytes {
        client,
        data: ALIVE.as_bytes().to_vec(),
    }));
    let mut text = String::new();
    scenario::append_outputs(&mut text, &out);
    text.lines().map(str::to_owned).collect()
}

/// `QMPBadInputObjectMember` for `execute`, which must be a string.
const EXECUTE_NOT_STRING: &str = r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'execute' expects 'string'", "data": {"member": "execute", "expected": "string"}}}"#;
/// `QMPBadInputObjectMember` for `arguments`, which must be an object.
const ARGUMENTS_NOT_OBJECT: &str = r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'arguments' expects 'object'", "data": {"member": "arguments", "expected": "object"}}}"#;
/// `QMPBadInputObject`: no `execute`.
const NO_EXECUTE: &str = r#"<- {"error": {"class": "QMPBadInputObject", "desc": "Expected 'execute' in QMP input", "data": {"expected": "execute"}}}"#;

/// One malformed input: what it shows, its bytes, and the replies to it and
/// to the liveness probe after it.
type Row = (&'static str, &'static [u8], &'static [&'static str]);

/// Sends each row's bytes through `send` and checks the replies.
fn check(send: fn(&[u8]) -> Vec<String>, rows: &[Row]) {
    for (what, bad, expected) in rows {
        assert_eq!(send(bad), *expected, "{what}");
    }
}

/// The malformed inputs of the reference (facts §4, §5).
#[test]
fn malformed_inputs_of_the_reference() {
    check(
        replies,
        &[
            (
                "a stray closer is JSONParsing and the session lives",
                b"}",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a stray bracket is JSONParsing and the session lives",
                b"]",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a missing value is JSONParsing",
                br#"{"execute":}"#,
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a null id is JSONParsing",
                br#"{"execute":"stop","id":null}"#,
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a trailing comma is JSONParsing",
                br#"{"execute":"stop",}"#,
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "an uppercase keyword is one JSONParsing",
                br#"{"execute":"stop","id":TRUE}"#,
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a list is QMPBadInputObject",
                b"[1,2]",
                &[
                    r#"<- {"error": {"class": "QMPBadInputObject", "desc": "Expected 'object' in QMP input", "data": {"expected": "object"}}}"#,
                    ALIVE_REPLY,
                ],
            ),
            (
                "an execute that is not a string is a bad member",
                br#"{"execute":1,"id":2}"#,
                &[EXECUTE_NOT_STRING, ALIVE_REPLY],
            ),
            (
                "no execute is QMPBadInputObject",
                br#"{"id":3}"#,
                &[NO_EXECUTE, ALIVE_REPLY],
            ),
            (
                "an extra member is reported before the missing execute",
                br#"{"foo":1}"#,
                &[
                    r#"<- {"error": {"class": "QMPExtraInputObjectMember", "desc": "QMP input object member 'foo' is unexpected", "data": {"member": "foo"}}}"#,
                    ALIVE_REPLY,
                ],
            ),
            (
                "arguments that are not an object are a bad member",
                br#"{"execute":"stop","arguments":[]}"#,
                &[ARGUMENTS_NOT_OBJECT, ALIVE_REPLY],
            ),
            (
                "a stray byte between messages is silent",
                b"X",
                &[ALIVE_REPLY],
            ),
        ],
    );
}

/// qmp-test.c's `test_malformed`, in its order, as raw bytes.
#[test]
fn malformed_inputs_of_qmp_test() {
    check(
        replies_bytes,
        &[
            (
                "a syntax error: brace, bracket",
                b"{]\n",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "an impossible byte outside a string",
                b"{\xff",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "a control character outside a string",
                b"{\x01",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "an impossible byte in a string",
                b"{'bad \xff",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "interpolation is JSONParsing",
                b"%p",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "null is JSONParsing",
                b"null ",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "an empty object is QMPBadInputObject",
                b"{}",
                &[NO_EXECUTE, ALIVE_REPLY],
            ),
            (
                "execute true is a bad member",
                b"{ 'execute': true }",
                &[EXECUTE_NOT_STRING, ALIVE_REPLY],
            ),
            (
                "arguments 0 is a bad member",
                b"{ 'execute': 'no-such-cmd', 'arguments': 0 }",
                &[ARGUMENTS_NOT_OBJECT, ALIVE_REPLY],
            ),
            (
                "an extra key is reported",
                b"{ 'execute': 'no-such-cmd', 'extra': true }",
                &[
                    r#"<- {"error": {"class": "QMPExtraInputObjectMember", "desc": "QMP input object member 'extra' is unexpected", "data": {"member": "extra"}}}"#,
                    ALIVE_REPLY,
                ],
            ),
            (
                "an unterminated string with a newline, then 0xFF, resets",
                b"{'execute': 'nonexistent', 'id':'\n\xff",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
        ],
    );
}

/// Inputs that must not desynchronise the stream.
#[test]
fn malformed_inputs_do_not_desync() {
    check(
        replies_bytes,
        &[
            (
                "invalid UTF-8 with 0xFF/0xFE inside a string, then the rest of the line: the \
                 string's closing quote must not open a phantom string that swallows the probe",
                b"{\"execute\":\"query-status\",\"id\":\"a\xc3\xff\xfe\x80b\"}\n",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
            (
                "the same with the reset byte in a key, and a second request on the same line",
                b"{\"exe\xffcute\":\"stop\"}\n{\"execute\":\"cont\"}\n",
                &[JSON_PARSING, r#"<- {"return": {}}"#, ALIVE_REPLY],
            ),
            (
                "an unclosed quote, then a request on the next line: the raw newline ends the \
                 string with an error instead of swallowing the request (0.14 swallows it)",
                b"\"\n",
                &[JSON_PARSING, ALIVE_REPLY],
            ),
        ],
    );
}

/// A raw control byte inside a string is a lexical error; escapes are not.
#[test]
fn raw_tab_in_string_is_json_parsing_but_escaped_newline_is_not() {
    assert_eq!(
        replies_bytes(b"{\"execute\":\"a\tb\"}"),
        [JSON_PARSING, ALIVE_REPLY]
    );
    let r = replies_bytes(br#"{"execute":"a\nb"}"#);
    assert!(r[0].contains("CommandNotFound"), "{r:#?}");
}
