//! Character devices and monitors: `-chardev`, `-mon`, `-qmp`, `-monitor`,
//! `-serial` and `-parallel`, with the compat specs (`unix:`, `tcp:`, `stdio`...)
//! read as 0.14's `qemu_chr_parse_compat` reads them.

use super::option_list::{check_keys, opt_bool, parse_option_list};
use super::{LowArgs, OptCtx, RawError};
use crate::machine::config::{
    ChardevBackend, ChardevConfig, MonitorConfig, MonitorMode, OptionList,
};

// The machine's limits on `-serial` and `-parallel` ports are the same ones.
pub use crate::machine::devices::chardev::{PARALLEL_PORTS_MAX, SERIAL_PORTS_MAX};
/// Longest host part of a `tcp:HOST:PORT` spec (0.14's `%64[^:]`).
pub const TCP_HOST_BYTES_MAX: usize = 64;
/// Longest port part of a `tcp:HOST:PORT` spec (0.14's `%32[^,]`).
pub const TCP_PORT_BYTES_MAX: usize = 32;
/// Most digits of a `vc:WxH` (or `vc:WCxHC`) width read (0.14's `%8[0-9]`); a
/// height's further digits are ignored.
pub const VC_SIZE_DIGITS_MAX: usize = 8;

/// Keys `-chardev` takes (0.14's `qemu_chardev_opts`).
pub const CHARDEV_KEYS: &[&str] = &[
    "backend",
    "id",
    "path",
    "host",
    "port",
    "localaddr",
    "localport",
    "to",
    "ipv4",
    "ipv6",
    "wait",
    "server",
    "delay",
    "telnet",
    "width",
    "height",
    "cols",
    "rows",
    "mux",
    "signal",
    "name",
    "debug",
];
/// Backends `-chardev` knows in 0.14 (socket, the simple ones, then the rest).
pub const CHARDEV_BACKENDS: &[&str] = &[
    "null", "socket", "udp", "msmouse", "vc", "file", "pipe", "pty", "stdio", "tty", "parport",
    "braille", "spicevmc",
];

/// Parses a `-chardev BACKEND,id=ID,...` spec.
pub fn parse_chardev(option: &str, v: &str) -> Result<ChardevConfig, RawError> {
    let opts = parse_option_list(v, Some("backend"));
    check_keys(option, v, &opts, CHARDEV_KEYS)?;
    let id = opts
        .get("id")
        .filter(|id| !id.is_empty())
        .ok_or(RawError::ChardevNoId)?;
    let backend = opts
        .get("backend")
        .ok_or_else(|| RawError::ChardevMissingBackend(id.to_owned()))?;
    if !CHARDEV_BACKENDS.contains(&backend) {
        return Err(RawError::ChardevUnknownBackend(backend.to_owned()));
    }
    let backend = backend_from_opts(backend, &opts)
        .ok_or_else(|| RawError::ChardevSocketAddress(id.to_owned()))?;
    Ok(ChardevConfig {
        label: id.to_owned(),
        backend,
    })
}

fn check_unique_chardev(
    low: &LowArgs,
    option: &str,
    arg: &str,
    label: &str,
) -> Result<(), RawError> {
    if low.config.chardevs.iter().any(|c| c.label == label) {
        return Err(RawError::DuplicateId {
            option: option.to_owned(),
            arg: arg.to_owned(),
            id: label.to_owned(),
            object: "chardev".to_owned(),
        });
    }
    Ok(())
}

/// The backend a parsed chardev option list describes; `None` for a socket without
/// an address.
fn backend_from_opts(backend: &str, opts: &OptionList) -> Option<ChardevBackend> {
    let server = opt_bool(opts, "server", false);
    let wait = server && opt_bool(opts, "wait", true);
    Some(match backend {
        "socket" => match (opts.get("path"), opts.get("host"), opts.get("port")) {
            (Some(path), _, _) => ChardevBackend::Unix {
                path: path.to_owned(),
                server,
                wait,
            },
            (None, host, Some(port)) => ChardevBackend::Tcp {
                host: host.unwrap_or_default().to_owned(),
                port: port.to_owned(),
                server,
                wait,
                telnet: opt_bool(opts, "telnet", false),
            },
            (None, _, None) => return None,
        },
        "stdio" => ChardevBackend::Stdio,
        "vc" => ChardevBackend::Vc,
        "null" => ChardevBackend::Null,
        "pty" => ChardevBackend::Pty,
        // 0.14 shows the backend name as the filename of the others.
        other => ChardevBackend::Other(other.to_owned()),
    })
}

/// Parses a compat chardev spec (`-qmp`, `-monitor`, `-serial`, `-parallel`) as
/// 0.14's `qemu_chr_parse_compat` does; `None` when it does not parse.
pub fn parse_compat(spec: &str) -> Option<ChardevBackend> {
    let spec = spec.strip_prefix("mon:").unwrap_or(spec);
    match spec {
        "null" => return Some(ChardevBackend::Null),
        "pty" => return Some(ChardevBackend::Pty),
        "stdio" => return Some(ChardevBackend::Stdio),
        "msmouse" | "braille" => return Some(ChardevBackend::Other(spec.to_owned())),
        "con:" => return Some(ChardevBackend::Other("console".to_owned())),
        _ => {}
    }
    if let Some(rest) = spec.strip_prefix("vc") {
        return compat_vc(rest);
    }
    if let Some(rest) = spec.strip_prefix("tcp:") {
        return compat_tcp(rest, false);
    }
    if let Some(rest) = spec.strip_prefix("telnet:") {
        return compat_tcp(rest, true);
    }
    if let Some(rest) = spec.strip_prefix("unix:") {
        let opts = parse_option_list(rest, Some("path"));
        let keys_ok = opts
            .items
            .iter()
            .all(|(k, _)| CHARDEV_KEYS.contains(&k.as_str()));
        return if keys_ok && opts.get("path").is_some_and(|p| !p.is_empty()) {
            backend_from_opts("socket", &opts)
        } else {
            None
        };
    }
    let simple = [
        ("file:", "file"),
        ("pipe:", "pipe"),
        ("udp:", "udp"),
        ("COM", "serial"),
        ("/dev/parport", "parport"),
        ("/dev/ppi", "parport"),
        ("/dev/", "tty"),
    ];
    simple
        .iter()
        .find(|(prefix, _)| spec.starts_with(prefix))
        .map(|(_, backend)| ChardevBackend::Other((*backend).to_owned()))
}

/// `vc[:WxH|:WCxHC]` as 0.14's `sscanf(p+1, "%8[0-9]x%8[0-9]")`, then
/// `"%8[0-9]Cx%8[0-9]C"`, read it: both need a width of 1 to
/// [`VC_SIZE_DIGITS_MAX`] digits and a height of at least one digit; whatever
/// follows the height's first digits is not looked at.
fn compat_vc(rest: &str) -> Option<ChardevBackend> {
    let Some(geometry) = rest.strip_prefix(':') else {
        return rest.is_empty().then_some(ChardevBackend::Vc);
    };
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let width = digits(geometry);
    if width == 0 || width > VC_SIZE_DIGITS_MAX {
        return None;
    }
    let after = &geometry[width..];
    let height = after
        .strip_prefix('x')
        .or_else(|| after.strip_prefix("Cx"))?;
    (digits(height) > 0).then_some(ChardevBackend::Vc)
}

fn compat_tcp(rest: &str, telnet: bool) -> Option<ChardevBackend> {
    let (addr, options) = rest.split_once(',').unwrap_or((rest, ""));
    let (host, port) = addr.split_once(':')?;
    if host.len() > TCP_HOST_BYTES_MAX
        || port.is_empty()
        || port.len() > TCP_PORT_BYTES_MAX
        || port.contains(':')
    {
        return None;
    }
    let opts = parse_option_list(options, None);
    if opts
        .items
        .iter()
        .any(|(k, _)| !CHARDEV_KEYS.contains(&k.as_str()))
    {
        return None;
    }
    let server = opt_bool(&opts, "server", false);
    Some(ChardevBackend::Tcp {
        host: host.to_owned(),
        port: port.to_owned(),
        server,
        wait: server && opt_bool(&opts, "wait", true),
        telnet,
    })
}

/// `-qmp SPEC` / `-monitor SPEC`: a chardev labelled `compat_monitorN` (N counts both
/// options) and a monitor on it; `chardev:ID` uses an existing `-chardev`; `none`
/// gives no monitor.
pub(super) fn apply_compat_monitor(
    ctx: &mut OptCtx<'_>,
    spec: &str,
    mode: MonitorMode,
) -> Result<(), RawError> {
    ctx.low.monitor_given = true;
    if spec == "none" {
        return Ok(());
    }
    let label = match spec.strip_prefix("chardev:") {
        Some(id) => id.to_owned(),
        None => {
            let label = format!("compat_monitor{}", ctx.compat_monitors);
            let backend = parse_compat(spec).ok_or_else(|| RawError::Parse(spec.to_owned()))?;
            check_unique_chardev(ctx.low, ctx.option, spec, &label)?;
            ctx.low.config.chardevs.push(ChardevConfig {
                label: label.clone(),
                backend,
            });
            label
        }
    };
    *ctx.compat_monitors += 1;
    ctx.low.config.monitors.push(MonitorConfig {
        chardev: label,
        mode,
        pretty: false,
    });
    Ok(())
}

/// Keys `-mon` takes.
pub const MON_KEYS: &[&str] = &["mode", "chardev", "default", "pretty"];

/// Parses `-mon [chardev=]ID[,mode=readline|control][,pretty=on|off][,default]`.
pub fn parse_mon(option: &str, v: &str) -> Result<MonitorConfig, RawError> {
    let opts = parse_option_list(v, Some("chardev"));
    check_keys(option, v, &opts, MON_KEYS)?;
    let mode = match opts.get("mode").unwrap_or("readline") {
        "readline" => MonitorMode::Readline,
        "control" => MonitorMode::Control,
        other => return Err(RawError::UnknownMonitorMode(other.to_owned())),
    };
    let chardev = opts
        .get("chardev")
        .ok_or_else(|| RawError::ChardevNotFound("(null)".to_owned()))?;
    Ok(MonitorConfig {
        chardev: chardev.to_owned(),
        mode,
        pretty: opt_bool(&opts, "pretty", false),
    })
}

/// Which kind of port a spec is for.
#[derive(Clone, Copy)]
pub(super) enum Port {
    /// `-serial`.
    Serial,
    /// `-parallel`.
    Parallel,
}

/// Adds a `-serial`/`-parallel` spec; `none` takes no port.
pub(super) fn push_port(
    ports: &mut Vec<String>,
    spec: String,
    max: usize,
    kind: Port,
) -> Result<(), RawError> {
    if spec == "none" {
        ports.push(spec);
        return Ok(());
    }
    if ports.iter().filter(|p| *p != "none").count() >= max {
        return Err(match kind {
            Port::Serial => RawError::TooManySerials,
            Port::Parallel => RawError::TooManyParallels,
        });
    }
    if parse_compat(&spec).is_none() {
        return Err(match kind {
            Port::Serial => RawError::SerialSpec(spec),
            Port::Parallel => RawError::ParallelSpec(spec),
        });
    }
    ports.push(spec);
    Ok(())
}

/// `-chardev BACKEND,id=ID[,...]`; ids are unique.
pub(super) fn apply_chardev(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let chardev = parse_chardev(ctx.option, &v)?;
    check_unique_chardev(ctx.low, ctx.option, &v, &chardev.label)?;
    ctx.low.config.chardevs.push(chardev);
    Ok(())
}

/// `-mon [chardev=]ID[,...]`.
pub(super) fn apply_mon(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let mon = parse_mon(ctx.option, &v)?;
    ctx.low.monitor_given = true;
    ctx.low.config.monitors.push(mon);
    Ok(())
}

/// `-serial SPEC`.
pub(super) fn apply_serial(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    push_port(
        &mut ctx.low.config.serials,
        v,
        SERIAL_PORTS_MAX,
        Port::Serial,
    )
}

/// `-parallel SPEC`.
pub(super) fn apply_parallel(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    push_port(
        &mut ctx.low.config.parallels,
        v,
        PARALLEL_PORTS_MAX,
        Port::Parallel,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_err, parse_ok};
    use super::*;

    #[test]
    fn qmp_unix_server_nowait_parses() {
        let low = parse_ok(&["-qmp", "unix:/tmp/q.sock,server,nowait"]);
        assert_eq!(
            low.config.chardevs,
            [ChardevConfig {
                label: "compat_monitor0".to_owned(),
                backend: ChardevBackend::Unix {
                    path: "/tmp/q.sock".to_owned(),
                    server: true,
                    wait: false
                }
            }]
        );
    }

    #[test]
    fn qmp_tcp_server_waits_by_default() {
        assert_eq!(
            parse_compat("tcp:127.0.0.1:4444,server"),
            Some(ChardevBackend::Tcp {
                host: "127.0.0.1".to_owned(),
                port: "4444".to_owned(),
                server: true,
                wait: true,
                telnet: false
            })
        );
    }

    #[test]
    fn qmp_tcp_empty_host_parses() {
        assert!(matches!(
            parse_compat("tcp::4444,server,nowait"),
            Some(ChardevBackend::Tcp { ref host, wait: false, .. }) if host.is_empty()
        ));
    }

    /// The host and port `parse_compat` reads from a `tcp:` spec.
    fn tcp_host_port(spec: &str) -> Option<(String, String)> {
        match parse_compat(spec) {
            Some(ChardevBackend::Tcp { host, port, .. }) => Some((host, port)),
            _ => None,
        }
    }

    #[test]
    fn compat_tcp_host_and_port_at_the_limit_are_read_and_past_it_refused() {
        let host = "h".repeat(TCP_HOST_BYTES_MAX + 1);
        let port = "4".repeat(TCP_PORT_BYTES_MAX + 1);
        let (at_host, at_port) = (&host[1..], &port[1..]);
        for (host, port, read) in [
            (at_host, "4444", true),
            (host.as_str(), "4444", false),
            ("localhost", at_port, true),
            ("localhost", port.as_str(), false),
        ] {
            let want = read.then(|| (host.to_owned(), port.to_owned()));
            let spec = format!("tcp:{host}:{port},server");
            assert_eq!(tcp_host_port(&spec), want, "{spec}");
        }
    }

    #[test]
    fn qmp_tcp_host_past_limit_is_parse_error() {
        let spec = format!("tcp:{}:4444,server", "h".repeat(TCP_HOST_BYTES_MAX + 1));
        assert_eq!(parse_err(&["-qmp", &spec]), format!("parse error: {spec}"));
    }

    #[test]
    fn compat_vc_width_at_digit_limit_is_accepted() {
        let spec = format!("vc:{}x600", "8".repeat(VC_SIZE_DIGITS_MAX));
        assert_eq!(parse_compat(&spec), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_width_past_digit_limit_is_refused() {
        let spec = format!("vc:{}x600", "8".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), None);
    }

    #[test]
    fn compat_vc_char_width_past_digit_limit_is_refused() {
        let spec = format!("vc:{}Cx25C", "8".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), None);
    }

    #[test]
    fn compat_vc_height_past_digit_limit_is_accepted() {
        // `%8[0-9]` reads the first eight digits; sscanf has its two fields.
        let spec = format!("vc:800x{}", "6".repeat(VC_SIZE_DIGITS_MAX + 1));
        assert_eq!(parse_compat(&spec), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_chars_form_is_accepted() {
        assert_eq!(parse_compat("vc:80Cx25C"), Some(ChardevBackend::Vc));
    }

    #[test]
    fn compat_vc_without_height_is_refused() {
        assert_eq!(parse_compat("vc:800x"), None);
    }

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "qmp tcp without port is parse error",
                &["-qmp", "tcp:localhost"],
                "parse error: tcp:localhost",
            ),
            (
                "qmp unknown backend is parse error",
                &["-qmp", "bogus"],
                "parse error: bogus",
            ),
            (
                "qmp unix unknown flag is parse error",
                &["-qmp", "unix:/tmp/q,server,bogus"],
                "parse error: unix:/tmp/q,server,bogus",
            ),
            (
                "chardev without id is rejected",
                &["-chardev", "socket,path=/tmp/s"],
                "chardev: no id specified",
            ),
            (
                "chardev unknown backend is rejected",
                &["-chardev", "bogus,id=x"],
                "chardev: backend \"bogus\" not found",
            ),
            (
                "chardev unknown key is invalid parameter",
                &["-chardev", "socket,id=x,path=/s,colour=red"],
                "qemu-system-x86_64: -chardev socket,id=x,path=/s,colour=red: Invalid parameter 'colour'",
            ),
            (
                "chardev socket without address is rejected",
                &["-chardev", "socket,id=x,server"],
                "chardev: socket \"x\": needs path=PATH or host=HOST,port=PORT",
            ),
            (
                "chardev duplicate id is rejected",
                &["-chardev", "null,id=a", "-chardev", "null,id=a"],
                "qemu-system-x86_64: -chardev null,id=a: Duplicate ID 'a' for chardev",
            ),
            (
                "mon unknown mode is rejected",
                &["-mon", "chardev=c,mode=json"],
                "unknown monitor mode \"json\"",
            ),
            (
                "serial fifth port is too many",
                &["-serial", "null", "-serial", "null", "-serial", "null", "-serial", "null", "-serial", "null"],
                "qemu: too many serial ports",
            ),
            (
                "serial bad spec is rejected",
                &["-serial", "carrier-pigeon"],
                "qemu: could not open serial device 'carrier-pigeon'",
            ),
        ]);
    }

    #[test]
    fn qmp_and_monitor_share_label_counter() {
        let low = parse_ok(&[
            "-monitor",
            "stdio",
            "-qmp",
            "tcp:127.0.0.1:4444,server,nowait",
        ]);
        let labels: Vec<&str> = low
            .config
            .chardevs
            .iter()
            .map(|c| c.label.as_str())
            .collect();
        assert_eq!(labels, ["compat_monitor0", "compat_monitor1"]);
    }

    #[test]
    fn qmp_stdio_is_control_monitor() {
        assert_eq!(
            parse_ok(&["-qmp", "stdio"]).config.monitors,
            [MonitorConfig {
                chardev: "compat_monitor0".to_owned(),
                mode: MonitorMode::Control,
                pretty: false
            }]
        );
    }

    #[test]
    fn chardev_socket_long_form_parses() {
        assert_eq!(
            parse_chardev("-chardev", "socket,id=qmp0,path=/tmp/s,server=on,wait=off"),
            Ok(ChardevConfig {
                label: "qmp0".to_owned(),
                backend: ChardevBackend::Unix {
                    path: "/tmp/s".to_owned(),
                    server: true,
                    wait: false
                }
            })
        );
    }

    #[test]
    fn chardev_bare_server_nowait_flags_parse() {
        assert!(matches!(
            parse_chardev(
                "-chardev",
                "socket,id=c,host=127.0.0.1,port=4444,server,nowait"
            ),
            Ok(ChardevConfig {
                backend: ChardevBackend::Tcp {
                    server: true,
                    wait: false,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn mon_control_pretty_parses() {
        assert_eq!(
            parse_mon("-mon", "chardev=c,mode=control,pretty=on"),
            Ok(MonitorConfig {
                chardev: "c".to_owned(),
                mode: MonitorMode::Control,
                pretty: true
            })
        );
    }

    #[test]
    fn serial_fourth_port_is_accepted() {
        let args = [
            "-serial", "null", "-serial", "null", "-serial", "null", "-serial", "pty",
        ];
        assert_eq!(parse_ok(&args).config.serials.len(), SERIAL_PORTS_MAX);
    }

    #[test]
    fn parallel_third_port_is_accepted() {
        let args = ["-parallel", "null", "-parallel", "null", "-parallel", "pty"];
        assert_eq!(parse_ok(&args).config.parallels.len(), PARALLEL_PORTS_MAX);
    }

    #[test]
    fn serial_none_does_not_count_toward_the_limit() {
        let args = [
            "-serial", "none", "-serial", "null", "-serial", "null", "-serial", "null", "-serial",
            "pty",
        ];
        assert_eq!(parse_ok(&args).config.serials.len(), SERIAL_PORTS_MAX + 1);
    }

    #[test]
    fn parallel_fourth_port_is_too_many() {
        let args = [
            "-parallel",
            "null",
            "-parallel",
            "null",
            "-parallel",
            "null",
            "-parallel",
            "null",
        ];
        assert_eq!(parse_err(&args), "qemu: too many parallel ports");
    }
}
