//! The terminal on standard input, as QEMU 0.14's stdio chardev sets it
//! (`qemu-char.c`, `term_init`): when stdin is a terminal, the stdio monitor
//! puts it in raw mode (no echo, no line editing: the monitor's readline echoes
//! and edits), keeps output post-processing, and lets Ctrl-C raise SIGINT only
//! without `-nographic` (with it, Ctrl-C is a byte for the guest or the
//! monitor, as in 0.14). The terminal's settings are put back when the process
//! exits (0.14's `term_exit`, an `atexit` handler).
//!
//! Standard input that is not a terminal (a pipe, a file) is left as it is.

use std::io;
use std::sync::OnceLock;

/// The terminal settings stdin had before raw mode, for the exit handler.
static SAVED: OnceLock<libc::termios> = OnceLock::new();

/// Puts stdin in 0.14's raw mode if it is a terminal, once per process.
/// `signals`: Ctrl-C and friends still raise signals (0.14's `signal=on`,
/// the default without `-nographic`). Returns whether stdin is a terminal.
pub fn raw_stdin(signals: bool) -> io::Result<bool> {
    // SAFETY: isatty only inspects descriptor 0.
    if unsafe { libc::isatty(libc::STDIN_FILENO) } != 1 {
        return Ok(false);
    }
    if SAVED.get().is_some() {
        return Ok(true);
    }
    // SAFETY: termios is plain data; tcgetattr fills it for descriptor 0.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let tty = raw(old, signals);
    if SAVED.set(old).is_ok() {
        // SAFETY: `restore` is an extern "C" fn with no arguments that only
        // calls tcsetattr with the saved settings.
        unsafe { libc::atexit(restore) };
    }
    // SAFETY: `tty` is a valid termios for descriptor 0.
    if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &tty) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// 0.14's `term_init` applied to `tty`.
fn raw(mut tty: libc::termios, signals: bool) -> libc::termios {
    tty.c_iflag &= !(libc::IGNBRK
        | libc::BRKINT
        | libc::PARMRK
        | libc::ISTRIP
        | libc::INLCR
        | libc::IGNCR
        | libc::ICRNL
        | libc::IXON);
    tty.c_oflag |= libc::OPOST;
    tty.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::IEXTEN);
    if !signals {
        tty.c_lflag &= !libc::ISIG;
    }
    tty.c_cflag &= !(libc::CSIZE | libc::PARENB);
    tty.c_cflag |= libc::CS8;
    tty.c_cc[libc::VMIN] = 1;
    tty.c_cc[libc::VTIME] = 0;
    tty
}

/// The exit handler: puts the saved settings back (0.14's `term_exit`).
extern "C" fn restore() {
    if let Some(old) = SAVED.get() {
        // SAFETY: `old` came from tcgetattr on the same descriptor.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, old) };
    }
}

#[cfg(test)]
mod tests {
    use super::raw;

    fn cooked() -> libc::termios {
        // SAFETY: termios is plain data.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        t.c_iflag = libc::ICRNL | libc::IXON | libc::BRKINT;
        t.c_oflag = libc::OPOST | libc::ONLCR;
        t.c_lflag = libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN | libc::ECHOE;
        t.c_cflag = libc::CS7 | libc::PARENB | libc::CREAD;
        t
    }

    #[test]
    fn raw_mode_turns_off_echo_and_line_editing_and_keeps_output_processing() {
        let t = raw(cooked(), true);
        assert_eq!(t.c_lflag & (libc::ECHO | libc::ICANON | libc::IEXTEN), 0);
        assert_eq!(t.c_iflag & (libc::ICRNL | libc::IXON | libc::BRKINT), 0);
        assert_eq!(t.c_oflag, libc::OPOST | libc::ONLCR);
        assert_eq!(t.c_cflag & libc::CSIZE, libc::CS8);
        assert_eq!(t.c_cflag & libc::PARENB, 0);
        assert_ne!(t.c_cflag & libc::CREAD, 0, "other flags stay");
        assert_ne!(t.c_lflag & libc::ECHOE, 0, "other flags stay");
        assert_eq!((t.c_cc[libc::VMIN], t.c_cc[libc::VTIME]), (1, 0));
    }

    #[test]
    fn signals_stay_only_when_asked() {
        assert_ne!(raw(cooked(), true).c_lflag & libc::ISIG, 0);
        assert_eq!(raw(cooked(), false).c_lflag & libc::ISIG, 0);
    }
}
