//! A small QMP client in Rust, run against an embedded qmpsim VM.
//!
//! ```sh
//! cargo run --example qmp_client                          # a VM of its own
//! cargo run --example qmp_client -- /tmp/q.sock query-name   # any QMP socket
//! ```
//!
//! With no socket it spawns a VM in process ([`qmpsim::Vm::builder`]), runs
//! `query-status`, `stop`, `query-status`, stops the VM and checks that the
//! recorded trace replays byte for byte. Given a socket and command names, it runs
//! those instead. Events that arrive between replies are printed too.

use std::error::Error;
use std::io::{BufRead, BufReader, Lines, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde_json::{json, Value};

/// A connected, negotiated QMP client.
struct Client {
    stream: UnixStream,
    lines: Lines<BufReader<UnixStream>>,
    next_id: u64,
}

impl Client {
    /// Connects, reads the greeting and leaves capabilities negotiation mode.
    fn connect(path: &Path) -> Result<(Client, Value), Box<dyn Error>> {
        let stream = UnixStream::connect(path)?;
        let lines = BufReader::new(stream.try_clone()?).lines();
        let mut client = Client {
            stream,
            lines,
            next_id: 0,
        };
        let greeting = client.read()?;
        client.execute("qmp_capabilities", &mut Vec::new())?;
        Ok((client, greeting))
    }

    fn read(&mut self) -> Result<Value, Box<dyn Error>> {
        let line = self.lines.next().ok_or("the VM closed the connection")??;
        Ok(serde_json::from_str(&line)?)
    }

    /// Runs one command; events seen before its reply go to `events`.
    fn execute(&mut self, command: &str, events: &mut Vec<Value>) -> Result<Value, Box<dyn Error>> {
        self.next_id += 1;
        let request = json!({"execute": command, "id": self.next_id});
        self.stream.write_all(format!("{request}\r\n").as_bytes())?;
        loop {
            let message = self.read()?;
            if message.get("event").is_some() {
                events.push(message);
            } else {
                return Ok(message);
            }
        }
    }
}

/// Runs `commands` on the VM at `path`; returns every reply and event, in order.
fn session(path: &Path, commands: &[&str]) -> Result<Vec<Value>, Box<dyn Error>> {
    let (mut client, greeting) = Client::connect(path)?;
    let mut seen = vec![greeting];
    for command in commands {
        let mut events = Vec::new();
        let reply = client.execute(command, &mut events)?;
        seen.extend(events);
        seen.push(reply);
    }
    Ok(seen)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some((socket, commands)) = args.split_first() {
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        for message in session(Path::new(socket), &commands)? {
            println!("{message}");
        }
        return Ok(());
    }
    let vm = qmpsim::Vm::builder()
        .args(["-name", "example"])
        .record(true)
        .spawn()?;
    println!("a VM on {}", vm.socket_path().display());
    for message in session(vm.socket_path(), &["query-status", "stop", "query-status"])? {
        println!("{message}");
    }
    let ended = vm.stop()?;
    let trace = ended.trace.ok_or("no trace was recorded")?;
    let report = qmpsim::replay::one::replay(&trace[..])?;
    println!(
        "the VM exited with status {}; its trace of {} steps replays byte for byte",
        ended.code, report.steps
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_runs_commands_and_collects_their_events() {
        let vm = qmpsim::Vm::builder()
            .args(["-name", "t"])
            .spawn()
            .expect("spawns");
        let seen = session(vm.socket_path(), &["stop", "query-status"]).expect("talks");
        vm.stop().expect("stops");

        assert_eq!(seen[0]["QMP"]["version"]["qemu"]["minor"], 14);
        assert_eq!(seen[1]["event"], "STOP");
        assert_eq!(seen[2], json!({"return": {}, "id": 2}));
        assert_eq!(
            seen[3],
            json!({"return": {"running": false, "singlestep": false}, "id": 3})
        );
    }

    #[test]
    fn session_reports_a_missing_socket() {
        let err = session(Path::new("/nonexistent-dir/q.sock"), &[]).unwrap_err();
        assert!(err.to_string().contains("No such file"), "{err}");
    }
}
