//! Goldens of the 14 QEMU 0.14 events: one snapshot per event (in `golden/`)
//! showing its data and where it falls relative to the response of the command
//! that caused it, one per `x-` extension command with its error paths, and
//! `query-commands` with and without `-x-extensions`. Sessions that need
//! virtual time to pass use [`with_idle`], which adds `-- idle` lines where the
//! clock jumps to the next deadline.

use qmpsim::engine::{Engine, Input};
use qmpsim::machine::config::MachineConfig;
use qmpsim::scenario::{self, SCRIPT_CLIENT};

use crate::support::{ext, ext_spice, ext_vnc, goldens, sessions, snap, virtual_disk};

/// Like one `scenario::run`, then `idle` jumps of virtual time to the next
/// deadline, each shown as `-- idle`.
fn with_idle(config: MachineConfig, lines: &[&str], idle: usize) -> String {
    let mut t = scenario::run(config, true, lines);
    let mut engine: Engine = t.engine;
    for _ in 0..idle {
        let Some(at) = engine.next_deadline() else {
            break;
        };
        t.text.push_str("-- idle\n");
        scenario::append_outputs(&mut t.text, &engine.step(Input::AdvanceTo { at }));
    }
    t.text
}

/// `-x-extensions -watchdog i6300esb -watchdog-action ACTION`.
fn watchdog(action: &str) -> MachineConfig {
    MachineConfig {
        watchdog: Some(qmpsim::machine::watchdog::WatchdogModel::I6300esb),
        watchdog_action: qmpsim::machine::watchdog::WatchdogAction::parse(action),
        ..ext()
    }
}

const VNC_CONNECT: &str = r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"127.0.0.1","service":"50000","family":"ipv4"},"id":"c"}"#;
const VNC_DISCONNECT: &str = r#"{"execute":"x-vnc-client","arguments":{"action":"disconnect","host":"127.0.0.1","service":"50000"},"id":"d"}"#;
const SPICE_CONNECT: &str = r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40000","connection-id":1804289383},"id":"c"}"#;
const SPICE_DISCONNECT: &str = r#"{"execute":"x-spice-client","arguments":{"action":"disconnect","host":"127.0.0.1","port":"40000"},"id":"d"}"#;
const WATCHDOG_EXPIRE: &str = r#"{"execute":"x-watchdog-expire","id":"w"}"#;
const QUERY_STATUS: &str = r#"{"execute":"query-status","id":"s"}"#;

#[test]
fn golden_events_shutdown() {
    let text = sessions(&[
        (
            "quit: return, then SHUTDOWN, then exit",
            ext(),
            &[r#"{"execute":"quit","id":1}"#],
        ),
        (
            "quit with -no-shutdown still exits",
            MachineConfig {
                no_shutdown: true,
                ..ext()
            },
            &[r#"{"execute":"quit","id":1}"#],
        ),
    ]);
    let guest = with_idle(
        MachineConfig {
            no_shutdown: true,
            ..ext()
        },
        &[r#"{"execute":"system_powerdown","id":2}"#],
        1,
    );
    snap(
        "events__shutdown",
        &format!("{text}## guest power-off with -no-shutdown: SHUTDOWN then STOP\n{guest}"),
    );
}

goldens! {
    golden_events_reset => "events__reset", sessions(&[
        (
            "system_reset: return, then RESET",
            ext(),
            &[r#"{"execute":"system_reset","id":1}"#],
        ),
        (
            "watchdog reset: WATCHDOG, return, RESET",
            watchdog("reset"),
            &[WATCHDOG_EXPIRE],
        ),
    ]);
}

#[test]
fn golden_events_powerdown() {
    let text = with_idle(ext(), &[r#"{"execute":"system_powerdown","id":1}"#], 1);
    snap(
        "events__powerdown",
        &format!("## return, POWERDOWN, then the guest's SHUTDOWN\n{text}"),
    );
}

goldens! {
    golden_events_stop => "events__stop", sessions(&[(
        "STOP before the return, once",
        ext(),
        &[
            r#"{"execute":"stop","id":1}"#,
            r#"{"execute":"stop","id":2}"#,
        ],
    )]);

    golden_events_resume => "events__resume", sessions(&[(
        "-S: RESUME before the return, once",
        MachineConfig {
            start_paused: true,
            ..ext()
        },
        &[
            r#"{"execute":"cont","id":1}"#,
            r#"{"execute":"cont","id":2}"#,
        ],
    )]);

    golden_events_vnc_connected => "events__vnc_connected", sessions(&[
        (
            "-vnc :1: CONNECTED and INITIALIZED before the return",
            ext_vnc(":1"),
            &[VNC_CONNECT],
        ),
        (
            "-vnc [::1]:2,password, IPv6 client",
            ext_vnc("[::1]:2,password"),
            &[
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"::1","service":"40000"}}"#,
            ],
        ),
        (
            "-vnc unix:/tmp/vnc.sock",
            ext_vnc("unix:/tmp/vnc.sock"),
            &[
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"localhost","service":"","family":"unix"}}"#,
            ],
        ),
    ]);

    golden_events_vnc_initialized => "events__vnc_initialized", sessions(&[(
        "x509 + SASL: CONNECTED without, INITIALIZED with the auth fields; query-vnc, newest first",
        ext_vnc(":1,tls,x509=/etc/pki,sasl"),
        &[
            r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"10.0.0.2","service":"50000","x509_dname":"C=GB,CN=viewer","sasl_username":"alice"}}"#,
            r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"10.0.0.3","service":"50001","sasl_username":"bob"}}"#,
            r#"{"execute":"query-vnc","id":"q"}"#,
            r#"{"execute":"human-monitor-command","arguments":{"command-line":"info vnc"}}"#,
        ],
    )]);

    golden_events_vnc_disconnected => "events__vnc_disconnected", sessions(&[
        (
            "DISCONNECTED before the return; the client leaves query-vnc",
            ext_vnc(":1"),
            &[
                VNC_CONNECT,
                VNC_DISCONNECT,
                r#"{"execute":"query-vnc","id":"q"}"#,
            ],
        ),
        (
            "SASL client: DISCONNECTED keeps the auth fields",
            ext_vnc(":1,sasl"),
            &[
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"127.0.0.1","service":"50000","sasl_username":"alice"}}"#,
                VNC_DISCONNECT,
            ],
        ),
        (
            "display closed with change vnc none: no event (no server address)",
            ext_vnc(":1"),
            &[
                VNC_CONNECT,
                r#"{"execute":"change","arguments":{"device":"vnc","target":"none"}}"#,
                VNC_DISCONNECT,
            ],
        ),
    ]);

    golden_events_spice_connected => "events__spice_connected", sessions(&[
        (
            "-spice port=5930: CONNECTED and INITIALIZED before the return",
            ext_spice(&[("port", "5930")]),
            &[SPICE_CONNECT],
        ),
        (
            "-spice addr=::1,tls-port=5931: TLS channel, IPv6",
            ext_spice(&[("addr", "::1"), ("tls-port", "5931")]),
            &[
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"::1","port":"40001","connection-id":42,"tls":true}}"#,
            ],
        ),
    ]);

    golden_events_spice_initialized => "events__spice_initialized", sessions(&[
        (
            "main then display channel; server gets auth, client the channel info; query-spice",
            ext_spice(&[
                ("port", "5930"),
                ("tls-port", "5931"),
                ("disable-ticketing", "on"),
            ]),
            &[
                SPICE_CONNECT,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40001","connection-id":1804289383,"channel-type":2,"channel-id":0,"tls":true}}"#,
                r#"{"execute":"query-spice","id":"q"}"#,
                r#"{"execute":"human-monitor-command","arguments":{"command-line":"info spice"}}"#,
            ],
        ),
        (
            "connection-id drawn from the seeded rng",
            ext_spice(&[("port", "5930")]),
            &[
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40000"}}"#,
            ],
        ),
    ]);

    golden_events_spice_disconnected => "events__spice_disconnected", sessions(&[
        (
            "DISCONNECTED (addresses only) before the return; the channel leaves query-spice",
            ext_spice(&[("port", "5930")]),
            &[
                SPICE_CONNECT,
                SPICE_DISCONNECT,
                r#"{"execute":"query-spice","id":"q"}"#,
            ],
        ),
        (
            "set_password with a client: fail refuses, disconnect closes every channel",
            ext_spice(&[("port", "5930")]),
            &[
                SPICE_CONNECT,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"127.0.0.1","port":"40001","connection-id":1804289383,"channel-type":2}}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"s3","connected":"fail"},"id":"f"}"#,
                r#"{"execute":"set_password","arguments":{"protocol":"spice","password":"s3","connected":"disconnect"},"id":"p"}"#,
                r#"{"execute":"query-spice","id":"q"}"#,
            ],
        ),
    ]);

    golden_events_block_io_error => "events__block_io_error", sessions(&[
        (
            "defaults: rerror=report, werror=enospc (EIO reported, ENOSPC stops)",
            virtual_disk(&[]),
            &[
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read"},"id":1}"#,
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read","error":"enospc"},"id":2}"#,
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write"},"id":3}"#,
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write","error":"enospc"},"id":4}"#,
                QUERY_STATUS,
                r#"{"execute":"cont","id":5}"#,
            ],
        ),
        (
            "werror=stop: BLOCK_IO_ERROR, STOP, return; again while paused: no STOP",
            virtual_disk(&[("werror", "stop")]),
            &[
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write"},"id":1}"#,
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write"},"id":2}"#,
                QUERY_STATUS,
            ],
        ),
        (
            "rerror=ignore,werror=ignore: the VM keeps running",
            virtual_disk(&[("rerror", "ignore"), ("werror", "ignore")]),
            &[
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read"},"id":1}"#,
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"write","error":"enospc"},"id":2}"#,
                QUERY_STATUS,
            ],
        ),
        (
            "rerror=stop",
            virtual_disk(&[("rerror", "stop")]),
            &[
                r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read"},"id":1}"#,
            ],
        ),
    ]);

    golden_events_rtc_change => "events__rtc_change", sessions(&[(
        "RTC_CHANGE before the return; offsets at both ends of a C int",
        ext(),
        &[
            r#"{"execute":"x-rtc-set","arguments":{"offset":3600},"id":1}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":-2147483648},"id":2}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":2147483647},"id":3}"#,
        ],
    )]);
}

#[test]
fn golden_events_watchdog() {
    let mut text = sessions(&[
        (
            "reset: WATCHDOG, return, RESET",
            watchdog("reset"),
            &[WATCHDOG_EXPIRE],
        ),
        (
            "pause: WATCHDOG, STOP, return",
            watchdog("pause"),
            &[WATCHDOG_EXPIRE, QUERY_STATUS],
        ),
        (
            "poweroff: WATCHDOG, return, exit without SHUTDOWN",
            watchdog("poweroff"),
            &[WATCHDOG_EXPIRE],
        ),
        (
            "debug: WATCHDOG, a line on stderr, return",
            watchdog("debug"),
            &[WATCHDOG_EXPIRE],
        ),
        ("none: WATCHDOG only", watchdog("none"), &[WATCHDOG_EXPIRE]),
        (
            "-watchdog ib700, default action (reset)",
            MachineConfig {
                watchdog: Some(qmpsim::machine::watchdog::WatchdogModel::Ib700),
                ..ext()
            },
            &[WATCHDOG_EXPIRE],
        ),
        (
            "HMP watchdog_action changes the action; an unknown one is refused",
            watchdog("reset"),
            &[
                r#"{"execute":"human-monitor-command","arguments":{"command-line":"watchdog_action PAUSE"}}"#,
                r#"{"execute":"human-monitor-command","arguments":{"command-line":"watchdog_action explode"}}"#,
                WATCHDOG_EXPIRE,
            ],
        ),
        (
            "device_add i6300esb gives a watchdog",
            ext(),
            &[
                r#"{"execute":"device_add","arguments":{"driver":"i6300esb","id":"wd"}}"#,
                WATCHDOG_EXPIRE,
            ],
        ),
    ]);
    text.push_str("## shutdown: WATCHDOG, return, POWERDOWN; the guest then shuts down\n");
    text.push_str(&with_idle(watchdog("shutdown"), &[WATCHDOG_EXPIRE], 1));
    snap("events__watchdog", &text);
}

goldens! {
    golden_events_x_vnc_client_errors => "events__x_vnc_client_errors", sessions(&[
        ("no -vnc", ext(), &[VNC_CONNECT, VNC_DISCONNECT]),
        ("-vnc none", ext_vnc("none"), &[VNC_CONNECT]),
        (
            "reverse connection: no listening address",
            ext_vnc("127.0.0.1:5500,reverse"),
            &[VNC_CONNECT],
        ),
        (
            "argument values",
            ext_vnc(":1"),
            &[
                r#"{"execute":"x-vnc-client","arguments":{"action":"join","host":"h","service":"1"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"","service":"1"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h","service":"123456789012345678901234567890123"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h","service":"1","family":"ipx"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h","service":"1","x509_dname":"CN=x"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h","service":"1","sasl_username":"alice"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h"}}"#,
                r#"{"execute":"x-vnc-client","arguments":{"action":"connect","host":"h","service":1}}"#,
            ],
        ),
        (
            "same address twice, unknown client",
            ext_vnc(":1"),
            &[VNC_CONNECT, VNC_CONNECT, VNC_DISCONNECT, VNC_DISCONNECT],
        ),
    ]);

    golden_events_x_spice_client_errors => "events__x_spice_client_errors", sessions(&[
        ("no -spice", ext(), &[SPICE_CONNECT, SPICE_DISCONNECT]),
        (
            "port only: a TLS channel is refused",
            ext_spice(&[("port", "5930")]),
            &[
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":"1","tls":true}}"#,
            ],
        ),
        (
            "tls-port only",
            ext_spice(&[("tls-port", "5931")]),
            &[SPICE_CONNECT],
        ),
        (
            "argument values",
            ext_spice(&[("port", "5930")]),
            &[
                r#"{"execute":"x-spice-client","arguments":{"action":"leave","host":"h","port":"1"}}"#,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":"1","connection-id":4294967296}}"#,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":"1","channel-type":256}}"#,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":"1","channel-id":-1}}"#,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":1}}"#,
                r#"{"execute":"x-spice-client","arguments":{"action":"connect","host":"h","port":"1","tls":"yes"}}"#,
            ],
        ),
        (
            "same address twice, unknown channel",
            ext_spice(&[("port", "5930")]),
            &[
                SPICE_CONNECT,
                SPICE_CONNECT,
                SPICE_DISCONNECT,
                SPICE_DISCONNECT,
            ],
        ),
    ]);

    golden_events_x_block_error_errors => "events__x_block_error_errors", sessions(&[(
        "unknown drive, empty drive, bad values, missing and mistyped arguments",
        virtual_disk(&[]),
        &[
            r#"{"execute":"x-block-error","arguments":{"device":"nosuch","operation":"read"}}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide1-cd0","operation":"read"}}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"flush"}}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read","error":"eperm"}}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0"}}"#,
            r#"{"execute":"x-block-error","arguments":{"device":"ide0-hd0","operation":"read","error":28}}"#,
        ],
    )]);

    golden_events_x_rtc_set_errors => "events__x_rtc_set_errors", sessions(&[(
        "past both ends of a C int, missing, not an int",
        ext(),
        &[
            r#"{"execute":"x-rtc-set","arguments":{"offset":2147483648}}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":-2147483649}}"#,
            r#"{"execute":"x-rtc-set"}"#,
            r#"{"execute":"x-rtc-set","arguments":{"offset":1.5}}"#,
        ],
    )]);

    golden_events_x_watchdog_expire_errors => "events__x_watchdog_expire_errors", sessions(&[
        ("no watchdog", ext(), &[WATCHDOG_EXPIRE]),
        (
            "an argument",
            watchdog("reset"),
            &[r#"{"execute":"x-watchdog-expire","arguments":{"now":true}}"#],
        ),
    ]);
}

#[test]
fn golden_events_query_commands_extensions() {
    let query: &[&str] = &[r#"{"execute":"query-commands"}"#];
    let without: &[&str] = &[
        r#"{"execute":"query-commands"}"#,
        r#"{"execute":"x-rtc-set","arguments":{"offset":1},"id":"hidden"}"#,
    ];
    let text = sessions(&[
        (
            "without -x-extensions: the 0.14 list; x- commands are not found",
            MachineConfig::default(),
            without,
        ),
        (
            "with -x-extensions: the x- commands follow the 0.14 list",
            ext(),
            query,
        ),
    ]);
    snap("events__query_commands_extensions", &text);
}

#[test]
fn golden_events_reach_every_client_in_command_mode() {
    use qmpsim::engine::Output;
    use qmpsim::qmp::session::ClientId;
    let mut engine = Engine::new(ext_vnc(":1"));
    let clients = [SCRIPT_CLIENT, ClientId(2), ClientId(3)];
    for client in clients {
        engine.step(Input::connect(client));
    }
    for client in [clients[0], clients[2]] {
        engine.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#));
    }
    let mut text = String::from("## clients 1 and 3 negotiated, client 2 still negotiating\n");
    text.push_str(&format!("-> (client 1) {VNC_CONNECT}\n"));
    let out = engine.step(Input::Bytes {
        client: SCRIPT_CLIENT,
        data: VNC_CONNECT.as_bytes().to_vec(),
    });
    for o in out {
        if let Output::Send { client, data } = o {
            let line = String::from_utf8_lossy(&data);
            text.push_str(&format!("<- (client {}) {}\n", client.0, line.trim_end()));
        }
    }
    snap("events__broadcast", &text);
}
