//! The `.qmptrace` file format: constants, the header, the frame kinds, the sha256
//! chain and the typed [`TraceError`]. Pure: no files, no clock; the writer and
//! reader work over any `std::io::Write`/`Read`.
//!
//! # Overview
//!
//! A trace is everything that entered one [`Engine`](crate::engine::Engine) and
//! everything that left it, in order: each [`Input`] together with the
//! [`Output`]s its `step` returned. Replaying a trace means building a fresh engine
//! from the header's configuration, feeding it the same inputs, and demanding the
//! same outputs byte for byte (see `crate::replay`).
//!
//! A file is a fixed preamble, a header, then a stream of frames, the last of which
//! is always [`Frame::End`]. Every fixed-width integer outside the bincode bodies
//! is little-endian. Bodies are encoded with bincode 2 (`bincode::serde`,
//! `bincode::config::standard()`: variable-length integers, enums as a varint
//! variant index followed by the fields in declaration order).
//!
//! ```text
//! preamble   magic "QMPTRACE" (8 bytes) | format version u32 | header length u32
//! header     bincode TraceHeader (header length bytes) | header hash (32 bytes)
//! frame 0    length field (1 to 4 bytes) | bincode Frame | check (4 or 32 bytes)
//! frame 1    ...
//! frame n    ... (an End frame)
//! <end of file>
//! ```
//!
//! # Frames: the length field and the check
//!
//! A frame's *length field* is an unsigned LEB128 varint (7 bits a byte, low
//! bits first, the top bit of a byte set when another byte follows), at most
//! [`FIELD_BYTES_MAX`] bytes and in its shortest form. Its value is the body's
//! length shifted left by two, with two flags in the low bits:
//! [`FULL_CHECK`] (bit 0) says that the check after the body is the whole
//! 32-byte chain hash rather than its first [`CHECK_BYTES`] bytes, and
//! [`PART_CONTINUES`] (bit 1) that the frame goes on in another part (below). A
//! `Step` body under 32 bytes takes a one-byte field, under 8 KiB two.
//!
//! The *check* is the frame's chain hash (next section), in full when
//! [`FULL_CHECK`] is set, otherwise its first [`CHECK_BYTES`] bytes. Writers set
//! it on `Checkpoint`, `State` and `End` frames and on no `Step` frame; the
//! reader refuses a `Checkpoint`, `State` or `End` frame without it
//! ([`TraceError::CheckTooShort`]). So nearly every frame costs the length
//! field and 4 bytes of check, and the full hash comes every
//! [`CHECKPOINT_EVERY_STEPS`] steps and at the end, where it vouches for
//! everything before it.
//!
//! # Split frames
//!
//! A frame body is written in one *part* when it fits in [`FRAME_BYTES_MAX`],
//! and split into several parts otherwise (a step whose output carries a 16 MiB
//! `pmemsave`). Each part is laid out as above: length field, bytes, check. Every
//! part but the last has [`PART_CONTINUES`] set and a short check; the last part
//! has the flag clear and the check the frame kind calls for. Each part's
//! length is at most [`FRAME_BYTES_MAX`]. The body is the parts' bytes in
//! order; it is decoded once complete. A frame has no size limit of its own
//! (every step records, whatever its size): the reader never allocates more than
//! [`FRAME_BYTES_MAX`] for one part before its bytes have arrived, so a frame in
//! memory grows only as its parts are actually read from the file.
//!
//! # Versioning
//!
//! [`FORMAT_VERSION`] is independent of the crate version and is checked strictly:
//! a reader accepts exactly its own version and reports
//! [`TraceError::UnsupportedVersion`] otherwise. Any change to the layout above, to
//! [`TraceHeader`], to [`Frame`], or to the serde shape of the types they contain
//! ([`MachineConfig`], [`Input`], [`Output`]) is a new format version. New frame
//! kinds are added at the end of [`Frame`] so older variant indexes stay put.
//!
//! # Integrity: the sha256 chain
//!
//! The *header hash* is `sha256(magic || version || header length || header body)`.
//! Each part's *chain hash* is `sha256(previous hash || length field || part
//! bytes)`, where the previous hash of the first part of frame 0 is the header
//! hash, and the length field is hashed as written (flags included). The chain
//! runs on the full hashes whatever the checks store. The reader recomputes
//! every hash and compares it with the check before it decodes a body, so an
//! altered byte anywhere (in a length field, a body or a check), a dropped
//! frame, a duplicated frame or two swapped frames all fail at the first frame
//! affected, with [`TraceError::HeaderChecksumMismatch`] or
//! [`TraceError::ChainMismatch`]. A 4-byte check lets damage through by chance
//! once in 2^32 frames, and then the next full hash (a checkpoint, at the latest
//! the `End` frame) still fails. The chain protects against accidents, not
//! adversaries: anyone can re-seal a modified trace.
//!
//! A length field that is not a varint of at most [`FIELD_BYTES_MAX`] bytes in
//! its shortest form is [`TraceError::BadLengthField`]. A trace that stops
//! before its [`Frame::End`] (a crashed recorder, a partial copy) is reported as
//! [`TraceError::Truncated`], never as a shorter valid trace; the error says how
//! many frames and steps were complete before the cut, so replay can verify them
//! and report `truncated after frame N`. (A length field damaged to claim more
//! bytes than the file holds reads as a cut inside that frame; the error names
//! the frame.) Bytes after the `End` frame are [`TraceError::TrailingBytes`].
//!
//! # Limits
//!
//! The header length is checked against [`HEADER_BYTES_MAX`] and every part length
//! against [`FRAME_BYTES_MAX`] *before* any of it is read or decoded, so a corrupt
//! length field cannot make the reader allocate more than the limit. The writer
//! splits bodies past [`FRAME_BYTES_MAX`], so it never writes a part the reader
//! would refuse. (`FRAME_BYTES_MAX` shifted by the two flag bits fits the 28
//! bits of a 4-byte varint.)
//!
//! # The header
//!
//! [`TraceHeader`]: the format version again (it must equal the preamble's), the
//! `qmpsim` version that recorded the trace (informational only), the trace's
//! [`TraceKind`], the complete [`MachineConfig`] (which holds the rng seed and
//! the event-timestamp epoch, and the results of any disk image probes, so replay
//! needs neither the command line nor the files it named), and free-form `notes`.
//!
//! # Trace kinds
//!
//! An *engine* trace ([`TraceKind::Engine`], variant 0) holds what entered and
//! left qmpsim's engine (`-record`, `trace import`) and replays against it.
//!
//! An *observed* trace ([`TraceKind::Observed`], variant 1) holds what
//! `qmpsim proxy` saw between QMP clients and a QMP server of any make; there is
//! no engine, so its `config` is the default one and nothing reads it. Its
//! [`ObservedSession`] names the upstream, holds the server's greeting byte for
//! byte, and the wall-clock start. Its frames use the same kinds with these
//! meanings: `Step { Connect, [] }` a client connected; `Step { AdvanceTo { at },
//! [] }` the wall-clock offset (nanoseconds after the start) of what follows;
//! `Step { Bytes, [] }` bytes from the client, cut after each complete message;
//! `Step { Fd, [] }` a descriptor it passed; `Step { AdvanceTo { at }, [Send] }`
//! one message (or the rest of a read) from the server, at that offset;
//! `Step { Disconnect, [] }` the client or the server hung up. No checkpoints;
//! the `End` digest is empty. `qmpsim serve` plays it back; replaying it is
//! refused with [`TraceError::WrongKind`]. A kind this build does not know is
//! [`TraceError::UnknownKind`].
//!
//! # Frame kinds
//!
//! ## `Step { input, outputs }` (variant 0)
//!
//! One call of `Engine::step`: the [`Input`] that was fed and every [`Output`] it
//! returned, in order. Replay feeds `input` and compares the outputs with `==`,
//! which for `Output::Send` means byte-exact data for the same client.
//!
//! ## `Checkpoint { digest }` (variant 1)
//!
//! The engine's state digest (`Engine::digest`, 64 lowercase hex digits) after the
//! step just before it. Recorders write one every [`CHECKPOINT_EVERY_STEPS`] steps,
//! so a replay that diverges only in hidden state is caught near where it went
//! wrong, not only at the end.
//!
//! ## `State { digest, snapshot }` (variant 3)
//!
//! A checkpoint that also carries the engine's whole state after the step just
//! before it: `snapshot` is its snapshot envelope (`crate::snapshot`, whose
//! checksum is `digest`). Recorders write one every
//! [`STATE_EVERY_STEPS_DEFAULT`] steps (configurable; a state too large for
//! [`FRAME_BYTES_MAX`] is left out), instead of that step's `Checkpoint`.
//! Replay checks `digest` like a checkpoint's; `qmpsim replay --from FRAME`
//! restores the last `State` at or before FRAME and replays only from there.
//!
//! ## `End { steps, digest }` (variant 2)
//!
//! The last frame, written when recording finishes: the number of `Step` frames
//! before it and the final state digest (it doubles as the final checkpoint). The
//! reader checks `steps` against the number of `Step` frames it read
//! ([`TraceError::StepCountMismatch`]).
//!
//! # A worked example
//!
//! A client connects to monitor 0, negotiates, and asks for the run state:
//!
//! ```
//! use qmpsim::engine::{Engine, Input};
//! use qmpsim::machine::config::MachineConfig;
//! use qmpsim::qmp::session::ClientId;
//! use qmpsim::trace::{Frame, TraceHeader, TraceReader, TraceWriter};
//!
//! let config = MachineConfig::default();
//! let mut engine = Engine::new(config.clone());
//! let mut writer = TraceWriter::new(Vec::new(), &TraceHeader::new(config)).unwrap();
//! let client = ClientId(1);
//! let inputs = [
//!     Input::Connect { client, monitor: 0 },
//!     Input::Bytes { client, data: br#"{"execute":"qmp_capabilities"}"#.to_vec() },
//!     Input::Bytes { client, data: br#"{"execute":"query-status"}"#.to_vec() },
//! ];
//! for input in &inputs {
//!     let outputs = engine.step(input.clone());
//!     writer.record(input, &outputs).unwrap();
//! }
//! let bytes = writer.finish(3, &engine.digest()).unwrap();
//! assert_eq!(&bytes[..8], b"QMPTRACE");
//!
//! let (mut reader, header) = TraceReader::open(&bytes[..]).unwrap();
//! assert_eq!(header.config, MachineConfig::default());
//! let mut kinds = Vec::new();
//! while let Some(frame) = reader.next_frame().unwrap() {
//!     kinds.push(match frame {
//!         Frame::Step { .. } => "step",
//!         Frame::Checkpoint { .. } => "checkpoint",
//!         Frame::End { .. } => "end",
//!         Frame::State { .. } => "state",
//!     });
//! }
//! assert_eq!(kinds, ["step", "step", "step", "end"]);
//! ```
//!
//! In bytes (this is `traces/runstate.qmptrace`, which records the same start):
//!
//! ```text
//! 51 4d 50 54 52 41 43 45   "QMPTRACE"
//! 0a 00 00 00               format version 10
//! 70 00 00 00               header length: 112 bytes
//! ... 112 bytes ...         bincode TraceHeader { format_version: 10, qmpsim_version: "0.1.0",
//!                           kind: Engine, config: MachineConfig::default(), notes: "..." }
//! ... 32 bytes ...          header hash
//! c8 03                     frame 0 length field: 456 = 114 << 2, no flags: a 114-byte body
//! 00                        Frame::Step
//! 00 01 00                  input: Input::Connect { client: 1, monitor: 0 }
//! 01                        outputs: one
//! 00 01 6a ...              Output::Send { client: 1, data: 106 bytes of greeting }
//! ... 4 bytes ...           check: the first 4 bytes of frame 0's chain hash
//! ...                       frames 1.., then the End frame
//! ```
//!
//! `qmpsim trace dump traces/runstate.qmptrace` renders it in the QMP docs'
//! notation, one line per message, each led by its virtual time (see
//! `crate::trace::dump`; `docs/trace-format.md` walks through a whole file):
//!
//! ```text
//! # qmpsim trace, format 10, recorded by qmpsim 0.1.0
//! # seed 0, epoch 1300000000
//! # notes: One client: negotiate, query-status, stop, cont, quit.
//! 0.001000 # connect client 1 monitor 0
//! 0.001000 <- {"QMP": {"version": {"qemu": {"micro": 0, "minor": 14, "major": 0}, "package": ""}, "capabilities": []}}
//! 0.002000 -> {"execute":"qmp_capabilities"}
//! 0.002000 <- {"return": {}}
//! ...
//! 0.007000 -> {"execute":"quit"}
//! 0.007000 <- {"return": {}}
//! 0.007000 <- {"timestamp": {"seconds": 1300000000, "microseconds": 7000}, "event": "SHUTDOWN"}
//! 0.007000 # exit 0
//! 0.007000 # end: 7 steps, digest 5939c294...
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Input, Output};
use crate::envelope::Prefix;
use crate::machine::config::MachineConfig;

/// The eight bytes every trace starts with.
pub const MAGIC: [u8; 8] = *b"QMPTRACE";
/// The one format version this build writes and reads.
///
/// 2: `State` frames; 3: split frames ([`PART_CONTINUES`]); 4: the trace
/// [`TraceKind`] in the header; 5: the configuration's `placement`
/// (`-x-explore-gap`); 6: the clock mode, scenario steps and `Output::Close`;
/// 7: compact frames (a varint length field with flags, a 4-byte check, the
/// full hash only on `Checkpoint`, `State` and `End`); 8: the configuration's
/// `chaos` (`-x-chaos`); 9: the configuration's `singlestep` (`-singlestep`);
/// 10: the configuration's `usb_devices` (`-usbdevice`), and the machine's USB
/// ports and host forwarding rules in `State` frames; 11: the configuration's
/// `vga` (`-vga`) and `no_hpet` (`-no-hpet`); 12: its `sound_cards`
/// (`-soundhw`).
pub const FORMAT_VERSION: u32 = 12;
/// Largest encoded header, in bytes.
pub const HEADER_BYTES_MAX: usize = 1024 * 1024;
/// Largest part of a frame body, in bytes: the most the reader allocates for
/// bytes that have not arrived yet. Bodies past it are split into parts.
pub const FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The length field's flag that says the check is the whole chain hash.
pub const FULL_CHECK: u32 = 1;
/// The length field's flag that says more parts of the same frame follow.
pub const PART_CONTINUES: u32 = 1 << 1;
/// Low bits of the length field's value that hold flags; the length is above them.
pub const FIELD_FLAG_BITS: u32 = 2;
/// Steps between two checkpoints written by [`TraceWriter::record_and_checkpoint`].
///
/// [`TraceWriter::record_and_checkpoint`]: super::TraceWriter::record_and_checkpoint
pub const CHECKPOINT_EVERY_STEPS: u64 = 64;
/// Steps between two [`Frame::State`] checkpoints by default (see
/// `docs/performance.md` for how it was chosen); `-x-state-every N` changes it
/// for a recording, 0 writes none.
pub const STATE_EVERY_STEPS_DEFAULT: u64 = 1024;
/// Bytes in the preamble: magic, version, header length.
pub const PREAMBLE_BYTES: usize = PREAMBLE_LAYOUT.bytes();
/// The preamble's layout (see [`crate::envelope`]): [`MAGIC`], [`FORMAT_VERSION`],
/// a `u32` header length bounded by [`HEADER_BYTES_MAX`].
pub(crate) const PREAMBLE_LAYOUT: Prefix = Prefix {
    magic: &MAGIC,
    version: FORMAT_VERSION,
    length_bytes: 4,
    body_max: HEADER_BYTES_MAX as u64,
};
/// Bytes in a sha256 hash.
pub const HASH_BYTES: usize = 32;
/// Most bytes in a frame's length field (a varint of up to 28 bits).
pub const FIELD_BYTES_MAX: usize = 4;
/// Bytes of the chain hash a frame's short check keeps.
pub const CHECK_BYTES: usize = 4;

/// A sha256 chain hash.
pub type ChainHash = [u8; HASH_BYTES];

/// What a trace records about the run before the first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Must equal [`FORMAT_VERSION`] (and the preamble's version).
    pub format_version: u32,
    /// The `qmpsim` crate version that recorded the trace; informational.
    pub qmpsim_version: String,
    /// Whose session the frames hold: qmpsim's engine, or a server a proxy
    /// watched.
    pub kind: TraceKind,
    /// The machine's configuration, seed and epoch included. An observed trace
    /// has no engine: this is `MachineConfig::default()`, kept only so every
    /// header has one shape, and no tool reads it.
    pub config: MachineConfig,
    /// Free-form text: what the trace is for, where it came from.
    pub notes: String,
}

impl TraceHeader {
    /// A header for `config` with this build's versions and no notes.
    pub fn new(config: MachineConfig) -> Self {
        TraceHeader {
            format_version: FORMAT_VERSION,
            qmpsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: TraceKind::Engine,
            config,
            notes: String::new(),
        }
    }

    /// A header for a session a proxy observed (see [`TraceKind::Observed`]).
    pub fn observed(session: ObservedSession) -> Self {
        TraceHeader {
            kind: TraceKind::Observed(session),
            ..TraceHeader::new(MachineConfig::default())
        }
    }

    /// The observed session's details, `None` for an engine trace.
    pub fn observed_session(&self) -> Option<&ObservedSession> {
        match &self.kind {
            TraceKind::Engine => None,
            TraceKind::Observed(session) => Some(session),
        }
    }

    /// Whether the frames came from qmpsim's engine (so they replay against it).
    pub fn is_engine(&self) -> bool {
        matches!(self.kind, TraceKind::Engine)
    }

    /// `Ok` for an engine trace; [`TraceError::WrongKind`] naming `what` (the
    /// operation that needs an engine) for an observed one.
    pub fn require_engine(&self, what: &'static str) -> Result<(), TraceError> {
        match self.kind {
            TraceKind::Engine => Ok(()),
            TraceKind::Observed(_) => Err(TraceError::WrongKind { what }),
        }
    }

    /// The same header with `notes` set.
    #[must_use]
    pub fn with_notes(mut self, notes: &str) -> Self {
        notes.clone_into(&mut self.notes);
        self
    }
}

/// Whose session a trace holds. Variant order is part of the format; a reader
/// that meets a variant it does not know reports [`TraceError::UnknownKind`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceKind {
    /// Every input qmpsim's engine took and every output it gave (`-record`,
    /// `trace import`): replayable against a fresh engine.
    Engine,
    /// What `qmpsim proxy` saw between QMP clients and any QMP server (a real
    /// QEMU included): played back to a client by `qmpsim serve`, never replayed.
    Observed(ObservedSession),
}

/// What an observed trace records about its server, before the first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSession {
    /// The upstream as given to the proxy (`unix:PATH`, `tcp:HOST:PORT`, or
    /// the command line of a spawned server).
    pub upstream: String,
    /// The server's greeting, byte for byte as it sent it (line end included).
    pub greeting: Vec<u8>,
    /// Wall-clock time at the start of the recording, in milliseconds since the
    /// Unix epoch. Frame times (`AdvanceTo`) are nanoseconds after it.
    pub started_unix_ms: u64,
}

/// One record after the header. Variant order is part of the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// One `Engine::step`: the input and every output, in order.
    Step {
        /// What was fed.
        input: Input,
        /// What came back.
        outputs: Vec<Output>,
    },
    /// The engine's state digest after the preceding step.
    Checkpoint {
        /// `Engine::digest`.
        digest: String,
    },
    /// The last frame.
    End {
        /// Number of `Step` frames in the trace.
        steps: u64,
        /// `Engine::digest` after the last step.
        digest: String,
    },
    /// A checkpoint that carries the whole state after the preceding step, so a
    /// replay can start there (`qmpsim replay --from`).
    State {
        /// `Engine::digest`.
        digest: String,
        /// The engine's snapshot envelope (`crate::snapshot`).
        snapshot: Vec<u8>,
    },
}

/// A borrowed [`Frame`] for encoding without cloning; serde gives it the same bytes.
#[derive(Debug, Serialize)]
pub(crate) enum FrameRef<'a> {
    Step {
        input: &'a Input,
        outputs: &'a [Output],
    },
    Checkpoint {
        digest: &'a str,
    },
    End {
        steps: u64,
        digest: &'a str,
    },
    State {
        digest: &'a str,
        snapshot: &'a [u8],
    },
}

/// Why a trace could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The first eight bytes are not [`MAGIC`].
    #[error(
        "not a qmpsim trace (it starts with \"{}\", not \"QMPTRACE\")",
        escape_bytes(found)
    )]
    BadMagic {
        /// What was there instead.
        found: [u8; 8],
    },
    /// The preamble's format version is not [`FORMAT_VERSION`].
    #[error("unsupported trace format version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The header's own `format_version` disagrees with the preamble.
    #[error("the trace header says format version {header} but the preamble says {preamble}")]
    HeaderVersionMismatch {
        /// The preamble's version.
        preamble: u32,
        /// The header's version.
        header: u32,
    },
    /// The file ends inside the preamble, the header or its hash.
    #[error("truncated in its header at byte offset {offset}")]
    TruncatedHeader {
        /// Bytes read before the end.
        offset: u64,
    },
    /// The file ends inside frame `at_frame`, or before the `End` frame.
    #[error("{}", truncated_text(*at_frame, *steps, *offset, *complete_bytes))]
    Truncated {
        /// Index of the frame that is incomplete or missing: frames before it are
        /// complete and were returned.
        at_frame: u64,
        /// `Step` frames among the complete frames.
        steps: u64,
        /// Bytes read before the end.
        offset: u64,
        /// Bytes up to the end of the last complete frame (or of the header).
        complete_bytes: u64,
    },
    /// The header length field exceeds [`HEADER_BYTES_MAX`].
    #[error("trace header of {len} bytes exceeds the limit of {max} bytes")]
    HeaderTooLarge {
        /// The length field.
        len: u64,
        /// [`HEADER_BYTES_MAX`].
        max: usize,
    },
    /// A part's length field exceeds [`FRAME_BYTES_MAX`].
    #[error("frame {frame} has a part of {len} bytes, past the limit of {max} bytes")]
    FrameTooLarge {
        /// Frame index.
        frame: u64,
        /// The part's length.
        len: u64,
        /// [`FRAME_BYTES_MAX`].
        max: usize,
    },
    /// A part's length field is not a varint of at most [`FIELD_BYTES_MAX`]
    /// bytes in its shortest form.
    #[error(
        "frame {frame} has a damaged length field at byte offset {offset} \
         (not a varint of at most 4 bytes in its shortest form)"
    )]
    BadLengthField {
        /// Frame index.
        frame: u64,
        /// Offset of the field's first byte.
        offset: u64,
    },
    /// A `Checkpoint`, `State` or `End` frame ends with a short check where
    /// the full chain hash belongs.
    #[error(
        "frame {frame}, a{} frame, ends with a 4-byte check where the full 32-byte hash belongs",
        kind_text(kind)
    )]
    CheckTooShort {
        /// Frame index.
        frame: u64,
        /// `Checkpoint`, `State` or `End`.
        kind: &'static str,
    },
    /// The stored header hash does not match the preamble and header.
    #[error("trace header checksum mismatch (header altered)")]
    HeaderChecksumMismatch,
    /// A frame's chain hash does not match: it or an earlier frame was altered,
    /// dropped or reordered.
    #[error("chain hash mismatch at frame {frame} (frame altered, dropped or reordered)")]
    ChainMismatch {
        /// Index of the first frame whose hash fails.
        frame: u64,
    },
    /// The header names a trace kind this build does not know (a newer qmpsim
    /// wrote it).
    #[error(
        "unknown trace kind {found} in the header (this build reads kinds 0, engine, and 1, observed)"
    )]
    UnknownKind {
        /// The kind's variant index.
        found: u32,
    },
    /// The trace is of a kind the operation cannot use (an observed trace has
    /// no engine to replay).
    #[error("{what} needs an engine trace, and this is an observed trace (recorded by qmpsim proxy; play it back with qmpsim serve)")]
    WrongKind {
        /// The operation, e.g. `replay`.
        what: &'static str,
    },
    /// The header's bytes are not a valid header.
    #[error("the trace header does not decode: {}", decode_text(error))]
    DecodeHeader {
        /// The bincode error (its own `Display` is Rust debug output, so it is
        /// rendered by `decode_text` rather than chained as a source).
        error: bincode::error::DecodeError,
    },
    /// A frame's bytes are not a valid frame.
    #[error("frame {frame} does not decode: {}", decode_text(error))]
    Decode {
        /// Frame index.
        frame: u64,
        /// The bincode error.
        error: bincode::error::DecodeError,
    },
    /// The header decoded without using all its bytes.
    #[error("the trace header has {} after its body", count(*unused as u64, "unused byte", "unused bytes"))]
    HeaderSlack {
        /// Bytes left over.
        unused: usize,
    },
    /// A frame body decoded without using all its bytes.
    #[error("frame {frame} has {} after its body", count(*unused as u64, "unused byte", "unused bytes"))]
    FrameSlack {
        /// Frame index.
        frame: u64,
        /// Bytes left over.
        unused: usize,
    },
    /// The header could not be encoded.
    #[error("the trace header does not encode")]
    EncodeHeader {
        /// The bincode error.
        error: bincode::error::EncodeError,
    },
    /// A frame could not be encoded.
    #[error("frame {frame} does not encode")]
    Encode {
        /// Frame index.
        frame: u64,
        /// The bincode error.
        error: bincode::error::EncodeError,
    },
    /// The `End` frame's step count disagrees with the `Step` frames read or written.
    #[error("the End frame says {} but the trace has {counted}", count(*recorded, "step", "steps"))]
    StepCountMismatch {
        /// The count in the `End` frame.
        recorded: u64,
        /// The number of `Step` frames.
        counted: u64,
    },
    /// Data follows the `End` frame.
    #[error("unexpected bytes after the End frame at byte offset {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: u64,
    },
    /// `next_frame` was called again after it returned an error.
    #[error("the trace reader already failed")]
    ReaderFailed,
    /// The underlying reader or writer failed.
    #[error("{}", os_text(.0))]
    Io(std::io::Error),
}

/// The C library's text for an I/O error, without Rust's ` (os error N)`.
pub fn os_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// `1 step`, `2 steps`: a count with the noun that agrees with it.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What [`TraceError::Truncated`] says: where the cut is and what was complete.
fn truncated_text(at_frame: u64, steps: u64, offset: u64, complete_bytes: u64) -> String {
    let before = match at_frame {
        0 => "truncated before its first frame".to_owned(),
        n => format!(
            "truncated after frame {} ({} complete)",
            n - 1,
            count(steps, "step", "steps")
        ),
    };
    let partial = offset.saturating_sub(complete_bytes);
    let rest = match partial {
        0 => format!("the file ends at byte {offset}, where frame {at_frame} should start"),
        _ => format!(
            "the file ends at byte {offset}, {} into frame {at_frame}",
            count(partial, "byte", "bytes")
        ),
    };
    format!("{before}: {rest}")
}

/// ` Checkpoint`, `n End`: a frame kind after its article.
fn kind_text(kind: &str) -> String {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
        format!("n {kind}")
    } else {
        format!(" {kind}")
    }
}

/// Bytes as text, with anything but printable ASCII escaped (`\x00`).
fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

/// A bincode decode error in words (its `Display` is its `Debug`).
fn decode_text(e: &bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::UnexpectedEnd { additional } => {
            format!(
                "it ends {} early",
                count(*additional as u64, "byte", "bytes")
            )
        }
        E::UnexpectedVariant {
            found, type_name, ..
        } => {
            format!(
                "unknown variant index {found} for {}",
                short_type(type_name)
            )
        }
        E::Utf8 { .. } => "a string is not valid UTF-8".to_owned(),
        E::InvalidCharEncoding(_) => "a character is not valid UTF-8".to_owned(),
        E::InvalidBooleanValue(v) => format!("invalid boolean value {v}"),
        E::OutsideUsizeRange(v) => format!("the length {v} is too large for this machine"),
        E::OtherString(s) => s.clone(),
        E::Other(s) => (*s).to_owned(),
        _ => "the encoding is invalid".to_owned(),
    }
}

/// `qmpsim::engine::Input` -> `Input`.
fn short_type(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// The bincode configuration of every body: `standard()`. No decode-time limit
/// is set: bodies are already bounded by length before decoding, bincode never
/// reads past the slice, and serde's `Vec` preallocation is capped, so decoding
/// cannot allocate much more than the body holds. (bincode's own limit counts
/// every integer at its full in-memory width, which would refuse legitimate frames
/// near [`FRAME_BYTES_MAX`].)
pub(crate) fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The most bytes that decoding one body may claim for its strings and vectors,
/// as bincode counts them (each element at its in-memory width, and each length
/// prefix it reads at 8 bytes).
///
/// bincode allocates a string or a byte vector at the length it reads, before it
/// reads the bytes, so a body that claims an absurd length would abort the
/// process instead of failing. Bodies are bounded first (a frame part by
/// [`FRAME_BYTES_MAX`], a snapshot by `SNAPSHOT_BYTES_MAX`), and their in-memory
/// size is a few times that at most, so this bound refuses only damaged or
/// crafted bodies.
pub const DECODE_CLAIM_BYTES_MAX: usize = 1 << 30;

/// [`bincode_config`] with [`DECODE_CLAIM_BYTES_MAX`]: the configuration every
/// decode of untrusted bytes (trace, snapshot, migration stream) uses.
pub(crate) fn bincode_decode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_CLAIM_BYTES_MAX>()
}

/// The preamble for a header body of `header_len` bytes.
pub(crate) fn preamble(version: u32, header_len: u32) -> [u8; PREAMBLE_BYTES] {
    let mut p = Vec::with_capacity(PREAMBLE_BYTES);
    Prefix {
        version,
        ..PREAMBLE_LAYOUT
    }
    .write(&mut p, u64::from(header_len));
    p.try_into().expect("a preamble is PREAMBLE_BYTES long")
}

/// `sha256(preamble || header body)`: the hash stored after the header and the
/// chain's starting point.
pub(crate) fn header_hash(preamble: &[u8; PREAMBLE_BYTES], header: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(preamble);
    h.update(header);
    h.finalize().into()
}

/// A length field as written: `value` as an unsigned LEB128 varint, and how
/// many of the bytes it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    bytes: [u8; FIELD_BYTES_MAX],
    len: usize,
}

impl Field {
    /// The field of a part of `part_len` bytes with the given flags.
    pub(crate) fn new(part_len: usize, continues: bool, full_check: bool) -> Field {
        assert!(
            part_len <= FRAME_BYTES_MAX,
            "the writer splits bodies into parts of at most FRAME_BYTES_MAX"
        );
        let len = u32::try_from(part_len).expect("FRAME_BYTES_MAX fits in u32");
        let mut value = len << FIELD_FLAG_BITS;
        if continues {
            value |= PART_CONTINUES;
        }
        if full_check {
            value |= FULL_CHECK;
        }
        Field::encode(value)
    }

    /// `value` (below 2^28) as a varint.
    pub(crate) fn encode(mut value: u32) -> Field {
        assert!(value < 1 << 28, "a length field fits in 4 varint bytes");
        let mut field = Field {
            bytes: [0; FIELD_BYTES_MAX],
            len: 0,
        };
        loop {
            let low = u8::try_from(value & 0x7f).expect("masked to 7 bits");
            value >>= 7;
            if value == 0 {
                field.bytes[field.len] = low;
                field.len += 1;
                return field;
            }
            field.bytes[field.len] = low | 0x80;
            field.len += 1;
        }
    }

    /// The bytes as written.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Decodes a length field fed one byte at a time ([`push`](Self::push)),
/// keeping the bytes as read for the chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FieldDecoder {
    value: u32,
    bytes: [u8; FIELD_BYTES_MAX],
    len: usize,
}

/// What one more byte of a length field gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldByte {
    /// The field goes on.
    More,
    /// The field is complete: its value.
    Done(u32),
    /// The field is not a varint of at most [`FIELD_BYTES_MAX`] bytes in its
    /// shortest form.
    Malformed,
}

impl FieldDecoder {
    /// Takes the next byte of the field.
    pub(crate) fn push(&mut self, byte: u8) -> FieldByte {
        self.bytes[self.len] = byte;
        self.value |= u32::from(byte & 0x7f) << (7 * self.len);
        self.len += 1;
        if byte & 0x80 == 0 {
            // A last byte of 0 after others is a longer form of a shorter field.
            if self.len > 1 && byte == 0 {
                return FieldByte::Malformed;
            }
            return FieldByte::Done(self.value);
        }
        if self.len == FIELD_BYTES_MAX {
            return FieldByte::Malformed;
        }
        FieldByte::More
    }

    /// The bytes taken so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The part that starts at `at` in `bytes`, for tests that walk a trace's
/// layout.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartAt {
    /// The length field's value (length and flags).
    pub value: u32,
    /// Bytes of the length field.
    pub field_len: usize,
    /// Bytes of the part.
    pub part_len: usize,
    /// Bytes of the check.
    pub check_len: usize,
}

#[cfg(test)]
impl PartAt {
    /// Reads the length field at `at`.
    pub(crate) fn read(bytes: &[u8], at: usize) -> PartAt {
        let mut decoder = FieldDecoder::default();
        let mut i = at;
        let value = loop {
            match decoder.push(bytes[i]) {
                FieldByte::More => i += 1,
                FieldByte::Done(value) => break value,
                FieldByte::Malformed => panic!("a malformed field at {at}"),
            }
        };
        PartAt {
            value,
            field_len: i + 1 - at,
            part_len: (value >> FIELD_FLAG_BITS) as usize,
            check_len: if value & FULL_CHECK != 0 {
                HASH_BYTES
            } else {
                CHECK_BYTES
            },
        }
    }

    /// Bytes from the field's start to the check's end.
    pub(crate) fn total(&self) -> usize {
        self.field_len + self.part_len + self.check_len
    }
}

/// `sha256(previous || length field || part)`, with the length field as written.
pub(crate) fn part_hash(previous: &ChainHash, field: &[u8], part: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(field);
    h.update(part);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_agrees_with_the_number() {
        assert_eq!(
            [0, 1, 2].map(|n| count(n, "step", "steps")),
            ["0 steps", "1 step", "2 steps"]
        );
    }

    /// A body holding only a string length: bincode's varint for a u64 (251 means
    /// a u64 follows, little-endian), and no string bytes.
    fn string_claim(len: u64) -> Vec<u8> {
        let mut body = vec![253];
        body.extend_from_slice(&len.to_le_bytes());
        body
    }

    #[test]
    fn decode_claim_past_limit_is_refused_before_allocating() {
        let body = string_claim(DECODE_CLAIM_BYTES_MAX as u64 - 7);
        let r: Result<(String, usize), _> =
            bincode::serde::decode_from_slice(&body, bincode_decode_config());
        assert!(matches!(r, Err(bincode::error::DecodeError::LimitExceeded)));
    }

    #[test]
    fn decode_claim_at_limit_fails_only_for_want_of_bytes() {
        // bincode also counts the 8-byte length it has just read against the limit.
        let body = string_claim(DECODE_CLAIM_BYTES_MAX as u64 - 8);
        let r: Result<(String, usize), _> =
            bincode::serde::decode_from_slice(&body, bincode_decode_config());
        assert!(matches!(
            r,
            Err(bincode::error::DecodeError::UnexpectedEnd { .. })
        ));
    }
    use crate::qmp::session::ClientId;

    #[test]
    fn frame_ref_encodes_like_frame() {
        let input = Input::Connect {
            client: ClientId(1),
            monitor: 0,
        };
        let outputs = vec![Output::Exit { code: 3 }];
        let owned = Frame::Step {
            input: input.clone(),
            outputs: outputs.clone(),
        };
        let borrowed = FrameRef::Step {
            input: &input,
            outputs: &outputs,
        };
        assert_eq!(
            bincode::serde::encode_to_vec(&owned, bincode_config()).unwrap(),
            bincode::serde::encode_to_vec(&borrowed, bincode_config()).unwrap()
        );
    }

    #[test]
    fn frame_ref_end_encodes_like_frame_end() {
        let owned = Frame::End {
            steps: 7,
            digest: "ab".to_owned(),
        };
        let borrowed = FrameRef::End {
            steps: 7,
            digest: "ab",
        };
        assert_eq!(
            bincode::serde::encode_to_vec(&owned, bincode_config()).unwrap(),
            bincode::serde::encode_to_vec(&borrowed, bincode_config()).unwrap()
        );
    }

    #[test]
    fn chain_hash_depends_on_previous_hash() {
        assert_ne!(
            part_hash(&[0; HASH_BYTES], &[16], b"body"),
            part_hash(&[1; HASH_BYTES], &[16], b"body")
        );
    }

    /// Feeds `bytes` to a decoder until it stops asking for more.
    fn decode_field(bytes: &[u8]) -> FieldByte {
        let mut decoder = FieldDecoder::default();
        for &b in bytes {
            match decoder.push(b) {
                FieldByte::More => {}
                done => return done,
            }
        }
        FieldByte::More
    }

    #[test]
    fn field_of_a_small_step_is_one_byte() {
        assert_eq!(Field::new(31, false, false).as_bytes(), [31 << 2]);
    }

    #[test]
    fn field_past_one_byte_takes_two() {
        assert_eq!(Field::new(32, false, true).as_bytes(), [0x81, 0x01]);
    }

    #[test]
    fn field_at_part_limit_takes_four_bytes_and_round_trips() {
        let field = Field::new(FRAME_BYTES_MAX, true, true);
        assert_eq!(
            (field.as_bytes().len(), decode_field(field.as_bytes())),
            (
                FIELD_BYTES_MAX,
                FieldByte::Done(
                    (u32::try_from(FRAME_BYTES_MAX).unwrap() << FIELD_FLAG_BITS)
                        | PART_CONTINUES
                        | FULL_CHECK
                )
            )
        );
    }

    #[test]
    fn field_of_five_bytes_is_malformed() {
        assert_eq!(
            decode_field(&[0x80, 0x80, 0x80, 0x80]),
            FieldByte::Malformed
        );
    }

    #[test]
    fn field_in_a_longer_form_than_needed_is_malformed() {
        assert_eq!(decode_field(&[0x84, 0x00]), FieldByte::Malformed);
    }

    #[test]
    fn field_of_zero_is_one_zero_byte() {
        assert_eq!(decode_field(&[0]), FieldByte::Done(0));
    }

    #[test]
    fn preamble_starts_with_magic_and_version() {
        assert_eq!(preamble(1, 2), *b"QMPTRACE\x01\x00\x00\x00\x02\x00\x00\x00");
    }

    #[test]
    fn observed_header_refuses_what_needs_an_engine() {
        let h = TraceHeader::observed(ObservedSession {
            upstream: "tcp:localhost:4444".to_owned(),
            greeting: Vec::new(),
            started_unix_ms: 0,
        });
        assert_eq!(
            h.require_engine("replay").unwrap_err().to_string(),
            "replay needs an engine trace, and this is an observed trace (recorded by qmpsim proxy; play it back with qmpsim serve)"
        );
    }

    #[test]
    fn engine_header_passes_the_engine_check() {
        assert!(TraceHeader::new(MachineConfig::default())
            .require_engine("replay")
            .is_ok());
    }

    #[test]
    fn header_new_records_crate_version() {
        let h = TraceHeader::new(MachineConfig::default());
        assert_eq!(h.qmpsim_version, env!("CARGO_PKG_VERSION"));
    }
}
