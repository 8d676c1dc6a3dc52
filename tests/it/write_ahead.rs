//! write_ahead: `-record` through the real binary. A recorder killed with SIGKILL
//! leaves every step whose output a client saw, and its trace replays up to the
//! cut; a path that cannot be recorded to is refused before any monitor opens;
//! two recorders never share a file; a full disk makes the exit status non-zero;
//! a 16 MiB `pmemsave` records and replays.

use crate::support::{assert_contains, assert_replays, qmpsim};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use qmpsim::engine::Output;
use qmpsim::trace::{Frame, TraceError, TraceReader};

use std::os::unix::net::UnixStream;

use crate::sockets::{connect_unix, spawn_recorder, unix_spec, Client, Qemu, GREETING};

/// `-qmp` on `dir/q.sock` and `-record` to `trace`, plus `extra`.
fn recorder_in(dir: &Path, trace: &Path, extra: &[&str]) -> (Qemu, PathBuf) {
    let sock = dir.join("q.sock");
    (spawn_recorder(&sock, trace, extra), sock)
}

/// A recorder in a fresh directory, recording to `DIR/NAME`, and a client on
/// its monitor past negotiation.
fn negotiated_recorder(name: &str) -> (tempfile::TempDir, PathBuf, Qemu, Client<UnixStream>) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join(name);
    let (qemu, sock) = recorder_in(dir.path(), &trace, &[]);
    let mut client = connect_unix(&sock);
    client.line();
    client.execute("qmp_capabilities");
    (dir, trace, qemu, client)
}

/// Starts a recorder to `trace` whose monitor cannot bind (its folder does
/// not exist): the exit status.
fn start_with_unbindable_monitor(dir: &Path, trace: &Path) -> Option<i32> {
    let trace_arg = trace.display().to_string();
    let bad_sock = format!("unix:{}/no/q.sock,server,nowait", dir.display());
    let mut qemu = Qemu::spawn(&["-qmp", &bad_sock, "-record", &trace_arg], false);
    qemu.wait_exit().code()
}

/// [`spawn_recorder`] for a recorder that must refuse to start: exit status 1
/// (checked), then its stderr line and its socket's path.
fn refused_recorder(dir: &Path, trace: &Path) -> (String, PathBuf) {
    let (mut qemu, sock) = recorder_in(dir, trace, &[]);
    assert_eq!(qemu.wait_exit().code(), Some(1));
    (qemu.stderr.next(), sock)
}

/// Every byte the trace's complete frames show sent to each client, and whether
/// the trace ended with its End frame.
fn sent_per_client(trace: &Path) -> (BTreeMap<u32, String>, bool) {
    let bytes = std::fs::read(trace).unwrap();
    let (reader, _) = TraceReader::open(&bytes[..]).unwrap();
    let mut sent: BTreeMap<u32, String> = BTreeMap::new();
    let mut complete = false;
    for frame in reader {
        match frame {
            Ok(Frame::Step { outputs, .. }) => {
                for o in outputs {
                    if let Output::Send { client, data } = o {
                        sent.entry(client.0)
                            .or_default()
                            .push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
            Ok(Frame::End { .. }) => complete = true,
            Ok(Frame::Checkpoint { .. } | Frame::State { .. }) => {}
            Err(TraceError::Truncated { .. }) => break,
            Err(e) => panic!("the trace is damaged, not cut: {e}"),
        }
    }
    (sent, complete)
}

fn replay(args: &[&str]) -> (Option<i32>, String, String) {
    qmpsim(&[&["replay"], args].concat())
}

#[test]
fn write_ahead_sigkill_keeps_every_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("killed.qmptrace");
    let sock2 = dir.path().join("q2.sock");
    let spec2 = unix_spec(&sock2, ",nowait");
    let (qemu, sock) = recorder_in(dir.path(), &trace, &["-qmp", &spec2]);
    let mut a = connect_unix(&sock);
    assert_eq!(a.line(), GREETING);
    let mut b = connect_unix(&sock2);
    assert_eq!(b.line(), GREETING);
    let mut seen: BTreeMap<u32, String> = BTreeMap::new();
    seen.insert(1, GREETING.to_owned());
    seen.insert(2, GREETING.to_owned());
    for (id, client) in [(1, &mut a), (2, &mut b)] {
        let reply = client.execute("qmp_capabilities");
        seen.get_mut(&id).unwrap().push_str(&reply);
    }
    for i in 0..40 {
        let (id, client) = if i % 2 == 0 { (1, &mut a) } else { (2, &mut b) };
        let cmd = ["query-status", "query-name", "query-kvm", "query-version"][i % 4];
        let reply = client.execute(cmd);
        assert!(reply.starts_with("{\"return\""), "{reply}");
        seen.get_mut(&id).unwrap().push_str(&reply);
    }
    // SIGKILL with both clients connected: no chance to flush or finish.
    // SAFETY: kill(2) on the child's pid.
    assert_eq!(unsafe { libc::kill(qemu.pid(), libc::SIGKILL) }, 0);
    drop(qemu);
    let (sent, complete) = sent_per_client(&trace);
    assert!(
        !complete,
        "a killed recorder cannot have written its End frame"
    );
    for (id, got) in &seen {
        let recorded = sent.get(id).map_or("", String::as_str);
        assert!(
            recorded.starts_with(got.as_str()),
            "client {id} saw bytes the trace does not hold:\nseen:\n{got}\nrecorded:\n{recorded}"
        );
    }
}

#[test]
fn write_ahead_killed_trace_replays_as_truncated_with_its_own_status() {
    let (_dir, trace, qemu, mut a) = negotiated_recorder("killed.qmptrace");
    a.execute("stop");
    // SAFETY: kill(2) on the child's pid.
    assert_eq!(unsafe { libc::kill(qemu.pid(), libc::SIGKILL) }, 0);
    drop(qemu);
    let path = trace.display().to_string();
    let (code, out, _) = replay(&[&path]);
    // connect, capabilities, stop: three steps, all committed before their replies.
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "FAIL {path}: truncated after frame 2 (3 steps verified); the file ends at byte"
        )),
        "{out}"
    );
    let (code, out, _) = replay(&["--allow-truncated", &path]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
    // `trace dump` prints everything up to the cut, then says where it is.
    let (code, out, err) = qmpsim(&["trace", "dump", &path]);
    assert_eq!(code, Some(1));
    assert_contains(&out, "-> {\"execute\":\"stop\"}");
    assert_contains(
        &err,
        "truncated after frame 2 (3 steps complete): the file ends at byte",
    );
}

#[test]
fn write_ahead_sigterm_finishes_the_trace() {
    let (_dir, trace, mut qemu, _a) = negotiated_recorder("term.qmptrace");
    // SAFETY: kill(2) on the child's pid.
    assert_eq!(unsafe { libc::kill(qemu.pid(), libc::SIGTERM) }, 0);
    qemu.wait_exit();
    assert_replays(&trace);
}

#[test]
fn record_into_a_missing_folder_is_refused_before_any_monitor_opens() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("missing/t.qmptrace");
    let (refusal, sock) = refused_recorder(dir.path(), &trace);
    assert_eq!(
        refusal,
        format!(
            "qmpsim: -record {}: No such file or directory\n",
            trace.display()
        )
    );
    assert!(!sock.exists(), "the monitor opened before the refusal");
}

#[test]
fn record_into_a_directory_is_refused_with_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let (refusal, _) = refused_recorder(dir.path(), dir.path());
    assert_eq!(
        refusal,
        format!("qmpsim: -record {}: Is a directory\n", dir.path().display())
    );
}

#[test]
fn record_second_recorder_of_one_file_is_refused_and_the_first_goes_on() {
    let (_dir, trace, mut first, mut a) = negotiated_recorder("t.qmptrace");
    let other = tempfile::tempdir().unwrap();
    let (refusal, _) = refused_recorder(other.path(), &trace);
    assert_eq!(
        refusal,
        format!(
            "qmpsim: -record {}: another process is recording to this file\n",
            trace.display()
        )
    );
    a.execute("quit");
    assert_eq!(first.wait_exit().code(), Some(0));
    assert_replays(&trace);
}

#[test]
fn record_failed_start_leaves_the_previous_trace_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.qmptrace");
    std::fs::write(&trace, b"the previous good trace").unwrap();
    assert_eq!(start_with_unbindable_monitor(dir.path(), &trace), Some(1));
    assert_eq!(std::fs::read(&trace).unwrap(), b"the previous good trace");
}

#[test]
fn record_failed_start_removes_the_file_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.qmptrace");
    assert_eq!(start_with_unbindable_monitor(dir.path(), &trace), Some(1));
    assert!(!trace.exists());
}

#[test]
fn record_onto_a_full_disk_reports_it_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut qemu, sock) = recorder_in(dir.path(), Path::new("/dev/full"), &[]);
    let mut a = connect_unix(&sock);
    assert_eq!(a.line(), GREETING);
    a.execute("qmp_capabilities");
    a.execute("quit");
    assert_eq!(qemu.wait_exit().code(), Some(1));
    assert_eq!(
        qemu.stderr.next(),
        "qmpsim: -record /dev/full: No space left on device; the recording stopped\n"
    );
}

#[test]
fn record_of_a_16_mib_pmemsave_replays() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("big.qmptrace");
    let (mut qemu, sock) = recorder_in(dir.path(), &trace, &["-m", "64"]);
    let mut a = connect_unix(&sock);
    // Writing 16 MiB to the dump and again to the trace (and hashing it) takes
    // as long as the machine's load makes it: the reply is awaited without a
    // timeout. It cannot hang: it comes, or the server dies and the socket
    // reads end of stream.
    a.stream().set_read_timeout(None).unwrap();
    a.line();
    a.execute("qmp_capabilities");
    let dump = dir.path().join("mem.bin");
    a.send(&format!(
        "{{\"execute\":\"pmemsave\",\"arguments\":{{\"val\":0,\"size\":16777216,\"filename\":\"{}\"}}}}",
        dump.display()
    ));
    assert_eq!(a.line(), "{\"return\": {}}\r\n");
    a.execute("quit");
    assert_eq!(qemu.wait_exit_unbounded().code(), Some(0));
    assert_eq!(std::fs::metadata(&dump).unwrap().len(), 16 * 1024 * 1024);
    assert!(std::fs::metadata(&trace).unwrap().len() > 16 * 1024 * 1024);
    assert_replays(&trace);
}
