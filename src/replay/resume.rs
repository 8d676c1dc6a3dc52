//! `qmpsim run -x-resume TRACE[@FRAME]`: a live VM started from the state a
//! trace reached. The trace is replayed with the same checks as `qmpsim replay`
//! (every step's outputs byte for byte, every checkpoint digest) up to, not
//! including, frame `FRAME` (frames count from 0 after the header, as `qmpsim
//! trace dump` numbers them); without `@FRAME`, to its end. The clients the
//! trace had connected are then disconnected (`Input::Disconnect`), since their
//! connections do not exist any more, and the machine takes the monitors of the
//! command line. Everything else comes from the trace: the machine options of
//! the command line are not used.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::one::{digest_bare, step_bare, ReplayError};
use crate::engine::{Engine, Input};
use crate::machine::config::MachineConfig;
use crate::qmp::session::ClientId;
use crate::trace::{Frame, TraceReader};

/// Where to resume: a trace and, optionally, a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// The trace file.
    pub path: PathBuf,
    /// Stop before this frame; `None` resumes at the end.
    pub frame: Option<u64>,
}

impl ResumePoint {
    /// `TRACE` or `TRACE@FRAME` (a trailing `@` and decimal digits).
    pub fn parse(spec: &str) -> ResumePoint {
        if let Some((path, frame)) = spec.rsplit_once('@') {
            if let Ok(frame) = frame.parse::<u64>() {
                return ResumePoint {
                    path: PathBuf::from(path),
                    frame: Some(frame),
                };
            }
        }
        ResumePoint {
            path: PathBuf::from(spec),
            frame: None,
        }
    }
}

/// Why a trace could not be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// The trace did not replay up to the frame.
    #[error("qmpsim: -x-resume {path}: {}", crate::replay::corpus::error_chain(.source))]
    Replay {
        /// The trace.
        path: String,
        /// Why.
        #[source]
        source: ReplayError,
    },
    /// The frame is past the trace's last frame.
    #[error("qmpsim: -x-resume {path}@{frame}: the trace has {frames} {}", if *.frames == 1 { "frame" } else { "frames" })]
    NoSuchFrame {
        /// The trace.
        path: String,
        /// The frame asked for.
        frame: u64,
        /// Frames in the trace (its End frame included).
        frames: u64,
    },
}

/// A VM resumed from a trace.
#[derive(Debug)]
pub struct Resumed {
    /// The engine, ready for live inputs.
    pub engine: Engine,
    /// Frames replayed.
    pub frames: u64,
    /// Steps replayed.
    pub steps: u64,
    /// The trace's clients that were connected at that point, now gone.
    pub gone: Vec<ClientId>,
}

impl Resumed {
    /// The line printed on stderr when the VM starts.
    pub fn notice(&self, path: &Path) -> String {
        let mut text = format!(
            "qmpsim: resumed {} after {} {} ({} {})",
            path.display(),
            self.frames,
            if self.frames == 1 { "frame" } else { "frames" },
            self.steps,
            if self.steps == 1 { "step" } else { "steps" },
        );
        if !self.gone.is_empty() {
            let ids: Vec<String> = self.gone.iter().map(|c| c.0.to_string()).collect();
            text.push_str(&format!(
                "; {} {} of the trace {} gone",
                if ids.len() == 1 { "client" } else { "clients" },
                ids.join(", "),
                if ids.len() == 1 { "is" } else { "are" },
            ));
        }
        text
    }
}

/// Replays `point`'s trace up to its frame, then gives the engine the
/// monitors of `live` (the command line's configuration).
pub fn resume(point: &ResumePoint, live: &MachineConfig) -> Result<Resumed, ResumeError> {
    let path = point.path.display().to_string();
    let wrap = |source: ReplayError| ResumeError::Replay {
        path: path.clone(),
        source,
    };
    let file = File::open(&point.path).map_err(|source| {
        wrap(ReplayError::Open {
            path: point.path.clone(),
            source,
        })
    })?;
    let (mut reader, header) =
        TraceReader::open(BufReader::new(file)).map_err(|e| wrap(e.into()))?;
    header
        .require_engine("-x-resume")
        .map_err(|e| wrap(e.into()))?;
    let mut engine = Engine::new(header.config);
    loop {
        if point.frame == Some(reader.frames()) {
            break;
        }
        let index = reader.frames();
        let Some(frame) = reader.next_frame().map_err(|e| wrap(e.into()))? else {
            break;
        };
        let step = reader.steps();
        match frame {
            Frame::Step { input, outputs } => {
                step_bare(&mut engine, index, step, input, outputs).map_err(wrap)?;
            }
            Frame::Checkpoint { digest } | Frame::State { digest, .. } => {
                digest_bare(&engine, index, step, false, digest).map_err(wrap)?
            }
            Frame::End { digest, .. } => {
                digest_bare(&engine, index, step, true, digest).map_err(wrap)?;
            }
        }
    }
    if let Some(frame) = point.frame {
        if reader.frames() < frame {
            return Err(ResumeError::NoSuchFrame {
                path,
                frame,
                frames: reader.frames(),
            });
        }
    }
    let gone: Vec<ClientId> = engine.state().sessions.keys().copied().collect();
    for client in &gone {
        engine.step(Input::Disconnect { client: *client });
    }
    let mut state = engine.state().clone();
    state.machine.config.chardevs = live.chardevs.clone();
    state.machine.config.monitors = live.monitors.clone();
    Ok(Resumed {
        engine: Engine::from_state(state),
        frames: reader.frames(),
        steps: reader.steps(),
        gone,
    })
}
