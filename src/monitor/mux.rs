//! 0.14's character-device multiplexer (`mux_proc_byte` in `qemu-char.c`) for a
//! human monitor that shares its chardev with a serial or parallel port
//! (`-serial mon:stdio`, and the default monitor of `-nographic`). The port
//! has the focus first; `C-a c` moves it to the monitor and back, `C-a h`
//! prints the escape keys, `C-a x` ends the emulator, `C-a C-a` sends one
//! `C-a`. Bytes for the port reach a guest console qmpsim does not model, so
//! they are dropped. Plain serde data; no I/O.

use serde::{Deserialize, Serialize};

/// The escape character, `C-a` (0.14's default `term_escape_char`).
pub const ESCAPE: u8 = 0x01;

/// What `C-a x` writes before the emulator exits.
pub const TERMINATED: &[u8] = b"QEMU: Terminated\n\r";

/// What `C-a h` (or `C-a ?`) writes (`mux_print_help`, escape `C-a`).
pub const HELP: &[u8] = b"\n\rC-a h    print this help\n\r\
C-a x    exit emulator\n\r\
C-a s    save disk data back to file (if -snapshot)\n\r\
C-a t    toggle console timestamps\n\r\
C-a b    send break (magic sysrq)\n\r\
C-a c    switch between console and monitor\n\r\
C-a C-a  sends C-a\n\r";

/// Whether `label` is a serial or parallel port's chardev (`serialN`,
/// `parallelN`): a monitor on one shares it through the multiplexer.
pub fn is_port_label(label: &str) -> bool {
    ["serial", "parallel"].iter().any(|prefix| {
        label
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// What one byte does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxAction {
    /// Give this byte to the device that has the focus.
    Byte(u8),
    /// Nothing (the escape character, or an escape sequence without effect).
    Nothing,
    /// Print [`HELP`].
    Help,
    /// Print [`TERMINATED`] and exit with status 0.
    Exit,
    /// The monitor got the focus.
    ToMonitor,
    /// The port got the focus back.
    ToPort,
}

/// The multiplexer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mux {
    /// The monitor has the focus (else the port).
    pub monitor_focused: bool,
    /// `C-a` was the last byte.
    escape: bool,
}

impl Mux {
    /// Handles one byte from the client.
    pub fn byte(&mut self, ch: u8) -> MuxAction {
        if !self.escape {
            if ch == ESCAPE {
                self.escape = true;
                return MuxAction::Nothing;
            }
            return MuxAction::Byte(ch);
        }
        self.escape = false;
        match ch {
            ESCAPE => MuxAction::Byte(ch),
            b'?' | b'h' => MuxAction::Help,
            b'x' => MuxAction::Exit,
            b'c' => {
                self.monitor_focused = !self.monitor_focused;
                if self.monitor_focused {
                    MuxAction::ToMonitor
                } else {
                    MuxAction::ToPort
                }
            }
            // `s` (commit -snapshot disks), `b` (break) and `t` (timestamps)
            // change nothing a client can see here.
            _ => MuxAction::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(bytes: &[u8]) -> Vec<MuxAction> {
        let mut m = Mux::default();
        bytes.iter().map(|&b| m.byte(b)).collect()
    }

    #[test]
    fn port_labels_are_serial_and_parallel_numbers() {
        assert_eq!(
            ["serial0", "parallel2", "serial", "compat_monitor0"].map(is_port_label),
            [true, true, false, false]
        );
    }

    #[test]
    fn plain_bytes_pass() {
        assert_eq!(actions(b"a"), [MuxAction::Byte(b'a')]);
    }

    #[test]
    fn c_a_c_switches_to_the_monitor_and_back() {
        assert_eq!(
            actions(b"\x01c\x01c"),
            [
                MuxAction::Nothing,
                MuxAction::ToMonitor,
                MuxAction::Nothing,
                MuxAction::ToPort
            ]
        );
    }

    #[test]
    fn doubled_escape_sends_one_escape() {
        assert_eq!(
            actions(b"\x01\x01"),
            [MuxAction::Nothing, MuxAction::Byte(ESCAPE)]
        );
    }

    #[test]
    fn c_a_x_exits_and_c_a_h_helps() {
        assert_eq!(
            actions(b"\x01h\x01x"),
            [
                MuxAction::Nothing,
                MuxAction::Help,
                MuxAction::Nothing,
                MuxAction::Exit
            ]
        );
    }
}
