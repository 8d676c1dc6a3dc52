//! The server: the only place with sockets, threads, descriptor passing, signals and
//! wall-clock time. It turns the world into [`Input`]s for one [`Engine`], in one
//! order, and carries out the [`Output`]s.
//!
//! Shape: the main thread runs the engine loop and owns the `Engine`. Every other
//! thread only reports [`Event`]s through one bounded channel: an acceptor per
//! listening monitor, a reader per connection (and one for stdin), and a signal
//! thread (SIGINT, SIGTERM, SIGHUP). The loop turns each event into exactly one
//! `Input` (a message with a passed descriptor gives an `Input::Fd` first), assigns
//! client ids in arrival order (from 1, never reused), and hands every step to the
//! [`Recorder`] in order. When nothing arrived for [`IDLE_ADVANCE_MS`] and a timer
//! is pending, the loop feeds `Input::AdvanceTo` its deadline: that is how virtual
//! time moves on its own, and since the decision is an input, it is recorded.
//!
//! Recording is write-ahead, with group commit: the loop takes a burst of ready
//! events (at most [`BATCH_EVENTS_MAX`]), steps the engine for each, and keeps
//! the bytes for clients aside; then the [`Recorder`] hands the burst's trace
//! bytes to the kernel in one `write(2)` ([`Recorder::commit`]), and only then
//! are the kept bytes queued to the clients. So a client never sees a byte whose
//! step is not in the trace file, and a SIGKILL loses at most the burst in
//! flight, none of whose output anyone has seen. (Effects on files and migration
//! channels are carried out at once; they are not client bytes.) A recording that
//! fails is reported with the OS error, the VM goes on, and the exit status is
//! [`EXIT_RECORDING_FAILED`] unless it was already non-zero.
//!
//! Writes go through a per-connection writer thread with a bounded queue
//! ([`queue::OUTPUT_QUEUE_BYTES_MAX`]); a client that stops reading past it is
//! dropped (its socket shut down, `Input::Disconnect` fed). A client the engine
//! gives no session to (one past [`CLIENTS_MAX`](crate::engine::CLIENTS_MAX)) has
//! its connection closed at once, unanswered. On `Output::Exit` the
//! loop flushes every writer (at most [`EXIT_FLUSH_MS_MAX`]), finishes the recorder,
//! removes the unix socket files and pidfile it created, and returns the status.

pub mod conn;
pub mod effects;
pub mod fds;
pub mod image;
pub mod incoming;
pub mod listen;
pub mod migrate;
pub mod probe;
pub mod process;
pub mod queue;
pub mod record;
pub mod snapshots;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use crate::engine::{Engine, Input, Output, Signal};
use crate::machine::config::MachineConfig;
use crate::qmp::session::ClientId;
use conn::{Conn, Link};
use fds::FdTable;
use listen::{Endpoint, MonitorEndpoint};
use process::CreatedFiles;

/// Quiet time after which a pending timer's deadline is fed as `AdvanceTo`.
pub const IDLE_ADVANCE_MS: u64 = 20;
/// Longest wait for clients to take their last bytes at exit.
pub const EXIT_FLUSH_MS_MAX: u64 = 2000;
/// Most I/O events (reads, connects, signals, migration progress) waiting for the
/// engine loop; their senders block past it. Not to be confused with the machine's
/// queue of QMP events, [`crate::machine::events::EVENTS_QUEUED_MAX`].
pub const LOOP_EVENTS_QUEUED_MAX: usize = 1024;
/// Most events stepped in one burst before the trace is committed and the
/// burst's bytes are sent.
pub const BATCH_EVENTS_MAX: usize = 64;
/// Exit status of a VM that exited with 0 but whose recording failed.
pub const EXIT_RECORDING_FAILED: i32 = 1;

/// Receives every step of the engine, in order, to record a trace.
pub trait Recorder: Send {
    /// One step: the input fed, the outputs it gave, and the engine after it.
    /// May only buffer: nothing of the step reaches a client before the next
    /// [`commit`](Self::commit) returned.
    fn record(&mut self, input: &Input, outputs: &[Output], engine: &Engine) -> io::Result<()>;
    /// Hands everything recorded so far to the kernel (`write(2)`, no `fsync`).
    /// Called after each burst of steps, before their bytes are sent.
    fn commit(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The session ended; `engine` is the final state. Commits, writes the end of
    /// the recording and makes it durable (`fsync`).
    fn finish(&mut self, engine: &Engine) -> io::Result<()>;
}

/// What [`run`] needs.
pub struct ServerOptions {
    /// The VM.
    pub config: MachineConfig,
    /// Where to record the session, if anywhere.
    pub recorder: Option<Box<dyn Recorder>>,
    /// `-pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `-daemonize`.
    pub daemonize: bool,
    /// Let virtual time jump to the next deadline when clients are idle
    /// (`-x-clock idle`, the default); off with `-x-clock manual`.
    pub idle_advance: bool,
    /// `-loadvm TAG`: load this internal snapshot at start.
    pub loadvm: Option<String>,
    /// `-x-resume`: start from this engine (a trace's state) instead of a
    /// fresh machine built from `config` (whose monitors are served).
    pub resume: Option<Engine>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("config", &self.config)
            .field("recorder", &self.recorder.as_ref().map(|_| "Recorder"))
            .field("pidfile", &self.pidfile)
            .field("daemonize", &self.daemonize)
            .field("idle_advance", &self.idle_advance)
            .finish()
    }
}

/// Why the server could not start. `Display` is the line printed before exiting 1.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listening socket could not be bound.
    #[error(
        "chardev: opening backend \"socket\" failed: bind({filename}): {}",
        strerror(error)
    )]
    Bind {
        /// The chardev filename.
        filename: String,
        /// What went wrong.
        error: io::Error,
    },
    /// An outgoing socket could not connect.
    #[error(
        "chardev: opening backend \"socket\" failed: connect({filename}): {}",
        strerror(error)
    )]
    Connect {
        /// The chardev filename.
        filename: String,
        /// What went wrong.
        error: io::Error,
    },
    /// Waiting for the first client failed.
    #[error("qmpsim: accept failed")]
    Accept(#[source] io::Error),
    /// The pidfile could not be created, locked or written (0.14's
    /// `os_pidfile_error`): another process holds it, or the file cannot be opened.
    #[error("Could not acquire pid file: {}", strerror(.0))]
    Pidfile(io::Error),
    /// The same, under `-daemonize`: 0.14's parent process reports it in its
    /// own words (`os_daemonize`).
    #[error("Could not acquire pidfile: {}", strerror(.0))]
    PidfileDaemonized(io::Error),
    /// `-daemonize` failed.
    #[error("qmpsim: could not daemonize")]
    Daemonize(#[source] io::Error),
    /// `-incoming` could not open its channel: 0.14's lines, and its exit status.
    #[error("{}", .0.text.trim_end())]
    Incoming(incoming::IncomingStartError),
    /// A real image's snapshot table could not be read.
    #[error("qmpsim: snapshot table {path}: {problem}")]
    SnapshotTable {
        /// The sidecar file.
        path: String,
        /// Why, for people.
        problem: String,
    },
    /// Signal handlers or threads could not be set up.
    #[error("qmpsim: could not start")]
    Setup(#[source] io::Error),
}

/// The C library's text for an I/O error, without Rust's ` (os error N)` suffix.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// What the other threads tell the engine loop.
#[derive(Debug)]
pub enum Event {
    /// A listening monitor accepted a client.
    Accepted {
        /// Which monitor.
        monitor: u32,
        /// The connection.
        conn: Conn,
    },
    /// A client sent bytes, maybe with a descriptor.
    Data {
        /// Who.
        client: ClientId,
        /// What.
        bytes: Vec<u8>,
        /// A descriptor passed with them.
        fd: Option<OwnedFd>,
    },
    /// A client's connection ended.
    Closed {
        /// Who.
        client: ClientId,
    },
    /// A terminating signal.
    Signal(Signal),
    /// An outgoing migration channel could not be opened or broke.
    MigrationFailed {
        /// The migration's id.
        id: u64,
    },
    /// A stalled migration's destination took everything written so far.
    MigrationCaughtUp {
        /// The migration's id.
        id: u64,
    },
    /// The `-incoming` reader read part of the stream, or failed: the input to feed.
    Incoming(Input),
}

/// What an embedding ([`crate::embed`]) gives [`run_embedded`] instead of the
/// process's signals.
#[derive(Debug)]
pub struct Embedding {
    /// The loop's event channel, from [`event_channel`]. The embedding keeps a clone
    /// of the sender, to stop the VM with [`Event::Signal`] as a signal would.
    pub events: (SyncSender<Event>, Receiver<Event>),
    /// Told once every monitor listens; dropped unsent when the server fails to
    /// start (its error is then the thread's result).
    pub ready: Sender<()>,
}

/// Runs a VM until it exits; returns the exit status.
pub fn run(opts: ServerOptions) -> Result<i32, ServerError> {
    serve(opts, None)
}

/// Runs a VM inside a program that embeds qmpsim: as [`run`], but no signal
/// handlers are installed (the embedding stops the VM through the event channel)
/// and `embedding.ready` is told when the monitors listen.
pub fn run_embedded(opts: ServerOptions, embedding: Embedding) -> Result<i32, ServerError> {
    serve(opts, Some(embedding))
}

fn serve(opts: ServerOptions, embedding: Option<Embedding>) -> Result<i32, ServerError> {
    let mut files = CreatedFiles::default();
    let mut endpoints = listen::bind_all(&opts.config, &mut files)?;
    let events = match embedding {
        Some(Embedding { events, ready }) => {
            // Clients may connect from now on: the sockets are bound and listening.
            // The embedding may have given up waiting; nothing to tell then.
            let _ = ready.send(());
            Some(events)
        }
        None => None,
    };
    let daemon = if opts.daemonize {
        Some(process::daemonize().map_err(ServerError::Daemonize)?)
    } else {
        None
    };
    let initial = listen::initial_connections(&endpoints)?;
    if let Some(path) = &opts.pidfile {
        let pidfile = process::create_pidfile(path).map_err(|e| match daemon {
            Some(_) => ServerError::PidfileDaemonized(e),
            None => ServerError::Pidfile(e),
        })?;
        files.hold(pidfile);
    }
    if let Some(daemon) = daemon {
        daemon.ready().map_err(ServerError::Daemonize)?;
    }
    // Threads start only now: they would not survive -daemonize's fork.
    let (tx, rx) = match events {
        Some(events) => events,
        None => {
            let (tx, rx) = event_channel();
            spawn_signal_thread(tx.clone())?;
            (tx, rx)
        }
    };
    if let Some(uri) = &opts.config.incoming {
        incoming::start(uri, tx.clone()).map_err(ServerError::Incoming)?;
    }
    let busy: Vec<u32> = initial.iter().map(|(m, _)| *m).collect();
    let engine = opts.resume.unwrap_or_else(|| Engine::new(opts.config));
    let tables = snapshots::open_tables(&engine)?;
    let mut engine_loop = EngineLoop::new(engine, opts.recorder, tx.clone());
    engine_loop.idle_advance = opts.idle_advance;
    for input in tables {
        engine_loop.step(input);
    }
    if let Some(name) = opts.loadvm {
        engine_loop.step(Input::LoadVm { name });
    }
    for ep in endpoints.drain(..) {
        let MonitorEndpoint { monitor, endpoint } = ep;
        if let Endpoint::Listen { listener, .. } = endpoint {
            let (free_tx, free_rx) = mpsc::channel();
            let is_busy = busy.contains(&monitor);
            listen::spawn_acceptor(monitor, listener, is_busy, free_rx, tx.clone())
                .map_err(ServerError::Setup)?;
            engine_loop.free.insert(monitor, free_tx);
        }
    }
    drop(tx);
    for (monitor, conn) in initial {
        engine_loop.accept(monitor, conn);
    }
    let (code, cutters) = engine_loop.run(&rx);
    // Clients see their connection end only once the socket files and pidfile are
    // gone, so a client that waits for end of stream may rely on the cleanup.
    drop(files);
    for cutter in cutters {
        cutter.cut();
    }
    Ok(code)
}

/// The engine loop's one channel: it holds at most [`LOOP_EVENTS_QUEUED_MAX`] events,
/// past which senders block until the loop takes one.
pub fn event_channel() -> (SyncSender<Event>, Receiver<Event>) {
    mpsc::sync_channel(LOOP_EVENTS_QUEUED_MAX)
}

fn spawn_signal_thread(tx: SyncSender<Event>) -> Result<(), ServerError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(ServerError::Setup)?;
    thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for sig in signals.forever() {
                let signal = match sig {
                    SIGINT => Signal::Interrupt,
                    SIGTERM => Signal::Terminate,
                    _ => Signal::Hangup,
                };
                if tx.send(Event::Signal(signal)).is_err() {
                    return;
                }
            }
        })
        .map_err(ServerError::Setup)?;
    Ok(())
}

struct Client {
    monitor: u32,
    link: Link,
}

/// The engine and everything the loop tracks around it.
struct EngineLoop {
    engine: Engine,
    recorder: Option<Box<dyn Recorder>>,
    events: SyncSender<Event>,
    clients: BTreeMap<ClientId, Client>,
    /// Per listening monitor: tells its acceptor the client left.
    free: BTreeMap<u32, Sender<()>>,
    fds: FdTable,
    migrations: migrate::Migrations,
    scout: probe::Scout,
    /// Whether idle time moves virtual time (`-x-clock idle`).
    idle_advance: bool,
    last_client: u32,
    exit: Option<i32>,
    /// Clients dropped while carrying out outputs, to disconnect after.
    dropped: Vec<ClientId>,
    /// Inputs that carrying out effects gave rise to, fed after the step.
    later: Vec<Input>,
    /// Bytes for clients from the steps not committed yet, in order.
    unsent: Vec<(ClientId, Vec<u8>)>,
    /// The recording failed (reported once); the exit status says so.
    recording_failed: bool,
}

impl EngineLoop {
    fn new(engine: Engine, recorder: Option<Box<dyn Recorder>>, events: SyncSender<Event>) -> Self {
        EngineLoop {
            engine,
            recorder,
            events,
            clients: BTreeMap::new(),
            free: BTreeMap::new(),
            fds: FdTable::default(),
            migrations: migrate::Migrations::default(),
            scout: probe::Scout::default(),
            idle_advance: true,
            last_client: 0,
            exit: None,
            dropped: Vec::new(),
            later: Vec::new(),
            unsent: Vec::new(),
            recording_failed: false,
        }
    }

    fn run(mut self, rx: &Receiver<Event>) -> (i32, Vec<conn::Cutter>) {
        // Clients connected before the loop (`wait` monitors) get their greeting.
        self.commit_and_send();
        let idle = Duration::from_millis(IDLE_ADVANCE_MS);
        while self.exit.is_none() {
            let deadline = self.engine.next_deadline().filter(|_| self.idle_advance);
            let event = match deadline {
                Some(_) => match rx.recv_timeout(idle) {
                    Ok(event) => Some(event),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(event) => Some(event),
                    Err(_) => break,
                },
            };
            match event {
                Some(event) => {
                    self.burst(event, rx);
                }
                None => {
                    if let Some(at) = self.engine.next_deadline() {
                        self.step(Input::AdvanceTo { at });
                    }
                    self.commit_and_send();
                }
            }
        }
        self.finish()
    }

    /// Handles `first` and the events already waiting after it (at most
    /// [`BATCH_EVENTS_MAX`] in all, fewer if the machine exits), then commits
    /// the trace and sends. Returns the events handled.
    fn burst(&mut self, first: Event, rx: &Receiver<Event>) -> usize {
        self.handle(first);
        let mut handled = 1;
        while handled < BATCH_EVENTS_MAX && self.exit.is_none() {
            match rx.try_recv() {
                Ok(event) => self.handle(event),
                Err(_) => break,
            }
            handled += 1;
        }
        self.commit_and_send();
        handled
    }

    /// Commits the recorder, then queues the bytes kept since the last commit to
    /// their clients; feeds `Disconnect` for clients dropped meanwhile (their
    /// steps are committed and sent the same way).
    fn commit_and_send(&mut self) {
        loop {
            if let Some(recorder) = &mut self.recorder {
                if let Err(e) = recorder.commit() {
                    self.recording_stopped(&e);
                }
            }
            for (client, data) in std::mem::take(&mut self.unsent) {
                self.send(client, data);
            }
            if self.dropped.is_empty() {
                return;
            }
            self.disconnect_dropped();
        }
    }

    fn recording_stopped(&mut self, e: &io::Error) {
        eprintln!("qmpsim: {e}; the recording stopped");
        self.recorder = None;
        self.recording_failed = true;
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Accepted { monitor, conn } => self.accept(monitor, conn),
            Event::Data { client, bytes, fd } => {
                if !self.clients.contains_key(&client) {
                    return;
                }
                if let Some(handle) = fd.and_then(|fd| self.fds.insert(fd)) {
                    self.step(Input::Fd { client, fd: handle });
                }
                for path in self.scout.scout(client, &bytes) {
                    let probe = image::probe(&path);
                    self.step(Input::ImageProbed { path, probe });
                }
                if !bytes.is_empty() {
                    self.step(Input::Bytes {
                        client,
                        data: bytes,
                    });
                }
            }
            Event::Closed { client } => {
                // What the burst so far has for this client goes out before its
                // writer closes (a client that half-closed still reads).
                self.commit_and_send();
                if let Some(c) = self.clients.remove(&client) {
                    self.scout.disconnect(client);
                    c.link.writer.close();
                    self.release(c.monitor);
                    self.step(Input::Disconnect { client });
                }
            }
            Event::Signal(signal) => self.step(Input::Signal { signal }),
            Event::MigrationFailed { id } => self.step(Input::MigrationFailed { id }),
            Event::MigrationCaughtUp { id } => {
                self.step(Input::MigrationStalled { id, stalled: false })
            }
            Event::Incoming(input) => self.step(input),
        }
    }

    fn accept(&mut self, monitor: u32, conn: Conn) {
        self.last_client += 1;
        let client = ClientId(self.last_client);
        match conn::start(conn, client, self.events.clone()) {
            Ok(link) => {
                self.clients.insert(client, Client { monitor, link });
                self.step(Input::Connect { client, monitor });
                let session = self.engine.state().sessions.get(&client);
                match session.and_then(crate::monitor::LineSplitter::for_session) {
                    Some(lines) => self.scout.connect_human(client, lines),
                    None => self.scout.connect(client),
                }
                if !self.engine.state().sessions.contains_key(&client) {
                    self.refuse(client);
                }
            }
            Err(e) => {
                eprintln!("qmpsim: could not serve client {}: {e}", client.0);
                self.release(monitor);
            }
        }
    }

    /// Closes the connection of a client the engine gave no session (one past
    /// [`CLIENTS_MAX`](crate::engine::CLIENTS_MAX), or any client once the machine
    /// has exited). The engine never saw it as connected, so no `Disconnect` is fed.
    fn refuse(&mut self, client: ClientId) {
        self.commit_and_send();
        let Some(c) = self.clients.remove(&client) else {
            return;
        };
        self.scout.disconnect(client);
        c.link.writer.close();
        c.link.cutter.cut();
        self.release(c.monitor);
    }

    /// Lets the monitor's acceptor take its next client.
    fn release(&self, monitor: u32) {
        if let Some(free) = self.free.get(&monitor) {
            // The acceptor may be gone (exiting); nothing to tell then.
            let _ = free.send(());
        }
    }

    fn step(&mut self, input: Input) {
        let outputs = self.engine.step(input.clone());
        if let Some(recorder) = &mut self.recorder {
            if let Err(e) = recorder.record(&input, &outputs, &self.engine) {
                self.recording_stopped(&e);
            }
        }
        for output in outputs {
            match output {
                Output::Send { client, data } => self.unsent.push((client, data)),
                Output::Effect(effect) => {
                    let mut world = effects::World {
                        fds: &mut self.fds,
                        migrations: &mut self.migrations,
                        events: &self.events,
                        engine: &self.engine,
                    };
                    if let Some(input) = effects::apply(&effect, &mut world) {
                        self.later.push(input);
                    }
                }
                Output::Exit { code } => self.exit = Some(code),
            }
        }
        self.disconnect_dropped();
        for input in std::mem::take(&mut self.later) {
            self.step(input);
        }
    }

    /// Feeds `Disconnect` for the clients dropped while carrying out outputs.
    fn disconnect_dropped(&mut self) {
        for client in std::mem::take(&mut self.dropped) {
            self.step(Input::Disconnect { client });
        }
    }

    fn send(&mut self, client: ClientId, data: Vec<u8>) {
        let Some(c) = self.clients.get(&client) else {
            return;
        };
        if c.link.writer.push(data).is_ok() {
            return;
        }
        eprintln!(
            "qmpsim: client {} is not reading; dropping its connection",
            client.0
        );
        let c = self
            .clients
            .remove(&client)
            .expect("client looked up above");
        c.link.writer.abort();
        c.link.cutter.cut();
        self.release(c.monitor);
        self.dropped.push(client);
    }

    /// Flushes every writer (bounded), finishes the recorder; returns the status and
    /// the cutters of the connections still open, for the caller to cut once the
    /// files it created are gone.
    fn finish(mut self) -> (i32, Vec<conn::Cutter>) {
        self.commit_and_send();
        let deadline = Instant::now() + Duration::from_millis(EXIT_FLUSH_MS_MAX);
        for c in self.clients.values() {
            c.link.writer.close();
        }
        for c in self.clients.values() {
            c.link.writer.wait_flushed(deadline);
        }
        self.migrations.wait(deadline);
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
        let cutters = std::mem::take(&mut self.clients)
            .into_values()
            .map(|c| c.link.cutter)
            .collect();
        (code, cutters)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::machine::config::{ChardevBackend, ChardevConfig, MonitorConfig, MonitorMode};

    /// Shares what it records with the test.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<Input>>>);

    impl Recorder for Shared {
        fn record(&mut self, input: &Input, _outputs: &[Output], _: &Engine) -> io::Result<()> {
            self.0.lock().unwrap().push(input.clone());
            Ok(())
        }
        fn finish(&mut self, _: &Engine) -> io::Result<()> {
            Ok(())
        }
    }

    fn unix_config(path: &str) -> MachineConfig {
        MachineConfig {
            chardevs: vec![ChardevConfig {
                label: "compat_monitor0".to_owned(),
                backend: ChardevBackend::Unix {
                    path: path.to_owned(),
                    server: true,
                    wait: false,
                },
            }],
            monitors: vec![MonitorConfig {
                chardev: "compat_monitor0".to_owned(),
                mode: MonitorMode::Control,
                pretty: false,
            }],
            ..MachineConfig::default()
        }
    }

    fn connect(path: &std::path::Path) -> UnixStream {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match UnixStream::connect(path) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    return s;
                }
                Err(e) if Instant::now() > deadline => panic!("no server at {path:?}: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn loop_with(engine: Engine, recorder: &Shared) -> (EngineLoop, Receiver<Event>) {
        let (tx, rx) = event_channel();
        (
            EngineLoop::new(engine, Some(Box::new(recorder.clone())), tx),
            rx,
        )
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
        });
        let recorder = Shared::default();
        let (engine_loop, rx) = loop_with(engine, &recorder);
        // The power-off timer shuts the machine down once time reaches it.
        assert_eq!(engine_loop.run(&rx).0, 0);
        assert_eq!(
            recorder.0.lock().unwrap().clone(),
            [Input::AdvanceTo {
                at: crate::machine::clock::VirtualTime(5_000_000)
            }]
        );
    }

    #[test]
    fn send_past_queue_limit_drops_client_and_disconnects() {
        let recorder = Shared::default();
        let (mut engine_loop, _rx) = loop_with(Engine::new(MachineConfig::default()), &recorder);
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        engine_loop.accept(0, Conn::Unix(ours));
        engine_loop.send(ClientId(1), vec![b' '; queue::OUTPUT_QUEUE_BYTES_MAX + 1]);
        engine_loop.disconnect_dropped();
        let inputs = recorder.0.lock().unwrap().clone();
        assert_eq!(
            inputs,
            [
                Input::Connect {
                    client: ClientId(1),
                    monitor: 0
                },
                Input::Disconnect {
                    client: ClientId(1)
                }
            ]
        );
    }

    #[test]
    fn send_past_queue_limit_cuts_the_socket() {
        let recorder = Shared::default();
        let (mut engine_loop, _rx) = loop_with(Engine::new(MachineConfig::default()), &recorder);
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        engine_loop.accept(0, Conn::Unix(ours));
        engine_loop.send(ClientId(1), vec![b' '; queue::OUTPUT_QUEUE_BYTES_MAX + 1]);
        // The greeting may or may not have been written before the cut; then EOF.
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut &theirs, &mut got).unwrap();
        assert!(got.len() <= GREETING_BYTES_MAX);
    }

    /// Upper bound of the greeting's length, for the cut test.
    const GREETING_BYTES_MAX: usize = 200;

    /// A loop with `n` clients accepted over socket pairs, and the clients' ends.
    fn loop_with_clients(n: usize) -> (EngineLoop, Receiver<Event>, Vec<UnixStream>) {
        let (mut engine_loop, rx) =
            loop_with(Engine::new(MachineConfig::default()), &Shared::default());
        let theirs = (0..n)
            .map(|_| {
                let (ours, theirs) = UnixStream::pair().unwrap();
                engine_loop.accept(0, Conn::Unix(ours));
                theirs
            })
            .collect();
        (engine_loop, rx, theirs)
    }

    #[test]
    fn accept_reaching_client_limit_keeps_the_client() {
        let (mut engine_loop, _rx, _theirs) = loop_with_clients(crate::engine::CLIENTS_MAX - 1);
        let (ours, _theirs_last) = UnixStream::pair().unwrap();
        engine_loop.accept(0, Conn::Unix(ours));
        let last = ClientId(u32::try_from(crate::engine::CLIENTS_MAX).unwrap());
        assert!(engine_loop.clients.contains_key(&last));
    }

    #[test]
    fn accept_past_client_limit_closes_the_connection_unanswered() {
        let (mut engine_loop, _rx, _theirs) = loop_with_clients(crate::engine::CLIENTS_MAX);
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        engine_loop.accept(0, Conn::Unix(ours));
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut &theirs, &mut got).unwrap();
        assert_eq!(got, b"");
    }

    /// The loop's channel with `n` events queued and none taken.
    fn channel_holding(n: usize) -> (SyncSender<Event>, Receiver<Event>) {
        let (tx, rx) = event_channel();
        (0..n).for_each(|_| {
            tx.try_send(Event::Signal(Signal::Hangup))
                .expect("room in the channel");
        });
        (tx, rx)
    }

    /// Counts steps and, at each commit, how many steps were recorded so far.
    #[derive(Clone, Default)]
    struct Commits(Arc<Mutex<(usize, Vec<usize>)>>);

    impl Recorder for Commits {
        fn record(&mut self, _: &Input, _: &[Output], _: &Engine) -> io::Result<()> {
            self.0.lock().unwrap().0 += 1;
            Ok(())
        }
        fn commit(&mut self) -> io::Result<()> {
            let mut g = self.0.lock().unwrap();
            let steps = g.0;
            g.1.push(steps);
            Ok(())
        }
        fn finish(&mut self, _: &Engine) -> io::Result<()> {
            Ok(())
        }
    }

    /// A burst over a channel holding `n` events that each make one step;
    /// returns the events handled, the commits and whether an event is left.
    fn burst_of(n: usize) -> (usize, Vec<usize>, bool) {
        let commits = Commits::default();
        let (tx, rx) = event_channel();
        let mut engine_loop = EngineLoop::new(
            Engine::new(MachineConfig::default()),
            Some(Box::new(commits.clone())),
            tx.clone(),
        );
        (0..n).for_each(|_| {
            tx.try_send(Event::MigrationCaughtUp { id: 1 })
                .expect("room in the channel");
        });
        let first = rx.recv().unwrap();
        let handled = engine_loop.burst(first, &rx);
        let left = rx.try_recv().is_ok();
        let log = commits.0.lock().unwrap().1.clone();
        (handled, log, left)
    }

    #[test]
    fn burst_reaching_batch_limit_commits_once_after_every_step() {
        assert_eq!(
            burst_of(BATCH_EVENTS_MAX),
            (BATCH_EVENTS_MAX, vec![BATCH_EVENTS_MAX], false)
        );
    }

    #[test]
    fn burst_past_batch_limit_leaves_the_next_event_for_the_next_burst() {
        assert_eq!(
            burst_of(BATCH_EVENTS_MAX + 1),
            (BATCH_EVENTS_MAX, vec![BATCH_EVENTS_MAX], true)
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
        let (tx, rx) = event_channel();
        let mut engine_loop = EngineLoop::new(
            Engine::new(MachineConfig::default()),
            Some(Box::new(FullDisk)),
            tx.clone(),
        );
        tx.try_send(Event::MigrationCaughtUp { id: 1 }).unwrap();
        engine_loop.burst(rx.recv().unwrap(), &rx);
        engine_loop.exit = Some(0);
        assert_eq!(engine_loop.finish().0, EXIT_RECORDING_FAILED);
    }

    #[test]
    fn greeting_waits_for_the_commit() {
        let commits = Commits::default();
        let (tx, _rx) = event_channel();
        let mut engine_loop = EngineLoop::new(
            Engine::new(MachineConfig::default()),
            Some(Box::new(commits.clone())),
            tx,
        );
        let (ours, theirs) = UnixStream::pair().unwrap();
        engine_loop.accept(0, Conn::Unix(ours));
        // Stepped and recorded, not committed: nothing is queued for the client.
        assert_eq!(
            (commits.0.lock().unwrap().0, engine_loop.unsent.len()),
            (1, 1)
        );
        engine_loop.commit_and_send();
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        BufReader::new(&theirs).read_line(&mut line).unwrap();
        assert!(line.starts_with("{\"QMP\""), "{line}");
        assert_eq!(commits.0.lock().unwrap().1, [1]);
    }

    #[test]
    fn event_channel_reaching_limit_takes_the_event() {
        let (tx, _rx) = channel_holding(LOOP_EVENTS_QUEUED_MAX - 1);
        assert!(tx.try_send(Event::Signal(Signal::Hangup)).is_ok());
    }

    #[test]
    fn event_channel_past_limit_is_full() {
        let (tx, _rx) = channel_holding(LOOP_EVENTS_QUEUED_MAX);
        assert!(matches!(
            tx.try_send(Event::Signal(Signal::Hangup)),
            Err(mpsc::TrySendError::Full(_))
        ));
    }

    /// Bytes far past what a unix socket buffers, so a peer that never reads
    /// keeps the writer blocked.
    const UNREAD_BYTES: usize = 1 << 20;

    #[test]
    fn exit_flush_waits_for_a_client_not_reading_the_whole_limit() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let writer = conn::Writer::spawn("t", Box::new(ours)).unwrap();
        writer.push(vec![b'x'; UNREAD_BYTES]).unwrap();
        let limit = Duration::from_millis(EXIT_FLUSH_MS_MAX);
        let start = Instant::now();
        let flushed = writer.wait_flushed(start + limit);
        assert_eq!((flushed, start.elapsed() >= limit), (false, true));
        drop(theirs);
    }

    #[test]
    fn run_records_connect_bytes_in_order_and_exits_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sock");
        let recorder = Shared::default();
        let opts = ServerOptions {
            config: unix_config(path.to_str().unwrap()),
            recorder: Some(Box::new(recorder.clone())),
            pidfile: None,
            daemonize: false,
            idle_advance: true,
            loadvm: None,
            resume: None,
        };
        let server = thread::spawn(move || run(opts).unwrap());
        let mut s = connect(&path);
        s.write_all(b"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"quit\"}")
            .unwrap();
        let mut lines = BufReader::new(s).lines();
        let _greeting = lines.next();
        assert_eq!(server.join().unwrap(), 0);
        let inputs = recorder.0.lock().unwrap().clone();
        assert!(matches!(
            &inputs[..],
            [
                Input::Connect {
                    client: ClientId(1),
                    monitor: 0
                },
                Input::Bytes {
                    client: ClientId(1),
                    ..
                },
                ..
            ]
        ));
    }
}
