//! The receiving end of `-incoming`: opens the channel the URI names, reads the
//! migration stream (`crate::migration_stream`) on the event loop, and gives
//! what it read to the engine as inputs (`Input::IncomingPreamble`,
//! `Input::IncomingState`, `Input::IncomingFailed`). The engine decides
//! everything else, so a replay needs no channel: in particular an `exec:`
//! command runs only in live runs.
//!
//! On the loop: the listener (`tcp:`, `unix:`) and then its one connection,
//! or an `exec:` command's stdout, are non-blocking and under the poll; each
//! readiness reads at most [`INCOMING_TURN_BYTES_MAX`] (then the channel is
//! re-armed, so clients are served between the pieces of a large stream) and
//! feeds a [`StreamFeeder`], which gives the same inputs whatever the pieces.
//! A descriptor from the parent (`fd:N`, `stdio`) is read by a thread
//! instead, through the same feeder: its open file may be a regular file the
//! poll cannot watch, or shared with other processes, which making it
//! non-blocking would disturb. The `exec:` command is reaped by a thread once
//! its stream ends (0.14 ignores its status too).
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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};
use std::thread;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::{set_nonblocking, Event, EventSender};
use crate::engine::Input;
use crate::machine::display::inet_aton;
use crate::migration_stream::{self, Fed, StreamError, StreamFeeder};

/// Most stream bytes read for one readiness of the channel.
pub const INCOMING_TURN_BYTES_MAX: usize = 1 << 20;
/// Bytes read at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

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

/// The incoming migration, as the loop drives it.
#[derive(Debug)]
pub struct Incoming {
    state: State,
    feeder: StreamFeeder,
    /// The poll watches it, with this token.
    token: Option<Token>,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum State {
    /// Waiting for the one connection.
    Tcp(TcpListener),
    Unix(UnixListener),
    /// Reading the stream; an `exec:` command to reap at its end.
    Reading {
        from: File,
        child: Option<Child>,
    },
    /// A descriptor from the parent (`fd:`, `stdio`): its open file may be
    /// shared with other processes, so it is not made non-blocking; a thread
    /// reads it.
    Inherited(File),
    /// Read to its end, failed, or handed to a thread.
    Over,
}

/// Opens the channel `uri` names; the loop then watches it
/// ([`Incoming::watch`]) and reads it ([`Incoming::ready`]).
pub fn start(uri: &str) -> Result<Incoming, IncomingStartError> {
    let state = match open(uri)? {
        Channel::Tcp(l) => {
            l.set_nonblocking(true)
                .map_err(|e| IncomingStartError::os(uri, "", &e))?;
            State::Tcp(l)
        }
        Channel::Unix(l) => {
            l.set_nonblocking(true)
                .map_err(|e| IncomingStartError::os(uri, "", &e))?;
            State::Unix(l)
        }
        Channel::Exec(mut child) => match child.stdout.take() {
            Some(out) => State::Reading {
                from: File::from(OwnedFd::from(out)),
                child: Some(child),
            },
            None => return Err(IncomingStartError::new(uri, "", -EINVAL)),
        },
        Channel::Fd(f) => State::Inherited(f),
    };
    Ok(Incoming {
        state,
        feeder: StreamFeeder::new(),
        token: None,
        buf: vec![0; READ_CHUNK_BYTES],
    })
}

impl Incoming {
    /// Puts the channel under the poll with `token`; returns `false` when
    /// the loop has nothing to watch: a descriptor from the parent is handed
    /// to a thread that reads it through the same feeder and reports on
    /// `events`.
    pub fn watch(&mut self, registry: &Registry, token: Token, events: &EventSender) -> bool {
        if matches!(self.state, State::Inherited(_)) {
            let State::Inherited(from) = std::mem::replace(&mut self.state, State::Over) else {
                unreachable!("matched above");
            };
            let events = events.clone();
            let _ = thread::Builder::new()
                .name("incoming".to_owned())
                .spawn(move || {
                    read_stream(from, |input| events.send(Event::Incoming(input)).is_ok());
                });
            return false;
        }
        let fd = match &self.state {
            State::Tcp(l) => l.as_raw_fd(),
            State::Unix(l) => l.as_raw_fd(),
            State::Reading { from, .. } => {
                set_nonblocking(from, true);
                from.as_raw_fd()
            }
            State::Inherited(_) | State::Over => return false,
        };
        match registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
            Ok(()) => {
                self.token = Some(token);
                true
            }
            Err(e) => {
                let _ = events.send(Event::Incoming(Input::IncomingFailed {
                    reason: format!("could not watch the migration channel: {e}"),
                }));
                self.state = State::Over;
                false
            }
        }
    }

    /// The channel is ready: accepts the connection, or reads at most
    /// [`INCOMING_TURN_BYTES_MAX`] of the stream. Returns the inputs for the
    /// engine and whether the poll no longer watches the channel (its token is
    /// free).
    pub fn ready(&mut self, registry: &Registry) -> (Vec<Input>, bool) {
        let Some(token) = self.token else {
            return (Vec::new(), false);
        };
        let accepted = match &self.state {
            State::Tcp(l) => Some(l.accept().map(|(s, _)| File::from(OwnedFd::from(s)))),
            State::Unix(l) => Some(l.accept().map(|(s, _)| File::from(OwnedFd::from(s)))),
            _ => None,
        };
        match accepted {
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return (Vec::new(), false),
            Some(Err(e)) => {
                return self.over(
                    registry,
                    vec![Input::IncomingFailed {
                        reason: format!("could not accept the migration connection: {e}"),
                    }],
                );
            }
            Some(Ok(from)) => {
                // 0.14 closes the listening socket once it has its connection.
                self.deregister(registry);
                set_nonblocking(&from, true);
                self.state = State::Reading { from, child: None };
                let fd = self.fd();
                if let Err(e) = registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
                    return self.over(
                        registry,
                        vec![Input::IncomingFailed {
                            reason: format!("could not watch the migration connection: {e}"),
                        }],
                    );
                }
                self.token = Some(token);
            }
            None => {}
        }
        self.read(registry)
    }

    /// Reads what the channel has, up to the turn's limit.
    fn read(&mut self, registry: &Registry) -> (Vec<Input>, bool) {
        let State::Reading { from, .. } = &mut self.state else {
            return (Vec::new(), false);
        };
        let mut inputs = Vec::new();
        let mut taken = 0;
        let mut ended = false;
        while taken < INCOMING_TURN_BYTES_MAX && !self.feeder.is_over() {
            let room = (INCOMING_TURN_BYTES_MAX - taken).min(self.buf.len());
            match from.read(&mut self.buf[..room]) {
                Ok(0) => {
                    inputs.extend(self.feeder.end().map(|e| failed(&e)));
                    ended = true;
                }
                Ok(n) => {
                    taken += n;
                    inputs.extend(self.feeder.feed(&self.buf[..n]).into_iter().map(to_input));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (inputs, false),
                Err(e) => {
                    inputs.push(failed(&StreamError::Io(e)));
                    ended = true;
                }
            }
            if ended {
                break;
            }
        }
        if self.feeder.is_over() || ended {
            return self.over(registry, inputs);
        }
        // The turn's share is read and more may wait: re-arming makes the
        // poll report the channel again if it is still readable.
        let fd = self.fd();
        if let Some(token) = self.token {
            let _ = registry.reregister(&mut SourceFd(&fd), token, Interest::READABLE);
        }
        (inputs, false)
    }

    fn fd(&self) -> i32 {
        match &self.state {
            State::Tcp(l) => l.as_raw_fd(),
            State::Unix(l) => l.as_raw_fd(),
            State::Reading { from, .. } | State::Inherited(from) => from.as_raw_fd(),
            State::Over => -1,
        }
    }

    fn deregister(&mut self, registry: &Registry) {
        let fd = self.fd();
        if self.token.take().is_some() && fd >= 0 {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
    }

    /// The stream is over: closes the channel and reaps an `exec:` command.
    fn over(&mut self, registry: &Registry, inputs: Vec<Input>) -> (Vec<Input>, bool) {
        self.deregister(registry);
        if let State::Reading {
            child: Some(child), ..
        } = std::mem::replace(&mut self.state, State::Over)
        {
            let _ = thread::Builder::new()
                .name("incoming-reap".to_owned())
                .spawn(move || reap(Some(child)));
        }
        (inputs, true)
    }
}

/// Waits for an `exec:` command; its status changes nothing (0.14 ignores it too).
fn reap(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.wait();
    }
}

fn to_input(item: Result<Fed, StreamError>) -> Input {
    match item {
        Ok(Fed::Preamble(preamble)) => Input::IncomingPreamble { preamble },
        Ok(Fed::Envelope(snapshot)) => Input::IncomingState { snapshot },
        Err(e) => failed(&e),
    }
}

fn failed(e: &StreamError) -> Input {
    Input::IncomingFailed {
        reason: crate::replay::corpus::error_chain(e),
    }
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

/// Reads one stream and reports it: the preamble, then the state or why not.
/// Stops early when the engine loop is gone.
pub fn read_stream(reader: impl Read, report: impl Fn(Input) -> bool) {
    migration_stream::read_all(reader, |item| report(to_input(item)));
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

    /// `-incoming unix:DIR/in.sock` under a poll, a source connected to it, and
    /// the poll's events (the loop's part in these tests).
    fn incoming_unix(
        dir: &tempfile::TempDir,
    ) -> (
        Incoming,
        mio::Poll,
        std::os::unix::net::UnixStream,
        EventSender,
    ) {
        let path = dir.path().join("in.sock");
        let mut stream = start(&format!("unix:{}", path.display())).unwrap();
        let poll = mio::Poll::new().unwrap();
        let (tx, _rx) = crate::server::event_channel().unwrap();
        assert!(stream.watch(poll.registry(), Token(7), &tx));
        let source = std::os::unix::net::UnixStream::connect(&path).unwrap();
        (stream, poll, source, tx)
    }

    /// Polls and reads until the stream is over; returns the inputs and the
    /// bytes each readiness took from the feeder's count.
    fn drive(stream: &mut Incoming, poll: &mut mio::Poll) -> (Vec<Input>, Vec<u64>) {
        let mut events = mio::Events::with_capacity(8);
        let (mut inputs, mut turns) = (Vec::new(), Vec::new());
        loop {
            poll.poll(&mut events, Some(std::time::Duration::from_secs(30)))
                .unwrap();
            assert!(!events.is_empty(), "the poll never reported the channel");
            for _ in events.iter() {
                let before = stream.feeder.received();
                let (got, over) = stream.ready(poll.registry());
                turns.push(stream.feeder.received() - before);
                inputs.extend(got);
                if over {
                    return (inputs, turns);
                }
            }
        }
    }

    #[test]
    fn unix_stream_read_on_the_poll_gives_preamble_then_state() {
        let dir = tempfile::tempdir().unwrap();
        let (mut stream, mut poll, mut source, _tx) = incoming_unix(&dir);
        let bytes = encode(&preamble(), b"SNAP");
        let writer = thread::spawn(move || {
            use std::io::Write;
            for piece in bytes.chunks(333) {
                source.write_all(piece).unwrap();
            }
        });
        let (inputs, _) = drive(&mut stream, &mut poll);
        writer.join().unwrap();
        assert_eq!(inputs, inputs_of(&encode(&preamble(), b"SNAP")));
    }

    #[test]
    fn one_readiness_reads_at_most_the_turn_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut stream, mut poll, mut source, _tx) = incoming_unix(&dir);
        // A payload of three turns' worth, written by a thread as it is read.
        let big = Preamble {
            ram_bytes: 3 * INCOMING_TURN_BYTES_MAX as u64,
            blocks: vec![],
            sections: vec![],
        };
        let bytes = encode(&big, b"SNAP");
        let total = bytes.len() as u64;
        let writer = thread::spawn(move || {
            use std::io::Write;
            source.write_all(&bytes).unwrap();
        });
        let (inputs, turns) = drive(&mut stream, &mut poll);
        writer.join().unwrap();
        assert_eq!(turns.iter().sum::<u64>(), total);
        assert!(
            turns.iter().all(|&t| t <= INCOMING_TURN_BYTES_MAX as u64),
            "{turns:?}"
        );
        assert!(
            turns.len() > 3,
            "a stream past three limits takes more than three turns"
        );
        assert_eq!(
            inputs.last(),
            Some(&Input::IncomingState {
                snapshot: b"SNAP".to_vec()
            })
        );
    }

    #[test]
    fn source_that_hangs_up_early_gives_a_truncated_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (mut stream, mut poll, mut source, _tx) = incoming_unix(&dir);
        let bytes = encode(&preamble(), b"SNAP");
        {
            use std::io::Write;
            source.write_all(&bytes[..100]).unwrap();
        }
        drop(source);
        let (inputs, _) = drive(&mut stream, &mut poll);
        assert_eq!(inputs, inputs_of(&bytes[..100]));
    }

    #[test]
    fn tcp_addr_empty_host_is_any() {
        assert_eq!(
            tcp_addr(":4444"),
            Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 4444)))
        );
    }
}
