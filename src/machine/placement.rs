//! One asynchronous happening placed at a chosen *gap* of the monitor byte
//! stream (`-x-explore-gap`), the mechanism behind `qmpsim explore` and the
//! event rows of `qmpsim conformance`.
//!
//! Gaps are numbered from 0 in the order the engine meets them, over every
//! client of every monitor: a connect has two (before its greeting, right after
//! it), and every complete message a client sends has one, between the moment
//! its command took effect and its reply (so the one of `qmp_capabilities` lies
//! after the session entered command mode, and its event precedes the reply).
//! With `when=after` the message's gap lies right after its reply instead. The
//! engine counts gaps in every run ([`crate::engine::EngineState::gaps`]), so a
//! clean run tells how many there are.
//!
//! A [`Placement`] is part of the machine configuration, hence of a trace's
//! header: a recorded run replays with the same happening at the same gap. The
//! happening is what a guest or the outside world can do to 0.14 at any moment
//! ([`Happening`]); its events are those 0.14 sends for it, and they reach only
//! clients in command mode, as every event does. A happening the machine cannot
//! show (RESUME of a running VM, VNC_CONNECTED without `-vnc`) changes nothing
//! and says why on stderr. Pure: no I/O, no clock.

use serde::{Deserialize, Serialize};

use super::devices::block::{IoErrno, IoOperation};
use super::display::{SockAddr, VncClient};
use super::{Effect, Machine, Request, RunState};
use crate::qobject::QmpError;

/// First TCP port of the VNC clients a VNC_CONNECTED happening connects (each
/// further one takes the next port, so that `every` gives distinct clients).
pub const VNC_CLIENT_PORT_FIRST: u16 = 50_000;

/// Something that happens to the VM at a gap, named by the event it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Happening {
    /// The VCPUs stop (a debug exception, an I/O error with `werror=stop`): STOP.
    Stop,
    /// A paused VM starts again: RESUME.
    Resume,
    /// The guest reboots: RESET.
    Reset,
    /// The guest powers off: SHUTDOWN, then exit (or a stop with `-no-shutdown`).
    Shutdown,
    /// The ACPI power button is pressed: POWERDOWN; the guest shuts down later.
    Powerdown,
    /// A guest write to the first drive with a medium fails with EIO:
    /// BLOCK_IO_ERROR, and STOP when the drive's `werror` says so.
    BlockIoError,
    /// A VNC client connects and authenticates: VNC_CONNECTED, VNC_INITIALIZED.
    VncConnected,
    /// The guest moves its RTC one second further ahead: RTC_CHANGE.
    RtcChange,
    /// The watchdog expires: WATCHDOG, then its `-watchdog-action`.
    Watchdog,
}

impl Happening {
    /// Every happening, in the order `--help` lists them.
    pub const ALL: [Happening; 9] = [
        Happening::Stop,
        Happening::Resume,
        Happening::Reset,
        Happening::Shutdown,
        Happening::Powerdown,
        Happening::BlockIoError,
        Happening::VncConnected,
        Happening::RtcChange,
        Happening::Watchdog,
    ];

    /// The name of the (first) event it shows.
    pub fn name(self) -> &'static str {
        match self {
            Happening::Stop => "STOP",
            Happening::Resume => "RESUME",
            Happening::Reset => "RESET",
            Happening::Shutdown => "SHUTDOWN",
            Happening::Powerdown => "POWERDOWN",
            Happening::BlockIoError => "BLOCK_IO_ERROR",
            Happening::VncConnected => "VNC_CONNECTED",
            Happening::RtcChange => "RTC_CHANGE",
            Happening::Watchdog => "WATCHDOG",
        }
    }

    /// The happening named `name` (an event name, any case).
    pub fn parse(name: &str) -> Option<Happening> {
        Happening::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }
}

/// Which gaps a placement takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GapSelector {
    /// Gap number N (from 0).
    One(u64),
    /// Every gap.
    Every,
}

/// Where a message's gap lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GapSide {
    /// After the command took effect, before its reply.
    BeforeReply,
    /// Right after the reply.
    AfterReply,
}

/// `-x-explore-gap GAP,event=NAME[,when=before|after]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Which gaps.
    pub gap: GapSelector,
    /// What happens there.
    pub happening: Happening,
    /// Where a message's gap lies.
    pub side: GapSide,
}

/// Why a `-x-explore-gap` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The first item is neither a number nor `every`.
    #[error("the gap must be a number or 'every', not '{0}'")]
    Gap(String),
    /// `event=` names no happening.
    #[error("unknown event '{0}' (one of {names})", names = happening_names())]
    Event(String),
    /// `event=` is missing.
    #[error("event=NAME is missing")]
    NoEvent,
    /// `when=` is neither `before` nor `after`.
    #[error("when takes before or after, not '{0}'")]
    When(String),
    /// An item that is none of the above.
    #[error("unknown setting '{0}' (event=NAME, when=before|after)")]
    Setting(String),
}

/// The happening names, comma-separated, for messages and help.
pub fn happening_names() -> String {
    Happening::ALL.map(Happening::name).join(", ")
}

impl Placement {
    /// Parses `GAP,event=NAME[,when=before|after]`.
    pub fn parse(arg: &str) -> Result<Placement, PlacementError> {
        let mut items = arg.split(',');
        let first = items.next().unwrap_or_default();
        let gap = match first {
            "every" => GapSelector::Every,
            n => GapSelector::One(n.parse().map_err(|_| PlacementError::Gap(n.to_owned()))?),
        };
        let mut happening = None;
        let mut side = GapSide::BeforeReply;
        for item in items.filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some(("event", name)) => {
                    happening = Some(
                        Happening::parse(name)
                            .ok_or_else(|| PlacementError::Event(name.to_owned()))?,
                    );
                }
                Some(("when", "before")) => side = GapSide::BeforeReply,
                Some(("when", "after")) => side = GapSide::AfterReply,
                Some(("when", other)) => return Err(PlacementError::When(other.to_owned())),
                _ => return Err(PlacementError::Setting(item.to_owned())),
            }
        }
        Ok(Placement {
            gap,
            happening: happening.ok_or(PlacementError::NoEvent)?,
            side,
        })
    }

    /// The argument that parses back to this placement.
    pub fn to_arg(&self) -> String {
        let gap = match self.gap {
            GapSelector::One(n) => n.to_string(),
            GapSelector::Every => "every".to_owned(),
        };
        let when = match self.side {
            GapSide::BeforeReply => "",
            GapSide::AfterReply => ",when=after",
        };
        format!("{gap},event={}{when}", self.happening.name())
    }

    /// Whether gap number `gap` is taken.
    pub fn takes(&self, gap: u64) -> bool {
        match self.gap {
            GapSelector::One(n) => n == gap,
            GapSelector::Every => true,
        }
    }
}

impl Machine {
    /// Carries out `happening` now (at gap number `gap`): its events are queued
    /// and main-loop work it asks for runs at once, so that everything it shows
    /// precedes what the engine sends next. Work other code queued is left for
    /// its usual turn. A happening the machine cannot show changes nothing and
    /// leaves one line on stderr.
    pub fn place(&mut self, happening: Happening, gap: u64) {
        if let Err(why) = self.try_place(happening, gap) {
            self.effects.push(Effect::Stderr {
                text: format!(
                    "qmpsim: -x-explore-gap: no {} at gap {gap}: {why}\n",
                    happening.name()
                ),
            });
        }
    }

    fn try_place(&mut self, happening: Happening, gap: u64) -> Result<(), String> {
        match happening {
            Happening::Stop => match self.run_state {
                RunState::Running => self.vm_stop(),
                _ => return Err("the VM is not running".to_owned()),
            },
            Happening::Resume => match self.run_state {
                RunState::Paused => self.vm_start(),
                _ => return Err("the VM is not paused".to_owned()),
            },
            Happening::Reset => self.run_request(Request::Reset),
            Happening::Shutdown => self.run_request(Request::Shutdown { force_exit: false }),
            Happening::Powerdown => self.run_request(Request::Powerdown),
            Happening::BlockIoError => {
                let drive = self.devices.block.first_with_medium();
                let drive = drive.ok_or_else(|| "no drive has a medium".to_owned())?;
                self.block_io_error(&drive, IoOperation::Write, IoErrno::Eio)
                    .map_err(|e| describe(&e))?;
            }
            Happening::VncConnected => {
                let port = u64::from(VNC_CLIENT_PORT_FIRST).saturating_add(gap);
                self.vnc_client_connect(VncClient {
                    addr: SockAddr {
                        host: "127.0.0.1".to_owned(),
                        service: port.to_string(),
                        family: "ipv4".to_owned(),
                    },
                    x509_dname: None,
                    sasl_username: None,
                })
                .map_err(|e| describe(&e))?;
            }
            Happening::RtcChange => {
                let offset = self.rtc.offset_s.saturating_add(1);
                self.rtc_set(offset).map_err(|e| describe(&e))?;
            }
            Happening::Watchdog => {
                self.watchdog_expire().map_err(|e| describe(&e))?;
                // Its reset or power-down request runs now, like the others'.
                let requests = std::mem::take(&mut self.requests);
                let (own, rest): (Vec<Request>, Vec<Request>) = requests
                    .into_iter()
                    .partition(|r| matches!(r, Request::Reset | Request::Powerdown));
                self.requests = rest;
                for request in own.into_iter().take(1) {
                    self.run_request(request);
                }
            }
        }
        Ok(())
    }
}

/// A QMP error as one line for people (its 0.14 `desc`).
fn describe(e: &QmpError) -> String {
    e.desc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    #[test]
    fn parse_number_and_event_takes_that_gap() {
        let p = Placement::parse("3,event=stop").unwrap();
        assert_eq!(
            p,
            Placement {
                gap: GapSelector::One(3),
                happening: Happening::Stop,
                side: GapSide::BeforeReply
            }
        );
    }

    #[test]
    fn parse_every_after_round_trips() {
        let p = Placement::parse("every,event=RTC_CHANGE,when=after").unwrap();
        assert_eq!(Placement::parse(&p.to_arg()), Ok(p));
    }

    #[test]
    fn parse_without_event_is_refused() {
        assert_eq!(Placement::parse("2"), Err(PlacementError::NoEvent));
    }

    #[test]
    fn parse_unknown_event_names_the_known_ones() {
        assert_eq!(
            Placement::parse("2,event=NOPE").unwrap_err().to_string(),
            "unknown event 'NOPE' (one of STOP, RESUME, RESET, SHUTDOWN, POWERDOWN, \
             BLOCK_IO_ERROR, VNC_CONNECTED, RTC_CHANGE, WATCHDOG)"
        );
    }

    #[test]
    fn parse_bad_gap_is_refused() {
        assert_eq!(
            Placement::parse("x,event=STOP"),
            Err(PlacementError::Gap("x".to_owned()))
        );
    }

    #[test]
    fn parse_bad_when_is_refused() {
        assert_eq!(
            Placement::parse("1,event=STOP,when=never"),
            Err(PlacementError::When("never".to_owned()))
        );
    }

    #[test]
    fn happening_names_parse_back() {
        let back: Vec<Option<Happening>> = Happening::ALL
            .iter()
            .map(|h| Happening::parse(h.name()))
            .collect();
        assert_eq!(back, Happening::ALL.map(Some));
    }

    #[test]
    fn place_stop_on_running_vm_stops_it() {
        let mut m = Machine::new(MachineConfig::default());
        m.place(Happening::Stop, 0);
        assert_eq!(
            (m.run_state, m.events.drain_names()),
            (RunState::Paused, vec!["STOP".to_owned()])
        );
    }

    #[test]
    fn place_resume_on_running_vm_says_why_on_stderr() {
        let mut m = Machine::new(MachineConfig::default());
        m.place(Happening::Resume, 4);
        assert_eq!(
            m.effects,
            [Effect::Stderr {
                text: "qmpsim: -x-explore-gap: no RESUME at gap 4: the VM is not paused\n"
                    .to_owned()
            }]
        );
    }

    #[test]
    fn place_reset_runs_it_at_once_and_leaves_other_requests() {
        let mut m = Machine::new(MachineConfig::default());
        m.requests.push(Request::Powerdown);
        m.place(Happening::Reset, 0);
        assert_eq!(
            (m.events.drain_names(), m.requests.clone()),
            (vec!["RESET".to_owned()], vec![Request::Powerdown])
        );
    }

    #[test]
    fn place_rtc_change_moves_the_offset_by_one_second() {
        let mut m = Machine::new(MachineConfig::default());
        m.place(Happening::RtcChange, 0);
        m.place(Happening::RtcChange, 1);
        assert_eq!(m.rtc.offset_s, 2);
    }

    #[test]
    fn place_block_io_error_without_drives_says_why() {
        let mut m = Machine::new(MachineConfig {
            nodefaults: true,
            ..MachineConfig::default()
        });
        m.place(Happening::BlockIoError, 2);
        assert_eq!(
            m.effects,
            [Effect::Stderr {
                text: "qmpsim: -x-explore-gap: no BLOCK_IO_ERROR at gap 2: no drive has a medium\n"
                    .to_owned()
            }]
        );
    }

    #[test]
    fn place_what_the_machine_refuses_gives_the_error_text_on_stderr() {
        for (happening, why) in [
            (
                Happening::VncConnected,
                "Device 'vnc' has not been activated",
            ),
            (
                Happening::Watchdog,
                "Device 'watchdog' has not been activated",
            ),
        ] {
            let mut m = Machine::new(MachineConfig::default());
            m.place(happening, 1);
            let text = format!(
                "qmpsim: -x-explore-gap: no {} at gap 1: {why}\n",
                happening.name()
            );
            assert_eq!(m.effects, [Effect::Stderr { text }]);
        }
    }

    #[test]
    fn takes_one_gap_only_that_one() {
        let p = Placement::parse("2,event=STOP").unwrap();
        assert_eq!((p.takes(1), p.takes(2), p.takes(3)), (false, true, false));
    }
}
