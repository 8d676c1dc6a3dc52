//! Network commands: netdev_add, netdev_del, set_link (qmp-commands.hx
//! section 2).
//!
//! netdev_add builds its options like device_add (`qemu_opts_from_qdict` on the
//! `netdev` group: id syntax and uniqueness first), then the network model checks
//! type, id and options in 0.14's order. A tap or socket `fd=NAME` takes the
//! descriptor the calling monitor named with getfd (0.14's `monitor_get_fd`);
//! an unknown name fails the backend's init, so DeviceInitFailed with the
//! backend type, as `net_client_init` reports it. netdev_del closes a
//! descriptor the backend owned.

use super::devices::opts_from_qdict;
use super::fds::take_from;
use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::devices::qdev::id_wellformed;
use crate::machine::Effect;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

/// `netdev_add`.
pub fn netdev_add(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    netdev_add_reporting(ctx, args).map_err(|(e, _)| e)
}

/// `netdev_add` with the backend's `error_report` line (which the human
/// monitor prints). `fd=NAME` takes a descriptor this monitor named with getfd.
pub fn netdev_add_reporting(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
) -> Result<QObject, (QmpError, Option<String>)> {
    let (id, opts) = opts_from_qdict(args.options());
    let monitor = ctx.session.monitor;
    let machine = &mut *ctx.machine;
    let net = &mut machine.devices.net;
    if let Some(id) = id.as_deref() {
        if !id_wellformed(id) {
            let e = QmpError::with2(ErrorClass::InvalidParameterValue, "id", "an identifier");
            return Err((e, None));
        }
        if net.netdev_ids.iter().any(|n| n == id) {
            return Err((QmpError::with2(ErrorClass::DuplicateId, id, "netdev"), None));
        }
    }
    let named = &mut machine.named_fds;
    let mut take = |name: &str| take_from(named, monitor, name);
    net.netdev_add_reporting(id.as_deref(), &opts, &mut take)
        .map_err(|e| (e.error, e.report))?;
    Ok(QObject::Dict(QDict::new()))
}

/// `netdev_del`: the descriptor the backend owned is closed.
pub fn netdev_del(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let id = args.str("id");
    if let Some(fd) = ctx.machine.devices.net.netdev_del(id)? {
        ctx.machine.effects.push(Effect::CloseFd { fd });
    }
    empty()
}

/// `set_link`.
pub fn set_link(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let name = args.str("name");
    let up = args.bool("up");
    ctx.machine.devices.net.set_link(name, up)?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;

    use super::super::call_fresh as run;

    #[test]
    fn netdev_add_twice_is_duplicate_id() {
        let mut m = Machine::new(MachineConfig::default());
        let args = qdict! {"type" => "user", "id" => "netdev1"};
        run(&mut m, netdev_add, &args).unwrap();
        assert_eq!(
            run(&mut m, netdev_add, &args),
            Err(QmpError::with2(
                ErrorClass::DuplicateId,
                "netdev1",
                "netdev"
            ))
        );
    }

    #[test]
    fn netdev_add_bad_id_is_invalid_value() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            run(&mut m, netdev_add, &qdict! {"type" => "user", "id" => "1x"}),
            Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "id",
                "an identifier"
            ))
        );
    }

    #[test]
    fn set_link_on_default_nic_sets_link_down() {
        let mut m = Machine::new(MachineConfig::default());
        run(
            &mut m,
            set_link,
            &qdict! {"name" => "e1000.0", "up" => false},
        )
        .unwrap();
        assert!(m
            .devices
            .net
            .clients
            .iter()
            .any(|c| c.name == "e1000.0" && c.link_down));
    }

    #[test]
    fn netdev_add_tap_takes_named_fd_and_del_closes_it() {
        let mut m = Machine::new(MachineConfig::default());
        m.named_fds
            .entry(0)
            .or_default()
            .insert("tapfd".to_owned(), 42);
        run(
            &mut m,
            netdev_add,
            &qdict! {"type" => "tap", "id" => "t", "fd" => "tapfd"},
        )
        .unwrap();
        assert!(m.named_fds.is_empty());
        run(&mut m, netdev_del, &qdict! {"id" => "t"}).unwrap();
        assert_eq!(m.effects, [Effect::CloseFd { fd: 42 }]);
    }

    #[test]
    fn netdev_add_unknown_fd_name_is_init_failed() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            run(
                &mut m,
                netdev_add,
                &qdict! {"type" => "socket", "id" => "s", "fd" => "nosuch"}
            ),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "socket"))
        );
    }
}
