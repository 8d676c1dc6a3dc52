//! The `x-` extension commands that make the simulated world do what a real
//! one would: VNC clients and SPICE channels connect and leave, the guest hits
//! a disk error, sets its RTC, or lets its watchdog expire. Each produces the
//! events 0.14 sends at that moment (see `machine::inject` for their order
//! relative to the response). They are listed by `query-commands` and
//! dispatched only with `-x-extensions`.
//!
//! | command | arguments | events |
//! |---|---|---|
//! | `x-vnc-client` | `action` (`connect`/`disconnect`), `host`, `service`, `family`?, `x509_dname`?, `sasl_username`? | VNC_CONNECTED + VNC_INITIALIZED, or VNC_DISCONNECTED |
//! | `x-spice-client` | `action`, `host`, `port` (string), `family`?, `connection-id`?, `channel-type`? (1), `channel-id`? (0), `tls`? (false) | SPICE_CONNECTED + SPICE_INITIALIZED, or SPICE_DISCONNECTED |
//! | `x-block-error` | `device`, `operation` (`read`/`write`), `error`? (`eio`/`enospc`, default `eio`) | BLOCK_IO_ERROR (+ STOP) |
//! | `x-rtc-set` | `offset` (seconds ahead of host time) | RTC_CHANGE |
//! | `x-watchdog-expire` | none | WATCHDOG (+ the action's RESET, POWERDOWN, STOP or exit) |
//! | `x-inject` | `action`, then that action's arguments | see [`ACTIONS`](faults::ACTIONS) |
//!
//! `x-inject` is the one door to every fault kind of the machine's
//! [`ACTIONS`](faults::ACTIONS) table (name, arguments, the 0.14 behaviour reproduced, the
//! function), which also drives its errors, `docs/faults.md` and
//! `-x-scenario` steps; here the arguments are checked against the action's
//! `args_type` before it runs.
//!
//! This file checks argument values; the model and its errors are in the
//! machine. Example:
//!
//! ```text
//! -> {"execute":"x-rtc-set","arguments":{"offset":3600}}
//! <- {"timestamp": {"seconds": 1300000000, "microseconds": 2000}, "event": "RTC_CHANGE", "data": {"offset": 3600}}
//! <- {"return": {}}
//! ```

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::devices::block::{IoErrno, IoOperation};
use crate::machine::display::{SockAddr, VncClient, SPICE_CHANNEL_MAIN};
use crate::machine::faults;
use crate::machine::inject::SpiceChannelRequest;
use crate::machine::Machine;
use crate::qobject::QDict;
use crate::wire::{ErrorClass, QmpError};

fn invalid_value(name: &str, expected: &str) -> QmpError {
    QmpError::with2(ErrorClass::InvalidParameterValue, name, expected)
}

/// Whether the client connects (`true`) or leaves.
fn connecting(args: Args<'_>) -> Result<bool, QmpError> {
    match args.str("action") {
        "connect" => Ok(true),
        "disconnect" => Ok(false),
        _ => Err(invalid_value("action", "connect or disconnect")),
    }
}

/// The address of a client that connects, or `None` for one that leaves,
/// which `disconnect` (given its host and port) has then disconnected.
fn connecting_client(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    port_key: &str,
    disconnect: fn(&mut Machine, &str, &str) -> Result<(), QmpError>,
) -> Result<Option<SockAddr>, QmpError> {
    let connect = connecting(args)?;
    let addr = client_addr(args, port_key)?;
    if !connect {
        disconnect(ctx.machine, &addr.host, &addr.service)?;
        return Ok(None);
    }
    Ok(Some(addr))
}

/// The client address: `host` (not empty) and the port under `port_key` must
/// fit getnameinfo's buffers; `family` defaults to `ipv6` for a host with a colon,
/// else `ipv4`.
fn client_addr(args: Args<'_>, port_key: &str) -> Result<SockAddr, QmpError> {
    SockAddr::checked(
        args.str("host"),
        port_key,
        Some(args.str(port_key)),
        args.opt_str("family"),
    )
}

/// An optional integer argument in `0..=max`.
fn small_int(args: Args<'_>, name: &str, default: u32, max: u32) -> Result<u32, QmpError> {
    match args.opt_int(name) {
        None => Ok(default),
        Some(v) => u32::try_from(v)
            .ok()
            .filter(|v| *v <= max)
            .ok_or_else(|| invalid_value(name, &format!("a number from 0 to {max}"))),
    }
}

/// `x-vnc-client`: a VNC client at `host`:`service` connects (and
/// authenticates, always successfully, with the `x509_dname` and
/// `sasl_username` given, which the server's scheme must produce) or
/// disconnects (only `host` and `service` matter). See
/// `Machine::vnc_client_connect` for the events and errors.
pub fn x_vnc_client(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let Some(addr) = connecting_client(ctx, args, "service", Machine::vnc_client_disconnect)?
    else {
        return empty();
    };
    ctx.machine.vnc_client_connect(VncClient {
        addr,
        x509_dname: args.opt_str("x509_dname").map(str::to_owned),
        sasl_username: args.opt_str("sasl_username").map(str::to_owned),
    })?;
    empty()
}

/// `x-spice-client`: one SPICE channel connection from `host`:`port`
/// connects (channel `channel-type`/`channel-id`, default the main channel
/// 1/0, on the TLS port when `tls`; `connection-id` defaults to one drawn
/// from the machine's rng) or disconnects. See
/// `Machine::spice_channel_connect` for the events and errors.
pub fn x_spice_client(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let Some(client) = connecting_client(ctx, args, "port", Machine::spice_channel_disconnect)?
    else {
        return empty();
    };
    let connection_id = match args.opt_int("connection-id") {
        None => None,
        Some(v) => Some(
            u32::try_from(v)
                .map_err(|_| invalid_value("connection-id", "a 32-bit unsigned number"))?,
        ),
    };
    let byte = |name, default| {
        small_int(args, name, default, u32::from(u8::MAX))
            .map(|v| u8::try_from(v).expect("checked against u8::MAX"))
    };
    ctx.machine.spice_channel_connect(SpiceChannelRequest {
        client,
        connection_id,
        channel_type: byte("channel-type", u32::from(SPICE_CHANNEL_MAIN))?,
        channel_id: byte("channel-id", 0)?,
        tls: args.opt_bool("tls").unwrap_or(false),
    })?;
    empty()
}

/// `x-block-error`: a guest request on `device` fails with `EIO` (default)
/// or `ENOSPC`; the drive's `rerror`/`werror` decides the action. See
/// `Machine::block_io_error`.
pub fn x_block_error(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let op = IoOperation::parse(args.str("operation"))
        .ok_or_else(|| invalid_value("operation", "read or write"))?;
    let errno = match args.opt_str("error") {
        None => IoErrno::Eio,
        Some(e) => IoErrno::parse(e).ok_or_else(|| invalid_value("error", "eio or enospc"))?,
    };
    ctx.machine.block_io_error(args.str("device"), op, errno)?;
    empty()
}

/// `x-rtc-set`: the guest sets its RTC `offset` seconds ahead of host time
/// (negative: behind). See `Machine::rtc_set`.
pub fn x_rtc_set(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    ctx.machine.rtc_set(args.int("offset"))?;
    empty()
}

/// `x-watchdog-expire`: the guest stops petting its watchdog, which expires.
/// See `Machine::watchdog_expire`.
pub fn x_watchdog_expire(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine.watchdog_expire()?;
    empty()
}

/// `x-inject`'s `args_type`: `action`, then every argument of every action
/// of [`ACTIONS`](faults::ACTIONS), each optional (the action's own `args_type` says which it
/// needs). A test keeps it equal to the union of [`ACTIONS`](faults::ACTIONS).
pub const X_INJECT_ARGS_TYPE: &str = "action:s,device:B?,operation:s?,error:s?,ms:i?,\
offset:i?,host:s?,service:s?,family:s?,x509_dname:s?,sasl_username:s?,authenticate:b?,\
port:s?,connection-id:i?,channel-type:i?,channel-id:i?,tls:b?,factor:i?,percent:i?,client:i?";

/// Checks the arguments of action `name` against its `args_type`, as
/// dispatch checks a command's, then runs it.
///
/// Errors: an unknown action → InvalidParameterValue `action`; argument errors
/// as for any command; the action's own errors.
pub fn run_action(machine: &mut Machine, name: &str, args: &QDict) -> Result<(), QmpError> {
    if let Some(action) = faults::action(name) {
        crate::qmp::args::check(action.args_type, args)?;
    }
    faults::run_action(machine, name, args)
}

/// Checks action `name` and its arguments as [`run_action`] would before
/// running it (a scenario file's steps are checked so when it is read).
pub fn check_action(name: &str, args: &QDict) -> Result<(), String> {
    let action = faults::action(name).ok_or_else(|| {
        format!(
            "unknown action '{name}' (one of {})",
            faults::action_names()
        )
    })?;
    crate::qmp::args::check(action.args_type, args).map_err(|e| format!("{name}: {}", e.desc()))
}

/// `x-inject {action, ...}`: brings about one fault kind (see [`ACTIONS`](faults::ACTIONS)).
pub fn x_inject(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let name = args.str("action");
    let mut rest = args.dict().clone();
    rest.remove("action");
    run_action(ctx.machine, name, &rest)?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::display::{NI_MAXHOST_BYTES, NI_MAXSERV_BYTES};
    use crate::machine::faults::ACTIONS;
    use crate::machine::Machine;
    use crate::qdict;
    use crate::qobject::QDict;

    use super::super::{call_fresh as call, Handler};

    fn vnc() -> Machine {
        Machine::new(MachineConfig {
            vnc: Some(":1".into()),
            ..MachineConfig::default()
        })
    }

    /// Every argument of every action, with its type, in first-seen order.
    fn union_of_actions() -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = Vec::new();
        for a in ACTIONS {
            for item in a.args_type.split(',').filter(|i| !i.is_empty()) {
                let (name, ty) = item.split_once(':').expect("name:type");
                let ty = format!("{}?", ty.trim_end_matches('?'));
                if !all.iter().any(|(n, _)| n == name) {
                    all.push((name.to_owned(), ty));
                }
            }
        }
        all
    }

    #[test]
    fn x_inject_args_type_is_action_then_the_union_of_every_action() {
        let mut expected = vec!["action:s".to_owned()];
        expected.extend(union_of_actions().iter().map(|(n, t)| format!("{n}:{t}")));
        let mut declared: Vec<String> = X_INJECT_ARGS_TYPE.split(',').map(str::to_owned).collect();
        let mut sorted_expected = expected.clone();
        declared.sort();
        sorted_expected.sort();
        assert_eq!(declared, sorted_expected);
    }

    #[test]
    fn every_argument_name_has_one_type_across_actions() {
        let mut clashes = Vec::new();
        for a in ACTIONS {
            for item in a.args_type.split(',').filter(|i| !i.is_empty()) {
                let (name, ty) = item.split_once(':').unwrap();
                let ty = ty.trim_end_matches('?');
                let declared = crate::qmp::args::declared(X_INJECT_ARGS_TYPE, name);
                if declared.map(|(t, _)| t) != ty.bytes().next() {
                    clashes.push(format!("{}: {name}", a.name));
                }
            }
        }
        assert!(clashes.is_empty(), "{clashes:?}");
    }

    #[test]
    fn check_action_names_a_missing_argument() {
        assert_eq!(
            check_action("rtc-change", &QDict::new()),
            Err("rtc-change: Parameter 'offset' is missing".to_owned())
        );
    }

    #[test]
    fn bad_arguments_are_invalid_values() {
        let plain = || Machine::new(MachineConfig::default());
        let vnc_client = |a: QDict| (vnc(), x_vnc_client as Handler, a);
        let cases = [
            (
                vnc_client(qdict! { "action" => "join", "host" => "h", "service" => "1" }),
                invalid_value("action", "connect or disconnect"),
            ),
            (
                vnc_client(
                    qdict! { "action" => "connect", "host" => "h", "service" => "1", "family" => "ipx" },
                ),
                invalid_value("family", "ipv4, ipv6, unix or unknown"),
            ),
            (
                vnc_client(qdict! { "action" => "connect", "host" => "", "service" => "1" }),
                invalid_value("host", "a host of 1 to 1024 bytes"),
            ),
            (
                (
                    plain(),
                    x_spice_client,
                    qdict! { "action" => "connect", "host" => "h", "port" => "1", "connection-id" => -1_i64 },
                ),
                invalid_value("connection-id", "a 32-bit unsigned number"),
            ),
            (
                (
                    plain(),
                    x_block_error,
                    qdict! { "device" => "ide1-cd0", "operation" => "flush" },
                ),
                invalid_value("operation", "read or write"),
            ),
            (
                (
                    plain(),
                    x_block_error,
                    qdict! { "device" => "ide1-cd0", "operation" => "read", "error" => "eperm" },
                ),
                invalid_value("error", "eio or enospc"),
            ),
        ];
        for ((mut m, handler, args), want) in cases {
            assert_eq!(call(&mut m, handler, &args), Err(want), "{args:?}");
        }
    }

    #[test]
    fn vnc_client_ipv6_host_defaults_to_ipv6_family() {
        let mut m = vnc();
        let a = qdict! { "action" => "connect", "host" => "::1", "service" => "1" };
        call(&mut m, x_vnc_client, &a).unwrap();
        assert_eq!(m.display.vnc.unwrap().clients[0].addr.family, "ipv6");
    }

    #[test]
    fn vnc_client_host_at_limit_then_past_it() {
        let mut m = vnc();
        let longest = "h".repeat(NI_MAXHOST_BYTES - 1);
        let a = qdict! { "action" => "connect", "host" => longest.as_str(), "service" => "1" };
        assert!(call(&mut m, x_vnc_client, &a).is_ok());
        let past = "h".repeat(NI_MAXHOST_BYTES);
        let a = qdict! { "action" => "connect", "host" => past.as_str(), "service" => "1" };
        assert_eq!(
            call(&mut m, x_vnc_client, &a),
            Err(invalid_value("host", "a host of 1 to 1024 bytes"))
        );
    }

    #[test]
    fn vnc_client_service_at_limit_then_past_it() {
        let mut m = vnc();
        let longest = "1".repeat(NI_MAXSERV_BYTES - 1);
        let a = qdict! { "action" => "connect", "host" => "h", "service" => longest.as_str() };
        assert!(call(&mut m, x_vnc_client, &a).is_ok());
        let past = "1".repeat(NI_MAXSERV_BYTES);
        let a = qdict! { "action" => "connect", "host" => "h", "service" => past.as_str() };
        assert_eq!(
            call(&mut m, x_vnc_client, &a),
            Err(invalid_value("service", "a service of at most 31 bytes"))
        );
    }

    #[test]
    fn spice_client_channel_type_at_limit_then_past_it() {
        let mut o = crate::machine::config::OptionList::default();
        o.push("port", "5930");
        let mut m = Machine::new(MachineConfig {
            spice: Some(o),
            ..MachineConfig::default()
        });
        let a = qdict! { "action" => "connect", "host" => "h", "port" => "1", "channel-type" => 255_i64 };
        assert!(call(&mut m, x_spice_client, &a).is_ok());
        let a = qdict! { "action" => "connect", "host" => "h", "port" => "2", "channel-type" => 256_i64 };
        assert_eq!(
            call(&mut m, x_spice_client, &a),
            Err(invalid_value("channel-type", "a number from 0 to 255"))
        );
    }

    #[test]
    fn rtc_set_returns_empty_object() {
        let mut m = Machine::new(MachineConfig::default());
        let r = call(&mut m, x_rtc_set, &qdict! { "offset" => 5_i64 });
        assert_eq!(r.unwrap().to_json(), "{}");
    }

    #[test]
    fn watchdog_expire_without_watchdog_is_not_active() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            call(&mut m, x_watchdog_expire, &QDict::new()),
            Err(QmpError::with1(ErrorClass::DeviceNotActive, "watchdog"))
        );
    }
}
