//! `TraceWriter`: appends a header and chained frames to any `std::io::Write`.
//!
//! The writer never opens files (the caller hands it a `File`, a `BufWriter` or a
//! `Vec<u8>`), splits a body past [`FRAME_BYTES_MAX`] into parts (so every step
//! records, whatever its size, and no part is one the reader would refuse), and
//! counts `Step` frames so the `End` frame it writes is consistent. Layout and hash rules are in
//! [`super::format`].

use std::io::Write;

use crate::engine::{Engine, Input, Output};

use super::format::{
    bincode_config, header_hash, part_hash, preamble, ChainHash, Field, FrameRef, TraceError,
    TraceHeader, CHECKPOINT_EVERY_STEPS, CHECK_BYTES, FORMAT_VERSION, FRAME_BYTES_MAX,
    HEADER_BYTES_MAX, STATE_EVERY_STEPS_DEFAULT,
};

/// Bytes a `State` frame adds around its snapshot (variant tag, lengths, digest).
const STATE_FRAME_OVERHEAD_BYTES: usize = 128;
/// Capacity of the body buffer kept between frames: a larger one (left by a
/// huge step) is given back rather than held for the rest of the recording.
const BODY_BUFFER_KEPT_BYTES: usize = 64 * 1024;

/// Writes one trace.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    previous: ChainHash,
    frames: u64,
    steps: u64,
    state_every_steps: u64,
    /// The body buffer, kept between frames so that encoding one allocates
    /// nothing.
    body: Vec<u8>,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the preamble, `header` and the header hash.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<Self, TraceError> {
        assert_eq!(
            header.format_version, FORMAT_VERSION,
            "a writer only writes its own format version"
        );
        let body = bincode::serde::encode_to_vec(header, bincode_config())
            .map_err(|error| TraceError::EncodeHeader { error })?;
        if body.len() > HEADER_BYTES_MAX {
            return Err(TraceError::HeaderTooLarge {
                len: body.len() as u64,
                max: HEADER_BYTES_MAX,
            });
        }
        let len = u32::try_from(body.len()).expect("HEADER_BYTES_MAX fits in u32");
        let pre = preamble(FORMAT_VERSION, len);
        let hash = header_hash(&pre, &body);
        out.write_all(&pre).map_err(TraceError::Io)?;
        out.write_all(&body).map_err(TraceError::Io)?;
        out.write_all(&hash).map_err(TraceError::Io)?;
        Ok(TraceWriter {
            out,
            previous: hash,
            frames: 0,
            steps: 0,
            state_every_steps: STATE_EVERY_STEPS_DEFAULT,
            body: Vec::new(),
        })
    }

    /// Appends a `Step` frame: `input` and the outputs its step returned.
    pub fn record(&mut self, input: &Input, outputs: &[Output]) -> Result<(), TraceError> {
        self.write_frame(&FrameRef::Step { input, outputs })?;
        self.steps += 1;
        Ok(())
    }

    /// Appends a `Checkpoint` frame with the engine digest after the last step.
    pub fn checkpoint(&mut self, digest: &str) -> Result<(), TraceError> {
        self.write_frame(&FrameRef::Checkpoint { digest })
    }

    /// Records a step of `engine` (already applied) and, every
    /// [`CHECKPOINT_EVERY_STEPS`] steps, a checkpoint of its digest.
    pub fn record_and_checkpoint(
        &mut self,
        input: &Input,
        outputs: &[Output],
        engine: &Engine,
    ) -> Result<(), TraceError> {
        self.record(input, outputs)?;
        if self.state_every_steps != 0 && self.steps % self.state_every_steps == 0 {
            if let Ok(snapshot) = crate::snapshot::save(engine) {
                if snapshot.len() < FRAME_BYTES_MAX - STATE_FRAME_OVERHEAD_BYTES {
                    return self.state(&engine.digest(), &snapshot);
                }
            }
        }
        if self.steps % CHECKPOINT_EVERY_STEPS == 0 {
            self.checkpoint(&engine.digest())?;
        }
        Ok(())
    }

    /// Appends a `State` frame: the digest and snapshot envelope after the last step.
    pub fn state(&mut self, digest: &str, snapshot: &[u8]) -> Result<(), TraceError> {
        self.write_frame(&FrameRef::State { digest, snapshot })
    }

    /// Writes a `State` frame every `steps` steps in
    /// [`record_and_checkpoint`](Self::record_and_checkpoint) (0: never; the
    /// default is [`STATE_EVERY_STEPS_DEFAULT`]).
    pub fn set_state_every_steps(&mut self, steps: u64) {
        self.state_every_steps = steps;
    }

    /// Writes the `End` frame, flushes, and gives the sink back. `steps` must be the
    /// number of steps recorded ([`TraceError::StepCountMismatch`] otherwise).
    pub fn finish(mut self, steps: u64, digest: &str) -> Result<W, TraceError> {
        if steps != self.steps {
            return Err(TraceError::StepCountMismatch {
                recorded: steps,
                counted: self.steps,
            });
        }
        self.write_frame(&FrameRef::End { steps, digest })?;
        self.out.flush().map_err(TraceError::Io)?;
        Ok(self.out)
    }

    /// [`finish`](Self::finish) with `engine`'s digest and this writer's step count.
    pub fn finish_with(self, engine: &Engine) -> Result<W, TraceError> {
        let steps = self.steps;
        self.finish(steps, &engine.digest())
    }

    /// Flushes the sink (for a recorder that wants the trace on disk as it goes).
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.out.flush().map_err(TraceError::Io)
    }

    /// `Step` frames written so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Frames of every kind written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The sink, e.g. to hand buffered bytes to the kernel between frames.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn write_frame(&mut self, frame: &FrameRef<'_>) -> Result<(), TraceError> {
        let index = self.frames;
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        if body.capacity() > BODY_BUFFER_KEPT_BYTES {
            body = Vec::new();
        }
        bincode::serde::encode_into_std_write(frame, &mut body, bincode_config()).map_err(
            |error| TraceError::Encode {
                frame: index,
                error,
            },
        )?;
        // Checkpoints, states and the end carry the whole hash: they vouch for
        // every frame before them, whose own checks are short.
        let full_check = !matches!(frame, FrameRef::Step { .. });
        let result = self.write_parts(&body, full_check);
        self.body = body;
        result?;
        self.frames += 1;
        Ok(())
    }

    /// Writes `body` as one part, or as several when it is past
    /// [`FRAME_BYTES_MAX`]: length field, bytes, check.
    fn write_parts(&mut self, body: &[u8], full_check: bool) -> Result<(), TraceError> {
        let mut parts = body.chunks(FRAME_BYTES_MAX).peekable();
        let mut previous = self.previous;
        // An empty body is one empty part.
        let empty: &[u8] = &[];
        let mut next = parts.next().or(Some(empty));
        while let Some(part) = next {
            next = parts.next();
            let last = next.is_none();
            let field = Field::new(part.len(), !last, full_check && last);
            let hash = part_hash(&previous, field.as_bytes(), part);
            let check = if full_check && last {
                &hash[..]
            } else {
                &hash[..CHECK_BYTES]
            };
            self.out
                .write_all(field.as_bytes())
                .map_err(TraceError::Io)?;
            self.out.write_all(part).map_err(TraceError::Io)?;
            self.out.write_all(check).map_err(TraceError::Io)?;
            previous = hash;
        }
        self.previous = previous;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::format::{
        PartAt, FIELD_FLAG_BITS, FULL_CHECK, HASH_BYTES, PART_CONTINUES, PREAMBLE_BYTES,
    };

    fn header() -> TraceHeader {
        TraceHeader::new(MachineConfig::default())
    }

    fn bytes_input(len: usize) -> Input {
        Input::Bytes {
            client: ClientId(1),
            data: vec![b'x'; len],
        }
    }

    #[test]
    fn new_writes_preamble_header_and_hash() {
        let w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let header_len = u32::from_le_bytes(w.out[12..16].try_into().unwrap()) as usize;
        assert_eq!(w.out.len(), PREAMBLE_BYTES + header_len + HASH_BYTES);
    }

    #[test]
    fn finish_with_wrong_step_count_fails() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        w.record(&bytes_input(1), &[]).unwrap();
        let err = w.finish(2, "d").unwrap_err();
        assert!(matches!(
            err,
            TraceError::StepCountMismatch {
                recorded: 2,
                counted: 1
            }
        ));
    }

    /// The length fields of the parts after the header, in order.
    fn length_fields(out: &[u8]) -> Vec<u32> {
        let header_len = u32::from_le_bytes(out[12..16].try_into().unwrap()) as usize;
        let mut at = PREAMBLE_BYTES + header_len + HASH_BYTES;
        let mut fields = Vec::new();
        while at < out.len() {
            let part = PartAt::read(out, at);
            fields.push(part.value);
            at += part.total();
        }
        fields
    }

    /// A step input whose frame body is exactly `body` bytes long.
    fn input_with_body(body: usize) -> Input {
        let overhead = bincode::serde::encode_to_vec(
            FrameRef::Step {
                input: &bytes_input(body),
                outputs: &[],
            },
            bincode_config(),
        )
        .unwrap()
        .len()
            - body;
        bytes_input(body - overhead)
    }

    #[test]
    fn record_at_part_limit_writes_one_part() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        w.record(&input_with_body(FRAME_BYTES_MAX), &[]).unwrap();
        assert_eq!(
            length_fields(&w.out),
            [u32::try_from(FRAME_BYTES_MAX).unwrap() << FIELD_FLAG_BITS]
        );
    }

    #[test]
    fn record_one_past_part_limit_splits_in_two() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        w.record(&input_with_body(FRAME_BYTES_MAX + 1), &[])
            .unwrap();
        assert_eq!(
            length_fields(&w.out),
            [
                (u32::try_from(FRAME_BYTES_MAX).unwrap() << FIELD_FLAG_BITS) | PART_CONTINUES,
                1 << FIELD_FLAG_BITS
            ]
        );
    }

    #[test]
    fn split_frame_counts_as_one_frame_and_step() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        w.record(&input_with_body(2 * FRAME_BYTES_MAX + 5), &[])
            .unwrap();
        assert_eq!((w.frames(), w.steps()), (1, 1));
    }

    #[test]
    fn header_past_limit_fails() {
        let big = header().with_notes(&"n".repeat(HEADER_BYTES_MAX));
        let err = TraceWriter::new(Vec::new(), &big).unwrap_err();
        assert!(matches!(err, TraceError::HeaderTooLarge { .. }));
    }

    /// A writer after `n` calls of `record_and_checkpoint`.
    fn after_steps(n: u64) -> TraceWriter<Vec<u8>> {
        let engine = Engine::new(MachineConfig::default());
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        (0..n).for_each(|_| {
            w.record_and_checkpoint(&bytes_input(1), &[], &engine)
                .unwrap();
        });
        w
    }

    #[test]
    fn record_and_checkpoint_writes_checkpoint_on_interval() {
        let w = after_steps(CHECKPOINT_EVERY_STEPS);
        assert_eq!(w.frames(), CHECKPOINT_EVERY_STEPS + 1);
    }

    #[test]
    fn record_and_checkpoint_one_past_interval_writes_no_second_checkpoint() {
        let w = after_steps(CHECKPOINT_EVERY_STEPS + 1);
        assert_eq!(w.frames(), CHECKPOINT_EVERY_STEPS + 2);
    }

    #[test]
    fn record_and_checkpoint_at_twice_the_interval_writes_two_checkpoints() {
        let w = after_steps(2 * CHECKPOINT_EVERY_STEPS);
        assert_eq!(w.frames(), 2 * CHECKPOINT_EVERY_STEPS + 2);
    }

    #[test]
    fn record_and_checkpoint_before_interval_writes_steps_only() {
        let w = after_steps(CHECKPOINT_EVERY_STEPS - 1);
        assert_eq!(w.frames(), CHECKPOINT_EVERY_STEPS - 1);
    }

    #[test]
    fn header_at_limit_is_written() {
        // With empty notes the notes length is one varint byte; past 65535 bytes
        // it takes five, so the header grows by `len + 4`.
        let base = bincode::serde::encode_to_vec(header(), bincode_config())
            .unwrap()
            .len();
        let at_limit = header().with_notes(&"n".repeat(HEADER_BYTES_MAX - base - 4));
        let w = TraceWriter::new(Vec::new(), &at_limit).unwrap();
        assert_eq!(
            u32::from_le_bytes(w.out[12..16].try_into().unwrap()) as usize,
            HEADER_BYTES_MAX
        );
    }

    #[test]
    fn checkpoint_frame_ends_with_the_full_hash() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let start = w.out.len();
        w.checkpoint("d").unwrap();
        let part = PartAt::read(&w.out, start);
        assert_eq!(
            (part.value & FULL_CHECK, w.out.len() - start),
            (FULL_CHECK, part.field_len + part.part_len + HASH_BYTES)
        );
    }

    #[test]
    fn step_frame_ends_with_a_short_check() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let start = w.out.len();
        w.record(&bytes_input(1), &[]).unwrap();
        let part = PartAt::read(&w.out, start);
        assert_eq!(
            (part.value & FULL_CHECK, w.out.len() - start),
            (0, 1 + part.part_len + CHECK_BYTES)
        );
    }

    #[test]
    fn end_frame_ends_with_the_full_hash() {
        let w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let start = w.out.len();
        let out = w.finish(0, "d").unwrap();
        assert_eq!(PartAt::read(&out, start).check_len, HASH_BYTES);
    }

    #[test]
    fn split_frame_parts_before_the_last_have_short_checks() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let start = w.out.len();
        w.record(&input_with_body(FRAME_BYTES_MAX + 1), &[])
            .unwrap();
        let first = PartAt::read(&w.out, start);
        assert_eq!(first.check_len, CHECK_BYTES);
    }
}
