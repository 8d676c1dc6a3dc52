//! The snapshot envelope: an [`EngineState`] as bytes that can be stored, shipped
//! to another process and restored, with integrity and version checks.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! magic "QMPSNAP\0" (8) | format version u32 | body length u64 | body | sha256(body) (32)
//! ```
//!
//! The body is the bincode 2 encoding (`bincode::serde`, `config::standard()`) of
//! [`EngineState`]; its sha256 is also what `Engine::digest` reports, so a
//! snapshot's checksum *is* the state digest.
//!
//! Why each part is there (the firecracker snapshot rationale):
//! - **Magic** tells a snapshot from any other file before anything is trusted.
//! - **Format version**, independent of the crate version, because bincode is not
//!   self-describing: a state type that gained a field decodes old bytes wrongly
//!   rather than failing. The check is strict ([`SNAPSHOT_FORMAT_VERSION`] only);
//!   bump it whenever the serde shape of `EngineState` changes.
//! - **Body length** is checked against [`SNAPSHOT_BYTES_MAX`] and against the
//!   bytes actually present *before* decoding, so a corrupt length cannot cause
//!   a huge allocation.
//! - **sha256** catches a damaged body before it is decoded.
//! - After decoding, the state is re-encoded and must equal the body byte for
//!   byte: a sanity check that the body is the canonical encoding of a state this
//!   build understands (no silently ignored bytes, no lossy fields). The same
//!   check runs on save (pair assertion).
//!
//! Pure: works on byte slices; no files.

use crate::engine::{Engine, EngineState};
use crate::envelope::{OpenError, Prefix, PrefixError, ENVELOPE_HASH_BYTES};

/// The eight bytes every snapshot starts with.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"QMPSNAP\0";
/// The one snapshot format version this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Largest snapshot body, in bytes.
pub const SNAPSHOT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Bytes before the body: magic, version, body length.
pub const SNAPSHOT_PREFIX_BYTES: usize = LAYOUT.bytes();
/// Bytes of the trailing sha256.
pub const SNAPSHOT_HASH_BYTES: usize = ENVELOPE_HASH_BYTES;

/// The envelope's layout (see [`crate::envelope`]).
const LAYOUT: Prefix = Prefix {
    magic: &SNAPSHOT_MAGIC,
    version: SNAPSHOT_FORMAT_VERSION,
    length_bytes: 8,
    body_max: SNAPSHOT_BYTES_MAX as u64,
};

/// Why a snapshot could not be made or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The first eight bytes are not [`SNAPSHOT_MAGIC`].
    #[error("Not a qmpsim snapshot (bad magic)")]
    BadMagic,
    /// The version is not [`SNAPSHOT_FORMAT_VERSION`].
    #[error("Unsupported snapshot format version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// The snapshot's version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The body length exceeds [`SNAPSHOT_BYTES_MAX`].
    #[error("Snapshot body of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The body length.
        len: u64,
        /// [`SNAPSHOT_BYTES_MAX`].
        max: usize,
    },
    /// Fewer bytes than the envelope says.
    #[error("Snapshot truncated: {needed} bytes needed, {available} present")]
    Truncated {
        /// Bytes the envelope requires.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// More bytes than the envelope says.
    #[error("Snapshot has {extra} unexpected bytes after its checksum")]
    TrailingBytes {
        /// Extra bytes.
        extra: u64,
    },
    /// The body's sha256 does not match.
    #[error("Snapshot checksum mismatch (body damaged)")]
    ChecksumMismatch,
    /// The body is not a valid state.
    #[error("Snapshot body does not decode")]
    Decode(#[source] bincode::error::DecodeError),
    /// The state could not be encoded.
    #[error("Engine state does not encode")]
    Encode(#[source] bincode::error::EncodeError),
    /// The body decoded, but re-encoding the state does not give the body back.
    #[error("Snapshot body is not the canonical encoding of its state")]
    NotCanonical,
}

/// The bincode configuration of the body. No decode-time limit: the body is
/// bounded by length first, bincode never reads past it, and serde caps `Vec`
/// preallocation (see `crate::trace::format` for why bincode's own limit does not
/// fit).
fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The envelope around `state`.
pub fn save_state(state: &EngineState) -> Result<Vec<u8>, SnapshotError> {
    let body = bincode::serde::encode_to_vec(state, config()).map_err(SnapshotError::Encode)?;
    let out = seal(&body)?;
    debug_assert!(
        restore_state(&out).is_ok_and(|back| &back == state),
        "a saved snapshot restores to the state it was made from"
    );
    Ok(out)
}

/// The envelope around an encoded body; a body past [`SNAPSHOT_BYTES_MAX`] is
/// refused, as [`restore_state`] would refuse it.
fn seal(body: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    if body.len() > SNAPSHOT_BYTES_MAX {
        return Err(SnapshotError::TooLarge {
            len: body.len() as u64,
            max: SNAPSHOT_BYTES_MAX,
        });
    }
    Ok(LAYOUT.seal(body))
}

/// The envelope around `engine`'s state.
pub fn save(engine: &Engine) -> Result<Vec<u8>, SnapshotError> {
    save_state(engine.state())
}

/// Checks the envelope and decodes the state.
pub fn restore_state(bytes: &[u8]) -> Result<EngineState, SnapshotError> {
    let body = open_envelope(bytes)?;
    let (state, used): (EngineState, usize) =
        bincode::serde::decode_from_slice(body, crate::trace::format::bincode_decode_config())
            .map_err(SnapshotError::Decode)?;
    if used != body.len() {
        return Err(SnapshotError::NotCanonical);
    }
    let again = bincode::serde::encode_to_vec(&state, config()).map_err(SnapshotError::Encode)?;
    if again != body {
        return Err(SnapshotError::NotCanonical);
    }
    Ok(state)
}

/// An engine restored from a snapshot.
pub fn restore(bytes: &[u8]) -> Result<Engine, SnapshotError> {
    restore_state(bytes).map(Engine::from_state)
}

/// Checks magic, version, length and checksum; returns the body.
fn open_envelope(bytes: &[u8]) -> Result<&[u8], SnapshotError> {
    LAYOUT.open(bytes).map_err(|e| match e {
        OpenError::Short { available } => SnapshotError::Truncated {
            needed: SNAPSHOT_PREFIX_BYTES as u64,
            available,
        },
        OpenError::Prefix(PrefixError::BadMagic) => SnapshotError::BadMagic,
        OpenError::Prefix(PrefixError::UnsupportedVersion { found, expected }) => {
            SnapshotError::UnsupportedVersion { found, expected }
        }
        OpenError::Prefix(PrefixError::TooLarge { len }) => SnapshotError::TooLarge {
            len,
            max: SNAPSHOT_BYTES_MAX,
        },
        OpenError::WrongLength { needed, available } if available < needed => {
            SnapshotError::Truncated { needed, available }
        }
        OpenError::WrongLength { needed, available } => SnapshotError::TrailingBytes {
            extra: available - needed,
        },
        OpenError::ChecksumMismatch => SnapshotError::ChecksumMismatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Input;
    use crate::machine::config::MachineConfig;
    use crate::qmp::session::ClientId;

    /// An engine with a negotiated client and a stopped VM: non-trivial state.
    fn engine() -> Engine {
        let client = ClientId(1);
        let mut e = Engine::new(MachineConfig {
            seed: 42,
            ..MachineConfig::default()
        });
        e.step(Input::connect(client));
        e.step(Input::bytes(
            client,
            br#"{"execute":"qmp_capabilities"}{"execute":"stop"}"#,
        ));
        e
    }

    fn prefix_with_len(len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        LAYOUT.write(&mut out, len);
        out
    }

    #[test]
    fn save_restore_save_gives_equal_bytes() {
        let first = save(&engine()).unwrap();
        let second = save(&restore(&first).unwrap()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn restore_gives_equal_engine() {
        let e = engine();
        assert_eq!(restore(&save(&e).unwrap()).unwrap(), e);
    }

    #[test]
    fn checksum_equals_engine_digest() {
        let e = engine();
        let bytes = save(&e).unwrap();
        let hash: String = bytes[bytes.len() - SNAPSHOT_HASH_BYTES..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, e.digest());
    }

    #[test]
    fn different_state_gives_different_bytes() {
        let a = save(&engine()).unwrap();
        let b = save(&Engine::new(MachineConfig::default())).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn restore_with_a_mutated_body_or_checksum_byte_fails_checksum() {
        let saved = save(&engine()).unwrap();
        for (at, bits) in [(SNAPSHOT_PREFIX_BYTES + 3, 0x10), (saved.len() - 1, 0x01)] {
            let mut bytes = saved.clone();
            bytes[at] ^= bits;
            assert!(
                matches!(restore(&bytes), Err(SnapshotError::ChecksumMismatch)),
                "byte {at}"
            );
        }
    }

    #[test]
    fn restore_with_bad_magic_fails() {
        let mut bytes = save(&engine()).unwrap();
        bytes[0] = b'X';
        assert!(matches!(restore(&bytes), Err(SnapshotError::BadMagic)));
    }

    #[test]
    fn restore_with_other_version_fails() {
        let mut bytes = save(&engine()).unwrap();
        bytes[8] = 9;
        assert!(matches!(
            restore(&bytes),
            Err(SnapshotError::UnsupportedVersion {
                found: 9,
                expected: SNAPSHOT_FORMAT_VERSION
            })
        ));
    }

    #[test]
    fn restore_truncated_in_body_fails() {
        let bytes = save(&engine()).unwrap();
        let cut = bytes.len() - 1;
        assert!(matches!(
            restore(&bytes[..cut]),
            Err(SnapshotError::Truncated { needed, available })
                if needed == bytes.len() as u64 && available == cut as u64
        ));
    }

    #[test]
    fn restore_truncated_in_prefix_fails() {
        let bytes = save(&engine()).unwrap();
        assert!(matches!(
            restore(&bytes[..5]),
            Err(SnapshotError::Truncated {
                needed: 20,
                available: 5
            })
        ));
    }

    #[test]
    fn restore_with_trailing_byte_fails() {
        let mut bytes = save(&engine()).unwrap();
        bytes.push(0);
        assert!(matches!(
            restore(&bytes),
            Err(SnapshotError::TrailingBytes { extra: 1 })
        ));
    }

    #[test]
    fn restore_with_length_past_limit_fails_before_reading() {
        let bytes = prefix_with_len(SNAPSHOT_BYTES_MAX as u64 + 1);
        assert!(matches!(
            restore(&bytes),
            Err(SnapshotError::TooLarge { len, .. }) if len == SNAPSHOT_BYTES_MAX as u64 + 1
        ));
    }

    #[test]
    fn seal_with_body_at_limit_is_accepted() {
        let body = vec![0_u8; SNAPSHOT_BYTES_MAX];
        assert_eq!(
            seal(&body).ok().map(|out| out.len()),
            Some(SNAPSHOT_PREFIX_BYTES + SNAPSHOT_BYTES_MAX + SNAPSHOT_HASH_BYTES)
        );
    }

    #[test]
    fn seal_with_body_past_limit_is_too_large() {
        let body = vec![0_u8; SNAPSHOT_BYTES_MAX + 1];
        assert!(matches!(
            seal(&body),
            Err(SnapshotError::TooLarge { len, max: SNAPSHOT_BYTES_MAX })
                if len == SNAPSHOT_BYTES_MAX as u64 + 1
        ));
    }

    #[test]
    fn open_envelope_with_body_at_limit_gives_the_body() {
        let bytes = LAYOUT.seal(&vec![7_u8; SNAPSHOT_BYTES_MAX]);
        assert_eq!(
            open_envelope(&bytes).ok().map(<[u8]>::len),
            Some(SNAPSHOT_BYTES_MAX)
        );
    }

    #[test]
    fn restore_with_length_at_limit_is_accepted_then_truncated() {
        // At the limit the length passes the size check; the missing body is
        // then reported as truncation.
        let bytes = prefix_with_len(SNAPSHOT_BYTES_MAX as u64);
        assert!(matches!(
            restore(&bytes),
            Err(SnapshotError::Truncated { .. })
        ));
    }

    #[test]
    fn restore_with_sealed_garbage_fails_decode() {
        assert!(matches!(
            restore(&LAYOUT.seal(&[0xff; 4])),
            Err(SnapshotError::Decode(_))
        ));
    }

    #[test]
    fn restore_with_sealed_extra_body_byte_fails_sanity_check() {
        let mut body = engine().encode_state();
        body.push(0);
        assert!(matches!(
            restore(&LAYOUT.seal(&body)),
            Err(SnapshotError::NotCanonical)
        ));
    }

    #[test]
    fn restore_with_sealed_non_canonical_integer_fails_sanity_check() {
        // The body ends with `exited: None` (tag byte 0). Replace it with
        // `Some(0)` where 0 is written as the three-byte varint `251 0 0`:
        // bincode decodes that, but re-encodes 0 as the single byte 0.
        let body = engine().encode_state();
        let mut padded = body[..body.len() - 1].to_vec();
        padded.extend_from_slice(&[1, 251, 0, 0]);
        assert!(matches!(
            restore(&LAYOUT.seal(&padded)),
            Err(SnapshotError::NotCanonical)
        ));
    }
}

/// For each state type: "save, restore, save gives equal bytes" and "a mutation
/// gives different bytes" (crosvm's snapshot tests). `$value` builds a value,
/// `$mutate` changes it in place.
#[cfg(test)]
macro_rules! snapshot_roundtrip_tests {
    ($($name:ident: $ty:ty = $value:expr, mutate $mutate:expr;)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn encode(v: &$ty) -> Vec<u8> {
                    bincode::serde::encode_to_vec(v, bincode::config::standard())
                        .expect("state encodes")
                }

                #[test]
                fn save_restore_save_gives_equal_bytes() {
                    let value: $ty = $value;
                    let first = encode(&value);
                    let (restored, _): ($ty, usize) =
                        bincode::serde::decode_from_slice(&first, bincode::config::standard())
                            .expect("state decodes");
                    assert_eq!(restored, value);
                    assert_eq!(encode(&restored), first);
                }

                #[test]
                fn mutation_gives_different_bytes() {
                    let value: $ty = $value;
                    let mut changed = value.clone();
                    let mutate: fn(&mut $ty) = $mutate;
                    mutate(&mut changed);
                    assert_ne!(encode(&changed), encode(&value));
                }
            }
        )+
    };
}

#[cfg(test)]
mod roundtrip {
    use crate::engine::{Engine, EngineState, Input};
    use crate::machine::balloon::BalloonState;
    use crate::machine::clock::Clock;
    use crate::machine::config::MachineConfig;
    use crate::machine::devices::block::Block;
    use crate::machine::devices::cpu::Cpus;
    use crate::machine::devices::guest::Guest;
    use crate::machine::devices::qdev::Qdev;
    use crate::machine::devices::Devices;
    use crate::machine::display::DisplayState;
    use crate::machine::events::EventQueue;
    use crate::machine::migration::MigrationState;
    use crate::machine::rng::Rng;
    use crate::machine::rtc::Rtc;
    use crate::machine::timers::Timer;
    use crate::machine::watchdog::{Watchdog, WatchdogAction};
    use crate::machine::Machine;
    use crate::migration_stream::Preamble;
    use crate::qmp::session::{ClientId, Mode, Session};
    use crate::wire::framing::Framer;

    fn busy_machine() -> Machine {
        let config = MachineConfig {
            smp: 2,
            name: Some("rt".into()),
            ..MachineConfig::default()
        };
        Machine::new(config)
    }

    fn engine_state() -> EngineState {
        let mut e = Engine::new(MachineConfig::default());
        e.step(Input::connect(ClientId(1)));
        e.step(Input::bytes(ClientId(1), b"{\"execute\":\"qmp_capa"));
        e.state().clone()
    }

    snapshot_roundtrip_tests! {
        session: Session = Session::new(3), mutate |s| s.mode = Mode::Command;
        framer: Framer = { let mut f = Framer::new(); f.feed(b"{\"a\": [1"); f },
            mutate |f| { f.feed(b"]"); };
        clock: Clock = Clock::default(),
            mutate |c| c.schedule(5, Timer::Reset).expect("room for a timer");
        events: EventQueue = EventQueue::default(), mutate |q| q.dropped += 1;
        rng: Rng = Rng::new(9), mutate |r| { r.next_u64(); };
        machine: Machine = busy_machine(), mutate |m| m.vm_stop();
        engine: EngineState = engine_state(), mutate |s| { s.sessions.clear(); };
        config: MachineConfig = MachineConfig::default(), mutate |c| c.ram_mb += 1;
        devices: Devices = busy_machine().devices, mutate |d| d.guest.off = true;
        block: Block = busy_machine().devices.block, mutate |b| { b.drives.pop(); };
        cpus: Cpus = busy_machine().devices.cpus, mutate |c| { c.cpus.pop(); };
        qdev: Qdev = busy_machine().devices.qdev, mutate |q| q.next_uid += 1;
        guest: Guest = busy_machine().devices.guest, mutate |g| g.off = !g.off;
        display: DisplayState = busy_machine().display,
            mutate |d| d.screen.boot_started_at = None;
        migration: MigrationState = MigrationState::default(),
            mutate |m| m.speed_bytes_per_s += 1;
        balloon: BalloonState = BalloonState::default(), mutate |b| b.target_pages += 1;
        watchdog: Watchdog = busy_machine().watchdog,
            mutate |w| w.action = WatchdogAction::Pause;
        rtc: Rtc = Rtc::default(), mutate |r| r.offset_s += 1;
        preamble: Preamble = busy_machine().migration_preamble(Vec::new()),
            mutate |p| p.ram_bytes += 1;
    }
}
