//! Embedding qmpsim in a Rust program: a VM on a socket, on its own thread.
//!
//! [`Vm::builder`] takes QEMU-style options, exactly as `qmpsim run` does, adds a
//! QMP monitor on a unix socket in a fresh temporary folder, and
//! [`VmBuilder::spawn`] serves it with the same server as the `qmpsim` binary
//! ([`crate::server`]) on a thread of its own. The [`VmHandle`] gives the socket's
//! path, and [`VmHandle::stop`] stops the VM as SIGTERM would, waits for it and
//! returns how it ended, with the trace recorded in memory when
//! [`VmBuilder::record`] asked for one. No signal handler is installed in the
//! embedding process.
//!
//! For tests with no sockets at all, [`VmBuilder::engine`] builds the
//! [`Engine`] alone from the same options: requests go in
//! and replies come out in memory.
//!
//! This module is edge code: it owns a thread, a temporary folder and a channel.
//! What the VM does stays in the deterministic engine.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::cli::{config, raw};
use crate::engine::{Engine, Input, Output, Signal};
use crate::server::{self, Embedding, Event, Recorder, ServerOptions};
use crate::trace::{TraceError, TraceHeader, TraceWriter};

/// Name of the QMP socket in the VM's temporary folder.
pub const SOCKET_FILE_NAME: &str = "qmp.sock";
/// Temporary folder names tried before giving up, when others already exist.
pub const TEMP_DIR_ATTEMPTS_MAX: u32 = 64;

/// Why a VM could not be built, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The options were refused; the message is the one `qmpsim run` prints.
    #[error(transparent)]
    Options(#[from] raw::RawError),
    /// The options do not make a VM (a disk image is missing, ...).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The options ask for something only the `qmpsim` process does.
    #[error("qmpsim: {0} cannot be used in an embedded VM")]
    Unsupported(&'static str),
    /// The temporary folder for the socket could not be made.
    #[error("qmpsim: could not create a folder for the VM's socket")]
    TempDir(#[source] io::Error),
    /// The trace file given with `-record` could not be opened or locked.
    #[error(transparent)]
    Record(#[from] server::record::RecordError),
    /// The server did not start, or failed.
    #[error(transparent)]
    Server(#[from] server::ServerError),
    /// The VM's thread could not be started.
    #[error("qmpsim: could not start the VM's thread")]
    Thread(#[source] io::Error),
    /// The VM's thread panicked (a bug in qmpsim).
    #[error("qmpsim: the VM's thread panicked")]
    Panicked,
    /// Recording the trace in memory failed.
    #[error("qmpsim: recording the trace failed")]
    Trace(#[source] TraceError),
}

/// An embedded qmpsim VM; see [`Vm::builder`].
#[derive(Debug)]
pub struct Vm;

impl Vm {
    /// Starts describing a VM.
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use std::os::unix::net::UnixStream;
    ///
    /// let vm = qmpsim::Vm::builder().args(["-S", "-name", "demo"]).record(true).spawn()?;
    /// let stream = UnixStream::connect(vm.socket_path())?;
    /// let mut lines = BufReader::new(stream.try_clone()?).lines();
    /// let greeting = lines.next().unwrap()?;
    /// assert!(greeting.starts_with(r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 14"#));
    /// (&stream).write_all(b"{\"execute\":\"qmp_capabilities\"}\r\n")?;
    /// assert_eq!(lines.next().unwrap()?, r#"{"return": {}}"#);
    /// let ended = vm.stop()?;
    /// assert!(ended.trace.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> VmBuilder {
        VmBuilder::default()
    }
}

/// Options of an embedded VM, from [`Vm::builder`].
#[derive(Debug, Clone, Default)]
pub struct VmBuilder {
    args: Vec<OsString>,
    record: bool,
}

impl VmBuilder {
    /// Adds QEMU-style options, as on the `qmpsim run` command line.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Records the session in memory; [`VmHandle::stop`] returns the trace.
    pub fn record(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Builds the engine alone, for tests with no sockets: requests go in as
    /// [`Input`]s and replies come out as [`Output`]s.
    ///
    /// ```
    /// use qmpsim::engine::{Input, Output};
    /// use qmpsim::qmp::session::ClientId;
    ///
    /// let mut engine = qmpsim::Vm::builder().args(["-S", "-name", "unit"]).engine()?;
    /// let client = ClientId(1);
    /// engine.step(Input::connect(client));
    /// engine.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#));
    /// let out = engine.step(Input::bytes(client, br#"{"execute":"query-name"}"#));
    /// assert_eq!(out, vec![Output::Send { client, data: b"{\"return\": {\"name\": \"unit\"}}\r\n".to_vec() }]);
    /// # Ok::<(), qmpsim::EmbedError>(())
    /// ```
    pub fn engine(self) -> Result<Engine, EmbedError> {
        let plan = plan(self.args)?;
        Ok(Engine::new(plan.config))
    }

    /// Starts the VM on its own thread, with a QMP monitor on a unix socket in a
    /// new temporary folder (its first monitor), and returns once the socket
    /// listens. A monitor among the options that waits for its client (no
    /// `nowait`) delays nothing here: clients are served once the thread runs.
    ///
    /// `-daemonize` is refused. `-record PATH` writes a trace file as the binary
    /// does, beside or instead of [`record`](Self::record).
    pub fn spawn(self) -> Result<VmHandle, EmbedError> {
        let dir = temp_dir()?;
        let socket = dir.join(SOCKET_FILE_NAME);
        let mut args: Vec<OsString> = vec![
            "-qmp".into(),
            format!("unix:{},server,nowait", socket.display()).into(),
        ];
        args.extend(self.args);
        let plan = match plan(args) {
            Ok(plan) => plan,
            Err(e) => {
                remove_dir(&dir);
                return Err(e);
            }
        };
        match start(plan, self.record) {
            Ok((thread, events, memory)) => Ok(VmHandle {
                dir,
                socket,
                thread: Some(thread),
                events,
                memory,
            }),
            Err(e) => {
                remove_dir(&dir);
                Err(e)
            }
        }
    }
}

/// A running embedded VM, from [`VmBuilder::spawn`]. Dropping it stops the VM.
#[derive(Debug)]
pub struct VmHandle {
    dir: PathBuf,
    socket: PathBuf,
    thread: Option<JoinHandle<Result<i32, server::ServerError>>>,
    events: server::EventSender,
    memory: Option<Arc<Mutex<MemoryTrace>>>,
}

/// How an embedded VM ended, from [`VmHandle::stop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmExit {
    /// The exit status `qmpsim` would have given (0 after `quit` or a stop).
    pub code: i32,
    /// The session as `.qmptrace` bytes, when [`VmBuilder::record`] asked for it:
    /// write them to a file for `qmpsim replay`, or check them at once with
    /// [`crate::replay::one::replay`].
    pub trace: Option<Vec<u8>>,
}

impl VmHandle {
    /// The unix socket the VM serves QMP on.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Whether the VM has exited (after `quit`, for instance).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the VM as SIGTERM stops `qmpsim` (a VM that already quit is just
    /// waited for), removes its temporary folder and returns how it ended.
    pub fn stop(mut self) -> Result<VmExit, EmbedError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<VmExit, EmbedError> {
        let Some(thread) = self.thread.take() else {
            return Err(EmbedError::Panicked);
        };
        // A VM that already exited has dropped its receiver: nothing to stop.
        let _ = self.events.send(Event::Signal(Signal::Terminate));
        let result = thread.join();
        remove_dir(&self.dir);
        let code = result.map_err(|_| EmbedError::Panicked)??;
        let trace = match self.memory.take() {
            None => None,
            Some(memory) => {
                let mut memory = memory.lock().map_err(|_| EmbedError::Panicked)?;
                match std::mem::take(&mut *memory) {
                    MemoryTrace::Done(bytes) => Some(bytes),
                    MemoryTrace::Failed(e) => return Err(EmbedError::Trace(e)),
                    MemoryTrace::Recording => return Err(EmbedError::Panicked),
                }
            }
        };
        Ok(VmExit { code, trace })
    }
}

impl Drop for VmHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Errors have no one to go to from a drop; `stop` reports them.
            let _ = self.shutdown();
        }
    }
}

type Started = (
    JoinHandle<Result<i32, server::ServerError>>,
    server::EventSender,
    Option<Arc<Mutex<MemoryTrace>>>,
);

/// Starts the server thread and waits until it listens (or failed to).
fn start(plan: config::RunPlan, record_in_memory: bool) -> Result<Started, EmbedError> {
    if plan.edge.daemonize {
        return Err(EmbedError::Unsupported("-daemonize"));
    }
    let (recorder, memory) = recorder(&plan, record_in_memory)?;
    let (tx, rx) =
        server::event_channel().map_err(|e| EmbedError::Server(server::ServerError::Setup(e)))?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let opts = ServerOptions {
        config: plan.config,
        recorder,
        pidfile: plan.edge.pidfile,
        daemonize: false,
        loadvm: plan.edge.loadvm.clone(),
        resume: None,
    };
    let embedding = Embedding {
        events: (tx.clone(), rx),
        ready: ready_tx,
    };
    let thread = thread::Builder::new()
        .name("qmpsim-vm".to_owned())
        .spawn(move || server::run_embedded(opts, embedding))
        .map_err(EmbedError::Thread)?;
    if ready_rx.recv().is_err() {
        // The server gave up before listening: its error is the thread's result.
        return match thread.join() {
            Ok(Err(e)) => Err(EmbedError::Server(e)),
            Ok(Ok(_)) | Err(_) => Err(EmbedError::Panicked),
        };
    }
    Ok((thread, tx, memory))
}

type Recorders = (Option<Box<dyn Recorder>>, Option<Arc<Mutex<MemoryTrace>>>);

fn recorder(plan: &config::RunPlan, record_in_memory: bool) -> Result<Recorders, EmbedError> {
    let file = plan
        .trace_recorder()?
        .map(|r| Box::new(r) as Box<dyn Recorder>);
    let memory = if record_in_memory {
        let shared = Arc::new(Mutex::new(MemoryTrace::Recording));
        let writer = TraceWriter::new(Vec::new(), &TraceHeader::new(plan.config.clone()))
            .map_err(EmbedError::Trace)?;
        Some((
            MemoryRecorder {
                writer: Some(writer),
                shared: Arc::clone(&shared),
            },
            shared,
        ))
    } else {
        None
    };
    Ok(match (file, memory) {
        (None, None) => (None, None),
        (Some(file), None) => (Some(file), None),
        (None, Some((mem, shared))) => (Some(Box::new(mem)), Some(shared)),
        (Some(file), Some((mem, shared))) => {
            (Some(Box::new(Both(file, Box::new(mem)))), Some(shared))
        }
    })
}

/// The options, as `qmpsim run` reads them.
fn plan(args: Vec<OsString>) -> Result<config::RunPlan, EmbedError> {
    let low = raw::parse(args)?;
    if low.special.is_some() {
        return Err(EmbedError::Unsupported(
            "an option that prints and exits (-version, -help, ...)",
        ));
    }
    Ok(config::build(&low)?)
}

/// A new, empty folder under the system's temporary folder.
fn temp_dir() -> Result<PathBuf, EmbedError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    temp_dir_in(&std::env::temp_dir(), &NEXT)
}

/// A new, empty folder `qmpsim-PID-N` under `base`, N taken from `next`; at most
/// [`TEMP_DIR_ATTEMPTS_MAX`] names are tried.
fn temp_dir_in(base: &Path, next: &AtomicU64) -> Result<PathBuf, EmbedError> {
    let mut last = None;
    for _ in 0..TEMP_DIR_ATTEMPTS_MAX {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("qmpsim-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(EmbedError::TempDir(e)),
        }
    }
    Err(EmbedError::TempDir(last.unwrap_or_else(|| {
        io::Error::other("no temporary folder name was free")
    })))
}

fn remove_dir(dir: &Path) {
    // The server removed the socket it created; a leftover is not worth an error.
    let _ = std::fs::remove_dir_all(dir);
}

/// Where the in-memory trace is, between the server thread and the handle.
#[derive(Debug, Default)]
enum MemoryTrace {
    #[default]
    Recording,
    Done(Vec<u8>),
    Failed(TraceError),
}

/// Records into memory; hands the bytes over when the session ends.
struct MemoryRecorder {
    writer: Option<TraceWriter<Vec<u8>>>,
    shared: Arc<Mutex<MemoryTrace>>,
}

impl MemoryRecorder {
    fn fail(&mut self, e: TraceError) -> io::Error {
        let text = e.to_string();
        self.writer = None;
        if let Ok(mut shared) = self.shared.lock() {
            *shared = MemoryTrace::Failed(e);
        }
        io::Error::other(text)
    }
}

impl Recorder for MemoryRecorder {
    fn record(&mut self, input: &Input, outputs: &[Output], engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        match w.record_and_checkpoint(input, outputs, engine) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn finish(&mut self, engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        match w.finish_with(engine) {
            Ok(bytes) => {
                if let Ok(mut shared) = self.shared.lock() {
                    *shared = MemoryTrace::Done(bytes);
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// `-record PATH` and an in-memory trace at once.
struct Both(Box<dyn Recorder>, Box<dyn Recorder>);

impl Recorder for Both {
    fn record(&mut self, input: &Input, outputs: &[Output], engine: &Engine) -> io::Result<()> {
        let first = self.0.record(input, outputs, engine);
        let second = self.1.record(input, outputs, engine);
        first.and(second)
    }

    fn commit(&mut self) -> io::Result<()> {
        let first = self.0.commit();
        let second = self.1.commit();
        first.and(second)
    }

    fn finish(&mut self, engine: &Engine) -> io::Result<()> {
        let first = self.0.finish(engine);
        let second = self.1.finish(engine);
        first.and(second)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    use super::*;

    /// Sends the requests, half-closes, and reads every line up to the end of
    /// the connection. A VM that cannot make out the requests then closes the
    /// connection instead of waiting for more, and the test fails, not hangs.
    fn session(path: &Path, requests: &[&str]) -> Vec<String> {
        let mut stream = UnixStream::connect(path).expect("the VM listens");
        for request in requests {
            stream
                .write_all(format!("{request}\r\n").as_bytes())
                .expect("write");
        }
        stream
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        BufReader::new(stream)
            .lines()
            .map(|l| l.expect("read"))
            .collect()
    }

    #[test]
    fn spawn_serves_qmp_on_the_socket_and_stop_returns_a_replayable_trace() {
        let vm = Vm::builder()
            .args(["-S", "-name", "embedded"])
            .record(true)
            .spawn()
            .expect("spawns");
        let seen = session(
            vm.socket_path(),
            &[
                r#"{"execute":"qmp_capabilities"}"#,
                r#"{"execute":"query-name"}"#,
            ],
        );
        let dir = vm.socket_path().parent().expect("in a folder").to_owned();
        let ended = vm.stop().expect("stops");

        assert_eq!(seen[2], r#"{"return": {"name": "embedded"}}"#);
        assert_eq!(ended.code, 0);
        assert!(!dir.exists(), "the temporary folder is removed");
        let report = crate::replay::one::replay(&ended.trace.expect("recorded")[..])
            .expect("the trace replays byte for byte");
        assert_eq!(report.header.config.name.as_deref(), Some("embedded"));
    }

    #[test]
    fn record_to_a_file_keeps_state_every() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("t.qmptrace");
        let vm = Vm::builder()
            .args([
                "-record",
                path.to_str().expect("utf-8"),
                "-x-state-every",
                "1",
            ])
            .spawn()
            .expect("spawns");
        session(vm.socket_path(), &[r#"{"execute":"qmp_capabilities"}"#]);
        vm.stop().expect("stops");
        let bytes = std::fs::read(&path).expect("the trace was written");
        let (mut reader, _) = crate::trace::TraceReader::open(&bytes[..]).expect("a trace");
        let mut states = 0;
        while let Some(frame) = reader.next_frame().expect("a whole trace") {
            states += usize::from(matches!(frame, crate::trace::Frame::State { .. }));
        }
        assert!(states > 0, "a State frame after every step");
    }

    #[test]
    fn stop_after_quit_returns_the_exit_status_without_a_trace() {
        let vm = Vm::builder().spawn().expect("spawns");
        session(
            vm.socket_path(),
            &[r#"{"execute":"qmp_capabilities"}"#, r#"{"execute":"quit"}"#],
        );
        let ended = vm.stop().expect("stops");
        assert_eq!(
            ended,
            VmExit {
                code: 0,
                trace: None
            }
        );
    }

    #[test]
    fn spawn_with_a_bad_option_gives_qemus_message() {
        let err = Vm::builder().args(["-frobnicate"]).spawn().unwrap_err();
        assert_eq!(
            err.to_string(),
            "qemu-system-x86_64: -frobnicate: invalid option"
        );
    }

    #[test]
    fn spawn_refuses_daemonize() {
        let err = Vm::builder().args(["-daemonize"]).spawn().unwrap_err();
        assert!(
            matches!(err, EmbedError::Unsupported("-daemonize")),
            "{err}"
        );
    }

    #[test]
    fn engine_refuses_an_option_that_prints_and_exits() {
        let err = Vm::builder().args(["-version"]).engine().unwrap_err();
        assert!(matches!(err, EmbedError::Unsupported(_)), "{err}");
    }

    #[test]
    fn spawn_reports_a_socket_that_cannot_be_bound() {
        let err = Vm::builder()
            .args(["-qmp", "unix:/nonexistent-dir/q.sock,server,nowait"])
            .spawn()
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "chardev: opening backend \"socket\" failed: bind(unix:/nonexistent-dir/q.sock"
            ),
            "{err}"
        );
    }

    #[test]
    fn temp_dirs_are_distinct() {
        let a = temp_dir().expect("made");
        let b = temp_dir().expect("made");
        assert_ne!(a, b);
        remove_dir(&a);
        remove_dir(&b);
    }

    /// A temporary base folder where the first `taken` names `temp_dir_in` tries
    /// already exist.
    fn base_with_names_taken(taken: u32) -> tempfile::TempDir {
        let base = tempfile::tempdir().expect("a temporary folder");
        for n in 0..taken {
            let name = format!("qmpsim-{}-{n}", std::process::id());
            std::fs::create_dir(base.path().join(name)).expect("made");
        }
        base
    }

    #[test]
    fn temp_dir_with_one_name_left_takes_the_last_attempt() {
        let base = base_with_names_taken(TEMP_DIR_ATTEMPTS_MAX - 1);
        let dir = temp_dir_in(base.path(), &AtomicU64::new(0)).expect("the last name is free");
        let last = format!(
            "qmpsim-{}-{}",
            std::process::id(),
            TEMP_DIR_ATTEMPTS_MAX - 1
        );
        assert_eq!(dir, base.path().join(last));
    }

    #[test]
    fn temp_dir_with_every_attempt_taken_fails() {
        let base = base_with_names_taken(TEMP_DIR_ATTEMPTS_MAX);
        let err = temp_dir_in(base.path(), &AtomicU64::new(0)).unwrap_err();
        assert!(
            matches!(err, EmbedError::TempDir(ref e) if e.kind() == io::ErrorKind::AlreadyExists)
        );
    }
}
