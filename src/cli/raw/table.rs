//! The option table (ripgrep's `flags/defs.rs`): every option `qmpsim run` accepts,
//! one entry each, with its name, arity, group, help text and the function that
//! parses its value into the config. Parsing ([`super::parse`]), `--help`
//! ([`usage`]) and any man page or completion script are generated from it
//! through [`options`].
//!
//! Adding an option is one entry here (and, when its value needs more than one
//! line of parsing, an `apply_*` function in its family's file) plus its test.
//! Entries follow QEMU 0.14's `qemu-options.hx` order; options that change nothing
//! QMP can see have no `apply` and are accepted and ignored.

use super::{
    boot, chardev, display, drive, hardware, net, other, smp, OptCtx, RawError, SpecialMode,
};
use crate::machine::config::MonitorMode;

/// What an option does with its value (the empty string for a flag).
type ApplyFn = fn(&mut OptCtx<'_>, String) -> Result<(), RawError>;

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `-S`.
    Flag,
    /// `-name NAME`: the value's name as help shows it.
    Value(&'static str),
}

/// The sections of `qemu-options.hx`, plus qmpsim's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Machine, CPUs, memory, identity.
    Standard,
    /// Drives and file systems.
    Block,
    /// USB.
    Usb,
    /// Display.
    Display,
    /// i386 target options.
    I386,
    /// Network.
    Network,
    /// Character devices.
    Chardev,
    /// Bluetooth.
    Bluetooth,
    /// Linux/Multiboot boot.
    Boot,
    /// Debug/expert options: monitors, run control, process.
    Expert,
    /// qmpsim extensions.
    Qmpsim,
}

impl Group {
    /// Every group, in help order.
    pub const ALL: [Group; 11] = [
        Group::Standard,
        Group::Block,
        Group::Usb,
        Group::Display,
        Group::I386,
        Group::Network,
        Group::Chardev,
        Group::Bluetooth,
        Group::Boot,
        Group::Expert,
        Group::Qmpsim,
    ];

    /// The section title.
    pub fn title(self) -> &'static str {
        match self {
            Group::Standard => "Standard options",
            Group::Block => "Block device options",
            Group::Usb => "USB options",
            Group::Display => "Display options",
            Group::I386 => "i386 target options",
            Group::Network => "Network options",
            Group::Chardev => "Character device options",
            Group::Bluetooth => "Bluetooth options",
            Group::Boot => "Linux/Multiboot boot options",
            Group::Expert => "Debug/expert options",
            Group::Qmpsim => "qmpsim extensions",
        }
    }
}

/// One option.
#[derive(Debug)]
pub struct OptDef {
    /// Name without the dash (`name` for `-name`).
    pub name: &'static str,
    /// Flag or value.
    pub arity: Arity,
    /// Its section.
    pub group: Group,
    /// One line of help (more lines are separated by `\n`).
    pub help: &'static str,
    /// What it does; `None` means accepted and ignored.
    apply: Option<ApplyFn>,
}

impl OptDef {
    /// The value's name (`NAME` for `-name NAME`), `None` for a flag.
    pub fn value_name(&self) -> Option<&'static str> {
        match self.arity {
            Arity::Flag => None,
            Arity::Value(name) => Some(name),
        }
    }

    /// Whether qmpsim accepts the option and ignores it (it changes nothing QMP
    /// shows).
    pub fn is_ignored(&self) -> bool {
        self.apply.is_none()
    }

    /// Applies the option's value (the empty string for a flag); nothing for an
    /// ignored option.
    pub(super) fn apply(&self, ctx: &mut OptCtx<'_>, value: String) -> Result<(), RawError> {
        match self.apply {
            Some(apply) => apply(ctx, value),
            None => Ok(()),
        }
    }
}

/// Every option, in table order.
pub fn options() -> impl Iterator<Item = &'static OptDef> {
    OPTIONS.iter()
}

/// The entry for an option name (without dashes).
pub fn lookup(name: &str) -> Option<&'static OptDef> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// An option that takes no value.
const fn flag(name: &'static str, group: Group, help: &'static str, apply: ApplyFn) -> OptDef {
    entry(name, Arity::Flag, group, help, Some(apply))
}

/// An option that takes one value, shown as `value_name` in `--help`.
const fn value(
    name: &'static str,
    value_name: &'static str,
    group: Group,
    help: &'static str,
    apply: ApplyFn,
) -> OptDef {
    entry(name, Arity::Value(value_name), group, help, Some(apply))
}

/// A flag accepted and ignored.
const fn ignored_flag(name: &'static str, group: Group, help: &'static str) -> OptDef {
    entry(name, Arity::Flag, group, help, None)
}

/// An option with a value accepted and ignored.
const fn ignored_value(
    name: &'static str,
    value_name: &'static str,
    group: Group,
    help: &'static str,
) -> OptDef {
    entry(name, Arity::Value(value_name), group, help, None)
}

const fn entry(
    name: &'static str,
    arity: Arity,
    group: Group,
    help: &'static str,
    apply: Option<ApplyFn>,
) -> OptDef {
    OptDef {
        name,
        arity,
        group,
        help,
        apply,
    }
}

fn special(ctx: &mut OptCtx<'_>, mode: SpecialMode) -> Result<(), RawError> {
    ctx.low.special = Some(mode);
    Ok(())
}

/// A flag option that turns something on.
fn on(flag: &mut bool) -> Result<(), RawError> {
    *flag = true;
    Ok(())
}

/// A flag option that turns something off.
fn off(flag: &mut bool) -> Result<(), RawError> {
    *flag = false;
    Ok(())
}

/// An option whose value is kept as given (the last one wins).
fn put<T>(slot: &mut Option<T>, value: T) -> Result<(), RawError> {
    *slot = Some(value);
    Ok(())
}

use Group::{
    Block, Bluetooth, Boot, Chardev, Display, Expert, Network, Qmpsim, Standard, Usb, I386,
};

/// Every option accepted, in the order of QEMU 0.14's `qemu-options.hx`, one line
/// each: name, value name (values only), group, help, what it does.
#[rustfmt::skip]
pub static OPTIONS: &[OptDef] = &[
    flag("h", Standard, "print this help and exit", |c, _| special(c, SpecialMode::Help)),
    flag("help", Standard, "print this help and exit", |c, _| special(c, SpecialMode::Help)),
    flag("version", Standard, "print the version and exit",
        |c, _| special(c, SpecialMode::Version)),
    value("M", "MACHINE", Standard, "machine type (`-M ?` lists them)", smp::apply_machine),
    value("machine", "[type=]MACHINE[,accel=kvm]", Standard, "machine type and accelerator",
        smp::apply_machine),
    value("cpu", "MODEL", Standard, "CPU model (`-cpu ?` lists them)", smp::apply_cpu),
    value("smp", "N[,maxcpus=..,cores=..,threads=..,sockets=..]", Standard, "number of CPUs",
        smp::apply_smp),
    ignored_value("numa", "OPTS", Standard, "a NUMA node"),
    value("fda", "FILE", Block, "floppy disk 0 image", |c, v| drive::push_floppy(c, 0, v)),
    value("fdb", "FILE", Block, "floppy disk 1 image", |c, v| drive::push_floppy(c, 1, v)),
    value("hda", "FILE", Block, "IDE disk 0 image", |c, v| drive::push_hd(c, 0, v)),
    value("hdb", "FILE", Block, "IDE disk 1 image", |c, v| drive::push_hd(c, 1, v)),
    value("hdc", "FILE", Block, "IDE disk 2 image", |c, v| drive::push_hd(c, 2, v)),
    value("hdd", "FILE", Block, "IDE disk 3 image", |c, v| drive::push_hd(c, 3, v)),
    value("cdrom", "FILE", Block, "IDE CD-ROM image (index 2)", drive::apply_cdrom),
    value("drive", "OPTS", Block, "a drive: file=F,if=,index=,media=,format=,id=..\n\
        x-virtual=on,x-size=10G: F need not exist", drive::apply_drive),
    ignored_value("set", "GROUP.ID.ARG=VALUE", Block, "set a config option"),
    ignored_value("global", "DRIVER.PROP=VALUE", Block, "set a default property"),
    ignored_value("mtdblock", "FILE", Block, "on-board flash memory image"),
    ignored_value("sd", "FILE", Block, "SD card image"),
    ignored_value("pflash", "FILE", Block, "parallel flash image"),
    value("boot", "SPEC", Standard, "boot order, kept in the config", boot::apply_boot),
    ignored_flag("snapshot", Block, "write to temporary files instead of images"),
    value("m", "MB[M|G]", Standard, "RAM size", smp::apply_ram),
    ignored_value("mem-path", "PATH", Standard, "back guest RAM with a file"),
    ignored_flag("mem-prealloc", Standard, "preallocate guest RAM"),
    ignored_value("k", "LANGUAGE", Standard, "keyboard layout"),
    ignored_flag("audio-help", Standard, "list the audio drivers"),
    value("soundhw", "CARDS", Standard, "sound cards (`-soundhw ?` lists them)",
        hardware::apply_soundhw),
    flag("usb", Usb, "enable the USB controller", |c, _| on(&mut c.low.config.usb)),
    value("usbdevice", "NAME", Usb, "a USB device: tablet, mouse or keyboard\n\
        (other names are checked, not made)", hardware::apply_usbdevice),
    value("device", "DRIVER[,PROP=VALUE...]", Standard, "a device", net::apply_device),
    value("name", "NAME", Standard, "guest name (query-name)", other::apply_name),
    value("uuid", "UUID", Standard, "guest UUID (query-uuid)", other::apply_uuid),
    ignored_value("fsdev", "OPTS", Block, "a file system device"),
    ignored_value("virtfs", "OPTS", Block, "a virtio file system"),
    ignored_value("display", "TYPE", Display, "display type"),
    flag("nographic", Display, "no graphical output: default serial on stdio",
        |c, _| on(&mut c.low.config.nographic)),
    ignored_flag("curses", Display, "curses display"),
    ignored_flag("no-frame", Display, "SDL window without a frame"),
    ignored_flag("alt-grab", Display, "Ctrl-Alt-Shift to grab the mouse"),
    ignored_flag("ctrl-grab", Display, "right Ctrl to grab the mouse"),
    ignored_flag("no-quit", Display, "SDL window cannot be closed"),
    ignored_flag("sdl", Display, "SDL display"),
    value("spice", "OPTS", Display, "SPICE server (query-spice)", display::apply_spice),
    ignored_flag("portrait", Display, "rotate the display"),
    value("vga", "TYPE", Display, "VGA card: std, cirrus, vmware or none", hardware::apply_vga),
    ignored_flag("full-screen", Display, "start in full screen"),
    value("vnc", "DISPLAY", Display, "VNC server (query-vnc)", display::apply_vnc),
    ignored_flag("win2k-hack", I386, "Windows 2000 install workaround"),
    ignored_flag("rtc-td-hack", I386, "RTC time drift fix"),
    ignored_flag("no-fd-bootchk", I386, "no floppy boot signature check"),
    flag("no-acpi", I386, "no ACPI: the power button reaches no guest",
        |c, _| on(&mut c.low.config.no_acpi)),
    flag("no-hpet", I386, "no HPET: the RTC takes ISA IRQ 8",
        |c, _| on(&mut c.low.config.no_hpet)),
    value("balloon", "none|virtio[,addr=..]", I386, "balloon device", net::apply_balloon),
    ignored_value("acpitable", "OPTS", I386, "an extra ACPI table"),
    ignored_value("smbios", "OPTS", I386, "SMBIOS fields"),
    value("net", "TYPE[,...]", Network, "a NIC or a host network backend", net::apply_net),
    value("netdev", "TYPE,id=ID[,...]", Network, "a host network backend", net::apply_netdev),
    value("chardev", "BACKEND,id=ID[,...]", Chardev, "a character device", chardev::apply_chardev),
    ignored_value("bt", "OPTS", Bluetooth, "a Bluetooth device"),
    value("kernel", "FILE", Boot, "Linux kernel image, not loaded", hardware::apply_kernel),
    value("append", "CMDLINE", Boot, "kernel command line (needs -kernel)",
        hardware::apply_append),
    value("initrd", "FILE", Boot, "initial ram disk (needs -kernel)", hardware::apply_initrd),
    value("serial", "SPEC", Expert, "a serial port on a character device", chardev::apply_serial),
    value("parallel", "SPEC", Expert, "a parallel port on a character device",
        chardev::apply_parallel),
    value("monitor", "SPEC", Expert, "a human monitor on a character device",
        |c, v| chardev::apply_compat_monitor(c, &v, MonitorMode::Readline)),
    value("qmp", "SPEC", Expert, "a QMP monitor: unix:PATH,server[,nowait],\n\
        tcp:HOST:PORT,server[,nowait] or stdio",
        |c, v| chardev::apply_compat_monitor(c, &v, MonitorMode::Control)),
    value("mon", "[chardev=]ID[,mode=readline|control][,pretty=on]", Expert,
        "a monitor on a -chardev", chardev::apply_mon),
    ignored_value("debugcon", "SPEC", Expert, "a debug console"),
    value("pidfile", "FILE", Expert, "write the process id to FILE",
        |c, v| put(&mut c.low.edge.pidfile, v.into())),
    flag("singlestep", Expert, "run in single step mode (query-status)",
        |c, _| on(&mut c.low.config.singlestep)),
    flag("S", Expert, "do not start the CPUs at startup",
        |c, _| on(&mut c.low.config.start_paused)),
    ignored_value("gdb", "DEVICE", Expert, "wait for gdb on DEVICE"),
    ignored_flag("s", Expert, "wait for gdb on tcp::1234"),
    ignored_value("d", "ITEMS", Expert, "log items"),
    ignored_value("D", "FILE", Expert, "log file"),
    ignored_value("L", "PATH", Expert, "BIOS directory"),
    ignored_value("bios", "FILE", Expert, "BIOS image"),
    flag("enable-kvm", Expert, "enable KVM (query-kvm)", |c, _| on(&mut c.low.config.kvm)),
    flag("no-kvm", Expert, "disable KVM", |c, _| off(&mut c.low.config.kvm)),
    ignored_flag("no-kvm-irqchip", Expert, "no KVM in-kernel irqchip"),
    ignored_flag("no-kvm-pit", Expert, "no KVM in-kernel PIT"),
    flag("no-reboot", Expert, "exit instead of rebooting", |c, _| on(&mut c.low.config.no_reboot)),
    flag("no-shutdown", Expert, "stop instead of exiting when the guest shuts down",
        |c, _| on(&mut c.low.config.no_shutdown)),
    value("loadvm", "TAG", Expert, "start from internal snapshot TAG (or id)",
        |c, v| put(&mut c.low.edge.loadvm, v)),
    flag("daemonize", Expert, "run in the background once the monitors listen",
        |c, _| on(&mut c.low.edge.daemonize)),
    ignored_value("option-rom", "FILE", Expert, "an option ROM"),
    value("clock", "METHOD", Expert, "host alarm timers (`-clock ?` lists them)",
        hardware::apply_clock),
    ignored_flag("localtime", Expert, "RTC in local time"),
    value("startdate", "now|DATE", Expert, "RTC start date, checked as -rtc base=DATE",
        other::apply_startdate),
    value("rtc", "SPEC", Expert, "RTC settings, kept in the config", boot::apply_rtc),
    ignored_value("icount", "N|auto", Expert, "instruction counting"),
    value("watchdog", "MODEL", Expert, "a watchdog device (`-watchdog ?` lists them)",
        other::apply_watchdog),
    value("watchdog-action", "ACTION", Expert,
        "what an expired watchdog does:\nreset|shutdown|poweroff|pause|debug|none",
        other::apply_watchdog_action),
    ignored_value("echr", "CHAR", Expert, "monitor escape character"),
    ignored_value("virtioconsole", "SPEC", Expert, "a virtio console"),
    ignored_flag("show-cursor", Expert, "show the mouse cursor"),
    ignored_value("tb-size", "MB", Expert, "translation block cache size"),
    value("incoming", "URI", Expert, "wait for a migration stream from URI",
        boot::apply_incoming),
    flag("nodefaults", Expert, "no default devices", |c, _| on(&mut c.low.config.nodefaults)),
    ignored_value("chroot", "DIR", Expert, "chroot after startup"),
    ignored_value("runas", "USER", Expert, "change user after startup"),
    ignored_value("prom-env", "VAR=VALUE", Expert, "OpenBIOS variable"),
    ignored_flag("semihosting", Expert, "semihosting mode"),
    ignored_flag("old-param", Expert, "old parameter mode"),
    ignored_value("readconfig", "FILE", Expert, "read a config file"),
    ignored_value("writeconfig", "FILE", Expert, "write a config file"),
    ignored_flag("nodefconfig", Expert, "no default config files"),
    ignored_flag("tdf", Expert, "time drift fix"),
    value("record", "PATH.qmptrace", Qmpsim, "record the session to a trace",
        |c, v| put(&mut c.low.edge.record, v.into())),
    value("x-seed", "N", Qmpsim, "seed of the machine's random numbers (default 0)",
        other::apply_seed),
    value("x-epoch", "SECONDS", Qmpsim, "event timestamps at virtual time zero\n\
        (default 1300000000)", other::apply_epoch),
    flag("x-extensions", Qmpsim, "enable the x- commands", |c, _| on(&mut c.low.config.extensions)),
    value("x-clock", "idle|manual|realtime", Qmpsim, "idle (default): virtual time jumps to the next\n\
        pending deadline after IDLE_ADVANCE_MS without\n\
        input; manual: it moves only with messages and\n\
        x-clock-step; realtime: it follows the wall clock", other::apply_clock),
    value("x-guest", "acpi=on|off,shutdown-ms=N", Qmpsim,
        "the simulated guest's reaction to the ACPI\npower button", other::apply_guest),
    value("x-explore-gap", "GAP,event=NAME[,when=after]", Qmpsim,
        "at gap GAP (a number, or every) of the monitor\n\
        byte stream, NAME happens: STOP, RESUME, RESET,\n\
        SHUTDOWN, POWERDOWN, BLOCK_IO_ERROR,\n\
        VNC_CONNECTED, RTC_CHANGE or WATCHDOG",
        |c, v| {
            let placement = crate::machine::placement::Placement::parse(&v)
                .map_err(|source| RawError::ExploreGap { arg: v, source })?;
            put(&mut c.low.config.placement, placement)
        }),
    value("x-chaos", "seed=N[,rate=P][,kinds=a+b+...]", Qmpsim,
        "misbehave as QEMU 0.14 legally can, by seed:\n\
        kinds events, guest, failures, split, delay,\n\
        disconnect (default all), each with probability\n\
        P (default 0.1) where it can happen",
        |c, v| {
            let chaos = crate::machine::chaos::ChaosConfig::parse(&v)
                .map_err(|source| RawError::Chaos { arg: v, source })?;
            put(&mut c.low.config.chaos, chaos)
        }),
    value("x-scenario", "FILE", Qmpsim, "run the timed fault steps of a TOML file\n\
        (docs/faults.md)", |c, v| put(&mut c.low.scenario, v)),
    value("x-state-every", "N", Qmpsim, "with -record: a full-state checkpoint every N\n\
        steps (default 1024; 0: none)",
        |c, v| put(&mut c.low.edge.state_every, v.parse().map_err(|_| RawError::StateEvery(v))?)),
    value("x-resume", "TRACE[@FRAME]", Qmpsim, "start from the state a trace reached before\n\
        frame FRAME (at its end without @FRAME),\nwith this command line's monitors",
        |c, v| put(&mut c.low.edge.resume, v)),
];

/// Width of the option column in [`usage`].
const USAGE_OPTION_COLUMNS: usize = 30;
/// Width [`usage`] wraps the list of ignored options at.
const USAGE_LINE_COLUMNS: usize = 80;

/// `qmpsim --help`: the subcommands, then every option the table parses, by group,
/// then the names of the ignored ones.
pub fn usage() -> String {
    let mut s = String::from(
        "\
qmpsim: a deterministic QEMU 0.14 virtual machine, as seen through QMP

usage: qmpsim run [QEMU options]
       qmpsim [QEMU options]            (same as run)
       qmpsim replay PATH...            (replay traces byte for byte)
       qmpsim trace dump|info|export|import|coverage ...
                                        (read, convert and measure traces; see
                                        qmpsim trace --help)
       qmpsim explore ... -- CLIENT...  (a QMP client, an event at each gap)
       qmpsim conformance ... -- CLIENT...
                                        (a QMP client, legal server behaviours)
       qmpsim man [--out DIR]           (the manual pages)
       qmpsim completions SHELL         (bash, zsh or fish completions)
       qmpsim --help | -version
",
    );
    for group in Group::ALL {
        let parsed: Vec<&OptDef> = options()
            .filter(|o| o.group == group && !o.is_ignored())
            .collect();
        if parsed.is_empty() {
            continue;
        }
        s.push_str(&format!("\n{}:\n", group.title()));
        for opt in parsed {
            push_option_help(&mut s, opt);
        }
    }
    s.push_str("\nAccepted and ignored (they change nothing QMP shows):\n");
    let mut line = String::new();
    for opt in options().filter(|o| o.is_ignored()) {
        if line.len() + opt.name.len() + 2 > USAGE_LINE_COLUMNS {
            s.push_str(&line);
            s.push('\n');
            line.clear();
        }
        line.push_str(" -");
        line.push_str(opt.name);
    }
    s.push_str(&line);
    s
}

/// One option's lines: `  -name VALUE` padded to the help column, or alone on its
/// line when too wide; further help lines are indented to the help column.
fn push_option_help(s: &mut String, opt: &OptDef) {
    let mut head = format!("  -{}", opt.name);
    if let Some(value) = opt.value_name() {
        head.push(' ');
        head.push_str(value);
    }
    let indent = " ".repeat(USAGE_OPTION_COLUMNS + 1);
    if head.len() > USAGE_OPTION_COLUMNS {
        s.push_str(&head);
        s.push('\n');
        s.push_str(&indent);
    } else {
        s.push_str(&format!("{head:<width$} ", width = USAGE_OPTION_COLUMNS));
    }
    s.push_str(&opt.help.replace('\n', &format!("\n{indent}")));
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    #[test]
    fn x_explore_gap_sets_the_placement() {
        let placement = super::super::parse_ok(&["-x-explore-gap", "4,event=reset"])
            .config
            .placement;
        assert_eq!(
            placement.map(|p| p.to_arg()),
            Some("4,event=RESET".to_owned())
        );
    }

    #[test]
    fn x_explore_gap_without_event_says_so() {
        assert_eq!(
            super::super::parse_err(&["-x-explore-gap", "4"]),
            "qmpsim: -x-explore-gap 4: event=NAME is missing"
        );
    }

    #[test]
    fn names_are_unique() {
        assert_eq!(repeated(options().map(|o| o.name)), Vec::<&str>::new());
    }

    #[test]
    fn lookup_finds_an_entry_by_name() {
        assert_eq!(lookup("watchdog-action").map(|o| o.group), Some(Expert));
    }

    #[test]
    fn lookup_of_unknown_name_is_none() {
        assert!(lookup("frobnicate").is_none());
    }

    #[test]
    fn value_name_of_a_flag_is_none() {
        assert_eq!(lookup("S").and_then(OptDef::value_name), None);
    }

    #[test]
    fn every_entry_has_one_help_line_at_least() {
        assert!(options().all(|o| !o.help.trim().is_empty()));
    }

    #[test]
    fn usage_lists_a_parsed_option_with_value_and_help() {
        assert!(usage().contains("\n  -name NAME                   guest name (query-name)\n"));
    }

    #[test]
    fn usage_puts_a_wide_option_alone_on_its_line() {
        assert!(usage().contains(
            "\n  -x-guest acpi=on|off,shutdown-ms=N\n                               \
             the simulated guest's reaction to the ACPI\n"
        ));
    }

    #[test]
    fn usage_names_ignored_options_once_in_the_last_section() {
        let usage = usage();
        let (_, ignored) = usage
            .split_once("Accepted and ignored")
            .expect("the ignored section");
        assert_eq!(
            (ignored.contains(" -numa "), usage.matches("-numa").count()),
            (true, 1)
        );
    }

    #[test]
    fn usage_lines_fit_in_a_terminal() {
        let widest = usage().lines().map(str::len).max();
        assert!(widest <= Some(USAGE_LINE_COLUMNS), "{widest:?}");
    }
}
