//! One client connection: a reader thread that turns what arrives into [`Event`]s,
//! and a writer thread that drains the connection's [`OutputQueue`].
//!
//! Readers never decide anything: bytes, passed descriptors and end of stream go to
//! the engine loop in arrival order through its one channel. On unix sockets reads
//! use `recvmsg`, so `SCM_RIGHTS` descriptors arrive with the bytes they came with.
//! Standard input behaves like QEMU 0.14's stdio chardev: at end of input it just
//! stops reading (no disconnect).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use super::fds::recv_with_fds;
use super::queue::{OutputQueue, QueueFullError};
use super::Event;
use crate::qmp::session::ClientId;

/// Bytes one read asks for (QEMU 0.14's `READ_BUF_LEN`).
pub const READ_BYTES_MAX: usize = 4096;

/// A client's transport.
#[derive(Debug)]
pub enum Conn {
    /// An accepted or connected unix stream socket.
    Unix(UnixStream),
    /// An accepted or connected TCP socket.
    Tcp(TcpStream),
    /// The process's stdin and stdout.
    Stdio,
}

/// A way to cut a connection from the engine loop.
#[derive(Debug)]
pub enum Cutter {
    /// Shuts down a unix socket.
    Unix(UnixStream),
    /// Shuts down a TCP socket.
    Tcp(TcpStream),
    /// Stdio cannot be cut; its writer is just stopped.
    Stdio,
}

impl Cutter {
    /// Shuts the socket down both ways, which ends its reader and writer.
    pub fn cut(&self) {
        // Already shut down or reset is fine.
        let _ = match self {
            Cutter::Unix(s) => s.shutdown(Shutdown::Both),
            Cutter::Tcp(s) => s.shutdown(Shutdown::Both),
            Cutter::Stdio => Ok(()),
        };
    }
}

/// The live parts of a connection the engine loop keeps.
#[derive(Debug)]
pub struct Link {
    /// Its writer.
    pub writer: Writer,
    /// Its cutter.
    pub cutter: Cutter,
}

/// Starts the reader and writer threads of `conn` for `client`.
pub fn start(conn: Conn, client: ClientId, events: SyncSender<Event>) -> io::Result<Link> {
    let name = format!("client-{}", client.0);
    let (writer, cutter) = match conn {
        Conn::Unix(s) => {
            let (w, c) = (s.try_clone()?, s.try_clone()?);
            spawn_reader(&name, client, Source::Unix(s), events)?;
            (Writer::spawn(&name, Box::new(w))?, Cutter::Unix(c))
        }
        Conn::Tcp(s) => {
            let (w, c) = (s.try_clone()?, s.try_clone()?);
            spawn_reader(&name, client, Source::Tcp(s), events)?;
            (Writer::spawn(&name, Box::new(w))?, Cutter::Tcp(c))
        }
        Conn::Stdio => {
            spawn_reader(&name, client, Source::Stdin, events)?;
            (Writer::spawn(&name, Box::new(io::stdout()))?, Cutter::Stdio)
        }
    };
    Ok(Link { writer, cutter })
}

enum Source {
    Unix(UnixStream),
    Tcp(TcpStream),
    Stdin,
}

fn spawn_reader(
    name: &str,
    client: ClientId,
    source: Source,
    events: SyncSender<Event>,
) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("{name}-read"))
        .spawn(move || read_loop(client, source, &events))?;
    Ok(())
}

fn read_loop(client: ClientId, mut source: Source, events: &SyncSender<Event>) {
    let mut buf = vec![0u8; READ_BYTES_MAX];
    loop {
        let got = match &mut source {
            Source::Unix(s) => recv_with_fds(s.as_raw_fd(), &mut buf),
            Source::Tcp(s) => s.read(&mut buf).map(|n| (n, None)),
            Source::Stdin => io::stdin().lock().read(&mut buf).map(|n| (n, None)),
        };
        let event = match got {
            Ok((0, _)) if matches!(source, Source::Stdin) => return,
            Ok((0, _)) => Event::Closed { client },
            Ok((n, fd)) => Event::Data {
                client,
                bytes: buf[..n].to_vec(),
                fd,
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) if matches!(source, Source::Stdin) => return,
            Err(_) => Event::Closed { client },
        };
        let closed = matches!(event, Event::Closed { .. });
        if events.send(event).is_err() || closed {
            return;
        }
    }
}

#[derive(Debug, Default)]
struct WriterState {
    queue: OutputQueue,
    /// No more pushes: write what is queued, then stop.
    closing: bool,
    /// The sink failed; pushes are dropped.
    failed: bool,
    /// The thread has stopped.
    done: bool,
}

/// The sending half of a connection: a bounded queue drained by a thread.
#[derive(Debug, Clone)]
pub struct Writer {
    shared: Arc<(Mutex<WriterState>, Condvar)>,
}

impl Writer {
    /// Starts a writer thread on `sink`.
    pub fn spawn(name: &str, sink: Box<dyn Write + Send>) -> io::Result<Writer> {
        let writer = Writer {
            shared: Arc::new((Mutex::new(WriterState::default()), Condvar::new())),
        };
        let thread_side = writer.clone();
        thread::Builder::new()
            .name(format!("{name}-write"))
            .spawn(move || thread_side.write_loop(sink))?;
        Ok(writer)
    }

    fn state(&self) -> MutexGuard<'_, WriterState> {
        self.shared
            .0
            .lock()
            .expect("writer state lock is never held across a panic")
    }

    /// Queues bytes; fails when the client holds [`OUTPUT_QUEUE_BYTES_MAX`] unread.
    ///
    /// [`OUTPUT_QUEUE_BYTES_MAX`]: super::queue::OUTPUT_QUEUE_BYTES_MAX
    pub fn push(&self, data: Vec<u8>) -> Result<(), QueueFullError> {
        let mut st = self.state();
        if st.failed || st.closing {
            return Ok(());
        }
        st.queue.push(data)?;
        self.shared.1.notify_all();
        Ok(())
    }

    /// Writes what is queued, then stops.
    pub fn close(&self) {
        self.state().closing = true;
        self.shared.1.notify_all();
    }

    /// Drops what is queued and stops.
    pub fn abort(&self) {
        let mut st = self.state();
        st.queue.clear();
        st.closing = true;
        self.shared.1.notify_all();
    }

    /// Waits until everything queued was written (or the sink failed), at most until
    /// `deadline`; true when flushed.
    pub fn wait_flushed(&self, deadline: Instant) -> bool {
        let mut st = self.state();
        loop {
            if st.queue.held_bytes() == 0 || st.failed || st.done {
                return st.queue.held_bytes() == 0 || st.failed;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .1
                .wait_timeout(st, deadline - now)
                .expect("writer state lock is never held across a panic")
                .0;
        }
    }

    fn write_loop(&self, mut sink: Box<dyn Write + Send>) {
        loop {
            let chunk = {
                let mut st = self.state();
                loop {
                    if let Some(chunk) = st.queue.take() {
                        break Some(chunk);
                    }
                    if st.closing {
                        break None;
                    }
                    st = self
                        .shared
                        .1
                        .wait(st)
                        .expect("writer state lock is never held across a panic");
                }
            };
            let Some(chunk) = chunk else { break };
            let result = sink.write_all(&chunk).and_then(|()| sink.flush());
            let mut st = self.state();
            st.queue.written(chunk.len());
            if result.is_err() {
                st.failed = true;
                st.queue.clear();
                st.closing = true;
            }
            self.shared.1.notify_all();
        }
        self.state().done = true;
        self.shared.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A deadline far enough away for a thread to run.
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn writer_writes_pushed_bytes_in_order() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let w = Writer::spawn("t", Box::new(a)).unwrap();
        w.push(b"one ".to_vec()).unwrap();
        w.push(b"two".to_vec()).unwrap();
        w.close();
        let mut got = String::new();
        b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "one two");
    }

    #[test]
    fn writer_flush_wait_returns_true_once_written() {
        let (a, _b) = UnixStream::pair().unwrap();
        let w = Writer::spawn("t", Box::new(a)).unwrap();
        w.push(b"x".to_vec()).unwrap();
        assert!(w.wait_flushed(soon()));
    }

    /// The sizes of the first two events after `len` bytes were sent to a new
    /// reader in one write (a `Closed` event counts as 0).
    fn first_two_reads(len: usize) -> (usize, usize) {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&vec![b'x'; len]).unwrap();
        drop(a);
        let (tx, rx) = mpsc::sync_channel(4);
        let _link = start(Conn::Unix(b), ClientId(7), tx).unwrap();
        let size = |e: Event| match e {
            Event::Data { bytes, .. } => bytes.len(),
            _ => 0,
        };
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        (size(first), size(second))
    }

    #[test]
    fn reader_at_read_limit_reports_one_data_event() {
        assert_eq!(first_two_reads(READ_BYTES_MAX), (READ_BYTES_MAX, 0));
    }

    #[test]
    fn reader_past_read_limit_splits_into_two_data_events() {
        assert_eq!(first_two_reads(READ_BYTES_MAX + 1), (READ_BYTES_MAX, 1));
    }

    #[test]
    fn reader_reports_data_then_close() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (tx, rx) = mpsc::sync_channel(4);
        let _link = start(Conn::Unix(b), ClientId(7), tx).unwrap();
        a.write_all(b"hello").unwrap();
        drop(a);
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(
            (first, second),
            (Event::Data { client: ClientId(7), ref bytes, fd: None }, Event::Closed { client: ClientId(7) })
                if bytes == b"hello"
        ));
    }
}
