//! The integration scenarios, shared by the determinism check, the socket tests and
//! the trace corpus: each is a machine configuration and a client script.

use qmpsim::machine::config::MachineConfig;

use crate::support::{ext, ext_spice, ext_vnc, virtual_disk};

/// One scripted client session.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name used in failure messages.
    pub name: &'static str,
    /// The machine.
    pub config: fn() -> MachineConfig,
    /// The same machine as command-line options of the real binary.
    pub args: &'static [&'static str],
    /// Client lines, sent in order.
    pub lines: &'static [&'static str],
    /// How many times to let virtual time jump to the next deadline at the end.
    pub idle_advances: usize,
}

/// Every scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "negotiate-and-query",
        config: MachineConfig::default,
        args: &[],
        lines: &[
            r#"{"execute":"query-version"}"#,
            r#"{"execute":"qmp_capabilities","id":1}"#,
            r#"{"execute":"qmp_capabilities","id":"x"}"#,
            r#"{"execute":"query-status","id":2}"#,
            r#"{"execute":"query-commands"}"#,
            r#"{"execute":"query-kvm","id":"example"}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "stop-cont-quit",
        config: || MachineConfig {
            name: Some("demo".into()),
            start_paused: true,
            uuid: Some("550e8400-e29b-41d4-a716-446655440000".into()),
            ..MachineConfig::default()
        },
        args: &[
            "-name",
            "demo",
            "-S",
            "-uuid",
            "550e8400-e29b-41d4-a716-446655440000",
        ],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"query-name"}"#,
            r#"{"execute":"query-uuid"}"#,
            r#"{"execute":"cont","id":"c1"}"#,
            r#"{"execute":"stop","id":"s1"}"#,
            r#"{"execute":"stop","id":"s2"}"#,
            r#"{"execute":"cont"}"#,
            r#"{"execute":"quit","id":99}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "malformed-input-survives",
        config: MachineConfig::default,
        args: &[],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"}"#,
            r#"{"execute":}"#,
            r#"[1,2]"#,
            r#"{"execute":1,"id":2}"#,
            r#"{"id":3}"#,
            r#"{"execute":"stop","foo":1,"id":4}"#,
            r#"{"execute":"query-status","arguments":[]}"#,
            r#"{"execute":"query-status","id":null}"#,
            r#"X{"execute":"query-status","id":'sq'}"#,
            r#"{"execute":"nosuch","id":5}"#,
            r#"{"execute":"query-status","id":{"a":[1,2.5,true]}}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "vnc-client-events",
        config: || ext_vnc(":1,sasl"),
        args: &["-x-extensions", "-vnc", ":1,sasl"],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"127.0.0.1","service":"50000","family":"ipv4","sasl_username":"alice"},"id":1}"#,
            r#"{"execute":"query-vnc","id":2}"#,
            r#"{"execute":"x-vnc-client","arguments":{"action":"disconnect","host":"127.0.0.1","service":"50000"},"id":3}"#,
            r#"{"execute":"query-vnc","id":4}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "spice-client-events",
        config: || ext_spice(&[("port", "5930"), ("tls-port", "5931")]),
        args: &["-x-extensions", "-spice", "port=5930,tls-port=5931"],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40000"},"id":1}"#,
            r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40001","channel-type":2,"tls":true},"id":2}"#,
            r#"{"execute":"query-spice","id":3}"#,
            r#"{"execute":"x-spice-client","arguments":{"action":"disconnect","host":"127.0.0.1","port":"40000"},"id":4}"#,
            r#"{"execute":"query-spice","id":5}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "block-io-error-events",
        config: || virtual_disk(&[("werror", "stop")]),
        args: &[
            "-x-extensions",
            "-drive",
            "file=disk.img,if=ide,index=0,x-virtual=on,x-size=1G,werror=stop",
        ],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read"},"id":1}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write","error":"enospc"},"id":2}"#,
            r#"{"execute":"query-status","id":3}"#,
            r#"{"execute":"cont","id":4}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"nosuch","operation":"read"},"id":5}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "errors-device-locked",
        config: || MachineConfig {
            chaos: Some(qmpsim::machine::chaos::ChaosConfig {
                seed: 1,
                rate_ppm: 1_000_000,
                kinds: vec![qmpsim::machine::chaos::ChaosKind::Failures],
            }),
            ..MachineConfig::default()
        },
        args: &["-x-chaos", "seed=1,rate=1,kinds=failures"],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"eject","arguments":{"device":"ide1-cd0"},"id":1}"#,
            r#"{"execute":"eject","arguments":{"device":"ide1-cd0","force":true},"id":2}"#,
            r#"{"execute":"query-block","id":3}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "rtc-change-events",
        config: || MachineConfig {
            rtc: Some("base=utc".into()),
            ..ext()
        },
        args: &["-x-extensions", "-rtc", "base=utc"],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":3600},"id":1}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":-60},"id":2}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":2147483648},"id":3}"#,
        ],
        idle_advances: 0,
    },
    Scenario {
        name: "watchdog-events",
        config: || MachineConfig {
            watchdog: Some(qmpsim::machine::watchdog::WatchdogModel::I6300esb),
            watchdog_action: Some(qmpsim::machine::watchdog::WatchdogAction::Pause),
            ..ext()
        },
        args: &[
            "-x-extensions",
            "-watchdog",
            "i6300esb",
            "-watchdog-action",
            "pause",
        ],
        lines: &[
            r#"{"execute":"qmp_capabilities"}"#,
            r#"{"execute":"x-watchdog-expire","id":1}"#,
            r#"{"execute":"query-status","id":2}"#,
            r#"{"execute":"human-monitor-command","arguments":{"command-line":"watchdog_action reset"},"id":3}"#,
            r#"{"execute":"cont","id":4}"#,
            r#"{"execute":"x-watchdog-expire","id":5}"#,
            r#"{"execute":"query-status","id":6}"#,
        ],
        idle_advances: 0,
    },
];
