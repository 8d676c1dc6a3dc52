//! Why a command line was refused: [`RawError`], whose `Display` is the exact
//! one-line message QEMU 0.14 prints (or a `qmpsim:` one for qmpsim's own options).

use super::smp::machine_list;
use crate::machine::watchdog::watchdog_list;

/// Program name QEMU prefixes its located error messages with.
pub const PROGRAM: &str = "qemu-system-x86_64";

/// Why the command line was refused. `Display` is the exact message QEMU prints;
/// [`RawError::exit_status`] the status it exits with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// An option QEMU does not know.
    #[error("{PROGRAM}: {0}: invalid option")]
    InvalidOption(String),
    /// An option that needs an argument came last.
    #[error("{PROGRAM}: {0}: requires an argument")]
    MissingArgument(String),
    /// One of qmpsim's own options (`-record`, `-x-*`) came last without its value.
    #[error("qmpsim: {0}: requires an argument")]
    MissingQmpsimArgument(String),
    /// An argument that is not UTF-8.
    #[error("{PROGRAM}: {0}: argument is not valid UTF-8")]
    NotUtf8(String),
    /// `-m` that is not a size.
    #[error("qemu: invalid ram size: {0}")]
    InvalidRamSize(String),
    /// `-m` past [`RAM_MB_MAX`](super::RAM_MB_MAX).
    #[error("qemu: ram size too large")]
    RamTooLarge,
    /// `-smp` that gives no CPU.
    #[error("Invalid number of CPUs")]
    InvalidCpuCount,
    /// `-smp n,maxcpus=m` with m < n.
    #[error("maxcpus must be equal to or greater than smp")]
    MaxCpusBelowSmp,
    /// `maxcpus` past [`SMP_CPUS_MAX`](crate::machine::config::SMP_CPUS_MAX).
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
    /// More than [`SERIAL_PORTS_MAX`](super::SERIAL_PORTS_MAX) `-serial`.
    #[error("qemu: too many serial ports")]
    TooManySerials,
    /// More than [`PARALLEL_PORTS_MAX`](super::PARALLEL_PORTS_MAX) `-parallel`.
    #[error("qemu: too many parallel ports")]
    TooManyParallels,
    /// `-balloon x`.
    #[error("Unknown -balloon argument {0}")]
    Balloon(String),
    /// `-watchdog x`.
    #[error(
        "Unknown -watchdog device. Supported devices are:\n{}",
        watchdog_list()
    )]
    Watchdog(String),
    /// A second `-watchdog`.
    #[error("qemu: only one watchdog option may be given")]
    WatchdogTwice,
    /// `-watchdog-action x`.
    #[error("Unknown -watchdog-action parameter")]
    WatchdogAction(String),
    /// A value an option's initialisation refuses, reported by 0.14's
    /// `error_report` at the option's command-line location (`drive_init`,
    /// `net_client_init`): `qemu-system-x86_64: -drive cache=x: invalid cache option`.
    #[error("{PROGRAM}: {option} {arg}: {message}")]
    Located {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// 0.14's message.
        message: String,
    },
    /// `error_report` after option parsing, with no location left
    /// (`loc_set_none`): 0.14 prints the program name alone, then its text
    /// (`qemu: Unsupported NIC model: x` from the machine's NIC setup).
    #[error("{PROGRAM}: {0}")]
    Unlocated(String),
    /// `-boot` with a device letter outside `a`..`p` (`validate_bootdevices`).
    #[error("Invalid boot device '{0}'")]
    BootDevice(char),
    /// `-boot` naming a device twice.
    #[error("Boot device '{0}' was given twice")]
    BootDeviceTwice(char),
    /// `-boot` with a key other than `order`, `once` and `menu`.
    #[error("qemu: unknown boot parameter '{param}' in '{arg}'")]
    BootParameter {
        /// The key (as 0.14's 33-byte buffer keeps it).
        param: String,
        /// The whole argument.
        arg: String,
    },
    /// A value 0.14 checks against a fixed list (`-boot menu=`, `-rtc clock=`,
    /// `-rtc driftfix=`).
    #[error("qemu: invalid option value '{0}'")]
    OptionValue(String),
    /// `-incoming` with a protocol 0.14 does not know: its two lines, then
    /// `exit(-EPROTONOSUPPORT)` (status 163).
    #[error("unknown migration protocol: {0}\nMigration failed. Exit code {0}(-93), exiting.")]
    IncomingProtocol(String),
    /// `-incoming tcp:` with an address `parse_host_port` refuses: its two
    /// lines, then `exit(-EINVAL)` (status 234).
    #[error(
        "invalid host/port combination: {rest}\nMigration failed. Exit code {uri}(-22), exiting."
    )]
    IncomingHostPort {
        /// The whole URI.
        uri: String,
        /// What follows `tcp:`.
        rest: String,
    },
    /// `-spice` whose option list does not parse: the located reason, then
    /// `vl.c`'s own line.
    #[error("{PROGRAM}: {option} {arg}: {problem}\nparse error: {arg}")]
    SpiceParse {
        /// The option as written.
        option: String,
        /// Its argument.
        arg: String,
        /// Why `qemu_opts_parse` refused it.
        problem: String,
    },
    /// A `-spice` name outside its table (`parse_name` of `spice-core.c`).
    #[error("spice: invalid {what}: {value}")]
    SpiceName {
        /// `image compression` or `wan compression`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// `-vnc ...,x509` without `=PATH`.
    #[error("No certificate path provided")]
    VncCertificatePath,
    /// A `-vnc` address `inet_parse` refuses.
    #[error("inet_parse: {kind} parse error ({display})")]
    VncAddress {
        /// `portonly`, `ipv6`, `ipv4` or `hostname`.
        kind: &'static str,
        /// The display string.
        display: String,
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
    /// A bad `-x-explore-gap` option.
    #[error("qmpsim: -x-explore-gap {arg}: {source}")]
    ExploreGap {
        /// The option string.
        arg: String,
        /// What is wrong.
        #[source]
        source: crate::machine::placement::PlacementError,
    },
    /// A bad `-x-chaos` option.
    #[error("qmpsim: -x-chaos {arg}: {source}")]
    Chaos {
        /// The option string.
        arg: String,
        /// What is wrong.
        #[source]
        source: crate::machine::chaos::ChaosError,
    },
    /// `-x-clock` that is not `idle`, `manual` or `realtime`.
    #[error("qmpsim: -x-clock: invalid clock mode '{0}' (idle, manual or realtime)")]
    ClockMode(String),
    /// `-startdate` that is neither `now` nor a date.
    #[error("Invalid date format. Valid formats are:\n'2006-06-17T16:01:21' or '2006-06-17'")]
    StartDate,
    /// `-x-state-every` that is not an unsigned number.
    #[error("qmpsim: -x-state-every: invalid step count '{0}'")]
    StateEvery(String),
    /// `-usbdevice` naming no device 0.14 makes (`usb_parse`).
    #[error("qemu: could not add USB device '{0}'")]
    UsbDevice(String),
    /// `-usbdevice` giving parameters to a device that takes none: the
    /// `error_report` of `usbdevice_create`, then `usb_parse`'s line.
    #[error(
        "{PROGRAM}: usbdevice {driver} accepts no params\nqemu: could not add USB device '{name}'"
    )]
    UsbDeviceParams {
        /// The device name before the `:`.
        driver: String,
        /// The whole name.
        name: String,
    },
    /// `-drive format=?`: `drive_init` prints the format drivers and makes no
    /// drive.
    #[error("{}", crate::machine::devices::block::supported_formats_line())]
    FormatList,
    /// `-vga` naming no type 0.14 knows (`select_vgahw`).
    #[error("Unknown vga type: {0}")]
    VgaType(String),
    /// `-append` with a command line but no `-kernel`.
    #[error("-append only allowed with -kernel option")]
    AppendWithoutKernel,
    /// `-initrd` without `-kernel`.
    #[error("-initrd only allowed with -kernel option")]
    InitrdWithoutKernel,
    /// `-clock` options that left no alarm timer (`init_timer_alarm`).
    #[error("could not initialize alarm timer")]
    AlarmTimer,
    /// `-daemonize` with `-nographic`.
    #[error("-nographic can not be used with -daemonize")]
    DaemonizeNographic,
    /// `-daemonize` with a stdio monitor.
    #[error("qmpsim: -daemonize can not be used with a stdio monitor")]
    DaemonizeStdio,
}

/// `EPROTONOSUPPORT`: 0.14 exits with its negation for an unknown `-incoming`
/// protocol.
const EPROTONOSUPPORT: i32 = 93;
/// `EINVAL`: 0.14 exits with its negation for a bad `-incoming tcp:` address.
const EINVAL: i32 = 22;

impl RawError {
    /// The process's exit status: 1, as 0.14's `exit(1)`, except for `-incoming`,
    /// whose failure 0.14 turns into `exit(ret)` with a negative errno (the
    /// status is its low byte).
    pub fn exit_status(&self) -> u8 {
        let errno = match self {
            RawError::IncomingProtocol(_) => EPROTONOSUPPORT,
            RawError::IncomingHostPort { .. } => EINVAL,
            _ => return 1,
        };
        u8::try_from((-errno) & 0xff).expect("masked to a byte")
    }
}
