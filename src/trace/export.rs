//! Human and tool views of a trace: the QMP docs' `->` / `<-` transcript
//! ([`dump`]) and JSON Lines, one object per frame ([`export_json`]).
//!
//! Transcript notation, one line per item:
//!
//! | item | line |
//! |---|---|
//! | `Input::Bytes` | `-> {...}` (the bytes of one read; a trailing newline is dropped) |
//! | `Output::Send` | `<- {...}` (one message; the trailing `\r\n` is dropped) |
//! | `Input::Connect` | `# connect client 1 monitor 0` |
//! | `Input::Disconnect` | `# disconnect client 1` |
//! | `Input::Fd` | `# fd 3 from client 1` |
//! | `Input::AdvanceTo` | `# advance to 12.000000s` |
//! | `Input::Signal` | `# signal TERM` (`INT`, `HUP`) |
//! | `Output::Effect` | `# close fd 3` (as [`super::dump`] writes effects) |
//! | `Output::Exit` | `# exit 0` |
//! | `Frame::Checkpoint` | `# checkpoint after step 64: <digest>` |
//! | `Frame::End` | `# end: 7 steps, digest <digest>` |
//!
//! When more than one client appears in a trace, `->` and `<-` lines carry the
//! client id in front (`[2] <- {...}`). Data that spans lines (several messages in
//! one read, `pretty=on` output) continues on lines indented by three spaces; other
//! control bytes and invalid UTF-8 are shown as `\xNN`. Pure: writes to any
//! `std::io::Write`, reads with [`TraceReader`].

use std::collections::BTreeSet;
use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::engine::{Input, Output};
use crate::qmp::session::ClientId;

use super::dump::time_text;
use super::format::{Frame, TraceError, TraceHeader};
use super::reader::TraceReader;
use super::secrets::{mask_received_unless, mask_sent_unless};

/// Why a trace could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the trace failed.
    #[error("Reading the trace failed")]
    Trace(#[from] TraceError),
    /// Writing the export failed.
    #[error("Writing the export failed")]
    Write(#[source] std::io::Error),
    /// A frame could not be turned into JSON.
    #[error("JSON encoding failed")]
    Json(#[source] serde_json::Error),
}

/// How to render transcript lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notation {
    /// Prefix `->`/`<-` lines with `[client]`.
    pub client_prefix: bool,
}

/// Every client that appears in a trace, in id order (first pass of [`dump`]).
pub fn clients<R: Read>(input: R) -> Result<BTreeSet<ClientId>, TraceError> {
    let (reader, _) = TraceReader::open(input)?;
    let mut seen = BTreeSet::new();
    for frame in reader {
        if let Frame::Step { input, outputs } = frame? {
            seen.extend(input.client());
            seen.extend(outputs.iter().filter_map(output_client));
        }
    }
    Ok(seen)
}

/// Writes the transcript of the trace in `input`. `notation` is usually derived
/// from [`clients`] on a first pass: prefix when more than one client appears.
pub fn dump<R: Read, W: Write>(
    input: R,
    notation: Notation,
    out: &mut W,
) -> Result<(), ExportError> {
    let (reader, header) = TraceReader::open(input)?;
    write_text(out, &render_header(&header))?;
    let mut steps = 0u64;
    for frame in reader {
        let text = match frame? {
            Frame::Step { input, outputs } => {
                steps += 1;
                let mut text = render_input(&input, notation);
                text.push_str(&render_outputs(&outputs, notation));
                text
            }
            Frame::Checkpoint { digest } => {
                format!("# checkpoint after step {steps}: {digest}\n")
            }
            Frame::State { digest, snapshot } => format!(
                "# state after step {steps}: {digest} ({} bytes)\n",
                snapshot.len()
            ),
            Frame::End { steps, digest } => format!("# end: {steps} steps, digest {digest}\n"),
        };
        write_text(out, &text)?;
    }
    Ok(())
}

/// The whole transcript of an in-memory trace, clients prefixed when more than one
/// appears.
pub fn dump_to_string(bytes: &[u8]) -> Result<String, ExportError> {
    let notation = Notation {
        client_prefix: clients(bytes)?.len() > 1,
    };
    let mut out = Vec::new();
    dump(bytes, notation, &mut out)?;
    Ok(String::from_utf8(out).expect("the transcript escapes every non-UTF-8 byte"))
}

/// How to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportOptions {
    /// Keep passwords as sent instead of masking them ([`super::secrets`]).
    pub show_secrets: bool,
}

/// [`export_json_with`] with the default options: passwords masked.
pub fn export_json<R: Read, W: Write>(input: R, out: &mut W) -> Result<(), ExportError> {
    export_json_with(input, ExportOptions::default(), out)
}

/// Writes the trace as JSON Lines: first `{"header": ...}`, then one object per
/// frame, `{"frame": N, "step"|"checkpoint"|"end": ...}`. Byte data is a string
/// when it is UTF-8 and `{"hex": "..."}` otherwise. Passwords in the bytes are
/// masked as `trace dump` masks them, unless `options.show_secrets`.
pub fn export_json_with<R: Read, W: Write>(
    input: R,
    options: ExportOptions,
    out: &mut W,
) -> Result<(), ExportError> {
    let (reader, header) = TraceReader::open(input)?;
    let header = serde_json::to_value(&header).map_err(ExportError::Json)?;
    write_json(out, &json!({ "header": header }))?;
    for (index, frame) in reader.enumerate() {
        let value = frame_json(index as u64, &frame?, options)?;
        write_json(out, &value)?;
    }
    Ok(())
}

/// The `# ...` lines that open a dump.
fn render_header(header: &TraceHeader) -> String {
    let mut text = match header.observed_session() {
        None => format!(
            "# qmpsim trace, format {}, recorded by qmpsim {}, seed {}\n",
            header.format_version, header.qmpsim_version, header.config.seed
        ),
        Some(session) => format!(
            "# qmpsim trace, format {}, recorded by qmpsim {}\n{}",
            header.format_version,
            header.qmpsim_version,
            super::dump::observed_lines(session)
        ),
    };
    for line in header.notes.lines() {
        text.push_str("# notes: ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// One input in transcript notation.
pub fn render_input(input: &Input, notation: Notation) -> String {
    match input {
        Input::Bytes { client, data } => render_data("->", *client, data, notation),
        Input::Connect { client, monitor } => {
            format!("# connect client {} monitor {monitor}\n", client.0)
        }
        Input::Disconnect { client } => format!("# disconnect client {}\n", client.0),
        Input::Fd { client, fd } => format!("# fd {} from client {}\n", fd.0, client.0),
        Input::AdvanceTo { at } => format!("# advance to {}s\n", time_text(*at)),
        Input::Signal { signal } => format!("# signal {}\n", signal.name()),
        Input::MigrationFailed { id } => format!("# migration {id} failed\n"),
        Input::MigrationStalled { id, stalled } => {
            format!(
                "# migration {id} {}\n",
                if *stalled { "stalled" } else { "caught up" }
            )
        }
        Input::ImageProbed { .. } => format!("# {}\n", super::dump::input_comment(input)),
        Input::IncomingPreamble { preamble } => format!(
            "# incoming migration: {} bytes of RAM, {} block {}, {} device {}\n",
            preamble.ram_bytes,
            preamble.blocks.len(),
            plural(preamble.blocks.len(), "device", "devices"),
            preamble.sections.len(),
            plural(preamble.sections.len(), "section", "sections"),
        ),
        Input::IncomingState { snapshot } => {
            format!("# incoming migration state: {} bytes\n", snapshot.len())
        }
        Input::IncomingFailed { reason } => format!("# incoming migration failed: {reason}\n"),
        Input::SnapshotTableOpened {
            drive,
            sidecar,
            entries,
        } => format!(
            "# snapshot table of {drive} from {sidecar}: {} {}\n",
            entries.len(),
            plural(entries.len(), "snapshot", "snapshots")
        ),
        Input::LoadVm { name } => format!("# -loadvm {name}\n"),
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Outputs in transcript notation, one line (or block) each.
pub fn render_outputs(outputs: &[Output], notation: Notation) -> String {
    let mut text = String::new();
    for output in outputs {
        match output {
            Output::Send { client, data } => {
                text.push_str(&render_data("<-", *client, data, notation));
            }
            Output::Effect(effect) => {
                text.push_str(&format!("# {}\n", super::dump::effect_comment(effect)));
            }
            Output::Exit { code } => text.push_str(&format!("# exit {code}\n")),
            Output::Close { client } => text.push_str(&format!("# close client {}\n", client.0)),
        }
    }
    text
}

/// `-> data` / `<- data`, with the trailing newline dropped, continuation lines
/// indented and control bytes escaped.
fn render_data(arrow: &str, client: ClientId, data: &[u8], notation: Notation) -> String {
    let data = data
        .strip_suffix(b"\r\n")
        .or_else(|| data.strip_suffix(b"\n"))
        .unwrap_or(data);
    let mut text = String::new();
    if notation.client_prefix {
        text.push_str(&format!("[{}] ", client.0));
    }
    text.push_str(arrow);
    text.push(' ');
    let mut lines = data.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        escape_into(&mut text, line);
        text.push('\n');
        if lines.peek().is_some() {
            text.push_str("   ");
        }
    }
    text
}

/// Appends `bytes` as text: valid UTF-8 as is, except control characters other
/// than tab (`\xNN`, or `\u{NNNN}` past ASCII); invalid bytes as `\xNN`.
fn escape_into(text: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\t' => text.push(c),
                c if c.is_ascii_control() => text.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if c.is_control() => text.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
                c => text.push(c),
            }
        }
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02x}"));
        }
    }
}

fn output_client(output: &Output) -> Option<ClientId> {
    match output {
        Output::Send { client, .. } | Output::Close { client } => Some(*client),
        Output::Effect(_) | Output::Exit { .. } => None,
    }
}

fn frame_json(index: u64, frame: &Frame, options: ExportOptions) -> Result<Value, ExportError> {
    Ok(match frame {
        Frame::Step { input, outputs } => {
            let outputs = outputs
                .iter()
                .map(|o| output_json(o, options))
                .collect::<Result<Vec<_>, _>>()?;
            let input = input_json(input, options)?;
            json!({ "frame": index, "step": { "input": input, "outputs": outputs } })
        }
        Frame::Checkpoint { digest } => {
            json!({ "frame": index, "checkpoint": { "digest": digest } })
        }
        Frame::State { digest, snapshot } => {
            json!({ "frame": index, "state": { "digest": digest, "snapshot_bytes": snapshot.len() } })
        }
        Frame::End { steps, digest } => {
            json!({ "frame": index, "end": { "steps": steps, "digest": digest } })
        }
    })
}

fn input_json(input: &Input, options: ExportOptions) -> Result<Value, ExportError> {
    match input {
        Input::Bytes { client, data } => {
            let data = mask_sent_unless(data, options.show_secrets);
            Ok(client_data_json("Bytes", *client, &data))
        }
        other => serde_json::to_value(other).map_err(ExportError::Json),
    }
}

fn output_json(output: &Output, options: ExportOptions) -> Result<Value, ExportError> {
    match output {
        Output::Send { client, data } => {
            let data = mask_received_unless(data, options.show_secrets);
            Ok(client_data_json("Send", *client, &data))
        }
        other => serde_json::to_value(other).map_err(ExportError::Json),
    }
}

/// `{"<variant>": {"client": N, "data": ...}}`: the bytes a client sent or
/// was sent, as serde gives the variant but with the data readable.
fn client_data_json(variant: &str, client: ClientId, data: &[u8]) -> Value {
    json!({ variant: { "client": client.0, "data": bytes_json(data) } })
}

fn bytes_json(data: &[u8]) -> Value {
    match std::str::from_utf8(data) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "hex": data.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn write_text<W: Write>(out: &mut W, text: &str) -> Result<(), ExportError> {
    out.write_all(text.as_bytes()).map_err(ExportError::Write)
}

fn write_json<W: Write>(out: &mut W, value: &Value) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, value).map_err(ExportError::Json)?;
    out.write_all(b"\n").map_err(ExportError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Signal};
    use crate::machine::clock::VirtualTime;
    use crate::machine::config::MachineConfig;
    use crate::machine::Effect;
    use crate::qmp::session::FdHandle;
    use crate::trace::record_inputs;

    const ONE: ClientId = ClientId(1);
    const TWO: ClientId = ClientId(2);
    const PLAIN: Notation = Notation {
        client_prefix: false,
    };
    const PREFIXED: Notation = Notation {
        client_prefix: true,
    };

    fn header() -> TraceHeader {
        TraceHeader::new(MachineConfig::default())
    }

    #[test]
    fn inputs_render_as_transcript_lines() {
        let cases = [
            // The trailing newline is dropped.
            (
                Input::bytes(ONE, "{\"execute\":\"stop\"}\r\n"),
                PLAIN,
                "-> {\"execute\":\"stop\"}\n",
            ),
            (Input::bytes(TWO, "{}"), PREFIXED, "[2] -> {}\n"),
            // Two messages in one read continue the line.
            (
                Input::bytes(ONE, "{\"a\":1}\n{\"b\":2}\n"),
                PLAIN,
                "-> {\"a\":1}\n   {\"b\":2}\n",
            ),
            (
                Input::bytes(ONE, b"a\x01b\xffc"),
                PLAIN,
                "-> a\\x01b\\xffc\n",
            ),
            (Input::connect(ONE), PLAIN, "# connect client 1 monitor 0\n"),
            (
                Input::Disconnect { client: TWO },
                PLAIN,
                "# disconnect client 2\n",
            ),
            (
                Input::Fd {
                    client: ONE,
                    fd: FdHandle(3),
                },
                PLAIN,
                "# fd 3 from client 1\n",
            ),
            (
                Input::AdvanceTo {
                    at: VirtualTime(12 * VirtualTime::NS_PER_S),
                },
                PLAIN,
                "# advance to 12.000000s\n",
            ),
            (
                Input::AdvanceTo {
                    at: VirtualTime(1_000_000_001),
                },
                PLAIN,
                "# advance to 1.000000001s\n",
            ),
            (
                Input::Signal {
                    signal: Signal::Terminate,
                },
                PLAIN,
                "# signal TERM\n",
            ),
        ];
        for (input, notation, want) in cases {
            assert_eq!(render_input(&input, notation), want, "{input:?}");
        }
    }

    #[test]
    fn render_outputs_send_effect_exit() {
        let outputs = [
            Output::Send {
                client: ONE,
                data: b"{\"return\": {}}\r\n".to_vec(),
            },
            Output::Effect(Effect::CloseFd { fd: 3 }),
            Output::Exit { code: 0 },
        ];
        assert_eq!(
            render_outputs(&outputs, PLAIN),
            "<- {\"return\": {}}\n# close fd 3\n# exit 0\n"
        );
    }

    /// The dump of a trace of `inputs`.
    fn dump_of(inputs: &[Input]) -> String {
        let trace = record_inputs(&header(), inputs).unwrap();
        dump_to_string(&trace).unwrap()
    }

    #[test]
    fn dump_single_client_has_no_prefix() {
        let text = dump_of(&[
            Input::connect(ONE),
            Input::bytes(ONE, r#"{"execute":"qmp_capabilities"}"#),
        ]);
        assert!(text.contains("\n-> {\"execute\":\"qmp_capabilities\"}\n<- {\"return\": {}}\n"));
    }

    #[test]
    fn dump_two_clients_prefixes_lines() {
        let text = dump_of(&[
            Input::connect(ONE),
            Input::connect(TWO),
            Input::bytes(TWO, r#"{"execute":"qmp_capabilities"}"#),
        ]);
        assert!(
            text.contains("\n[2] -> {\"execute\":\"qmp_capabilities\"}\n[2] <- {\"return\": {}}\n")
        );
    }

    #[test]
    fn dump_ends_with_end_line() {
        let digest = Engine::new(MachineConfig::default()).digest();
        let text = dump_of(&[]);
        assert!(text.ends_with(&format!("# end: 0 steps, digest {digest}\n")));
    }

    #[test]
    fn dump_of_damaged_trace_fails() {
        let mut trace = record_inputs(&header(), &[]).unwrap();
        let last = trace.len() - 1;
        trace[last] ^= 1;
        assert!(matches!(
            dump_to_string(&trace),
            Err(ExportError::Trace(TraceError::ChainMismatch { frame: 0 }))
        ));
    }

    #[test]
    fn export_json_has_header_then_one_line_per_frame() {
        let trace = record_inputs(&header(), &[Input::connect(ONE)]).unwrap();
        let mut out = Vec::new();
        export_json(&trace[..], &mut out).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            (lines.len(), &lines[1]["step"]["input"]),
            (3, &json!({"Connect": {"client": 1, "monitor": 0}}))
        );
    }

    #[test]
    fn export_json_shows_utf8_data_as_string() {
        let value = output_json(
            &Output::Send {
                client: ONE,
                data: b"{}\r\n".to_vec(),
            },
            ExportOptions::default(),
        )
        .unwrap();
        assert_eq!(value, json!({"Send": {"client": 1, "data": "{}\r\n"}}));
    }

    /// The JSON Lines export of a session that sets a VNC password.
    fn exported_with_password(options: ExportOptions) -> String {
        let inputs = [
            Input::connect(ONE),
            Input::bytes(ONE, "{\"execute\":\"qmp_capabilities\"}"),
            Input::bytes(
                ONE,
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"s3cret"}}"#,
            ),
        ];
        let trace = record_inputs(&header(), &inputs).unwrap();
        let mut out = Vec::new();
        export_json_with(&trace[..], options, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn export_json_masks_passwords() {
        let text = exported_with_password(ExportOptions::default());
        assert!(
            !text.contains("s3cret") && text.contains(r#"\"password\":\"********\""#),
            "{text}"
        );
    }

    #[test]
    fn export_json_with_show_secrets_keeps_passwords() {
        let text = exported_with_password(ExportOptions { show_secrets: true });
        assert!(text.contains(r#"\"password\":\"s3cret\""#), "{text}");
    }

    #[test]
    fn export_json_shows_invalid_utf8_as_hex() {
        assert_eq!(bytes_json(b"\xff\x00"), json!({"hex": "ff00"}));
    }
}
