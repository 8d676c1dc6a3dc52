//! Goldens of the human monitor on a chardev (`crate::monitor`), through the
//! engine: every read a client sends and every byte it gets back, escaped as
//! `qmpsim trace dump` escapes them (`\x1b` for ESC, `\r`, `\n`). Reviewed
//! against 0.14's monitor.c, readline.c and qemu-char.c.

use qmpsim::engine::{Engine, Input, Output};
use qmpsim::machine::config::{
    ChardevBackend, ChardevConfig, MachineConfig, MonitorConfig, MonitorMode,
};
use qmpsim::qmp::session::ClientId;
use qmpsim::trace::dump::escape;

use super::support::{goldens, snap};

const CLIENT: ClientId = ClientId(1);

/// A machine whose only monitor is a human one on a chardev `label` with
/// `backend`.
fn human_on(label: &str, backend: ChardevBackend) -> MachineConfig {
    MachineConfig {
        name: Some("demo".to_owned()),
        chardevs: vec![ChardevConfig {
            label: label.to_owned(),
            backend,
        }],
        monitors: vec![MonitorConfig {
            chardev: label.to_owned(),
            mode: MonitorMode::Readline,
            pretty: false,
        }],
        ..MachineConfig::default()
    }
}

/// Connects, sends each read, and renders what went each way.
fn transcript(config: MachineConfig, reads: &[&[u8]]) -> String {
    let mut engine = Engine::new(config);
    let mut text = String::new();
    let connect = Input::Connect {
        client: CLIENT,
        monitor: 0,
    };
    let inputs = std::iter::once(connect).chain(reads.iter().map(|r| Input::Bytes {
        client: CLIENT,
        data: r.to_vec(),
    }));
    for input in inputs {
        if let Input::Bytes { data, .. } = &input {
            text.push_str(&format!("-> {}\n", escape(data)));
        }
        for output in engine.step(input) {
            match output {
                Output::Send { data, .. } => text.push_str(&format!("<- {}\n", escape(&data))),
                Output::Effect(e) => text.push_str(&format!("!! {e:?}\n")),
                Output::Exit { code } => text.push_str(&format!("!! exit {code}\n")),
                Output::Close { client } => {
                    text.push_str(&format!("!! close client {}\n", client.0));
                }
            }
        }
    }
    text
}

goldens! {
    golden_human_session_editing_and_history => "human__session", transcript(
        human_on("compat_monitor0", ChardevBackend::Stdio),
        &[
            b"info name\r",
            b"info statux\x7fs\n",
            b"stop\n",
            b"\x1b[A\x1b[A\x1b[B\n",
            b"bogus\n",
            b"q\n",
        ],
    );
}

#[test]
fn golden_human_telnet_negotiation_and_filter() {
    let backend = ChardevBackend::Tcp {
        host: "127.0.0.1".to_owned(),
        port: "4444".to_owned(),
        server: true,
        wait: false,
        telnet: true,
    };
    let text = transcript(
        human_on("compat_monitor0", backend),
        &[b"\xff\xfd\x01\xff\xfb\x1finfo name\r\0", b"q\r\0"],
    );
    snap("human__telnet", &text);
}

goldens! {
    golden_human_mux_on_a_shared_serial_port => "human__mux", transcript(
        human_on("serial0", ChardevBackend::Stdio),
        &[
            b"for the guest\n",
            b"\x01h",
            b"\x01c",
            b"info name\n",
            b"\x01c",
            b"\x01cinfo status\n",
            b"\x01x",
        ],
    );
}
