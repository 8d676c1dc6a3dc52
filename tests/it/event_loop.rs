//! event_loop: the one-thread server under load, through the real binary. A
//! pipelining client that stops reading for a while gets every answer, in
//! order, while another client is served meanwhile (backpressure, not drops);
//! many clients connecting and leaving at once are all served, one at a time
//! per monitor, and the VM still answers afterwards.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::sockets::{connect_unix, unix_spec, Qemu, GREETING, IO_TIMEOUT};

/// Requests the pipelining client sends: their replies (about 80 bytes each)
/// are well past the server's full mark (`OUTPUT_QUEUE_BYTES_MAX`, 4 MiB) plus
/// what the socket buffers, so the server must stop reading it for a while.
const PIPELINED_REQUESTS: usize = 100_000;
/// How long the pipelining client leaves its answers unread.
const READ_PAUSE: Duration = Duration::from_secs(1);
/// Clients that connect at once in the many-clients test.
const CONCURRENT_CLIENTS: usize = 40;

/// `qmpsim` with `-S` and one unix monitor per path.
fn spawn_monitors(paths: &[&Path]) -> Qemu {
    let specs: Vec<String> = paths.iter().map(|p| unix_spec(p, ",nowait")).collect();
    let mut args = vec!["-S"];
    for spec in &specs {
        args.extend(["-qmp", spec.as_str()]);
    }
    Qemu::spawn(&args, false)
}

#[test]
fn paused_pipelining_client_gets_every_answer_in_order_while_another_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (slow_path, other_path) = (dir.path().join("slow.sock"), dir.path().join("other.sock"));
    let mut qemu = spawn_monitors(&[&slow_path, &other_path]);
    let mut slow = connect_unix(&slow_path);
    assert_eq!(slow.line(), GREETING);
    assert_eq!(slow.execute("qmp_capabilities"), "{\"return\": {}}\r\n");
    let sender = slow.pipeline_query_status(PIPELINED_REQUESTS);
    thread::sleep(READ_PAUSE);
    let mut other = connect_unix(&other_path);
    let other_greeting = other.line();
    let other_reply = other.execute("qmp_capabilities");
    let in_order = slow.replies_in_order(PIPELINED_REQUESTS);
    sender.join().unwrap();
    other.send("{\"execute\":\"quit\"}");
    qemu.wait_exit();
    assert_eq!(
        (other_greeting.as_str(), other_reply.as_str(), in_order),
        (GREETING, "{\"return\": {}}\r\n", PIPELINED_REQUESTS)
    );
    assert_eq!(qemu.stderr.next_or_end(), None, "the server complained");
}

/// Connects, reads the greeting, negotiates and asks the status; returns the
/// status line (the stream reads with a timeout, so a client that is never
/// served fails the test).
fn short_session(path: &Path) -> String {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    (&stream)
        .write_all(b"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-status\"}")
        .unwrap();
    let mut lines = [String::new(), String::new()];
    for line in &mut lines {
        reader.read_line(line).unwrap();
    }
    lines[1].clone()
}

/// Connects and leaves at once, without reading anything.
fn hit_and_run(path: &Path) {
    let stream = UnixStream::connect(path).unwrap();
    (&stream).write_all(b"{\"execute\":\"qmp_capa").unwrap();
    drop(stream);
}

#[test]
fn many_clients_connecting_and_leaving_at_once_are_all_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sock");
    let _qemu = spawn_monitors(&[&path]);
    drop(connect_unix(&path));
    let workers: Vec<_> = (0..CONCURRENT_CLIENTS)
        .map(|i| {
            let path = path.clone();
            thread::spawn(move || {
                if i % 2 == 0 {
                    hit_and_run(&path);
                    None
                } else {
                    Some(short_session(&path))
                }
            })
        })
        .collect();
    let served: Vec<String> = workers
        .into_iter()
        .filter_map(|w| w.join().unwrap())
        .collect();
    let after = short_session(&path);
    let expected = "{\"return\": {\"singlestep\": false, \"running\": false}}\r\n";
    assert_eq!(served, vec![expected.to_owned(); CONCURRENT_CLIENTS / 2]);
    assert_eq!(after, expected);
}
