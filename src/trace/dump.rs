//! `qmpsim trace dump`: a trace as a QMP session, one line per message, in the
//! `->` / `<-` notation of the QMP docs, each line led by its virtual time.
//!
//! ```text
//! # qmpsim trace, format 12, recorded by qmpsim 0.1.0
//! # seed 0, epoch 1300000000, clock idle (no time jumps)
//! 0.001000 # connect client 1 monitor 0
//! 0.001000 <- {"QMP": {"version": ...}}
//! 0.002000 -> {"execute":"qmp_capabilities"}
//! 0.002000 <- {"return": {}}
//! 0.002000 # end: 2 steps, digest 5f1c...
//! ```
//!
//! Client bytes are reassembled into messages with the wire framer
//! ([`super::walk`]), so a request that arrived in two reads is one line and two
//! requests in one read are two. When more than one client appears, `->` / `<-`
//! lines name the client (`[2] -> ...`). Everything that is not a message is a
//! `#` line: connects, disconnects, passed descriptors, time jumps, signals,
//! faults the edge reported (a broken migration channel, an image probe), the
//! machine's side effects, the exit, checkpoints and the end. [`DumpOptions::raw`]
//! gives one `->` line per read instead (the view of [`super::export::dump`]).
//!
//! Passwords (`set_password`, `block_passwd`, `change vnc password` over QMP or
//! HMP, and a human monitor's echo of them) are shown as `********` unless
//! [`DumpOptions::show_secrets`] is set ([`super::secrets`], which `trace
//! export` shares).
//! Control bytes and invalid UTF-8 are shown as `\xNN`. Pure: writes to any
//! `std::io::Write`.

use std::io::{Read, Write};

use crate::engine::{Input, Output};
use crate::machine::clock::VirtualTime;
use crate::machine::config::ImageProbe;
use crate::machine::Effect;
use crate::qmp::session::ClientId;

use super::export::ExportError;
use super::format::{count, Frame, TraceHeader};
use super::reader::TraceReader;
use super::secrets::{mask_received_unless, mask_sent_unless};
use super::walk::{Item, Leftover, Walker};

pub use super::secrets::{mask_secrets, SECRET_MASK};

/// How to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpOptions {
    /// Name the client on `->` / `<-` lines.
    pub client_prefix: bool,
    /// One `->` line per read, as the bytes arrived.
    pub raw: bool,
    /// Show passwords as sent.
    pub show_secrets: bool,
}

/// Writes the dump of the trace in `input`. What was written before a damaged
/// frame stays written; the error says where the damage is.
pub fn dump<R: Read, W: Write>(
    input: R,
    options: DumpOptions,
    out: &mut W,
) -> Result<(), ExportError> {
    let (mut reader, header) = TraceReader::open(input)?;
    write(out, &header_lines(&header))?;
    let mut walker = Walker::new(&header);
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return Err(ExportError::Trace(e)),
        };
        let mut text = String::new();
        if options.raw {
            raw_frame(&mut walker, &frame, options, &mut text);
        } else {
            walker.frame(&frame, &mut |item| render_item(&item, options, &mut text));
        }
        write(out, &text)?;
    }
}

/// The whole dump of an in-memory trace, clients named when more than one
/// appears, passwords masked.
pub fn dump_to_string(bytes: &[u8]) -> Result<String, ExportError> {
    let options = DumpOptions {
        client_prefix: super::export::clients(bytes)?.len() > 1,
        ..DumpOptions::default()
    };
    let mut out = Vec::new();
    dump(bytes, options, &mut out)?;
    Ok(String::from_utf8(out).expect("the dump escapes every non-UTF-8 byte"))
}

/// The `#` lines that open a dump.
pub fn header_lines(header: &TraceHeader) -> String {
    let mut text = format!(
        "# qmpsim trace, format {}, recorded by qmpsim {}\n",
        header.format_version, header.qmpsim_version
    );
    match header.observed_session() {
        None => text.push_str(&format!(
            "# seed {}, epoch {}\n",
            header.config.seed, header.config.epoch_s
        )),
        Some(session) => text.push_str(&observed_lines(session)),
    }
    if let Some(placement) = header.config.placement {
        text.push_str(&format!("# -x-explore-gap {}\n", placement.to_arg()));
    }
    if let Some(chaos) = &header.config.chaos {
        text.push_str(&format!("# -x-chaos {}\n", chaos.to_arg()));
    }
    for line in header.notes.lines() {
        text.push_str("# notes: ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The `#` lines that say an observed trace's upstream, start and greeting.
pub fn observed_lines(session: &crate::trace::format::ObservedSession) -> String {
    format!(
        "# observed by qmpsim proxy: upstream {}, started at {}.{:03} s since the Unix epoch\n# greeting: {}\n",
        session.upstream,
        session.started_unix_ms / 1000,
        session.started_unix_ms % 1000,
        escape(super::walk::trim(&session.greeting))
    )
}

/// One item as dump lines.
fn render_item(item: &Item<'_>, options: DumpOptions, text: &mut String) {
    match item {
        Item::Request {
            at,
            client,
            text: data,
            ..
        } => message_line(text, *at, "->", *client, &mask(data, options), options),
        Item::Leftover {
            at,
            client,
            text: data,
            why,
        } => {
            let why = match why {
                Leftover::Unfinished => "unfinished message",
                Leftover::NoSession => "bytes without a session",
                Leftover::AfterExit => "bytes after the exit, not read",
            };
            let shown = escape(&mask(data, options));
            comment(
                text,
                *at,
                &format!("{why} from client {}: {shown}", client.0),
            );
        }
        Item::Input { at, input } => comment(text, *at, &input_comment(input)),
        Item::Output { at, output } => output_line(text, *at, output, options),
        Item::Checkpoint { steps, digest } => {
            text.push_str(&format!(
                "# checkpoint after {}: {digest}\n",
                count(*steps, "step", "steps")
            ));
        }
        Item::End { steps, digest, at } => comment(
            text,
            *at,
            &format!("end: {}, digest {digest}", count(*steps, "step", "steps")),
        ),
    }
}

/// The raw view of one frame: one `->` line per read.
fn raw_frame(walker: &mut Walker, frame: &Frame, options: DumpOptions, text: &mut String) {
    // The walker keeps virtual time; its message-level items are not shown here.
    walker.frame(frame, &mut |item| match item {
        Item::Request { .. } | Item::Leftover { .. } | Item::Input { .. } | Item::Output { .. } => {
        }
        Item::Checkpoint { steps, digest } => {
            text.push_str(&format!(
                "# checkpoint after {}: {digest}\n",
                count(steps, "step", "steps")
            ));
        }
        Item::End { steps, digest, at } => comment(
            text,
            at,
            &format!("end: {}, digest {digest}", count(steps, "step", "steps")),
        ),
    });
    let Frame::Step { input, outputs } = frame else {
        return;
    };
    let at = walker.now();
    match input {
        Input::Bytes { client, data } => {
            message_line(text, at, "->", *client, &mask(data, options), options);
        }
        other => comment(text, at, &input_comment(other)),
    }
    for output in outputs {
        output_line(text, at, output, options);
    }
}

fn output_line(text: &mut String, at: VirtualTime, output: &Output, options: DumpOptions) {
    match output {
        Output::Send { client, data } => {
            let data = mask_received_unless(data, options.show_secrets);
            message_line(text, at, "<-", *client, &data, options);
        }
        Output::Effect(effect) => comment(text, at, &effect_comment(effect)),
        Output::Exit { code } => comment(text, at, &format!("exit {code}")),
        Output::Close { client } => comment(text, at, &format!("close client {}", client.0)),
    }
}

/// `TIME [CLIENT] ARROW data`, the trailing line break dropped, continuation
/// lines indented under the data.
fn message_line(
    text: &mut String,
    at: VirtualTime,
    arrow: &str,
    client: ClientId,
    data: &[u8],
    options: DumpOptions,
) {
    let data = data
        .strip_suffix(b"\r\n")
        .or_else(|| data.strip_suffix(b"\n"))
        .unwrap_or(data);
    let mut lead = format!("{} ", time_text(at));
    if options.client_prefix {
        lead.push_str(&format!("[{}] ", client.0));
    }
    lead.push_str(arrow);
    lead.push(' ');
    let indent = " ".repeat(lead.len());
    for (index, line) in data.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        text.push_str(if index == 0 { &lead } else { &indent });
        text.push_str(&escape(line));
        text.push('\n');
    }
}

fn comment(text: &mut String, at: VirtualTime, what: &str) {
    text.push_str(&format!("{} # {what}\n", time_text(at)));
}

/// A non-bytes input, as the text after `# `.
pub fn input_comment(input: &Input) -> String {
    match input {
        Input::Bytes { client, data } => {
            format!(
                "{} from client {}",
                count(data.len() as u64, "byte", "bytes"),
                client.0
            )
        }
        Input::Connect { client, monitor } => {
            format!("connect client {} monitor {monitor}", client.0)
        }
        Input::Disconnect { client } => format!("disconnect client {}", client.0),
        Input::Fd { client, fd } => format!("fd {} from client {}", fd.0, client.0),
        Input::AdvanceTo { at } => format!("advance to {}", time_text(*at)),
        Input::Signal { signal } => format!("signal {}", signal.name()),
        Input::MigrationFailed { id } => format!("fault: migration {id} channel broke"),
        Input::MigrationStalled { id, stalled: true } => {
            format!("fault: migration {id} destination stalled")
        }
        Input::MigrationStalled { id, stalled: false } => {
            format!("migration {id} destination caught up")
        }
        Input::ImageProbed { path, probe } => format!("probed {path}: {}", probe_text(probe)),
        Input::IncomingPreamble { preamble } => format!(
            "incoming migration: {} of RAM, {} block {}, {} device {}",
            count(preamble.ram_bytes, "byte", "bytes"),
            preamble.blocks.len(),
            if preamble.blocks.len() == 1 {
                "device"
            } else {
                "devices"
            },
            preamble.sections.len(),
            if preamble.sections.len() == 1 {
                "section"
            } else {
                "sections"
            },
        ),
        Input::IncomingState { snapshot } => {
            format!(
                "incoming migration state: {}",
                count(snapshot.len() as u64, "byte", "bytes")
            )
        }
        Input::IncomingFailed { reason } => format!("fault: incoming migration failed: {reason}"),
        Input::SnapshotTableOpened {
            drive,
            sidecar,
            entries,
        } => format!(
            "snapshot table of {drive} from {sidecar}: {} {}",
            entries.len(),
            if entries.len() == 1 {
                "snapshot"
            } else {
                "snapshots"
            }
        ),
        Input::LoadVm { name } => format!("-loadvm {name}"),
    }
}

/// An effect, as the text after `# `.
pub fn effect_comment(effect: &Effect) -> String {
    match effect {
        Effect::CloseFd { fd } => format!("close fd {fd}"),
        Effect::WriteFile { path, bytes } => format!(
            "write {} to {path} (sha256 {})",
            count(bytes.0.len() as u64, "byte", "bytes"),
            bytes.sha256_hex()
        ),
        Effect::MigrationStart {
            id,
            uri,
            fd,
            total_bytes,
        } => {
            let fd = fd.map(|fd| format!(" on fd {fd}")).unwrap_or_default();
            format!(
                "migration {id} starts to {uri}{fd} ({} to send)",
                count(*total_bytes, "byte", "bytes")
            )
        }
        Effect::MigrationData { id, bytes } => {
            format!("migration {id} sends {}", count(*bytes, "byte", "bytes"))
        }
        Effect::MigrationFinish { id } => format!("migration {id} finishes"),
        Effect::MigrationCancel { id } => format!("migration {id} cancelled"),
        Effect::Stderr { text } => format!("stderr: {}", escape(text.trim_end().as_bytes())),
    }
}

fn probe_text(probe: &ImageProbe) -> String {
    match probe {
        ImageProbe::Missing => "cannot be opened".to_owned(),
        ImageProbe::Found(info) => {
            let mut text = format!("{}, {} bytes", info.format, info.size_bytes);
            if let Some(backing) = &info.backing_file {
                text.push_str(&format!(", backing file {backing}"));
            }
            if info.encrypted {
                text.push_str(", encrypted");
            }
            text
        }
    }
}

/// Virtual time as seconds with microseconds (nanoseconds when needed).
pub fn time_text(at: VirtualTime) -> String {
    let secs = at.0 / VirtualTime::NS_PER_S;
    let ns = at.0 % VirtualTime::NS_PER_S;
    if ns % 1000 == 0 {
        format!("{secs}.{:06}", ns / 1000)
    } else {
        format!("{secs}.{ns:09}")
    }
}

/// Bytes as text: valid UTF-8 as is except control characters other than tab;
/// those, invalid bytes, and a backslash that would read as an escape, as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\t' => text.push(c),
                '\\' if chars.peek() == Some(&'x') => text.push_str("\\x5c"),
                c if c.is_ascii_control() => text.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if c.is_control() => text.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
                c => text.push(c),
            }
        }
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02x}"));
        }
    }
    text
}

/// What a client sent, passwords masked unless `options.show_secrets`.
fn mask(data: &[u8], options: DumpOptions) -> std::borrow::Cow<'_, [u8]> {
    mask_sent_unless(data, options.show_secrets)
}

fn write<W: Write>(out: &mut W, text: &str) -> Result<(), ExportError> {
    out.write_all(text.as_bytes()).map_err(ExportError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Signal;
    use crate::machine::config::MachineConfig;
    use crate::trace::record_inputs;

    const ONE: ClientId = ClientId(1);
    const TWO: ClientId = ClientId(2);

    fn dumped(inputs: &[Input], options: DumpOptions) -> String {
        let config = MachineConfig {
            vnc: Some(":0".to_owned()),
            ..MachineConfig::default()
        };
        let trace = record_inputs(&TraceHeader::new(config), inputs).unwrap();
        let mut out = Vec::new();
        dump(&trace[..], options, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn negotiated(more: &[Input]) -> Vec<Input> {
        let mut inputs = vec![
            Input::connect(ONE),
            Input::bytes(ONE, "{\"execute\":\"qmp_capabilities\"}\n"),
        ];
        inputs.extend_from_slice(more);
        inputs
    }

    #[test]
    fn dump_joins_a_request_split_over_reads_unless_raw() {
        let split = negotiated(&[
            Input::bytes(ONE, "{\"execute\":\"query-"),
            Input::bytes(ONE, "kvm\"}\n"),
        ]);
        for (raw, want) in [
            (
                false,
                "\n0.003000 -> {\"execute\":\"query-kvm\"}\n0.003000 <- {\"return\"",
            ),
            (
                true,
                "\n0.002000 -> {\"execute\":\"query-\n0.003000 -> kvm\"}\n",
            ),
        ] {
            let options = DumpOptions {
                raw,
                ..DumpOptions::default()
            };
            let text = dumped(&split, options);
            assert!(text.contains(want), "raw {raw}: {text}");
        }
    }

    #[test]
    fn dump_names_clients_when_asked() {
        let options = DumpOptions {
            client_prefix: true,
            ..DumpOptions::default()
        };
        let text = dumped(&[Input::connect(ONE), Input::connect(TWO)], options);
        assert!(text.contains("\n0.002000 # connect client 2 monitor 0\n0.002000 [2] <- {\"QMP\""));
    }

    #[test]
    fn dump_shows_connect_fd_advance_signal_as_comments() {
        let text = dumped(
            &[
                Input::connect(ONE),
                Input::Fd {
                    client: ONE,
                    fd: crate::qmp::session::FdHandle(5),
                },
                Input::AdvanceTo {
                    at: VirtualTime(2 * VirtualTime::NS_PER_S),
                },
                Input::Signal {
                    signal: Signal::Terminate,
                },
            ],
            DumpOptions::default(),
        );
        assert!(
            text.contains(
                "0.001000 # fd 5 from client 1\n2.000000 # advance to 2.000000\n2.000000 # signal TERM\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn dump_masks_set_password() {
        let text = dumped(
            &negotiated(&[Input::bytes(
                ONE,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"s3cret"}}"#,
            )]),
            DumpOptions::default(),
        );
        assert!(
            text.contains(r#""password":"********"}}"#) && !text.contains("s3cret"),
            "{text}"
        );
    }

    #[test]
    fn dump_show_secrets_keeps_password() {
        let options = DumpOptions {
            show_secrets: true,
            ..DumpOptions::default()
        };
        let text = dumped(
            &negotiated(&[Input::bytes(
                ONE,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"s3cret"}}"#,
            )]),
            options,
        );
        assert!(text.contains("s3cret"));
    }

    #[test]
    fn escape_marks_a_backslash_before_x() {
        assert_eq!(escape(b"a\\x41\x01"), "a\\x5cx41\\x01");
    }

    #[test]
    fn effect_comment_names_bytes_without_debug_output() {
        assert_eq!(
            effect_comment(&Effect::MigrationData { id: 1, bytes: 1 }),
            "migration 1 sends 1 byte"
        );
    }

    #[test]
    fn time_text_shows_nanoseconds_only_when_needed() {
        assert_eq!(
            (time_text(VirtualTime(1_000_000)), time_text(VirtualTime(1))),
            ("0.001000".to_owned(), "0.000000001".to_owned())
        );
    }
}
