//! `QObject`: the JSON value model of QEMU 0.14, and its byte-exact serializer.
//!
//! QEMU 0.14 keeps JSON objects in a `QDict`: a hash table of 512 buckets whose
//! output walks the buckets in order and, inside a bucket, puts the most recently
//! inserted key first. [`QDict`] keeps insertion order (a `Vec`) and derives the
//! emitted order from the same hash, so every object we emit, including echoed
//! client ids, comes out in the order 0.14 would give. Nothing here does I/O.

use std::fmt::Write as _;

/// Number of hash buckets in a 0.14 `QDict` (`QDICT_BUCKET_MAX`).
pub const QDICT_BUCKETS: u32 = 512;

/// A JSON value as QEMU 0.14 models it. There is no null: the 0.14 parser does not
/// know it.
#[derive(Debug, Clone, PartialEq)]
pub enum QObject {
    /// A `QInt` (int64; the parser saturates out-of-range literals).
    Int(i64),
    /// A `QFloat`.
    Float(f64),
    /// A `QBool`.
    Bool(bool),
    /// A `QString`.
    Str(String),
    /// A `QDict`.
    Dict(QDict),
    /// A `QList`.
    List(Vec<QObject>),
}

impl QObject {
    /// Serializes in 0.14's single-line format (without the trailing newline).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }

    /// The string, if this is a `QString`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            QObject::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a `QInt`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            QObject::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a `QInt` or `QFloat`.
    #[allow(clippy::cast_precision_loss)] // 0.14's qobject_get_double does the same
    pub fn as_number(&self) -> Option<f64> {
        match self {
            QObject::Int(i) => Some(*i as f64),
            QObject::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The boolean, if this is a `QBool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            QObject::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The dict, if this is a `QDict`.
    pub fn as_dict(&self) -> Option<&QDict> {
        match self {
            QObject::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The list, if this is a `QList`.
    pub fn as_list(&self) -> Option<&[QObject]> {
        match self {
            QObject::List(l) => Some(l),
            _ => None,
        }
    }
}

impl From<i64> for QObject {
    fn from(v: i64) -> Self {
        QObject::Int(v)
    }
}
impl From<u32> for QObject {
    fn from(v: u32) -> Self {
        QObject::Int(i64::from(v))
    }
}
impl From<bool> for QObject {
    fn from(v: bool) -> Self {
        QObject::Bool(v)
    }
}
impl From<&str> for QObject {
    fn from(v: &str) -> Self {
        QObject::Str(v.to_owned())
    }
}
impl From<String> for QObject {
    fn from(v: String) -> Self {
        QObject::Str(v)
    }
}
impl From<QDict> for QObject {
    fn from(v: QDict) -> Self {
        QObject::Dict(v)
    }
}
impl From<Vec<QObject>> for QObject {
    fn from(v: Vec<QObject>) -> Self {
        QObject::List(v)
    }
}

/// A JSON object with 0.14 `QDict` semantics: putting an existing key replaces its
/// value in place; emission follows the hash-bucket walk of [`QDict::emit_order`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QDict {
    entries: Vec<(String, QObject)>,
}

impl QDict {
    /// An empty dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// `qdict_put`: inserts, or replaces the value of an existing key in place.
    pub fn put(&mut self, key: &str, value: impl Into<QObject>) {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_owned(), value)),
        }
    }

    /// Builder form of [`QDict::put`].
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<QObject>) -> Self {
        self.put(key, value);
        self
    }

    /// `qdict_get`.
    pub fn get(&self, key: &str) -> Option<&QObject> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A string member, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(QObject::as_str)
    }

    /// An integer member, if present and an integer.
    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(QObject::as_int)
    }

    /// A bool member, if present and a bool.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(QObject::as_bool)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// `qdict_del`.
    pub fn remove(&mut self, key: &str) -> Option<QObject> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Members in insertion order.
    pub fn iter_inserted(&self) -> impl Iterator<Item = (&str, &QObject)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Members in the order 0.14 iterates (and so emits) them: bucket 0..511, and the
    /// most recently inserted key first inside a bucket.
    pub fn emit_order(&self) -> Vec<(&str, &QObject)> {
        let mut keyed: Vec<(u32, std::cmp::Reverse<usize>, &str, &QObject)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, v))| (bucket(k), std::cmp::Reverse(i), k.as_str(), v))
            .collect();
        keyed.sort_by_key(|(b, i, _, _)| (*b, *i));
        keyed.into_iter().map(|(_, _, k, v)| (k, v)).collect()
    }
}

/// `tdb_hash` from QEMU 0.14's qdict.c, in unsigned 32-bit arithmetic.
pub fn tdb_hash(key: &str) -> u32 {
    let bytes = key.as_bytes();
    // Key lengths are bounded by the message limit, far below u32::MAX.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut value = 0x238F_13AF_u32.wrapping_mul(len);
    for (i, &b) in bytes.iter().enumerate() {
        value = value.wrapping_add(u32::from(b) << ((i * 5) % 24));
    }
    1_103_515_243_u32.wrapping_mul(value).wrapping_add(12345)
}

/// The `QDict` bucket of a key.
pub fn bucket(key: &str) -> u32 {
    tdb_hash(key) % QDICT_BUCKETS
}

fn write_json(obj: &QObject, out: &mut String) {
    match obj {
        QObject::Int(i) => {
            let _ = write!(out, "{i}");
        }
        QObject::Float(f) => out.push_str(&format_float(*f)),
        QObject::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        QObject::Str(s) => write_string(s, out),
        QObject::Dict(d) => {
            out.push('{');
            for (n, (k, v)) in d.emit_order().into_iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_json(v, out);
            }
            out.push('}');
        }
        QObject::List(l) => {
            out.push('[');
            for (n, v) in l.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_json(v, out);
            }
            out.push(']');
        }
    }
}

/// 0.14 float output: C `%f`, then trailing zeros and a trailing `.` removed.
pub fn format_float(f: f64) -> String {
    let mut s = format!("{f:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// 0.14 string output. Works on the UTF-8 bytes as 0.14 does: a 3-byte or 2-byte
/// sequence becomes one uppercase `\uXXXX`, any other byte >= 0x80 becomes `\uFFFF`
/// (so 4-byte sequences come out mangled, exactly as in 0.14).
fn write_string(s: &str, out: &mut String) {
    let b = s.as_bytes();
    out.push('"');
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let cont = |j: usize| b.get(j).is_some_and(|x| x & 0x80 != 0);
        if c & 0xE0 == 0xE0 && cont(i + 1) && cont(i + 2) {
            let w = (u32::from(c & 0x0F) << 12)
                | (u32::from(b[i + 1] & 0x3F) << 6)
                | u32::from(b[i + 2] & 0x3F);
            let _ = write!(out, "\\u{w:04X}");
            i += 3;
            continue;
        }
        if c & 0xE0 == 0xC0 && cont(i + 1) {
            let w = (u32::from(c & 0x1F) << 6) | u32::from(b[i + 1] & 0x3F);
            let _ = write!(out, "\\u{w:04X}");
            i += 2;
            continue;
        }
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x00..=0x1F => {
                let _ = write!(out, "\\u{c:04X}");
            }
            0x80..=0xFF => out.push_str("\\uFFFF"),
            _ => out.push(char::from(c)),
        }
        i += 1;
    }
    out.push('"');
}

/// Builds a [`QDict`] in insertion order: `qdict! { "a" => 1, "b" => "x" }`.
#[macro_export]
macro_rules! qdict {
    () => { $crate::qobject::value::QDict::new() };
    ($($k:expr => $v:expr),+ $(,)?) => {{
        let mut d = $crate::qobject::value::QDict::new();
        $( d.put($k, $v); )+
        d
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(keys: &[&str]) -> Vec<String> {
        let mut d = QDict::new();
        for k in keys {
            d.put(k, 0_i64);
        }
        d.emit_order()
            .into_iter()
            .map(|(k, _)| k.to_owned())
            .collect()
    }

    #[test]
    fn version_qemu_order_matches_reference() {
        assert_eq!(
            order(&["major", "minor", "micro"]),
            ["micro", "minor", "major"]
        );
    }

    #[test]
    fn response_orders_match_reference() {
        assert_eq!(order(&["return", "id"]), ["return", "id"]);
        assert_eq!(order(&["id", "error"]), ["id", "error"]);
        assert_eq!(order(&["class", "desc", "data"]), ["class", "desc", "data"]);
        assert_eq!(
            order(&["event", "data", "timestamp"]),
            ["timestamp", "event", "data"]
        );
        assert_eq!(
            order(&["seconds", "microseconds"]),
            ["seconds", "microseconds"]
        );
    }

    #[test]
    fn query_block_orders_match_reference() {
        assert_eq!(
            order(&["device", "type", "removable", "locked", "inserted"]),
            ["device", "locked", "removable", "inserted", "type"]
        );
        assert_eq!(
            order(&["file", "ro", "drv", "backing_file", "encrypted"]),
            ["ro", "drv", "backing_file", "encrypted", "file"]
        );
    }

    #[test]
    fn query_pci_device_order_matches_reference() {
        assert_eq!(
            order(&[
                "bus",
                "slot",
                "function",
                "class_info",
                "id",
                "irq",
                "qdev_id",
                "pci_bridge",
                "regions"
            ]),
            [
                "bus",
                "pci_bridge",
                "qdev_id",
                "irq",
                "slot",
                "class_info",
                "id",
                "function",
                "regions"
            ]
        );
    }

    #[test]
    fn put_existing_key_keeps_position() {
        let mut d = QDict::new();
        d.put("a", 1_i64);
        d.put("b", 2_i64);
        d.put("a", 3_i64);
        assert_eq!(
            d.iter_inserted().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(d.get_int("a"), Some(3));
    }

    #[test]
    fn floats_format_like_c_percent_f_trimmed() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1.234_567_89), "1.234568");
        assert_eq!(format_float(1e-7), "0");
        assert_eq!(format_float(1e20), "100000000000000000000");
        assert_eq!(format_float(-1.5), "-1.5");
    }

    #[test]
    fn strings_escape_like_014() {
        assert_eq!(QObject::from("é€").to_json(), r#""\u00E9\u20AC""#);
        assert_eq!(QObject::from("😀").to_json(), r#""\u07D8\uFFFF""#);
        assert_eq!(
            QObject::from("a/b\"c\\\n\u{1}").to_json(),
            r#""a/b\"c\\\n\u0001""#
        );
        assert_eq!(QObject::from("\u{FFFF}").to_json(), r#""\uFFFF""#);
    }

    #[test]
    fn separators_are_colon_space_and_comma_space() {
        let d = crate::qdict! { "a" => QObject::List(vec![1_i64.into(), 2_i64.into()]) };
        assert_eq!(QObject::Dict(d).to_json(), r#"{"a": [1, 2]}"#);
    }
}
