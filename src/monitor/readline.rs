//! 0.14's `readline.c`: the human monitor's line editor, byte by byte.
//!
//! Each byte edits the command line (insert, backspace, delete, `^A`/`^E`,
//! `^W`, cursor keys, history with up/down) and the editor echoes the change as
//! 0.14's `readline_update` does: the cursor moved back to the start of the
//! line with `ESC [ D`, the whole line written again, `ESC [ K`, then the cursor
//! moved to its place. Enter (`\r` or `\n`, each on its own) ends the line.
//! Tab completion is not modelled (the byte is ignored; see docs/compat.md).
//! Plain serde data; no I/O.

use serde::{Deserialize, Serialize};

/// Longest command line, in bytes (0.14's `READLINE_CMD_BUF_SIZE`); further
/// bytes are dropped.
pub const CMD_BUF_BYTES_MAX: usize = 4095;
/// History entries kept (0.14's `READLINE_MAX_CMDS`); the oldest goes first.
pub const HISTORY_ENTRIES_MAX: usize = 64;

/// Escape-sequence state (0.14's `IS_NORM`, `IS_ESC`, `IS_CSI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Esc {
    /// Plain bytes.
    Norm,
    /// After `ESC`.
    Esc,
    /// After `ESC [` (or the one-byte CSI, 0x9b).
    Csi,
}

/// One monitor's line editor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readline {
    /// The line being edited.
    cmd_buf: Vec<u8>,
    /// The cursor.
    cmd_buf_index: usize,
    /// The line as last echoed.
    last_cmd_buf: Vec<u8>,
    /// The cursor as last echoed.
    last_cmd_buf_index: usize,
    /// Escape-sequence state.
    esc_state: Esc,
    /// The number of a `ESC [ N ~` sequence.
    esc_param: u32,
    /// Earlier lines, oldest first.
    history: Vec<Vec<u8>>,
    /// The history entry being edited, if any (0.14's `hist_entry`, -1 as `None`).
    hist_entry: Option<usize>,
}

impl Default for Readline {
    fn default() -> Self {
        Readline::new()
    }
}

impl Readline {
    /// An empty line and history.
    pub fn new() -> Self {
        Readline {
            cmd_buf: Vec::new(),
            cmd_buf_index: 0,
            last_cmd_buf: Vec::new(),
            last_cmd_buf_index: 0,
            esc_state: Esc::Norm,
            esc_param: 0,
            history: Vec::new(),
            hist_entry: None,
        }
    }

    /// `readline_show_prompt`'s bookkeeping: the prompt was just printed, so
    /// nothing of the line is on the screen.
    pub fn prompt_shown(&mut self) {
        self.last_cmd_buf.clear();
        self.last_cmd_buf_index = 0;
        self.esc_state = Esc::Norm;
    }

    /// `readline_restart`: drops the line being edited (the multiplexer gave
    /// the monitor the focus back).
    pub fn restart(&mut self) {
        self.cmd_buf.clear();
        self.cmd_buf_index = 0;
    }

    /// Handles one byte; appends the echo to `echo`. Returns the finished
    /// line when the byte was Enter (its echo, a newline, is already in `echo`).
    pub fn byte(&mut self, ch: u8, echo: &mut String) -> Option<Vec<u8>> {
        match self.esc_state {
            Esc::Norm => {
                if let Some(line) = self.norm(ch, echo) {
                    return Some(line);
                }
            }
            Esc::Esc => {
                if ch == b'[' {
                    self.esc_state = Esc::Csi;
                    self.esc_param = 0;
                } else {
                    self.esc_state = Esc::Norm;
                }
            }
            Esc::Csi => {
                if ch.is_ascii_digit() {
                    self.esc_param = self
                        .esc_param
                        .saturating_mul(10)
                        .saturating_add(u32::from(ch - b'0'));
                } else {
                    self.csi(ch);
                    self.esc_state = Esc::Norm;
                }
            }
        }
        self.update(echo);
        None
    }

    /// A byte in plain state; the finished line on Enter.
    fn norm(&mut self, ch: u8, echo: &mut String) -> Option<Vec<u8>> {
        match ch {
            1 => self.cmd_buf_index = 0,
            4 => self.delete_char(),
            5 => self.cmd_buf_index = self.cmd_buf.len(),
            // Tab: completion is not modelled.
            9 => {}
            10 | 13 => return Some(self.enter(echo)),
            23 => self.backword(),
            27 => self.esc_state = Esc::Esc,
            127 | 8 => self.backspace(),
            155 => self.esc_state = Esc::Csi,
            c if c >= 32 => self.insert_char(c),
            _ => {}
        }
        None
    }

    /// The end of a `ESC [` sequence.
    fn csi(&mut self, ch: u8) {
        match ch {
            b'A' | b'F' => self.up(),
            b'B' | b'E' => self.down(),
            b'D' => self.cmd_buf_index = self.cmd_buf_index.saturating_sub(1),
            b'C' if self.cmd_buf_index < self.cmd_buf.len() => self.cmd_buf_index += 1,
            b'~' => match self.esc_param {
                1 => self.cmd_buf_index = 0,
                3 => self.delete_char(),
                4 => self.cmd_buf_index = self.cmd_buf.len(),
                _ => {}
            },
            _ => {}
        }
    }

    /// Enter: the line goes to the history and is returned; the editor starts
    /// a new, empty line (nothing of it is on the screen).
    fn enter(&mut self, echo: &mut String) -> Vec<u8> {
        let line = std::mem::take(&mut self.cmd_buf);
        self.hist_add(&line);
        echo.push('\n');
        self.cmd_buf_index = 0;
        self.last_cmd_buf.clear();
        self.last_cmd_buf_index = 0;
        line
    }

    fn insert_char(&mut self, ch: u8) {
        if self.cmd_buf.len() < CMD_BUF_BYTES_MAX {
            self.cmd_buf.insert(self.cmd_buf_index, ch);
            self.cmd_buf_index += 1;
        }
    }

    fn delete_char(&mut self) {
        if self.cmd_buf_index < self.cmd_buf.len() {
            self.cmd_buf.remove(self.cmd_buf_index);
        }
    }

    fn backspace(&mut self) {
        if self.cmd_buf_index > 0 {
            self.cmd_buf_index -= 1;
            self.delete_char();
        }
    }

    /// `^W`: removes the word before the cursor (and the blanks after it).
    fn backword(&mut self) {
        let index = self.cmd_buf_index;
        if index == 0 || index > self.cmd_buf.len() {
            return;
        }
        let space = |i: usize| self.cmd_buf[i].is_ascii_whitespace();
        let mut start = index - 1;
        while start > 0 && space(start) {
            start -= 1;
        }
        while start > 0 {
            if space(start) {
                start += 1;
                break;
            }
            start -= 1;
        }
        if start < index {
            self.cmd_buf.drain(start..index);
            self.cmd_buf_index = start;
        }
    }

    fn up(&mut self) {
        let entry = match self.hist_entry {
            Some(0) => return,
            Some(n) => n,
            None => self.history.len(),
        };
        if entry == 0 {
            // An empty history: 0.14 leaves hist_entry at -1.
            return;
        }
        self.hist_entry = Some(entry - 1);
        self.cmd_buf = self.history[entry - 1].clone();
        self.cmd_buf_index = self.cmd_buf.len();
    }

    fn down(&mut self) {
        let Some(entry) = self.hist_entry else {
            return;
        };
        if entry == HISTORY_ENTRIES_MAX - 1 {
            return;
        }
        match self.history.get(entry + 1) {
            Some(line) => {
                self.hist_entry = Some(entry + 1);
                self.cmd_buf = line.clone();
            }
            None => self.hist_entry = None,
        }
        self.cmd_buf_index = self.cmd_buf.len();
    }

    /// `readline_hist_add`: a line already in the history moves to its end;
    /// a new one is appended, the oldest dropped past [`HISTORY_ENTRIES_MAX`].
    fn hist_add(&mut self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        if let Some(at) = self.history.iter().position(|h| h == line) {
            self.history.remove(at);
        } else if self.history.len() == HISTORY_ENTRIES_MAX {
            self.history.remove(0);
        }
        self.history.push(line.to_vec());
        self.hist_entry = None;
    }

    /// `readline_update`: echoes what changed since the last echo.
    fn update(&mut self, echo: &mut String) {
        if self.cmd_buf != self.last_cmd_buf {
            for _ in 0..self.last_cmd_buf_index {
                echo.push_str("\x1b[D");
            }
            echo.push_str(&String::from_utf8_lossy(&self.cmd_buf));
            echo.push_str("\x1b[K");
            self.last_cmd_buf.clone_from(&self.cmd_buf);
            self.last_cmd_buf_index = self.cmd_buf.len();
        }
        let (now, last) = (self.cmd_buf_index, self.last_cmd_buf_index);
        let step = if now > last { "\x1b[C" } else { "\x1b[D" };
        for _ in 0..now.abs_diff(last) {
            echo.push_str(step);
        }
        self.last_cmd_buf_index = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes`; returns the echo and the lines finished.
    fn feed(r: &mut Readline, bytes: &[u8]) -> (String, Vec<String>) {
        let mut echo = String::new();
        let mut lines = Vec::new();
        for &b in bytes {
            if let Some(line) = r.byte(b, &mut echo) {
                lines.push(String::from_utf8_lossy(&line).into_owned());
            }
        }
        (echo, lines)
    }

    #[test]
    fn typing_echoes_each_byte_by_redrawing_the_line() {
        let (echo, _) = feed(&mut Readline::new(), b"ab");
        assert_eq!(echo, "a\x1b[K\x1b[Dab\x1b[K");
    }

    #[test]
    fn enter_returns_the_line_and_echoes_a_newline() {
        let (echo, lines) = feed(&mut Readline::new(), b"q\r");
        assert_eq!((echo.as_str(), lines), ("q\x1b[K\n", vec!["q".to_owned()]));
    }

    /// The lines a fresh line editor gives for what is typed.
    #[test]
    fn edited_lines() {
        let cases: [(&str, &[u8], &[&str]); 9] = [
            ("CR then LF: two lines", b"x\r\n", &["x", ""]),
            ("backspace, ^H", b"infx\x7f\x08o status\n", &["ino status"]),
            (
                "^W: the last word goes",
                b"info status\x17block\n",
                &["info block"],
            ),
            ("left, then insert", b"ac\x1b[Db\n", &["abc"]),
            ("home, then delete", b"xinfo\x1b[1~\x1b[3~\n", &["info"]),
            (
                "up recalls",
                b"info kvm\n\x1b[A\n",
                &["info kvm", "info kvm"],
            ),
            ("up, no history", b"a\x1b[A\n", &["a"]),
            (
                "down past the newest",
                b"one\ntwo\n\x1b[A\x1b[A\x1b[B\x1b[B\n",
                &["one", "two", "two"],
            ),
            ("other controls ignored", b"a\x02\x00b\tc\n", &["abc"]),
        ];
        for (what, typed, want) in cases {
            let (_, lines) = feed(&mut Readline::new(), typed);
            assert_eq!(lines, want, "{what}");
        }
    }

    #[test]
    fn backspace_echo_redraws_the_shorter_line() {
        let mut r = Readline::new();
        feed(&mut r, b"ab");
        let (echo, _) = feed(&mut r, b"\x7f");
        assert_eq!(echo, "\x1b[D\x1b[Da\x1b[K");
    }

    #[test]
    fn line_reaching_buffer_limit_keeps_every_byte() {
        let mut bytes = vec![b'x'; CMD_BUF_BYTES_MAX];
        bytes.push(b'\n');
        let (_, lines) = feed(&mut Readline::new(), &bytes);
        assert_eq!(lines[0].len(), CMD_BUF_BYTES_MAX);
    }

    #[test]
    fn line_past_buffer_limit_drops_the_extra_bytes() {
        let mut bytes = vec![b'x'; CMD_BUF_BYTES_MAX + 1];
        bytes.push(b'\n');
        let (_, lines) = feed(&mut Readline::new(), &bytes);
        assert_eq!(lines[0].len(), CMD_BUF_BYTES_MAX);
    }

    /// A readline after `n` distinct lines `l0`, `l1`, ...
    fn with_history(n: usize) -> Readline {
        let mut r = Readline::new();
        (0..n).for_each(|i| {
            feed(&mut r, format!("l{i}\n").as_bytes());
        });
        r
    }

    #[test]
    fn history_reaching_limit_keeps_the_oldest() {
        let r = with_history(HISTORY_ENTRIES_MAX);
        assert_eq!(r.history[0], b"l0");
    }

    #[test]
    fn history_past_limit_drops_the_oldest() {
        let r = with_history(HISTORY_ENTRIES_MAX + 1);
        assert_eq!(
            (r.history.len(), r.history[0].as_slice()),
            (HISTORY_ENTRIES_MAX, &b"l1"[..])
        );
    }

    #[test]
    fn repeated_line_moves_to_the_end_of_history() {
        let mut r = Readline::new();
        feed(&mut r, b"a\nb\na\n");
        assert_eq!(r.history, [b"b".to_vec(), b"a".to_vec()]);
    }
}
