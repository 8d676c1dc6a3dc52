//! The messages qmpsim writes: greeting, responses and events, each serialized as
//! 0.14's monitor does (hash key order, `\r\n` terminator). Pure functions.

use super::error_class::QmpError;
use super::value::{QDict, QObject};

/// Message terminator: 0.14 writes `\n`, which the monitor's chardev turns into `\r\n`.
pub const LINE_END: &str = "\r\n";

/// The emulated QEMU version.
pub const QEMU_VERSION: (i64, i64, i64) = (0, 14, 0);

/// `query-version`'s data: `{"qemu": {...}, "package": PKG}`.
pub fn version_info(package: &str) -> QObject {
    let (major, minor, micro) = QEMU_VERSION;
    let qemu = crate::qdict! { "major" => major, "minor" => minor, "micro" => micro };
    QObject::Dict(crate::qdict! { "qemu" => qemu, "package" => package })
}

/// The greeting sent on every new connection.
pub fn greeting(package: &str) -> String {
    let qmp = crate::qdict! {
        "version" => version_info(package),
        "capabilities" => QObject::List(Vec::new()),
    };
    line(&QObject::Dict(crate::qdict! { "QMP" => qmp }))
}

/// `{"return": DATA, "id": ID}`.
pub fn success(data: QObject, id: Option<&QObject>) -> String {
    let mut d = QDict::new();
    d.put("return", data);
    if let Some(id) = id {
        d.put("id", id.clone());
    }
    line(&QObject::Dict(d))
}

/// `{"id": ID, "error": {...}}`.
pub fn error(err: &QmpError, id: Option<&QObject>) -> String {
    let mut d = QDict::new();
    d.put("error", err.to_qobject());
    if let Some(id) = id {
        d.put("id", id.clone());
    }
    line(&QObject::Dict(d))
}

/// An event's timestamp, as `gettimeofday` would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Microseconds within the second.
    pub microseconds: i64,
}

/// `{"timestamp": {...}, "event": NAME, "data": {...}}`; `data` only when given.
pub fn event(name: &str, data: Option<&QDict>, ts: Timestamp) -> String {
    let mut d = QDict::new();
    d.put(
        "timestamp",
        crate::qdict! { "seconds" => ts.seconds, "microseconds" => ts.microseconds },
    );
    d.put("event", name);
    if let Some(data) = data {
        d.put("data", data.clone());
    }
    line(&QObject::Dict(d))
}

/// An event whose data is already serialized (as the machine's event queue keeps it).
/// The layout is fixed: `timestamp`, `event` and `data` always emit in that order.
pub fn event_raw(name: &str, data_json: Option<&str>, ts: Timestamp) -> String {
    let name = QObject::from(name).to_json();
    let mut s = format!(
        "{{\"timestamp\": {{\"seconds\": {}, \"microseconds\": {}}}, \"event\": {name}",
        ts.seconds, ts.microseconds
    );
    if let Some(data) = data_json {
        s.push_str(", \"data\": ");
        s.push_str(data);
    }
    s.push('}');
    s.push_str(LINE_END);
    s
}

fn line(obj: &QObject) -> String {
    let mut s = obj.to_json();
    s.push_str(LINE_END);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error_class::ErrorClass;

    #[test]
    fn greeting_is_byte_exact() {
        assert_eq!(
            greeting(""),
            "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 14, \"major\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n"
        );
    }

    #[test]
    fn success_puts_return_before_id() {
        let ret = QObject::Dict(crate::qdict! { "enabled" => true, "present" => true });
        assert_eq!(
            success(ret, Some(&"example".into())),
            "{\"return\": {\"enabled\": true, \"present\": true}, \"id\": \"example\"}\r\n"
        );
    }

    #[test]
    fn error_puts_id_before_error() {
        let e = QmpError::with1(ErrorClass::CommandNotFound, "qmp_capabilities");
        assert_eq!(
            error(&e, Some(&"x".into())),
            "{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command qmp_capabilities has not been found\", \"data\": {\"name\": \"qmp_capabilities\"}}}\r\n"
        );
    }

    #[test]
    fn event_raw_matches_event() {
        let ts = Timestamp {
            seconds: 5,
            microseconds: 6,
        };
        let data = crate::qdict! { "action" => "pause" };
        assert_eq!(
            event_raw("WATCHDOG", Some(&QObject::Dict(data.clone()).to_json()), ts),
            event("WATCHDOG", Some(&data), ts)
        );
    }

    #[test]
    fn event_without_data_matches_reference() {
        let ts = Timestamp {
            seconds: 1_300_000_000,
            microseconds: 123_456,
        };
        assert_eq!(
            event("STOP", None, ts),
            "{\"timestamp\": {\"seconds\": 1300000000, \"microseconds\": 123456}, \"event\": \"STOP\"}\r\n"
        );
    }
}
