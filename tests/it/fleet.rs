//! fleet: `qmpsim fleet` through the real binary. A fleet of 100 VMs answers a
//! real client on every socket with the name and uuid its manifest gives; a slow
//! reader on one VM does not hold up the others; a session against one VM of a
//! fleet records the same trace as the same session against the single
//! `qmpsim run` that the manifest gives for it; a count past the open-file
//! limit is refused with a message that says so.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::sockets::{connect_unix, Qemu, GREETING, IO_TIMEOUT};

/// VMs in the big fleet test.
const FLEET_VMS: usize = 100;
/// Requests the slow reader pipelines: their replies are past what its VM
/// holds for it before it stops reading (4 MiB), plus the socket buffers.
const SLOW_REQUESTS: usize = 80_000;
/// How long the slow reader leaves its answers unread.
const SLOW_PAUSE: Duration = Duration::from_millis(500);

/// A started fleet and its manifest.
struct Fleet {
    qemu: Qemu,
    vms: Vec<serde_json::Value>,
}

/// Starts `qmpsim fleet --count N --dir DIR/socks --manifest DIR/m.json` with
/// `extra` flags, waits for its ready line, reads its manifest.
fn start_fleet(dir: &Path, count: usize, extra: &[&str]) -> Fleet {
    let socks = dir.join("socks");
    let manifest = dir.join("m.json");
    let (count_s, socks_s, manifest_s) = (
        count.to_string(),
        socks.display().to_string(),
        manifest.display().to_string(),
    );
    let mut args = vec![
        "fleet",
        "--count",
        &count_s,
        "--dir",
        &socks_s,
        "--manifest",
        &manifest_s,
    ];
    args.extend_from_slice(extra);
    let qemu = Qemu::spawn(&args, true);
    let ready = qemu.stdout.as_ref().expect("stdout is piped").next();
    let vms_word = if count == 1 { "VM" } else { "VMs" };
    assert_eq!(
        ready,
        format!("qmpsim: fleet ready: {count} {vms_word} listening in {socks_s}\n")
    );
    let text = std::fs::read_to_string(&manifest).unwrap();
    let vms: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    Fleet { qemu, vms }
}

fn field<'a>(vm: &'a serde_json::Value, key: &str) -> &'a str {
    vm[key].as_str().expect("a string field")
}

/// Greeting, capabilities, then `query-name` and `query-uuid`: the two replies.
fn name_and_uuid(socket: &Path) -> (String, String) {
    let mut c = connect_unix(socket);
    assert_eq!(c.line(), GREETING);
    assert_eq!(c.execute("qmp_capabilities"), "{\"return\": {}}\r\n");
    (c.execute("query-name"), c.execute("query-uuid"))
}

#[test]
fn fleet_of_100_vms_answers_on_every_socket_with_its_manifest_name_and_uuid() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = start_fleet(dir.path(), FLEET_VMS, &["-S"]);
    let got: Vec<(String, String)> = fleet
        .vms
        .iter()
        .map(|vm| name_and_uuid(Path::new(field(vm, "socket"))))
        .collect();
    let expected: Vec<(String, String)> = fleet
        .vms
        .iter()
        .map(|vm| {
            (
                format!(
                    "{{\"return\": {{\"name\": \"{}\"}}}}\r\n",
                    field(vm, "name")
                ),
                format!(
                    "{{\"return\": {{\"UUID\": \"{}\"}}}}\r\n",
                    field(vm, "uuid")
                ),
            )
        })
        .collect();
    assert_eq!(fleet.vms.len(), FLEET_VMS);
    assert_eq!(got, expected);
    drop(fleet.qemu);
}

#[test]
fn slow_reader_beside_fast_ones_in_a_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = start_fleet(dir.path(), 10, &["-S"]);
    let slow_socket = PathBuf::from(field(&fleet.vms[0], "socket"));
    let mut slow = connect_unix(&slow_socket);
    assert_eq!(slow.line(), GREETING);
    slow.execute("qmp_capabilities");
    let sender = slow.pipeline_query_status(SLOW_REQUESTS);
    thread::sleep(SLOW_PAUSE);
    let fast: Vec<(String, String)> = fleet.vms[1..]
        .iter()
        .map(|vm| name_and_uuid(Path::new(field(vm, "socket"))))
        .collect();
    let in_order = slow.replies_in_order(SLOW_REQUESTS);
    sender.join().unwrap();
    assert_eq!((fast.len(), in_order), (9, SLOW_REQUESTS));
    assert!(fast
        .iter()
        .zip(&fleet.vms[1..])
        .all(|((name, _), vm)| name.contains(field(vm, "name"))));
}

/// The scripted session: every reply depends only on the VM.
const SCRIPT: &[&str] = &[
    "{\"execute\":\"qmp_capabilities\"}",
    "{\"execute\":\"query-name\"}",
    "{\"execute\":\"query-uuid\"}",
    "{\"execute\":\"query-status\"}",
    "{\"execute\":\"cont\"}",
    "{\"execute\":\"query-status\"}",
    "{\"execute\":\"quit\"}",
];

/// Runs [`SCRIPT`] on `socket`, one request at a time; returns every byte read
/// up to the end of the stream.
fn scripted_session(socket: &Path) -> String {
    let stream = connect_unix(socket).stream().try_clone().unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut got = String::new();
    reader.read_line(&mut got).unwrap();
    for request in SCRIPT {
        (&stream).write_all(request.as_bytes()).unwrap();
        reader.read_line(&mut got).unwrap();
    }
    std::io::Read::read_to_string(&mut reader, &mut got).unwrap();
    got
}

/// The session in a trace, as `trace dump` prints it, without the count of
/// steps on its last line: how the kernel split the client's bytes into reads
/// is an input like any other and may differ between two runs, while every
/// message, its virtual time and the final digest may not.
fn dump(trace: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["trace", "dump"])
        .arg(trace)
        .output()
        .unwrap();
    assert!(out.status.success(), "trace dump failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let steps = regex_free_steps(&text);
    text.replacen(&steps, "# end: N steps", 1)
}

/// The `# end: K steps` part of a dump.
fn regex_free_steps(text: &str) -> String {
    let at = text.rfind("# end: ").expect("a complete trace");
    let rest = &text[at..];
    rest[..rest.find(',').expect("the end line has a digest")].to_owned()
}

#[test]
fn session_against_a_fleet_vm_matches_the_single_run_of_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let rdir = dir.path().join("traces");
    let rdir_s = rdir.display().to_string();
    // Manual clock: no wall-clock quiet time may slip an AdvanceTo into one run
    // and not the other.
    let fleet = start_fleet(
        dir.path(),
        3,
        &["--record", &rdir_s, "-S", "-x-clock", "manual"],
    );
    let vm = fleet.vms[1].clone();
    let in_fleet = scripted_session(Path::new(field(&vm, "socket")));
    drop(fleet.qemu);
    let fleet_trace = rdir.join("vm-00002.qmptrace");
    let single_trace = dir.path().join("single.qmptrace");
    let mut args: Vec<String> = vm["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let last = args.len() - 1;
    args[last] = single_trace.display().to_string();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut single = Qemu::spawn(&argv, false);
    let alone = scripted_session(Path::new(field(&vm, "socket")));
    single.wait_exit();
    assert_eq!(in_fleet, alone);
    assert_eq!(dump(&fleet_trace), dump(&single_trace));
}

/// `qmpsim fleet --count COUNT --dir DIR/s -S` under a hard open-file limit
/// of `hard`, with stdout and stderr piped.
fn fleet_under_open_file_limit(dir: &Path, count: u32, hard: u64) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_qmpsim"));
    command
        .args(["fleet", "--count", &count.to_string(), "--dir"])
        .arg(dir.join("s"))
        .arg("-S")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; the child only lowers its own limit.
    unsafe {
        command.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: hard,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().unwrap()
}

#[test]
fn fleet_whose_listeners_pass_the_open_file_limit_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    // 100 listeners and the base of 64 need 164 descriptors.
    let out = fleet_under_open_file_limit(dir.path(), 100, 163)
        .wait_with_output()
        .unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned()),
        (
            Some(1),
            "qmpsim: fleet: --count 100 needs 164 open files before any client connects, but the limit is 163 (raise it with ulimit -n)\n"
                .to_owned()
        )
    );
}

#[test]
fn fleet_that_fits_its_listeners_but_not_every_client_starts_and_says_how_many_fit() {
    let dir = tempfile::tempdir().unwrap();
    // 100 listeners and the base take 164 of 174: room for 10 clients at once.
    let mut child = fleet_under_open_file_limit(dir.path(), 100, 174);
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("qmpsim: fleet ready: 100 VMs"), "{ready}");
    let socket = dir.path().join("s").join("vm-00100.sock");
    let mut client = connect_unix(&socket);
    assert_eq!(client.line(), GREETING);
    // SAFETY: signals only the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "qmpsim: fleet: the open-file limit (174) leaves room for 10 clients at once; \
         a client past that waits in its socket's backlog until another leaves\n"
    );
}
