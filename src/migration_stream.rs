//! The migration stream: what `migrate` sends and `-incoming` receives, as bytes.
//!
//! Layout (integers little-endian unless said otherwise):
//!
//! ```text
//! "QEVM" 00 00 00 03        0.14's QEMU_VM_FILE_MAGIC and QEMU_VM_FILE_VERSION (8)
//! magic "QMPMIG\0\0"        this stream's own magic (8)
//! stream version u32        STREAM_VERSION, checked strictly
//! preamble length u32       at most PREAMBLE_BYTES_MAX, checked before reading
//! preamble                  bincode Preamble: RAM bytes, block sizes, device sections
//! payload                   zero bytes: RAM bytes plus the block sizes, the size the
//!                           migration model counts as sent (query-migrate)
//! envelope length u64       at most SNAPSHOT_ENVELOPE_BYTES_MAX, checked before reading
//! envelope                  the source's snapshot (crate::snapshot): magic, version,
//!                           length, bincode EngineState, sha256
//! ```
//!
//! The payload stands for the pages and disk sectors QEMU would send; it is all
//! zeros, so a receiver checks every byte of it (a non-zero byte is a damaged
//! stream) while it streams past. The preamble comes first so that a destination
//! refuses a mismatched source (RAM size, devices: 0.14's `ram_load` and
//! `qemu_loadvm_state` checks) before the source has sent more than a few bytes.
//!
//! The bincode configuration is `bincode::config::standard()`, as for snapshots
//! and traces. Reading is incremental ([`StreamFeeder`]: bytes in any pieces, as
//! a non-blocking channel gives them), or over any [`std::io::Read`]
//! ([`read_all`]); this module opens nothing.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::envelope::{Prefix, PrefixError};
use crate::snapshot::{SNAPSHOT_BYTES_MAX, SNAPSHOT_HASH_BYTES, SNAPSHOT_PREFIX_BYTES};

/// 0.14's savevm file header: `QEMU_VM_FILE_MAGIC` ("QEVM") and version 3, big-endian.
pub const QEVM_HEADER: [u8; 8] = *b"QEVM\0\0\0\x03";
/// The stream's own magic, after the 0.14 header.
pub const STREAM_MAGIC: [u8; 8] = *b"QMPMIG\0\0";
/// The one stream version this build writes and reads.
pub const STREAM_VERSION: u32 = 1;
/// Largest encoded preamble, in bytes.
pub const PREAMBLE_BYTES_MAX: usize = 64 * 1024;
/// Bytes before the preamble body: 0.14 header, magic, version, length.
pub const STREAM_PREFIX_BYTES: usize = LAYOUT.bytes();
/// Largest snapshot envelope a stream may carry, in bytes.
pub const SNAPSHOT_ENVELOPE_BYTES_MAX: u64 =
    (SNAPSHOT_PREFIX_BYTES + SNAPSHOT_BYTES_MAX + SNAPSHOT_HASH_BYTES) as u64;
/// Bytes read at a time while checking the payload.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The 0.14 header and the stream's magic, which the prefix opens with.
const OPENING: [u8; 16] = {
    let mut opening = [0_u8; 16];
    let mut i = 0;
    while i < 8 {
        opening[i] = QEVM_HEADER[i];
        opening[8 + i] = STREAM_MAGIC[i];
        i += 1;
    }
    opening
};

/// The prefix before the preamble (see [`crate::envelope`]).
const LAYOUT: Prefix = Prefix {
    magic: &OPENING,
    version: STREAM_VERSION,
    length_bytes: 4,
    body_max: PREAMBLE_BYTES_MAX as u64,
};

/// One drive a block migration copies, and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSize {
    /// The drive name (`ide0-hd0`).
    pub name: String,
    /// Bytes copied.
    pub bytes: u64,
}

/// One device's state section, as 0.14's savevm names it: an id string and an
/// instance number (the n-th device with that id string).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Section {
    /// The id string (`0000:00:03.0/virtio-net-pci`, `i8042`).
    pub name: String,
    /// The instance number.
    pub instance: u32,
}

/// What a destination checks before the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preamble {
    /// The source's RAM, in bytes.
    pub ram_bytes: u64,
    /// The drives of a block migration (empty without `-b`/`-i`).
    pub blocks: Vec<BlockSize>,
    /// The source's device sections, in device order.
    pub sections: Vec<Section>,
}

impl Preamble {
    /// Payload bytes that follow the preamble.
    pub fn payload_bytes(&self) -> u64 {
        self.blocks
            .iter()
            .fold(self.ram_bytes, |total, b| total.saturating_add(b.bytes))
    }
}

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The first bytes are not a 0.14 savevm header and this stream's magic.
    #[error("Not a qmpsim migration stream (bad magic)")]
    BadMagic,
    /// The stream version is not [`STREAM_VERSION`].
    #[error("Unsupported migration stream version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// The stream's version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The preamble length exceeds [`PREAMBLE_BYTES_MAX`].
    #[error("Migration preamble of {len} bytes exceeds the limit of {max} bytes")]
    PreambleTooLarge {
        /// The announced length.
        len: u64,
        /// [`PREAMBLE_BYTES_MAX`].
        max: usize,
    },
    /// The preamble does not decode.
    #[error("Migration preamble does not decode")]
    PreambleDecode(#[source] bincode::error::DecodeError),
    /// The envelope length exceeds [`SNAPSHOT_ENVELOPE_BYTES_MAX`].
    #[error("Migration state of {len} bytes exceeds the limit of {max} bytes")]
    StateTooLarge {
        /// The announced length.
        len: u64,
        /// [`SNAPSHOT_ENVELOPE_BYTES_MAX`].
        max: u64,
    },
    /// The stream ended early.
    #[error("Migration stream ended after {received} of {expected} bytes")]
    Truncated {
        /// Bytes received in all.
        received: u64,
        /// Bytes the stream should have had at least.
        expected: u64,
    },
    /// A payload byte is not zero.
    #[error("Migration stream damaged at byte {offset}")]
    Damaged {
        /// Offset of the byte from the start of the stream.
        offset: u64,
    },
    /// Reading failed.
    #[error("Migration stream read failed")]
    Io(#[source] io::Error),
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The bytes before the payload: header, magic, version, preamble.
pub fn encode_prefix(preamble: &Preamble) -> Vec<u8> {
    let body = bincode::serde::encode_to_vec(preamble, config()).expect("a preamble is plain data");
    assert!(
        body.len() <= PREAMBLE_BYTES_MAX,
        "a preamble of a machine within its limits fits PREAMBLE_BYTES_MAX"
    );
    let mut out = Vec::with_capacity(STREAM_PREFIX_BYTES + body.len());
    LAYOUT.write(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

/// The bytes after the payload: the envelope's length, then the envelope.
pub fn encode_suffix(envelope: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + envelope.len());
    out.extend_from_slice(&(envelope.len() as u64).to_le_bytes());
    out.extend_from_slice(envelope);
    out
}

/// A whole stream at once (tests, benches, save files).
pub fn encode(preamble: &Preamble, envelope: &[u8]) -> Vec<u8> {
    let mut out = encode_prefix(preamble);
    let payload = usize::try_from(preamble.payload_bytes()).expect("payload fits in memory");
    out.resize(out.len() + payload, 0);
    out.extend_from_slice(&encode_suffix(envelope));
    out
}

/// What a [`StreamFeeder`] has read, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// The preamble, checked.
    Preamble(Preamble),
    /// The source's snapshot envelope: the stream is complete.
    Envelope(Vec<u8>),
}

/// Where a [`StreamFeeder`] is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the [`STREAM_PREFIX_BYTES`] before the preamble.
    Prefix,
    /// Waiting for a preamble of `len` bytes.
    Preamble { len: usize },
    /// `left` payload bytes to check; the stream has `expected` bytes by their end.
    Payload { left: u64, expected: u64 },
    /// Waiting for the envelope's 8-byte length, complete at `expected` bytes.
    EnvelopeLen { expected: u64 },
    /// Waiting for an envelope of `len` bytes, complete at `expected` bytes.
    Envelope { len: usize, expected: u64 },
    /// The whole stream was read, or it failed: later bytes are not looked at.
    Over,
}

/// Reads a stream from its first byte as its bytes arrive, in pieces of any
/// size (the event loop feeds what each non-blocking read gives). Whatever the
/// pieces, the result is the same, and a stream cut short gives
/// [`StreamError::Truncated`] with the bytes received and the least the stream
/// needed to be whole. Every length is bounded before anything is buffered for
/// it; the payload is checked as it streams past, never held.
#[derive(Debug)]
pub struct StreamFeeder {
    phase: Phase,
    /// Bytes fed so far.
    received: u64,
    /// The part of a bounded field (prefix, preamble, lengths, envelope) fed so far.
    buf: Vec<u8>,
}

impl Default for StreamFeeder {
    fn default() -> Self {
        StreamFeeder {
            phase: Phase::Prefix,
            received: 0,
            buf: Vec::new(),
        }
    }
}

impl StreamFeeder {
    /// A feeder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes fed so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the stream is complete or failed (nothing more is looked at).
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Over
    }

    /// Feeds the next bytes of the stream; returns what they completed, in
    /// order. An error is the last item, and ends the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Vec<Result<Fed, StreamError>> {
        let mut out = Vec::new();
        while !data.is_empty() && self.phase != Phase::Over {
            let step = match self.phase {
                Phase::Payload { left, .. } => {
                    let k = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    let start = self.received;
                    self.received += k as u64;
                    let (chunk, rest) = data.split_at(k);
                    data = rest;
                    if let Some(i) = chunk.iter().position(|&b| b != 0) {
                        Err(StreamError::Damaged {
                            offset: start + i as u64,
                        })
                    } else {
                        self.payload_read(left - k as u64);
                        Ok(None)
                    }
                }
                _ => {
                    let want = self.field_len() - self.buf.len();
                    let k = want.min(data.len());
                    self.buf.extend_from_slice(&data[..k]);
                    self.received += k as u64;
                    data = &data[k..];
                    if self.buf.len() < self.field_len() {
                        continue;
                    }
                    self.field_read()
                }
            };
            match step {
                Ok(Some(fed)) => out.push(Ok(fed)),
                Ok(None) => {}
                Err(e) => {
                    self.phase = Phase::Over;
                    out.push(Err(e));
                }
            }
        }
        out
    }

    /// The stream ended (end of file): the error for a stream cut short, or
    /// `None` when it was whole or had already failed.
    pub fn end(&mut self) -> Option<StreamError> {
        let expected = match self.phase {
            Phase::Over => return None,
            Phase::Prefix => STREAM_PREFIX_BYTES as u64,
            Phase::Preamble { len } => (STREAM_PREFIX_BYTES + len) as u64,
            Phase::Payload { expected, .. }
            | Phase::EnvelopeLen { expected }
            | Phase::Envelope { expected, .. } => expected,
        };
        self.phase = Phase::Over;
        Some(StreamError::Truncated {
            received: self.received,
            expected,
        })
    }

    /// Bytes the bounded field being read has in all.
    fn field_len(&self) -> usize {
        match self.phase {
            Phase::Prefix => STREAM_PREFIX_BYTES,
            Phase::Preamble { len } | Phase::Envelope { len, .. } => len,
            Phase::EnvelopeLen { .. } => 8,
            Phase::Payload { .. } | Phase::Over => 0,
        }
    }

    /// `left` payload bytes remain: at zero, the envelope's length is next.
    fn payload_read(&mut self, left: u64) {
        self.phase = match left {
            0 => Phase::EnvelopeLen {
                expected: self.received + 8,
            },
            _ => Phase::Payload {
                left,
                expected: self.received + left,
            },
        };
    }

    /// The bounded field in `buf` is complete: checks it and moves on.
    fn field_read(&mut self) -> Result<Option<Fed>, StreamError> {
        let field = std::mem::take(&mut self.buf);
        match self.phase {
            Phase::Prefix => {
                let len = check_prefix(&field)?;
                self.phase = Phase::Preamble { len };
                if len == 0 {
                    // An empty preamble does not decode; say so now.
                    return self.field_read();
                }
                Ok(None)
            }
            Phase::Preamble { .. } => {
                let preamble = decode_preamble(&field)?;
                self.payload_read(preamble.payload_bytes());
                Ok(Some(Fed::Preamble(preamble)))
            }
            Phase::EnvelopeLen { .. } => {
                let len = u64::from_le_bytes(field[..8].try_into().expect("8 bytes"));
                if len > SNAPSHOT_ENVELOPE_BYTES_MAX {
                    return Err(StreamError::StateTooLarge {
                        len,
                        max: SNAPSHOT_ENVELOPE_BYTES_MAX,
                    });
                }
                let len = usize::try_from(len).expect("bounded above");
                self.phase = Phase::Envelope {
                    len,
                    expected: self.received + len as u64,
                };
                if len == 0 {
                    return self.field_read();
                }
                Ok(None)
            }
            Phase::Envelope { .. } => {
                self.phase = Phase::Over;
                Ok(Some(Fed::Envelope(field)))
            }
            Phase::Payload { .. } | Phase::Over => Ok(None),
        }
    }
}

/// Checks the 0.14 header, the magic and the version; returns the preamble's
/// length, bounded by [`PREAMBLE_BYTES_MAX`].
fn check_prefix(prefix: &[u8]) -> Result<usize, StreamError> {
    let len = LAYOUT.check(prefix).map_err(|e| match e {
        PrefixError::BadMagic => StreamError::BadMagic,
        PrefixError::UnsupportedVersion { found, expected } => {
            StreamError::UnsupportedVersion { found, expected }
        }
        PrefixError::TooLarge { len } => StreamError::PreambleTooLarge {
            len,
            max: PREAMBLE_BYTES_MAX,
        },
    })?;
    Ok(usize::try_from(len).expect("bounded by PREAMBLE_BYTES_MAX"))
}

/// Decodes a preamble body, which must be used up exactly.
fn decode_preamble(body: &[u8]) -> Result<Preamble, StreamError> {
    let (preamble, used): (Preamble, usize) =
        bincode::serde::decode_from_slice(body, crate::trace::format::bincode_decode_config())
            .map_err(StreamError::PreambleDecode)?;
    if used != body.len() {
        return Err(StreamError::PreambleDecode(
            bincode::error::DecodeError::OtherString(format!(
                "{} unexpected bytes after the preamble",
                body.len() - used
            )),
        ));
    }
    Ok(preamble)
}

/// Reads a whole stream from `reader` through a [`StreamFeeder`] (tests, tools
/// and descriptors the event loop cannot poll): what it read, in order, the
/// last item an error if the stream failed. `more` is asked after each item
/// whether to go on.
pub fn read_all(mut reader: impl Read, mut more: impl FnMut(Result<Fed, StreamError>) -> bool) {
    let mut feeder = StreamFeeder::new();
    let mut chunk = vec![0_u8; READ_CHUNK_BYTES];
    while !feeder.is_over() {
        let fed = match reader.read(&mut chunk) {
            Ok(0) => feeder.end().map(Err).into_iter().collect(),
            Ok(n) => feeder.feed(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                feeder.phase = Phase::Over;
                vec![Err(StreamError::Io(e))]
            }
        };
        for item in fed {
            if !more(item) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preamble() -> Preamble {
        Preamble {
            ram_bytes: 1000,
            blocks: vec![BlockSize {
                name: "ide0-hd0".into(),
                bytes: 24,
            }],
            sections: vec![Section {
                name: "i8042".into(),
                instance: 0,
            }],
        }
    }

    /// Everything a feeder gives for `bytes` fed in pieces of `piece` bytes,
    /// then the end of the stream.
    fn fed_in_pieces(bytes: &[u8], piece: usize) -> Vec<Result<Fed, String>> {
        let mut f = StreamFeeder::new();
        let mut out: Vec<Result<Fed, String>> = Vec::new();
        for chunk in bytes.chunks(piece) {
            out.extend(
                f.feed(chunk)
                    .into_iter()
                    .map(|r| r.map_err(|e| e.to_string())),
            );
        }
        out.extend(f.end().map(|e| Err(e.to_string())));
        out
    }

    /// What reading a whole stream gives: its preamble and envelope.
    type ReadResult = Result<(Preamble, Vec<u8>), StreamError>;

    /// Reads a whole stream: preamble, payload, envelope.
    fn read_all(bytes: &[u8]) -> ReadResult {
        let mut preamble = None;
        let mut result = None;
        super::read_all(bytes, |item| {
            match item {
                Ok(Fed::Preamble(p)) => preamble = Some(p),
                Ok(Fed::Envelope(e)) => result = Some(Ok(e)),
                Err(e) => result = Some(Err(e)),
            }
            true
        });
        let envelope = result.expect("a stream read to its end gives an envelope or an error")?;
        Ok((preamble.expect("the preamble comes first"), envelope))
    }

    #[test]
    fn any_piece_size_gives_what_the_whole_gives() {
        let mut damaged = encode(&preamble(), b"ENVELOPE");
        damaged[STREAM_PREFIX_BYTES + 40] = 9;
        let whole = encode(&preamble(), b"ENVELOPE");
        for bytes in [&whole[..], &damaged[..], &whole[..whole.len() - 3]] {
            let at_once = fed_in_pieces(bytes, bytes.len());
            for piece in [1, 2, 3, 7, 8, 24, 1000] {
                assert_eq!(fed_in_pieces(bytes, piece), at_once, "pieces of {piece}");
            }
        }
    }

    #[test]
    fn every_cut_of_a_stream_is_truncated_with_what_it_received() {
        let bytes = encode(&preamble(), b"ENVELOPE");
        for cut in 0..bytes.len() {
            let got = fed_in_pieces(&bytes[..cut], 5);
            let last = got.last().expect("an end is reported");
            assert!(
                matches!(last, Err(e) if e.starts_with(&format!("Migration stream ended after {cut} of "))),
                "cut at {cut}: {got:?}"
            );
        }
    }

    #[test]
    fn encoded_stream_reads_back() {
        let bytes = encode(&preamble(), b"ENVELOPE");
        assert_eq!(
            read_all(&bytes).unwrap(),
            (preamble(), b"ENVELOPE".to_vec())
        );
    }

    #[test]
    fn stream_starts_with_the_014_savevm_header() {
        assert_eq!(&encode(&preamble(), b"")[..8], b"QEVM\0\0\0\x03");
    }

    #[test]
    fn payload_counts_ram_and_blocks() {
        assert_eq!(preamble().payload_bytes(), 1024);
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut bytes = encode(&preamble(), b"E");
        bytes[9] = b'X';
        assert!(matches!(read_all(&bytes), Err(StreamError::BadMagic)));
    }

    #[test]
    fn other_version_is_refused() {
        let mut bytes = encode(&preamble(), b"E");
        bytes[16] = 7;
        assert!(matches!(
            read_all(&bytes),
            Err(StreamError::UnsupportedVersion { found: 7, .. })
        ));
    }

    /// A prefix announcing a preamble of `len` bytes.
    fn prefix_with_len(len: u32) -> Vec<u8> {
        let mut out = Vec::new();
        LAYOUT.write(&mut out, u64::from(len));
        out
    }

    #[test]
    fn preamble_past_limit_is_refused_before_reading() {
        let len = u32::try_from(PREAMBLE_BYTES_MAX + 1).unwrap();
        assert!(matches!(
            read_all(&prefix_with_len(len)),
            Err(StreamError::PreambleTooLarge { len, .. }) if len == PREAMBLE_BYTES_MAX as u64 + 1
        ));
    }

    #[test]
    fn preamble_at_limit_is_read_then_truncated() {
        let len = u32::try_from(PREAMBLE_BYTES_MAX).unwrap();
        assert!(matches!(
            read_all(&prefix_with_len(len)),
            Err(StreamError::Truncated { expected, .. })
                if expected == (STREAM_PREFIX_BYTES + PREAMBLE_BYTES_MAX) as u64
        ));
    }

    #[test]
    fn nonzero_payload_byte_is_damage_at_its_offset() {
        let mut bytes = encode(&preamble(), b"E");
        let at = bytes.len() - 9 - 100;
        bytes[at] = 1;
        assert!(matches!(
            read_all(&bytes),
            Err(StreamError::Damaged { offset }) if offset == at as u64
        ));
    }

    /// Reads the stream of `preamble()` and `envelope` cut `short_by` bytes
    /// before its end: the whole stream's length, where it was cut, and what
    /// reading gave.
    fn read_cut(envelope: &[u8], short_by: usize) -> (usize, usize, ReadResult) {
        let bytes = encode(&preamble(), envelope);
        let cut = bytes.len() - short_by;
        (bytes.len(), cut, read_all(&bytes[..cut]))
    }

    #[test]
    fn stream_cut_in_payload_is_truncated() {
        let (_, cut, read) = read_cut(b"E", 500);
        assert!(matches!(
            read,
            Err(StreamError::Truncated { received, .. }) if received == cut as u64
        ));
    }

    #[test]
    fn stream_cut_in_envelope_is_truncated() {
        let (len, cut, read) = read_cut(b"ENVELOPE", 1);
        assert!(matches!(
            read,
            Err(StreamError::Truncated { received, expected })
                if received == cut as u64 && expected == len as u64
        ));
    }

    /// A stream whose envelope length field says `len`.
    fn with_envelope_len(len: u64) -> Vec<u8> {
        let p = Preamble {
            ram_bytes: 0,
            blocks: vec![],
            sections: vec![],
        };
        let mut out = encode_prefix(&p);
        out.extend_from_slice(&len.to_le_bytes());
        out
    }

    #[test]
    fn envelope_past_limit_is_refused_before_reading() {
        assert!(matches!(
            read_all(&with_envelope_len(SNAPSHOT_ENVELOPE_BYTES_MAX + 1)),
            Err(StreamError::StateTooLarge { len, .. }) if len == SNAPSHOT_ENVELOPE_BYTES_MAX + 1
        ));
    }

    #[test]
    fn envelope_at_limit_is_read_then_truncated() {
        assert!(matches!(
            read_all(&with_envelope_len(SNAPSHOT_ENVELOPE_BYTES_MAX)),
            Err(StreamError::Truncated { .. })
        ));
    }
}
