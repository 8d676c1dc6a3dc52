//! Outgoing live migration: the state machine behind `migrate`, `migrate_cancel`,
//! `migrate_set_speed`, `migrate_set_downtime` and `query-migrate` (0.14's
//! `migration.c`, `arch_init.c`'s `ram_save_live`, `block-migration.c`).
//!
//! # Model
//!
//! Progress is modelled in virtual time, so a replay never needs the destination:
//!
//! - `migrate` validates the URI (synchronous 0.14 failures become
//!   `UndefinedError`), makes the migration `active`, and asks the edge to open
//!   the channel with [`Effect::MigrationStart`]. A [`Timer::MigrationTick`] is
//!   set at delay 0, so the first chunk goes out right after the response, in
//!   the main loop.
//! - Every tick (each [`MIGRATION_TICK_NS`], 0.14's `BUFFER_DELAY`) sends one
//!   rate-limited chunk: `speed / XFER_LIMIT_RATIO` bytes rounded up to whole
//!   pages, at least one page. Disk (block migration) goes first, as 0.14
//!   registers the block handler before RAM; RAM gets what is left.
//! - After each chunk, when the disk is done and the remaining RAM could be sent
//!   within the allowed downtime at the configured speed (0.14's
//!   `expected_time <= migrate_max_downtime()`), the final stage runs: the VM is
//!   stopped (STOP if it was running), the rest is sent, the status becomes
//!   `completed`, and [`Effect::MigrationFinish`] tells the edge to end the
//!   stream. The VM stays stopped, as in 0.14.
//! - The edge reports a broken channel (connect refused, write error, the exec'd
//!   command exiting) with [`crate::engine::Input::MigrationFailed`]: an active
//!   migration becomes `failed`; a completed one becomes `failed` too and, if it
//!   had stopped a running VM that is still paused, the VM is restarted, which is
//!   what 0.14 does when the final stage fails.
//! - `migrate_cancel` on an active migration makes it `cancelled` and sends
//!   [`Effect::MigrationCancel`].
//!
//! Pages are counted whole (0.14 sends a 1-byte marker for all-zero pages; the
//! guest memory model has none) and the running guest dirties no pages, so
//! `transferred + remaining == total` throughout. Plain serde data, no I/O.
//!
//! [`Effect::MigrationStart`]: super::Effect::MigrationStart
//! [`Effect::MigrationFinish`]: super::Effect::MigrationFinish
//! [`Effect::MigrationCancel`]: super::Effect::MigrationCancel
//! [`Timer::MigrationTick`]: super::timers::Timer::MigrationTick

use serde::{Deserialize, Serialize};

use super::devices::block::{Block, SECTOR_BYTES};
use super::display::inet_aton;
use super::memory::{ram_bytes, PAGE_BYTES};
use super::timers::Timer;
use super::{Effect, Machine, RunState};
use crate::machine::clock::VirtualTime;

/// 0.14's default `max_throttle`: 32 MiB/s.
pub const MIGRATION_SPEED_BYTES_PER_S_DEFAULT: u32 = 32 << 20;
/// 0.14's default `max_downtime`: 30 ms.
pub const MIGRATION_DOWNTIME_NS_DEFAULT: u64 = 30_000_000;
/// Interval between rate-limited chunks (0.14's `BUFFER_DELAY`, 100 ms).
pub const MIGRATION_TICK_NS: u64 = 100 * 1_000_000;
/// Chunks per second (0.14's `XFER_LIMIT_RATIO`).
pub const XFER_LIMIT_RATIO: u64 = VirtualTime::NS_PER_S / MIGRATION_TICK_NS;

/// Why a migration URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationUriError {
    /// Not `tcp:`, `exec:`, `unix:` or `fd:`.
    #[error("Unknown migration protocol: {0}")]
    UnknownProtocol(String),
    /// `tcp:` without a valid `host:port` (0.14's `parse_host_port`).
    #[error("Bad host:port '{0}'")]
    BadHostPort(String),
}

/// Where a migration goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MigrationTarget {
    /// `tcp:HOST:PORT`.
    Tcp {
        /// Host (may be empty for any).
        host: String,
        /// Port.
        port: u16,
    },
    /// `exec:COMMAND`.
    Exec {
        /// Shell command that reads the stream on stdin.
        command: String,
    },
    /// `unix:PATH`.
    Unix {
        /// Socket path.
        path: String,
    },
    /// `fd:NAME`, a descriptor passed with `getfd`.
    Fd {
        /// The name given to `getfd`.
        name: String,
    },
}

/// Parses a migration URI as 0.14's `do_migrate` and the `*_start_outgoing_migration`
/// functions do. Host names are not resolved here (the edge does it; failure is
/// reported as [`crate::engine::Input::MigrationFailed`]).
pub fn parse_uri(uri: &str) -> Result<MigrationTarget, MigrationUriError> {
    if let Some(rest) = uri.strip_prefix("tcp:") {
        return parse_host_port(rest).ok_or_else(|| MigrationUriError::BadHostPort(rest.into()));
    }
    if let Some(command) = uri.strip_prefix("exec:") {
        return Ok(MigrationTarget::Exec {
            command: command.into(),
        });
    }
    if let Some(path) = uri.strip_prefix("unix:") {
        return Ok(MigrationTarget::Unix { path: path.into() });
    }
    if let Some(name) = uri.strip_prefix("fd:") {
        return Ok(MigrationTarget::Fd { name: name.into() });
    }
    Err(MigrationUriError::UnknownProtocol(uri.into()))
}

/// 0.14's `parse_host_port`: `HOST:PORT`, a host starting with a digit must be
/// an `inet_aton` address, the port is `strtol(.., 0)` and must have digits.
fn parse_host_port(s: &str) -> Option<MigrationTarget> {
    let (host, port) = s.split_once(':')?;
    if host.starts_with(|c: char| c.is_ascii_digit()) && inet_aton(host).is_none() {
        return None;
    }
    let port = strtol_prefix(port)?;
    Some(MigrationTarget::Tcp {
        host: host.into(),
        // htons truncates, as in 0.14.
        port: u16::try_from(port.rem_euclid(65536)).unwrap_or(0),
    })
}

/// `strtol(s, &end, 0)` that must consume at least one digit; the rest is ignored.
fn strtol_prefix(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.starts_with('0') {
        (t, 8)
    } else {
        (t, 10)
    };
    let run: String = digits.chars().take_while(|c| c.is_digit(radix)).collect();
    if run.is_empty() {
        return None;
    }
    let v = i64::from_str_radix(&run, radix).unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

/// A migration's status, as `query-migrate` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MigrationStatus {
    /// Sending.
    Active,
    /// Done; the VM is stopped.
    Completed,
    /// The channel failed.
    Failed,
    /// `migrate_cancel`.
    Cancelled,
}

impl MigrationStatus {
    /// The `status` string.
    pub fn name(self) -> &'static str {
        match self {
            MigrationStatus::Active => "active",
            MigrationStatus::Completed => "completed",
            MigrationStatus::Failed => "failed",
            MigrationStatus::Cancelled => "cancelled",
        }
    }
}

/// Byte counters of one stream (`ram` or `disk` in `query-migrate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Bytes in all.
    pub total: u64,
    /// Bytes still to send.
    pub remaining: u64,
    /// Bytes sent.
    pub transferred: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress {
            total,
            remaining: total,
            transferred: 0,
        }
    }

    /// Sends up to `budget` bytes; returns what was sent.
    fn send(&mut self, budget: u64) -> u64 {
        let n = budget.min(self.remaining);
        self.remaining -= n;
        self.transferred += n;
        n
    }
}

/// One outgoing migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Its id, shared with the edge's effects and inputs.
    pub id: u64,
    /// The URI as given.
    pub uri: String,
    /// Status.
    pub status: MigrationStatus,
    /// RAM counters.
    pub ram: Progress,
    /// Disk counters, for a block migration with at least one hard disk.
    pub disk: Option<Progress>,
    /// Whether the final stage stopped a running VM.
    pub stopped_vm: bool,
    /// The edge reported the destination behind: no tick is pending and
    /// nothing more is sent until it catches up.
    pub stalled: bool,
}

/// Migration settings and the latest migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationState {
    /// `migrate_set_speed`, bytes per second (0.14 keeps a `uint32_t`).
    pub speed_bytes_per_s: u32,
    /// `migrate_set_downtime`, nanoseconds.
    pub downtime_ns: u64,
    /// Id of the next migration.
    pub next_id: u64,
    /// The latest migration; `None` before the first.
    pub current: Option<Migration>,
}

impl Default for MigrationState {
    fn default() -> Self {
        MigrationState {
            speed_bytes_per_s: MIGRATION_SPEED_BYTES_PER_S_DEFAULT,
            downtime_ns: MIGRATION_DOWNTIME_NS_DEFAULT,
            next_id: 1,
            current: None,
        }
    }
}

impl MigrationState {
    /// Whether a migration is under way.
    pub fn is_active(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|m| m.status == MigrationStatus::Active)
    }

    /// Bytes one tick may send: the per-tick rate limit rounded up to whole
    /// pages, at least one page (0.14 sends a page whenever the limit is not yet
    /// exceeded).
    pub fn chunk_bytes(&self) -> u64 {
        let limit = u64::from(self.speed_bytes_per_s) / XFER_LIMIT_RATIO;
        (limit / PAGE_BYTES + u64::from(limit % PAGE_BYTES != 0)).max(1) * PAGE_BYTES
    }

    /// 0.14's convergence test: the remaining RAM fits in the allowed downtime
    /// at the configured speed.
    fn converged(&self, remaining: u64) -> bool {
        if remaining == 0 {
            return true;
        }
        let speed = u128::from(self.speed_bytes_per_s);
        if speed == 0 {
            return false;
        }
        let expected_ns = u128::from(remaining) * u128::from(VirtualTime::NS_PER_S) / speed;
        expected_ns <= u128::from(self.downtime_ns)
    }
}

/// What a new migration needs besides the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStart {
    /// The URI as given.
    pub uri: String,
    /// Block migration (`blk`, or `inc` which implies it).
    pub blk: bool,
    /// The descriptor for an `fd:` URI, taken from the monitor's named fds.
    pub fd: Option<u64>,
}

/// The drives a block migration copies, in drive order, with their sizes in
/// bytes: 0.14's `init_blk_migration_it` takes every drive that is not
/// read-only and whose medium has at least one whole sector (an empty drive's
/// length is an error), and counts whole sectors. Sizes come from the block
/// model, so `block_resize` and hot-plugged drives count.
pub fn blk_migration_drives(block: &Block) -> Vec<(&str, u64)> {
    block
        .drives
        .iter()
        .filter(|d| !d.read_only)
        .filter_map(|d| {
            let m = d.medium.as_ref()?;
            let bytes = m.size_bytes / SECTOR_BYTES * SECTOR_BYTES;
            (bytes > 0).then_some((d.name.as_str(), bytes))
        })
        .collect()
}

/// Bytes a block migration copies (see [`blk_migration_drives`]), or `None`
/// when no drive qualifies.
pub fn disk_bytes_total(block: &Block) -> Option<u64> {
    let drives = blk_migration_drives(block);
    (!drives.is_empty()).then(|| {
        drives
            .iter()
            .fold(0_u64, |total, (_, bytes)| total.saturating_add(*bytes))
    })
}

impl Machine {
    /// Starts a migration (the URI is already validated and any fd taken).
    /// Returns its id.
    pub fn migration_start(&mut self, start: MigrationStart) -> u64 {
        let id = self.migration.next_id;
        self.migration.next_id += 1;
        let ram = Progress::new(ram_bytes(self.config.ram_mb));
        let disk = if start.blk {
            disk_bytes_total(&self.devices.block).map(Progress::new)
        } else {
            None
        };
        let total_bytes = ram.total + disk.map_or(0, |d| d.total);
        self.migration.current = Some(Migration {
            id,
            uri: start.uri.clone(),
            status: MigrationStatus::Active,
            ram,
            disk,
            stopped_vm: false,
            stalled: false,
        });
        self.effects.push(Effect::MigrationStart {
            id,
            uri: start.uri,
            fd: start.fd,
            total_bytes,
        });
        self.migration_schedule(id, 0);
        self.migration_check_fault();
        id
    }

    fn migration_schedule(&mut self, id: u64, delay_ns: u64) {
        // The timer queue is bounded; a full queue ends the migration rather than
        // leaving it active forever.
        if self
            .clock
            .schedule(delay_ns, Timer::MigrationTick { id })
            .is_err()
        {
            self.migration_fail(id);
        }
    }

    fn current_mut(&mut self, id: u64) -> Option<&mut Migration> {
        self.migration.current.as_mut().filter(|m| m.id == id)
    }

    /// One rate-limited chunk, then the convergence test.
    pub fn migration_tick(&mut self, id: u64) {
        let chunk = self.migration.chunk_bytes();
        let Some(m) = self.current_mut(id) else {
            return;
        };
        if m.status != MigrationStatus::Active || m.stalled {
            return;
        }
        let mut budget = chunk;
        if let Some(disk) = m.disk.as_mut() {
            budget -= disk.send(budget);
        }
        let sent = chunk - budget + m.ram.send(budget);
        if sent > 0 {
            self.effects.push(Effect::MigrationData { id, bytes: sent });
        }
        self.migration_check_fault();
        let Some(m) = self
            .current_mut(id)
            .filter(|m| m.status == MigrationStatus::Active)
        else {
            return;
        };
        let disk_done = m.disk.is_none_or(|d| d.remaining == 0);
        let ram_remaining = m.ram.remaining;
        if disk_done && self.migration.converged(ram_remaining) {
            self.migration_complete(id);
        } else {
            let tick_ns = MIGRATION_TICK_NS.saturating_mul(self.faults.migration_factor());
            self.migration_schedule(id, tick_ns);
        }
    }

    /// The final stage: stop the VM, send the rest, tell the edge.
    fn migration_complete(&mut self, id: u64) {
        let was_running = self.run_state == RunState::Running;
        self.vm_stop();
        let Some(m) = self.current_mut(id) else {
            return;
        };
        let rest = m.ram.send(m.ram.remaining);
        m.status = MigrationStatus::Completed;
        m.stopped_vm = was_running;
        if rest > 0 {
            self.effects.push(Effect::MigrationData { id, bytes: rest });
        }
        self.effects.push(Effect::MigrationFinish { id });
    }

    /// The edge reports the destination of migration `id` behind or caught up.
    /// Only an active migration reacts: stalled, it stops sending (no tick stays
    /// pending, so idle time does not run ahead); caught up, it sends its next
    /// chunk one tick later, so the rate limit holds in virtual time however
    /// fast the destination reads. Stale ids and repeated reports are ignored.
    pub fn migration_stall(&mut self, id: u64, stalled: bool) {
        let Some(m) = self.current_mut(id) else {
            return;
        };
        if m.status != MigrationStatus::Active || m.stalled == stalled {
            return;
        }
        m.stalled = stalled;
        if stalled {
            self.clock
                .cancel(|t| matches!(t, Timer::MigrationTick { id: tid } if *tid == id));
        } else {
            self.migration_schedule(id, MIGRATION_TICK_NS);
        }
    }

    /// `migrate_cancel`: an active migration becomes `cancelled`.
    pub fn migration_cancel(&mut self) {
        let Some(m) = self.migration.current.as_mut() else {
            return;
        };
        if m.status != MigrationStatus::Active {
            return;
        }
        m.status = MigrationStatus::Cancelled;
        let id = m.id;
        self.clock
            .cancel(|t| matches!(t, Timer::MigrationTick { id: tid } if *tid == id));
        self.effects.push(Effect::MigrationCancel { id });
    }

    /// The edge reports that migration `id`'s channel failed. Stale ids are ignored.
    pub fn migration_fail(&mut self, id: u64) {
        let Some(m) = self.current_mut(id) else {
            return;
        };
        let restart = match m.status {
            MigrationStatus::Active => false,
            MigrationStatus::Completed => m.stopped_vm,
            MigrationStatus::Failed | MigrationStatus::Cancelled => return,
        };
        m.status = MigrationStatus::Failed;
        m.stopped_vm = false;
        self.clock
            .cancel(|t| matches!(t, Timer::MigrationTick { id: tid } if *tid == id));
        if restart && self.run_state == RunState::Paused {
            self.vm_start();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList};

    fn file_opts() -> OptionList {
        OptionList::from_iter([("file", "disk.img")])
    }

    fn with_disk(format: &str, size_bytes: u64) -> Machine {
        Machine::new(MachineConfig {
            drives: vec![DriveConfig {
                opts: file_opts(),
                probe: Some(ImageProbe::Found(ImageInfo {
                    format: format.into(),
                    size_bytes,
                    backing_file: None,
                    encrypted: false,
                })),
            }],
            ..MachineConfig::default()
        })
    }

    fn machine(ram_mb: u64) -> Machine {
        Machine::new(MachineConfig {
            ram_mb,
            ..MachineConfig::default()
        })
    }

    fn start(m: &mut Machine, blk: bool) -> u64 {
        m.migration_start(MigrationStart {
            uri: "exec:cat".into(),
            blk,
            fd: None,
        })
    }

    /// A machine of `ram_mb` MiB migrating its RAM: the machine and the
    /// migration's id.
    fn migrating(ram_mb: u64) -> (Machine, u64) {
        let mut m = machine(ram_mb);
        let id = start(&mut m, false);
        (m, id)
    }

    /// A machine of `ram_mb` MiB whose RAM migration stalled and caught up.
    fn caught_up(ram_mb: u64) -> Machine {
        let (mut m, id) = migrating(ram_mb);
        m.migration_stall(id, true);
        m.migration_stall(id, false);
        m
    }

    /// When the next migration tick is due.
    fn next_tick(m: &Machine) -> Option<VirtualTime> {
        m.clock
            .next_deadline_matching(|t| matches!(t, Timer::MigrationTick { .. }))
    }

    fn status(m: &Machine) -> MigrationStatus {
        m.migration.current.as_ref().expect("a migration").status
    }

    #[test]
    fn parse_uri_accepts_the_four_schemes() {
        assert_eq!(
            parse_uri("tcp:0:4446"),
            Ok(MigrationTarget::Tcp {
                host: "0".into(),
                port: 4446
            })
        );
        assert!(matches!(
            parse_uri("exec:cat"),
            Ok(MigrationTarget::Exec { .. })
        ));
        assert!(matches!(
            parse_uri("unix:/s"),
            Ok(MigrationTarget::Unix { .. })
        ));
        assert!(matches!(parse_uri("fd:m"), Ok(MigrationTarget::Fd { .. })));
    }

    #[test]
    fn parse_uri_unknown_scheme_is_refused() {
        assert_eq!(
            parse_uri("http://x"),
            Err(MigrationUriError::UnknownProtocol("http://x".into()))
        );
    }

    #[test]
    fn parse_uri_tcp_without_port_digits_is_refused() {
        assert!(parse_uri("tcp:host:").is_err());
        assert!(parse_uri("tcp:host").is_err());
        assert!(parse_uri("tcp:999.0.0.1:1").is_err());
    }

    #[test]
    fn parse_uri_tcp_port_takes_hex_and_ignores_tail() {
        assert_eq!(
            parse_uri("tcp::0x10,x"),
            Ok(MigrationTarget::Tcp {
                host: String::new(),
                port: 16
            })
        );
    }

    #[test]
    fn parse_uri_tcp_port_is_signed_and_octal_then_truncated_as_htons() {
        for (uri, port) in [("tcp::-1", 65535), ("tcp::+010", 8), ("tcp::-65535", 1)] {
            assert_eq!(
                parse_uri(uri),
                Ok(MigrationTarget::Tcp {
                    host: String::new(),
                    port
                }),
                "{uri}"
            );
        }
    }

    #[test]
    fn chunk_is_a_tenth_of_the_speed_rounded_up_to_pages() {
        let chunk = |speed_bytes_per_s: u32| {
            MigrationState {
                speed_bytes_per_s,
                ..MigrationState::default()
            }
            .chunk_bytes()
        };
        assert_eq!(MigrationState::default().chunk_bytes(), 820 * PAGE_BYTES);
        // 1 MiB/s: 104857 bytes a tick, 25.6 pages.
        assert_eq!(chunk(1 << 20), 26 * PAGE_BYTES);
        // Exactly ten pages a tick: no rounding.
        assert_eq!(chunk(100 * 4096), 10 * PAGE_BYTES);
    }

    #[test]
    fn chunk_at_speed_zero_is_one_page() {
        let s = MigrationState {
            speed_bytes_per_s: 0,
            ..MigrationState::default()
        };
        assert_eq!(s.chunk_bytes(), PAGE_BYTES);
    }

    #[test]
    fn start_emits_effect_with_total() {
        let (m, id) = migrating(1);
        assert_eq!(
            m.effects,
            [Effect::MigrationStart {
                id,
                uri: "exec:cat".into(),
                fd: None,
                total_bytes: 1 << 20
            }]
        );
    }

    #[test]
    fn tick_sends_one_chunk_and_stays_active() {
        let (mut m, id) = migrating(128);
        m.migration_tick(id);
        let mig = m.migration.current.as_ref().unwrap();
        assert_eq!(mig.ram.transferred, 820 * PAGE_BYTES);
        assert_eq!(mig.status, MigrationStatus::Active);
    }

    #[test]
    fn small_ram_completes_and_stops_vm() {
        let (mut m, id) = migrating(1);
        m.migration_tick(id);
        assert_eq!(status(&m), MigrationStatus::Completed);
        assert_eq!(m.run_state, RunState::Paused);
        assert_eq!(m.effects.last(), Some(&Effect::MigrationFinish { id }));
    }

    #[test]
    fn stalled_migration_sends_nothing_and_stays_active() {
        let (mut m, id) = migrating(128);
        m.migration_tick(id);
        let sent = m.migration.current.as_ref().unwrap().ram.transferred;
        m.migration_stall(id, true);
        m.advance_to(VirtualTime(10 * VirtualTime::NS_PER_S));
        let cur = m.migration.current.as_ref().unwrap();
        assert_eq!(
            (cur.status, cur.ram.transferred),
            (MigrationStatus::Active, sent)
        );
        assert_eq!(next_tick(&m), None);
    }

    #[test]
    fn caught_up_migration_resumes_and_completes() {
        let mut m = caught_up(16);
        m.advance_to(VirtualTime(10 * VirtualTime::NS_PER_S));
        assert_eq!(status(&m), MigrationStatus::Completed);
    }

    #[test]
    fn caught_up_migration_sends_its_next_chunk_one_tick_later() {
        let m = caught_up(128);
        assert_eq!(next_tick(&m), Some(VirtualTime(MIGRATION_TICK_NS)));
    }

    #[test]
    fn converged_when_the_rest_fits_in_the_downtime_at_the_speed() {
        let s = MigrationState::default();
        let stopped = MigrationState {
            speed_bytes_per_s: 0,
            ..MigrationState::default()
        };
        assert_eq!(
            [
                s.converged(0),
                s.converged(PAGE_BYTES),
                s.converged(1 << 30),
                stopped.converged(PAGE_BYTES),
            ],
            [true, true, false, false]
        );
    }

    #[test]
    fn each_migration_gets_the_next_id() {
        let mut m = machine(1);
        let first = start(&mut m, false);
        m.advance_to(VirtualTime(10 * VirtualTime::NS_PER_S));
        assert_eq!(start(&mut m, false), first + 1);
    }

    #[test]
    fn migration_sent_whole_by_its_ticks_ends_without_an_empty_chunk() {
        let mut m = machine(16);
        m.migration.downtime_ns = 0;
        let id = start(&mut m, false);
        m.advance_to(VirtualTime(10 * VirtualTime::NS_PER_S));
        assert_eq!(status(&m), MigrationStatus::Completed);
        let empty = m
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::MigrationData { bytes: 0, .. }))
            .count();
        assert_eq!(empty, 0);
        assert!(m.effects.contains(&Effect::MigrationFinish { id }));
    }

    #[test]
    fn data_effects_add_up_to_the_total() {
        let (mut m, id) = migrating(16);
        m.advance_to(VirtualTime(10 * VirtualTime::NS_PER_S));
        let data: u64 = m
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::MigrationData { id: eid, bytes } if *eid == id => Some(*bytes),
                _ => None,
            })
            .sum();
        assert_eq!(data, 16 << 20);
    }

    #[test]
    fn stall_of_completed_migration_is_ignored() {
        let (mut m, id) = migrating(1);
        m.advance_to(VirtualTime(VirtualTime::NS_PER_S));
        m.migration_stall(id, true);
        assert!(!m.migration.current.as_ref().unwrap().stalled);
    }

    #[test]
    fn cancel_active_gives_cancelled_and_effect() {
        let (mut m, id) = migrating(128);
        m.migration_cancel();
        assert_eq!(status(&m), MigrationStatus::Cancelled);
        assert_eq!(m.effects.last(), Some(&Effect::MigrationCancel { id }));
        assert!(!m
            .clock
            .is_pending(|t| matches!(t, Timer::MigrationTick { .. })));
    }

    #[test]
    fn cancel_completed_changes_nothing() {
        let (mut m, id) = migrating(1);
        m.migration_tick(id);
        m.migration_cancel();
        assert_eq!(status(&m), MigrationStatus::Completed);
    }

    #[test]
    fn failure_after_completion_restarts_vm() {
        let (mut m, id) = migrating(1);
        m.migration_tick(id);
        m.migration_fail(id);
        assert_eq!(status(&m), MigrationStatus::Failed);
        assert_eq!(m.run_state, RunState::Running);
    }

    #[test]
    fn failure_with_stale_id_is_ignored() {
        let (mut m, id) = migrating(128);
        m.migration_fail(id + 1);
        assert_eq!(status(&m), MigrationStatus::Active);
    }

    #[test]
    fn block_migration_sends_disk_before_ram() {
        let mut m = Machine::new(MachineConfig {
            drives: vec![DriveConfig {
                opts: file_opts(),
                probe: Some(ImageProbe::Found(ImageInfo {
                    format: "raw".into(),
                    size_bytes: 10 << 20,
                    backing_file: None,
                    encrypted: false,
                })),
            }],
            ..MachineConfig::default()
        });
        let id = start(&mut m, true);
        m.migration_tick(id);
        let mig = m.migration.current.as_ref().unwrap();
        assert_eq!(mig.disk.unwrap().transferred, 820 * PAGE_BYTES);
        assert_eq!(mig.ram.transferred, 0);
    }

    #[test]
    fn block_migration_without_disks_has_no_disk_counters() {
        let mut m = machine(128);
        start(&mut m, true);
        assert_eq!(m.migration.current.as_ref().unwrap().disk, None);
    }

    #[test]
    fn migration_state_roundtrips_through_bincode() {
        let mut m = machine(128);
        start(&mut m, false);
        let state = m.migration.clone();
        assert_eq!(crate::test_util::bincode_round_trip(&state), state);
    }

    #[test]
    fn blk_drives_count_whole_sectors() {
        let m = with_disk("raw", 1000);
        assert_eq!(blk_migration_drives(&m.devices.block), [("ide0-hd0", 512)]);
    }

    #[test]
    fn blk_drives_skip_media_below_one_sector() {
        let m = with_disk("raw", 511);
        assert_eq!(disk_bytes_total(&m.devices.block), None);
    }

    #[test]
    fn blk_drives_follow_block_resize() {
        let mut m = with_disk("raw", 1 << 20);
        m.devices.block.resize("ide0-hd0", 2 << 20).unwrap();
        assert_eq!(disk_bytes_total(&m.devices.block), Some(2 << 20));
    }
}
