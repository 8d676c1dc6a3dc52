//! The event loop: one thread, one `mio` poll, every VM of the process.
//!
//! The poll watches every listening monitor, every client socket, the signals
//! (through `signal-hook-mio`) and a waker for the few threads that report back
//! (see the [module doc](super)). Each VM ([`Vm`]) owns its engine, recorder,
//! clients, passed descriptors, migrations and helper; the loop only routes
//! readiness to the VM a token belongs to.
//!
//! One turn of the loop:
//! 1. poll, with a timeout that is the earliest quiet-time deadline of a VM whose
//!    engine has a timer pending ([`super::IDLE_ADVANCE_MS`] after its last step),
//!    or the earliest exit-flush deadline, or zero when clients still have bytes
//!    to read;
//! 2. handle what the poll reported: accept, mark clients readable, write to
//!    clients whose socket drained, take signals and the threads' events;
//! 3. read ready clients round-robin, one read of at most
//!    [`READ_BYTES_MAX`](super::conn::READ_BYTES_MAX) each, at most
//!    [`BATCH_EVENTS_MAX`] reads in a turn; a client
//!    whose output queue is full, or whose bytes wait for an image probe, is
//!    skipped (backpressure) and resumed when that clears;
//! 4. commit: each VM that stepped hands its trace bytes to the kernel, and only
//!    then are the turn's bytes queued to the clients and written as far as the
//!    sockets take them (write-ahead);
//! 5. a VM whose quiet-time deadline passed gets `Input::AdvanceTo` its next
//!    timer's deadline.
//!
//! Effects-then-outputs: a step whose effects include writing a file hands the
//! write to the helper thread; the bytes of that step and of every later step of
//! the VM wait until the helper reports the file written, so a client never sees
//! a `screendump` reply before the file exists.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};

use super::conn::{self, Conn, Stream, Writer};
use super::fds::FdTable;
use super::helper::{Helper, Job};
use super::listen::{Endpoint, Listener, MonitorEndpoint, ACCEPT_RETRY_MS};
use super::process::CreatedFiles;
use super::queue::OutputQueue;
use super::{
    effects, incoming, migrate, probe, Event, EventSender, Recorder, BATCH_EVENTS_MAX,
    EXIT_FLUSH_MS_MAX, EXIT_RECORDING_FAILED, IDLE_ADVANCE_MS,
};
use crate::engine::{Engine, Input, Output, Signal, MESSAGE_STEP_NS};
use crate::machine::clock::{ClockMode, VirtualTime};
use crate::machine::config::ImageProbe;
use crate::qmp::session::ClientId;

/// The waker's token.
pub const WAKER_TOKEN: Token = Token(0);
/// The signals' token.
const SIGNALS_TOKEN: Token = Token(1);
/// The first token of a listener or client.
const FIRST_SLOT_TOKEN: usize = 2;
/// Poll events taken per turn.
const POLL_EVENTS_MAX: usize = 1024;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Listener { vm: usize, monitor: u32 },
    Client { vm: usize, client: ClientId },
    Migration { vm: usize, id: u64 },
    Incoming { vm: usize },
}

/// Tokens in use, reused once freed.
#[derive(Debug, Default)]
struct Slots {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
}

impl Slots {
    fn add(&mut self, slot: Slot) -> Token {
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        Token(index + FIRST_SLOT_TOKEN)
    }

    fn get(&self, token: Token) -> Option<Slot> {
        let i = token.0.checked_sub(FIRST_SLOT_TOKEN)?;
        self.slots.get(i).copied().flatten()
    }

    fn remove(&mut self, token: Token) {
        let i = token.0 - FIRST_SLOT_TOKEN;
        if self.slots[i].take().is_some() {
            self.free.push(i);
        }
    }
}

/// What every VM shares: the poll's registry, the tokens, the ready clients.
#[derive(Debug)]
pub struct Io {
    registry: Registry,
    slots: Slots,
    /// Clients that may have bytes to read, in the order they became ready.
    ready: VecDeque<(usize, ClientId)>,
    /// Monitors whose client left: accept the next one after the current event.
    accept_next: Vec<(usize, u32)>,
    /// VMs that stepped since their last commit.
    dirty: Vec<usize>,
    /// VMs whose engine may have a timer pending.
    timers: BTreeSet<usize>,
    /// VMs with a listener waiting to retry a failed `accept`.
    retrying: BTreeSet<usize>,
    /// VMs that exited and are not finished yet.
    exiting: BTreeSet<usize>,
    buf: Vec<u8>,
}

/// A client's transport in the loop.
#[derive(Debug)]
enum Link {
    Socket {
        stream: Stream,
        token: Token,
        queue: OutputQueue,
        /// A write failed: nothing more is written (reads go on to end of stream).
        failed: bool,
    },
    Stdio {
        writer: Writer,
        /// The stdin reader's go-ahead.
        go: Sender<()>,
        /// A go-ahead is owed once the client is no longer paused.
        owed: bool,
    },
}

/// A client's bytes waiting for the probes of the files they name.
#[derive(Debug)]
struct Waiting {
    bytes: Vec<u8>,
    expected: usize,
    probes: Vec<(String, ImageProbe)>,
}

#[derive(Debug)]
struct Client {
    monitor: u32,
    link: Link,
    /// The socket may have bytes to read.
    readable: bool,
    /// In [`Io::ready`].
    queued: bool,
    waiting: Option<Waiting>,
    /// Disconnected from the engine; kept only to write its last bytes.
    gone: bool,
}

#[derive(Debug)]
struct Listening {
    listener: Listener,
    token: Token,
    busy: bool,
    retry_at: Option<Instant>,
}

/// Bytes for a client from a committed or uncommitted step.
#[derive(Debug)]
struct Unsent {
    /// File jobs that must be done before these bytes leave.
    jobs_before: u64,
    client: ClientId,
    data: Vec<u8>,
}

/// One VM: an engine and everything the loop keeps around it.
pub struct Vm {
    index: usize,
    engine: Engine,
    recorder: Option<Box<dyn Recorder>>,
    events: EventSender,
    helper: Helper,
    clients: BTreeMap<ClientId, Client>,
    listeners: BTreeMap<u32, Listening>,
    fds: FdTable,
    migrations: migrate::Migrations,
    /// The `-incoming` stream, while the loop reads it.
    incoming: Option<incoming::Incoming>,
    scout: probe::Scout,
    /// How virtual time moves without input (the engine's `-x-clock`).
    clock: ClockMode,
    /// The wall-clock instant that stands for virtual time `started_at`
    /// (`-x-clock realtime`).
    started: Instant,
    started_at: VirtualTime,
    quiet_since: Instant,
    last_client: u32,
    exit: Option<i32>,
    exit_deadline: Option<Instant>,
    finished: Option<i32>,
    /// Clients dropped while carrying out outputs, to disconnect after.
    dropped: Vec<ClientId>,
    /// Inputs that carrying out effects gave rise to, fed after the step.
    later: Vec<Input>,
    unsent: VecDeque<Unsent>,
    jobs_issued: u64,
    jobs_done: u64,
    dirty: bool,
    recording_failed: bool,
    files: Option<CreatedFiles>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("index", &self.index)
            .field("clients", &self.clients.len())
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// A VM around `engine`; `events` reports to the loop for this VM, `files`
    /// are removed when it ends.
    pub fn new(
        engine: Engine,
        recorder: Option<Box<dyn Recorder>>,
        events: EventSender,
        files: CreatedFiles,
    ) -> Vm {
        let clock = engine.machine().config.clock;
        let started_at = engine.now();
        Vm {
            index: events.vm,
            clock,
            started: Instant::now(),
            started_at,
            engine,
            recorder,
            helper: Helper::new(events.clone()),
            events,
            clients: BTreeMap::new(),
            listeners: BTreeMap::new(),
            fds: FdTable::default(),
            migrations: migrate::Migrations::default(),
            incoming: None,
            scout: probe::Scout::default(),
            quiet_since: Instant::now(),
            last_client: 0,
            exit: None,
            exit_deadline: None,
            finished: None,
            dropped: Vec::new(),
            later: Vec::new(),
            unsent: VecDeque::new(),
            jobs_issued: 0,
            jobs_done: 0,
            dirty: false,
            recording_failed: false,
            files: Some(files),
        }
    }

    /// Feeds one input (at startup: snapshot tables, `-loadvm`). With the
    /// realtime clock, an `AdvanceTo` the wall clock first, when it has moved
    /// on by a message step or more since virtual time last did.
    pub fn step(&mut self, input: Input, io: &mut Io) {
        if self.clock == ClockMode::Realtime && !matches!(input, Input::AdvanceTo { .. }) {
            let at = self.wall_virtual_time();
            if at.0 >= self.engine.now().0.saturating_add(MESSAGE_STEP_NS) {
                self.step(Input::AdvanceTo { at }, io);
            }
        }
        self.quiet_since = Instant::now();
        let outputs = match &mut self.recorder {
            Some(recorder) => {
                let outputs = self.engine.step(input.clone());
                if let Err(e) = recorder.record(&input, &outputs, &self.engine) {
                    self.recording_stopped(&e);
                }
                outputs
            }
            None => self.engine.step(input),
        };
        let mut sends = Vec::new();
        let mut closes = Vec::new();
        for output in outputs {
            match output {
                Output::Send { client, data } => sends.push((client, data)),
                Output::Close { client } => closes.push(client),
                Output::Effect(effect) => {
                    let mut world = effects::World {
                        fds: &mut self.fds,
                        migrations: &mut self.migrations,
                        events: &self.events,
                        engine: &self.engine,
                        helper: &mut self.helper,
                        jobs_issued: &mut self.jobs_issued,
                    };
                    if let Some(input) = effects::apply(&effect, &mut world) {
                        self.later.push(input);
                    }
                }
                Output::Exit { code } => self.set_exit(code, io),
            }
        }
        let jobs_before = self.jobs_issued;
        self.unsent
            .extend(sends.into_iter().map(|(client, data)| Unsent {
                jobs_before,
                client,
                data,
            }));
        for client in closes {
            self.server_close(client, io);
        }
        if !self.dirty {
            self.dirty = true;
            io.dirty.push(self.index);
        }
        if self.engine.next_deadline().is_some() {
            io.timers.insert(self.index);
        }
        self.watch_migrations(io);
        self.disconnect_dropped(io);
        for input in std::mem::take(&mut self.later) {
            self.step(input, io);
        }
    }

    /// Puts migration channels with bytes left under the poll, and frees the
    /// tokens of those that ended.
    fn watch_migrations(&mut self, io: &mut Io) {
        let vm = self.index;
        let slots = &mut io.slots;
        let inputs = self
            .migrations
            .watch(&io.registry, |id| slots.add(Slot::Migration { vm, id }));
        self.later.extend(inputs);
        for token in self.migrations.take_released() {
            io.slots.remove(token);
        }
    }

    /// Reads the `-incoming` stream on the loop (see [`incoming`]).
    pub fn set_incoming(&mut self, mut stream: incoming::Incoming, io: &mut Io) {
        let token = io.slots.add(Slot::Incoming { vm: self.index });
        if stream.watch(&io.registry, token, &self.events) {
            self.incoming = Some(stream);
        } else {
            io.slots.remove(token);
        }
    }

    /// The `-incoming` channel is ready: feeds what it gave.
    fn incoming_ready(&mut self, token: Token, io: &mut Io) {
        let Some(stream) = &mut self.incoming else {
            return;
        };
        let (inputs, over) = stream.ready(&io.registry);
        if over {
            self.incoming = None;
            io.slots.remove(token);
        }
        for input in inputs {
            self.step(input, io);
        }
    }

    /// Migration `id`'s channel is writable: writes what it takes.
    fn migration_writable(&mut self, id: u64, io: &mut Io) {
        if let Some(input) = self.migrations.writable(id) {
            self.step(input, io);
        }
        self.watch_migrations(io);
    }

    /// The machine exited with `code`: the loop flushes and finishes the VM.
    fn set_exit(&mut self, code: i32, io: &mut Io) {
        self.exit = Some(code);
        io.exiting.insert(self.index);
    }

    fn recording_stopped(&mut self, e: &io::Error) {
        eprintln!("qmpsim: {e}; the recording stopped");
        self.recorder = None;
        self.recording_failed = true;
    }

    /// Feeds `Disconnect` for the clients dropped while carrying out outputs.
    fn disconnect_dropped(&mut self, io: &mut Io) {
        for client in std::mem::take(&mut self.dropped) {
            self.step(Input::Disconnect { client }, io);
        }
    }

    /// Commits the recorder, then queues the bytes whose file effects are done to
    /// their clients and writes them; feeds `Disconnect` for clients dropped
    /// meanwhile (their steps are committed and sent the same way).
    pub fn commit_and_send(&mut self, io: &mut Io) {
        loop {
            self.dirty = false;
            if let Some(recorder) = &mut self.recorder {
                if let Err(e) = recorder.commit() {
                    self.recording_stopped(&e);
                }
            }
            let mut touched = Vec::new();
            while self
                .unsent
                .front()
                .is_some_and(|u| u.jobs_before <= self.jobs_done)
            {
                let u = self.unsent.pop_front().expect("checked above");
                if touched.last() != Some(&u.client) {
                    touched.push(u.client);
                }
                self.send(u.client, u.data, io);
            }
            touched.sort_unstable();
            touched.dedup();
            for client in touched {
                self.flush(client, io);
            }
            if self.dropped.is_empty() {
                return;
            }
            self.disconnect_dropped(io);
        }
    }

    fn send(&mut self, client: ClientId, data: Vec<u8>, io: &mut Io) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let pushed = match &mut c.link {
            Link::Socket { failed: true, .. } => Ok(()),
            Link::Socket { queue, .. } => queue.push(data),
            Link::Stdio { writer, .. } => writer.push(data),
        };
        if pushed.is_ok() {
            return;
        }
        eprintln!(
            "qmpsim: client {} is not reading; dropping its connection",
            client.0
        );
        let gone = c.gone;
        let monitor = c.monitor;
        self.drop_client(client, io);
        if !gone {
            self.release(monitor, io);
            self.dropped.push(client);
        }
    }

    /// Writes what `client`'s socket takes now; resumes reading it if its queue
    /// is no longer full; lets a gone client go once everything is written.
    fn flush(&mut self, client: ClientId, io: &mut Io) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let Link::Socket {
            stream,
            queue,
            failed,
            ..
        } = &mut c.link
        else {
            return;
        };
        if !*failed && conn::flush_queue(stream, queue).is_err() {
            *failed = true;
            queue.clear();
        }
        let done = *failed || !queue.has_queued();
        if c.gone && done && !self.unsent.iter().any(|u| u.client == client) {
            self.drop_client(client, io);
            return;
        }
        self.resume(client, io);
    }

    /// Whether `client` is not to be read now.
    fn paused(&self, c: &Client) -> bool {
        let full = match &c.link {
            Link::Socket { queue, .. } => queue.is_full(),
            Link::Stdio { writer, .. } => writer.is_full(),
        };
        full || c.waiting.is_some() || c.gone || self.exit.is_some()
    }

    /// Puts `client` back among the ready clients (or gives stdin its go-ahead)
    /// when it has something to read and is no longer paused.
    fn resume(&mut self, client: ClientId, io: &mut Io) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        if self.paused(c) {
            return;
        }
        let c = self.clients.get_mut(&client).expect("looked up above");
        match &mut c.link {
            Link::Socket { .. } => {
                if c.readable && !c.queued {
                    c.queued = true;
                    io.ready.push_back((self.index, client));
                }
            }
            Link::Stdio { go, owed, .. } => {
                if std::mem::take(owed) {
                    // The reader may have stopped at end of input.
                    let _ = go.send(());
                }
            }
        }
    }

    /// Takes the connection out of the poll and closes it.
    fn drop_client(&mut self, client: ClientId, io: &mut Io) {
        let Some(c) = self.clients.remove(&client) else {
            return;
        };
        self.scout.disconnect(client);
        match c.link {
            Link::Socket {
                mut stream, token, ..
            } => {
                // Deregistering a socket that is about to close cannot matter.
                let _ = io.registry.deregister(stream.source());
                io.slots.remove(token);
                stream.cut();
            }
            Link::Stdio { writer, .. } => writer.abort(),
        }
    }

    /// Serves a new connection on `monitor`.
    pub fn accept(&mut self, monitor: u32, conn: Conn, io: &mut Io) {
        self.last_client += 1;
        let client = ClientId(self.last_client);
        let link = match self.link(client, conn, io) {
            Ok(link) => link,
            Err(e) => {
                eprintln!("qmpsim: could not serve client {}: {e}", client.0);
                self.release(monitor, io);
                return;
            }
        };
        let readable = matches!(link, Link::Socket { .. });
        self.clients.insert(
            client,
            Client {
                monitor,
                link,
                readable,
                queued: false,
                waiting: None,
                gone: false,
            },
        );
        self.step(Input::Connect { client, monitor }, io);
        let session = self.engine.state().sessions.get(&client);
        match session.and_then(crate::monitor::LineSplitter::for_session) {
            Some(lines) => self.scout.connect_human(client, lines),
            None => self.scout.connect(client),
        }
        if !self.engine.state().sessions.contains_key(&client) {
            self.refuse(client, io);
        } else {
            self.resume(client, io);
        }
    }

    fn link(&mut self, client: ClientId, conn: Conn, io: &mut Io) -> io::Result<Link> {
        Ok(match Stream::from_conn(conn)? {
            Some(mut stream) => {
                let token = io.slots.add(Slot::Client {
                    vm: self.index,
                    client,
                });
                if let Err(e) = io.registry.register(
                    stream.source(),
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    io.slots.remove(token);
                    return Err(e);
                }
                Link::Socket {
                    stream,
                    token,
                    queue: OutputQueue::default(),
                    failed: false,
                }
            }
            None => {
                // 0.14's `signal` default: Ctrl-C is a signal unless -nographic.
                super::tty::raw_stdin(!self.engine.machine().config.nographic)?;
                let go = conn::spawn_stdin_reader(client, self.events.clone())?;
                let written = Some((client, self.events.clone()));
                let writer = Writer::spawn(
                    &format!("client-{}", client.0),
                    Box::new(io::stdout()),
                    written,
                )?;
                Link::Stdio {
                    writer,
                    go,
                    owed: false,
                }
            }
        })
    }

    /// Closes the connection of a client the engine gave no session (one past
    /// [`CLIENTS_MAX`](crate::engine::CLIENTS_MAX), or any client once the machine
    /// has exited). The engine never saw it as connected, so no `Disconnect` is fed.
    fn refuse(&mut self, client: ClientId, io: &mut Io) {
        self.commit_and_send(io);
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        let monitor = c.monitor;
        self.drop_client(client, io);
        self.release(monitor, io);
    }

    /// Lets the monitor take its next client (after the current event).
    fn release(&mut self, monitor: u32, io: &mut Io) {
        if let Some(l) = self.listeners.get_mut(&monitor) {
            l.busy = false;
            io.accept_next.push((self.index, monitor));
        }
    }

    /// Brings the VM up: the snapshot tables read at start (`tables`),
    /// `-loadvm`, then each listening monitor of `endpoints` (those in `busy`
    /// have their first client already).
    pub fn start(
        &mut self,
        tables: Vec<Input>,
        loadvm: Option<String>,
        endpoints: Vec<MonitorEndpoint>,
        busy: &[u32],
        io: &mut Io,
    ) -> io::Result<()> {
        for input in tables {
            self.step(input, io);
        }
        if let Some(name) = loadvm {
            self.step(Input::LoadVm { name }, io);
        }
        for MonitorEndpoint { monitor, endpoint } in endpoints {
            if let Endpoint::Listen { listener, .. } = endpoint {
                self.listen(monitor, listener, busy.contains(&monitor), io)?;
            }
        }
        Ok(())
    }

    /// Adds a listening monitor; `busy` when its first client is already here.
    pub fn listen(
        &mut self,
        monitor: u32,
        listener: Listener,
        busy: bool,
        io: &mut Io,
    ) -> io::Result<()> {
        listener.set_nonblocking()?;
        let token = io.slots.add(Slot::Listener {
            vm: self.index,
            monitor,
        });
        let registered =
            io.registry
                .register(&mut SourceFd(&listener.raw_fd()), token, Interest::READABLE);
        if let Err(e) = registered {
            io.slots.remove(token);
            return Err(e);
        }
        self.listeners.insert(
            monitor,
            Listening {
                listener,
                token,
                busy,
                retry_at: None,
            },
        );
        if !busy {
            io.accept_next.push((self.index, monitor));
        }
        Ok(())
    }

    /// Accepts the next client of `monitor`, if it is free and one waits.
    fn try_accept(&mut self, monitor: u32, io: &mut Io) {
        if self.exit.is_some() {
            return;
        }
        let Some(l) = self.listeners.get_mut(&monitor) else {
            return;
        };
        if l.busy {
            return;
        }
        loop {
            match l.listener.accept() {
                Ok(conn) => {
                    l.busy = true;
                    l.retry_at = None;
                    self.accept(monitor, conn, io);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    eprintln!("qmpsim: accept on monitor {monitor}: {e}");
                    l.retry_at = Some(Instant::now() + Duration::from_millis(ACCEPT_RETRY_MS));
                    io.retrying.insert(self.index);
                    return;
                }
            }
        }
    }

    /// Reads once from a ready client.
    fn read(&mut self, client: ClientId, io: &mut Io) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.queued = false;
        if self.paused(self.clients.get(&client).expect("looked up above")) {
            return;
        }
        let c = self.clients.get_mut(&client).expect("looked up above");
        let Link::Socket { stream, .. } = &mut c.link else {
            return;
        };
        match stream.read_chunk(&mut io.buf) {
            Ok((0, _)) => self.closed(client, io),
            Ok((n, fd)) => {
                let bytes = io.buf[..n].to_vec();
                self.data(client, bytes, fd, io);
                self.resume(client, io);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.readable = false,
            Err(_) => self.closed(client, io),
        }
    }

    /// Bytes from a client: a passed descriptor first, then the bytes, once the
    /// files they name are probed.
    fn data(&mut self, client: ClientId, bytes: Vec<u8>, fd: Option<OwnedFd>, io: &mut Io) {
        if !self.clients.contains_key(&client) {
            return;
        }
        if let Some(handle) = fd.and_then(|fd| self.fds.insert(fd)) {
            self.step(Input::Fd { client, fd: handle }, io);
        }
        let paths = self.scout.scout(client, &bytes);
        if paths.is_empty() {
            if !bytes.is_empty() {
                self.step(
                    Input::Bytes {
                        client,
                        data: bytes,
                    },
                    io,
                );
            }
            return;
        }
        let expected = paths.len();
        let mut probes = Vec::new();
        for path in paths {
            let job = Job::Probe {
                client,
                path: path.clone(),
            };
            if self.helper.submit(job).is_err() {
                // No helper thread: probe here rather than lose the request.
                probes.push((path.clone(), super::image::probe(&path)));
            }
        }
        let waiting = Waiting {
            bytes,
            expected,
            probes,
        };
        if let Some(c) = self.clients.get_mut(&client) {
            c.waiting = Some(waiting);
        }
        self.probed(client, None, io);
    }

    /// A probe came back (or, with `None`, check whether all did): once every
    /// file the client's bytes name is probed, feed the probes, then the bytes.
    fn probed(&mut self, client: ClientId, probe: Option<(String, ImageProbe)>, io: &mut Io) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let Some(w) = &mut c.waiting else {
            return;
        };
        w.probes.extend(probe);
        if w.probes.len() < w.expected {
            return;
        }
        let w = c.waiting.take().expect("checked above");
        for (path, probe) in w.probes {
            self.step(Input::ImageProbed { path, probe }, io);
        }
        if !w.bytes.is_empty() {
            self.step(
                Input::Bytes {
                    client,
                    data: w.bytes,
                },
                io,
            );
        }
        self.resume(client, io);
    }

    /// A client's connection ended: what it has queued still goes out (a client
    /// that half-closed still reads), then the connection is dropped.
    fn closed(&mut self, client: ClientId, io: &mut Io) {
        self.commit_and_send(io);
        if !self.let_go(client, io) {
            return;
        }
        self.step(Input::Disconnect { client }, io);
        self.flush(client, io);
    }

    /// Stops reading `client` and frees its monitor for the next one; returns
    /// whether the client is known.
    fn let_go(&mut self, client: ClientId, io: &mut Io) -> bool {
        let Some(c) = self.clients.get_mut(&client) else {
            return false;
        };
        c.gone = true;
        c.readable = false;
        let monitor = c.monitor;
        self.scout.disconnect(client);
        self.release(monitor, io);
        true
    }

    /// The engine dropped a client's connection (`Output::Close`): nothing
    /// more is read from it, what it was sent still goes out, then the
    /// connection closes and the monitor takes its next client. The engine
    /// has already ended the session, so no `Disconnect` is fed.
    fn server_close(&mut self, client: ClientId, io: &mut Io) {
        if self.clients.get(&client).is_some_and(|c| c.gone) {
            return;
        }
        if self.let_go(client, io) {
            // Closes it now when nothing is left to write; else the last write does.
            self.flush(client, io);
        }
    }

    /// An event from another thread.
    fn handle(&mut self, event: Event, io: &mut Io) {
        if self.exit.is_some() && !matches!(event, Event::FileWritten) {
            return;
        }
        match event {
            Event::Data { client, bytes, fd } => {
                self.data(client, bytes, fd, io);
                if let Some(Client {
                    link: Link::Stdio { owed, .. },
                    ..
                }) = self.clients.get_mut(&client)
                {
                    *owed = true;
                }
                self.resume(client, io);
            }
            Event::Written { client } => self.resume(client, io),
            Event::FileWritten => {
                self.jobs_done += 1;
                self.commit_and_send(io);
            }
            Event::Probed {
                client,
                path,
                probe,
            } => self.probed(client, Some((path, probe)), io),
            Event::Signal(signal) => self.step(Input::Signal { signal }, io),
            Event::MigrationFailed { id } => self.step(Input::MigrationFailed { id }, io),
            Event::Incoming(input) => self.step(input, io),
        }
    }

    /// Virtual time by the wall clock (`-x-clock realtime`): the virtual time
    /// at start plus the wall-clock time since.
    fn wall_virtual_time(&self) -> VirtualTime {
        let ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.started_at.plus_ns(ns)
    }

    /// When virtual time is to move next, if a timer is pending: after the
    /// quiet time (idle clock), when the wall clock reaches the deadline
    /// (realtime clock), never (manual clock).
    fn idle_due(&self) -> Option<Instant> {
        if self.exit.is_some() {
            return None;
        }
        let deadline = self.engine.next_deadline()?;
        match self.clock {
            ClockMode::Manual => None,
            ClockMode::Idle => Some(self.quiet_since + Duration::from_millis(IDLE_ADVANCE_MS)),
            ClockMode::Realtime => {
                let ahead = deadline.0.saturating_sub(self.started_at.0);
                Some(self.started + Duration::from_nanos(ahead))
            }
        }
    }

    /// Time moves: to the next deadline after the quiet time (idle clock), to
    /// the wall clock's time (realtime clock, where it is at the deadline or
    /// past it).
    fn advance(&mut self, io: &mut Io) {
        let at = match self.clock {
            // Never short of the deadline that woke the loop, whatever the
            // rounding of the wall clock.
            ClockMode::Realtime => self
                .engine
                .next_deadline()
                .map(|d| d.max(self.wall_virtual_time())),
            ClockMode::Idle | ClockMode::Manual => self.engine.next_deadline(),
        };
        if let Some(at) = at {
            self.step(Input::AdvanceTo { at }, io);
        }
        self.commit_and_send(io);
    }

    /// Whether the VM has exited and everything it owes is written.
    fn drained(&self) -> bool {
        self.unsent.is_empty()
            && self.jobs_done >= self.jobs_issued
            && self.clients.values().all(|c| match &c.link {
                Link::Socket { queue, failed, .. } => *failed || !queue.has_queued(),
                Link::Stdio { .. } => true,
            })
    }

    /// Finishes an exited VM: stdout and migrations get what is left of the
    /// flush time, the recorder ends, the created files go, then the
    /// connections. Returns the exit status.
    fn finish(&mut self, io: &mut Io) -> i32 {
        let deadline = self
            .exit_deadline
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(EXIT_FLUSH_MS_MAX));
        for c in self.clients.values() {
            if let Link::Stdio { writer, .. } = &c.link {
                writer.close();
                writer.wait_flushed(deadline);
            }
        }
        self.migrations.wait(deadline);
        for token in self.migrations.take_released() {
            io.slots.remove(token);
        }
        if let Some(mut recorder) = self.recorder.take() {
            if let Err(e) = recorder.finish(&self.engine) {
                eprintln!("qmpsim: {e}; the recording could not be finished");
                self.recording_failed = true;
            }
        }
        let code = match self.exit.unwrap_or(0) {
            0 if self.recording_failed => EXIT_RECORDING_FAILED,
            code => code,
        };
        // Clients see their connection end only once the socket files and pidfile
        // are gone, so a client that waits for end of stream may rely on the cleanup.
        drop(self.files.take());
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            self.drop_client(client, io);
        }
        for (_, l) in std::mem::take(&mut self.listeners) {
            let _ = io.registry.deregister(&mut SourceFd(&l.listener.raw_fd()));
            io.slots.remove(l.token);
        }
        self.finished = Some(code);
        code
    }

    /// The engine (for tests and the fleet's reports).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The loop: the poll, the VMs, and how events reach them.
pub struct EventLoop {
    poll: Poll,
    rx: Receiver<(usize, Event)>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Every VM of the process, by index.
    pub vms: Vec<Vm>,
    /// What the VMs share.
    pub io: Io,
    /// VMs not finished yet.
    unfinished: usize,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("vms", &self.vms.len())
            .field("signals", &self.signals.is_some())
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// A loop on `poll` (whose waker reports `rx`'s events), with signal handling
    /// unless embedded.
    pub fn new(poll: Poll, rx: Receiver<(usize, Event)>, handle_signals: bool) -> io::Result<Self> {
        let registry = poll.registry().try_clone()?;
        let signals = if handle_signals {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
            registry.register(&mut signals, SIGNALS_TOKEN, Interest::READABLE)?;
            Some(signals)
        } else {
            None
        };
        Ok(EventLoop {
            poll,
            rx,
            signals,
            unfinished: 0,
            vms: Vec::new(),
            io: Io {
                registry,
                slots: Slots::default(),
                ready: VecDeque::new(),
                accept_next: Vec::new(),
                dirty: Vec::new(),
                timers: BTreeSet::new(),
                retrying: BTreeSet::new(),
                exiting: BTreeSet::new(),
                buf: vec![0u8; conn::READ_BYTES_MAX],
            },
        })
    }

    /// Runs until every VM has exited; returns the first non-zero exit status
    /// (by VM index), or 0.
    pub fn run(&mut self) -> i32 {
        let mut events = Events::with_capacity(POLL_EVENTS_MAX);
        self.accept_next();
        self.settle();
        self.unfinished = self.vms.len();
        while self.unfinished > 0 {
            let now = Instant::now();
            let timeout = self.timeout(now);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    eprintln!("qmpsim: poll failed: {e}");
                    for vm in &mut self.vms {
                        if vm.exit.is_none() {
                            vm.set_exit(1, &mut self.io);
                        }
                    }
                }
            }
            for event in events.iter() {
                self.dispatch(event);
            }
            self.read_ready();
            self.settle();
            self.advance_idle();
            self.finish_exited();
        }
        self.vms
            .iter()
            .filter_map(|v| v.finished)
            .find(|&c| c != 0)
            .unwrap_or(0)
    }

    /// The poll's timeout: zero when clients wait to be read, else the earliest
    /// quiet-time, accept-retry or exit-flush deadline; none means wait for I/O.
    fn timeout(&mut self, now: Instant) -> Option<Duration> {
        if !self.io.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let mut due: Option<Instant> = None;
        let mut keep = BTreeSet::new();
        for &i in &self.io.timers {
            if let Some(t) = self.vms[i].idle_due() {
                keep.insert(i);
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        }
        self.io.timers = keep;
        for &i in self.io.retrying.iter().chain(&self.io.exiting) {
            let vm = &self.vms[i];
            let others = vm
                .listeners
                .values()
                .filter_map(|l| l.retry_at)
                .chain(vm.exit_deadline);
            for t in others {
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        }
        due.map(|d| d.saturating_duration_since(now))
    }

    fn dispatch(&mut self, event: &mio::event::Event) {
        match event.token() {
            WAKER_TOKEN => self.drain_channel(),
            SIGNALS_TOKEN => self.take_signals(),
            token => match self.io.slots.get(token) {
                Some(Slot::Listener { vm, monitor }) => {
                    self.vms[vm].try_accept(monitor, &mut self.io);
                }
                Some(Slot::Migration { vm, id }) => {
                    self.vms[vm].migration_writable(id, &mut self.io);
                }
                Some(Slot::Incoming { vm }) => {
                    self.vms[vm].incoming_ready(token, &mut self.io);
                }
                Some(Slot::Client { vm, client }) => {
                    let v = &mut self.vms[vm];
                    if event.is_writable() {
                        v.flush(client, &mut self.io);
                    }
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        if let Some(c) = v.clients.get_mut(&client) {
                            c.readable = true;
                        }
                        v.resume(client, &mut self.io);
                    }
                }
                None => {}
            },
        }
        self.accept_next();
    }

    fn accept_next(&mut self) {
        while !self.io.accept_next.is_empty() {
            for (vm, monitor) in std::mem::take(&mut self.io.accept_next) {
                self.vms[vm].try_accept(monitor, &mut self.io);
            }
        }
    }

    fn drain_channel(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok((vm, event)) => {
                    if let Some(v) = self.vms.get_mut(vm) {
                        v.handle(event, &mut self.io);
                    }
                    self.accept_next();
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn take_signals(&mut self) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        let pending: Vec<i32> = signals.pending().collect();
        for sig in pending {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let signal = match sig {
                SIGINT => Signal::Interrupt,
                SIGTERM => Signal::Terminate,
                _ => Signal::Hangup,
            };
            for vm in &mut self.vms {
                if vm.exit.is_none() {
                    vm.handle(Event::Signal(signal), &mut self.io);
                }
            }
        }
    }

    /// Reads ready clients round-robin, at most [`BATCH_EVENTS_MAX`] reads.
    fn read_ready(&mut self) {
        for _ in 0..BATCH_EVENTS_MAX {
            let Some((vm, client)) = self.io.ready.pop_front() else {
                return;
            };
            self.vms[vm].read(client, &mut self.io);
            self.accept_next();
        }
    }

    /// Commits every VM that stepped and sends its bytes.
    pub fn settle(&mut self) {
        while !self.io.dirty.is_empty() {
            for vm in std::mem::take(&mut self.io.dirty) {
                self.vms[vm].commit_and_send(&mut self.io);
            }
            self.accept_next();
        }
    }

    fn advance_idle(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = self
            .io
            .timers
            .iter()
            .copied()
            .filter(|&i| self.vms[i].idle_due().is_some_and(|t| t <= now))
            .collect();
        for i in due {
            self.vms[i].advance(&mut self.io);
        }
        for i in std::mem::take(&mut self.io.retrying) {
            let vm = &mut self.vms[i];
            let due: Vec<u32> = vm
                .listeners
                .iter_mut()
                .filter(|(_, l)| l.retry_at.is_some_and(|t| t <= now))
                .map(|(m, l)| {
                    l.retry_at = None;
                    *m
                })
                .collect();
            if vm.listeners.values().any(|l| l.retry_at.is_some()) {
                self.io.retrying.insert(i);
            }
            for m in due {
                vm.try_accept(m, &mut self.io);
            }
        }
        self.settle();
    }

    fn finish_exited(&mut self) {
        let now = Instant::now();
        for i in self.io.exiting.clone() {
            let vm = &mut self.vms[i];
            let deadline = *vm
                .exit_deadline
                .get_or_insert(now + Duration::from_millis(EXIT_FLUSH_MS_MAX));
            if vm.drained() || now >= deadline {
                vm.finish(&mut self.io);
                self.io.exiting.remove(&i);
                self.unfinished -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::server::queue::{OUTPUT_QUEUE_BYTES_MAX, OUTPUT_QUEUE_OVERFLOW_BYTES_MAX};
    use crate::server::{event_channel, EventReceiver};

    /// Counts steps, keeps the inputs and, at each commit, how many steps were
    /// recorded so far.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<(Vec<Input>, Vec<usize>)>>);

    impl Recorder for Log {
        fn record(&mut self, input: &Input, _: &[Output], _: &Engine) -> io::Result<()> {
            self.0.lock().unwrap().0.push(input.clone());
            Ok(())
        }
        fn commit(&mut self) -> io::Result<()> {
            let mut g = self.0.lock().unwrap();
            let steps = g.0.len();
            g.1.push(steps);
            Ok(())
        }
        fn finish(&mut self, _: &Engine) -> io::Result<()> {
            Ok(())
        }
    }

    impl Log {
        fn inputs(&self) -> Vec<Input> {
            self.0.lock().unwrap().0.clone()
        }
        fn commits(&self) -> Vec<usize> {
            self.0.lock().unwrap().1.clone()
        }
    }

    /// A loop with one VM around `engine`, recording to `recorder`.
    fn loop_with(engine: Engine, recorder: Box<dyn Recorder>) -> EventLoop {
        let (tx, rx) = event_channel().unwrap();
        let EventReceiver { rx, poll } = rx;
        let mut ev = EventLoop::new(poll, rx, false).unwrap();
        ev.vms.push(Vm::new(
            engine,
            Some(recorder),
            tx.for_vm(0),
            CreatedFiles::default(),
        ));
        ev
    }

    /// A loop with one client accepted and its greeting sent; the client's end.
    fn loop_with_client(log: &Log) -> (EventLoop, UnixStream) {
        let mut ev = loop_with(Engine::new(MachineConfig::default()), Box::new(log.clone()));
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        ev.vms[0].accept(0, Conn::Unix(ours), &mut ev.io);
        ev.settle();
        (ev, theirs)
    }

    fn queue_of(ev: &EventLoop, client: u32) -> &OutputQueue {
        match &ev.vms[0].clients[&ClientId(client)].link {
            Link::Socket { queue, .. } => queue,
            Link::Stdio { .. } => panic!("a socket client"),
        }
    }

    #[test]
    fn idle_loop_feeds_advance_to_pending_deadline() {
        let mut machine = crate::machine::Machine::new(MachineConfig::default());
        machine
            .clock
            .schedule(5_000_000, crate::machine::timers::Timer::GuestPowerOff)
            .unwrap();
        let engine = Engine::from_state(crate::engine::EngineState {
            machine,
            sessions: BTreeMap::new(),
            exited: None,
            gaps: 0,
            held: std::collections::BTreeMap::new(),
        });
        let log = Log::default();
        let mut ev = loop_with(engine, Box::new(log.clone()));
        ev.io.timers.insert(0);
        // The loop waits for the deadline the engine names: without one it
        // would wait for ever.
        assert_eq!(
            ev.vms[0].engine.next_deadline(),
            Some(crate::machine::clock::VirtualTime(5_000_000))
        );
        // The power-off timer shuts the machine down once time reaches it.
        assert_eq!(ev.run(), 0);
        assert_eq!(
            log.inputs(),
            [Input::AdvanceTo {
                at: crate::machine::clock::VirtualTime(5_000_000)
            }]
        );
    }

    #[test]
    fn greeting_waits_for_the_commit() {
        let log = Log::default();
        let mut ev = loop_with(Engine::new(MachineConfig::default()), Box::new(log.clone()));
        let (ours, theirs) = UnixStream::pair().unwrap();
        ev.vms[0].accept(0, Conn::Unix(ours), &mut ev.io);
        // Stepped and recorded, not committed: nothing is queued for the client.
        assert_eq!((log.inputs().len(), ev.vms[0].unsent.len()), (1, 1));
        ev.settle();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        BufReader::new(&theirs).read_line(&mut line).unwrap();
        assert!(line.starts_with("{\"QMP\""), "{line}");
        assert_eq!(log.commits(), [1]);
    }

    /// A loop with `n` clients accepted over socket pairs, and the clients' ends.
    fn loop_with_clients(n: usize) -> (EventLoop, Vec<UnixStream>) {
        let mut ev = loop_with(
            Engine::new(MachineConfig::default()),
            Box::new(Log::default()),
        );
        let theirs = (0..n)
            .map(|_| {
                let (ours, theirs) = UnixStream::pair().unwrap();
                ev.vms[0].accept(0, Conn::Unix(ours), &mut ev.io);
                theirs
            })
            .collect();
        (ev, theirs)
    }

    #[test]
    fn accept_reaching_client_limit_keeps_the_client() {
        let (mut ev, _theirs) = loop_with_clients(crate::engine::CLIENTS_MAX - 1);
        let (ours, _theirs_last) = UnixStream::pair().unwrap();
        ev.vms[0].accept(0, Conn::Unix(ours), &mut ev.io);
        let last = ClientId(u32::try_from(crate::engine::CLIENTS_MAX).unwrap());
        assert!(ev.vms[0].clients.contains_key(&last));
    }

    #[test]
    fn accept_past_client_limit_closes_the_connection_unanswered() {
        let (mut ev, _theirs) = loop_with_clients(crate::engine::CLIENTS_MAX);
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        ev.vms[0].accept(0, Conn::Unix(ours), &mut ev.io);
        let mut got = Vec::new();
        (&theirs).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"");
    }

    /// Send buffer asked for, so that a test can write a turn's worth of reads
    /// (64 of 4 KiB, with the kernel's overhead) before anything reads them.
    const SEND_BUFFER_BYTES: usize = 1 << 20;

    /// Lets `s` hold about `bytes` unread (the kernel caps it to twice its
    /// `wmem_max`, 416 KiB by default, which is enough here).
    fn allow_unread_bytes(s: &UnixStream, bytes: usize) {
        use std::os::fd::AsRawFd;
        let value = libc::c_int::try_from(bytes).unwrap();
        let size = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap();
        // SAFETY: setsockopt reads `size` bytes from a live c_int.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                std::ptr::from_ref(&value).cast(),
                size,
            )
        };
        assert_eq!(rc, 0, "setsockopt SO_SNDBUF");
    }

    /// One turn's reads over a client that sent `chunks` full reads of blanks;
    /// returns the commits and whether the client is still ready.
    fn turn_over(chunks: usize) -> (Vec<usize>, bool) {
        let log = Log::default();
        let (mut ev, mut theirs) = loop_with_client(&log);
        allow_unread_bytes(&theirs, SEND_BUFFER_BYTES);
        theirs
            .write_all(&vec![b' '; chunks * conn::READ_BYTES_MAX])
            .unwrap();
        ev.read_ready();
        ev.settle();
        (log.commits(), !ev.io.ready.is_empty())
    }

    #[test]
    fn turn_reaching_batch_limit_commits_once_after_every_read() {
        assert_eq!(turn_over(BATCH_EVENTS_MAX).0, [1, 1 + BATCH_EVENTS_MAX]);
    }

    #[test]
    fn turn_past_batch_limit_leaves_the_client_for_the_next_turn() {
        assert_eq!(
            turn_over(BATCH_EVENTS_MAX + 1),
            (vec![1, 1 + BATCH_EVENTS_MAX], true)
        );
    }

    /// A recorder whose commit fails.
    struct FullDisk;

    impl Recorder for FullDisk {
        fn record(&mut self, _: &Input, _: &[Output], _: &Engine) -> io::Result<()> {
            Ok(())
        }
        fn commit(&mut self) -> io::Result<()> {
            Err(io::Error::other("-record t: No space left on device"))
        }
        fn finish(&mut self, _: &Engine) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failed_commit_makes_a_zero_exit_status_non_zero() {
        let mut ev = loop_with(Engine::new(MachineConfig::default()), Box::new(FullDisk));
        ev.vms[0].step(
            Input::MigrationStalled {
                id: 1,
                stalled: false,
            },
            &mut ev.io,
        );
        ev.settle();
        ev.vms[0].exit = Some(0);
        assert_eq!(ev.vms[0].finish(&mut ev.io), EXIT_RECORDING_FAILED);
    }

    /// Queued for client 1 beyond what the socket pair buffers, so its queue
    /// stays full while the peer does not read.
    const FILL_BYTES: usize = OUTPUT_QUEUE_BYTES_MAX + (2 << 20);

    /// A loop whose client 1 has a full queue and has sent a request.
    fn loop_with_full_client(log: &Log) -> (EventLoop, UnixStream) {
        let (mut ev, mut theirs) = loop_with_client(log);
        ev.vms[0].send(ClientId(1), vec![b'x'; FILL_BYTES], &mut ev.io);
        ev.vms[0].flush(ClientId(1), &mut ev.io);
        theirs
            .write_all(b"{\"execute\":\"qmp_capabilities\"}")
            .unwrap();
        let c = ev.vms[0].clients.get_mut(&ClientId(1)).unwrap();
        c.readable = true;
        ev.vms[0].resume(ClientId(1), &mut ev.io);
        (ev, theirs)
    }

    #[test]
    fn full_queue_stops_reading_the_client() {
        let log = Log::default();
        let (mut ev, _theirs) = loop_with_full_client(&log);
        ev.read_ready();
        assert_eq!((queue_of(&ev, 1).is_full(), log.inputs().len()), (true, 1));
    }

    #[test]
    fn drained_queue_resumes_reading_the_client() {
        let log = Log::default();
        let (mut ev, theirs) = loop_with_full_client(&log);
        let reader = std::thread::spawn(move || {
            let mut sink = vec![0u8; greeting_bytes() + FILL_BYTES];
            (&theirs).read_exact(&mut sink).unwrap();
            theirs
        });
        while queue_of(&ev, 1).has_queued() {
            ev.vms[0].flush(ClientId(1), &mut ev.io);
            std::thread::yield_now();
        }
        let _theirs = reader.join().unwrap();
        ev.read_ready();
        assert!(matches!(
            log.inputs()[..],
            [Input::Connect { .. }, Input::Bytes { .. }]
        ));
    }

    /// The default machine's greeting line.
    fn greeting_bytes() -> usize {
        crate::wire::message::greeting("").len()
    }

    #[test]
    fn send_past_overflow_limit_drops_client_and_disconnects() {
        let log = Log::default();
        let (mut ev, theirs) = loop_with_client(&log);
        ev.vms[0].send(
            ClientId(1),
            vec![b' '; OUTPUT_QUEUE_OVERFLOW_BYTES_MAX + 1],
            &mut ev.io,
        );
        ev.vms[0].disconnect_dropped(&mut ev.io);
        let mut got = Vec::new();
        (&theirs).read_to_end(&mut got).unwrap();
        assert_eq!(
            (log.inputs()[1].clone(), got.len()),
            (
                Input::Disconnect {
                    client: ClientId(1)
                },
                greeting_bytes()
            )
        );
    }

    #[test]
    fn exit_flush_waits_for_a_client_not_reading_the_whole_limit() {
        let log = Log::default();
        let (mut ev, _theirs) = loop_with_client(&log);
        ev.vms[0].send(ClientId(1), vec![b'x'; FILL_BYTES], &mut ev.io);
        ev.vms[0].set_exit(0, &mut ev.io);
        let limit = Duration::from_millis(EXIT_FLUSH_MS_MAX);
        let start = Instant::now();
        let code = ev.run();
        assert_eq!((code, start.elapsed() >= limit), (0, true));
    }

    #[test]
    fn reply_of_a_file_writing_step_waits_for_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shot.ppm");
        let log = Log::default();
        let (mut ev, _theirs) = loop_with_client(&log);
        let request = format!(
            "{{\"execute\":\"qmp_capabilities\"}}{{\"execute\":\"screendump\",\"arguments\":{{\"filename\":\"{}\"}}}}",
            path.display()
        );
        ev.vms[0].data(ClientId(1), request.into_bytes(), None, &mut ev.io);
        ev.settle();
        let held = ev.vms[0].unsent.len();
        let done = ev.rx.recv_timeout(Duration::from_secs(10)).unwrap();
        ev.vms[0].handle(done.1, &mut ev.io);
        assert_eq!((held, ev.vms[0].unsent.len(), path.exists()), (2, 0, true));
    }
}
