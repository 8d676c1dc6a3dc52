//! The `qmpsim` command line: subcommands, and `run`'s QEMU-style options.
//!
//! `qmpsim run [QEMU options]` runs a VM; a first argument starting with `-` means
//! `run`, so `qmpsim -qmp unix:/tmp/q.sock,server,nowait -name t -S` works where
//! `qemu-system-x86_64` did. Options are parsed and validated by [`raw`] (pure),
//! assembled into a config by [`config`] (probes disk images), and served by
//! [`crate::server`]. Errors are printed here, once, as QEMU prints them.

pub mod commands;
pub mod config;
pub mod fleet;
pub mod manual;
pub mod minimize;
pub mod raw;
pub mod trace;

use std::ffi::OsString;

use crate::server::{self, ServerOptions};
use raw::SpecialMode;

/// Exit status for a refused command line or a failed start, as QEMU's `exit(1)`.
pub const EXIT_FAILURE: u8 = 1;

/// `qmpsim --help`, generated from the option table ([`raw::table`]).
pub fn usage() -> String {
    raw::usage()
}

/// Why a command did not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line was refused.
    #[error(transparent)]
    Raw(#[from] raw::RawError),
    /// The configuration could not be assembled.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] server::ServerError),
    /// The trace file for `-record` could not be opened or locked.
    #[error(transparent)]
    Record(#[from] server::record::RecordError),
    /// `-x-resume` could not replay its trace.
    #[error(transparent)]
    Resume(#[from] crate::replay::resume::ResumeError),
    /// `-x-resume` with `-record`.
    #[error("qmpsim: -record cannot be combined with -x-resume")]
    ResumeWithRecord,
    /// An unknown subcommand.
    #[error("qmpsim: unknown subcommand '{0}' (try qmpsim --help)")]
    UnknownSubcommand(String),
}

/// Runs the program: `args` as from `std::env::args_os()` (program name first).
/// Returns the exit status.
pub fn main_entry<I: IntoIterator<Item = OsString>>(args: I) -> u8 {
    let mut args = args.into_iter().skip(1).peekable();
    let first = args.peek().map(|a| a.to_string_lossy().into_owned());
    let result = match first.as_deref() {
        None | Some("help") => {
            println!("{}", usage());
            Ok(0)
        }
        Some(a) if a.starts_with('-') => run(args),
        Some("run") => run(args.skip(1)),
        Some("proxy") => subcommand(single_dash_record(args.collect())),
        Some(a) if commands::is_subcommand(a) => subcommand(args.collect()),
        Some(other) => Err(CliError::UnknownSubcommand(other.to_owned())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

impl CliError {
    /// The exit status: [`EXIT_FAILURE`], except where QEMU exits otherwise
    /// (an `-incoming` channel that cannot be opened).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Server(server::ServerError::Incoming(e)) => exit_byte(e.code),
            CliError::Raw(e) => e.exit_status(),
            _ => EXIT_FAILURE,
        }
    }
}

/// The version line `-version` prints.
pub fn version_line() -> String {
    format!(
        "QEMU emulator version 0.14.0 (qmpsim {}), Copyright (c) 2003-2008 Fabrice Bellard",
        env!("CARGO_PKG_VERSION")
    )
}

/// `qmpsim run`: parse, assemble, serve.
fn run<I: IntoIterator<Item = OsString>>(args: I) -> Result<u8, CliError> {
    let low = raw::parse(args)?;
    for warning in &low.warnings {
        eprintln!("{warning}");
    }
    if let Some(mode) = &low.special {
        let (stdout, stderr) = special_text(mode);
        eprint!("{stderr}");
        print!("{stdout}");
        return Ok(mode.exit_status());
    }
    let plan = config::build(&low)?;
    let resume = match &plan.edge.resume {
        None => None,
        Some(spec) => Some(resume_engine(spec, &plan)?),
    };
    let chaos_seed = plan.config.chaos.as_ref().map(|c| c.seed);
    if let Some(seed) = chaos_seed {
        eprintln!("qmpsim: chaos seed {seed}");
    }
    let recorder = plan
        .trace_recorder()?
        .map(|r| Box::new(r) as Box<dyn server::Recorder>);
    let code = server::run(ServerOptions {
        config: plan.config,
        recorder,
        pidfile: plan.edge.pidfile,
        daemonize: plan.edge.daemonize,
        loadvm: plan.edge.loadvm,
        resume,
    })?;
    if let (Some(seed), Some(path)) = (chaos_seed, &plan.edge.record) {
        eprintln!("qmpsim: chaos seed {seed}: trace {}", path.display());
    }
    Ok(u8::try_from(code & 0xff).expect("masked to a byte"))
}

/// `-x-resume TRACE[@FRAME]`: the trace's engine at that frame (see
/// [`crate::replay::resume`]); the notice goes to stderr.
fn resume_engine(spec: &str, plan: &config::RunPlan) -> Result<crate::engine::Engine, CliError> {
    if plan.edge.record.is_some() {
        return Err(CliError::ResumeWithRecord);
    }
    let point = crate::replay::resume::ResumePoint::parse(spec);
    let resumed = crate::replay::resume::resume(&point, &plan.config)?;
    eprintln!("{}", resumed.notice(&point.path));
    Ok(resumed.engine)
}

/// The clap-declared subcommands ([`commands`]).
fn subcommand(args: Vec<OsString>) -> Result<u8, CliError> {
    let command = match commands::parse(args) {
        Ok(command) => command,
        Err(code) => return Ok(code),
    };
    let code = match command {
        commands::Command::Replay(a) => match (a.from, &a.paths[..]) {
            (None, _) => replay(&a),
            (Some(from), [path]) => crate::replay::from::replay_from_cli(path, from),
            (Some(_), _) => {
                eprintln!("qmpsim: replay --from takes one trace file");
                2
            }
        },
        commands::Command::Trace(command) => trace::run(command),
        commands::Command::Fleet(a) => match fleet::run(&a) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{e}");
                i32::from(EXIT_FAILURE)
            }
        },
        commands::Command::Explore(a) => crate::explore::explore_cli(&a),
        commands::Command::Conformance(a) => crate::explore::conformance::conformance_cli(&a),
        commands::Command::Proxy(a) => proxy(a),
        commands::Command::Serve(a) => serve(a),
        commands::Command::Completions { shell } => {
            manual::write_completions(shell, &mut std::io::stdout().lock());
            0
        }
        commands::Command::Man { out } => man_cli(out.as_deref()),
    };
    Ok(exit_byte(code))
}

/// `-record FILE` (as `qmpsim run` spells it) as `--record FILE`, before any `--`.
fn single_dash_record(args: Vec<OsString>) -> Vec<OsString> {
    let mut seen_dashes = false;
    args.into_iter()
        .map(|a| {
            seen_dashes |= a == "--";
            if !seen_dashes && a == "-record" {
                OsString::from("--record")
            } else {
                a
            }
        })
        .collect()
}

/// `qmpsim proxy`.
fn proxy(a: commands::ProxyArgs) -> i32 {
    use crate::proxy::relay::{ProxyOptions, Upstream};
    let upstream = match a.upstream {
        Some(address) => Upstream::Address(address),
        None => Upstream::Spawn(a.command),
    };
    let options = ProxyOptions {
        listen: a.listen,
        upstream,
        record: a.record,
    };
    match crate::proxy::relay::run(&options) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            i32::from(EXIT_FAILURE)
        }
    }
}

/// `qmpsim serve`.
fn serve(a: commands::ServeArgs) -> i32 {
    let options = crate::proxy::serve::ServeOptions {
        trace: a.trace,
        listen: a.listen,
        match_on: a.match_on,
        ignore_id: a.ignore_id,
        pace: a.pace,
        strict: a.strict,
        record_mode: a.record_mode,
        upstream: a.upstream,
    };
    match crate::proxy::serve::run(options) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            i32::from(EXIT_FAILURE)
        }
    }
}

/// `qmpsim replay` with its options.
fn replay(a: &commands::ReplayArgs) -> i32 {
    use crate::replay::corpus::{default_jobs, RunOptions};
    let shuffle_seed = a.shuffle_seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
    });
    let options = RunOptions {
        jobs: a.jobs.map_or_else(default_jobs, usize::from),
        shard: a.shard,
        fail_fast: a.fail_fast,
        check_determinism: a.check_determinism,
        allow_truncated: a.allow_truncated,
        shuffle_seed,
    };
    if a.check_determinism {
        eprintln!("qmpsim replay: --check-determinism with --shuffle-seed {shuffle_seed}");
    }
    crate::replay::replay_cli_with(&a.paths, &options, a.junit.as_deref())
}

/// `qmpsim man [--out DIR]`.
fn man_cli(out: Option<&std::path::Path>) -> i32 {
    let result = match out {
        None => manual::write_main_page(&mut std::io::stdout().lock()),
        Some(dir) => manual::write_man_pages(dir).map(|written| {
            for path in written {
                println!("{}", path.display());
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let place = out.map_or_else(|| "stdout".to_owned(), |d| d.display().to_string());
            eprintln!(
                "qmpsim: man: could not write to {place}: {}",
                server::strerror(&e)
            );
            i32::from(EXIT_FAILURE)
        }
    }
}

fn exit_byte(code: i32) -> u8 {
    u8::try_from(code & 0xff).expect("masked to a byte")
}

/// What a print-and-exit mode prints: on stdout, and on stderr.
fn special_text(mode: &SpecialMode) -> (String, String) {
    let line = |text: String| (format!("{text}\n"), String::new());
    match mode {
        SpecialMode::Version => line(version_line()),
        SpecialMode::Help => line(usage()),
        SpecialMode::MachineList => line(raw::machine_list()),
        SpecialMode::CpuList => line(raw::cpu_list()),
        SpecialMode::WatchdogList => line(crate::machine::watchdog::watchdog_list()),
        SpecialMode::NicModels => (String::new(), raw::net::nic_models_text()),
        SpecialMode::DeviceList => (String::new(), crate::machine::devices::qdm::qdm_text(true)),
        SpecialMode::DeviceHelp { driver } => (
            String::new(),
            crate::machine::devices::qdm::find(driver)
                .map(crate::machine::devices::qdm::device_help_text)
                .unwrap_or_default(),
        ),
        SpecialMode::SoundCards { unknown } => raw::hardware::sound_cards_text(unknown),
        SpecialMode::AlarmTimers {
            unknown, timers, ..
        } => raw::hardware::alarm_timers_text(unknown, timers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::os;

    #[test]
    fn version_line_names_qemu_and_qmpsim() {
        assert_eq!(
            version_line(),
            format!(
                "QEMU emulator version 0.14.0 (qmpsim {}), Copyright (c) 2003-2008 Fabrice Bellard",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn replay_is_not_available_yet() {
        assert_eq!(
            main_entry(os(&["qmpsim", "replay", "x.qmptrace"])),
            EXIT_FAILURE
        );
    }

    #[test]
    fn unknown_subcommand_fails() {
        assert_eq!(main_entry(os(&["qmpsim", "frobnicate"])), EXIT_FAILURE);
    }

    #[test]
    fn dash_version_exits_zero() {
        assert_eq!(main_entry(os(&["qmpsim", "-version"])), 0);
    }

    #[test]
    fn invalid_option_exits_one() {
        assert_eq!(main_entry(os(&["qmpsim", "-foo"])), EXIT_FAILURE);
    }
}
