//! The message-level view of a trace: client bytes reassembled into QMP messages
//! with the wire framer, each message and output stamped with its virtual time.
//!
//! A [`Walker`] takes the frames of a trace one at a time and hands each
//! [`Item`] to a visitor, in the order the engine saw and produced them. It keeps
//! a shadow [`Engine`] built from the header's configuration and feeds it the
//! recorded inputs, one complete message at a time: the engine splits no
//! differently by read (split invariance), so the shadow gives the exact virtual
//! time of every message and tells which outputs each message produced, even when
//! one read carried several messages or one message took several reads. The
//! recorded outputs are what is shown; the shadow's are only counted. When the
//! counts disagree (a trace whose outputs came from a transcript rather than from
//! this engine), the remaining recorded outputs follow the last message of the
//! read. A human monitor's client (`crate::monitor`) sends lines, not JSON: its
//! messages are the lines its line editor finishes, shown as edited. Pure: no
//! I/O, ordered maps only.
//!
//! An observed trace (recorded by `qmpsim proxy` from any server) has no engine
//! to shadow: its time is the last `AdvanceTo` (the wall-clock offset the proxy
//! wrote before each message, not shown as an input), a client has a session
//! from its connect to its disconnect, and each server message is the output
//! of its own frame.

use std::collections::BTreeMap;

use crate::engine::{Engine, Input, Output};
use crate::machine::clock::VirtualTime;
use crate::monitor::LineSplitter;
use crate::qmp::session::ClientId;
use crate::wire::framing::{Frame as WireFrame, Framer};
use crate::wire::{parser, QObject};

use super::format::{Frame, TraceHeader};

/// One thing that happened, in trace order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete message from a client (or a stretch the framer refused).
    Request {
        /// Virtual time once the engine has taken the message.
        at: VirtualTime,
        /// From whom.
        client: ClientId,
        /// The message's bytes (from every read it took), surrounding whitespace
        /// trimmed.
        text: Vec<u8>,
        /// The `execute` member, when the message parses as a request.
        command: Option<String>,
    },
    /// Bytes the engine did not take as messages: part of a message still
    /// unfinished when its client left or the trace ended, bytes from a client
    /// without a session, or bytes after the machine exited.
    Leftover {
        /// Virtual time at that point.
        at: VirtualTime,
        /// From whom.
        client: ClientId,
        /// The bytes, surrounding whitespace trimmed (never empty).
        text: Vec<u8>,
        /// Why they formed no message.
        why: Leftover,
    },
    /// An input other than client bytes.
    Input {
        /// Virtual time after the input.
        at: VirtualTime,
        /// The input.
        input: &'a Input,
    },
    /// One recorded output.
    Output {
        /// Virtual time of the message or input that produced it.
        at: VirtualTime,
        /// The output.
        output: &'a Output,
    },
    /// A `Checkpoint` frame.
    Checkpoint {
        /// Steps before it.
        steps: u64,
        /// The recorded digest.
        digest: &'a str,
    },
    /// The `End` frame.
    End {
        /// Steps in the trace.
        steps: u64,
        /// The recorded final digest.
        digest: &'a str,
        /// Virtual time at the end.
        at: VirtualTime,
    },
}

/// Why bytes of a read formed no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// Part of a message, unfinished when its client left or the trace ended.
    Unfinished,
    /// The client has no session (never connected, refused, or gone).
    NoSession,
    /// The machine had already exited.
    AfterExit,
}

/// Walks the frames of one trace (see the module doc).
#[derive(Debug)]
pub struct Walker {
    shadow: Engine,
    /// An observed trace: time and sessions come from the frames, not the shadow.
    observed: Option<Observed>,
    framers: BTreeMap<ClientId, Framer>,
    /// The human monitors' clients: their lines are their messages.
    humans: BTreeMap<ClientId, LineSplitter>,
    /// Per client, the bytes read since its last complete message.
    pending: BTreeMap<ClientId, Vec<u8>>,
    steps: u64,
}

/// What the walker tracks of an observed trace.
#[derive(Debug, Default)]
struct Observed {
    now: VirtualTime,
    sessions: std::collections::BTreeSet<ClientId>,
}

impl Walker {
    /// A walker for a trace with `header`.
    pub fn new(header: &TraceHeader) -> Self {
        Walker {
            shadow: Engine::new(header.config.clone()),
            observed: (!header.is_engine()).then(Observed::default),
            framers: BTreeMap::new(),
            humans: BTreeMap::new(),
            pending: BTreeMap::new(),
            steps: 0,
        }
    }

    /// Virtual time so far.
    pub fn now(&self) -> VirtualTime {
        match &self.observed {
            Some(o) => o.now,
            None => self.shadow.now(),
        }
    }

    /// Whether `client` has a session (and the machine has not exited): its
    /// bytes form messages.
    fn reads(&self, client: ClientId) -> Result<(), Leftover> {
        if let Some(o) = &self.observed {
            return match o.sessions.contains(&client) {
                true => Ok(()),
                false => Err(Leftover::NoSession),
            };
        }
        if self.shadow.exited().is_some() {
            Err(Leftover::AfterExit)
        } else if !self.shadow.state().sessions.contains_key(&client) {
            Err(Leftover::NoSession)
        } else {
            Ok(())
        }
    }

    /// Feeds the shadow (an engine trace only) and says how many outputs it
    /// gave.
    fn shadow_step(&mut self, input: Input) -> Option<usize> {
        match self.observed {
            Some(_) => None,
            None => Some(self.shadow.step(input).len()),
        }
    }

    /// An observed trace's non-byte input: time and sessions follow it, and
    /// `AdvanceTo` is not shown.
    fn observed_input<'a>(&mut self, input: &'a Input, visit: &mut dyn FnMut(Item<'a>)) {
        let o = self.observed.as_mut().expect("called for observed traces");
        match input {
            Input::AdvanceTo { at } => {
                o.now = *at;
                return;
            }
            Input::Connect { client, .. } => {
                o.sessions.insert(*client);
                self.framers.insert(*client, Framer::new());
                self.pending.remove(client);
            }
            Input::Disconnect { client } => {
                o.sessions.remove(client);
                self.unfinished(*client, visit);
            }
            _ => {}
        }
        visit(Item::Input {
            at: self.now(),
            input,
        });
    }

    /// Hands every item of `frame` to `visit`, in order.
    pub fn frame<'a>(&mut self, frame: &'a Frame, visit: &mut dyn FnMut(Item<'a>)) {
        match frame {
            Frame::Step { input, outputs } => {
                self.steps += 1;
                self.step(input, outputs, visit);
            }
            Frame::Checkpoint { digest } | Frame::State { digest, .. } => visit(Item::Checkpoint {
                steps: self.steps,
                digest,
            }),
            Frame::End { steps, digest } => {
                let clients: Vec<ClientId> = self.pending.keys().copied().collect();
                for client in clients {
                    self.unfinished(client, visit);
                }
                visit(Item::End {
                    steps: *steps,
                    digest,
                    at: self.now(),
                });
            }
        }
    }

    fn step<'a>(
        &mut self,
        input: &'a Input,
        outputs: &'a [Output],
        visit: &mut dyn FnMut(Item<'a>),
    ) {
        let mut recorded = outputs.iter();
        match input {
            Input::Bytes { client, data } => self.bytes(*client, data, &mut recorded, visit),
            other if self.observed.is_some() => self.observed_input(other, visit),
            other => {
                match other {
                    Input::Connect { client, .. }
                        if !self.shadow.state().sessions.contains_key(client) =>
                    {
                        self.framers.insert(*client, Framer::new());
                        self.pending.remove(client);
                    }
                    Input::Disconnect { client } => self.unfinished(*client, visit),
                    _ => {}
                }
                self.shadow.step(other.clone());
                if let Input::Connect { client, .. } = other {
                    let session = self.shadow.state().sessions.get(client);
                    match session.and_then(LineSplitter::for_session) {
                        Some(lines) => {
                            self.humans.insert(*client, lines);
                        }
                        None => {
                            self.humans.remove(client);
                        }
                    }
                }
                visit(Item::Input {
                    at: self.now(),
                    input: other,
                });
            }
        }
        let at = self.now();
        for output in recorded {
            visit(Item::Output { at, output });
        }
    }

    /// Splits a read at message boundaries and feeds the shadow one message at a
    /// time, showing each message followed by the recorded outputs it produced.
    fn bytes<'a>(
        &mut self,
        client: ClientId,
        data: &'a [u8],
        recorded: &mut std::slice::Iter<'a, Output>,
        visit: &mut dyn FnMut(Item<'a>),
    ) {
        if let Err(why) = self.reads(client) {
            self.leftover(client, data, why, visit);
            return;
        }
        // The framer mirrors the session's: it finds where each message ends.
        // A human monitor's messages are the lines its editor finishes.
        let mut boundaries = Vec::new();
        if let Some(lines) = self.humans.get_mut(&client) {
            for (i, &b) in data.iter().enumerate() {
                if let Some(line) = lines.feed(b) {
                    boundaries.push((i + 1, None, Some(line)));
                }
            }
        } else {
            let framer = self.framers.entry(client).or_default();
            for end in 1..=data.len() {
                if let Some(frame) = framer.feed(&data[end - 1..end]).into_iter().last() {
                    boundaries.push((end, command_of(&frame), None));
                }
            }
        }
        let mut start = 0;
        for (end, command, line) in boundaries {
            let chunk = &data[start..end];
            start = end;
            let produced = self.shadow_step(Input::bytes(client, chunk));
            let mut text = self.pending.remove(&client).unwrap_or_default();
            text.extend_from_slice(chunk);
            let at = self.now();
            visit(Item::Request {
                at,
                client,
                text: line.unwrap_or_else(|| trim(&text).to_vec()),
                command,
            });
            // An observed trace's outputs all follow the read (they are the
            // server's later frames, in practice none).
            for output in recorded.by_ref().take(produced.unwrap_or(0)) {
                visit(Item::Output { at, output });
            }
            if self.observed.is_none() && self.shadow.exited().is_some() {
                self.leftover(client, &data[end..], Leftover::AfterExit, visit);
                return;
            }
        }
        let rest = &data[start..];
        if !rest.is_empty() {
            self.shadow_step(Input::bytes(client, rest));
            self.pending
                .entry(client)
                .or_default()
                .extend_from_slice(rest);
        }
    }

    /// Reports the unfinished message of `client`, if any.
    fn unfinished<'a>(&mut self, client: ClientId, visit: &mut dyn FnMut(Item<'a>)) {
        if let Some(text) = self.pending.remove(&client) {
            self.leftover(client, &text, Leftover::Unfinished, visit);
        }
    }

    fn leftover<'a>(
        &self,
        client: ClientId,
        data: &[u8],
        why: Leftover,
        visit: &mut dyn FnMut(Item<'a>),
    ) {
        let text = trim(data);
        if !text.is_empty() {
            visit(Item::Leftover {
                at: self.now(),
                client,
                text: text.to_vec(),
                why,
            });
        }
    }
}

/// `data` without leading and trailing ASCII whitespace.
pub fn trim(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &data[start..end]
}

/// The `execute` member of a framed message, when it parses as a dict.
fn command_of(frame: &WireFrame) -> Option<String> {
    let WireFrame::Message(tokens) = frame else {
        return None;
    };
    let value = parser::parse(tokens).ok()?;
    value.as_dict()?.get_str("execute").map(str::to_owned)
}

/// What a message sent to a client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The greeting.
    Greeting,
    /// A successful response.
    Return,
    /// An error response of this class.
    Error(String),
    /// An event of this name.
    Event(String),
    /// Something else (HMP text, or bytes that are not one JSON object).
    Other,
}

/// Classifies one message sent to a client.
pub fn classify(data: &[u8]) -> Sent {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return Sent::Other;
    };
    if let Some(name) = map.get("event").and_then(|v| v.as_str()) {
        return Sent::Event(name.to_owned());
    }
    if let Some(error) = map.get("error") {
        let class = error.get("class").and_then(|v| v.as_str()).unwrap_or("");
        return Sent::Error(class.to_owned());
    }
    if map.contains_key("return") {
        return Sent::Return;
    }
    if map.contains_key("QMP") {
        return Sent::Greeting;
    }
    Sent::Other
}

/// The `execute` member of a request text, parsed as 0.14 parses it.
pub fn command_of_text(text: &[u8]) -> Option<String> {
    let mut framer = Framer::new();
    let mut frames = framer.feed(text);
    frames.extend(framer.feed(b"\n"));
    match frames.as_slice() {
        [frame] => command_of(frame),
        _ => None,
    }
}

/// Whether a parsed value is a dict with `execute` (kept for importers).
pub fn is_request(value: &QObject) -> bool {
    value.as_dict().is_some_and(|d| d.contains_key("execute"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::trace::record_inputs;
    use crate::trace::TraceReader;

    const ONE: ClientId = ClientId(1);

    fn bytes(data: &str) -> Input {
        Input::bytes(ONE, data)
    }

    /// Every item of a recorded session, rendered compactly.
    fn items(inputs: &[Input]) -> Vec<String> {
        items_with(MachineConfig::default(), inputs)
    }

    /// The items of client `ONE` connecting, then `inputs`.
    fn session_items(inputs: &[Input]) -> Vec<String> {
        items(&[&[Input::connect(ONE)], inputs].concat())
    }

    /// The requests of a session on a machine with one human monitor, on stdio.
    fn human_requests(inputs: &[Input]) -> Vec<String> {
        use crate::machine::config::{ChardevBackend, ChardevConfig, MonitorConfig, MonitorMode};
        let config = MachineConfig {
            chardevs: vec![ChardevConfig {
                label: "compat_monitor0".to_owned(),
                backend: ChardevBackend::Stdio,
            }],
            monitors: vec![MonitorConfig {
                chardev: "compat_monitor0".to_owned(),
                mode: MonitorMode::Readline,
                pretty: false,
            }],
            ..MachineConfig::default()
        };
        items_with(config, inputs)
            .into_iter()
            .filter(|i| i.contains(" -> "))
            .collect()
    }

    #[test]
    fn human_monitor_lines_are_its_requests_as_edited() {
        let connect = Input::Connect {
            client: ONE,
            monitor: 0,
        };
        let got = human_requests(&[connect, bytes("info nam"), bytes("x\x7fe\nstop\n")]);
        assert_eq!(got, ["2 -> info name", "3 -> stop"]);
    }

    fn items_with(config: MachineConfig, inputs: &[Input]) -> Vec<String> {
        let header = TraceHeader::new(config);
        let trace = record_inputs(&header, inputs).unwrap();
        let (reader, header) = TraceReader::open(&trace[..]).unwrap();
        let frames: Vec<Frame> = reader.map(Result::unwrap).collect();
        let mut walker = Walker::new(&header);
        let mut seen = Vec::new();
        for frame in &frames {
            walker.frame(frame, &mut |item| {
                seen.push(match item {
                    Item::Request { at, text, .. } => {
                        format!("{} -> {}", at.0 / 1_000_000, String::from_utf8_lossy(&text))
                    }
                    Item::Leftover { text, why, .. } => {
                        format!("left {why:?} {}", String::from_utf8_lossy(&text))
                    }
                    Item::Input { at, .. } => format!("{} input", at.0 / 1_000_000),
                    Item::Output { at, output } => match output {
                        Output::Send { data, .. } => format!(
                            "{} <- {}",
                            at.0 / 1_000_000,
                            String::from_utf8_lossy(trim(data))
                        ),
                        _ => format!("{} other", at.0 / 1_000_000),
                    },
                    Item::Checkpoint { .. } => "checkpoint".to_owned(),
                    Item::End { steps, .. } => format!("end {steps}"),
                });
            });
        }
        seen
    }

    /// Every item of an observed trace of `steps`, rendered compactly.
    fn observed_items(steps: &[(Input, Vec<Output>)]) -> Vec<String> {
        let header = TraceHeader::observed(crate::trace::format::ObservedSession {
            upstream: "unix:/q.sock".to_owned(),
            greeting: b"{\"QMP\": {}}\r\n".to_vec(),
            started_unix_ms: 0,
        });
        let mut walker = Walker::new(&header);
        let mut seen = Vec::new();
        for (input, outputs) in steps {
            let frame = Frame::Step {
                input: input.clone(),
                outputs: outputs.clone(),
            };
            walker.frame(&frame, &mut |item| {
                seen.push(match item {
                    Item::Request { at, text, .. } => {
                        format!("{} -> {}", at.0, String::from_utf8_lossy(&text))
                    }
                    Item::Output {
                        at,
                        output: Output::Send { data, .. },
                    } => format!("{} <- {}", at.0, String::from_utf8_lossy(trim(data))),
                    other => format!("{other:?}").chars().take(24).collect(),
                });
            });
        }
        seen
    }

    fn advance(ns: u64) -> Input {
        Input::AdvanceTo {
            at: VirtualTime(ns),
        }
    }

    fn send(data: &str) -> Vec<Output> {
        vec![Output::Send {
            client: ONE,
            data: data.as_bytes().to_vec(),
        }]
    }

    #[test]
    fn walker_of_observed_trace_takes_time_from_advances_and_hides_them() {
        let seen = observed_items(&[
            (
                Input::Connect {
                    client: ONE,
                    monitor: 0,
                },
                vec![],
            ),
            (advance(5), send("{\"QMP\": {}}\r\n")),
            (advance(9), vec![]),
            (
                bytes("{\"execute\":\"quit\"}{\"execute\":\"stop\"}"),
                vec![],
            ),
            (advance(12), send("{\"return\": {}}\r\n")),
        ]);
        assert_eq!(
            &seen[1..],
            [
                "5 <- {\"QMP\": {}}",
                "9 -> {\"execute\":\"quit\"}",
                "9 -> {\"execute\":\"stop\"}",
                "12 <- {\"return\": {}}"
            ]
        );
    }

    #[test]
    fn walker_of_observed_trace_shows_bytes_after_disconnect_as_leftover() {
        let seen = observed_items(&[
            (
                Input::Connect {
                    client: ONE,
                    monitor: 0,
                },
                vec![],
            ),
            (Input::Disconnect { client: ONE }, vec![]),
            (bytes("{}"), vec![]),
        ]);
        assert!(seen[2].starts_with("Leftover"), "{seen:?}");
    }

    #[test]
    fn walker_joins_a_message_split_over_two_reads() {
        let seen = session_items(&[bytes("{\"execute\":\"qmp_capa"), bytes("bilities\"}\n")]);
        assert_eq!(
            &seen[2..],
            [
                "2 -> {\"execute\":\"qmp_capabilities\"}",
                "2 <- {\"return\": {}}",
                "end 3"
            ]
        );
    }

    #[test]
    fn walker_splits_two_messages_in_one_read_with_their_replies() {
        let seen = session_items(&[bytes(
            "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"stop\"}",
        )]);
        assert_eq!(
            &seen[2..6],
            [
                "2 -> {\"execute\":\"qmp_capabilities\"}",
                "2 <- {\"return\": {}}",
                "3 -> {\"execute\":\"stop\"}",
                "3 <- {\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 3000}, \"event\": \"STOP\"}",
            ]
        );
    }

    #[test]
    fn walker_shows_bytes_after_quit_as_leftover() {
        let seen = session_items(&[bytes(
            "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"quit\"}{\"execute\":\"stop\"}",
        )]);
        assert!(
            seen.contains(&"left AfterExit {\"execute\":\"stop\"}".to_owned()),
            "{seen:?}"
        );
    }

    #[test]
    fn walker_reports_unfinished_message_at_disconnect() {
        let seen = session_items(&[bytes("{\"execute\":"), Input::Disconnect { client: ONE }]);
        assert_eq!(seen[2], "left Unfinished {\"execute\":");
    }

    #[test]
    fn walker_bytes_without_session_are_leftover() {
        let seen = items(&[bytes("{}")]);
        assert_eq!(seen[0], "left NoSession {}");
    }

    #[test]
    fn classify_tells_events_errors_and_returns() {
        assert_eq!(
            (
                classify(b"{\"event\": \"STOP\"}\r\n"),
                classify(b"{\"error\": {\"class\": \"CommandNotFound\"}}"),
                classify(b"{\"return\": {}}"),
                classify(b"(qemu)")
            ),
            (
                Sent::Event("STOP".to_owned()),
                Sent::Error("CommandNotFound".to_owned()),
                Sent::Return,
                Sent::Other
            )
        );
    }

    #[test]
    fn command_of_text_reads_single_quotes_as_qemu_does() {
        assert_eq!(
            command_of_text(b"{'execute': 'stop'}"),
            Some("stop".to_owned())
        );
    }

    #[test]
    fn trim_drops_surrounding_whitespace_only() {
        assert_eq!(trim(b" \r\n{ }\n"), b"{ }");
    }
}
