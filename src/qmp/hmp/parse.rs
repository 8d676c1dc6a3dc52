//! HMP argument parsing (0.14 `monitor_parse_command`): walks an `args_type` in
//! order over the rest of the command line and builds the QDict the QMP handler
//! takes. Errors are the monitor's one-line texts. Pure.

use crate::wire::{QDict, QObject};

/// Parses `rest` for command `cmd` with HMP `args_type`.
pub fn args(cmd: &str, args_type: &str, rest: &str) -> Result<QDict, String> {
    let mut p = Cursor { s: rest, pos: 0 };
    let mut out = QDict::new();
    for item in args_type.split(',').filter(|s| !s.is_empty()) {
        let Some((name, ty)) = item.split_once(':') else {
            continue;
        };
        let kind = ty.as_bytes()[0];
        let optional = ty.as_bytes().get(1) == Some(&b'?');
        if kind == b'-' {
            let flag = &ty[1..];
            if p.try_flag(flag) {
                out.put(name, true);
            }
            continue;
        }
        p.skip_ws();
        if p.at_end() {
            if optional || kind == b'O' {
                continue;
            }
            return Err(missing(cmd, kind));
        }
        let value = match kind {
            b'F' | b'B' | b's' => QObject::Str(p.word()?),
            b'O' => {
                let text = p.rest().trim().to_owned();
                p.pos = p.s.len();
                for (k, v) in opts(&text, implied_key(name)) {
                    out.put(&k, v);
                }
                continue;
            }
            b'i' | b'l' | b'o' | b'M' => {
                let word = p.word()?;
                let n = integer(&word, kind == b'o')
                    .ok_or_else(|| "invalid char in expression".to_owned())?;
                QObject::Int(if kind == b'M' {
                    n.saturating_mul(1 << 20)
                } else {
                    n
                })
            }
            b'T' => {
                let word = p.word()?;
                QObject::Float(word.parse().map_err(|_| format!("{cmd}: invalid number"))?)
            }
            b'b' => match p.word()?.as_str() {
                "on" => QObject::Bool(true),
                "off" => QObject::Bool(false),
                _ => return Err("Expected 'on' or 'off'".to_owned()),
            },
            _ => QObject::Str(p.word()?),
        };
        out.put(name, value);
    }
    p.skip_ws();
    if !p.at_end() {
        return Err(format!("{cmd}: extraneous characters at the end of line"));
    }
    Ok(out)
}

fn missing(cmd: &str, kind: u8) -> String {
    match kind {
        b'F' => format!("{cmd}: filename expected"),
        b'B' => format!("{cmd}: block device name expected"),
        b'i' | b'l' | b'o' | b'M' | b'T' => format!("{cmd}: integer expected"),
        b'b' => "Expected 'on' or 'off'".to_owned(),
        _ => format!("{cmd}: string expected"),
    }
}

/// The implied first key of an option list argument (`-device` → driver).
fn implied_key(arg: &str) -> &'static str {
    match arg {
        "device" => "driver",
        _ => "type",
    }
}

/// `driver,key=value,flag` → ordered pairs (values stay strings, as QemuOpts).
pub fn opts(text: &str, implied: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, part) in text.split(',').enumerate().filter(|(_, p)| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
            None if i == 0 => out.push((implied.to_owned(), part.to_owned())),
            None => out.push((part.to_owned(), "on".to_owned())),
        }
    }
    out
}

/// Decimal or `0x` hex, optionally with a k/M/G/T size suffix.
fn integer(word: &str, sized: bool) -> Option<i64> {
    let (digits, shift) = match word.chars().last() {
        Some('k' | 'K') if sized => (&word[..word.len() - 1], 10),
        Some('m' | 'M') if sized => (&word[..word.len() - 1], 20),
        Some('g' | 'G') if sized => (&word[..word.len() - 1], 30),
        Some('t' | 'T') if sized => (&word[..word.len() - 1], 40),
        _ => (word, 0),
    };
    let (neg, digits) = digits
        .strip_prefix('-')
        .map_or((false, digits), |d| (true, d));
    let n = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    let n = n.checked_mul(1_i64 << shift)?;
    Some(if neg { -n } else { n })
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }
    fn try_flag(&mut self, flag: &str) -> bool {
        self.skip_ws();
        let all = self.s;
        let rest = &all[self.pos..];
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if rest[..word_end].strip_prefix('-') == Some(flag) {
            self.pos += word_end;
            return true;
        }
        false
    }
    /// A bare word, or a double-quoted string with `\n \r \\ \' \"` escapes.
    fn word(&mut self) -> Result<String, String> {
        let all = self.s;
        let rest = &all[self.pos..];
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.pos += 1 + i + 1;
                        return Ok(out);
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => out.push('\n'),
                        Some((_, 'r')) => out.push('\r'),
                        Some((_, e @ ('\\' | '\'' | '"'))) => out.push(e),
                        Some((_, e)) => return Err(format!("unsupported escape code: '\\{e}'")),
                        None => break,
                    },
                    _ => out.push(c),
                }
            }
            return Err("unterminated string".to_owned());
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.pos += end;
        Ok(rest[..end].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eject_with_force_flag() {
        let a = args("eject", "force:-f,device:B", "-f ide1-cd0").unwrap();
        assert_eq!(
            QObject::Dict(a).to_json(),
            r#"{"device": "ide1-cd0", "force": true}"#
        );
    }

    #[test]
    fn missing_block_device_message() {
        assert_eq!(
            args("eject", "force:-f,device:B", "").unwrap_err(),
            "eject: block device name expected"
        );
    }

    #[test]
    fn extraneous_characters_rejected() {
        assert_eq!(
            args("stop", "", " x").unwrap_err(),
            "stop: extraneous characters at the end of line"
        );
    }

    #[test]
    fn balloon_megabytes_become_bytes() {
        let a = args("balloon", "value:M", "512").unwrap();
        assert_eq!(a.get_int("value"), Some(512 << 20));
    }

    #[test]
    fn device_add_options_use_driver_as_implied_key() {
        let a = args(
            "device_add",
            "device:O",
            "e1000,id=nic1,mac=52:54:00:00:00:01",
        )
        .unwrap();
        assert_eq!(a.get_str("driver"), Some("e1000"));
        assert_eq!(a.get_str("id"), Some("nic1"));
    }

    #[test]
    fn quoted_string_with_escape() {
        let a = args(
            "change",
            "device:B,target:F,arg:s?",
            r#"ide1-cd0 "/tmp/a b.iso""#,
        )
        .unwrap();
        assert_eq!(a.get_str("target"), Some("/tmp/a b.iso"));
    }
}
