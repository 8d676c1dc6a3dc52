//! Internal snapshots, as 0.14 keeps them in qcow2 images: HMP `savevm`,
//! `loadvm`, `delvm`, `info snapshots` and `-loadvm` (savevm.c's `do_savevm`,
//! `load_vmstate`, `do_delvm`, `do_info_snapshots`, block.c's
//! `bdrv_snapshot_dump`, monitor.c's `do_loadvm`).
//!
//! # Model
//!
//! Every drive that takes snapshots (`Drive::can_snapshot`: a fixed, writable
//! qcow2 or sheepdog image) has a table of snapshots, in creation order, in
//! [`Machine::snapshots`] keyed by drive name. As in 0.14, `savevm` creates an
//! entry with the same id and tag on every such drive, but only the first (the
//! drive 0.14's `bdrv_snapshots` picks) holds the VM state: the machine's
//! snapshot envelope (`crate::snapshot`), taken while the VM is stopped.
//! `loadvm` puts the guest-visible state back (devices, guest, rng, balloon,
//! RTC, screen, and the timers with their remaining delays; see
//! `Machine::take_guest_state`). Virtual time does not go back, so event
//! timestamps stay monotonic; the snapshot's `VM CLOCK` column shows the time
//! it was taken. Dates are the configured epoch plus virtual time, in UTC.
//!
//! # Where tables live
//!
//! An image that is a real file keeps its table in a *sidecar file* next to it,
//! `IMAGE` + [`SIDECAR_SUFFIX`], so a later `qmpsim -loadvm TAG` on the same
//! image finds it, the way libvirt uses `-loadvm`. The edge reads it at start and
//! feeds it as `Input::SnapshotTableOpened`; after every change the machine asks
//! the edge to rewrite it (`Effect::WriteFile`). Its format:
//!
//! ```text
//! magic "QMPSIMSN" (8) | version u32 | body length u64 | bincode Vec<InternalSnapshot> | sha256(body) (32)
//! ```
//!
//! (integers little-endian, bincode `config::standard()`, the body bounded by
//! [`SIDECAR_BYTES_MAX`] before it is read). An `x-virtual` image, or a drive
//! opened later, keeps its table in memory only. Plain data; no I/O.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::clock::VirtualTime;
use super::memory::FileBytes;
use super::{Effect, Machine, RunState};
use crate::engine::EngineState;
use crate::envelope::{OpenError, Prefix, PrefixError, ENVELOPE_HASH_BYTES};

/// The file name suffix of a real image's snapshot table.
pub const SIDECAR_SUFFIX: &str = ".qmpsim-snapshots";
/// The eight bytes a sidecar file starts with.
pub const SIDECAR_MAGIC: [u8; 8] = *b"QMPSIMSN";
/// The one sidecar format version this build writes and reads.
pub const SIDECAR_VERSION: u32 = 1;
/// Largest sidecar body, in bytes.
pub const SIDECAR_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Most snapshots one drive holds; past it `savevm` fails on that drive as
/// qcow2 fails when its snapshot table is full.
pub const SNAPSHOTS_PER_DRIVE_MAX: usize = 64;
/// Longest tag (0.14's `QEMUSnapshotInfo.name` holds 256 bytes with the NUL).
pub const SNAPSHOT_TAG_BYTES_MAX: usize = 255;
/// `ENOENT`, the status of a missing snapshot in 0.14's messages.
const ENOENT: i32 = 2;
/// `EINVAL`, the status of a VM state that does not load.
const EINVAL: i32 = 22;

/// One snapshot on one drive (0.14's `QEMUSnapshotInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalSnapshot {
    /// The id, a decimal number unique on the drive.
    pub id: String,
    /// The tag.
    pub name: String,
    /// Bytes of VM state (0 on drives that do not hold it).
    pub vm_state_size: u64,
    /// When it was taken: seconds since the Unix epoch.
    pub date_sec: i64,
    /// Nanoseconds within that second (microsecond resolution, as 0.14's
    /// `gettimeofday`).
    pub date_nsec: u32,
    /// Virtual time when it was taken.
    pub vm_clock_nsec: u64,
    /// The VM state (a snapshot envelope), on the drive that holds it.
    pub state: Option<Vec<u8>>,
}

/// The snapshots of one drive.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotTable {
    /// The sidecar file to rewrite after a change; `None` keeps it in memory.
    pub sidecar: Option<String>,
    /// In creation order.
    pub entries: Vec<InternalSnapshot>,
}

impl SnapshotTable {
    /// 0.14's `bdrv_snapshot_find`: the first entry whose id or tag is `name`.
    fn find(&self, name: &str) -> Option<&InternalSnapshot> {
        self.entries.iter().find(|s| s.id == name || s.name == name)
    }

    /// qcow2's `find_snapshot_by_id_or_name`: by id first, then by tag.
    fn position_by_id_or_name(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|s| s.id == name)
            .or_else(|| self.entries.iter().position(|s| s.name == name))
    }

    /// qcow2's `find_new_snapshot_id`: one more than the largest numeric id.
    fn new_id(&self) -> String {
        let max = self
            .entries
            .iter()
            .filter_map(|s| s.id.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        (max + 1).to_string()
    }
}

/// Why a sidecar file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Not a sidecar file.
    #[error("Not a qmpsim snapshot table (bad magic)")]
    BadMagic,
    /// Another version.
    #[error("Unsupported snapshot table version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// [`SIDECAR_VERSION`].
        expected: u32,
    },
    /// The body length is past [`SIDECAR_BYTES_MAX`].
    #[error("Snapshot table of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// [`SIDECAR_BYTES_MAX`].
        max: usize,
    },
    /// Shorter or longer than the header says.
    #[error("Snapshot table has {available} bytes where {needed} were expected")]
    WrongLength {
        /// Bytes the header requires.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The checksum does not match.
    #[error("Snapshot table checksum mismatch (file damaged)")]
    ChecksumMismatch,
    /// The body does not decode.
    #[error("Snapshot table does not decode")]
    Decode(#[source] bincode::error::DecodeError),
}

/// The sidecar's envelope (see [`crate::envelope`]).
const SIDECAR_LAYOUT: Prefix = Prefix {
    magic: &SIDECAR_MAGIC,
    version: SIDECAR_VERSION,
    length_bytes: 8,
    body_max: SIDECAR_BYTES_MAX as u64,
};

/// A table's sidecar file contents.
pub fn encode_sidecar(entries: &[InternalSnapshot]) -> Vec<u8> {
    let body = bincode::serde::encode_to_vec(entries, bincode::config::standard())
        .expect("snapshot entries are plain data");
    SIDECAR_LAYOUT.seal(&body)
}

/// Reads a sidecar file's contents.
pub fn decode_sidecar(bytes: &[u8]) -> Result<Vec<InternalSnapshot>, SidecarError> {
    let body = SIDECAR_LAYOUT.open(bytes).map_err(|e| match e {
        OpenError::Short { .. } | OpenError::Prefix(PrefixError::BadMagic) => {
            SidecarError::BadMagic
        }
        OpenError::Prefix(PrefixError::UnsupportedVersion { found, expected }) => {
            SidecarError::UnsupportedVersion { found, expected }
        }
        OpenError::Prefix(PrefixError::TooLarge { len }) => SidecarError::TooLarge {
            len,
            max: SIDECAR_BYTES_MAX,
        },
        OpenError::WrongLength { needed, available } => {
            SidecarError::WrongLength { needed, available }
        }
        OpenError::ChecksumMismatch => SidecarError::ChecksumMismatch,
    })?;
    let (entries, used): (Vec<InternalSnapshot>, usize) =
        bincode::serde::decode_from_slice(body, crate::trace::format::bincode_decode_config())
            .map_err(SidecarError::Decode)?;
    if used != body.len() {
        return Err(SidecarError::WrongLength {
            needed: (SIDECAR_LAYOUT.bytes() + used + ENVELOPE_HASH_BYTES) as u64,
            available: bytes.len() as u64,
        });
    }
    Ok(entries)
}

impl Machine {
    /// Names of the drives that take snapshots, in drive order (0.14's
    /// `bdrv_next` with `bdrv_can_snapshot`).
    fn snapshot_drives(&self) -> Vec<String> {
        self.devices
            .block
            .drives
            .iter()
            .filter(|d| d.can_snapshot())
            .map(|d| d.name.clone())
            .collect()
    }

    /// The first fixed, writable drive that cannot take snapshots.
    fn writable_without_snapshots(&self) -> Option<String> {
        self.devices
            .block
            .drives
            .iter()
            .find(|d| !d.removable && !d.read_only && !d.can_snapshot())
            .map(|d| d.name.clone())
    }

    fn table(&self, drive: &str) -> Option<&SnapshotTable> {
        self.snapshots.get(drive)
    }

    /// The edge opened a real image's snapshot table (its sidecar file).
    pub fn snapshot_table_opened(
        &mut self,
        drive: String,
        sidecar: String,
        entries: Vec<InternalSnapshot>,
    ) {
        self.snapshots.insert(
            drive,
            SnapshotTable {
                sidecar: Some(sidecar),
                entries,
            },
        );
    }

    /// Asks the edge to rewrite the sidecar of `drive`, if it has one.
    fn sync_sidecar(&mut self, drive: &str) {
        if let Some(t) = self.snapshots.get(drive) {
            if let Some(path) = &t.sidecar {
                let bytes = FileBytes(encode_sidecar(&t.entries));
                self.effects.push(Effect::WriteFile {
                    path: path.clone(),
                    bytes,
                });
            }
        }
    }

    /// HMP `savevm [NAME]` (0.14's `do_savevm`); returns the monitor text.
    pub fn savevm(&mut self, name: Option<&str>) -> String {
        if let Some(d) = self.writable_without_snapshots() {
            return format!("Device '{d}' is writable but does not support snapshots.\n");
        }
        let drives = self.snapshot_drives();
        let Some(vm_drive) = drives.first().cloned() else {
            return "No block device can accept snapshots\n".to_owned();
        };
        let was_running = self.run_state == RunState::Running;
        self.vm_stop();
        let out = self.savevm_stopped(name, &drives, &vm_drive);
        if was_running {
            self.vm_start();
        }
        out
    }

    fn savevm_stopped(&mut self, name: Option<&str>, drives: &[String], vm_drive: &str) -> String {
        let now = self.clock.now();
        let date_sec = self
            .config
            .epoch_s
            .saturating_add(i64::try_from(now.0 / VirtualTime::NS_PER_S).unwrap_or(i64::MAX));
        let date_nsec =
            u32::try_from(now.0 % VirtualTime::NS_PER_S / 1000 * 1000).expect("below 1e9");
        let (tag, id) = match name {
            Some(n) => match self.table(vm_drive).and_then(|t| t.find(n)) {
                Some(old) => (old.name.clone(), Some(old.id.clone())),
                None => (truncate_tag(n), None),
            },
            None => (default_tag(date_sec), None),
        };
        if let Some(n) = name {
            // 0.14's del_existing_snapshots: every drive that has it loses it.
            for d in drives {
                let table = self.snapshots.entry(d.clone()).or_default();
                if let Some(i) = table.find(n).and_then(|_| table.position_by_id_or_name(n)) {
                    table.entries.remove(i);
                }
            }
        }
        let state = self.vm_state_bytes();
        let mut out = String::new();
        for d in drives {
            let table = self.snapshots.entry(d.clone()).or_default();
            if table.entries.len() >= SNAPSHOTS_PER_DRIVE_MAX {
                let _ = writeln!(out, "Error while creating snapshot on '{d}'");
                continue;
            }
            let holds_state = d == vm_drive;
            table.entries.push(InternalSnapshot {
                id: id.clone().unwrap_or_else(|| table.new_id()),
                name: tag.clone(),
                vm_state_size: if holds_state { state.len() as u64 } else { 0 },
                date_sec,
                date_nsec,
                vm_clock_nsec: now.0,
                state: holds_state.then(|| state.clone()),
            });
        }
        for d in drives {
            self.sync_sidecar(d);
        }
        out
    }

    /// The VM state a snapshot holds: this machine, without its snapshot
    /// tables, as a snapshot envelope.
    fn vm_state_bytes(&self) -> Vec<u8> {
        let mut machine = self.clone();
        machine.snapshots.clear();
        machine.effects.clear();
        machine.events.drain();
        let state = EngineState {
            machine,
            sessions: std::collections::BTreeMap::new(),
            exited: None,
            gaps: 0,
            held: std::collections::BTreeMap::new(),
        };
        crate::snapshot::save_state(&state).expect("a machine within its limits seals")
    }

    /// HMP `loadvm NAME` (0.14's `do_loadvm`): the VM stops for the load and
    /// runs again only if it ran before and the load succeeded.
    pub fn loadvm(&mut self, name: &str) -> String {
        let was_running = self.run_state == RunState::Running;
        self.vm_stop();
        let (ok, out) = self.load_vmstate(name);
        if ok && was_running {
            self.vm_start();
        }
        out
    }

    /// `-loadvm NAME` at start: as `loadvm`, with the messages on stderr; a
    /// failure leaves the VM paused (0.14 clears `autostart`).
    pub fn startup_loadvm(&mut self, name: &str) {
        let text = self.loadvm(name);
        if !text.is_empty() {
            self.effects.push(Effect::Stderr { text });
        }
    }

    /// 0.14's `load_vmstate`: whether it loaded, and the messages.
    fn load_vmstate(&mut self, name: &str) -> (bool, String) {
        let drives = self.snapshot_drives();
        let Some(vm_drive) = drives.first() else {
            return (false, "No block device supports snapshots\n".to_owned());
        };
        let Some(found) = self.table(vm_drive).and_then(|t| t.find(name)) else {
            // 0.14 returns -ENOENT here without a message.
            return (false, String::new());
        };
        let Some(state) = found.state.clone() else {
            // A snapshot without VM state: 0.14 returns -EINVAL silently.
            return (false, String::new());
        };
        if let Some(d) = self.writable_without_snapshots() {
            return (
                false,
                format!("Device '{d}' is writable but does not support snapshots.\n"),
            );
        }
        if let Some(d) = drives
            .iter()
            .find(|d| self.table(d).and_then(|t| t.find(name)).is_none())
        {
            return (
                false,
                format!("Device '{d}' does not have the requested snapshot '{name}'\n"),
            );
        }
        match crate::snapshot::restore_state(&state) {
            Ok(saved) => {
                let sections = saved.machine.savevm_sections();
                let ram = super::memory::ram_bytes(saved.machine.config.ram_mb);
                if let Some(text) = self.incoming_mismatch(ram, &sections) {
                    self.effects.push(Effect::Stderr { text });
                    return (false, format!("Error -{EINVAL} while loading VM state\n"));
                }
                self.take_guest_state(saved.machine);
                (true, String::new())
            }
            Err(_) => (false, format!("Error -{EINVAL} while loading VM state\n")),
        }
    }

    /// HMP `delvm NAME` (0.14's `do_delvm`).
    pub fn delvm(&mut self, name: &str) -> String {
        let drives = self.snapshot_drives();
        if drives.is_empty() {
            return "No block device supports snapshots\n".to_owned();
        }
        let mut out = String::new();
        for d in &drives {
            let table = self.snapshots.entry(d.clone()).or_default();
            match table.position_by_id_or_name(name) {
                Some(i) => {
                    table.entries.remove(i);
                }
                None => {
                    let _ = writeln!(out, "Error -{ENOENT} while deleting snapshot on '{d}'");
                }
            }
        }
        for d in &drives {
            self.sync_sidecar(d);
        }
        out
    }

    /// HMP `info snapshots` (0.14's `do_info_snapshots`): the snapshots of the
    /// state-holding drive that every other snapshot drive has too (by id).
    pub fn info_snapshots(&self) -> String {
        let drives = self.snapshot_drives();
        let Some(vm_drive) = drives.first() else {
            return "No available block device supports snapshots\n".to_owned();
        };
        let entries = self.table(vm_drive).map_or(&[][..], |t| &t.entries[..]);
        if entries.is_empty() {
            return "There is no snapshot available.\n".to_owned();
        }
        let available: Vec<&InternalSnapshot> = entries
            .iter()
            .filter(|s| {
                drives[1..]
                    .iter()
                    .all(|d| self.table(d).and_then(|t| t.find(&s.id)).is_some())
            })
            .collect();
        if available.is_empty() {
            return "There is no suitable snapshot available\n".to_owned();
        }
        let mut out = format!(
            "{:<10}{:<20}{:>7}{:>20}{:>15}\n",
            "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK"
        );
        for s in available {
            let _ = writeln!(
                out,
                "{:<10}{:<20}{:>7}{:>20}{:>15}",
                s.id,
                s.name,
                human_size(s.vm_state_size),
                format_date(s.date_sec),
                format_vm_clock(s.vm_clock_nsec)
            );
        }
        out
    }
}

/// A tag as 0.14's `pstrcpy` into 256 bytes keeps it, at a char boundary.
fn truncate_tag(name: &str) -> String {
    let mut end = name.len().min(SNAPSHOT_TAG_BYTES_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// `vm-%Y%m%d%H%M%S` of the date.
fn default_tag(date_sec: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(date_sec);
    format!("vm-{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// `%Y-%m-%d %H:%M:%S`, UTC.
fn format_date(date_sec: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(date_sec);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `%02d:%02d:%02d.%03d` of hours, minutes, seconds and milliseconds.
fn format_vm_clock(ns: u64) -> String {
    let secs = ns / VirtualTime::NS_PER_S;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        (ns / 1_000_000) % 1000
    )
}

/// Year, month, day, hour, minute, second of a Unix time (UTC), by Howard
/// Hinnant's days-to-civil algorithm.
fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, (rem / 60) % 60, rem % 60)
}

/// 0.14's `get_human_readable_size`: bytes up to 999, then one decimal below
/// ten units (`%0.1f`, rounded half to even on exact ties as glibc does) or a
/// rounded whole number of K, M, G or T.
fn human_size(size: u64) -> String {
    const SUFFIXES: [char; 4] = ['K', 'M', 'G', 'T'];
    if size <= 999 {
        return size.to_string();
    }
    let mut base: u128 = 1024;
    let size = u128::from(size);
    for (i, suffix) in SUFFIXES.iter().enumerate() {
        if size < 10 * base {
            let tenths = size * 10 / base;
            let rem = size * 10 % base;
            let up = rem * 2 > base || (rem * 2 == base && tenths % 2 == 1);
            let tenths = tenths + u128::from(up);
            return format!("{}.{}{suffix}", tenths / 10, tenths % 10);
        }
        if size < 1000 * base || i == SUFFIXES.len() - 1 {
            return format!("{}{suffix}", (size + (base >> 1)) / base);
        }
        base *= 1024;
    }
    unreachable!("the last suffix always returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::test_util::probed_drive;

    fn machine(formats: &[&str]) -> Machine {
        Machine::new(MachineConfig {
            drives: formats
                .iter()
                .enumerate()
                .map(|(i, f)| probed_drive(&format!("disk{i}.img"), f))
                .collect(),
            ..MachineConfig::default()
        })
    }

    /// A machine with drives of `formats` after `savevm` of each of `tags` in
    /// turn.
    fn saved(formats: &[&str], tags: &[&str]) -> Machine {
        let mut m = machine(formats);
        for tag in tags {
            m.savevm(Some(tag));
        }
        m
    }

    /// `savevm` of `count` snapshots, tagged `s0`, `s1`, ...
    fn save_numbered(m: &mut Machine, count: usize) {
        for i in 0..count {
            m.savevm(Some(&format!("s{i}")));
        }
    }

    /// The snapshots of the first drive.
    fn first_drive(m: &Machine) -> &[InternalSnapshot] {
        &m.snapshots["ide0-hd0"].entries
    }

    #[test]
    fn savevm_then_info_lists_the_snapshot() {
        let mut m = machine(&["qcow2"]);
        assert_eq!(m.savevm(Some("base")), "");
        let size = m.snapshots["ide0-hd0"].entries[0].vm_state_size;
        assert_eq!(
            m.info_snapshots(),
            format!(
                "ID        TAG                 VM SIZE                DATE       VM CLOCK\n\
                 1         base                {:>7} 2011-03-13 07:06:40   00:00:00.000\n",
                human_size(size)
            )
        );
    }

    #[test]
    fn savevm_dates_and_clocks_the_snapshot_by_virtual_time() {
        let mut m = machine(&["qcow2"]);
        m.advance_to(VirtualTime(61_500_000_000));
        m.savevm(Some("later"));
        let info = m.info_snapshots();
        assert!(
            info.ends_with(" 2011-03-13 07:07:41   00:01:01.500\n"),
            "{info}"
        );
    }

    #[test]
    fn savevm_without_name_uses_the_date_tag() {
        let mut m = machine(&["qcow2"]);
        m.savevm(None);
        assert_eq!(m.snapshots["ide0-hd0"].entries[0].name, "vm-20110313070640");
    }

    #[test]
    fn savevm_of_a_running_vm_stops_and_resumes_it() {
        let mut m = saved(&["qcow2"], &["a"]);
        let names: Vec<String> = m.events.drain_names();
        assert_eq!(
            (names, m.run_state),
            (
                vec!["STOP".to_owned(), "RESUME".to_owned()],
                RunState::Running
            )
        );
    }

    #[test]
    fn savevm_with_existing_tag_replaces_it_keeping_its_id() {
        let m = saved(&["qcow2"], &["a", "b", "a"]);
        let ids: Vec<(&str, &str)> = first_drive(&m)
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(ids, [("2", "b"), ("1", "a")]);
    }

    #[test]
    fn savevm_past_the_table_limit_fails_on_that_drive() {
        let mut m = machine(&["qcow2"]);
        save_numbered(&mut m, SNAPSHOTS_PER_DRIVE_MAX);
        assert_eq!(
            m.savevm(Some("one-more")),
            "Error while creating snapshot on 'ide0-hd0'\n"
        );
    }

    #[test]
    fn savevm_at_the_table_limit_succeeds() {
        let mut m = machine(&["qcow2"]);
        save_numbered(&mut m, SNAPSHOTS_PER_DRIVE_MAX - 1);
        assert_eq!(m.savevm(Some("last")), "");
    }

    #[test]
    fn only_the_first_drive_holds_the_state() {
        let m = saved(&["qcow2", "qcow2"], &["a"]);
        let sizes = (
            m.snapshots["ide0-hd0"].entries[0].state.is_some(),
            m.snapshots["ide0-hd1"].entries[0].vm_state_size,
        );
        assert_eq!(sizes, (true, 0));
    }

    #[test]
    fn loadvm_unknown_tag_is_silent_and_leaves_the_vm_paused() {
        let mut m = machine(&["qcow2"]);
        assert_eq!(
            (m.loadvm("nope"), m.run_state),
            (String::new(), RunState::Paused)
        );
    }

    #[test]
    fn loadvm_restores_the_guest_and_runs_again() {
        let mut m = saved(&["qcow2"], &["a"]);
        let saved_cpus = m.devices.cpus.clone();
        m.devices.cpus.cpus.clear();
        assert_eq!(m.loadvm("a"), "");
        assert_eq!(
            (m.devices.cpus.clone(), m.run_state),
            (saved_cpus, RunState::Running)
        );
    }

    #[test]
    fn loadvm_by_id_works() {
        let mut m = saved(&["qcow2"], &["a"]);
        assert_eq!(
            (m.loadvm("1"), m.run_state),
            (String::new(), RunState::Running)
        );
    }

    #[test]
    fn loadvm_missing_on_a_second_drive_names_it() {
        let mut m = saved(&["qcow2", "qcow2"], &["a"]);
        m.snapshots.get_mut("ide0-hd1").unwrap().entries.clear();
        assert_eq!(
            m.loadvm("a"),
            "Device 'ide0-hd1' does not have the requested snapshot 'a'\n"
        );
    }

    #[test]
    fn delvm_unknown_tag_reports_enoent_per_drive() {
        let mut m = machine(&["qcow2"]);
        assert_eq!(
            m.delvm("x"),
            "Error -2 while deleting snapshot on 'ide0-hd0'\n"
        );
    }

    #[test]
    fn delvm_removes_and_info_says_none_left() {
        let mut m = saved(&["qcow2"], &["a"]);
        m.delvm("a");
        assert_eq!(m.info_snapshots(), "There is no snapshot available.\n");
    }

    #[test]
    fn info_without_a_common_snapshot_says_none_suitable() {
        let mut m = saved(&["qcow2", "qcow2"], &["a"]);
        m.snapshots.get_mut("ide0-hd1").unwrap().entries.clear();
        assert_eq!(
            m.info_snapshots(),
            "There is no suitable snapshot available\n"
        );
    }

    #[test]
    fn sidecar_roundtrips() {
        let m = saved(&["qcow2"], &["a"]);
        let entries = m.snapshots["ide0-hd0"].entries.clone();
        assert_eq!(decode_sidecar(&encode_sidecar(&entries)).unwrap(), entries);
    }

    #[test]
    fn damaged_sidecar_is_refused() {
        let mut bytes = encode_sidecar(&[]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            decode_sidecar(&bytes),
            Err(SidecarError::ChecksumMismatch)
        ));
    }

    #[test]
    fn sidecar_length_past_limit_is_refused_before_reading() {
        let mut bytes = Vec::new();
        SIDECAR_LAYOUT.write(&mut bytes, SIDECAR_BYTES_MAX as u64 + 1);
        assert!(matches!(
            decode_sidecar(&bytes),
            Err(SidecarError::TooLarge { .. })
        ));
    }

    #[test]
    fn sidecar_length_at_limit_is_checked_against_the_bytes() {
        let mut bytes = Vec::new();
        SIDECAR_LAYOUT.write(&mut bytes, SIDECAR_BYTES_MAX as u64);
        assert!(matches!(
            decode_sidecar(&bytes),
            Err(SidecarError::WrongLength { .. })
        ));
    }

    #[test]
    fn human_size_follows_014() {
        // 1280 and 1792 are ties at the tenths (1.25K, 1.75K): printf's
        // round-half-even keeps 1.2K and makes 1.8K.
        let got: Vec<String> = [
            999_u64,
            1000,
            1280,
            1536,
            1792,
            10 * 1024,
            12 * 1024 * 1024 + 1,
        ]
        .iter()
        .map(|&s| human_size(s))
        .collect();
        assert_eq!(got, ["999", "1.0K", "1.2K", "1.5K", "1.8K", "10K", "12M"]);
    }

    #[test]
    fn delvm_by_id_removes_that_snapshot_not_the_first() {
        let mut m = saved(&["qcow2"], &["a", "b", "c"]);
        assert_eq!(m.delvm("2"), "");
        let names: Vec<&str> = first_drive(&m).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn dates_convert_across_months_leap_days_and_the_epoch() {
        let dates: Vec<String> = [
            0,
            951_782_400,
            1_300_000_000,
            1_293_839_999,
            -1,
            4_107_542_400,
        ]
        .into_iter()
        .map(format_date)
        .collect();
        assert_eq!(
            dates,
            [
                "1970-01-01 00:00:00",
                "2000-02-29 00:00:00",
                "2011-03-13 07:06:40",
                "2010-12-31 23:59:59",
                "1969-12-31 23:59:59",
                "2100-03-01 00:00:00",
            ]
        );
    }

    #[test]
    fn vm_clock_formats_hours_to_millis() {
        assert_eq!(format_vm_clock(3_723_456_000_000), "01:02:03.456");
    }

    #[test]
    fn tag_past_limit_is_cut() {
        assert_eq!(truncate_tag(&"x".repeat(300)).len(), SNAPSHOT_TAG_BYTES_MAX);
    }
}
