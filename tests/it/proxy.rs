//! proxy: `qmpsim proxy` with real processes and sockets: a qmpsim upstream (or
//! a small upstream written here, where qmpsim cannot show the case), clients
//! through the proxy, and the observed trace it writes: sessions forwarded
//! unchanged, several clients, descriptors passed both ways, an upstream that
//! dies, a client that dies, kill -9 of the proxy, the client limit at its
//! edge, `--help` and usage errors.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use qmpsim::engine::{Input, Output};
use qmpsim::proxy::relay::PROXY_CLIENTS_MAX;
use qmpsim::server::fds::{recv_with_fds, send_with_fds};
use qmpsim::trace::{Frame, TraceError, TraceHeader, TraceReader};

use crate::sockets::{connect_unix, pipe, unix_spec, Client, Qemu, GREETING};
use crate::support::{assert_contains, assert_refused, assert_usage_error, qmpsim};

/// A qmpsim VM (paused) on `dir/up.sock`, and the proxy in front of it on
/// `dir/p.sock`, recording to `dir/s.qmptrace`.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub upstream: Qemu,
    pub proxy: Qemu,
}

impl Rig {
    pub fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().join("up.sock");
        let spec = unix_spec(&up, ",nowait");
        let upstream = Qemu::spawn(&["-qmp", &spec, "-S"], false);
        drop(connect_unix(&up));
        let proxy = spawn_proxy(dir.path(), &format!("unix:{}", up.display()));
        Rig {
            dir,
            upstream,
            proxy,
        }
    }

    /// A rig whose one client negotiates, runs `command` and leaves, stopped:
    /// the rig and the reply.
    pub fn observe(command: &str) -> (Rig, String) {
        let mut rig = Rig::start();
        let mut c = negotiated(&rig.sock());
        let reply = c.execute(command);
        drop(c);
        rig.stop();
        (rig, reply)
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("p.sock")
    }

    pub fn trace(&self) -> PathBuf {
        self.dir.path().join("s.qmptrace")
    }

    /// Ends the recording (SIGTERM) and waits for the proxy.
    pub fn stop(&mut self) {
        terminate(&self.proxy);
        assert!(self.proxy.wait_exit().success());
    }
}

/// `qmpsim proxy --listen unix:DIR/p.sock --upstream UPSTREAM -record DIR/s.qmptrace`.
pub fn spawn_proxy(dir: &Path, upstream: &str) -> Qemu {
    let listen = format!("unix:{}", dir.join("p.sock").display());
    let trace = dir.join("s.qmptrace").display().to_string();
    Qemu::spawn(
        &[
            "proxy",
            "--listen",
            &listen,
            "--upstream",
            upstream,
            "-record",
            &trace,
        ],
        false,
    )
}

pub fn terminate(q: &Qemu) {
    // SAFETY: a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(q.pid(), libc::SIGTERM) }, 0);
}

/// Connects through the proxy, takes the greeting and negotiates.
pub fn negotiated(sock: &Path) -> Client<UnixStream> {
    let mut c = connect_unix(sock);
    assert_eq!(c.line(), GREETING);
    assert_eq!(c.execute("qmp_capabilities"), "{\"return\": {}}\r\n");
    c
}

/// Every frame of a trace that may have been cut (kill -9).
pub fn frames(path: &Path) -> (TraceHeader, Vec<Frame>) {
    let bytes = std::fs::read(path).unwrap();
    let (reader, header) = TraceReader::open(&bytes[..]).unwrap();
    let mut out = Vec::new();
    for frame in reader {
        match frame {
            Ok(f) => out.push(f),
            Err(TraceError::Truncated { .. }) => break,
            Err(e) => panic!("the trace is damaged: {e}"),
        }
    }
    (header, out)
}

/// Everything the trace shows sent to `client`.
pub fn sent_to(frames: &[Frame], client: u32) -> String {
    let mut text = String::new();
    for f in frames {
        if let Frame::Step { outputs, .. } = f {
            for o in outputs {
                if let Output::Send { client: c, data } = o {
                    if c.0 == client {
                        text.push_str(&String::from_utf8_lossy(data));
                    }
                }
            }
        }
    }
    text
}

/// Every byte the trace shows from `client`.
pub fn sent_by(frames: &[Frame], client: u32) -> String {
    let mut text = String::new();
    for f in frames {
        if let Frame::Step {
            input: Input::Bytes { client: c, data },
            ..
        } = f
        {
            if c.0 == client {
                text.push_str(&String::from_utf8_lossy(data));
            }
        }
    }
    text
}

/// How many frames hold an input like `wanted`.
fn count_inputs(frames: &[Frame], wanted: fn(&Input) -> bool) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f, Frame::Step { input, .. } if wanted(input)))
        .count()
}

#[test]
fn proxy_forwards_a_session_unchanged_and_records_both_sides() {
    let (rig, status) = Rig::observe("query-status");
    let (_, frames) = frames(&rig.trace());
    assert_eq!(
        (status.as_str(), sent_to(&frames, 1)),
        (
            "{\"return\": {\"singlestep\": false, \"running\": false}}\r\n",
            format!("{GREETING}{{\"return\": {{}}}}\r\n{status}")
        )
    );
}

#[test]
fn proxy_trace_is_observed_with_the_servers_greeting() {
    let mut rig = Rig::start();
    drop(negotiated(&rig.sock()));
    rig.stop();
    let (header, _) = frames(&rig.trace());
    let session = header.observed_session().expect("an observed trace");
    assert_eq!(session.greeting, GREETING.as_bytes());
}

#[test]
fn proxy_cuts_client_bytes_after_each_message() {
    let mut rig = Rig::start();
    let mut c = connect_unix(&rig.sock());
    c.line();
    c.send("{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":\"query-name\"}\r\n");
    c.line();
    c.line();
    drop(c);
    rig.stop();
    let (_, frames) = frames(&rig.trace());
    assert_eq!(
        count_inputs(&frames, |i| matches!(i, Input::Bytes { .. })),
        2
    );
}

#[test]
fn proxy_trace_dumps_and_infos_as_an_observed_session() {
    let (rig, _) = Rig::observe("query-name");
    let trace = rig.trace().display().to_string();
    let (code, info, _) = qmpsim(&["trace", "info", &trace]);
    assert_eq!(code, Some(0));
    assert_contains(&info, "kind:        observed");
}

#[test]
fn proxy_trace_exports_and_counts_coverage() {
    let (rig, _) = Rig::observe("stop");
    let trace = rig.trace().display().to_string();
    let (_, jsonl, _) = qmpsim(&["trace", "export", "--jsonl", &trace]);
    let (_, coverage, _) = qmpsim(&["trace", "coverage", &trace]);
    let stop = coverage
        .lines()
        .find(|l| l.trim_start().starts_with("stop "))
        .unwrap();
    assert_contains(&jsonl, "\"Connect\":{\"client\":1");
    assert_eq!(
        stop.split_whitespace().collect::<Vec<_>>(),
        ["stop", "1", "requested", "1", "ok", "0", "errors"]
    );
}

#[test]
fn proxy_gives_each_client_its_own_upstream_connection() {
    let mut rig = Rig::start();
    let mut first = negotiated(&rig.sock());
    // qmpsim's monitor serves one client at a time: the second client's
    // upstream connection waits in its backlog until the first leaves.
    let mut second = connect_unix(&rig.sock());
    first.execute("query-name");
    drop(first);
    assert_eq!(second.line(), GREETING);
    second.execute("qmp_capabilities");
    drop(second);
    rig.stop();
    let (_, frames) = frames(&rig.trace());
    assert_eq!(
        (
            sent_to(&frames, 2).starts_with(GREETING),
            sent_by(&frames, 2)
        ),
        (true, "{\"execute\":\"qmp_capabilities\"}".to_owned())
    );
}

#[test]
fn proxy_passes_a_clients_descriptor_to_getfd() {
    let mut rig = Rig::start();
    let c = negotiated(&rig.sock());
    let (_read_end, write_end) = pipe();
    let cmd = b"{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f\"}}";
    send_with_fds(c.stream().as_raw_fd(), cmd, &[write_end.as_raw_fd()]).unwrap();
    let mut c = c;
    assert_eq!(c.line(), "{\"return\": {}}\r\n");
    drop(c);
    rig.stop();
    let (_, frames) = frames(&rig.trace());
    assert_eq!(count_inputs(&frames, |i| matches!(i, Input::Fd { .. })), 1);
}

/// An upstream that greets each connection with a pipe's write end attached
/// (SCM_RIGHTS out), then echoes nothing. Returns the listener's thread.
fn fd_passing_upstream(path: &Path) -> std::thread::JoinHandle<OwnedFd> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let (read_end, write_end) = pipe();
        send_with_fds(
            stream.as_raw_fd(),
            GREETING.as_bytes(),
            &[write_end.as_raw_fd()],
        )
        .unwrap();
        drop(write_end);
        // Hold the connection until the client has read.
        let mut rest = Vec::new();
        let _ = (&stream).read_to_end(&mut rest);
        read_end
    })
}

#[test]
fn proxy_passes_a_servers_descriptor_to_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up.sock");
    let server = fd_passing_upstream(&up);
    let proxy = spawn_proxy(dir.path(), &format!("unix:{}", up.display()));
    let c = connect_unix(&dir.path().join("p.sock"));
    let mut buf = vec![0u8; GREETING.len()];
    let (n, fd) = recv_with_fds(c.stream().as_raw_fd(), &mut buf).unwrap();
    let mut passed = std::fs::File::from(fd.expect("a descriptor came with the greeting"));
    passed.write_all(b"through").unwrap();
    drop(passed);
    drop(c);
    let mut got = String::new();
    std::fs::File::from(server.join().unwrap())
        .read_to_string(&mut got)
        .unwrap();
    terminate(&proxy);
    assert_eq!((n > 0, got.as_str()), (true, "through"));
}

#[test]
fn proxy_when_the_upstream_dies_ends_the_client_and_keeps_the_trace() {
    let mut rig = Rig::start();
    let mut c = negotiated(&rig.sock());
    let status = c.execute("query-status");
    // SAFETY: a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(rig.upstream.pid(), libc::SIGKILL) }, 0);
    assert_eq!(c.line(), "", "the client sees the end of the stream");
    rig.stop();
    let (_, frames) = frames(&rig.trace());
    assert!(sent_to(&frames, 1).ends_with(&status));
    assert_eq!(
        count_inputs(&frames, |i| matches!(i, Input::Disconnect { .. })),
        1
    );
}

#[test]
fn proxy_with_no_upstream_listening_closes_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix:{}", dir.path().join("none.sock").display());
    let proxy = spawn_proxy(dir.path(), &missing);
    let mut c = connect_unix(&dir.path().join("p.sock"));
    let line = c.line();
    let message = proxy.stderr.next();
    let message = if message.contains("listening on") {
        proxy.stderr.next()
    } else {
        message
    };
    terminate(&proxy);
    assert_eq!(
        (line.as_str(), message.trim_end()),
        (
            "",
            format!("qmpsim proxy: upstream {missing}: No such file or directory").as_str()
        )
    );
}

#[test]
fn proxy_after_a_client_dies_serves_the_next_one() {
    let mut rig = Rig::start();
    let c = negotiated(&rig.sock());
    // The client sends a request and is gone before its reply.
    let mut stream = c.into_stream();
    stream.write_all(b"{\"execute\":\"query-status\"}").unwrap();
    drop(stream);
    let mut next = connect_unix(&rig.sock());
    assert_eq!(next.line(), GREETING);
    drop(next);
    rig.stop();
    let (_, frames) = frames(&rig.trace());
    assert_eq!(sent_by(&frames, 1).matches("query-status").count(), 1);
}

#[test]
fn proxy_killed_with_sigkill_keeps_everything_its_clients_saw() {
    let rig = Rig::start();
    let mut c = negotiated(&rig.sock());
    let mut seen = format!("{GREETING}{{\"return\": {{}}}}\r\n");
    seen.push_str(&c.execute("query-status"));
    seen.push_str(&c.execute("query-name"));
    // SAFETY: a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(rig.proxy.pid(), libc::SIGKILL) }, 0);
    assert_eq!(c.line(), "");
    let (_, frames) = frames(&rig.trace());
    assert_eq!(sent_to(&frames, 1), seen);
}

/// An upstream that greets every connection at once and keeps it open.
fn greeting_upstream(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.write_all(GREETING.as_bytes());
            held.push(stream);
        }
    });
}

/// `PROXY_CLIENTS_MAX + extra` clients through the proxy at once: what the
/// last one reads first.
fn last_client_reads(extra: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up.sock");
    greeting_upstream(&up);
    let proxy = spawn_proxy(dir.path(), &format!("unix:{}", up.display()));
    let mut clients: Vec<Client<UnixStream>> = (0..PROXY_CLIENTS_MAX - 1 + extra)
        .map(|_| connect_unix(&dir.path().join("p.sock")))
        .collect();
    for c in &mut clients {
        assert_eq!(c.line(), GREETING);
    }
    let mut last = connect_unix(&dir.path().join("p.sock"));
    let line = last.line();
    terminate(&proxy);
    line
}

#[test]
fn proxy_at_its_client_limit_serves_the_last_client() {
    assert_eq!(last_client_reads(0), GREETING);
}

#[test]
fn proxy_past_its_client_limit_closes_the_new_client() {
    assert_eq!(last_client_reads(1), "");
}

#[test]
fn proxy_help_exits_zero_and_names_the_options() {
    let (code, out, _) = qmpsim(&["proxy", "--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("--listen <ADDR>")
            && out.contains("--upstream <ADDR>")
            && out.contains("--record"),
        "{out}"
    );
}

#[test]
fn proxy_without_a_server_is_a_usage_error() {
    assert_usage_error(
        &[
            "proxy",
            "--listen",
            "unix:/tmp/x.sock",
            "-record",
            "t.qmptrace",
        ],
        "--upstream <ADDR>",
    );
}

#[test]
fn proxy_with_a_bad_address_is_a_usage_error() {
    assert_usage_error(
        &[
            "proxy",
            "--listen",
            "/tmp/x.sock",
            "--upstream",
            "unix:/u",
            "-record",
            "t",
        ],
        "expected unix:PATH or tcp:HOST:PORT",
    );
}

#[test]
fn proxy_recording_into_a_missing_folder_is_refused() {
    assert_refused(
        &[
            "proxy",
            "--listen",
            "unix:/tmp/never.sock",
            "--upstream",
            "unix:/u",
            "-record",
            "/nonexistent/dir/t.qmptrace",
        ],
        "qmpsim: -record /nonexistent/dir/t.qmptrace: No such file or directory",
    );
}

#[test]
fn proxy_spawns_its_server_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("unix:{}", dir.path().join("p.sock").display());
    let trace = dir.path().join("s.qmptrace");
    let trace_arg = trace.display().to_string();
    let mut proxy = Qemu::spawn(
        &[
            "proxy",
            "--listen",
            &listen,
            "-record",
            &trace_arg,
            "--",
            env!("CARGO_BIN_EXE_qmpsim"),
            "-qmp",
            "unix:{sock},server",
            "-S",
        ],
        false,
    );
    let mut c = negotiated(&dir.path().join("p.sock"));
    c.send("{\"execute\":\"quit\"}");
    assert_eq!(c.line(), "{\"return\": {}}\r\n");
    assert!(c.line().contains("\"SHUTDOWN\""));
    assert_eq!(c.line(), "");
    drop(c);
    assert!(proxy.wait_exit().success());
    let (_, frames) = frames(&trace);
    assert!(sent_by(&frames, 1).ends_with("{\"execute\":\"quit\"}"));
}
