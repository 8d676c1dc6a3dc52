//! The receiving end of `-incoming`: opens the channel the URI names, reads the
//! migration stream (`crate::migration_stream`) from a thread, and reports what
//! it read to the engine loop as inputs (`Input::IncomingPreamble`,
//! `Input::IncomingState`, `Input::IncomingFailed`). The engine decides
//! everything else, so a replay needs no channel: in particular an `exec:`
//! command runs only in live runs.
//!
//! Channels, as 0.14's `qemu_start_incoming_migration`: `tcp:HOST:PORT` and
//! `unix:PATH` listen and take one connection; `exec:CMD` runs `sh -c CMD` and
//! reads its stdout; `fd:N` reads descriptor N. `stdio` (a qmpsim extension)
//! reads stdin. A channel that cannot be opened stops the start with 0.14's
//! `Migration failed. Exit code URI(RET), exiting.` and exit status `RET`
//! (a negative errno, so the status is its low byte).

use std::fs::File;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};
use std::thread;

use super::{Event, EventSender};
use crate::engine::Input;
use crate::machine::display::inet_aton;
use crate::migration_stream::{StreamError, StreamReader};

/// `EINVAL`, 0.14's status for a bad `tcp:` address or a unix socket that
/// cannot be bound.
const EINVAL: i32 = 22;
/// `EPROTONOSUPPORT`, 0.14's status for an unknown protocol.
const EPROTONOSUPPORT: i32 = 93;

/// Why `-incoming` could not start: the lines 0.14 prints, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingStartError {
    /// What to print on stderr (newline-terminated lines).
    pub text: String,
    /// The process's exit status (0.14's `exit(ret)` with a negative `ret`).
    pub code: i32,
}

impl IncomingStartError {
    fn new(uri: &str, before: &str, ret: i32) -> Self {
        IncomingStartError {
            text: format!("{before}Migration failed. Exit code {uri}({ret}), exiting.\n"),
            code: ret & 0xff,
        }
    }

    fn os(uri: &str, before: &str, e: &io::Error) -> Self {
        Self::new(uri, before, -e.raw_os_error().unwrap_or(EINVAL))
    }
}

/// An opened channel, before its first byte is read.
enum Channel {
    Tcp(TcpListener),
    Unix(UnixListener),
    Exec(Child),
    Fd(File),
}

/// Opens the channel `uri` names and starts the thread that reads it.
pub fn start(uri: &str, events: EventSender) -> Result<(), IncomingStartError> {
    let channel = open(uri)?;
    thread::Builder::new()
        .name("incoming".to_owned())
        .spawn(move || receive(channel, &events))
        .map_err(|e| IncomingStartError::os(uri, "", &e))?;
    Ok(())
}

fn open(uri: &str) -> Result<Channel, IncomingStartError> {
    if let Some(rest) = uri.strip_prefix("tcp:") {
        let addr = tcp_addr(rest).ok_or_else(|| {
            IncomingStartError::new(
                uri,
                &format!("invalid host/port combination: {rest}\n"),
                -EINVAL,
            )
        })?;
        let listener = TcpListener::bind(addr).map_err(|e| IncomingStartError::os(uri, "", &e))?;
        return Ok(Channel::Tcp(listener));
    }
    if let Some(path) = uri.strip_prefix("exec:") {
        let child = Command::new("sh")
            .arg("-c")
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| IncomingStartError::os(uri, "", &e))?;
        return Ok(Channel::Exec(child));
    }
    if let Some(path) = uri.strip_prefix("unix:") {
        // 0.14 removes a stale socket file first.
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| {
            IncomingStartError::new(
                uri,
                &format!("bind(unix:{path}): {}\n", super::strerror(&e)),
                -EINVAL,
            )
        })?;
        return Ok(Channel::Unix(listener));
    }
    if let Some(n) = uri.strip_prefix("fd:") {
        return open_fd(uri, atoi_fd(n));
    }
    if uri == "stdio" {
        return open_fd(uri, 0);
    }
    Err(IncomingStartError::new(
        uri,
        &format!("unknown migration protocol: {uri}\n"),
        -EPROTONOSUPPORT,
    ))
}

/// 0.14's `strtol(infd, NULL, 0)`: leading digits only; none gives 0.
fn atoi_fd(s: &str) -> i32 {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(-1)
}

/// Takes descriptor `fd` over, if it is open (0.14's `fdopen` fails with
/// `EBADF` otherwise).
fn open_fd(uri: &str, fd: i32) -> Result<Channel, IncomingStartError> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(IncomingStartError::new(uri, "", -libc::EBADF));
    }
    // SAFETY: the descriptor is open and was handed to this process for the
    // migration; nothing else in qmpsim uses it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Channel::Fd(File::from(owned)))
}

/// 0.14's `parse_host_port`: an empty host is any address, a host starting
/// with a digit must be a dotted quad, other names are resolved.
fn tcp_addr(s: &str) -> Option<SocketAddr> {
    let (host, port) = s.split_once(':')?;
    let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
    let port: u16 = digits.parse().ok()?;
    if host.is_empty() {
        return Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    }
    if host.starts_with(|c: char| c.is_ascii_digit()) {
        return inet_aton(host).map(|a| SocketAddr::from((Ipv4Addr::from(a), port)));
    }
    (host, port)
        .to_socket_addrs()
        .ok()?
        .find(SocketAddr::is_ipv4)
}

/// The thread: takes the one connection, reads the stream, reports it.
fn receive(channel: Channel, events: &EventSender) {
    let report = |input: Input| events.send(Event::Incoming(input)).is_ok();
    let accepted: io::Result<(Box<dyn Read>, Option<Child>)> = match channel {
        Channel::Tcp(l) => l
            .accept()
            .map(|(s, _)| (Box::new(s) as Box<dyn Read>, None)),
        Channel::Unix(l) => l
            .accept()
            .map(|(s, _)| (Box::new(s) as Box<dyn Read>, None)),
        Channel::Exec(mut child) => match child.stdout.take() {
            Some(out) => Ok((Box::new(out) as Box<dyn Read>, Some(child))),
            None => Err(io::Error::other("no stdout pipe")),
        },
        Channel::Fd(f) => Ok((Box::new(f) as Box<dyn Read>, None)),
    };
    let (reader, child) = match accepted {
        Ok(x) => x,
        Err(e) => {
            report(Input::IncomingFailed {
                reason: format!("could not accept the migration connection: {e}"),
            });
            return;
        }
    };
    read_stream(reader, report);
    if let Some(mut child) = child {
        // Reap the command; its status changes nothing (0.14 ignores it too).
        let _ = child.wait();
    }
}

/// Reads one stream and reports it: the preamble, then the state or why not.
/// Stops early when the engine loop is gone.
pub fn read_stream(reader: impl Read, report: impl Fn(Input) -> bool) {
    let mut r = StreamReader::new(reader);
    let failed = |e: StreamError| Input::IncomingFailed {
        reason: error_text(&e),
    };
    let preamble = match r.read_preamble() {
        Ok(p) => p,
        Err(e) => {
            report(failed(e));
            return;
        }
    };
    let payload = preamble.payload_bytes();
    if !report(Input::IncomingPreamble { preamble }) {
        return;
    }
    let result = r.skip_payload(payload).and_then(|()| r.read_envelope());
    report(match result {
        Ok(snapshot) => Input::IncomingState { snapshot },
        Err(e) => failed(e),
    });
}

/// An error with its sources, `: `-separated.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::migration_stream::{encode, Preamble};

    fn preamble() -> Preamble {
        Preamble {
            ram_bytes: 4096,
            blocks: vec![],
            sections: vec![],
        }
    }

    fn inputs_of(bytes: &[u8]) -> Vec<Input> {
        let got = RefCell::new(Vec::new());
        read_stream(bytes, |i| {
            got.borrow_mut().push(i);
            true
        });
        got.into_inner()
    }

    #[test]
    fn whole_stream_gives_preamble_then_state() {
        assert_eq!(
            inputs_of(&encode(&preamble(), b"SNAP")),
            [
                Input::IncomingPreamble {
                    preamble: preamble()
                },
                Input::IncomingState {
                    snapshot: b"SNAP".to_vec()
                }
            ]
        );
    }

    #[test]
    fn cut_stream_gives_preamble_then_failure() {
        let bytes = encode(&preamble(), b"SNAP");
        assert_eq!(
            inputs_of(&bytes[..100])[1],
            Input::IncomingFailed {
                reason: format!(
                    "Migration stream ended after 100 of {} bytes",
                    bytes.len() - 12
                )
            }
        );
    }

    #[test]
    fn garbage_gives_one_failure() {
        assert_eq!(
            inputs_of(b"GET / HTTP/1.0\r\n\r\n......"),
            [Input::IncomingFailed {
                reason: "Not a qmpsim migration stream (bad magic)".into()
            }]
        );
    }

    #[test]
    fn unknown_protocol_exits_as_014() {
        assert_eq!(
            open("http:x").err(),
            Some(IncomingStartError {
                text: "unknown migration protocol: http:x\nMigration failed. Exit code http:x(-93), exiting.\n".into(),
                code: 163
            })
        );
    }

    #[test]
    fn bad_tcp_address_exits_as_014() {
        assert_eq!(open("tcp:999.1.1.1:4").err().map(|e| e.code), Some(234));
    }

    #[test]
    fn closed_fd_exits_with_ebadf() {
        assert_eq!(open("fd:987654").err().map(|e| e.code), Some(247));
    }

    #[test]
    fn tcp_addr_empty_host_is_any() {
        assert_eq!(
            tcp_addr(":4444"),
            Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 4444)))
        );
    }
}
