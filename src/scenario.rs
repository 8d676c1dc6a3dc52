//! Scripted sessions against an [`Engine`], for goldens, determinism checks and
//! trace corpora: feed client lines, collect the transcript in the QMP docs'
//! `-> ` / `<- ` notation. Pure: no sockets, no clock.

use crate::engine::{Engine, Input, Output};
use crate::machine::config::MachineConfig;
use crate::qmp::session::ClientId;

/// The client every scripted session uses.
pub const SCRIPT_CLIENT: ClientId = ClientId(1);

/// A finished scripted session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// `-> request` and `<- response/event` lines, one per message.
    pub text: String,
    /// Every input fed, in order.
    pub inputs: Vec<Input>,
    /// The engine's state digest at the end.
    pub digest: String,
    /// The engine afterwards.
    pub engine: Engine,
}

/// The start of most sessions: `client` connects to the first monitor and
/// negotiates capabilities (its greeting and `{"return": {}}` follow).
pub fn negotiation(client: ClientId) -> Vec<Input> {
    vec![
        Input::connect(client),
        Input::bytes(client, r#"{"execute":"qmp_capabilities"}"#),
    ]
}

/// [`negotiation`], then each of `reads` as one read of `client`.
pub fn negotiated_reads<R: AsRef<[u8]>>(
    client: ClientId,
    reads: impl IntoIterator<Item = R>,
) -> Vec<Input> {
    let mut inputs = negotiation(client);
    inputs.extend(reads.into_iter().map(|r| Input::bytes(client, r)));
    inputs
}

/// Connects one client, negotiates capabilities when `negotiate` is set, then sends
/// each line as its own read. The greeting and negotiation are left out of the text.
pub fn run(config: MachineConfig, negotiate: bool, lines: &[&str]) -> Transcript {
    let mut engine = Engine::new(config);
    let mut inputs = if negotiate {
        negotiation(SCRIPT_CLIENT)
    } else {
        vec![Input::connect(SCRIPT_CLIENT)]
    };
    for input in &inputs {
        engine.step(input.clone());
    }
    let mut text = String::new();
    for line in lines {
        text.push_str("-> ");
        text.push_str(line);
        text.push('\n');
        let input = Input::bytes(SCRIPT_CLIENT, line);
        append_outputs(&mut text, &engine.step(input.clone()));
        inputs.push(input);
    }
    let digest = engine.digest();
    Transcript {
        text,
        inputs,
        digest,
        engine,
    }
}

/// Appends each output in transcript notation.
pub fn append_outputs(text: &mut String, outputs: &[Output]) {
    for o in outputs {
        match o {
            Output::Send { data, .. } => {
                text.push_str("<- ");
                text.push_str(String::from_utf8_lossy(data).trim_end_matches("\r\n"));
                text.push('\n');
            }
            Output::Effect(effect) => text.push_str(&format!("!! {effect:?}\n")),
            Output::Exit { code } => text.push_str(&format!("!! exit {code}\n")),
            Output::Close { client } => text.push_str(&format!("!! close client {}\n", client.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_collects_request_and_response_lines() {
        let t = run(
            MachineConfig::default(),
            true,
            &[r#"{"execute":"query-name"}"#],
        );
        assert_eq!(
            t.text,
            "-> {\"execute\":\"query-name\"}\n<- {\"return\": {}}\n"
        );
    }

    #[test]
    fn negotiated_reads_connect_negotiate_then_send_each_read() {
        let c = ClientId(7);
        assert_eq!(
            negotiated_reads(c, ["a", "b"]),
            vec![
                Input::Connect {
                    client: c,
                    monitor: 0
                },
                Input::Bytes {
                    client: c,
                    data: br#"{"execute":"qmp_capabilities"}"#.to_vec()
                },
                Input::Bytes {
                    client: c,
                    data: b"a".to_vec()
                },
                Input::Bytes {
                    client: c,
                    data: b"b".to_vec()
                },
            ]
        );
    }

    #[test]
    fn run_twice_gives_same_digest() {
        let a = run(MachineConfig::default(), true, &[r#"{"execute":"stop"}"#]);
        let b = run(MachineConfig::default(), true, &[r#"{"execute":"stop"}"#]);
        assert_eq!((a.text, a.digest), (b.text, b.digest));
    }
}
