//! 0.14's telnet handling on a `telnet:` (or `telnet=on`) socket chardev, from
//! `qemu-char.c`: the negotiation the chardev sends to each new client
//! (`tcp_chr_telnet_init`), and the filter that strips the client's IAC
//! commands from what it sends (`tcp_chr_process_IAC_bytes`). A doubled IAC
//! stands for one 0xff byte. Plain serde data; no I/O.

use serde::{Deserialize, Serialize};

/// Telnet's "interpret as command" byte.
pub const IAC: u8 = 0xff;
/// Telnet's BREAK command.
pub const IAC_BREAK: u8 = 0xf3;

/// What 0.14 sends a new telnet client: IAC WILL ECHO, IAC WILL
/// SUPPRESS-GO-AHEAD, IAC WILL BINARY, IAC DO BINARY (binary, no local echo,
/// character at a time).
pub const NEGOTIATION: [u8; 12] = [
    IAC, 0xfb, 0x01, IAC, 0xfb, 0x03, IAC, 0xfb, 0x00, IAC, 0xfd, 0x00,
];

/// The filter's state: 0.14's `do_telnetopt` (1 between commands, 2 after an
/// IAC, 3 inside a three-byte command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telnet {
    state: u8,
}

impl Default for Telnet {
    fn default() -> Self {
        Telnet { state: 1 }
    }
}

impl Telnet {
    /// Filters one byte: `Some(byte)` for data, `None` for a byte of a command.
    pub fn filter(&mut self, byte: u8) -> Option<u8> {
        if self.state > 1 {
            if byte == IAC && self.state == 2 {
                // A doubled IAC is a data byte 0xff.
                self.state = 1;
                return Some(byte);
            }
            if byte == IAC_BREAK && self.state == 2 {
                // 0.14 sends the chardev a break event (nothing to a monitor);
                // the command is two bytes long.
                self.state += 1;
            }
            self.state += 1;
            if self.state >= 4 {
                self.state = 1;
            }
            return None;
        }
        if byte == IAC {
            self.state = 2;
            return None;
        }
        Some(byte)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(bytes: &[u8]) -> Vec<u8> {
        let mut t = Telnet::default();
        bytes.iter().filter_map(|&b| t.filter(b)).collect()
    }

    #[test]
    fn plain_bytes_pass() {
        assert_eq!(filtered(b"info kvm\r\n"), b"info kvm\r\n");
    }

    #[test]
    fn three_byte_commands_are_removed() {
        assert_eq!(
            filtered(&[IAC, 0xfd, 0x01, b'a', IAC, 0xfb, 0x18, b'b']),
            b"ab"
        );
    }

    #[test]
    fn doubled_iac_is_one_data_byte() {
        assert_eq!(filtered(&[b'a', IAC, IAC, b'b']), [b'a', IAC, b'b']);
    }

    #[test]
    fn break_is_a_two_byte_command() {
        assert_eq!(filtered(&[IAC, IAC_BREAK, b'x', b'y']), b"xy");
    }
}
