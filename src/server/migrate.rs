//! Outgoing migration channels: the real end of `Effect::MigrationStart`,
//! `MigrationFinish` and `MigrationCancel`.
//!
//! The engine paces the stream in virtual time (`migrate_set_speed`) and says what
//! it sent with `Effect::MigrationData`; the edge opens the channel the URI names
//! (`tcp:HOST:PORT`, `unix:PATH`, `exec:CMD` through `sh -c`, or a passed
//! descriptor for `fd:NAME`) and writes the stream of `crate::migration_stream`
//! on the event loop: the preamble at once, the payload bytes as the model sends
//! them, then the machine's state snapshot on finish. Each channel is
//! non-blocking and written as far as it takes; what it does not take waits
//! until the poll reports the channel writable ([`Migrations::writable`]). When
//! the destination reads slowly and the unwritten backlog passes
//! [`MIGRATION_BACKLOG_BYTES_MAX`], the engine is told
//! (`Input::MigrationStalled`), so `query-migrate` stays `active` until the
//! destination has taken everything. A channel that cannot be opened or breaks
//! is reported as `Input::MigrationFailed`. Both reach the engine as inputs, so
//! they are recorded like any other.
//!
//! Blocking work stays off the loop: opening a `tcp:` or `unix:` channel is a
//! connect (it completes or is refused at once on the local machine; a remote
//! host that never answers blocks, as QEMU 0.14's own `tcp_start_outgoing_migration`
//! does not), and an `exec:` child is reaped by a small thread once its stream
//! is written, which reports a non-zero exit as [`Event::MigrationFailed`]. A
//! passed descriptor that the poll cannot watch (a regular file) is written
//! at once.
//!
//! Effects before replies (see `crate::engine`): the channel is opened by the
//! engine loop itself, while it carries out `Effect::MigrationStart`, so the
//! destination has its connection (or the `exec:` command runs) before the
//! `migrate` reply is sent; a channel that cannot be opened is reported at once.
//! `migrate_cancel` shuts a socket channel down just as synchronously, so the
//! destination sees the end of the stream before the reply.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::{set_nonblocking, Event, EventSender};
use crate::engine::Input;

/// Bytes written per chunk of the RAM stream.
pub const STREAM_CHUNK_BYTES: usize = 64 * 1024;
/// Unwritten bytes a destination may fall behind before the model stalls (about
/// what a socket buffer and QEMU's own file buffer would hold).
pub const MIGRATION_BACKLOG_BYTES_MAX: u64 = 16 << 20;

/// The zero page data the RAM stream is made of.
static ZEROS: [u8; STREAM_CHUNK_BYTES] = [0; STREAM_CHUNK_BYTES];

/// The running migrations, by id.
#[derive(Debug, Default)]
pub struct Migrations {
    active: BTreeMap<u64, Channel>,
    /// Tokens of channels that ended, for the loop to free.
    released: Vec<Token>,
    /// Threads reaping `exec:` children.
    reapers: Vec<thread::JoinHandle<()>>,
    /// Where a reaper reports a failed child (set by the first `start`).
    events: Option<EventSender>,
}

/// One open channel and what it still has to write.
#[derive(Debug)]
struct Channel {
    uri: String,
    out: File,
    /// An `exec:` command, reaped once the stream is written.
    child: Option<Child>,
    /// A socket (shut down at cancel).
    socket: bool,
    /// Bytes before the payload (the preamble), and how many are written.
    head: Vec<u8>,
    head_written: usize,
    /// Payload bytes ordered and not written yet.
    zeros: u64,
    /// The snapshot suffix, once finishing, and how many are written.
    tail: Option<Vec<u8>>,
    tail_written: usize,
    /// The engine was told the destination is behind.
    stalled: bool,
    /// The poll watches it, with this token.
    token: Option<Token>,
    /// The poll cannot watch it (a regular file): write it at once.
    unpollable: bool,
}

/// How a write attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    /// Everything ordered is written (and, when finishing, the whole stream).
    Drained,
    /// The channel takes no more now.
    Blocked,
}

impl Channel {
    /// Bytes ordered and not written yet.
    fn backlog(&self) -> u64 {
        let head = (self.head.len() - self.head_written) as u64;
        let tail = self
            .tail
            .as_ref()
            .map_or(0, |t| (t.len() - self.tail_written) as u64);
        head + self.zeros + tail
    }

    /// Writes as much as the channel takes.
    fn pump(&mut self) -> io::Result<Pumped> {
        while self.head_written < self.head.len() {
            match self.out.write(&self.head[self.head_written..]) {
                Ok(n) => self.head_written += n,
                Err(e) => return blocked_or(e),
            }
        }
        while self.zeros > 0 {
            let k = usize::try_from(self.zeros)
                .unwrap_or(usize::MAX)
                .min(STREAM_CHUNK_BYTES);
            match self.out.write(&ZEROS[..k]) {
                Ok(n) => self.zeros -= n as u64,
                Err(e) => return blocked_or(e),
            }
        }
        if let Some(tail) = &self.tail {
            while self.tail_written < tail.len() {
                match self.out.write(&tail[self.tail_written..]) {
                    Ok(n) => self.tail_written += n,
                    Err(e) => return blocked_or(e),
                }
            }
        }
        Ok(Pumped::Drained)
    }

    fn finished(&self) -> bool {
        self.tail.is_some() && self.backlog() == 0
    }
}

/// `WouldBlock` is [`Pumped::Blocked`]; `Interrupted` counts as blocked too
/// (the poll comes back); anything else is the channel's failure.
fn blocked_or(e: io::Error) -> io::Result<Pumped> {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(Pumped::Blocked),
        _ => Err(e),
    }
}

impl Migrations {
    /// Starts migration `id`: opens the channel here and now (see the module
    /// doc) and writes `prefix` as far as it goes. `fd` is the passed
    /// descriptor for `fd:` URIs. Returns `false` (after saying why on stderr)
    /// when the channel cannot be opened or written.
    pub fn start(
        &mut self,
        id: u64,
        uri: &str,
        fd: Option<OwnedFd>,
        prefix: Vec<u8>,
        events: EventSender,
    ) -> bool {
        self.events.get_or_insert(events);
        let mut channel = match open(uri, fd) {
            Ok(channel) => channel,
            Err(e) => {
                eprintln!("qmpsim: migration to {uri} failed: {e}");
                return false;
            }
        };
        channel.head = prefix;
        match channel.pump() {
            Ok(_) => {
                self.active.insert(id, channel);
                true
            }
            Err(e) => {
                eprintln!("qmpsim: migration to {uri} failed: {e}");
                false
            }
        }
    }

    /// Orders `bytes` more of migration `id`'s stream written, and writes what
    /// the channel takes. Returns `MigrationStalled` when the destination just
    /// fell more than [`MIGRATION_BACKLOG_BYTES_MAX`] behind (once, until
    /// [`Migrations::writable`] reports it caught up), or `MigrationFailed`.
    pub fn data(&mut self, id: u64, bytes: u64) -> Option<Input> {
        let c = self.active.get_mut(&id)?;
        c.zeros += bytes;
        // Measured before writing: what the destination had not taken, plus
        // this order.
        let stalls = c.backlog() > MIGRATION_BACKLOG_BYTES_MAX && !c.stalled;
        match c.pump() {
            Err(e) => Some(self.fail(id, &e)),
            Ok(Pumped::Drained) => None,
            Ok(Pumped::Blocked) if stalls => {
                c.stalled = true;
                Some(Input::MigrationStalled { id, stalled: true })
            }
            Ok(Pumped::Blocked) => None,
        }
    }

    /// Finishes migration `id` with the state snapshot: it is written after the
    /// payload, then the channel closes.
    pub fn finish(&mut self, id: u64, snapshot: Vec<u8>) -> Option<Input> {
        let c = self.active.get_mut(&id)?;
        c.tail = Some(crate::migration_stream::encode_suffix(&snapshot));
        self.writable(id)
    }

    /// Migration `id`'s channel may take more: writes what it takes. Returns
    /// `MigrationStalled { stalled: false }` when a stalled destination has
    /// taken everything ordered, or `MigrationFailed`.
    pub fn writable(&mut self, id: u64) -> Option<Input> {
        let c = self.active.get_mut(&id)?;
        match c.pump() {
            Err(e) => Some(self.fail(id, &e)),
            Ok(Pumped::Blocked) => None,
            Ok(Pumped::Drained) => {
                let caught_up = std::mem::take(&mut c.stalled);
                if c.finished() {
                    self.close(id);
                }
                caught_up.then_some(Input::MigrationStalled { id, stalled: false })
            }
        }
    }

    /// Cancels migration `id`: a socket channel is shut down at once, any
    /// other is closed.
    pub fn cancel(&mut self, id: u64) {
        if let Some(c) = self.active.remove(&id) {
            if c.socket {
                // SAFETY: shutdown on a descriptor this channel owns.
                unsafe { libc::shutdown(c.out.as_raw_fd(), libc::SHUT_RDWR) };
            }
            self.release(c);
        }
    }

    /// Watches, with a token from `token`, every channel that has bytes left
    /// and is not watched yet. A channel the poll cannot watch is written here
    /// (it does not block); its result is returned like [`Migrations::writable`]'s.
    pub fn watch(
        &mut self,
        registry: &Registry,
        mut token: impl FnMut(u64) -> Token,
    ) -> Vec<Input> {
        let waiting: Vec<u64> = self
            .active
            .iter()
            .filter(|(_, c)| c.token.is_none() && c.backlog() > 0)
            .map(|(&id, _)| id)
            .collect();
        let mut inputs = Vec::new();
        for id in waiting {
            let c = self.active.get_mut(&id).expect("listed above");
            if !c.unpollable {
                let t = token(id);
                let fd = c.out.as_raw_fd();
                match registry.register(&mut SourceFd(&fd), t, Interest::WRITABLE) {
                    Ok(()) => {
                        c.token = Some(t);
                        continue;
                    }
                    Err(_) => {
                        self.released.push(t);
                        c.unpollable = true;
                        // A regular file: blocking writes are fine.
                        set_nonblocking(&c.out, false);
                    }
                }
            }
            inputs.extend(self.writable(id));
        }
        inputs
    }

    /// Tokens of channels that ended since the last call.
    pub fn take_released(&mut self) -> Vec<Token> {
        std::mem::take(&mut self.released)
    }

    /// At exit: lets finished migrations write their last bytes, until `deadline`.
    /// Migrations still running are cancelled first (QEMU exits mid-stream too).
    pub fn wait(&mut self, deadline: Instant) {
        let running: Vec<u64> = self
            .active
            .iter()
            .filter(|(_, c)| c.tail.is_none())
            .map(|(&id, _)| id)
            .collect();
        for id in running {
            self.cancel(id);
        }
        let ids: Vec<u64> = self.active.keys().copied().collect();
        for id in ids {
            while let Some(c) = self.active.get(&id) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let mut pfd = libc::pollfd {
                    fd: c.out.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
                // SAFETY: poll reads and fills one pollfd that lives on this stack.
                unsafe { libc::poll(&mut pfd, 1, ms) };
                // Whatever the result, writing says how far the channel is.
                self.writable(id);
            }
        }
        for (_, c) in std::mem::take(&mut self.active) {
            self.release(c);
        }
        for t in std::mem::take(&mut self.reapers) {
            while !t.is_finished() && Instant::now() < deadline {
                thread::sleep(std::time::Duration::from_millis(5));
            }
            if t.is_finished() {
                // A panic in the thread was already printed; nothing to add.
                let _ = t.join();
            }
        }
    }

    /// Migration `id` broke: says why, closes it, and gives the engine's input.
    fn fail(&mut self, id: u64, e: &io::Error) -> Input {
        if let Some(c) = self.active.remove(&id) {
            eprintln!("qmpsim: migration to {} failed: {e}", c.uri);
            self.release(c);
        }
        Input::MigrationFailed { id }
    }

    /// Migration `id` wrote its whole stream: closes it, and reaps an `exec:`
    /// child on a thread (a non-zero exit is the migration's failure).
    fn close(&mut self, id: u64) {
        let Some(mut c) = self.active.remove(&id) else {
            return;
        };
        let child = c.child.take();
        let uri = c.uri.clone();
        self.release(c);
        if let (Some(mut child), Some(events)) = (child, self.events.clone()) {
            self.reapers.push(thread::spawn(move || {
                let failure = match child.wait() {
                    Ok(status) if status.success() => return,
                    Ok(status) => format!("exec: command exited with {status}"),
                    Err(e) => e.to_string(),
                };
                eprintln!("qmpsim: migration to {uri} failed: {failure}");
                // The loop may be gone (exiting); nothing to tell then.
                let _ = events.send(Event::MigrationFailed { id });
            }));
        }
    }

    /// Frees a channel's token (the descriptor closes when `c` drops, which
    /// also takes it out of the poll).
    fn release(&mut self, c: Channel) {
        if let Some(t) = c.token {
            self.released.push(t);
        }
    }
}

fn channel(uri: &str, out: OwnedFd, child: Option<Child>, socket: bool) -> Channel {
    let out = File::from(out);
    set_nonblocking(&out, true);
    Channel {
        uri: uri.to_owned(),
        out,
        child,
        socket,
        head: Vec::new(),
        head_written: 0,
        zeros: 0,
        tail: None,
        tail_written: 0,
        stalled: false,
        token: None,
        unpollable: false,
    }
}

fn open(uri: &str, fd: Option<OwnedFd>) -> io::Result<Channel> {
    if let Some(addr) = uri.strip_prefix("tcp:") {
        return Ok(channel(uri, TcpStream::connect(addr)?.into(), None, true));
    }
    if let Some(path) = uri.strip_prefix("unix:") {
        return Ok(channel(uri, UnixStream::connect(path)?.into(), None, true));
    }
    if let Some(cmd) = uri.strip_prefix("exec:") {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin pipe"))?;
        return Ok(channel(uri, stdin.into(), Some(child), false));
    }
    match fd {
        // A passed descriptor may be a socket: it is shut down at cancel (a
        // descriptor that is not a socket just gives ENOTSOCK, left unread).
        Some(fd) if uri.starts_with("fd:") => Ok(channel(uri, fd, None, true)),
        _ => Err(io::Error::other(format!(
            "cannot open migration URI '{uri}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    use super::*;

    /// Migrations with migration `id` started to `uri`, its stream beginning
    /// with `prefix`: whether it started, and where its events go.
    fn started(
        id: u64,
        uri: &str,
        prefix: &[u8],
    ) -> (Migrations, bool, crate::server::EventReceiver) {
        let (tx, rx) = crate::server::event_channel().unwrap();
        let mut m = Migrations::default();
        let started = m.start(id, uri, None, prefix.to_vec(), tx);
        (m, started, rx)
    }

    /// A socket `name` listening in `dir`, and the `unix:` URI that reaches it.
    fn listening(dir: &tempfile::TempDir, name: &str) -> (UnixListener, String) {
        let path = dir.path().join(name);
        let listener = UnixListener::bind(&path).unwrap();
        (listener, format!("unix:{}", path.display()))
    }

    /// Far enough for any test's stream to be written.
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    /// Reads everything `conn` gets until end of stream, on a thread.
    fn read_all(mut conn: UnixStream) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got
        })
    }

    #[test]
    fn unix_destination_receives_header_ram_and_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (listener, uri) = listening(&dir, "dst.sock");
        let (mut m, started, _rx) = started(1, &uri, b"QEVMHEAD");
        assert!(started);
        let reader = read_all(listener.accept().unwrap().0);
        assert_eq!(m.data(1, 600_000), None);
        assert_eq!(m.data(1, 400_000), None);
        assert_eq!(m.finish(1, b"SNAP".to_vec()), None);
        // What the socket did not take yet is written as it drains.
        m.wait(later());
        let got = reader.join().unwrap();
        assert_eq!(got.len(), 8 + 1_000_000 + 8 + 4);
        assert_eq!(
            (&got[..4], &got[got.len() - 4..]),
            (&b"QEVM"[..], &b"SNAP"[..])
        );
    }

    #[test]
    fn refused_destination_fails_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("unix:{}", dir.path().join("none").display());
        let (_m, started, _rx) = started(7, &uri, b"");
        assert!(!started);
    }

    #[test]
    fn start_returns_with_the_destination_connected() {
        let dir = tempfile::tempdir().unwrap();
        let (listener, uri) = listening(&dir, "dst.sock");
        listener.set_nonblocking(true).unwrap();
        let _migration = started(3, &uri, b"");
        assert!(listener.accept().is_ok());
    }

    #[test]
    fn cancel_returns_with_the_destination_at_end_of_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (listener, uri) = listening(&dir, "dst.sock");
        let (mut m, _, _rx) = started(4, &uri, b"");
        let (mut conn, _) = listener.accept().unwrap();
        m.cancel(4);
        conn.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        // Shut down and closed: the stream ends at once.
        assert_eq!(conn.read_to_end(&mut got).map_err(|e| e.kind()), Ok(0));
    }

    #[test]
    fn exec_destination_gets_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let (mut m, _, rx) = started(2, &format!("exec:cat > {}", out.display()), b"QEVMHEAD");
        assert_eq!(m.data(2, 1000), None);
        assert_eq!(m.finish(2, b"S".to_vec()), None);
        // The pipe took it all; waiting reaps the child.
        m.wait(later());
        assert_eq!(std::fs::metadata(&out).unwrap().len(), 8 + 1000 + 8 + 1);
        assert!(rx.try_recv().is_none(), "migration reported a failure");
    }

    #[test]
    fn exec_command_that_fails_is_reported_once_its_stream_is_written() {
        let (mut m, _, rx) = started(5, "exec:cat >/dev/null; exit 3", b"QEVMHEAD");
        assert_eq!(m.finish(5, b"S".to_vec()), None);
        m.wait(later());
        assert!(matches!(
            rx.try_recv(),
            Some(Event::MigrationFailed { id: 5 })
        ));
    }

    /// Migration 3 started to a unix socket nobody reads yet, and that socket's
    /// accepted end. The preamble fits the empty socket, so an order's backlog
    /// is exactly what it orders.
    fn unread_migration(
        dir: &tempfile::TempDir,
    ) -> (Migrations, UnixStream, crate::server::EventReceiver) {
        let (listener, uri) = listening(dir, "slow.sock");
        let (m, _, rx) = started(3, &uri, b"QEVMHEAD");
        let (conn, _) = listener.accept().unwrap();
        (m, conn, rx)
    }

    #[test]
    fn data_reaching_backlog_limit_does_not_stall() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        assert_eq!(m.data(3, MIGRATION_BACKLOG_BYTES_MAX), None);
    }

    #[test]
    fn data_past_backlog_limit_stalls() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        assert_eq!(
            m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1),
            Some(Input::MigrationStalled {
                id: 3,
                stalled: true
            })
        );
    }

    #[test]
    fn data_while_stalled_does_not_stall_again() {
        // Nobody reads, so the destination cannot catch up in between.
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1);
        assert_eq!(m.data(3, 1), None);
    }

    #[test]
    fn stalled_destination_that_reads_everything_is_reported_caught_up() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, mut conn, _rx) = unread_migration(&dir);
        m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1);
        let total = 8 + MIGRATION_BACKLOG_BYTES_MAX + 1;
        let reader = thread::spawn(move || {
            let mut sink = vec![0_u8; 1 << 16];
            let mut read = 0_u64;
            while read < total {
                read += conn.read(&mut sink).unwrap() as u64;
            }
            conn
        });
        // The loop's part: write whenever the channel is writable.
        let fd = m.active[&3].out.as_raw_fd();
        let caught_up = loop {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one pollfd on this stack.
            assert!(
                unsafe { libc::poll(&mut pfd, 1, 30_000) } > 0,
                "never writable"
            );
            if let Some(input) = m.writable(3) {
                break input;
            }
        };
        assert_eq!(
            caught_up,
            Input::MigrationStalled {
                id: 3,
                stalled: false
            }
        );
        reader.join().unwrap();
    }

    #[test]
    fn broken_destination_fails_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, conn, _rx) = unread_migration(&dir);
        drop(conn);
        assert_eq!(m.data(3, 1000), Some(Input::MigrationFailed { id: 3 }));
        assert_eq!(m.data(3, 1000), None, "a failed migration is gone");
    }
}
