//! Replay of one trace with byte-exact verification.
//!
//! A fresh [`Engine`] is built from the header's configuration; every `Step`
//! frame's input is fed to it and the outputs must equal the recorded ones (same
//! clients, same bytes, same order); every `Checkpoint` and the `End` frame's digest
//! must equal the engine's digest at that point. The first difference stops the
//! replay with a [`Divergence`] naming the frame and showing expected and actual
//! outputs in the transcript notation of [`crate::trace::export`].

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::engine::{Engine, Input, Output};
use crate::trace::export::{render_input, render_outputs, Notation};
use crate::trace::{Frame, TraceError, TraceHeader, TraceReader};

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
}

/// The first point where the replay and the recording disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the diverging frame (0 is the first frame after the header).
    pub frame: u64,
    /// Steps replayed before it.
    pub step: u64,
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
    /// One line: `first divergence at frame K (step S): ...`.
    pub fn summary(&self) -> String {
        let what = match &self.kind {
            DivergenceKind::Outputs { input, .. } => {
                format!("outputs differ for {}", input.lines().next().unwrap_or(""))
            }
            DivergenceKind::Digest { at_end: false, .. } => "checkpoint digest differs".to_owned(),
            DivergenceKind::Digest { at_end: true, .. } => "final digest differs".to_owned(),
        };
        format!(
            "first divergence at frame {} (after {} steps): {what}",
            self.frame, self.step
        )
    }

    /// The expected and actual sides, indented, for the lines under the summary.
    pub fn details(&self) -> String {
        match &self.kind {
            DivergenceKind::Outputs {
                input,
                expected,
                actual,
            } => format!(
                "  input:\n{}  expected:\n{}  actual:\n{}",
                indent(input),
                indent(expected),
                indent(actual)
            ),
            DivergenceKind::Digest {
                expected, actual, ..
            } => format!("  expected digest: {expected}\n  actual digest:   {actual}\n"),
        }
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
    #[error("Cannot open {path}")]
    Open {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The trace is damaged, truncated or of another format version.
    #[error("Invalid trace")]
    Trace(#[from] TraceError),
    /// The replay produced different outputs or state.
    #[error("{}", .0.summary())]
    Diverged(Box<Divergence>),
}

/// Replays the trace read from `input`.
pub fn replay<R: Read>(input: R) -> Result<ReplayReport, ReplayError> {
    let (mut reader, header) = TraceReader::open(input)?;
    let mut engine = Engine::new(header.config.clone());
    let mut checkpoints = 0;
    while let Some(frame) = reader.next_frame()? {
        let index = reader.frames() - 1;
        let step = reader.steps();
        match frame {
            Frame::Step { input, outputs } => {
                let actual = engine.step(input.clone());
                check_outputs(index, step - 1, &input, &outputs, &actual)?;
            }
            Frame::Checkpoint { digest } | Frame::State { digest, .. } => {
                check_digest(index, step, false, &digest, &engine)?;
                checkpoints += 1;
            }
            Frame::End { digest, .. } => {
                check_digest(index, step, true, &digest, &engine)?;
                return Ok(ReplayReport {
                    header,
                    steps: step,
                    frames: reader.frames(),
                    checkpoints,
                    digest,
                });
            }
        }
    }
    unreachable!("the reader returns the End frame or an error before running out")
}

/// Replays the trace file at `path`.
pub fn replay_file(path: &Path) -> Result<ReplayReport, ReplayError> {
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.to_owned(),
        source,
    })?;
    replay(BufReader::new(file))
}

fn check_outputs(
    frame: u64,
    step: u64,
    input: &Input,
    expected: &[Output],
    actual: &[Output],
) -> Result<(), ReplayError> {
    if expected == actual {
        return Ok(());
    }
    let notation = Notation {
        client_prefix: true,
    };
    Err(ReplayError::Diverged(Box::new(Divergence {
        frame,
        step,
        kind: DivergenceKind::Outputs {
            input: render_input(input, notation),
            expected: render_outputs(expected, notation),
            actual: render_outputs(actual, notation),
        },
    })))
}

fn check_digest(
    frame: u64,
    step: u64,
    at_end: bool,
    expected: &str,
    engine: &Engine,
) -> Result<(), ReplayError> {
    let actual = engine.digest();
    if actual == expected {
        return Ok(());
    }
    Err(ReplayError::Diverged(Box::new(Divergence {
        frame,
        step,
        kind: DivergenceKind::Digest {
            at_end,
            expected: expected.to_owned(),
            actual,
        },
    })))
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
        Input::Bytes {
            client: CLIENT,
            data: data.as_bytes().to_vec(),
        }
    }

    /// connect, qmp_capabilities, query-status, stop, cont, quit.
    fn script() -> Vec<Input> {
        vec![
            Input::Connect {
                client: CLIENT,
                monitor: 0,
            },
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
        assert_eq!(
            divergence(&trace).kind,
            DivergenceKind::Outputs {
                input: "[1] -> {\"execute\":\"query-status\"}\n".to_owned(),
                expected: "[1] <- {\"return\": {}}\n".to_owned(),
                actual: "[1] <- {\"return\": {\"singlestep\": false, \"running\": true}}\n"
                    .to_owned(),
            }
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
        assert!(matches!(
            replay(cut),
            Err(ReplayError::Trace(TraceError::Truncated { .. }))
        ));
    }

    #[test]
    fn replay_file_missing_reports_path() {
        let err = replay_file(Path::new("/nonexistent/x.qmptrace")).unwrap_err();
        assert!(
            matches!(err, ReplayError::Open { path, .. } if path == Path::new("/nonexistent/x.qmptrace"))
        );
    }

    #[test]
    fn divergence_summary_names_frame_and_input() {
        let d = Divergence {
            frame: 4,
            step: 3,
            kind: DivergenceKind::Outputs {
                input: "-> {}\n".to_owned(),
                expected: String::new(),
                actual: String::new(),
            },
        };
        assert_eq!(
            d.summary(),
            "first divergence at frame 4 (after 3 steps): outputs differ for -> {}"
        );
    }
}
