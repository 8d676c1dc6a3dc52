//! Outgoing migration channels: the real end of `Effect::MigrationStart`,
//! `MigrationFinish` and `MigrationCancel`.
//!
//! The engine models progress in virtual time; the edge opens the channel the URI
//! names (`tcp:HOST:PORT`, `unix:PATH`, `exec:CMD` through `sh -c`, or a passed
//! descriptor for `fd:NAME`), streams the RAM image to it from a thread, and on
//! finish appends the machine's state snapshot. A channel that cannot be opened or
//! breaks is reported back as `Input::MigrationFailed`, through the engine loop's
//! event channel, so it is recorded like any other input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::thread;

use super::Event;

/// Bytes written per chunk of the RAM stream.
pub const STREAM_CHUNK_BYTES: usize = 64 * 1024;
/// The savevm stream magic of 0.14 (`QEMU_VM_FILE_MAGIC`, "QEVM") and version 3.
const STREAM_HEADER: [u8; 8] = [0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3];

/// What the engine loop tells a migration thread.
#[derive(Debug)]
enum Order {
    /// Append the state snapshot and close.
    Finish(Vec<u8>),
    /// Close without finishing.
    Cancel,
}

/// The running migration threads, by id.
#[derive(Debug, Default)]
pub struct Migrations {
    active: BTreeMap<u64, Sender<Order>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Migrations {
    /// Starts migration `id`: opens the channel and streams `total_bytes` from a
    /// thread. `fd` is the passed descriptor for `fd:` URIs.
    pub fn start(
        &mut self,
        id: u64,
        uri: &str,
        fd: Option<OwnedFd>,
        total_bytes: u64,
        events: SyncSender<Event>,
    ) {
        let (tx, rx) = mpsc::channel();
        self.active.insert(id, tx);
        let uri = uri.to_owned();
        self.threads.push(thread::spawn(move || {
            if let Err(e) = stream(&uri, fd, total_bytes, &rx) {
                eprintln!("qmpsim: migration to {uri} failed: {e}");
                // The loop may be gone (exiting); nothing to tell then.
                let _ = events.send(Event::MigrationFailed { id });
            }
        }));
    }

    /// At exit: lets finished migrations write their last bytes, until `deadline`.
    /// Migrations still running are cancelled first (QEMU exits mid-stream too).
    pub fn wait(&mut self, deadline: std::time::Instant) {
        for (_, tx) in std::mem::take(&mut self.active) {
            let _ = tx.send(Order::Cancel);
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

    /// Finishes migration `id` with the state snapshot.
    pub fn finish(&mut self, id: u64, snapshot: Vec<u8>) {
        if let Some(tx) = self.active.remove(&id) {
            // A thread that already failed has reported it; nothing more to do.
            let _ = tx.send(Order::Finish(snapshot));
        }
    }

    /// Cancels migration `id`.
    pub fn cancel(&mut self, id: u64) {
        if let Some(tx) = self.active.remove(&id) {
            let _ = tx.send(Order::Cancel);
        }
    }
}

/// An open channel: a writer plus, for `exec:`, the child to reap.
struct Channel {
    writer: Box<dyn Write>,
    child: Option<Child>,
}

fn open(uri: &str, fd: Option<OwnedFd>) -> io::Result<Channel> {
    let plain = |w: Box<dyn Write>| {
        Ok(Channel {
            writer: w,
            child: None,
        })
    };
    if let Some(addr) = uri.strip_prefix("tcp:") {
        return plain(Box::new(TcpStream::connect(addr)?));
    }
    if let Some(path) = uri.strip_prefix("unix:") {
        return plain(Box::new(UnixStream::connect(path)?));
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
        });
    }
    match fd {
        Some(fd) if uri.starts_with("fd:") => plain(Box::new(File::from(fd))),
        _ => Err(io::Error::other(format!(
            "cannot open migration URI '{uri}'"
        ))),
    }
}

fn stream(
    uri: &str,
    fd: Option<OwnedFd>,
    total_bytes: u64,
    rx: &Receiver<Order>,
) -> io::Result<()> {
    let mut channel = open(uri, fd)?;
    channel.writer.write_all(&STREAM_HEADER)?;
    let chunk = vec![0_u8; STREAM_CHUNK_BYTES];
    let mut left = total_bytes;
    while left > 0 {
        match rx.try_recv() {
            Ok(Order::Cancel) => return Ok(()),
            Ok(Order::Finish(snapshot)) => return finish(channel, left, &snapshot),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
        }
        let n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(STREAM_CHUNK_BYTES);
        channel.writer.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    match rx.recv() {
        Ok(Order::Finish(snapshot)) => finish(channel, 0, &snapshot),
        Ok(Order::Cancel) | Err(_) => Ok(()),
    }
}

fn finish(mut channel: Channel, left: u64, snapshot: &[u8]) -> io::Result<()> {
    let chunk = vec![0_u8; STREAM_CHUNK_BYTES];
    let mut left = left;
    while left > 0 {
        let n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(STREAM_CHUNK_BYTES);
        channel.writer.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    channel
        .writer
        .write_all(&(snapshot.len() as u64).to_be_bytes())?;
    channel.writer.write_all(snapshot)?;
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
        m.start(1, &format!("unix:{}", path.display()), None, 100_000, tx);
        let (mut conn, _) = listener.accept().unwrap();
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
    fn refused_destination_reports_failure() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = events();
        let mut m = Migrations::default();
        m.start(
            7,
            &format!("unix:{}", dir.path().join("none").display()),
            None,
            10,
            tx,
        );
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(matches!(got, Event::MigrationFailed { id: 7 }));
    }

    #[test]
    fn exec_destination_gets_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let (tx, rx) = events();
        let mut m = Migrations::default();
        m.start(2, &format!("exec:cat > {}", out.display()), None, 1000, tx);
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
}
