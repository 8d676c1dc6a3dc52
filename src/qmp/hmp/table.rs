//! The HMP command and `info` tables of a 0.14 x86_64 build (hmp-commands.hx and
//! monitor.c's `info_cmds`, built with SPICE, audio and slirp, without simple
//! trace), in 0.14's order, with its names, `args_type`s, params and help texts
//! byte for byte: `help` and `info` print them.
//!
//! A command 0.14 declares the same way for both monitors is a `qmp!` entry
//! naming the QMP command in [`crate::qmp::table`], whose `args_type`, params
//! and help it takes; only HMP-only commands (and `migrate_set_speed`, whose
//! HMP help is longer) are declared in full with `hmp!`. Each entry says how
//! qmpsim runs it: through the QMP handler, natively, or not at all (`not
//! supported yet`).

use super::{
    acl, hotplug, input, native, print, qdev, readers, slirp, usb, Action, Decl, HmpCommand,
    InfoItem, InfoPrint,
};

/// An HMP-only command, declared in full.
macro_rules! hmp {
    ($name:expr, $args:expr, $params:expr, $help:expr, $action:expr) => {
        HmpCommand {
            name: $name,
            decl: Decl::Own {
                args_type: $args,
                params: $params,
                help: $help,
            },
            action: $action,
        }
    };
}

/// An HMP command that is the QMP command `$qmp` (its `args_type`, params and
/// help), run by its QMP handler or, when given, natively.
macro_rules! qmp {
    ($name:literal, $qmp:literal) => {
        HmpCommand {
            name: $name,
            decl: Decl::Qmp($qmp),
            action: Action::Qmp($qmp),
        }
    };
    ($name:literal, $qmp:literal, $action:expr) => {
        HmpCommand {
            name: $name,
            decl: Decl::Qmp($qmp),
            action: $action,
        }
    };
}

use Action::{Native, NotSupported, Qmp};

/// HMP commands, in 0.14 order.
pub static HMP_COMMANDS: &[HmpCommand] = &[
    hmp!("help|?", "name:s?", "[cmd]", "show the help", Native(native::help)),
    hmp!(
        "commit",
        "device:B",
        "device|all",
        "commit changes to the disk images (if -snapshot is used) or backing files",
        Native(native::nothing)
    ),
    qmp!("q|quit", "quit"),
    qmp!("block_resize", "block_resize"),
    qmp!("eject", "eject"),
    hmp!(
        "drive_del",
        "id:s",
        "device",
        "remove host block device",
        Native(hotplug::drive_del)
    ),
    qmp!("change", "change"),
    qmp!("screendump", "screendump"),
    hmp!(
        "logfile",
        "filename:F",
        "filename",
        "output logs to 'filename'",
        Native(native::nothing)
    ),
    hmp!(
        "log",
        "items:s",
        "item1[,...]",
        "activate logging of the specified items to '/tmp/qemu.log'",
        Native(native::log)
    ),
    hmp!(
        "savevm",
        "name:s?",
        "[tag|id]",
        "save a VM snapshot. If no tag or id are provided, a new snapshot is created",
        Native(native::savevm)
    ),
    hmp!(
        "loadvm",
        "name:s",
        "tag|id",
        "restore a VM snapshot from its tag or id",
        Native(native::loadvm)
    ),
    hmp!(
        "delvm",
        "name:s",
        "tag|id",
        "delete a VM snapshot from its tag or id",
        Native(native::delvm)
    ),
    hmp!(
        "singlestep",
        "option:s?",
        "[on|off]",
        "run emulation in singlestep mode or switch to normal mode",
        Native(hotplug::singlestep)
    ),
    qmp!("stop", "stop"),
    qmp!("c|cont", "cont"),
    hmp!(
        "gdbserver",
        "device:s?",
        "[device]",
        "start gdbserver on given device (default 'tcp::1234'), stop with 'none'",
        NotSupported
    ),
    hmp!(
        "x",
        "fmt:/,addr:l",
        "/fmt addr",
        "virtual memory dump starting at 'addr'",
        Native(readers::x)
    ),
    hmp!(
        "xp",
        "fmt:/,addr:l",
        "/fmt addr",
        "physical memory dump starting at 'addr'",
        Native(readers::xp)
    ),
    hmp!(
        "p|print",
        "fmt:/,val:l",
        "/fmt expr",
        "print expression value (use $reg for CPU register access)",
        Native(readers::print)
    ),
    hmp!(
        "i",
        "fmt:/,addr:i,index:i.",
        "/fmt addr",
        "I/O port read",
        Native(readers::port_in)
    ),
    hmp!(
        "o",
        "fmt:/,addr:i,val:i",
        "/fmt addr value",
        "I/O port write",
        Native(readers::port_out)
    ),
    hmp!(
        "sendkey",
        "string:s,hold_time:i?",
        "keys [hold_ms]",
        "send keys to the VM (e.g. 'sendkey ctrl-alt-f1', default hold time=100 ms)",
        Native(input::sendkey)
    ),
    qmp!("system_reset", "system_reset"),
    qmp!("system_powerdown", "system_powerdown"),
    hmp!(
        "sum",
        "start:i,size:i",
        "addr size",
        "compute the checksum of a memory region",
        Native(readers::sum)
    ),
    hmp!(
        "usb_add",
        "devname:s",
        "device",
        "add USB device (e.g. 'host:bus.addr' or 'host:vendor_id:product_id')",
        Native(usb::usb_add)
    ),
    hmp!(
        "usb_del",
        "devname:s",
        "device",
        "remove USB device 'bus.addr'",
        Native(usb::usb_del)
    ),
    qmp!("device_add", "device_add", Native(qdev::device_add)),
    qmp!("device_del", "device_del"),
    qmp!("cpu", "cpu"),
    hmp!(
        "mouse_move",
        "dx_str:s,dy_str:s,dz_str:s?",
        "dx dy [dz]",
        "send mouse move events",
        Native(input::mouse_move)
    ),
    hmp!(
        "mouse_button",
        "button_state:i",
        "state",
        "change mouse button state (1=L, 2=M, 4=R)",
        Native(input::mouse_button)
    ),
    hmp!(
        "mouse_set",
        "index:i",
        "index",
        "set which mouse device receives events",
        Native(native::mouse_set)
    ),
    hmp!(
        "wavcapture",
        "path:F,freq:i?,bits:i?,nchannels:i?",
        "path [frequency [bits [channels]]]",
        "capture audio to a wave file (default frequency=44100 bits=16 channels=2)",
        NotSupported
    ),
    hmp!(
        "stopcapture",
        "n:i",
        "capture index",
        "stop capture",
        Native(native::nothing)
    ),
    qmp!("memsave", "memsave"),
    qmp!("pmemsave", "pmemsave"),
    hmp!(
        "boot_set",
        "bootdevice:s",
        "bootdevice",
        "define new values for the boot device list",
        Native(hotplug::boot_set)
    ),
    hmp!(
        "nmi",
        "cpu_index:i",
        "cpu",
        "inject an NMI on the given CPU",
        Native(native::nothing)
    ),
    qmp!("migrate", "migrate", Native(native::migrate)),
    qmp!("migrate_cancel", "migrate_cancel"),
    hmp!(
        "migrate_set_speed",
        "value:o",
        "value",
        "set maximum speed (in bytes) for migrations. Defaults to MB if no size suffix is specified, ie. B/K/M/G/T",
        Qmp("migrate_set_speed")
    ),
    qmp!("migrate_set_downtime", "migrate_set_downtime"),
    hmp!(
        "snapshot_blkdev",
        "device:s,snapshot_file:s?,format:s?",
        "device [new-image-file] [format]",
        "initiates a live snapshot\n\t\t\tof device. If a new image file is specified, the\n\t\t\tnew image file will become the new root image.\n\t\t\tIf format is specified, the snapshot file will\n\t\t\tbe created in that format. Otherwise the\n\t\t\tsnapshot will be internal! (currently unsupported)",
        Native(hotplug::snapshot_blkdev)
    ),
    qmp!("client_migrate_info", "client_migrate_info"),
    hmp!(
        "drive_add",
        "pci_addr:s,opts:s",
        "[[<domain>:]<bus>:]<slot>\n[file=file][,if=type][,bus=n]\n[,unit=m][,media=d][index=i]\n[,cyls=c,heads=h,secs=s[,trans=t]]\n[snapshot=on|off][,cache=on|off]",
        "add drive to PCI storage controller",
        Native(hotplug::drive_add)
    ),
    hmp!(
        "pci_add",
        "pci_addr:s,type:s,opts:s?",
        "auto|[[<domain>:]<bus>:]<slot> nic|storage [[vlan=n][,macaddr=addr][,model=type]] [file=file][,if=type][,bus=nr]...",
        "hot-add PCI device",
        Native(hotplug::pci_add)
    ),
    hmp!(
        "pci_del",
        "pci_addr:s",
        "[[<domain>:]<bus>:]<slot>",
        "hot remove PCI device",
        Native(hotplug::pci_del)
    ),
    hmp!(
        "pcie_aer_inject_error",
        "advisory_non_fatal:-a,correctable:-c,id:s,error_status:s,header0:i?,header1:i?,header2:i?,header3:i?,prefix0:i?,prefix1:i?,prefix2:i?,prefix3:i?",
        "[-a] [-c] id <error_status> [<tlp header> [<tlp header prefix>]]",
        "inject pcie aer error\n\t\t\t -a for advisory non fatal error\n\t\t\t -c for correctable error\n\t\t\t<id> = qdev device id\n\t\t\t<error_status> = error string or 32bit\n\t\t\t<tlb header> = 32bit x 4\n\t\t\t<tlb header prefix> = 32bit x 4",
        NotSupported
    ),
    hmp!(
        "host_net_add",
        "device:s,opts:s?",
        "tap|user|socket|vde|dump [options]",
        "add host VLAN client",
        Native(hotplug::host_net_add)
    ),
    hmp!(
        "host_net_remove",
        "vlan_id:i,device:s",
        "vlan_id name",
        "remove host VLAN client",
        Native(hotplug::host_net_remove)
    ),
    qmp!("netdev_add", "netdev_add", Native(native::netdev_add)),
    qmp!("netdev_del", "netdev_del"),
    hmp!(
        "hostfwd_add",
        "arg1:s,arg2:s?,arg3:s?",
        "[vlan_id name] [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport",
        "redirect TCP or UDP connections from host to guest (requires -net user)",
        Native(slirp::hostfwd_add)
    ),
    hmp!(
        "hostfwd_remove",
        "arg1:s,arg2:s?,arg3:s?",
        "[vlan_id name] [tcp|udp]:[hostaddr]:hostport",
        "remove host-to-guest TCP or UDP redirection",
        Native(slirp::hostfwd_remove)
    ),
    qmp!("balloon", "balloon"),
    qmp!("set_link", "set_link"),
    hmp!(
        "watchdog_action",
        "action:s",
        "[reset|shutdown|poweroff|pause|debug|none]",
        "change watchdog action",
        Native(native::watchdog_action)
    ),
    hmp!(
        "acl_show",
        "aclname:s",
        "aclname",
        "list rules in the access control list",
        Native(acl::acl_show)
    ),
    hmp!(
        "acl_policy",
        "aclname:s,policy:s",
        "aclname allow|deny",
        "set default access control list policy",
        Native(acl::acl_policy)
    ),
    hmp!(
        "acl_add",
        "aclname:s,match:s,policy:s,index:i?",
        "aclname match allow|deny [index]",
        "add a match rule to the access control list",
        Native(acl::acl_add)
    ),
    hmp!(
        "acl_remove",
        "aclname:s,match:s",
        "aclname match",
        "remove a match rule from the access control list",
        Native(acl::acl_remove)
    ),
    hmp!(
        "acl_reset",
        "aclname:s",
        "aclname",
        "reset the access control list",
        Native(acl::acl_reset)
    ),
    hmp!(
        "mce",
        "broadcast:-b,cpu_index:i,bank:i,status:l,mcg_status:l,addr:l,misc:l",
        "[-b] cpu bank status mcgstatus addr misc",
        "inject a MCE on the given CPU [and broadcast to other CPUs with -b option]",
        NotSupported
    ),
    qmp!("getfd", "getfd"),
    qmp!("closefd", "closefd"),
    qmp!("block_passwd", "block_passwd"),
    qmp!("set_password", "set_password"),
    qmp!("expire_password", "expire_password"),
    hmp!(
        "info",
        "item:s?",
        "[subcommand]",
        "show various information about the system state",
        Native(native::info)
    ),
];

macro_rules! info {
    ($name:literal, $help:literal, $print:expr) => {
        InfoItem {
            name: $name,
            help: $help,
            print: $print,
        }
    };
}

use InfoPrint::{Native as InfoNative, NotSupported as InfoNotSupported, Query};

/// HMP `info` items, in 0.14 order (all with empty params).
pub static INFO_ITEMS: &[InfoItem] = &[
    info!(
        "version",
        "show the version of QEMU",
        Query("query-version", print::version)
    ),
    info!(
        "network",
        "show the network state",
        InfoNative(native::info_network)
    ),
    info!(
        "chardev",
        "show the character devices",
        Query("query-chardev", print::chardev)
    ),
    info!(
        "block",
        "show the block devices",
        Query("query-block", print::block)
    ),
    info!(
        "blockstats",
        "show block device statistics",
        Query("query-blockstats", print::blockstats)
    ),
    info!(
        "registers",
        "show the cpu registers",
        InfoNative(readers::info_registers)
    ),
    info!(
        "cpus",
        "show infos for each CPU",
        Query("query-cpus", print::cpus)
    ),
    info!(
        "history",
        "show the command line history",
        InfoNative(native::info_nothing)
    ),
    info!(
        "irq",
        "show the interrupts statistics (if available)",
        InfoNative(native::info_irq)
    ),
    info!(
        "pic",
        "show i8259 (PIC) state",
        InfoNative(readers::info_pic)
    ),
    info!("pci", "show PCI info", Query("query-pci", print::pci)),
    info!(
        "tlb",
        "show virtual to physical memory mappings",
        InfoNative(readers::info_tlb)
    ),
    info!(
        "mem",
        "show the active virtual memory mappings",
        InfoNative(readers::info_tlb)
    ),
    info!("jit", "show dynamic compiler info", InfoNotSupported),
    info!(
        "kvm",
        "show KVM information",
        Query("query-kvm", print::kvm)
    ),
    info!(
        "numa",
        "show NUMA information",
        InfoNative(native::info_numa)
    ),
    info!("usb", "show guest USB devices", InfoNative(usb::info_usb)),
    info!("usbhost", "show host USB devices", InfoNotSupported),
    info!(
        "profile",
        "show profiling information",
        InfoNative(native::info_profile)
    ),
    info!(
        "capture",
        "show capture information",
        InfoNative(native::info_nothing)
    ),
    info!(
        "snapshots",
        "show the currently saved VM snapshots",
        InfoNative(native::info_snapshots)
    ),
    info!(
        "status",
        "show the current VM status (running|paused)",
        Query("query-status", print::status)
    ),
    info!(
        "pcmcia",
        "show guest PCMCIA status",
        InfoNative(native::info_pcmcia)
    ),
    info!(
        "mice",
        "show which guest mouse is receiving events",
        Query("query-mice", print::mice)
    ),
    info!(
        "vnc",
        "show the vnc server status",
        Query("query-vnc", print::vnc)
    ),
    info!(
        "spice",
        "show the spice server status",
        Query("query-spice", print::spice)
    ),
    info!(
        "name",
        "show the current VM name",
        Query("query-name", print::name)
    ),
    info!(
        "uuid",
        "show the current VM UUID",
        Query("query-uuid", print::uuid)
    ),
    info!(
        "usernet",
        "show user network stack connection states",
        InfoNative(slirp::info_usernet)
    ),
    info!(
        "migrate",
        "show migration status",
        Query("query-migrate", print::migrate)
    ),
    info!(
        "balloon",
        "show balloon information",
        Query("query-balloon", print::balloon)
    ),
    info!("qtree", "show device tree", InfoNative(qdev::info_qtree)),
    info!(
        "qdm",
        "show qdev device model list",
        InfoNative(qdev::info_qdm)
    ),
    info!("roms", "show roms", InfoNative(readers::info_roms)),
];

/// `compare_cmd`: whether `name` is one of the `|`-separated names of `list`.
pub fn matches(name: &str, list: &str) -> bool {
    list.split('|').any(|n| n == name)
}

/// `monitor_find_command`.
pub fn find(name: &str) -> Option<&'static HmpCommand> {
    HMP_COMMANDS.iter().find(|c| matches(name, c.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_takes_either_alias() {
        assert_eq!(find("q").map(|c| c.name), Some("q|quit"));
    }

    #[test]
    fn find_unknown_is_none() {
        assert!(find("qui").is_none());
    }

    #[test]
    fn qmp_actions_name_table_commands() {
        let missing: Vec<&str> = HMP_COMMANDS
            .iter()
            .filter_map(|c| match c.action {
                Qmp(q) => crate::qmp::table::lookup(q, true).is_none().then_some(q),
                Native(_) | NotSupported => None,
            })
            .collect();
        assert!(missing.is_empty(), "unknown QMP commands: {missing:?}");
    }

    #[test]
    fn mirrors_name_table_commands() {
        let missing: Vec<&str> = HMP_COMMANDS
            .iter()
            .filter_map(|c| match c.decl {
                Decl::Qmp(q) => crate::qmp::table::lookup(q, true).is_none().then_some(q),
                Decl::Own { .. } => None,
            })
            .collect();
        assert!(missing.is_empty(), "unknown mirrored commands: {missing:?}");
    }

    #[test]
    fn no_own_declaration_copies_its_qmp_entry() {
        let copies: Vec<&str> = HMP_COMMANDS
            .iter()
            .filter(|c| matches!(c.decl, Decl::Own { .. }))
            .filter(|c| {
                c.name.split('|').any(|n| {
                    crate::qmp::table::lookup(n, true).is_some_and(|q| {
                        (q.args_type, q.params, q.help) == (c.args_type(), c.params(), c.help())
                    })
                })
            })
            .map(|c| c.name)
            .collect();
        assert!(
            copies.is_empty(),
            "declare these as qmp! entries: {copies:?}"
        );
    }

    #[test]
    fn qmp_actions_parse_as_their_handler_reads() {
        let differing: Vec<&str> = HMP_COMMANDS
            .iter()
            .filter(|c| match c.action {
                Qmp(q) => {
                    crate::qmp::table::lookup(q, true).is_some_and(|q| q.args_type != c.args_type())
                }
                Native(_) | NotSupported => false,
            })
            .map(|c| c.name)
            .collect();
        assert!(differing.is_empty(), "args_type differs: {differing:?}");
    }

    #[test]
    fn mirrored_help_line_is_the_qmp_entrys() {
        let c = find("q").expect("quit is an HMP command");
        assert_eq!(
            (c.args_type(), c.params(), c.help()),
            ("", "", "quit the emulator")
        );
    }

    #[test]
    fn every_argument_a_native_reads_is_declared() {
        let declared: Vec<&str> = HMP_COMMANDS
            .iter()
            .filter(|c| matches!(c.action, Native(_)))
            .flat_map(|c| crate::qmp::args::names(c.args_type()))
            .collect();
        let undeclared: Vec<&str> = crate::qmp::args::names_read(concat!(
            include_str!("native.rs"),
            include_str!("hotplug.rs"),
            include_str!("usb.rs"),
            include_str!("slirp.rs")
        ))
        .into_iter()
        .filter(|n| !declared.contains(n))
        .collect();
        assert!(undeclared.is_empty(), "undeclared: {undeclared:?}");
    }

    #[test]
    fn info_queries_name_table_commands() {
        let missing: Vec<&str> = INFO_ITEMS
            .iter()
            .filter_map(|i| match i.print {
                Query(q, _) => crate::qmp::table::lookup(q, true).is_none().then_some(q),
                InfoNative(_) | InfoNotSupported => None,
            })
            .collect();
        assert!(missing.is_empty(), "unknown queries: {missing:?}");
    }
}
