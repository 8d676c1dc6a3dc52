//! The VM model: configuration, run state, virtual clock, timers, the seeded rng,
//! the event queue and the devices, all plain serde data in one [`Machine`].
//!
//! Nothing here does I/O. Side effects leave as [`Effect`] values; events are queued
//! for the engine to broadcast; "main loop" requests (reset, shutdown, power-down)
//! are queued and run by the engine after the command's response, as 0.14's main
//! loop does. Every collection is a `Vec` or `BTreeMap`, so iteration order is part
//! of the data.

pub mod balloon;
pub mod chaos;
pub mod clock;
pub mod config;
pub mod devices;
pub mod display;
pub mod events;
pub mod faults;
pub mod guest;
pub mod incoming;
pub mod inject;
pub mod memory;
pub mod migration;
pub mod placement;
pub mod rng;
pub mod rtc;
pub mod scenario_steps;
pub mod snapshots;
pub mod timers;
pub mod watchdog;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use clock::{Clock, VirtualTime};
use config::{ImageProbe, MachineConfig};
use devices::Devices;
use events::{Event, EventQueue, QueuedEvent};
use memory::FileBytes;
use rng::Rng;
use timers::Timer;

/// Whether the VCPUs run, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    /// Executing guest code.
    Running,
    /// Stopped by `-S`, `stop`, or an error/watchdog action.
    Paused,
    /// Waiting for an incoming migration (`-incoming`).
    InMigrate,
    /// The guest shut down and `-no-shutdown` kept QEMU alive.
    Shutdown,
}

impl RunState {
    /// Whether `query-status` reports `running: true`.
    pub fn is_running(self) -> bool {
        match self {
            RunState::Running => true,
            RunState::Paused | RunState::InMigrate | RunState::Shutdown => false,
        }
    }
}

/// Work 0.14 defers to its main loop: it runs after the current command's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `qemu_system_reset_request`.
    Reset,
    /// `qemu_system_shutdown_request` (guest power-off, `quit`, a signal).
    Shutdown {
        /// Exit even with `-no-shutdown` (`quit` clears it).
        force_exit: bool,
    },
    /// `qemu_system_powerdown_request` (ACPI power button).
    Powerdown,
}

/// A side effect for the edge to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Close a passed file descriptor the machine no longer holds.
    CloseFd {
        /// The edge's handle of the descriptor.
        fd: u64,
    },
    /// Create or truncate `path` and write `bytes` to it (`memsave`,
    /// `pmemsave`, `screendump`). 0.14 opens the file inside the command; here
    /// the command has already answered `{}`, so the edge reports a failure to
    /// open or write on stderr (see `docs/compat.md`).
    WriteFile {
        /// The file name as the client gave it.
        path: String,
        /// The contents.
        bytes: FileBytes,
    },
    /// Open the channel of outgoing migration `id` and start streaming to it:
    /// connect for `tcp:`/`unix:`, spawn `sh -c` for `exec:`, or use the passed
    /// descriptor `fd` for `fd:` (ownership moves to the edge, which closes it
    /// when the migration ends). The edge reports a channel that cannot be
    /// opened, or breaks later, with `Input::MigrationFailed { id }`. Progress is
    /// modelled in virtual time (see [`migration`]), so the edge never reports it.
    MigrationStart {
        /// The migration's id.
        id: u64,
        /// The URI as given to `migrate`.
        uri: String,
        /// For `fd:` URIs, the edge's handle of the named descriptor.
        fd: Option<u64>,
        /// Bytes the model will count as sent (RAM plus disks for `blk`).
        total_bytes: u64,
    },
    /// Migration `id` sent `bytes` more of its stream in the model (one
    /// rate-limited chunk, or the final stage's remainder): write them. When the
    /// destination falls behind, the edge reports `Input::MigrationStalled`.
    MigrationData {
        /// The migration's id.
        id: u64,
        /// How many bytes.
        bytes: u64,
    },
    /// Migration `id` completed in the model (the VM is stopped): write the end
    /// of the stream, the machine's state snapshot, and close the channel.
    MigrationFinish {
        /// The migration's id.
        id: u64,
    },
    /// Migration `id` was cancelled: close the channel without finishing.
    MigrationCancel {
        /// The migration's id.
        id: u64,
    },
    /// Write `text` to the process's stderr, as 0.14 prints a diagnostic there
    /// (the watchdog's `debug` action), or for qmpsim's own diagnostics (a client
    /// refused past `engine::CLIENTS_MAX`).
    Stderr {
        /// The text, newline included.
        text: String,
    },
}

/// 0.14's remembered `/fmt` (`default_fmt_format`, `default_fmt_size`), one for
/// every monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatDefaults {
    /// The format letter.
    pub format: i64,
    /// The unit size in bytes (-1 for `i`).
    pub size: i64,
}

impl Default for FormatDefaults {
    fn default() -> Self {
        FormatDefaults {
            format: i64::from(b'x'),
            size: 4,
        }
    }
}

/// The whole VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// The configuration it was built from.
    pub config: MachineConfig,
    /// Virtual time and timers.
    pub clock: Clock,
    /// The one rng.
    pub rng: Rng,
    /// Run state.
    pub run_state: RunState,
    /// Events waiting to be broadcast.
    pub events: EventQueue,
    /// Main-loop requests waiting to run.
    pub requests: Vec<Request>,
    /// Effects waiting for the edge.
    pub effects: Vec<Effect>,
    /// Set once the machine has decided to exit, with the status.
    pub exit_code: Option<i32>,
    /// VNC, SPICE and the screen.
    pub display: display::DisplayState,
    /// Outgoing migration.
    pub migration: migration::MigrationState,
    /// The virtio balloon, when the configuration has one.
    pub balloon: Option<balloon::BalloonState>,
    /// Descriptors named with `getfd`, per monitor (0.14 keeps them in the
    /// `Monitor`, so they outlive a client's connection), as edge handles.
    pub named_fds: BTreeMap<u32, BTreeMap<String, u64>>,
    /// The devices and the simulated guest.
    pub devices: Devices,
    /// What the edge found when it probed image files a client may name in
    /// `change` (filled by `Input::ImageProbed`); a name without a probe is a
    /// file that cannot be opened.
    pub image_probes: BTreeMap<String, ImageProbe>,
    /// The watchdog action.
    pub watchdog: watchdog::Watchdog,
    /// The RTC's offset from host time.
    pub rtc: rtc::Rtc,
    /// Internal snapshots (`savevm`), per drive name (see [`snapshots`]).
    pub snapshots: BTreeMap<String, snapshots::SnapshotTable>,
    /// Single-step mode (`-singlestep`, the human monitor's `singlestep`), as
    /// `query-status` reports it.
    pub singlestep: bool,
    /// The human monitor's remembered `/fmt` (0.14 keeps one for all monitors).
    pub monitor_format: FormatDefaults,
    /// Injected faults in force (see [`faults`]).
    pub faults: faults::FaultState,
    /// Progress through the `-x-scenario` steps (see [`scenario_steps`]).
    pub scenario: scenario_steps::ScenarioState,
    /// The chaos rng and its doings, with `-x-chaos` (see [`chaos`]).
    pub chaos: Option<chaos::ChaosState>,
}

impl Machine {
    /// Builds the machine a configuration describes, at virtual time zero.
    pub fn new(config: MachineConfig) -> Self {
        let devices = Devices::new(&config);
        // 0.14 does not autostart while an encrypted drive lacks its key.
        let run_state = if config.incoming.is_some() {
            RunState::InMigrate
        } else if config.start_paused || devices.block.first_key_required().is_some() {
            RunState::Paused
        } else {
            RunState::Running
        };
        let singlestep = config.singlestep;
        let mut display = display::DisplayState::from_config(&config);
        if run_state == RunState::Running {
            display.screen.boot_started_at = Some(VirtualTime(0));
        }
        let chaos = config.chaos.as_ref().map(chaos::ChaosState::new);
        let mut machine = Machine {
            rng: Rng::new(config.seed),
            display,
            migration: migration::MigrationState::default(),
            balloon: None,
            named_fds: BTreeMap::new(),
            watchdog: watchdog::Watchdog::from_config(&config),
            rtc: rtc::Rtc::default(),
            config,
            clock: Clock::default(),
            run_state,
            events: EventQueue::default(),
            requests: Vec::new(),
            effects: Vec::new(),
            exit_code: None,
            devices,
            image_probes: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            singlestep,
            monitor_format: FormatDefaults::default(),
            faults: faults::FaultState::default(),
            scenario: scenario_steps::ScenarioState::default(),
            chaos,
        };
        machine.scenario_start();
        machine.balloon_sync();
        machine.guest_boot();
        machine
    }

    /// Queues an event stamped with the current virtual time.
    pub fn emit(&mut self, event: Event) {
        self.scenario_event_sent(event.name());
        self.events.push(QueuedEvent {
            at: self.clock.now(),
            event,
        });
    }

    /// `vm_stop`: stops the VCPUs; emits STOP if they were running.
    pub fn vm_stop(&mut self) {
        match self.run_state {
            RunState::Running => {
                self.run_state = RunState::Paused;
                self.guest_on_stop();
                self.emit(Event::Stop);
            }
            RunState::Paused | RunState::InMigrate | RunState::Shutdown => {}
        }
    }

    /// `vm_start`: starts the VCPUs; emits RESUME if they were stopped.
    pub fn vm_start(&mut self) {
        match self.run_state {
            RunState::Running => {}
            RunState::Paused | RunState::InMigrate | RunState::Shutdown => {
                self.run_state = RunState::Running;
                self.guest_on_start();
                self.emit(Event::Resume);
                if self.display.screen.boot_started_at.is_none() {
                    let now = self.clock.now();
                    self.display.screen.boot_started_at =
                        self.run_state.is_running().then_some(now);
                }
                self.balloon_resume();
            }
        }
    }

    /// Runs the queued main-loop requests, in order.
    pub fn run_requests(&mut self) {
        while !self.requests.is_empty() {
            let request = self.requests.remove(0);
            self.run_request(request);
        }
    }

    pub(crate) fn run_request(&mut self, request: Request) {
        match request {
            Request::Reset => {
                if self.config.no_reboot {
                    self.shutdown(false);
                } else {
                    self.guest_on_reset();
                    self.emit(Event::Reset);
                    // The firmware starts again in VGA text mode.
                    self.display.screen.boot_started_at = Some(self.clock.now());
                }
            }
            Request::Shutdown { force_exit } => self.shutdown(force_exit),
            Request::Powerdown => {
                self.emit(Event::Powerdown);
                self.guest_on_powerdown();
            }
        }
    }

    fn shutdown(&mut self, force_exit: bool) {
        self.emit(Event::Shutdown);
        if self.config.no_shutdown && !force_exit {
            self.vm_stop();
            self.run_state = RunState::Shutdown;
        } else {
            self.exit_code = Some(0);
        }
    }

    /// Carries out a timer that fell due.
    pub fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::GuestPowerOff => self.requests.push(Request::Shutdown { force_exit: false }),
            Timer::Reset => self.requests.push(Request::Reset),
            Timer::MigrationTick { id } => self.migration_tick(id),
            Timer::BalloonStep => self.balloon_step(),
            Timer::Guest(t) => self.guest_fire(t),
            Timer::ScenarioStep { index } => self.scenario_run(index),
        }
        self.run_requests();
    }

    /// Advances virtual time to `t`, firing every timer due on the way, in order.
    pub fn advance_to(&mut self, t: VirtualTime) {
        while let Some(timer) = self.clock.pop_due(t) {
            self.fire(timer);
        }
        self.clock.advance_to(t);
    }
}

/// A machine for `config` that has carried out `requests`, for tests.
#[cfg(test)]
pub(crate) fn after_requests(
    config: MachineConfig,
    requests: impl IntoIterator<Item = Request>,
) -> Machine {
    let mut m = Machine::new(config);
    m.requests.extend(requests);
    m.run_requests();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_when_running_emits_stop() {
        let mut m = Machine::new(MachineConfig::default());
        m.vm_stop();
        assert_eq!(
            m.events
                .drain()
                .iter()
                .map(|e| e.event.name())
                .collect::<Vec<_>>(),
            ["STOP"]
        );
    }

    #[test]
    fn stop_when_paused_emits_nothing() {
        let mut m = Machine::new(MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        });
        m.vm_stop();
        assert!(m.events.is_empty());
    }

    #[test]
    fn reset_with_no_reboot_shuts_down() {
        let mut m = Machine::new(MachineConfig {
            no_reboot: true,
            ..MachineConfig::default()
        });
        m.requests.push(Request::Reset);
        m.run_requests();
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn guest_shutdown_with_no_shutdown_stops_and_stays() {
        let mut m = after_requests(
            MachineConfig {
                no_shutdown: true,
                ..MachineConfig::default()
            },
            [Request::Shutdown { force_exit: false }],
        );
        let names: Vec<String> = m.events.drain_names();
        assert_eq!(names, ["SHUTDOWN", "STOP"]);
        assert_eq!(m.exit_code, None);
    }
}
