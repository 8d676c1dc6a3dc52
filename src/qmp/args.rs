//! Argument checking from an `args_type` string, as 0.14's `qmp_check_client_args`.
//!
//! `args_type` ("device:B,target:F,arg:s?") becomes a [`QDict`] name -> type, so the
//! mandatory pass walks the command's arguments in 0.14 hash order, and the type
//! pass walks the client's arguments in hash order; the first problem found in that
//! order is the one reported, exactly as in 0.14.

use crate::wire::{ErrorClass, QDict, QObject, QmpError};

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
    fn eject_without_device_is_missing_device() {
        let e = check("force:-f,device:B", &QDict::new()).unwrap_err();
        assert_eq!(e, QmpError::with1(ErrorClass::MissingParameter, "device"));
    }

    #[test]
    fn eject_device_int_is_type_string() {
        let e = check("force:-f,device:B", &qdict! { "device" => 1_i64 }).unwrap_err();
        assert_eq!(
            e,
            QmpError::with2(ErrorClass::InvalidParameterType, "device", "string")
        );
    }

    #[test]
    fn eject_force_int_is_type_bool() {
        let a = qdict! { "device" => "ide1-cd0", "force" => 1_i64 };
        let e = check("force:-f,device:B", &a).unwrap_err();
        assert_eq!(
            e,
            QmpError::with2(ErrorClass::InvalidParameterType, "force", "bool")
        );
    }

    #[test]
    fn unknown_argument_is_invalid_parameter() {
        let a = qdict! { "device" => "ide1-cd0", "bogus" => 1_i64 };
        let e = check("force:-f,device:B", &a).unwrap_err();
        assert_eq!(e, QmpError::with1(ErrorClass::InvalidParameter, "bogus"));
    }

    #[test]
    fn client_migrate_info_missing_both_reports_hostname() {
        let spec = "protocol:s,hostname:s,port:i?,tls-port:i?,cert-subject:s?";
        let e = check(spec, &QDict::new()).unwrap_err();
        assert_eq!(e, QmpError::with1(ErrorClass::MissingParameter, "hostname"));
    }

    #[test]
    fn float_for_int_is_rejected() {
        let e = check("index:i", &qdict! { "index" => QObject::Float(1.0) }).unwrap_err();
        assert_eq!(
            e,
            QmpError::with2(ErrorClass::InvalidParameterType, "index", "int")
        );
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

    #[test]
    fn memsave_walk_order_reports_filename_first() {
        let e = check("val:l,size:i,filename:s", &QDict::new()).unwrap_err();
        assert_eq!(e, QmpError::with1(ErrorClass::MissingParameter, "filename"));
    }
}
