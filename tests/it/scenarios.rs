//! The integration scenarios, shared by the determinism check, the socket tests and
//! the trace corpus: each is a machine configuration and a client script.

use qmpsim::machine::config::MachineConfig;

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

fn default_config() -> MachineConfig {
    MachineConfig::default()
}

fn paused_named() -> MachineConfig {
    MachineConfig {
        name: Some("demo".into()),
        start_paused: true,
        uuid: Some("550e8400-e29b-41d4-a716-446655440000".into()),
        ..MachineConfig::default()
    }
}

/// Every scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "negotiate-and-query",
        config: default_config,
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
        config: paused_named,
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
        config: default_config,
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
];
