//! Probing the image files clients name in `change`, before the engine sees the
//! request: the result enters the engine as `Input::ImageProbed`, so replay never
//! needs the file.
//!
//! The scout keeps its own [`Framer`] per client, fed the very bytes the engine is
//! about to get (same code, same bytes, so it splits exactly where the engine
//! will), and asks the core which files the requests those bytes complete name
//! ([`table::files_named`]: `change`, and `human-monitor-command "change DEV
//! FILE"`). A human monitor's client gets 0.14's line editor instead, so the
//! scout sees the lines the engine will run (`change DEV FILE`). Probing itself
//! is [`super::image`]'s.

use std::collections::BTreeMap;

use crate::monitor::LineSplitter;
use crate::qmp::hmp;
use crate::qmp::session::ClientId;
use crate::qmp::table;
use crate::wire::framing::{Frame, Framer};
use crate::wire::parser;

/// How the scout splits one client's bytes, as the engine's session does.
#[derive(Debug)]
enum Splitter {
    /// A QMP client: JSON messages.
    Qmp(Framer),
    /// A human monitor's client: lines from 0.14's line editor, after the
    /// telnet filter and multiplexer its chardev has.
    Human(LineSplitter),
}

/// One splitter per connected client.
#[derive(Debug, Default)]
pub struct Scout {
    framers: BTreeMap<ClientId, Splitter>,
}

impl Scout {
    /// A QMP client connected: a fresh splitter, as the engine's session has.
    pub fn connect(&mut self, client: ClientId) {
        self.framers.insert(client, Splitter::Qmp(Framer::new()));
    }

    /// A human monitor's client connected; `lines` splits its bytes as its
    /// session will.
    pub fn connect_human(&mut self, client: ClientId, lines: LineSplitter) {
        self.framers.insert(client, Splitter::Human(lines));
    }

    /// A client left.
    pub fn disconnect(&mut self, client: ClientId) {
        self.framers.remove(&client);
    }

    /// The files named by `change` requests that `bytes` complete, in order.
    pub fn scout(&mut self, client: ClientId, bytes: &[u8]) -> Vec<String> {
        let framer = match self.framers.get_mut(&client) {
            None => return Vec::new(),
            Some(Splitter::Qmp(framer)) => framer,
            Some(Splitter::Human(lines)) => return human_files(lines, bytes),
        };
        framer
            .feed(bytes)
            .into_iter()
            .filter_map(|frame| match frame {
                Frame::Message(tokens) => parser::parse(&tokens).ok(),
                Frame::Error(_) => None,
            })
            .flat_map(|obj| table::files_named(&obj))
            .collect()
    }
}

/// The files named by the human monitor lines `bytes` finish.
fn human_files(lines: &mut LineSplitter, bytes: &[u8]) -> Vec<String> {
    bytes
        .iter()
        .filter_map(|&b| lines.feed(b))
        .flat_map(|line| {
            let line = String::from_utf8_lossy(&line).into_owned();
            hmp::files_named(&crate::qdict! { "command-line" => line.as_str() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_request_split_over_reads_is_found_when_complete() {
        let mut s = Scout::default();
        s.connect(ClientId(1));
        let first = s.scout(
            ClientId(1),
            br#"{"execute":"change","arguments":{"device":"ide1-cd0","#,
        );
        let second = s.scout(ClientId(1), br#""target":"/tmp/a.iso"}}"#);
        assert_eq!((first, second), (vec![], vec!["/tmp/a.iso".to_owned()]));
    }

    #[test]
    fn human_monitor_change_line_names_the_file_once_finished() {
        let mut s = Scout::default();
        s.connect_human(ClientId(1), LineSplitter::new(false));
        let first = s.scout(ClientId(1), b"change ide1-cd0 /y.is");
        let second = s.scout(ClientId(1), b"o\r\n");
        assert_eq!((first, second), (vec![], vec!["/y.iso".to_owned()]));
    }

    #[test]
    fn whole_requests_name_their_files() {
        let cases: [(&str, &[u8], &[&str]); 3] = [
            (
                "vnc change is not a file",
                br#"{"execute":"change","arguments":{"device":"vnc","target":"password","arg":"x"}}"#,
                &[],
            ),
            (
                "HMP change names the file",
                br#"{"execute":"human-monitor-command","arguments":{"command-line":"change ide1-cd0 /x.iso"}}"#,
                &["/x.iso"],
            ),
            (
                "other commands name no file",
                br#"{"execute":"eject","arguments":{"device":"ide1-cd0"}}"#,
                &[],
            ),
        ];
        for (what, request, files) in cases {
            let mut s = Scout::default();
            s.connect(ClientId(1));
            assert_eq!(s.scout(ClientId(1), request), files, "{what}");
        }
    }
}
