//! Traces: every [`Input`] an engine received and every [`Output`] it produced,
//! in order, in a versioned, hash-chained `.qmptrace` file (specified in
//! [the format module](self::format)).
//!
//! [`TraceWriter`] records, [`TraceReader`] reads frame by frame. The tools
//! behind `qmpsim trace`: [`walk`] reassembles client bytes into messages with
//! their virtual time, [`dump`] prints the session one message per line,
//! [`info`] counts a trace, [`export`] writes JSON Lines (and the per-read view
//! replay reports use), [`import`] turns a `->`/`<-` transcript into a trace,
//! [`replies`] reads and writes libvirt's `.replies` files, [`coverage`]
//! reports what a corpus exercised, and [`secrets`] masks the passwords the
//! tools show. Pure: everything works over `std::io::Write` and
//! `std::io::Read`; opening files is the caller's business (`crate::replay`, the
//! server).
//!
//! ## Recording from the edge
//!
//! The edge owns the engine and a writer over its file; every input goes through
//! `step` and straight into the trace, and the `End` frame is written when the
//! session is over (also when the engine exits):
//!
//! ```
//! use qmpsim::engine::{Engine, Input};
//! use qmpsim::machine::config::MachineConfig;
//! use qmpsim::qmp::session::ClientId;
//! use qmpsim::trace::{TraceHeader, TraceWriter};
//!
//! let config = MachineConfig::default();
//! let mut engine = Engine::new(config.clone());
//! // The server would pass `BufWriter::new(File::create(path)?)`.
//! let header = TraceHeader::new(config).with_notes("recorded by -record");
//! let mut recorder = TraceWriter::new(Vec::new(), &header)?;
//! for input in [Input::connect(ClientId(1))] {
//!     let outputs = engine.step(input.clone());
//!     recorder.record_and_checkpoint(&input, &outputs, &engine)?;
//!     // ... carry out `outputs` ...
//! }
//! let trace: Vec<u8> = recorder.finish_with(&engine)?;
//! assert!(qmpsim::replay::replay(&trace[..]).is_ok());
//! # Ok::<(), qmpsim::trace::TraceError>(())
//! ```

pub mod coverage;
pub mod dump;
pub mod export;
pub mod format;
pub mod import;
pub mod info;
pub mod minimize;
pub mod reader;
pub mod replies;
pub mod secrets;
pub mod walk;
pub mod writer;

pub use format::{
    Frame, TraceError, TraceHeader, CHECKPOINT_EVERY_STEPS, FORMAT_VERSION, FRAME_BYTES_MAX,
    HEADER_BYTES_MAX, MAGIC,
};
pub use reader::TraceReader;
pub use writer::TraceWriter;

use crate::engine::{Engine, Input, Output};

/// Runs `inputs` through a fresh engine built from `header.config` and returns the
/// trace: a `Step` frame per input, a checkpoint every [`CHECKPOINT_EVERY_STEPS`]
/// steps, and the `End` frame. The same header and inputs give the same bytes.
pub fn record_inputs(header: &TraceHeader, inputs: &[Input]) -> Result<Vec<u8>, TraceError> {
    record_inputs_with_states(header, inputs, None)
}

/// [`record_inputs`], with a `State` frame every `state_every_steps` steps when
/// given (see [`TraceWriter::set_state_every_steps`]).
pub fn record_inputs_with_states(
    header: &TraceHeader,
    inputs: &[Input],
    state_every_steps: Option<u64>,
) -> Result<Vec<u8>, TraceError> {
    let mut engine = Engine::new(header.config.clone());
    let mut writer = TraceWriter::new(Vec::new(), header)?;
    if let Some(every) = state_every_steps {
        writer.set_state_every_steps(every);
    }
    for input in inputs {
        let outputs: Vec<Output> = engine.step_ref(input);
        writer.record_and_checkpoint(input, &outputs, &engine)?;
    }
    writer.finish_with(&engine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;

    fn session() -> Vec<Input> {
        crate::scenario::negotiated_reads(ClientId(1), [r#"{"execute":"stop"}"#])
    }

    #[test]
    fn record_inputs_twice_gives_identical_bytes() {
        let header = TraceHeader::new(MachineConfig::default());
        assert_eq!(
            record_inputs(&header, &session()).unwrap(),
            record_inputs(&header, &session()).unwrap()
        );
    }

    #[test]
    fn record_inputs_ends_with_final_digest() {
        let header = TraceHeader::new(MachineConfig::default());
        let bytes = record_inputs(&header, &session()).unwrap();
        let mut engine = Engine::new(MachineConfig::default());
        for input in session() {
            engine.step(input);
        }
        let (reader, _) = TraceReader::open(&bytes[..]).unwrap();
        let last = reader.last().unwrap().unwrap();
        assert_eq!(
            last,
            Frame::End {
                steps: 3,
                digest: engine.digest()
            }
        );
    }
}
