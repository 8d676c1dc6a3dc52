//! The subcommands beside `run`, declared once with clap.
//!
//! Parsing, `--help` on every subcommand and usage errors all come from these
//! definitions, and so can the man page and shell completions ([`command`]).
//! `run` is not declared here: its QEMU-style single-dash options keep their own
//! parser ([`super::raw`]), since clap cannot read `-qmp unix:...,server`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// `qmpsim SUBCOMMAND ...`, for every subcommand except `run`.
#[derive(Debug, Parser)]
#[command(
    name = "qmpsim",
    version,
    about = "A deterministic QEMU 0.14 virtual machine, as seen through QMP",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay traces and check that qmpsim gives the same bytes, byte for byte.
    Replay(ReplayArgs),
    /// Read and convert trace files.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Run many independent VMs in one process, each on its own QMP socket.
    Fleet(FleetArgs),
    /// Run a QMP client against fresh VMs, once per placement of an event at a
    /// gap of the byte stream, and report the placements that made it fail.
    Explore(ExploreArgs),
    /// Run a QMP client once per behaviour a QMP server may legally show, and
    /// print a table of which it survives.
    Conformance(ConformanceArgs),
    /// Record the sessions of any QMP server (a real QEMU included) as an
    /// observed trace, standing between its clients and it.
    Proxy(ProxyArgs),
    /// Play a trace's server side back to QMP clients (mock mode): the recorded
    /// greeting, then the recorded reply and events for each matching request.
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh or fish).
    ///
    /// For example `qmpsim completions bash > ~/.local/share/bash-completion/completions/qmpsim`,
    /// `qmpsim completions zsh > ~/.zfunc/_qmpsim` (with `~/.zfunc` in `fpath`), or
    /// `qmpsim completions fish > ~/.config/fish/completions/qmpsim.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: super::manual::CompletionShell,
    },
    /// Print the qmpsim(1) man page, or write every page into a folder.
    ///
    /// `qmpsim man | man -l -` reads it at once; `qmpsim man --out DIR` writes
    /// qmpsim.1 and one page per subcommand (qmpsim-replay.1, ...) for a MANPATH folder.
    Man {
        /// Write qmpsim.1 and one page per subcommand into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `qmpsim replay PATH...`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 when every trace passed; 1 when a trace failed (a divergence, a \
damaged file, a difference under --check-determinism), no trace was found or a \
path could not be read; 3 when the only failures are truncated traces (cut \
before their End frame; every complete frame replayed); 2 for a usage error.")]
pub struct ReplayArgs {
    /// Trace files, or folders searched for `*.qmptrace` (each file once).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Workers replaying traces in parallel [default: all cores].
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Replay only shard K of N (1 <= K <= N), a stable split by path hash.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::replay::corpus::Shard>,
    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Replay every trace, whatever fails (the default).
    #[arg(long, overrides_with = "fail_fast")]
    pub keep_going: bool,
    /// Start no more traces after the first failure; the rest are reported as skipped.
    #[arg(long, overrides_with = "keep_going")]
    pub fail_fast: bool,
    /// Replay every trace twice, on different workers and in a shuffled order,
    /// and fail on any difference in output bytes or state digest.
    #[arg(long)]
    pub check_determinism: bool,
    /// Count a trace cut before its End frame as passed when every complete
    /// frame replayed.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Seed of the --check-determinism shuffle [default: from the clock; printed].
    #[arg(long, value_name = "N")]
    pub shuffle_seed: Option<u64>,
    /// Start at the last full-state checkpoint at or before frame FRAME (frames
    /// count from 0 after the header, as `qmpsim trace dump` numbers them) and
    /// verify from there; one trace file only.
    #[arg(long, value_name = "FRAME")]
    pub from: Option<u64>,
}

/// `qmpsim proxy --listen ADDR (--upstream ADDR | -- SERVER...) -record FILE`.
#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("server").required(true).args(["upstream", "command"])),
    after_help = "\
ADDR is unix:PATH or tcp:HOST:PORT. Each client gets its own connection to the \
server; bytes and passed descriptors go both ways unchanged. The trace is written \
ahead: nothing reaches a client before it is in the file. A server command line \
after -- is started with {sock} replaced by a socket path, and the proxy listens \
once that socket exists: `qmpsim proxy --listen unix:/tmp/p.sock -record s.qmptrace \
-- qemu-system-x86_64 -M none -display none -qmp unix:{sock},server`. -record and \
--record are the same option.

SIGINT or SIGTERM ends the recording. Exit status: 0, or the spawned server's \
status once it exited and its clients left; 1 when the recording failed or the \
proxy could not start; 2 for a usage error.")]
pub struct ProxyArgs {
    /// Where clients connect: unix:PATH or tcp:HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub listen: crate::proxy::Address,
    /// The QMP server: unix:PATH or tcp:HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Option<crate::proxy::Address>,
    /// The trace to write (an observed trace).
    #[arg(long, value_name = "FILE.qmptrace")]
    pub record: PathBuf,
    /// A server to start instead of --upstream, with {sock} in its arguments.
    #[arg(last = true, value_name = "SERVER", allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

/// `qmpsim serve FILE --listen ADDR [OPTIONS]`.
#[derive(Debug, Args)]
#[command(after_help = "\
ADDR is unix:PATH or tcp:HOST:PORT. The k-th client to connect plays the k-th \
session of the trace. Any trace works: recorded by qmpsim proxy or -record, or \
made by qmpsim trace import (from a transcript or a libvirt .replies file).

Exit status: 0 when every request matched and every session was played to its \
end; 1 when a request did not match (a divergence report is on stderr) or serve \
could not start; 3 when every request matched but a session ended early or \
never ran (the unused requests are listed); 2 for a usage error.")]
pub struct ServeArgs {
    /// The trace to play.
    #[arg(value_name = "FILE.qmptrace")]
    pub trace: PathBuf,
    /// Where clients connect: unix:PATH or tcp:HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub listen: crate::proxy::Address,
    /// What must equal the recorded request: its bytes, its JSON value (key
    /// order and whitespace aside), or its command name.
    #[arg(long = "match", value_enum, default_value_t = crate::proxy::matching::MatchOn::Value)]
    pub match_on: crate::proxy::matching::MatchOn,
    /// Leave ids out of the comparison, and put the client's id in the replies.
    #[arg(long)]
    pub ignore_id: bool,
    /// Keep the recorded delays of replies and events, or send them at once.
    #[arg(long, value_enum, default_value_t = crate::proxy::serve::Pace::Recorded)]
    pub pace: crate::proxy::serve::Pace,
    /// Close the connection at the first request that does not match.
    #[arg(long)]
    pub strict: bool,
    /// What to do with requests the trace does not hold: once (record the trace
    /// through --upstream when the file does not exist), new-episodes (ask
    /// --upstream and add them to the trace), none (never record).
    #[arg(long, value_enum, default_value_t = crate::proxy::serve::RecordMode::Once)]
    pub record_mode: crate::proxy::serve::RecordMode,
    /// A real QMP server for --record-mode new-episodes and once.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Option<crate::proxy::Address>,
}

/// `qmpsim fleet --count N --dir DIR [VM OPTIONS]`.
#[derive(Debug, Args)]
#[command(after_help = "\
VM k (from 1) is the VM of `qmpsim run VM-OPTIONS -name vm-0000k -uuid UUID -qmp \
unix:DIR/vm-0000k.sock,server,nowait`, with a uuid derived from -x-seed and k; a \
session against it gives the same bytes as against that single run. One line on \
stdout says when every socket listens. SIGTERM or SIGINT stops every VM. Exit \
status: the first non-zero status of a VM, else 0.")]
pub struct FleetArgs {
    /// How many VMs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(super::fleet::FLEET_VMS_MAX)))]
    pub count: u32,
    /// The folder for the VMs' QMP sockets (vm-00001.sock, ...); made if missing.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Record each VM's session to RDIR/vm-NNNNN.qmptrace.
    #[arg(long, value_name = "RDIR")]
    pub record: Option<PathBuf>,
    /// Write the list of VMs (index, name, uuid, socket, run options) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// QEMU-style options given to every VM, as for `qmpsim run` (for example -S -m 512).
    #[arg(
        value_name = "VM OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub vm_options: Vec<OsString>,
}

/// Seconds a client may run in `explore` (and `conformance`) by default.
pub const EXPLORE_TIMEOUT_S_DEFAULT: f64 = 10.0;

/// What `explore` and `conformance` both take: where their files go and the
/// client they run against VMs.
#[derive(Debug, Args)]
pub struct ClientRuns {
    /// Folder for the sockets, traces and client logs [default: a new one in
    /// the temporary folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// `[VM OPTIONS --] CLIENT COMMAND...`
    #[arg(
        last = true,
        required = true,
        value_name = "CLIENT",
        allow_hyphen_values = true
    )]
    pub rest: Vec<OsString>,
}

/// `qmpsim explore [OPTIONS] -- [VM OPTIONS --] CLIENT...`.
#[derive(Debug, Args)]
#[command(after_help = "\
The client finds the VM's monitor socket in the environment variable QMP_SOCKET, \
and {sock} in its arguments is replaced by the same path. A clean run counts the \
gaps of the session: before and right after each greeting, and between every \
message and its reply. Then each placement (one event at one gap) runs against a \
fresh VM started with -x-explore-gap GAP,event=EVENT and recorded with -record. \
VM options go between the first and a second --, before the client: \
`qmpsim explore -- -S -vnc :1 -- python3 client.py`.

Events: STOP, RESUME (a paused VM), RESET, SHUTDOWN, POWERDOWN, BLOCK_IO_ERROR \
(a drive with a medium), VNC_CONNECTED (-vnc), RTC_CHANGE, WATCHDOG (-watchdog).

Exit status: 0 when no placement made the client fail; 1 when one did, when the \
clean run failed, or when a VM could not start; 2 for a usage error.")]
pub struct ExploreArgs {
    /// The events to place, comma-separated [default: STOP,RESET,POWERDOWN,RTC_CHANGE].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub events: Vec<String>,
    /// Most placements to run; past it they are sampled with --seed.
    #[arg(long, value_name = "N", default_value_t = crate::explore::BUDGET_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub budget: u32,
    /// Seconds each client run may take before it is killed and counted as failed.
    #[arg(long, value_name = "SECS", default_value_t = EXPLORE_TIMEOUT_S_DEFAULT,
          value_parser = parse_timeout)]
    pub timeout: f64,
    /// Seed of the sample taken past --budget.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Place events at gap GAP only (as the reproduce lines do).
    #[arg(long, value_name = "GAP")]
    pub gap: Option<u64>,
    /// The output folder, the VM options and the client.
    #[command(flatten)]
    pub runs: ClientRuns,
}

/// `qmpsim conformance [OPTIONS] -- [VM OPTIONS --] CLIENT...`.
#[derive(Debug, Args)]
#[command(after_help = "\
The client is run once per behaviour, against a fresh VM recorded with -record, \
through a relay that changes the stream as the behaviour says. It finds the \
monitor socket in QMP_SOCKET, and {sock} in its arguments is replaced by the same \
path, as for qmpsim explore. The behaviours: baseline, event-before-every-reply, \
event-after-every-reply, ids-echoed, other-key-order, error-without-id, \
large-replies, split-replies, greeting-extra-capabilities, guest-stopped.

Exit status: 0 when the client survived every behaviour; 1 when one broke it or a \
VM could not start; 2 for a usage error.")]
pub struct ConformanceArgs {
    /// Run only these behaviours, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Also write the table as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the table as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Seconds each client run may take before it is killed and counted as failed.
    #[arg(long, value_name = "SECS", default_value_t = EXPLORE_TIMEOUT_S_DEFAULT,
          value_parser = parse_timeout)]
    pub timeout: f64,
    /// The output folder, the VM options and the client.
    #[command(flatten)]
    pub runs: ClientRuns,
}

/// Longest `--timeout`: one day.
pub const EXPLORE_TIMEOUT_S_MAX: f64 = 86_400.0;

/// A timeout in seconds: more than 0, at most [`EXPLORE_TIMEOUT_S_MAX`].
fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= EXPLORE_TIMEOUT_S_MAX => Ok(s),
        _ => Err(format!(
            "a number of seconds above 0 and at most {EXPLORE_TIMEOUT_S_MAX}"
        )),
    }
}

/// `qmpsim trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Print a trace as a QMP session, one line per message, in the `->`/`<-`
    /// notation of the QMP docs, each line led by its virtual time.
    Dump(DumpArgs),
    /// Print the header and counts of a trace: steps, messages per client,
    /// commands, errors by class, events by name, virtual duration, final digest.
    Info {
        /// The trace file.
        file: PathBuf,
    },
    /// Print a trace as JSON Lines (one object per frame) or as a libvirt
    /// `.replies` file.
    Export(ExportArgs),
    /// Turn a `->`/`<-` transcript (or a libvirt `.replies` file) into a trace
    /// whose `<-` lines are the expected outputs; `qmpsim replay` then checks
    /// qmpsim against it.
    Import(ImportArgs),
    /// Report which of the 46 commands, the error classes and the 14 events a
    /// corpus of traces exercised, and which it never did.
    Coverage {
        /// Trace files, or folders searched for `*.qmptrace`.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print a trace as JSON Lines (the same as `trace export --jsonl`).
    #[command(hide = true)]
    Json {
        /// The trace file.
        file: PathBuf,
    },
    /// Delta-debug a trace down to the fewest messages and clients that still
    /// meet a condition; print the result as a `->`/`<-` transcript.
    Minimize(MinimizeArgs),
}

/// `qmpsim trace minimize TRACE --until CONDITION -o OUT`.
#[derive(Debug, Args)]
pub struct MinimizeArgs {
    /// The trace to minimize.
    pub trace: PathBuf,
    /// What the result must still do: `replay-diverges`, `output-contains TEXT`,
    /// or `exec CMD` (a shell command run with the candidate trace's path as its
    /// last argument; exit status 0 means the candidate still meets it).
    #[arg(long, required = true, num_args = 1..=2, value_names = ["CONDITION", "ARG"])]
    pub until: Vec<String>,
    /// Where to write the minimized trace.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// `qmpsim trace dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The trace file.
    pub file: PathBuf,
    /// One `->` line per read, as the bytes arrived, instead of one per message.
    #[arg(long)]
    pub raw: bool,
    /// Show passwords (`set_password`, `block_passwd`, `change vnc password`)
    /// instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// What `trace export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line: the header, then one per frame.
    Jsonl,
    /// libvirt's `tests/qemucapabilitiesdata/*.replies` format.
    Replies,
}

/// `qmpsim trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace file.
    pub file: PathBuf,
    /// The same as `--format jsonl`.
    #[arg(long, conflicts_with = "format")]
    pub jsonl: bool,
    /// What to write.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// For `--format replies`: the client whose exchanges are written (default:
    /// the first that sends a request).
    #[arg(long, value_name = "ID")]
    pub client: Option<u32>,
    /// Show passwords (`set_password`, `block_passwd`, `change vnc password`)
    /// instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// What `trace import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// `->`/`<-` lines, as in the QMP docs and `qmpsim trace dump`.
    Transcript,
    /// libvirt's `tests/qemucapabilitiesdata/*.replies` format.
    Replies,
}

/// Where `trace import` takes expected outputs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpectSource {
    /// The transcript's `<-` lines.
    Transcript,
    /// What qmpsim sends (the import records qmpsim on the transcript's inputs).
    Qmpsim,
}

/// Where `trace import` takes expected events from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsSource {
    /// The transcript's event lines.
    Transcript,
    /// qmpsim's events; the transcript's are dropped.
    Qmpsim,
}

/// `qmpsim trace import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The transcript file.
    pub transcript: PathBuf,
    /// The trace to write.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE.qmptrace",
        required = true
    )]
    pub output: PathBuf,
    /// What the input file is.
    #[arg(long, value_enum, default_value_t = ImportFormat::Transcript)]
    pub format: ImportFormat,
    /// Where expected outputs come from.
    #[arg(long, value_enum, default_value_t = ExpectSource::Transcript)]
    pub expect: ExpectSource,
    /// Where expected events come from: `qmpsim` drops the transcript's events
    /// and expects qmpsim's (the QMP docs leave events out of examples).
    #[arg(long, value_enum, default_value_t = EventsSource::Transcript)]
    pub events: EventsSource,
    /// Keep `<-` text as written instead of re-spacing it to 0.14's one-line form.
    #[arg(long)]
    pub verbatim: bool,
    /// Send `qmp_capabilities` after the connect the import adds.
    #[arg(long)]
    pub negotiate: bool,
    /// Header notes (default: the transcript's `# notes:` lines).
    #[arg(long)]
    pub notes: Option<String>,
    /// Fail (exit status 1) when a `<-` line differs from what qmpsim sends.
    #[arg(long)]
    pub strict: bool,
    /// The machine, as QEMU options after `--` (as for `qmpsim run`).
    #[arg(last = true, value_name = "QEMU OPTIONS", allow_hyphen_values = true)]
    pub machine: Vec<OsString>,
}

/// The clap command tree, for `--help`, the man page and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Whether `name` is a subcommand declared here.
pub fn is_subcommand(name: &str) -> bool {
    command().find_subcommand(name).is_some()
}

/// Parses `qmpsim SUBCOMMAND ...` (`args` without the program name). On a usage
/// error or `--help`, returns the exit status after clap has printed its text.
pub fn parse(args: Vec<OsString>) -> Result<Command, u8> {
    let argv = std::iter::once(OsString::from("qmpsim")).chain(args);
    match Cli::try_parse_from(argv) {
        Ok(cli) => Ok(cli.command),
        Err(e) => {
            // Printing to a closed stdout or stderr is not worth a second error.
            let _ = e.print();
            Err(u8::try_from(e.exit_code() & 0xff).expect("masked to a byte"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::os;

    /// `fleet --count N --dir d -S` parsed.
    fn fleet_count(n: u32) -> Result<Command, u8> {
        parse(os(&[
            "fleet",
            "--count",
            &n.to_string(),
            "--dir",
            "d",
            "-S",
        ]))
    }

    #[test]
    fn fleet_count_at_max_parses_with_its_vm_options() {
        let Ok(Command::Fleet(a)) = fleet_count(super::super::fleet::FLEET_VMS_MAX) else {
            panic!("a fleet command");
        };
        assert_eq!((a.count, a.vm_options), (100_000, os(&["-S"])));
    }

    #[test]
    fn fleet_count_past_max_is_a_usage_error() {
        assert_eq!(
            fleet_count(super::super::fleet::FLEET_VMS_MAX + 1).unwrap_err(),
            2
        );
    }

    #[test]
    fn command_tree_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn replay_without_paths_is_a_usage_error() {
        assert_eq!(parse(os(&["replay"])).unwrap_err(), 2);
    }

    #[test]
    fn replay_help_exits_zero() {
        assert_eq!(parse(os(&["replay", "--help"])).unwrap_err(), 0);
    }

    #[test]
    fn replay_takes_every_runner_option() {
        let parsed = parse(os(&[
            "replay",
            "-j",
            "3",
            "--shard",
            "2/4",
            "--junit",
            "r.xml",
            "--fail-fast",
            "--check-determinism",
            "--allow-truncated",
            "t",
        ]))
        .unwrap();
        let Command::Replay(a) = parsed else {
            panic!("replay parses as replay")
        };
        assert_eq!(
            (
                a.jobs,
                a.shard,
                a.junit,
                a.fail_fast,
                a.check_determinism,
                a.allow_truncated
            ),
            (
                Some(3),
                Some(crate::replay::corpus::Shard { index: 2, count: 4 }),
                Some(PathBuf::from("r.xml")),
                true,
                true,
                true
            )
        );
    }

    #[test]
    fn replay_with_zero_jobs_is_a_usage_error() {
        assert_eq!(parse(os(&["replay", "-j", "0", "t"])).unwrap_err(), 2);
    }

    #[test]
    fn replay_with_shard_past_count_is_a_usage_error() {
        assert_eq!(
            parse(os(&["replay", "--shard", "5/4", "t"])).unwrap_err(),
            2
        );
    }

    #[test]
    fn replay_with_shard_zero_is_a_usage_error() {
        assert_eq!(
            parse(os(&["replay", "--shard", "0/4", "t"])).unwrap_err(),
            2
        );
    }

    #[test]
    fn replay_last_of_keep_going_and_fail_fast_wins() {
        let Command::Replay(a) =
            parse(os(&["replay", "--fail-fast", "--keep-going", "t"])).unwrap()
        else {
            panic!("replay parses as replay")
        };
        assert!(!a.fail_fast);
    }

    #[test]
    fn trace_dump_takes_one_file() {
        let parsed = parse(os(&["trace", "dump", "a.qmptrace"])).unwrap();
        assert!(
            matches!(parsed, Command::Trace(TraceCommand::Dump(DumpArgs { file, raw: false, .. })) if file == std::path::Path::new("a.qmptrace"))
        );
    }

    #[test]
    fn trace_import_takes_machine_options_after_dashes() {
        let parsed = parse(os(&[
            "trace",
            "import",
            "t.txt",
            "-o",
            "t.qmptrace",
            "--",
            "-name",
            "x",
        ]))
        .unwrap();
        assert!(
            matches!(parsed, Command::Trace(TraceCommand::Import(ImportArgs { machine, .. })) if machine == os(&["-name", "x"]))
        );
    }

    #[test]
    fn trace_import_without_output_is_a_usage_error() {
        assert_eq!(parse(os(&["trace", "import", "t.txt"])).unwrap_err(), 2);
    }

    #[test]
    fn trace_export_jsonl_and_format_conflict() {
        assert_eq!(
            parse(os(&[
                "trace", "export", "--jsonl", "--format", "replies", "a"
            ]))
            .unwrap_err(),
            2
        );
    }

    #[test]
    fn completions_takes_bash_zsh_or_fish() {
        let parsed = parse(os(&["completions", "zsh"])).unwrap();
        assert!(matches!(
            parsed,
            Command::Completions {
                shell: super::super::manual::CompletionShell::Zsh
            }
        ));
    }

    #[test]
    fn completions_for_an_unknown_shell_is_a_usage_error() {
        assert_eq!(parse(os(&["completions", "tcsh"])).unwrap_err(), 2);
    }

    #[test]
    fn is_subcommand_knows_the_declared_names() {
        assert!(is_subcommand("man"));
        assert!(!is_subcommand("run"));
    }

    #[test]
    fn explore_timeout_at_limit_is_accepted() {
        let Command::Explore(a) = parse(os(&[
            "explore",
            "--timeout",
            &EXPLORE_TIMEOUT_S_MAX.to_string(),
            "--",
            "c",
        ]))
        .unwrap() else {
            panic!("explore parses as explore")
        };
        assert_eq!(a.timeout, EXPLORE_TIMEOUT_S_MAX);
    }

    #[test]
    fn explore_timeout_past_limit_is_a_usage_error() {
        let past = (EXPLORE_TIMEOUT_S_MAX + 1.0).to_string();
        assert_eq!(
            parse(os(&["explore", "--timeout", &past, "--", "c"])).unwrap_err(),
            2
        );
    }

    #[test]
    fn explore_budget_zero_is_a_usage_error() {
        assert_eq!(
            parse(os(&["explore", "--budget", "0", "--", "c"])).unwrap_err(),
            2
        );
    }

    #[test]
    fn unknown_trace_flag_is_a_usage_error() {
        assert_eq!(
            parse(os(&["trace", "dump", "--bogus", "a"])).unwrap_err(),
            2
        );
    }
}
