//! Effects before replies, over a real socket against the built binary: every
//! effect a command causes that a client can observe is carried out before the
//! command's reply is sent (`crate::engine` module doc). Each test repeats the
//! command [`ROUNDS`] times and looks at the world the moment the reply is read:
//! the file is complete, the descriptor is closed, the destination has its
//! connection, a cancelled channel has ended.

use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use qmpsim::server::fds::send_with_fds;

use super::sockets::{
    negotiated_unix, negotiated_vm, pipe, pipe_has_writer, response, sock_path, Client,
};

/// Times each command is repeated: a reply that raced its effect would lose
/// the race in some of them.
const ROUNDS: usize = 50;
/// Bytes each memory dump asks for.
const DUMP_BYTES: usize = 4096;
const RETURN_EMPTY: &str = "{\"return\": {}}\r\n";

/// The size of file `path` right now, and the size its contents announce
/// (`expected` reads them); `None` for a missing file.
fn sizes(path: &Path, expected: fn(&[u8]) -> usize) -> Option<(usize, usize)> {
    let bytes = std::fs::read(path).ok()?;
    Some((bytes.len(), expected(&bytes)))
}

/// The length a P6 PPM file must have, from its header (`P6\nW H\n255\n`).
fn ppm_length(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned();
    let mut fields = text.split_ascii_whitespace();
    let (magic, w, h, max) = (fields.next(), fields.next(), fields.next(), fields.next());
    let parse = |f: Option<&str>| f.and_then(|f| f.parse::<usize>().ok()).unwrap_or(0);
    let header = format!(
        "{}\n{} {}\n{}\n",
        magic.unwrap_or_default(),
        parse(w),
        parse(h),
        parse(max)
    );
    header.len() + parse(w) * parse(h) * 3
}

/// Runs `command` (a JSON object text with `{file}` standing for a new file
/// name) [`ROUNDS`] times; returns the rounds whose file was missing or not
/// complete when the reply arrived, with the sizes seen.
fn incomplete_rounds(command: &str, expected: fn(&[u8]) -> usize) -> Vec<String> {
    let (dir, path) = sock_path();
    let (_qemu, mut client) = negotiated_unix(&path, &[]);
    let mut bad = Vec::new();
    for round in 0..ROUNDS {
        let file = dir.path().join(format!("out{round}"));
        client.send(&command.replace("{file}", &file.display().to_string()));
        let reply = response(&mut client);
        let seen = sizes(&file, expected);
        if reply != RETURN_EMPTY || seen.is_none_or(|(len, want)| len != want) {
            bad.push(format!("round {round}: {reply:?} then {seen:?}"));
        }
    }
    bad
}

/// `memsave` or `pmemsave` (`command`) of [`DUMP_BYTES`] from `val` into
/// `{file}`.
fn dump_command(command: &str, val: u64) -> String {
    format!(
        r#"{{"execute":"{command}","arguments":{{"val":{val},"size":{DUMP_BYTES},"filename":"{{file}}"}}}}"#
    )
}

#[test]
fn screendump_file_is_complete_when_the_reply_arrives() {
    let bad = incomplete_rounds(
        r#"{"execute":"screendump","arguments":{"filename":"{file}"}}"#,
        ppm_length,
    );
    assert_eq!(bad, Vec::<String>::new());
}

#[test]
fn memsave_file_is_complete_when_the_reply_arrives() {
    let bad = incomplete_rounds(&dump_command("memsave", 0), |_| DUMP_BYTES);
    assert_eq!(bad, Vec::<String>::new());
}

#[test]
fn pmemsave_file_is_complete_when_the_reply_arrives() {
    let bad = incomplete_rounds(&dump_command("pmemsave", 4096), |_| DUMP_BYTES);
    assert_eq!(bad, Vec::<String>::new());
}

/// Passes a pipe's write end as `name` and closes it with `closefd`; returns
/// whether the pipe still had a writer when the reply was read.
fn closefd_round(client: &mut Client<UnixStream>) -> bool {
    let (read_end, write_end) = pipe();
    let getfd = b"{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f\"}}";
    send_with_fds(client.stream().as_raw_fd(), getfd, &[write_end.as_raw_fd()]).unwrap();
    drop(write_end);
    assert_eq!(response(client), RETURN_EMPTY);
    client.send("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"f\"}}");
    assert_eq!(response(client), RETURN_EMPTY);
    pipe_has_writer(&read_end)
}

#[test]
fn closefd_descriptor_is_closed_when_the_reply_arrives() {
    let (_dir, _qemu, mut client) = negotiated_vm(&[]);
    let open_after_reply = (0..ROUNDS).filter(|_| closefd_round(&mut client)).count();
    assert_eq!(open_after_reply, 0);
}

/// Whether `conn` is at end of stream now, without waiting: everything
/// readable is read, then a read gives 0 (not "would block").
fn ended_now(conn: &mut UnixStream) -> bool {
    conn.set_nonblocking(true).unwrap();
    let mut buf = vec![0_u8; 1 << 16];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// One `migrate` to a fresh unix listener, then `migrate_cancel`; returns
/// whether the connection was waiting when the `migrate` reply arrived and
/// whether it had ended when the cancel's reply arrived.
fn migrate_round(client: &mut Client<UnixStream>, dst: &Path) -> (bool, bool) {
    let _ = std::fs::remove_file(dst);
    let listener = UnixListener::bind(dst).unwrap();
    listener.set_nonblocking(true).unwrap();
    client.send(&format!(
        "{{\"execute\":\"migrate\",\"arguments\":{{\"uri\":\"unix:{}\"}}}}",
        dst.display()
    ));
    assert_eq!(response(client), RETURN_EMPTY);
    let accepted = listener.accept().ok();
    client.send("{\"execute\":\"migrate_cancel\"}");
    assert_eq!(response(client), RETURN_EMPTY);
    match accepted {
        Some((mut conn, _)) => (true, ended_now(&mut conn)),
        None => (false, false),
    }
}

#[test]
fn migrate_connection_is_open_and_cancel_has_closed_it_when_the_replies_arrive() {
    let (dir, path) = sock_path();
    let (_qemu, mut client) = negotiated_unix(&path, &[]);
    let dst = dir.path().join("dst.sock");
    let late: Vec<(usize, (bool, bool))> = (0..ROUNDS)
        .map(|round| (round, migrate_round(&mut client, &dst)))
        .filter(|(_, seen)| *seen != (true, true))
        .collect();
    assert_eq!(late, []);
}
