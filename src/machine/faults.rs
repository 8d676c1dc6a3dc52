//! Every fault kind `x-inject` and `-x-scenario` can bring about, in one
//! table ([`ACTIONS`]: name, arguments, the 0.14 behaviour reproduced, the
//! function), which drives `x-inject`'s dispatch and errors, scenario steps
//! and `docs/faults.md`. An action takes the machine and its arguments (a
//! QMP argument object, already checked against its `args_type` by the QMP
//! layer or the scenario loader), so a scenario step runs it with no client.
//!
//! Some faults act at once, through the machine's existing happenings
//! (`inject.rs`: display clients, I/O errors, RTC, watchdog; main-loop
//! requests: reboot, shutdown). The others change how the guest and the
//! outside world react later ([`FaultState`]): a guest that ignores or delays
//! the ACPI power button, a balloon driver that is slow or stuck, a migration
//! that fails at a chosen point or crawls, a hot-unplug the guest never
//! completes, and monitor connections the server drops; the model's own code
//! consults them at the moment 0.14's would act. Plain serde data, no I/O.

use serde::{Deserialize, Serialize};

use super::config::GUEST_SHUTDOWN_MS_MAX;
use super::devices::block::{IoErrno, IoOperation};
use super::display::{SockAddr, VncClient, SPICE_CHANNEL_MAIN};
use super::inject::SpiceChannelRequest;
use super::migration::MigrationStatus;
use super::timers::Timer;
use super::{Effect, Machine, Request};
use crate::qobject::{ErrorClass, QDict, QmpError};

/// Largest slow-down factor of `balloon-slow` and `migration-slow`.
pub const SLOW_FACTOR_MAX: u64 = 1000;
/// Most monitor drops pending at once (they are carried out after each message).
pub const MONITOR_DROPS_MAX: usize = 64;

/// How the guest OS treats the ACPI power button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AcpiFault {
    /// As configured (`-x-guest`).
    #[default]
    Obey,
    /// The button is ignored (a guest without acpid): POWERDOWN and nothing more.
    Ignore,
    /// The guest takes this long to shut down, in ms.
    Delay {
        /// The delay.
        ms: u64,
    },
}

/// How the guest's balloon driver moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BalloonFault {
    /// One batch per `BALLOON_STEP_NS`.
    #[default]
    Normal,
    /// One batch per `factor` × `BALLOON_STEP_NS`.
    Slow {
        /// The slow-down.
        factor: u64,
    },
    /// Not at all: `actual` stays where it is.
    Stuck,
}

/// The faults in force.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FaultState {
    /// The ACPI power button.
    pub acpi: AcpiFault,
    /// The balloon driver.
    pub balloon: BalloonFault,
    /// An active (or the next) migration fails once it has sent this
    /// percentage of its bytes.
    pub migration_fail_percent: Option<u64>,
    /// Migration ticks come this many times further apart (1: normal).
    pub migration_slow_factor: u64,
    /// The guest never ejects a slot device_del asked about.
    pub unplug_stuck: bool,
    /// Monitor connections the server is to drop: a client number, or
    /// `None` for every client. The engine carries them out after the
    /// current message.
    pub monitor_drops: Vec<Option<u32>>,
}

impl FaultState {
    /// The migration tick's slow-down factor (at least 1).
    pub fn migration_factor(&self) -> u64 {
        self.migration_slow_factor.max(1)
    }
}

/// What an [`Action`] does: change the machine and queue what 0.14 sends.
pub type ActionFn = fn(&mut Machine, &QDict) -> Result<(), QmpError>;

/// One fault kind `x-inject` and `-x-scenario` can bring about.
#[derive(Debug)]
pub struct Action {
    /// The `action` argument naming it.
    pub name: &'static str,
    /// Its arguments, in 0.14 `args_type` notation.
    pub args_type: &'static str,
    /// The arguments for people.
    pub params: &'static str,
    /// What it does, in one line.
    pub help: &'static str,
    /// The QEMU 0.14 behaviour it reproduces (events and their order).
    pub qemu: &'static str,
    /// The function.
    pub run: ActionFn,
}

/// The host of a simulated display client when the action names none.
pub const CLIENT_HOST_DEFAULT: &str = "127.0.0.1";

/// Every fault kind, in the order the docs list them.
pub static ACTIONS: &[Action] = &[
    Action {
        name: "block-io-error",
        args_type: "device:B,operation:s,error:s?",
        params: "device, operation (read|write), error? (eio|enospc, default eio)",
        help: "a guest request on a drive fails",
        qemu: "BLOCK_IO_ERROR {device, operation, action} with the action the drive's \
               rerror= (reads) or werror= (writes) gives: ignore, report, or stop, which \
               then stops the VM (STOP, if it ran); enospc only stops under enospc",
        run: act_block_io_error,
    },
    Action {
        name: "powerdown-ignore",
        args_type: "",
        params: "",
        help: "the guest ignores the ACPI power button from now on",
        qemu: "system_powerdown gives POWERDOWN and nothing more, as a guest without \
               acpid: no SHUTDOWN ever follows",
        run: act_powerdown_ignore,
    },
    Action {
        name: "powerdown-delay",
        args_type: "ms:i",
        params: "ms (0 to 3600000)",
        help: "the guest takes ms to shut down after the ACPI power button",
        qemu: "system_powerdown gives POWERDOWN; SHUTDOWN follows ms later (plus up \
               to 500 ms of seeded jitter), then QEMU exits (or stops with -no-shutdown)",
        run: act_powerdown_delay,
    },
    Action {
        name: "powerdown-obey",
        args_type: "",
        params: "",
        help: "the guest obeys the ACPI power button again, as configured",
        qemu: "system_powerdown gives POWERDOWN, then SHUTDOWN after the -x-guest delay",
        run: act_powerdown_obey,
    },
    Action {
        name: "guest-reboot",
        args_type: "",
        params: "",
        help: "the guest reboots itself",
        qemu: "qemu_system_reset_request from the guest: RESET from the main loop (after \
               the reply of the command that caused it); with -no-reboot SHUTDOWN and exit",
        run: act_guest_reboot,
    },
    Action {
        name: "guest-shutdown",
        args_type: "",
        params: "",
        help: "the guest powers itself off",
        qemu: "qemu_system_shutdown_request from the guest: SHUTDOWN from the main loop, \
               then QEMU exits; with -no-shutdown STOP follows and QEMU stays",
        run: act_guest_shutdown,
    },
    Action {
        name: "watchdog-expire",
        args_type: "",
        params: "",
        help: "the guest stops petting its watchdog, which expires",
        qemu: "WATCHDOG {action}, then the -watchdog-action: reset (RESET after the \
               reply), shutdown (POWERDOWN after the reply), poweroff (exit without \
               SHUTDOWN), pause (STOP), debug (a line on stderr), none",
        run: act_watchdog_expire,
    },
    Action {
        name: "rtc-change",
        args_type: "offset:i",
        params: "offset (seconds ahead of host time, a C int)",
        help: "the guest sets its RTC",
        qemu: "RTC_CHANGE {offset}",
        run: act_rtc_change,
    },
    Action {
        name: "vnc-connect",
        args_type: "host:s?,service:s,family:s?,x509_dname:s?,sasl_username:s?,authenticate:b?",
        params: "service, host? (127.0.0.1), family?, x509_dname?, sasl_username?, \
                 authenticate? (true)",
        help: "a VNC client connects (and authenticates, unless authenticate is false)",
        qemu: "VNC_CONNECTED {server, client} before authentication, then \
               VNC_INITIALIZED (client with x509_dname/sasl_username) after it; the \
               client heads query-vnc's list from the connect on",
        run: act_vnc_connect,
    },
    Action {
        name: "vnc-authenticate",
        args_type: "host:s?,service:s,x509_dname:s?,sasl_username:s?",
        params: "service, host?, x509_dname?, sasl_username?",
        help: "a VNC client connected with authenticate false finishes authenticating",
        qemu: "VNC_INITIALIZED {server, client}",
        run: act_vnc_authenticate,
    },
    Action {
        name: "vnc-disconnect",
        args_type: "host:s?,service:s",
        params: "service, host?",
        help: "a VNC client goes away",
        qemu: "VNC_DISCONNECTED {server, client}; it leaves query-vnc",
        run: act_vnc_disconnect,
    },
    Action {
        name: "spice-connect",
        args_type: "host:s?,port:s,family:s?,connection-id:i?,channel-type:i?,channel-id:i?,\
                    tls:b?,authenticate:b?",
        params: "port, host?, family?, connection-id?, channel-type? (1), channel-id? (0), \
                 tls? (false), authenticate? (true)",
        help: "a SPICE channel connects (and links, unless authenticate is false)",
        qemu: "SPICE_CONNECTED {server, client} (addresses only), then SPICE_INITIALIZED \
               (server with auth, client with connection-id, channel-type, channel-id, tls)",
        run: act_spice_connect,
    },
    Action {
        name: "spice-authenticate",
        args_type: "host:s?,port:s",
        params: "port, host?",
        help: "a SPICE channel connected with authenticate false links",
        qemu: "SPICE_INITIALIZED",
        run: act_spice_authenticate,
    },
    Action {
        name: "spice-disconnect",
        args_type: "host:s?,port:s",
        params: "port, host?",
        help: "a SPICE channel closes",
        qemu: "SPICE_DISCONNECTED {server, client}; it leaves query-spice",
        run: act_spice_disconnect,
    },
    Action {
        name: "balloon-slow",
        args_type: "factor:i",
        params: "factor (1 to 1000)",
        help: "the guest's balloon driver moves factor times slower",
        qemu: "balloon answers {} at once; query-balloon's actual approaches the target \
               one batch per factor × 10 ms (no event: 0.14 has no BALLOON_CHANGE)",
        run: act_balloon_slow,
    },
    Action {
        name: "balloon-stuck",
        args_type: "",
        params: "",
        help: "the guest's balloon driver stops moving",
        qemu: "balloon answers {}; query-balloon's actual never changes again",
        run: act_balloon_stuck,
    },
    Action {
        name: "migration-fail",
        args_type: "percent:i?",
        params: "percent? (0 to 100, default 0: now)",
        help: "the active (or next) migration fails once it has sent percent of its bytes",
        qemu: "query-migrate's status becomes failed, the channel closes (the \
               destination sees the stream end early), the VM keeps running; no event \
               (0.14 has none for migration)",
        run: act_migration_fail,
    },
    Action {
        name: "migration-slow",
        args_type: "factor:i",
        params: "factor (1 to 1000)",
        help: "migration ticks come factor times further apart",
        qemu: "query-migrate stays active longer, its transferred count growing one \
               rate-limited chunk per factor × 100 ms",
        run: act_migration_slow,
    },
    Action {
        name: "unplug-stuck",
        args_type: "",
        params: "",
        help: "the guest never completes a hot-unplug from now on",
        qemu: "device_del answers {} (0.14 only asks the guest to eject the slot); the \
               device stays in query-pci and its id stays taken, forever",
        run: act_unplug_stuck,
    },
    Action {
        name: "drop-monitor",
        args_type: "client:i?",
        params: "client? (a client number; default every client)",
        help: "the server closes monitor connections",
        qemu: "the connection ends after the current reply, as when QEMU's chardev \
               closes; the monitor accepts the next client, which gets a new greeting",
        run: act_drop_monitor,
    },
];

/// The action named `name`.
pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The action names, comma-separated, for errors and help.
pub fn action_names() -> String {
    ACTIONS
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The line of docs/faults.md after which the page is [`actions_markdown`].
pub const FAULTS_PAGE_MARKER: &str =
    "<!-- Generated from ACTIONS (src/machine/faults.rs) below this line. -->";

/// Every action as a Markdown table: name, arguments, what happens, and the
/// 0.14 behaviour it reproduces (the generated part of docs/faults.md).
pub fn actions_markdown() -> String {
    let mut md = String::from(
        "| action | arguments | what happens | QEMU 0.14 behaviour reproduced |\n|---|---|---|---|\n",
    );
    for a in ACTIONS {
        let params = if a.params.is_empty() {
            "none"
        } else {
            a.params
        };
        md.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            a.name,
            params.replace('|', "\\|"),
            a.help,
            a.qemu.replace('|', "\\|")
        ));
    }
    md
}

/// Runs action `name` on the machine with `args` (without `action`), whose
/// types the caller has checked against the action's `args_type`.
///
/// Errors: an unknown action → InvalidParameterValue `action`; a missing
/// argument → MissingParameter; the action's own errors.
pub fn run_action(machine: &mut Machine, name: &str, args: &QDict) -> Result<(), QmpError> {
    let expected = format!("one of {}", action_names());
    let action = action(name).ok_or_else(|| invalid_value("action", &expected))?;
    (action.run)(machine, args)
}

fn invalid_value(name: &str, expected: &str) -> QmpError {
    QmpError::with2(ErrorClass::InvalidParameterValue, name, expected)
}

fn missing(name: &str) -> QmpError {
    QmpError::with1(ErrorClass::MissingParameter, name)
}

/// A mandatory string argument.
fn str_arg<'a>(args: &'a QDict, name: &str) -> Result<&'a str, QmpError> {
    args.get_str(name).ok_or_else(|| missing(name))
}

/// A mandatory integer argument.
fn int_arg(args: &QDict, name: &str) -> Result<i64, QmpError> {
    args.get_int(name).ok_or_else(|| missing(name))
}

/// An integer argument in `lo..=hi` (`default` when absent and optional).
fn ranged(
    args: &QDict,
    name: &str,
    lo: u64,
    hi: u64,
    default: Option<u64>,
) -> Result<u64, QmpError> {
    let value = match (args.get_int(name), default) {
        (Some(v), _) => v,
        (None, Some(d)) => return Ok(d),
        (None, None) => return Err(missing(name)),
    };
    u64::try_from(value)
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| invalid_value(name, &format!("a number from {lo} to {hi}")))
}

/// The simulated client's host: `host`, or [`CLIENT_HOST_DEFAULT`].
fn host_of(args: &QDict) -> &str {
    args.get_str("host").unwrap_or(CLIENT_HOST_DEFAULT)
}

/// A display client's address: `host` (default [`CLIENT_HOST_DEFAULT`]) and
/// the port under `port_key`, checked against getnameinfo's buffers as
/// `x-vnc-client` checks them; `family` defaults by the host's form.
fn display_addr(args: &QDict, port_key: &str) -> Result<SockAddr, QmpError> {
    SockAddr::checked(
        host_of(args),
        port_key,
        args.get_str(port_key),
        args.get_str("family"),
    )
}

fn act_block_io_error(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let op = IoOperation::parse(str_arg(args, "operation")?)
        .ok_or_else(|| invalid_value("operation", "read or write"))?;
    let errno = match args.get_str("error") {
        None => IoErrno::Eio,
        Some(e) => IoErrno::parse(e).ok_or_else(|| invalid_value("error", "eio or enospc"))?,
    };
    m.block_io_error(str_arg(args, "device")?, op, errno)
}

fn act_powerdown_ignore(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.faults.acpi = AcpiFault::Ignore;
    Ok(())
}

fn act_powerdown_delay(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let ms = ranged(args, "ms", 0, GUEST_SHUTDOWN_MS_MAX, None)?;
    m.faults.acpi = AcpiFault::Delay { ms };
    Ok(())
}

fn act_powerdown_obey(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.faults.acpi = AcpiFault::Obey;
    Ok(())
}

fn act_guest_reboot(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.requests.push(Request::Reset);
    Ok(())
}

fn act_guest_shutdown(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.guest_power_off();
    Ok(())
}

fn act_watchdog_expire(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.watchdog_expire()
}

fn act_rtc_change(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.rtc_set(int_arg(args, "offset")?)
}

fn act_vnc_connect(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let addr = display_addr(args, "service")?;
    if args.get_bool("authenticate").unwrap_or(true) {
        return m.vnc_client_connect(VncClient {
            addr,
            x509_dname: args.get_str("x509_dname").map(str::to_owned),
            sasl_username: args.get_str("sasl_username").map(str::to_owned),
        });
    }
    let client = VncClient {
        addr,
        x509_dname: None,
        sasl_username: None,
    };
    m.vnc_client_open(client).map(|_| ())
}

fn act_vnc_authenticate(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.vnc_client_authenticate(
        host_of(args),
        str_arg(args, "service")?,
        args.get_str("x509_dname").map(str::to_owned),
        args.get_str("sasl_username").map(str::to_owned),
    )
}

fn act_vnc_disconnect(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.vnc_client_disconnect(host_of(args), str_arg(args, "service")?)
}

fn act_spice_connect(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let connection_id = match args.get_int("connection-id") {
        None => None,
        Some(v) => Some(
            u32::try_from(v)
                .map_err(|_| invalid_value("connection-id", "a 32-bit unsigned number"))?,
        ),
    };
    let byte = |name, default: u8| {
        ranged(args, name, 0, u64::from(u8::MAX), Some(u64::from(default)))
            .map(|v| u8::try_from(v).expect("checked against u8::MAX"))
    };
    let request = SpiceChannelRequest {
        client: display_addr(args, "port")?,
        connection_id,
        channel_type: byte("channel-type", SPICE_CHANNEL_MAIN)?,
        channel_id: byte("channel-id", 0)?,
        tls: args.get_bool("tls").unwrap_or(false),
    };
    if args.get_bool("authenticate").unwrap_or(true) {
        return m.spice_channel_connect(request);
    }
    m.spice_channel_open(request).map(|_| ())
}

fn act_spice_authenticate(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.spice_channel_authenticate(host_of(args), str_arg(args, "port")?)
}

fn act_spice_disconnect(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.spice_channel_disconnect(host_of(args), str_arg(args, "port")?)
}

fn act_balloon_slow(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let factor = ranged(args, "factor", 1, SLOW_FACTOR_MAX, None)?;
    m.faults.balloon = BalloonFault::Slow { factor };
    Ok(())
}

fn act_balloon_stuck(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.faults.balloon = BalloonFault::Stuck;
    m.clock.cancel(|t| matches!(t, Timer::BalloonStep));
    if let Some(b) = m.balloon.as_mut() {
        b.stepping = false;
    }
    Ok(())
}

fn act_migration_fail(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let percent = ranged(args, "percent", 0, 100, Some(0))?;
    m.fault_migration_fail_at(percent);
    Ok(())
}

fn act_migration_slow(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    m.faults.migration_slow_factor = ranged(args, "factor", 1, SLOW_FACTOR_MAX, None)?;
    Ok(())
}

fn act_unplug_stuck(m: &mut Machine, _args: &QDict) -> Result<(), QmpError> {
    m.faults.unplug_stuck = true;
    Ok(())
}

fn act_drop_monitor(m: &mut Machine, args: &QDict) -> Result<(), QmpError> {
    let client = match args.get_int("client") {
        None => None,
        Some(c) => Some(u32::try_from(c).map_err(|_| invalid_value("client", "a client number"))?),
    };
    if m.faults.monitor_drops.len() >= MONITOR_DROPS_MAX {
        return Err(QmpError::bare(ErrorClass::TooManyFiles));
    }
    m.faults.monitor_drops.push(client);
    Ok(())
}

impl Machine {
    /// Sets a migration failure at `percent` of the bytes; an active migration
    /// that has sent that much already fails now.
    pub fn fault_migration_fail_at(&mut self, percent: u64) {
        self.faults.migration_fail_percent = Some(percent);
        self.migration_check_fault();
    }

    /// Fails the active migration if it reached the failure point: status
    /// `failed`, its channel closed (0.14's `migrate_fd_error`); the VM keeps
    /// running, and no event is sent (0.14 has none for migration).
    pub(crate) fn migration_check_fault(&mut self) {
        let Some(percent) = self.faults.migration_fail_percent else {
            return;
        };
        let Some(m) = self.migration.current.as_mut() else {
            return;
        };
        if m.status != MigrationStatus::Active {
            return;
        }
        let total = m.ram.total + m.disk.map_or(0, |d| d.total);
        let sent = m.ram.transferred + m.disk.map_or(0, |d| d.transferred);
        if u128::from(sent) * 100 < u128::from(total) * u128::from(percent) {
            return;
        }
        let id = m.id;
        self.faults.migration_fail_percent = None;
        self.migration_fail(id);
        self.effects.push(Effect::MigrationCancel { id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::migration::MigrationStart;
    use crate::test_util::repeated;

    fn migrating() -> Machine {
        let mut m = Machine::new(MachineConfig::default());
        m.migration_start(MigrationStart {
            uri: "tcp:127.0.0.1:4444".to_owned(),
            blk: false,
            fd: None,
        });
        m
    }

    fn status(m: &Machine) -> MigrationStatus {
        m.migration.current.as_ref().unwrap().status
    }

    #[test]
    fn migration_fail_at_zero_fails_now_and_at_half_waits_for_half_the_bytes() {
        for (percent, status_now) in [(0, MigrationStatus::Failed), (50, MigrationStatus::Active)] {
            let mut m = migrating();
            m.fault_migration_fail_at(percent);
            assert_eq!(status(&m), status_now, "{percent}");
        }
    }

    #[test]
    fn migration_fail_at_zero_closes_the_channel() {
        let mut m = migrating();
        m.effects.clear();
        m.fault_migration_fail_at(0);
        assert_eq!(m.effects, [Effect::MigrationCancel { id: 1 }]);
    }

    #[test]
    fn migration_fail_counts_ram_and_disk_bytes_together() {
        let mut d = crate::machine::config::DriveConfig::default();
        for (k, v) in [("file", "d.img"), ("x-virtual", "on"), ("x-size", "64M")] {
            d.opts.push(k, v);
        }
        let mut m = Machine::new(MachineConfig {
            ram_mb: 16,
            drives: vec![d],
            ..MachineConfig::default()
        });
        m.migration_start(MigrationStart {
            uri: "tcp:127.0.0.1:4444".to_owned(),
            blk: true,
            fd: None,
        });
        m.fault_migration_fail_at(50);
        let sent = |m: &Machine| {
            let c = m.migration.current.as_ref().unwrap();
            let disk = c.disk.unwrap();
            (
                c.ram.transferred + disk.transferred,
                c.ram.total + disk.total,
            )
        };
        let mut before = sent(&m).0;
        for tick in 1..=10_000 {
            m.advance_to(crate::machine::clock::VirtualTime(
                tick * crate::machine::migration::MIGRATION_TICK_NS,
            ));
            let (now, total) = sent(&m);
            if status(&m) == MigrationStatus::Failed {
                assert!(
                    now * 2 >= total && before * 2 < total,
                    "{before} {now} {total}"
                );
                return;
            }
            before = now;
        }
        panic!("the migration never failed");
    }

    #[test]
    fn action_names_are_one_comma_separated_line() {
        let names = action_names();
        assert!(names.starts_with("block-io-error, "), "{names}");
        assert!(names.contains(", rtc-change, "), "{names}");
        assert_eq!(names.split(", ").count(), ACTIONS.len());
    }

    #[test]
    fn client_host_defaults_to_loopback() {
        assert_eq!(
            [
                host_of(&QDict::new()),
                host_of(&crate::qdict! { "host" => "192.0.2.1" })
            ],
            [CLIENT_HOST_DEFAULT, "192.0.2.1"]
        );
    }

    #[test]
    fn spice_authenticate_of_an_unknown_channel_fails() {
        let mut m = Machine::new(MachineConfig::default());
        let args = crate::qdict! { "port" => "40000" };
        assert!(run_action(&mut m, "spice-authenticate", &args).is_err());
    }

    #[test]
    fn run_action_unknown_name_lists_the_actions() {
        let mut m = Machine::new(MachineConfig::default());
        let e = run_action(&mut m, "nosuch", &QDict::new()).unwrap_err();
        assert_eq!(
            e.desc(),
            format!("Parameter 'action' expects one of {}", action_names())
        );
    }

    #[test]
    fn factor_at_limit_then_past_it() {
        let mut m = Machine::new(MachineConfig::default());
        let at = crate::qdict! { "factor" => 1000_i64 };
        assert!(run_action(&mut m, "migration-slow", &at).is_ok());
        let past = crate::qdict! { "factor" => 1001_i64 };
        assert!(run_action(&mut m, "migration-slow", &past).is_err());
    }

    #[test]
    fn drop_monitor_at_pending_limit_then_past_it() {
        let mut m = Machine::new(MachineConfig::default());
        for _ in 0..MONITOR_DROPS_MAX {
            run_action(&mut m, "drop-monitor", &QDict::new()).unwrap();
        }
        assert_eq!(
            run_action(&mut m, "drop-monitor", &QDict::new()),
            Err(QmpError::bare(ErrorClass::TooManyFiles))
        );
    }

    #[test]
    fn action_names_are_unique() {
        assert_eq!(repeated(ACTIONS.iter().map(|a| a.name)), Vec::<&str>::new());
    }

    #[test]
    fn action_without_its_mandatory_argument_is_missing_parameter() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            run_action(&mut m, "rtc-change", &QDict::new()),
            Err(QmpError::with1(ErrorClass::MissingParameter, "offset"))
        );
    }

    #[test]
    fn fault_state_default_has_no_slow_down() {
        assert_eq!(FaultState::default().migration_factor(), 1);
    }

    #[test]
    fn powerdown_and_balloon_actions_set_their_fault_until_the_next() {
        let mut m = Machine::new(MachineConfig::default());
        let mut run = |name: &str, args: QDict| {
            run_action(&mut m, name, &args).unwrap();
            (m.faults.acpi, m.faults.balloon)
        };
        use AcpiFault::{Delay, Ignore};
        use BalloonFault::{Slow, Stuck};
        assert_eq!(run("powerdown-ignore", QDict::new()).0, Ignore);
        let ms = crate::qdict! { "ms" => 250_i64 };
        assert_eq!(run("powerdown-delay", ms).0, Delay { ms: 250 });
        let factor = crate::qdict! { "factor" => 4_i64 };
        assert_eq!(
            run("balloon-slow", factor),
            (Delay { ms: 250 }, Slow { factor: 4 })
        );
        assert_eq!(run("balloon-stuck", QDict::new()).1, Stuck);
    }
}
