//! Probing the image files clients name in `change`, before the engine sees the
//! request: the result enters the engine as `Input::ImageProbed`, so replay never
//! needs the file.
//!
//! The scout keeps its own [`Framer`] per client, fed the very bytes the engine is
//! about to get (same code, same bytes, so it splits exactly where the engine
//! will), and asks the core which files the requests those bytes complete name
//! ([`table::files_named`]: `change`, and `human-monitor-command "change DEV
//! FILE"`). Probing itself is [`super::image`]'s.

use std::collections::BTreeMap;

use crate::qmp::session::ClientId;
use crate::qmp::table;
use crate::wire::framing::{Frame, Framer};
use crate::wire::parser;

/// One splitter per connected client.
#[derive(Debug, Default)]
pub struct Scout {
    framers: BTreeMap<ClientId, Framer>,
}

impl Scout {
    /// A client connected: a fresh splitter, as the engine's session has.
    pub fn connect(&mut self, client: ClientId) {
        self.framers.insert(client, Framer::new());
    }

    /// A client left.
    pub fn disconnect(&mut self, client: ClientId) {
        self.framers.remove(&client);
    }

    /// The files named by `change` requests that `bytes` complete, in order.
    pub fn scout(&mut self, client: ClientId, bytes: &[u8]) -> Vec<String> {
        let Some(framer) = self.framers.get_mut(&client) else {
            return Vec::new();
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
    fn vnc_change_is_not_a_file() {
        let mut s = Scout::default();
        s.connect(ClientId(1));
        let got = s.scout(
            ClientId(1),
            br#"{"execute":"change","arguments":{"device":"vnc","target":"password","arg":"x"}}"#,
        );
        assert!(got.is_empty());
    }

    #[test]
    fn hmp_change_names_the_file() {
        let mut s = Scout::default();
        s.connect(ClientId(1));
        let got = s.scout(
            ClientId(1),
            br#"{"execute":"human-monitor-command","arguments":{"command-line":"change ide1-cd0 /x.iso"}}"#,
        );
        assert_eq!(got, ["/x.iso"]);
    }

    #[test]
    fn other_commands_name_no_file() {
        let mut s = Scout::default();
        s.connect(ClientId(1));
        let got = s.scout(
            ClientId(1),
            br#"{"execute":"eject","arguments":{"device":"ide1-cd0"}}"#,
        );
        assert!(got.is_empty());
    }
}
