//! Real sockets against the built binary: unix, TCP, stdio and the long
//! `-chardev`/`-mon` form; exact greeting bytes, a short session, quit and signals,
//! one client at a time per monitor, descriptors passed with SCM_RIGHTS, pidfile and
//! `-daemonize`. Every read is bounded by [`IO_TIMEOUT`]; every spawned process is
//! killed when its guard drops, so a failing test never leaves one behind.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::assert_contains;
use qmpsim::server::fds::send_with_fds;

/// Longest wait for any one read, connect or exit.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between polls while waiting for a socket to appear.
const POLL_PAUSE: Duration = Duration::from_millis(10);

/// The greeting of QEMU 0.14, byte for byte.
pub const GREETING: &str = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 14, \"major\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n";
const RETURN_EMPTY: &str = "{\"return\": {}}\r\n";
/// `query-status` of a running VM.
pub const RUNNING: &str = "{\"return\": {\"singlestep\": false, \"running\": true}}\r\n";

/// A running `qmpsim`, killed on drop.
pub struct Qemu {
    child: Child,
    /// Lines of its stderr, read by a thread.
    pub stderr: Lines,
    /// Lines of its stdout, when piped.
    pub stdout: Option<Lines>,
}

impl Qemu {
    /// Starts the binary with `args`; stdout piped when `pipe_stdout`.
    pub fn spawn(args: &[&str], pipe_stdout: bool) -> Qemu {
        Self::spawn_with(None, args, pipe_stdout)
    }

    /// Starts the binary with `args` in directory `dir`.
    pub fn spawn_in(dir: &Path, args: &[&str]) -> Qemu {
        Self::spawn_with(Some(dir), args, false)
    }

    fn spawn_with(dir: Option<&Path>, args: &[&str], pipe_stdout: bool) -> Qemu {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qmpsim"));
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(if pipe_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .spawn()
            .expect("the built binary starts");
        let stderr = Lines::spawn(child.stderr.take().expect("stderr is piped"));
        let stdout = child.stdout.take().map(Lines::spawn);
        Qemu {
            child,
            stderr,
            stdout,
        }
    }

    /// Writes to its stdin.
    pub fn send_stdin(&mut self, data: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(data.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Waits for it to exit, at most [`IO_TIMEOUT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "qmpsim did not exit in time");
            thread::sleep(POLL_PAUSE);
        }
    }

    /// Closes its stdin: the binary reads end of file there.
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits for it to exit, however long that takes: for a test whose last
    /// steps take a time that depends on the machine's load (a process that
    /// was told to quit exits, or dies, either way this returns).
    pub fn wait_exit_unbounded(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // Already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines from a pipe, read by a thread so that waiting can time out.
pub struct Lines {
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn spawn<R: Read + Send + 'static>(pipe: R) -> Lines {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Lines { rx }
    }

    /// The next line, newline included; panics after [`IO_TIMEOUT`].
    pub fn next(&self) -> String {
        self.rx
            .recv_timeout(IO_TIMEOUT)
            .expect("a line within the timeout")
    }

    /// Every line up to the end of the stream, joined; panics when a line or
    /// the end takes longer than [`IO_TIMEOUT`].
    pub fn rest(&self) -> String {
        std::iter::from_fn(|| self.next_or_end()).collect()
    }

    /// The next line, or `None` at end of stream; panics after [`IO_TIMEOUT`].
    pub fn next_or_end(&self) -> Option<String> {
        match self.rx.recv_timeout(IO_TIMEOUT) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no line and no end in time"),
        }
    }
}

/// Runs the binary with `args` to its end, `input` on its stdin (closed
/// after it), every wait bounded by [`IO_TIMEOUT`]: the exit status, stdout
/// and stderr.
pub fn run_to_end(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let mut qemu = Qemu::spawn(args, true);
    if !input.is_empty() {
        qemu.send_stdin(input);
    }
    qemu.close_stdin();
    let status = qemu.wait_exit().code();
    let stdout = qemu.stdout.as_ref().expect("stdout is piped").rest();
    (status, stdout, qemu.stderr.rest())
}

/// A QMP client over any stream socket.
pub struct Client<S: Read + Write> {
    reader: BufReader<S>,
}

impl<S: Read + Write> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, data: &str) {
        self.reader.get_mut().write_all(data.as_bytes()).unwrap();
    }

    /// Reads one line (the stream has a read timeout); empty at end of stream.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        String::from_utf8(line).unwrap()
    }

    /// The stream, for reading raw bytes (nothing is buffered before the
    /// first line is read).
    pub fn into_stream(self) -> S {
        self.reader.into_inner()
    }

    /// Sends a command and reads one line.
    pub fn execute(&mut self, cmd: &str) -> String {
        self.send(&format!("{{\"execute\":\"{cmd}\"}}"));
        self.line()
    }

    /// Reads the greeting, negotiates and asks `query-status`: the greeting
    /// and the status reply.
    pub fn greeting_and_status(&mut self) -> (String, String) {
        let greeting = self.line();
        self.execute("qmp_capabilities");
        (greeting, self.execute("query-status"))
    }
}

impl Client<UnixStream> {
    /// The socket.
    pub fn stream(&self) -> &UnixStream {
        self.reader.get_ref()
    }

    /// Writes `n` `query-status` requests with ids `0..n` in one write, from a
    /// thread, so the test goes on while the server takes them in.
    pub fn pipeline_query_status(&self, n: usize) -> thread::JoinHandle<()> {
        let mut writer = self.stream().try_clone().unwrap();
        thread::spawn(move || {
            let requests: String = (0..n)
                .map(|id| format!("{{\"execute\":\"query-status\",\"id\":{id}}}"))
                .collect();
            writer.write_all(requests.as_bytes()).unwrap();
        })
    }

    /// Reads `n` lines and returns how many were the reply to request `id` in
    /// order (`{"return": ..., "id": ID}`), stopping at the first that is not.
    pub fn replies_in_order(&self, n: usize) -> usize {
        let mut reader = BufReader::new(self.stream().try_clone().unwrap());
        let mut line = String::new();
        for id in 0..n {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let expected_end = format!(", \"id\": {id}}}\r\n");
            if !(line.starts_with("{\"return\": ") && line.ends_with(&expected_end)) {
                return id;
            }
        }
        n
    }
}

/// Connects to a unix socket, waiting for it to appear.
pub fn connect_unix(path: &Path) -> Client<UnixStream> {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match UnixStream::connect(path) {
            Ok(s) => {
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                return Client::new(s);
            }
            Err(e) => assert!(Instant::now() < deadline, "no socket at {path:?}: {e}"),
        }
        thread::sleep(POLL_PAUSE);
    }
}

pub fn connect_tcp(port: u16) -> Client<TcpStream> {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                return Client::new(s);
            }
            Err(e) => assert!(Instant::now() < deadline, "no listener on {port}: {e}"),
        }
        thread::sleep(POLL_PAUSE);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary directory and a socket path inside it.
pub fn sock_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sock");
    (dir, path)
}

pub fn unix_spec(path: &Path, extra: &str) -> String {
    format!("unix:{},server{extra}", path.display())
}

/// qmpsim with `-qmp` on the unix socket `sock` (nowait) and `-record` to
/// `trace`, plus `extra`.
pub fn spawn_recorder(sock: &Path, trace: &Path, extra: &[&str]) -> Qemu {
    let spec = unix_spec(sock, ",nowait");
    let trace_arg = trace.display().to_string();
    let mut args = vec!["-qmp", spec.as_str(), "-record", trace_arg.as_str()];
    args.extend_from_slice(extra);
    Qemu::spawn(&args, false)
}

/// qmpsim on a unix socket with `args`, a connected client before the
/// greeting.
pub fn connected_unix(path: &Path, args: &[&str]) -> (Qemu, Client<UnixStream>) {
    let spec = unix_spec(path, ",nowait");
    let mut all = vec!["-qmp", spec.as_str()];
    all.extend_from_slice(args);
    let qemu = Qemu::spawn(&all, false);
    (qemu, connect_unix(path))
}

/// qmpsim on a unix socket with `args`, a connected client past negotiation.
pub fn negotiated_unix(path: &Path, args: &[&str]) -> (Qemu, Client<UnixStream>) {
    let (qemu, mut client) = connected_unix(path, args);
    assert_eq!(client.line(), GREETING);
    assert_eq!(client.execute("qmp_capabilities"), RETURN_EMPTY);
    (qemu, client)
}

/// qmpsim with `args` on a unix socket in a fresh temporary directory, and a
/// client past negotiation; the directory goes when the first value drops
/// (after the VM, when bound in this order).
pub fn negotiated_vm(args: &[&str]) -> (tempfile::TempDir, Qemu, Client<UnixStream>) {
    let (dir, path) = sock_path();
    let (qemu, client) = negotiated_unix(&path, args);
    (dir, qemu, client)
}

/// The first line a fresh VM with `args` sends after negotiation when asked
/// `command` (without arguments) on a unix socket.
pub fn answer(args: &[&str], command: &str) -> String {
    let (_dir, _qemu, mut client) = negotiated_vm(args);
    client.execute(command)
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: sends a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// A new pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Waits until every write end of the pipe is closed (read gives end of file);
/// false if data or nothing arrived within [`IO_TIMEOUT`].
fn pipe_reaches_eof(read_end: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout_ms = libc::c_int::try_from(IO_TIMEOUT.as_millis()).unwrap();
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    ready == 1 && pfd.revents & libc::POLLHUP != 0
}

/// Whether the pipe still has a writer: a non-blocking read would block.
pub fn pipe_has_writer(read_end: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready == 0
}

#[test]
fn unix_greeting_is_exact_bytes() {
    let (_dir, path) = sock_path();
    let (_qemu, mut client) = connected_unix(&path, &[]);
    assert_eq!(client.line(), GREETING);
}

#[test]
fn unix_capabilities_returns_empty() {
    let (_dir, path) = sock_path();
    let (_qemu, mut client) = connected_unix(&path, &[]);
    client.line();
    assert_eq!(client.execute("qmp_capabilities"), RETURN_EMPTY);
}

#[test]
fn unix_query_status_reports_running() {
    assert_eq!(answer(&[], "query-status"), RUNNING);
}

#[test]
fn unix_query_status_with_dash_s_reports_paused() {
    assert_eq!(
        answer(&["-S"], "query-status"),
        "{\"return\": {\"singlestep\": false, \"running\": false}}\r\n"
    );
}

#[test]
fn unix_stop_sends_stop_event_then_return() {
    let (_dir, _qemu, mut client) = negotiated_vm(&[]);
    let event = client.execute("stop");
    let ret = client.line();
    assert_eq!(
        (event.as_str(), ret.as_str()),
        (
            "{\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 3000}, \"event\": \"STOP\"}\r\n",
            RETURN_EMPTY
        )
    );
}

#[test]
fn unix_quit_returns_then_shutdown_then_end_of_stream() {
    let (_dir, _qemu, mut client) = negotiated_vm(&[]);
    let ret = client.execute("quit");
    let event = client.line();
    let end = client.line();
    assert_eq!(
        (ret.as_str(), event.as_str(), end.as_str()),
        (
            RETURN_EMPTY,
            "{\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 3000}, \"event\": \"SHUTDOWN\"}\r\n",
            ""
        )
    );
}

#[test]
fn unix_quit_exits_zero() {
    let (_dir, mut qemu, mut client) = negotiated_vm(&[]);
    client.execute("quit");
    assert_eq!(qemu.wait_exit().code(), Some(0));
}

#[test]
fn unix_quit_removes_socket_file() {
    let (_dir, path) = sock_path();
    let (mut qemu, mut client) = negotiated_unix(&path, &[]);
    client.execute("quit");
    qemu.wait_exit();
    assert!(!path.exists());
}

#[test]
fn unix_sigterm_sends_shutdown_and_exits_zero() {
    let (_dir, mut qemu, mut client) = negotiated_vm(&[]);
    signal(qemu.pid(), libc::SIGTERM);
    let event = client.line();
    assert!(event.contains("\"event\": \"SHUTDOWN\""), "got {event:?}");
    assert_eq!(qemu.wait_exit().code(), Some(0));
}

#[test]
fn unix_sigint_exits_zero_and_removes_socket() {
    let (_dir, path) = sock_path();
    let (mut qemu, _client) = negotiated_unix(&path, &[]);
    signal(qemu.pid(), libc::SIGINT);
    assert_eq!(qemu.wait_exit().code(), Some(0));
    assert!(!path.exists());
}

#[test]
fn unix_without_nowait_prints_waiting_message() {
    let (_dir, path) = sock_path();
    let spec = unix_spec(&path, "");
    let qemu = Qemu::spawn(&["-qmp", &spec], false);
    assert_eq!(
        qemu.stderr.next(),
        format!(
            "QEMU waiting for connection on: unix:{},server\n",
            path.display()
        )
    );
}

#[test]
fn unix_without_nowait_greets_first_client() {
    let (_dir, path) = sock_path();
    let spec = unix_spec(&path, "");
    let qemu = Qemu::spawn(&["-qmp", &spec], false);
    qemu.stderr.next();
    let mut client = connect_unix(&path);
    assert_eq!(client.line(), GREETING);
}

#[test]
fn second_client_waits_for_first_to_leave() {
    let (_dir, path) = sock_path();
    let (_qemu, mut first) = negotiated_unix(&path, &[]);
    let second = connect_unix(&path);
    // A full round trip on the first client: had the second been accepted, its
    // greeting would have been sent by now.
    first.execute("query-status");
    second.stream().set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let waiting = second.stream().read(&mut byte).map_err(|e| e.kind());
    assert_eq!(waiting, Err(ErrorKind::WouldBlock));
}

#[test]
fn second_client_is_greeted_after_first_leaves() {
    let (_dir, path) = sock_path();
    let (_qemu, first) = negotiated_unix(&path, &[]);
    let mut second = connect_unix(&path);
    drop(first);
    assert_eq!(second.line(), GREETING);
}

#[test]
fn tcp_greeting_and_query_status() {
    let port = free_port();
    let spec = format!("tcp:127.0.0.1:{port},server,nowait");
    let _qemu = Qemu::spawn(&["-qmp", &spec], false);
    let (greeting, status) = connect_tcp(port).greeting_and_status();
    assert_eq!((greeting.as_str(), status.as_str()), (GREETING, RUNNING));
}

#[test]
fn tcp_without_nowait_prints_waiting_message() {
    let port = free_port();
    let spec = format!("tcp:127.0.0.1:{port},server");
    let qemu = Qemu::spawn(&["-qmp", &spec], false);
    assert_eq!(
        qemu.stderr.next(),
        format!("QEMU waiting for connection on: tcp:127.0.0.1:{port},server\n")
    );
}

#[test]
fn tcp_quit_exits_zero() {
    let port = free_port();
    let spec = format!("tcp:127.0.0.1:{port},server,nowait");
    let mut qemu = Qemu::spawn(&["-qmp", &spec], false);
    let mut client = connect_tcp(port);
    client.line();
    client.execute("qmp_capabilities");
    client.execute("quit");
    assert_eq!(qemu.wait_exit().code(), Some(0));
}

#[test]
fn stdio_greeting_is_exact_bytes() {
    let qemu = Qemu::spawn(&["-qmp", "stdio"], true);
    let stdout = qemu.stdout.as_ref().unwrap();
    assert_eq!(stdout.next(), GREETING);
}

#[test]
fn stdio_session_quits_with_return_and_shutdown() {
    let mut qemu = Qemu::spawn(&["-qmp", "stdio"], true);
    qemu.send_stdin("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n");
    let stdout = qemu.stdout.take().unwrap();
    let lines: Vec<String> = std::iter::from_fn(|| stdout.next_or_end()).collect();
    assert_eq!(
        lines,
        [
            GREETING,
            RETURN_EMPTY,
            RETURN_EMPTY,
            "{\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 3000}, \"event\": \"SHUTDOWN\"}\r\n"
        ]
    );
    assert_eq!(qemu.wait_exit().code(), Some(0));
}

/// qmpsim with `-chardev socket,id=ID,path=DIR/q.sock,SERVER -mon MON`: the
/// folder, the VM and a client connected to the chardev's socket.
pub fn chardev_monitor(
    id: &str,
    server: &str,
    mon: &str,
) -> (tempfile::TempDir, Qemu, Client<UnixStream>) {
    let (dir, path) = sock_path();
    let chardev = format!("socket,id={id},path={},{server}", path.display());
    let qemu = Qemu::spawn(&["-chardev", &chardev, "-mon", mon], false);
    (dir, qemu, connect_unix(&path))
}

#[test]
fn chardev_mon_long_form_serves_qmp() {
    let (_dir, _qemu, mut client) =
        chardev_monitor("qmp0", "server=on,wait=off", "chardev=qmp0,mode=control");
    let (greeting, status) = client.greeting_and_status();
    assert_eq!((greeting.as_str(), status.as_str()), (GREETING, RUNNING));
}

#[test]
fn chardev_long_form_bare_flags_serve_qmp() {
    let (_dir, _qemu, mut client) = chardev_monitor("m", "server,nowait", "m,mode=control");
    assert_eq!(client.line(), GREETING);
}

// Descriptor passing: a descriptor passed with an ordinary command does not disturb
// the session and is closed when the client leaves; `getfd` takes it by name and
// `closefd` closes it.

/// A negotiated session that sent one request with a pipe's write end
/// (closed on this side once sent): the reply, and the pipe's read end.
struct PassedPipe {
    client: Client<UnixStream>,
    reply: String,
    read_end: OwnedFd,
    _qemu: Qemu,
    _dir: tempfile::TempDir,
}

/// Sends `request` with a pipe's write end on a fresh VM; see [`PassedPipe`].
fn pass_pipe_with(request: &[u8]) -> PassedPipe {
    let (dir, path) = sock_path();
    let (qemu, mut client) = negotiated_unix(&path, &[]);
    let (read_end, write_end) = pipe();
    send_with_fds(
        client.stream().as_raw_fd(),
        request,
        &[write_end.as_raw_fd()],
    )
    .unwrap();
    drop(write_end);
    let reply = client.line();
    PassedPipe {
        client,
        reply,
        read_end,
        _qemu: qemu,
        _dir: dir,
    }
}

const GETFD_MIG: &[u8] = b"{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"mig\"}}";
const QUERY_STATUS: &[u8] = b"{\"execute\":\"query-status\"}";

#[test]
fn getfd_with_scm_rights_descriptor_returns_empty() {
    assert_eq!(pass_pipe_with(GETFD_MIG).reply, RETURN_EMPTY);
}

#[test]
fn getfd_without_descriptor_is_fd_not_supplied() {
    let (_dir, _qemu, mut client) = negotiated_vm(&[]);
    client.send("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"mig\"}}");
    assert_eq!(
        client.line(),
        "{\"error\": {\"class\": \"FdNotSupplied\", \"desc\": \"No file descriptor supplied via SCM_RIGHTS\", \"data\": {}}}\r\n"
    );
}

#[test]
fn closefd_closes_the_named_descriptor() {
    let mut passed = pass_pipe_with(GETFD_MIG);
    let held = pipe_has_writer(&passed.read_end);
    passed
        .client
        .send("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"mig\"}}");
    let closed = passed.client.line();
    assert_eq!(
        (held, closed.as_str(), pipe_reaches_eof(&passed.read_end)),
        (true, RETURN_EMPTY, true)
    );
}

#[test]
fn two_monitors_each_negotiate_and_both_get_events() {
    let (dir, path_a) = sock_path();
    let path_b = dir.path().join("b.sock");
    let spec_a = unix_spec(&path_a, ",nowait");
    let spec_b = unix_spec(&path_b, ",nowait");
    let _qemu = Qemu::spawn(&["-qmp", &spec_a, "-qmp", &spec_b], false);
    let mut a = connect_unix(&path_a);
    let mut b = connect_unix(&path_b);
    assert_eq!(
        (a.line(), b.line()),
        (GREETING.to_owned(), GREETING.to_owned())
    );
    assert_eq!(a.execute("qmp_capabilities"), RETURN_EMPTY);
    let b_before = b.execute("query-status");
    assert_eq!(b.execute("qmp_capabilities"), RETURN_EMPTY);
    let stop_on_a = a.execute("stop");
    let a_return = a.line();
    let stop_on_b = b.line();
    assert_contains(&b_before, "CommandNotFound");
    assert_eq!(
        (stop_on_a.contains("\"STOP\""), a_return.as_str(), stop_on_b),
        (true, RETURN_EMPTY, stop_on_a.clone())
    );
}

#[test]
fn fd_passed_with_query_status_keeps_session_working() {
    assert_eq!(pass_pipe_with(QUERY_STATUS).reply, RUNNING);
}

#[test]
fn fd_passed_is_held_while_client_is_connected() {
    assert!(pipe_has_writer(&pass_pipe_with(QUERY_STATUS).read_end));
}

#[test]
fn fd_passed_is_closed_when_client_disconnects() {
    let passed = pass_pipe_with(QUERY_STATUS);
    drop(passed.client);
    assert!(pipe_reaches_eof(&passed.read_end));
}

/// A VM with `-pidfile DIR/q.pid`, negotiated: the folder, the pidfile, the
/// VM and its client.
fn vm_with_pidfile() -> (tempfile::TempDir, PathBuf, Qemu, Client<UnixStream>) {
    let (dir, path) = sock_path();
    let pidfile = dir.path().join("q.pid");
    let (qemu, client) = negotiated_unix(&path, &["-pidfile", pidfile.to_str().unwrap()]);
    (dir, pidfile, qemu, client)
}

/// A second VM on `DIR/other.sock` with the same `pidfile`.
fn second_vm_on(dir: &Path, pidfile: &Path) -> Qemu {
    let other_spec = unix_spec(&dir.join("other.sock"), ",nowait");
    Qemu::spawn(
        &["-qmp", &other_spec, "-pidfile", pidfile.to_str().unwrap()],
        false,
    )
}

#[test]
fn pidfile_holds_pid_and_is_removed_at_exit() {
    let (_dir, pidfile, mut qemu, mut client) = vm_with_pidfile();
    let written = std::fs::read_to_string(&pidfile).unwrap();
    client.execute("quit");
    qemu.wait_exit();
    assert_eq!(
        (written, pidfile.exists()),
        (format!("{}\n", qemu.pid()), false)
    );
}

/// Kills a daemonized qmpsim (not our child) on drop.
struct DaemonGuard(PathBuf);

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: sends SIGKILL to the daemon this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// qmpsim with `-daemonize -pidfile` on a unix socket; the returned guard is the
/// parent, which exits once the child serves.
fn spawn_daemon(path: &Path, pidfile: &Path) -> Qemu {
    let spec = unix_spec(path, ",nowait");
    let pid_arg = pidfile.to_str().unwrap();
    Qemu::spawn(&["-qmp", &spec, "-daemonize", "-pidfile", pid_arg], false)
}

/// A daemon on `DIR/q.sock` with `-pidfile DIR/d.pid`, its parent ended, a
/// client connected that read the greeting, negotiated and sent `quit`: the
/// folder, the socket and the pidfile, the guard, the parent's exit status,
/// the client and the greeting.
struct QuitDaemon {
    _dir: tempfile::TempDir,
    path: PathBuf,
    pidfile: PathBuf,
    _guard: DaemonGuard,
    parent: Option<i32>,
    client: Client<UnixStream>,
    greeting: String,
}

fn quit_daemon() -> QuitDaemon {
    let (dir, path) = sock_path();
    let pidfile = dir.path().join("d.pid");
    let guard = DaemonGuard(pidfile.clone());
    let parent = spawn_daemon(&path, &pidfile).wait_exit().code();
    let mut client = connect_unix(&path);
    let greeting = client.line();
    client.execute("qmp_capabilities");
    client.execute("quit");
    QuitDaemon {
        _dir: dir,
        path,
        pidfile,
        _guard: guard,
        parent,
        client,
        greeting,
    }
}

#[test]
fn daemonize_parent_exits_zero_and_child_serves() {
    let daemon = quit_daemon();
    assert_eq!(
        (daemon.parent, daemon.greeting),
        (Some(0), GREETING.to_owned())
    );
}

#[test]
fn daemonize_child_removes_socket_and_pidfile_at_quit() {
    let mut daemon = quit_daemon();
    // The daemon closes the connection last, after removing its files.
    daemon.client.line();
    daemon.client.line();
    assert_eq!(
        (daemon.path.exists(), daemon.pidfile.exists()),
        (false, false)
    );
}

/// The pid a pidfile holds.
fn pid_in(pidfile: &Path) -> String {
    std::fs::read_to_string(pidfile).unwrap().trim().to_owned()
}

#[test]
fn second_daemon_on_a_held_pidfile_exits_one_with_the_daemonize_message() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("d.pid");
    let _guard = DaemonGuard(pidfile.clone());
    spawn_daemon(&dir.path().join("a.sock"), &pidfile).wait_exit();
    let mut second = spawn_daemon(&dir.path().join("b.sock"), &pidfile);
    let code = second.wait_exit().code();
    assert_eq!(
        (code, second.stderr.next()),
        (
            Some(1),
            "Could not acquire pidfile: Resource temporarily unavailable\n".to_owned()
        )
    );
}

#[test]
fn second_daemon_on_a_held_pidfile_leaves_the_first_pid_and_the_first_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (first_sock, pidfile) = (dir.path().join("a.sock"), dir.path().join("d.pid"));
    let _guard = DaemonGuard(pidfile.clone());
    spawn_daemon(&first_sock, &pidfile).wait_exit();
    let first_pid = pid_in(&pidfile);
    spawn_daemon(&dir.path().join("b.sock"), &pidfile).wait_exit();
    let mut client = connect_unix(&first_sock);
    let greeting = client.line();
    assert_eq!(
        (pid_in(&pidfile), greeting),
        (first_pid, GREETING.to_owned())
    );
}

#[test]
fn second_vm_on_a_held_pidfile_says_pid_file_and_keeps_it() {
    let (dir, pidfile, first, _client) = vm_with_pidfile();
    let mut second = second_vm_on(dir.path(), &pidfile);
    let code = second.wait_exit().code();
    assert_eq!(
        (code, second.stderr.next(), pid_in(&pidfile)),
        (
            Some(1),
            "Could not acquire pid file: Resource temporarily unavailable\n".to_owned(),
            first.pid().to_string()
        )
    );
}

#[test]
fn first_vm_exit_after_a_refused_second_removes_only_its_own_pidfile() {
    let (dir, pidfile, mut first, mut client) = vm_with_pidfile();
    second_vm_on(dir.path(), &pidfile).wait_exit();
    let held_after_refusal = pidfile.exists();
    client.execute("quit");
    first.wait_exit();
    assert_eq!((held_after_refusal, pidfile.exists()), (true, false));
}

/// Reads lines until a response (not an event) arrives.
pub fn response<S: Read + Write>(client: &mut Client<S>) -> String {
    loop {
        let line = client.line();
        if !line.starts_with("{\"timestamp\"") {
            return line;
        }
    }
}

/// `query-migrate`'s status word.
fn migrate_status<S: Read + Write>(client: &mut Client<S>) -> String {
    client.send("{\"execute\":\"query-migrate\"}");
    let line = response(client);
    let start = line.find("\"status\": \"").map(|i| i + 11).unwrap_or(0);
    line[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn migrate_to_slow_destination_stays_active_until_it_reads() {
    let (dir, path) = sock_path();
    let dst_path = dir.path().join("dst.sock");
    let listener = std::os::unix::net::UnixListener::bind(&dst_path).unwrap();
    let (_qemu, mut client) = negotiated_unix(&path, &["-m", "128"]);
    client.send(&format!(
        "{{\"execute\":\"migrate\",\"arguments\":{{\"uri\":\"unix:{}\"}}}}",
        dst_path.display()
    ));
    assert_eq!(response(&mut client), RETURN_EMPTY);
    let (mut dst, _) = listener.accept().unwrap();
    // Idle virtual time runs on while the destination reads nothing: long enough
    // for the whole RAM at the default speed, were it not stalled.
    thread::sleep(Duration::from_millis(1500));
    let while_stalled = migrate_status(&mut client);
    let reader = thread::spawn(move || {
        let mut sink = Vec::new();
        dst.read_to_end(&mut sink).map(|_| sink.len())
    });
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut after = migrate_status(&mut client);
    while after == "active" && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        after = migrate_status(&mut client);
    }
    client.execute("quit");
    let streamed = reader.join().unwrap().unwrap();
    assert_eq!(
        (while_stalled.as_str(), after.as_str()),
        ("active", "completed")
    );
    assert!(streamed > 128 << 20, "stream too short: {streamed}");
}

#[test]
fn migrate_to_refusing_destination_fails() {
    let (dir, path) = sock_path();
    let (_qemu, mut client) = negotiated_unix(&path, &[]);
    client.send(&format!(
        "{{\"execute\":\"migrate\",\"arguments\":{{\"uri\":\"unix:{}\"}}}}",
        dir.path().join("nobody.sock").display()
    ));
    assert_eq!(response(&mut client), RETURN_EMPTY);
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut status = migrate_status(&mut client);
    while status == "active" && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        status = migrate_status(&mut client);
    }
    assert_eq!(status, "failed");
}

/// Runs `command` (`{file}` standing for a new file's path) on a fresh VM,
/// quits it, and returns the reply and the bytes the edge wrote to the file.
fn written_at_the_edge(command: &str) -> (String, Vec<u8>) {
    let (dir, path) = sock_path();
    let file = dir.path().join("out");
    let (mut qemu, mut client) = negotiated_unix(&path, &[]);
    client.send(&command.replace("{file}", &file.display().to_string()));
    let ret = response(&mut client);
    client.execute("quit");
    qemu.wait_exit();
    let bytes = std::fs::read(&file).expect("the edge wrote the file");
    (ret, bytes)
}

#[test]
fn screendump_writes_a_p6_image_at_the_edge() {
    let (ret, bytes) =
        written_at_the_edge(r#"{"execute":"screendump","arguments":{"filename":"{file}"}}"#);
    assert_eq!((ret.as_str(), &bytes[..3]), (RETURN_EMPTY, &b"P6\n"[..]));
}

#[test]
fn pmemsave_writes_the_requested_bytes_at_the_edge() {
    let (ret, bytes) = written_at_the_edge(
        r#"{"execute":"pmemsave","arguments":{"val":4096,"size":1000,"filename":"{file}"}}"#,
    );
    assert_eq!((ret.as_str(), bytes.len()), (RETURN_EMPTY, 1000));
}

/// `system_powerdown`, then wait (idle clock) for the guest's SHUTDOWN; returns
/// every line after the command.
fn powerdown_and_wait(path: &Path) -> Vec<String> {
    let (mut qemu, mut client) = negotiated_unix(path, &[]);
    client.send("{\"execute\":\"system_powerdown\"}");
    let mut lines = Vec::new();
    loop {
        let line = client.line();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    assert_eq!(qemu.wait_exit().code(), Some(0));
    lines
}

#[test]
fn powerdown_waiting_client_gets_shutdown_with_same_timestamp_every_run() {
    let (_dir_a, path_a) = sock_path();
    let (_dir_b, path_b) = sock_path();
    let first = powerdown_and_wait(&path_a);
    let second = powerdown_and_wait(&path_b);
    assert!(
        first.last().is_some_and(|l| l.contains("\"SHUTDOWN\"")),
        "{first:?}"
    );
    assert_eq!(first, second);
}
