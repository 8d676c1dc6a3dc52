//! `-x-chaos seed=N[,rate=P][,kinds=a+b+...]`: qmpsim misbehaving the way a
//! real QEMU 0.14 legally can, every decision drawn from one seeded rng that
//! is part of the machine's state. The same seed with the same client gives
//! the same bytes; the seed is in the configuration, so a trace's header
//! carries it and replay reproduces the session.
//!
//! | kind | where it is decided | what happens |
//! |---|---|---|
//! | `events` | between each command and its reply (the reply to `qmp_capabilities` included) | an event that can come at any moment: RTC_CHANGE, or with `-vnc`/`-spice` a display client connecting or leaving |
//! | `guest` | the same place | a guest-driven state change: a reboot (RESET), an I/O error on the first drive with a medium (BLOCK_IO_ERROR, and STOP under the default `werror=enospc`), or a power-off (SHUTDOWN, then exit, or STOP with `-no-shutdown`) |
//! | `failures` | `eject` and `change` of a removable drive, `migrate`, `balloon` | the guest holds the tray locked during the command (DeviceLocked, as 0.14 answers for a guest-locked drive); the migration later fails at a random point or crawls; the balloon crawls |
//! | `split` | every message to a QMP client | it leaves in 2 to [`CHAOS_PIECES_MAX`] writes |
//! | `delay` | the same | it (or each further piece) waits up to [`CHAOS_DELAY_NS_MAX`] of virtual time |
//! | `disconnect` | after each reply | the server drops the monitor connection |
//!
//! Each decision point draws once per kind that applies there; with
//! probability `rate` (default [`CHAOS_RATE_DEFAULT_PPM`] per million) the
//! kind happens. Delays are virtual time, carried out by the engine
//! (`crate::engine`) and released by the clock like any timer, so they do not
//! depend on the wall clock; with `-x-clock manual` a message's pieces all
//! leave at once (a delay would wait for `x-clock-step`). Plain data, no I/O.

use serde::{Deserialize, Serialize};

use super::devices::block::{IoErrno, IoOperation};
use super::display::{SockAddr, VncClient};
use super::inject::SpiceChannelRequest;
use super::rng::Rng;
use super::{Machine, Request};
use crate::qobject::QDict;

/// Probability scale of `rate=`: parts per million.
pub const CHAOS_RATE_SCALE_PPM: u32 = 1_000_000;
/// `rate=` when not given: one time in ten.
pub const CHAOS_RATE_DEFAULT_PPM: u32 = 100_000;
/// Most pieces one message is split into.
pub const CHAOS_PIECES_MAX: usize = 4;
/// Longest delay of one message or piece, in virtual ns (50 ms).
pub const CHAOS_DELAY_NS_MAX: u64 = 50_000_000;
/// Largest slow-down chaos gives a migration or the balloon.
pub const CHAOS_SLOW_FACTOR_MAX: u64 = 20;
/// First client port of the display clients chaos connects.
pub const CHAOS_CLIENT_PORT_FIRST: u64 = 60_000;

/// One kind of misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChaosKind {
    /// Events at legal but surprising moments.
    Events,
    /// Guest-driven state changes.
    Guest,
    /// Failures of commands that can fail in 0.14.
    Failures,
    /// Messages split over several writes.
    Split,
    /// Messages delayed in virtual time.
    Delay,
    /// Monitor connections dropped by the server.
    Disconnect,
}

impl ChaosKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [ChaosKind; 6] = [
        ChaosKind::Events,
        ChaosKind::Guest,
        ChaosKind::Failures,
        ChaosKind::Split,
        ChaosKind::Delay,
        ChaosKind::Disconnect,
    ];

    /// The name `kinds=` takes.
    pub fn name(self) -> &'static str {
        match self {
            ChaosKind::Events => "events",
            ChaosKind::Guest => "guest",
            ChaosKind::Failures => "failures",
            ChaosKind::Split => "split",
            ChaosKind::Delay => "delay",
            ChaosKind::Disconnect => "disconnect",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<ChaosKind> {
        ChaosKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The kind names, joined with `+`, for messages and help.
pub fn kind_names() -> String {
    ChaosKind::ALL.map(ChaosKind::name).join("+")
}

/// `-x-chaos seed=N[,rate=P][,kinds=a+b+...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosConfig {
    /// The seed of the chaos rng.
    pub seed: u64,
    /// Probability of each kind at each decision point, per million.
    pub rate_ppm: u32,
    /// The kinds enabled, in [`ChaosKind::ALL`] order.
    pub kinds: Vec<ChaosKind>,
}

/// Why a `-x-chaos` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChaosError {
    /// `seed=` is missing.
    #[error("seed=N is missing")]
    NoSeed,
    /// `seed=` is not an unsigned 64-bit number.
    #[error("seed takes an unsigned number, not '{0}'")]
    Seed(String),
    /// `rate=` is not a probability.
    #[error("rate takes a probability from 0 to 1 with at most 6 decimals, not '{0}'")]
    Rate(String),
    /// `kinds=` names an unknown kind.
    #[error("unknown kind '{0}' (kinds={names})", names = kind_names())]
    Kind(String),
    /// An item that is none of the above.
    #[error("unknown setting '{0}' (seed=N, rate=P, kinds=a+b+...)")]
    Setting(String),
}

/// `0`, `1`, `0.25`, `1.0`: a probability in parts per million.
fn parse_rate(text: &str) -> Option<u32> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 6 || (text.contains('.') && frac.is_empty()) {
        return None;
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac_ppm: u32 = format!("{frac:0<6}").parse().ok()?;
    let ppm = whole
        .checked_mul(CHAOS_RATE_SCALE_PPM)?
        .checked_add(frac_ppm)?;
    (ppm <= CHAOS_RATE_SCALE_PPM).then_some(ppm)
}

impl ChaosConfig {
    /// Parses `seed=N[,rate=P][,kinds=a+b+...]`; later settings win.
    pub fn parse(arg: &str) -> Result<ChaosConfig, ChaosError> {
        let mut seed = None;
        let mut rate_ppm = CHAOS_RATE_DEFAULT_PPM;
        let mut kinds = ChaosKind::ALL.to_vec();
        for item in arg.split(',').filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some(("seed", v)) => {
                    seed = Some(v.parse().map_err(|_| ChaosError::Seed(v.to_owned()))?);
                }
                Some(("rate", v)) => {
                    rate_ppm = parse_rate(v).ok_or_else(|| ChaosError::Rate(v.to_owned()))?;
                }
                Some(("kinds", v)) => {
                    let mut named = Vec::new();
                    for name in v.split('+') {
                        named.push(
                            ChaosKind::parse(name)
                                .ok_or_else(|| ChaosError::Kind(name.to_owned()))?,
                        );
                    }
                    named.sort_unstable();
                    named.dedup();
                    kinds = named;
                }
                _ => return Err(ChaosError::Setting(item.to_owned())),
            }
        }
        Ok(ChaosConfig {
            seed: seed.ok_or(ChaosError::NoSeed)?,
            rate_ppm,
            kinds,
        })
    }

    /// The argument that parses back to this configuration.
    pub fn to_arg(&self) -> String {
        let whole = self.rate_ppm / CHAOS_RATE_SCALE_PPM;
        let frac = self.rate_ppm % CHAOS_RATE_SCALE_PPM;
        let rate = if frac == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{frac:06}").trim_end_matches('0'))
        };
        let kinds = self
            .kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join("+");
        format!("seed={},rate={rate},kinds={kinds}", self.seed)
    }
}

/// The chaos rng and what chaos has done to the machine so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosState {
    /// The chaos rng (apart from the machine's, whose draws it leaves alone).
    pub rng: Rng,
    /// Display clients chaos connected, to pick a port and one to disconnect.
    pub display_clients: u64,
    /// A drive whose tray chaos locked for the current command.
    pub locked_drive: Option<String>,
}

impl ChaosState {
    /// The state for `config`.
    pub fn new(config: &ChaosConfig) -> Self {
        ChaosState {
            rng: Rng::new(config.seed),
            display_clients: 0,
            locked_drive: None,
        }
    }
}

/// How one message leaves (see [`Machine::chaos_shape`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Byte offsets where the message is cut, increasing, inside it.
    pub cuts: Vec<usize>,
    /// Virtual time before the first piece leaves.
    pub first_delay_ns: u64,
    /// Virtual time between two pieces.
    pub piece_delay_ns: u64,
}

impl Machine {
    /// Whether `kind` happens at this decision point: one draw of the chaos
    /// rng when the kind is enabled, none otherwise.
    pub fn chaos_roll(&mut self, kind: ChaosKind) -> bool {
        let Some(config) = &self.config.chaos else {
            return false;
        };
        if !config.kinds.contains(&kind) {
            return false;
        }
        let rate = u64::from(config.rate_ppm);
        let Some(state) = self.chaos.as_mut() else {
            return false;
        };
        state.rng.range(0, u64::from(CHAOS_RATE_SCALE_PPM) - 1) < rate
    }

    /// A draw in `lo..=hi` from the chaos rng (`lo` without chaos).
    fn chaos_pick(&mut self, lo: u64, hi: u64) -> u64 {
        match self.chaos.as_mut() {
            Some(state) => state.rng.range(lo, hi),
            None => lo,
        }
    }

    /// The decision point between a command and its reply: maybe an event,
    /// maybe a guest-driven state change. What they send is queued now, so it
    /// precedes the reply.
    pub fn chaos_gap(&mut self) {
        if self.chaos_roll(ChaosKind::Events) {
            self.chaos_event();
        }
        if self.chaos_roll(ChaosKind::Guest) {
            self.chaos_guest();
        }
    }

    /// An event that can come at any moment.
    fn chaos_event(&mut self) {
        let vnc = self
            .display
            .vnc
            .as_ref()
            .is_some_and(|v| v.server_end().is_some());
        let spice = self.display.spice.is_some();
        let choices = 1 + u64::from(vnc) + u64::from(spice);
        let choice = self.chaos_pick(0, choices - 1);
        let port = CHAOS_CLIENT_PORT_FIRST + self.chaos.as_ref().map_or(0, |s| s.display_clients);
        let addr = SockAddr {
            host: "127.0.0.1".to_owned(),
            service: port.to_string(),
            family: "ipv4".to_owned(),
        };
        // A failed happening (a client limit reached) simply shows nothing.
        match (choice, vnc) {
            (0, _) => {
                let offset = i64::try_from(self.chaos_pick(0, 7200)).unwrap_or(0) - 3600;
                let _ = self.rtc_set(offset);
            }
            (1, true) => {
                let _ = self.vnc_client_connect(VncClient {
                    addr,
                    x509_dname: None,
                    sasl_username: None,
                });
                self.chaos_count_client();
            }
            _ => {
                let _ = self.spice_channel_connect(SpiceChannelRequest {
                    client: addr,
                    connection_id: None,
                    channel_type: super::display::SPICE_CHANNEL_MAIN,
                    channel_id: 0,
                    tls: false,
                });
                self.chaos_count_client();
            }
        }
    }

    fn chaos_count_client(&mut self) {
        if let Some(state) = self.chaos.as_mut() {
            state.display_clients += 1;
        }
    }

    /// A guest-driven state change: reboot, an I/O error, or (one time in
    /// eight) a power-off.
    fn chaos_guest(&mut self) {
        match self.chaos_pick(0, 7) {
            0 => self.guest_power_off(),
            1..=3 => self.run_request(Request::Reset),
            _ => {
                let drive = self.devices.block.first_with_medium();
                match drive {
                    Some(drive) => {
                        let _ = self.block_io_error(&drive, IoOperation::Write, IoErrno::Enospc);
                    }
                    None => self.run_request(Request::Reset),
                }
            }
        }
        self.run_requests();
    }

    /// Before command `name` runs (its arguments checked): for `eject` and
    /// `change` of a removable, unlocked drive, the guest may hold its tray
    /// locked for the duration of the command.
    pub fn chaos_before_command(&mut self, name: &str, args: &QDict) {
        if !matches!(name, "eject" | "change") {
            return;
        }
        let Some(device) = args.get_str("device") else {
            return;
        };
        let lockable = self
            .devices
            .block
            .find(device)
            .is_some_and(|d| d.removable && !d.locked);
        if !lockable || !self.chaos_roll(ChaosKind::Failures) {
            return;
        }
        if let Some(d) = self.devices.block.find_mut(device) {
            d.locked = true;
        }
        if let Some(state) = self.chaos.as_mut() {
            state.locked_drive = Some(device.to_owned());
        }
    }

    /// After command `name` ran (`ok`: it succeeded): the tray chaos locked
    /// is unlocked again; a migration just started may be set to fail at a
    /// random point or to crawl; a balloon target may be approached slowly.
    pub fn chaos_after_command(&mut self, name: &str, ok: bool) {
        if let Some(device) = self.chaos.as_mut().and_then(|s| s.locked_drive.take()) {
            if let Some(d) = self.devices.block.find_mut(&device) {
                d.locked = false;
            }
        }
        if !ok || !matches!(name, "migrate" | "balloon") || !self.chaos_roll(ChaosKind::Failures) {
            return;
        }
        let factor = self.chaos_pick(2, CHAOS_SLOW_FACTOR_MAX);
        match name {
            "migrate" if self.chaos_pick(0, 1) == 0 => {
                let percent = self.chaos_pick(0, 99);
                self.fault_migration_fail_at(percent);
            }
            "migrate" => self.faults.migration_slow_factor = factor,
            _ => self.faults.balloon = super::faults::BalloonFault::Slow { factor },
        }
    }

    /// How a message of `len` bytes to a QMP client leaves: cut into pieces
    /// (`split`), held back (`delay`). `timed` is false with the manual clock,
    /// where nothing is held back.
    pub fn chaos_shape(&mut self, len: usize, timed: bool) -> Shape {
        let mut shape = Shape {
            cuts: Vec::new(),
            first_delay_ns: 0,
            piece_delay_ns: 0,
        };
        if len > 1 && self.chaos_roll(ChaosKind::Split) {
            let max = u64::try_from(CHAOS_PIECES_MAX.min(len)).unwrap_or(2);
            let pieces = self.chaos_pick(2, max);
            let last = u64::try_from(len - 1).unwrap_or(u64::MAX);
            for _ in 1..pieces {
                let cut = usize::try_from(self.chaos_pick(1, last)).unwrap_or(1);
                shape.cuts.push(cut);
            }
            shape.cuts.sort_unstable();
            shape.cuts.dedup();
            if timed {
                shape.piece_delay_ns = self.chaos_pick(1, CHAOS_DELAY_NS_MAX);
            }
        }
        if timed && self.chaos_roll(ChaosKind::Delay) {
            shape.first_delay_ns = self.chaos_pick(1, CHAOS_DELAY_NS_MAX);
        }
        shape
    }

    /// After a reply: whether the server drops this client's connection now.
    pub fn chaos_disconnect(&mut self, client: u32) {
        if self.chaos_roll(ChaosKind::Disconnect) {
            self.faults.monitor_drops.push(Some(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    #[test]
    fn parse_takes_seed_rate_and_kinds() {
        let c = ChaosConfig::parse("seed=7,rate=0.25,kinds=split+events").unwrap();
        assert_eq!(
            c,
            ChaosConfig {
                seed: 7,
                rate_ppm: 250_000,
                kinds: vec![ChaosKind::Events, ChaosKind::Split],
            }
        );
    }

    #[test]
    fn parse_defaults_rate_and_every_kind() {
        let c = ChaosConfig::parse("seed=1").unwrap();
        assert_eq!((c.rate_ppm, c.kinds.len()), (CHAOS_RATE_DEFAULT_PPM, 6));
    }

    #[test]
    fn to_arg_parses_back() {
        let c = ChaosConfig::parse("seed=3,rate=0.125,kinds=guest").unwrap();
        assert_eq!(ChaosConfig::parse(&c.to_arg()), Ok(c));
    }

    #[test]
    fn parse_refuses_each_bad_value() {
        let errors: Vec<String> = [
            "rate=0.1",
            "seed=x",
            "seed=1,rate=1.5",
            "seed=1,rate=0.1234567",
            "seed=1,kinds=split+boom",
            "seed=1,speed=3",
        ]
        .iter()
        .map(|a| ChaosConfig::parse(a).unwrap_err().to_string())
        .collect();
        assert_eq!(
            errors,
            [
                "seed=N is missing",
                "seed takes an unsigned number, not 'x'",
                "rate takes a probability from 0 to 1 with at most 6 decimals, not '1.5'",
                "rate takes a probability from 0 to 1 with at most 6 decimals, not '0.1234567'",
                "unknown kind 'boom' (kinds=events+guest+failures+split+delay+disconnect)",
                "unknown setting 'speed=3' (seed=N, rate=P, kinds=a+b+...)",
            ]
        );
    }

    #[test]
    fn rate_at_one_is_accepted_and_past_it_refused() {
        assert_eq!(
            (
                parse_rate("1"),
                parse_rate("1.000000"),
                parse_rate("1.000001")
            ),
            (Some(CHAOS_RATE_SCALE_PPM), Some(CHAOS_RATE_SCALE_PPM), None)
        );
    }

    fn chaotic(arg: &str) -> Machine {
        Machine::new(MachineConfig {
            chaos: Some(ChaosConfig::parse(arg).unwrap()),
            ..MachineConfig::default()
        })
    }

    #[test]
    fn rate_one_always_rolls_an_enabled_kind() {
        let mut m = chaotic("seed=5,rate=1,kinds=split");
        assert_eq!(
            (
                m.chaos_roll(ChaosKind::Split),
                m.chaos_roll(ChaosKind::Delay)
            ),
            (true, false)
        );
    }

    #[test]
    fn events_without_a_display_move_the_rtc_up_to_an_hour_either_way() {
        let mut m = chaotic("seed=5,rate=1,kinds=events");
        let offsets: Vec<i64> = (0..64)
            .map(|_| {
                m.chaos_event();
                m.rtc.offset_s
            })
            .collect();
        assert!(
            offsets.iter().all(|o| (-3600..=3600).contains(o)),
            "{offsets:?}"
        );
        assert!(offsets.iter().any(|o| *o < 0), "{offsets:?}");
        assert!(offsets.iter().any(|o| *o > 0), "{offsets:?}");
    }

    #[test]
    fn events_with_a_vnc_display_connect_vnc_clients() {
        let mut m = Machine::new(MachineConfig {
            chaos: Some(ChaosConfig::parse("seed=5,rate=1,kinds=events").unwrap()),
            vnc: Some("127.0.0.1:0".into()),
            ..MachineConfig::default()
        });
        for _ in 0..16 {
            m.chaos_gap();
        }
        let clients = m.display.vnc.as_ref().map_or(0, |v| v.clients.len());
        assert!(
            clients > 0,
            "16 events, both kinds likely: {clients} VNC clients"
        );
        assert_eq!(
            Some(u64::try_from(clients).unwrap()),
            m.chaos.as_ref().map(|s| s.display_clients)
        );
        // Each client comes from the next port.
        let ports: Vec<String> = m
            .display
            .vnc
            .as_ref()
            .unwrap()
            .clients
            .iter()
            .map(|c| c.addr.service.clone())
            .collect();
        let mut expected: Vec<String> = (0..clients as u64)
            .map(|i| (CHAOS_CLIENT_PORT_FIRST + i).to_string())
            .collect();
        expected.reverse();
        let (mut got, mut want) = (ports.clone(), expected);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{ports:?}");
    }

    #[test]
    fn guest_kind_changes_the_guest_at_a_gap() {
        let mut m = chaotic("seed=5,rate=1,kinds=guest");
        m.events.drain();
        m.chaos_gap();
        let names = m.events.drain_names();
        assert!(
            names.iter().any(|n| n == "RESET" || n == "SHUTDOWN"),
            "{names:?}"
        );
    }

    fn eject_cd(m: &mut Machine) -> bool {
        let args = QDict::new().with("device", "ide1-cd0");
        m.chaos_before_command("eject", &args);
        m.devices.block.find("ide1-cd0").unwrap().locked
    }

    #[test]
    fn failures_lock_a_removable_drive_only_when_rolled() {
        assert!(!eject_cd(&mut chaotic("seed=5,rate=0,kinds=failures")));
        let mut m = chaotic("seed=5,rate=1,kinds=failures");
        assert!(eject_cd(&mut m));
        assert_eq!(
            m.chaos.as_ref().unwrap().locked_drive.as_deref(),
            Some("ide1-cd0")
        );
    }

    #[test]
    fn rate_zero_never_rolls() {
        let mut m = chaotic("seed=5,rate=0");
        assert!(!m.chaos_roll(ChaosKind::Split));
    }

    #[test]
    fn shape_pieces_stay_within_limit_and_inside_the_message() {
        let mut m = chaotic("seed=9,rate=1,kinds=split");
        let shape = m.chaos_shape(100, true);
        assert!(
            !shape.cuts.is_empty()
                && shape.cuts.len() < CHAOS_PIECES_MAX
                && shape.cuts.iter().all(|c| (1..100).contains(c)),
            "{shape:?}"
        );
    }

    #[test]
    fn shape_with_manual_clock_has_no_delay() {
        let mut m = chaotic("seed=9,rate=1,kinds=split+delay");
        let shape = m.chaos_shape(100, false);
        assert_eq!((shape.first_delay_ns, shape.piece_delay_ns), (0, 0));
    }

    #[test]
    fn shape_delays_stay_within_the_limit() {
        let mut m = chaotic("seed=13,rate=1,kinds=split+delay");
        let shape = m.chaos_shape(100, true);
        assert!(
            (1..=CHAOS_DELAY_NS_MAX).contains(&shape.first_delay_ns)
                && (1..=CHAOS_DELAY_NS_MAX).contains(&shape.piece_delay_ns),
            "{shape:?}"
        );
    }

    #[test]
    fn failed_balloon_slow_down_stays_within_the_limit() {
        let mut m = Machine::new(MachineConfig {
            chaos: Some(ChaosConfig::parse("seed=2,rate=1,kinds=failures").unwrap()),
            balloon: Some(crate::machine::config::OptionList::from_iter([(
                "driver", "virtio",
            )])),
            ..MachineConfig::default()
        });
        m.chaos_after_command("balloon", true);
        let factor = match m.faults.balloon {
            crate::machine::faults::BalloonFault::Slow { factor } => factor,
            other => panic!("not slowed: {other:?}"),
        };
        assert!((2..=CHAOS_SLOW_FACTOR_MAX).contains(&factor), "{factor}");
    }

    #[test]
    fn same_seed_same_shapes() {
        let mut a = chaotic("seed=11,rate=0.5");
        let mut b = chaotic("seed=11,rate=0.5");
        assert_eq!(a.chaos_shape(80, true), b.chaos_shape(80, true));
    }
}
