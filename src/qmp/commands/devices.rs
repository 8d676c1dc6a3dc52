//! Machine and device commands: system_reset, system_powerdown, device_add,
//! device_del, query-pci, query-mice (qmp-commands.hx sections 2 and 3).
//!
//! device_add turns its arguments into options the way 0.14's
//! `qemu_opts_from_qdict` does (walking the dict in hash order, numbers as
//! decimal or `%.17g`, bools as on/off, other values dropped). Replies insert
//! keys in 0.14's order (`pci_get_dev_dict`, `do_info_mice`). Guest reactions
//! (hotplug probe, slot eject, reset, power-down) are queued on the machine.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::devices::add::Unplug;
use crate::machine::devices::catalog;
use crate::machine::devices::cfmt;
use crate::machine::devices::pci::PciFunction;
use crate::machine::Request;
use crate::wire::{QDict, QObject};

/// `system_reset`: `{}` now, RESET from the main loop.
pub fn system_reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine.requests.push(Request::Reset);
    empty()
}

/// `system_powerdown`: `{}` now, POWERDOWN from the main loop, and later the
/// guest's own shutdown.
pub fn system_powerdown(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine.requests.push(Request::Powerdown);
    empty()
}

/// `qemu_opts_from_qdict`: the `id` (only when a string) and the other members
/// as option text, in the dict's iteration order.
pub fn opts_from_qdict(args: &QDict) -> (Option<String>, Vec<(String, String)>) {
    let id = args.get_str("id").map(str::to_owned);
    let opts = args
        .emit_order()
        .into_iter()
        .filter(|(k, _)| *k != "id")
        .filter_map(|(k, v)| {
            let text = match v {
                QObject::Str(s) => s.clone(),
                QObject::Int(i) => i.to_string(),
                QObject::Float(f) => cfmt::format_g17(*f),
                QObject::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
                QObject::Dict(_) | QObject::List(_) => return None,
            };
            Some((k.to_owned(), text))
        })
        .collect();
    (id, opts)
}

/// `device_add`.
pub fn device_add(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let (id, opts) = opts_from_qdict(args.options());
    let uid = ctx.machine.devices.device_add(id.as_deref(), &opts, true)?;
    ctx.machine.guest_on_hotplug(uid);
    ctx.machine.balloon_sync();
    empty()
}

/// `device_del`: PCI devices go when the guest ejects their slot.
pub fn device_del(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let id = args.str("id");
    match ctx.machine.devices.device_del(id)? {
        Unplug::Removed => ctx.machine.balloon_sync(),
        Unplug::EjectRequested { slot } => ctx.machine.guest_on_unplug_request(slot),
    }
    empty()
}

fn addr(a: Option<u64>) -> QObject {
    // An unmapped BAR reads back as PCI_BAR_UNMAPPED (-1).
    QObject::Int(a.and_then(|a| i64::try_from(a).ok()).unwrap_or(-1))
}

fn size(s: u64) -> QObject {
    QObject::Int(i64::try_from(s).unwrap_or(i64::MAX))
}

/// One `query-pci` device.
pub fn pci_dev_dict(f: &PciFunction, qdev_id: &str) -> QDict {
    let mut class_info = QDict::new();
    if let Some(desc) = catalog::class_desc(f.class) {
        class_info.put("desc", desc);
    }
    class_info.put("class", i64::from(f.class));
    // 0.14 swaps the two: "device" carries the vendor ID and "vendor" the device ID.
    let mut id = QDict::new();
    id.put("device", i64::from(f.vendor_id));
    id.put("vendor", i64::from(f.device_id));
    let regions: Vec<QObject> = f
        .bars
        .iter()
        .map(|b| {
            let mut r = QDict::new();
            r.put("bar", i64::from(b.index));
            if b.io {
                r.put("type", "io");
            } else {
                r.put("type", "memory");
                r.put("mem_type_64", b.mem64);
                r.put("prefetch", b.prefetch);
            }
            r.put("address", addr(b.address));
            r.put("size", size(b.size));
            QObject::Dict(r)
        })
        .collect();
    let mut d = QDict::new();
    d.put("bus", 0_i64);
    d.put("slot", i64::from(f.slot()));
    d.put("function", i64::from(f.function()));
    d.put("class_info", class_info);
    d.put("id", id);
    d.put("regions", QObject::List(regions));
    d.put("qdev_id", qdev_id);
    if f.pin != 0 {
        d.put("irq", i64::from(f.irq_line));
    }
    d
}

/// `query-pci`: bus 0 and its devices in devfn order.
pub fn query_pci(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let devices: Vec<QObject> = ctx
        .machine
        .devices
        .qdev
        .pci_functions()
        .iter()
        .map(|(dev, f)| QObject::Dict(pci_dev_dict(f, dev.id.as_deref().unwrap_or(""))))
        .collect();
    let mut bus = QDict::new();
    bus.put("bus", 0_i64);
    bus.put("devices", QObject::List(devices));
    Ok(QObject::List(vec![QObject::Dict(bus)]))
}

/// `query-mice`: handlers in list order; the head is current.
pub fn query_mice(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let handlers = &ctx.machine.devices.mice.handlers;
    let current = handlers.first().map(|m| m.index);
    let list = handlers
        .iter()
        .map(|m| {
            let mut d = QDict::new();
            d.put("name", m.name.as_str());
            d.put("index", m.index);
            d.put("current", Some(m.index) == current);
            d.put("absolute", m.absolute);
            QObject::Dict(d)
        })
        .collect();
    Ok(QObject::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;

    use super::super::call_fresh as run;

    #[test]
    fn opts_from_qdict_converts_scalars() {
        let args = qdict! {"driver" => "e1000", "id" => "n", "x" => 10_i64, "y" => true, "z" => QObject::Float(0.5), "w" => QObject::List(vec![])};
        let (id, opts) = opts_from_qdict(&args);
        assert_eq!(id.as_deref(), Some("n"));
        let mut opts = opts;
        opts.sort();
        assert_eq!(
            opts,
            [
                ("driver".to_owned(), "e1000".to_owned()),
                ("x".to_owned(), "10".to_owned()),
                ("y".to_owned(), "on".to_owned()),
                ("z".to_owned(), "0.5".to_owned())
            ]
        );
    }

    #[test]
    fn opts_from_qdict_ignores_non_string_id() {
        let (id, opts) = opts_from_qdict(&qdict! {"id" => 1_i64});
        assert_eq!((id, opts.len()), (None, 0));
    }

    #[test]
    fn query_pci_under_s_has_unmapped_bars_and_zero_irq() {
        let mut m = Machine::new(MachineConfig {
            start_paused: true,
            ..Default::default()
        });
        let json = run(&mut m, query_pci, &QDict::new()).unwrap().to_json();
        assert!(
            json.contains(r#""qdev_id": "", "irq": 0, "slot": 3"#),
            "{json}"
        );
        assert!(!json.contains("49152"), "{json}");
    }

    #[test]
    fn query_mice_default_is_ps2_current() {
        let mut m = Machine::new(MachineConfig::default());
        let r = run(&mut m, query_mice, &QDict::new()).unwrap();
        assert_eq!(
            r.to_json(),
            r#"[{"index": 0, "name": "QEMU PS/2 Mouse", "current": true, "absolute": false}]"#
        );
    }

    #[test]
    fn system_reset_queues_reset() {
        let mut m = Machine::new(MachineConfig::default());
        run(&mut m, system_reset, &QDict::new()).unwrap();
        assert_eq!(m.requests, [Request::Reset]);
    }
}
