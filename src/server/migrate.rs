//! Outgoing migration channels: the real end of `Effect::MigrationStart`,
//! `MigrationFinish` and `MigrationCancel`.
//!
//! The engine paces the stream in virtual time (`migrate_set_speed`) and says what
//! it sent with `Effect::MigrationData`; the edge opens the channel the URI names
//! (`tcp:HOST:PORT`, `unix:PATH`, `exec:CMD` through `sh -c`, or a passed
//! descriptor for `fd:NAME`) and writes the stream of `crate::migration_stream`
//! from a thread: the preamble at once, the payload bytes as the model sends
//! them, then the machine's state snapshot on finish. When the destination reads slowly and the
//! unwritten backlog passes [`MIGRATION_BACKLOG_BYTES_MAX`], the engine is told
//! (`Input::MigrationStalled`), so `query-migrate` stays `active` until the
//! destination catches up. A channel that cannot be opened or breaks is reported
//! as `Input::MigrationFailed`. Both reach the engine as inputs, so they are
//! recorded like any other.
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
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;

use super::Event;

/// Bytes written per chunk of the RAM stream.
pub const STREAM_CHUNK_BYTES: usize = 64 * 1024;
/// Unwritten bytes a destination may fall behind before the model stalls (about
/// what a socket buffer and QEMU's own file buffer would hold).
pub const MIGRATION_BACKLOG_BYTES_MAX: u64 = 16 << 20;

/// What the engine loop tells a migration thread.
#[derive(Debug)]
enum Order {
    /// Write this many more bytes of the stream.
    Data(u64),
    /// Append the state snapshot and close.
    Finish(Vec<u8>),
    /// Close without finishing.
    Cancel,
}

/// The running migration threads, by id.
#[derive(Debug, Default)]
pub struct Migrations {
    active: BTreeMap<u64, Link>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// The engine loop's side of one migration thread.
#[derive(Debug)]
struct Link {
    orders: Sender<Order>,
    /// Bytes ordered written so far.
    ordered: u64,
    /// Shared with the thread.
    shared: Arc<Shared>,
    /// A duplicate of a socket channel's descriptor, to shut it down at cancel.
    closer: Option<OwnedFd>,
}

/// What the engine loop and a migration thread share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes the thread has written.
    written: AtomicU64,
    /// The engine was told the destination is behind; the thread reports when it
    /// has written everything ordered.
    stalled: AtomicBool,
    /// Cancelled: the write error the shut-down socket gives is not a failure.
    cancelled: AtomicBool,
}

impl Migrations {
    /// Starts migration `id`: opens the channel here and now (see the module
    /// doc), then hands it to a thread that writes what [`Migrations::data`]
    /// orders. `fd` is the passed descriptor for `fd:` URIs. Returns `false`
    /// (after saying why on stderr) when the channel cannot be opened.
    pub fn start(
        &mut self,
        id: u64,
        uri: &str,
        fd: Option<OwnedFd>,
        prefix: Vec<u8>,
        events: SyncSender<Event>,
    ) -> bool {
        let channel = match open(uri, fd) {
            Ok(channel) => channel,
            Err(e) => {
                eprintln!("qmpsim: migration to {uri} failed: {e}");
                return false;
            }
        };
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let closer = channel.closer.as_ref().and_then(|fd| fd.try_clone().ok());
        self.active.insert(
            id,
            Link {
                orders: tx,
                ordered: 0,
                shared: Arc::clone(&shared),
                closer,
            },
        );
        let uri = uri.to_owned();
        self.threads.push(thread::spawn(move || {
            let caught_up = || {
                let _ = events.send(Event::MigrationCaughtUp { id });
            };
            if let Err(e) = stream(channel, &prefix, &rx, &shared, caught_up) {
                if shared.cancelled.load(Ordering::SeqCst) {
                    return;
                }
                eprintln!("qmpsim: migration to {uri} failed: {e}");
                // The loop may be gone (exiting); nothing to tell then.
                let _ = events.send(Event::MigrationFailed { id });
            }
        }));
        true
    }

    /// At exit: lets finished migrations write their last bytes, until `deadline`.
    /// Migrations still running are cancelled first (QEMU exits mid-stream too).
    pub fn wait(&mut self, deadline: std::time::Instant) {
        for (_, c) in std::mem::take(&mut self.active) {
            let _ = c.orders.send(Order::Cancel);
        }
        for t in std::mem::take(&mut self.threads) {
            while !t.is_finished() && std::time::Instant::now() < deadline {
                thread::sleep(std::time::Duration::from_millis(5));
            }
            if t.is_finished() {
                // A panic in the thread was already printed; nothing to add.
                let _ = t.join();
            }
        }
    }

    /// Orders `bytes` more of migration `id`'s stream written. Returns whether
    /// the destination just fell more than [`MIGRATION_BACKLOG_BYTES_MAX`] behind
    /// (the caller tells the engine, once, until the thread reports
    /// `Event::MigrationCaughtUp`).
    pub fn data(&mut self, id: u64, bytes: u64) -> bool {
        let Some(c) = self.active.get_mut(&id) else {
            return false;
        };
        c.ordered += bytes;
        let backlog = c
            .ordered
            .saturating_sub(c.shared.written.load(Ordering::SeqCst));
        // The flag is set before the order is queued, so the thread sees it once
        // it has written this order.
        let stalls =
            backlog > MIGRATION_BACKLOG_BYTES_MAX && !c.shared.stalled.swap(true, Ordering::SeqCst);
        // A thread that already failed has reported it; nothing more to do.
        let _ = c.orders.send(Order::Data(bytes));
        stalls
    }

    /// Finishes migration `id` with the state snapshot.
    pub fn finish(&mut self, id: u64, snapshot: Vec<u8>) {
        if let Some(c) = self.active.remove(&id) {
            let _ = c.orders.send(Order::Finish(snapshot));
        }
    }

    /// Cancels migration `id`: a socket channel is shut down at once, any
    /// other is closed by its thread.
    pub fn cancel(&mut self, id: u64) {
        if let Some(c) = self.active.remove(&id) {
            c.shared.cancelled.store(true, Ordering::SeqCst);
            if let Some(fd) = &c.closer {
                // SAFETY: shutdown on a descriptor this link owns; a channel
                // that is not a socket just gives ENOTSOCK, left unread.
                unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
            }
            let _ = c.orders.send(Order::Cancel);
        }
    }
}

/// An open channel: a writer plus, for `exec:`, the child to reap.
struct Channel {
    writer: Box<dyn Write + Send>,
    child: Option<Child>,
    /// For a socket, a duplicate of its descriptor (for shutdown at cancel).
    closer: Option<OwnedFd>,
}

impl Channel {
    fn socket<S: Write + Send + AsFd + 'static>(s: S) -> io::Result<Channel> {
        let closer = Some(s.as_fd().try_clone_to_owned()?);
        Ok(Channel {
            writer: Box::new(s),
            child: None,
            closer,
        })
    }
}

fn open(uri: &str, fd: Option<OwnedFd>) -> io::Result<Channel> {
    if let Some(addr) = uri.strip_prefix("tcp:") {
        return Channel::socket(TcpStream::connect(addr)?);
    }
    if let Some(path) = uri.strip_prefix("unix:") {
        return Channel::socket(UnixStream::connect(path)?);
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
        return Ok(Channel {
            writer: Box::new(stdin),
            child: Some(child),
            closer: None,
        });
    }
    match fd {
        // A passed descriptor may be a socket: keep a duplicate for shutdown.
        Some(fd) if uri.starts_with("fd:") => Channel::socket(File::from(fd)),
        _ => Err(io::Error::other(format!(
            "cannot open migration URI '{uri}'"
        ))),
    }
}

fn stream(
    mut channel: Channel,
    prefix: &[u8],
    rx: &Receiver<Order>,
    shared: &Shared,
    caught_up: impl Fn(),
) -> io::Result<()> {
    channel.writer.write_all(prefix)?;
    loop {
        let order = match rx.try_recv() {
            Ok(order) => order,
            Err(TryRecvError::Empty) => {
                if shared.stalled.swap(false, Ordering::SeqCst) {
                    caught_up();
                }
                match rx.recv() {
                    Ok(order) => order,
                    Err(_) => return Ok(()),
                }
            }
            Err(TryRecvError::Disconnected) => return Ok(()),
        };
        match order {
            Order::Data(n) => write_zeros(channel.writer.as_mut(), n, &shared.written)?,
            Order::Finish(snapshot) => return finish(channel, &snapshot),
            Order::Cancel => return Ok(()),
        }
    }
}

/// Writes `n` bytes of (zero) page data, counting them in `written`.
fn write_zeros(w: &mut dyn Write, n: u64, written: &AtomicU64) -> io::Result<()> {
    let chunk = [0_u8; STREAM_CHUNK_BYTES];
    let mut left = n;
    while left > 0 {
        let k = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(STREAM_CHUNK_BYTES);
        w.write_all(&chunk[..k])?;
        written.fetch_add(k as u64, Ordering::SeqCst);
        left -= k as u64;
    }
    Ok(())
}

fn finish(mut channel: Channel, snapshot: &[u8]) -> io::Result<()> {
    channel
        .writer
        .write_all(&crate::migration_stream::encode_suffix(snapshot))?;
    channel.writer.flush()?;
    drop(channel.writer);
    if let Some(mut child) = channel.child {
        let status = child.wait()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "exec: command exited with {status}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::net::UnixListener;

    use super::*;

    fn events() -> (SyncSender<Event>, Receiver<Event>) {
        mpsc::sync_channel(16)
    }

    #[test]
    fn unix_destination_receives_header_ram_and_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dst.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, _rx) = events();
        let mut m = Migrations::default();
        m.start(
            1,
            &format!("unix:{}", path.display()),
            None,
            b"QEVMHEAD".to_vec(),
            tx,
        );
        let (mut conn, _) = listener.accept().unwrap();
        m.data(1, 60_000);
        m.data(1, 40_000);
        m.finish(1, b"SNAP".to_vec());
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 8 + 100_000 + 8 + 4);
        assert_eq!(
            (&got[..4], &got[got.len() - 4..]),
            (&b"QEVM"[..], &b"SNAP"[..])
        );
    }

    #[test]
    fn refused_destination_fails_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = events();
        let mut m = Migrations::default();
        let started = m.start(
            7,
            &format!("unix:{}", dir.path().join("none").display()),
            None,
            Vec::new(),
            tx,
        );
        assert!(!started);
    }

    #[test]
    fn start_returns_with_the_destination_connected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dst.sock");
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (tx, _rx) = events();
        let mut m = Migrations::default();
        m.start(3, &format!("unix:{}", path.display()), None, Vec::new(), tx);
        assert!(listener.accept().is_ok());
    }

    #[test]
    fn cancel_returns_with_the_destination_at_end_of_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dst.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, _rx) = events();
        let mut m = Migrations::default();
        m.start(4, &format!("unix:{}", path.display()), None, Vec::new(), tx);
        let (mut conn, _) = listener.accept().unwrap();
        m.cancel(4);
        conn.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        // Shut down: the stream ends at once, nothing waits for the thread.
        assert_eq!(conn.read_to_end(&mut got).map_err(|e| e.kind()), Ok(0));
    }

    #[test]
    fn exec_destination_gets_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let (tx, rx) = events();
        let mut m = Migrations::default();
        m.start(
            2,
            &format!("exec:cat > {}", out.display()),
            None,
            b"QEVMHEAD".to_vec(),
            tx,
        );
        m.data(2, 1000);
        m.finish(2, b"S".to_vec());
        // The thread reports nothing on success; wait for the file to be complete.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) < 8 + 1000 + 8 + 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "stream never completed"
            );
            assert!(rx.try_recv().is_err(), "migration reported a failure");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Migration 3 started to a unix socket nobody reads yet, and that socket's
    /// accepted end. The first order is checked before the thread sees it, so
    /// its backlog is exactly what it orders.
    fn unread_migration(dir: &tempfile::TempDir) -> (Migrations, UnixStream, Receiver<Event>) {
        let path = dir.path().join("slow.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, rx) = events();
        let mut m = Migrations::default();
        m.start(
            3,
            &format!("unix:{}", path.display()),
            None,
            b"QEVMHEAD".to_vec(),
            tx,
        );
        let (conn, _) = listener.accept().unwrap();
        (m, conn, rx)
    }

    #[test]
    fn data_reaching_backlog_limit_does_not_stall() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        assert!(!m.data(3, MIGRATION_BACKLOG_BYTES_MAX));
    }

    #[test]
    fn data_past_backlog_limit_stalls() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        assert!(m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1));
    }

    #[test]
    fn data_while_stalled_does_not_stall_again() {
        // Nobody reads, so the thread cannot catch up in between.
        let dir = tempfile::tempdir().unwrap();
        let (mut m, _conn, _rx) = unread_migration(&dir);
        m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1);
        assert!(!m.data(3, 1));
    }

    #[test]
    fn stalled_destination_that_reads_everything_is_reported_caught_up() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, mut conn, rx) = unread_migration(&dir);
        m.data(3, MIGRATION_BACKLOG_BYTES_MAX + 1);
        let mut sink = vec![0_u8; 1 << 16];
        let mut read = 0_u64;
        while read < 8 + MIGRATION_BACKLOG_BYTES_MAX + 1 {
            read += conn.read(&mut sink).unwrap() as u64;
        }
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(matches!(got, Event::MigrationCaughtUp { id: 3 }));
    }
}
