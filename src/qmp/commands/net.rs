//! Network commands: netdev_add, netdev_del, set_link (qmp-commands.hx
//! section 2).
//!
//! netdev_add builds its options like device_add (`qemu_opts_from_qdict` on the
//! `netdev` group: id syntax and uniqueness first), then the network model checks
//! type, id and options in 0.14's order.

use super::devices::opts_from_qdict;
use super::{empty, Ctx, HandlerResult};
use crate::machine::devices::qdev::id_wellformed;
use crate::wire::{ErrorClass, QDict, QmpError};

/// `netdev_add`.
pub fn netdev_add(ctx: &mut Ctx<'_>, args: &QDict) -> HandlerResult {
    let (id, opts) = opts_from_qdict(args);
    let net = &mut ctx.machine.devices.net;
    if let Some(id) = id.as_deref() {
        if !id_wellformed(id) {
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "id",
                "an identifier",
            ));
        }
        if net.netdev_ids.iter().any(|n| n == id) {
            return Err(QmpError::with2(ErrorClass::DuplicateId, id, "netdev"));
        }
    }
    net.netdev_add(id.as_deref(), &opts)?;
    empty()
}

/// `netdev_del`.
pub fn netdev_del(ctx: &mut Ctx<'_>, args: &QDict) -> HandlerResult {
    let id = args.get_str("id").unwrap_or_default();
    ctx.machine.devices.net.netdev_del(id)?;
    empty()
}

/// `set_link`.
pub fn set_link(ctx: &mut Ctx<'_>, args: &QDict) -> HandlerResult {
    let name = args.get_str("name").unwrap_or_default();
    let up = args.get_bool("up").unwrap_or(false);
    ctx.machine.devices.net.set_link(name, up)?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;
    use crate::qmp::session::{ClientId, Session};

    fn run(m: &mut Machine, h: super::super::Handler, args: &QDict) -> HandlerResult {
        let mut s = Session::new(0);
        let mut ctx = Ctx {
            machine: m,
            session: &mut s,
            client: ClientId(0),
            followups: vec![],
        };
        h(&mut ctx, args)
    }

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
}
