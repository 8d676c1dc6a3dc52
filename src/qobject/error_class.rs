//! The QMP error classes of QEMU 0.14 (qerror.c `qerror_table`) as a closed enum,
//! with their data members and `desc` templates kept as data.
//!
//! A handler fails with a [`QmpError`]: a class and its data. The wire form
//! (`{"class": ..., "desc": ..., "data": {...}}`) is built in one place,
//! [`QmpError::to_qobject`]. Rust errors never reach the wire.

use super::value::{QDict, QObject};

macro_rules! error_classes {
    ($( $variant:ident => [$($member:literal),*], $template:literal; )+) => {
        /// Every error class QEMU 0.14 can send.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ErrorClass {
            $(
                #[doc = $template]
                $variant,
            )+
        }

        impl ErrorClass {
            /// All classes, in qerror.c table order.
            pub const ALL: &'static [ErrorClass] = &[$(ErrorClass::$variant),+];

            /// The class name as sent on the wire.
            pub fn name(self) -> &'static str {
                match self { $(ErrorClass::$variant => stringify!($variant),)+ }
            }

            /// The data members, in the order 0.14's format string inserts them.
            pub fn members(self) -> &'static [&'static str] {
                match self { $(ErrorClass::$variant => &[$($member),*],)+ }
            }

            /// The `desc` template with `%(member)` placeholders.
            pub fn template(self) -> &'static str {
                match self { $(ErrorClass::$variant => $template,)+ }
            }
        }
    };
}

error_classes! {
    BadBusForDevice => ["device", "bad_bus_type"], "Device '%(device)' can't go on a %(bad_bus_type) bus";
    BusNotFound => ["bus"], "Bus '%(bus)' not found";
    BusNoHotplug => ["bus"], "Bus '%(bus)' does not support hotplugging";
    CommandNotFound => ["name"], "The command %(name) has not been found";
    DeviceEncrypted => ["device"], "Device '%(device)' is encrypted";
    DeviceInitFailed => ["device"], "Device '%(device)' could not be initialized";
    DeviceInUse => ["device"], "Device '%(device)' is in use";
    DeviceLocked => ["device"], "Device '%(device)' is locked";
    DeviceMultipleBusses => ["device"], "Device '%(device)' has multiple child busses";
    DeviceNotActive => ["device"], "Device '%(device)' has not been activated";
    DeviceNotEncrypted => ["device"], "Device '%(device)' is not encrypted";
    DeviceNotFound => ["device"], "Device '%(device)' not found";
    DeviceNotRemovable => ["device"], "Device '%(device)' is not removable";
    DeviceNoBus => ["device"], "Device '%(device)' has no child bus";
    DeviceNoHotplug => ["device"], "Device '%(device)' does not support hotplugging";
    DuplicateId => ["id", "object"], "Duplicate ID '%(id)' for %(object)";
    FdNotFound => ["name"], "File descriptor named '%(name)' not found";
    FdNotSupplied => [], "No file descriptor supplied via SCM_RIGHTS";
    InvalidBlockFormat => ["name"], "Invalid block format '%(name)'";
    InvalidParameter => ["name"], "Invalid parameter '%(name)'";
    InvalidParameterType => ["name", "expected"], "Invalid parameter type, expected: %(expected)";
    InvalidParameterValue => ["name", "expected"], "Parameter '%(name)' expects %(expected)";
    InvalidPassword => [], "Password incorrect";
    JSONParsing => [], "Invalid JSON syntax";
    KVMMissingCap => ["capability", "feature"], "Using KVM without %(capability), %(feature) unavailable";
    MigrationExpected => [], "An incoming migration is expected before this command can be executed";
    MissingParameter => ["name"], "Parameter '%(name)' is missing";
    NoBusForDevice => ["device", "bus"], "No '%(bus)' bus found for device '%(device)'";
    OpenFileFailed => ["filename"], "Could not open '%(filename)'";
    PropertyNotFound => ["device", "property"], "Property '%(device).%(property)' not found";
    PropertyValueBad => ["device", "property", "value"], "Property '%(device).%(property)' doesn't take value '%(value)'";
    PropertyValueInUse => ["device", "property", "value"], "Property '%(device).%(property)' can't take value '%(value)', it's in use";
    PropertyValueNotFound => ["device", "property", "value"], "Property '%(device).%(property)' can't find value '%(value)'";
    QMPBadInputObject => ["expected"], "Expected '%(expected)' in QMP input";
    QMPBadInputObjectMember => ["member", "expected"], "QMP input object member '%(member)' expects '%(expected)'";
    QMPExtraInputObjectMember => ["member"], "QMP input object member '%(member)' is unexpected";
    SetPasswdFailed => [], "Could not set password";
    TooManyFiles => [], "Too many open files";
    UndefinedError => [], "An undefined error has ocurred";
    UnknownBlockFormatFeature => ["device", "format", "feature"], "'%(device)' uses a %(format) feature which is not supported by this qemu version: %(feature)";
    VNCServerFailed => ["target"], "Could not start VNC server on %(target)";
}

/// A QMP error as data: its class and data members.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpError {
    /// The class.
    pub class: ErrorClass,
    /// The data members, inserted in the class's member order.
    pub data: QDict,
}

impl QmpError {
    /// Builds an error from its members' values, given in [`ErrorClass::members`] order.
    ///
    /// # Panics
    /// If the number of values does not match the class (a programming error).
    pub fn new(class: ErrorClass, values: &[&dyn ToQObject]) -> Self {
        let members = class.members();
        assert_eq!(
            members.len(),
            values.len(),
            "error class {} member count",
            class.name()
        );
        let mut data = QDict::new();
        for (m, v) in members.iter().zip(values) {
            data.put(m, v.to_qobject());
        }
        QmpError { class, data }
    }

    /// An error of a class without data.
    pub fn bare(class: ErrorClass) -> Self {
        Self::new(class, &[])
    }

    /// The class with one string member.
    pub fn with1(class: ErrorClass, a: &str) -> Self {
        Self::new(class, &[&a])
    }

    /// The class with two string members.
    pub fn with2(class: ErrorClass, a: &str, b: &str) -> Self {
        Self::new(class, &[&a, &b])
    }

    /// The `desc` text: the template filled from the data.
    pub fn desc(&self) -> String {
        let t = self.class.template();
        let mut out = String::with_capacity(t.len() + 16);
        let mut rest = t;
        while let Some(start) = rest.find("%(") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let key = &after[..end];
            match self.data.get(key) {
                Some(QObject::Str(s)) => out.push_str(s),
                Some(QObject::Int(i)) => out.push_str(&i.to_string()),
                Some(other) => out.push_str(&other.to_json()),
                None => {}
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The wire object `{"class", "desc", "data"}`.
    pub fn to_qobject(&self) -> QObject {
        let mut d = QDict::new();
        d.put("class", self.class.name());
        d.put("desc", self.desc());
        d.put("data", self.data.clone());
        QObject::Dict(d)
    }
}

/// Values that can fill an error data member.
pub trait ToQObject {
    /// The member's value.
    fn to_qobject(&self) -> QObject;
}
impl ToQObject for &str {
    fn to_qobject(&self) -> QObject {
        QObject::Str((*self).to_owned())
    }
}
impl ToQObject for String {
    fn to_qobject(&self) -> QObject {
        QObject::Str(self.clone())
    }
}
impl ToQObject for i64 {
    fn to_qobject(&self) -> QObject {
        QObject::Int(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    #[test]
    fn forty_one_classes_with_unique_names() {
        assert_eq!(
            repeated(ErrorClass::ALL.iter().map(|c| c.name())),
            Vec::<&str>::new()
        );
        assert_eq!(ErrorClass::ALL.len(), 41);
    }

    #[test]
    fn command_not_found_wire_form() {
        let e = QmpError::with1(ErrorClass::CommandNotFound, "query-version");
        assert_eq!(
            e.to_qobject().to_json(),
            r#"{"class": "CommandNotFound", "desc": "The command query-version has not been found", "data": {"name": "query-version"}}"#
        );
    }

    #[test]
    fn duplicate_id_data_order_is_object_then_id() {
        let e = QmpError::with2(ErrorClass::DuplicateId, "n1", "netdev");
        assert_eq!(
            e.data
                .emit_order()
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>(),
            ["object", "id"]
        );
        assert_eq!(e.desc(), "Duplicate ID 'n1' for netdev");
    }

    #[test]
    fn property_data_order_matches_reference() {
        let e = QmpError::new(ErrorClass::PropertyValueBad, &[&"e1000", &"mac", &"zz"]);
        let order: Vec<&str> = e.data.emit_order().iter().map(|(k, _)| *k).collect();
        assert_eq!(order, ["device", "property", "value"]);
    }

    #[test]
    fn every_template_fills_every_member() {
        for &class in ErrorClass::ALL {
            let values: Vec<&dyn ToQObject> = class
                .members()
                .iter()
                .map(|_| &"V" as &dyn ToQObject)
                .collect();
            let e = QmpError::new(class, &values);
            assert!(
                !e.desc().contains("%("),
                "{} left a placeholder",
                class.name()
            );
        }
    }
}
