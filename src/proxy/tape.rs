//! A trace read as tapes: for each recorded client, in the order the clients
//! connected, what the server sent before the client's first request (the
//! greeting, and any early events), then each request with the server
//! messages that followed it up to the next request. Any kind of trace gives
//! tapes: observed (`qmpsim proxy`), engine (`-record`) and imported
//! (`trace import`, from a transcript or a libvirt `.replies` file). Pure: it
//! works over `std::io::Read`.
//!
//! Times are the trace's own (wall-clock offsets in an observed trace, virtual
//! time in an engine trace); a tape keeps each message's delay after the
//! request or connect it follows, which is what `--pace recorded` waits.

use std::collections::BTreeMap;
use std::io::Read;

use crate::engine::{Input, Output};
use crate::qmp::session::ClientId;
use crate::trace::walk::{classify, Item, Sent, Walker};
use crate::trace::{Frame, TraceError, TraceHeader, TraceReader};

/// One server message as recorded, with its delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Nanoseconds after the request (or the connect) it follows.
    pub after_ns: u64,
    /// The bytes, as sent.
    pub data: Vec<u8>,
}

/// A recorded request and what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// The trace frame that holds the request's last bytes (as `trace dump`
    /// numbers frames, from 0).
    pub frame: u64,
    /// The request, surrounding whitespace trimmed.
    pub request: Vec<u8>,
    /// Descriptors the client passed (`SCM_RIGHTS`) since its previous request.
    pub fds: u32,
    /// Server messages until the client's next request, in order.
    pub replies: Vec<Reply>,
}

/// One recorded client's session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tape {
    /// The recorded client.
    pub client: u32,
    /// What the server sent before the first request (the greeting first).
    pub opening: Vec<Reply>,
    /// The requests, in order.
    pub episodes: Vec<Episode>,
}

/// Every tape of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cassette {
    /// The trace's header.
    pub header: TraceHeader,
    /// One per recorded client, in connect order.
    pub tapes: Vec<Tape>,
}

/// Reads the tapes of the trace in `input`.
pub fn read<R: Read>(input: R) -> Result<Cassette, TraceError> {
    let (reader, header) = TraceReader::open(input)?;
    let mut walker = Walker::new(&header);
    let mut builder = Builder::default();
    for (index, frame) in reader.enumerate() {
        let frame: Frame = frame?;
        builder.frame = index as u64;
        walker.frame(&frame, &mut |item| builder.item(&item));
    }
    let mut tapes: Vec<Tape> = builder
        .order
        .iter()
        .filter_map(|c| builder.tapes.remove(c))
        .collect();
    if let Some(greeting) = header.observed_session().map(|s| s.greeting.clone()) {
        for tape in &mut tapes {
            let has_greeting = tape
                .opening
                .iter()
                .any(|r| classify(&r.data) == Sent::Greeting);
            if !has_greeting && !greeting.is_empty() {
                tape.opening.insert(
                    0,
                    Reply {
                        after_ns: 0,
                        data: greeting.clone(),
                    },
                );
            }
        }
    }
    Ok(Cassette { header, tapes })
}

#[derive(Debug, Default)]
struct Builder {
    frame: u64,
    tapes: BTreeMap<ClientId, Tape>,
    order: Vec<ClientId>,
    /// Per client, the time of its connect.
    since: BTreeMap<ClientId, u64>,
    /// Per client, the time of each request.
    asked: BTreeMap<ClientId, Vec<u64>>,
    /// Per client, how many of its requests have had their response.
    answered: BTreeMap<ClientId, usize>,
    /// Per client, descriptors passed since its last request.
    fds: BTreeMap<ClientId, u32>,
}

impl Builder {
    /// A server message goes with the oldest request still waiting for its
    /// response (a response closes it), so a pipelining client's replies
    /// stay with their requests; events after the last response go with the
    /// last request; the greeting and what precedes any request open the tape.
    fn sent(&mut self, client: ClientId, at: u64, data: &[u8]) {
        let Some(tape) = self.tapes.get_mut(&client) else {
            return;
        };
        let kind = classify(data);
        let answered = self.answered.entry(client).or_default();
        let greeting_missing = !tape
            .opening
            .iter()
            .any(|r| classify(&r.data) == Sent::Greeting);
        let connect_at = self.since.get(&client).copied().unwrap_or(at);
        if (kind == Sent::Greeting && greeting_missing) || tape.episodes.is_empty() {
            tape.opening.push(Reply {
                after_ns: at.saturating_sub(connect_at),
                data: data.to_vec(),
            });
            return;
        }
        let index = (*answered).min(tape.episodes.len() - 1);
        let asked_at = self
            .asked
            .get(&client)
            .and_then(|a| a.get(index))
            .copied()
            .unwrap_or(at);
        tape.episodes[index].replies.push(Reply {
            after_ns: at.saturating_sub(asked_at),
            data: data.to_vec(),
        });
        if matches!(kind, Sent::Return | Sent::Error(_)) && *answered < tape.episodes.len() {
            *answered += 1;
        }
    }

    fn item(&mut self, item: &Item<'_>) {
        match item {
            Item::Input {
                at,
                input: Input::Connect { client, .. },
            } => {
                self.order.push(*client);
                self.tapes.insert(
                    *client,
                    Tape {
                        client: client.0,
                        ..Tape::default()
                    },
                );
                self.since.insert(*client, at.0);
            }
            Item::Request {
                at, client, text, ..
            } => {
                let Some(tape) = self.tapes.get_mut(client) else {
                    return;
                };
                tape.episodes.push(Episode {
                    frame: self.frame,
                    request: text.clone(),
                    fds: self.fds.remove(client).unwrap_or(0),
                    replies: Vec::new(),
                });
                self.asked.entry(*client).or_default().push(at.0);
            }
            Item::Input {
                input: Input::Fd { client, .. },
                ..
            } => *self.fds.entry(*client).or_default() += 1,
            Item::Output {
                at,
                output: Output::Send { client, data },
            } => self.sent(*client, at.0, data),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::trace::record_inputs;

    fn engine_trace() -> Vec<u8> {
        let inputs = crate::scenario::negotiated_reads(
            ClientId(1),
            [
                r#"{"execute":"query-status","id":1}"#,
                r#"{"execute":"stop"}"#,
            ],
        );
        record_inputs(&TraceHeader::new(MachineConfig::default()), &inputs).unwrap()
    }

    #[test]
    fn engine_trace_gives_one_tape_with_every_request() {
        let cassette = read(&engine_trace()[..]).unwrap();
        let requests: Vec<String> = cassette.tapes[0]
            .episodes
            .iter()
            .map(|e| String::from_utf8_lossy(&e.request).into_owned())
            .collect();
        assert_eq!(
            requests,
            [
                r#"{"execute":"qmp_capabilities"}"#,
                r#"{"execute":"query-status","id":1}"#,
                r#"{"execute":"stop"}"#
            ]
        );
    }

    #[test]
    fn engine_trace_tape_opens_with_the_greeting() {
        let cassette = read(&engine_trace()[..]).unwrap();
        assert!(cassette.tapes[0].opening[0].data.starts_with(b"{\"QMP\": "));
    }

    #[test]
    fn stop_episode_holds_its_event_and_reply() {
        let cassette = read(&engine_trace()[..]).unwrap();
        let stop = &cassette.tapes[0].episodes[2];
        let kinds: Vec<bool> = stop
            .replies
            .iter()
            .map(|r| r.data.starts_with(b"{\"timestamp\""))
            .collect();
        assert_eq!(kinds, [true, false]);
    }
}
