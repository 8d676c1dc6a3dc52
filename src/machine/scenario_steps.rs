//! `-x-scenario FILE`: timed fault steps, parsed from TOML into the machine
//! configuration (so a trace's header carries them and replay reproduces
//! them), and the machine's progress through them.
//!
//! A scenario file is a list of `[[step]]` tables. Each has one trigger and
//! one action, which is exactly an `x-inject` action with its arguments
//! beside it (see `qmp::commands::inject::ACTIONS`):
//!
//! ```toml
//! [[step]]
//! at = "2.5s"                 # virtual time: "1500ms", "2.5s", "250us", "10ns"
//! action = "block-io-error"
//! device = "ide0-hd0"
//! operation = "write"
//!
//! [[step]]
//! after_command = 3           # after the reply to the 3rd command of any client
//! action = "guest-reboot"
//!
//! [[step]]
//! after_event = "RESET"       # after the count-th RESET (count defaults to 1)
//! count = 1
//! action = "rtc-change"
//! offset = 3600
//! ```
//!
//! A step runs once. `at` steps are timers (so the idle clock jumps to them);
//! `after_command` steps run right after that command's reply; `after_event`
//! steps run once the event has been sent. What a step's action sends comes
//! out as if it happened then; an action that fails (a VNC client without
//! `-vnc`, say) prints why on stderr and the scenario goes on. Limits:
//! [`SCENARIO_STEPS_MAX`] steps, [`SCENARIO_FILE_BYTES_MAX`] bytes of file.
//! Pure: the file's text comes in as a string.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::VirtualTime;
use super::timers::Timer;
use super::{Effect, Machine};
use crate::qobject::{QDict, QObject};

/// Most steps in one scenario.
pub const SCENARIO_STEPS_MAX: usize = 1024;
/// Largest scenario file, in bytes (1 MiB).
pub const SCENARIO_FILE_BYTES_MAX: usize = 1 << 20;

/// When a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// At this virtual time.
    At(VirtualTime),
    /// After the reply to the Nth command (from 1), counted over every client.
    AfterCommand(u64),
    /// Once event `name` has been sent `count` times.
    AfterEvent {
        /// The event's name.
        name: String,
        /// Which occurrence (from 1).
        count: u64,
    },
}

/// An argument value of a step's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepArg {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioStep {
    /// When it runs.
    pub trigger: Trigger,
    /// The `x-inject` action.
    pub action: String,
    /// Its arguments, in file order.
    pub args: Vec<(String, StepArg)>,
    /// Its line in the file, for messages.
    pub line: u32,
}

impl ScenarioStep {
    /// The arguments as the QMP argument object `x-inject` would get.
    pub fn args_dict(&self) -> QDict {
        let mut dict = QDict::new();
        for (name, value) in &self.args {
            let value = match value {
                StepArg::Str(s) => QObject::from(s.as_str()),
                StepArg::Int(i) => QObject::from(*i),
                StepArg::Bool(b) => QObject::from(*b),
            };
            dict.put(name, value);
        }
        dict
    }
}

/// The machine's progress through its scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScenarioState {
    /// Commands answered so far.
    pub commands: u64,
    /// Events sent so far, by name (only those a step waits for).
    pub events: BTreeMap<String, u64>,
    /// Steps whose trigger came and that have not run yet, in order.
    pub due: Vec<usize>,
}

/// Why a scenario file was refused. `Display` is the message, without the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML.
    #[error("line {line}: {message}")]
    Syntax {
        /// Where.
        line: u32,
        /// What the TOML parser said.
        message: String,
    },
    /// TOML, but not a scenario.
    #[error("line {line}: {message}")]
    Step {
        /// Where.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// More than [`SCENARIO_STEPS_MAX`] steps.
    #[error("line {line}: more than {SCENARIO_STEPS_MAX} steps")]
    TooManySteps {
        /// The first step past the limit.
        line: u32,
    },
    /// Larger than [`SCENARIO_FILE_BYTES_MAX`].
    #[error("larger than {SCENARIO_FILE_BYTES_MAX} bytes")]
    TooLarge,
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> u32 {
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let n = before.bytes().filter(|b| *b == b'\n').count() + 1;
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Checks an action and its arguments the way `x-inject` would, without
/// running it; the problem in words.
pub type ActionCheck = fn(&str, &QDict) -> Result<(), String>;

/// Parses a scenario file's text; `check` vets each step's action.
pub fn parse(text: &str, check: ActionCheck) -> Result<Vec<ScenarioStep>, ScenarioError> {
    use toml::de::{DeTable, DeValue};
    if text.len() > SCENARIO_FILE_BYTES_MAX {
        return Err(ScenarioError::TooLarge);
    }
    let table = DeTable::parse(text).map_err(|e| ScenarioError::Syntax {
        line: line_of(text, e.span().map_or(0, |s| s.start)),
        message: e.message().to_owned(),
    })?;
    let mut steps = Vec::new();
    for (key, value) in table.get_ref() {
        let line = line_of(text, key.span().start);
        let DeValue::Array(items) = value.get_ref() else {
            return Err(step_error(
                line,
                &format!("unknown key '{}' (only [[step]] tables)", key.get_ref()),
            ));
        };
        if key.get_ref() != "step" {
            return Err(step_error(
                line,
                &format!("unknown key '{}' (only [[step]] tables)", key.get_ref()),
            ));
        }
        for item in items {
            let line = line_of(text, item.span().start);
            let DeValue::Table(step) = item.get_ref() else {
                return Err(step_error(line, "a step must be a table"));
            };
            if steps.len() == SCENARIO_STEPS_MAX {
                return Err(ScenarioError::TooManySteps { line });
            }
            steps.push(parse_step(text, line, step, check)?);
        }
    }
    Ok(steps)
}

fn step_error(line: u32, message: &str) -> ScenarioError {
    ScenarioError::Step {
        line,
        message: message.to_owned(),
    }
}

/// Keys of a step that are not arguments of its action.
const STEP_KEYS: [&str; 5] = ["at", "after_command", "after_event", "count", "action"];

fn parse_step(
    text: &str,
    line: u32,
    table: &toml::de::DeTable<'_>,
    check: ActionCheck,
) -> Result<ScenarioStep, ScenarioError> {
    use toml::de::DeValue;
    let mut at = None;
    let mut after_command = None;
    let mut after_event = None;
    let mut count = None;
    let mut action = None;
    let mut args = Vec::new();
    for (key, value) in table {
        let key_line = line_of(text, key.span().start);
        let name = key.get_ref().as_ref();
        let err = |m: &str| step_error(key_line, &format!("{name}: {m}"));
        let value = match value.get_ref() {
            DeValue::String(s) => StepArg::Str(s.to_string()),
            DeValue::Integer(i) => StepArg::Int(
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                    .map_err(|_| err("integer out of range"))?,
            ),
            DeValue::Boolean(b) => StepArg::Bool(*b),
            _ => return Err(err("must be a string, an integer or a boolean")),
        };
        match (name, value) {
            ("at", StepArg::Str(s)) => {
                at = Some(parse_duration(&s).ok_or_else(|| {
                    err("a duration such as \"2.5s\", \"1500ms\", \"250us\" or \"10ns\"")
                })?);
            }
            ("after_command", StepArg::Int(n)) if n >= 1 => after_command = Some(n.unsigned_abs()),
            ("after_event", StepArg::Str(s)) if !s.is_empty() => after_event = Some(s),
            ("count", StepArg::Int(n)) if n >= 1 => count = Some(n.unsigned_abs()),
            ("action", StepArg::Str(s)) => action = Some(s),
            ("after_command" | "count", _) => return Err(err("must be a whole number from 1")),
            ("after_event" | "action" | "at", _) => return Err(err("must be a string")),
            (_, value) => args.push((name.to_owned(), value)),
        }
    }
    let trigger = match (at, after_command, after_event) {
        (Some(t), None, None) => Trigger::At(t),
        (None, Some(n), None) => Trigger::AfterCommand(n),
        (None, None, Some(name)) => Trigger::AfterEvent {
            name,
            count: count.unwrap_or(1),
        },
        _ => {
            return Err(step_error(
                line,
                "a step needs exactly one of at, after_command and after_event",
            ))
        }
    };
    if count.is_some() && !matches!(trigger, Trigger::AfterEvent { .. }) {
        return Err(step_error(line, "count goes with after_event only"));
    }
    let action = action.ok_or_else(|| step_error(line, "a step needs an action"))?;
    let step = ScenarioStep {
        trigger,
        action,
        args,
        line,
    };
    check(&step.action, &step.args_dict()).map_err(|m| step_error(line, &m))?;
    debug_assert!(step
        .args
        .iter()
        .all(|(k, _)| !STEP_KEYS.contains(&k.as_str())));
    Ok(step)
}

/// `"2.5s"`, `"1500ms"`, `"250us"`, `"10ns"`: a virtual time.
pub fn parse_duration(text: &str) -> Option<VirtualTime> {
    let (number, unit_ns) = [
        ("ns", 1_u64),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
    ]
    .into_iter()
    .find_map(|(suffix, ns)| text.strip_suffix(suffix).map(|n| (n, ns)))?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (number.contains('.') && frac.is_empty()) {
        return None;
    }
    let mut ns = whole.parse::<u64>().ok()?.checked_mul(unit_ns)?;
    let mut scale = unit_ns;
    for digit in frac.bytes() {
        scale /= 10;
        if scale == 0 {
            return None;
        }
        ns = ns.checked_add(u64::from(digit - b'0') * scale)?;
    }
    Some(VirtualTime(ns))
}

impl Machine {
    /// At machine creation: a timer for every `at` step.
    pub(crate) fn scenario_start(&mut self) {
        let times: Vec<(usize, VirtualTime)> = self
            .config
            .scenario
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.trigger {
                Trigger::At(t) => Some((i, t)),
                Trigger::AfterCommand(_) | Trigger::AfterEvent { .. } => None,
            })
            .collect();
        for (index, at) in times {
            let delay = at.0.saturating_sub(self.clock.now().0);
            if self
                .clock
                .schedule(delay, Timer::ScenarioStep { index })
                .is_err()
            {
                self.scenario_failed(index, "too many pending timers");
            }
        }
    }

    /// A command was answered: `after_command` steps for it become due.
    pub fn scenario_command_done(&mut self) {
        if self.config.scenario.is_empty() {
            return;
        }
        self.scenario.commands += 1;
        let n = self.scenario.commands;
        let due = self
            .config
            .scenario
            .iter()
            .enumerate()
            .filter(|(_, s)| s.trigger == Trigger::AfterCommand(n))
            .map(|(i, _)| i);
        self.scenario.due.extend(due);
    }

    /// Event `name` was sent: `after_event` steps for it become due.
    pub fn scenario_event_sent(&mut self, name: &str) {
        let waits = |s: &ScenarioStep| matches!(&s.trigger, Trigger::AfterEvent { name: n, .. } if n == name);
        if !self.config.scenario.iter().any(waits) {
            return;
        }
        let seen = self.scenario.events.entry(name.to_owned()).or_default();
        *seen += 1;
        let seen = *seen;
        let due = self
            .config
            .scenario
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(&s.trigger, Trigger::AfterEvent { name: n, count } if n == name && *count == seen))
            .map(|(i, _)| i);
        self.scenario.due.extend(due);
    }

    /// Runs the steps that became due, in order; returns whether any ran.
    pub fn scenario_run_due(&mut self) -> bool {
        let due = std::mem::take(&mut self.scenario.due);
        for &index in &due {
            self.scenario_run(index);
        }
        !due.is_empty()
    }

    /// Runs step `index` now.
    pub(crate) fn scenario_run(&mut self, index: usize) {
        let Some(step) = self.config.scenario.get(index).cloned() else {
            return;
        };
        let args = step.args_dict();
        if let Err(e) = super::faults::run_action(self, &step.action, &args) {
            self.scenario_failed(index, &e.desc());
        }
    }

    fn scenario_failed(&mut self, index: usize, why: &str) {
        let Some(step) = self.config.scenario.get(index) else {
            return;
        };
        let text = format!(
            "qmpsim: -x-scenario: step at line {} ({}): {why}\n",
            step.line, step.action
        );
        self.effects.push(Effect::Stderr { text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(_: &str, _: &QDict) -> Result<(), String> {
        Ok(())
    }

    fn parse_ok(text: &str) -> Vec<ScenarioStep> {
        parse(text, accept).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, accept).unwrap_err().to_string()
    }

    #[test]
    fn at_step_parses_time_action_and_args() {
        let steps = parse_ok("[[step]]\nat = \"2.5s\"\naction = \"rtc-change\"\noffset = 5\n");
        assert_eq!(
            steps,
            [ScenarioStep {
                trigger: Trigger::At(VirtualTime(2_500_000_000)),
                action: "rtc-change".to_owned(),
                args: vec![("offset".to_owned(), StepArg::Int(5))],
                line: 1,
            }]
        );
    }

    #[test]
    fn after_event_count_defaults_to_one() {
        let steps = parse_ok("[[step]]\nafter_event = \"RESET\"\naction = \"guest-reboot\"\n");
        assert_eq!(
            steps[0].trigger,
            Trigger::AfterEvent {
                name: "RESET".to_owned(),
                count: 1
            }
        );
    }

    #[test]
    fn step_arguments_take_strings_integers_and_booleans() {
        let steps = parse_ok(
            "[[step]]\nat = \"1s\"\naction = \"a\"\nhost = \"h\"\nport = 7\nauthenticate = false\n",
        );
        assert_eq!(
            steps[0].args,
            [
                ("authenticate".to_owned(), StepArg::Bool(false)),
                ("host".to_owned(), StepArg::Str("h".to_owned())),
                ("port".to_owned(), StepArg::Int(7)),
            ]
        );
    }

    #[test]
    fn empty_after_event_is_refused() {
        assert_eq!(
            parse_err("[[step]]\nafter_event = \"\"\naction = \"a\"\n"),
            "line 2: after_event: must be a string"
        );
    }

    #[test]
    fn trigger_arguments_out_of_range_or_misplaced_are_refused() {
        for (text, want) in [
            (
                "[[step]]\nafter_command = 0\naction = \"a\"\n",
                "line 2: after_command: must be a whole number from 1",
            ),
            (
                "[[step]]\nafter_event = \"STOP\"\ncount = 0\naction = \"a\"\n",
                "line 3: count: must be a whole number from 1",
            ),
            (
                "[[step]]\nafter_command = 2\ncount = 2\naction = \"a\"\n",
                "line 1: count goes with after_event only",
            ),
        ] {
            assert_eq!(parse_err(text), want, "{text}");
        }
        assert_eq!(
            parse_ok("[[step]]\nafter_event = \"STOP\"\ncount = 2\naction = \"a\"\n")[0].trigger,
            Trigger::AfterEvent {
                name: "STOP".to_owned(),
                count: 2
            }
        );
    }

    fn machine_with(text: &str) -> Machine {
        Machine::new(crate::machine::config::MachineConfig {
            scenario: parse_ok(text),
            ..crate::machine::config::MachineConfig::default()
        })
    }

    #[test]
    fn at_step_runs_at_its_time_and_not_before() {
        let mut m = machine_with("[[step]]\nat = \"1s\"\naction = \"rtc-change\"\noffset = 5\n");
        m.advance_to(VirtualTime(VirtualTime::NS_PER_S - 1));
        assert_eq!(m.events.drain_names(), Vec::<String>::new());
        m.advance_to(VirtualTime(VirtualTime::NS_PER_S));
        assert_eq!(m.events.drain_names(), ["RTC_CHANGE"]);
    }

    #[test]
    fn after_event_step_is_due_at_its_count_of_that_event() {
        let mut m = machine_with(
            "[[step]]\nafter_event = \"STOP\"\ncount = 2\naction = \"rtc-change\"\noffset = 7\n",
        );
        m.vm_stop();
        assert!(!m.scenario_run_due(), "one STOP");
        m.vm_start();
        assert!(!m.scenario_run_due(), "RESUME is another event");
        m.vm_stop();
        assert!(m.scenario_run_due(), "the second STOP");
        assert_eq!(m.rtc.offset_s, 7);
    }

    #[test]
    fn step_whose_action_fails_says_so_on_stderr_with_its_line() {
        let mut m = machine_with("[[step]]\nat = \"1s\"\naction = \"rtc-change\"\n");
        m.advance_to(VirtualTime(VirtualTime::NS_PER_S));
        assert_eq!(
            m.effects,
            [Effect::Stderr {
                text: "qmpsim: -x-scenario: step at line 1 (rtc-change): Parameter 'offset' is missing\n"
                    .to_owned()
            }]
        );
    }

    #[test]
    fn second_step_reports_its_own_line() {
        let text = "[[step]]\nat = \"1s\"\naction = \"a\"\n\n[[step]]\naction = \"b\"\n";
        assert_eq!(
            parse_err(text),
            "line 5: a step needs exactly one of at, after_command and after_event"
        );
    }

    #[test]
    fn syntax_error_names_its_line() {
        assert!(parse_err("[[step]]\nat = \n").starts_with("line 2: "));
    }

    #[test]
    fn bad_duration_is_refused() {
        assert_eq!(
            parse_err("[[step]]\nat = \"soon\"\naction = \"a\"\n"),
            "line 2: at: a duration such as \"2.5s\", \"1500ms\", \"250us\" or \"10ns\""
        );
    }

    #[test]
    fn unknown_top_level_key_is_refused() {
        assert_eq!(
            parse_err("steps = 1\n"),
            "line 1: unknown key 'steps' (only [[step]] tables)"
        );
    }

    #[test]
    fn action_check_failure_is_reported_with_the_step_line() {
        let refuse = |_: &str, _: &QDict| Err("no such action".to_owned());
        let e = parse("[[step]]\nat = \"1s\"\naction = \"x\"\n", refuse).unwrap_err();
        assert_eq!(e.to_string(), "line 1: no such action");
    }

    fn many_steps(n: usize) -> String {
        "[[step]]\nafter_command = 1\naction = \"a\"\n".repeat(n)
    }

    #[test]
    fn steps_at_limit_are_accepted() {
        assert_eq!(
            parse_ok(&many_steps(SCENARIO_STEPS_MAX)).len(),
            SCENARIO_STEPS_MAX
        );
    }

    #[test]
    fn steps_past_limit_are_refused() {
        let line = SCENARIO_STEPS_MAX * 3 + 1;
        assert_eq!(
            parse_err(&many_steps(SCENARIO_STEPS_MAX + 1)),
            format!("line {line}: more than {SCENARIO_STEPS_MAX} steps")
        );
    }

    /// A file of exactly `n` bytes: one step, then comment padding.
    fn file_of(n: usize) -> String {
        let mut text = "[[step]]\nat = \"1s\"\naction = \"a\"\n#".to_owned();
        text.push_str(&"x".repeat(n - text.len()));
        text
    }

    #[test]
    fn file_at_size_limit_is_accepted() {
        assert_eq!(parse_ok(&file_of(SCENARIO_FILE_BYTES_MAX)).len(), 1);
    }

    #[test]
    fn file_past_size_limit_is_refused() {
        assert_eq!(
            parse(&file_of(SCENARIO_FILE_BYTES_MAX + 1), accept),
            Err(ScenarioError::TooLarge)
        );
    }

    #[test]
    fn durations_take_each_unit_and_fractions() {
        let got: Vec<Option<u64>> = [
            "2.5s", "1500ms", "250us", "10ns", "0.001s", "1.5ns", "s", "1.s",
        ]
        .iter()
        .map(|t| parse_duration(t).map(|v| v.0))
        .collect();
        assert_eq!(
            got,
            [
                Some(2_500_000_000),
                Some(1_500_000_000),
                Some(250_000),
                Some(10),
                Some(1_000_000),
                None,
                None,
                None
            ]
        );
    }
}
