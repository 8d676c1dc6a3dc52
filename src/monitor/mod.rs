//! The human monitor on a character device, as 0.14's `monitor.c` serves a
//! `mode=readline` monitor (`-monitor`, `-mon chardev=X,mode=readline`): the
//! banner and the `(qemu) ` prompt when a client connects, 0.14's line editor
//! ([`readline`]) on every byte, and each finished line run on the HMP command
//! table (`crate::qmp::hmp`), its text followed by a new prompt. The engine
//! drives it as a kind of connection: bytes in, bytes out, so a human session
//! is recorded and replayed like a QMP one. [`telnet`] is the chardev's telnet
//! layer, used by QMP and human monitors alike; [`mux`] shares a serial port's
//! chardev with a monitor (`-serial mon:stdio`, `-nographic`).
//!
//! Text goes out as 0.14's `monitor_puts` writes it: every `\n` as `\r\n`.
//! Pure: no I/O, no clock; the state is plain serde data kept in the client's
//! [`Session`].

pub mod mux;
pub mod readline;
pub mod telnet;

use crate::machine::Machine;
use crate::qmp::commands::Ctx;
use crate::qmp::session::{ClientId, Session};

/// What 0.14 prints when a client opens a readline monitor
/// (`monitor_event`, `CHR_EVENT_OPENED`).
pub const BANNER: &str = "QEMU 0.14.0 monitor - type 'help' for more information\n";
/// The monitor's prompt (`monitor_read_command`).
pub const PROMPT: &str = "(qemu) ";

/// The text as it goes on the wire: `\n` becomes `\r\n` (0.14's `monitor_puts`).
pub fn to_wire(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for b in text.bytes() {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The lines a human monitor's client finishes, found without running them:
/// the session's telnet filter, multiplexer and line editor, fed the same
/// bytes the engine gets (the edge's image probe scout and the trace walker
/// use it to see each line as the engine will).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSplitter {
    telnet: Option<telnet::Telnet>,
    mux: Option<mux::Mux>,
    readline: readline::Readline,
}

impl LineSplitter {
    /// A splitter for a fresh session like `session`; `None` for a QMP one.
    pub fn for_session(session: &Session) -> Option<Self> {
        session.human.as_ref()?;
        Some(LineSplitter {
            telnet: session.telnet.map(|_| telnet::Telnet::default()),
            mux: session.mux.map(|_| mux::Mux::default()),
            readline: readline::Readline::new(),
        })
    }

    /// A splitter for a human monitor without a multiplexer (`telnet`: on a
    /// telnet chardev).
    pub fn new(telnet: bool) -> Self {
        LineSplitter {
            telnet: telnet.then(telnet::Telnet::default),
            mux: None,
            readline: readline::Readline::new(),
        }
    }

    /// Feeds one byte; returns the line it finishes, if it does.
    pub fn feed(&mut self, byte: u8) -> Option<Vec<u8>> {
        let byte = match self.telnet.as_mut() {
            Some(t) => t.filter(byte)?,
            None => byte,
        };
        if let Some(m) = self.mux.as_mut() {
            match m.byte(byte) {
                mux::MuxAction::Byte(_) if m.monitor_focused => {}
                mux::MuxAction::ToMonitor => {
                    self.readline.restart();
                    return None;
                }
                _ => return None,
            }
        }
        let mut echo = String::new();
        let line = self.readline.byte(byte, &mut echo)?;
        self.readline.prompt_shown();
        Some(line)
    }
}

/// Runs one finished command line on the client's monitor, as 0.14's
/// `monitor_command_cb` does (`handle_user_command`); returns what it printed.
/// The line's bytes are read as UTF-8, invalid sequences replaced.
pub fn run_line(
    machine: &mut Machine,
    session: &mut Session,
    client: ClientId,
    line: &[u8],
) -> String {
    let line = String::from_utf8_lossy(line);
    let mut ctx = Ctx {
        machine,
        session,
        client,
        followups: Vec::new(),
    };
    let mut printed = String::new();
    crate::qmp::hmp::run_line(&mut ctx, &line, &mut printed);
    printed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    /// The lines `sp` finds in `bytes`, fed one at a time.
    fn split(sp: &mut LineSplitter, bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.iter().filter_map(|&b| sp.feed(b)).collect()
    }

    /// What `line` prints for client 1's new session on a new default machine.
    fn run_on_a_new_machine(line: &[u8]) -> String {
        let mut machine = Machine::new(MachineConfig::default());
        let mut session = Session::new(0);
        run_line(&mut machine, &mut session, ClientId(1), line)
    }

    #[test]
    fn line_splitter_finds_the_edited_line() {
        let mut sp = LineSplitter::new(false);
        let lines = split(&mut sp, b"info x\x7fkvm\r");
        assert_eq!(lines, [b"info kvm".to_vec()]);
    }

    #[test]
    fn line_splitter_of_a_shared_port_drops_the_port_bytes() {
        let mut session = Session::new(0);
        session.human = Some(readline::Readline::new());
        session.mux = Some(mux::Mux::default());
        let mut sp = LineSplitter::for_session(&session).expect("a human session");
        let lines = split(&mut sp, b"stop\n\x01cq\n");
        assert_eq!(lines, [b"q".to_vec()]);
    }

    #[test]
    fn to_wire_writes_each_newline_as_crlf() {
        assert_eq!(to_wire("a\nb\n"), b"a\r\nb\r\n");
    }

    #[test]
    fn run_line_prints_the_command_text() {
        let text = run_on_a_new_machine(b"info status");
        assert_eq!(text, "VM status: running\n");
    }

    #[test]
    fn run_line_of_an_unknown_command_prints_0_14_s_text() {
        let text = run_on_a_new_machine(b"bogus");
        assert_eq!(text, "unknown command: 'bogus'\n");
    }
}
