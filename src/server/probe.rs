//! Probing the image files clients name in `change`, before the engine sees the
//! request: the result enters the engine as `Input::ImageProbed`, so replay never
//! needs the file.
//!
//! The scout keeps its own [`Framer`] per client, fed the very bytes the engine is
//! about to get (same code, same bytes, so it splits exactly where the engine
//! will), and returns the file names of the `change` requests (QMP or
//! `human-monitor-command "change DEV FILE"`) that those bytes complete.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::config::probe_image;
use crate::machine::config::ImageProbe;
use crate::qmp::session::ClientId;
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
            .filter_map(|obj| change_target(&obj))
            .collect()
    }
}

/// The `target` of a `change` request, if it is one.
fn change_target(obj: &crate::wire::QObject) -> Option<String> {
    let d = obj.as_dict()?;
    let args = d.get("arguments").and_then(|a| a.as_dict());
    match d.get_str("execute")? {
        "change" => {
            let args = args?;
            (args.get_str("device")? != "vnc").then(|| args.get_str("target").map(str::to_owned))?
        }
        "human-monitor-command" => crate::qmp::hmp::change_target(args?.get_str("command-line")?),
        _ => None,
    }
}

/// Probes a file read-only.
pub fn probe(path: &str) -> ImageProbe {
    match probe_image(Path::new(path), None) {
        Ok(info) => ImageProbe::Found(info),
        Err(_) => ImageProbe::Missing,
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
    fn missing_file_probes_as_missing() {
        assert_eq!(probe("/nonexistent/qmpsim.img"), ImageProbe::Missing);
    }
}
