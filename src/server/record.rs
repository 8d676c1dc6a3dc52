//! `-record`: a [`Recorder`] that writes the session to a `.qmptrace` file through
//! [`crate::trace::TraceWriter`], with a checkpoint digest every
//! `CHECKPOINT_EVERY_STEPS` steps and an `End` frame when the session ends.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use super::Recorder;
use crate::engine::{Engine, Input, Output};
use crate::machine::config::MachineConfig;
use crate::trace::{TraceError, TraceHeader, TraceWriter};

/// Records to a trace file.
#[derive(Debug)]
pub struct TraceRecorder {
    writer: Option<TraceWriter<BufWriter<File>>>,
}

impl TraceRecorder {
    /// Creates `path` and writes the header for `config`.
    pub fn create(path: &Path, config: &MachineConfig) -> Result<Self, TraceError> {
        let file = File::create(path).map_err(TraceError::Io)?;
        let header = TraceHeader::new(config.clone());
        let writer = TraceWriter::new(BufWriter::new(file), &header)?;
        Ok(TraceRecorder {
            writer: Some(writer),
        })
    }

    /// Writes a full-state checkpoint every `steps` steps (0: none).
    #[must_use]
    pub fn with_state_every_steps(mut self, steps: u64) -> Self {
        if let Some(w) = self.writer.as_mut() {
            w.set_state_every_steps(steps);
        }
        self
    }
}

fn to_io(e: TraceError) -> io::Error {
    io::Error::other(e)
}

impl Recorder for TraceRecorder {
    fn record(&mut self, input: &Input, outputs: &[Output], engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        w.record_and_checkpoint(input, outputs, engine)
            .map_err(to_io)
    }

    fn finish(&mut self, engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let mut out = w.finish_with(engine).map_err(to_io)?;
        io::Write::flush(&mut out)?;
        out.get_ref().sync_all()
    }
}
