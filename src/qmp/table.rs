//! The command table: one ordered, declarative entry per QMP command, as in
//! QEMU 0.14's qmp-commands.hx (name, args_type, params, help, handler).
//! Dispatch, argument checking, `query-commands` and HMP `help` all derive from it.
//! Order is 0.14's: the command table, then the query table.

use super::commands::{self, Handler};

/// One QMP command.
#[derive(Debug)]
pub struct Command {
    /// Name as sent by clients, verbatim.
    pub name: &'static str,
    /// 0.14 `args_type` string, checked by [`super::args::check`].
    pub args_type: &'static str,
    /// HMP parameter synopsis.
    pub params: &'static str,
    /// One-line help.
    pub help: &'static str,
    /// The handler.
    pub handler: Handler,
    /// An `x-` extension beyond 0.14, visible only when extensions are enabled.
    pub experimental: bool,
}

macro_rules! cmd {
    ($name:literal, $args:literal, $params:literal, $help:literal, $handler:path) => {
        Command {
            name: $name,
            args_type: $args,
            params: $params,
            help: $help,
            handler: $handler,
            experimental: false,
        }
    };
}

/// Every command, in 0.14 order.
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
        commands::block::change
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
        "set_link",
        "name:s,up:b",
        "name on|off",
        "change the link status of a network adapter",
        commands::net::set_link
    ),
    cmd!(
        "block_passwd",
        "device:B,password:s",
        "block_passwd device password",
        "set the password of encrypted block devices",
        commands::block::block_passwd
    ),
    cmd!(
        "qmp_capabilities",
        "",
        "",
        "enable QMP capabilities",
        commands::info::qmp_capabilities
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
];

/// Looks a command up by exact name, honouring whether extensions are enabled.
pub fn lookup(name: &str, extensions: bool) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name && (extensions || !c.experimental))
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

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }

    #[test]
    fn experimental_commands_carry_x_prefix() {
        assert!(COMMANDS
            .iter()
            .filter(|c| c.experimental)
            .all(|c| c.name.starts_with("x-")));
    }

    #[test]
    fn lookup_is_case_sensitive() {
        assert!(lookup("query-status", false).is_some());
        assert!(lookup("Query-Status", false).is_none());
    }
}
