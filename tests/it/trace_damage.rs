//! trace_damage: every way of damaging or cutting a trace that the format must
//! catch, and what each reports. In process, exhaustively over a small real
//! trace (every byte flipped three ways, a cut at every offset: never a panic,
//! never a pass, always the frame the damage is in); through the binary, one
//! trace per kind of damage with the exact message and exit status of
//! `qmpsim replay` and `qmpsim trace dump`.

use std::path::Path;

use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::qmp::session::ClientId;
use qmpsim::trace::{TraceError, TraceHeader, TraceReader, TraceWriter, FORMAT_VERSION};

use crate::support::qmpsim;

const CLIENT: ClientId = ClientId(1);

/// Bit patterns each byte is flipped with: the lowest bit (a length field's
/// `FULL_CHECK` flag), the highest (a varint's continuation bit), all of them.
const FLIPS: [u8; 3] = [0x01, 0x80, 0xff];

/// A small real trace with every kind of frame and check: two steps (short
/// checks), a checkpoint (full hash), a third step, and the End frame (full
/// hash).
fn small_trace() -> Vec<u8> {
    let config = MachineConfig::default();
    let mut engine = Engine::new(config.clone());
    let mut writer = TraceWriter::new(Vec::new(), &TraceHeader::new(config)).unwrap();
    let inputs = [
        Input::connect(CLIENT),
        Input::bytes(CLIENT, "{\"execute\":\"qmp_capabilities\"}\r\n"),
        Input::bytes(CLIENT, "{\"execute\":\"query-status\"}\r\n"),
    ];
    for (n, input) in inputs.iter().enumerate() {
        let outputs = engine.step(input.clone());
        writer.record(input, &outputs).unwrap();
        if n == 1 {
            writer.checkpoint(&engine.digest()).unwrap();
        }
    }
    writer.finish_with(&engine).unwrap()
}

/// Where the header ends and each frame ends, as the reader counts them.
fn frame_ends(bytes: &[u8]) -> Vec<usize> {
    let (mut reader, _) = TraceReader::open(bytes).unwrap();
    let mut ends = vec![reader.complete_bytes()];
    while reader.next_frame().unwrap().is_some() {
        ends.push(reader.complete_bytes());
    }
    ends.into_iter()
        .map(|e| usize::try_from(e).unwrap())
        .collect()
}

/// The part of the file a byte offset falls in: `None` for the preamble and
/// header, `Some(k)` for frame `k`.
fn frame_at(ends: &[usize], offset: usize) -> Option<u64> {
    if offset < ends[0] {
        return None;
    }
    let k = ends[1..].iter().position(|&end| offset < end)?;
    Some(u64::try_from(k).unwrap())
}

/// Reads every frame; the first error.
fn read_all(bytes: &[u8]) -> Result<(), TraceError> {
    let (reader, _) = TraceReader::open(bytes)?;
    for frame in reader {
        frame?;
    }
    Ok(())
}

/// The frame an error names, `None` for an error of the header.
fn named_frame(e: &TraceError) -> Result<Option<u64>, String> {
    match e {
        TraceError::ChainMismatch { frame }
        | TraceError::BadLengthField { frame, .. }
        | TraceError::FrameTooLarge { frame, .. }
        | TraceError::CheckTooShort { frame, .. }
        | TraceError::Decode { frame, .. }
        | TraceError::FrameSlack { frame, .. } => Ok(Some(*frame)),
        TraceError::Truncated { at_frame, .. } => Ok(Some(*at_frame)),
        TraceError::BadMagic { .. }
        | TraceError::UnsupportedVersion { .. }
        | TraceError::HeaderVersionMismatch { .. }
        | TraceError::TruncatedHeader { .. }
        | TraceError::HeaderTooLarge { .. }
        | TraceError::HeaderChecksumMismatch
        | TraceError::DecodeHeader { .. }
        | TraceError::HeaderSlack { .. }
        | TraceError::UnknownKind { .. } => Ok(None),
        other => Err(format!("an error that names no place: {other}")),
    }
}

/// What reading `bytes` gives when it should fail in `expected` (a frame, or
/// the header for `None`): `None` when it does, a description otherwise.
fn misreport(bytes: &[u8], expected: Option<u64>) -> Option<String> {
    match read_all(bytes) {
        Ok(()) => Some("read as a valid trace".to_owned()),
        Err(e) => match named_frame(&e) {
            Ok(named) if named == expected => None,
            Ok(named) => Some(format!("reported at {named:?}: {e}")),
            Err(text) => Some(text),
        },
    }
}

/// Every (offset, flip) whose damage is not reported at the frame it is in.
fn misreported_flips(bytes: &[u8]) -> Vec<String> {
    let ends = frame_ends(bytes);
    let mut out = Vec::new();
    for offset in 0..bytes.len() {
        for flip in FLIPS {
            let mut damaged = bytes.to_vec();
            damaged[offset] ^= flip;
            if let Some(what) = misreport(&damaged, frame_at(&ends, offset)) {
                out.push(format!("byte {offset} ^ {flip:#04x}: {what}"));
            }
        }
    }
    out
}

/// Every cut that is not reported as a cut at the frame it falls in.
fn misreported_cuts(bytes: &[u8]) -> Vec<String> {
    let ends = frame_ends(bytes);
    (0..bytes.len())
        .filter_map(|cut| {
            let expected = frame_at(&ends, cut);
            let err = match read_all(&bytes[..cut]) {
                Ok(()) => return Some(format!("cut at {cut}: read as a valid trace")),
                Err(e) => e,
            };
            let right_kind = match expected {
                None => {
                    matches!(err, TraceError::TruncatedHeader { offset } if offset == cut as u64)
                }
                Some(k) => matches!(
                    err,
                    TraceError::Truncated { at_frame, offset, .. }
                        if at_frame == k && offset == cut as u64
                ),
            };
            (!right_kind).then(|| format!("cut at {cut}: {err}"))
        })
        .collect()
}

#[test]
fn trace_damage_small_trace_has_every_kind_of_frame() {
    // Header, three steps, a checkpoint, the End frame.
    assert_eq!(frame_ends(&small_trace()).len(), 1 + 5);
}

#[test]
fn trace_damage_any_flipped_byte_is_reported_at_its_frame() {
    let misreported = misreported_flips(&small_trace());
    assert!(misreported.is_empty(), "{}", misreported.join("\n"));
}

#[test]
fn trace_damage_a_cut_at_any_offset_is_truncation_at_its_frame() {
    let misreported = misreported_cuts(&small_trace());
    assert!(misreported.is_empty(), "{}", misreported.join("\n"));
}

#[test]
fn trace_damage_whole_trace_reads() {
    assert!(read_all(&small_trace()).is_ok());
}

/// One damage done to [`small_trace`] through the binary.
struct Damage {
    /// What was done.
    what: &'static str,
    /// The damaged bytes.
    bytes: Vec<u8>,
    /// `qmpsim replay`'s exit status.
    replay_code: i32,
    /// The reason `qmpsim replay` gives after `FAIL PATH: `.
    replay_says: String,
}

/// The file with `bytes[at] ^= flip`.
fn flipped(bytes: &[u8], at: usize, flip: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= flip;
    out
}

/// One damage of each kind, with what replay must say about it.
fn damages() -> Vec<Damage> {
    let bytes = small_trace();
    let ends = frame_ends(&bytes);
    // Frame 1 starts at ends[1]; its length field takes two bytes (a body of
    // 32 bytes to 8 KiB), its check the 4 bytes before ends[2].
    let frame1 = ends[1];
    let len = bytes.len();
    vec![
        Damage {
            what: "a flipped byte in the payload of frame 1",
            bytes: flipped(&bytes, frame1 + 10, 0x01),
            replay_code: 1,
            replay_says: "invalid trace: chain hash mismatch at frame 1 (frame altered, \
                          dropped or reordered)"
                .to_owned(),
        },
        Damage {
            what: "a flipped check flag in the length field of frame 1",
            bytes: flipped(&bytes, frame1, 0x01),
            replay_code: 1,
            replay_says: "invalid trace: chain hash mismatch at frame 1 (frame altered, \
                          dropped or reordered)"
                .to_owned(),
        },
        Damage {
            what: "a continuation bit set on the last byte of frame 1's length field",
            bytes: flipped(&bytes, frame1 + 1, 0x80),
            replay_code: 1,
            replay_says: format!(
                "invalid trace: frame 1 has a damaged length field at byte offset {frame1} \
                 (not a varint of at most 4 bytes in its shortest form)"
            ),
        },
        Damage {
            what: "a flipped byte in the 4-byte check of frame 1",
            bytes: flipped(&bytes, ends[2] - 1, 0x01),
            replay_code: 1,
            replay_says: "invalid trace: chain hash mismatch at frame 1 (frame altered, \
                          dropped or reordered)"
                .to_owned(),
        },
        Damage {
            what: "a flipped byte in the full hash of the End frame",
            bytes: flipped(&bytes, len - 1, 0x01),
            replay_code: 1,
            replay_says: "invalid trace: chain hash mismatch at frame 4 (frame altered, \
                          dropped or reordered)"
                .to_owned(),
        },
        Damage {
            what: "a cut inside frame 1",
            bytes: bytes[..frame1 + 3].to_vec(),
            replay_code: 3,
            replay_says: format!(
                "truncated after frame 0 (1 step verified); the file ends at byte {}",
                frame1 + 3
            ),
        },
        Damage {
            what: "a wrong format version (the next one)",
            bytes: [
                &bytes[..8],
                &(FORMAT_VERSION + 1).to_le_bytes(),
                &bytes[12..],
            ]
            .concat(),
            replay_code: 1,
            replay_says: format!(
                "invalid trace: unsupported trace format version {} (this build reads \
                 version {FORMAT_VERSION})",
                FORMAT_VERSION + 1
            ),
        },
        Damage {
            what: "a wrong magic",
            bytes: [b"QMPTRACF", &bytes[8..]].concat(),
            replay_code: 1,
            replay_says: "invalid trace: not a qmpsim trace (it starts with \"QMPTRACF\", not \
                          \"QMPTRACE\")"
                .to_owned(),
        },
    ]
}

/// Writes `bytes` to `dir/damaged.qmptrace`; its path.
fn write(dir: &Path, bytes: &[u8]) -> String {
    let path = dir.join("damaged.qmptrace");
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// Every damage whose replay does not say what it must, with what it said.
fn replay_misreports(dir: &Path) -> Vec<String> {
    damages()
        .into_iter()
        .filter_map(|d| {
            let path = write(dir, &d.bytes);
            let (code, out, _) = qmpsim(&["replay", &path]);
            let line = format!("FAIL {path}: {}\n", d.replay_says);
            let right = code == Some(d.replay_code) && out.contains(&line);
            (!right).then(|| format!("{}: exit {code:?}\n{out}", d.what))
        })
        .collect()
}

#[test]
fn trace_damage_replay_names_the_frame_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let misreported = replay_misreports(dir.path());
    assert!(misreported.is_empty(), "{}", misreported.join("\n"));
}

#[test]
fn trace_damage_dump_prints_up_to_the_damaged_frame_then_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = small_trace();
    let frame1 = frame_ends(&bytes)[1];
    let path = write(dir.path(), &flipped(&bytes, frame1 + 10, 0x01));
    let (code, out, err) = qmpsim(&["trace", "dump", &path]);
    assert!(
        code == Some(1)
            && out.contains("# connect client 1 monitor 0")
            && !out.contains("qmp_capabilities")
            && err.contains("chain hash mismatch at frame 1"),
        "{out}\n{err}"
    );
}
