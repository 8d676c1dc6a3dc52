//! HMP command-line parsing, a port of 0.14's `monitor_parse_command`: the
//! command name, then the `args_type` walked in order over the rest of the line,
//! building the QDict the handler takes. Types: `F` `B` `s` (a word or a quoted
//! string), `O` (a QemuOpts string), `/` (a print format), `i` `l` `M` (integer
//! expressions, `M` in MiB), `o` (a size, MiB without suffix), `T` (seconds,
//! with `ms`/`us`/`ns` suffixes), `b` (`on`/`off`) and `-x` flags, each with
//! 0.14's `?` and `.` optional markers. A failure is the text the monitor printed,
//! which may be empty or lack its newline (then it is never flushed). Pure.

use super::expr::{self, is_space, Registers};
use crate::machine::devices::cfmt;
use crate::machine::devices::qdev::id_wellformed;
use crate::wire::{QDict, QObject};

/// Longest command name kept (`char cmdname[256]`).
pub const COMMAND_NAME_BYTES_MAX: usize = 255;
/// Longest string argument kept (`char buf[1024]` of `get_str`).
pub const STRING_ARG_BYTES_MAX: usize = 1023;
/// Longest option name kept by the QemuOpts parser (`char option[128]`).
pub const OPTION_NAME_BYTES_MAX: usize = 127;

/// The part of `s` that fits in `max` bytes, cut at a character boundary.
fn truncated(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `get_command_name`: the name (up to a blank or `/`) and the rest of the
/// line, or `None` for a blank line.
pub fn command_name(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let start = b.iter().position(|c| !is_space(*c))?;
    let end = b[start..]
        .iter()
        .position(|c| *c == b'/' || is_space(*c))
        .map_or(b.len(), |n| start + n);
    let name = truncated(&line[start..end], COMMAND_NAME_BYTES_MAX);
    Some((name, &line[end..]))
}

/// The cursor over the line being parsed.
struct Line<'a> {
    s: &'a str,
    pos: usize,
}

impl Line<'_> {
    fn peek(&self) -> u8 {
        self.s.as_bytes().get(self.pos).copied().unwrap_or(0)
    }

    fn peek_at(&self, n: usize) -> u8 {
        self.s.as_bytes().get(self.pos + n).copied().unwrap_or(0)
    }

    fn skip_space(&mut self) {
        while is_space(self.peek()) {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    /// `get_str`: a bare word, or a double-quoted string with `\n \r \\ \' \"`
    /// escapes; `None` at the end of the line or on a bad quoted string (0.14
    /// reports those on stdout only).
    fn get_str(&mut self) -> Option<String> {
        self.skip_space();
        if self.peek() == 0 {
            return None;
        }
        let mut out = String::new();
        if self.peek() == b'"' {
            self.pos += 1;
            loop {
                match self.rest().chars().next() {
                    None => return None,
                    Some('"') => break,
                    Some('\\') => {
                        self.pos += 1;
                        let c = self.rest().chars().next()?;
                        self.pos += c.len_utf8();
                        match c {
                            'n' => out.push('\n'),
                            'r' => out.push('\r'),
                            '\\' | '\'' | '"' => out.push(c),
                            _ => return None,
                        }
                    }
                    Some(c) => {
                        self.pos += c.len_utf8();
                        out.push(c);
                    }
                }
            }
            self.pos += 1;
        } else {
            let len = self
                .rest()
                .bytes()
                .position(is_space)
                .unwrap_or(self.rest().len());
            out.push_str(&self.rest()[..len]);
            self.pos += len;
        }
        Some(truncated(&out, STRING_ARG_BYTES_MAX).to_owned())
    }
}

/// The cursor over the `args_type` string.
struct Types<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Types<'a> {
    /// `key_get_info`: the next key, leaving the cursor on its type character.
    fn key(&mut self, all: &'a str) -> Option<&'a str> {
        if self.s.get(self.pos) == Some(&b',') {
            self.pos += 1;
        }
        let colon = self.s[self.pos..].iter().position(|c| *c == b':')?;
        let key = &all[self.pos..self.pos + colon];
        self.pos += colon + 1;
        Some(key)
    }

    fn take(&mut self) -> u8 {
        let c = self.s.get(self.pos).copied().unwrap_or(0);
        if c != 0 {
            self.pos += 1;
        }
        c
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            return true;
        }
        false
    }

    /// `is_valid_option`: whether `-c` appears in the rest of the types (for a
    /// NUL, the C string `"-"`, so any later flag).
    fn has_flag(&self, c: u8) -> bool {
        let rest = &self.s[self.pos..];
        match c {
            0 => rest.contains(&b'-'),
            _ => rest.windows(2).any(|w| w == [b'-', c]),
        }
    }
}

/// Parses the arguments of command `cmd` (as typed) against `args_type`.
pub fn args(cmd: &str, args_type: &str, rest: &str, regs: Registers<'_>) -> Result<QDict, String> {
    let mut p = Line { s: rest, pos: 0 };
    let mut t = Types {
        s: args_type.as_bytes(),
        pos: 0,
    };
    let mut out = QDict::new();
    while let Some(key) = t.key(args_type) {
        let c = t.take();
        match c {
            b'F' | b'B' | b's' => {
                p.skip_space();
                if t.eat(b'?') && p.peek() == 0 {
                    continue;
                }
                let Some(value) = p.get_str() else {
                    let what = match c {
                        b'F' => "filename",
                        b'B' => "block device name",
                        _ => "string",
                    };
                    return Err(format!("{cmd}: {what} expected\n"));
                };
                out.put(key, value);
            }
            b'O' => {
                let Some(implied) = implied_opt_name(key) else {
                    return Err(format!("{cmd}: unknown type 'O'\n"));
                };
                p.skip_space();
                if p.peek() == 0 {
                    continue;
                }
                let text = p.get_str().ok_or_else(String::new)?;
                opts_parse(&text, implied, &mut out)?;
            }
            b'/' => format(&mut p, &mut out)?,
            b'i' | b'l' | b'M' => {
                if let Some(val) = integer(cmd, c, &mut p, &mut t, regs)? {
                    out.put(key, val);
                }
            }
            b'o' => {
                p.skip_space();
                if t.eat(b'?') && p.peek() == 0 {
                    continue;
                }
                let (val, used) = strtosz(p.rest()).ok_or_else(|| "invalid size\n".to_owned())?;
                p.pos += used;
                out.put(key, val);
            }
            b'T' => {
                p.skip_space();
                if t.eat(b'?') && p.peek() == 0 {
                    continue;
                }
                out.put(key, QObject::Float(seconds(&mut p)?));
            }
            b'b' => {
                let value = on_off(&mut p)?;
                out.put(key, value);
            }
            b'-' => {
                let flag = t.take();
                if flag == 0 {
                    return Err(format!("{cmd}: unknown type '\0'\n"));
                }
                flag_arg(cmd, key, flag, &mut p, &t, &mut out)?;
            }
            _ => return Err(format!("{cmd}: unknown type '{}'\n", char::from(c))),
        }
    }
    p.skip_space();
    if p.peek() != 0 {
        return Err(format!("{cmd}: extraneous characters at the end of line\n"));
    }
    Ok(out)
}

/// An `i`, `l` or `M` argument: an expression (`M` in MiB, `i` within 32
/// bits), or `None` when an optional one (`?` at the end of the line, `.`
/// without its dot) is absent.
fn integer(
    cmd: &str,
    kind: u8,
    p: &mut Line<'_>,
    t: &mut Types<'_>,
    regs: Registers<'_>,
) -> Result<Option<i64>, String> {
    p.skip_space();
    if t.eat(b'?') {
        if p.peek() == 0 {
            return Ok(None);
        }
    } else if t.eat(b'.') {
        if p.peek() != b'.' {
            return Ok(None);
        }
        p.pos += 1;
        p.skip_space();
    }
    let val = expr::get_expr(p.s, &mut p.pos, regs).map_err(|e| format!("{e}\n"))?;
    match kind {
        b'i' if (val >> 32) & 0xffff_ffff != 0 => Err(format!(
            "'{cmd}' has failed: integer is for 32-bit values\n"
        )),
        b'M' => Ok(Some(val.wrapping_shl(20))),
        _ => Ok(Some(val)),
    }
}

/// A `b` argument: the next printable word, `on` or `off`.
fn on_off(p: &mut Line<'_>) -> Result<bool, String> {
    p.skip_space();
    let len = p
        .rest()
        .bytes()
        .position(|b| !b.is_ascii_graphic())
        .unwrap_or(p.rest().len());
    let value = match &p.rest()[..len] {
        "on" => true,
        "off" => false,
        _ => return Err("Expected 'on' or 'off'\n".to_owned()),
    };
    p.pos += len;
    Ok(value)
}

/// A `-x` flag: present only as the next word; another flag the command takes
/// later is left for its turn; anything else after `-` is refused.
fn flag_arg(
    cmd: &str,
    key: &str,
    flag: u8,
    p: &mut Line<'_>,
    t: &Types<'_>,
    out: &mut QDict,
) -> Result<(), String> {
    let start = p.pos;
    p.skip_space();
    if p.peek() != b'-' {
        return Ok(());
    }
    let given = p.peek_at(1);
    if given == flag {
        p.pos += 2;
        out.put(key, true);
        return Ok(());
    }
    if !t.has_flag(given) {
        // 0.14 prints the character with %c; a NUL ends the text there, before
        // its newline, so nothing is flushed.
        return Err(match given {
            0 => format!("{cmd}: unsupported option -"),
            _ => {
                let c = p.s[p.pos + 1..].chars().next().unwrap_or('\0');
                format!("{cmd}: unsupported option -{c}\n")
            }
        });
    }
    p.pos = start;
    Ok(())
}

/// The implied first option name of the QemuOpts list an `O` argument names.
fn implied_opt_name(list: &str) -> Option<&'static str> {
    match list {
        "device" => Some("driver"),
        "netdev" => Some("type"),
        _ => None,
    }
}

/// `get_opt_value`: up to an unescaped `,` (`,,` is a comma); returns the value
/// and the bytes consumed.
fn opt_value(s: &str) -> (String, usize) {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' {
            if b.get(i + 1) != Some(&b',') {
                break;
            }
            i += 1;
        }
        out.push(b[i]);
        i += 1;
    }
    // 0.14's value buffer is as large as the whole argument's, so no value is
    // ever cut short here.
    (String::from_utf8_lossy(&out).into_owned(), i)
}

/// `qemu_opts_parse` with an implied first name, then `qemu_opts_to_qdict`:
/// the id (found as 0.14 finds it) first, then every option in order.
fn opts_parse(params: &str, implied: &str, out: &mut QDict) -> Result<(), String> {
    let id = if let Some(v) = params.strip_prefix("id=") {
        Some(opt_value(v).0)
    } else {
        params.find(",id=").map(|i| opt_value(&params[i + 4..]).0)
    };
    if let Some(id) = &id {
        if !id_wellformed(id) {
            return Err(
                "Parameter 'id' expects an identifier\n\
                 Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"
                    .to_owned(),
            );
        }
        out.put("id", id.as_str());
    }
    let mut pos = 0;
    while pos < params.len() {
        let p = &params[pos..];
        let pe = p.find('=');
        let pc = p.find(',');
        // 0.14: `if (!pe || (pc && pc < pe))`, a name without a value.
        let bare = match (pe, pc) {
            (None, _) => true,
            (Some(e), Some(c)) => c < e,
            (Some(_), None) => false,
        };
        let (option, value, used) = if !bare {
            let eq = pe.unwrap_or(p.len());
            let name = truncated(&p[..eq], OPTION_NAME_BYTES_MAX).to_owned();
            let (value, used) = opt_value(&p[eq + 1..]);
            (name, value, eq + 1 + used)
        } else if pos == 0 {
            let (value, used) = opt_value(p);
            (implied.to_owned(), value, used)
        } else {
            let used = pc.unwrap_or(p.len());
            let name = truncated(&p[..used], OPTION_NAME_BYTES_MAX);
            match name.strip_prefix("no") {
                Some(rest) => (rest.to_owned(), "off".to_owned(), used),
                None => (name.to_owned(), "on".to_owned(), used),
            }
        };
        if option != "id" {
            out.put(&option, value);
        }
        pos += used;
        if params.as_bytes().get(pos) != Some(&b',') {
            break;
        }
        pos += 1;
    }
    Ok(())
}

/// The `/` print format: `/[count][format][size]`; what is not given is -1,
/// for the remembered defaults.
fn format(p: &mut Line<'_>, out: &mut QDict) -> Result<(), String> {
    p.skip_space();
    // A format or size not given is -1: the caller applies the monitor's
    // remembered ones (`crate::qmp::hmp::readers::resolve_format`).
    let (mut count, mut format, mut size) = (1_i64, -1_i64, -1_i64);
    if p.peek() == b'/' {
        p.pos += 1;
        if p.peek().is_ascii_digit() {
            count = 0;
            while p.peek().is_ascii_digit() {
                count = count
                    .wrapping_mul(10)
                    .wrapping_add(i64::from(p.peek() - b'0'));
                p.pos += 1;
            }
        }
        let mut size_given = None;
        loop {
            match p.peek() {
                c @ (b'o' | b'd' | b'u' | b'x' | b'i' | b'c') => format = i64::from(c),
                b'b' => size_given = Some(1),
                b'h' => size_given = Some(2),
                b'w' => size_given = Some(4),
                b'g' | b'L' => size_given = Some(8),
                _ => break,
            }
            p.pos += 1;
        }
        if p.peek() != 0 && !is_space(p.peek()) {
            let c = p.rest().chars().next().unwrap_or('\0');
            return Err(format!("invalid char in format: '{c}'\n"));
        }
        size = size_given.unwrap_or(-1);
    }
    out.put("count", count);
    out.put("format", format);
    out.put("size", size);
    Ok(())
}

/// `strtosz` (0.14 cutils.c): a number (fractions allowed with a suffix), an
/// optional `B`/`K`/`M`/`G`/`T` suffix, MiB without one; then a blank, `,` or
/// the end. Returns the bytes and the text consumed.
fn strtosz(s: &str) -> Option<(i64, usize)> {
    let len = cfmt::strtod_prefix_len(s);
    if len == 0 {
        return None;
    }
    let val: f64 = s[..len].trim_start().parse().ok()?;
    let mut end = len;
    let c = s.as_bytes().get(len).copied().unwrap_or(0);
    let integral = val.fract() == 0.0;
    let mul: f64 = match c.to_ascii_uppercase() {
        0 | b',' => 1_048_576.0,
        c if is_space(c) => 1_048_576.0,
        b'B' if integral => 1.0,
        b'K' => 1024.0,
        b'M' => 1_048_576.0,
        b'G' => 1_073_741_824.0,
        b'T' => 1_099_511_627_776.0,
        _ => return None,
    };
    if !(c == 0 || c == b',' || is_space(c)) {
        end += 1;
        let next = s.as_bytes().get(end).copied().unwrap_or(0);
        if !(next == 0 || next == b',' || is_space(next)) {
            return None;
        }
    }
    let bytes = val * mul;
    // i64::MAX as a double is 2^63.
    if bytes >= 9_223_372_036_854_775_808.0 || val < 0.0 {
        return None;
    }
    // Truncation toward zero is C's double-to-int64 conversion.
    #[allow(clippy::cast_possible_truncation)]
    let bytes = bytes as i64;
    Some((bytes, end))
}

/// A `T` argument: `get_double`, then an optional `ms`/`us`/`ns` suffix.
fn seconds(p: &mut Line<'_>) -> Result<f64, String> {
    let word = p.rest().trim_start_matches(['+', '-']).as_bytes();
    let special = word
        .get(..3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"inf") || w.eq_ignore_ascii_case(b"nan"));
    if special {
        // strtod reads infinities and NaNs, which get_double refuses.
        return Err("Bad number\n".to_owned());
    }
    let len = cfmt::strtod_prefix_len(p.rest());
    let val: f64 = p.rest()[..len]
        .trim_start()
        .parse()
        .map_err(|_| "Number expected\n".to_owned())?;
    if !val.is_finite() {
        return Err("Bad number\n".to_owned());
    }
    p.pos += len;
    let mut val = val;
    if p.peek() != 0 && p.peek_at(1) == b's' {
        let divisor = match p.peek() {
            b'm' => Some(1e3),
            b'u' => Some(1e6),
            b'n' => Some(1e9),
            _ => None,
        };
        if let Some(d) = divisor {
            val /= d;
            p.pos += 2;
        }
    }
    if p.peek() != 0 && !is_space(p.peek()) {
        return Err("Unknown unit suffix\n".to_owned());
    }
    Ok(val)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_regs(_: &str) -> Option<i64> {
        None
    }

    fn parse(cmd: &str, types: &str, rest: &str) -> Result<String, String> {
        args(cmd, types, rest, &no_regs).map(|d| QObject::Dict(d).to_json())
    }

    #[test]
    fn command_name_stops_at_slash() {
        assert_eq!(command_name("  x/10x 0"), Some(("x", "/10x 0")));
    }

    #[test]
    fn command_name_blank_line_is_none() {
        assert_eq!(command_name(" \t "), None);
    }

    #[test]
    fn command_name_at_and_past_limit_keeps_the_limit() {
        for len in [COMMAND_NAME_BYTES_MAX, COMMAND_NAME_BYTES_MAX + 1] {
            let name = "a".repeat(len);
            assert_eq!(
                command_name(&name).map(|(n, _)| n.len()),
                Some(255),
                "{len}"
            );
        }
    }

    /// What one line parses to: the arguments as JSON, or the printed error.
    struct Parsed {
        what: &'static str,
        cmd: &'static str,
        types: &'static str,
        line: &'static str,
        want: Result<&'static str, &'static str>,
    }

    const PARSED: &[Parsed] = &[
        Parsed {
            what: "eject with a force flag",
            cmd: "eject",
            types: "force:-f,device:B",
            line: "-f ide1-cd0",
            want: Ok(r#"{"device": "ide1-cd0", "force": true}"#),
        },
        Parsed {
            what: "a missing block device",
            cmd: "eject",
            types: "force:-f,device:B",
            line: "",
            want: Err("eject: block device name expected\n"),
        },
        Parsed {
            what: "an unknown flag is an unsupported option",
            cmd: "eject",
            types: "force:-f,device:B",
            line: "-x cd",
            want: Err("eject: unsupported option -x\n"),
        },
        Parsed {
            what: "flags out of order are refused",
            cmd: "migrate",
            types: "detach:-d,blk:-b,inc:-i,uri:s",
            line: "-b -d tcp:h:1",
            want: Err("migrate: unsupported option -d\n"),
        },
        Parsed {
            what: "flags in order are taken",
            cmd: "migrate",
            types: "detach:-d,blk:-b,inc:-i,uri:s",
            line: "-d -b exec:cat",
            want: Ok(r#"{"blk": true, "uri": "exec:cat", "detach": true}"#),
        },
        Parsed {
            what: "extraneous characters",
            cmd: "stop",
            types: "",
            line: " x",
            want: Err("stop: extraneous characters at the end of line\n"),
        },
        Parsed {
            what: "a missing integer is an unexpected end",
            cmd: "cpu",
            types: "index:i",
            line: "",
            want: Err("unexpected end of expression\n"),
        },
        Parsed {
            what: "an integer past 32 bits",
            cmd: "cpu",
            types: "index:i",
            line: "-1",
            want: Err("'cpu' has failed: integer is for 32-bit values\n"),
        },
        Parsed {
            what: "a fraction of a byte is an invalid size",
            cmd: "migrate_set_speed",
            types: "value:o",
            line: "1.5B",
            want: Err("invalid size\n"),
        },
        Parsed {
            what: "a size with trailing garbage",
            cmd: "migrate_set_speed",
            types: "value:o",
            line: "10Mx",
            want: Err("invalid size\n"),
        },
        Parsed {
            what: "seconds with an unknown suffix",
            cmd: "migrate_set_downtime",
            types: "value:T",
            line: "5min",
            want: Err("Unknown unit suffix\n"),
        },
        Parsed {
            what: "missing seconds",
            cmd: "migrate_set_downtime",
            types: "value:T",
            line: "",
            want: Err("Number expected\n"),
        },
        Parsed {
            what: "a bool takes on and off only",
            cmd: "set_link",
            types: "name:s,up:b",
            line: "e1000.0 yes",
            want: Err("Expected 'on' or 'off'\n"),
        },
        Parsed {
            what: "device_add options use driver as the implied key",
            cmd: "device_add",
            types: "device:O",
            line: "e1000,id=nic1,mac=52:54:00:00:00:01",
            want: Ok(r#"{"driver": "e1000", "mac": "52:54:00:00:00:01", "id": "nic1"}"#),
        },
        Parsed {
            what: "a bad id prints two lines",
            cmd: "device_add",
            types: "device:O",
            line: "e1000,id=1x",
            want: Err("Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"),
        },
        Parsed {
            what: "options separated by a blank are extraneous",
            cmd: "device_add",
            types: "device:O",
            line: "e1000, id=x",
            want: Err("device_add: extraneous characters at the end of line\n"),
        },
        Parsed {
            what: "an unterminated quote is a filename expected",
            cmd: "change",
            types: "device:B,target:F,arg:s?",
            line: r#"ide1-cd0 "/tmp/a"#,
            want: Err("change: filename expected\n"),
        },
        Parsed {
            what: "a bad format character",
            cmd: "x",
            types: "fmt:/,addr:l",
            line: "/10q 0",
            want: Err("invalid char in format: 'q'\n"),
        },
    ];

    #[test]
    fn lines_parse_as_014_parses_them() {
        for p in PARSED {
            let got = parse(p.cmd, p.types, p.line);
            assert_eq!(got.as_deref().map_err(String::as_str), p.want, "{}", p.what);
        }
    }

    #[test]
    fn numbers_take_their_unit() {
        let cases: [(&str, &str, &str, &str, i64); 4] = [
            ("balloon", "value:M", "512", "value", 512 << 20),
            ("block_resize", "device:B,size:o", "hd 10", "size", 10 << 20),
            ("migrate_set_speed", "value:o", "1.5G", "value", 3 << 29),
            ("i", "fmt:/,addr:i,index:i.", "/b 0x60 .1", "index", 1),
        ];
        for (cmd, types, line, key, want) in cases {
            let a = args(cmd, types, line, &no_regs).unwrap();
            assert_eq!(a.get_int(key), Some(want), "{cmd} {line}");
        }
    }

    #[test]
    fn seconds_with_ms_suffix() {
        let a = args("migrate_set_downtime", "value:T", "500ms", &no_regs).unwrap();
        assert_eq!(a.get("value").and_then(QObject::as_number), Some(0.5));
    }

    #[test]
    fn seconds_with_us_and_ns_suffixes_and_none() {
        for (line, want) in [("2500us", 0.0025), ("3e9ns", 3.0), ("1.5", 1.5)] {
            let a = args("migrate_set_downtime", "value:T", line, &no_regs).unwrap();
            assert_eq!(
                a.get("value").and_then(QObject::as_number),
                Some(want),
                "{line}"
            );
        }
    }

    #[test]
    fn options_flag_and_no_prefix() {
        let a = args(
            "netdev_add",
            "netdev:O",
            "tap,id=t,novnet_hdr,vhost",
            &no_regs,
        )
        .unwrap();
        assert_eq!(
            (a.get_str("vnet_hdr"), a.get_str("vhost")),
            (Some("off"), Some("on"))
        );
    }

    #[test]
    fn options_double_comma_escapes() {
        let a = args(
            "device_add",
            "device:O",
            "virtio-blk-pci,serial=a,,b",
            &no_regs,
        )
        .unwrap();
        assert_eq!(a.get_str("serial"), Some("a,b"));
    }

    #[test]
    fn quoted_string_with_escape() {
        let a = args(
            "change",
            "device:B,target:F,arg:s?",
            r#"ide1-cd0 "/tmp/a \"b\".iso""#,
            &no_regs,
        )
        .unwrap();
        assert_eq!(a.get_str("target"), Some(r#"/tmp/a "b".iso"#));
    }

    #[test]
    fn strings_are_cut_at_the_limit() {
        let a = "a".repeat(STRING_ARG_BYTES_MAX + 1);
        let cases = [
            ("at the limit, kept whole", a[1..].to_owned(), 1023),
            ("past the limit", a.clone(), 1023),
            ("quoted, past the limit", format!("\"{a}\""), 1023),
            (
                "past the limit, before a split character",
                format!("{}é", &a[2..]),
                1022,
            ),
        ];
        for (what, line, want) in cases {
            let got = args("screendump", "filename:F", &line, &no_regs).unwrap();
            assert_eq!(got.get_str("filename").map(str::len), Some(want), "{what}");
        }
    }

    #[test]
    fn options_past_string_limit_are_cut_as_one_argument() {
        let text = format!("e1000,serial={}", "v".repeat(STRING_ARG_BYTES_MAX));
        let a = args("device_add", "device:O", &text, &no_regs).unwrap();
        let kept = STRING_ARG_BYTES_MAX - "e1000,serial=".len();
        assert_eq!(a.get_str("serial").map(str::len), Some(kept));
    }

    #[test]
    fn option_names_are_cut_at_the_limit() {
        for len in [OPTION_NAME_BYTES_MAX, OPTION_NAME_BYTES_MAX + 1] {
            let name = "n".repeat(len);
            let kept = &name[..OPTION_NAME_BYTES_MAX];
            for (value, want) in [("=1", "1"), ("", "on")] {
                let line = format!("e1000,{name}{value}");
                let a = args("device_add", "device:O", &line, &no_regs).unwrap();
                assert_eq!(a.get_str(kept), Some(want), "{line}");
            }
        }
    }
}
