//! The human monitor's USB commands of 0.14: `usb_add` and `usb_del`
//! (`do_usb_add`, `do_usb_del` of vl.c) and `info usb` (`usb_info` of
//! hw/usb-bus.c), over the machine's USB model
//! ([`crate::machine::devices::usb`]). Errors print bare (`error_report` with
//! a monitor current), with `\n` line ends. Pure.

use std::fmt::Write as _;

use crate::machine::devices::usb::{product_desc, strtoul_int, SPEED_MBPS};
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;

/// `usb_add DEVNAME`: `tablet`, `mouse` or `keyboard` on the first USB bus;
/// 0.14's `could not add USB device` when USB is off or the name makes no
/// device.
pub fn usb_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let devname = args.str("devname");
    match ctx.machine.devices.usb_device_add(devname, true) {
        Ok(uid) => ctx.machine.guest_on_hotplug(uid),
        Err(Some(lines)) => {
            out.push_str(&lines);
            let _ = writeln!(out, "could not add USB device '{devname}'");
        }
        Err(None) => {
            let _ = writeln!(out, "usb_add: {devname}: not supported yet");
        }
    }
}

/// `usb_del BUS.ADDR` (`usb_device_del`): the device with that guest-given
/// address goes; `host:...` finds no host device (0.14's
/// `usb_host_device_close` always fails).
pub fn usb_del(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let devname = args.str("devname");
    let devices = &mut ctx.machine.devices;
    let found = if devname.starts_with("host:") {
        None
    } else {
        devname
            .split_once('.')
            .and_then(|(bus, addr)| devices.usb.device_at(strtoul_int(bus), strtoul_int(addr)))
    };
    match found {
        Some(uid) => devices.free_device(uid),
        None => {
            let _ = writeln!(out, "could not delete USB device '{devname}'");
        }
    }
}

/// `usb_info`: each bus's used ports in attach order.
pub fn info_usb(ctx: &mut Ctx<'_>, out: &mut String) {
    let devices = &ctx.machine.devices;
    if devices.usb.buses.is_empty() {
        out.push_str("USB support not enabled\n");
        return;
    }
    for bus in &devices.usb.buses {
        for port in &bus.used {
            let Some(driver) = port
                .device
                .and_then(|uid| devices.qdev.device(uid))
                .map(|d| d.driver.as_str())
            else {
                continue;
            };
            let _ = writeln!(
                out,
                "  Device {}.{}, Port {}, Speed {SPEED_MBPS} Mb/s, Product {}",
                bus.busnr,
                port.addr,
                port.path,
                product_desc(driver)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;

    use super::super::{assert_printed_on_fresh_machines, printed as hmp};

    fn usb_machine() -> Machine {
        Machine::new(MachineConfig {
            usb: true,
            ..MachineConfig::default()
        })
    }

    #[test]
    fn refusals_print_014s_messages() {
        let config = |usb| MachineConfig {
            usb,
            ..MachineConfig::default()
        };
        assert_printed_on_fresh_machines(
            config,
            &[
                (
                    false,
                    "usb_add tablet",
                    "could not add USB device 'tablet'\n",
                ),
                (false, "info usb", "USB support not enabled\n"),
                (true, "usb_add bogus", "could not add USB device 'bogus'\n"),
                (
                    true,
                    "usb_add mouse:x",
                    "usbdevice mouse accepts no params\ncould not add USB device 'mouse:x'\n",
                ),
                (true, "usb_del 0.5", "could not delete USB device '0.5'\n"),
                (true, "usb_del 5", "could not delete USB device '5'\n"),
                (
                    true,
                    "usb_del host:1.2",
                    "could not delete USB device 'host:1.2'\n",
                ),
            ],
        );
    }

    #[test]
    fn usb_add_then_info_usb_lists_it_unaddressed_before_the_guest_runs() {
        let mut m = usb_machine();
        assert_eq!(hmp(&mut m, "usb_add tablet"), "");
        assert_eq!(
            hmp(&mut m, "info usb"),
            "  Device 0.0, Port 1, Speed 12 Mb/s, Product QEMU USB Tablet\n"
        );
    }

    #[test]
    fn second_device_comes_behind_a_hub() {
        let mut m = usb_machine();
        hmp(&mut m, "usb_add tablet");
        hmp(&mut m, "usb_add keyboard");
        assert_eq!(
            hmp(&mut m, "info usb"),
            "  Device 0.0, Port 1, Speed 12 Mb/s, Product QEMU USB Tablet\n\
             \x20 Device 0.0, Port 2, Speed 12 Mb/s, Product QEMU USB Hub\n\
             \x20 Device 0.0, Port 2.1, Speed 12 Mb/s, Product QEMU USB Keyboard\n"
        );
    }

    #[test]
    fn usb_del_by_address_removes_the_first_match_and_its_mouse() {
        let mut m = usb_machine();
        hmp(&mut m, "usb_add mouse");
        assert_eq!(hmp(&mut m, "usb_del 0.0"), "");
        assert_eq!(
            (hmp(&mut m, "info usb"), m.devices.mice.handlers.len()),
            (String::new(), 1)
        );
    }
}
