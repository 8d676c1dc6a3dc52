//! Replay of one trace with byte-exact verification.
//!
//! A fresh [`Engine`] is built from the header's configuration; every `Step`
//! frame's input is fed to it and the outputs must equal the recorded ones (same
//! clients, same bytes, same order); every `Checkpoint` and the `End` frame's digest
//! must equal the engine's digest at that point. The first difference stops the
//! replay with a [`Divergence`] naming the frame and showing expected and actual
//! outputs in the transcript notation of [`crate::trace::export`].

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::engine::{Engine, Input, Output};
use crate::machine::clock::VirtualTime;
use crate::qmp::session::ClientId;
use crate::trace::export::{render_input, render_outputs, Notation};
use crate::trace::format::count;
use crate::trace::{Frame, TraceError, TraceHeader, TraceReader};

/// Steps shown before a divergence, in the report's transcript.
pub const CONTEXT_STEPS: usize = 4;
/// The read buffer of a trace file: small traces are read in one system call.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Lines of unchanged JSON kept around each change in a divergence's diff.
pub const DIFF_CONTEXT_LINES: usize = 3;

/// What a replay computes besides checking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Hash every output the replay produced ([`ReplayReport::outputs_sha256`]),
    /// so two replays can be compared byte for byte.
    pub hash_outputs: bool,
}

/// A trace that replayed cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// The trace's header.
    pub header: TraceHeader,
    /// `Step` frames replayed.
    pub steps: u64,
    /// Frames of every kind read, `End` included.
    pub frames: u64,
    /// Checkpoint frames verified (the `End` digest not included).
    pub checkpoints: u64,
    /// The final state digest.
    pub digest: String,
    /// sha256 (hex) of every output the replay produced, when asked for.
    pub outputs_sha256: Option<String>,
}

/// The last checkpoint before a divergence, and whether it already differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastCheckpoint {
    /// No checkpoint came before the divergence.
    None,
    /// The checkpoint at `frame` matched the replay's digest.
    Matched {
        /// Its frame index.
        frame: u64,
    },
    /// The checkpoint at `frame` already differed: the state went wrong before
    /// any output showed it.
    Differed {
        /// Its frame index.
        frame: u64,
    },
}

/// The first point where the replay and the recording disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the diverging frame (0 is the first frame after the header).
    pub frame: u64,
    /// Steps replayed before it.
    pub step: u64,
    /// Virtual time when the diverging frame was reached.
    pub at: VirtualTime,
    /// The client whose input diverged, if the input came from a client.
    pub client: Option<ClientId>,
    /// The transcript of the last [`CONTEXT_STEPS`] steps before it (as recorded).
    pub context: String,
    /// The last checkpoint before it.
    pub checkpoint: LastCheckpoint,
    /// What differs.
    pub kind: DivergenceKind,
}

/// What differs at a [`Divergence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DivergenceKind {
    /// The outputs of a step.
    Outputs {
        /// The input, in transcript notation.
        input: String,
        /// The recorded outputs, in transcript notation.
        expected: String,
        /// The replayed outputs, in transcript notation.
        actual: String,
        /// A unified diff of the outputs as pretty-printed JSON (messages that
        /// are not JSON appear as strings).
        json_diff: String,
    },
    /// The state digest at a `Checkpoint` or `End` frame.
    Digest {
        /// Whether this was the `End` frame.
        at_end: bool,
        /// The recorded digest.
        expected: String,
        /// The replayed engine's digest.
        actual: String,
    },
}

impl Divergence {
    /// A divergence at virtual time zero, from no client, with no transcript
    /// before it and no checkpoint: for callers that fill in what they know.
    pub fn bare(frame: u64, step: u64, kind: DivergenceKind) -> Box<Divergence> {
        Box::new(Divergence {
            frame,
            step,
            at: VirtualTime(0),
            client: None,
            context: String::new(),
            checkpoint: LastCheckpoint::None,
            kind,
        })
    }

    /// One line: `first divergence at frame K (after S steps, ...): ...`.
    pub fn summary(&self) -> String {
        let what = match &self.kind {
            DivergenceKind::Outputs { input, .. } => {
                format!("outputs differ for {}", input.lines().next().unwrap_or(""))
            }
            DivergenceKind::Digest { at_end: false, .. } => "checkpoint digest differs".to_owned(),
            DivergenceKind::Digest { at_end: true, .. } => "final digest differs".to_owned(),
        };
        let client = match self.client {
            Some(c) => format!(", client {}", c.0),
            None => String::new(),
        };
        format!(
            "first divergence at frame {} (after {}, virtual time {}{client}): {what}",
            self.frame,
            count(self.step, "step", "steps"),
            seconds(self.at),
        )
    }

    /// The lines under the summary: the transcript before the divergence, the
    /// expected and actual sides, the JSON diff and the last checkpoint.
    pub fn details(&self) -> String {
        let mut text = String::new();
        if !self.context.is_empty() {
            text.push_str("  before it (as recorded):\n");
            text.push_str(&indent(&self.context));
        }
        match &self.kind {
            DivergenceKind::Outputs {
                input,
                expected,
                actual,
                json_diff,
            } => {
                text.push_str(&format!(
                    "  input:\n{}  expected:\n{}  actual:\n{}",
                    indent(input),
                    indent(expected),
                    indent(actual)
                ));
                if !json_diff.is_empty() {
                    text.push_str("  diff (- expected, + actual):\n");
                    text.push_str(&indent(json_diff));
                }
            }
            DivergenceKind::Digest {
                expected, actual, ..
            } => text.push_str(&format!(
                "  expected digest: {expected}\n  actual digest:   {actual}\n"
            )),
        }
        text.push_str(&match self.checkpoint {
            LastCheckpoint::None => "  no checkpoint came before it\n".to_owned(),
            LastCheckpoint::Matched { frame } => {
                format!("  the last checkpoint before it (frame {frame}) matched\n")
            }
            LastCheckpoint::Differed { frame } => format!(
                "  the last checkpoint before it (frame {frame}) already differed: \
                 the state diverged before the outputs did\n"
            ),
        });
        text
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.summary(), self.details())
    }
}

/// Why a trace did not replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The trace file could not be opened.
    #[error("cannot open {}: {}", path.display(), crate::trace::format::os_text(source))]
    Open {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The trace is damaged or of another format version.
    #[error("invalid trace: {0}")]
    Trace(TraceError),
    /// The trace stops before its `End` frame; every complete frame before the
    /// cut replayed cleanly.
    #[error(
        "truncated {} ({} verified){}",
        match frames { 0 => "before its first frame".to_owned(), n => format!("after frame {}", n - 1) },
        count(*steps, "step", "steps"),
        match cause { TraceError::Truncated { offset, .. } => format!("; the file ends at byte {offset}"), _ => String::new() }
    )]
    Truncated {
        /// Complete frames, all verified.
        frames: u64,
        /// `Step` frames among them.
        steps: u64,
        /// The reader's error, with the byte offsets.
        cause: TraceError,
    },
    /// The replay produced different outputs or state.
    #[error("{}", .0.summary())]
    Diverged(Box<Divergence>),
}

impl From<TraceError> for ReplayError {
    fn from(e: TraceError) -> Self {
        match e {
            TraceError::Truncated {
                at_frame, steps, ..
            } => ReplayError::Truncated {
                frames: at_frame,
                steps,
                cause: e,
            },
            other => ReplayError::Trace(other),
        }
    }
}

/// Replays the trace read from `input`.
pub fn replay<R: Read>(input: R) -> Result<ReplayReport, ReplayError> {
    replay_with(input, ReplayOptions::default())
}

/// [`replay`] with options.
pub fn replay_with<R: Read>(input: R, options: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let (mut reader, header) = TraceReader::open(input).map_err(ReplayError::Trace)?;
    header
        .require_engine("replay")
        .map_err(ReplayError::Trace)?;
    let mut engine = Engine::new(header.config.clone());
    let mut run = Run {
        checkpoints: 0,
        last_checkpoint: LastCheckpoint::None,
        first_bad_checkpoint: None,
        recent: VecDeque::with_capacity(CONTEXT_STEPS + 1),
        hasher: options.hash_outputs.then(Sha256::new),
    };
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                unreachable!("the reader returns the End frame or an error before running out")
            }
            Err(e) => {
                // A state divergence found before the cut is the better report.
                if let Some(d) = run.first_bad_checkpoint.take() {
                    return Err(ReplayError::Diverged(d));
                }
                return Err(e.into());
            }
        };
        let index = reader.frames() - 1;
        let step = reader.steps();
        match frame {
            Frame::Step { input, outputs } => {
                let at = engine.now();
                let actual = engine.step_ref(&input);
                if let Some(h) = run.hasher.as_mut() {
                    hash_outputs(h, &actual);
                }
                if outputs != actual {
                    return Err(run.output_divergence(
                        index,
                        step - 1,
                        at,
                        &input,
                        &outputs,
                        &actual,
                    ));
                }
                run.remember(input, outputs);
            }
            Frame::Checkpoint { digest } | Frame::State { digest, .. } => {
                let actual = engine.digest();
                if actual == digest {
                    run.last_checkpoint = LastCheckpoint::Matched { frame: index };
                } else {
                    if run.first_bad_checkpoint.is_none() {
                        let d = run.divergence(
                            index,
                            step,
                            engine.now(),
                            None,
                            DivergenceKind::Digest {
                                at_end: false,
                                expected: digest,
                                actual,
                            },
                        );
                        run.first_bad_checkpoint = Some(d);
                    }
                    run.last_checkpoint = LastCheckpoint::Differed { frame: index };
                }
                run.checkpoints += 1;
            }
            Frame::End { digest, .. } => {
                if let Some(d) = run.first_bad_checkpoint.take() {
                    return Err(ReplayError::Diverged(d));
                }
                let actual = engine.digest();
                if actual != digest {
                    return Err(ReplayError::Diverged(run.divergence(
                        index,
                        step,
                        engine.now(),
                        None,
                        DivergenceKind::Digest {
                            at_end: true,
                            expected: digest,
                            actual,
                        },
                    )));
                }
                return Ok(ReplayReport {
                    header,
                    steps: step,
                    frames: reader.frames(),
                    checkpoints: run.checkpoints,
                    digest,
                    outputs_sha256: run.hasher.map(|h| hex(&h.finalize())),
                });
            }
        }
    }
}

/// What a replay keeps between frames.
struct Run {
    checkpoints: u64,
    last_checkpoint: LastCheckpoint,
    /// The first checkpoint whose digest differed; the replay goes on to find
    /// the first output that differs, and reports this one if none does.
    first_bad_checkpoint: Option<Box<Divergence>>,
    /// The last steps, for the transcript before a divergence (moved in, not
    /// cloned or rendered until needed).
    recent: VecDeque<(Input, Vec<Output>)>,
    hasher: Option<Sha256>,
}

impl Run {
    fn remember(&mut self, input: Input, outputs: Vec<Output>) {
        if self.recent.len() == CONTEXT_STEPS {
            self.recent.pop_front();
        }
        self.recent.push_back((input, outputs));
    }

    fn divergence(
        &self,
        frame: u64,
        step: u64,
        at: VirtualTime,
        client: Option<ClientId>,
        kind: DivergenceKind,
    ) -> Box<Divergence> {
        let notation = Notation {
            client_prefix: true,
        };
        let context = self
            .recent
            .iter()
            .map(|(i, o)| render_input(i, notation) + &render_outputs(o, notation))
            .collect();
        Box::new(Divergence {
            frame,
            step,
            at,
            client,
            context,
            checkpoint: self.last_checkpoint.clone(),
            kind,
        })
    }

    fn output_divergence(
        &self,
        frame: u64,
        step: u64,
        at: VirtualTime,
        input: &Input,
        expected: &[Output],
        actual: &[Output],
    ) -> ReplayError {
        let notation = Notation {
            client_prefix: true,
        };
        let kind = DivergenceKind::Outputs {
            input: render_input(input, notation),
            expected: render_outputs(expected, notation),
            actual: render_outputs(actual, notation),
            json_diff: json_diff(expected, actual),
        };
        ReplayError::Diverged(self.divergence(frame, step, at, input_client(input), kind))
    }
}

/// Steps `engine` with a recorded step frame's input and compares its outputs,
/// for replays that keep no transcript (`replay --from`, `-x-resume`).
pub(crate) fn step_bare(
    engine: &mut Engine,
    frame: u64,
    step: u64,
    input: Input,
    expected: Vec<Output>,
) -> Result<(), ReplayError> {
    let at = engine.now();
    let actual = engine.step_ref(&input);
    if actual == expected {
        return Ok(());
    }
    let notation = Notation {
        client_prefix: true,
    };
    let mut d = Divergence::bare(
        frame,
        step - 1,
        DivergenceKind::Outputs {
            input: render_input(&input, notation),
            expected: render_outputs(&expected, notation),
            actual: render_outputs(&actual, notation),
            json_diff: json_diff(&expected, &actual),
        },
    );
    d.at = at;
    d.client = input_client(&input);
    Err(ReplayError::Diverged(d))
}

/// Compares `engine`'s digest with a recorded one, for replays that keep no
/// transcript (`replay --from`, `-x-resume`).
pub(crate) fn digest_bare(
    engine: &Engine,
    frame: u64,
    step: u64,
    at_end: bool,
    expected: String,
) -> Result<(), ReplayError> {
    let actual = engine.digest();
    if actual == expected {
        return Ok(());
    }
    let mut d = Divergence::bare(
        frame,
        step,
        DivergenceKind::Digest {
            at_end,
            expected,
            actual,
        },
    );
    d.at = engine.now();
    Err(ReplayError::Diverged(d))
}

/// The client an input came from, if any.
pub fn input_client(input: &Input) -> Option<ClientId> {
    match input {
        Input::Bytes { client, .. }
        | Input::Connect { client, .. }
        | Input::Disconnect { client }
        | Input::Fd { client, .. } => Some(*client),
        _ => None,
    }
}

/// Outputs as a JSON array: each `Send` as `{"client": N, "message": ...}` with
/// the message parsed when it is JSON, other outputs as their transcript line.
fn outputs_json(outputs: &[Output]) -> String {
    let items: Vec<serde_json::Value> = outputs
        .iter()
        .map(|o| match o {
            Output::Send { client, data } => {
                let message =
                    serde_json::from_slice::<serde_json::Value>(data).unwrap_or_else(|_| {
                        serde_json::Value::String(String::from_utf8_lossy(data).into_owned())
                    });
                serde_json::json!({ "client": client.0, "message": message })
            }
            other => serde_json::Value::String(
                render_outputs(std::slice::from_ref(other), Notation::default())
                    .trim_end()
                    .to_owned(),
            ),
        })
        .collect();
    serde_json::to_string_pretty(&items).expect("JSON values always serialize") + "\n"
}

/// A unified diff of both sides' outputs as pretty-printed JSON (the hunks only).
pub fn json_diff(expected: &[Output], actual: &[Output]) -> String {
    unified_hunks(&outputs_json(expected), &outputs_json(actual))
}

/// The hunks of a unified diff of two texts, line by line, with
/// [`DIFF_CONTEXT_LINES`] of context and no file header.
pub fn unified_hunks(expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut text = String::new();
    for hunk in diff
        .unified_diff()
        .context_radius(DIFF_CONTEXT_LINES)
        .iter_hunks()
    {
        text.push_str(&hunk.to_string());
    }
    text
}

fn hash_outputs(h: &mut Sha256, outputs: &[Output]) {
    for o in outputs {
        match o {
            Output::Send { client, data } => {
                h.update([0]);
                h.update(client.0.to_le_bytes());
                h.update((data.len() as u64).to_le_bytes());
                h.update(data);
            }
            Output::Effect(effect) => {
                h.update([1]);
                h.update(format!("{effect:?}").as_bytes());
            }
            Output::Exit { code } => {
                h.update([2]);
                h.update(code.to_le_bytes());
            }
            Output::Close { client } => {
                h.update([3]);
                h.update(client.0.to_le_bytes());
            }
        }
    }
    h.update([0xff]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `12.000000s`.
fn seconds(at: VirtualTime) -> String {
    let secs = at.0 / VirtualTime::NS_PER_S;
    let ns = at.0 % VirtualTime::NS_PER_S;
    format!("{secs}.{:06}s", ns / 1000)
}

/// Replays the trace file at `path`.
pub fn replay_file(path: &Path) -> Result<ReplayReport, ReplayError> {
    replay_file_with(path, ReplayOptions::default())
}

/// [`replay_file`] with options.
pub fn replay_file_with(path: &Path, options: ReplayOptions) -> Result<ReplayReport, ReplayError> {
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.to_owned(),
        source,
    })?;
    replay_with(BufReader::with_capacity(READ_BUFFER_BYTES, file), options)
}

/// Indents every line by four spaces; an empty block shows as `(nothing)`.
fn indent(block: &str) -> String {
    if block.is_empty() {
        return "    (nothing)\n".to_owned();
    }
    block.lines().map(|l| format!("    {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::{record_inputs, TraceWriter};

    const CLIENT: ClientId = ClientId(1);

    fn bytes(data: &str) -> Input {
        Input::bytes(CLIENT, data)
    }

    /// connect, qmp_capabilities, query-status, stop, cont, quit.
    fn script() -> Vec<Input> {
        vec![
            Input::connect(CLIENT),
            bytes(r#"{"execute":"qmp_capabilities"}"#),
            bytes(r#"{"execute":"query-status"}"#),
            bytes(r#"{"execute":"stop"}"#),
            bytes(r#"{"execute":"cont"}"#),
            bytes(r#"{"execute":"quit"}"#),
        ]
    }

    fn header() -> TraceHeader {
        TraceHeader::new(MachineConfig::default()).with_notes("replay tests")
    }

    /// Records `script()` but lets `tamper` change what is written: the trace is
    /// correctly sealed, only its content is wrong.
    fn record_tampered(tamper: impl Fn(usize, &mut Vec<Output>)) -> Vec<u8> {
        let mut engine = Engine::new(header().config);
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        for (i, input) in script().iter().enumerate() {
            let mut outputs = engine.step(input.clone());
            tamper(i, &mut outputs);
            w.record(input, &outputs).unwrap();
        }
        w.finish_with(&engine).unwrap()
    }

    fn divergence(trace: &[u8]) -> Divergence {
        match replay(trace) {
            Err(ReplayError::Diverged(d)) => *d,
            other => panic!("expected a divergence, got {other:?}"),
        }
    }

    #[test]
    fn replay_of_recorded_script_passes() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let report = replay(&trace[..]).unwrap();
        assert_eq!((report.steps, report.frames), (6, 7));
    }

    #[test]
    fn replay_reports_final_digest_of_script() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let mut engine = Engine::new(header().config);
        script().into_iter().for_each(|i| {
            engine.step(i);
        });
        assert_eq!(replay(&trace[..]).unwrap().digest, engine.digest());
    }

    #[test]
    fn record_same_script_twice_gives_identical_bytes() {
        assert_eq!(
            record_inputs(&header(), &script()).unwrap(),
            record_inputs(&header(), &script()).unwrap()
        );
    }

    #[test]
    fn replay_with_one_altered_output_byte_names_frame() {
        // Step 2 is query-status; its reply says `"running": true`.
        let trace = record_tampered(|i, outputs| {
            if i == 2 {
                let Output::Send { data, .. } = &mut outputs[0] else {
                    panic!("query-status answers with one message")
                };
                let at = data.len() - 4;
                data[at] ^= 0x20;
            }
        });
        let d = divergence(&trace);
        assert_eq!((d.frame, d.step), (2, 2));
    }

    #[test]
    fn replay_divergence_shows_input_expected_and_actual() {
        let trace = record_tampered(|i, outputs| {
            if i == 2 {
                outputs[0] = Output::Send {
                    client: CLIENT,
                    data: b"{\"return\": {}}\r\n".to_vec(),
                };
            }
        });
        let DivergenceKind::Outputs {
            input,
            expected,
            actual,
            json_diff,
        } = divergence(&trace).kind
        else {
            panic!("expected an output divergence");
        };
        assert_eq!(
            (input, expected, actual),
            (
                "[1] -> {\"execute\":\"query-status\"}\n".to_owned(),
                "[1] <- {\"return\": {}}\n".to_owned(),
                "[1] <- {\"return\": {\"singlestep\": false, \"running\": true}}\n".to_owned(),
            )
        );
        assert_eq!(
            json_diff,
            "@@ -2,7 +2,10 @@\n   {\n     \"client\": 1,\n     \"message\": {\n-      \"return\": {}\n+      \"return\": {\n+        \"running\": true,\n+        \"singlestep\": false\n+      }\n     }\n   }\n ]\n"
        );
    }

    #[test]
    fn replay_with_missing_output_diverges() {
        let trace = record_tampered(|i, outputs| {
            if i == 5 {
                outputs.pop();
            }
        });
        assert_eq!(divergence(&trace).frame, 5);
    }

    #[test]
    fn replay_with_wrong_checkpoint_digest_diverges() {
        let mut engine = Engine::new(header().config);
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let input = script().remove(0);
        let outputs = engine.step(input.clone());
        w.record(&input, &outputs).unwrap();
        w.checkpoint("not-the-digest").unwrap();
        let trace = w.finish_with(&engine).unwrap();
        assert!(matches!(
            divergence(&trace).kind,
            DivergenceKind::Digest { at_end: false, .. }
        ));
    }

    #[test]
    fn replay_with_wrong_end_digest_diverges() {
        let w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let trace = w.finish(0, "not-the-digest").unwrap();
        let d = divergence(&trace);
        assert_eq!(
            (d.frame, d.kind),
            (
                0,
                DivergenceKind::Digest {
                    at_end: true,
                    expected: "not-the-digest".to_owned(),
                    actual: Engine::new(header().config).digest(),
                }
            )
        );
    }

    #[test]
    fn replay_of_truncated_trace_fails_as_invalid() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let cut = &trace[..trace.len() - 1];
        assert!(matches!(replay(cut), Err(ReplayError::Truncated { .. })));
    }

    #[test]
    fn replay_file_missing_reports_path() {
        let err = replay_file(Path::new("/nonexistent/x.qmptrace")).unwrap_err();
        assert!(
            matches!(err, ReplayError::Open { path, .. } if path == Path::new("/nonexistent/x.qmptrace"))
        );
    }

    #[test]
    fn divergence_summary_names_frame_time_client_and_input() {
        let d = Divergence {
            frame: 4,
            step: 1,
            at: VirtualTime(2_500_000_000),
            client: Some(CLIENT),
            context: String::new(),
            checkpoint: LastCheckpoint::None,
            kind: DivergenceKind::Outputs {
                input: "-> {}\n".to_owned(),
                expected: String::new(),
                actual: String::new(),
                json_diff: String::new(),
            },
        };
        assert_eq!(
            d.summary(),
            "first divergence at frame 4 (after 1 step, virtual time 2.500000s, client 1): \
             outputs differ for -> {}"
        );
    }

    #[test]
    fn divergence_context_holds_the_last_steps_before_it() {
        let trace = record_tampered(|i, outputs| {
            if i == 5 {
                outputs.pop();
            }
        });
        let d = divergence(&trace);
        assert_eq!(
            d.context,
            "[1] -> {\"execute\":\"qmp_capabilities\"}\n[1] <- {\"return\": {}}\n\
             [1] -> {\"execute\":\"query-status\"}\n\
             [1] <- {\"return\": {\"singlestep\": false, \"running\": true}}\n\
             [1] -> {\"execute\":\"stop\"}\n\
             [1] <- {\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 4000}, \"event\": \"STOP\"}\n\
             [1] <- {\"return\": {}}\n\
             [1] -> {\"execute\":\"cont\"}\n\
             [1] <- {\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 5000}, \"event\": \"RESUME\"}\n\
             [1] <- {\"return\": {}}\n"
        );
    }

    /// `script()` recorded with a checkpoint after every step; `bad` names the
    /// steps after which the checkpoint is wrong, `tamper` the step whose outputs
    /// are altered.
    fn with_checkpoints(bad: &[usize], tamper: Option<usize>) -> Vec<u8> {
        let mut engine = Engine::new(header().config);
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        for (i, input) in script().iter().enumerate() {
            let mut outputs = engine.step(input.clone());
            if tamper == Some(i) {
                outputs.clear();
            }
            w.record(input, &outputs).unwrap();
            let digest = if bad.contains(&i) {
                "wrong".to_owned()
            } else {
                engine.digest()
            };
            w.checkpoint(&digest).unwrap();
        }
        w.finish_with(&engine).unwrap()
    }

    #[test]
    fn output_divergence_after_a_differing_checkpoint_says_so() {
        // Frames: step 0 (0), checkpoint (1), step 1 (2), checkpoint (3), ...
        let d = divergence(&with_checkpoints(&[2], Some(3)));
        assert_eq!(
            (d.frame, d.checkpoint),
            (6, LastCheckpoint::Differed { frame: 5 })
        );
    }

    #[test]
    fn output_divergence_after_a_matching_checkpoint_says_so() {
        let d = divergence(&with_checkpoints(&[], Some(3)));
        assert_eq!(
            (d.frame, d.checkpoint),
            (6, LastCheckpoint::Matched { frame: 5 })
        );
    }

    #[test]
    fn differing_checkpoint_without_output_divergence_is_reported() {
        let d = divergence(&with_checkpoints(&[2], None));
        assert!(matches!(
            (d.frame, d.kind),
            (5, DivergenceKind::Digest { at_end: false, .. })
        ));
    }

    #[test]
    fn replay_of_trace_without_end_verifies_every_complete_frame() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let (mut reader, _) = TraceReader::open(&trace[..]).unwrap();
        while reader.frames() < 4 {
            reader.next_frame().unwrap();
        }
        let cut = usize::try_from(reader.complete_bytes()).unwrap() + 3;
        let err = replay(&trace[..cut]).unwrap_err();
        assert!(matches!(
            err,
            ReplayError::Truncated {
                frames: 4,
                steps: 4,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!("truncated after frame 3 (4 steps verified); the file ends at byte {cut}")
        );
    }

    #[test]
    fn replay_of_trace_cut_after_one_step_counts_one_step() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let (mut reader, _) = TraceReader::open(&trace[..]).unwrap();
        reader.next_frame().unwrap();
        let cut = usize::try_from(reader.complete_bytes()).unwrap();
        assert!(replay(&trace[..cut])
            .unwrap_err()
            .to_string()
            .starts_with("truncated after frame 0 (1 step verified)"));
    }

    #[test]
    fn replay_of_truncated_trace_still_reports_an_earlier_divergence() {
        let trace = with_checkpoints(&[0], None);
        let cut = &trace[..trace.len() - 1];
        assert!(matches!(replay(cut), Err(ReplayError::Diverged(_))));
    }

    #[test]
    fn hashed_outputs_are_equal_for_two_replays_and_absent_by_default() {
        let trace = record_inputs(&header(), &script()).unwrap();
        let on = ReplayOptions { hash_outputs: true };
        let a = replay_with(&trace[..], on).unwrap().outputs_sha256;
        let b = replay_with(&trace[..], on).unwrap().outputs_sha256;
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(replay(&trace[..]).unwrap().outputs_sha256, None);
    }
}
