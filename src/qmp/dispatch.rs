//! One request, start to finish, as 0.14's `handle_qmp_command`: parse, check the
//! input object, capture `id`, check the negotiation mode, look the command up,
//! check arguments, run the handler, and format the response. Pure: the caller
//! (the engine) sends the lines and broadcasts the events the handler queued.

use super::args;
use super::commands::Ctx;
use super::session::{ClientId, Mode, Session};
use super::table;
use crate::machine::Machine;
use crate::wire::framing::Frame;
use crate::wire::{message, parser, ErrorClass, QDict, QObject, QmpError};

/// The lines one request produces for its client, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replies {
    /// Serialized messages, each ending in `\r\n`.
    pub lines: Vec<String>,
}

/// Handles one frame from a client.
pub fn handle_frame(
    machine: &mut Machine,
    session: &mut Session,
    client: ClientId,
    frame: Frame,
) -> Replies {
    let tokens = match frame {
        Frame::Message(tokens) => tokens,
        Frame::Error(_) => return error_only(&QmpError::bare(ErrorClass::JSONParsing), None),
    };
    let Ok(obj) = parser::parse(&tokens) else {
        return error_only(&QmpError::bare(ErrorClass::JSONParsing), None);
    };
    let request = match check_input_obj(&obj) {
        Ok(r) => r,
        Err(e) => return error_only(&e, None),
    };
    let id = request.id;
    let outcome = run(
        machine,
        session,
        client,
        request.execute,
        &request.arguments,
    );
    match outcome {
        Ok((value, followups)) => {
            let mut lines = vec![message::success(value, id.as_ref())];
            lines.extend(followups.into_iter().map(|f| message::success(f, None)));
            Replies { lines }
        }
        Err(e) => error_only(&e, id.as_ref()),
    }
}

fn error_only(e: &QmpError, id: Option<&QObject>) -> Replies {
    Replies {
        lines: vec![message::error(e, id)],
    }
}

struct Request<'a> {
    execute: &'a str,
    arguments: QDict,
    id: Option<QObject>,
}

/// `qmp_check_input_obj`: members are walked in 0.14 hash order, first problem wins.
fn check_input_obj(obj: &QObject) -> Result<Request<'_>, QmpError> {
    let bad = |m: &str, e: &str| QmpError::with2(ErrorClass::QMPBadInputObjectMember, m, e);
    let Some(dict) = obj.as_dict() else {
        return Err(QmpError::with1(ErrorClass::QMPBadInputObject, "object"));
    };
    for (key, value) in dict.emit_order() {
        match key {
            "execute" if value.as_str().is_none() => return Err(bad("execute", "string")),
            "arguments" if value.as_dict().is_none() => return Err(bad("arguments", "object")),
            "execute" | "arguments" | "id" => {}
            other => {
                return Err(QmpError::with1(
                    ErrorClass::QMPExtraInputObjectMember,
                    other,
                ));
            }
        }
    }
    let Some(execute) = dict.get_str("execute") else {
        return Err(QmpError::with1(ErrorClass::QMPBadInputObject, "execute"));
    };
    Ok(Request {
        execute,
        arguments: dict
            .get("arguments")
            .and_then(QObject::as_dict)
            .cloned()
            .unwrap_or_default(),
        id: dict.get("id").cloned(),
    })
}

fn run(
    machine: &mut Machine,
    session: &mut Session,
    client: ClientId,
    name: &str,
    arguments: &QDict,
) -> Result<(QObject, Vec<QObject>), QmpError> {
    let not_found = || QmpError::with1(ErrorClass::CommandNotFound, name);
    let negotiating = session.mode == Mode::Negotiation;
    if negotiating != (name == "qmp_capabilities") {
        return Err(not_found());
    }
    let command = table::lookup(name, machine.config.extensions).ok_or_else(not_found)?;
    args::check(command.args_type, arguments)?;
    // With -x-chaos, the guest may lock a tray for this command, and a
    // migration or balloon it starts may go badly (`machine::chaos`).
    machine.chaos_before_command(name, arguments);
    let mut ctx = Ctx {
        machine,
        session,
        client,
        followups: Vec::new(),
    };
    let result = (command.handler)(&mut ctx, args::Args::new(command.args_type, arguments));
    ctx.machine.chaos_after_command(name, result.is_ok());
    let value = result?;
    let followups = std::mem::take(&mut ctx.followups);
    if negotiating {
        session.mode = Mode::Command;
    }
    Ok((value, followups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::wire::framing::Framer;

    /// Feeds `input` to a fresh session (optionally negotiated) and returns the lines.
    fn exchange(input: &str, negotiated: bool) -> Vec<String> {
        exchange_on(MachineConfig::default(), input, negotiated)
    }

    /// [`exchange`] on a machine of `config`.
    fn exchange_on(config: MachineConfig, input: &str, negotiated: bool) -> Vec<String> {
        let mut m = Machine::new(config);
        let mut s = Session::new(0);
        if negotiated {
            s.mode = Mode::Command;
        }
        let mut framer = Framer::new();
        framer
            .feed(format!("{input}\n").as_bytes())
            .into_iter()
            .flat_map(|f| handle_frame(&mut m, &mut s, ClientId(0), f).lines)
            .collect()
    }

    fn one(input: &str) -> String {
        let lines = exchange(input, true);
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines[0].trim_end().to_owned()
    }

    #[test]
    fn command_before_negotiation_is_not_found_without_id() {
        let l = exchange(r#"{"execute":"query-version"}"#, false);
        assert_eq!(l, ["{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command query-version has not been found\", \"data\": {\"name\": \"query-version\"}}}\r\n"]);
    }

    #[test]
    fn capabilities_twice_is_not_found_with_id() {
        assert_eq!(
            one(r#"{"execute":"qmp_capabilities","id":"x"}"#),
            r#"{"id": "x", "error": {"class": "CommandNotFound", "desc": "The command qmp_capabilities has not been found", "data": {"name": "qmp_capabilities"}}}"#
        );
    }

    #[test]
    fn capabilities_with_argument_is_invalid_parameter() {
        let l = exchange(
            r#"{"execute":"qmp_capabilities","arguments":{"a":1}}"#,
            false,
        );
        assert!(l[0].contains("\"class\": \"InvalidParameter\""), "{l:?}");
    }

    #[test]
    fn x_inject_arguments_are_checked_against_its_args_type() {
        let config = MachineConfig {
            extensions: true,
            ..MachineConfig::default()
        };
        let class = |input: &str| {
            let l = exchange_on(config.clone(), input, true).concat();
            let start = l.find("\"class\": \"").expect("an error") + 10;
            l[start..].split('"').next().unwrap_or_default().to_owned()
        };
        assert_eq!(class(r#"{"execute":"x-inject"}"#), "MissingParameter");
        assert_eq!(
            class(r#"{"execute":"x-inject","arguments":{"action":1}}"#),
            "InvalidParameterType"
        );
        assert_eq!(
            class(r#"{"execute":"x-inject","arguments":{"action":"x","ms":"1"}}"#),
            "InvalidParameterType"
        );
        assert_eq!(
            class(r#"{"execute":"x-inject","arguments":{"action":"x","nope":1}}"#),
            "InvalidParameter"
        );
    }

    #[test]
    fn execute_not_string_is_bad_member_without_id() {
        assert_eq!(
            one(r#"{"execute":1,"id":2}"#),
            r#"{"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'execute' expects 'string'", "data": {"member": "execute", "expected": "string"}}}"#
        );
    }

    #[test]
    fn missing_execute_is_bad_input_object() {
        assert_eq!(
            one(r#"{"id":3}"#),
            r#"{"error": {"class": "QMPBadInputObject", "desc": "Expected 'execute' in QMP input", "data": {"expected": "execute"}}}"#
        );
    }

    #[test]
    fn extra_member_is_reported() {
        assert_eq!(
            one(r#"{"execute":"stop","foo":1,"id":4}"#),
            r#"{"error": {"class": "QMPExtraInputObjectMember", "desc": "QMP input object member 'foo' is unexpected", "data": {"member": "foo"}}}"#
        );
    }

    #[test]
    fn arguments_not_object_is_reported() {
        assert_eq!(
            one(r#"{"execute":"eject","arguments":[]}"#),
            r#"{"error": {"class": "QMPBadInputObjectMember", "desc": "QMP input object member 'arguments' expects 'object'", "data": {"member": "arguments", "expected": "object"}}}"#
        );
    }

    #[test]
    fn list_is_bad_input_object() {
        assert_eq!(
            one("[1,2]"),
            r#"{"error": {"class": "QMPBadInputObject", "desc": "Expected 'object' in QMP input", "data": {"expected": "object"}}}"#
        );
    }

    #[test]
    fn syntax_error_is_json_parsing() {
        assert_eq!(
            one(r#"{"execute":}"#),
            r#"{"error": {"class": "JSONParsing", "desc": "Invalid JSON syntax", "data": {}}}"#
        );
    }

    #[test]
    fn unknown_command_carries_id() {
        assert_eq!(
            one(r#"{"execute":"nosuch","id":5}"#),
            r#"{"id": 5, "error": {"class": "CommandNotFound", "desc": "The command nosuch has not been found", "data": {"name": "nosuch"}}}"#
        );
    }

    #[test]
    fn query_kvm_matches_spec_example() {
        assert_eq!(
            one(r#"{"execute":"query-kvm","id":"example"}"#),
            r#"{"return": {"enabled": false, "present": true}, "id": "example"}"#
        );
    }

    #[test]
    fn id_is_echoed_in_hash_order() {
        assert_eq!(
            one(r#"{"execute":"stop","id":{"a":[1,2]}}"#),
            r#"{"return": {}, "id": {"a": [1, 2]}}"#
        );
    }
}
