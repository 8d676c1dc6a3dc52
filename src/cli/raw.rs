//! QEMU-style command-line options, parsed and validated without touching the world
//! (ripgrep's `LowArgs`): no files, no sockets, no environment.
//!
//! Options are single-dash as in QEMU 0.14 (`-name vm1`); `--name vm1` means the same,
//! as QEMU allows. An argument that does not start with `-` is a disk image for the
//! first IDE disk, as in `qemu disk.img`. Every option QEMU 0.14's x86 binary knows is
//! in [`OPTIONS`]; the ones that change nothing QMP can see are accepted and ignored.
//! Errors carry QEMU's own one-line messages. Assembly into a
//! [`MachineConfig`](crate::machine::config::MachineConfig) (defaults, labels of
//! serial ports, image probing) is `config.rs`'s job.
//!
//! qmpsim extensions: `-x-seed N` (rng seed), `-x-epoch SECONDS` (event timestamps
//! at virtual time zero), `-x-extensions` (enable `x-` commands), `-record PATH`
//! (record the session to a trace).

use crate::machine::config::{
    ChardevBackend, ChardevConfig, MonitorConfig, MonitorMode, OptionList, SMP_CPUS_MAX,
};
use crate::machine::devices::block::BlockErrorAction;

// The machine's limits on `-serial` and `-parallel` ports are the same ones.
pub use crate::machine::devices::chardev::{PARALLEL_PORTS_MAX, SERIAL_PORTS_MAX};
/// Largest `-m`, in MiB (4 TiB).
pub const RAM_MB_MAX: u64 = 4 * 1024 * 1024;
/// Longest host part of a `tcp:HOST:PORT` spec (0.14's `%64[^:]`).
pub const TCP_HOST_BYTES_MAX: usize = 64;
/// Longest port part of a `tcp:HOST:PORT` spec (0.14's `%32[^,]`).
pub const TCP_PORT_BYTES_MAX: usize = 32;
/// Most digits of a `vc:WxH` (or `vc:WCxHC`) width read (0.14's `%8[0-9]`); a
/// height's further digits are ignored.
pub const VC_SIZE_DIGITS_MAX: usize = 8;
/// Program name QEMU prefixes its located error messages with.
pub const PROGRAM: &str = "qemu-system-x86_64";

/// Why the command line was refused. `Display` is the exact message QEMU prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// An option QEMU does not know.
    #[error("{PROGRAM}: {0}: invalid option")]
    InvalidOption(String),
    /// An option that needs an argument came last.
    #[error("{PROGRAM}: {0}: requires an argument")]
    MissingArgument(String),
    /// An argument that is not UTF-8.
    #[error("{PROGRAM}: {0}: argument is not valid UTF-8")]
    NotUtf8(String),
    /// `-m` that is not a size.
    #[error("qemu: invalid ram size: {0}")]
    InvalidRamSize(String),
    /// `-m` past [`RAM_MB_MAX`].
    #[error("qemu: ram size too large")]
    RamTooLarge,
    /// `-smp` that gives no CPU.
    #[error("Invalid number of CPUs")]
    InvalidCpuCount,
    /// `-smp n,maxcpus=m` with m < n.
    #[error("maxcpus must be equal to or greater than smp")]
    MaxCpusBelowSmp,
    /// `maxcpus` past [`SMP_CPUS_MAX`].
    #[error("Unsupported number of maxcpus")]
    MaxCpusUnsupported,
    /// More CPUs than the machine supports.
    #[error(
        "Number of SMP cpus requested ({cpus}), exceeds max cpus supported by machine `{machine}' ({max})"
    )]
    TooManyCpus {
        /// Requested.
        cpus: u32,
        /// Machine type.
        machine: String,
        /// The machine's limit.
        max: u32,
    },
    /// `-uuid` not in 8-4-4-4-12 hex form.
    #[error("Fail to parse UUID string. Wrong format.")]
    BadUuid,
    /// `-name x,foo`.
    #[error("Unknown subargument {0} to -name")]
    NameSubargument(String),
    /// `-M` with an unknown machine type: QEMU prints the list.
    #[error("{}", machine_list())]
    UnknownMachine(String),
    /// `-cpu` with an unknown model.
    #[error("Unable to find x86 CPU definition")]
    UnknownCpu(String),
    /// A `-qmp`/`-monitor`/`-chardev`/`-mon` spec that does not parse.
    #[error("parse error: {0}")]
    Parse(String),
    /// A key the option does not take.
    #[error("{PROGRAM}: {option} {arg}: Invalid parameter '{param}'")]
    InvalidParameter {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// The unknown key.
        param: String,
    },
    /// A required key is absent.
    #[error("{PROGRAM}: {option} {arg}: Parameter '{param}' is missing")]
    MissingParameter {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// The missing key.
        param: String,
    },
    /// A key has a value the option does not accept.
    #[error("{PROGRAM}: {option} {arg}: Parameter '{param}' expects {expected}")]
    InvalidParameterValue {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// The key.
        param: String,
        /// What was expected.
        expected: String,
    },
    /// The same id twice.
    #[error("{PROGRAM}: {option} {arg}: Duplicate ID '{id}' for {object}")]
    DuplicateId {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// The id.
        id: String,
        /// The kind of object.
        object: String,
    },
    /// `-chardev` without `id=`.
    #[error("chardev: no id specified")]
    ChardevNoId,
    /// `-chardev id=x` without a backend.
    #[error("chardev: \"{0}\" missing backend")]
    ChardevMissingBackend(String),
    /// `-chardev foo,id=x`.
    #[error("chardev: backend \"{0}\" not found")]
    ChardevUnknownBackend(String),
    /// `-chardev socket` without `path=` or `host=`/`port=`.
    #[error("chardev: socket \"{0}\": needs path=PATH or host=HOST,port=PORT")]
    ChardevSocketAddress(String),
    /// `-mon` naming a chardev that does not exist.
    #[error("chardev \"{0}\" not found")]
    ChardevNotFound(String),
    /// `-mon mode=x`.
    #[error("unknown monitor mode \"{0}\"")]
    UnknownMonitorMode(String),
    /// A `-serial` spec that does not parse.
    #[error("qemu: could not open serial device '{0}'")]
    SerialSpec(String),
    /// A `-parallel` spec that does not parse.
    #[error("qemu: could not open parallel device '{0}'")]
    ParallelSpec(String),
    /// More than [`SERIAL_PORTS_MAX`] `-serial`.
    #[error("qemu: too many serial ports")]
    TooManySerials,
    /// More than [`PARALLEL_PORTS_MAX`] `-parallel`.
    #[error("qemu: too many parallel ports")]
    TooManyParallels,
    /// `-balloon x`.
    #[error("Unknown -balloon argument {0}")]
    Balloon(String),
    /// `-watchdog x`.
    #[error("Unknown -watchdog device. Supported devices are:\n\tib700\tiBASE 700\n\ti6300esb\tIntel 6300ESB")]
    Watchdog(String),
    /// A second `-watchdog`.
    #[error("qemu: only one watchdog option may be given")]
    WatchdogTwice,
    /// `-watchdog-action x`.
    #[error("Unknown -watchdog-action parameter")]
    WatchdogAction(String),
    /// `-drive if=x`.
    #[error("qemu: unsupported bus type '{0}'")]
    DriveBus(String),
    /// `-drive media=x`.
    #[error("qemu: '{0}' invalid media")]
    DriveMedia(String),
    /// `-drive index=x` that is not a number.
    #[error("qemu: invalid index '{0}'")]
    DriveIndex(String),
    /// `-drive werror=x` or `rerror=x` (`enospc` is a write-only choice).
    #[error("qemu: '{value}' invalid {direction} error action")]
    DriveErrorAction {
        /// The bad value.
        value: String,
        /// `read` or `write`.
        direction: &'static str,
    },
    /// `-drive x-size=...` that is not a size.
    #[error("qmpsim: -drive {arg}: invalid x-size '{value}'")]
    DriveSize {
        /// The drive spec.
        arg: String,
        /// The bad size.
        value: String,
    },
    /// `-drive x-virtual=on` without `x-size=`.
    #[error("qmpsim: -drive {0}: x-virtual=on needs x-size=SIZE")]
    DriveVirtualSize(String),
    /// `-x-seed` that is not an unsigned number.
    #[error("qmpsim: -x-seed: invalid seed '{0}'")]
    Seed(String),
    /// `-x-epoch` that is not a number of seconds.
    #[error("qmpsim: -x-epoch: invalid epoch '{0}'")]
    Epoch(String),
    /// A bad `-x-guest` option.
    #[error("qmpsim: -x-guest {arg}: {problem}")]
    Guest {
        /// The option string.
        arg: String,
        /// What is wrong.
        problem: String,
    },
    /// `-x-clock` that is neither `idle` nor `manual`.
    #[error("qmpsim: -x-clock: invalid clock mode '{0}' (idle or manual)")]
    ClockMode(String),
    /// `-daemonize` with `-nographic`.
    #[error("-nographic can not be used with -daemonize")]
    DaemonizeNographic,
    /// `-daemonize` with a stdio monitor.
    #[error("qmpsim: -daemonize can not be used with a stdio monitor")]
    DaemonizeStdio,
}

/// A mode that prints something and ends instead of running a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `-S`.
    Flag,
    /// `-name NAME`.
    Value,
}

/// What qmpsim does with an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Parsed into [`LowArgs`].
    Parsed,
    /// Accepted and ignored: it changes nothing QMP shows.
    Ignored,
}

/// One entry of the option table.
#[derive(Debug)]
pub struct OptSpec {
    /// Name without the dash.
    pub name: &'static str,
    /// Flag or value.
    pub arity: Arity,
    /// Parsed or ignored.
    pub used: Use,
}

macro_rules! opt {
    ($name:literal, flag) => {
        OptSpec {
            name: $name,
            arity: Arity::Flag,
            used: Use::Parsed,
        }
    };
    ($name:literal, value) => {
        OptSpec {
            name: $name,
            arity: Arity::Value,
            used: Use::Parsed,
        }
    };
    ($name:literal, flag, ignored) => {
        OptSpec {
            name: $name,
            arity: Arity::Flag,
            used: Use::Ignored,
        }
    };
    ($name:literal, value, ignored) => {
        OptSpec {
            name: $name,
            arity: Arity::Value,
            used: Use::Ignored,
        }
    };
}

/// Every option accepted, in the order of QEMU 0.14's `qemu-options.hx` groups.
pub static OPTIONS: &[OptSpec] = &[
    opt!("h", flag),
    opt!("help", flag),
    opt!("version", flag),
    opt!("M", value),
    opt!("machine", value),
    opt!("cpu", value),
    opt!("smp", value),
    opt!("numa", value, ignored),
    opt!("fda", value),
    opt!("fdb", value),
    opt!("hda", value),
    opt!("hdb", value),
    opt!("hdc", value),
    opt!("hdd", value),
    opt!("cdrom", value),
    opt!("drive", value),
    opt!("set", value, ignored),
    opt!("global", value, ignored),
    opt!("mtdblock", value, ignored),
    opt!("sd", value, ignored),
    opt!("pflash", value, ignored),
    opt!("boot", value),
    opt!("snapshot", flag, ignored),
    opt!("m", value),
    opt!("mem-path", value, ignored),
    opt!("mem-prealloc", flag, ignored),
    opt!("k", value, ignored),
    opt!("audio-help", flag, ignored),
    opt!("soundhw", value, ignored),
    opt!("usb", flag),
    opt!("usbdevice", value, ignored),
    opt!("device", value),
    opt!("name", value),
    opt!("uuid", value),
    opt!("fsdev", value, ignored),
    opt!("virtfs", value, ignored),
    opt!("display", value, ignored),
    opt!("nographic", flag),
    opt!("curses", flag, ignored),
    opt!("no-frame", flag, ignored),
    opt!("alt-grab", flag, ignored),
    opt!("ctrl-grab", flag, ignored),
    opt!("no-quit", flag, ignored),
    opt!("sdl", flag, ignored),
    opt!("spice", value),
    opt!("portrait", flag, ignored),
    opt!("vga", value, ignored),
    opt!("std-vga", flag, ignored),
    opt!("full-screen", flag, ignored),
    opt!("vnc", value),
    opt!("win2k-hack", flag, ignored),
    opt!("rtc-td-hack", flag, ignored),
    opt!("no-fd-bootchk", flag, ignored),
    opt!("no-acpi", flag),
    opt!("no-hpet", flag, ignored),
    opt!("balloon", value),
    opt!("acpitable", value, ignored),
    opt!("smbios", value, ignored),
    opt!("net", value),
    opt!("netdev", value),
    opt!("chardev", value),
    opt!("bt", value, ignored),
    opt!("kernel", value, ignored),
    opt!("append", value, ignored),
    opt!("initrd", value, ignored),
    opt!("serial", value),
    opt!("parallel", value),
    opt!("monitor", value),
    opt!("qmp", value),
    opt!("mon", value),
    opt!("debugcon", value, ignored),
    opt!("pidfile", value),
    opt!("singlestep", flag, ignored),
    opt!("S", flag),
    opt!("gdb", value, ignored),
    opt!("s", flag, ignored),
    opt!("d", value, ignored),
    opt!("D", value, ignored),
    opt!("L", value, ignored),
    opt!("bios", value, ignored),
    opt!("enable-kvm", flag),
    opt!("no-kvm", flag),
    opt!("no-kvm-irqchip", flag, ignored),
    opt!("no-kvm-pit", flag, ignored),
    opt!("no-reboot", flag),
    opt!("no-shutdown", flag),
    opt!("loadvm", value, ignored),
    opt!("daemonize", flag),
    opt!("option-rom", value, ignored),
    opt!("clock", value, ignored),
    opt!("localtime", flag, ignored),
    opt!("rtc", value),
    opt!("icount", value, ignored),
    opt!("watchdog", value),
    opt!("watchdog-action", value),
    opt!("echr", value, ignored),
    opt!("virtioconsole", value, ignored),
    opt!("show-cursor", flag, ignored),
    opt!("tb-size", value, ignored),
    opt!("incoming", value),
    opt!("nodefaults", flag),
    opt!("chroot", value, ignored),
    opt!("runas", value, ignored),
    opt!("prom-env", value, ignored),
    opt!("semihosting", flag, ignored),
    opt!("old-param", flag, ignored),
    opt!("readconfig", value, ignored),
    opt!("writeconfig", value, ignored),
    opt!("nodefconfig", flag, ignored),
    opt!("tdf", flag, ignored),
    opt!("record", value),
    opt!("x-seed", value),
    opt!("x-epoch", value),
    opt!("x-extensions", flag),
    opt!("x-clock", value),
    opt!("x-guest", value),
];

/// The table entry for an option name (without dashes).
pub fn lookup(name: &str) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// `-smp` as given and completed the way 0.14's `smp_parse` completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpArgs {
    /// CPU count.
    pub cpus: u32,
    /// `maxcpus` (defaults to `cpus`).
    pub max_cpus: u32,
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// A drive option before expansion into `-drive` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveArg {
    /// `-drive OPTS` (or a bare image argument, as `-hda`).
    Drive(OptionList),
    /// `-hda`..`-hdd` FILE (index 0..3).
    Hd {
        /// IDE index.
        index: u32,
        /// Image file.
        file: String,
    },
    /// `-cdrom FILE`.
    Cdrom(String),
    /// `-fda`/`-fdb` FILE (index 0/1).
    Floppy {
        /// Floppy index.
        index: u32,
        /// Image file.
        file: String,
    },
}

/// The validated command line. Field order follows `MachineConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LowArgs {
    /// A print-and-exit mode, when one was asked for (parsing stopped there).
    pub special: Option<SpecialMode>,
    /// `-name`.
    pub name: Option<String>,
    /// `-uuid`, lowercase.
    pub uuid: Option<String>,
    /// `-m` in MiB; `None` means the default.
    pub ram_mb: Option<u64>,
    /// `-smp`.
    pub smp: Option<SmpArgs>,
    /// `-S`.
    pub start_paused: bool,
    /// `-M`/`-machine` type.
    pub machine: Option<String>,
    /// `-cpu`.
    pub cpu_model: Option<String>,
    /// `-enable-kvm` / `-machine accel=kvm` (cleared by a later `-no-kvm`).
    pub kvm: bool,
    /// Drives in command-line order.
    pub drives: Vec<DriveArg>,
    /// `-device`.
    pub devices: Vec<OptionList>,
    /// `-netdev`.
    pub netdevs: Vec<OptionList>,
    /// `-net`.
    pub nets: Vec<OptionList>,
    /// `-vnc`.
    pub vnc: Option<String>,
    /// `-spice`.
    pub spice: Option<OptionList>,
    /// `-balloon`.
    pub balloon: Option<OptionList>,
    /// `-incoming`.
    pub incoming: Option<String>,
    /// `-chardev` and the compat chardevs of `-qmp`/`-monitor`, in order.
    pub chardevs: Vec<ChardevConfig>,
    /// `-qmp`, `-monitor`, `-mon`, in order.
    pub monitors: Vec<MonitorConfig>,
    /// `-serial` specs as given (`none` included).
    pub serials: Vec<String>,
    /// `-parallel` specs as given (`none` included).
    pub parallels: Vec<String>,
    /// `-nodefaults`.
    pub nodefaults: bool,
    /// `-nographic`.
    pub nographic: bool,
    /// `-no-shutdown`.
    pub no_shutdown: bool,
    /// `-no-reboot`.
    pub no_reboot: bool,
    /// `-usb`.
    pub usb: bool,
    /// `-boot`.
    pub boot: Option<String>,
    /// `-rtc`.
    pub rtc: Option<String>,
    /// `-watchdog`.
    pub watchdog: Option<String>,
    /// `-watchdog-action`.
    pub watchdog_action: Option<String>,
    /// `-pidfile`.
    pub pidfile: Option<String>,
    /// `-daemonize`.
    pub daemonize: bool,
    /// `-record PATH`.
    pub record: Option<String>,
    /// `-x-seed`.
    pub seed: Option<u64>,
    /// `-x-epoch`.
    pub epoch_s: Option<i64>,
    /// `-x-extensions`.
    pub extensions: bool,
    /// `-x-clock manual`: virtual time never jumps on idle.
    pub clock_manual: bool,
    /// `-no-acpi`.
    pub no_acpi: bool,
    /// `-x-guest`.
    pub guest: crate::machine::config::GuestConfig,
}

/// `-x-guest acpi=on|off,shutdown-ms=N` over the current settings.
fn guest_options(
    arg: &str,
    mut guest: crate::machine::config::GuestConfig,
) -> Result<crate::machine::config::GuestConfig, RawError> {
    use crate::machine::config::GUEST_SHUTDOWN_MS_MAX;
    let bad = |problem: String| RawError::Guest {
        arg: arg.to_owned(),
        problem,
    };
    for item in arg.split(',').filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some(("acpi", "on")) => guest.acpi = true,
            Some(("acpi", "off")) => guest.acpi = false,
            Some(("shutdown-ms", v)) => {
                guest.shutdown_ms = v
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= GUEST_SHUTDOWN_MS_MAX)
                    .ok_or_else(|| {
                        bad(format!("shutdown-ms takes 0 to {GUEST_SHUTDOWN_MS_MAX}"))
                    })?;
            }
            _ => {
                return Err(bad(format!(
                    "unknown setting '{item}' (acpi=on|off, shutdown-ms=N)"
                )))
            }
        }
    }
    Ok(guest)
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
    while let Some(os) = args.next() {
        let arg = utf8(os)?;
        if !arg.starts_with('-') {
            low.drives.push(DriveArg::Hd {
                index: 0,
                file: arg,
            });
            continue;
        }
        let name = arg[1..].strip_prefix('-').unwrap_or(&arg[1..]);
        let spec = lookup(name).ok_or_else(|| RawError::InvalidOption(arg.clone()))?;
        let value = match spec.arity {
            Arity::Flag => String::new(),
            Arity::Value => match args.next() {
                Some(v) => utf8(v)?,
                None => return Err(RawError::MissingArgument(arg)),
            },
        };
        if spec.used == Use::Ignored {
            continue;
        }
        let mut ctx = OptCtx {
            low: &mut low,
            option: &arg,
            value,
            compat_monitors: &mut compat_monitors,
        };
        apply(&mut ctx, spec.name)?;
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

struct OptCtx<'a> {
    low: &'a mut LowArgs,
    /// The option as written (`-name` or `--name`).
    option: &'a str,
    value: String,
    compat_monitors: &'a mut u32,
}

fn apply(ctx: &mut OptCtx<'_>, name: &str) -> Result<(), RawError> {
    let v = std::mem::take(&mut ctx.value);
    let low = &mut *ctx.low;
    match name {
        "h" | "help" => low.special = Some(SpecialMode::Help),
        "version" => low.special = Some(SpecialMode::Version),
        "M" | "machine" => apply_machine(low, &v)?,
        "cpu" => apply_cpu(low, v)?,
        "smp" => low.smp = Some(parse_smp(&v)?),
        "hda" | "hdb" | "hdc" | "hdd" => low.drives.push(DriveArg::Hd {
            index: u32::from(name.as_bytes()[2] - b'a'),
            file: v,
        }),
        "cdrom" => low.drives.push(DriveArg::Cdrom(v)),
        "fda" | "fdb" => low.drives.push(DriveArg::Floppy {
            index: u32::from(name.as_bytes()[2] - b'a'),
            file: v,
        }),
        "drive" => low
            .drives
            .push(DriveArg::Drive(parse_drive(ctx.option, &v)?)),
        "boot" => low.boot = Some(v),
        "m" => low.ram_mb = parse_ram_mb(&v)?,
        "usb" => low.usb = true,
        "device" => low.devices.push(parse_device(ctx.option, &v)?),
        "name" => low.name = Some(parse_name(&v)?),
        "uuid" => low.uuid = Some(parse_uuid(&v)?),
        "nographic" => low.nographic = true,
        "spice" => low.spice = Some(parse_option_list(&v, None)),
        "vnc" => low.vnc = Some(v),
        "balloon" => low.balloon = Some(parse_balloon(&v)?),
        "net" => low.nets.push(parse_net(
            ctx.option,
            &v,
            NET_TYPES,
            "a network client type",
        )?),
        "netdev" => low.netdevs.push(parse_netdev(ctx.option, &v)?),
        "chardev" => {
            let chardev = parse_chardev(ctx.option, &v)?;
            check_unique_chardev(low, ctx.option, &v, &chardev.label)?;
            low.chardevs.push(chardev);
        }
        "serial" => push_port(&mut low.serials, v, SERIAL_PORTS_MAX, Port::Serial)?,
        "parallel" => push_port(&mut low.parallels, v, PARALLEL_PORTS_MAX, Port::Parallel)?,
        "monitor" => apply_compat_monitor(ctx, &v, MonitorMode::Readline)?,
        "qmp" => apply_compat_monitor(ctx, &v, MonitorMode::Control)?,
        "mon" => {
            let mon = parse_mon(ctx.option, &v)?;
            ctx.low.monitors.push(mon);
        }
        "pidfile" => low.pidfile = Some(v),
        "S" => low.start_paused = true,
        "enable-kvm" => low.kvm = true,
        "no-kvm" => low.kvm = false,
        "no-reboot" => low.no_reboot = true,
        "no-shutdown" => low.no_shutdown = true,
        "daemonize" => low.daemonize = true,
        "rtc" => low.rtc = Some(v),
        "watchdog" => apply_watchdog(low, v)?,
        "watchdog-action" => low.watchdog_action = Some(parse_watchdog_action(v)?),
        "incoming" => low.incoming = Some(v),
        "nodefaults" => low.nodefaults = true,
        "record" => low.record = Some(v),
        "x-seed" => low.seed = Some(v.parse().map_err(|_| RawError::Seed(v.clone()))?),
        "x-epoch" => low.epoch_s = Some(v.parse().map_err(|_| RawError::Epoch(v.clone()))?),
        "x-extensions" => low.extensions = true,
        "no-acpi" => low.no_acpi = true,
        "x-guest" => low.guest = guest_options(&v, low.guest)?,
        "x-clock" => {
            low.clock_manual = match v.as_str() {
                "idle" => false,
                "manual" => true,
                _ => return Err(RawError::ClockMode(v.clone())),
            }
        }
        other => unreachable!("option -{other} is parsed by the table but has no handler"),
    }
    Ok(())
}

/// Checks that need the whole command line.
fn check_whole(low: &LowArgs) -> Result<(), RawError> {
    if let Some(smp) = low.smp {
        let machine = low.machine.as_deref().unwrap_or("pc");
        let max = machine_max_cpus(machine);
        if smp.cpus > max {
            return Err(RawError::TooManyCpus {
                cpus: smp.cpus,
                machine: machine.to_owned(),
                max,
            });
        }
    }
    if low.daemonize && low.nographic {
        return Err(RawError::DaemonizeNographic);
    }
    let stdio_monitor = low.monitors.iter().any(|m| {
        low.chardevs
            .iter()
            .any(|c| c.label == m.chardev && c.backend == ChardevBackend::Stdio)
    });
    if low.daemonize && stdio_monitor {
        return Err(RawError::DaemonizeStdio);
    }
    Ok(())
}

/// Machine types of 0.14's x86 binary: (name, alias, description, max CPUs).
pub const MACHINES: &[(&str, Option<&str>, &str, u32)] = &[
    ("pc-0.14", Some("pc"), "Standard PC", SMP_CPUS_MAX),
    ("pc-0.13", None, "Standard PC", SMP_CPUS_MAX),
    ("pc-0.12", None, "Standard PC", SMP_CPUS_MAX),
    ("pc-0.11", None, "Standard PC, qemu 0.11", SMP_CPUS_MAX),
    ("pc-0.10", None, "Standard PC, qemu 0.10", SMP_CPUS_MAX),
    ("isapc", None, "ISA-only PC", 1),
];

/// What `-M ?` prints (without the final newline).
pub fn machine_list() -> String {
    let mut s = String::from("Supported machines are:");
    for (i, (name, alias, desc, _)) in MACHINES.iter().enumerate() {
        if let Some(alias) = alias {
            s.push_str(&format!("\n{alias:<10} {desc} (alias of {name})"));
        }
        let default = if i == 0 { " (default)" } else { "" };
        s.push_str(&format!("\n{name:<10} {desc}{default}"));
    }
    s
}

fn machine_max_cpus(machine: &str) -> u32 {
    MACHINES
        .iter()
        .find(|(name, alias, _, _)| *name == machine || *alias == Some(machine))
        .map_or(SMP_CPUS_MAX, |m| m.3)
}

fn apply_machine(low: &mut LowArgs, v: &str) -> Result<(), RawError> {
    if v == "?" {
        low.special = Some(SpecialMode::MachineList);
        return Ok(());
    }
    let opts = parse_option_list(v, Some("type"));
    let machine = opts.get("type").unwrap_or("pc").to_owned();
    if !MACHINES
        .iter()
        .any(|(name, alias, _, _)| *name == machine || *alias == Some(machine.as_str()))
    {
        return Err(RawError::UnknownMachine(machine));
    }
    if opts
        .get("accel")
        .is_some_and(|a| a.split(':').next() == Some("kvm"))
    {
        low.kvm = true;
    }
    low.machine = Some(machine);
    Ok(())
}

/// x86 CPU models of 0.14 (`-cpu ?` order).
pub const CPU_MODELS: &[&str] = &[
    "qemu64", "phenom", "core2duo", "kvm64", "qemu32", "coreduo", "486", "pentium", "pentium2",
    "pentium3", "athlon", "n270",
];

/// What `-cpu ?` prints (without the final newline).
pub fn cpu_list() -> String {
    CPU_MODELS
        .iter()
        .map(|m| format!("x86 {m:>16}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn apply_cpu(low: &mut LowArgs, v: String) -> Result<(), RawError> {
    if v == "?" {
        low.special = Some(SpecialMode::CpuList);
        return Ok(());
    }
    let model = v.split(',').next().unwrap_or_default();
    if !CPU_MODELS.contains(&model) && model != "host" {
        return Err(RawError::UnknownCpu(v));
    }
    low.cpu_model = Some(v);
    Ok(())
}

/// Parses `-smp n[,maxcpus=m][,sockets=s][,cores=c][,threads=t]` and completes the
/// missing values as 0.14's `smp_parse` does (sockets over cores over threads).
pub fn parse_smp(v: &str) -> Result<SmpArgs, RawError> {
    let opts = parse_option_list(v, Some("cpus"));
    let num = |key: &str| -> Result<u32, RawError> {
        opts.get(key)
            .map_or(Ok(0), |s| s.parse().map_err(|_| RawError::InvalidCpuCount))
    };
    let (mut cpus, mut sockets, mut cores, mut threads) = (
        num("cpus")?,
        num("sockets")?,
        num("cores")?,
        num("threads")?,
    );
    let max_cpus = num("maxcpus")?;
    if cpus == 0 || sockets == 0 {
        sockets = sockets.max(1);
        cores = cores.max(1);
        threads = threads.max(1);
        if cpus == 0 {
            cpus = cores.saturating_mul(threads).saturating_mul(sockets);
        }
    } else if cores == 0 {
        threads = threads.max(1);
        cores = cpus / sockets.saturating_mul(threads).max(1);
    } else {
        threads = cpus / cores.saturating_mul(sockets).max(1);
    }
    if opts.get("cpus") == Some("0") {
        return Err(RawError::InvalidCpuCount);
    }
    let max_cpus = if max_cpus == 0 { cpus } else { max_cpus };
    if max_cpus < cpus {
        return Err(RawError::MaxCpusBelowSmp);
    }
    if max_cpus > SMP_CPUS_MAX {
        return Err(RawError::MaxCpusUnsupported);
    }
    Ok(SmpArgs {
        cpus,
        max_cpus,
        sockets,
        cores: cores.max(1),
        threads: threads.max(1),
    })
}

/// Parses `-m`: a number of MiB, or with an `M`/`G` suffix (0.14 reads only the
/// first character after the digits). `0` means the default.
pub fn parse_ram_mb(v: &str) -> Result<Option<u64>, RawError> {
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(digits_end);
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| RawError::RamTooLarge)?
    };
    let mb = match suffix.chars().next() {
        None | Some('M' | 'm') => Some(n),
        Some('G' | 'g') => n.checked_mul(1024),
        Some(_) => return Err(RawError::InvalidRamSize(v.to_owned())),
    };
    match mb {
        Some(0) => Ok(None),
        Some(mb) if mb <= RAM_MB_MAX => Ok(Some(mb)),
        _ => Err(RawError::RamTooLarge),
    }
}

/// Parses `-name NAME[,process=P]`; returns the name.
pub fn parse_name(v: &str) -> Result<String, RawError> {
    match v.split_once(',') {
        None => Ok(v.to_owned()),
        Some((name, rest)) if rest.starts_with("process=") => Ok(name.to_owned()),
        Some((_, rest)) => Err(RawError::NameSubargument(rest.to_owned())),
    }
}

/// Parses `-uuid` (8-4-4-4-12 hex digits), returning the lowercase form.
pub fn parse_uuid(v: &str) -> Result<String, RawError> {
    let groups: Vec<&str> = v.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lens != [8, 4, 4, 4, 12] || !hex {
        return Err(RawError::BadUuid);
    }
    Ok(v.to_ascii_lowercase())
}

fn parse_balloon(v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("type"));
    let known_keys = opts.items.iter().all(|(k, _)| k == "type" || k == "addr");
    match opts.get("type") {
        Some("none") if opts.items.len() == 1 => Ok(opts),
        Some("virtio") if known_keys => Ok(opts),
        _ => Err(RawError::Balloon(v.to_owned())),
    }
}

/// Watchdog models of 0.14.
pub const WATCHDOG_MODELS: &[&str] = &["ib700", "i6300esb"];
/// `-watchdog-action` values of 0.14.
pub const WATCHDOG_ACTIONS: &[&str] = &["reset", "shutdown", "poweroff", "pause", "debug", "none"];

fn apply_watchdog(low: &mut LowArgs, v: String) -> Result<(), RawError> {
    if v == "?" {
        low.special = Some(SpecialMode::WatchdogList);
        return Ok(());
    }
    if low.watchdog.is_some() {
        return Err(RawError::WatchdogTwice);
    }
    if !WATCHDOG_MODELS.iter().any(|m| m.eq_ignore_ascii_case(&v)) {
        return Err(RawError::Watchdog(v));
    }
    low.watchdog = Some(v.to_ascii_lowercase());
    Ok(())
}

fn parse_watchdog_action(v: String) -> Result<String, RawError> {
    if WATCHDOG_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(&v)) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(RawError::WatchdogAction(v))
    }
}

#[derive(Clone, Copy)]
enum Port {
    Serial,
    Parallel,
}

/// Adds a `-serial`/`-parallel` spec; `none` takes no port.
fn push_port(
    ports: &mut Vec<String>,
    spec: String,
    max: usize,
    kind: Port,
) -> Result<(), RawError> {
    if spec == "none" {
        ports.push(spec);
        return Ok(());
    }
    if ports.iter().filter(|p| *p != "none").count() >= max {
        return Err(match kind {
            Port::Serial => RawError::TooManySerials,
            Port::Parallel => RawError::TooManyParallels,
        });
    }
    if parse_compat(&spec).is_none() {
        return Err(match kind {
            Port::Serial => RawError::SerialSpec(spec),
            Port::Parallel => RawError::ParallelSpec(spec),
        });
    }
    ports.push(spec);
    Ok(())
}

/// `-net` types of 0.14.
pub const NET_TYPES: &[&str] = &["none", "nic", "user", "tap", "socket", "vde", "dump"];
/// `-netdev` types of 0.14.
pub const NETDEV_TYPES: &[&str] = &["user", "tap", "socket", "vde"];

fn parse_net(
    option: &str,
    v: &str,
    types: &[&str],
    expected: &str,
) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("type"));
    match opts.get("type") {
        None => Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
        }),
        Some(t) if !types.contains(&t) => Err(RawError::InvalidParameterValue {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
            expected: expected.to_owned(),
        }),
        Some(_) => Ok(opts),
    }
}

fn parse_netdev(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_net(option, v, NETDEV_TYPES, "a netdev backend type")?;
    if opts.get("id").is_none() {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "id".to_owned(),
        });
    }
    Ok(opts)
}

fn parse_device(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("driver"));
    if opts.get("driver").filter(|d| !d.is_empty()).is_none() {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "driver".to_owned(),
        });
    }
    Ok(opts)
}

/// Keys `-drive` takes (0.14's `qemu_drive_opts`, plus `id` and the qmpsim
/// extensions `x-virtual` and `x-size`).
pub const DRIVE_KEYS: &[&str] = &[
    "bus",
    "unit",
    "if",
    "index",
    "cyls",
    "heads",
    "secs",
    "trans",
    "media",
    "snapshot",
    "file",
    "cache",
    "aio",
    "format",
    "serial",
    "rerror",
    "werror",
    "addr",
    "readonly",
    "boot",
    "id",
    "x-virtual",
    "x-size",
];
/// `-drive if=` values of 0.14.
pub const DRIVE_BUSES: &[&str] = &[
    "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen", "none",
];

fn parse_drive(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, None);
    if let Some((key, _)) = opts
        .items
        .iter()
        .find(|(k, _)| !DRIVE_KEYS.contains(&k.as_str()))
    {
        return Err(RawError::InvalidParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: key.clone(),
        });
    }
    if let Some(bus) = opts.get("if").filter(|b| !DRIVE_BUSES.contains(b)) {
        return Err(RawError::DriveBus(bus.to_owned()));
    }
    if let Some(media) = opts.get("media").filter(|m| *m != "disk" && *m != "cdrom") {
        return Err(RawError::DriveMedia(media.to_owned()));
    }
    if let Some(index) = opts.get("index").filter(|i| i.parse::<u32>().is_err()) {
        return Err(RawError::DriveIndex(index.to_owned()));
    }
    for (key, is_read, direction) in [("werror", false, "write"), ("rerror", true, "read")] {
        if let Some(value) = opts
            .get(key)
            .filter(|v| BlockErrorAction::parse(v, is_read).is_none())
        {
            return Err(RawError::DriveErrorAction {
                value: value.to_owned(),
                direction,
            });
        }
    }
    if let Some(size) = opts.get("x-size") {
        parse_size_bytes(size).ok_or_else(|| RawError::DriveSize {
            arg: v.to_owned(),
            value: size.to_owned(),
        })?;
    }
    if opts.get("x-virtual") == Some("on") && opts.get("x-size").is_none() {
        return Err(RawError::DriveVirtualSize(v.to_owned()));
    }
    Ok(opts)
}

/// Parses a size with an optional `K`/`M`/`G`/`T` suffix (powers of 1024; `B` or no
/// suffix means bytes), as `-drive x-size=10G` takes it.
pub fn parse_size_bytes(v: &str) -> Option<u64> {
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(digits_end);
    let n: u64 = digits.parse().ok()?;
    let shift = match suffix {
        "" | "B" | "b" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// Keys `-chardev` takes (0.14's `qemu_chardev_opts`).
pub const CHARDEV_KEYS: &[&str] = &[
    "backend",
    "id",
    "path",
    "host",
    "port",
    "localaddr",
    "localport",
    "to",
    "ipv4",
    "ipv6",
    "wait",
    "server",
    "delay",
    "telnet",
    "width",
    "height",
    "cols",
    "rows",
    "mux",
    "signal",
    "name",
    "debug",
];
/// Backends `-chardev` knows in 0.14 (socket, the simple ones, then the rest).
pub const CHARDEV_BACKENDS: &[&str] = &[
    "null", "socket", "udp", "msmouse", "vc", "file", "pipe", "pty", "stdio", "tty", "parport",
    "braille", "spicevmc",
];

/// Parses a `-chardev BACKEND,id=ID,...` spec.
pub fn parse_chardev(option: &str, v: &str) -> Result<ChardevConfig, RawError> {
    let opts = parse_option_list(v, Some("backend"));
    check_keys(option, v, &opts, CHARDEV_KEYS)?;
    let id = opts
        .get("id")
        .filter(|id| !id.is_empty())
        .ok_or(RawError::ChardevNoId)?;
    let backend = opts
        .get("backend")
        .ok_or_else(|| RawError::ChardevMissingBackend(id.to_owned()))?;
    if !CHARDEV_BACKENDS.contains(&backend) {
        return Err(RawError::ChardevUnknownBackend(backend.to_owned()));
    }
    let backend = backend_from_opts(backend, &opts)
        .ok_or_else(|| RawError::ChardevSocketAddress(id.to_owned()))?;
    Ok(ChardevConfig {
        label: id.to_owned(),
        backend,
    })
}

fn check_keys(option: &str, v: &str, opts: &OptionList, keys: &[&str]) -> Result<(), RawError> {
    match opts.items.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
        Some((key, _)) => Err(RawError::InvalidParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: key.clone(),
        }),
        None => Ok(()),
    }
}

fn check_unique_chardev(
    low: &LowArgs,
    option: &str,
    arg: &str,
    label: &str,
) -> Result<(), RawError> {
    if low.chardevs.iter().any(|c| c.label == label) {
        return Err(RawError::DuplicateId {
            option: option.to_owned(),
            arg: arg.to_owned(),
            id: label.to_owned(),
            object: "chardev".to_owned(),
        });
    }
    Ok(())
}

/// A QEMU boolean option value (`on`/`off`, also `yes`/`no`); anything else is off.
fn opt_bool(opts: &OptionList, key: &str, default: bool) -> bool {
    match opts.get(key) {
        Some("on" | "yes") => true,
        Some(_) => false,
        None => default,
    }
}

/// The backend a parsed chardev option list describes; `None` for a socket without
/// an address.
fn backend_from_opts(backend: &str, opts: &OptionList) -> Option<ChardevBackend> {
    let server = opt_bool(opts, "server", false);
    let wait = server && opt_bool(opts, "wait", true);
    Some(match backend {
        "socket" => match (opts.get("path"), opts.get("host"), opts.get("port")) {
            (Some(path), _, _) => ChardevBackend::Unix {
                path: path.to_owned(),
                server,
                wait,
            },
            (None, host, Some(port)) => ChardevBackend::Tcp {
                host: host.unwrap_or_default().to_owned(),
                port: port.to_owned(),
                server,
                wait,
                telnet: opt_bool(opts, "telnet", false),
            },
            (None, _, None) => return None,
        },
        "stdio" => ChardevBackend::Stdio,
        "vc" => ChardevBackend::Vc,
        "null" => ChardevBackend::Null,
        "pty" => ChardevBackend::Pty,
        // 0.14 shows the backend name as the filename of the others.
        other => ChardevBackend::Other(other.to_owned()),
    })
}

/// Parses a compat chardev spec (`-qmp`, `-monitor`, `-serial`, `-parallel`) as
/// 0.14's `qemu_chr_parse_compat` does; `None` when it does not parse.
pub fn parse_compat(spec: &str) -> Option<ChardevBackend> {
    let spec = spec.strip_prefix("mon:").unwrap_or(spec);
    match spec {
        "null" => return Some(ChardevBackend::Null),
        "pty" => return Some(ChardevBackend::Pty),
        "stdio" => return Some(ChardevBackend::Stdio),
        "msmouse" | "braille" => return Some(ChardevBackend::Other(spec.to_owned())),
        "con:" => return Some(ChardevBackend::Other("console".to_owned())),
        _ => {}
    }
    if let Some(rest) = spec.strip_prefix("vc") {
        return compat_vc(rest);
    }
    if let Some(rest) = spec.strip_prefix("tcp:") {
        return compat_tcp(rest, false);
    }
    if let Some(rest) = spec.strip_prefix("telnet:") {
        return compat_tcp(rest, true);
    }
    if let Some(rest) = spec.strip_prefix("unix:") {
        let opts = parse_option_list(rest, Some("path"));
        let keys_ok = opts
            .items
            .iter()
            .all(|(k, _)| CHARDEV_KEYS.contains(&k.as_str()));
        return if keys_ok && opts.get("path").is_some_and(|p| !p.is_empty()) {
            backend_from_opts("socket", &opts)
        } else {
            None
        };
    }
    let simple = [
        ("file:", "file"),
        ("pipe:", "pipe"),
        ("udp:", "udp"),
        ("COM", "serial"),
        ("/dev/parport", "parport"),
        ("/dev/ppi", "parport"),
        ("/dev/", "tty"),
    ];
    simple
        .iter()
        .find(|(prefix, _)| spec.starts_with(prefix))
        .map(|(_, backend)| ChardevBackend::Other((*backend).to_owned()))
}

/// `vc[:WxH|:WCxHC]` as 0.14's `sscanf(p+1, "%8[0-9]x%8[0-9]")`, then
/// `"%8[0-9]Cx%8[0-9]C"`, read it: both need a width of 1 to
/// [`VC_SIZE_DIGITS_MAX`] digits and a height of at least one digit; whatever
/// follows the height's first digits is not looked at.
fn compat_vc(rest: &str) -> Option<ChardevBackend> {
    let Some(geometry) = rest.strip_prefix(':') else {
        return rest.is_empty().then_some(ChardevBackend::Vc);
    };
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let width = digits(geometry);
    if width == 0 || width > VC_SIZE_DIGITS_MAX {
        return None;
    }
    let after = &geometry[width..];
    let height = after
        .strip_prefix('x')
        .or_else(|| after.strip_prefix("Cx"))?;
    (digits(height) > 0).then_some(ChardevBackend::Vc)
}

fn compat_tcp(rest: &str, telnet: bool) -> Option<ChardevBackend> {
    let (addr, options) = rest.split_once(',').unwrap_or((rest, ""));
    let (host, port) = addr.split_once(':')?;
    if host.len() > TCP_HOST_BYTES_MAX
        || port.is_empty()
        || port.len() > TCP_PORT_BYTES_MAX
        || port.contains(':')
    {
        return None;
    }
    let opts = parse_option_list(options, None);
    if opts
        .items
        .iter()
        .any(|(k, _)| !CHARDEV_KEYS.contains(&k.as_str()))
    {
        return None;
    }
    let server = opt_bool(&opts, "server", false);
    Some(ChardevBackend::Tcp {
        host: host.to_owned(),
        port: port.to_owned(),
        server,
        wait: server && opt_bool(&opts, "wait", true),
        telnet,
    })
}

/// `-qmp SPEC` / `-monitor SPEC`: a chardev labelled `compat_monitorN` (N counts both
/// options) and a monitor on it; `chardev:ID` uses an existing `-chardev`; `none`
/// gives no monitor.
fn apply_compat_monitor(
    ctx: &mut OptCtx<'_>,
    spec: &str,
    mode: MonitorMode,
) -> Result<(), RawError> {
    if spec == "none" {
        return Ok(());
    }
    let label = match spec.strip_prefix("chardev:") {
        Some(id) => id.to_owned(),
        None => {
            let label = format!("compat_monitor{}", ctx.compat_monitors);
            let backend = parse_compat(spec).ok_or_else(|| RawError::Parse(spec.to_owned()))?;
            check_unique_chardev(ctx.low, ctx.option, spec, &label)?;
            ctx.low.chardevs.push(ChardevConfig {
                label: label.clone(),
                backend,
            });
            label
        }
    };
    *ctx.compat_monitors += 1;
    ctx.low.monitors.push(MonitorConfig {
        chardev: label,
        mode,
        pretty: false,
    });
    Ok(())
}

/// Keys `-mon` takes.
pub const MON_KEYS: &[&str] = &["mode", "chardev", "default", "pretty"];

/// Parses `-mon [chardev=]ID[,mode=readline|control][,pretty=on|off][,default]`.
pub fn parse_mon(option: &str, v: &str) -> Result<MonitorConfig, RawError> {
    let opts = parse_option_list(v, Some("chardev"));
    check_keys(option, v, &opts, MON_KEYS)?;
    let mode = match opts.get("mode").unwrap_or("readline") {
        "readline" => MonitorMode::Readline,
        "control" => MonitorMode::Control,
        other => return Err(RawError::UnknownMonitorMode(other.to_owned())),
    };
    let chardev = opts
        .get("chardev")
        .ok_or_else(|| RawError::ChardevNotFound("(null)".to_owned()))?;
    Ok(MonitorConfig {
        chardev: chardev.to_owned(),
        mode,
        pretty: opt_bool(&opts, "pretty", false),
    })
}

/// Splits a QEMU option string at commas, `,,` standing for a literal comma.
pub fn split_items(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ',' {
            cur.push(c);
        } else if chars.peek() == Some(&',') {
            chars.next();
            cur.push(',');
        } else {
            items.push(std::mem::take(&mut cur));
        }
    }
    items.push(cur);
    items.retain(|i| !i.is_empty());
    items
}

/// Parses `first,key=value,flag,noflag` as 0.14's `qemu_opts_do_parse`: a bare first
/// item goes under `implied` when given; other bare items are flags, `on`, or `off`
/// when written with a `no` prefix.
pub fn parse_option_list(s: &str, implied: Option<&str>) -> OptionList {
    let mut opts = OptionList::default();
    let first_is_bare = !s.starts_with(',');
    for (i, item) in split_items(s).into_iter().enumerate() {
        match (item.split_once('='), implied) {
            (Some((k, v)), _) => opts.push(k, v),
            (None, Some(key)) if i == 0 && first_is_bare => opts.push(key, &item),
            (None, _) => match item.strip_prefix("no") {
                Some(flag) => opts.push(flag, "off"),
                None => opts.push(&item, "on"),
            },
        }
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(args: &[&str]) -> String {
        parse(args.iter().copied()).unwrap_err().to_string()
    }

    fn parse_ok(args: &[&str]) -> LowArgs {
        parse(args.iter().copied()).unwrap()
    }

    #[test]
    fn parse_unknown_option_reports_invalid_option() {
        assert_eq!(
            parse_err(&["-foo"]),
            "qemu-system-x86_64: -foo: invalid option"
        );
    }

    #[test]
    fn parse_unknown_double_dash_option_echoes_it() {
        assert_eq!(
            parse_err(&["--foo"]),
            "qemu-system-x86_64: --foo: invalid option"
        );
    }

    #[test]
    fn parse_missing_argument_reports_requires_argument() {
        assert_eq!(
            parse_err(&["-S", "-name"]),
            "qemu-system-x86_64: -name: requires an argument"
        );
    }

    #[test]
    fn parse_double_dash_option_means_single_dash() {
        assert_eq!(parse_ok(&["--name", "vm1"]).name.as_deref(), Some("vm1"));
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
        assert!(low.start_paused);
    }

    #[test]
    fn parse_ignored_option_without_argument_is_an_error() {
        assert_eq!(
            parse_err(&["-display"]),
            "qemu-system-x86_64: -display: requires an argument"
        );
    }

    #[test]
    fn parse_bare_argument_is_first_disk() {
        assert_eq!(
            parse_ok(&["disk.img"]).drives,
            [DriveArg::Hd {
                index: 0,
                file: "disk.img".to_owned()
            }]
        );
    }

    #[test]
    fn parse_hdc_has_index_two() {
        assert_eq!(
            parse_ok(&["-hdc", "x.img"]).drives,
            [DriveArg::Hd {
                index: 2,
                file: "x.img".to_owned()
            }]
        );
    }

    #[test]
    fn parse_fdb_has_index_one() {
        assert_eq!(
            parse_ok(&["-fdb", "f.img"]).drives,
            [DriveArg::Floppy {
                index: 1,
                file: "f.img".to_owned()
            }]
        );
    }

    #[test]
    fn parse_name_with_process_keeps_name() {
        assert_eq!(
            parse_ok(&["-name", "vm1,process=qemu-vm1"]).name.as_deref(),
            Some("vm1")
        );
    }

    #[test]
    fn parse_name_with_other_subargument_fails() {
        assert_eq!(
            parse_err(&["-name", "vm1,foo=bar"]),
            "Unknown subargument foo=bar to -name"
        );
    }

    #[test]
    fn ram_plain_number_is_mib() {
        assert_eq!(parse_ram_mb("512"), Ok(Some(512)));
    }

    #[test]
    fn ram_g_suffix_is_gib() {
        assert_eq!(parse_ram_mb("2G"), Ok(Some(2048)));
    }

    #[test]
    fn ram_m_suffix_is_mib() {
        assert_eq!(parse_ram_mb("256M"), Ok(Some(256)));
    }

    #[test]
    fn ram_zero_means_default() {
        assert_eq!(parse_ram_mb("0"), Ok(None));
    }

    #[test]
    fn ram_letters_are_invalid() {
        assert_eq!(parse_err(&["-m", "abc"]), "qemu: invalid ram size: abc");
    }

    #[test]
    fn ram_at_max_is_accepted() {
        assert_eq!(parse_ram_mb("4096G"), Ok(Some(RAM_MB_MAX)));
    }

    #[test]
    fn ram_past_max_is_too_large() {
        assert_eq!(
            parse_ram_mb(&(RAM_MB_MAX + 1).to_string()),
            Err(RawError::RamTooLarge)
        );
    }

    #[test]
    fn smp_count_only_fills_topology() {
        assert_eq!(
            parse_smp("4"),
            Ok(SmpArgs {
                cpus: 4,
                max_cpus: 4,
                sockets: 1,
                cores: 1,
                threads: 1
            })
        );
    }

    #[test]
    fn smp_topology_only_computes_count() {
        assert_eq!(parse_smp("cores=2,sockets=2").map(|s| s.cpus), Ok(4));
    }

    #[test]
    fn smp_zero_is_invalid() {
        assert_eq!(parse_err(&["-smp", "0"]), "Invalid number of CPUs");
    }

    #[test]
    fn smp_letters_are_invalid() {
        assert_eq!(parse_err(&["-smp", "two"]), "Invalid number of CPUs");
    }

    #[test]
    fn smp_at_max_is_accepted() {
        assert_eq!(parse_ok(&["-smp", "255"]).smp.map(|s| s.cpus), Some(255));
    }

    #[test]
    fn smp_past_max_is_rejected() {
        assert_eq!(parse_err(&["-smp", "256"]), "Unsupported number of maxcpus");
    }

    #[test]
    fn smp_maxcpus_at_max_is_accepted() {
        let v = format!("1,maxcpus={SMP_CPUS_MAX}");
        assert_eq!(parse_smp(&v).map(|s| s.max_cpus), Ok(SMP_CPUS_MAX));
    }

    #[test]
    fn smp_maxcpus_past_max_is_unsupported() {
        let v = format!("1,maxcpus={}", SMP_CPUS_MAX + 1);
        assert_eq!(parse_smp(&v), Err(RawError::MaxCpusUnsupported));
    }

    #[test]
    fn smp_maxcpus_below_count_is_rejected() {
        assert_eq!(
            parse_err(&["-smp", "4,maxcpus=2"]),
            "maxcpus must be equal to or greater than smp"
        );
    }

    #[test]
    fn smp_more_than_isapc_allows_is_rejected() {
        assert_eq!(
            parse_err(&["-M", "isapc", "-smp", "2"]),
            "Number of SMP cpus requested (2), exceeds max cpus supported by machine `isapc' (1)"
        );
    }

    #[test]
    fn uuid_is_lowercased() {
        assert_eq!(
            parse_uuid("550E8400-E29B-41D4-A716-446655440000").as_deref(),
            Ok("550e8400-e29b-41d4-a716-446655440000")
        );
    }

    #[test]
    fn uuid_with_short_group_is_rejected() {
        assert_eq!(
            parse_err(&["-uuid", "550e8400-e29b-41d4-a716-44665544000"]),
            "Fail to parse UUID string. Wrong format."
        );
    }

    #[test]
    fn uuid_with_non_hex_is_rejected() {
        assert_eq!(
            parse_uuid("550e8400-e29b-41d4-a716-44665544000g"),
            Err(RawError::BadUuid)
        );
    }

    #[test]
    fn machine_unknown_prints_list() {
        assert!(parse_err(&["-M", "q35"]).starts_with("Supported machines are:\npc         Standard PC (alias of pc-0.14)\npc-0.14    Standard PC (default)"));
    }

    #[test]
    fn machine_question_mark_is_list_mode() {
        assert_eq!(
            parse_ok(&["-M", "?"]).special,
            Some(SpecialMode::MachineList)
        );
    }

    #[test]
    fn machine_accel_kvm_enables_kvm() {
        assert!(parse_ok(&["-machine", "pc,accel=kvm"]).kvm);
    }

    #[test]
    fn no_kvm_after_enable_kvm_disables() {
        assert!(!parse_ok(&["-enable-kvm", "-no-kvm"]).kvm);
    }

    #[test]
    fn cpu_unknown_model_is_rejected() {
        assert_eq!(
            parse_err(&["-cpu", "z80"]),
            "Unable to find x86 CPU definition"
        );
    }

    #[test]
    fn cpu_model_with_flags_is_accepted() {
        assert_eq!(
            parse_ok(&["-cpu", "qemu64,+ssse3"]).cpu_model.as_deref(),
            Some("qemu64,+ssse3")
        );
    }

    #[test]
    fn qmp_unix_server_nowait_parses() {
        let low = parse_ok(&["-qmp", "unix:/tmp/q.sock,server,nowait"]);
        assert_eq!(
            low.chardevs,
            [ChardevConfig {
                label: "compat_monitor0".to_owned(),
                backend: ChardevBackend::Unix {
                    path: "/tmp/q.sock".to_owned(),
                    server: true,
                    wait: false
                }
            }]
        );
    }

    #[test]
    fn qmp_tcp_server_waits_by_default() {
        assert_eq!(
            parse_compat("tcp:127.0.0.1:4444,server"),
            Some(ChardevBackend::Tcp {
                host: "127.0.0.1".to_owned(),
                port: "4444".to_owned(),
                server: true,
                wait: true,
                telnet: false
            })
        );
    }

    #[test]
    fn qmp_tcp_empty_host_parses() {
        assert!(matches!(
            parse_compat("tcp::4444,server,nowait"),
            Some(ChardevBackend::Tcp { ref host, wait: false, .. }) if host.is_empty()
        ));
    }

    /// The host and port `parse_compat` reads from a `tcp:` spec.
    fn tcp_host_port(spec: &str) -> Option<(String, String)> {
        match parse_compat(spec) {
            Some(ChardevBackend::Tcp { host, port, .. }) => Some((host, port)),
            _ => None,
        }
    }

    #[test]
    fn compat_tcp_host_at_limit_is_accepted() {
        let host = "h".repeat(TCP_HOST_BYTES_MAX);
        assert_eq!(
            tcp_host_port(&format!("tcp:{host}:4444,server")),
            Some((host, "4444".to_owned()))
        );
    }

    #[test]
    fn compat_tcp_host_past_limit_is_refused() {
        let host = "h".repeat(TCP_HOST_BYTES_MAX + 1);
        assert_eq!(tcp_host_port(&format!("tcp:{host}:4444,server")), None);
    }

    #[test]
    fn qmp_tcp_host_past_limit_is_parse_error() {
        let spec = format!("tcp:{}:4444,server", "h".repeat(TCP_HOST_BYTES_MAX + 1));
        assert_eq!(parse_err(&["-qmp", &spec]), format!("parse error: {spec}"));
    }

    #[test]
    fn compat_tcp_port_at_limit_is_accepted() {
        let port = "4".repeat(TCP_PORT_BYTES_MAX);
        assert_eq!(
            tcp_host_port(&format!("tcp:localhost:{port},server")),
            Some(("localhost".to_owned(), port))
        );
    }

    #[test]
    fn compat_tcp_port_past_limit_is_refused() {
        let port = "4".repeat(TCP_PORT_BYTES_MAX + 1);
        assert_eq!(tcp_host_port(&format!("tcp:localhost:{port},server")), None);
    }

    #[test]
    fn compat_vc_width_at_digit_limit_is_accepted() {
        let spec = format!("vc:{}x600", "8".repeat(VC_SIZE_DIGITS_MAX));
        assert_eq!(parse_compat(&spec), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_width_past_digit_limit_is_refused() {
        let spec = format!("vc:{}x600", "8".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), None);
    }

    #[test]
    fn compat_vc_char_width_past_digit_limit_is_refused() {
        let spec = format!("vc:{}Cx25C", "8".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), None);
    }

    #[test]
    fn compat_vc_height_past_digit_limit_is_accepted() {
        // `%8[0-9]` reads the first eight digits; sscanf has its two fields.
        let spec = format!("vc:800x{}", "6".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_chars_form_is_accepted() {
        assert_eq!(parse_compat("vc:80Cx25C"), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_without_height_is_refused() {
        assert_eq!(parse_compat("vc:800x"), None);
    }

    #[test]
    fn qmp_tcp_without_port_is_parse_error() {
        assert_eq!(
            parse_err(&["-qmp", "tcp:localhost"]),
            "parse error: tcp:localhost"
        );
    }

    #[test]
    fn qmp_unknown_backend_is_parse_error() {
        assert_eq!(parse_err(&["-qmp", "bogus"]), "parse error: bogus");
    }

    #[test]
    fn qmp_unix_unknown_flag_is_parse_error() {
        assert_eq!(
            parse_err(&["-qmp", "unix:/tmp/q,server,bogus"]),
            "parse error: unix:/tmp/q,server,bogus"
        );
    }

    #[test]
    fn qmp_and_monitor_share_label_counter() {
        let low = parse_ok(&[
            "-monitor",
            "stdio",
            "-qmp",
            "tcp:127.0.0.1:4444,server,nowait",
        ]);
        let labels: Vec<&str> = low.chardevs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["compat_monitor0", "compat_monitor1"]);
    }

    #[test]
    fn qmp_stdio_is_control_monitor() {
        assert_eq!(
            parse_ok(&["-qmp", "stdio"]).monitors,
            [MonitorConfig {
                chardev: "compat_monitor0".to_owned(),
                mode: MonitorMode::Control,
                pretty: false
            }]
        );
    }

    #[test]
    fn chardev_socket_long_form_parses() {
        assert_eq!(
            parse_chardev("-chardev", "socket,id=qmp0,path=/tmp/s,server=on,wait=off"),
            Ok(ChardevConfig {
                label: "qmp0".to_owned(),
                backend: ChardevBackend::Unix {
                    path: "/tmp/s".to_owned(),
                    server: true,
                    wait: false
                }
            })
        );
    }

    #[test]
    fn chardev_bare_server_nowait_flags_parse() {
        assert!(matches!(
            parse_chardev(
                "-chardev",
                "socket,id=c,host=127.0.0.1,port=4444,server,nowait"
            ),
            Ok(ChardevConfig {
                backend: ChardevBackend::Tcp {
                    server: true,
                    wait: false,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn chardev_without_id_is_rejected() {
        assert_eq!(
            parse_err(&["-chardev", "socket,path=/tmp/s"]),
            "chardev: no id specified"
        );
    }

    #[test]
    fn chardev_unknown_backend_is_rejected() {
        assert_eq!(
            parse_err(&["-chardev", "bogus,id=x"]),
            "chardev: backend \"bogus\" not found"
        );
    }

    #[test]
    fn chardev_unknown_key_is_invalid_parameter() {
        assert_eq!(
            parse_err(&["-chardev", "socket,id=x,path=/s,colour=red"]),
            "qemu-system-x86_64: -chardev socket,id=x,path=/s,colour=red: Invalid parameter 'colour'"
        );
    }

    #[test]
    fn chardev_socket_without_address_is_rejected() {
        assert_eq!(
            parse_err(&["-chardev", "socket,id=x,server"]),
            "chardev: socket \"x\": needs path=PATH or host=HOST,port=PORT"
        );
    }

    #[test]
    fn chardev_duplicate_id_is_rejected() {
        assert_eq!(
            parse_err(&["-chardev", "null,id=a", "-chardev", "null,id=a"]),
            "qemu-system-x86_64: -chardev null,id=a: Duplicate ID 'a' for chardev"
        );
    }

    #[test]
    fn mon_control_pretty_parses() {
        assert_eq!(
            parse_mon("-mon", "chardev=c,mode=control,pretty=on"),
            Ok(MonitorConfig {
                chardev: "c".to_owned(),
                mode: MonitorMode::Control,
                pretty: true
            })
        );
    }

    #[test]
    fn mon_unknown_mode_is_rejected() {
        assert_eq!(
            parse_err(&["-mon", "chardev=c,mode=json"]),
            "unknown monitor mode \"json\""
        );
    }

    #[test]
    fn serial_fifth_port_is_too_many() {
        assert_eq!(
            parse_err(&[
                "-serial", "null", "-serial", "null", "-serial", "null", "-serial", "null",
                "-serial", "null"
            ]),
            "qemu: too many serial ports"
        );
    }

    #[test]
    fn serial_fourth_port_is_accepted() {
        let args = [
            "-serial", "null", "-serial", "null", "-serial", "null", "-serial", "pty",
        ];
        assert_eq!(parse_ok(&args).serials.len(), SERIAL_PORTS_MAX);
    }

    #[test]
    fn parallel_third_port_is_accepted() {
        let args = ["-parallel", "null", "-parallel", "null", "-parallel", "pty"];
        assert_eq!(parse_ok(&args).parallels.len(), PARALLEL_PORTS_MAX);
    }

    #[test]
    fn serial_none_does_not_count_toward_the_limit() {
        let args = [
            "-serial", "none", "-serial", "null", "-serial", "null", "-serial", "null", "-serial",
            "pty",
        ];
        assert_eq!(parse_ok(&args).serials.len(), SERIAL_PORTS_MAX + 1);
    }

    #[test]
    fn parallel_fourth_port_is_too_many() {
        let args = [
            "-parallel",
            "null",
            "-parallel",
            "null",
            "-parallel",
            "null",
            "-parallel",
            "null",
        ];
        assert_eq!(parse_err(&args), "qemu: too many parallel ports");
    }

    #[test]
    fn serial_bad_spec_is_rejected() {
        assert_eq!(
            parse_err(&["-serial", "carrier-pigeon"]),
            "qemu: could not open serial device 'carrier-pigeon'"
        );
    }

    #[test]
    fn device_keeps_driver_first() {
        assert_eq!(
            parse_ok(&["-device", "e1000,id=n1"]).devices[0].items,
            [
                ("driver".to_owned(), "e1000".to_owned()),
                ("id".to_owned(), "n1".to_owned())
            ]
        );
    }

    #[test]
    fn device_without_driver_is_rejected() {
        assert_eq!(
            parse_err(&["-device", "id=n1"]),
            "qemu-system-x86_64: -device id=n1: Parameter 'driver' is missing"
        );
    }

    #[test]
    fn netdev_without_id_is_rejected() {
        assert_eq!(
            parse_err(&["-netdev", "user"]),
            "qemu-system-x86_64: -netdev user: Parameter 'id' is missing"
        );
    }

    #[test]
    fn net_unknown_type_is_rejected() {
        assert_eq!(
            parse_err(&["-net", "wifi"]),
            "qemu-system-x86_64: -net wifi: Parameter 'type' expects a network client type"
        );
    }

    #[test]
    fn net_none_stores_type() {
        assert_eq!(
            parse_ok(&["-net", "none"]).nets[0].get("type"),
            Some("none")
        );
    }

    #[test]
    fn balloon_virtio_with_addr_is_accepted() {
        assert_eq!(
            parse_ok(&["-balloon", "virtio,addr=0x5"])
                .balloon
                .map(|b| b.items.len()),
            Some(2)
        );
    }

    #[test]
    fn balloon_unknown_is_rejected() {
        assert_eq!(
            parse_err(&["-balloon", "xen"]),
            "Unknown -balloon argument xen"
        );
    }

    #[test]
    fn watchdog_action_unknown_is_rejected() {
        assert_eq!(
            parse_err(&["-watchdog-action", "explode"]),
            "Unknown -watchdog-action parameter"
        );
    }

    #[test]
    fn drive_werror_unknown_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a,werror=explode"]),
            "qemu: 'explode' invalid write error action"
        );
    }

    #[test]
    fn drive_rerror_enospc_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a,rerror=enospc"]),
            "qemu: 'enospc' invalid read error action"
        );
    }

    #[test]
    fn watchdog_twice_is_rejected() {
        assert_eq!(
            parse_err(&["-watchdog", "ib700", "-watchdog", "ib700"]),
            "qemu: only one watchdog option may be given"
        );
    }

    #[test]
    fn drive_unknown_key_is_invalid_parameter() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,speed=fast"]),
            "qemu-system-x86_64: -drive file=a.img,speed=fast: Invalid parameter 'speed'"
        );
    }

    #[test]
    fn drive_bad_bus_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,if=usb"]),
            "qemu: unsupported bus type 'usb'"
        );
    }

    #[test]
    fn drive_bad_media_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,media=tape"]),
            "qemu: 'tape' invalid media"
        );
    }

    #[test]
    fn drive_virtual_without_size_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=v.img,x-virtual=on"]),
            "qmpsim: -drive file=v.img,x-virtual=on: x-virtual=on needs x-size=SIZE"
        );
    }

    #[test]
    fn drive_bad_size_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=v.img,x-virtual=on,x-size=10Q"]),
            "qmpsim: -drive file=v.img,x-virtual=on,x-size=10Q: invalid x-size '10Q'"
        );
    }

    #[test]
    fn drive_comma_escape_keeps_comma_in_file() {
        let low = parse_ok(&["-drive", "file=a,,b.img,if=ide"]);
        assert_eq!(
            low.drives,
            [DriveArg::Drive(parse_option_list(
                "file=a,,b.img,if=ide",
                None
            ))]
        );
    }

    #[test]
    fn size_suffixes_are_powers_of_1024() {
        assert_eq!(parse_size_bytes("10G"), Some(10 << 30));
    }

    #[test]
    fn size_without_suffix_is_bytes() {
        assert_eq!(parse_size_bytes("512"), Some(512));
    }

    #[test]
    fn size_overflow_is_rejected() {
        assert_eq!(parse_size_bytes("17179869184G"), None);
    }

    #[test]
    fn seed_parses_u64() {
        assert_eq!(parse_ok(&["-x-seed", "42"]).seed, Some(42));
        assert!(parse_ok(&["-x-clock", "manual"]).clock_manual);
        assert!(parse_ok(&["-no-acpi"]).no_acpi);
        let g = parse_ok(&["-x-guest", "acpi=off,shutdown-ms=3600000"]).guest;
        assert_eq!((g.acpi, g.shutdown_ms), (false, 3_600_000));
        assert_eq!(
            parse_err(&["-x-guest", "shutdown-ms=3600001"]),
            "qmpsim: -x-guest shutdown-ms=3600001: shutdown-ms takes 0 to 3600000"
        );
        assert_eq!(
            parse_err(&["-x-guest", "acpi=maybe"]),
            "qmpsim: -x-guest acpi=maybe: unknown setting 'acpi=maybe' (acpi=on|off, shutdown-ms=N)"
        );
        assert!(!parse_ok(&["-x-clock", "idle"]).clock_manual);
        assert_eq!(
            parse_err(&["-x-clock", "fast"]),
            "qmpsim: -x-clock: invalid clock mode 'fast' (idle or manual)"
        );
    }

    #[test]
    fn seed_negative_is_rejected() {
        assert_eq!(
            parse_err(&["-x-seed", "-1"]),
            "qmpsim: -x-seed: invalid seed '-1'"
        );
    }

    #[test]
    fn epoch_letters_are_rejected() {
        assert_eq!(
            parse_err(&["-x-epoch", "soon"]),
            "qmpsim: -x-epoch: invalid epoch 'soon'"
        );
    }

    #[test]
    fn record_keeps_path() {
        assert_eq!(
            parse_ok(&["-record", "s.qmptrace"]).record.as_deref(),
            Some("s.qmptrace")
        );
    }

    #[test]
    fn daemonize_with_nographic_is_rejected() {
        assert_eq!(
            parse_err(&["-daemonize", "-nographic"]),
            "-nographic can not be used with -daemonize"
        );
    }

    #[test]
    fn daemonize_with_stdio_monitor_is_rejected() {
        assert_eq!(
            parse_err(&["-daemonize", "-qmp", "stdio"]),
            "qmpsim: -daemonize can not be used with a stdio monitor"
        );
    }

    #[test]
    fn option_list_no_prefix_flag_is_off() {
        assert_eq!(
            parse_option_list("x,nowait", Some("a")).items,
            [
                ("a".to_owned(), "x".to_owned()),
                ("wait".to_owned(), "off".to_owned())
            ]
        );
    }

    #[test]
    fn every_parsed_option_has_a_handler() {
        let parsed: Vec<&str> = OPTIONS
            .iter()
            .filter(|o| o.used == Use::Parsed)
            .map(|o| o.name)
            .collect();
        let handled = parsed.iter().all(|name| {
            let arg = format!("-{name}");
            let value = sample_value(name);
            let args: Vec<&str> = match lookup(name).map(|o| o.arity) {
                Some(Arity::Flag) => vec![arg.as_str()],
                _ => vec![arg.as_str(), value],
            };
            std::panic::catch_unwind(|| parse(args.iter().copied())).is_ok()
        });
        assert!(handled);
    }

    fn sample_value(name: &str) -> &'static str {
        match name {
            "M" | "machine" => "pc",
            "cpu" => "qemu64",
            "smp" | "m" | "x-seed" | "x-epoch" => "1",
            "x-clock" => "manual",
            "x-guest" => "acpi=on",
            "uuid" => "00000000-0000-0000-0000-000000000000",
            "balloon" => "none",
            "net" => "none",
            "netdev" => "user,id=u",
            "chardev" => "null,id=c",
            "mon" => "chardev=c",
            "monitor" | "qmp" | "serial" | "parallel" => "null",
            "watchdog" => "ib700",
            "watchdog-action" => "reset",
            "device" => "e1000",
            _ => "x",
        }
    }
}
