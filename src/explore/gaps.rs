//! The gaps of a recorded session, each with a name for people: the clean run's
//! trace is replayed into a fresh engine, client bytes one at a time, and every
//! time the engine's gap count (`EngineState::gaps`) moves, the gap is named
//! after what just happened (a connect, or the message whose reply it precedes).
//! Counting is the engine's own, so the numbers are the ones `-x-explore-gap`
//! takes. Pure: it reads trace bytes from any `Read`.

use std::collections::BTreeMap;
use std::io::Read;

use crate::engine::{Engine, Input};
use crate::qmp::session::ClientId;
use crate::trace::format::{Frame, TraceError};
use crate::trace::reader::TraceReader;

/// One gap of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Its number, as `-x-explore-gap` takes it.
    pub index: u64,
    /// Where it lies, for people: "before the greeting of client 1",
    /// "between query-status and its reply (client 1)".
    pub label: String,
}

/// The gaps of the session a trace recorded, in order.
pub fn gaps_of_trace<R: Read>(input: R) -> Result<Vec<Gap>, TraceError> {
    let (mut reader, header) = TraceReader::open(input)?;
    let mut engine = Engine::new(header.config);
    let mut pending: BTreeMap<ClientId, Vec<u8>> = BTreeMap::new();
    let mut gaps = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        let Frame::Step { input, .. } = frame else {
            continue;
        };
        match input {
            Input::Bytes { client, data } => {
                for b in data {
                    let before = engine.state().gaps;
                    engine.step(Input::Bytes {
                        client,
                        data: vec![b],
                    });
                    let text = pending.entry(client).or_default();
                    text.push(b);
                    if engine.state().gaps > before {
                        let label = message_label(text, client);
                        text.clear();
                        push_gaps(&mut gaps, before, engine.state().gaps, |_| label.clone());
                    }
                }
            }
            Input::Connect { client, monitor } => {
                let before = engine.state().gaps;
                engine.step(Input::Connect { client, monitor });
                push_gaps(&mut gaps, before, engine.state().gaps, |k| {
                    let when = if k == 0 { "before" } else { "right after" };
                    format!("{when} the greeting of client {}", client.0)
                });
            }
            other => {
                let before = engine.state().gaps;
                engine.step(other);
                push_gaps(&mut gaps, before, engine.state().gaps, |_| {
                    "a gap".to_owned()
                });
            }
        }
    }
    Ok(gaps)
}

/// Appends gaps `from..to`, the `k`th of them named by `label(k)`.
fn push_gaps(gaps: &mut Vec<Gap>, from: u64, to: u64, label: impl Fn(u64) -> String) {
    for index in from..to {
        gaps.push(Gap {
            index,
            label: label(index - from),
        });
    }
}

/// "between NAME and its reply (client N)" for a message whose text is `text`.
fn message_label(text: &[u8], client: ClientId) -> String {
    let what = serde_json::from_slice::<serde_json::Value>(text.trim_ascii())
        .ok()
        .and_then(|v| v.get("execute").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "a message".to_owned());
    format!("between {what} and its reply (client {})", client.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::trace::format::TraceHeader;
    use crate::trace::writer::TraceWriter;

    /// A trace of one client that negotiates, then sends `messages`.
    fn trace_of(messages: &[&str]) -> Vec<u8> {
        let config = MachineConfig::default();
        let mut engine = Engine::new(config.clone());
        let mut out = Vec::new();
        let mut writer = TraceWriter::new(&mut out, &TraceHeader::new(config)).unwrap();
        let client = ClientId(1);
        let mut inputs = vec![Input::Connect { client, monitor: 0 }];
        inputs.extend(messages.iter().map(|m| Input::Bytes {
            client,
            data: m.as_bytes().to_vec(),
        }));
        for input in inputs {
            let outputs = engine.step(input.clone());
            writer.record(&input, &outputs).unwrap();
        }
        writer.finish_with(&engine).unwrap();
        out
    }

    #[test]
    fn gaps_of_a_negotiated_session_name_each_message() {
        let trace = trace_of(&[
            "{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":\"query-status\"}",
            " []",
        ]);
        let labels: Vec<String> = gaps_of_trace(&trace[..])
            .unwrap()
            .into_iter()
            .map(|g| format!("{} {}", g.index, g.label))
            .collect();
        assert_eq!(
            labels,
            [
                "0 before the greeting of client 1",
                "1 right after the greeting of client 1",
                "2 between qmp_capabilities and its reply (client 1)",
                "3 between query-status and its reply (client 1)",
                "4 between a message and its reply (client 1)",
            ]
        );
    }
}
