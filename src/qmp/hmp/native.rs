//! HMP commands and `info` items that are not a QMP command with a silent
//! success: `help`, `info`, `log`, the snapshot commands, `migrate` (whose HMP
//! texts say more than QMP's UndefinedError), `netdev_add` (which prints the
//! backend's `error_report` lines), `mouse_set`, and the `info` items without a
//! QMP query (`network`, `snapshots` and the fixed texts of a default 0.14
//! build). Each follows its 0.14 function (monitor.c, savevm.c, net.c,
//! migration.c) and prints with `\n` line ends. Pure.

use std::fmt::Write as _;

use super::table::{self, HMP_COMMANDS, INFO_ITEMS};
use super::{error_text, InfoPrint};
use crate::machine::migration::{blk_migration_drives, parse_uri, MigrationUriError};
use crate::qmp::args::Args;
use crate::qmp::commands::{net, Ctx};
use crate::qmp::table as qmp_table;
use crate::wire::QDict;

/// 0.14's x86_64 `cpu_log_items`: name and help.
const LOG_ITEMS: &[(&str, &str)] = &[
    (
        "out_asm",
        "show generated host assembly code for each compiled TB",
    ),
    ("in_asm", "show target assembly code for each compiled TB"),
    ("op", "show micro ops for each compiled TB"),
    (
        "op_opt",
        "show micro ops before eflags optimization and after liveness analysis",
    ),
    ("int", "show interrupts/exceptions in short format"),
    ("exec", "show trace before each executed TB (lots of logs)"),
    ("cpu", "show CPU state before block translation"),
    ("pcall", "show protected mode far calls/returns/exceptions"),
    ("cpu_reset", "show CPU state before CPU resets"),
];

/// Commands whose effect the model has no state for and which print nothing
/// (`commit`, `logfile`, `stopcapture` with no capture running, `nmi`).
pub fn nothing(_ctx: &mut Ctx<'_>, _args: Args<'_>, _out: &mut String) {}

/// `help_cmd`: `help` lists every command, `help NAME` the one whose full
/// name (aliases included, as in `q|quit`) is NAME, `help info` the info items.
pub fn help(_ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    help_cmd(args.opt_str("name"), out);
}

fn help_cmd(name: Option<&str>, out: &mut String) {
    if name == Some("info") {
        for i in INFO_ITEMS {
            let _ = writeln!(out, "info {}  -- {}", i.name, i.help);
        }
        return;
    }
    for c in HMP_COMMANDS
        .iter()
        .filter(|c| name.is_none_or(|n| n == c.name))
    {
        let _ = writeln!(out, "{} {} -- {}", c.name, c.params(), c.help());
    }
    if name == Some("log") {
        out.push_str("Log items (comma separated):\n");
        let _ = writeln!(out, "{:<10} remove all logs", "none");
        for (item, help) in LOG_ITEMS {
            let _ = writeln!(out, "{item:<10} {help}");
        }
    }
}

/// `log`: `none`, or a comma list of items (`all` for every one); anything
/// else prints `help log`. Logging itself has no visible effect.
pub fn log(_ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let items = args.str("items");
    let known = |item: &str| item == "all" || LOG_ITEMS.iter().any(|(n, _)| *n == item);
    if items != "none" && !items.split(',').all(known) {
        help_cmd(Some("log"), out);
    }
}

/// `do_info`: the item's printer, or the list of items for none or an unknown
/// one (0.14's HMP has no `info commands`, so it lists them too).
pub fn info(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let item = args
        .opt_str("item")
        .and_then(|n| INFO_ITEMS.iter().find(|i| table::matches(n, i.name)));
    let Some(item) = item else {
        help_cmd(Some("info"), out);
        return;
    };
    match item.print {
        InfoPrint::Query(query, print) => {
            let command = qmp_table::lookup(query, true).expect("info queries are table commands");
            match (command.handler)(ctx, Args::new(command.args_type, &QDict::new())) {
                Ok(data) => print(&data, out),
                Err(e) => out.push_str(&error_text(ctx, &e)),
            }
        }
        InfoPrint::Native(print) => print(ctx, out),
        InfoPrint::NotSupported => {
            let _ = writeln!(out, "info {}: not supported yet", item.name);
        }
    }
}

/// `savevm [NAME]` (see [`crate::machine::snapshots`]).
pub fn savevm(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    out.push_str(&ctx.machine.savevm(args.opt_str("name")));
}

/// `loadvm NAME`: 0.14 stops the VM first and restarts it only on success.
pub fn loadvm(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    out.push_str(&ctx.machine.loadvm(args.str("name")));
}

/// `delvm NAME`.
pub fn delvm(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    out.push_str(&ctx.machine.delvm(args.str("name")));
}

/// `do_migrate` as the human monitor sees it: its own texts for refusals, and
/// on success the notice that the throwaway monitor cannot wait (unless `-d`)
/// and the block migration's per-drive lines.
pub fn migrate(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let uri = args.str("uri");
    if ctx.machine.migration.is_active() {
        out.push_str("migration already in progress\n");
        return;
    }
    match parse_uri(uri) {
        Err(MigrationUriError::UnknownProtocol(_)) => {
            let _ = writeln!(out, "unknown migration protocol: {uri}");
            return;
        }
        Err(MigrationUriError::BadHostPort(_)) => {
            out.push_str("migration failed\n");
            return;
        }
        Ok(_) => {}
    }
    let command = qmp_table::lookup("migrate", true).expect("migrate is a table command");
    if (command.handler)(ctx, args).is_err() {
        // Only `fd:` is left: the throwaway monitor holds no named descriptor.
        out.push_str("migration failed\n");
        return;
    }
    if !args.flag("detach") {
        out.push_str("terminal does not allow synchronous migration, continuing detached\n");
    }
    let inc = args.flag("inc");
    if inc || args.flag("blk") {
        for (name, _) in blk_migration_drives(&ctx.machine.devices.block) {
            if inc {
                let _ = writeln!(out, "Start migration for {name} with shared base image");
            } else {
                let _ = writeln!(out, "Start full migration for {name}");
            }
        }
    }
}

/// `netdev_add`: the backend's `error_report` line, if any, then the qerror.
pub fn netdev_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    if let Err((e, report)) = net::netdev_add_reporting(ctx, args) {
        if let Some(report) = report {
            let _ = writeln!(out, "{report}");
        }
        out.push_str(&error_text(ctx, &e));
    }
}

/// 0.14's `do_watchdog_action`: sets the action of every watchdog (even when
/// there is none); an unknown name prints an error and changes nothing.
pub fn watchdog_action(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let name = args.str("action");
    match crate::machine::watchdog::WatchdogAction::parse(name) {
        Some(action) => ctx.machine.watchdog.action = action,
        None => {
            let _ = writeln!(out, "Unknown watchdog action '{name}'");
        }
    }
}

/// `do_mouse_set`: activates the handler with that index.
pub fn mouse_set(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let raw = args.int("index");
    // 0.14 keeps the index in an `int`.
    let low = u32::try_from(raw & 0xFFFF_FFFF).expect("masked to 32 bits");
    let mice = &mut ctx.machine.devices.mice;
    if mice.handlers.is_empty() {
        out.push_str("No mouse devices connected\n");
    } else if mice.handlers.iter().any(|m| m.index == low) {
        mice.activate(low);
    } else {
        out.push_str("Mouse at given index not found\n");
    }
}

/// Info items that print nothing here (`history`: the throwaway monitor has
/// none; `capture`: no audio capture runs).
pub fn info_nothing(_ctx: &mut Ctx<'_>, _out: &mut String) {}

/// `info irq` of a build without `DEBUG_IRQ_COUNT`.
pub fn info_irq(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("irq statistic code not compiled.\n");
}

/// `info numa`: no `-numa` nodes.
pub fn info_numa(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("0 nodes\n");
}

/// `info profile` of a build without `CONFIG_PROFILER`.
pub fn info_profile(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("Internal profiler not compiled\n");
}

/// `info pcmcia`: the pc machine has no PCMCIA socket.
pub fn info_pcmcia(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("No PCMCIA sockets\n");
}

/// `do_info_network`: every VLAN with its clients, then the clients on no
/// VLAN with their peers, each list in creation order.
pub fn info_network(ctx: &mut Ctx<'_>, out: &mut String) {
    let net = &ctx.machine.devices.net;
    for vlan in &net.vlans {
        let _ = writeln!(out, "VLAN {vlan} devices:");
        for c in net.clients.iter().filter(|c| c.vlan == Some(*vlan)) {
            let _ = writeln!(out, "  {}: {}", c.name, c.info);
        }
    }
    out.push_str("Devices not on any VLAN:\n");
    for c in net.clients.iter().filter(|c| c.vlan.is_none()) {
        let _ = write!(out, "  {}: {}", c.name, c.info);
        if let Some(peer) = &c.peer {
            let _ = write!(out, " peer={peer}");
        }
        out.push('\n');
    }
}

/// `do_info_snapshots`.
pub fn info_snapshots(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str(&ctx.machine.info_snapshots());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;
    use crate::qmp::hmp::Action;
    use crate::qmp::session::{ClientId, Session};
    use crate::test_util::probed_drive;

    /// Runs HMP native `f` as `run_line` would, with the arguments its table
    /// entry declares.
    fn run(m: &mut Machine, f: fn(&mut Ctx<'_>, Args<'_>, &mut String), args: &QDict) -> String {
        let args_type = HMP_COMMANDS
            .iter()
            .find(|c| matches!(c.action, Action::Native(g) if g as usize == f as usize))
            .map(|c| c.args_type())
            .expect("the native command is in the HMP table");
        let mut s = Session::new(super::super::HMP_MONITOR);
        let mut ctx = Ctx {
            machine: m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        let mut out = String::new();
        f(&mut ctx, Args::new(args_type, args), &mut out);
        out
    }

    fn with_hd(format: &str) -> Machine {
        let mut d = probed_drive("disk.img", format);
        d.opts.push("index", "0");
        Machine::new(MachineConfig {
            drives: vec![d],
            ..MachineConfig::default()
        })
    }

    #[test]
    fn native_commands_print_as_014_does() {
        let plain = || Machine::new(MachineConfig::default());
        type Native = fn(&mut Ctx<'_>, Args<'_>, &mut String);
        let cases: [(Machine, Native, QDict, &str); 6] = [
            (plain(), help, qdict! {"name" => "quit"}, ""),
            (
                plain(),
                help,
                qdict! {"name" => "q|quit"},
                "q|quit  -- quit the emulator\n",
            ),
            (plain(), log, qdict! {"items" => "in_asm,all"}, ""),
            (
                plain(),
                savevm,
                QDict::new(),
                "No block device can accept snapshots\n",
            ),
            (
                with_hd("raw"),
                savevm,
                QDict::new(),
                "Device 'ide0-hd0' is writable but does not support snapshots.\n",
            ),
            (with_hd("qcow2"), savevm, qdict! {"name" => "a"}, ""),
        ];
        for (mut m, f, args, want) in cases {
            assert_eq!(run(&mut m, f, &args), want, "{args:?}");
        }
    }

    #[test]
    fn info_items_of_features_not_compiled_in_say_so() {
        let mut m = Machine::new(MachineConfig::default());
        crate::qmp::hmp::assert_printed(
            &mut m,
            &[
                ("info irq", "irq statistic code not compiled.\n"),
                ("info numa", "0 nodes\n"),
                ("info profile", "Internal profiler not compiled\n"),
            ],
        );
    }

    #[test]
    fn log_unknown_item_prints_log_help() {
        let mut m = Machine::new(MachineConfig::default());
        let out = run(&mut m, log, &qdict! {"items" => "in_asm,bogus"});
        assert!(out.starts_with("log item1[,...] -- activate logging"));
    }

    #[test]
    fn loadvm_without_snapshot_drive_leaves_vm_paused() {
        let mut m = Machine::new(MachineConfig::default());
        let out = run(&mut m, loadvm, &qdict! {"name" => "x"});
        assert_eq!(out, "No block device supports snapshots\n");
        assert!(!m.run_state.is_running());
    }

    #[test]
    fn delvm_qcow2_disk_without_the_snapshot_reports_enoent() {
        let mut m = with_hd("qcow2");
        assert_eq!(
            run(&mut m, delvm, &qdict! {"name" => "x"}),
            "Error -2 while deleting snapshot on 'ide0-hd0'\n"
        );
    }

    #[test]
    fn mouse_set_unknown_index_is_not_found() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            run(&mut m, mouse_set, &qdict! {"index" => 7_i64}),
            "Mouse at given index not found\n"
        );
    }

    #[test]
    fn info_network_default_pc() {
        let mut m = Machine::new(MachineConfig::default());
        let mut out = String::new();
        crate::qmp::commands::with_fresh_ctx(&mut m, |ctx| info_network(ctx, &mut out));
        assert_eq!(
            out,
            "VLAN 0 devices:\n  user.0: net=10.0.2.0, restricted=n\n  e1000.0: model=e1000,macaddr=52:54:00:12:34:56\nDevices not on any VLAN:\n"
        );
    }
}
