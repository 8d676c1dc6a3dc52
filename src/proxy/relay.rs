//! `qmpsim proxy`: a recording QMP proxy in front of any QMP server.
//!
//! Each client that connects to the proxy's listening socket gets its own
//! connection to the upstream server; bytes go both ways unchanged, with the
//! descriptors passed along them (`SCM_RIGHTS` in, `SCM_RIGHTS` out, on unix
//! sockets). Everything runs on one thread around one `mio` poll, as the
//! server's event loop does (`crate::server::event_loop`):
//!
//! 1. poll; note which sockets are readable or writable, accept new clients;
//! 2. read every readable socket once (at most [`RELAY_READ_BYTES_MAX`]), up to
//!    [`BATCH_EVENTS_MAX`] reads, recording each read as trace frames and
//!    queueing its bytes for the other side (a side whose peer holds
//!    [`OUTPUT_QUEUE_BYTES_MAX`] unsent bytes is not read: backpressure);
//! 3. commit: hand the turn's trace bytes to the kernel with one `write(2)`;
//! 4. only then write the queues to their sockets (write-ahead: nothing
//!    reaches a client, nor the server, before it is in the trace).
//!
//! The trace is an *observed* one (see
//! [`TraceKind::Observed`](crate::trace::format::TraceKind)): its header holds
//! the upstream's name, the wall-clock start and the server's greeting (the
//! first message of the first session, so the header is written once that
//! arrives; the frames before it wait in memory), and no engine config. Frames:
//! a `Connect` per client; an `AdvanceTo` with the wall-clock offset before
//! each client read; the client's bytes cut after each complete message (the
//! wire framer finds the ends); an `Fd` per descriptor the client passed; each
//! server message as `AdvanceTo` with one `Send`; a `Disconnect` when the pair
//! of connections is closed. Descriptors the server passes to a client are
//! forwarded, not recorded (the format has no frame for them).
//!
//! A client that hangs up has its upstream connection shut for writing once
//! its last bytes went through (the server sees end of stream and closes); a
//! server that hangs up, or dies, has its client's connection shut the same
//! way. A spawned server (`qmpsim proxy ... -- qemu-system-x86_64 ... -qmp
//! unix:{sock},server`) is started with `{sock}` replaced by a socket path in
//! a new folder; the proxy waits for that socket, then listens. When the server
//! exits, the proxy ends once its clients are gone, with the server's status.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Events, Interest, Poll, Token};

use super::listening::{accept_next, free_slot, listen, wait, Listening, LISTENER, SIGNALS};
use super::Address;
use crate::engine::{Input, Output};
use crate::machine::clock::VirtualTime;
use crate::qmp::session::{ClientId, FdHandle};
use crate::server::conn::{Conn, Stream};
use crate::server::fds::{recv_with_all_fds, send_with_fds};
use crate::server::listen::{unix_socket_listening, Listener};
use crate::server::queue::OUTPUT_QUEUE_BYTES_MAX;
use crate::server::record::{RecordError, TraceRecorder};
use crate::server::BATCH_EVENTS_MAX;
use crate::trace::format::ObservedSession;
use crate::trace::TraceHeader;
use crate::wire::framing::Framer;

/// Clients connected through the proxy at once; one more is closed unanswered
/// (each client holds an upstream connection and four descriptors).
pub const PROXY_CLIENTS_MAX: usize = 64;
/// Bytes one read from a client or server takes.
pub const RELAY_READ_BYTES_MAX: usize = 64 * 1024;
/// Longest wait for a spawned server's socket to appear.
pub const SPAWN_SOCKET_TIMEOUT_MS: u64 = 60_000;
/// Pause between looks for a spawned server's socket.
const SPAWN_POLL_MS: u64 = 10;

const FIRST_SIDE: usize = 2;

/// Where the proxy's server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// An address to connect to.
    Address(Address),
    /// A command to start; `{sock}` in its arguments becomes a unix socket
    /// path, the upstream.
    Spawn(Vec<OsString>),
}

/// What `qmpsim proxy` needs.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Where clients connect.
    pub listen: Address,
    /// The server.
    pub upstream: Upstream,
    /// The trace to write.
    pub record: PathBuf,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The trace file could not be opened or locked.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The listening socket could not be bound.
    #[error(
        "qmpsim proxy: --listen {address}: {}",
        crate::server::strerror(source)
    )]
    Listen {
        /// The address.
        address: Address,
        /// The OS error.
        source: io::Error,
    },
    /// The server could not be started.
    #[error(
        "qmpsim proxy: could not start {program}: {}",
        crate::server::strerror(source)
    )]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The spawned server's command line has no `{sock}`.
    #[error("qmpsim proxy: the server's command line has no {{sock}} (for example -qmp unix:{{sock}},server)")]
    NoSocketPlaceholder,
    /// The spawned server exited before its socket appeared.
    #[error("qmpsim proxy: the server exited with status {code} before its socket appeared")]
    ServerExited {
        /// Its exit status.
        code: i32,
    },
    /// The spawned server's socket did not appear in time.
    #[error("qmpsim proxy: the server's socket {} did not appear within {SPAWN_SOCKET_TIMEOUT_MS} ms", path.display())]
    SocketTimeout {
        /// The socket path.
        path: PathBuf,
    },
    /// Other start-up I/O (the poll, the signals, a temporary folder).
    #[error("qmpsim proxy: {}", crate::server::strerror(.0))]
    Io(#[from] io::Error),
}

/// Bytes (and descriptors passed with their first byte) waiting for a socket.
#[derive(Debug)]
pub(super) struct Chunk {
    data: Vec<u8>,
    fds: Vec<OwnedFd>,
    sent: usize,
}

/// One socket of a pair.
#[derive(Debug)]
pub(super) struct Side {
    pub(super) stream: Stream,
    unix: bool,
    queue: VecDeque<Chunk>,
    pub(super) queued_bytes: usize,
    pub(super) readable: bool,
    /// End of stream (or an error) was read: nothing more comes from it.
    pub(super) eof: bool,
    /// Shut for writing, after the peer's end of stream.
    pub(super) shut: bool,
    /// A write failed: nothing more goes to it.
    pub(super) broken: bool,
}

impl Side {
    pub(super) fn new(conn: Conn) -> io::Result<Side> {
        let unix = matches!(conn, Conn::Unix(_));
        let stream = Stream::from_conn(conn)?.ok_or_else(|| io::Error::other("not a socket"))?;
        Ok(Side {
            stream,
            unix,
            queue: VecDeque::new(),
            queued_bytes: 0,
            readable: false,
            eof: false,
            shut: false,
            broken: false,
        })
    }

    fn raw_fd(&self) -> RawFd {
        match &self.stream {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }

    /// One read: the bytes and descriptors, `None` when nothing waits.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
        let got = if self.unix {
            recv_with_all_fds(self.raw_fd(), buf)
        } else {
            self.stream.read_chunk(buf).map(|(n, _)| (n, Vec::new()))
        };
        match got {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn push(&mut self, data: Vec<u8>, fds: Vec<OwnedFd>) {
        if self.broken {
            return;
        }
        self.queued_bytes += data.len();
        self.queue.push_back(Chunk { data, fds, sent: 0 });
    }

    /// Writes what the socket takes now; descriptors go with a chunk's first
    /// byte.
    pub(super) fn flush(&mut self) {
        while let Some(chunk) = self.queue.front_mut() {
            if self.broken {
                break;
            }
            let rest = &chunk.data[chunk.sent..];
            let written = if chunk.fds.is_empty() || chunk.sent > 0 {
                self.stream.write_some(rest)
            } else {
                let raw: Vec<RawFd> = chunk.fds.iter().map(AsRawFd::as_raw_fd).collect();
                let fd = match &self.stream {
                    Stream::Unix(s) => s.as_raw_fd(),
                    Stream::Tcp(s) => s.as_raw_fd(),
                };
                send_with_fds(fd, rest, &raw)
            };
            match written {
                Ok(0) => self.broken = true,
                Ok(n) => {
                    chunk.sent += n;
                    chunk.fds.clear();
                    self.queued_bytes -= n;
                    if chunk.sent == chunk.data.len() {
                        self.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.broken = true,
            }
        }
        if self.broken {
            self.queue.clear();
            self.queued_bytes = 0;
        }
    }

    pub(super) fn drained(&self) -> bool {
        self.queue.is_empty() || self.broken
    }

    pub(super) fn shut_write(&mut self) {
        if !self.shut {
            self.shut = true;
            let fd = self.raw_fd();
            // SAFETY: shutdown on a descriptor this side owns.
            unsafe {
                libc::shutdown(fd, libc::SHUT_WR);
            }
        }
    }
}

/// A client and its upstream connection.
#[derive(Debug)]
struct Pair {
    client: ClientId,
    /// Toward the client.
    down: Side,
    /// Toward the server.
    up: Side,
    /// Finds where the client's messages end.
    framer: Framer,
    /// Whether the server's first message (its greeting) has come.
    greeted: bool,
}

impl Pair {
    fn side(&mut self, up: bool) -> &mut Side {
        if up {
            &mut self.up
        } else {
            &mut self.down
        }
    }

    /// Both ways are over: each side's end of stream came and went through.
    fn finished(&self) -> bool {
        let client_done =
            (self.down.eof || self.down.broken) && (self.up.drained() || self.up.shut);
        let server_done =
            (self.up.eof || self.up.broken) && (self.down.drained() || self.down.shut);
        (client_done && server_done)
            || (self.down.broken && self.up.eof)
            || (self.up.broken && self.down.eof)
    }
}

/// The observed trace, write-ahead; frames before the header wait in memory.
#[derive(Debug)]
struct Observer {
    recorder: TraceRecorder,
    upstream: String,
    started: Instant,
    started_unix_ms: u64,
    before_header: Vec<(Input, Vec<Output>)>,
    failed: bool,
    next_fd: u64,
}

impl Observer {
    fn now(&self) -> VirtualTime {
        let ns = self.started.elapsed().as_nanos();
        VirtualTime(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    fn step(&mut self, input: Input, outputs: Vec<Output>) {
        if self.failed {
            return;
        }
        if !self.recorder.has_header() {
            self.before_header.push((input, outputs));
            return;
        }
        if let Err(e) = self.recorder.record_step(&input, &outputs) {
            self.fail(&e);
        }
    }

    fn begin(&mut self, greeting: &[u8]) {
        if self.recorder.has_header() {
            return;
        }
        let header = TraceHeader::observed(ObservedSession {
            upstream: self.upstream.clone(),
            greeting: greeting.to_vec(),
            started_unix_ms: self.started_unix_ms,
        })
        .with_notes("recorded by qmpsim proxy");
        if let Err(e) = self.recorder.begin(&header) {
            self.fail(&io::Error::other(e.to_string()));
            return;
        }
        for (input, outputs) in std::mem::take(&mut self.before_header) {
            self.step(input, outputs);
        }
    }

    fn commit(&mut self) {
        use crate::server::Recorder;
        if self.failed || !self.recorder.has_header() {
            return;
        }
        if let Err(e) = self.recorder.commit() {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &io::Error) {
        eprintln!("qmpsim proxy: recording stopped: {e}");
        self.failed = true;
    }

    fn finish(&mut self) {
        if self.failed {
            return;
        }
        self.begin(b"");
        if let Err(e) = self.recorder.finish_steps("") {
            self.fail(&e);
        }
    }
}

/// A spawned server.
#[derive(Debug)]
struct Spawned {
    child: Child,
    /// The folder of its socket, removed at the end.
    _dir: SocketDir,
    status: Option<i32>,
}

/// The proxy's state.
struct Relay {
    poll: Poll,
    listener: Listener,
    upstream: Address,
    pairs: Vec<Option<Pair>>,
    live: usize,
    last_client: u32,
    observer: Observer,
    spawned: Option<Spawned>,
    signals: signal_hook_mio::v1_0::Signals,
    stop: bool,
    buf: Vec<u8>,
}

/// Runs `qmpsim proxy` until SIGINT/SIGTERM (or the spawned server's exit and
/// its clients' departure); returns the exit status.
pub fn run(options: &ProxyOptions) -> Result<i32, ProxyError> {
    let recorder = TraceRecorder::open_deferred(&options.record)?;
    let (upstream, spawned, name) = match &options.upstream {
        Upstream::Address(a) => (a.clone(), None, a.to_string()),
        Upstream::Spawn(argv) => {
            let (address, spawned) = spawn(argv)?;
            let name = argv
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ");
            (address, Some(spawned), name)
        }
    };
    let Listening {
        poll,
        listener,
        signals,
    } = {
        use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
        listen(
            &options.listen,
            &[SIGINT, SIGTERM, SIGHUP, SIGCHLD],
            |source| ProxyError::Listen {
                address: options.listen.clone(),
                source,
            },
        )?
    };
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut relay = Relay {
        poll,
        listener,
        upstream,
        pairs: Vec::new(),
        live: 0,
        last_client: 0,
        observer: Observer {
            recorder,
            upstream: name,
            started: Instant::now(),
            started_unix_ms,
            before_header: Vec::new(),
            failed: false,
            next_fd: 0,
        },
        spawned,
        signals,
        stop: false,
        buf: vec![0; RELAY_READ_BYTES_MAX],
    };
    eprintln!(
        "qmpsim proxy: listening on {}, upstream {}, recording to {}",
        options.listen,
        relay.observer.upstream,
        options.record.display()
    );
    let code = relay.run();
    if let Some(path) = options.listen.socket_file() {
        let _ = std::fs::remove_file(path);
    }
    Ok(code)
}

/// Starts the server with `{sock}` replaced, and waits for its socket.
fn spawn(argv: &[OsString]) -> Result<(Address, Spawned), ProxyError> {
    let dir = SocketDir::create()?;
    let sock = dir.0.join("upstream.sock");
    let mut found = false;
    let args: Vec<OsString> = argv
        .iter()
        .map(|a| {
            let text = a.to_string_lossy();
            if text.contains("{sock}") {
                found = true;
                OsString::from(text.replace("{sock}", &sock.display().to_string()))
            } else {
                a.clone()
            }
        })
        .collect();
    if !found {
        return Err(ProxyError::NoSocketPlaceholder);
    }
    let program = args[0].to_string_lossy().into_owned();
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .spawn()
        .map_err(|source| ProxyError::Spawn {
            program: program.clone(),
            source,
        })?;
    let deadline = Instant::now() + Duration::from_millis(SPAWN_SOCKET_TIMEOUT_MS);
    loop {
        if unix_socket_listening(&sock) == Some(true) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            return Err(ProxyError::ServerExited {
                code: exit_code(status),
            });
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ProxyError::SocketTimeout { path: sock });
        }
        std::thread::sleep(Duration::from_millis(SPAWN_POLL_MS));
    }
    Ok((
        Address::Unix(sock),
        Spawned {
            child,
            _dir: dir,
            status: None,
        },
    ))
}

/// The spawned server's socket folder (in the temporary folder, named by the
/// proxy's pid), removed with everything in it when dropped.
#[derive(Debug)]
struct SocketDir(PathBuf);

impl SocketDir {
    fn create() -> io::Result<SocketDir> {
        let dir = std::env::temp_dir().join(format!("qmpsim-proxy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir)?;
        Ok(SocketDir(dir))
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process's status as a shell gives it (128 + signal when killed).
pub(super) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("upstream", &self.upstream)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Relay {
    fn run(&mut self) -> i32 {
        let mut events = Events::with_capacity(1024);
        loop {
            let busy = self
                .pairs
                .iter()
                .flatten()
                .any(|p| (p.down.readable && !p.down.eof) || (p.up.readable && !p.up.eof));
            let timeout = busy.then_some(Duration::ZERO);
            let report = |e: &io::Error| eprintln!("qmpsim proxy: poll: {e}");
            if !wait(&mut self.poll, &mut events, timeout, report) {
                break;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    SIGNALS => self.signals(),
                    token => self.ready(token, event.is_readable(), event.is_writable()),
                }
            }
            self.read_turn();
            self.observer.commit();
            self.flush_all();
            self.close_finished();
            if self.stop || self.server_gone() {
                break;
            }
        }
        self.end()
    }

    /// The spawned server exited and every client left.
    fn server_gone(&self) -> bool {
        self.spawned.as_ref().is_some_and(|s| s.status.is_some()) && self.live == 0
    }

    fn end(&mut self) -> i32 {
        for index in 0..self.pairs.len() {
            if self.pairs[index].is_some() {
                self.close(index);
            }
        }
        self.observer.finish();
        let mut code = 0;
        if let Some(s) = &mut self.spawned {
            if s.status.is_none() {
                // SAFETY: kill on the pid of a child this process started and
                // has not reaped.
                unsafe {
                    libc::kill(
                        i32::try_from(s.child.id()).unwrap_or(i32::MAX),
                        libc::SIGTERM,
                    );
                }
                s.status = s.child.wait().ok().map(exit_code);
            }
            code = s.status.unwrap_or(0);
            eprintln!("qmpsim proxy: the server exited with status {code}");
        }
        if self.observer.failed {
            return 1;
        }
        code
    }

    fn signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for signal in pending {
            if signal == signal_hook::consts::SIGCHLD {
                if let Some(s) = &mut self.spawned {
                    if let Ok(Some(status)) = s.child.try_wait() {
                        s.status = Some(exit_code(status));
                    }
                }
            } else {
                self.stop = true;
            }
        }
    }

    fn accept(&mut self) {
        while let Some(conn) =
            accept_next(&self.listener, |e| eprintln!("qmpsim proxy: accept: {e}"))
        {
            if self.live >= PROXY_CLIENTS_MAX {
                eprintln!(
                    "qmpsim proxy: {PROXY_CLIENTS_MAX} clients already connected; closing a new one"
                );
                continue;
            }
            if let Err(e) = self.link(conn) {
                eprintln!(
                    "qmpsim proxy: upstream {}: {}",
                    self.upstream,
                    crate::server::strerror(&e)
                );
            }
        }
    }

    /// Connects a new client to its own upstream connection.
    fn link(&mut self, conn: Conn) -> io::Result<()> {
        let up_conn = self.upstream.connect()?;
        if let Conn::Tcp(s) = &conn {
            let _ = s.set_nodelay(true);
        }
        let mut down = Side::new(conn)?;
        let mut up = Side::new(up_conn)?;
        let index = free_slot(&mut self.pairs);
        let registry = self.poll.registry();
        let both = Interest::READABLE | Interest::WRITABLE;
        registry.register(down.stream.source(), token(index, false), both)?;
        if let Err(e) = registry.register(up.stream.source(), token(index, true), both) {
            let _ = registry.deregister(down.stream.source());
            return Err(e);
        }
        down.readable = true;
        up.readable = true;
        self.last_client += 1;
        let client = ClientId(self.last_client);
        let at = self.observer.now();
        self.observer.step(Input::AdvanceTo { at }, Vec::new());
        self.observer
            .step(Input::Connect { client, monitor: 0 }, Vec::new());
        self.pairs[index] = Some(Pair {
            client,
            down,
            up,
            framer: Framer::new(),
            greeted: false,
        });
        self.live += 1;
        Ok(())
    }

    fn ready(&mut self, token: Token, readable: bool, writable: bool) {
        let Some((index, up)) = slot(token) else {
            return;
        };
        let Some(pair) = self.pairs.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let side = pair.side(up);
        if readable {
            side.readable = true;
        }
        if writable {
            side.flush();
        }
    }

    /// One read from every readable side whose peer is not backed up, at most
    /// [`BATCH_EVENTS_MAX`] in all.
    fn read_turn(&mut self) {
        let mut reads = 0;
        for index in 0..self.pairs.len() {
            for up in [false, true] {
                if reads >= BATCH_EVENTS_MAX {
                    return;
                }
                if self.read_side(index, up) {
                    reads += 1;
                }
            }
        }
    }

    /// Reads once from one side; true when it read something (or its end).
    fn read_side(&mut self, index: usize, up: bool) -> bool {
        let Some(pair) = self.pairs[index].as_mut() else {
            return false;
        };
        // Backpressure: the same bound as a qmpsim client's output queue.
        let peer_full = pair.side(!up).queued_bytes >= OUTPUT_QUEUE_BYTES_MAX;
        let side = pair.side(up);
        if !side.readable || side.eof || peer_full {
            return false;
        }
        let (n, fds) = match side.read(&mut self.buf) {
            Ok(Some(got)) => got,
            Ok(None) => {
                side.readable = false;
                return false;
            }
            Err(_) => (0, Vec::new()),
        };
        if n == 0 {
            side.eof = true;
            side.readable = false;
            return true;
        }
        let data = self.buf[..n].to_vec();
        let at = self.observer.now();
        if up {
            record_server(&mut self.observer, pair, at, &data);
            pair.down.push(data, fds);
        } else {
            record_client(&mut self.observer, pair, at, &data, fds.len());
            pair.up.push(data, fds);
        }
        true
    }

    fn flush_all(&mut self) {
        for pair in self.pairs.iter_mut().flatten() {
            pair.up.flush();
            pair.down.flush();
            // An end of stream goes through once everything before it did.
            if pair.down.eof && pair.up.drained() {
                pair.up.shut_write();
            }
            if pair.up.eof && pair.down.drained() {
                pair.down.shut_write();
            }
        }
    }

    fn close_finished(&mut self) {
        for index in 0..self.pairs.len() {
            if self.pairs[index].as_ref().is_some_and(Pair::finished) {
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        let Some(mut pair) = self.pairs[index].take() else {
            return;
        };
        let registry = self.poll.registry();
        let _ = registry.deregister(pair.down.stream.source());
        let _ = registry.deregister(pair.up.stream.source());
        self.observer.step(
            Input::Disconnect {
                client: pair.client,
            },
            Vec::new(),
        );
        self.live -= 1;
    }
}

/// A client read as frames: the time, its descriptors, its bytes cut after
/// each complete message (with the whitespace that follows it in the read).
fn record_client(
    observer: &mut Observer,
    pair: &mut Pair,
    at: VirtualTime,
    data: &[u8],
    fds: usize,
) {
    let client = pair.client;
    observer.step(Input::AdvanceTo { at }, Vec::new());
    for _ in 0..fds {
        observer.next_fd += 1;
        let fd = FdHandle(observer.next_fd);
        observer.step(Input::Fd { client, fd }, Vec::new());
    }
    let mut start = 0;
    let mut frames = Vec::new();
    while start < data.len() {
        let mut end = start + pair.framer.feed_until_frame(&data[start..], &mut frames);
        if !frames.is_empty() {
            frames.clear();
            while data.get(end).is_some_and(u8::is_ascii_whitespace) {
                pair.framer.feed(&data[end..=end]);
                end += 1;
            }
        }
        observer.step(Input::bytes(client, &data[start..end]), Vec::new());
        start = end;
    }
}

/// A server read as frames: each message (cut after its line end; the rest of
/// the read as one more) at the read's time. The first message of the first
/// session is the header's greeting.
fn record_server(observer: &mut Observer, pair: &mut Pair, at: VirtualTime, data: &[u8]) {
    let client = pair.client;
    for piece in data.split_inclusive(|b| *b == b'\n') {
        if !pair.greeted {
            pair.greeted = true;
            observer.begin(piece);
        }
        observer.step(
            Input::AdvanceTo { at },
            vec![Output::Send {
                client,
                data: piece.to_vec(),
            }],
        );
    }
}

fn token(index: usize, up: bool) -> Token {
    Token(FIRST_SIDE + index * 2 + usize::from(up))
}

fn slot(token: Token) -> Option<(usize, bool)> {
    let n = token.0.checked_sub(FIRST_SIDE)?;
    Some((n / 2, n % 2 == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_back_to_their_side() {
        assert_eq!(
            [token(0, false), token(0, true), token(5, true)].map(slot),
            [Some((0, false)), Some((0, true)), Some((5, true))]
        );
    }

    /// The sizes of the first two reads of a side after `len` bytes were sent
    /// to it and the sender closed.
    fn first_two_reads(len: usize) -> (usize, usize) {
        use std::io::Write;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.write_all(&vec![b'x'; len]).unwrap();
        drop(a);
        let mut side = Side::new(Conn::Unix(b)).unwrap();
        let mut buf = vec![0u8; RELAY_READ_BYTES_MAX];
        let mut next = || side.read(&mut buf).unwrap().map_or(0, |(n, _)| n);
        (next(), next())
    }

    #[test]
    fn read_at_read_limit_takes_everything_at_once() {
        assert_eq!(
            first_two_reads(RELAY_READ_BYTES_MAX),
            (RELAY_READ_BYTES_MAX, 0)
        );
    }

    #[test]
    fn read_past_read_limit_takes_two_reads() {
        assert_eq!(
            first_two_reads(RELAY_READ_BYTES_MAX + 1),
            (RELAY_READ_BYTES_MAX, 1)
        );
    }

    #[test]
    fn reserved_tokens_are_no_side() {
        assert_eq!([LISTENER, SIGNALS].map(slot), [None, None]);
    }
}
