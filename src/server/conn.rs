//! One client connection, as the event loop drives it.
//!
//! Sockets ([`Stream`]) are non-blocking and registered with the loop's poll:
//! reads take at most [`READ_BYTES_MAX`] bytes (QEMU 0.14's `READ_BUF_LEN`), and
//! on unix sockets use `recvmsg`, so `SCM_RIGHTS` descriptors arrive with the
//! bytes they came with; writes may be partial, and the rest waits in the
//! client's [`OutputQueue`] for the socket to become
//! writable.
//!
//! Standard input and output cannot be polled in general (a regular file, or a
//! terminal shared with the shell, whose file flags qmpsim must not change; a
//! terminal is put in 0.14's raw mode by [`super::tty`]), so the
//! stdio monitor keeps two small threads: [`spawn_stdin_reader`] reads one chunk,
//! reports it to the loop and waits for the loop's go-ahead before reading the
//! next (so backpressure works there too), and [`Writer`] drains a queue into
//! stdout. As QEMU 0.14's stdio chardev, end of input just stops reading (no
//! disconnect).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use super::fds::recv_with_fds;
use super::queue::{OutputQueue, QueueFullError};
use super::{Event, EventSender};
use crate::qmp::session::ClientId;

/// Bytes one read asks for (QEMU 0.14's `READ_BUF_LEN`).
pub const READ_BYTES_MAX: usize = 4096;

/// A client's transport, as accepted or connected (blocking, not yet polled).
#[derive(Debug)]
pub enum Conn {
    /// An accepted or connected unix stream socket.
    Unix(UnixStream),
    /// An accepted or connected TCP socket.
    Tcp(TcpStream),
    /// The process's stdin and stdout.
    Stdio,
}

/// A non-blocking client socket registered with the loop.
#[derive(Debug)]
pub enum Stream {
    /// Unix stream socket.
    Unix(mio::net::UnixStream),
    /// TCP socket.
    Tcp(mio::net::TcpStream),
}

impl Stream {
    /// Makes `conn`'s socket non-blocking; `None` for stdio.
    pub fn from_conn(conn: Conn) -> io::Result<Option<Stream>> {
        Ok(match conn {
            Conn::Unix(s) => {
                s.set_nonblocking(true)?;
                Some(Stream::Unix(mio::net::UnixStream::from_std(s)))
            }
            Conn::Tcp(s) => {
                s.set_nonblocking(true)?;
                Some(Stream::Tcp(mio::net::TcpStream::from_std(s)))
            }
            Conn::Stdio => None,
        })
    }

    /// One read of at most `buf.len()` bytes, with the first descriptor passed
    /// along (unix only). `Ok((0, _))` is end of stream; `WouldBlock` means
    /// nothing more for now.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
        match self {
            Stream::Unix(s) => recv_with_fds(s.as_raw_fd(), buf),
            Stream::Tcp(s) => loop {
                match s.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other.map(|n| (n, None)),
                }
            },
        }
    }

    /// Writes as much of `data` as the socket takes now.
    pub fn write_some(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            let got = match self {
                Stream::Unix(s) => s.write(data),
                Stream::Tcp(s) => s.write(data),
            };
            match got {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Shuts the socket down both ways; already shut down or reset is fine.
    pub fn cut(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// The socket as a poll source.
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
        }
    }
}

/// Writes everything queued that the socket takes now. Returns `Err` when the
/// socket failed (the caller stops writing to it).
pub fn flush_queue(stream: &mut Stream, queue: &mut OutputQueue) -> io::Result<()> {
    while let Some(front) = queue.front() {
        match stream.write_some(front) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => queue.consume(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts the thread that reads stdin for `client`: each chunk goes to the loop
/// as [`Event::Data`]; the next read waits for a message on the returned sender
/// (the loop's go-ahead). End of input or a read error stops the thread.
pub fn spawn_stdin_reader(client: ClientId, events: EventSender) -> io::Result<Sender<()>> {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            let mut buf = vec![0u8; READ_BYTES_MAX];
            loop {
                let n = match io::stdin().lock().read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                let event = Event::Data {
                    client,
                    bytes: buf[..n].to_vec(),
                    fd: None,
                };
                if events.send(event).is_err() || go_rx.recv().is_err() {
                    return;
                }
            }
        })?;
    Ok(go_tx)
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

/// The sending half of a connection that cannot be polled (stdout): a bounded
/// queue drained by a thread, which tells the loop after each write
/// ([`Event::Written`]) so a paused client can be resumed.
#[derive(Debug, Clone)]
pub struct Writer {
    shared: Arc<(Mutex<WriterState>, Condvar)>,
}

impl Writer {
    /// Starts a writer thread on `sink`; `written` is told after each write.
    pub fn spawn(
        name: &str,
        sink: Box<dyn Write + Send>,
        written: Option<(ClientId, EventSender)>,
    ) -> io::Result<Writer> {
        let writer = Writer {
            shared: Arc::new((Mutex::new(WriterState::default()), Condvar::new())),
        };
        let thread_side = writer.clone();
        thread::Builder::new()
            .name(format!("{name}-write"))
            .spawn(move || thread_side.write_loop(sink, written))?;
        Ok(writer)
    }

    fn state(&self) -> MutexGuard<'_, WriterState> {
        self.shared
            .0
            .lock()
            .expect("writer state lock is never held across a panic")
    }

    /// Queues bytes; fails past the queue's overflow limit.
    pub fn push(&self, data: Vec<u8>) -> Result<(), QueueFullError> {
        let mut st = self.state();
        if st.failed || st.closing {
            return Ok(());
        }
        st.queue.push(data)?;
        self.shared.1.notify_all();
        Ok(())
    }

    /// Whether the queue is full (time to stop reading the client).
    pub fn is_full(&self) -> bool {
        self.state().queue.is_full()
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

    fn write_loop(
        &self,
        mut sink: Box<dyn Write + Send>,
        written: Option<(ClientId, EventSender)>,
    ) {
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
            {
                let mut st = self.state();
                st.queue.written(chunk.len());
                if result.is_err() {
                    st.failed = true;
                    st.queue.clear();
                    st.closing = true;
                }
                self.shared.1.notify_all();
            }
            if let Some((client, events)) = &written {
                // The loop may be gone (exiting); nothing to tell then.
                let _ = events.send(Event::Written { client: *client });
            }
        }
        self.state().done = true;
        self.shared.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A deadline far enough away for a thread to run.
    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn writer_writes_pushed_bytes_in_order() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let w = Writer::spawn("t", Box::new(a), None).unwrap();
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
        let w = Writer::spawn("t", Box::new(a), None).unwrap();
        w.push(b"x".to_vec()).unwrap();
        assert!(w.wait_flushed(soon()));
    }

    /// The sizes of the first two reads of a new stream after `len` bytes were
    /// sent to it in one write and the sender closed (end of stream reads as 0).
    fn first_two_reads(len: usize) -> (usize, usize) {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&vec![b'x'; len]).unwrap();
        drop(a);
        let mut stream = Stream::from_conn(Conn::Unix(b)).unwrap().unwrap();
        let mut buf = vec![0u8; READ_BYTES_MAX];
        let first = stream.read_chunk(&mut buf).unwrap().0;
        let second = stream.read_chunk(&mut buf).unwrap().0;
        (first, second)
    }

    #[test]
    fn read_at_read_limit_takes_everything_at_once() {
        assert_eq!(first_two_reads(READ_BYTES_MAX), (READ_BYTES_MAX, 0));
    }

    #[test]
    fn read_past_read_limit_takes_two_reads() {
        assert_eq!(first_two_reads(READ_BYTES_MAX + 1), (READ_BYTES_MAX, 1));
    }

    #[test]
    fn read_with_nothing_sent_would_block() {
        let (_a, b) = UnixStream::pair().unwrap();
        let mut stream = Stream::from_conn(Conn::Unix(b)).unwrap().unwrap();
        let mut buf = vec![0u8; 8];
        let err = stream.read_chunk(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    /// Bytes far past what a unix socket buffers.
    const UNREAD_BYTES: usize = 1 << 20;

    #[test]
    fn flush_to_a_peer_not_reading_keeps_the_rest_queued() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut stream = Stream::from_conn(Conn::Unix(a)).unwrap().unwrap();
        let mut q = OutputQueue::default();
        q.push(vec![b'x'; UNREAD_BYTES]).unwrap();
        flush_queue(&mut stream, &mut q).unwrap();
        assert!(q.held_bytes() > 0 && q.held_bytes() < UNREAD_BYTES);
    }

    #[test]
    fn flush_to_a_closed_peer_fails() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let mut stream = Stream::from_conn(Conn::Unix(a)).unwrap().unwrap();
        let mut q = OutputQueue::default();
        q.push(b"x".to_vec()).unwrap();
        assert!(flush_queue(&mut stream, &mut q).is_err());
    }
}
