//! Assembles validated [`LowArgs`] into a [`MachineConfig`] plus what the server needs
//! (ripgrep's `HiArgs`). This is where defaults are applied the way QEMU 0.14's
//! `vl.c` applies them, and the only CLI code that touches files: every disk image
//! named on the command line is probed read-only here, so the config (and a trace
//! header holding it) records what the images looked like at startup.
//!
//! Chardevs are listed in creation order, as `query-chardev` shows them: `-chardev`
//! and the `compat_monitorN` chardevs of `-qmp`/`-monitor` first (command-line
//! order), then `serial0..`, then `parallel0..`. Without `-serial`/`-parallel` and
//! without `-nodefaults`, `serial0` and `parallel0` are on `vc` (or `stdio`/`null`
//! with `-nographic`).
//!
//! Monitors are the command line's (`-mon`, `-qmp`, `-monitor`), then one human
//! monitor per `mon:` port spec (`-serial mon:stdio`: the monitor shares the
//! port's chardev `serialN`), then the default one 0.14's `vl.c` adds when no
//! `-monitor`/`-qmp`/`-mon`/`mon:` option and no `-nodefaults` was given: with
//! `-nographic` a human monitor on stdio, sharing `serial0` (`mon:stdio`) when
//! the serial port is a default one too, else on a chardev `compat_monitor0` of
//! its own; without `-nographic` it is on a graphical console (`vc`), which is
//! not served, and no QMP client can exist to see it.
//!
//! Drive shorthands expand to `-drive` options as 0.14's aliases do, with `if=` made
//! explicit: `-hdX F` is `file=F,index=N,media=disk,if=ide`, `-cdrom F` is
//! `file=F,index=2,media=cdrom,if=ide`, `-fdX F` is `file=F,index=N,if=floppy`.
//!
//! qmpsim extension: `-drive file=NAME,x-virtual=on,x-size=10G` declares an image
//! that need not exist. It is not probed; its `x-size` (bytes, or with a `K`/`M`/
//! `G`/`T` suffix, powers of 1024) is stored normalised to a plain byte count.

use std::path::Path;

use super::raw::{self, DriveArg, EdgeArgs, LowArgs, PROGRAM};
use crate::machine::config::{
    ChardevBackend, ChardevConfig, DriveConfig, ImageProbe, MachineConfig, MonitorConfig,
    MonitorMode, OptionList,
};
use crate::machine::scenario_steps::{self, ScenarioError, ScenarioStep, SCENARIO_FILE_BYTES_MAX};
/// Image probing lives at the edge, in [`crate::server::image`].
pub use crate::server::image::{
    probe_image, BACKING_FILE_BYTES_MAX, IMAGE_HEADER_BYTES, QCOW_MAGIC,
};
use crate::server::record::{RecordError, TraceRecorder};
use crate::server::strerror;
use crate::trace::format::STATE_EVERY_STEPS_DEFAULT;

/// IDE units per bus (0.14's `MAX_IDE_DEVS`).
pub const IDE_UNITS_PER_BUS: u32 = 2;

/// Why the configuration could not be assembled. `Display` is QEMU's message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A disk image could not be opened or read, or is not in the format
    /// `format=` names (0.14's `bdrv_open` failing in `drive_init`).
    #[error("{PROGRAM}: {location}could not open disk image {path}: {reason}")]
    ImageOpen {
        /// The drive's command-line location and `": "`, or nothing
        /// ([`LowArgs::drive_locations`]).
        location: String,
        /// The file as named.
        path: String,
        /// The system's description of the error.
        reason: String,
    },
    /// A `-vnc` host name that does not resolve (0.14's `inet_listen_opts`).
    #[error("getaddrinfo({host},{service}): {reason}")]
    VncResolve {
        /// The host name.
        host: String,
        /// The port, as 0.14 passes it (display number + 5900).
        service: String,
        /// `gai_strerror`'s text.
        reason: String,
    },
    /// `-mon chardev=X` with no such chardev.
    #[error("chardev \"{0}\" not found")]
    ChardevNotFound(String),
    /// `-x-scenario FILE` could not be read or is not a scenario.
    #[error("qmpsim: -x-scenario {path}: {problem}")]
    Scenario {
        /// The file as named.
        path: String,
        /// What is wrong (with the line, for a bad step).
        problem: String,
    },
    /// Two drives at the same bus and unit.
    #[error("{PROGRAM}: {location}drive with bus={bus}, unit={unit} (index={index}) exists")]
    DriveExists {
        /// The second drive's command-line location and `": "`, or nothing.
        location: String,
        /// Bus number.
        bus: u32,
        /// Unit on the bus.
        unit: u32,
        /// Index as given.
        index: u32,
    },
}

/// Everything a run needs: the VM's config and the edge's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// The VM.
    pub config: MachineConfig,
    /// The edge's own settings, as the command line gave them.
    pub edge: EdgeArgs,
}

impl RunPlan {
    /// The recorder of `-record`'s trace file, checkpointing the full state
    /// every `-x-state-every` steps; `None` without `-record`.
    pub fn trace_recorder(&self) -> Result<Option<TraceRecorder>, RecordError> {
        let Some(path) = &self.edge.record else {
            return Ok(None);
        };
        let every = self.edge.state_every.unwrap_or(STATE_EVERY_STEPS_DEFAULT);
        Ok(Some(
            TraceRecorder::create(path, &self.config)?.with_state_every_steps(every),
        ))
    }
}

/// Builds the run plan, probing disk images.
pub fn build(low: &LowArgs) -> Result<RunPlan, ConfigError> {
    let mut chardevs = chardevs(low);
    for monitor in &low.config.monitors {
        if !chardevs.iter().any(|c| c.label == monitor.chardev) {
            return Err(ConfigError::ChardevNotFound(monitor.chardev.clone()));
        }
    }
    let monitors = monitors(low, &mut chardevs);
    if let Some(display) = &low.config.vnc {
        resolve_vnc_host(display)?;
    }
    let scenario = match &low.scenario {
        Some(path) => read_scenario(path)?,
        None => low.config.scenario.clone(),
    };
    let config = MachineConfig {
        drives: drives(low)?,
        chardevs,
        monitors,
        scenario,
        ..low.config.clone()
    };
    Ok(RunPlan {
        config,
        edge: low.edge.clone(),
    })
}

/// Reads and parses a `-x-scenario` file (at most
/// [`SCENARIO_FILE_BYTES_MAX`] bytes are read: a longer file is refused).
pub fn read_scenario(path: &str) -> Result<Vec<ScenarioStep>, ConfigError> {
    use std::io::Read;
    let problem = |problem: String| ConfigError::Scenario {
        path: path.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| problem(strerror(&e)))?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(SCENARIO_FILE_BYTES_MAX).unwrap_or(u64::MAX) + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| problem(strerror(&e)))?;
    if bytes.len() > SCENARIO_FILE_BYTES_MAX {
        return Err(problem(ScenarioError::TooLarge.to_string()));
    }
    let text = String::from_utf8(bytes).map_err(|_| problem("not UTF-8 text".to_owned()))?;
    scenario_steps::parse(&text, crate::qmp::commands::inject::check_action)
        .map_err(|e| problem(e.to_string()))
}

/// The monitors (see the module doc): the command line's, those of `mon:`
/// ports, then 0.14's default one; a default monitor that needs a chardev of
/// its own gets it in `chardevs`, before the ports'.
pub fn monitors(low: &LowArgs, chardevs: &mut Vec<ChardevConfig>) -> Vec<MonitorConfig> {
    let config = &low.config;
    let human = |chardev: String| MonitorConfig {
        chardev,
        mode: MonitorMode::Readline,
        pretty: false,
    };
    let mut monitors = config.monitors.clone();
    let mut port_monitor = false;
    for (prefix, specs) in [("serial", &config.serials), ("parallel", &config.parallels)] {
        let ports = specs.iter().filter(|s| *s != "none").enumerate();
        for (i, _) in ports.filter(|(_, spec)| spec.starts_with("mon:")) {
            port_monitor = true;
            monitors.push(human(format!("{prefix}{i}")));
        }
    }
    if config.nodefaults || low.monitor_given || port_monitor || !config.nographic {
        return monitors;
    }
    if config.serials.is_empty() {
        monitors.push(human("serial0".to_owned()));
    } else {
        let label = "compat_monitor0".to_owned();
        let ports_at = chardevs
            .iter()
            .position(|c| crate::monitor::mux::is_port_label(&c.label))
            .unwrap_or(chardevs.len());
        chardevs.insert(
            ports_at,
            ChardevConfig {
                label: label.clone(),
                backend: ChardevBackend::Stdio,
            },
        );
        monitors.push(human(label));
    }
    monitors
}

/// All chardevs in creation order: monitors' and `-chardev`, then serial, then
/// parallel ports (explicit or default).
pub fn chardevs(low: &LowArgs) -> Vec<ChardevConfig> {
    let config = &low.config;
    let mut out = config.chardevs.clone();
    let default_serial = if config.nographic { "stdio" } else { "vc" };
    let default_parallel = if config.nographic { "null" } else { "vc" };
    push_ports(
        &mut out,
        "serial",
        &config.serials,
        config.nodefaults,
        default_serial,
    );
    push_ports(
        &mut out,
        "parallel",
        &config.parallels,
        config.nodefaults,
        default_parallel,
    );
    out
}

fn push_ports(
    out: &mut Vec<ChardevConfig>,
    prefix: &str,
    specs: &[String],
    nodefaults: bool,
    default: &str,
) {
    let specs: Vec<&str> = if specs.is_empty() && !nodefaults {
        vec![default]
    } else {
        specs.iter().map(String::as_str).collect()
    };
    let backends = specs
        .into_iter()
        .filter(|s| *s != "none")
        .map(|s| raw::parse_compat(s).expect("port specs are validated by raw::parse"));
    for (i, backend) in backends.enumerate() {
        out.push(ChardevConfig {
            label: format!("{prefix}{i}"),
            backend,
        });
    }
}

/// Expands a drive shorthand into `-drive` options.
pub fn expand_drive(arg: &DriveArg) -> OptionList {
    let mut opts = OptionList::default();
    match arg {
        DriveArg::Drive(o) => return o.clone(),
        DriveArg::Hd { index, file } => {
            opts.push("file", file);
            opts.push("index", &index.to_string());
            opts.push("media", "disk");
            opts.push("if", "ide");
        }
        DriveArg::Cdrom(file) => {
            opts.push("file", file);
            opts.push("index", "2");
            opts.push("media", "cdrom");
            opts.push("if", "ide");
        }
        DriveArg::Floppy { index, file } => {
            opts.push("file", file);
            opts.push("index", &index.to_string());
            opts.push("if", "floppy");
        }
    }
    opts
}

fn drives(low: &LowArgs) -> Result<Vec<DriveConfig>, ConfigError> {
    let all: Vec<OptionList> = low.drives.iter().map(expand_drive).collect();
    let location = |i: usize| match low.drive_locations.get(i) {
        Some(Some(loc)) => format!("{loc}: "),
        _ => String::new(),
    };
    check_unique_slots(&all).map_err(|(i, e)| match e {
        ConfigError::DriveExists {
            bus, unit, index, ..
        } => ConfigError::DriveExists {
            location: location(i),
            bus,
            unit,
            index,
        },
        e => e,
    })?;
    all.into_iter()
        .enumerate()
        .map(|(i, opts)| drive_config(opts, &location(i)))
        .collect()
}

/// `(bus, unit)` of a drive with an explicit index on a bus with fixed slots.
fn slot(opts: &OptionList) -> Option<(String, u32, u32, u32)> {
    let index: u32 = opts.get("index")?.parse().ok()?;
    let bus_type = opts.get("if").unwrap_or("ide");
    let per_bus = match bus_type {
        "ide" => IDE_UNITS_PER_BUS,
        "floppy" => u32::MAX,
        _ => return None,
    };
    Some((bus_type.to_owned(), index / per_bus, index % per_bus, index))
}

/// The first drive whose slot an earlier one holds: its position and error.
fn check_unique_slots(drives: &[OptionList]) -> Result<(), (usize, ConfigError)> {
    let slots: Vec<_> = drives
        .iter()
        .enumerate()
        .filter_map(|(i, d)| slot(d).map(|s| (i, s)))
        .collect();
    for (n, (i, (bus_type, bus, unit, index))) in slots.iter().enumerate() {
        if slots[..n]
            .iter()
            .any(|(_, (t, b, u, _))| t == bus_type && b == bus && u == unit)
        {
            return Err((
                *i,
                ConfigError::DriveExists {
                    location: String::new(),
                    bus: *bus,
                    unit: *unit,
                    index: *index,
                },
            ));
        }
    }
    Ok(())
}

pub use crate::machine::devices::drive_opts::format_refusal;

fn drive_config(mut opts: OptionList, location: &str) -> Result<DriveConfig, ConfigError> {
    if opts.get("x-virtual") == Some("on") {
        let size = opts
            .get("x-size")
            .and_then(raw::parse_size_bytes)
            .expect("x-size is validated by raw::parse");
        for (k, v) in &mut opts.items {
            if k == "x-size" {
                *v = size.to_string();
            }
        }
        return Ok(DriveConfig { opts, probe: None });
    }
    let probe = match opts.get("file").filter(|f| !f.is_empty()) {
        None => None,
        Some(file) => {
            let refused = |reason: String| ConfigError::ImageOpen {
                location: location.to_owned(),
                path: file.to_owned(),
                reason,
            };
            let format = opts.get("format");
            let info = probe_image(Path::new(file), format).map_err(|e| refused(strerror(&e)))?;
            if let Some(reason) = format.and_then(|f| format_refusal(f, &info.format)) {
                return Err(refused(reason.to_owned()));
            }
            Some(ImageProbe::Found(info))
        }
    };
    Ok(DriveConfig { opts, probe })
}

/// Resolves a `-vnc` display's host name, as 0.14's `getaddrinfo` does before
/// it listens; addresses and `localhost` need no lookup.
fn resolve_vnc_host(display: &str) -> Result<(), ConfigError> {
    use std::net::{IpAddr, ToSocketAddrs};

    let mut server = crate::machine::display::VncServer::closed();
    if server.open(display).is_err() {
        return Ok(());
    }
    let Some(crate::machine::display::VncListen::Inet { host, service, .. }) = server.listen else {
        return Ok(());
    };
    let Ok(port) = service.parse::<u16>() else {
        return Ok(());
    };
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    match (host.as_str(), port).to_socket_addrs() {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let reason = text
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text)
                .to_owned();
            Err(ConfigError::VncResolve {
                host,
                service,
                reason,
            })
        }
    }
}

/// Whether a chardev is a socket qmpsim listens on.
pub fn is_listening(backend: &ChardevBackend) -> bool {
    matches!(
        backend,
        ChardevBackend::Unix { server: true, .. } | ChardevBackend::Tcp { server: true, .. }
    )
}

#[cfg(test)]
mod tests {
    use crate::test_util::write_temp;

    use super::*;
    use crate::machine::config::{ImageInfo, MonitorMode};
    use std::path::PathBuf;

    fn plan(args: &[&str]) -> Result<RunPlan, ConfigError> {
        build(&raw::parse(args.iter().copied()).expect("valid test command line"))
    }

    /// The config of `-hda` on an image of `len` zero bytes, with the image's
    /// directory (to keep it) and path.
    fn plan_hda_of_zeros(len: usize) -> (tempfile::TempDir, String, MachineConfig) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "d.img", &vec![0u8; len]);
        let config = plan(&["-hda", &path]).unwrap().config;
        (dir, path, config)
    }

    fn labels(args: &[&str]) -> Vec<String> {
        plan(args)
            .unwrap()
            .config
            .chardevs
            .into_iter()
            .map(|c| format!("{}={}", c.label, c.backend.filename()))
            .collect()
    }

    /// The monitors a command line gives, as `chardev:mode`.
    fn monitors_of(args: &[&str]) -> Vec<String> {
        plan(args)
            .unwrap()
            .config
            .monitors
            .into_iter()
            .map(|m| format!("{}:{:?}", m.chardev, m.mode))
            .collect()
    }

    #[test]
    fn nographic_default_monitor_shares_the_default_serial_port() {
        assert_eq!(monitors_of(&["-nographic"]), ["serial0:Readline"]);
    }

    #[test]
    fn nographic_default_monitor_with_a_serial_option_is_alone_on_stdio() {
        let args = ["-nographic", "-serial", "null"];
        assert_eq!(
            (monitors_of(&args), labels(&args)[0].as_str()),
            (
                vec!["compat_monitor0:Readline".to_owned()],
                "compat_monitor0=stdio"
            )
        );
    }

    #[test]
    fn nodefaults_leaves_no_default_monitor() {
        assert!(monitors_of(&["-nographic", "-nodefaults"]).is_empty());
    }

    #[test]
    fn qmp_option_leaves_no_default_monitor() {
        assert_eq!(
            monitors_of(&["-nographic", "-qmp", "unix:/tmp/q,server,nowait"]),
            ["compat_monitor0:Control"]
        );
    }

    #[test]
    fn monitor_none_leaves_no_default_monitor() {
        assert!(monitors_of(&["-nographic", "-monitor", "none"]).is_empty());
    }

    #[test]
    fn graphical_default_monitor_is_not_served() {
        assert!(monitors_of(&[]).is_empty());
    }

    #[test]
    fn serial_mon_spec_puts_a_human_monitor_on_the_port() {
        assert_eq!(
            monitors_of(&["-serial", "null", "-serial", "mon:stdio"]),
            ["serial1:Readline"]
        );
    }

    #[test]
    fn chardevs_qmp_tcp_then_default_ports_on_vc() {
        assert_eq!(
            labels(&["-qmp", "tcp:127.0.0.1:4444,server,nowait"]),
            [
                "compat_monitor0=tcp:127.0.0.1:4444,server",
                "serial0=vc",
                "parallel0=vc"
            ]
        );
    }

    #[test]
    fn chardevs_nographic_defaults_are_stdio_and_null() {
        assert_eq!(
            labels(&["-nographic", "-qmp", "unix:/tmp/q,server,nowait"]),
            [
                "compat_monitor0=unix:/tmp/q,server",
                "serial0=stdio",
                "parallel0=null"
            ]
        );
    }

    #[test]
    fn chardevs_nodefaults_drops_ports() {
        assert_eq!(
            labels(&["-nodefaults", "-qmp", "stdio"]),
            ["compat_monitor0=stdio"]
        );
    }

    #[test]
    fn chardevs_keep_command_line_order_before_ports() {
        assert_eq!(
            labels(&[
                "-chardev",
                "socket,id=mon1,path=/tmp/m,server,nowait",
                "-qmp",
                "stdio",
                "-serial",
                "pty",
                "-serial",
                "none",
                "-serial",
                "null",
                "-parallel",
                "none",
                "-mon",
                "chardev=mon1,mode=control"
            ]),
            [
                "mon1=unix:/tmp/m,server",
                "compat_monitor0=stdio",
                "serial0=pty",
                "serial1=null"
            ]
        );
    }

    #[test]
    fn mon_on_missing_chardev_is_rejected() {
        assert_eq!(
            plan(&["-mon", "chardev=nope,mode=control"])
                .unwrap_err()
                .to_string(),
            "chardev \"nope\" not found"
        );
    }

    #[test]
    fn mon_may_use_serial_chardev() {
        let config = plan(&["-mon", "chardev=serial0,mode=control"])
            .unwrap()
            .config;
        assert_eq!(config.monitors[0].mode, MonitorMode::Control);
    }

    #[test]
    fn hda_expands_to_ide_disk_index_zero() {
        let (_dir, path, config) = plan_hda_of_zeros(4096);
        assert_eq!(
            config.drives[0].opts,
            raw::parse_option_list(&format!("file={path},index=0,media=disk,if=ide"), None)
        );
    }

    #[test]
    fn cdrom_expands_to_ide_index_two() {
        let expanded = expand_drive(&DriveArg::Cdrom(String::new()));
        assert_eq!(
            expanded,
            raw::parse_option_list("file=,index=2,media=cdrom,if=ide", None)
        );
    }

    #[test]
    fn fdb_expands_to_floppy_index_one() {
        let expanded = expand_drive(&DriveArg::Floppy {
            index: 1,
            file: "f.img".to_owned(),
        });
        assert_eq!(
            expanded,
            raw::parse_option_list("file=f.img,index=1,if=floppy", None)
        );
    }

    #[test]
    fn empty_cdrom_is_not_probed() {
        let config = plan(&["-cdrom", ""]).unwrap().config;
        assert_eq!(config.drives[0].probe, None);
    }

    #[test]
    fn hdc_and_cdrom_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "d.img", &[0u8; 512]);
        assert_eq!(
            plan(&["-hdc", &path, "-cdrom", ""])
                .unwrap_err()
                .to_string(),
            "qemu-system-x86_64: -cdrom : drive with bus=1, unit=0 (index=2) exists"
        );
    }

    #[test]
    fn raw_image_size_is_file_size() {
        let (_dir, _, config) = plan_hda_of_zeros(3000);
        assert_eq!(
            config.drives[0].probe,
            Some(ImageProbe::Found(ImageInfo {
                format: "raw".to_owned(),
                size_bytes: 3000,
                backing_file: None,
                encrypted: false
            }))
        );
    }

    #[test]
    fn missing_image_reports_no_such_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.img");
        let path = path.to_str().unwrap();
        assert_eq!(
            plan(&["-hda", path]).unwrap_err().to_string(),
            format!(
                "qemu-system-x86_64: -hda {path}: could not open disk image {path}: \
                 No such file or directory"
            )
        );
    }

    #[test]
    fn virtual_drive_is_not_probed_and_size_is_bytes() {
        let config = plan(&["-drive", "file=/nonexistent/v.img,x-virtual=on,x-size=10G"])
            .unwrap()
            .config;
        assert_eq!(
            (
                config.drives[0].probe.clone(),
                config.drives[0].opts.get("x-size")
            ),
            (None, Some("10737418240"))
        );
    }

    #[test]
    fn defaults_fill_ram_smp_machine_epoch() {
        let config = plan(&[]).unwrap().config;
        assert_eq!(
            config,
            MachineConfig {
                chardevs: chardevs(&LowArgs::default()),
                ..MachineConfig::default()
            }
        );
    }

    #[test]
    fn uuid_and_name_and_extensions_reach_config() {
        let config = plan(&[
            "-name",
            "vm1",
            "-uuid",
            "ABCDEF01-2345-6789-ABCD-EF0123456789",
            "-x-seed",
            "7",
            "-x-epoch",
            "0",
            "-x-extensions",
            "-nographic",
            "-usb",
        ])
        .unwrap()
        .config;
        assert_eq!(
            (
                config.name.as_deref(),
                config.uuid.as_deref(),
                config.seed,
                config.epoch_s,
                config.extensions,
                config.nographic,
                config.usb
            ),
            (
                Some("vm1"),
                Some("abcdef01-2345-6789-abcd-ef0123456789"),
                7,
                0,
                true,
                true,
                true
            )
        );
    }

    #[test]
    fn pidfile_and_record_reach_plan() {
        let p = plan(&["-pidfile", "/tmp/p", "-record", "t.qmptrace"]).unwrap();
        assert_eq!(
            (p.edge.pidfile, p.edge.record),
            (
                Some(PathBuf::from("/tmp/p")),
                Some(PathBuf::from("t.qmptrace"))
            )
        );
    }
}
