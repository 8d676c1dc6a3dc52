//! Argument checking from an `args_type` string, as 0.14's `qmp_check_client_args`.
//!
//! `args_type` ("device:B,target:F,arg:s?") becomes a [`QDict`] name -> type, so the
//! mandatory pass walks the command's arguments in 0.14 hash order, and the type
//! pass walks the client's arguments in hash order; the first problem found in that
//! order is the one reported, exactly as in 0.14.
//!
//! Handlers read their arguments through [`Args`], keyed by a name their
//! `args_type` declares and typed by its declaration: reading a name the
//! `args_type` does not declare, or with the wrong type or optionality, is a
//! broken invariant (a panic the handler's tests hit), never a silent `""`.
//! The command table's tests also check every name the handler sources read.

use crate::qobject::{ErrorClass, QDict, QObject, QmpError};

/// A handler's arguments, already checked against its `args_type` (by
/// [`check`] for QMP, by the HMP parser for the human monitor).
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    args_type: &'static str,
    dict: &'a QDict,
}

/// The type letter and optionality `args_type` declares for `name`.
pub fn declared(args_type: &str, name: &str) -> Option<(u8, bool)> {
    args_type
        .split(',')
        .filter_map(|item| item.split_once(':'))
        .find(|(n, _)| *n == name)
        .map(|(_, ty)| {
            let ty = ty.as_bytes();
            let letter = ty.first().copied().unwrap_or(b's');
            (letter, letter == b'-' || ty.get(1) == Some(&b'?'))
        })
}

/// The names `args_type` declares, in order.
pub fn names(args_type: &str) -> impl Iterator<Item = &str> {
    args_type
        .split(',')
        .filter_map(|item| item.split_once(':'))
        .map(|(n, _)| n)
}

/// The accessors of [`Args`] that read one named argument.
pub const ACCESSORS: &[&str] = &[
    "str", "opt_str", "int", "opt_int", "bool", "opt_bool", "flag", "number",
];

/// The argument names a handler source reads, outside its tests:
/// `args.ACCESSOR("NAME")` for each of [`ACCESSORS`], and `helper(args,
/// "NAME")` for helpers that read one. The command tables' tests check them
/// against the `args_type`s of the commands whose handlers live there (a name
/// computed at run time is checked by [`Args`] itself when read).
pub fn names_read(source: &str) -> Vec<&str> {
    let code = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let patterns = ACCESSORS
        .iter()
        .map(|a| format!("args.{a}(\""))
        .chain(["(args, \"".to_owned()]);
    let mut names = Vec::new();
    for pattern in patterns {
        let mut rest = code;
        while let Some(at) = rest.find(&pattern) {
            let tail = &rest[at + pattern.len()..];
            let end = tail.find('"').unwrap_or(tail.len());
            names.push(&tail[..end]);
            rest = &tail[end..];
        }
    }
    names
}

/// String types: `s`, and `F` (file name) and `B` (block device) in HMP.
const STR: &[u8] = b"sFB";
/// Integer types: `i`, `l` (long), `M` (megabytes), `o` (octets).
const INT: &[u8] = b"ilMo";

impl<'a> Args<'a> {
    /// The arguments `dict` of a command declaring `args_type`.
    pub fn new(args_type: &'static str, dict: &'a QDict) -> Self {
        Args { args_type, dict }
    }

    /// The declaration this handler relies on; panics when the name is not
    /// declared with one of `types` and the given optionality.
    fn expect(&self, name: &str, types: &[u8], optional: bool) {
        let Some((ty, opt)) = declared(self.args_type, name) else {
            panic!(
                "argument `{name}` is not declared in args_type `{}`",
                self.args_type
            );
        };
        assert!(
            types.contains(&ty) && opt == optional,
            "argument `{name}` is read as {}{} but args_type `{}` declares it otherwise",
            if optional { "optional " } else { "" },
            String::from_utf8_lossy(types),
            self.args_type,
        );
    }

    /// A mandatory string argument (`s`, `F`, `B`).
    pub fn str(&self, name: &str) -> &'a str {
        self.expect(name, STR, false);
        self.dict.get_str(name).unwrap_or_default()
    }

    /// An optional string argument (`s?`, `F?`, `B?`).
    pub fn opt_str(&self, name: &str) -> Option<&'a str> {
        self.expect(name, STR, true);
        self.dict.get_str(name)
    }

    /// A mandatory integer argument (`i`, `l`, `M`, `o`).
    pub fn int(&self, name: &str) -> i64 {
        self.expect(name, INT, false);
        self.dict.get_int(name).unwrap_or_default()
    }

    /// An optional integer argument (`i?`, ...).
    pub fn opt_int(&self, name: &str) -> Option<i64> {
        self.expect(name, INT, true);
        self.dict.get_int(name)
    }

    /// A mandatory boolean argument (`b`).
    pub fn bool(&self, name: &str) -> bool {
        self.expect(name, b"b", false);
        self.dict.get_bool(name).unwrap_or(false)
    }

    /// An optional boolean argument (`b?`).
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.expect(name, b"b", true);
        self.dict.get_bool(name)
    }

    /// A flag (`-x`): whether it was given as true.
    pub fn flag(&self, name: &str) -> bool {
        self.expect(name, b"-", true);
        self.dict.get_bool(name) == Some(true)
    }

    /// A mandatory number (`T`): an integer or a float.
    pub fn number(&self, name: &str) -> f64 {
        self.expect(name, b"T", false);
        self.dict
            .get(name)
            .and_then(QObject::as_number)
            .unwrap_or(0.0)
    }

    /// The whole argument object, whatever the `args_type` (`x-inject` hands
    /// it on to the action it names).
    pub fn dict(&self) -> &'a QDict {
        self.dict
    }

    /// A part of a `/fmt` argument (`count`, `format` or `size`; -1 when
    /// absent): the args_type declares them together as one `NAME:/`.
    pub fn format_part(&self, key: &str) -> i64 {
        assert!(
            self.declares_type("/"),
            "`{key}` is read from a /fmt argument, but args_type `{}` has none",
            self.args_type
        );
        self.dict.get_int(key).unwrap_or(-1)
    }

    /// The whole argument object of a command taking options (`O`).
    pub fn options(&self) -> &'a QDict {
        assert!(
            self.declares_type("O"),
            "args_type `{}` takes no options",
            self.args_type
        );
        self.dict
    }

    /// Whether the `args_type` declares an argument of type `ty`.
    fn declares_type(&self, ty: &str) -> bool {
        self.args_type
            .split(',')
            .any(|item| item.split_once(':').is_some_and(|(_, t)| t == ty))
    }
}

/// Parses an `args_type` string into an ordered name -> type dict.
pub fn parse_args_type(args_type: &str) -> QDict {
    let mut d = QDict::new();
    for item in args_type.split(',').filter(|s| !s.is_empty()) {
        if let Some((name, ty)) = item.split_once(':') {
            d.put(name, ty);
        }
    }
    d
}

/// Checks client arguments against an `args_type`.
pub fn check(args_type: &str, args: &QDict) -> Result<(), QmpError> {
    let spec = parse_args_type(args_type);
    let mut accept_unknown = false;
    for (name, ty) in spec.emit_order() {
        let ty = ty.as_str().unwrap_or_default().as_bytes();
        if ty.first() == Some(&b'O') {
            accept_unknown = true;
            continue;
        }
        let optional = ty.first() == Some(&b'-') || ty.get(1) == Some(&b'?');
        if !optional && !args.contains_key(name) {
            return Err(QmpError::with1(ErrorClass::MissingParameter, name));
        }
    }
    for (name, value) in args.emit_order() {
        let Some(ty) = spec.get_str(name) else {
            if accept_unknown {
                continue;
            }
            return Err(QmpError::with1(ErrorClass::InvalidParameter, name));
        };
        let expected = match ty.as_bytes().first() {
            Some(b'F' | b'B' | b's') if !matches!(value, QObject::Str(_)) => "string",
            Some(b'i' | b'l' | b'M' | b'o') if !matches!(value, QObject::Int(_)) => "int",
            Some(b'T') if !matches!(value, QObject::Int(_) | QObject::Float(_)) => "number",
            Some(b'b' | b'-') if !matches!(value, QObject::Bool(_)) => "bool",
            _ => continue,
        };
        return Err(QmpError::with2(
            ErrorClass::InvalidParameterType,
            name,
            expected,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdict;

    #[test]
    fn names_read_finds_accessors_and_helpers() {
        let src =
            "let d = args.str(\"devcie\"); let f = args.flag(\"force\"); addr(args, \"port\");";
        assert_eq!(names_read(src), ["devcie", "force", "port"]);
    }

    #[test]
    fn names_read_skips_the_tests() {
        let src = "args.int(\"a\");\n#[cfg(test)]\nmod tests { args.int(\"b\"); }";
        assert_eq!(names_read(src), ["a"]);
    }

    const EJECT: &str = "force:-f,device:B";

    /// The arguments of an eject without `-f`.
    fn cd_device() -> QDict {
        qdict! { "device" => "ide1-cd0" }
    }

    #[test]
    fn args_reads_declared_names_by_type() {
        let d = qdict! { "device" => "ide1-cd0", "force" => true };
        let a = Args::new(EJECT, &d);
        assert_eq!((a.str("device"), a.flag("force")), ("ide1-cd0", true));
        let unforced = qdict! { "device" => "ide1-cd0", "force" => false };
        let absent = qdict! { "device" => "ide1-cd0" };
        assert_eq!(
            (
                Args::new(EJECT, &unforced).flag("force"),
                Args::new(EJECT, &absent).flag("force")
            ),
            (false, false)
        );
    }

    #[test]
    #[should_panic(expected = "argument `devcie` is not declared")]
    fn args_misspelled_name_panics() {
        Args::new(EJECT, &cd_device()).str("devcie");
    }

    #[test]
    #[should_panic(expected = "declares it otherwise")]
    fn args_wrong_type_panics() {
        Args::new(EJECT, &cd_device()).int("device");
    }

    #[test]
    #[should_panic(expected = "declares it otherwise")]
    fn args_mandatory_read_as_optional_panics() {
        Args::new(EJECT, &cd_device()).opt_str("device");
    }

    #[test]
    fn args_number_takes_int_or_float() {
        let i = qdict! { "value" => 2_i64 };
        let f = qdict! { "value" => QObject::Float(0.5) };
        assert_eq!(
            (
                Args::new("value:T", &i).number("value"),
                Args::new("value:T", &f).number("value")
            ),
            (2.0, 0.5)
        );
    }

    #[test]
    #[should_panic(expected = "takes no options")]
    fn args_options_without_o_panics() {
        Args::new(EJECT, &QDict::new()).options();
    }

    #[test]
    fn check_refuses_as_014_does() {
        use ErrorClass::{InvalidParameter, InvalidParameterType, MissingParameter};
        let cases = [
            (
                EJECT,
                QDict::new(),
                QmpError::with1(MissingParameter, "device"),
            ),
            (
                EJECT,
                qdict! { "device" => 1_i64 },
                QmpError::with2(InvalidParameterType, "device", "string"),
            ),
            (
                EJECT,
                qdict! { "device" => "ide1-cd0", "force" => 1_i64 },
                QmpError::with2(InvalidParameterType, "force", "bool"),
            ),
            (
                EJECT,
                qdict! { "device" => "ide1-cd0", "bogus" => 1_i64 },
                QmpError::with1(InvalidParameter, "bogus"),
            ),
            // client_migrate_info missing both reports the hostname.
            (
                "protocol:s,hostname:s,port:i?,tls-port:i?,cert-subject:s?",
                QDict::new(),
                QmpError::with1(MissingParameter, "hostname"),
            ),
            (
                "index:i",
                qdict! { "index" => QObject::Float(1.0) },
                QmpError::with2(InvalidParameterType, "index", "int"),
            ),
            // memsave's walk order reports the filename first.
            (
                "val:l,size:i,filename:s",
                QDict::new(),
                QmpError::with1(MissingParameter, "filename"),
            ),
        ];
        for (args_type, args, want) in cases {
            assert_eq!(check(args_type, &args), Err(want), "{args_type} {args:?}");
        }
    }

    #[test]
    fn number_takes_int_or_float() {
        assert!(check("value:T", &qdict! { "value" => 1_i64 }).is_ok());
        assert!(check("value:T", &qdict! { "value" => QObject::Float(0.5) }).is_ok());
    }

    #[test]
    fn type_o_accepts_unknown_arguments() {
        assert!(check("device:O", &qdict! { "driver" => "e1000", "x" => 1_i64 }).is_ok());
    }
}
