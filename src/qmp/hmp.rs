//! The human monitor (HMP) as `human-monitor-command` runs it: a command line is
//! parsed against HMP `args_type`s, the command runs, and whatever it printed comes
//! back as text. Queries print through 0.14's `user_print` formats (facts §8) from
//! the same QObjects the QMP query handlers return, so HMP and QMP never disagree.
//! Errors are text (`Device 'foo' not found`), never QMP errors. Pure: no I/O.

use super::commands::{Ctx, HandlerResult};
use super::table;
use crate::machine::watchdog::WatchdogAction;
use crate::wire::{QDict, QObject};

mod print;

/// How an HMP command runs.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// The QMP command of that name, silent on success.
    Qmp(&'static str),
    /// An HMP-only command.
    Native(fn(&mut Ctx<'_>, &QDict, &mut String)),
}

/// One HMP command (0.14 hmp-commands.hx).
#[derive(Debug)]
struct HmpCommand {
    name: &'static str,
    aliases: &'static [&'static str],
    args_type: &'static str,
    params: &'static str,
    help: &'static str,
    action: Action,
}

macro_rules! hmp {
    ($name:literal $(| $alias:literal)*, $args:literal, $params:literal, $help:literal, $action:expr) => {
        HmpCommand { name: $name, aliases: &[$($alias),*], args_type: $args, params: $params, help: $help, action: $action }
    };
}

/// HMP commands, in 0.14 order.
static HMP_COMMANDS: &[HmpCommand] = &[
    hmp!(
        "help" | "?",
        "name:s?",
        "[cmd]",
        "show the help",
        Action::Native(help)
    ),
    hmp!(
        "info",
        "item:s?",
        "[subcommand]",
        "show various information about the system state",
        Action::Native(info)
    ),
    hmp!(
        "quit" | "q",
        "",
        "",
        "quit the emulator",
        Action::Qmp("quit")
    ),
    hmp!(
        "eject",
        "force:-f,device:B",
        "[-f] device",
        "eject a removable medium (use -f to force it)",
        Action::Qmp("eject")
    ),
    hmp!(
        "change",
        "device:B,target:F,arg:s?",
        "device filename [format]",
        "change a removable medium, optional format",
        Action::Qmp("change")
    ),
    hmp!(
        "screendump",
        "filename:F",
        "filename",
        "save screen into PPM image 'filename'",
        Action::Qmp("screendump")
    ),
    hmp!(
        "savevm",
        "name:s?",
        "[tag|id]",
        "save a VM snapshot. If no tag or id are provided, a new snapshot is created",
        Action::Native(savevm)
    ),
    hmp!(
        "loadvm",
        "name:s",
        "tag|id",
        "restore a VM snapshot from its tag or id",
        Action::Native(savevm)
    ),
    hmp!(
        "delvm",
        "name:s",
        "tag|id",
        "delete a VM snapshot from its tag or id",
        Action::Native(savevm)
    ),
    hmp!("stop", "", "", "stop emulation", Action::Qmp("stop")),
    hmp!(
        "c" | "cont",
        "",
        "",
        "resume emulation",
        Action::Qmp("cont")
    ),
    hmp!(
        "system_reset",
        "",
        "",
        "reset the system",
        Action::Qmp("system_reset")
    ),
    hmp!(
        "system_powerdown",
        "",
        "",
        "send system power down event",
        Action::Qmp("system_powerdown")
    ),
    hmp!(
        "device_add",
        "device:O",
        "driver[,prop=value][,...]",
        "add device, like -device on the command line",
        Action::Qmp("device_add")
    ),
    hmp!(
        "device_del",
        "id:s",
        "device",
        "remove device",
        Action::Qmp("device_del")
    ),
    hmp!(
        "cpu",
        "index:i",
        "index",
        "set the default CPU",
        Action::Qmp("cpu")
    ),
    hmp!(
        "memsave",
        "val:l,size:i,filename:s",
        "addr size file",
        "save to disk virtual memory dump starting at 'addr' of size 'size'",
        Action::Qmp("memsave")
    ),
    hmp!(
        "pmemsave",
        "val:l,size:i,filename:s",
        "addr size file",
        "save to disk physical memory dump starting at 'addr' of size 'size'",
        Action::Qmp("pmemsave")
    ),
    hmp!(
        "migrate",
        "detach:-d,blk:-b,inc:-i,uri:s",
        "[-d] [-b] [-i] uri",
        "migrate to URI (using -d to not wait for completion)",
        Action::Qmp("migrate")
    ),
    hmp!(
        "migrate_cancel",
        "",
        "",
        "cancel the current VM migration",
        Action::Qmp("migrate_cancel")
    ),
    hmp!(
        "migrate_set_speed",
        "value:o",
        "value",
        "set maximum speed (in bytes) for migrations",
        Action::Qmp("migrate_set_speed")
    ),
    hmp!(
        "migrate_set_downtime",
        "value:T",
        "value",
        "set maximum tolerated downtime (in seconds) for migrations",
        Action::Qmp("migrate_set_downtime")
    ),
    hmp!(
        "client_migrate_info",
        "protocol:s,hostname:s,port:i?,tls-port:i?,cert-subject:s?",
        "protocol hostname port tls-port cert-subject",
        "send migration info to spice/vnc client",
        Action::Qmp("client_migrate_info")
    ),
    hmp!(
        "netdev_add",
        "netdev:O",
        "[user|tap|socket],id=str[,prop=value][,...]",
        "add host network device",
        Action::Qmp("netdev_add")
    ),
    hmp!(
        "netdev_del",
        "id:s",
        "id",
        "remove host network device",
        Action::Qmp("netdev_del")
    ),
    hmp!(
        "balloon",
        "value:M",
        "target",
        "request VM to change its memory allocation (in MB)",
        Action::Qmp("balloon")
    ),
    hmp!(
        "set_link",
        "name:s,up:b",
        "name on|off",
        "change the link status of a network adapter",
        Action::Qmp("set_link")
    ),
    hmp!(
        "watchdog_action",
        "action:s",
        "[reset|shutdown|poweroff|pause|debug|none]",
        "change watchdog action",
        Action::Native(watchdog_action)
    ),
    hmp!(
        "getfd",
        "fdname:s",
        "getfd name",
        "receive a file descriptor via SCM rights and assign it a name",
        Action::Qmp("getfd")
    ),
    hmp!(
        "closefd",
        "fdname:s",
        "closefd name",
        "close a file descriptor previously passed via SCM rights",
        Action::Qmp("closefd")
    ),
    hmp!(
        "block_passwd",
        "device:B,password:s",
        "block_passwd device password",
        "set the password of encrypted block devices",
        Action::Qmp("block_passwd")
    ),
    hmp!(
        "block_resize",
        "device:B,size:o",
        "device size",
        "resize a block image",
        Action::Qmp("block_resize")
    ),
    hmp!(
        "set_password",
        "protocol:s,password:s,connected:s?",
        "protocol password action-if-connected",
        "set spice/vnc password",
        Action::Qmp("set_password")
    ),
    hmp!(
        "expire_password",
        "protocol:s,time:s",
        "protocol time",
        "set spice/vnc password expire-time",
        Action::Qmp("expire_password")
    ),
];

/// One `info` item: the QMP query it prints, or an HMP-only printer.
#[derive(Debug)]
struct InfoItem {
    name: &'static str,
    help: &'static str,
    /// QMP query whose result `print` formats; `None` for items with a native printer.
    query: Option<&'static str>,
    print: fn(&mut Ctx<'_>, Option<&QObject>, &mut String),
}

macro_rules! info {
    ($name:literal, $help:literal, $query:expr, $print:path) => {
        InfoItem {
            name: $name,
            help: $help,
            query: $query,
            print: $print,
        }
    };
}

/// `info` items, in 0.14 order.
static INFO_ITEMS: &[InfoItem] = &[
    info!(
        "version",
        "show the version of QEMU",
        Some("query-version"),
        print::version
    ),
    info!(
        "commands",
        "list QMP available commands",
        None,
        print::nothing
    ),
    info!(
        "chardev",
        "show the character devices",
        Some("query-chardev"),
        print::chardev
    ),
    info!(
        "block",
        "show the block devices",
        Some("query-block"),
        print::block
    ),
    info!(
        "blockstats",
        "show block device statistics",
        Some("query-blockstats"),
        print::blockstats
    ),
    info!(
        "cpus",
        "show infos for each CPU",
        Some("query-cpus"),
        print::cpus
    ),
    info!("pci", "show PCI info", Some("query-pci"), print::pci),
    info!("kvm", "show KVM information", Some("query-kvm"), print::kvm),
    info!(
        "snapshots",
        "show the currently saved VM snapshots",
        None,
        print::snapshots
    ),
    info!(
        "status",
        "show the current VM status (running|paused)",
        Some("query-status"),
        print::status
    ),
    info!(
        "mice",
        "show which guest mouse is receiving events",
        Some("query-mice"),
        print::mice
    ),
    info!(
        "vnc",
        "show the vnc server status",
        Some("query-vnc"),
        print::vnc
    ),
    info!(
        "spice",
        "show the spice server status",
        Some("query-spice"),
        print::spice
    ),
    info!(
        "name",
        "show the current VM name",
        Some("query-name"),
        print::name
    ),
    info!(
        "uuid",
        "show the current VM UUID",
        Some("query-uuid"),
        print::uuid
    ),
    info!(
        "migrate",
        "show migration status",
        Some("query-migrate"),
        print::migrate
    ),
    info!(
        "balloon",
        "show balloon information",
        Some("query-balloon"),
        print::balloon
    ),
];

/// `human-monitor-command`: bad cpu-index is a QMP error; everything else is text.
pub fn human_monitor_command(ctx: &mut Ctx<'_>, args: &QDict) -> HandlerResult {
    let line = args.get_str("command-line").unwrap_or_default().to_owned();
    let saved_cpu = ctx.session.cpu_index;
    if let Some(index) = args.get_int("cpu-index") {
        let cpus = i64::from(ctx.machine.config.smp);
        if !(0..cpus).contains(&index) {
            return Err(crate::wire::QmpError::with2(
                crate::wire::ErrorClass::InvalidParameterValue,
                "cpu-index",
                "a CPU number",
            ));
        }
        ctx.session.cpu_index = u32::try_from(index).unwrap_or(0);
    }
    let mut text = String::new();
    run_line(ctx, &line, &mut text);
    // The throwaway monitor's CPU choice does not outlive the command.
    ctx.session.cpu_index = saved_cpu;
    if text.is_empty() {
        return Ok(QObject::Dict(QDict::new()));
    }
    Ok(QObject::Str(text.replace('\n', "\r\n")))
}

/// Runs one HMP command line, appending its output (with `\n` line ends).
fn run_line(ctx: &mut Ctx<'_>, line: &str, out: &mut String) {
    let line = line.trim_start();
    let name_end = line
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    if name.is_empty() {
        return;
    }
    let Some(cmd) = HMP_COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
    else {
        out.push_str(&format!("unknown command: '{name}'\n"));
        return;
    };
    let args = match parse::args(cmd.name, cmd.args_type, rest) {
        Ok(args) => args,
        Err(message) => {
            out.push_str(&message);
            out.push('\n');
            return;
        }
    };
    match cmd.action {
        Action::Native(f) => f(ctx, &args, out),
        Action::Qmp(qmp_name) => {
            if let Err(e) = call_qmp(ctx, qmp_name, &args) {
                out.push_str(&e.desc());
                out.push('\n');
            }
        }
    }
}

fn call_qmp(ctx: &mut Ctx<'_>, name: &str, args: &QDict) -> HandlerResult {
    let command = table::lookup(name, true).expect("every HMP command maps to a table entry");
    (command.handler)(ctx, args)
}

fn help(_ctx: &mut Ctx<'_>, args: &QDict, out: &mut String) {
    let wanted = args.get_str("name");
    for c in HMP_COMMANDS
        .iter()
        .filter(|c| wanted.is_none_or(|w| w == c.name))
    {
        let names: Vec<&str> = std::iter::once(c.name)
            .chain(c.aliases.iter().copied())
            .collect();
        out.push_str(&format!("{} {} -- {}\n", names.join("|"), c.params, c.help));
    }
}

fn info(ctx: &mut Ctx<'_>, args: &QDict, out: &mut String) {
    let item = args
        .get_str("item")
        .and_then(|n| INFO_ITEMS.iter().find(|i| i.name == n));
    let Some(item) = item else {
        for i in INFO_ITEMS {
            out.push_str(&format!("info {}  -- {}\n", i.name, i.help));
        }
        return;
    };
    let data = match item.query {
        None => None,
        Some(query) => match table::lookup(query, true).map(|c| (c.handler)(ctx, &QDict::new())) {
            Some(Ok(data)) => Some(data),
            Some(Err(e)) => {
                out.push_str(&e.desc());
                out.push('\n');
                return;
            }
            None => return,
        },
    };
    (item.print)(ctx, data.as_ref(), out);
}

/// 0.14's `do_watchdog_action`: sets the action of every watchdog (even when
/// there is none); an unknown name leaves it and prints an error line.
fn watchdog_action(ctx: &mut Ctx<'_>, args: &QDict, out: &mut String) {
    let name = args.get_str("action").unwrap_or_default();
    match WatchdogAction::parse(name) {
        Some(action) => ctx.machine.watchdog.action = action,
        None => out.push_str(&format!("Unknown watchdog action '{name}'\n")),
    }
}

fn savevm(_ctx: &mut Ctx<'_>, _args: &QDict, out: &mut String) {
    // 0.14 with no snapshot-capable (qcow2) drive answers exactly this.
    out.push_str("No block device can accept snapshots\n");
}

mod parse;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qmp::session::{ClientId, Session};

    fn hmp(cfg: MachineConfig, line: &str) -> QObject {
        let mut m = Machine::new(cfg);
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: &mut m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        human_monitor_command(&mut ctx, &crate::qdict! { "command-line" => line }).unwrap()
    }

    #[test]
    fn info_kvm_matches_doc_example_shape() {
        let cfg = MachineConfig {
            kvm: true,
            ..MachineConfig::default()
        };
        assert_eq!(
            hmp(cfg, "info kvm").to_json(),
            r#""kvm support: enabled\r\n""#
        );
    }

    #[test]
    fn unknown_command_is_text() {
        assert_eq!(
            hmp(MachineConfig::default(), "foo").to_json(),
            r#""unknown command: 'foo'\r\n""#
        );
    }

    #[test]
    fn info_name_unset_prints_nothing() {
        assert_eq!(hmp(MachineConfig::default(), "info name").to_json(), "{}");
    }

    #[test]
    fn info_status_paused() {
        let cfg = MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        };
        assert_eq!(
            hmp(cfg, "info status").to_json(),
            r#""VM status: paused\r\n""#
        );
    }

    #[test]
    fn stop_is_silent_and_stops() {
        let mut m = Machine::new(MachineConfig::default());
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: &mut m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        let r = human_monitor_command(&mut ctx, &crate::qdict! { "command-line" => "stop" });
        assert_eq!(r.unwrap().to_json(), "{}");
        assert!(!m.run_state.is_running());
    }

    #[test]
    fn watchdog_action_sets_action_silently() {
        let mut m = Machine::new(MachineConfig::default());
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: &mut m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        let args = crate::qdict! { "command-line" => "watchdog_action Pause" };
        let r = human_monitor_command(&mut ctx, &args);
        assert_eq!(r.unwrap().to_json(), "{}");
        assert_eq!(m.watchdog.action, WatchdogAction::Pause);
    }

    #[test]
    fn watchdog_action_unknown_prints_error() {
        assert_eq!(
            hmp(MachineConfig::default(), "watchdog_action explode").to_json(),
            r#""Unknown watchdog action 'explode'\r\n""#
        );
    }

    #[test]
    fn bad_cpu_index_is_qmp_error() {
        let mut m = Machine::new(MachineConfig::default());
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: &mut m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        let args = crate::qdict! { "command-line" => "info cpus", "cpu-index" => 5_i64 };
        let e = human_monitor_command(&mut ctx, &args).unwrap_err();
        assert_eq!(e.desc(), "Parameter 'cpu-index' expects a CPU number");
    }
}
