//! QEMU-style command-line options, parsed and validated without touching the world
//! (ripgrep's `LowArgs`): no files, no sockets, no environment.
//!
//! Options are single-dash as in QEMU 0.14 (`-name vm1`); `--name vm1` means the same,
//! as QEMU allows. An argument that does not start with `-` is a disk image for the
//! first IDE disk, as in `qemu disk.img`. Every option QEMU 0.14's x86 binary knows is
//! an entry of the option table, [`table::OPTIONS`]: name, arity, group, help and the
//! function that parses its value straight into the
//! [`MachineConfig`] [`LowArgs`] carries. The
//! ones that change nothing QMP can see are accepted and ignored. Errors carry QEMU's
//! own one-line messages ([`RawError`]). What needs files (image probing) or the
//! whole list (default serial ports) is `config.rs`'s job.
//!
//! The parsers live by option family: [`drive`], [`chardev`] (with monitors and
//! ports), [`net`] (with `-device` and `-balloon`), [`smp`] (with `-M`, `-cpu`,
//! `-m`), [`boot`] (`-boot`, `-rtc`, `-incoming`), [`display`] (`-vnc`,
//! `-spice`) and [`other`] (identity, watchdog, qmpsim's `-x-` options). Each
//! checks its values as 0.14 does at startup, with 0.14's message, before any
//! monitor opens.

pub mod boot;
pub mod chardev;
pub mod display;
pub mod drive;
mod error;
pub mod hardware;
pub mod net;
mod option_list;
pub mod other;
pub mod smp;
pub mod table;

pub use chardev::{
    parse_chardev, parse_compat, parse_mon, CHARDEV_BACKENDS, CHARDEV_KEYS, MON_KEYS,
    PARALLEL_PORTS_MAX, SERIAL_PORTS_MAX, TCP_HOST_BYTES_MAX, TCP_PORT_BYTES_MAX,
    VC_SIZE_DIGITS_MAX,
};
pub use drive::{parse_size_bytes, DriveArg, DRIVE_BUSES, DRIVE_KEYS};
pub use error::{RawError, PROGRAM};
pub use net::{NETDEV_TYPES, NET_TYPES};
pub use option_list::{parse_option_list, split_items};
pub use other::{parse_name, parse_uuid};
pub use smp::{
    cpu_list, machine_list, parse_ram_mb, parse_smp, SmpArgs, CPU_MODELS, MACHINES, RAM_MB_MAX,
};
pub use table::{lookup, options, usage, Arity, Group, OptDef, OPTIONS};

use std::path::PathBuf;

use crate::machine::config::{ChardevBackend, MachineConfig};

/// A mode that prints something and ends instead of running a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecialMode {
    /// `-version`.
    Version,
    /// `-h`, `-help`, `--help`.
    Help,
    /// `-M ?`.
    MachineList,
    /// `-cpu ?`.
    CpuList,
    /// `-watchdog ?`.
    WatchdogList,
    /// `-net nic,model=?`: the PC's NIC models on stderr, then exit 0.
    NicModels,
    /// `-device ?`: the drivers a user may create, on stderr, then exit 0.
    DeviceList,
    /// `-device DRIVER,?`: the driver's properties as `DRIVER.PROP=TYPE` on
    /// stderr, then exit 0 (`qdev_device_help`).
    DeviceHelp {
        /// The driver's name (an alias given is resolved).
        driver: &'static str,
    },
    /// `-soundhw ?`, or `-soundhw` naming cards 0.14 does not know: those
    /// names on stderr, the cards on stdout, exit 1 if any was unknown.
    SoundCards {
        /// The unknown names, in the order given.
        unknown: Vec<String>,
    },
    /// `-clock ?`, or a `-clock` naming no alarm timer 0.14 knows: the unknown
    /// names on stderr, the timers left on stdout; exit 1 unless asked by `?`.
    AlarmTimers {
        /// The unknown names, in the order given.
        unknown: Vec<String>,
        /// The timers in order of precedence, as earlier `-clock` options left them.
        timers: Vec<&'static str>,
        /// Asked for by `-clock ?` (exit 0).
        asked: bool,
    },
}

impl SpecialMode {
    /// The exit status: 0, except for a list printed because a value was bad.
    pub fn exit_status(&self) -> u8 {
        match self {
            SpecialMode::SoundCards { unknown } if !unknown.is_empty() => 1,
            SpecialMode::AlarmTimers { asked: false, .. } => 1,
            _ => 0,
        }
    }
}

/// The validated command line: the VM's config as far as options decide it, plus
/// what only the edge needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LowArgs {
    /// A print-and-exit mode, when one was asked for (parsing stopped there).
    pub special: Option<SpecialMode>,
    /// The VM, with defaults where no option spoke. Its `chardevs` holds the
    /// `-chardev` ones and those of `-qmp`/`-monitor`, in order; `drives` is empty
    /// (they are [`LowArgs::drives`] until `config.rs` expands and probes them).
    pub config: MachineConfig,
    /// Drives in command-line order, before expansion.
    pub drives: Vec<DriveArg>,
    /// Where each of [`LowArgs::drives`] was given, as 0.14's `error_report`
    /// names it (`-drive file=x`, `-hda x`); a bare image argument has the
    /// location of the option before it (0.14 does not move the location for
    /// it), `None` when it comes first.
    pub drive_locations: Vec<Option<String>>,
    /// What only the edge does with the run: `-pidfile`, `-daemonize`,
    /// `-record`, `-loadvm`, `-x-resume`, `-x-state-every`.
    pub edge: EdgeArgs,
    /// `-x-scenario FILE`: read and parsed when the configuration is built.
    pub scenario: Option<String>,
    /// `-monitor`, `-qmp` or `-mon` was given (even `none`): no default
    /// monitor (0.14's `default_monitor = 0`).
    pub monitor_given: bool,
    /// `-kernel`, `-append` (when not empty) and `-initrd` were given: 0.14
    /// allows the last two only with the first.
    pub linux_boot: hardware::LinuxBoot,
    /// The alarm timers `-clock` left, in order of precedence.
    pub alarm_timers: hardware::AlarmTimers,
    /// What 0.14 prints on stderr and goes on (`Unknown clock x`), in order.
    pub warnings: Vec<String>,
}

/// The settings of a run that only the edge uses (the process, its files, the
/// trace), as the command line gives them and as the run plan keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EdgeArgs {
    /// `-pidfile FILE`.
    pub pidfile: Option<PathBuf>,
    /// `-daemonize`.
    pub daemonize: bool,
    /// `-record PATH`.
    pub record: Option<PathBuf>,
    /// `-loadvm TAG`.
    pub loadvm: Option<String>,
    /// `-x-resume TRACE[@FRAME]`.
    pub resume: Option<String>,
    /// `-x-state-every N`: steps between full-state checkpoints of `-record`.
    pub state_every: Option<u64>,
}

/// What an option's `apply` function works on.
#[derive(Debug)]
pub struct OptCtx<'a> {
    low: &'a mut LowArgs,
    /// The option as written (`-name` or `--name`).
    option: &'a str,
    /// `compat_monitorN` chardevs made so far by `-qmp` and `-monitor`.
    compat_monitors: &'a mut u32,
}

/// Parses a QEMU command line (without the program name).
pub fn parse<I, S>(args: I) -> Result<LowArgs, RawError>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let mut low = LowArgs::default();
    let mut compat_monitors = 0u32;
    let mut args = args.into_iter().map(Into::into);
    let mut location: Option<String> = None;
    while let Some(os) = args.next() {
        let arg = utf8(os)?;
        if !arg.starts_with('-') {
            low.drives.push(DriveArg::Hd {
                index: 0,
                file: arg,
            });
            low.drive_locations.push(location.clone());
            continue;
        }
        let name = arg[1..].strip_prefix('-').unwrap_or(&arg[1..]);
        let opt = lookup(name).ok_or_else(|| RawError::InvalidOption(arg.clone()))?;
        let value = match opt.arity {
            Arity::Flag => String::new(),
            Arity::Value(_) => match args.next() {
                Some(v) => utf8(v)?,
                None if opt.group == Group::Qmpsim => {
                    return Err(RawError::MissingQmpsimArgument(arg))
                }
                None => return Err(RawError::MissingArgument(arg)),
            },
        };
        location = Some(match opt.arity {
            Arity::Flag => arg.clone(),
            Arity::Value(_) => format!("{arg} {value}"),
        });
        let mut ctx = OptCtx {
            low: &mut low,
            option: &arg,
            compat_monitors: &mut compat_monitors,
        };
        opt.apply(&mut ctx, value)?;
        if low.special.is_some() {
            return Ok(low);
        }
    }
    check_whole(&low)?;
    Ok(low)
}

fn utf8(os: std::ffi::OsString) -> Result<String, RawError> {
    os.into_string()
        .map_err(|os| RawError::NotUtf8(os.to_string_lossy().into_owned()))
}

/// Checks that need the whole command line.
fn check_whole(low: &LowArgs) -> Result<(), RawError> {
    let config = &low.config;
    let max = smp::machine_max_cpus(&config.machine);
    if config.smp > max {
        return Err(RawError::TooManyCpus {
            cpus: config.smp,
            machine: config.machine.clone(),
            max,
        });
    }
    if low.edge.daemonize && config.nographic {
        return Err(RawError::DaemonizeNographic);
    }
    let stdio_monitor = config.monitors.iter().any(|m| {
        config
            .chardevs
            .iter()
            .any(|c| c.label == m.chardev && c.backend == ChardevBackend::Stdio)
    });
    if low.edge.daemonize && stdio_monitor {
        return Err(RawError::DaemonizeStdio);
    }
    low.linux_boot.check()?;
    low.alarm_timers.check()?;
    Ok(())
}

/// `parse` of a test command line that must fail: its message.
#[cfg(test)]
fn parse_err(args: &[&str]) -> String {
    parse(args.iter().copied()).unwrap_err().to_string()
}

/// Checks that each test command line fails with its message; a row is
/// `(what it shows, the command line, the message)`.
#[cfg(test)]
fn assert_refused(rows: &[(&str, &[&str], &str)]) {
    for (what, args, message) in rows {
        assert_eq!(parse_err(args), *message, "{what}");
    }
}

/// `parse` of a test command line that must parse.
#[cfg(test)]
fn parse_ok(args: &[&str]) -> LowArgs {
    parse(args.iter().copied()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "parse unknown option reports invalid option",
                &["-foo"],
                "qemu-system-x86_64: -foo: invalid option",
            ),
            (
                "parse unknown double dash option echoes it",
                &["--foo"],
                "qemu-system-x86_64: --foo: invalid option",
            ),
            (
                "parse missing argument reports requires argument",
                &["-S", "-name"],
                "qemu-system-x86_64: -name: requires an argument",
            ),
            (
                "parse record without argument speaks as qmpsim",
                &["-record"],
                "qmpsim: -record: requires an argument",
            ),
            (
                "parse qmpsim extension without argument speaks as qmpsim",
                &["-x-seed"],
                "qmpsim: -x-seed: requires an argument",
            ),
            (
                "parse ignored option without argument is an error",
                &["-display"],
                "qemu-system-x86_64: -display: requires an argument",
            ),
            (
                "daemonize with nographic is rejected",
                &["-daemonize", "-nographic"],
                "-nographic can not be used with -daemonize",
            ),
            (
                "daemonize with stdio monitor is rejected",
                &["-daemonize", "-qmp", "stdio"],
                "qmpsim: -daemonize can not be used with a stdio monitor",
            ),
        ]);
    }

    #[test]
    fn parse_double_dash_option_means_single_dash() {
        assert_eq!(
            parse_ok(&["--name", "vm1"]).config.name.as_deref(),
            Some("vm1")
        );
    }

    #[test]
    fn parse_version_stops_parsing() {
        assert_eq!(
            parse_ok(&["-version", "-bogus"]).special,
            Some(SpecialMode::Version)
        );
    }

    #[test]
    fn parse_help_double_dash_is_help() {
        assert_eq!(parse_ok(&["--help"]).special, Some(SpecialMode::Help));
    }

    #[test]
    fn parse_ignored_option_consumes_its_argument() {
        let low = parse_ok(&["-vga", "std", "-S"]);
        assert!(low.config.start_paused);
    }

    #[test]
    fn parse_defaults_are_the_machine_defaults() {
        assert_eq!(parse_ok(&[]).config, MachineConfig::default());
    }

    #[test]
    fn parse_ram_zero_after_a_size_means_the_default() {
        assert_eq!(
            parse_ok(&["-m", "512", "-m", "0"]).config.ram_mb,
            crate::machine::config::RAM_MB_DEFAULT
        );
    }
}
