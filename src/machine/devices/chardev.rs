//! Character devices as `query-chardev` lists them: label and filename, in
//! creation order.
//!
//! Built once from the configuration: `-chardev` and monitor chardevs first (as
//! the CLI recorded them), then serial ports, then parallel ports. The CLI may or
//! may not have recorded the default `serial0`/`parallel0`; labels already present
//! are not added twice. A `Vec`, so order is creation order. No I/O.

use serde::{Deserialize, Serialize};

use crate::machine::config::MachineConfig;

/// Most serial ports on the pc machine (`MAX_SERIAL_PORTS`).
pub const SERIAL_PORTS_MAX: usize = 4;
/// Most parallel ports on the pc machine (`MAX_PARALLEL_PORTS`).
pub const PARALLEL_PORTS_MAX: usize = 3;

/// One character device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chardev {
    /// Label.
    pub label: String,
    /// Filename as `info chardev` shows it.
    pub filename: String,
}

/// All character devices.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Chardevs {
    /// In creation order.
    pub list: Vec<Chardev>,
}

impl Chardevs {
    /// The chardevs of a configuration. `user_serial`/`user_parallel` say whether
    /// `-device isa-serial`/`isa-parallel` was given (which drops the default).
    pub fn from_config(config: &MachineConfig, user_serial: bool, user_parallel: bool) -> Chardevs {
        let mut list: Vec<Chardev> = config
            .chardevs
            .iter()
            .map(|c| Chardev {
                label: c.label.clone(),
                filename: c.backend.filename(),
            })
            .collect();
        let defaults = !config.nodefaults;
        let (serial_default, parallel_default) = if config.nographic {
            ("stdio", "null")
        } else {
            ("vc", "vc")
        };
        let serials = port_specs(&config.serials, defaults && !user_serial, serial_default);
        let parallels = port_specs(
            &config.parallels,
            defaults && !user_parallel,
            parallel_default,
        );
        for (prefix, specs, max) in [
            ("serial", serials, SERIAL_PORTS_MAX),
            ("parallel", parallels, PARALLEL_PORTS_MAX),
        ] {
            // "none" takes no port number (0.14 serial_parse returns early).
            let ports = specs.into_iter().filter(|s| s != "none").take(max);
            for (i, spec) in ports.enumerate() {
                let label = format!("{prefix}{i}");
                if !list.iter().any(|c| c.label == label) {
                    list.push(Chardev {
                        label,
                        filename: compat_filename(&spec),
                    });
                }
            }
        }
        Chardevs { list }
    }

    /// `qemu_chr_find`.
    pub fn find(&self, label: &str) -> Option<&Chardev> {
        self.list.iter().find(|c| c.label == label)
    }

    /// Whether any chardev is the Microsoft serial mouse.
    pub fn has_msmouse(&self) -> bool {
        self.list.iter().any(|c| c.filename == "msmouse")
    }
}

fn port_specs(given: &[String], default_on: bool, default: &str) -> Vec<String> {
    if given.is_empty() && default_on {
        vec![default.to_owned()]
    } else {
        given.to_vec()
    }
}

/// The filename 0.14 keeps for a `-serial`-style spec: sockets describe their
/// address, every other backend shows its backend name.
fn compat_filename(spec: &str) -> String {
    let (backend, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let mut parts = rest.split(',');
    let address = parts.next().unwrap_or("");
    let server = parts.any(|p| p == "server");
    let suffix = if server { ",server" } else { "" };
    match backend {
        "tcp" | "telnet" | "unix" => format!("{backend}:{address}{suffix}"),
        _ if spec.starts_with("/dev/parport") => "parport".to_owned(),
        _ if spec.starts_with('/') => "tty".to_owned(),
        _ => backend.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{ChardevBackend, ChardevConfig};

    #[test]
    fn compat_filename_keeps_socket_addresses_and_names_the_rest() {
        let names = [
            "tcp:127.0.0.1:4444,server,nowait",
            "telnet::4445,nowait",
            "unix:/tmp/s,nowait,server",
            "/dev/parport0",
            "/dev/ttyS0",
            "pty",
        ]
        .map(compat_filename);
        assert_eq!(
            names,
            [
                "tcp:127.0.0.1:4444,server",
                "telnet::4445",
                "unix:/tmp/s,server",
                "parport",
                "tty",
                "pty",
            ]
        );
    }

    fn labels(c: &Chardevs) -> Vec<(&str, &str)> {
        c.list
            .iter()
            .map(|c| (c.label.as_str(), c.filename.as_str()))
            .collect()
    }

    #[test]
    fn graphical_defaults_follow_monitor_chardev() {
        let cfg = MachineConfig {
            chardevs: vec![ChardevConfig {
                label: "compat_monitor0".into(),
                backend: ChardevBackend::Tcp {
                    host: "127.0.0.1".into(),
                    port: "4444".into(),
                    server: true,
                    wait: false,
                    telnet: false,
                },
            }],
            ..Default::default()
        };
        assert_eq!(
            labels(&Chardevs::from_config(&cfg, false, false)),
            [
                ("compat_monitor0", "tcp:127.0.0.1:4444,server"),
                ("serial0", "vc"),
                ("parallel0", "vc")
            ]
        );
    }

    #[test]
    fn nographic_uses_stdio_and_null() {
        let cfg = MachineConfig {
            nographic: true,
            ..Default::default()
        };
        assert_eq!(
            labels(&Chardevs::from_config(&cfg, false, false)),
            [("serial0", "stdio"), ("parallel0", "null")]
        );
    }

    #[test]
    fn nodefaults_has_no_ports() {
        let cfg = MachineConfig {
            nodefaults: true,
            ..Default::default()
        };
        assert!(Chardevs::from_config(&cfg, false, false).list.is_empty());
    }

    #[test]
    fn serial_none_takes_no_number() {
        let cfg = MachineConfig {
            serials: ["none", "vc"].map(String::from).to_vec(),
            nodefaults: true,
            ..Default::default()
        };
        let c = Chardevs::from_config(&cfg, false, false);
        assert_eq!(labels(&c), [("serial0", "vc")]);
    }

    /// The chardev labels of a `-nodefaults` machine with `serials` and
    /// `parallels` ports on `null`.
    fn port_labels(serials: usize, parallels: usize) -> Vec<String> {
        let cfg = MachineConfig {
            serials: vec!["null".to_owned(); serials],
            parallels: vec!["null".to_owned(); parallels],
            nodefaults: true,
            ..Default::default()
        };
        Chardevs::from_config(&cfg, false, false)
            .list
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    #[test]
    fn serial_ports_at_the_limit_are_all_kept() {
        let labels = port_labels(SERIAL_PORTS_MAX, 0);
        assert_eq!(labels, ["serial0", "serial1", "serial2", "serial3"]);
    }

    #[test]
    fn serial_ports_past_the_limit_are_dropped() {
        let labels = port_labels(SERIAL_PORTS_MAX + 1, 0);
        assert_eq!(labels, ["serial0", "serial1", "serial2", "serial3"]);
    }

    #[test]
    fn parallel_ports_at_the_limit_are_all_kept() {
        let labels = port_labels(0, PARALLEL_PORTS_MAX);
        assert_eq!(labels, ["parallel0", "parallel1", "parallel2"]);
    }

    #[test]
    fn parallel_ports_past_the_limit_are_dropped() {
        let labels = port_labels(0, PARALLEL_PORTS_MAX + 1);
        assert_eq!(labels, ["parallel0", "parallel1", "parallel2"]);
    }

    #[test]
    fn socket_spec_keeps_address_and_server() {
        assert_eq!(
            compat_filename("tcp:127.0.0.1:4444,server,nowait"),
            "tcp:127.0.0.1:4444,server"
        );
        assert_eq!(compat_filename("vc:80Cx24C"), "vc");
    }
}
