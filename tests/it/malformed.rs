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

#[test]
fn malformed_stray_closer_is_json_parsing_and_session_lives() {
    assert_eq!(replies(b"}"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn malformed_stray_bracket_is_json_parsing_and_session_lives() {
    assert_eq!(replies(b"]"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn malformed_missing_value_is_json_parsing() {
    assert_eq!(replies(br#"{"execute":}"#), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn malformed_null_id_is_json_parsing() {
    assert_eq!(
        replies(br#"{"execute":"stop","id":null}"#),
        [JSON_PARSING, ALIVE_REPLY]
    );
}

#[test]
fn malformed_trailing_comma_is_json_parsing() {
    assert_eq!(
        replies(br#"{"execute":"stop",}"#),
        [JSON_PARSING, ALIVE_REPLY]
    );
}

#[test]
fn malformed_uppercase_keyword_is_one_json_parsing() {
    assert_eq!(
        replies(br#"{"execute":"stop","id":TRUE}"#),
        [JSON_PARSING, ALIVE_REPLY]
    );
}

#[test]
fn malformed_list_is_bad_input_object() {
    assert_eq!(
        replies(b"[1,2]"),
        [
            r#"<- {"error": {"class": "QMPBadInputObject", "desc": "Expected 'object' in QMP input", "data": {"expected": "object"}}}"#,
            ALIVE_REPLY
        ]
    );
}

#[test]
fn malformed_execute_not_string_is_bad_member() {
    assert_eq!(
        replies(br#"{"execute":1,"id":2}"#)[0],
        r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'execute' expects 'string'", "data": {"member": "execute", "expected": "string"}}}"#
    );
}

#[test]
fn malformed_no_execute_is_bad_input_object() {
    assert_eq!(
        replies(br#"{"id":3}"#)[0],
        r#"<- {"error": {"class": "QMPBadInputObject", "desc": "Expected 'execute' in QMP input", "data": {"expected": "execute"}}}"#
    );
}

#[test]
fn malformed_extra_member_is_reported_before_missing_execute() {
    assert_eq!(
        replies(br#"{"foo":1}"#)[0],
        r#"<- {"error": {"class": "QMPExtraInputObjectMember", "desc": "QMP input object member 'foo' is unexpected", "data": {"member": "foo"}}}"#
    );
}

#[test]
fn malformed_arguments_not_object_is_bad_member() {
    assert_eq!(
        replies(br#"{"execute":"stop","arguments":[]}"#)[0],
        r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'arguments' expects 'object'", "data": {"member": "arguments", "expected": "object"}}}"#
    );
}

#[test]
fn malformed_stray_byte_between_messages_is_silent() {
    assert_eq!(replies(b"X"), [ALIVE_REPLY]);
}

// qmp-test.c test_malformed, in its order.

#[test]
fn qmp_test_syntax_error_brace_bracket() {
    assert_eq!(replies_bytes(b"{]\n"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_impossible_byte_outside_string() {
    assert_eq!(replies_bytes(b"{\xff"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_control_character_outside_string() {
    assert_eq!(replies_bytes(b"{\x01"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_impossible_byte_in_string() {
    assert_eq!(replies_bytes(b"{'bad \xff"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_interpolation_is_json_parsing() {
    assert_eq!(replies_bytes(b"%p"), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_null_is_json_parsing() {
    assert_eq!(replies_bytes(b"null "), [JSON_PARSING, ALIVE_REPLY]);
}

#[test]
fn qmp_test_empty_object_is_bad_input_object() {
    assert_eq!(
        replies_bytes(b"{}")[0],
        r#"<- {"error": {"class": "QMPBadInputObject", "desc": "Expected 'execute' in QMP input", "data": {"expected": "execute"}}}"#
    );
}

#[test]
fn qmp_test_execute_true_is_bad_member() {
    assert_eq!(
        replies_bytes(b"{ 'execute': true }")[0],
        r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'execute' expects 'string'", "data": {"member": "execute", "expected": "string"}}}"#
    );
}

#[test]
fn qmp_test_arguments_zero_is_bad_member() {
    assert_eq!(
        replies_bytes(b"{ 'execute': 'no-such-cmd', 'arguments': 0 }")[0],
        r#"<- {"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'arguments' expects 'object'", "data": {"member": "arguments", "expected": "object"}}}"#
    );
}

#[test]
fn qmp_test_extra_key_is_reported() {
    assert_eq!(
        replies_bytes(b"{ 'execute': 'no-such-cmd', 'extra': true }")[0],
        r#"<- {"error": {"class": "QMPExtraInputObjectMember", "desc": "QMP input object member 'extra' is unexpected", "data": {"member": "extra"}}}"#
    );
}

#[test]
fn qmp_test_unterminated_string_with_newline_then_ff_resets() {
    let r = replies_bytes(b"{'execute': 'nonexistent', 'id':'\n\xff");
    assert_eq!(r, [JSON_PARSING, ALIVE_REPLY]);
}

/// Invalid UTF-8 with `0xFF`/`0xFE` inside a string, then the rest of the line: the
/// string's closing quote must not open a phantom string that swallows the probe.
#[test]
fn invalid_utf8_with_ff_inside_string_does_not_desync() {
    let r = replies_bytes(b"{\"execute\":\"query-status\",\"id\":\"a\xc3\xff\xfe\x80b\"}\n");
    assert_eq!(r, [JSON_PARSING, ALIVE_REPLY]);
}

/// The same with the reset byte in a key, and a second request on the same line.
#[test]
fn ff_inside_key_then_more_requests_do_not_desync() {
    let r = replies_bytes(b"{\"exe\xffcute\":\"stop\"}\n{\"execute\":\"cont\"}\n");
    assert_eq!(r, [JSON_PARSING, r#"<- {"return": {}}"#, ALIVE_REPLY]);
}

/// An unclosed quote, then a request on the next line: the raw newline ends the
/// string with an error instead of swallowing the request (0.14 swallows it).
#[test]
fn unclosed_quote_then_request_on_next_line_is_answered() {
    let r = replies_bytes(b"\"\n");
    assert_eq!(r, [JSON_PARSING, ALIVE_REPLY]);
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
