//! The edge of `qmpsim trace dump|info|export|import|coverage`: opens files,
//! prints, and maps outcomes to exit statuses. The work is done by the pure
//! functions of [`crate::trace`].
//!
//! Exit status: 0 on success; 1 when a file cannot be read or written, is not a
//! valid trace or transcript, or (`import --strict`) the transcript differs from
//! qmpsim; 2 for a usage error (from clap). Output that was printed before a
//! damaged frame stays printed, and the error says where the damage is.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::qmp::session::ClientId;
use crate::replay::corpus;
use crate::trace::coverage::Coverage;
use crate::trace::dump::{self, DumpOptions};
use crate::trace::export::{self, ExportError, ExportOptions};
use crate::trace::format::count;
use crate::trace::import::{self, EventSource, Expect, ImportOptions, Transcript};
use crate::trace::{info, replies, TraceError};

use super::commands::{
    DumpArgs, EventsSource, ExpectSource, ExportArgs, ExportFormat, ImportArgs, ImportFormat,
    TraceCommand,
};

/// Runs one `trace` subcommand; returns the exit status.
pub fn run(command: TraceCommand) -> i32 {
    match command {
        TraceCommand::Dump(args) => dump_cli(&args),
        TraceCommand::Info { file } => info_cli(&file),
        TraceCommand::Export(args) => export_cli(&args),
        TraceCommand::Import(args) => import_cli(&args),
        TraceCommand::Coverage { paths } => coverage_cli(&paths),
        TraceCommand::Json { file } => json_cli(&file),
        TraceCommand::Minimize(a) => super::minimize::minimize_cli(&a.trace, &a.until, &a.output),
    }
}

fn dump_cli(args: &DumpArgs) -> i32 {
    // First pass: which clients appear (lines name the client when several
    // do). A damaged trace is reported by the second pass, after everything
    // before the damage has been printed.
    let Some(first) = open(&args.file) else {
        return 1;
    };
    let client_prefix = export::clients(first).is_ok_and(|c| c.len() > 1);
    let Some(file) = open(&args.file) else {
        return 1;
    };
    let options = DumpOptions {
        client_prefix,
        raw: args.raw,
        show_secrets: args.show_secrets,
    };
    to_stdout(&args.file, |out| dump::dump(file, options, out))
}

/// `trace json FILE`: the trace as JSON Lines (a header object, then one
/// object per frame).
fn json_cli(path: &Path) -> i32 {
    let Some(file) = open(path) else {
        return 1;
    };
    to_stdout(path, |out| export::export_json(file, out))
}

fn info_cli(path: &Path) -> i32 {
    let Some(file) = open(path) else {
        return 1;
    };
    match info::info(file) {
        Ok(info) => to_stdout(path, |out| {
            out.write_all(format!("file:        {}\n", path.display()).as_bytes())
                .and_then(|()| out.write_all(info.render().as_bytes()))
                .map_err(ExportError::Write)
        }),
        Err(e) => report(path, &ExportError::Trace(e)),
    }
}

fn export_cli(args: &ExportArgs) -> i32 {
    let Some(file) = open(&args.file) else {
        return 1;
    };
    let format = if args.jsonl {
        ExportFormat::Jsonl
    } else {
        args.format
    };
    let show_secrets = args.show_secrets;
    match format {
        ExportFormat::Jsonl => to_stdout(&args.file, |out| {
            export::export_json_with(file, ExportOptions { show_secrets }, out)
        }),
        ExportFormat::Replies => match replies::exchanges(file, args.client.map(ClientId)) {
            Ok(exchanges) => to_stdout(&args.file, |out| {
                let exchanges: Vec<_> = exchanges
                    .into_iter()
                    .map(|e| e.masked_unless(show_secrets))
                    .collect();
                out.write_all(replies::write_replies(&exchanges).as_bytes())
                    .map_err(ExportError::Write)
            }),
            Err(e) => report(&args.file, &ExportError::Trace(e)),
        },
    }
}

fn import_cli(args: &ImportArgs) -> i32 {
    let source = &args.transcript;
    let text = match std::fs::read(source) {
        Ok(bytes) if bytes.len() > import::TRANSCRIPT_BYTES_MAX => {
            eprintln!(
                "qmpsim trace import: {}: {} bytes exceeds the limit of {} bytes",
                source.display(),
                bytes.len(),
                import::TRANSCRIPT_BYTES_MAX
            );
            return 1;
        }
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("qmpsim trace import: cannot read {}: {e}", source.display());
            return 1;
        }
    };
    let parsed = match args.format {
        ImportFormat::Transcript => import::parse_transcript(&text),
        ImportFormat::Replies => replies::parse_replies(&text),
    };
    let transcript: Transcript = match parsed {
        Ok(t) => t,
        Err(e) => {
            eprintln!("qmpsim trace import: {}: {e}", source.display());
            return 1;
        }
    };
    let Some(config) = machine_config(&args.machine) else {
        return 1;
    };
    let options = ImportOptions {
        expect: match args.expect {
            ExpectSource::Transcript => Expect::Transcript,
            ExpectSource::Qmpsim => Expect::Qmpsim,
        },
        events: match args.events {
            EventsSource::Transcript => EventSource::Transcript,
            EventsSource::Qmpsim => EventSource::Qmpsim,
        },
        verbatim: args.verbatim,
        negotiate: args.negotiate,
        notes: args.notes.clone(),
    };
    let (trace, report) = match import::import(config, &transcript, &options) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("qmpsim trace import: {}: {e}", source.display());
            return 1;
        }
    };
    if let Err(e) = std::fs::write(&args.output, &trace) {
        eprintln!(
            "qmpsim trace import: cannot write {}: {e}",
            args.output.display()
        );
        return 1;
    }
    println!("{}", import_summary(&args.output, &report));
    if args.strict && report.differing > 0 {
        1
    } else {
        0
    }
}

/// One line on what an import did.
fn import_summary(output: &Path, report: &import::ImportReport) -> String {
    let mut text = format!(
        "qmpsim trace import: wrote {} ({})",
        output.display(),
        count(report.steps, "step", "steps")
    );
    match report.first_difference {
        None if report.compared == 0 => text.push_str("; no <- lines to compare"),
        None => text.push_str(&format!(
            "; {} matched what qmpsim sends",
            count(report.compared, "expected message", "expected messages")
        )),
        Some(line) => text.push_str(&format!(
            "; {} of {} differ from what qmpsim sends (first at line {line})",
            report.differing,
            count(report.compared, "expected message", "expected messages")
        )),
    }
    if report.events_dropped > 0 {
        text.push_str(&format!(
            "; {} dropped",
            count(report.events_dropped, "event", "events")
        ));
    }
    text
}

/// The machine of `trace import`, from QEMU options as `qmpsim run` reads them.
fn machine_config(options: &[OsString]) -> Option<crate::machine::config::MachineConfig> {
    let low = match super::raw::parse(options.iter().cloned()) {
        Ok(low) => low,
        Err(e) => {
            eprintln!("{e}");
            return None;
        }
    };
    match super::config::build(&low) {
        Ok(plan) => Some(plan.config),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn coverage_cli(paths: &[PathBuf]) -> i32 {
    let files = match corpus::collect(paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("qmpsim trace coverage: {}", corpus::error_chain(&e));
            return 1;
        }
    };
    let mut coverage = Coverage::new();
    for path in &files {
        let Some(file) = open(path) else {
            return 1;
        };
        if let Err(e) = coverage.add(file) {
            return report(path, &ExportError::Trace(e));
        }
    }
    to_stdout(Path::new("coverage"), |out| {
        out.write_all(coverage.render().as_bytes())
            .map_err(ExportError::Write)
    })
}

fn open(path: &Path) -> Option<BufReader<File>> {
    match File::open(path) {
        Ok(f) => Some(BufReader::new(f)),
        Err(e) => {
            eprintln!("qmpsim trace: cannot open {}: {e}", path.display());
            None
        }
    }
}

/// Runs a writer to stdout and maps the outcome to an exit status. A closed
/// pipe (`| head`) is not an error.
fn to_stdout(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::io::StdoutLock<'static>>) -> Result<(), ExportError>,
) -> i32 {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = write(&mut out).and_then(|()| out.flush().map_err(ExportError::Write));
    match result {
        Ok(()) => 0,
        Err(ExportError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => 0,
        Err(e) => {
            // Whatever was rendered before the problem goes out first.
            let _ = out.flush();
            report(path, &e)
        }
    }
}

fn report(path: &Path, e: &ExportError) -> i32 {
    let text = match e {
        ExportError::Trace(TraceError::Io(io)) => io.to_string(),
        other => corpus::error_chain(other),
    };
    eprintln!("qmpsim trace: {}: {text}", path.display());
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_missing_file_returns_one() {
        assert_eq!(json_cli(Path::new("/nonexistent/x.qmptrace")), 1);
    }
}
