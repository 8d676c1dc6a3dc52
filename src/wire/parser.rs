//! Token list to [`QObject`]: QEMU 0.14's json-parser.c.
//!
//! Accepts exactly what 0.14 accepts: `true`/`false` (no `null`), integers through
//! `strtoll` (saturating), floats through `strtod`, single- and double-quoted strings
//! with 0.14's escapes, duplicate keys (last wins). Trailing commas, non-string keys,
//! unknown keywords and `%` escapes are errors. Pure; no I/O.

use super::framing::{Token, TokenKind};
use super::value::{QDict, QObject};

/// Why a token list is not a JSON value. The client only ever sees `JSONParsing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The token list ended early.
    #[error("Unexpected end of input")]
    Eof,
    /// A token that cannot stand where it stands.
    #[error("Unexpected token")]
    Unexpected,
    /// A keyword other than `true` or `false`.
    #[error("Invalid keyword")]
    Keyword,
    /// A bad escape inside a string.
    #[error("Invalid escape sequence in string")]
    Escape,
    /// Tokens after a complete value.
    #[error("Trailing tokens after value")]
    Trailing,
}

/// Parses one message's tokens into a value.
pub fn parse(tokens: &[Token]) -> Result<QObject, ParseError> {
    let mut p = Parser { tokens, pos: 0 };
    let value = p.value()?;
    if p.pos != tokens.len() {
        return Err(ParseError::Trailing);
    }
    Ok(value)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<&Token, ParseError> {
        let t = self.tokens.get(self.pos).ok_or(ParseError::Eof)?;
        self.pos += 1;
        Ok(t)
    }

    fn peek_is_op(&self, op: u8) -> bool {
        self.tokens.get(self.pos).is_some_and(|t| is_op(t, op))
    }

    fn value(&mut self) -> Result<QObject, ParseError> {
        let t = self.next()?;
        match t.kind {
            TokenKind::Operator if is_op(t, b'{') => self.object(),
            TokenKind::Operator if is_op(t, b'[') => self.array(),
            TokenKind::String => Ok(QObject::Str(unescape(&t.text)?)),
            TokenKind::Integer => Ok(QObject::Int(strtoll(&t.text))),
            TokenKind::Float => Ok(QObject::Float(strtod(&t.text))),
            TokenKind::Keyword if t.text == b"true" => Ok(QObject::Bool(true)),
            TokenKind::Keyword if t.text == b"false" => Ok(QObject::Bool(false)),
            TokenKind::Keyword => Err(ParseError::Keyword),
            TokenKind::Operator | TokenKind::Escape => Err(ParseError::Unexpected),
        }
    }

    fn object(&mut self) -> Result<QObject, ParseError> {
        let mut dict = QDict::new();
        self.members(b'}', |p| {
            let key = p.next()?;
            if key.kind != TokenKind::String {
                return Err(ParseError::Unexpected);
            }
            let key = unescape(&key.text)?;
            if !is_op(p.next()?, b':') {
                return Err(ParseError::Unexpected);
            }
            let value = p.value()?;
            dict.put(&key, value);
            Ok(())
        })?;
        Ok(QObject::Dict(dict))
    }

    fn array(&mut self) -> Result<QObject, ParseError> {
        let mut list = Vec::new();
        self.members(b']', |p| {
            list.push(p.value()?);
            Ok(())
        })?;
        Ok(QObject::List(list))
    }

    /// The members of an object or array after its opening token, each read by
    /// `member`, up to and including `close`: none, or one or more separated by
    /// commas (no trailing comma).
    fn members(
        &mut self,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        if self.peek_is_op(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            let sep = self.next()?;
            if is_op(sep, close) {
                return Ok(());
            }
            if !is_op(sep, b',') {
                return Err(ParseError::Unexpected);
            }
        }
    }
}

fn is_op(t: &Token, op: u8) -> bool {
    t.kind == TokenKind::Operator && t.text == [op]
}

/// `strtoll(text, NULL, 10)`: leading integer prefix, saturating.
pub fn strtoll(text: &[u8]) -> i64 {
    let (neg, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let mut acc: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        acc = if neg {
            acc.checked_mul(10)
                .and_then(|a| a.checked_sub(d))
                .unwrap_or(i64::MIN)
        } else {
            acc.checked_mul(10)
                .and_then(|a| a.checked_add(d))
                .unwrap_or(i64::MAX)
        };
        if acc == i64::MIN || acc == i64::MAX {
            break;
        }
    }
    acc
}

/// `strtod(text, NULL)`: the longest numeric prefix as a double.
pub fn strtod(text: &[u8]) -> f64 {
    let mut end = 0;
    let at = |i: usize| text.get(i).copied();
    if at(end) == Some(b'-') {
        end += 1;
    }
    while at(end).is_some_and(|c| c.is_ascii_digit()) {
        end += 1;
    }
    if at(end) == Some(b'.') && at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
        end += 1;
        while at(end).is_some_and(|c| c.is_ascii_digit()) {
            end += 1;
        }
    }
    if matches!(at(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(at(e), Some(b'+' | b'-')) {
            e += 1;
        }
        if at(e).is_some_and(|c| c.is_ascii_digit()) {
            while at(e).is_some_and(|c| c.is_ascii_digit()) {
                e += 1;
            }
            end = e;
        }
    }
    std::str::from_utf8(&text[..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// Decodes a quoted string token. Raw bytes that are not valid UTF-8 become U+FFFF,
/// which 0.14's writer would have printed for them anyway (`\uFFFF`).
fn unescape(text: &[u8]) -> Result<String, ParseError> {
    let inner = text
        .get(1..text.len().saturating_sub(1))
        .unwrap_or_default();
    let mut bytes = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c != b'\\' {
            bytes.push(c);
            i += 1;
            continue;
        }
        let e = *inner.get(i + 1).ok_or(ParseError::Escape)?;
        i += 2;
        match e {
            b'"' | b'\'' | b'\\' | b'/' => bytes.push(e),
            b'b' => bytes.push(0x08),
            b'f' => bytes.push(0x0C),
            b'n' => bytes.push(b'\n'),
            b'r' => bytes.push(b'\r'),
            b't' => bytes.push(b'\t'),
            b'u' => {
                let hex = inner.get(i..i + 4).ok_or(ParseError::Escape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| ParseError::Escape)?;
                let code = u32::from_str_radix(hex, 16).map_err(|_| ParseError::Escape)?;
                i += 4;
                push_ucode(code, &mut bytes);
            }
            _ => return Err(ParseError::Escape),
        }
    }
    Ok(decode_lossy_ffff(&bytes))
}

fn push_ucode(code: u32, bytes: &mut Vec<u8>) {
    // 0.14 drops `\u0000` (it would end the C string); surrogates cannot live in a
    // Rust string and become U+FFFD (see docs/compat.md).
    if code == 0 {
        return;
    }
    let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
    let mut buf = [0_u8; 4];
    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
}

fn decode_lossy_ffff(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFF}');
                bytes = &rest[1..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::framing::{Frame, Framer};

    fn parse_str(s: &str) -> Result<QObject, ParseError> {
        let mut f = Framer::new();
        let frames = f.feed(format!("{s} ").as_bytes());
        match frames.as_slice() {
            [Frame::Message(t)] => parse(t),
            other => panic!("expected one frame, got {other:?}"),
        }
    }

    #[test]
    fn id_echo_examples_from_reference() {
        let j = |s: &str| parse_str(s).unwrap().to_json();
        assert_eq!(j(r#"{"a":[1,2]}"#), r#"{"a": [1, 2]}"#);
        assert_eq!(j("1.0"), "1");
        assert_eq!(j("-0"), "0");
        assert_eq!(j("99999999999999999999"), "9223372036854775807");
        assert_eq!(j("-99999999999999999999"), "-9223372036854775808");
        assert_eq!(j("true"), "true");
        assert_eq!(j("'sq'"), r#""sq""#);
        assert_eq!(j("1e20"), "100000000000000000000");
    }

    #[test]
    fn null_is_rejected() {
        assert_eq!(parse_str("null"), Err(ParseError::Keyword));
    }

    #[test]
    fn trailing_comma_is_rejected() {
        assert!(parse_str(r#"{"a":1,}"#).is_err());
        assert!(parse_str("[1,]").is_err());
    }

    #[test]
    fn duplicate_key_last_wins() {
        let v = parse_str(r#"{"execute":"a","execute":"b"}"#).unwrap();
        assert_eq!(v.as_dict().unwrap().get_str("execute"), Some("b"));
    }

    #[test]
    fn escapes_decode() {
        let v = parse_str(r#""\u00e9\n\/\'\u0000x""#).unwrap();
        assert_eq!(v.as_str(), Some("é\n/'x"));
    }

    #[test]
    fn empty_containers_and_false_parse() {
        let j = |s: &str| parse_str(s).unwrap().to_json();
        assert_eq!(j("{}"), "{}");
        assert_eq!(
            j(r#"{"a":{},"b":[],"c":false}"#),
            r#"{"a": {}, "b": [], "c": false}"#
        );
    }

    #[test]
    fn an_operator_where_a_value_belongs_is_unexpected() {
        assert_eq!(parse_str("[1,]"), Err(ParseError::Unexpected));
        assert_eq!(parse_str(r#"{"a":,"b":1}"#), Err(ParseError::Unexpected));
    }

    #[test]
    fn every_one_letter_escape_decodes() {
        let v = parse_str(r#""\b\f\n\r\t\"\\\/\'""#).unwrap();
        assert_eq!(v.as_str(), Some("\u{8}\u{c}\n\r\t\"\\/'"));
    }

    #[test]
    fn strtod_reads_every_float_form_the_lexer_gives() {
        let cases: [(&[u8], f64); 9] = [
            (b"2.5", 2.5),
            (b"-2.5", -2.5),
            (b"0.25", 0.25),
            (b"1.5e2", 150.0),
            (b"1e-3", 0.001),
            (b"1E+3", 1000.0),
            (b"-12e1", -120.0),
            (b"7", 7.0),
            (b"", 0.0),
        ];
        for (text, want) in cases {
            assert_eq!(strtod(text), want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn strtoll_reads_signed_integers() {
        assert_eq!(strtoll(b"-7"), -7);
        assert_eq!(strtoll(b"42"), 42);
        assert_eq!(strtoll(b"-0"), 0);
        assert_eq!(strtoll(b"0123"), 123);
    }

    #[test]
    fn glued_leading_zero_is_strtoll_prefix() {
        assert_eq!(parse_str("[01]").unwrap().to_json(), "[1]");
    }

    #[test]
    fn invalid_utf8_becomes_uffff() {
        let mut f = Framer::new();
        let frames = f.feed(b"\"a\x80b\" ");
        let Frame::Message(t) = &frames[0] else {
            panic!("no message")
        };
        assert_eq!(parse(t).unwrap().to_json(), r#""a\uFFFFb""#);
    }
}
