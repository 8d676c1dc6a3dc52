//! The relay `qmpsim conformance` puts between a client and a VM: it listens on
//! a unix socket of its own, connects each client to the VM's monitor, and
//! forwards both ways, changing the stream the way a [`Shaping`] says: server
//! messages with their object keys in another order, a greeting with more
//! capabilities, messages written one byte per write, bad input added before
//! each request (so that an error without an id precedes its reply). It also
//! notes the JSON types of the ids the client used. Edge code: sockets and
//! threads; what it does is chosen per run, so a failing behaviour is run
//! again with `qmpsim conformance --only NAME`.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::wire::framing::Framer;

/// Pause after the first byte of a split message, so that the client's first
/// read returns it alone.
pub const SPLIT_PAUSE_MS: u64 = 2;
/// How often the relay's acceptor looks for a new client or for its stop.
const ACCEPT_POLL_MS: u64 = 5;
/// The capability a greeting with extra capabilities announces.
pub const EXTRA_CAPABILITY: &str = "x-conformance";
/// The input added before each request when [`Shaping::bad_input_before_requests`]:
/// not an object, so 0.14 answers `QMPBadInputObject` without an id.
pub const BAD_INPUT: &[u8] = b"[]\r\n";
/// Longest server message the relay holds while it looks for its end.
pub const RELAY_MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// How the relay changes the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shaping {
    /// Write every object of a server message with its keys in the reverse of
    /// the order the VM wrote them.
    pub reverse_keys: bool,
    /// Announce [`EXTRA_CAPABILITY`] in the greeting.
    pub extra_capability: bool,
    /// Write each server message one byte per write, pausing after the first.
    pub split_bytes: bool,
    /// Send [`BAD_INPUT`] to the VM before each request after the first.
    pub bad_input_before_requests: bool,
}

/// What the relay saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The JSON types of the ids of the client's requests, each once, in the
    /// order first seen (`number`, `string`, `object`, ...).
    pub id_types: Vec<&'static str>,
    /// Requests without an id.
    pub requests_without_id: u64,
}

/// A running relay; [`Relay::stop`] ends it.
#[derive(Debug)]
pub struct Relay {
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    seen: Arc<Mutex<Seen>>,
}

impl Relay {
    /// Listens on `listen` and relays every client to the VM at `vm`.
    pub fn start(listen: &Path, vm: &Path, shaping: Shaping) -> std::io::Result<Relay> {
        let _ = std::fs::remove_file(listen);
        let listener = UnixListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let acceptor = {
            let (stop, seen, vm) = (stop.clone(), seen.clone(), vm.to_owned());
            std::thread::spawn(move || accept_loop(&listener, &vm, shaping, &stop, &seen))
        };
        Ok(Relay {
            stop,
            acceptor: Some(acceptor),
            seen,
        })
    }

    /// Stops accepting (connections in progress end with their sockets) and
    /// returns what was seen.
    pub fn stop(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn accept_loop(
    listener: &UnixListener,
    vm: &PathBuf,
    shaping: Shaping,
    stop: &AtomicBool,
    seen: &Arc<Mutex<Seen>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                if let Ok(server) = UnixStream::connect(vm) {
                    connect_pair(client, server, shaping, seen.clone());
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(ACCEPT_POLL_MS)),
        }
    }
}

/// Two threads, one per direction; each shuts the other side down at its end.
fn connect_pair(client: UnixStream, server: UnixStream, shaping: Shaping, seen: Arc<Mutex<Seen>>) {
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        upstream(client, server, shaping, &seen);
    });
    std::thread::spawn(move || {
        downstream(server2, client2, shaping);
    });
}

/// Client to VM: each request is forwarded once complete (by 0.14's own
/// splitter), with [`BAD_INPUT`] before it when asked; ids are noted.
fn upstream(mut client: UnixStream, mut server: UnixStream, shaping: Shaping, seen: &Mutex<Seen>) {
    let mut framer = Framer::default();
    let mut pending = Vec::new();
    let mut requests = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            pending.push(b);
            if framer.feed(&[b]).is_empty() {
                continue;
            }
            if shaping.bad_input_before_requests && requests > 0 {
                let _ = server.write_all(BAD_INPUT);
            }
            requests += 1;
            note_id(&pending, seen);
            if server.write_all(&pending).is_err() {
                return;
            }
            pending.clear();
        }
    }
    let _ = server.shutdown(std::net::Shutdown::Write);
}

fn note_id(request: &[u8], seen: &Mutex<Seen>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(request.trim_ascii()) else {
        return;
    };
    let Ok(mut seen) = seen.lock() else {
        return;
    };
    match value.get("id") {
        None => seen.requests_without_id += 1,
        Some(id) => {
            let kind = json_type(id);
            if !seen.id_types.contains(&kind) {
                seen.id_types.push(kind);
            }
        }
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// VM to client: messages (lines) reshaped and written as asked.
fn downstream(mut server: UnixStream, mut client: UnixStream, shaping: Shaping) {
    let mut pending: Vec<u8> = Vec::new();
    let mut first = true;
    let mut buf = [0u8; 65536];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        for message in take_messages(&mut pending) {
            let shaped = shape(&message, shaping, first);
            first = false;
            if write_message(&mut client, &shaped, shaping.split_bytes).is_err() {
                return;
            }
        }
    }
    let _ = client.write_all(&pending);
    let _ = client.shutdown(std::net::Shutdown::Write);
}

/// Takes the complete messages (each ends with a newline) off the front of
/// `pending`. Past [`RELAY_MESSAGE_BYTES_MAX`] bytes without an end, what is
/// held goes on as one piece, unshaped, rather than growing without bound.
pub fn take_messages(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
        messages.push(pending.drain(..=end).collect());
    }
    if pending.len() > RELAY_MESSAGE_BYTES_MAX {
        messages.push(std::mem::take(pending));
    }
    messages
}

fn write_message(client: &mut UnixStream, message: &[u8], split: bool) -> std::io::Result<()> {
    if !split {
        return client.write_all(message);
    }
    for (i, b) in message.iter().enumerate() {
        client.write_all(std::slice::from_ref(b))?;
        if i == 0 {
            std::thread::sleep(Duration::from_millis(SPLIT_PAUSE_MS));
        }
    }
    Ok(())
}

/// One server message (a line with its `\r\n`) as the shaping wants it.
pub fn shape(line: &[u8], shaping: Shaping, greeting: bool) -> Vec<u8> {
    let greeting_changes = greeting && shaping.extra_capability;
    if !shaping.reverse_keys && !greeting_changes {
        return line.to_vec();
    }
    let Ok(mut value) = serde_json::from_slice::<Ordered>(line.trim_ascii()) else {
        return line.to_vec();
    };
    if greeting && shaping.extra_capability {
        add_capability(&mut value);
    }
    if shaping.reverse_keys {
        value.reverse_keys();
    }
    let mut out = value.to_json().into_bytes();
    out.extend_from_slice(b"\r\n");
    out
}

fn add_capability(greeting: &mut Ordered) {
    let Ordered::Object(members) = greeting else {
        return;
    };
    for (key, value) in members.iter_mut() {
        if key != "QMP" {
            continue;
        }
        if let Ordered::Object(qmp) = value {
            for (k, v) in qmp.iter_mut() {
                if let (true, Ordered::Array(caps)) = (k == "capabilities", v) {
                    caps.push(Ordered::Scalar(serde_json::Value::String(
                        EXTRA_CAPABILITY.to_owned(),
                    )));
                }
            }
        }
    }
}

/// A JSON value whose objects keep the order their keys were written in.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    /// null, a boolean, a number or a string.
    Scalar(serde_json::Value),
    /// An array.
    Array(Vec<Ordered>),
    /// An object, members in order.
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// Reverses the member order of every object, recursively.
    pub fn reverse_keys(&mut self) {
        match self {
            Ordered::Scalar(_) => {}
            Ordered::Array(items) => items.iter_mut().for_each(Ordered::reverse_keys),
            Ordered::Object(members) => {
                members.reverse();
                members.iter_mut().for_each(|(_, v)| v.reverse_keys());
            }
        }
    }

    /// The value in 0.14's spacing: `": "` after keys, `", "` between members.
    pub fn to_json(&self) -> String {
        match self {
            Ordered::Scalar(v) => v.to_string(),
            Ordered::Array(items) => {
                let inner: Vec<String> = items.iter().map(Ordered::to_json).collect();
                format!("[{}]", inner.join(", "))
            }
            Ordered::Object(members) => {
                let inner: Vec<String> = members
                    .iter()
                    .map(|(k, v)| {
                        format!("{}: {}", serde_json::Value::String(k.clone()), v.to_json())
                    })
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(serde_json::Value::Null))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(v.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
            members.push((k, v));
        }
        Ok(Ordered::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &[u8] = b"{\"return\": {\"running\": true, \"singlestep\": false}, \"id\": 1}\r\n";

    /// Shaping that only announces the extra capability.
    fn extra_capability() -> Shaping {
        Shaping {
            extra_capability: true,
            ..Shaping::default()
        }
    }

    #[test]
    fn shape_with_reverse_keys_reverses_every_object() {
        let shaping = Shaping {
            reverse_keys: true,
            ..Shaping::default()
        };
        assert_eq!(
            String::from_utf8(shape(REPLY, shaping, false)).unwrap(),
            "{\"id\": 1, \"return\": {\"singlestep\": false, \"running\": true}}\r\n"
        );
    }

    #[test]
    fn shape_without_changes_keeps_the_bytes() {
        assert_eq!(shape(REPLY, Shaping::default(), false), REPLY);
    }

    #[test]
    fn shape_greeting_with_extra_capability_announces_it() {
        let greeting = crate::wire::message::greeting("");
        let shaping = extra_capability();
        assert_eq!(
            String::from_utf8(shape(greeting.as_bytes(), shaping, true)).unwrap(),
            greeting.replace("[]", "[\"x-conformance\"]")
        );
    }

    #[test]
    fn shape_only_changes_the_greeting_once() {
        let greeting = crate::wire::message::greeting("");
        let shaping = extra_capability();
        assert_eq!(
            shape(greeting.as_bytes(), shaping, false),
            greeting.as_bytes()
        );
    }

    #[test]
    fn take_messages_splits_at_newlines_and_keeps_the_rest() {
        let mut pending = b"{\"a\": 1}\r\n{\"b\": 2}\r\n{\"c\"".to_vec();
        assert_eq!(
            (take_messages(&mut pending), pending),
            (
                vec![b"{\"a\": 1}\r\n".to_vec(), b"{\"b\": 2}\r\n".to_vec()],
                b"{\"c\"".to_vec()
            )
        );
    }

    #[test]
    fn take_messages_at_limit_holds_the_bytes() {
        let mut pending = vec![b' '; RELAY_MESSAGE_BYTES_MAX];
        assert!(take_messages(&mut pending).is_empty());
    }

    #[test]
    fn take_messages_past_limit_hands_them_on() {
        let mut pending = vec![b' '; RELAY_MESSAGE_BYTES_MAX + 1];
        assert_eq!(
            take_messages(&mut pending)
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [RELAY_MESSAGE_BYTES_MAX + 1]
        );
    }

    #[test]
    fn note_id_records_each_type_once() {
        let seen = Mutex::new(Seen::default());
        for request in [
            &b"{\"execute\":\"a\",\"id\":1}"[..],
            b"{\"execute\":\"b\",\"id\":\"x\"}",
            b"{\"execute\":\"c\",\"id\":2}",
            b"{\"execute\":\"d\"}",
        ] {
            note_id(request, &seen);
        }
        assert_eq!(
            seen.into_inner().unwrap(),
            Seen {
                id_types: vec!["number", "string"],
                requests_without_id: 1
            }
        );
    }
}
