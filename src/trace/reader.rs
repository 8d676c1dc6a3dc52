//! `TraceReader`: reads a trace from any `std::io::Read`, one frame at a time.
//!
//! Streaming: memory use is one frame, whatever the trace length. Every check in
//! [`super::format`] runs here, in this order per part: length against
//! [`FRAME_BYTES_MAX`], the bytes, the chain hash; then, once the frame's last part is in, decoding.
//! The end of the input is only acceptable right after the `End` frame; anything
//! else is [`TraceError::Truncated`], which says how many frames were complete, so
//! the caller can use every one of them. No files: the caller opens them.

use std::io::{ErrorKind, Read};

use super::format::{
    header_hash, part_hash, ChainHash, FieldByte, FieldDecoder, Frame, TraceError, TraceHeader,
    CHECK_BYTES, FIELD_FLAG_BITS, FORMAT_VERSION, FRAME_BYTES_MAX, FULL_CHECK, HASH_BYTES,
    HEADER_BYTES_MAX, PART_CONTINUES, PREAMBLE_BYTES, PREAMBLE_LAYOUT,
};
use crate::envelope::PrefixError;

/// Bytes a body read allocates ahead of what has arrived, at most: a lying
/// length field on a short input costs no more than this past the input.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Where the reader is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// More frames may follow.
    Frames,
    /// The `End` frame was read and nothing followed it.
    Done,
    /// An error was returned; the reader cannot go on.
    Failed,
}

/// Reads one trace.
#[derive(Debug)]
pub struct TraceReader<R: Read> {
    input: R,
    previous: ChainHash,
    frames: u64,
    steps: u64,
    offset: u64,
    /// `offset` at the end of the header or of the last complete frame.
    complete: u64,
    phase: Phase,
    /// The body buffer, kept between frames so that reading one allocates nothing.
    buf: Vec<u8>,
}

impl<R: Read> TraceReader<R> {
    /// Reads and checks the preamble, the header and its hash.
    pub fn open(input: R) -> Result<(Self, TraceHeader), TraceError> {
        let mut reader = TraceReader {
            input,
            previous: [0; HASH_BYTES],
            frames: 0,
            steps: 0,
            offset: 0,
            complete: 0,
            phase: Phase::Frames,
            buf: Vec::new(),
        };
        let header = reader.read_header()?;
        Ok((reader, header))
    }

    /// The next frame, `Ok(None)` once the `End` frame has been returned.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, TraceError> {
        match self.phase {
            Phase::Frames => {}
            Phase::Done => return Ok(None),
            Phase::Failed => return Err(TraceError::ReaderFailed),
        }
        match self.read_frame() {
            Ok(frame) => Ok(Some(frame)),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e)
            }
        }
    }

    /// Frames returned so far (the index of the next frame).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// `Step` frames returned so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes up to the end of the last complete frame (of the header before the
    /// first frame): where a trace cut inside the next frame stops being usable.
    pub fn complete_bytes(&self) -> u64 {
        self.complete
    }

    fn read_header(&mut self) -> Result<TraceHeader, TraceError> {
        let mut pre = [0u8; PREAMBLE_BYTES];
        self.fill_header(&mut pre)?;
        let len = PREAMBLE_LAYOUT.check(&pre).map_err(|e| match e {
            PrefixError::BadMagic => TraceError::BadMagic {
                found: pre[..8].try_into().expect("preamble holds 8 magic bytes"),
            },
            PrefixError::UnsupportedVersion { found, expected } => {
                TraceError::UnsupportedVersion { found, expected }
            }
            PrefixError::TooLarge { len } => TraceError::HeaderTooLarge {
                len,
                max: HEADER_BYTES_MAX,
            },
        })?;
        let len = usize::try_from(len).expect("bounded by HEADER_BYTES_MAX");
        let body = self.take(len).map_err(|e| match e {
            TraceError::Truncated { offset, .. } => TraceError::TruncatedHeader { offset },
            other => other,
        })?;
        let mut stored = [0u8; HASH_BYTES];
        self.fill_header(&mut stored)?;
        let hash = header_hash(&pre, &body);
        if stored != hash {
            return Err(TraceError::HeaderChecksumMismatch);
        }
        let (header, used): (TraceHeader, usize) =
            bincode::serde::decode_from_slice(&body, crate::trace::format::bincode_decode_config())
                .map_err(|error| header_decode_error(&body, error))?;
        if used != body.len() {
            return Err(TraceError::HeaderSlack {
                unused: body.len() - used,
            });
        }
        if header.format_version != FORMAT_VERSION {
            return Err(TraceError::HeaderVersionMismatch {
                preamble: FORMAT_VERSION,
                header: header.format_version,
            });
        }
        self.previous = hash;
        self.complete = self.offset;
        Ok(header)
    }

    fn read_frame(&mut self) -> Result<Frame, TraceError> {
        let index = self.frames;
        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        if body.capacity() > READ_CHUNK_BYTES {
            body = Vec::new();
        }
        let mut previous = self.previous;
        let full_check = loop {
            let (field, value) = self.read_field(index)?;
            let len = (value >> FIELD_FLAG_BITS) as usize;
            if len > FRAME_BYTES_MAX {
                return Err(TraceError::FrameTooLarge {
                    frame: index,
                    len: len as u64,
                    max: FRAME_BYTES_MAX,
                });
            }
            let start = body.len();
            self.take_into(len, &mut body)?;
            let full = value & FULL_CHECK != 0;
            let mut stored = [0u8; HASH_BYTES];
            let check = if full { HASH_BYTES } else { CHECK_BYTES };
            self.fill(&mut stored[..check])?;
            let hash = part_hash(&previous, field.as_bytes(), &body[start..]);
            if stored[..check] != hash[..check] {
                return Err(TraceError::ChainMismatch { frame: index });
            }
            previous = hash;
            if value & PART_CONTINUES == 0 {
                break full;
            }
        };
        let (frame, used): (Frame, usize) =
            bincode::serde::decode_from_slice(&body, crate::trace::format::bincode_decode_config())
                .map_err(|error| TraceError::Decode {
                    frame: index,
                    error,
                })?;
        if used != body.len() {
            return Err(TraceError::FrameSlack {
                frame: index,
                unused: body.len() - used,
            });
        }
        if !full_check {
            if let Some(kind) = needs_full_check(&frame) {
                return Err(TraceError::CheckTooShort { frame: index, kind });
            }
        }
        self.buf = body;
        self.previous = previous;
        self.frames += 1;
        self.complete = self.offset;
        match &frame {
            Frame::Step { .. } => self.steps += 1,
            Frame::Checkpoint { .. } | Frame::State { .. } => {}
            Frame::End { steps, .. } => self.end(*steps)?,
        }
        Ok(frame)
    }

    /// Reads a part's length field: the bytes as read (for the chain hash)
    /// and its value.
    fn read_field(&mut self, index: u64) -> Result<(FieldDecoder, u32), TraceError> {
        let start = self.offset;
        let mut decoder = FieldDecoder::default();
        loop {
            let mut byte = [0u8; 1];
            self.fill(&mut byte)?;
            match decoder.push(byte[0]) {
                FieldByte::More => {}
                FieldByte::Done(value) => return Ok((decoder, value)),
                FieldByte::Malformed => {
                    return Err(TraceError::BadLengthField {
                        frame: index,
                        offset: start,
                    })
                }
            }
        }
    }

    /// Checks the `End` frame's count and that nothing follows it.
    fn end(&mut self, recorded: u64) -> Result<(), TraceError> {
        if recorded != self.steps {
            return Err(TraceError::StepCountMismatch {
                recorded,
                counted: self.steps,
            });
        }
        let mut probe = [0u8; 1];
        if self.read_some(&mut probe)? != 0 {
            return Err(TraceError::TrailingBytes {
                offset: self.offset - 1,
            });
        }
        self.phase = Phase::Done;
        Ok(())
    }

    /// Reads exactly `len` bytes, growing the buffer only as data arrives, so a
    /// lying length field on a short input allocates no more than the input.
    fn take(&mut self, len: usize) -> Result<Vec<u8>, TraceError> {
        let mut body = Vec::new();
        self.take_into(len, &mut body)?;
        Ok(body)
    }

    /// [`take`](Self::take), appending to `body`: at most [`READ_CHUNK_BYTES`]
    /// more than has arrived is allocated at a time.
    fn take_into(&mut self, len: usize, body: &mut Vec<u8>) -> Result<(), TraceError> {
        let mut left = len;
        while left > 0 {
            let start = body.len();
            let chunk = left.min(READ_CHUNK_BYTES);
            body.resize(start + chunk, 0);
            let mut filled = 0;
            while filled < chunk {
                let n = self.read_some(&mut body[start + filled..])?;
                if n == 0 {
                    body.truncate(start + filled);
                    return Err(self.truncated());
                }
                filled += n;
            }
            left -= chunk;
        }
        Ok(())
    }

    /// Fills `buf` or reports truncation of the current frame.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), TraceError> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read_some(&mut buf[filled..])?;
            if n == 0 {
                return Err(self.truncated());
            }
            filled += n;
        }
        Ok(())
    }

    /// [`fill`](Self::fill) for the preamble and header hash.
    fn fill_header(&mut self, buf: &mut [u8]) -> Result<(), TraceError> {
        self.fill(buf).map_err(|e| match e {
            TraceError::Truncated { offset, .. } => TraceError::TruncatedHeader { offset },
            other => other,
        })
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, TraceError> {
        loop {
            match self.input.read(buf) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(TraceError::Io(e)),
            }
        }
    }

    fn truncated(&self) -> TraceError {
        TraceError::Truncated {
            at_frame: self.frames,
            steps: self.steps,
            offset: self.offset,
            complete_bytes: self.complete,
        }
    }
}

/// The kind of a frame that must end with the full chain hash, `None` for a
/// `Step`.
fn needs_full_check(frame: &Frame) -> Option<&'static str> {
    match frame {
        Frame::Step { .. } => None,
        Frame::Checkpoint { .. } => Some("Checkpoint"),
        Frame::State { .. } => Some("State"),
        Frame::End { .. } => Some("End"),
    }
}

/// Kinds of trace this build knows: [`TraceKind`](super::format::TraceKind)'s
/// variants.
const TRACE_KINDS_KNOWN: u32 = 2;

/// A header decode error, with an unknown [`TraceKind`](super::format::TraceKind)
/// told apart from other damage: the header's first three fields (format
/// version, qmpsim version, the kind's variant index) are read on their own.
fn header_decode_error(body: &[u8], error: bincode::error::DecodeError) -> TraceError {
    let prefix: Result<((u32, String, u32), usize), _> =
        bincode::serde::decode_from_slice(body, crate::trace::format::bincode_decode_config());
    match prefix {
        Ok(((_, _, found), _)) if found >= TRACE_KINDS_KNOWN => TraceError::UnknownKind { found },
        _ => TraceError::DecodeHeader { error },
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Frame, TraceError>;

    /// The frames, then `None`; after an error, `None`.
    fn next(&mut self) -> Option<Self::Item> {
        match self.phase {
            Phase::Frames => self.next_frame().transpose(),
            Phase::Done | Phase::Failed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Input, Output};
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;
    use crate::trace::format::TraceHeader;
    use crate::trace::format::{bincode_config, preamble, Field, PartAt};
    use crate::trace::writer::TraceWriter;

    const CLIENT: ClientId = ClientId(1);

    fn header() -> TraceHeader {
        TraceHeader::new(MachineConfig::default()).with_notes("reader tests")
    }

    /// Header, two steps, a checkpoint, End.
    fn sample() -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let connect = Input::connect(CLIENT);
        let greeting = Output::Send {
            client: CLIENT,
            data: b"{\"QMP\": {}}\r\n".to_vec(),
        };
        w.record(&connect, &[greeting]).unwrap();
        w.record(
            &Input::Bytes {
                client: CLIENT,
                data: b"{}".to_vec(),
            },
            &[],
        )
        .unwrap();
        w.checkpoint("c0").unwrap();
        w.finish(2, "d0").unwrap()
    }

    fn header_end(bytes: &[u8]) -> usize {
        let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        PREAMBLE_BYTES + len + HASH_BYTES
    }

    /// Offsets where each frame starts, plus the end offset (frames of one
    /// part).
    fn frame_starts(bytes: &[u8]) -> Vec<usize> {
        let mut at = header_end(bytes);
        let mut starts = vec![at];
        while at < bytes.len() {
            at += PartAt::read(bytes, at).total();
            starts.push(at);
        }
        starts
    }

    /// Bytes of the length field at `at`.
    fn field_len(bytes: &[u8], at: usize) -> usize {
        PartAt::read(bytes, at).field_len
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Frame>, TraceError> {
        let (reader, _) = TraceReader::open(bytes)?;
        reader.collect()
    }

    /// A frame with an arbitrary body, correctly chained, with the full hash
    /// as its check.
    fn seal_raw(previous: &ChainHash, body: &[u8]) -> Vec<u8> {
        let field = Field::new(body.len(), false, true);
        let mut out = field.as_bytes().to_vec();
        out.extend_from_slice(body);
        out.extend_from_slice(&part_hash(previous, field.as_bytes(), body));
        out
    }

    fn stored_header_hash(bytes: &[u8]) -> ChainHash {
        let end = header_end(bytes);
        bytes[end - HASH_BYTES..end].try_into().unwrap()
    }

    /// The header of `sample()`, without its frames.
    fn sample_header() -> Vec<u8> {
        let bytes = sample();
        bytes[..header_end(&bytes)].to_vec()
    }

    /// The header of `sample()`, then `body` sealed as its first frame.
    fn with_sealed_frame(body: &[u8]) -> Vec<u8> {
        let bytes = sample();
        let mut out = bytes[..header_end(&bytes)].to_vec();
        out.extend(seal_raw(&stored_header_hash(&bytes), body));
        out
    }

    #[test]
    fn round_trip_returns_header() {
        let bytes = sample();
        let (_, h) = TraceReader::open(&bytes[..]).unwrap();
        assert_eq!(h, header());
    }

    #[test]
    fn round_trip_returns_frames_in_order() {
        let frames = read_all(&sample()).unwrap();
        assert_eq!(
            frames[1..],
            [
                Frame::Step {
                    input: Input::bytes(CLIENT, b"{}"),
                    outputs: vec![]
                },
                Frame::Checkpoint {
                    digest: "c0".to_owned()
                },
                Frame::End {
                    steps: 2,
                    digest: "d0".to_owned()
                },
            ]
        );
    }

    #[test]
    fn next_frame_after_end_returns_none() {
        let bytes = sample();
        let (mut r, _) = TraceReader::open(&bytes[..]).unwrap();
        let _ = r.by_ref().count();
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn open_with_bad_magic_fails() {
        let mut bytes = sample();
        bytes[0] = b'X';
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(err, TraceError::BadMagic { found } if &found == b"XMPTRACE"));
    }

    #[test]
    fn open_with_other_version_fails() {
        let other = u8::try_from(FORMAT_VERSION + 1).expect("a small version");
        let mut bytes = sample();
        bytes[8] = other;
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(
            err,
            TraceError::UnsupportedVersion {
                found,
                expected: FORMAT_VERSION
            } if found == u32::from(other)
        ));
    }

    #[test]
    fn open_with_header_version_disagreeing_fails() {
        let mut h = header();
        h.format_version = FORMAT_VERSION + 1;
        let body = bincode::serde::encode_to_vec(&h, bincode_config()).unwrap();
        let pre = preamble(FORMAT_VERSION, u32::try_from(body.len()).unwrap());
        let bytes = [&pre[..], &body, &header_hash(&pre, &body)].concat();
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(err, TraceError::HeaderVersionMismatch { .. }));
    }

    /// A sealed trace start whose header body is `header` with its kind's
    /// variant index replaced by `kind` (the index follows the format version
    /// and the qmpsim version, one-byte varints here).
    fn with_kind_index(header: &TraceHeader, kind: u8) -> Vec<u8> {
        let mut body = bincode::serde::encode_to_vec(header, bincode_config()).unwrap();
        body[2 + header.qmpsim_version.len()] = kind;
        let pre = preamble(FORMAT_VERSION, u32::try_from(body.len()).unwrap());
        [&pre[..], &body, &header_hash(&pre, &body)].concat()
    }

    #[test]
    fn open_with_unknown_kind_names_the_kind() {
        let bytes = with_kind_index(&header(), 2);
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown trace kind 2 in the header (this build reads kinds 0, engine, and 1, observed)"
        );
    }

    #[test]
    fn open_with_last_known_kind_reads_an_observed_header() {
        let observed = TraceHeader::observed(crate::trace::format::ObservedSession {
            upstream: "unix:/run/qemu.sock".to_owned(),
            greeting: b"{\"QMP\": {}}\r\n".to_vec(),
            started_unix_ms: 7,
        });
        let bytes = with_kind_index(&observed, 1);
        let (_, read) = TraceReader::open(&bytes[..]).unwrap();
        assert_eq!(read, observed);
    }

    #[test]
    fn open_truncated_in_preamble_fails() {
        let bytes = sample();
        let err = TraceReader::open(&bytes[..10]).unwrap_err();
        assert!(matches!(err, TraceError::TruncatedHeader { offset: 10 }));
    }

    #[test]
    fn open_truncated_in_header_body_fails() {
        let bytes = sample();
        let err = TraceReader::open(&bytes[..PREAMBLE_BYTES + 3]).unwrap_err();
        assert!(matches!(err, TraceError::TruncatedHeader { offset: 19 }));
    }

    #[test]
    fn open_truncated_in_header_hash_fails() {
        let bytes = sample();
        let cut = header_end(&bytes) - 1;
        let err = TraceReader::open(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, TraceError::TruncatedHeader { offset } if offset == cut as u64));
    }

    #[test]
    fn open_with_empty_input_fails_as_truncated() {
        let err = TraceReader::open(&b""[..]).unwrap_err();
        assert!(matches!(err, TraceError::TruncatedHeader { offset: 0 }));
    }

    #[test]
    fn open_with_altered_header_fails_checksum() {
        let mut bytes = sample();
        let last_note_byte = header_end(&bytes) - HASH_BYTES - 1;
        bytes[last_note_byte] ^= 1;
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(err, TraceError::HeaderChecksumMismatch));
    }

    #[test]
    fn open_with_header_past_limit_fails() {
        let too_long = u32::try_from(HEADER_BYTES_MAX + 1).unwrap();
        let bytes = preamble(FORMAT_VERSION, too_long);
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(
            matches!(err, TraceError::HeaderTooLarge { len, .. } if len == u64::from(too_long))
        );
    }

    #[test]
    fn open_with_header_at_limit_reads_body() {
        // At the limit the length is accepted and the reader goes on to read the
        // (missing) body: truncation, not a size error.
        let at_limit = u32::try_from(HEADER_BYTES_MAX).unwrap();
        let bytes = preamble(FORMAT_VERSION, at_limit);
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(err, TraceError::TruncatedHeader { offset: 16 }));
    }

    #[test]
    fn open_with_garbage_header_fails_decode() {
        let body = [0xff_u8; 8];
        let pre = preamble(FORMAT_VERSION, 8);
        let bytes = [&pre[..], &body, &header_hash(&pre, &body)].concat();
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert!(matches!(err, TraceError::DecodeHeader { .. }));
    }

    /// Reads `sample()` cut 6 bytes into frame 1: where its frames start, where
    /// it is cut, and the error.
    fn read_cut_inside_frame_1() -> (Vec<usize>, usize, TraceError) {
        let bytes = sample();
        let starts = frame_starts(&bytes);
        let cut = starts[1] + 6;
        let err = read_all(&bytes[..cut]).unwrap_err();
        (starts, cut, err)
    }

    #[test]
    fn read_truncated_inside_frame_fails() {
        let (starts, cut, err) = read_cut_inside_frame_1();
        assert!(matches!(
            err,
            TraceError::Truncated { at_frame: 1, steps: 1, offset, complete_bytes }
                if offset == cut as u64 && complete_bytes == starts[1] as u64
        ));
    }

    #[test]
    fn truncated_message_names_last_complete_frame_and_cut() {
        let (_, cut, err) = read_cut_inside_frame_1();
        assert_eq!(
            err.to_string(),
            format!(
                "truncated after frame 0 (1 step complete): the file ends at byte {cut}, \
                 6 bytes into frame 1"
            )
        );
    }

    #[test]
    fn truncated_between_frames_says_where_the_next_should_start() {
        let bytes = sample();
        let starts = frame_starts(&bytes);
        let err = read_all(&bytes[..starts[2]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "truncated after frame 1 (2 steps complete): the file ends at byte {}, \
                 where frame 2 should start",
                starts[2]
            )
        );
    }

    #[test]
    fn truncated_reader_returned_every_complete_frame_first() {
        let bytes = sample();
        let starts = frame_starts(&bytes);
        let (reader, _) = TraceReader::open(&bytes[..starts[3] + 1]).unwrap();
        let results: Vec<_> = reader.collect();
        assert_eq!(results.len(), 4);
        assert!(results[..3].iter().all(Result::is_ok));
    }

    #[test]
    fn bad_magic_message_shows_text_not_a_byte_list() {
        let mut bytes = sample();
        bytes[..8].copy_from_slice(b"GIF89a\x00\x01");
        let err = TraceReader::open(&bytes[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a qmpsim trace (it starts with \"GIF89a\\x00\\x01\", not \"QMPTRACE\")"
        );
    }

    #[test]
    fn decode_error_message_has_no_debug_output() {
        // A Step frame whose input has variant index 99: sealed, but not a frame.
        let err = read_all(&with_sealed_frame(&[0, 99])).unwrap_err();
        // serde's own words; the bound is the number of `Input` variants.
        let text = err.to_string();
        assert!(
            text.starts_with(
                "frame 0 does not decode: invalid value: integer `99`, expected variant index 0 <= i < "
            ) && !text.contains("OtherString"),
            "{text}"
        );
    }

    /// The header of `sample()`, then `parts` sealed as one frame's parts,
    /// each given by its length field's value.
    fn with_parts(parts: &[(u32, &[u8])]) -> Vec<u8> {
        let bytes = sample();
        let mut out = bytes[..header_end(&bytes)].to_vec();
        let mut previous = stored_header_hash(&bytes);
        for (value, part) in parts {
            let field = Field::encode(*value);
            out.extend_from_slice(field.as_bytes());
            out.extend_from_slice(part);
            previous = part_hash(&previous, field.as_bytes(), part);
            let check = if value & FULL_CHECK != 0 {
                HASH_BYTES
            } else {
                CHECK_BYTES
            };
            out.extend_from_slice(&previous[..check]);
        }
        out
    }

    /// A length field's value: `len` and flags.
    fn value(len: usize, flags: u32) -> u32 {
        (u32::try_from(len).unwrap() << FIELD_FLAG_BITS) | flags
    }

    /// An `End` frame of `steps` steps (digest `d`), encoded.
    fn encoded_end(steps: u64) -> Vec<u8> {
        let end = Frame::End {
            steps,
            digest: "d".to_owned(),
        };
        bincode::serde::encode_to_vec(end, bincode_config()).unwrap()
    }

    /// `sample()`'s header, then an `End` frame split after its first byte into
    /// two parts, the first with the continuation flag.
    fn split_end() -> Vec<u8> {
        let end = encoded_end(0);
        let (a, b) = end.split_at(1);
        with_parts(&[
            (value(1, PART_CONTINUES), a),
            (value(b.len(), FULL_CHECK), b),
        ])
    }

    #[test]
    fn split_frame_is_read_as_one_frame() {
        let frames = read_all(&split_end()).unwrap();
        assert_eq!(
            frames,
            [Frame::End {
                steps: 0,
                digest: "d".to_owned()
            }]
        );
    }

    #[test]
    fn split_frame_with_continuation_bit_flipped_fails_chain() {
        let mut bytes = split_end();
        let at = header_end(&bytes);
        bytes[at] ^= u8::try_from(PART_CONTINUES).unwrap();
        assert!(matches!(
            read_all(&bytes).unwrap_err(),
            TraceError::ChainMismatch { frame: 0 }
        ));
    }

    /// `sample()`'s header, then an `End` frame sealed with the given length
    /// field value flags.
    fn end_sealed_with(flags: u32) -> Vec<u8> {
        let end = encoded_end(0);
        with_parts(&[(value(end.len(), flags), &end)])
    }

    #[test]
    fn end_frame_with_a_short_check_is_refused() {
        let err = read_all(&end_sealed_with(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame 0, an End frame, ends with a 4-byte check where the full 32-byte hash belongs"
        );
    }

    #[test]
    fn end_frame_with_the_full_hash_is_read() {
        assert!(read_all(&end_sealed_with(FULL_CHECK)).is_ok());
    }

    #[test]
    fn length_field_of_five_bytes_is_damage_at_its_offset() {
        let bytes = sample();
        let start = header_end(&bytes);
        let mut cut = bytes[..start].to_vec();
        cut.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x01]);
        let err = read_all(&cut).unwrap_err();
        assert!(
            matches!(err, TraceError::BadLengthField { frame: 0, offset } if offset == start as u64),
            "{err}"
        );
    }

    #[test]
    fn length_field_in_a_longer_form_is_damage() {
        let bytes = sample();
        let start = header_end(&bytes);
        let mut cut = bytes[..start].to_vec();
        cut.extend_from_slice(&[0x84, 0x00]);
        assert!(matches!(
            read_all(&cut).unwrap_err(),
            TraceError::BadLengthField { frame: 0, .. }
        ));
    }

    #[test]
    fn flipped_check_flag_of_a_step_fails_chain() {
        let mut bytes = sample();
        let starts = frame_starts(&bytes);
        bytes[starts[1]] ^= u8::try_from(FULL_CHECK).unwrap();
        assert!(matches!(
            read_all(&bytes).unwrap_err(),
            TraceError::ChainMismatch { frame: 1 }
        ));
    }

    #[test]
    fn read_without_end_frame_fails_as_truncated() {
        let bytes = sample();
        let starts = frame_starts(&bytes);
        let err = read_all(&bytes[..starts[3]]).unwrap_err();
        assert!(matches!(err, TraceError::Truncated { at_frame: 3, .. }));
    }

    #[test]
    fn read_with_frame_past_limit_fails() {
        let mut cut = sample_header();
        cut.extend_from_slice(Field::encode(value(FRAME_BYTES_MAX + 1, 0)).as_bytes());
        let err = read_all(&cut).unwrap_err();
        assert!(matches!(
            err,
            TraceError::FrameTooLarge { frame: 0, len, .. } if len == FRAME_BYTES_MAX as u64 + 1
        ));
    }

    #[test]
    fn read_with_frame_at_limit_reads_body() {
        // At the limit the length is accepted; the missing body is truncation.
        let mut cut = sample_header();
        cut.extend_from_slice(Field::encode(value(FRAME_BYTES_MAX, 0)).as_bytes());
        let err = read_all(&cut).unwrap_err();
        assert!(matches!(err, TraceError::Truncated { at_frame: 0, .. }));
    }

    /// A Step frame whose encoding is exactly `len` bytes (`len` above 65 KiB).
    fn step_of_encoded_len(len: usize) -> Input {
        let probe = Input::Bytes {
            client: CLIENT,
            data: vec![0; 1 << 17],
        };
        let frame = Frame::Step {
            input: probe,
            outputs: vec![],
        };
        let overhead = bincode::serde::encode_to_vec(frame, bincode_config())
            .unwrap()
            .len()
            - (1 << 17);
        Input::Bytes {
            client: CLIENT,
            data: vec![0; len - overhead],
        }
    }

    #[test]
    fn round_trip_with_frame_at_limit_passes() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        w.record(&step_of_encoded_len(FRAME_BYTES_MAX), &[])
            .unwrap();
        let bytes = w.finish(1, "d").unwrap();
        assert_eq!(read_all(&bytes).unwrap().len(), 2);
    }

    #[test]
    fn round_trip_with_frame_one_past_limit_is_split_and_read_whole() {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let input = step_of_encoded_len(FRAME_BYTES_MAX + 1);
        w.record(&input, &[]).unwrap();
        let bytes = w.finish(1, "d").unwrap();
        let frames = read_all(&bytes).unwrap();
        assert_eq!(
            frames[0],
            Frame::Step {
                input,
                outputs: vec![]
            }
        );
    }

    #[test]
    fn round_trip_with_header_at_limit_passes() {
        let base = bincode::serde::encode_to_vec(header(), bincode_config())
            .unwrap()
            .len();
        let notes = "n".repeat(HEADER_BYTES_MAX - base + "reader tests".len() - 4);
        let big = header().with_notes(&notes);
        let bytes = TraceWriter::new(Vec::new(), &big)
            .unwrap()
            .finish(0, "d")
            .unwrap();
        let (_, h) = TraceReader::open(&bytes[..]).unwrap();
        assert_eq!(h.notes.len(), notes.len());
    }

    #[test]
    fn damaged_frames_fail_the_chain_at_the_first_frame_that_differs() {
        let bytes = sample();
        let s = frame_starts(&bytes);
        let flipped = |at: usize, bits: u8| {
            let mut damaged = bytes.clone();
            damaged[at] ^= bits;
            damaged
        };
        let cases = [
            (
                "a flipped body byte",
                flipped(s[1] + field_len(&bytes, s[1]), 0x01),
                1,
            ),
            ("a flipped hash byte", flipped(s[3] - 1, 0x80), 2),
            (
                "a dropped frame",
                [&bytes[..s[1]], &bytes[s[2]..]].concat(),
                1,
            ),
            (
                "swapped frames",
                [
                    &bytes[..s[1]],
                    &bytes[s[2]..s[3]],
                    &bytes[s[1]..s[2]],
                    &bytes[s[3]..],
                ]
                .concat(),
                1,
            ),
        ];
        for (what, damaged, frame) in cases {
            let err = read_all(&damaged).unwrap_err();
            assert!(
                matches!(err, TraceError::ChainMismatch { frame: f } if f == frame),
                "{what}: {err:?}"
            );
        }
    }

    #[test]
    fn read_with_sealed_garbage_frame_fails_decode() {
        let err = read_all(&with_sealed_frame(&[9, 9, 9])).unwrap_err();
        assert!(matches!(err, TraceError::Decode { frame: 0, .. }));
    }

    #[test]
    fn read_with_sealed_frame_slack_fails() {
        let mut body = bincode::serde::encode_to_vec(
            Frame::Checkpoint {
                digest: "c".to_owned(),
            },
            bincode_config(),
        )
        .unwrap();
        body.push(0);
        let err = read_all(&with_sealed_frame(&body)).unwrap_err();
        assert!(matches!(
            err,
            TraceError::FrameSlack {
                frame: 0,
                unused: 1
            }
        ));
    }

    #[test]
    fn read_with_wrong_end_count_fails() {
        let err = read_all(&with_sealed_frame(&encoded_end(5))).unwrap_err();
        assert!(matches!(
            err,
            TraceError::StepCountMismatch {
                recorded: 5,
                counted: 0
            }
        ));
    }

    #[test]
    fn read_with_bytes_after_end_fails() {
        let mut bytes = sample();
        let len = bytes.len() as u64;
        bytes.push(0);
        let err = read_all(&bytes).unwrap_err();
        assert!(matches!(err, TraceError::TrailingBytes { offset } if offset == len));
    }

    #[test]
    fn next_frame_after_error_fails_again() {
        let mut bytes = sample();
        let starts = frame_starts(&bytes);
        let body = starts[0] + field_len(&bytes, starts[0]);
        bytes[body] ^= 0x01;
        let (mut r, _) = TraceReader::open(&bytes[..]).unwrap();
        let _ = r.next_frame();
        assert!(matches!(r.next_frame(), Err(TraceError::ReaderFailed)));
    }

    #[test]
    fn read_with_failing_input_reports_io() {
        #[derive(Debug)]
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = TraceReader::open(Broken).unwrap_err();
        assert!(matches!(err, TraceError::Io(_)));
    }

    #[test]
    fn read_one_byte_at_a_time_gives_same_frames() {
        #[derive(Debug)]
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = usize::from(!self.0.is_empty() && !buf.is_empty());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let bytes = sample();
        let (reader, _) = TraceReader::open(Trickle(&bytes)).unwrap();
        let frames: Vec<Frame> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(frames, read_all(&bytes).unwrap());
    }

    /// A trace with one step whose input carries `len` bytes.
    fn with_bytes(len: usize) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        let input = Input::Bytes {
            client: CLIENT,
            data: vec![b'x'; len],
        };
        w.record(&input, &[]).unwrap();
        w.finish(1, "d").unwrap()
    }

    #[test]
    fn body_past_read_chunk_round_trips() {
        let frames = read_all(&with_bytes(READ_CHUNK_BYTES + 1)).unwrap();
        assert!(
            matches!(&frames[0], Frame::Step { input: Input::Bytes { data, .. }, .. } if data.len() == READ_CHUNK_BYTES + 1)
        );
    }

    #[test]
    fn body_cut_past_read_chunk_is_truncated_in_its_frame() {
        let bytes = with_bytes(2 * READ_CHUNK_BYTES);
        let start = frame_starts(&bytes)[0];
        let cut = start + field_len(&bytes, start) + READ_CHUNK_BYTES + 3;
        let err = read_all(&bytes[..cut]).unwrap_err();
        assert!(matches!(
            err,
            TraceError::Truncated { at_frame: 0, offset, .. } if offset == cut as u64
        ));
    }
}
