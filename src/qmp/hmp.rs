//! The human monitor (HMP) as `human-monitor-command` runs it (0.14's
//! `do_hmp_passthrough`): the command line runs on a throwaway monitor of its
//! own, and whatever it printed comes back as text.
//!
//! - The line is parsed against the command's HMP `args_type` (`parse`, a port
//!   of `monitor_parse_command`, with `expr` for integer expressions), from the
//!   0.14 command table (`table`).
//! - Most commands then run their QMP handler: success is silent, an error
//!   prints its description (`Device 'foo' not found`). Queries print through
//!   0.14's `user_print` formats (`print`) from the same QObjects the QMP query
//!   handlers return, so HMP and QMP never disagree. The rest are `native`.
//! - The throwaway monitor is a fresh [`Session`]: CPU 0 unless `cpu-index`
//!   says otherwise, no descriptor passed with it, no named descriptors
//!   ([`HMP_MONITOR`]), and whatever extra replies a handler queues go nowhere.
//! - Output goes through 0.14's monitor buffer, which writes a line out at its
//!   newline (or when full), so text after the last newline is lost.
//!
//! Errors are text, never QMP errors (except a bad `cpu-index`). Pure: no I/O.

mod acl;
mod expr;
mod hotplug;
mod input;
mod native;
mod parse;
mod print;
mod qdev;
mod readers;
mod slirp;
mod table;
mod usb;

// The HMP parser's limits, indexed in `crate::limits`.
pub use expr::{EXPR_DEPTH_MAX, REGISTER_NAME_BYTES_MAX};
pub use input::SENDKEY_KEYS_MAX;
pub use parse::{COMMAND_NAME_BYTES_MAX, OPTION_NAME_BYTES_MAX, STRING_ARG_BYTES_MAX};
pub use readers::SUM_RAM_BYTES_MAX;

use super::args::Args;
use super::commands::{Ctx, HandlerResult};
use super::session::Session;
use super::table as qmp_table;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

/// The monitor index of the throwaway HMP monitor. No client connects to it, so
/// it never holds a named descriptor.
pub const HMP_MONITOR: u32 = u32::MAX;

/// 0.14's monitor output buffer (`uint8_t outbuf[1024]`): written out at each
/// newline, or once only one byte is left.
pub const OUTBUF_BYTES: usize = 1024;

/// How an HMP command runs.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// The QMP command of that name: silent on success, the error's text on
    /// failure.
    Qmp(&'static str),
    /// A command of its own, with the arguments its HMP `args_type` declares.
    Native(fn(&mut Ctx<'_>, Args<'_>, &mut String)),
    /// Not modelled: prints `NAME: not supported yet` after its arguments
    /// parsed (see docs/compat.md).
    NotSupported,
}

/// Where an HMP command's `args_type`, params and help come from.
#[derive(Debug, Clone, Copy)]
pub enum Decl {
    /// The QMP command of that name declares them: 0.14 shares the entry.
    Qmp(&'static str),
    /// An HMP-only command (or one whose HMP entry differs from its QMP one)
    /// declares its own.
    Own {
        /// HMP argument types.
        args_type: &'static str,
        /// Parameter synopsis for `help`.
        params: &'static str,
        /// Help text.
        help: &'static str,
    },
}

/// One HMP command (0.14 hmp-commands.hx).
#[derive(Debug)]
pub struct HmpCommand {
    /// Names, `|`-separated, as `help` prints them.
    pub name: &'static str,
    /// Its declaration: a QMP command's, or its own.
    pub decl: Decl,
    /// How it runs.
    pub action: Action,
}

impl HmpCommand {
    /// The QMP command this one mirrors, if it does.
    pub fn mirrored(&self) -> Option<&'static qmp_table::Command> {
        match self.decl {
            Decl::Qmp(name) => {
                Some(qmp_table::lookup(name, true).expect("mirrored QMP commands exist (tested)"))
            }
            Decl::Own { .. } => None,
        }
    }

    /// HMP argument types.
    pub fn args_type(&self) -> &'static str {
        match self.decl {
            Decl::Own { args_type, .. } => args_type,
            Decl::Qmp(_) => self.mirrored().map_or("", |c| c.args_type),
        }
    }

    /// Parameter synopsis for `help`.
    pub fn params(&self) -> &'static str {
        match self.decl {
            Decl::Own { params, .. } => params,
            Decl::Qmp(_) => self.mirrored().map_or("", |c| c.params),
        }
    }

    /// Help text.
    pub fn help(&self) -> &'static str {
        match self.decl {
            Decl::Own { help, .. } => help,
            Decl::Qmp(_) => self.mirrored().map_or("", |c| c.help),
        }
    }
}

/// How an `info` item prints.
#[derive(Debug, Clone, Copy)]
pub enum InfoPrint {
    /// Format the result of this QMP query.
    Query(&'static str, fn(&QObject, &mut String)),
    /// Print from the machine directly.
    Native(fn(&mut Ctx<'_>, &mut String)),
    /// Not modelled: prints `info NAME: not supported yet`.
    NotSupported,
}

/// One `info` item (0.14 monitor.c `info_cmds`).
#[derive(Debug)]
pub struct InfoItem {
    /// Name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// How it prints.
    pub print: InfoPrint,
}

/// `human-monitor-command`: a bad `cpu-index` is a QMP error; everything else
/// is text (`{}` when nothing was printed).
pub fn human_monitor_command(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let line = args.str("command-line");
    let mut session = Session::new(HMP_MONITOR);
    if let Some(raw) = args.opt_int("cpu-index") {
        session.cpu_index = super::commands::cpus::selected_cpu(ctx.machine, raw, "cpu-index")?;
    }
    let mut hmp = Ctx {
        machine: &mut *ctx.machine,
        session: &mut session,
        client: ctx.client,
        followups: Vec::new(),
    };
    let mut printed = String::new();
    run_line(&mut hmp, line, &mut printed);
    let text = flushed(&printed);
    if text.is_empty() {
        return Ok(QObject::Dict(QDict::new()));
    }
    Ok(QObject::Str(text.replace('\n', "\r\n")))
}

/// What [`run_line`] prints for `line` on `machine`, with a fresh session: for
/// the unit tests of the HMP commands.
#[cfg(test)]
pub(crate) fn printed(machine: &mut crate::machine::Machine, line: &str) -> String {
    let mut out = String::new();
    super::commands::with_fresh_ctx(machine, |ctx| run_line(ctx, line, &mut out));
    out
}

/// For each row `(line, want)` in order on `machine`: what `line` prints is
/// `want` (a failing row names its line).
#[cfg(test)]
pub(crate) fn assert_printed(machine: &mut crate::machine::Machine, rows: &[(&str, &str)]) {
    for &(line, want) in rows {
        assert_eq!(printed(machine, line), want, "{line}");
    }
}

/// For each row `(flag, line, want)`: what `line` prints on a fresh machine
/// made by `config(flag)` is `want` (a failing row names its line).
#[cfg(test)]
pub(crate) fn assert_printed_on_fresh_machines(
    config: impl Fn(bool) -> crate::machine::config::MachineConfig,
    rows: &[(bool, &str, &str)],
) {
    for &(flag, line, want) in rows {
        let mut m = crate::machine::Machine::new(config(flag));
        assert_eq!(printed(&mut m, line), want, "{line}");
    }
}

/// `handle_user_command`: parses and runs one line, appending what it prints
/// (also the human monitor's, `crate::monitor`).
pub fn run_line(ctx: &mut Ctx<'_>, line: &str, out: &mut String) {
    let Some((name, rest)) = parse::command_name(line) else {
        return;
    };
    let Some(cmd) = table::find(name) else {
        out.push_str(&format!("unknown command: '{name}'\n"));
        return;
    };
    let pc = ctx
        .machine
        .devices
        .cpus
        .cpus
        .iter()
        .find(|c| c.index == ctx.session.cpu_index)
        .map(|c| i64::from_ne_bytes(c.pc.to_ne_bytes()));
    // Only `$pc` of the monitor's CPU is modelled.
    let regs = |reg: &str| if reg == "pc" { pc } else { None };
    let args_type = cmd.args_type();
    let mut args = match parse::args(name, args_type, rest, &regs) {
        Ok(args) => args,
        Err(text) => {
            out.push_str(&text);
            return;
        }
    };
    readers::resolve_format(&mut ctx.machine.monitor_format, &mut args);
    match cmd.action {
        Action::Native(f) => f(ctx, Args::new(args_type, &args), out),
        Action::Qmp(qmp_name) => {
            let command =
                qmp_table::lookup(qmp_name, true).expect("HMP commands map to table commands");
            if let Err(e) = (command.handler)(ctx, Args::new(command.args_type, &args)) {
                out.push_str(&error_text(ctx, &e));
            }
        }
        Action::NotSupported => out.push_str(&format!("{name}: not supported yet\n")),
    }
}

/// What the human monitor prints for a handler's error: its description, or,
/// where 0.14 would have asked for a password on the terminal, what the
/// throwaway monitor (which has none) prints instead.
fn error_text(ctx: &Ctx<'_>, e: &QmpError) -> String {
    const NO_PROMPT: &str = "terminal does not support password prompting\n";
    match e.class {
        ErrorClass::DeviceEncrypted => {
            // `monitor_read_bdrv_key_start`.
            let device = e.data.get_str("device").unwrap_or_default();
            let file = ctx
                .machine
                .devices
                .block
                .find(device)
                .and_then(|d| d.medium.as_ref())
                .map(|m| m.file.as_str())
                .unwrap_or_default();
            format!("{device} ({file}) is encrypted.\n{NO_PROMPT}")
        }
        // `monitor_read_password`, reached by `change vnc password` without one.
        ErrorClass::MissingParameter if e.data.get_str("name") == Some("password") => {
            NO_PROMPT.to_owned()
        }
        _ => format!("{}\n", e.desc()),
    }
}

/// The part of the printed text 0.14's `monitor_puts` wrote out: a newline
/// costs two bytes of buffer (`\r\n`), and the buffer is written at each
/// newline or when at most one byte is left; the rest stays buffered and is
/// lost with the throwaway monitor.
fn flushed(printed: &str) -> &str {
    let mut used = 0;
    let mut written = 0;
    for (pos, byte) in printed.bytes().enumerate() {
        used += if byte == b'\n' { 2 } else { 1 };
        if byte == b'\n' || used >= OUTBUF_BYTES - 1 {
            written = pos + 1;
            used = 0;
        }
    }
    while !printed.is_char_boundary(written) {
        written -= 1;
    }
    &printed[..written]
}

/// The files a `human-monitor-command` line names (what the edge probes
/// before the engine runs it): its line is parsed as the monitor will parse
/// it, and the files are those of the QMP command it runs (`change`).
pub fn files_named(args: &QDict) -> Vec<String> {
    args.get_str("command-line")
        .and_then(line_files)
        .unwrap_or_default()
}

fn line_files(line: &str) -> Option<Vec<String>> {
    let (name, rest) = parse::command_name(line)?;
    let cmd = table::find(name)?;
    if matches!(cmd.name, "drive_add" | "pci_add") {
        // The image of the drive they create (`file=` of their options).
        let no_regs = |_: &str| None;
        let args = parse::args(name, cmd.args_type(), rest, &no_regs).ok()?;
        let opts = crate::machine::config::OptionList::parse(args.get_str("opts")?, None);
        return Some(opts.get("file").map(str::to_owned).into_iter().collect());
    }
    let Action::Qmp(qmp_name) = cmd.action else {
        return None;
    };
    let files = qmp_table::lookup(qmp_name, true)?.files?;
    let no_regs = |_: &str| None;
    let args = parse::args(name, cmd.args_type(), rest, &no_regs).ok()?;
    Some(files(&args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qmp::session::ClientId;

    fn call(m: &mut Machine, args: &QDict) -> HandlerResult {
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        let args = crate::qmp::commands::typed(human_monitor_command, args);
        human_monitor_command(&mut ctx, args)
    }

    fn hmp(cfg: MachineConfig, line: &str) -> String {
        let mut m = Machine::new(cfg);
        call(&mut m, &crate::qdict! { "command-line" => line })
            .unwrap()
            .to_json()
    }

    #[test]
    fn lines_reply_as_014_does() {
        let kvm = MachineConfig {
            kvm: true,
            ..MachineConfig::default()
        };
        let paused = MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        };
        let plain = MachineConfig::default;
        let vnc = MachineConfig {
            vnc: Some("127.0.0.1:0".into()),
            ..MachineConfig::default()
        };
        for (config, line, want) in [
            (kvm, "info kvm", r#""kvm support: enabled\r\n""#),
            (
                vnc,
                "change vnc password",
                r#""terminal does not support password prompting\r\n""#,
            ),
            (plain(), "foo", r#""unknown command: 'foo'\r\n""#),
            (plain(), "   ", "{}"),
            (plain(), "info name", "{}"),
            (paused, "info status", r#""VM status: paused\r\n""#),
            (
                plain(),
                "gdbserver tcp::1234",
                r#""gdbserver: not supported yet\r\n""#,
            ),
        ] {
            assert_eq!(hmp(config, line), want, "{line}");
        }
    }

    #[test]
    fn stop_is_silent_and_stops() {
        let mut m = Machine::new(MachineConfig::default());
        let r = call(&mut m, &crate::qdict! { "command-line" => "stop" });
        assert_eq!(r.unwrap().to_json(), "{}");
        assert!(!m.run_state.is_running());
    }

    #[test]
    fn bad_cpu_index_is_qmp_error() {
        let mut m = Machine::new(MachineConfig::default());
        let args = crate::qdict! { "command-line" => "info cpus", "cpu-index" => 5_i64 };
        let e = call(&mut m, &args).unwrap_err();
        assert_eq!(e.desc(), "Parameter 'cpu-index' expects a CPU number");
    }

    #[test]
    fn cpu_index_marks_that_cpu_current() {
        let cfg = MachineConfig {
            smp: 2,
            start_paused: true,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(cfg);
        let args = crate::qdict! { "command-line" => "info cpus", "cpu-index" => 1_i64 };
        assert_eq!(
            call(&mut m, &args).unwrap().to_json(),
            r#""  CPU #0: pc=0x00000000fffffff0\r\n* CPU #1: pc=0x00000000fffffff0 (halted)\r\n""#
        );
    }

    #[test]
    fn dollar_pc_reads_the_monitors_cpu() {
        let mut m = Machine::new(MachineConfig::default());
        m.devices.cpus.cpus[0].pc = 0x1234;
        let args = crate::qdict! { "command-line" => "print $pc" };
        assert_eq!(call(&mut m, &args).unwrap().to_json(), r#""0x1234\r\n""#);
    }

    #[test]
    fn flushed_drops_text_after_last_newline() {
        assert_eq!(flushed("a\nb"), "a\n");
    }

    // 0.14 writes the buffer out once `outbuf_index >= sizeof(outbuf) - 1`.

    #[test]
    fn flushed_filling_the_buffer_to_its_last_byte_writes_it() {
        let full = "x".repeat(OUTBUF_BYTES - 1);
        assert_eq!(flushed(&full), full);
    }

    #[test]
    fn flushed_one_byte_past_a_full_buffer_loses_that_byte() {
        let long = "x".repeat(OUTBUF_BYTES);
        assert_eq!(flushed(&long).len(), OUTBUF_BYTES - 1);
    }

    #[test]
    fn flushed_below_buffer_size_without_newline_is_lost() {
        let short = "x".repeat(OUTBUF_BYTES - 2);
        assert_eq!(flushed(&short), "");
    }

    #[test]
    fn flushed_newline_filling_the_buffer_writes_it() {
        // `\n` costs two bytes (`\r\n`), so it fills the buffer exactly here.
        let line = format!("{}\n", "x".repeat(OUTBUF_BYTES - 2));
        assert_eq!(flushed(&line), line);
    }

    #[test]
    fn flushed_full_buffer_cut_inside_a_character_keeps_whole_characters() {
        let text = format!("{}é", "x".repeat(OUTBUF_BYTES - 2));
        assert_eq!(flushed(&text).len(), OUTBUF_BYTES - 2);
    }

    #[test]
    fn files_named_are_the_files_a_line_opens() {
        let none: &[&str] = &[];
        for (line, files) in [
            (
                r#"change ide1-cd0 "/tmp/a b.iso" raw"#,
                &["/tmp/a b.iso"][..],
            ),
            ("change vnc password x", none),
            (
                "drive_add 0 if=none,file=/img/a.qcow2,id=d",
                &["/img/a.qcow2"],
            ),
            (
                "pci_add auto storage file=/img/b.img,if=virtio",
                &["/img/b.img"],
            ),
            ("eject ide1-cd0", none),
            ("change", none),
        ] {
            let named = files_named(&crate::qdict! { "command-line" => line });
            assert_eq!(named, files, "{line}");
        }
    }
}
