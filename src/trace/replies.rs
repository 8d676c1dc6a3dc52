//! libvirt's `.replies` format (`tests/qemucapabilitiesdata/*.replies`), read into
//! a [`Transcript`] and written from a trace.
//!
//! The format, as libvirt's `tests/qemumonitortestutils.c`
//! (`qemuMonitorTestProcessFileEntries`) reads it and `tests/qemucapsprobemock.c`
//! writes it: JSON objects pretty-printed with two-space indentation, separated
//! by one empty line, alternating command and reply; the QMP greeting is left
//! out (the test monitor adds it). A reader joins the lines of one object; an
//! empty line ends it. Older files hold replies only (the commands went to
//! stderr); they cannot pair, and are refused.
//!
//! Reading: each command becomes a `->` entry and its reply a `<-` entry of
//! client 1; a greeting object is skipped; an object with `event` after a
//! command is an expected message like the reply. Writing: the requests and
//! responses of one client, in order, greeting and events left out, each
//! pretty-printed with its members in the order they were sent.
//!
//! What it is for: libvirt's files are real exchanges with modern QEMUs, which
//! a 0.14 machine cannot replay (their commands do not exist in 0.14). Importing
//! one gives a transcript (`qmpsim trace dump`) and a trace whose expected
//! outputs are that QEMU's replies, for a server that plays recorded replies
//! back (mock mode). Exporting gives libvirt a `.replies` file of a qmpsim
//! session. Pure: text in, text out.

use std::collections::VecDeque;
use std::io::Read;

use super::format::TraceError;
use super::import::{check_size, syntax, Entry, ImportError, Transcript, DEFAULT_CLIENT};
use super::reader::TraceReader;
use super::walk::{classify, trim, Item, Sent, Walker};
use crate::engine::{Input, Output};
use crate::qmp::session::ClientId;

/// Indentation of one level in libvirt's pretty-printed JSON.
pub const INDENT: &str = "  ";

/// Reads a `.replies` file.
pub fn parse_replies(text: &str) -> Result<Transcript, ImportError> {
    check_size(text)?;
    let mut transcript = Transcript::default();
    let mut awaiting_reply: Option<usize> = None;
    for (line, object) in objects(text) {
        let kind = classify(object.as_bytes());
        let is_command = serde_json::from_str::<serde_json::Value>(&object)
            .ok()
            .is_some_and(|v| v.get("execute").is_some());
        if kind == Sent::Greeting {
            continue;
        }
        if is_command {
            if let Some(command_line) = awaiting_reply {
                return Err(syntax(
                    line,
                    &format!("a command, but the command on line {command_line} has no reply"),
                ));
            }
            let mut data = object.into_bytes();
            data.push(b'\n');
            transcript.entries.push(Entry::Input {
                line,
                input: Input::Bytes {
                    client: DEFAULT_CLIENT,
                    data,
                },
            });
            awaiting_reply = Some(line);
            continue;
        }
        if awaiting_reply.is_none() && !matches!(kind, Sent::Event(_)) {
            return Err(syntax(
                line,
                "a reply without a command (a replies-only file from an older libvirt?)",
            ));
        }
        if !matches!(kind, Sent::Event(_)) {
            awaiting_reply = None;
        }
        transcript.entries.push(Entry::Expect {
            line,
            client: DEFAULT_CLIENT,
            text: object.into_bytes(),
        });
    }
    if let Some(line) = awaiting_reply {
        return Err(syntax(line, "the last command has no reply"));
    }
    Ok(transcript)
}

/// The objects of a file: (1-based first line, the object's lines joined by
/// spaces), split at empty lines.
fn objects(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() {
            out.extend(current.take());
            continue;
        }
        match &mut current {
            Some((_, object)) => {
                object.push(' ');
                object.push_str(line);
            }
            None => current = Some((index + 1, line.to_owned())),
        }
    }
    out.extend(current);
    out
}

/// One exchange to write: a request and what answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request as the client sent it.
    pub request: Vec<u8>,
    /// The response (without line break).
    pub reply: Vec<u8>,
}

impl Exchange {
    /// The exchange with the passwords of its request masked (as `trace dump`
    /// masks them, [`super::secrets`]), unless `show_secrets`.
    pub fn masked_unless(self, show_secrets: bool) -> Exchange {
        if show_secrets {
            return self;
        }
        Exchange {
            request: super::secrets::mask_secrets(&self.request),
            reply: self.reply,
        }
    }
}

/// The exchanges of `client` (the first client that sends a request, when
/// `None`) in the trace in `input`: each request with the response that answered
/// it, in order. Requests never answered are left out.
pub fn exchanges<R: Read>(input: R, client: Option<ClientId>) -> Result<Vec<Exchange>, TraceError> {
    let (reader, header) = TraceReader::open(input)?;
    let mut walker = Walker::new(&header);
    let mut chosen = client;
    let mut waiting: VecDeque<Vec<u8>> = VecDeque::new();
    let mut out = Vec::new();
    for frame in reader {
        let frame = frame?;
        walker.frame(&frame, &mut |item| match item {
            Item::Request { client, text, .. } if *chosen.get_or_insert(client) == client => {
                waiting.push_back(text);
            }
            Item::Output {
                output: Output::Send { client, data },
                ..
            } if Some(*client) == chosen => {
                if matches!(classify(data), Sent::Return | Sent::Error(_)) {
                    if let Some(request) = waiting.pop_front() {
                        out.push(Exchange {
                            request,
                            reply: trim(data).to_vec(),
                        });
                    }
                }
            }
            _ => {}
        });
    }
    Ok(out)
}

/// Writes exchanges in the `.replies` format.
pub fn write_replies(exchanges: &[Exchange]) -> String {
    let blocks: Vec<String> = exchanges
        .iter()
        .flat_map(|e| [pretty(&e.request), pretty(&e.reply)])
        .collect();
    let mut text = blocks.join("\n\n");
    text.push('\n');
    text
}

/// JSON text pretty-printed as libvirt prints it (two spaces per level, `": "`
/// after keys, `{}` and `[]` when empty), members in the order written. Works
/// on the text, outside strings only; single-quoted strings are kept as they are.
pub fn pretty(json: &[u8]) -> String {
    let text = String::from_utf8_lossy(json);
    let chars: Vec<char> = text.trim().chars().collect();
    let mut out = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if let Some(q) = quote {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, c) if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if next == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i += chars[i..]
                        .iter()
                        .position(|x| *x == close)
                        .map_or(0, |p| p + 1);
                } else {
                    depth += 1;
                    out.push(c);
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "{\n  \"execute\": \"qmp_capabilities\",\n  \"id\": \"libvirt-1\"\n}\n\n{\n  \"return\": {},\n  \"id\": \"libvirt-1\"\n}\n";

    #[test]
    fn parse_replies_pairs_command_and_reply() {
        let t = parse_replies(FILE).unwrap();
        assert_eq!(
            t.entries,
            vec![
                Entry::Input {
                    line: 1,
                    input: Input::Bytes {
                        client: DEFAULT_CLIENT,
                        data: b"{   \"execute\": \"qmp_capabilities\",   \"id\": \"libvirt-1\" }\n"
                            .to_vec()
                    }
                },
                Entry::Expect {
                    line: 6,
                    client: DEFAULT_CLIENT,
                    text: b"{   \"return\": {},   \"id\": \"libvirt-1\" }".to_vec()
                }
            ]
        );
    }

    #[test]
    fn parse_replies_refuses_replies_only_files() {
        let err = parse_replies("{\n  \"return\": {}\n}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Line 1: a reply without a command (a replies-only file from an older libvirt?)"
        );
    }

    #[test]
    fn parse_replies_refuses_a_command_without_reply() {
        assert!(matches!(
            parse_replies("{\"execute\": \"stop\"}\n"),
            Err(ImportError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn parse_replies_skips_a_greeting() {
        let t = parse_replies(&format!("{{\"QMP\": {{}}}}\n\n{FILE}")).unwrap();
        assert_eq!(t.entries.len(), 2);
    }

    #[test]
    fn pretty_prints_as_libvirt() {
        assert_eq!(
            pretty(b"{\"return\": {\"a\": [1, {}], \"b\": []}, \"id\": \"x, y\"}"),
            "{\n  \"return\": {\n    \"a\": [\n      1,\n      {}\n    ],\n    \"b\": []\n  },\n  \"id\": \"x, y\"\n}"
        );
    }

    #[test]
    fn write_then_parse_gives_the_exchanges_back() {
        let text = write_replies(&[Exchange {
            request: b"{\"execute\":\"query-kvm\",\"id\":\"libvirt-2\"}".to_vec(),
            reply: b"{\"return\": {\"enabled\": false, \"present\": true}, \"id\": \"libvirt-2\"}"
                .to_vec(),
        }]);
        let t = parse_replies(&text).unwrap();
        assert!(
            matches!(&t.entries[1], Entry::Expect { text, .. }
                if super::super::import::respace(text)
                    == b"{\"return\": {\"enabled\": false, \"present\": true}, \"id\": \"libvirt-2\"}".to_vec()),
            "{text}"
        );
    }
}
