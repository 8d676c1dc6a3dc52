//! `qmpsim trace coverage`: which of QEMU 0.14's commands, error classes and
//! events a corpus of traces exercised, and which it never did.
//!
//! A command counts as requested for every message whose `execute` names it,
//! and as answered with success or with an error by the response that follows it
//! (responses are matched to a client's requests in order, as QMP answers them).
//! The lists are closed: the 46 commands of 0.14's table (the `x-` extensions are
//! reported apart), the 41 error classes of `qerror.c`, the 14 events of
//! `qmp-events.txt`. Everything is kept in `BTreeMap`s, so the report is sorted
//! and the same for the same corpus. Pure: the caller opens the files.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;

use crate::engine::Output;
use crate::qmp::session::ClientId;
use crate::qmp::table;
use crate::wire::ErrorClass;

use super::format::count;
use super::format::TraceError;
use super::reader::TraceReader;
use super::walk::{classify, Item, Sent, Walker};

/// The events QEMU 0.14 sends (`QMP/qmp-events.txt`), in its order.
pub const EVENTS: [&str; 14] = [
    "SHUTDOWN",
    "RESET",
    "POWERDOWN",
    "STOP",
    "RESUME",
    "VNC_CONNECTED",
    "VNC_INITIALIZED",
    "VNC_DISCONNECTED",
    "SPICE_CONNECTED",
    "SPICE_INITIALIZED",
    "SPICE_DISCONNECTED",
    "BLOCK_IO_ERROR",
    "RTC_CHANGE",
    "WATCHDOG",
];

/// How one command was exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommandCounts {
    /// Requests naming it.
    pub requests: u64,
    /// Successful responses to them.
    pub ok: u64,
    /// Error responses to them.
    pub errors: u64,
}

/// What a corpus exercised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Traces read.
    pub traces: u64,
    /// Steps in them.
    pub steps: u64,
    /// Per command name (table commands, `x-` extensions and unknown names).
    pub commands: BTreeMap<String, CommandCounts>,
    /// Error responses by class.
    pub errors: BTreeMap<String, u64>,
    /// Events by name, per client that received them.
    pub events: BTreeMap<String, u64>,
}

impl Coverage {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one trace.
    pub fn add<R: Read>(&mut self, input: R) -> Result<(), TraceError> {
        let (reader, header) = TraceReader::open(input)?;
        let mut walker = Walker::new(&header);
        let mut waiting: BTreeMap<ClientId, VecDeque<Option<String>>> = BTreeMap::new();
        for frame in reader {
            let frame = frame?;
            walker.frame(&frame, &mut |item| match item {
                Item::Request {
                    client, command, ..
                } => {
                    if let Some(name) = &command {
                        self.commands.entry(name.clone()).or_default().requests += 1;
                    }
                    waiting.entry(client).or_default().push_back(command);
                }
                Item::Output {
                    output: Output::Send { client, data },
                    ..
                } => {
                    let sent = classify(data);
                    let answered = match &sent {
                        Sent::Return | Sent::Error(_) => waiting
                            .get_mut(client)
                            .and_then(VecDeque::pop_front)
                            .flatten(),
                        Sent::Event(_) | Sent::Greeting | Sent::Other => None,
                    };
                    self.count_sent(sent, answered);
                }
                Item::End { steps, .. } => self.steps += steps,
                Item::Output { .. }
                | Item::Leftover { .. }
                | Item::Input { .. }
                | Item::Checkpoint { .. } => {}
            });
        }
        self.traces += 1;
        Ok(())
    }

    fn count_sent(&mut self, sent: Sent, answered: Option<String>) {
        match sent {
            Sent::Return => {
                if let Some(name) = answered {
                    self.commands.entry(name).or_default().ok += 1;
                }
            }
            Sent::Error(class) => {
                if let Some(name) = answered {
                    self.commands.entry(name).or_default().errors += 1;
                }
                *self.errors.entry(class).or_default() += 1;
            }
            Sent::Event(name) => *self.events.entry(name).or_default() += 1,
            Sent::Greeting | Sent::Other => {}
        }
    }

    /// The 0.14 commands (no `x-` extensions) never requested.
    pub fn commands_never_requested(&self) -> Vec<&'static str> {
        table::visible(false)
            .map(|c| c.name)
            .filter(|name| self.commands.get(*name).is_none_or(|c| c.requests == 0))
            .collect()
    }

    /// The 0.14 commands never answered with success.
    pub fn commands_never_succeeded(&self) -> Vec<&'static str> {
        table::visible(false)
            .map(|c| c.name)
            .filter(|name| self.commands.get(*name).is_none_or(|c| c.ok == 0))
            .collect()
    }

    /// The error classes never sent.
    pub fn errors_never_seen(&self) -> Vec<&'static str> {
        ErrorClass::ALL
            .iter()
            .map(|c| c.name())
            .filter(|name| !self.errors.contains_key(*name))
            .collect()
    }

    /// The events never sent.
    pub fn events_never_seen(&self) -> Vec<&'static str> {
        EVENTS
            .into_iter()
            .filter(|name| !self.events.contains_key(*name))
            .collect()
    }

    /// The report `qmpsim trace coverage` prints.
    pub fn render(&self) -> String {
        let mut text = format!(
            "{}, {}\n",
            count(self.traces, "trace", "traces"),
            count(self.steps, "step", "steps")
        );
        let commands: Vec<&'static str> = table::visible(false).map(|c| c.name).collect();
        let never = self.commands_never_requested();
        text.push_str(&format!(
            "\ncommands: {} of {} requested\n",
            commands.len() - never.len(),
            commands.len()
        ));
        for name in &commands {
            text.push_str(&self.command_line(name));
        }
        text.push_str(&list_line("never requested", &never));
        text.push_str(&list_line(
            "never answered with success",
            &self.commands_never_succeeded(),
        ));
        let extensions: Vec<&'static str> = table::COMMANDS
            .iter()
            .filter(|c| c.experimental)
            .map(|c| c.name)
            .collect();
        text.push_str(&format!(
            "\nx- extension commands ({}):\n",
            extensions.len()
        ));
        for name in &extensions {
            text.push_str(&self.command_line(name));
        }
        let unknown: Vec<&str> = self
            .commands
            .keys()
            .map(String::as_str)
            .filter(|name| !commands.contains(name) && !extensions.contains(name))
            .collect();
        text.push_str(&list_line("unknown commands requested", &unknown));
        let errors_never = self.errors_never_seen();
        text.push_str(&format!(
            "\nerror classes: {} of {} sent\n",
            ErrorClass::ALL.len() - errors_never.len(),
            ErrorClass::ALL.len()
        ));
        for class in ErrorClass::ALL {
            if let Some(n) = self.errors.get(class.name()) {
                text.push_str(&format!("  {:<28}{n}\n", class.name()));
            }
        }
        text.push_str(&list_line("never sent", &errors_never));
        let events_never = self.events_never_seen();
        text.push_str(&format!(
            "\nevents: {} of {} sent\n",
            EVENTS.len() - events_never.len(),
            EVENTS.len()
        ));
        for name in EVENTS {
            if let Some(n) = self.events.get(name) {
                text.push_str(&format!("  {name:<28}{n}\n"));
            }
        }
        text.push_str(&list_line("never sent", &events_never));
        text
    }

    fn command_line(&self, name: &str) -> String {
        let c = self.commands.get(name).copied().unwrap_or_default();
        format!(
            "  {name:<28}{:>5} requested {:>5} ok {:>5} {}\n",
            c.requests,
            c.ok,
            c.errors,
            if c.errors == 1 { "error" } else { "errors" }
        )
    }
}

/// `  label: a, b, c` (or `none`).
fn list_line(label: &str, names: &[&str]) -> String {
    if names.is_empty() {
        format!("  {label}: none\n")
    } else {
        format!("  {label}: {}\n", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Input;
    use crate::machine::config::MachineConfig;
    use crate::trace::{record_inputs, TraceHeader};

    const ONE: ClientId = ClientId(1);

    fn trace(lines: &[&str]) -> Vec<u8> {
        let mut inputs = vec![Input::connect(ONE)];
        inputs.extend(lines.iter().map(|l| Input::bytes(ONE, l)));
        record_inputs(&TraceHeader::new(MachineConfig::default()), &inputs).unwrap()
    }

    fn covered(lines: &[&str]) -> Coverage {
        let mut coverage = Coverage::new();
        coverage.add(&trace(lines)[..]).unwrap();
        coverage
    }

    #[test]
    fn coverage_matches_responses_to_requests_in_order() {
        let c = covered(&[
            "{\"execute\":\"stop\"}",
            "{\"execute\":\"qmp_capabilities\"}",
            "{\"execute\":\"stop\"}",
        ]);
        assert_eq!(
            c.commands.get("stop"),
            Some(&CommandCounts {
                requests: 2,
                ok: 1,
                errors: 1
            })
        );
    }

    #[test]
    fn coverage_lists_commands_never_requested() {
        let c = covered(&[
            "{\"execute\":\"qmp_capabilities\"}",
            "{\"execute\":\"quit\"}",
        ]);
        let never = c.commands_never_requested();
        assert!(never.len() == 44 && !never.contains(&"quit"), "{never:?}");
    }

    #[test]
    fn coverage_counts_events_and_errors() {
        let c = covered(&[
            "{\"execute\":\"qmp_capabilities\"}",
            "{\"execute\":\"stop\"}",
            "{\"execute\":\"nope\"}",
        ]);
        assert_eq!(
            (c.events.get("STOP"), c.errors.get("CommandNotFound")),
            (Some(&1), Some(&1))
        );
    }

    #[test]
    fn coverage_table_has_46_commands_and_14_events() {
        assert_eq!(
            (
                table::visible(false).count(),
                EVENTS.len(),
                ErrorClass::ALL.len()
            ),
            (46, 14, 41)
        );
    }

    #[test]
    fn coverage_of_two_traces_adds_up() {
        let one = trace(&["{\"execute\":\"qmp_capabilities\"}"]);
        let mut c = Coverage::new();
        c.add(&one[..]).unwrap();
        c.add(&one[..]).unwrap();
        assert_eq!(
            (c.traces, c.commands.get("qmp_capabilities").map(|c| c.ok)),
            (2, Some(2))
        );
    }

    #[test]
    fn render_names_what_was_never_sent() {
        let text = covered(&["{\"execute\":\"qmp_capabilities\"}"]).render();
        assert!(
            text.contains("events: 0 of 14 sent\n  never sent: SHUTDOWN, RESET,"),
            "{text}"
        );
    }
}
