//! The human monitor on a chardev (`-monitor`, `-mon mode=readline`, `mon:`
//! ports and `-nographic`'s default) against the built binary: 0.14's banner and
//! prompt, readline's echo and editing, telnet negotiation, socat as a client,
//! human and QMP monitors side by side, and a human session recorded and
//! replayed. Every read is bounded by [`IO_TIMEOUT`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::sockets::{connect_unix, sock_path, unix_spec, Qemu, GREETING, IO_TIMEOUT};

/// 0.14's banner and first prompt, as the chardev carries them.
const OPENED: &str = "QEMU 0.14.0 monitor - type 'help' for more information\r\n(qemu) ";
/// A prompt after a command's output.
const PROMPT: &str = "(qemu) ";

/// Reads from `stream` until what was read ends with `end`; returns it all.
fn read_bytes_until<R: Read>(stream: &mut R, end: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    while !got.ends_with(end) {
        let seen = String::from_utf8_lossy(&got).into_owned();
        assert!(
            Instant::now() < deadline,
            "no {end:?} in time; got {seen:?}"
        );
        match stream.read(&mut buf) {
            Ok(0) => panic!("end of stream before {end:?}; got {seen:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed: {e}"),
        }
    }
    got
}

/// [`read_bytes_until`] as text.
fn read_until<R: Read>(stream: &mut R, end: &str) -> String {
    String::from_utf8_lossy(&read_bytes_until(stream, end.as_bytes())).into_owned()
}

/// The unix human monitor of a VM started with `-monitor unix:PATH,server,nowait`
/// plus `args`, its banner and prompt read.
fn human_unix(path: &Path, args: &[&str]) -> (Qemu, UnixStream) {
    let spec = unix_spec(path, ",nowait");
    let mut all = vec!["-monitor", spec.as_str()];
    all.extend_from_slice(args);
    let qemu = Qemu::spawn(&all, false);
    let mut stream = connect_unix(path).into_stream();
    assert_eq!(read_until(&mut stream, PROMPT), OPENED);
    (qemu, stream)
}

/// Sends a line, returns what came back up to the next prompt, without the
/// echo (everything up to the first `\r\n`).
fn command(stream: &mut UnixStream, line: &str) -> String {
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let got = read_until(stream, &format!("\r\n{PROMPT}"));
    let (_, after_echo) = got
        .split_once("\r\n")
        .expect("the echo ends with a newline");
    after_echo.to_owned()
}

#[test]
fn monitor_unix_greets_with_banner_and_prompt() {
    let (_dir, path) = sock_path();
    // human_unix checks the exact banner and prompt.
    let (_qemu, _stream) = human_unix(&path, &[]);
}

#[test]
fn monitor_unix_runs_a_command_and_prompts_again() {
    let (_dir, path) = sock_path();
    let (_qemu, mut stream) = human_unix(&path, &["-S"]);
    assert_eq!(
        command(&mut stream, "info status"),
        "VM status: paused\r\n(qemu) "
    );
}

#[test]
fn monitor_echoes_typing_as_0_14_readline_redraws_it() {
    let (_dir, path) = sock_path();
    let (_qemu, mut stream) = human_unix(&path, &[]);
    stream.write_all(b"ab").unwrap();
    assert_eq!(read_until(&mut stream, "ab\x1b[K"), "a\x1b[K\x1b[Dab\x1b[K");
}

#[test]
fn monitor_backspace_edits_the_line_before_it_runs() {
    let (_dir, path) = sock_path();
    let (_qemu, mut stream) = human_unix(&path, &["-name", "vm7"]);
    assert_eq!(command(&mut stream, "info namx\x7fe"), "vm7\r\n(qemu) ");
}

#[test]
fn monitor_crlf_gives_an_empty_line_and_a_second_prompt() {
    let (_dir, path) = sock_path();
    let (_qemu, mut stream) = human_unix(&path, &["-name", "vm7"]);
    stream.write_all(b"info name\r\n").unwrap();
    let got = read_until(&mut stream, &format!("vm7\r\n{PROMPT}\r\n{PROMPT}"));
    assert!(got.ends_with("\r\nvm7\r\n(qemu) \r\n(qemu) "), "{got:?}");
}

#[test]
fn monitor_quit_prints_no_prompt_and_exits_zero() {
    let (_dir, path) = sock_path();
    let (mut qemu, mut stream) = human_unix(&path, &[]);
    stream.write_all(b"quit\n").unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let tail = String::from_utf8_lossy(&rest).into_owned();
    assert_eq!(
        (
            tail.ends_with("\r\n"),
            tail.contains(PROMPT),
            qemu.wait_exit().code()
        ),
        (true, false, Some(0))
    );
}

/// Runs the binary with `args`, `input` on its stdin, to its end: the exit
/// status and its stdout split at `\r\n`, lines with escape sequences (the
/// redraws of the echo) left out.
fn stdio_session(args: &[&str], input: &str) -> (Option<i32>, Vec<String>) {
    let mut qemu = Qemu::spawn(args, true);
    qemu.send_stdin(input);
    let code = qemu.wait_exit().code();
    let stdout = qemu.stdout.take().expect("stdout is piped");
    let mut transcript = String::new();
    while let Some(line) = stdout.next_or_end() {
        transcript.push_str(&line);
    }
    let shown = transcript
        .split("\r\n")
        .filter(|l| !l.contains('\x1b'))
        .map(str::to_owned)
        .collect();
    (code, shown)
}

#[test]
fn monitor_stdio_session_through_the_binary() {
    let (code, shown) = stdio_session(
        &["-monitor", "stdio", "-S", "-name", "demo"],
        "info status\ncont\ninfo status\nq\n",
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        shown,
        [
            "QEMU 0.14.0 monitor - type 'help' for more information",
            "VM status: paused",
            "VM status: running",
            "",
        ]
    );
}

#[test]
fn mon_readline_long_form_serves_a_human_monitor() {
    let (_dir, _qemu, client) =
        super::sockets::chardev_monitor("h", "server,nowait", "chardev=h,mode=readline");
    let mut stream = client.into_stream();
    assert_eq!(read_until(&mut stream, PROMPT), OPENED);
}

#[test]
fn human_and_qmp_monitors_share_one_machine() {
    let (dir, human_path) = sock_path();
    let qmp_path = dir.path().join("qmp.sock");
    let qmp_spec = unix_spec(&qmp_path, ",nowait");
    let (_qemu, mut human) = human_unix(&human_path, &["-qmp", &qmp_spec]);
    let mut qmp = connect_unix(&qmp_path);
    assert_eq!(qmp.line(), GREETING);
    qmp.execute("qmp_capabilities");
    let stopped = command(&mut human, "stop");
    let event = qmp.line();
    let status = qmp.execute("query-status");
    assert_eq!(
        (
            stopped.as_str(),
            event.contains("\"event\": \"STOP\""),
            status.as_str()
        ),
        (
            PROMPT,
            true,
            "{\"return\": {\"singlestep\": false, \"running\": false}}\r\n"
        )
    );
}

/// A VM named `name` with its human monitor on `-monitor SCHEME:127.0.0.1:PORT,server,nowait`,
/// connected: the stream and all it sent up to the first prompt.
fn human_tcp(scheme: &str, name: &str) -> (Qemu, TcpStream, Vec<u8>) {
    let port = super::sockets::free_port();
    let spec = format!("{scheme}:127.0.0.1:{port},server,nowait");
    let qemu = Qemu::spawn(&["-monitor", &spec, "-name", name], false);
    let mut stream = super::sockets::connect_tcp(port).into_stream();
    let opened = read_bytes_until(&mut stream, PROMPT.as_bytes());
    (qemu, stream, opened)
}

#[test]
fn telnet_monitor_negotiates_then_filters_the_client_commands() {
    let (_qemu, mut stream, opened) = human_tcp("telnet", "tn");
    // IAC DO ECHO and IAC WILL NAWS from the client are commands, not input.
    stream
        .write_all(b"\xff\xfd\x01\xff\xfb\x1finfo name\r\0")
        .unwrap();
    let got = read_until(&mut stream, &format!("tn\r\n{PROMPT}"));
    let negotiation = b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00";
    // The last redraw of the echo is the whole line: no byte of the commands.
    assert_eq!(
        (
            opened,
            got.ends_with("\x1b[Dinfo name\x1b[K\r\ntn\r\n(qemu) ")
        ),
        ([&negotiation[..], OPENED.as_bytes()].concat(), true)
    );
}

#[test]
fn tcp_monitor_serves_a_plain_socket_without_telnet_bytes() {
    let (_qemu, mut stream, opened) = human_tcp("tcp", "plain");
    stream.write_all(b"info name\n").unwrap();
    let got = read_until(&mut stream, &format!("plain\r\n{PROMPT}"));
    assert_eq!(
        (opened, got.ends_with("info name\x1b[K\r\nplain\r\n(qemu) ")),
        (OPENED.as_bytes().to_vec(), true)
    );
}

#[test]
fn socat_drives_the_human_monitor() {
    let (_dir, path) = sock_path();
    let spec = unix_spec(&path, ",nowait");
    let mut qemu = Qemu::spawn(&["-monitor", &spec, "-name", "viasocat"], false);
    // The socket exists once the VM listens.
    drop(connect_unix(&path));
    let mut socat = Command::new("socat")
        .arg("-")
        .arg(format!("UNIX-CONNECT:{}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat is installed (ci/setup)");
    socat
        .stdin
        .take()
        .unwrap()
        .write_all(b"info name\nquit\n")
        .unwrap();
    let out = socat.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        (
            text.contains("\r\nviasocat\r\n(qemu) "),
            qemu.wait_exit().code()
        ),
        (true, Some(0)),
        "{text:?}"
    );
}

#[test]
fn nographic_default_monitor_shares_stdio_with_the_serial_port() {
    // The port has the focus: these bytes go to the (unmodelled) guest console.
    let (code, shown) = stdio_session(
        &["-nographic", "-S"],
        "info status\n\x01cinfo status\n\x01x",
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        shown,
        [
            "QEMU 0.14.0 monitor - type 'help' for more information",
            "VM status: paused",
            "(qemu) QEMU: Terminated\n\r",
        ]
    );
}

#[test]
fn human_session_is_recorded_and_replays() {
    let (dir, path) = sock_path();
    let trace = dir.path().join("h.qmptrace");
    let trace_arg = trace.display().to_string();
    let (mut qemu, mut stream) = human_unix(&path, &["-record", &trace_arg]);
    command(&mut stream, "info status");
    command(&mut stream, "stop");
    stream.write_all(b"quit\n").unwrap();
    qemu.wait_exit();
    crate::support::assert_replays(&trace);
}

/// A pseudo-terminal pair: the terminal side (what the VM gets as stdin and
/// stdout) and the controlling side (what the test types into and reads).
fn open_pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors; the null pointers ask for
    // no name and default settings.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned here.
    unsafe {
        (
            std::fs::File::from_raw_fd(terminal),
            std::fs::File::from_raw_fd(controller),
        )
    }
}

/// The local-mode flags of the terminal `file`.
fn local_flags(file: &std::fs::File) -> libc::tcflag_t {
    use std::os::fd::AsRawFd;
    // SAFETY: termios is plain data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::tcgetattr(file.as_raw_fd(), &mut t) }, 0);
    t.c_lflag
}

#[test]
fn monitor_stdio_on_a_terminal_is_raw_while_it_runs_and_restored_at_exit() {
    let (terminal, mut controller) = open_pty();
    let before = local_flags(&terminal);
    assert_ne!(before & libc::ECHO, 0, "a new terminal echoes");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(["-monitor", "stdio", "-nographic", "-S"])
        .stdin(terminal.try_clone().expect("dup"))
        .stdout(terminal.try_clone().expect("dup"))
        .stderr(Stdio::null())
        .spawn()
        .expect("qmpsim starts");
    // Output processing stays on, as in 0.14: the terminal turns each "\n" of
    // the monitor's "\r\n" into "\r\n".
    assert_eq!(
        read_until(&mut controller, PROMPT),
        OPENED.replace("\r\n", "\r\r\n")
    );
    let running = local_flags(&terminal);
    // 0.14's term_init: no echo, no line editing; with -nographic Ctrl-C is a
    // byte, not a signal.
    assert_eq!(
        running & (libc::ECHO | libc::ICANON | libc::IEXTEN | libc::ISIG),
        0
    );
    // Typed keys come back once, as readline draws them: the terminal does not
    // echo them as well.
    controller.write_all(b"info name\r").expect("typed");
    let shown = read_until(&mut controller, PROMPT);
    assert_eq!(shown.matches("info name").count(), 1, "{shown:?}");
    controller.write_all(b"quit\r").expect("typed");
    assert_eq!(child.wait().expect("exits").code(), Some(0));
    assert_eq!(local_flags(&terminal), before, "the terminal is as it was");
}
