//! Trace minimization: delta debugging (Zeller's ddmin) of a trace down to the
//! fewest messages that still meet a condition.
//!
//! The units are messages and clients, never bytes: a `Bytes` input is cut after
//! each complete message the framer finds in it (what follows the last one is a
//! unit too), and every other input except `Connect` is a unit of its own. The
//! search first tries dropping whole clients (every input of the client,
//! `Connect` included), then runs ddmin over the units that are left, and
//! finally drops the `Connect` of any client that has nothing left.
//!
//! Conditions ([`Until`]):
//! - [`Until::ReplayDiverges`]: the trace does not replay (its recorded outputs
//!   differ from the engine's). Units are whole steps with their recorded
//!   outputs; a candidate meets the condition when the first step that differs
//!   is the same step of the original as in the full trace, and the steps before
//!   it replay cleanly (so the divergence kept is the original one, not one that
//!   dropping an earlier message caused).
//! - [`Until::OutputContains`]: a fresh recording of the candidate has an output
//!   line (in the `<-` notation of `qmpsim trace dump`) containing the text.
//! - [`Until::Oracle`]: the caller judges a fresh recording of the candidate
//!   (`qmpsim trace minimize --until exec CMD` runs a command on it).
//!
//! Pure: traces in and out as bytes; the caller reads and writes files.

use std::collections::BTreeSet;

use crate::engine::{Engine, Input, Output};
use crate::qmp::session::ClientId;
use crate::trace::export::{render_outputs, Notation};
use crate::trace::{record_inputs, Frame, TraceError, TraceHeader, TraceReader, TraceWriter};
use crate::wire::framing::Framer;

/// Most candidates tried in one minimization; past it the best so far is kept.
pub const CANDIDATES_MAX: usize = 100_000;

/// What the minimized trace must still do.
pub enum Until<'a> {
    /// Replaying it diverges from its recording at the original step.
    ReplayDiverges,
    /// An output line of a fresh recording contains this text.
    OutputContains(String),
    /// The caller's judgement of a fresh recording (the candidate's trace bytes).
    Oracle(&'a mut dyn FnMut(&[u8]) -> bool),
}

impl std::fmt::Debug for Until<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReplayDiverges => f.write_str("ReplayDiverges"),
            Self::OutputContains(text) => f.debug_tuple("OutputContains").field(text).finish(),
            Self::Oracle(_) => f.write_str("Oracle"),
        }
    }
}

/// Why a trace could not be minimized.
#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    /// The trace could not be read or a candidate could not be written.
    #[error("Invalid trace")]
    Trace(#[from] TraceError),
    /// The whole trace does not meet the condition, so there is nothing to keep.
    #[error("the trace does not meet the condition")]
    NotMet,
    /// `replay-diverges` on a trace whose outputs all replay: only a state digest
    /// differs, which cannot be checked on a part of the trace.
    #[error("the trace's outputs replay; only a state digest differs")]
    DigestOnly,
}

/// The result of a minimization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minimized {
    /// The minimized trace.
    pub trace: Vec<u8>,
    /// Its `->`/`<-` transcript (as `qmpsim trace dump` prints it).
    pub transcript: String,
    /// Units (messages and other inputs, `Connect` aside) in the original.
    pub units_before: usize,
    /// Units kept.
    pub units_after: usize,
    /// Clients in the original and kept.
    pub clients_before: usize,
    /// Clients kept.
    pub clients_after: usize,
    /// Candidates tried.
    pub candidates: usize,
}

/// One unit of the search: an input, and for `replay-diverges` its recorded outputs.
#[derive(Debug, Clone)]
struct Unit {
    input: Input,
    recorded: Option<Vec<Output>>,
    /// Index of the step it came from in the original trace.
    step: usize,
}

/// Cuts `data` after each complete message (whitespace that ends `data` stays
/// with the last message).
pub fn split_messages(data: &[u8]) -> Vec<Vec<u8>> {
    let mut framer = Framer::new();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, b) in data.iter().enumerate() {
        if !framer.feed(std::slice::from_ref(b)).is_empty() {
            pieces.push(data[start..=i].to_vec());
            start = i + 1;
        }
    }
    let rest = &data[start..];
    match pieces.last_mut() {
        // Whitespace after the last message (its newline) stays with it.
        Some(last) if rest.iter().all(u8::is_ascii_whitespace) => last.extend_from_slice(rest),
        _ if !rest.is_empty() => pieces.push(rest.to_vec()),
        _ => {}
    }
    pieces
}

/// A recorded step: its input and outputs.
type Step = (Input, Vec<Output>);

fn read_steps(trace: &[u8]) -> Result<(TraceHeader, Vec<Step>), TraceError> {
    let (mut reader, header) = TraceReader::open(trace)?;
    header.require_engine("trace minimize")?;
    let mut steps = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        if let Frame::Step { input, outputs } = frame {
            steps.push((input, outputs));
        }
    }
    Ok((header, steps))
}

/// The search state: the units, the condition, and the count of candidates.
struct Search<'a, 'b> {
    header: &'a TraceHeader,
    units: Vec<Unit>,
    until: &'a mut Until<'b>,
    /// For `replay-diverges`: the original step that first diverges.
    diverging_step: usize,
    candidates: usize,
}

impl Search<'_, '_> {
    fn inputs(&self, keep: &[usize]) -> Vec<Input> {
        keep.iter().map(|&i| self.units[i].input.clone()).collect()
    }

    /// Whether the candidate made of units `keep` meets the condition.
    fn test(&mut self, keep: &[usize]) -> Result<bool, TraceError> {
        self.candidates += 1;
        match self.until {
            Until::ReplayDiverges => Ok(self.first_divergence(keep) == Some(self.diverging_step)),
            Until::OutputContains(text) => {
                let text = text.clone();
                Ok(output_text(self.header, &self.inputs(keep)).contains(&text))
            }
            Until::Oracle(_) => {
                let trace = record_inputs(self.header, &self.inputs(keep))?;
                let Until::Oracle(oracle) = &mut self.until else {
                    unreachable!("matched above")
                };
                Ok(oracle(&trace))
            }
        }
    }

    /// The original step index of the first unit whose fresh outputs differ from
    /// its recorded ones.
    fn first_divergence(&self, keep: &[usize]) -> Option<usize> {
        let mut engine = Engine::new(self.header.config.clone());
        for &i in keep {
            let unit = &self.units[i];
            let actual = engine.step(unit.input.clone());
            if unit.recorded.as_ref() != Some(&actual) {
                return Some(unit.step);
            }
        }
        None
    }

    /// The trace of the units `keep`.
    fn trace(&self, keep: &[usize]) -> Result<Vec<u8>, TraceError> {
        if !matches!(self.until, Until::ReplayDiverges) {
            return record_inputs(self.header, &self.inputs(keep));
        }
        // The recorded outputs are kept, so that the result still diverges.
        let mut engine = Engine::new(self.header.config.clone());
        let mut writer = TraceWriter::new(Vec::new(), self.header)?;
        for &i in keep {
            let unit = &self.units[i];
            engine.step(unit.input.clone());
            writer.record(&unit.input, unit.recorded.as_deref().unwrap_or_default())?;
        }
        let steps = u64::try_from(keep.len()).unwrap_or(u64::MAX);
        writer.finish(steps, &engine.digest())
    }

    /// Zeller's ddmin over `keep`, never removing the units in `fixed`.
    fn ddmin(
        &mut self,
        keep: Vec<usize>,
        fixed: &BTreeSet<usize>,
    ) -> Result<Vec<usize>, TraceError> {
        let mut current = keep;
        let mut n = 2usize;
        loop {
            let movable: Vec<usize> = current
                .iter()
                .copied()
                .filter(|i| !fixed.contains(i))
                .collect();
            if movable.is_empty() || self.candidates >= CANDIDATES_MAX {
                return Ok(current);
            }
            let n_eff = n.min(movable.len());
            let chunks = partition(&movable, n_eff);
            let mut reduced = false;
            // Try each chunk on its own (with the fixed units), then each complement.
            for chunk in &chunks {
                let candidate: Vec<usize> = current
                    .iter()
                    .copied()
                    .filter(|i| fixed.contains(i) || chunk.contains(i))
                    .collect();
                if candidate.len() < current.len() && self.test(&candidate)? {
                    current = candidate;
                    n = 2;
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                for chunk in &chunks {
                    let candidate: Vec<usize> = current
                        .iter()
                        .copied()
                        .filter(|i| !chunk.contains(i))
                        .collect();
                    if candidate.len() < current.len() && self.test(&candidate)? {
                        current = candidate;
                        n = n_eff.saturating_sub(1).max(2);
                        reduced = true;
                        break;
                    }
                }
            }
            if !reduced {
                if n_eff >= movable.len() {
                    return Ok(current);
                }
                n = (n_eff * 2).min(movable.len());
            }
        }
    }
}

fn partition(items: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.max(1);
    let mut chunks = Vec::with_capacity(n);
    let mut start = 0;
    for k in 0..n {
        let end = items.len() * (k + 1) / n;
        chunks.push(items[start..end].to_vec());
        start = end;
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}

/// Every output line of a fresh run of `inputs`, in the `<-` notation.
fn output_text(header: &TraceHeader, inputs: &[Input]) -> String {
    let mut engine = Engine::new(header.config.clone());
    let notation = Notation {
        client_prefix: true,
    };
    let mut text = String::new();
    for input in inputs {
        let outputs = engine.step(input.clone());
        text.push_str(&render_outputs(&outputs, notation));
    }
    text
}

/// Minimizes the trace `trace` until it no longer meets `until`.
pub fn minimize(trace: &[u8], until: &mut Until<'_>) -> Result<Minimized, MinimizeError> {
    let (header, steps) = read_steps(trace)?;
    let replay_mode = matches!(until, Until::ReplayDiverges);
    let mut units = Vec::new();
    for (step, (input, outputs)) in steps.into_iter().enumerate() {
        match input {
            Input::Bytes { client, data } if !replay_mode => {
                for piece in split_messages(&data) {
                    units.push(Unit {
                        input: Input::bytes(client, piece),
                        recorded: None,
                        step,
                    });
                }
            }
            input => units.push(Unit {
                input,
                recorded: replay_mode.then_some(outputs),
                step,
            }),
        }
    }
    let mut search = Search {
        header: &header,
        units,
        until,
        diverging_step: 0,
        candidates: 0,
    };
    let all: Vec<usize> = (0..search.units.len()).collect();
    if replay_mode {
        search.diverging_step = match search.first_divergence(&all) {
            Some(step) => step,
            None if crate::replay::replay(trace).is_ok() => return Err(MinimizeError::NotMet),
            None => return Err(MinimizeError::DigestOnly),
        };
    } else if !search.test(&all)? {
        return Err(MinimizeError::NotMet);
    }
    let clients: BTreeSet<ClientId> = search
        .units
        .iter()
        .filter_map(|u| u.input.client())
        .collect();
    let is_connect = |u: &Unit| matches!(u.input, Input::Connect { .. });
    let count_units = |s: &Search<'_, '_>, keep: &[usize]| {
        keep.iter().filter(|&&i| !is_connect(&s.units[i])).count()
    };
    let units_before = count_units(&search, &all);

    // Whole clients first.
    let mut keep = all;
    for client in &clients {
        let candidate: Vec<usize> = keep
            .iter()
            .copied()
            .filter(|&i| search.units[i].input.client() != Some(*client))
            .collect();
        if candidate.len() < keep.len() && search.test(&candidate)? {
            keep = candidate;
        }
    }
    // Then messages, with every `Connect` held.
    let connects: BTreeSet<usize> = keep
        .iter()
        .copied()
        .filter(|&i| is_connect(&search.units[i]))
        .collect();
    keep = search.ddmin(keep, &connects)?;
    // Finally, the `Connect` of clients with nothing else left.
    for &c in &connects {
        let client = search.units[c].input.client();
        let alone = !keep
            .iter()
            .any(|&i| i != c && search.units[i].input.client() == client);
        if alone {
            let candidate: Vec<usize> = keep.iter().copied().filter(|&i| i != c).collect();
            if search.test(&candidate)? {
                keep = candidate;
            }
        }
    }
    let out = search.trace(&keep)?;
    let transcript = crate::trace::dump::dump_to_string(&out).map_err(|e| match e {
        crate::trace::export::ExportError::Trace(t) => MinimizeError::Trace(t),
        other => MinimizeError::Trace(TraceError::Io(std::io::Error::other(other.to_string()))),
    })?;
    let clients_after: BTreeSet<ClientId> = keep
        .iter()
        .filter_map(|&i| search.units[i].input.client())
        .collect();
    Ok(Minimized {
        trace: out,
        transcript,
        units_before,
        units_after: count_units(&search, &keep),
        clients_before: clients.len(),
        clients_after: clients_after.len(),
        candidates: search.candidates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::trace::dump::dump_to_string;

    const ONE: ClientId = ClientId(1);
    const TWO: ClientId = ClientId(2);

    fn session() -> Vec<Input> {
        vec![
            Input::connect(ONE),
            Input::bytes(
                ONE,
                "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\"}\n",
            ),
            Input::connect(TWO),
            Input::bytes(TWO, "{\"execute\":\"qmp_capabilities\"}\n"),
            Input::bytes(
                ONE,
                "{\"execute\":\"stop\"}\n{\"execute\":\"query-name\"}\n",
            ),
            Input::bytes(TWO, "{\"execute\":\"query-kvm\"}\n"),
            Input::bytes(
                ONE,
                "{\"execute\":\"cont\"}\n{\"execute\":\"query-version\"}\n",
            ),
            Input::Disconnect { client: TWO },
        ]
    }

    fn trace(inputs: &[Input]) -> Vec<u8> {
        record_inputs(&TraceHeader::new(MachineConfig::default()), inputs).unwrap()
    }

    #[test]
    fn split_messages_cuts_after_each_complete_message() {
        let pieces = split_messages(b"{\"a\":1}\n{\"b\":[2]} tail");
        let texts: Vec<String> = pieces
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(texts, ["{\"a\":1}", "\n{\"b\":[2]}", " tail"]);
        let pieces = split_messages(b"{}\n{}\r\n");
        assert_eq!(pieces, [b"{}".to_vec(), b"\n{}\r\n".to_vec()]);
    }

    #[test]
    fn output_contains_keeps_only_the_message_that_causes_it() {
        let mut until = Until::OutputContains("\"event\": \"STOP\"".to_owned());
        let m = minimize(&trace(&session()), &mut until).unwrap();
        // The STOP event needs a connected, negotiated client and `stop`.
        assert_eq!(m.clients_after, 1, "{}", m.transcript);
        assert_eq!(m.units_after, 2, "{}", m.transcript);
        assert!(
            m.transcript.contains("\"execute\":\"stop\""),
            "{}",
            m.transcript
        );
        assert!(!m.transcript.contains("query-status"), "{}", m.transcript);
        assert_eq!(m.units_before, 9);
        assert_eq!(m.clients_before, 2);
    }

    #[test]
    fn a_condition_the_trace_does_not_meet_is_an_error() {
        let mut until = Until::OutputContains("no such text".to_owned());
        assert!(matches!(
            minimize(&trace(&session()), &mut until),
            Err(MinimizeError::NotMet)
        ));
    }

    #[test]
    fn oracle_sees_each_candidate_and_the_result_meets_it() {
        let mut seen = 0;
        let mut oracle = |t: &[u8]| {
            seen += 1;
            dump_to_string(t).unwrap().contains("query-kvm")
        };
        let mut until = Until::Oracle(&mut oracle);
        let m = minimize(&trace(&session()), &mut until).unwrap();
        assert_eq!(m.units_after, 1, "{}", m.transcript);
        assert_eq!(m.clients_after, 1, "{}", m.transcript);
        assert_eq!(seen, m.candidates);
    }

    /// A trace whose recorded reply to `query-name` was altered.
    fn diverging_trace() -> Vec<u8> {
        let inputs = session();
        let mut engine = Engine::new(MachineConfig::default());
        let header = TraceHeader::new(MachineConfig::default());
        let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
        for input in &inputs {
            let mut outputs = engine.step(input.clone());
            if matches!(input, Input::Bytes { data, .. } if data.starts_with(b"{\"execute\":\"stop\""))
            {
                outputs.push(Output::Send {
                    client: ONE,
                    data: b"{\"return\": {\"name\": \"altered\"}}\r\n".to_vec(),
                });
            }
            writer.record(input, &outputs).unwrap();
        }
        writer
            .finish(inputs.len() as u64, &engine.digest())
            .unwrap()
    }

    #[test]
    fn replay_diverges_keeps_the_original_divergence() {
        let original = diverging_trace();
        let m = minimize(&original, &mut Until::ReplayDiverges).unwrap();
        let err = crate::replay::replay(&m.trace[..]).unwrap_err();
        assert!(err.to_string().contains("outputs differ"), "{err}");
        // The diverging step needs the connect before it; capabilities are not
        // needed for the altered step to differ, but its recorded outputs were
        // made after them, so they stay.
        assert!(m.units_after < m.units_before, "{}", m.transcript);
        assert!(
            m.transcript.contains("\"execute\":\"stop\""),
            "{}",
            m.transcript
        );
        assert!(!m.transcript.contains("query-kvm"), "{}", m.transcript);
    }

    #[test]
    fn replay_diverges_on_a_clean_trace_is_not_met() {
        assert!(matches!(
            minimize(&trace(&session()), &mut Until::ReplayDiverges),
            Err(MinimizeError::NotMet)
        ));
    }

    #[test]
    fn replay_diverges_on_a_digest_only_difference_is_explained() {
        let inputs = session();
        let mut engine = Engine::new(MachineConfig::default());
        let mut writer =
            TraceWriter::new(Vec::new(), &TraceHeader::new(MachineConfig::default())).unwrap();
        for input in &inputs {
            let outputs = engine.step(input.clone());
            writer.record(input, &outputs).unwrap();
        }
        let t = writer
            .finish(inputs.len() as u64, "not the digest")
            .unwrap();
        assert!(matches!(
            minimize(&t, &mut Until::ReplayDiverges),
            Err(MinimizeError::DigestOnly)
        ));
    }

    #[test]
    fn partition_covers_every_item_once() {
        let items: Vec<usize> = (0..7).collect();
        let chunks = partition(&items, 3);
        assert_eq!(chunks.concat(), items);
        assert_eq!(chunks.len(), 3);
    }

    /// The units of [`session`]'s trace, one per step, and its header.
    fn session_units() -> (TraceHeader, Vec<Unit>) {
        let (header, steps) = read_steps(&trace(&session())).unwrap();
        let units = steps
            .into_iter()
            .enumerate()
            .map(|(step, (input, _))| Unit {
                input,
                recorded: None,
                step,
            })
            .collect();
        (header, units)
    }

    /// Candidates ddmin has tried, and the units it kept, when every candidate
    /// meets the condition and `tried` were tried before it started.
    fn ddmin_after(tried: usize) -> (usize, usize) {
        let (header, units) = session_units();
        let all: Vec<usize> = (0..units.len()).collect();
        let mut always = |_: &[u8]| true;
        let mut until = Until::Oracle(&mut always);
        let mut search = Search {
            header: &header,
            units,
            until: &mut until,
            diverging_step: 0,
            candidates: tried,
        };
        let kept = search.ddmin(all, &BTreeSet::new()).unwrap();
        (search.candidates, kept.len())
    }

    #[test]
    fn ddmin_at_candidates_max_tries_no_more_and_keeps_every_unit() {
        assert_eq!(
            ddmin_after(CANDIDATES_MAX),
            (CANDIDATES_MAX, session().len())
        );
    }

    #[test]
    fn ddmin_one_below_candidates_max_tries_one_more() {
        // The first candidate (the first half) meets the condition; then the
        // limit stops the search.
        assert_eq!(
            ddmin_after(CANDIDATES_MAX - 1),
            (CANDIDATES_MAX, session().len() / 2)
        );
    }
}
