//! The server: the only place with sockets, threads, descriptor passing, signals and
//! wall-clock time. It turns the world into [`Input`]s for each [`Engine`], in one
//! order, and carries out the [`Output`]s.
//!
//! Shape: one thread runs one event loop ([`event_loop`], on `mio`) for every VM
//! of the process (one for `qmpsim run`, many for `qmpsim fleet`). That thread
//! handles every listening monitor, every client connection, every migration
//! stream (outgoing, and `-incoming`), the signals
//! (SIGINT, SIGTERM, SIGHUP through `signal-hook-mio`), timers and the exit
//! flush. Each readiness turns into exactly one `Input` (a message with a passed
//! descriptor gives an `Input::Fd` first); client ids are assigned in arrival
//! order (from 1, never reused), and every step goes to the VM's [`Recorder`] in
//! order. The clock driver follows the machine's `-x-clock` mode: idle (when a
//! VM had no input for [`IDLE_ADVANCE_MS`] and a timer is pending, the loop
//! feeds `Input::AdvanceTo` its deadline: that quiet time is the poll's
//! timeout), manual (nothing), or realtime (an `AdvanceTo` the wall clock's
//! time before an input once the wall clock is a message step ahead, and at
//! each pending deadline as the wall clock reaches it). Since every decision is
//! an input, it is recorded.
//!
//! Blocking work stays off the loop, on threads that report back through the
//! loop's channel ([`EventSender`], which wakes the poll): a helper thread per
//! VM ([`helper`]) probes the image files requests name and writes the files
//! the machine produces (`screendump`, `memsave`, `pmemsave`, snapshot tables);
//! an outgoing migration's `exec:` child is reaped by a thread once its stream
//! is written ([`migrate`]; the streams themselves are written on the loop);
//! the `-incoming` stream is read on the loop, unless it is a descriptor from
//! the parent (`fd:`, `stdio`), which a thread reads ([`incoming`]); and the stdio
//! monitor, which cannot be polled in general, has a reader and a writer
//! thread ([`conn`]). Sockets are all on the loop.
//!
//! Recording is write-ahead, with group commit: a turn of the loop steps the
//! engines for what is ready (at most [`BATCH_EVENTS_MAX`] reads), keeping the
//! bytes for clients aside; then each VM's [`Recorder`] hands the turn's trace
//! bytes to the kernel in one `write(2)` ([`Recorder::commit`]), and only then
//! are the kept bytes queued to the clients. So a client never sees a byte whose
//! step is not in the trace file, and a SIGKILL loses at most the turn in flight,
//! none of whose output anyone has seen. Bytes of a step that wrote a file wait
//! for the helper to finish the file as well (effects before replies). A
//! recording that fails is reported with the OS error, the VM goes on, and the
//! exit status is [`EXIT_RECORDING_FAILED`] unless it was already non-zero.
//!
//! Output goes through a bounded per-client queue ([`queue`]) with partial
//! writes. A queue holding [`OUTPUT_QUEUE_BYTES_MAX`](queue::OUTPUT_QUEUE_BYTES_MAX)
//! is full: the loop stops reading that client's requests until it drains
//! (backpressure; nothing is lost and the other clients go on). Only a client
//! that reads nothing while events pile up past
//! [`OUTPUT_QUEUE_OVERFLOW_BYTES_MAX`](queue::OUTPUT_QUEUE_OVERFLOW_BYTES_MAX) is
//! dropped (its socket shut down, `Input::Disconnect` fed). A client the engine
//! gives no session to (one past [`CLIENTS_MAX`](crate::engine::CLIENTS_MAX)) has
//! its connection closed at once, unanswered. On `Output::Exit` the loop flushes
//! the VM's clients (at most [`EXIT_FLUSH_MS_MAX`]), finishes the recorder,
//! removes the unix socket files and pidfile it created, then closes the
//! connections, and returns the status.

pub mod conn;
pub mod effects;
pub mod event_loop;
pub mod fds;
pub mod fleet;
pub mod helper;
pub mod image;
pub mod incoming;
pub mod listen;
pub mod migrate;
pub mod probe;
pub mod process;
pub mod queue;
pub mod record;
pub mod snapshots;
pub mod tty;

use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;

use crate::engine::{Engine, Input, Output, Signal};
use crate::machine::config::{ImageProbe, MachineConfig};
use crate::qmp::session::ClientId;
use event_loop::{EventLoop, Vm};
use process::CreatedFiles;

/// Quiet time after which a pending timer's deadline is fed as `AdvanceTo`.
pub const IDLE_ADVANCE_MS: u64 = 20;
/// Longest wait for clients to take their last bytes at exit.
pub const EXIT_FLUSH_MS_MAX: u64 = 2000;
/// Most events from other threads (stdin reads, probes and file writes done,
/// migration progress, an embedding's stop) waiting for the event loop; their
/// senders block past it. Not to be confused with the machine's
/// queue of QMP events, [`crate::machine::events::EVENTS_QUEUED_MAX`].
pub const LOOP_EVENTS_QUEUED_MAX: usize = 1024;
/// Most client reads stepped in one turn of the loop before the trace is
/// committed and the turn's bytes are sent.
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

/// Makes `f`'s open file non-blocking (`on`) or blocking again; a failure
/// leaves its flags as they were.
pub fn set_nonblocking(f: &impl std::os::fd::AsRawFd, on: bool) {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor `f` owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            let flags = if on {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            };
            libc::fcntl(fd, libc::F_SETFL, flags);
        }
    }
}

/// The C library's text for an I/O error, without Rust's ` (os error N)` suffix.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// What the other threads tell the event loop.
#[derive(Debug)]
pub enum Event {
    /// The stdio client sent bytes.
    Data {
        /// Who.
        client: ClientId,
        /// What.
        bytes: Vec<u8>,
        /// A descriptor passed with them (never, on stdin).
        fd: Option<std::os::fd::OwnedFd>,
    },
    /// The stdout writer wrote some of its queue.
    Written {
        /// Whose.
        client: ClientId,
    },
    /// The helper thread wrote a file the machine produced.
    FileWritten,
    /// The helper thread probed an image file a client's request names.
    Probed {
        /// The client whose bytes wait for it.
        client: ClientId,
        /// The file.
        path: String,
        /// What it holds.
        probe: ImageProbe,
    },
    /// A terminating signal (or an embedding's stop).
    Signal(Signal),
    /// An outgoing migration's `exec:` command exited with a failure.
    MigrationFailed {
        /// The migration's id.
        id: u64,
    },
    /// The `-incoming` reader read part of the stream, or failed: the input to feed.
    Incoming(Input),
}

/// How other threads reach the event loop: a bounded channel plus the poll's
/// waker. Each sender speaks for one VM of the loop.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: SyncSender<(usize, Event)>,
    waker: Arc<mio::Waker>,
    /// The VM the events are for.
    pub vm: usize,
}

impl EventSender {
    /// Sends `event` (blocking while [`LOOP_EVENTS_QUEUED_MAX`] wait) and wakes
    /// the loop; gives the event back when the loop is gone.
    pub fn send(&self, event: Event) -> Result<(), Event> {
        self.tx.send((self.vm, event)).map_err(|e| e.0 .1)?;
        // A loop that is gone cannot be woken; the send above already failed then.
        let _ = self.waker.wake();
        Ok(())
    }

    /// Sends `event` unless the channel is full.
    pub fn try_send(&self, event: Event) -> Result<(), TrySendError<Event>> {
        self.tx.try_send((self.vm, event)).map_err(|e| match e {
            TrySendError::Full((_, e)) => TrySendError::Full(e),
            TrySendError::Disconnected((_, e)) => TrySendError::Disconnected(e),
        })?;
        let _ = self.waker.wake();
        Ok(())
    }

    /// The same channel, speaking for VM `vm`.
    pub fn for_vm(&self, vm: usize) -> EventSender {
        EventSender {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            vm,
        }
    }
}

/// The loop's end of [`event_channel`]: the channel and the poll it wakes.
#[derive(Debug)]
pub struct EventReceiver {
    rx: Receiver<(usize, Event)>,
    poll: mio::Poll,
}

impl EventReceiver {
    /// Waits at most `timeout` for the next event (for tests and tools that
    /// read the channel without a loop).
    pub fn recv_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Event, mpsc::RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map(|(_, e)| e)
    }

    /// The next event, if one waits.
    pub fn try_recv(&self) -> Option<Event> {
        self.rx.try_recv().ok().map(|(_, e)| e)
    }
}

/// The event loop's channel and poll: the channel holds at most
/// [`LOOP_EVENTS_QUEUED_MAX`] events, past which senders block until the loop
/// takes one.
pub fn event_channel() -> io::Result<(EventSender, EventReceiver)> {
    let poll = mio::Poll::new()?;
    let waker = Arc::new(mio::Waker::new(poll.registry(), event_loop::WAKER_TOKEN)?);
    let (tx, rx) = mpsc::sync_channel(LOOP_EVENTS_QUEUED_MAX);
    Ok((EventSender { tx, waker, vm: 0 }, EventReceiver { rx, poll }))
}

/// What an embedding ([`crate::embed`]) gives [`run_embedded`] instead of the
/// process's signals.
#[derive(Debug)]
pub struct Embedding {
    /// The loop's channel, from [`event_channel`]. The embedding keeps a clone
    /// of the sender, to stop the VM with [`Event::Signal`] as a signal would.
    pub events: (EventSender, EventReceiver),
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
    let endpoints = listen::bind_all(&opts.config, &mut files)?;
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
    // The poll and threads start only now: they would not survive -daemonize's fork.
    let embedded = events.is_some();
    let (tx, rx) = match events {
        Some(events) => events,
        None => event_channel().map_err(ServerError::Setup)?,
    };
    let incoming = match &opts.config.incoming {
        Some(uri) => Some(incoming::start(uri).map_err(ServerError::Incoming)?),
        None => None,
    };
    let busy: Vec<u32> = initial.iter().map(|(m, _)| *m).collect();
    let engine = opts.resume.unwrap_or_else(|| Engine::new(opts.config));
    let tables = snapshots::open_tables(&engine)?;
    let EventReceiver { rx, poll } = rx;
    let mut ev = EventLoop::new(poll, rx, !embedded).map_err(ServerError::Setup)?;
    let mut vm = Vm::new(engine, opts.recorder, tx.for_vm(0), files);
    vm.start(tables, opts.loadvm, endpoints, &busy, &mut ev.io)
        .map_err(ServerError::Setup)?;
    if let Some(stream) = incoming {
        vm.set_incoming(stream, &mut ev.io);
    }
    for (monitor, conn) in initial {
        vm.accept(monitor, conn, &mut ev.io);
    }
    ev.vms.push(vm);
    Ok(ev.run())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

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

    /// The loop's channel with `n` events queued and none taken.
    fn channel_holding(n: usize) -> (EventSender, EventReceiver) {
        let (tx, rx) = event_channel().unwrap();
        (0..n).for_each(|_| {
            tx.try_send(Event::Signal(Signal::Hangup))
                .expect("room in the channel");
        });
        (tx, rx)
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
            Err(TrySendError::Full(_))
        ));
    }

    #[test]
    fn event_sender_for_a_vm_tags_its_events() {
        let (tx, rx) = event_channel().unwrap();
        tx.for_vm(7).send(Event::FileWritten).unwrap();
        assert!(matches!(rx.rx.try_recv(), Ok((7, Event::FileWritten))));
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
            loadvm: None,
            resume: None,
        };
        let server = thread::spawn(move || run(opts).unwrap());
        let mut s = connect(&path);
        s.write_all(b"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"quit\"}")
            .unwrap();
        // Half-closed: a server that cannot make out the requests closes the
        // connection instead of waiting for more, and the test fails, not hangs.
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut lines = BufReader::new(s).lines();
        let _greeting = lines.next();
        let replies: Vec<String> = lines.take(2).map(Result::unwrap).collect();
        assert_eq!(replies, [r#"{"return": {}}"#, r#"{"return": {}}"#]);
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
