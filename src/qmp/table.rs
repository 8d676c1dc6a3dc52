//! The command table: one ordered, declarative entry per QMP command, as in
//! QEMU 0.14's qmp-commands.hx (name, args_type, params, help, handler), plus
//! the files a request names (the `files` column the edge asks before probing
//! images). Dispatch, argument checking, `query-commands`, the HMP commands
//! that 0.14 declares the same way (`hmp::table`'s `qmp!` entries take their
//! `args_type`, params and help from here, and HMP `help` prints them) and image
//! probing all derive from it. Order is 0.14's: the command table, then the
//! query table, then the `x-` extensions.
//!
//! Handlers read their arguments through [`super::args::Args`], typed by the
//! entry's `args_type`; this file's tests check that every argument name a
//! handler's source reads is one its entry declares.
//!
//! Adding a command is one entry here (name, args_type, params, help,
//! handler) plus its handler and the handler's test in `commands/<area>.rs`.

use super::commands::{self, Handler};
use crate::qobject::{QDict, QObject};

/// The files a request with these (unchecked) arguments names, which the edge
/// probes before the engine runs it.
pub type FilesNamed = fn(&QDict) -> Vec<String>;

/// One QMP command.
#[derive(Debug)]
pub struct Command {
    /// Name as sent by clients, verbatim.
    pub name: &'static str,
    /// 0.14 `args_type` string, checked by [`super::args::check`].
    pub args_type: &'static str,
    /// HMP parameter synopsis: HMP `help` prints it for the HMP commands
    /// that mirror this entry.
    pub params: &'static str,
    /// One-line help, printed by HMP `help` likewise.
    pub help: &'static str,
    /// The handler.
    pub handler: Handler,
    /// The handler's path as written in the table (`commands::block::eject`).
    pub handler_path: &'static str,
    /// An `x-` extension beyond 0.14, visible only when extensions are enabled.
    pub experimental: bool,
    /// The files a request names (image files the edge probes), for the few
    /// commands that open one.
    pub files: Option<FilesNamed>,
}

macro_rules! cmd {
    ($name:literal, $args:literal, $params:literal, $help:literal, $handler:path) => {
        Command {
            name: $name,
            args_type: $args,
            params: $params,
            help: $help,
            handler: $handler,
            handler_path: stringify!($handler),
            experimental: false,
            files: None,
        }
    };
    ($name:literal, $args:literal, $params:literal, $help:literal, $handler:path, files: $files:path) => {
        Command {
            files: Some($files),
            ..cmd!($name, $args, $params, $help, $handler)
        }
    };
}

/// An `x-` extension entry: listed and dispatched only with `-x-extensions`.
macro_rules! xcmd {
    ($($entry:tt)*) => {
        Command { experimental: true, ..cmd!($($entry)*) }
    };
}

/// Every command, in 0.14 order, then the `x-` extensions.
pub static COMMANDS: &[Command] = &[
    cmd!(
        "quit",
        "",
        "",
        "quit the emulator",
        commands::runstate::quit
    ),
    cmd!(
        "eject",
        "force:-f,device:B",
        "[-f] device",
        "eject a removable medium (use -f to force it)",
        commands::block::eject
    ),
    cmd!(
        "change",
        "device:B,target:F,arg:s?",
        "device filename [format]",
        "change a removable medium, optional format",
        commands::block::change,
        files: commands::block::change_files
    ),
    cmd!(
        "screendump",
        "filename:F",
        "filename",
        "save screen into PPM image 'filename'",
        commands::display::screendump
    ),
    cmd!("stop", "", "", "stop emulation", commands::runstate::stop),
    cmd!("cont", "", "", "resume emulation", commands::runstate::cont),
    cmd!(
        "system_reset",
        "",
        "",
        "reset the system",
        commands::devices::system_reset
    ),
    cmd!(
        "system_powerdown",
        "",
        "",
        "send system power down event",
        commands::devices::system_powerdown
    ),
    cmd!(
        "device_add",
        "device:O",
        "driver[,prop=value][,...]",
        "add device, like -device on the command line",
        commands::devices::device_add
    ),
    cmd!(
        "device_del",
        "id:s",
        "device",
        "remove device",
        commands::devices::device_del
    ),
    cmd!(
        "cpu",
        "index:i",
        "index",
        "set the default CPU",
        commands::cpus::cpu
    ),
    cmd!(
        "memsave",
        "val:l,size:i,filename:s",
        "addr size file",
        "save to disk virtual memory dump starting at 'addr' of size 'size'",
        commands::memory::memsave
    ),
    cmd!(
        "pmemsave",
        "val:l,size:i,filename:s",
        "addr size file",
        "save to disk physical memory dump starting at 'addr' of size 'size'",
        commands::memory::pmemsave
    ),
    cmd!(
        "migrate",
        "detach:-d,blk:-b,inc:-i,uri:s",
        "[-d] [-b] [-i] uri",
        "migrate to URI (using -d to not wait for completion)\n\t\t\t -b for migration without shared storage with full copy of disk\n\t\t\t -i for migration without shared storage with incremental copy of disk (base image shared between src and destination)",
        commands::migration::migrate
    ),
    cmd!(
        "migrate_cancel",
        "",
        "",
        "cancel the current VM migration",
        commands::migration::migrate_cancel
    ),
    cmd!(
        "migrate_set_speed",
        "value:o",
        "value",
        "set maximum speed (in bytes) for migrations",
        commands::migration::migrate_set_speed
    ),
    cmd!(
        "client_migrate_info",
        "protocol:s,hostname:s,port:i?,tls-port:i?,cert-subject:s?",
        "protocol hostname port tls-port cert-subject",
        "send migration info to spice/vnc client",
        commands::display::client_migrate_info
    ),
    cmd!(
        "migrate_set_downtime",
        "value:T",
        "value",
        "set maximum tolerated downtime (in seconds) for migrations",
        commands::migration::migrate_set_downtime
    ),
    cmd!(
        "netdev_add",
        "netdev:O",
        "[user|tap|socket],id=str[,prop=value][,...]",
        "add host network device",
        commands::net::netdev_add
    ),
    cmd!(
        "netdev_del",
        "id:s",
        "id",
        "remove host network device",
        commands::net::netdev_del
    ),
    cmd!(
        "block_resize",
        "device:B,size:o",
        "device size",
        "resize a block image",
        commands::block::block_resize
    ),
    cmd!(
        "balloon",
        "value:M",
        "target",
        "request VM to change its memory allocation (in MB)",
        commands::balloon::balloon
    ),
    cmd!(
        "set_link",
        "name:s,up:b",
        "name on|off",
        "change the link status of a network adapter",
        commands::net::set_link
    ),
    cmd!(
        "getfd",
        "fdname:s",
        "getfd name",
        "receive a file descriptor via SCM rights and assign it a name",
        commands::fds::getfd
    ),
    cmd!(
        "closefd",
        "fdname:s",
        "closefd name",
        "close a file descriptor previously passed via SCM rights",
        commands::fds::closefd
    ),
    cmd!(
        "block_passwd",
        "device:B,password:s",
        "block_passwd device password",
        "set the password of encrypted block devices",
        commands::block::block_passwd
    ),
    cmd!(
        "set_password",
        "protocol:s,password:s,connected:s?",
        "protocol password action-if-connected",
        "set spice/vnc password",
        commands::display::set_password
    ),
    cmd!(
        "expire_password",
        "protocol:s,time:s",
        "protocol time",
        "set spice/vnc password expire-time",
        commands::display::expire_password
    ),
    cmd!(
        "qmp_capabilities",
        "",
        "",
        "enable QMP capabilities",
        commands::info::qmp_capabilities
    ),
    cmd!(
        "human-monitor-command",
        "command-line:s,cpu-index:i?",
        "",
        "",
        super::hmp::human_monitor_command,
        files: super::hmp::files_named
    ),
    cmd!(
        "query-version",
        "",
        "",
        "show the version of QEMU",
        commands::info::query_version
    ),
    cmd!(
        "query-commands",
        "",
        "",
        "list QMP available commands",
        commands::info::query_commands
    ),
    cmd!(
        "query-chardev",
        "",
        "",
        "show the character devices",
        commands::char::query_chardev
    ),
    cmd!(
        "query-block",
        "",
        "",
        "show the block devices",
        commands::block::query_block
    ),
    cmd!(
        "query-blockstats",
        "",
        "",
        "show block device statistics",
        commands::block::query_blockstats
    ),
    cmd!(
        "query-cpus",
        "",
        "",
        "show infos for each CPU",
        commands::cpus::query_cpus
    ),
    cmd!(
        "query-pci",
        "",
        "",
        "show PCI info",
        commands::devices::query_pci
    ),
    cmd!(
        "query-kvm",
        "",
        "",
        "show KVM information",
        commands::info::query_kvm
    ),
    cmd!(
        "query-status",
        "",
        "",
        "show the current VM status",
        commands::info::query_status
    ),
    cmd!(
        "query-mice",
        "",
        "",
        "show which guest mouse is receiving events",
        commands::devices::query_mice
    ),
    cmd!(
        "query-vnc",
        "",
        "",
        "show the vnc server status",
        commands::display::query_vnc
    ),
    cmd!(
        "query-spice",
        "",
        "",
        "show the spice server status",
        commands::display::query_spice
    ),
    cmd!(
        "query-name",
        "",
        "",
        "show the current VM name",
        commands::info::query_name
    ),
    cmd!(
        "query-uuid",
        "",
        "",
        "show the current VM UUID",
        commands::info::query_uuid
    ),
    cmd!(
        "query-migrate",
        "",
        "",
        "show migration status",
        commands::migration::query_migrate
    ),
    cmd!(
        "query-balloon",
        "",
        "",
        "show balloon information",
        commands::balloon::query_balloon
    ),
    xcmd!(
        "x-clock-step",
        "ns:i?",
        "[ns]",
        "advance virtual time by ns, or to the next pending deadline",
        commands::clock::x_clock_step
    ),
    xcmd!(
        "x-query-clock",
        "",
        "",
        "show the clock mode and the virtual time",
        commands::clock::x_query_clock
    ),
    xcmd!(
        "x-vnc-client",
        "action:s,host:s,service:s,family:s?,x509_dname:s?,sasl_username:s?",
        "connect|disconnect host service [family] [x509_dname] [sasl_username]",
        "simulate a VNC client connecting or disconnecting",
        commands::inject::x_vnc_client
    ),
    xcmd!(
        "x-spice-client",
        "action:s,host:s,port:s,family:s?,connection-id:i?,channel-type:i?,channel-id:i?,tls:b?",
        "connect|disconnect host port [family] [connection-id] [channel-type] [channel-id] [tls]",
        "simulate a SPICE channel connecting or disconnecting",
        commands::inject::x_spice_client
    ),
    xcmd!(
        "x-block-error",
        "device:B,operation:s,error:s?",
        "device read|write [eio|enospc]",
        "simulate a guest I/O error on a drive",
        commands::inject::x_block_error
    ),
    xcmd!(
        "x-rtc-set",
        "offset:i",
        "offset",
        "simulate the guest setting its RTC (seconds ahead of host time)",
        commands::inject::x_rtc_set
    ),
    xcmd!(
        "x-watchdog-expire",
        "",
        "",
        "simulate the guest's watchdog expiring",
        commands::inject::x_watchdog_expire
    ),
    Command {
        args_type: commands::inject::X_INJECT_ARGS_TYPE,
        ..xcmd!(
            "x-inject",
            "",
            "action [arguments of the action]",
            "bring about a fault: a guest, display, balloon, migration or monitor misbehaving",
            commands::inject::x_inject
        )
    },
    xcmd!(
        "x-query-events",
        "",
        "",
        "list the events the monitor can send (query-events in later QEMU)",
        commands::info::x_query_events
    ),
];

/// Looks a command up by exact name, honouring whether extensions are enabled.
pub fn lookup(name: &str, extensions: bool) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name && (extensions || !c.experimental))
}

/// The files a request names, which the edge probes before the engine runs it:
/// the `files` column of the command it executes, applied to its arguments as
/// sent (nothing is checked yet, so anything malformed names no file).
pub fn files_named(request: &QObject) -> Vec<String> {
    let Some(request) = request.as_dict() else {
        return Vec::new();
    };
    let command = request.get_str("execute").and_then(|n| lookup(n, true));
    let args = request.get("arguments").and_then(QObject::as_dict);
    match (command.and_then(|c| c.files), args) {
        (Some(files), Some(args)) => files(args),
        _ => Vec::new(),
    }
}

/// The commands `query-commands` lists.
pub fn visible(extensions: bool) -> impl Iterator<Item = &'static Command> {
    COMMANDS
        .iter()
        .filter(move |c| extensions || !c.experimental)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    #[test]
    fn names_are_unique() {
        assert_eq!(
            repeated(COMMANDS.iter().map(|c| c.name)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn experimental_commands_carry_x_prefix() {
        assert!(COMMANDS
            .iter()
            .filter(|c| c.experimental)
            .all(|c| c.name.starts_with("x-")));
    }

    /// 0.14.0's `query-commands` list, in order (facts file section 4).
    const QMP_014_ORDER: &[&str] = &[
        "quit",
        "eject",
        "change",
        "screendump",
        "stop",
        "cont",
        "system_reset",
        "system_powerdown",
        "device_add",
        "device_del",
        "cpu",
        "memsave",
        "pmemsave",
        "migrate",
        "migrate_cancel",
        "migrate_set_speed",
        "client_migrate_info",
        "migrate_set_downtime",
        "netdev_add",
        "netdev_del",
        "block_resize",
        "balloon",
        "set_link",
        "getfd",
        "closefd",
        "block_passwd",
        "set_password",
        "expire_password",
        "qmp_capabilities",
        "human-monitor-command",
        "query-version",
        "query-commands",
        "query-chardev",
        "query-block",
        "query-blockstats",
        "query-cpus",
        "query-pci",
        "query-kvm",
        "query-status",
        "query-mice",
        "query-vnc",
        "query-spice",
        "query-name",
        "query-uuid",
        "query-migrate",
        "query-balloon",
    ];

    #[test]
    fn non_experimental_commands_are_exactly_014_list_in_order() {
        let names: Vec<&str> = visible(false).map(|c| c.name).collect();
        assert_eq!(names, QMP_014_ORDER);
    }

    /// The extension commands, in table order after the 0.14 list.
    const EXTENSIONS: &[&str] = &[
        "x-clock-step",
        "x-query-clock",
        "x-vnc-client",
        "x-spice-client",
        "x-block-error",
        "x-rtc-set",
        "x-watchdog-expire",
        "x-inject",
        "x-query-events",
    ];

    #[test]
    fn visible_with_extensions_appends_x_commands_after_014_list() {
        let names: Vec<&str> = visible(true).map(|c| c.name).collect();
        let expected: Vec<&str> = QMP_014_ORDER.iter().chain(EXTENSIONS).copied().collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn lookup_x_command_without_extensions_is_none() {
        assert!(lookup("x-rtc-set", false).is_none());
    }

    #[test]
    fn lookup_x_command_with_extensions_is_found() {
        assert!(lookup("x-rtc-set", true).is_some());
    }

    fn names(request: &str) -> Vec<String> {
        let tokens = match crate::wire::framing::Framer::new()
            .feed(request.as_bytes())
            .pop()
        {
            Some(crate::wire::framing::Frame::Message(tokens)) => tokens,
            other => panic!("one message expected, got {other:?}"),
        };
        files_named(&crate::wire::parser::parse(&tokens).expect("valid request"))
    }

    #[test]
    fn files_named_of_change_is_its_target() {
        let got =
            names(r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"/a.iso"}}"#);
        assert_eq!(got, ["/a.iso"]);
    }

    #[test]
    fn files_named_of_vnc_change_is_none() {
        let got = names(r#"{"execute":"change","arguments":{"device":"vnc","target":"password"}}"#);
        assert!(got.is_empty());
    }

    #[test]
    fn files_named_of_change_without_arguments_is_none() {
        assert!(names(r#"{"execute":"change"}"#).is_empty());
    }

    /// Handler sources, by the module path the table names their handlers with.
    const SOURCES: &[(&str, &str)] = &[
        ("commands::balloon::", include_str!("commands/balloon.rs")),
        ("commands::block::", include_str!("commands/block.rs")),
        ("commands::char::", include_str!("commands/char.rs")),
        ("commands::clock::", include_str!("commands/clock.rs")),
        ("commands::cpus::", include_str!("commands/cpus.rs")),
        ("commands::devices::", include_str!("commands/devices.rs")),
        ("commands::display::", include_str!("commands/display.rs")),
        ("commands::fds::", include_str!("commands/fds.rs")),
        ("commands::info::", include_str!("commands/info.rs")),
        ("commands::inject::", include_str!("commands/inject.rs")),
        ("commands::memory::", include_str!("commands/memory.rs")),
        (
            "commands::migration::",
            include_str!("commands/migration.rs"),
        ),
        ("commands::net::", include_str!("commands/net.rs")),
        ("commands::runstate::", include_str!("commands/runstate.rs")),
        ("super::hmp::", include_str!("hmp.rs")),
    ];

    #[test]
    fn every_handler_source_is_scanned() {
        let unscanned: Vec<&str> = COMMANDS
            .iter()
            .map(|c| c.handler_path)
            .filter(|p| !SOURCES.iter().any(|(prefix, _)| p.starts_with(prefix)))
            .collect();
        assert!(unscanned.is_empty(), "add to SOURCES: {unscanned:?}");
    }

    /// Every argument name `source` reads through [`super::super::args::Args`].
    fn names_read(source: &'static str) -> Vec<&'static str> {
        super::super::args::names_read(source)
    }

    #[test]
    fn every_argument_a_handler_reads_is_declared() {
        let mut undeclared = Vec::new();
        for (prefix, source) in SOURCES {
            let declared: Vec<&str> = COMMANDS
                .iter()
                .filter(|c| c.handler_path.starts_with(prefix))
                .flat_map(|c| super::super::args::names(c.args_type))
                .collect();
            undeclared.extend(
                names_read(source)
                    .into_iter()
                    .filter(|n| !declared.contains(n))
                    .map(|n| format!("{prefix}: {n}")),
            );
        }
        assert!(
            undeclared.is_empty(),
            "handlers read arguments their args_type does not declare: {undeclared:?}"
        );
    }

    #[test]
    fn lookup_is_case_sensitive() {
        assert!(lookup("query-status", false).is_some());
        assert!(lookup("Query-Status", false).is_none());
    }
}
