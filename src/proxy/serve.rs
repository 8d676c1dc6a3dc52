//! `qmpsim serve`: a mock QMP server that plays a trace's server side back.
//!
//! The trace is read into tapes ([`super::tape`]); the k-th client to connect
//! plays the k-th recorded session. It gets the recorded greeting (and any
//! message the server sent before the first request); then, for each request
//! it sends, the request is compared with the recorded one
//! ([`super::matching`]), and the recorded reply and the events around it are
//! sent in the recorded order: at once (`--pace instant`), or each after its
//! recorded delay from the request (`--pace recorded`, the default).
//!
//! The first request that does not match gets a QMP error whose `desc` gives
//! the expected and the actual request, and a divergence report on stderr (the
//! session, the request's number, its trace frame, both requests and a JSON
//! diff). The recorded request counts as used, so the rest of the session stays
//! aligned; later mismatches get the same error. `--strict` closes the
//! connection at the first one instead. A client that leaves before its last
//! recorded request is reported with the unused rest. With
//! `--record-mode new-episodes` and `--upstream`, a request that matches
//! nothing is sent to a real server instead, its answer is relayed, and the
//! exchange is added to the trace (rewritten as an observed trace when serve
//! ends). With `--record-mode once` (the default) and a trace file that does not
//! exist yet, serve records it through the proxy ([`super::relay`]) instead.
//!
//! serve ends when every recorded session was played and its client left, or
//! at SIGINT/SIGTERM. Exit status: [`EXIT_SERVE_OK`], [`EXIT_DIVERGED`] (a
//! request did not match), [`EXIT_UNUSED`] (no mismatch, but a session ended
//! before its last recorded request). One thread, one `mio` poll; timers of
//! `--pace recorded` are the poll's timeout.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Events, Interest, Poll, Token};

use super::listening::{accept_next, free_slot, listen, wait, Listening, LISTENER, SIGNALS};
use super::matching::{self, MatchOn};
use super::relay::Side;
use super::tape::{Cassette, Episode, Reply, Tape};
use super::Address;
use crate::engine::{Input, Output};
use crate::machine::clock::VirtualTime;
use crate::qmp::session::ClientId;
use crate::server::conn::Conn;
use crate::server::listen::Listener;
use crate::trace::format::ObservedSession;
use crate::trace::walk::{classify, Sent};
use crate::trace::{TraceHeader, TraceWriter};
use crate::wire::framing::Framer;

/// Exit status when every session matched and was played to its end.
pub const EXIT_SERVE_OK: i32 = 0;
/// Exit status when a request did not match the recording.
pub const EXIT_DIVERGED: i32 = 1;
/// Exit status when every request matched but a session ended before its last
/// recorded request.
pub const EXIT_UNUSED: i32 = 3;
/// Unused recorded requests a report lists one by one (the rest are counted).
pub const UNUSED_LISTED_MAX: usize = 10;
/// Longest wait for the upstream's answer in `new-episodes` mode.
pub const UPSTREAM_REPLY_TIMEOUT_MS: u64 = 30_000;
/// Bytes one read from a client takes.
const SERVE_READ_BYTES: usize = 64 * 1024;

const FIRST_CLIENT: usize = 2;

/// How recorded delays are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Pace {
    /// Each message waits its recorded delay after the request it follows.
    #[default]
    Recorded,
    /// Everything at once.
    Instant,
}

/// What happens to requests the trace does not hold (vcrpy's record modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RecordMode {
    /// Play the trace; record it through the proxy when the file does not
    /// exist yet (needs --upstream).
    #[default]
    Once,
    /// Play the trace; send requests it does not hold to --upstream and add
    /// them to it.
    NewEpisodes,
    /// Play the trace; never record.
    None,
}

/// What `qmpsim serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The trace.
    pub trace: PathBuf,
    /// Where clients connect.
    pub listen: Address,
    /// What identifies a request.
    pub match_on: MatchOn,
    /// Leave ids out of the comparison and echo the client's.
    pub ignore_id: bool,
    /// Recorded delays or none.
    pub pace: Pace,
    /// Close the connection at the first mismatch.
    pub strict: bool,
    /// Record mode.
    pub record_mode: RecordMode,
    /// A real server for `new-episodes` (and `once` without a trace).
    pub upstream: Option<Address>,
}

/// Why serve could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The trace could not be read.
    #[error("qmpsim serve: {}: {source}", path.display())]
    Trace {
        /// The path.
        path: PathBuf,
        /// Why.
        source: crate::trace::TraceError,
    },
    /// The trace file could not be opened.
    #[error("qmpsim serve: {}: {}", path.display(), crate::server::strerror(source))]
    Open {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The trace holds no client session.
    #[error("qmpsim serve: {}: the trace holds no client session", path.display())]
    Empty {
        /// The path.
        path: PathBuf,
    },
    /// The options do not go together.
    #[error("qmpsim serve: {0}")]
    Usage(String),
    /// The listening socket could not be bound.
    #[error(
        "qmpsim serve: --listen {address}: {}",
        crate::server::strerror(source)
    )]
    Listen {
        /// The address.
        address: Address,
        /// The OS error.
        source: io::Error,
    },
    /// Recording through the proxy failed to start.
    #[error(transparent)]
    Proxy(#[from] super::relay::ProxyError),
    /// Other start-up I/O.
    #[error("qmpsim serve: {}", crate::server::strerror(.0))]
    Io(#[from] io::Error),
}

/// One message waiting for its time.
#[derive(Debug)]
struct Due {
    at: Instant,
    data: Vec<u8>,
}

/// A connected client and the tape it plays.
#[derive(Debug)]
struct Session {
    number: u32,
    side: Side,
    tape: usize,
    next: usize,
    framer: Framer,
    /// Bytes since the end of the last complete message.
    pending: Vec<u8>,
    /// Descriptors passed since the last complete message (closed at once;
    /// only their number is compared with the recording's).
    fds: u32,
    due: VecDeque<Due>,
    mismatches: u64,
    /// A real server's connection, in `new-episodes` mode.
    upstream: Option<UpstreamSession>,
    /// Close once the queue has drained (`--strict`).
    closing: bool,
}

/// How serve went, for its exit status.
#[derive(Debug, Default)]
struct Tally {
    diverged: bool,
    unused: bool,
    new_episodes: u64,
}

struct Server {
    options: ServeOptions,
    cassette: Cassette,
    poll: Poll,
    listener: Listener,
    signals: signal_hook_mio::v1_0::Signals,
    sessions: Vec<Option<Session>>,
    started: usize,
    tally: Tally,
    stop: bool,
    buf: Vec<u8>,
}

/// Runs `qmpsim serve`; returns the exit status.
pub fn run(options: ServeOptions) -> Result<i32, ServeError> {
    if options.record_mode == RecordMode::NewEpisodes && options.upstream.is_none() {
        return Err(ServeError::Usage(
            "--record-mode new-episodes needs --upstream (the server that answers new requests)"
                .to_owned(),
        ));
    }
    if !options.trace.exists() {
        if let (RecordMode::Once, Some(upstream)) = (options.record_mode, &options.upstream) {
            eprintln!(
                "qmpsim serve: {} does not exist: recording it from {upstream}",
                options.trace.display()
            );
            return Ok(super::relay::run(&super::relay::ProxyOptions {
                listen: options.listen.clone(),
                upstream: super::relay::Upstream::Address(upstream.clone()),
                record: options.trace.clone(),
            })?);
        }
    }
    let file = std::fs::File::open(&options.trace).map_err(|source| ServeError::Open {
        path: options.trace.clone(),
        source,
    })?;
    let cassette =
        super::tape::read(io::BufReader::new(file)).map_err(|source| ServeError::Trace {
            path: options.trace.clone(),
            source,
        })?;
    if cassette.tapes.is_empty() {
        return Err(ServeError::Empty {
            path: options.trace.clone(),
        });
    }
    let Listening {
        poll,
        listener,
        signals,
    } = {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        listen(&options.listen, &[SIGINT, SIGTERM, SIGHUP], |source| {
            ServeError::Listen {
                address: options.listen.clone(),
                source,
            }
        })?
    };
    eprintln!(
        "qmpsim serve: listening on {}, playing {} ({})",
        options.listen,
        options.trace.display(),
        crate::trace::format::count(cassette.tapes.len() as u64, "session", "sessions")
    );
    let mut server = Server {
        options,
        cassette,
        poll,
        listener,
        signals,
        sessions: Vec::new(),
        started: 0,
        tally: Tally::default(),
        stop: false,
        buf: vec![0; SERVE_READ_BYTES],
    };
    server.run();
    server.end()
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("trace", &self.options.trace)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Server {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = self.timeout();
            let report = |e: &io::Error| eprintln!("qmpsim serve: poll: {e}");
            if !wait(&mut self.poll, &mut events, timeout, report) {
                return;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    SIGNALS => {
                        let any = self.signals.pending().next().is_some();
                        self.stop |= any;
                    }
                    token => self.ready(token, event.is_readable(), event.is_writable()),
                }
            }
            for index in 0..self.sessions.len() {
                self.read(index);
                self.send_due(index);
                self.close_if_done(index);
            }
            let live = self.sessions.iter().flatten().count();
            let all_played = self.started >= self.cassette.tapes.len() && live == 0;
            if self.stop || all_played {
                return;
            }
        }
    }

    /// Zero while a client has bytes to read; else the earliest due message.
    fn timeout(&self) -> Option<Duration> {
        let live = self.sessions.iter().flatten();
        let mut earliest: Option<Instant> = None;
        for s in live {
            if s.side.readable && !s.side.eof {
                return Some(Duration::ZERO);
            }
            if let Some(d) = s.due.front() {
                earliest = Some(earliest.map_or(d.at, |e| e.min(d.at)));
            }
        }
        earliest.map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn accept(&mut self) {
        while let Some(conn) =
            accept_next(&self.listener, |e| eprintln!("qmpsim serve: accept: {e}"))
        {
            if self.started >= self.cassette.tapes.len() {
                eprintln!(
                    "qmpsim serve: a client connected, but the trace holds {} and all were played; closing it",
                    crate::trace::format::count(self.cassette.tapes.len() as u64, "session", "sessions")
                );
                continue;
            }
            if let Err(e) = self.start(conn) {
                eprintln!("qmpsim serve: could not serve a client: {e}");
            }
        }
    }

    fn start(&mut self, conn: Conn) -> io::Result<()> {
        if let Conn::Tcp(s) = &conn {
            let _ = s.set_nodelay(true);
        }
        let mut side = Side::new(conn)?;
        let index = free_slot(&mut self.sessions);
        self.poll.registry().register(
            side.stream.source(),
            Token(FIRST_CLIENT + index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        side.readable = true;
        let tape = self.started;
        self.started += 1;
        let mut session = Session {
            number: u32::try_from(self.started).unwrap_or(u32::MAX),
            side,
            tape,
            next: 0,
            framer: Framer::new(),
            pending: Vec::new(),
            fds: 0,
            due: VecDeque::new(),
            mismatches: 0,
            upstream: None,
            closing: false,
        };
        let now = Instant::now();
        let opening = self.cassette.tapes[tape].opening.clone();
        schedule(&mut session, self.options.pace, now, &opening, None);
        self.sessions[index] = Some(session);
        self.send_due(index);
        Ok(())
    }

    fn ready(&mut self, token: Token, readable: bool, writable: bool) {
        let Some(index) = token.0.checked_sub(FIRST_CLIENT) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        if readable {
            s.side.readable = true;
        }
        if writable {
            s.side.flush();
        }
    }

    /// Reads once from a client and answers each complete request.
    fn read(&mut self, index: usize) {
        let Some(s) = self.sessions[index].as_mut() else {
            return;
        };
        if !s.side.readable || s.side.eof || s.closing {
            return;
        }
        let n = match s.side.read(&mut self.buf) {
            Ok(Some((n, fds))) => {
                s.fds += u32::try_from(fds.len()).unwrap_or(u32::MAX);
                n
            }
            Ok(None) => {
                s.side.readable = false;
                return;
            }
            Err(_) => 0,
        };
        if n == 0 {
            s.side.eof = true;
            return;
        }
        let data = self.buf[..n].to_vec();
        let mut start = 0;
        let mut frames = Vec::new();
        let mut requests = Vec::new();
        while start < data.len() {
            let end = start + s.framer.feed_until_frame(&data[start..], &mut frames);
            s.pending.extend_from_slice(&data[start..end]);
            if !frames.is_empty() {
                frames.clear();
                let text = matching::trim(&std::mem::take(&mut s.pending)).to_vec();
                requests.push((text, std::mem::take(&mut s.fds)));
            }
            start = end;
        }
        let now = Instant::now();
        for (request, fds) in requests {
            self.answer(index, &request, fds, now);
        }
    }

    fn answer(&mut self, index: usize, request: &[u8], fds: u32, now: Instant) {
        let options = &self.options;
        let s = self.sessions[index]
            .as_mut()
            .expect("answer is called for a live session");
        if s.closing {
            return;
        }
        let tape = &self.cassette.tapes[s.tape];
        let expected = tape.episodes.get(s.next);
        let client_id = matching::id_of(request);
        let id = options.ignore_id.then_some(client_id.as_deref());
        if let Some(e) = expected {
            if e.fds == fds
                && matching::matches(options.match_on, options.ignore_id, &e.request, request)
            {
                s.next += 1;
                let replies = e.replies.clone();
                schedule(s, options.pace, now, &replies, id);
                return;
            }
        }
        if options.record_mode == RecordMode::NewEpisodes {
            if let Some(upstream) = &options.upstream {
                match forward(s, upstream, request) {
                    Ok(episode) => {
                        schedule(s, Pace::Instant, now, &episode.replies, None);
                        let tape = s.tape;
                        let at = s.next;
                        self.cassette.tapes[tape].episodes.insert(at, episode);
                        self.sessions[index].as_mut().expect("still live").next += 1;
                        self.tally.new_episodes += 1;
                        return;
                    }
                    Err(e) => eprintln!("qmpsim serve: --upstream {upstream}: {e}"),
                }
            }
        }
        let s = self.sessions[index].as_mut().expect("still live");
        let tape = &self.cassette.tapes[s.tape];
        let expected = tape.episodes.get(s.next);
        s.mismatches += 1;
        if s.mismatches == 1 {
            eprint!("{}", report(s.number, s.next, expected, request, fds));
        }
        self.tally.diverged = true;
        let reply = mismatch_reply(
            expected.map(|e| (&e.request[..], e.fds)),
            (request, fds),
            client_id.as_deref(),
        );
        if expected.is_some() {
            s.next += 1;
        }
        s.due.push_back(Due {
            at: now,
            data: reply,
        });
        if self.options.strict {
            s.closing = true;
        }
    }

    fn send_due(&mut self, index: usize) {
        let Some(s) = self.sessions[index].as_mut() else {
            return;
        };
        // Everything due goes out in one write.
        let now = Instant::now();
        let mut out = Vec::new();
        while s.due.front().is_some_and(|d| d.at <= now) {
            let d = s.due.pop_front().expect("front exists");
            out.extend_from_slice(&d.data);
        }
        if !out.is_empty() {
            s.side.push(out, Vec::new());
        }
        s.side.flush();
        if s.closing && s.side.drained() {
            s.side.shut_write();
            s.side.eof = true;
        }
    }

    fn close_if_done(&mut self, index: usize) {
        let done = self.sessions[index]
            .as_ref()
            .is_some_and(|s| s.side.broken || (s.side.eof && s.due.is_empty() && s.side.drained()));
        if !done {
            return;
        }
        let mut s = self.sessions[index].take().expect("checked above");
        let _ = self.poll.registry().deregister(s.side.stream.source());
        let tape = &self.cassette.tapes[s.tape];
        if s.next < tape.episodes.len() && !s.closing {
            eprint!("{}", unused_report(s.number, s.next, tape));
            self.tally.unused = true;
        }
    }

    fn end(&mut self) -> Result<i32, ServeError> {
        for index in 0..self.sessions.len() {
            if let Some(s) = self.sessions[index].as_mut() {
                s.side.eof = true;
                s.due.clear();
                s.side.broken = true;
            }
            self.close_if_done(index);
        }
        if self.tally.new_episodes > 0 {
            self.save()?;
        }
        let code = if self.tally.diverged {
            EXIT_DIVERGED
        } else if self.tally.unused || self.started < self.cassette.tapes.len() {
            if self.started < self.cassette.tapes.len() {
                eprintln!(
                    "qmpsim serve: {} of {} never played (no client came for them)",
                    crate::trace::format::count(
                        (self.cassette.tapes.len() - self.started) as u64,
                        "session",
                        "sessions"
                    ),
                    self.cassette.tapes.len()
                );
            }
            EXIT_UNUSED
        } else {
            EXIT_SERVE_OK
        };
        Ok(code)
    }

    /// Writes the tapes, new episodes included, over the trace (as an observed
    /// trace; through a temporary file and a rename).
    fn save(&self) -> Result<(), ServeError> {
        let bytes =
            write_cassette(&self.cassette, self.options.upstream.as_ref()).map_err(|source| {
                ServeError::Trace {
                    path: self.options.trace.clone(),
                    source,
                }
            })?;
        let tmp = self.options.trace.with_extension("qmptrace.new");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &self.options.trace)?;
        eprintln!(
            "qmpsim serve: added {} to {}",
            crate::trace::format::count(self.tally.new_episodes, "new exchange", "new exchanges"),
            self.options.trace.display()
        );
        Ok(())
    }
}

/// Queues `replies` after `now` (each at its recorded delay with `--pace
/// recorded`, never before the one before it), with the client's id written
/// into responses when `id` is given (`--ignore-id`).
fn schedule(
    s: &mut Session,
    pace: Pace,
    now: Instant,
    replies: &[Reply],
    id: Option<Option<&[u8]>>,
) {
    let mut last = s.due.back().map_or(now, |d| d.at);
    for r in replies {
        let at = match pace {
            Pace::Instant => now,
            Pace::Recorded => now + Duration::from_nanos(r.after_ns),
        }
        .max(last);
        last = at;
        let data = match id {
            Some(id) if matches!(classify(&r.data), Sent::Return | Sent::Error(_)) => {
                matching::with_id(&r.data, id)
            }
            _ => r.data.clone(),
        };
        s.due.push_back(Due { at, data });
    }
}

/// A request as the report shows it: its text, and the descriptors passed
/// with it when any were.
fn shown(request: &[u8], fds: u32) -> String {
    let text = String::from_utf8_lossy(request);
    match fds {
        0 => text.into_owned(),
        n => format!(
            "{text} (with {})",
            crate::trace::format::count(u64::from(n), "passed descriptor", "passed descriptors")
        ),
    }
}

/// The QMP error a mismatched request gets.
fn mismatch_reply(
    expected: Option<(&[u8], u32)>,
    actual: (&[u8], u32),
    id: Option<&[u8]>,
) -> Vec<u8> {
    let desc = match expected {
        Some((e, e_fds)) => format!(
            "qmpsim serve: the request does not match the recording: expected {}, got {}",
            shown(e, e_fds),
            shown(actual.0, actual.1)
        ),
        None => format!(
            "qmpsim serve: the recording ends before this request: got {}",
            shown(actual.0, actual.1)
        ),
    };
    let text = format!(
        "{{\"error\": {{\"class\": \"GenericError\", \"desc\": {}}}}}\r\n",
        serde_json::Value::String(desc)
    );
    match id {
        Some(id) => matching::with_id(text.as_bytes(), Some(id)),
        None => text.into_bytes(),
    }
}

/// The divergence report: where, both requests, and the JSON diff.
fn report(
    session: u32,
    request: usize,
    expected: Option<&Episode>,
    actual: &[u8],
    fds: u32,
) -> String {
    let actual_text = shown(actual, fds);
    match expected {
        Some(e) => format!(
            "qmpsim serve: divergence in session {session} at request {} (trace frame {}):\n  expected: {}\n  actual:   {actual_text}\n{}",
            request + 1,
            e.frame,
            shown(&e.request, e.fds),
            indent(&matching::json_diff(&e.request, actual)),
        ),
        None => format!(
            "qmpsim serve: divergence in session {session} at request {}: the recording has no more requests\n  actual:   {actual_text}\n",
            request + 1
        ),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The report of a session that ended before its last recorded request.
fn unused_report(session: u32, next: usize, tape: &Tape) -> String {
    let total = tape.episodes.len();
    let mut text = format!(
        "qmpsim serve: session {session} ended after {} of {total} recorded requests; unused:\n",
        next
    );
    for e in tape.episodes[next..].iter().take(UNUSED_LISTED_MAX) {
        text.push_str(&format!(
            "  frame {}: {}\n",
            e.frame,
            String::from_utf8_lossy(&e.request)
        ));
    }
    let rest = total - next;
    if rest > UNUSED_LISTED_MAX {
        text.push_str(&format!("  ... and {} more\n", rest - UNUSED_LISTED_MAX));
    }
    text
}

/// A real server's connection for one session (`new-episodes`).
#[derive(Debug)]
struct UpstreamSession {
    reader: BufReader<Box<dyn ReadWrite>>,
}

trait ReadWrite: io::Read + io::Write + std::fmt::Debug + Send {
    fn try_clone_box(&self) -> io::Result<Box<dyn ReadWrite>>;
}

impl ReadWrite for std::os::unix::net::UnixStream {
    fn try_clone_box(&self) -> io::Result<Box<dyn ReadWrite>> {
        Ok(Box::new(self.try_clone()?))
    }
}

impl ReadWrite for std::net::TcpStream {
    fn try_clone_box(&self) -> io::Result<Box<dyn ReadWrite>> {
        Ok(Box::new(self.try_clone()?))
    }
}

/// Sends `request` to the session's upstream connection (opened and
/// negotiated on first use) and reads until its response; returns the new
/// episode (the response and any events before it).
fn forward(s: &mut Session, upstream: &Address, request: &[u8]) -> io::Result<Episode> {
    let is_capabilities = matching::value(request)
        .and_then(|v| v.get("execute").cloned())
        .is_some_and(|e| e == "qmp_capabilities");
    if s.upstream.is_none() {
        let stream: Box<dyn ReadWrite> = match upstream.connect()? {
            Conn::Unix(u) => {
                u.set_read_timeout(Some(Duration::from_millis(UPSTREAM_REPLY_TIMEOUT_MS)))?;
                Box::new(u)
            }
            Conn::Tcp(t) => {
                t.set_read_timeout(Some(Duration::from_millis(UPSTREAM_REPLY_TIMEOUT_MS)))?;
                Box::new(t)
            }
            Conn::Stdio => return Err(io::Error::other("not a socket")),
        };
        let mut up = UpstreamSession {
            reader: BufReader::new(stream),
        };
        read_message(&mut up)?;
        if !is_capabilities {
            write_to(&mut up, b"{\"execute\": \"qmp_capabilities\"}\n")?;
            loop {
                let line = read_message(&mut up)?;
                if matches!(classify(&line), Sent::Return | Sent::Error(_)) {
                    break;
                }
            }
        }
        s.upstream = Some(up);
    }
    let up = s.upstream.as_mut().expect("opened above");
    let started = Instant::now();
    let mut line = request.to_vec();
    line.push(b'\n');
    write_to(up, &line)?;
    let mut replies = Vec::new();
    loop {
        let data = read_message(up)?;
        let done = matches!(classify(&data), Sent::Return | Sent::Error(_));
        replies.push(Reply {
            after_ns: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            data,
        });
        if done {
            break;
        }
    }
    Ok(Episode {
        frame: 0,
        request: request.to_vec(),
        fds: 0,
        replies,
    })
}

fn write_to(up: &mut UpstreamSession, data: &[u8]) -> io::Result<()> {
    let mut w = up.reader.get_ref().try_clone_box()?;
    w.write_all(data)
}

fn read_message(up: &mut UpstreamSession) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if up.reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(line)
}

/// The tapes as an observed trace: per session a connect, the opening, each
/// request and its replies at their recorded delays, a disconnect.
pub fn write_cassette(
    cassette: &Cassette,
    upstream: Option<&Address>,
) -> Result<Vec<u8>, crate::trace::TraceError> {
    let previous = cassette.header.observed_session();
    let greeting = previous.map_or_else(
        || {
            cassette
                .tapes
                .first()
                .and_then(|t| t.opening.first())
                .map(|r| r.data.clone())
                .unwrap_or_default()
        },
        |s| s.greeting.clone(),
    );
    let session = ObservedSession {
        upstream: previous
            .map(|s| s.upstream.clone())
            .or_else(|| upstream.map(ToString::to_string))
            .unwrap_or_default(),
        greeting,
        started_unix_ms: previous.map_or_else(
            || {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            },
            |s| s.started_unix_ms,
        ),
    };
    let notes = match cassette.header.notes.as_str() {
        "" => "played and extended by qmpsim serve".to_owned(),
        n => format!("{n}\nplayed and extended by qmpsim serve"),
    };
    let header = TraceHeader::observed(session).with_notes(&notes);
    let mut w = TraceWriter::new(Vec::new(), &header)?;
    let mut now = 0u64;
    let mut fd_handles = 0u64;
    for (index, tape) in cassette.tapes.iter().enumerate() {
        let client = ClientId(u32::try_from(index + 1).unwrap_or(u32::MAX));
        w.record(&Input::Connect { client, monitor: 0 }, &[])?;
        let start = now;
        send_all(&mut w, client, start, &tape.opening, &mut now)?;
        for e in &tape.episodes {
            let at = now;
            w.record(
                &Input::AdvanceTo {
                    at: VirtualTime(at),
                },
                &[],
            )?;
            for _ in 0..e.fds {
                fd_handles += 1;
                let fd = crate::qmp::session::FdHandle(fd_handles);
                w.record(&Input::Fd { client, fd }, &[])?;
            }
            let mut bytes = e.request.clone();
            bytes.push(b'\n');
            w.record(&Input::bytes(client, &bytes), &[])?;
            send_all(&mut w, client, at, &e.replies, &mut now)?;
        }
        w.record(&Input::Disconnect { client }, &[])?;
    }
    let steps = w.steps();
    w.finish(steps, "")
}

fn send_all(
    w: &mut TraceWriter<Vec<u8>>,
    client: ClientId,
    since: u64,
    replies: &[Reply],
    now: &mut u64,
) -> Result<(), crate::trace::TraceError> {
    for r in replies {
        *now = (*now).max(since.saturating_add(r.after_ns));
        w.record(
            &Input::AdvanceTo {
                at: VirtualTime(*now),
            },
            &[Output::Send {
                client,
                data: r.data.clone(),
            }],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_reply_names_both_requests_and_echoes_the_id() {
        let reply = mismatch_reply(
            Some((br#"{"execute":"stop"}"#, 0)),
            (br#"{"execute":"cont","id":4}"#, 0),
            Some(b"4"),
        );
        let v: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(
            (v["error"]["desc"].as_str().unwrap(), v["id"].as_i64()),
            (
                r#"qmpsim serve: the request does not match the recording: expected {"execute":"stop"}, got {"execute":"cont","id":4}"#,
                Some(4)
            )
        );
    }

    /// The report of a session that used none of `n` recorded requests.
    fn unused_of(n: usize) -> String {
        let episode = Episode {
            frame: 3,
            request: b"{}".to_vec(),
            fds: 0,
            replies: Vec::new(),
        };
        let tape = Tape {
            client: 1,
            opening: Vec::new(),
            episodes: vec![episode; n],
        };
        unused_report(1, 0, &tape)
    }

    #[test]
    fn unused_report_at_the_limit_lists_every_request() {
        let text = unused_of(UNUSED_LISTED_MAX);
        assert_eq!(
            (text.lines().count(), text.contains("more")),
            (UNUSED_LISTED_MAX + 1, false)
        );
    }

    #[test]
    fn unused_report_lists_at_most_the_limit() {
        let text = unused_of(UNUSED_LISTED_MAX + 2);
        assert_eq!(
            (text.lines().count(), text.lines().last().unwrap()),
            (UNUSED_LISTED_MAX + 2, "  ... and 2 more")
        );
    }

    #[test]
    fn written_cassette_reads_back_as_the_same_tapes() {
        let tape = Tape {
            client: 1,
            opening: vec![Reply {
                after_ns: 0,
                data: b"{\"QMP\": {}}\r\n".to_vec(),
            }],
            episodes: vec![Episode {
                frame: 0,
                request: br#"{"execute":"qmp_capabilities"}"#.to_vec(),
                fds: 2,
                replies: vec![Reply {
                    after_ns: 5,
                    data: b"{\"return\": {}}\r\n".to_vec(),
                }],
            }],
        };
        let cassette = Cassette {
            header: TraceHeader::new(crate::machine::config::MachineConfig::default()),
            tapes: vec![tape.clone()],
        };
        let bytes = write_cassette(&cassette, None).unwrap();
        let back = super::super::tape::read(&bytes[..]).unwrap();
        let strip = |t: &Tape| {
            (
                t.opening.clone(),
                t.episodes
                    .iter()
                    .map(|e| (e.request.clone(), e.fds, e.replies.clone()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(strip(&back.tapes[0]), strip(&tape));
    }
}
