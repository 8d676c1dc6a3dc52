//! `qmpsim trace import`: a `->` / `<-` transcript (the notation of the QMP docs,
//! of QEMU logs and of `qmpsim trace dump`) becomes a trace whose `<-` lines are
//! the expected outputs, so that `qmpsim replay` checks qmpsim against it.
//!
//! # The transcript
//!
//! One entry per line; an entry continues on the following lines that start with
//! whitespace (the QMP docs indent a multi-line request that way, and the dump
//! indents continuation lines). Blank lines are skipped. Each line may start
//! with a virtual time (`0.002000`, as the dump prints it, ignored) and a client
//! (`[2]`, default 1):
//!
//! | line | becomes |
//! |---|---|
//! | `-> {...}` | one read of those bytes and a `\n` from the client |
//! | `<- {...}` | an expected message to the client (the bytes and `\r\n`) |
//! | `# connect client 2 monitor 0` | `Input::Connect` |
//! | `# disconnect client 2` | `Input::Disconnect` |
//! | `# fd 5 from client 1` | `Input::Fd` |
//! | `# advance to 1.500000` | `Input::AdvanceTo` |
//! | `# signal TERM` (`INT`, `HUP`) | `Input::Signal` |
//! | `# fault: migration 1 channel broke` | `Input::MigrationFailed` |
//! | `# fault: migration 1 destination stalled` / `# migration 1 destination caught up` | `Input::MigrationStalled` |
//! | `# probed /a.img: qcow2, 1073741824 bytes, encrypted` | `Input::ImageProbed` (also `: cannot be opened`, `, backing file NAME`) |
//! | `# notes: text` | the header's notes |
//! | any other `# ...` | nothing (effects, exits and checkpoints come from qmpsim) |
//!
//! `\xNN` in a message stands for that byte (the dump writes control bytes that
//! way). A transcript whose first input is not a connect gets one (client 1,
//! monitor 0); [`ImportOptions::negotiate`] adds `qmp_capabilities` after it.
//! Both take qmpsim's outputs as expected, since the transcript shows none.
//!
//! # Expected outputs
//!
//! The transcript's inputs run through a fresh engine. With [`Expect::Transcript`]
//! the messages each step sends are the transcript's `<-` lines for that step, in
//! place of qmpsim's; qmpsim's side effects and exit stay (a transcript cannot
//! show them). With [`EventSource::Qmpsim`] the events are qmpsim's and the
//! transcript's events are dropped: the QMP docs leave events out of command
//! examples, and their timestamps come from a wall clock. `<-` text is re-spaced
//! to 0.14's one-line form (`": "` after keys, `", "` between members, no other
//! whitespace outside strings) unless [`ImportOptions::verbatim`]. With
//! [`Expect::Qmpsim`] the trace holds qmpsim's own outputs (a recording of the
//! transcript's inputs). Either way the [`ImportReport`] counts the `<-` lines
//! that differ from what qmpsim sends. Checkpoints and the `End` digest are the
//! engine's. Pure: the caller reads the transcript and writes the trace.

use crate::engine::{Engine, Input, Output, Signal};
use crate::machine::clock::VirtualTime;
use crate::machine::config::{ImageInfo, ImageProbe, MachineConfig};
use crate::qmp::session::{ClientId, FdHandle};

use super::format::{TraceError, TraceHeader, CHECKPOINT_EVERY_STEPS};
use super::walk::{classify, Sent};
use super::writer::TraceWriter;

/// Largest transcript accepted, in bytes.
pub const TRANSCRIPT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The client of lines without a `[N]`.
pub const DEFAULT_CLIENT: ClientId = ClientId(1);

/// Why a transcript could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The transcript is larger than [`TRANSCRIPT_BYTES_MAX`].
    #[error("Transcript of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// [`TRANSCRIPT_BYTES_MAX`].
        max: usize,
    },
    /// A line is not transcript notation.
    #[error("Line {line}: {why}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// Writing the trace failed.
    #[error("Writing the trace failed")]
    Trace(#[from] TraceError),
}

/// One entry of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An input (`->` lines become `Input::Bytes`).
    Input {
        /// 1-based line where it starts.
        line: usize,
        /// The input.
        input: Input,
    },
    /// An expected message to a client.
    Expect {
        /// 1-based line where it starts.
        line: usize,
        /// To whom.
        client: ClientId,
        /// The message as written (without line break).
        text: Vec<u8>,
    },
}

/// A parsed transcript.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript {
    /// Inputs and expected messages, in order.
    pub entries: Vec<Entry>,
    /// `# notes:` lines.
    pub notes: Vec<String>,
}

/// Where expected outputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    /// The transcript's `<-` lines.
    #[default]
    Transcript,
    /// qmpsim's own outputs.
    Qmpsim,
}

/// Where expected events come from (with [`Expect::Transcript`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventSource {
    /// The transcript's event lines.
    #[default]
    Transcript,
    /// qmpsim's events; the transcript's are dropped.
    Qmpsim,
}

/// How to import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Where expected outputs come from.
    pub expect: Expect,
    /// Where expected events come from.
    pub events: EventSource,
    /// Keep `<-` text as written instead of re-spacing it.
    pub verbatim: bool,
    /// Send `qmp_capabilities` after the implicit connect.
    pub negotiate: bool,
    /// Header notes, in place of the transcript's.
    pub notes: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// `Step` frames written.
    pub steps: u64,
    /// `<-` lines compared with qmpsim's messages.
    pub compared: u64,
    /// How many of them differ (or have no counterpart).
    pub differing: u64,
    /// Transcript line of the first that differs.
    pub first_difference: Option<usize>,
    /// Event lines dropped ([`EventSource::Qmpsim`]).
    pub events_dropped: u64,
}

/// Parses transcript notation (see the module doc).
pub fn parse_transcript(text: &str) -> Result<Transcript, ImportError> {
    check_size(text)?;
    let mut transcript = Transcript::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let line = index + 1;
        let raw = lines[index].trim_end();
        index += 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (client, rest) = split_lead(raw, line)?;
        if let Some(comment) = rest.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(notes) = comment.strip_prefix("notes:") {
                transcript.notes.push(notes.trim().to_owned());
            } else if let Some(input) = comment_input(comment, line)? {
                transcript.entries.push(Entry::Input { line, input });
            }
            continue;
        }
        let (arrow, first) = if let Some(r) = rest.strip_prefix("->") {
            ("->", r)
        } else if let Some(r) = rest.strip_prefix("<-") {
            ("<-", r)
        } else {
            return Err(syntax(line, "expected ->, <- or #"));
        };
        let mut body = first.strip_prefix(' ').unwrap_or(first).to_owned();
        while index < lines.len()
            && lines[index].starts_with([' ', '\t'])
            && !lines[index].trim().is_empty()
        {
            body.push('\n');
            body.push_str(lines[index].trim());
            index += 1;
        }
        let data = unescape(&body);
        let client = client.unwrap_or(DEFAULT_CLIENT);
        transcript.entries.push(if arrow == "->" {
            let mut data = data;
            data.push(b'\n');
            Entry::Input {
                line,
                input: Input::Bytes { client, data },
            }
        } else {
            Entry::Expect {
                line,
                client,
                text: data,
            }
        });
    }
    Ok(transcript)
}

/// Splits an optional time and `[client]` off the front of a line.
fn split_lead(raw: &str, line: usize) -> Result<(Option<ClientId>, &str), ImportError> {
    let mut rest = raw.trim_start();
    if let Some((first, after)) = rest.split_once(' ') {
        if is_time(first) {
            rest = after.trim_start();
        }
    }
    let mut client = None;
    if let Some(after) = rest.strip_prefix('[') {
        let (id, after) = after
            .split_once(']')
            .ok_or_else(|| syntax(line, "unclosed [client]"))?;
        let id: u32 = id
            .parse()
            .map_err(|_| syntax(line, &format!("bad client id '{id}'")))?;
        client = Some(ClientId(id));
        rest = after.trim_start();
    }
    Ok((client, rest))
}

fn is_time(token: &str) -> bool {
    token.split_once('.').is_some_and(|(s, f)| {
        !s.is_empty() && !f.is_empty() && s.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit())
    })
}

/// The input a `#` line stands for, if any.
fn comment_input(comment: &str, line: usize) -> Result<Option<Input>, ImportError> {
    let words: Vec<&str> = comment.split_whitespace().collect();
    let number = |word: &str| -> Result<u64, ImportError> {
        word.parse()
            .map_err(|_| syntax(line, &format!("'{word}' is not a number")))
    };
    let client = |word: &str| -> Result<ClientId, ImportError> {
        word.parse()
            .map(ClientId)
            .map_err(|_| syntax(line, &format!("'{word}' is not a client id")))
    };
    Ok(Some(match words.as_slice() {
        ["connect", "client", c, "monitor", m] => Input::Connect {
            client: client(c)?,
            monitor: u32::try_from(number(m)?)
                .map_err(|_| syntax(line, "monitor index out of range"))?,
        },
        ["disconnect", "client", c] => Input::Disconnect { client: client(c)? },
        ["fd", fd, "from", "client", c] => Input::Fd {
            client: client(c)?,
            fd: FdHandle(number(fd)?),
        },
        ["advance", "to", t] => Input::AdvanceTo {
            at: parse_time(t).ok_or_else(|| syntax(line, &format!("bad time '{t}'")))?,
        },
        ["signal", name] => Input::Signal {
            signal: Signal::from_name(name)
                .ok_or_else(|| syntax(line, &format!("unknown signal '{name}'")))?,
        },
        ["fault:", "migration", id, "channel", "broke"] => {
            Input::MigrationFailed { id: number(id)? }
        }
        ["fault:", "migration", id, "destination", "stalled"] => Input::MigrationStalled {
            id: number(id)?,
            stalled: true,
        },
        ["migration", id, "destination", "caught", "up"] => Input::MigrationStalled {
            id: number(id)?,
            stalled: false,
        },
        ["probed", ..] => probed(comment, line)?,
        _ => return Ok(None),
    }))
}

/// `probed PATH: cannot be opened` or `probed PATH: FORMAT, N bytes[, backing
/// file NAME][, encrypted]`, as the dump writes an image probe.
fn probed(comment: &str, line: usize) -> Result<Input, ImportError> {
    let rest = comment.trim_start_matches("probed").trim_start();
    let (path, what) = rest
        .rsplit_once(": ")
        .ok_or_else(|| syntax(line, "expected probed PATH: WHAT"))?;
    let probe = if what == "cannot be opened" {
        ImageProbe::Missing
    } else {
        let mut parts = what.split(", ");
        let format = parts.next().unwrap_or_default().to_owned();
        let size_bytes = parts
            .next()
            .and_then(|s| s.strip_suffix(" bytes"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| syntax(line, "expected FORMAT, N bytes"))?;
        let mut info = ImageInfo {
            format,
            size_bytes,
            backing_file: None,
            encrypted: false,
        };
        for part in parts {
            if part == "encrypted" {
                info.encrypted = true;
            } else if let Some(backing) = part.strip_prefix("backing file ") {
                info.backing_file = Some(backing.to_owned());
            } else {
                return Err(syntax(line, &format!("unknown image property '{part}'")));
            }
        }
        ImageProbe::Found(info)
    };
    Ok(Input::ImageProbed {
        path: path.to_owned(),
        probe,
    })
}

/// `S.FFFFFF` or `S.FFFFFFFFF` (a trailing `s` allowed) as virtual time.
fn parse_time(text: &str) -> Option<VirtualTime> {
    let text = text.strip_suffix('s').unwrap_or(text);
    let (secs, frac) = text.split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ns: u64 = format!("{frac:0<9}").parse().ok()?;
    secs.checked_mul(VirtualTime::NS_PER_S)?
        .checked_add(ns)
        .map(VirtualTime)
}

/// Text with `\xNN` turned back into bytes.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            if let Some(b) = bytes
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// JSON text in 0.14's one-line form: whitespace outside strings dropped, then
/// `": "` after each key and `", "` between members and elements.
pub fn respace(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for &c in text {
        if let Some(q) = quote {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, c) if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' | b'\'' => {
                quote = Some(c);
                out.push(c);
            }
            b':' | b',' => {
                out.push(c);
                out.push(b' ');
            }
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Builds the trace of `transcript` on a machine with `config`.
pub fn import(
    config: MachineConfig,
    transcript: &Transcript,
    options: &ImportOptions,
) -> Result<(Vec<u8>, ImportReport), ImportError> {
    let notes = options
        .notes
        .clone()
        .unwrap_or_else(|| transcript.notes.join("\n"));
    let header = TraceHeader::new(config.clone()).with_notes(&notes);
    let mut engine = Engine::new(config);
    let mut writer = TraceWriter::new(Vec::new(), &header)?;
    let mut report = ImportReport {
        steps: 0,
        compared: 0,
        differing: 0,
        first_difference: None,
        events_dropped: 0,
    };
    let mut step = |input: Input, expected: Option<&[(usize, ClientId, Vec<u8>)]>| {
        let actual = engine.step(input.clone());
        let outputs = match expected {
            None => actual,
            Some(expected) => merge(&actual, expected, options, &mut report),
        };
        writer.record(&input, &outputs)?;
        report.steps += 1;
        if report.steps % CHECKPOINT_EVERY_STEPS == 0 {
            writer.checkpoint(&engine.digest())?;
        }
        Ok::<(), ImportError>(())
    };
    let starts_with_connect = matches!(
        transcript
            .entries
            .iter()
            .find(|e| matches!(e, Entry::Input { .. })),
        Some(Entry::Input {
            input: Input::Connect { .. },
            ..
        })
    );
    let mut entries = transcript.entries.iter().peekable();
    if !starts_with_connect {
        let greeting = expected_until_input(&mut entries);
        let connect = Input::connect(DEFAULT_CLIENT);
        step(connect, (!greeting.is_empty()).then_some(&greeting[..]))?;
        if options.negotiate {
            step(
                Input::bytes(DEFAULT_CLIENT, b"{\"execute\":\"qmp_capabilities\"}\n"),
                None,
            )?;
        }
    }
    while let Some(entry) = entries.next() {
        let Entry::Input { input, .. } = entry else {
            // Expected lines before any input belong to the implicit connect.
            continue;
        };
        let expected = expected_until_input(&mut entries);
        step(input.clone(), Some(&expected))?;
    }
    let steps = report.steps;
    let bytes = writer.finish(steps, &engine.digest())?;
    Ok((bytes, report))
}

/// The `<-` entries up to the next input.
fn expected_until_input<'a>(
    entries: &mut std::iter::Peekable<impl Iterator<Item = &'a Entry>>,
) -> Vec<(usize, ClientId, Vec<u8>)> {
    let mut expected = Vec::new();
    while let Some(Entry::Expect { line, client, text }) = entries.peek() {
        expected.push((*line, *client, text.clone()));
        entries.next();
    }
    expected
}

/// A step's expected outputs: qmpsim's, with its messages replaced by the
/// transcript's (see the module doc). Counts differences into `report`.
fn merge(
    actual: &[Output],
    expected: &[(usize, ClientId, Vec<u8>)],
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Vec<Output> {
    let events_from_qmpsim = options.events == EventSource::Qmpsim;
    let mut wanted: Vec<(usize, Output)> = Vec::new();
    for (line, client, text) in expected {
        let mut data = if options.verbatim {
            text.clone()
        } else {
            respace(text)
        };
        if events_from_qmpsim && matches!(classify(&data), Sent::Event(_)) {
            report.events_dropped += 1;
            continue;
        }
        data.extend_from_slice(b"\r\n");
        wanted.push((
            *line,
            Output::Send {
                client: *client,
                data,
            },
        ));
    }
    let replaceable = |output: &Output| match output {
        Output::Send { data, .. } => {
            !(events_from_qmpsim && matches!(classify(data), Sent::Event(_)))
        }
        Output::Effect(_) | Output::Exit { .. } | Output::Close { .. } => false,
    };
    let ours: Vec<&Output> = actual.iter().filter(|o| replaceable(o)).collect();
    for (n, (line, output)) in wanted.iter().enumerate() {
        report.compared += 1;
        if ours.get(n) != Some(&output) {
            report.differing += 1;
            report.first_difference.get_or_insert(*line);
        }
    }
    if ours.len() > wanted.len() {
        report.differing += (ours.len() - wanted.len()) as u64;
        if let Some((line, _)) = wanted.last() {
            report.first_difference.get_or_insert(*line);
        }
    }
    if options.expect == Expect::Qmpsim {
        return actual.to_vec();
    }
    let mut wanted = wanted.into_iter().map(|(_, o)| o);
    let mut outputs = Vec::with_capacity(actual.len());
    for output in actual {
        if replaceable(output) {
            outputs.extend(wanted.next());
        } else {
            outputs.push(output.clone());
        }
    }
    outputs.extend(wanted);
    outputs
}

/// Refuses a file larger than [`TRANSCRIPT_BYTES_MAX`] before reading it.
pub(super) fn check_size(text: &str) -> Result<(), ImportError> {
    if text.len() > TRANSCRIPT_BYTES_MAX {
        return Err(ImportError::TooLarge {
            len: text.len(),
            max: TRANSCRIPT_BYTES_MAX,
        });
    }
    Ok(())
}

/// An [`ImportError::Syntax`] at `line` (1-based).
pub(super) fn syntax(line: usize, why: &str) -> ImportError {
    ImportError::Syntax {
        line,
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::dump::{dump, DumpOptions};
    use crate::trace::record_inputs;

    fn bytes(data: &str) -> Input {
        Input::bytes(DEFAULT_CLIENT, data)
    }

    fn imported(text: &str, options: &ImportOptions) -> (Vec<u8>, ImportReport) {
        let transcript = parse_transcript(text).unwrap();
        import(MachineConfig::default(), &transcript, options).unwrap()
    }

    #[test]
    fn parse_reads_time_client_and_continuation_lines() {
        let t = parse_transcript(
            "0.001000 [2] -> { \"execute\": \"stop\",\n     \"id\": 1 }\n<- {\"return\": {}}\n",
        )
        .unwrap();
        assert_eq!(
            t.entries,
            vec![
                Entry::Input {
                    line: 1,
                    input: Input::bytes(ClientId(2), b"{ \"execute\": \"stop\",\n\"id\": 1 }\n")
                },
                Entry::Expect {
                    line: 3,
                    client: DEFAULT_CLIENT,
                    text: b"{\"return\": {}}".to_vec()
                }
            ]
        );
    }

    #[test]
    fn parse_reads_comment_inputs() {
        let t = parse_transcript(
            "# connect client 3 monitor 1\n# fd 9 from client 3\n# advance to 1.5\n# signal HUP\n# effect ignored\n",
        )
        .unwrap();
        let inputs: Vec<Input> = t
            .entries
            .into_iter()
            .map(|e| match e {
                Entry::Input { input, .. } => input,
                Entry::Expect { .. } => panic!("no expectations here"),
            })
            .collect();
        assert_eq!(
            inputs,
            vec![
                Input::Connect {
                    client: ClientId(3),
                    monitor: 1
                },
                Input::Fd {
                    client: ClientId(3),
                    fd: FdHandle(9)
                },
                Input::AdvanceTo {
                    at: VirtualTime(1_500_000_000)
                },
                Input::Signal {
                    signal: Signal::Hangup
                },
            ]
        );
    }

    #[test]
    fn parse_reads_an_image_probe_as_the_dump_writes_it() {
        let t =
            parse_transcript("# probed /i/a b.img: qcow2, 1024 bytes, backing file x, encrypted\n")
                .unwrap();
        assert_eq!(
            t.entries,
            vec![Entry::Input {
                line: 1,
                input: Input::ImageProbed {
                    path: "/i/a b.img".to_owned(),
                    probe: ImageProbe::Found(ImageInfo {
                        format: "qcow2".to_owned(),
                        size_bytes: 1024,
                        backing_file: Some("x".to_owned()),
                        encrypted: true
                    })
                }
            }]
        );
    }

    #[test]
    fn parse_refuses_prose_with_its_line() {
        let err = parse_transcript("-> {}\nhello\n").unwrap_err();
        assert_eq!(err.to_string(), "Line 2: expected ->, <- or #");
    }

    #[test]
    fn parse_refuses_unknown_signal() {
        assert!(matches!(
            parse_transcript("# signal KILL\n"),
            Err(ImportError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn transcript_too_large_is_refused_past_the_limit() {
        let text = " ".repeat(TRANSCRIPT_BYTES_MAX + 1);
        assert!(matches!(
            parse_transcript(&text),
            Err(ImportError::TooLarge { .. })
        ));
    }

    #[test]
    fn transcript_at_the_limit_is_read() {
        let text = " ".repeat(TRANSCRIPT_BYTES_MAX);
        assert_eq!(parse_transcript(&text).unwrap(), Transcript::default());
    }

    #[test]
    fn imports_replay_and_count_their_differences() {
        let cases = [
            // A matching transcript.
            (
                ImportOptions::default(),
                "-> { \"execute\": \"qmp_capabilities\" }\n<- { \"return\": {} }\n-> {\"execute\":\"query-kvm\"}\n<- {\"return\": {\"enabled\": false, \"present\": true}}\n",
                0,
            ),
            // qmpsim's own events keep the STOP event.
            (
                ImportOptions {
                    events: EventSource::Qmpsim,
                    negotiate: true,
                    ..ImportOptions::default()
                },
                "-> { \"execute\": \"stop\" }\n<- { \"return\": {} }\n",
                0,
            ),
            // Expecting qmpsim records qmpsim's replies and counts the differences.
            (
                ImportOptions {
                    expect: Expect::Qmpsim,
                    ..ImportOptions::default()
                },
                "-> {\"execute\":\"qmp_capabilities\"}\n<- {\"return\": {\"no\": 1}}\n",
                1,
            ),
        ];
        for (options, text, differing) in cases {
            let (trace, report) = imported(text, &options);
            assert!(
                crate::replay::replay(&trace[..]).is_ok() && report.differing == differing,
                "{text}: {report:?}"
            );
        }
    }

    #[test]
    fn import_of_wrong_transcript_fails_replay() {
        let (trace, report) = imported(
            "-> {\"execute\":\"qmp_capabilities\"}\n<- {\"return\": {\"no\": 1}}\n",
            &ImportOptions::default(),
        );
        assert!(
            crate::replay::replay(&trace[..]).is_err() && report.first_difference == Some(2),
            "{report:?}"
        );
    }

    #[test]
    fn dump_then_import_gives_the_same_inputs_and_outputs() {
        let inputs = [
            Input::connect(DEFAULT_CLIENT),
            bytes("{\"execute\":\"qmp_capabilities\"}\n"),
            bytes("{\"execute\":\"stop\"}\n"),
            Input::AdvanceTo {
                at: VirtualTime(VirtualTime::NS_PER_S),
            },
            bytes("{\"execute\":\"quit\"}\n"),
        ];
        let header = TraceHeader::new(MachineConfig::default());
        let original = record_inputs(&header, &inputs).unwrap();
        let mut text = Vec::new();
        dump(&original[..], DumpOptions::default(), &mut text).unwrap();
        let transcript = parse_transcript(std::str::from_utf8(&text).unwrap()).unwrap();
        let (trace, _) = import(
            MachineConfig::default(),
            &transcript,
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(trace, original);
    }

    #[test]
    fn unescape_reads_hex_escapes() {
        assert_eq!(unescape("a\\x01\\x5cx"), b"a\x01\\x");
    }

    #[test]
    fn respace_gives_qemu_single_line_format() {
        assert_eq!(
            respace(b"{ \"return\":{\n \"a\" :[ 1,2 ],\"b\": \"x, y: z\" } }"),
            b"{\"return\": {\"a\": [1, 2], \"b\": \"x, y: z\"}}".to_vec()
        );
    }

    #[test]
    fn parse_time_reads_dump_times() {
        assert_eq!(
            (
                parse_time("0.001000"),
                parse_time("1.000000001"),
                parse_time("x")
            ),
            (
                Some(VirtualTime(1_000_000)),
                Some(VirtualTime(1_000_000_001)),
                None
            )
        );
    }
}
