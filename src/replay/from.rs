//! `qmpsim replay --from FRAME`: replay one trace starting from the last
//! `State` frame at or before FRAME (the trace's start when there is none),
//! instead of from its first step. The frames before are read (the sha256
//! chain is still checked) but not replayed; from the `State` frame on,
//! everything is verified as `qmpsim replay` verifies it: the restored state's
//! digest, every step's outputs, every checkpoint, the end.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::one::{digest_bare, step_bare, Divergence, DivergenceKind, ReplayError};
use crate::engine::Engine;
use crate::trace::{Frame, TraceReader};

/// A replay that started late and ended cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromReport {
    /// The frame the replay started at: a `State` frame's index, or `None`
    /// for the trace's start.
    pub state_frame: Option<u64>,
    /// Steps replayed (those after the start).
    pub steps_replayed: u64,
    /// Steps in the trace.
    pub steps: u64,
    /// The final digest.
    pub digest: String,
}

/// Replays the trace at `path` from the last `State` frame at or before `from`.
pub fn replay_from(path: &Path, from: u64) -> Result<FromReport, ReplayError> {
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.to_owned(),
        source,
    })?;
    let (mut reader, header) = TraceReader::open(BufReader::new(file))?;
    header.require_engine("replay --from")?;
    // Frames after the latest usable State frame, kept until the replay starts.
    let mut pending: Vec<(u64, u64, Frame)> = Vec::new();
    let mut start: Option<(u64, Vec<u8>)> = None;
    let mut engine: Option<Engine> = None;
    let mut steps_replayed = 0;
    while let Some(frame) = reader.next_frame()? {
        let index = reader.frames() - 1;
        let step = reader.steps();
        if let Some(e) = engine.as_mut() {
            steps_replayed += u64::from(matches!(frame, Frame::Step { .. }));
            if let Some(end) = apply(e, index, step, frame)? {
                return Ok(finish(end, &start, steps_replayed));
            }
            continue;
        }
        let is_end = matches!(frame, Frame::End { .. });
        if let Frame::State { snapshot, .. } = &frame {
            if index <= from {
                start = Some((index, snapshot.clone()));
                pending.clear();
            }
        }
        pending.push((index, step, frame));
        if index < from && !is_end {
            continue;
        }
        let mut e = start_engine(&start, &header.config)?;
        for (i, s, f) in std::mem::take(&mut pending) {
            steps_replayed += u64::from(matches!(f, Frame::Step { .. }));
            if let Some(end) = apply(&mut e, i, s, f)? {
                return Ok(finish(end, &start, steps_replayed));
            }
        }
        engine = Some(e);
    }
    unreachable!("the reader returns the End frame or an error before running out")
}

/// The engine the replay starts with: the `State` frame's, restored, or a
/// fresh one.
fn start_engine(
    start: &Option<(u64, Vec<u8>)>,
    config: &crate::machine::config::MachineConfig,
) -> Result<Engine, ReplayError> {
    match start {
        Some((at, snapshot)) => crate::snapshot::restore(snapshot).map_err(|e| {
            ReplayError::Diverged(Divergence::bare(
                *at,
                0,
                DivergenceKind::Digest {
                    at_end: false,
                    expected: "a state that restores".to_owned(),
                    actual: e.to_string(),
                },
            ))
        }),
        None => Ok(Engine::new(config.clone())),
    }
}

fn finish(end: (u64, String), start: &Option<(u64, Vec<u8>)>, steps_replayed: u64) -> FromReport {
    FromReport {
        state_frame: start.as_ref().map(|(at, _)| *at),
        steps_replayed,
        steps: end.0,
        digest: end.1,
    }
}

/// Verifies one frame against `engine`; at the `End` frame, gives the step
/// count and digest.
fn apply(
    engine: &mut Engine,
    index: u64,
    step: u64,
    frame: Frame,
) -> Result<Option<(u64, String)>, ReplayError> {
    match frame {
        Frame::Step { input, outputs } => {
            step_bare(engine, index, step, input, outputs)?;
            Ok(None)
        }
        Frame::Checkpoint { digest } | Frame::State { digest, .. } => {
            digest_bare(engine, index, step, false, digest)?;
            Ok(None)
        }
        Frame::End { steps, digest } => {
            digest_bare(engine, index, step, true, digest.clone())?;
            Ok(Some((steps, digest)))
        }
    }
}

/// `qmpsim replay --from FRAME PATH`: prints the outcome; 0 when it replays.
pub fn replay_from_cli(path: &Path, from: u64) -> i32 {
    match replay_from(path, from) {
        Ok(r) => {
            let start = match r.state_frame {
                Some(at) => format!("the state at frame {at}"),
                None => "the start (no state frame before it)".to_owned(),
            };
            println!(
                "{}: ok from {start}: {} of {} {} replayed, digest {}",
                path.display(),
                r.steps_replayed,
                r.steps,
                if r.steps == 1 { "step" } else { "steps" },
                r.digest
            );
            0
        }
        Err(e) => {
            println!(
                "{}: FAILED: {}",
                path.display(),
                super::corpus::error_chain(&e)
            );
            if let ReplayError::Diverged(d) = &e {
                println!("{}", d.details());
            }
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::{record_inputs_with_states, TraceHeader};

    /// A trace of `n` query-status steps with a State frame every `every` steps.
    fn trace(n: u64, every: u64) -> Vec<u8> {
        let reads = (2..n).map(|_| r#"{"execute":"query-status"}"#);
        let inputs = crate::scenario::negotiated_reads(ClientId(1), reads);
        let header = TraceHeader::new(MachineConfig::default());
        record_inputs_with_states(&header, &inputs, Some(every)).unwrap()
    }

    fn from(bytes: &[u8], frame: u64) -> Result<FromReport, ReplayError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        std::fs::write(&path, bytes).unwrap();
        replay_from(&path, frame)
    }

    #[test]
    fn from_a_middle_frame_starts_at_the_state_before_it() {
        // States after steps 10 and 20 are frames 10 and 21.
        let r = from(&trace(30, 10), 25).unwrap();
        assert_eq!(
            (r.state_frame, r.steps_replayed, r.steps),
            (Some(21), 10, 30)
        );
    }

    #[test]
    fn from_the_state_frame_itself_starts_there() {
        let r = from(&trace(30, 10), 21).unwrap();
        assert_eq!(r.state_frame, Some(21));
    }

    #[test]
    fn from_before_any_state_replays_from_the_start() {
        let r = from(&trace(30, 10), 3).unwrap();
        assert_eq!((r.state_frame, r.steps_replayed), (None, 30));
    }

    #[test]
    fn from_gives_the_digest_a_full_replay_gives() {
        let bytes = trace(30, 10);
        let full = crate::replay::replay(&bytes[..]).unwrap();
        assert_eq!(from(&bytes, 25).unwrap().digest, full.digest);
    }

    #[test]
    fn full_replay_checks_state_frames_as_checkpoints() {
        // States after steps 10, 20 and 30.
        let bytes = trace(30, 10);
        assert_eq!(crate::replay::replay(&bytes[..]).unwrap().checkpoints, 3);
    }
}
