//! Incremental JSON message splitter: QEMU 0.14's json-lexer.c and json-streamer.c
//! as one byte-driven state machine, with limits and error recovery.
//!
//! Bytes go in one at a time, exactly as 0.14's monitor feeds them, so any chunking
//! of the same bytes yields the same frames (split invariance). A frame is either a
//! complete token list for the parser or a [`FramingError`]. The lexer accepts what
//! 0.14 accepts (single-quoted strings, `%`-escapes as tokens, keywords `[a-z]+`) and
//! drops a byte that is invalid between tokens, as 0.14 does. Unlike 0.14, an
//! unbalanced `}` or `]` is reported once and the streamer resynchronises (0.14 stays
//! desynchronised for the rest of the connection), and messages past
//! [`MESSAGE_BYTES_MAX`] or [`NESTING_DEPTH_MAX`] are reported once and skipped whole.
//! A lexical error inside a message or token (including `0xFE`/`0xFF` and, unlike
//! 0.14, a raw control byte inside a string) is reported once and followed by
//! recovery (see `Framer::recover`): after any bytes, a newline leaves the lexer
//! outside every string and token (docs/compat.md, "Resynchronisation").
//! Pure data, serializable, no I/O.

use serde::{Deserialize, Serialize};

/// Largest message in bytes, counted over its tokens (whitespace between tokens,
/// which 0.14's lexer drops, does not count).
pub const MESSAGE_BYTES_MAX: usize = 1024 * 1024;
/// Deepest nesting of `{` and `[` in one message.
pub const NESTING_DEPTH_MAX: usize = 1024;

/// Token kinds of 0.14's lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    /// `{ } [ ] , :`
    Operator,
    /// `%d`-style escape (only meaningful inside QEMU; an error from a client).
    Escape,
    /// Integer literal.
    Integer,
    /// Float literal.
    Float,
    /// `[a-z]+`
    Keyword,
    /// Single- or double-quoted string, quotes included.
    String,
}

/// One lexed token with its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// What the lexer took it for.
    pub kind: TokenKind,
    /// The bytes as received.
    pub text: Vec<u8>,
}

/// Why a stretch of input did not form a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A `}` or `]` closed more than was open.
    #[error("Unbalanced closing bracket")]
    Unbalanced,
    /// The message grew past [`MESSAGE_BYTES_MAX`].
    #[error("Message longer than {MESSAGE_BYTES_MAX} bytes")]
    TooLong,
    /// The message nested deeper than [`NESTING_DEPTH_MAX`].
    #[error("Message nested deeper than {NESTING_DEPTH_MAX} levels")]
    TooDeep,
    /// A byte that cannot appear where it did, inside a message.
    #[error("Invalid byte inside a message")]
    Lexical,
}

/// What the splitter hands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message's tokens.
    Message(Vec<Token>),
    /// Input that could not form a message; the splitter has recovered.
    Error(FramingError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Start,
    DoneString,
    DqString,
    DqEscape,
    /// `\u` in a double-quoted string; the number of hex digits still expected.
    DqUcode(u8),
    SqString,
    SqEscape,
    SqUcode(u8),
    Zero,
    NonZero,
    NegNonZero,
    Mantissa,
    MantissaDigits,
    ExpE,
    Digit,
    Digits,
    Keyword,
    Whitespace,
    Escape,
    EscapeL,
    EscapeLL,
    EscapeI,
    EscapeI6,
    EscapeI64,
    EscapeDone,
}

/// Result of offering a byte to a lexer state.
enum Step {
    /// Byte consumed; go to this state.
    Go(State),
    /// The current token is complete (the byte is looked at again from `Start`).
    Emit(Option<TokenKind>),
    /// Byte consumed and it completes a token by itself.
    Token(TokenKind),
    /// The byte is not allowed here.
    Invalid,
}

fn terminal(b: u8, kind: Option<TokenKind>) -> Step {
    // 0.14's TERMINAL() only covers 0x00..=0x7F; other bytes are lexer errors.
    if b < 0x80 {
        Step::Emit(kind)
    } else {
        Step::Invalid
    }
}

fn string_escape(b: u8, string: State, ucode: State) -> Step {
    match b {
        b'b' | b'f' | b'n' | b'r' | b't' | b'\'' | b'"' | b'\\' | b'/' => Step::Go(string),
        b'u' => Step::Go(ucode),
        _ => Step::Invalid,
    }
}

fn transition(state: State, b: u8) -> Step {
    use State as S;
    let hex = b.is_ascii_hexdigit();
    match state {
        S::Start => match b {
            b'"' => Step::Go(S::DqString),
            b'\'' => Step::Go(S::SqString),
            b'0' => Step::Go(S::Zero),
            b'1'..=b'9' => Step::Go(S::NonZero),
            b'-' => Step::Go(S::NegNonZero),
            // Operators are complete on their own byte: a request ending in `}` is
            // handled at once, without waiting for a following byte.
            b'{' | b'}' | b'[' | b']' | b',' | b':' => Step::Token(TokenKind::Operator),
            b'a'..=b'z' => Step::Go(S::Keyword),
            b'%' => Step::Go(S::Escape),
            b' ' | b'\t' | b'\r' | b'\n' => Step::Go(S::Whitespace),
            _ => Step::Invalid,
        },
        S::DoneString => terminal(b, Some(TokenKind::String)),
        // 0.14 took raw bytes 0x01-0x1F as string content; like QEMU 2.12 and later,
        // qmpsim refuses every control byte there, so a string never spans a line.
        S::DqString => match b {
            0..=0x1F => Step::Invalid,
            b'\\' => Step::Go(S::DqEscape),
            b'"' => Step::Go(S::DoneString),
            _ => Step::Go(S::DqString),
        },
        S::SqString => match b {
            0..=0x1F => Step::Invalid,
            b'\\' => Step::Go(S::SqEscape),
            b'\'' => Step::Go(S::DoneString),
            _ => Step::Go(S::SqString),
        },
        S::DqEscape => string_escape(b, S::DqString, S::DqUcode(4)),
        S::SqEscape => string_escape(b, S::SqString, S::SqUcode(4)),
        S::DqUcode(n) | S::SqUcode(n) if hex => {
            let dq = matches!(state, S::DqUcode(_));
            Step::Go(match (n, dq) {
                (1, true) => S::DqString,
                (1, false) => S::SqString,
                (_, true) => S::DqUcode(n - 1),
                (_, false) => S::SqUcode(n - 1),
            })
        }
        S::DqUcode(_) | S::SqUcode(_) => Step::Invalid,
        S::Zero => match b {
            b'0'..=b'9' => Step::Invalid,
            b'.' => Step::Go(S::Mantissa),
            _ => terminal(b, Some(TokenKind::Integer)),
        },
        S::NonZero => match b {
            b'0'..=b'9' => Step::Go(S::NonZero),
            b'e' | b'E' => Step::Go(S::ExpE),
            b'.' => Step::Go(S::Mantissa),
            _ => terminal(b, Some(TokenKind::Integer)),
        },
        S::NegNonZero => match b {
            b'0' => Step::Go(S::Zero),
            b'1'..=b'9' => Step::Go(S::NonZero),
            _ => Step::Invalid,
        },
        S::Mantissa => match b {
            b'0'..=b'9' => Step::Go(S::MantissaDigits),
            _ => Step::Invalid,
        },
        S::MantissaDigits => match b {
            b'0'..=b'9' => Step::Go(S::MantissaDigits),
            b'e' | b'E' => Step::Go(S::ExpE),
            _ => terminal(b, Some(TokenKind::Float)),
        },
        S::ExpE => match b {
            b'-' | b'+' => Step::Go(S::Digit),
            b'0'..=b'9' => Step::Go(S::Digits),
            _ => Step::Invalid,
        },
        S::Digit => match b {
            b'0'..=b'9' => Step::Go(S::Digits),
            _ => Step::Invalid,
        },
        S::Digits => match b {
            b'0'..=b'9' => Step::Go(S::Digits),
            _ => terminal(b, Some(TokenKind::Float)),
        },
        S::Keyword => match b {
            b'a'..=b'z' => Step::Go(S::Keyword),
            _ => terminal(b, Some(TokenKind::Keyword)),
        },
        S::Whitespace => match b {
            b' ' | b'\t' | b'\r' | b'\n' => Step::Go(S::Whitespace),
            _ => terminal(b, None),
        },
        S::EscapeDone => terminal(b, Some(TokenKind::Escape)),
        S::Escape => match b {
            b'd' | b'i' | b'p' | b's' | b'f' => Step::Go(S::EscapeDone),
            b'l' => Step::Go(S::EscapeL),
            b'I' => Step::Go(S::EscapeI),
            _ => Step::Invalid,
        },
        S::EscapeL => match b {
            b'd' => Step::Go(S::EscapeDone),
            b'l' => Step::Go(S::EscapeLL),
            _ => Step::Invalid,
        },
        S::EscapeLL | S::EscapeI64 => match b {
            b'd' => Step::Go(S::EscapeDone),
            _ => Step::Invalid,
        },
        S::EscapeI => match b {
            b'6' => Step::Go(S::EscapeI6),
            _ => Step::Invalid,
        },
        S::EscapeI6 => match b {
            b'4' => Step::Go(S::EscapeI64),
            _ => Step::Invalid,
        },
    }
}

/// The splitter: lexer state, the token list of the message being built, and the
/// recovery state. One per client connection; it is reset when a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Framer {
    state: Option<StateBox>,
    token: Vec<u8>,
    tokens: Vec<Token>,
    brace_count: i64,
    bracket_count: i64,
    message_bytes: usize,
    /// Set after a limit was passed: tokens are dropped until depth returns to 0.
    skipping: bool,
    /// Set after a lexical error inside a message: the open depth of the discarded
    /// message, whose closers are absorbed while bytes are skipped up to a
    /// resynchronisation point (later QEMU's `IN_RECOVERY`).
    recovering: Option<i64>,
}

/// Wrapper so that `Default` gives `Start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct StateBox(State);

impl Framer {
    /// A splitter at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> State {
        self.state.map_or(State::Start, |s| s.0)
    }

    /// Feeds bytes; returns every frame they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        for &b in bytes {
            self.feed_byte(b, &mut frames);
        }
        frames
    }

    /// Feeds bytes of `bytes` one at a time until one completes at least one
    /// frame (appended to `frames`) or all are fed; returns how many were fed.
    /// The same as calling [`feed`](Self::feed) with each byte in turn and
    /// stopping after the first call that returned frames.
    pub fn feed_until_frame(&mut self, bytes: &[u8], frames: &mut Vec<Frame>) -> usize {
        let before = frames.len();
        for (i, &b) in bytes.iter().enumerate() {
            self.feed_byte(b, frames);
            if frames.len() > before {
                return i + 1;
            }
        }
        bytes.len()
    }

    /// Whether the splitter holds part of a message.
    pub fn is_mid_message(&self) -> bool {
        !self.tokens.is_empty() || !matches!(self.state(), State::Start | State::Whitespace)
    }

    /// Whether the lexer is inside a token (a string, number, keyword or escape).
    pub fn in_token(&self) -> bool {
        !matches!(self.state(), State::Start | State::Whitespace)
    }

    /// How many `{` and `[` of the message being built are still open.
    pub fn open_brackets(&self) -> i64 {
        self.brace_count + self.bracket_count
    }

    fn has_pending(&self) -> bool {
        !self.tokens.is_empty()
            || (!self.token.is_empty() && self.state() != State::Whitespace)
            || self.brace_count + self.bracket_count > 0
    }

    fn feed_byte(&mut self, b: u8, frames: &mut Vec<Frame>) {
        if let Some(depth) = self.recovering {
            if !self.recover(b, depth) {
                return;
            }
        }
        // 0xFE and 0xFF are never valid UTF-8: later QEMU lets a client send them to
        // reset the parser, and so does qmpsim. Inside a message or token they are a
        // lexical error like any other, with the same recovery, so that the rest of
        // an interrupted string is skipped instead of being lexed as a new one.
        if b >= 0xFE {
            if self.has_pending() {
                self.lexical_error(frames);
            }
            return;
        }
        // A byte is looked at at most twice: once to end a token, once from Start.
        loop {
            let state = self.state();
            match transition(state, b) {
                Step::Go(next) => {
                    self.push_token_byte(b);
                    self.state = Some(StateBox(next));
                    break;
                }
                Step::Token(kind) => {
                    self.push_token_byte(b);
                    let text = self.take_token();
                    self.state = None;
                    self.on_token(Token { kind, text }, frames);
                    break;
                }
                Step::Emit(kind) => {
                    let text = self.take_token();
                    self.state = None;
                    if let Some(kind) = kind {
                        self.on_token(Token { kind, text }, frames);
                    }
                }
                Step::Invalid => {
                    self.invalid_byte(state, b, frames);
                    break;
                }
            }
        }
        self.check_length(frames);
    }

    fn invalid_byte(&mut self, state: State, b: u8, frames: &mut Vec<Frame>) {
        // 0.14 glues a digit after a leading zero onto the token ("01" is 1).
        if state == State::Zero && b.is_ascii_digit() {
            self.push_token_byte(b);
            return;
        }
        // 0.14 drops a bad byte between messages without a word; nothing is lost.
        if !self.has_pending() {
            return;
        }
        self.lexical_error(frames);
    }

    /// A byte that cannot appear where it did, inside a message or token: one error
    /// (unless the message was already being skipped), then recovery.
    fn lexical_error(&mut self, frames: &mut Vec<Frame>) {
        if !self.skipping {
            frames.push(Frame::Error(FramingError::Lexical));
        }
        let depth = self.brace_count + self.bracket_count;
        self.abandon_message(Some(depth.max(0)));
    }

    fn abandon_message(&mut self, recovering: Option<i64>) {
        self.reset_message();
        self.token.clear();
        self.state = None;
        self.recovering = recovering;
    }

    /// One byte while recovering; returns whether it should be lexed normally.
    ///
    /// The resynchronisation rule: skip bytes up to a `{` or `[` (which starts the
    /// next message) or a control byte other than tab (consumed). The `}` and `]`
    /// that close the abandoned message's open brackets are absorbed; once all are,
    /// lexing resumes. A closer past them is lexed (an unbalanced closer).
    /// `0xFE`/`0xFF` keep recovering.
    fn recover(&mut self, b: u8, depth: i64) -> bool {
        match b {
            b'{' | b'[' => {
                self.recovering = None;
                true
            }
            b'}' | b']' if depth > 0 => {
                self.recovering = Some(depth - 1).filter(|d| *d > 0);
                false
            }
            b'}' | b']' => {
                self.recovering = None;
                true
            }
            0..=0x1F if b != b'\t' => {
                self.recovering = None;
                false
            }
            _ => false,
        }
    }

    /// The token's bytes in a vector of their own size; the buffer keeps its
    /// capacity for the next token.
    fn take_token(&mut self) -> Vec<u8> {
        let text = self.token.clone();
        self.token.clear();
        text
    }

    fn push_token_byte(&mut self, b: u8) {
        if self.skipping {
            // Keep only what classifies the token (an operator's first byte).
            if self.token.is_empty() {
                self.token.push(b);
            }
        } else {
            self.token.push(b);
        }
    }

    fn check_length(&mut self, frames: &mut Vec<Frame>) {
        if self.skipping {
            return;
        }
        if self.state() == State::Whitespace {
            // Whitespace does not count toward the limit; past it, a run of it
            // is cut short instead of held.
            if self.token.len() > MESSAGE_BYTES_MAX {
                self.token.truncate(1);
            }
            return;
        }
        let pending = self.message_bytes + self.token.len();
        if pending > MESSAGE_BYTES_MAX {
            frames.push(Frame::Error(FramingError::TooLong));
            self.start_skipping();
            self.token.truncate(1);
        }
    }

    fn start_skipping(&mut self) {
        self.skipping = true;
        self.tokens.clear();
        self.message_bytes = 0;
    }

    fn on_token(&mut self, token: Token, frames: &mut Vec<Frame>) {
        if token.kind == TokenKind::Operator {
            match token.text.first() {
                Some(b'{') => self.brace_count += 1,
                Some(b'}') => self.brace_count -= 1,
                Some(b'[') => self.bracket_count += 1,
                Some(b']') => self.bracket_count -= 1,
                _ => {}
            }
        }
        if self.brace_count < 0 || self.bracket_count < 0 {
            if !self.skipping {
                frames.push(Frame::Error(FramingError::Unbalanced));
            }
            self.reset_message();
            return;
        }
        let depth = usize::try_from(self.brace_count + self.bracket_count).unwrap_or(usize::MAX);
        if !self.skipping && depth > NESTING_DEPTH_MAX {
            frames.push(Frame::Error(FramingError::TooDeep));
            self.start_skipping();
        }
        // `check_length` runs after each byte, too late for a token that ends the
        // message on its last byte (a closing brace): count it before emitting.
        if !self.skipping && self.message_bytes + token.text.len() > MESSAGE_BYTES_MAX {
            frames.push(Frame::Error(FramingError::TooLong));
            self.start_skipping();
        }
        if !self.skipping {
            self.message_bytes += token.text.len();
            self.tokens.push(token);
        }
        if self.brace_count == 0 && self.bracket_count == 0 {
            if !self.skipping {
                frames.push(Frame::Message(std::mem::take(&mut self.tokens)));
            }
            self.reset_message();
        }
    }

    fn reset_message(&mut self) {
        self.tokens.clear();
        self.brace_count = 0;
        self.bracket_count = 0;
        self.message_bytes = 0;
        self.skipping = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Message(t) => t.iter().map(|t| String::from_utf8_lossy(&t.text)).collect(),
                Frame::Error(e) => format!("ERR {e:?}"),
            })
            .collect()
    }

    /// Input bytes fed at once, and the frames they give (see [`texts`]).
    const FRAMED: &[(&str, &[u8], &[&str])] = &[
        (
            "an object is one frame",
            br#"{"execute": "stop"}"#,
            &[r#"{"execute":"stop"}"#],
        ),
        // 0.14's TERMINAL() covers 0x00..=0x7F: 0x7F ends the number, 0x80 is
        // a lexer error for it.
        (
            "a token ends at an ASCII byte",
            b"123\x7f{}",
            &["123", "{}"],
        ),
        (
            "a token does not end at 0x80",
            b"123\x80{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "a non-hex digit in a unicode escape is a lexical error",
            b"{\"id\":\"\\u12g4\"}\n{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "hex digits in a unicode escape",
            b"{\"id\":\"\\u12a4\"}\n{}",
            &["{\"id\":\"\\u12a4\"}", "{}"],
        ),
        (
            "a stray byte between messages is dropped",
            b"{}X{}",
            &["{}", "{}"],
        ),
        (
            "a digit after % is a lexical error, not glued",
            b"[%5d]{}",
            &["ERR Lexical", "{}"],
        ),
        ("a leading zero digit is glued", b"[01]", &["[01]"]),
        (
            "an uppercase keyword inside a message is one error",
            br#"{"id":TRUE}{}"#,
            &["ERR Lexical", "{}"],
        ),
        (
            "an invalid byte in an open message resyncs at the next opener",
            b"{\x01{\"execute\":\"stop\"}",
            &["ERR Lexical", r#"{"execute":"stop"}"#],
        ),
        (
            "0xFF resets a pending message",
            b"{'bad \xff{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "0xFF inside a string recovers at the next opener",
            b"{\"id\":\"a\xff b\", \"c\": [\"}\"]}\n{}",
            &["ERR Lexical", r#"["}"]"#, "ERR Unbalanced", "{}"],
        ),
        (
            "a raw newline ends a string with an error",
            b"'abc\n{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "a raw control byte in a double-quoted string is an error",
            b"{\"a\x01\":1}\n{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "an escaped quote stays inside a single-quoted string",
            b"['a\\'b', 'c\\\\']",
            &[r"['a\'b','c\\']"],
        ),
        (
            "a closer past the abandoned depth is unbalanced",
            b"{\"a\":\"\xff\"}}{}",
            &["ERR Lexical", "ERR Unbalanced", "{}"],
        ),
        (
            "a closer after a top-level lexical error is unbalanced",
            b"\"a\xff\" ]{}",
            &["ERR Lexical", "ERR Unbalanced", "{}"],
        ),
        (
            "a newline ends recovery before a top-level value",
            b"{\"a\":\x01 junk\n7 ",
            &["ERR Lexical", "7"],
        ),
        (
            "lexing resumes right after the last absorbed closer",
            b"{\"a\":[\x01 x]\"y\"} 7 {}",
            &["ERR Lexical", "7", "{}"],
        ),
        (
            "a tab does not end recovery",
            b"{\"a\":\x01\t\"x\"}\n{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "reset bytes keep recovery going",
            b"{\"a\":\x01\xff\"x\xfe\"}{}",
            &["ERR Lexical", "{}"],
        ),
        (
            "long escapes and single-quoted unicode escapes are tokens",
            b"[%lld, %I64d, %ld, 'a\\u00e9b'] [%I65]{}",
            &["[%lld,%I64d,%ld,'a\\u00e9b']", "ERR Lexical", "{}"],
        ),
        ("0xFF between messages is silent", b"\xff{}", &["{}"]),
        (
            "0xFF after whitespace between messages is silent",
            b"{} \xff{}",
            &["{}", "{}"],
        ),
        (
            "a stray closer is reported once, then recovers",
            br#"}{"execute":"stop"}"#,
            &["ERR Unbalanced", r#"{"execute":"stop"}"#],
        ),
        (
            "a stray bracket closer recovers",
            b"]{}",
            &["ERR Unbalanced", "{}"],
        ),
    ];

    #[test]
    fn inputs_frame_as_014_frames_them() {
        for (what, input, want) in FRAMED {
            assert_eq!(texts(&Framer::new().feed(input)), *want, "{what}");
        }
    }

    #[test]
    fn top_level_scalar_needs_lookahead_then_is_a_frame() {
        let mut f = Framer::new();
        assert!(f.feed(b"123").is_empty());
        assert_eq!(texts(&f.feed(b" ")), ["123"]);
    }

    #[test]
    fn ff_byte_in_a_top_level_string_skips_its_closing_quote() {
        let mut f = Framer::new();
        let out = f.feed(b"\"a\xff\" {}");
        assert_eq!(texts(&out), ["ERR Lexical", "{}"]);
        assert!(!f.in_token());
    }

    /// Each frame's tokens as (kind, text).
    fn tokens(frames: &[Frame]) -> Vec<(TokenKind, String)> {
        frames
            .iter()
            .flat_map(|f| match f {
                Frame::Message(t) => t.clone(),
                Frame::Error(e) => panic!("unexpected {e:?}"),
            })
            .map(|t| (t.kind, String::from_utf8_lossy(&t.text).into_owned()))
            .filter(|(k, _)| *k != TokenKind::Operator)
            .collect()
    }

    #[test]
    fn every_form_of_number_is_one_token() {
        let mut f = Framer::new();
        let out = f.feed(b"[0.5, 1.25, 1.5e3, 2E10, 3e+7, 4e-12, 1e5, -0.5, -7, 0, 10]");
        let float = |s: &str| (TokenKind::Float, s.to_owned());
        let int = |s: &str| (TokenKind::Integer, s.to_owned());
        assert_eq!(
            tokens(&out),
            [
                float("0.5"),
                float("1.25"),
                float("1.5e3"),
                float("2E10"),
                float("3e+7"),
                float("4e-12"),
                float("1e5"),
                float("-0.5"),
                int("-7"),
                int("0"),
                int("10"),
            ]
        );
    }

    #[test]
    fn every_one_letter_escape_is_a_token() {
        let mut f = Framer::new();
        let out = f.feed(b"[%d, %i, %p, %s, %f]");
        let want: Vec<_> = ["%d", "%i", "%p", "%s", "%f"]
            .iter()
            .map(|t| (TokenKind::Escape, (*t).to_owned()))
            .collect();
        assert_eq!(tokens(&out), want);
    }

    #[test]
    fn a_whitespace_run_longer_than_the_message_limit_is_not_an_error() {
        let run = " \t\r\n".repeat(MESSAGE_BYTES_MAX / 4 + 1);
        let mut f = Framer::new();
        let between = f.feed(format!("{{}}{run}{{}}").as_bytes());
        let inside = f.feed(format!("{{\"a\":{run}1}}").as_bytes());
        assert_eq!(texts(&between), ["{}", "{}"]);
        assert_eq!(texts(&inside), [r#"{"a":1}"#]);
    }

    #[test]
    fn a_whitespace_run_is_held_whole_up_to_the_message_limit_then_cut_to_one_byte() {
        let mut f = Framer::new();
        f.feed(b"{}");
        f.feed(&b" ".repeat(MESSAGE_BYTES_MAX));
        assert_eq!(f.token.len(), MESSAGE_BYTES_MAX);
        f.feed(b"\t");
        assert_eq!(f.token.len(), 1);
        assert_eq!(f.state(), State::Whitespace);
        assert!(!f.is_mid_message());
    }

    #[test]
    fn open_brackets_counts_the_pending_message() {
        let mut f = Framer::new();
        f.feed(b"{\"a\":[");
        assert_eq!(f.open_brackets(), 2);
        assert!(!f.in_token());
        f.feed(b"12");
        assert!(f.in_token());
    }

    #[test]
    fn is_mid_message_between_inside_and_after_messages() {
        let mut f = Framer::new();
        assert!(!f.is_mid_message());
        f.feed(b"{} \n");
        assert!(!f.is_mid_message());
        f.feed(b"{\"a\":");
        assert!(f.is_mid_message() && !f.in_token());
        f.feed(b"1}");
        assert!(!f.is_mid_message());
        f.feed(b"12");
        assert!(f.is_mid_message() && f.in_token());
    }

    #[test]
    fn nesting_at_limit_is_accepted() {
        let mut f = Framer::new();
        let msg = format!(
            "{}{}",
            "[".repeat(NESTING_DEPTH_MAX),
            "]".repeat(NESTING_DEPTH_MAX)
        );
        let out = f.feed(msg.as_bytes());
        assert!(matches!(out.as_slice(), [Frame::Message(_)]));
    }

    #[test]
    fn ff_byte_while_skipping_a_too_deep_message_recovers_past_its_closers() {
        // Skipping the deep message, the lexer is between tokens: 0xFF there
        // still starts recovery, so the quote after it opens no string and the
        // closers of the open brackets are absorbed.
        let n = NESTING_DEPTH_MAX + 1;
        let mut bytes = b"[".repeat(n);
        bytes.extend_from_slice(b"\xff\"]");
        bytes.extend_from_slice(&b"]".repeat(n - 1));
        bytes.extend_from_slice(b"{}");
        let out = Framer::new().feed(&bytes);
        assert_eq!(texts(&out), ["ERR TooDeep", "{}"]);
    }

    #[test]
    fn message_at_byte_limit_is_accepted() {
        let mut f = Framer::new();
        // `"` + payload + `"` is exactly the limit.
        let msg = format!("\"{}\" ", "a".repeat(MESSAGE_BYTES_MAX - 2));
        let out = f.feed(msg.as_bytes());
        assert!(matches!(out.as_slice(), [Frame::Message(_)]));
    }

    #[test]
    fn an_unfinished_token_past_the_limit_is_reported_at_once() {
        let mut f = Framer::new();
        // `[` and `"` + payload: exactly the limit, with the string still open.
        let mut bytes = b"[\"".to_vec();
        bytes.extend_from_slice(&b"a".repeat(MESSAGE_BYTES_MAX - 2));
        assert!(f.feed(&bytes).is_empty());
        assert_eq!(texts(&f.feed(b"a")), ["ERR TooLong"]);
    }

    /// The frames' texts, each cut to its first 12 characters.
    fn heads(out: &[Frame]) -> Vec<String> {
        texts(out)
            .into_iter()
            .map(|t| t.chars().take(12).collect())
            .collect()
    }

    #[test]
    fn messages_past_the_limits_are_one_error_then_recover() {
        let n = NESTING_DEPTH_MAX + 1;
        let a = |len: usize| "a".repeat(len);
        let cases: [(&str, String, &[&str]); 6] = [
            (
                "nesting past the limit",
                format!("{}{}{{}}", "[".repeat(n), "]".repeat(n)),
                &["ERR TooDeep", "{}"],
            ),
            (
                "a message one past the byte limit",
                format!("\"{}\" ", a(MESSAGE_BYTES_MAX - 1)),
                &["ERR TooLong"],
            ),
            // `{"a":"` + payload + `"}` is exactly the limit.
            (
                "an object at the byte limit",
                format!("{{\"a\":\"{}\"}}", a(MESSAGE_BYTES_MAX - 8)),
                &[r#"{"a":"aaaaaa"#],
            ),
            (
                "an object one past the byte limit",
                format!("{{\"a\":\"{}\"}}{{}}", a(MESSAGE_BYTES_MAX - 7)),
                &["ERR TooLong", "{}"],
            ),
            (
                "whitespace between tokens does not count toward the byte limit",
                format!("{{ \"a\" : \"{}\" }}", a(MESSAGE_BYTES_MAX - 8)),
                &[r#"{"a":"aaaaaa"#],
            ),
            (
                "a message past the byte limit",
                format!("{{\"a\": \"{}\"}}{{}}", a(MESSAGE_BYTES_MAX)),
                &["ERR TooLong", "{}"],
            ),
        ];
        for (what, msg, want) in cases {
            assert_eq!(heads(&Framer::new().feed(msg.as_bytes())), want, "{what}");
        }
    }

    #[test]
    fn byte_at_a_time_equals_whole() {
        let input = br#"{"execute":"x", "id": [1, 2.5e3, 'q']} 7 }{"a":1}"#;
        let mut whole = Framer::new();
        let expected = whole.feed(input);
        let mut single = Framer::new();
        let got: Vec<Frame> = input.iter().flat_map(|b| single.feed(&[*b])).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn feed_until_frame_stops_after_the_completing_byte() {
        let mut f = Framer::new();
        let mut frames = Vec::new();
        assert_eq!(f.feed_until_frame(br#"{"a":1} {"b":2}"#, &mut frames), 7);
        assert_eq!(texts(&frames), [r#"{"a":1}"#]);
    }

    #[test]
    fn feed_until_frame_without_a_frame_feeds_everything() {
        let mut f = Framer::new();
        let mut frames = Vec::new();
        assert_eq!(f.feed_until_frame(br#"{"a":"#, &mut frames), 5);
        assert!(frames.is_empty() && f.is_mid_message());
    }
}
