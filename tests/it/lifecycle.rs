//! The VM lifecycle as a management stack walks it: start with -S, query
//! everything, hotplug a disk and a NIC and unplug them, change and eject a CD,
//! balloon, set passwords, pass a descriptor and migrate through it, then cont,
//! stop, reset and power down until the guest shuts down.
//!
//! The same script runs in process (recorded to `traces/lifecycle.qmptrace`, which
//! must equal a fresh recording and replay byte-exact) and against the real binary
//! over a unix socket with a real SCM_RIGHTS descriptor, whose client must receive
//! exactly the engine's bytes. `-x-clock manual` plus `x-clock-step` make the
//! guest's reactions land at the same virtual times however slowly the client runs.
//!
//! After an intended behaviour change, regenerate and review the dump:
//! `cargo test --test it lifecycle::regenerate_lifecycle_trace -- --ignored`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::{ImageInfo, ImageProbe, MachineConfig};
use qmpsim::qmp::session::{ClientId, FdHandle};
use qmpsim::server::fds::send_with_fds;
use qmpsim::trace::{record_inputs, TraceHeader};

use crate::sockets::{connect_unix, Qemu};

/// The command line (run with the current directory set to a scratch folder).
const ARGS: &[&str] = &[
    "-qmp",
    "unix:qmp.sock,server,nowait",
    "-S",
    "-name",
    "lifecycle",
    "-uuid",
    "6f1c1b5e-3c2a-4a0e-9d55-0123456789ab",
    "-m",
    "64",
    "-smp",
    "2",
    "-drive",
    "file=disk0.img,if=ide,x-virtual=on,x-size=10G",
    "-drive",
    "if=none,id=hot0,file=hot0.img,x-virtual=on,x-size=1G",
    "-vnc",
    ":1",
    "-spice",
    "port=5930,disable-ticketing",
    "-balloon",
    "virtio",
    "-x-extensions",
    "-x-clock",
    "manual",
];

/// The CD image the script changes to: its name and size.
const CD_FILE: &str = "debian.iso";
const CD_BYTES: u64 = 1 << 20;

/// One client step.
enum Step {
    /// Send a request.
    Send(&'static str),
    /// Send a request with a descriptor attached (SCM_RIGHTS).
    SendWithFd(&'static str),
}

use Step::{Send, SendWithFd};

const SCRIPT: &[Step] = &[
    Send(r#"{"execute":"qmp_capabilities"}"#),
    // Query everything.
    Send(r#"{"execute":"query-version","id":"q1"}"#),
    Send(r#"{"execute":"query-status","id":"q2"}"#),
    Send(r#"{"execute":"query-name","id":"q3"}"#),
    Send(r#"{"execute":"query-uuid","id":"q4"}"#),
    Send(r#"{"execute":"query-kvm","id":"q5"}"#),
    Send(r#"{"execute":"query-chardev","id":"q6"}"#),
    Send(r#"{"execute":"query-block","id":"q7"}"#),
    Send(r#"{"execute":"query-blockstats","id":"q8"}"#),
    Send(r#"{"execute":"query-cpus","id":"q9"}"#),
    Send(r#"{"execute":"query-pci","id":"q10"}"#),
    Send(r#"{"execute":"query-mice","id":"q11"}"#),
    Send(r#"{"execute":"query-vnc","id":"q12"}"#),
    Send(r#"{"execute":"query-spice","id":"q13"}"#),
    Send(r#"{"execute":"query-migrate","id":"q14"}"#),
    Send(r#"{"execute":"query-balloon","id":"q15"}"#),
    // Hotplug a disk and a NIC, then unplug them.
    Send(
        r#"{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","drive":"hot0","id":"disk1"},"id":"h1"}"#,
    ),
    Send(r#"{"execute":"netdev_add","arguments":{"type":"user","id":"net1"},"id":"h2"}"#),
    Send(
        r#"{"execute":"device_add","arguments":{"driver":"e1000","netdev":"net1","id":"nic1","mac":"52:54:00:12:34:99"},"id":"h3"}"#,
    ),
    Send(r#"{"execute":"query-pci","id":"h4"}"#),
    Send(r#"{"execute":"device_del","arguments":{"id":"disk1"},"id":"h5"}"#),
    Send(r#"{"execute":"device_del","arguments":{"id":"nic1"},"id":"h6"}"#),
    // Change and eject a CD.
    Send(
        r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"debian.iso"},"id":"c1"}"#,
    ),
    Send(r#"{"execute":"query-block","id":"c2"}"#),
    Send(r#"{"execute":"eject","arguments":{"device":"ide1-cd0"},"id":"c3"}"#),
    Send(r#"{"execute":"eject","arguments":{"device":"ide0-hd0"},"id":"c4"}"#),
    // Balloon.
    Send(r#"{"execute":"balloon","arguments":{"value":50331648},"id":"b1"}"#),
    Send(r#"{"execute":"query-balloon","id":"b2"}"#),
    // Passwords.
    Send(
        r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"secret"},"id":"p1"}"#,
    ),
    Send(r#"{"execute":"expire_password","arguments":{"protocol":"vnc","time":"+60"},"id":"p2"}"#),
    Send(
        r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"s3cret","connected":"keep"},"id":"p3"}"#,
    ),
    Send(
        r#"{"execute":"change","arguments":{"device":"vnc","target":"password","arg":"12345678901"},"id":"p4"}"#,
    ),
    Send(r#"{"execute":"query-vnc","id":"p5"}"#),
    // Pass a descriptor and migrate through it.
    SendWithFd(r#"{"execute":"getfd","arguments":{"fdname":"migfd"},"id":"f1"}"#),
    Send(r#"{"execute":"migrate_set_speed","arguments":{"value":134217728},"id":"f2"}"#),
    Send(r#"{"execute":"migrate","arguments":{"uri":"fd:migfd"},"id":"f3"}"#),
    Send(r#"{"execute":"query-migrate","id":"f4"}"#),
    Send(r#"{"execute":"x-clock-step","arguments":{"ns":2000000000},"id":"f5"}"#),
    Send(r#"{"execute":"query-migrate","id":"f6"}"#),
    // cont, stop, reset, powerdown.
    Send(r#"{"execute":"cont","id":"r1"}"#),
    Send(r#"{"execute":"x-clock-step","arguments":{"ns":1000000000},"id":"r2"}"#),
    Send(r#"{"execute":"query-pci","id":"r3"}"#),
    Send(r#"{"execute":"query-balloon","id":"r4"}"#),
    Send(r#"{"execute":"query-status","id":"r5"}"#),
    Send(r#"{"execute":"stop","id":"r6"}"#),
    Send(r#"{"execute":"cont","id":"r7"}"#),
    Send(r#"{"execute":"system_reset","id":"r8"}"#),
    Send(r#"{"execute":"query-cpus","id":"r9"}"#),
    Send(r#"{"execute":"system_powerdown","id":"r10"}"#),
    Send(r#"{"execute":"x-clock-step","id":"r11"}"#),
];

/// The configuration the binary builds from [`ARGS`].
fn config() -> MachineConfig {
    let low = qmpsim::cli::raw::parse(ARGS.iter().copied()).expect("the lifecycle options parse");
    qmpsim::cli::config::build(&low)
        .expect("virtual drives need no files")
        .config
}

fn cd_probe() -> ImageProbe {
    ImageProbe::Found(ImageInfo {
        format: "raw".to_owned(),
        size_bytes: CD_BYTES,
        backing_file: None,
        encrypted: false,
    })
}

/// The inputs the server feeds for [`SCRIPT`]: the CD probe before the request that
/// names it, the descriptor before the bytes it came with.
fn inputs() -> Vec<Input> {
    let client = ClientId(1);
    let mut out = vec![Input::connect(client)];
    for step in SCRIPT {
        let (line, with_fd) = match step {
            Send(l) => (*l, false),
            SendWithFd(l) => (*l, true),
        };
        if line.contains(CD_FILE) {
            out.push(Input::ImageProbed {
                path: CD_FILE.to_owned(),
                probe: cd_probe(),
            });
        }
        if with_fd {
            out.push(Input::Fd {
                client,
                fd: FdHandle(1),
            });
        }
        out.push(Input::Bytes {
            client,
            data: format!("{line}\n").into_bytes(),
        });
    }
    out
}

/// Every byte the engine sends for the script, and whether it exited.
fn engine_run() -> (String, Option<i32>) {
    let mut e = Engine::new(config());
    let mut text = String::new();
    for input in inputs() {
        for o in e.step(input) {
            if let Output::Send { data, .. } = o {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
    (text, e.exited())
}

fn trace_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/lifecycle.qmptrace")
}

fn record() -> Vec<u8> {
    let header = TraceHeader::new(config()).with_notes("The VM lifecycle: tests/it/lifecycle.rs");
    record_inputs(&header, &inputs()).expect("the lifecycle records")
}

#[test]
fn lifecycle_walks_to_shutdown_and_exit() {
    let (text, exited) = engine_run();
    // x-clock-step's events (the guest's SHUTDOWN) precede its return.
    let last_lines: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(exited, Some(0));
    assert!(last_lines[0].contains(r#""id": "r11""#), "{text}");
    assert!(last_lines[1].contains(r#""event": "SHUTDOWN""#), "{text}");
}

#[test]
fn lifecycle_has_no_errors() {
    let (text, _) = engine_run();
    let expected_errors: Vec<&str> = text.lines().filter(|l| l.contains("\"error\"")).collect();
    // Only the deliberate one: ejecting the hard disk.
    assert_eq!(expected_errors.len(), 1, "{expected_errors:?}");
    assert!(expected_errors[0].contains("DeviceNotRemovable"), "{text}");
}

#[test]
fn lifecycle_committed_trace_equals_fresh_recording() {
    let committed = std::fs::read(trace_path()).expect("traces/lifecycle.qmptrace is committed");
    assert!(
        committed == record(),
        "traces/lifecycle.qmptrace is stale: regenerate with `cargo test --test it \
         lifecycle::regenerate_lifecycle_trace -- --ignored` and review `qmpsim trace dump`"
    );
}

#[test]
fn lifecycle_trace_replays() {
    let report = qmpsim::replay::replay_file(&trace_path()).expect("the lifecycle trace replays");
    assert!(report.steps > 50, "{report:?}");
}

#[test]
#[ignore = "writes traces/lifecycle.qmptrace"]
fn regenerate_lifecycle_trace() {
    std::fs::write(trace_path(), record()).unwrap();
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fresh descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn lifecycle_over_real_socket_matches_engine_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CD_FILE),
        vec![0_u8; usize::try_from(CD_BYTES).unwrap()],
    )
    .unwrap();
    let trace = dir.path().join("run.qmptrace");
    let mut args: Vec<String> = ARGS.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["-record".to_owned(), trace.display().to_string()]);
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut qemu = Qemu::spawn_in(dir.path(), &arg_refs);
    let client = connect_unix(&dir.path().join("qmp.sock"));
    let stream: &UnixStream = client.stream();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream.try_clone().unwrap();
    // The migration stream goes through a pipe; a thread drains it.
    let (read_end, write_end) = pipe();
    let drain = std::thread::spawn(move || {
        let mut f = std::fs::File::from(read_end);
        let mut sink = Vec::new();
        f.read_to_end(&mut sink).map(|_| sink.len())
    });
    let mut got = String::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    got.push_str(&line);
    for step in SCRIPT {
        match step {
            Send(l) => writer.write_all(format!("{l}\n").as_bytes()).unwrap(),
            SendWithFd(l) => {
                send_with_fds(
                    writer.as_raw_fd(),
                    format!("{l}\n").as_bytes(),
                    &[write_end.as_raw_fd()],
                )
                .unwrap();
            }
        }
        loop {
            line.clear();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "connection closed early:\n{got}"
            );
            got.push_str(&line);
            if !line.starts_with("{\"timestamp\"") {
                break;
            }
        }
    }
    drop(write_end);
    // The last step's SHUTDOWN, then the end of the stream.
    line.clear();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        got.push_str(&line);
        line.clear();
    }
    assert_eq!(qemu.wait_exit().code(), Some(0));
    let (expected, _) = engine_run();
    assert_eq!(got, expected);
    let streamed = drain.join().unwrap().unwrap();
    assert!(
        streamed > 64 << 20,
        "migration stream too short: {streamed} bytes"
    );
    let replay = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .arg("replay")
        .arg(&trace)
        .output()
        .unwrap();
    let replay_text = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(0), "{replay_text}");
}
