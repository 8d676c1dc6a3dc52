//! `qmpsim trace info`: what a trace holds, counted at the message level.
//!
//! The header (format, the qmpsim version that recorded it, seed, epoch, notes),
//! the clock (its `-x-clock` mode and how many `AdvanceTo` inputs moved it), counts of
//! steps, frames and checkpoints, messages per client in each direction,
//! commands by name, errors by class, events by name, the virtual duration and
//! the final digest. Counting goes through [`super::walk`], so a request split
//! over reads counts once. Every map is a `BTreeMap`: the report is sorted by
//! name. Pure: reads any `std::io::Read`.

use std::collections::BTreeMap;
use std::io::Read;

use crate::engine::{Input, Output};
use crate::machine::clock::VirtualTime;
use crate::qmp::session::ClientId;

use super::dump::time_text;
use super::format::{count, Frame, TraceError, TraceHeader};
use super::reader::TraceReader;
use super::walk::{classify, Item, Sent, Walker};

/// Messages one client sent and received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientCounts {
    /// Complete messages from the client.
    pub sent: u64,
    /// Messages to the client (greeting, responses, events).
    pub received: u64,
}

/// The counts of one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceInfo {
    /// The header.
    pub header: TraceHeader,
    /// `Step` frames.
    pub steps: u64,
    /// Frames of every kind.
    pub frames: u64,
    /// `Checkpoint` frames.
    pub checkpoints: u64,
    /// `AdvanceTo` inputs (idle-clock jumps).
    pub time_jumps: u64,
    /// Messages per client.
    pub clients: BTreeMap<ClientId, ClientCounts>,
    /// Requests by `execute` name (`(unparsed)` for messages without one).
    pub commands: BTreeMap<String, u64>,
    /// Error responses by class.
    pub errors: BTreeMap<String, u64>,
    /// Events by name, counted once per broadcast (not per client).
    pub events: BTreeMap<String, u64>,
    /// Virtual time at the end.
    pub duration: VirtualTime,
    /// The `End` frame's digest.
    pub digest: String,
    /// The exit status, when the machine exited.
    pub exit: Option<i32>,
}

/// Name under which requests without an `execute` member are counted.
pub const UNPARSED: &str = "(unparsed)";

/// Reads a whole trace and counts it.
pub fn info<R: Read>(input: R) -> Result<TraceInfo, TraceError> {
    let (reader, header) = TraceReader::open(input)?;
    let mut info = TraceInfo {
        header: header.clone(),
        steps: 0,
        frames: 0,
        checkpoints: 0,
        time_jumps: 0,
        clients: BTreeMap::new(),
        commands: BTreeMap::new(),
        errors: BTreeMap::new(),
        events: BTreeMap::new(),
        duration: VirtualTime(0),
        digest: String::new(),
        exit: None,
    };
    let mut walker = Walker::new(&header);
    for frame in reader {
        let frame = frame?;
        info.frames += 1;
        match &frame {
            Frame::Step { .. } => info.steps += 1,
            Frame::Checkpoint { .. } | Frame::State { .. } => info.checkpoints += 1,
            Frame::End { digest, .. } => digest.clone_into(&mut info.digest),
        }
        // One event broadcast reaches every client; count it once per step.
        let mut step_events: BTreeMap<String, u64> = BTreeMap::new();
        let mut per_client_events: BTreeMap<(ClientId, String), u64> = BTreeMap::new();
        walker.frame(&frame, &mut |item| match item {
            Item::Request {
                client, command, ..
            } => {
                info.clients.entry(client).or_default().sent += 1;
                *info
                    .commands
                    .entry(command.unwrap_or_else(|| UNPARSED.to_owned()))
                    .or_default() += 1;
            }
            Item::Input { input, .. } => {
                if matches!(input, Input::AdvanceTo { .. }) {
                    info.time_jumps += 1;
                }
                if let Input::Connect { client, .. } = input {
                    info.clients.entry(*client).or_default();
                }
            }
            Item::Output { output, .. } => match output {
                Output::Send { client, data } => {
                    info.clients.entry(*client).or_default().received += 1;
                    match classify(data) {
                        Sent::Error(class) => *info.errors.entry(class).or_default() += 1,
                        Sent::Event(name) => {
                            let n = per_client_events
                                .entry((*client, name.clone()))
                                .or_default();
                            *n += 1;
                            let most = step_events.entry(name).or_default();
                            *most = (*most).max(*n);
                        }
                        Sent::Greeting | Sent::Return | Sent::Other => {}
                    }
                }
                Output::Exit { code } => info.exit = Some(*code),
                Output::Effect(_) | Output::Close { .. } => {}
            },
            Item::End { at, .. } => info.duration = at,
            Item::Leftover { .. } | Item::Checkpoint { .. } => {}
        });
        for (name, n) in step_events {
            *info.events.entry(name).or_default() += n;
        }
    }
    Ok(info)
}

impl TraceInfo {
    /// The report `qmpsim trace info` prints.
    pub fn render(&self) -> String {
        let h = &self.header;
        let mut text = format!(
            "format:      {} (recorded by qmpsim {})\n",
            h.format_version, h.qmpsim_version
        );
        for line in h.notes.lines() {
            text.push_str(&format!("notes:       {line}\n"));
        }
        match h.observed_session() {
            None => {
                text.push_str("kind:        engine (replays against qmpsim)\n");
                text.push_str(&format!("seed:        {}\n", h.config.seed));
                text.push_str(&format!("epoch:       {} s\n", h.config.epoch_s));
            }
            Some(session) => {
                text.push_str("kind:        observed (recorded by qmpsim proxy; qmpsim serve plays it back)\n");
                text.push_str(&format!("upstream:    {}\n", session.upstream));
            }
        }
        let (clock, time) = match h.observed_session() {
            None => (self.clock_text(), "virtual time"),
            Some(_) => ("the proxy's wall clock".to_owned(), "wall-clock time"),
        };
        text.push_str(&format!("clock:       {clock}\n"));
        text.push_str(&format!(
            "steps:       {} ({}, {})\n",
            self.steps,
            count(self.frames, "frame", "frames"),
            count(self.checkpoints, "checkpoint", "checkpoints")
        ));
        text.push_str(&format!(
            "duration:    {} s of {time}\n",
            time_text(self.duration)
        ));
        text.push_str(&format!("clients:     {}\n", self.clients.len()));
        for (client, c) in &self.clients {
            text.push_str(&format!(
                "  client {}: {} sent, {} received\n",
                client.0,
                count(c.sent, "message", "messages"),
                count(c.received, "message", "messages")
            ));
        }
        text.push_str(&tally("commands", &self.commands));
        text.push_str(&tally("errors", &self.errors));
        text.push_str(&tally("events", &self.events));
        if let Some(code) = self.exit {
            text.push_str(&format!("exit:        {code}\n"));
        }
        text.push_str(&format!("digest:      {}\n", self.digest));
        text
    }

    fn clock_text(&self) -> String {
        format!(
            "{}, {}",
            self.header.config.clock.name(),
            count(self.time_jumps, "time jump", "time jumps")
        )
    }
}

/// `name: total` then one indented line per entry.
fn tally(name: &str, entries: &BTreeMap<String, u64>) -> String {
    let total: u64 = entries.values().sum();
    let mut text = format!("{:<13}{total}\n", format!("{name}:"));
    for (key, n) in entries {
        text.push_str(&format!("  {key} {n}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Signal;
    use crate::machine::config::MachineConfig;
    use crate::trace::record_inputs;

    const ONE: ClientId = ClientId(1);
    const TWO: ClientId = ClientId(2);

    fn sample() -> TraceInfo {
        let inputs = [
            Input::connect(ONE),
            Input::connect(TWO),
            Input::bytes(ONE, "{\"execute\":\"qmp_capabilities\"}"),
            Input::bytes(TWO, "{\"execute\":\"qmp_capabilities\"}"),
            Input::bytes(ONE, "{\"execute\":\"stop\"}{\"execute\":\"bogus\"}"),
            Input::AdvanceTo {
                at: VirtualTime(VirtualTime::NS_PER_S),
            },
            Input::Signal {
                signal: Signal::Terminate,
            },
        ];
        let trace = record_inputs(&TraceHeader::new(MachineConfig::default()), &inputs).unwrap();
        info(&trace[..]).unwrap()
    }

    #[test]
    fn info_counts_commands_by_name() {
        let expected: BTreeMap<String, u64> = [
            ("bogus".to_owned(), 1),
            ("qmp_capabilities".to_owned(), 2),
            ("stop".to_owned(), 1),
        ]
        .into();
        assert_eq!(sample().commands, expected);
    }

    #[test]
    fn info_counts_a_broadcast_event_once() {
        let events = sample().events;
        assert_eq!(
            (events.get("STOP"), events.get("SHUTDOWN")),
            (Some(&1), Some(&1))
        );
    }

    #[test]
    fn info_counts_errors_by_class() {
        assert_eq!(sample().errors.get("CommandNotFound"), Some(&1));
    }

    #[test]
    fn info_counts_messages_per_client() {
        assert_eq!(
            sample().clients.get(&ONE),
            Some(&ClientCounts {
                sent: 3,
                received: 6
            })
        );
    }

    #[test]
    fn info_duration_and_jumps() {
        let info = sample();
        assert_eq!(
            (info.duration, info.time_jumps, info.exit),
            (VirtualTime(VirtualTime::NS_PER_S), 1, Some(0))
        );
    }

    #[test]
    fn render_uses_grammatical_counts() {
        let text = sample().render();
        assert!(text.contains("clock:       idle, 1 time jump\n"), "{text}");
    }
}
