//! Events on the wire: each [`Event`] the machine queued becomes its 0.14
//! name and `data` object here, in one place, and [`line()`] formats the event
//! message the engine broadcasts. Data objects are built in 0.14's insertion
//! order (the wire layer applies the hash order); the display events carry
//! the same `server`/`client` objects as `query-vnc` and `query-spice`.
//! Pure: no I/O.

use super::commands::display::{
    spice_client_info, spice_server_info, vnc_client_info, vnc_server_info,
};
use crate::machine::events::{Event, QueuedEvent};
use crate::qdict;
use crate::qobject::{QDict, QObject};
use crate::wire::message::{self, Timestamp};

/// `{"client": ..., "server": ...}`, inserted as 0.14's
/// `qobject_from_jsonf("{ 'client': %p, 'server': %p }")` does.
fn client_server(client: QDict, server: QDict) -> Option<QDict> {
    Some(qdict! { "client" => client, "server" => server })
}

/// An event's `data` member, if it has one.
pub fn data(event: &Event) -> Option<QDict> {
    match event {
        Event::Shutdown | Event::Reset | Event::Powerdown | Event::Stop | Event::Resume => None,
        Event::VncConnected { server, client } => {
            client_server(vnc_client_info(client, false), vnc_server_info(server))
        }
        Event::VncInitialized { server, client } | Event::VncDisconnected { server, client } => {
            client_server(vnc_client_info(client, true), vnc_server_info(server))
        }
        Event::SpiceConnected { channel } | Event::SpiceDisconnected { channel } => client_server(
            spice_client_info(channel, false),
            spice_server_info(channel, None),
        ),
        Event::SpiceInitialized { channel, auth } => client_server(
            spice_client_info(channel, true),
            spice_server_info(channel, Some(*auth)),
        ),
        Event::BlockIoError {
            device,
            action,
            operation,
        } => Some(qdict! {
            "device" => device.as_str(),
            "action" => action.name(),
            "operation" => operation.name(),
        }),
        Event::RtcChange { offset_s } => Some(qdict! { "offset" => *offset_s }),
        Event::Watchdog { action } => Some(qdict! { "action" => action.name() }),
    }
}

/// The event message for `queued`, stamped `ts`, ending in `\r\n`.
pub fn line(queued: &QueuedEvent, ts: Timestamp) -> String {
    let data = data(&queued.event).map(|d| QObject::Dict(d).to_json());
    message::event_raw(queued.event.name(), data.as_deref(), ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::clock::VirtualTime;
    use crate::machine::devices::block::{IoErrorOutcome, IoOperation};
    use crate::machine::display::{SockAddr, SpiceAuth, SpiceChannel, VncAuth, VncClient};
    use crate::machine::events::VncServerEnd;
    use crate::machine::watchdog::WatchdogAction;

    fn json(event: &Event) -> Option<String> {
        data(event).map(|d| QObject::Dict(d).to_json())
    }

    fn addr(host: &str, service: &str) -> SockAddr {
        SockAddr {
            host: host.into(),
            service: service.into(),
            family: "ipv4".into(),
        }
    }

    fn vnc_client() -> VncClient {
        VncClient {
            addr: addr("10.0.0.2", "50000"),
            x509_dname: Some("CN=x".into()),
            sasl_username: None,
        }
    }

    fn vnc_server() -> VncServerEnd {
        VncServerEnd {
            addr: addr("0.0.0.0", "5900"),
            auth: VncAuth::None,
        }
    }

    fn channel() -> SpiceChannel {
        SpiceChannel {
            client: addr("127.0.0.1", "40000"),
            server: addr("127.0.0.1", "5930"),
            connection_id: 1,
            channel_type: 2,
            channel_id: 0,
            tls: true,
        }
    }

    #[test]
    fn vnc_connected_data_is_in_hash_order() {
        let connected = Event::VncConnected {
            server: VncServerEnd {
                addr: addr("0.0.0.0", "5901"),
                auth: VncAuth::None,
            },
            client: VncClient {
                addr: addr("127.0.0.1", "50000"),
                x509_dname: None,
                sasl_username: None,
            },
        };
        assert_eq!(
            json(&connected).unwrap(),
            r#"{"server": {"auth": "none", "family": "ipv4", "service": "5901", "host": "0.0.0.0"}, "client": {"family": "ipv4", "service": "50000", "host": "127.0.0.1"}}"#
        );
    }

    #[test]
    fn spice_disconnected_data_is_in_hash_order() {
        let mut ch = channel();
        ch.server = addr("127.0.0.1", "5930");
        assert_eq!(
            json(&Event::SpiceDisconnected { channel: ch }).unwrap(),
            r#"{"server": {"port": "5930", "family": "ipv4", "host": "127.0.0.1"}, "client": {"port": "40000", "family": "ipv4", "host": "127.0.0.1"}}"#
        );
    }

    #[test]
    fn block_io_error_data_is_in_hash_order() {
        let s = json(&Event::BlockIoError {
            device: "ide0-hd0".into(),
            action: IoErrorOutcome::Report,
            operation: IoOperation::Write,
        });
        assert_eq!(
            s.as_deref(),
            Some(r#"{"device": "ide0-hd0", "operation": "write", "action": "report"}"#)
        );
    }

    #[test]
    fn runstate_events_have_no_data() {
        assert_eq!(json(&Event::Stop), None);
    }

    #[test]
    fn line_is_timestamp_event_data() {
        let q = QueuedEvent {
            at: VirtualTime(0),
            event: Event::RtcChange { offset_s: -3600 },
        };
        let ts = Timestamp {
            seconds: 1,
            microseconds: 2,
        };
        assert_eq!(
            line(&q, ts),
            "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RTC_CHANGE\", \"data\": {\"offset\": -3600}}\r\n"
        );
    }

    #[test]
    fn vnc_connected_client_has_no_auth_fields_yet() {
        let connected = Event::VncConnected {
            server: vnc_server(),
            client: vnc_client(),
        };
        assert!(!json(&connected).unwrap().contains("x509_dname"));
    }

    #[test]
    fn vnc_initialized_client_has_auth_fields() {
        let initialized = Event::VncInitialized {
            server: vnc_server(),
            client: vnc_client(),
        };
        assert!(json(&initialized)
            .unwrap()
            .contains(r#""x509_dname": "CN=x""#));
    }

    #[test]
    fn spice_initialized_has_channel_info_and_auth() {
        let d = data(&Event::SpiceInitialized {
            channel: channel(),
            auth: SpiceAuth::Spice,
        })
        .unwrap();
        let keys = |k: &str| -> Vec<String> {
            d.get(k)
                .and_then(QObject::as_dict)
                .unwrap()
                .iter_inserted()
                .map(|(k, _)| k.to_owned())
                .collect()
        };
        assert_eq!(
            (keys("client"), keys("server")),
            (
                [
                    "host",
                    "port",
                    "family",
                    "connection-id",
                    "channel-type",
                    "channel-id",
                    "tls"
                ]
                .map(String::from)
                .to_vec(),
                ["host", "port", "family", "auth"]
                    .map(String::from)
                    .to_vec()
            )
        );
    }

    #[test]
    fn spice_disconnected_has_addresses_only() {
        let s = json(&Event::SpiceDisconnected { channel: channel() }).unwrap();
        assert!(!s.contains("connection-id") && !s.contains("auth"));
    }

    #[test]
    fn block_io_error_names_device_action_operation() {
        let s = json(&Event::BlockIoError {
            device: "ide0-hd0".into(),
            action: IoErrorOutcome::Stop,
            operation: IoOperation::Write,
        })
        .unwrap();
        assert!(
            s.contains(r#""device": "ide0-hd0""#)
                && s.contains(r#""action": "stop""#)
                && s.contains(r#""operation": "write""#),
            "{s}"
        );
    }

    #[test]
    fn watchdog_names_its_action() {
        let s = json(&Event::Watchdog {
            action: WatchdogAction::Pause,
        });
        assert_eq!(s.as_deref(), Some(r#"{"action": "pause"}"#));
    }
}
