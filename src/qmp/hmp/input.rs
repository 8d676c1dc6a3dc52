//! The human monitor's input commands: `sendkey` (checked as monitor.c's
//! `do_sendkey` checks key names), `mouse_move` and `mouse_button`. The events
//! reach a guest the model does not simulate typing into, so nothing QMP shows
//! changes. Pure.

use std::fmt::Write as _;

use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;

/// Keys one `sendkey` presses at most (0.14's `MAX_KEYCODES`).
pub const SENDKEY_KEYS_MAX: usize = 16;
/// Longest key name 0.14 reads (`char keyname_buf[16]`).
const KEY_NAME_BYTES_MAX: usize = 15;

/// 0.14's `key_defs` names.
const KEY_NAMES: &[&str] = &[
    "shift",
    "shift_r",
    "alt",
    "alt_r",
    "altgr",
    "altgr_r",
    "ctrl",
    "ctrl_r",
    "menu",
    "esc",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "0",
    "minus",
    "equal",
    "backspace",
    "tab",
    "q",
    "w",
    "e",
    "r",
    "t",
    "y",
    "u",
    "i",
    "o",
    "p",
    "bracket_left",
    "bracket_right",
    "ret",
    "a",
    "s",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "semicolon",
    "apostrophe",
    "grave_accent",
    "backslash",
    "z",
    "x",
    "c",
    "v",
    "b",
    "n",
    "m",
    "comma",
    "dot",
    "slash",
    "asterisk",
    "spc",
    "caps_lock",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "f6",
    "f7",
    "f8",
    "f9",
    "f10",
    "num_lock",
    "scroll_lock",
    "kp_divide",
    "kp_multiply",
    "kp_subtract",
    "kp_add",
    "kp_enter",
    "kp_decimal",
    "sysrq",
    "kp_0",
    "kp_1",
    "kp_2",
    "kp_3",
    "kp_4",
    "kp_5",
    "kp_6",
    "kp_7",
    "kp_8",
    "kp_9",
    "<",
    "f11",
    "f12",
    "print",
    "home",
    "pgup",
    "pgdn",
    "end",
    "left",
    "up",
    "down",
    "right",
    "insert",
    "delete",
    "stop",
    "again",
    "props",
    "undo",
    "front",
    "copy",
    "open",
    "paste",
    "find",
    "cut",
    "lf",
    "help",
    "meta_l",
    "meta_r",
    "compose",
];

/// `get_keycode`: a name of the table, or `0x01`..`0xff`.
fn key_known(name: &str) -> bool {
    if KEY_NAMES.contains(&name) {
        return true;
    }
    name.strip_prefix("0x")
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .is_some_and(|code| (0x01..=0xff).contains(&code))
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn clipped(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `sendkey KEYS [HOLD_MS]`: `-`-separated key names, checked one by one.
pub fn sendkey(_ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let mut pressed = 0;
    let mut rest = args.str("string");
    loop {
        let (name, next) = match rest.split_once('-') {
            Some((name, next)) => (name, Some(next)),
            None => (rest, None),
        };
        if !name.is_empty() {
            if name.len() > KEY_NAME_BYTES_MAX {
                // 0.14 copies the rest of the string into its buffer first.
                let _ = writeln!(
                    out,
                    "invalid key: '{}...'",
                    clipped(rest, KEY_NAME_BYTES_MAX)
                );
                return;
            }
            if pressed == SENDKEY_KEYS_MAX {
                out.push_str("too many keys\n");
                return;
            }
            if !key_known(name) {
                let _ = writeln!(out, "unknown key: '{name}'");
                return;
            }
            pressed += 1;
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
}

/// `mouse_move DX DY [DZ]`: 0.14 reads each with `strtol` and checks nothing.
pub fn mouse_move(_ctx: &mut Ctx<'_>, _args: Args<'_>, _out: &mut String) {}

/// `mouse_button STATE`: the new button state goes to the guest.
pub fn mouse_button(_ctx: &mut Ctx<'_>, _args: Args<'_>, _out: &mut String) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendkey_refuses_too_many_keys_and_too_long_names() {
        let keys = |n: usize| vec!["a"; n].join("-");
        let mut m = crate::machine::Machine::new(crate::machine::config::MachineConfig::default());
        for (line, want) in [
            (format!("sendkey {}", keys(SENDKEY_KEYS_MAX)), ""),
            (
                format!("sendkey {}", keys(SENDKEY_KEYS_MAX + 1)),
                "too many keys\n",
            ),
            (
                "sendkey ctrl-abcdefghijklmnop-a".to_owned(),
                "invalid key: 'abcdefghijklmno...'\n",
            ),
            ("sendkey ctrl-bogus".to_owned(), "unknown key: 'bogus'\n"),
        ] {
            assert_eq!(crate::qmp::hmp::printed(&mut m, &line), want, "{line}");
        }
    }

    #[test]
    fn key_known_takes_names_and_hex_codes() {
        assert_eq!(
            ["ctrl", "0x1d", "0xff", "0x00", "0x100", "bogus"].map(key_known),
            [true, true, true, false, false, false]
        );
    }
}
