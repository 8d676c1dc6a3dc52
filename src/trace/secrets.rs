//! Masking of the passwords a trace holds, for every tool that shows a trace
//! to people or hands it on (`trace dump`, `trace export`): one function, so
//! the tools cannot disagree about what is a secret.
//!
//! What is masked, as `********`:
//! - over QMP, the string value of every `password` member (`set_password`,
//!   `block_passwd`) and the `arg` of a `change` whose `target` is `password`;
//! - over HMP (a human monitor's input, its echo, or the `command-line` of
//!   `human-monitor-command`), the password word of `change vnc password PW`,
//!   `set_password PROTOCOL PW [...]` and `block_passwd DEVICE PW`.
//!
//! The masking works on the text, not on parsed JSON, so it also masks a message
//! cut across reads as far as it can see it, and a human monitor's echo, which
//! redraws the line after every key (the password's length still shows in the
//! cursor moves that follow each redraw). It is a display aid for sharing a
//! trace, not a guarantee: the trace file itself keeps every byte (replay needs
//! them). Pure: bytes in, bytes out.

use std::borrow::Cow;

/// What the mask of a secret looks like.
pub const SECRET_MASK: &str = "********";

/// HMP commands with a password argument: the command's words, then how many
/// words come between them and the password.
const HMP_PASSWORD_COMMANDS: [(&[u8], usize); 3] = [
    (b"change vnc password", 0),
    (b"set_password", 1),
    (b"block_passwd", 1),
];

/// What a client sent, with its passwords masked unless `show_secrets`.
pub fn mask_sent_unless(data: &[u8], show_secrets: bool) -> Cow<'_, [u8]> {
    if show_secrets {
        Cow::Borrowed(data)
    } else {
        Cow::Owned(mask_secrets(data))
    }
}

/// What the VM sent a client, with the passwords of a human monitor's echo
/// masked unless `show_secrets`.
pub fn mask_received_unless(data: &[u8], show_secrets: bool) -> Cow<'_, [u8]> {
    if show_secrets || !data.contains(&ESC) {
        Cow::Borrowed(data)
    } else {
        Cow::Owned(mask_echo(data))
    }
}

/// Masks the passwords in bytes a client sent: see the module doc for what
/// counts as one.
pub fn mask_secrets(data: &[u8]) -> Vec<u8> {
    let mut out = mask_member(data, b"password");
    if has_string(&out, b"target", b"password") {
        out = mask_member(&out, b"arg");
    }
    for (command, skip) in HMP_PASSWORD_COMMANDS {
        out = mask_hmp_word(&out, command, skip, false);
    }
    out
}

/// Masks the passwords in a human monitor's echo of a line being typed.
pub fn mask_echo(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for (command, skip) in HMP_PASSWORD_COMMANDS {
        out = mask_hmp_word(&out, command, skip, true);
    }
    out
}

/// Replaces the contents of the string value of every member named `key`.
fn mask_member(data: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if let Some((value_start, value_end)) = member_value_at(data, i, key) {
            out.extend_from_slice(&data[i..=value_start]);
            out.extend_from_slice(SECRET_MASK.as_bytes());
            i = value_end;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// When a quoted `key` starts at `i` and a string value follows after `:`, the
/// index of the value's opening quote and of its closing quote (or the end).
fn member_value_at(data: &[u8], i: usize, key: &[u8]) -> Option<(usize, usize)> {
    let quote = *data.get(i)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let after_key = i + 1 + key.len();
    if data.get(i + 1..after_key)? != key || data.get(after_key) != Some(&quote) {
        return None;
    }
    let mut j = skip_blanks(data, after_key + 1);
    if data.get(j) != Some(&b':') {
        return None;
    }
    j = skip_blanks(data, j + 1);
    let open = *data.get(j)?;
    if open != b'"' && open != b'\'' {
        return None;
    }
    Some((j, string_end(data, j + 1, open)))
}

/// The first index at or after `from` that is not ASCII whitespace.
fn skip_blanks(data: &[u8], from: usize) -> usize {
    let mut j = from;
    while data.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    j
}

/// Index of the closing `quote` of a string whose contents start at `from`, or
/// the end of `data`.
fn string_end(data: &[u8], from: usize, quote: u8) -> usize {
    let mut k = from;
    while k < data.len() {
        match data[k] {
            b'\\' => k += 2,
            b if b == quote => return k,
            _ => k += 1,
        }
    }
    data.len()
}

/// Whether member `key` has the string value `value`.
fn has_string(data: &[u8], key: &[u8], value: &[u8]) -> bool {
    (0..data.len()).any(|i| {
        member_value_at(data, i, key).is_some_and(|(open, close)| &data[open + 1..close] == value)
    })
}

/// Masks the password word of every HMP `command` in `data`: the word after
/// `skip` more words. With `echo_only`, only a word that an escape sequence
/// ends (a human monitor's redraw of the line being typed) counts, so the
/// monitor's other output (`help set_password`) is left alone.
fn mask_hmp_word(data: &[u8], command: &[u8], skip: usize, echo_only: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        match hmp_password_at(data, i, command, skip) {
            Some((start, end)) if !echo_only || data.get(end) == Some(&ESC) => {
                out.extend_from_slice(&data[i..start]);
                out.extend_from_slice(SECRET_MASK.as_bytes());
                i = end;
            }
            _ => {
                out.push(data[i]);
                i += 1;
            }
        }
    }
    out
}

/// The escape byte that starts a terminal control sequence.
const ESC: u8 = 0x1b;

/// When `command` starts a command line at `i` (at the start of the data, of a
/// line, of a string, after a blank or after a cursor move of an echo) and is
/// followed by `skip` words and then a password word, that word's start and
/// end.
fn hmp_password_at(data: &[u8], i: usize, command: &[u8], skip: usize) -> Option<(usize, usize)> {
    let starts_line = i == 0
        || matches!(data[i - 1], b'\n' | b'\r' | b'"' | b'\'' | b' ' | b'\t')
        || data[..i].ends_with(b"\x1b[D");
    if !starts_line || !data[i..].starts_with(command) {
        return None;
    }
    let mut at = i + command.len();
    let mut word = (at, at);
    for _ in 0..=skip {
        let start = skip_spaces(data, at);
        let end = word_end(data, start);
        if start == at || end == start {
            return None;
        }
        word = (start, end);
        at = end;
    }
    Some(word)
}

/// The first index at or after `from` that is not a space or a tab.
fn skip_spaces(data: &[u8], from: usize) -> usize {
    let mut j = from;
    while matches!(data.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    j
}

/// The end of the HMP word starting at `from`. A quoted word (`"a b"`, or
/// `\"a b\"` inside a JSON string) runs past its closing quote. Another word
/// ends at a blank, a line end, an escape sequence (a monitor's echo), or an
/// unescaped quote (the end of the string that holds the command line).
fn word_end(data: &[u8], from: usize) -> usize {
    let rest = &data[from..];
    let closing = |open: usize, close: &[u8]| {
        rest[open..]
            .windows(close.len())
            .position(|w| w == close)
            .map_or(data.len(), |p| from + open + p + close.len())
    };
    if rest.starts_with(b"\\\"") {
        return closing(2, b"\\\"");
    }
    if rest.starts_with(b"\"") {
        return closing(1, b"\"");
    }
    let mut j = from;
    while let Some(&b) = data.get(j) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | ESC | b'"' | b'\'' => break,
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    j.min(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(data: &str) -> String {
        String::from_utf8(mask_secrets(data.as_bytes())).unwrap()
    }

    fn echo_masked(data: &str) -> String {
        String::from_utf8(mask_echo(data.as_bytes())).unwrap()
    }

    #[test]
    fn set_password_over_qmp_is_masked() {
        assert_eq!(
            masked(
                r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"s3cret"}}"#
            ),
            r#"{"execute":"set_password","arguments":{"protocol":"vnc","password":"********"}}"#
        );
    }

    #[test]
    fn block_passwd_over_qmp_with_single_quotes_is_masked() {
        assert_eq!(
            masked(
                r#"{'execute': 'block_passwd', 'arguments': {'device': 'ide0-hd0', 'password': 'x'}}"#
            ),
            r#"{'execute': 'block_passwd', 'arguments': {'device': 'ide0-hd0', 'password': '********'}}"#
        );
    }

    #[test]
    fn change_with_password_target_masks_its_arg() {
        assert_eq!(
            masked(
                r#"{"execute":"change","arguments":{"device":"vnc","target":"password","arg":"x"}}"#
            ),
            r#"{"execute":"change","arguments":{"device":"vnc","target":"password","arg":"********"}}"#
        );
    }

    #[test]
    fn change_of_a_medium_is_left_alone() {
        let text =
            r#"{"execute":"change","arguments":{"device":"ide1-cd0","target":"/tmp/a.iso"}}"#;
        assert_eq!(masked(text), text);
    }

    #[test]
    fn hmp_change_vnc_password_in_a_command_line_is_masked() {
        assert_eq!(
            masked(
                r#"{"execute":"human-monitor-command","arguments":{"command-line":"change vnc password x"}}"#
            ),
            r#"{"execute":"human-monitor-command","arguments":{"command-line":"change vnc password ********"}}"#
        );
    }

    #[test]
    fn hmp_set_password_masks_only_the_password_word() {
        assert_eq!(
            masked("set_password  vnc s3cret keep\r\n"),
            "set_password  vnc ******** keep\r\n"
        );
    }

    #[test]
    fn hmp_block_passwd_on_a_later_line_is_masked() {
        assert_eq!(
            masked("info status\nblock_passwd ide0-hd0 s3cret\n"),
            "info status\nblock_passwd ide0-hd0 ********\n"
        );
    }

    #[test]
    fn hmp_quoted_password_is_masked_whole() {
        assert_eq!(
            masked("change vnc password \"a b\"\n"),
            "change vnc password ********\n"
        );
    }

    #[test]
    fn hmp_quoted_password_inside_json_is_masked_whole() {
        assert_eq!(
            masked(r#"{"command-line":"set_password vnc \"a b\" fail"}"#),
            r#"{"command-line":"set_password vnc ******** fail"}"#
        );
    }

    #[test]
    fn hmp_command_without_password_word_is_left_alone() {
        assert_eq!(masked("set_password vnc\n"), "set_password vnc\n");
    }

    #[test]
    fn word_inside_another_is_not_a_command() {
        let text = "xset_password vnc s3cret\n";
        assert_eq!(masked(text), text);
    }

    #[test]
    fn echo_redraws_of_a_password_are_masked() {
        assert_eq!(
            echo_masked("set_password vnc s\x1b[K\x1b[D\x1b[Dset_password vnc s3\x1b[K\r\n"),
            "set_password vnc ********\x1b[K\x1b[D\x1b[Dset_password vnc ********\x1b[K\r\n"
        );
    }

    #[test]
    fn help_output_naming_the_password_argument_is_left_alone() {
        let text =
            "set_password protocol password action-if-connected -- set spice/vnc password\r\n";
        assert_eq!(echo_masked(text), text);
    }

    #[test]
    fn show_secrets_leaves_bytes_as_sent() {
        let text = br#"{"password":"x"}"#;
        assert_eq!(&*mask_sent_unless(text, true), text);
    }

    #[test]
    fn received_bytes_without_escape_are_not_copied() {
        let text = b"set_password protocol password\r\n";
        assert!(matches!(
            mask_received_unless(text, false),
            Cow::Borrowed(_)
        ));
    }
}
