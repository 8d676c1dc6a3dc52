//! Display commands: query-vnc, query-spice, set_password, expire_password,
//! client_migrate_info, screendump, and `change vnc ...` ([`change_vnc`], called
//! by the `change` command). Models 0.14's `monitor.c` handlers over
//! `ui/vnc.c` and `ui/spice-core.c`; objects are built in 0.14's insertion
//! order and the wire layer applies the hash order. No I/O: screendump leaves
//! as an [`Effect::WriteFile`].
//!
//! The `server` and `client` objects of the display replies are built here
//! ([`vnc_server_info`], [`vnc_client_info`], [`spice_server_info`],
//! [`spice_client_info`]), and the VNC_* and SPICE_* events carry the same
//! objects (`qmp::events`).

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::devices::catalog::{self, Role};
use crate::machine::devices::cfmt::strtoul_prefix;
use crate::machine::display::{
    render_ppm, SockAddr, SpiceAuth, SpiceChannel, SpiceMigrateTarget, VncClient, TIME_NEVER_S,
    VNC_CHANGE_PASSWORD_BYTES_MAX,
};
use crate::machine::events::VncServerEnd;
use crate::machine::memory::FileBytes;
use crate::machine::Effect;
use crate::qdict;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

/// 0.14's `put_addr_qdict` / `add_addr_info`: host, port, family, with the
/// port under `port_key` (`service` for VNC, `port` for SPICE).
fn put_addr(d: &mut QDict, addr: &SockAddr, port_key: &str) {
    d.put("host", addr.host.as_str());
    d.put(port_key, addr.service.as_str());
    d.put("family", addr.family.as_str());
}

/// `vnc_server_info_put`: the listening address, then `auth`.
pub fn vnc_server_info(server: &VncServerEnd) -> QDict {
    let mut d = QDict::new();
    put_addr(&mut d, &server.addr, "service");
    d.put("auth", server.auth.name());
    d
}

/// `client->info` as `vnc_client_cache_addr` builds it (host, service,
/// family) plus, once authenticated (`initialized`), what
/// `vnc_client_cache_auth` adds.
pub fn vnc_client_info(client: &VncClient, initialized: bool) -> QDict {
    let mut d = QDict::new();
    put_addr(&mut d, &client.addr, "service");
    if initialized {
        if let Some(dn) = &client.x509_dname {
            d.put("x509_dname", dn.as_str());
        }
        if let Some(user) = &client.sasl_username {
            d.put("sasl_username", user.as_str());
        }
    }
    d
}

/// A SPICE event's `client`, and a `query-spice` channel: the address, plus
/// (once `initialized`) 0.14's `add_channel_info`.
pub fn spice_client_info(channel: &SpiceChannel, initialized: bool) -> QDict {
    let mut d = QDict::new();
    put_addr(&mut d, &channel.client, "port");
    if initialized {
        d.put("connection-id", i64::from(channel.connection_id));
        d.put("channel-type", i64::from(channel.channel_type));
        d.put("channel-id", i64::from(channel.channel_id));
        d.put("tls", channel.tls);
    }
    d
}

/// A SPICE event's `server`: the address, plus `auth` for SPICE_INITIALIZED.
pub fn spice_server_info(channel: &SpiceChannel, auth: Option<SpiceAuth>) -> QDict {
    let mut d = QDict::new();
    put_addr(&mut d, &channel.server, "port");
    if let Some(auth) = auth {
        d.put("auth", auth.name());
    }
    d
}

fn disabled() -> HandlerResult {
    Ok(QObject::Dict(qdict! { "enabled" => false }))
}

/// `{"enabled": true, "<key>": [...]}`: an enabled display and its connected
/// clients or channels, which the rest of its info follows.
fn enabled(key: &str, connected: impl Iterator<Item = QDict>) -> QDict {
    let connected = connected.map(QObject::Dict).collect();
    qdict! { "enabled" => true, key => QObject::List(connected) }
}

/// C `int` conversion of a QMP integer (0.14 stores ports in `int`).
fn c_int(v: i64) -> i32 {
    let low = u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0);
    i32::from_ne_bytes(low.to_ne_bytes())
}

/// `query-vnc`: `{"enabled": false}` without an open display. A display with no
/// readable listening address (reverse mode, a failed `change vnc`, a unix
/// socket path too long for getnameinfo) gives `{}`, as 0.14's `do_info_vnc`
/// does when `vnc_server_info_put` fails. `clients` lists the connected
/// clients newest first (see `x-vnc-client`).
pub fn query_vnc(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let Some(vnc) = &ctx.machine.display.vnc else {
        return disabled();
    };
    if vnc.listen.is_none() {
        return disabled();
    }
    let Some(server) = vnc.server_end() else {
        return Ok(QObject::Dict(QDict::new()));
    };
    // Newest first, as 0.14's `vd->clients`.
    let clients = vnc.clients.iter().map(|c| vnc_client_info(c, true));
    let mut d = enabled("clients", clients);
    for (key, value) in vnc_server_info(&server).iter_inserted() {
        d.put(key, value.clone());
    }
    Ok(QObject::Dict(d))
}

/// `query-spice`: `{"enabled": false}` without `-spice`; `channels` lists the
/// connected channels oldest first (see `x-spice-client`).
pub fn query_spice(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let Some(spice) = &ctx.machine.display.spice else {
        return disabled();
    };
    // `channel_list_get`: oldest first.
    let channels = spice.channels.iter().map(|c| spice_client_info(c, true));
    let mut d = enabled("channels", channels);
    d.put("host", spice.addr.as_deref().unwrap_or("0.0.0.0"));
    let (port, tls_port) = (c_int(spice.port), c_int(spice.tls_port));
    if port != 0 {
        d.put("port", i64::from(port));
    }
    if tls_port != 0 {
        d.put("tls-port", i64::from(tls_port));
    }
    d.put("auth", spice.auth.name());
    Ok(QObject::Dict(d))
}

/// `set_password`: `connected` is checked first, then the protocol. For SPICE
/// with a main channel connected (see `x-spice-client`), `fail` answers
/// SetPasswdFailed and keeps the old ticket, and `disconnect` sets it and
/// disconnects every channel (spice-server's `spice_server_set_ticket`).
pub fn set_password(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let protocol = args.str("protocol");
    let password = args.str("password");
    let invalid = |name: &str| QmpError::with1(ErrorClass::InvalidParameter, name);
    let connected = args.opt_str("connected");
    let keep = match connected {
        None | Some("keep") => true,
        Some("fail" | "disconnect") => false,
        Some(_) => return Err(invalid("connected")),
    };
    match protocol {
        "spice" => {
            let Some(spice) = ctx.machine.display.spice.as_mut() else {
                return Err(QmpError::with1(ErrorClass::DeviceNotActive, "spice"));
            };
            let client = spice.has_main_channel();
            if client && connected == Some("fail") {
                return Err(QmpError::bare(ErrorClass::SetPasswdFailed));
            }
            spice.password = Some(password.to_owned());
            if client && connected == Some("disconnect") {
                ctx.machine.spice_disconnect_all();
            }
            empty()
        }
        "vnc" => {
            if !keep {
                return Err(invalid("connected"));
            }
            let Some(vnc) = ctx.machine.display.vnc.as_mut() else {
                return Err(QmpError::bare(ErrorClass::SetPasswdFailed));
            };
            vnc.set_password(password.as_bytes());
            empty()
        }
        _ => Err(invalid("protocol")),
    }
}

/// C `strtoull(s, NULL, 10)`: whitespace, an optional sign (a minus negates
/// modulo 2^64), digits; saturates on overflow; garbage is 0.
fn strtoull10(s: &str) -> u64 {
    strtoul_prefix(s, 10).map_or(0, |(value, _)| value)
}

/// `expire_password`'s `time`: `now`, `never`, `+SECONDS` from now, or
/// absolute seconds since the epoch, as a `time_t`.
pub fn expiry_time_s(when: &str, now_s: i64) -> i64 {
    let as_time_t = |v: u64| i64::from_ne_bytes(v.to_ne_bytes());
    match when {
        "now" => 0,
        "never" => TIME_NEVER_S,
        _ => match when.strip_prefix('+') {
            Some(rel) => now_s.wrapping_add(as_time_t(strtoull10(rel))),
            None => as_time_t(strtoull10(when)),
        },
    }
}

/// `expire_password`. For "vnc" without a VNC server 0.14 dereferences a NULL
/// pointer and crashes; qmpsim answers DeviceNotActive instead (docs/compat.md).
pub fn expire_password(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let protocol = args.str("protocol");
    let now = ctx.machine.clock.now();
    let now_s = ctx
        .machine
        .config
        .epoch_s
        .saturating_add(i64::try_from(now.0 / 1_000_000_000).unwrap_or(i64::MAX));
    let when = expiry_time_s(args.str("time"), now_s);
    let display = &mut ctx.machine.display;
    match protocol {
        "spice" => {
            let Some(spice) = display.spice.as_mut() else {
                return Err(QmpError::with1(ErrorClass::DeviceNotActive, "spice"));
            };
            spice.expires_s = when;
            empty()
        }
        "vnc" => {
            let Some(vnc) = display.vnc.as_mut() else {
                return Err(QmpError::with1(ErrorClass::DeviceNotActive, "vnc"));
            };
            vnc.expires_s = when;
            empty()
        }
        _ => Err(QmpError::with1(ErrorClass::InvalidParameter, "protocol")),
    }
}

/// `client_migrate_info`: only "spice" is supported in 0.14.
pub fn client_migrate_info(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    if args.str("protocol") != "spice" {
        return Err(QmpError::with1(ErrorClass::InvalidParameter, "protocol"));
    }
    let Some(spice) = ctx.machine.display.spice.as_mut() else {
        return Err(QmpError::with1(ErrorClass::DeviceNotActive, "spice"));
    };
    spice.migrate_target = Some(SpiceMigrateTarget {
        hostname: args.str("hostname").to_owned(),
        port: args.opt_int("port").map_or(-1, c_int),
        tls_port: args.opt_int("tls-port").map_or(-1, c_int),
        cert_subject: args.opt_str("cert-subject").map(str::to_owned),
    });
    empty()
}

/// `screendump`: a P6 PPM of the screen at its current mode; always `{}`.
/// Without a display adapter (`-vga none`) the first console is a text
/// console, which has no `hw_screen_dump` (console.c `vga_hw_screen_dump`):
/// no file is written.
pub fn screendump(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let machine = &mut *ctx.machine;
    let has_card = machine
        .devices
        .qdev
        .devices
        .iter()
        .any(|d| catalog::find(&d.driver).is_some_and(|i| i.role == Role::Vga));
    if !has_card {
        return empty();
    }
    let mode = machine.display.screen.mode(machine.clock.now());
    let bytes = render_ppm(machine.config.seed, mode);
    machine.effects.push(Effect::WriteFile {
        path: args.str("filename").to_owned(),
        bytes: FileBytes(bytes),
    });
    empty()
}

/// `change vnc TARGET [ARG]` (0.14's `do_change_vnc`): target "password" or
/// "passwd" sets the password (first 8 bytes of `arg`); any other target
/// reopens the VNC server on that display string.
pub fn change_vnc(ctx: &mut Ctx<'_>, target: &str, arg: Option<&str>) -> HandlerResult {
    if target == "password" || target == "passwd" {
        // In QMP, monitor_read_password cannot prompt.
        let Some(arg) = arg else {
            return Err(QmpError::with1(ErrorClass::MissingParameter, "password"));
        };
        let bytes = arg.as_bytes();
        let kept = &bytes[..bytes.len().min(VNC_CHANGE_PASSWORD_BYTES_MAX)];
        let Some(vnc) = ctx.machine.display.vnc.as_mut() else {
            return Err(QmpError::bare(ErrorClass::SetPasswdFailed));
        };
        vnc.set_password(kept);
        return empty();
    }
    let failed = || QmpError::with1(ErrorClass::VNCServerFailed, target);
    let Some(vnc) = ctx.machine.display.vnc.as_mut() else {
        return Err(failed());
    };
    vnc.open(target).map_err(|_| failed())?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{MachineConfig, OptionList};
    use crate::machine::display::{VncAuth, NI_MAXSERV_BYTES};
    use crate::machine::Machine;

    fn vnc_config(display: &str) -> MachineConfig {
        MachineConfig {
            vnc: Some(display.into()),
            ..MachineConfig::default()
        }
    }

    fn spice_config() -> MachineConfig {
        let o = OptionList::from_iter([("port", "5930")]);
        MachineConfig {
            spice: Some(o),
            ..MachineConfig::default()
        }
    }

    use super::super::call_fresh as call;
    use super::super::Handler;

    /// `handler` called with `args` on a new machine of `config`.
    fn call_on_new(config: MachineConfig, handler: Handler, args: &QDict) -> HandlerResult {
        call(&mut Machine::new(config), handler, args)
    }

    fn json(r: &HandlerResult) -> String {
        r.as_ref().expect("success").to_json()
    }

    /// What `query` returns, without arguments, on a new machine of `config`.
    fn queried(config: MachineConfig, query: Handler) -> String {
        json(&call_on_new(config, query, &QDict::new()))
    }

    fn change(m: &mut Machine, target: &str, arg: Option<&str>) -> HandlerResult {
        super::super::with_fresh_ctx(m, |ctx| change_vnc(ctx, target, arg))
    }

    #[test]
    fn query_vnc_without_vnc_is_disabled() {
        assert_eq!(
            queried(MachineConfig::default(), query_vnc),
            r#"{"enabled": false}"#
        );
    }

    #[test]
    fn query_vnc_display_zero_matches_014_order() {
        assert_eq!(
            queried(vnc_config(":0"), query_vnc),
            r#"{"enabled": true, "auth": "none", "family": "ipv4", "clients": [], "service": "5900", "host": "0.0.0.0"}"#
        );
    }

    #[test]
    fn query_vnc_reverse_returns_empty_object() {
        assert_eq!(
            queried(vnc_config("127.0.0.1:5500,reverse"), query_vnc),
            "{}"
        );
    }

    #[test]
    fn query_vnc_unix_path_at_limit_returns_empty_object() {
        let path = format!("unix:/{}", "a".repeat(NI_MAXSERV_BYTES - 1));
        assert_eq!(queried(vnc_config(&path), query_vnc), "{}");
    }

    #[test]
    fn query_vnc_unix_path_below_limit_is_reported() {
        let path = format!("unix:/{}", "a".repeat(NI_MAXSERV_BYTES - 2));
        assert!(queried(vnc_config(&path), query_vnc).contains(r#""family": "unix""#));
    }

    #[test]
    fn query_spice_with_port_matches_014_order() {
        assert_eq!(
            queried(spice_config(), query_spice),
            r#"{"enabled": true, "auth": "spice", "port": 5930, "host": "0.0.0.0", "channels": []}"#
        );
    }

    #[test]
    fn set_password_refusals() {
        let invalid_connected = QmpError::with1(ErrorClass::InvalidParameter, "connected");
        let cases = [
            // `connected` is checked before the protocol.
            (
                MachineConfig::default(),
                qdict! { "protocol" => "nosuch", "password" => "x", "connected" => "maybe" },
                invalid_connected.clone(),
            ),
            (
                MachineConfig::default(),
                qdict! { "protocol" => "vnc", "password" => "x" },
                QmpError::bare(ErrorClass::SetPasswdFailed),
            ),
            (
                vnc_config(":0"),
                qdict! { "protocol" => "vnc", "password" => "x", "connected" => "disconnect" },
                invalid_connected,
            ),
        ];
        for (config, args, want) in cases {
            assert_eq!(
                call_on_new(config, set_password, &args),
                Err(want),
                "{args:?}"
            );
        }
    }

    #[test]
    fn set_password_spice_with_fail_is_accepted() {
        let a = qdict! { "protocol" => "spice", "password" => "x", "connected" => "fail" };
        assert!(call_on_new(spice_config(), set_password, &a).is_ok());
    }

    fn spice_with_main_channel() -> Machine {
        let mut m = Machine::new(spice_config());
        m.spice_channel_connect(crate::machine::inject::SpiceChannelRequest {
            client: crate::machine::display::SockAddr {
                host: "127.0.0.1".into(),
                service: "40000".into(),
                family: "ipv4".into(),
            },
            connection_id: Some(1),
            channel_type: 1,
            channel_id: 0,
            tls: false,
        })
        .unwrap();
        m.events.drain();
        m
    }

    #[test]
    fn set_password_spice_fail_with_client_fails_and_keeps_ticket() {
        let mut m = spice_with_main_channel();
        let a = qdict! { "protocol" => "spice", "password" => "x", "connected" => "fail" };
        assert_eq!(
            call(&mut m, set_password, &a),
            Err(QmpError::bare(ErrorClass::SetPasswdFailed))
        );
        assert_eq!(m.display.spice.unwrap().password, None);
    }

    #[test]
    fn set_password_spice_disconnect_with_client_disconnects_it() {
        let mut m = spice_with_main_channel();
        let a = qdict! { "protocol" => "spice", "password" => "x", "connected" => "disconnect" };
        call(&mut m, set_password, &a).unwrap();
        let names: Vec<String> = m.events.drain_names();
        assert_eq!(names, ["SPICE_DISCONNECTED"]);
        assert!(m.display.spice.unwrap().channels.is_empty());
    }

    #[test]
    fn expiry_time_forms() {
        assert_eq!(expiry_time_s("now", 100), 0);
        assert_eq!(expiry_time_s("never", 100), i64::MAX);
        assert_eq!(expiry_time_s("+60", 100), 160);
        assert_eq!(expiry_time_s("1234", 100), 1234);
        assert_eq!(expiry_time_s("junk", 100), 0);
        assert_eq!(expiry_time_s("-1", 100), -1);
    }

    #[test]
    fn expire_password_vnc_without_server_is_not_active() {
        let a = qdict! { "protocol" => "vnc", "time" => "now" };
        assert_eq!(
            call_on_new(MachineConfig::default(), expire_password, &a),
            Err(QmpError::with1(ErrorClass::DeviceNotActive, "vnc"))
        );
    }

    #[test]
    fn expire_password_relative_uses_virtual_epoch() {
        let mut m = Machine::new(vnc_config(":0"));
        let a = qdict! { "protocol" => "vnc", "time" => "+60" };
        call(&mut m, expire_password, &a).unwrap();
        assert_eq!(m.display.vnc.unwrap().expires_s, 1_300_000_060);
    }

    #[test]
    fn client_migrate_info_vnc_is_invalid_protocol() {
        let a = qdict! { "protocol" => "vnc", "hostname" => "h" };
        assert_eq!(
            call_on_new(vnc_config(":0"), client_migrate_info, &a),
            Err(QmpError::with1(ErrorClass::InvalidParameter, "protocol"))
        );
    }

    #[test]
    fn client_migrate_info_spice_stores_target() {
        let mut m = Machine::new(spice_config());
        let a = qdict! { "protocol" => "spice", "hostname" => "h", "port" => 1234_i64 };
        call(&mut m, client_migrate_info, &a).unwrap();
        let t = m.display.spice.unwrap().migrate_target.unwrap();
        assert_eq!((t.port, t.tls_port), (1234, -1));
    }

    #[test]
    fn screendump_before_boot_writes_text_mode_ppm() {
        let mut m = Machine::new(MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        });
        call(&mut m, screendump, &qdict! { "filename" => "/tmp/s" }).unwrap();
        let Some(Effect::WriteFile { path, bytes }) = m.effects.first() else {
            panic!("no WriteFile effect: {:?}", m.effects);
        };
        assert_eq!(path, "/tmp/s");
        assert!(bytes.0.starts_with(b"P6\n720 400\n255\n"));
    }

    #[test]
    fn screendump_without_a_card_writes_nothing() {
        let mut m = Machine::new(MachineConfig {
            vga: Some(crate::machine::config::VgaType::None),
            ..MachineConfig::default()
        });
        assert_eq!(
            call(&mut m, screendump, &qdict! { "filename" => "/tmp/s" }),
            empty()
        );
        assert!(m.effects.is_empty(), "{:?}", m.effects);
    }

    /// The VNC password after `change vnc password PASSWORD`.
    fn changed_password(password: &str) -> Option<Vec<u8>> {
        let mut m = Machine::new(vnc_config(":0"));
        change(&mut m, "password", Some(password)).expect("password changes");
        m.display.vnc.expect("VNC is configured").password
    }

    #[test]
    fn change_vnc_password_turns_on_vnc_auth() {
        let mut m = Machine::new(vnc_config(":0"));
        change(&mut m, "password", Some("secret")).unwrap();
        assert_eq!(m.display.vnc.unwrap().auth, VncAuth::Vnc);
    }

    #[test]
    fn change_vnc_password_keeps_the_first_bytes_up_to_the_limit() {
        let at_limit = "7".repeat(VNC_CHANGE_PASSWORD_BYTES_MAX);
        let split = format!("{}é", &at_limit[1..]);
        for (password, kept) in [
            (at_limit.clone(), at_limit.as_bytes()),
            (format!("{at_limit}8"), at_limit.as_bytes()),
            // 0.14 copies bytes; the eighth and ninth are the two bytes of `é`.
            (
                split.clone(),
                &split.as_bytes()[..VNC_CHANGE_PASSWORD_BYTES_MAX],
            ),
        ] {
            assert_eq!(
                changed_password(&password),
                Some(kept.to_vec()),
                "{password}"
            );
        }
    }

    #[test]
    fn change_vnc_without_a_server_fails() {
        for (target, arg, want) in [
            (
                "passwd",
                None,
                QmpError::with1(ErrorClass::MissingParameter, "password"),
            ),
            (
                "password",
                Some("x"),
                QmpError::bare(ErrorClass::SetPasswdFailed),
            ),
            (
                ":1",
                None,
                QmpError::with1(ErrorClass::VNCServerFailed, ":1"),
            ),
        ] {
            let mut m = Machine::new(MachineConfig::default());
            assert_eq!(change(&mut m, target, arg), Err(want), "{target}");
        }
    }

    #[test]
    fn change_vnc_display_reopens_on_new_port() {
        let mut m = Machine::new(vnc_config("none"));
        change(&mut m, ":3", None).unwrap();
        assert!(json(&call(&mut m, query_vnc, &QDict::new())).contains(r#""service": "5903""#));
    }

    #[test]
    fn change_vnc_bad_display_fails_and_query_gives_empty_object() {
        let mut m = Machine::new(vnc_config(":0"));
        assert_eq!(
            change(&mut m, "nohostport", None),
            Err(QmpError::with1(ErrorClass::VNCServerFailed, "nohostport"))
        );
        assert_eq!(json(&call(&mut m, query_vnc, &QDict::new())), "{}");
    }
}
