//! The human monitor's qdev listings of 0.14 (hw/qdev.c): `info qtree`
//! (`do_info_qtree`, from [`crate::machine::devices::qtree`]), `info qdm`
//! (`do_info_qdm`) and `device_add ?` (`qdev_device_help`, which the human
//! monitor alone reaches), from the driver list of
//! [`crate::machine::devices::qdm`]; `device_add` otherwise runs the QMP
//! handler and prints its error, with 0.14's hint after an unknown driver.
//! Pure.

use crate::machine::devices::qdm::{self, qdm_text};
use crate::machine::devices::qtree::qtree_text;
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;
use crate::qmp::table as qmp_table;
use crate::wire::ErrorClass;

/// `do_info_qtree`: the device tree with every property.
pub fn info_qtree(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str(&qtree_text(&ctx.machine.devices));
}

/// `do_info_qdm`: every driver, `no_user` ones included.
pub fn info_qdm(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str(&qdm_text(false));
}

/// `device_add`: `driver=?` lists the drivers a user may create, `DRIVER,?`
/// the driver's properties (`qdev_device_help`, which the human monitor alone
/// reaches: QMP's device_add takes `?` for a property); an unknown
/// driver's error is followed by `Try with argument '?' for a list.`
/// (`error_printf_unless_qmp`).
pub fn device_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    if args.options().get_str("driver") == Some("?") {
        out.push_str(&qdm_text(true));
        return;
    }
    if args.options().get("?").is_some() {
        if let Some(entry) = args.options().get_str("driver").and_then(qdm::find) {
            out.push_str(&qdm::device_help_text(entry));
            return;
        }
    }
    let command = qmp_table::lookup("device_add", true).expect("device_add is a table command");
    if let Err(e) = (command.handler)(ctx, args) {
        out.push_str(&super::error_text(ctx, &e));
        if e.class == ErrorClass::InvalidParameterValue && e.data.get_str("name") == Some("driver")
        {
            out.push_str("Try with argument '?' for a list.\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;

    fn hmp(line: &str) -> String {
        super::super::printed(&mut Machine::new(MachineConfig::default()), line)
    }

    #[test]
    fn device_add_question_mark_lists_user_drivers() {
        let out = hmp("device_add ?");
        assert!(out.starts_with("name \"virtio-9p-pci\", bus PCI\n") && !out.contains("no-user"));
    }

    #[test]
    fn device_add_driver_question_mark_lists_its_properties() {
        assert_eq!(
            hmp("device_add isa-serial,?"),
            "isa-serial.index=uint32\nisa-serial.iobase=hex32\nisa-serial.irq=uint32\nisa-serial.chardev=chr\n"
        );
        assert_eq!(hmp("device_add usb-tablet,?"), "");
        assert_eq!(
            hmp("device_add bogus,?"),
            "Parameter 'driver' expects a driver name\nTry with argument '?' for a list.\n"
        );
    }

    #[test]
    fn device_add_unknown_driver_hints_at_the_list() {
        assert_eq!(
            hmp("device_add bogus"),
            "Parameter 'driver' expects a driver name\nTry with argument '?' for a list.\n"
        );
    }

    #[test]
    fn device_add_other_errors_have_no_hint() {
        assert_eq!(
            hmp("device_add usb-tablet"),
            "No 'USB' bus found for device 'usb-tablet'\n"
        );
    }

    #[test]
    fn info_qdm_lists_no_user_drivers_too() {
        assert!(
            hmp("info qdm").contains("name \"i440FX\", bus PCI, desc \"Host bridge\", no-user\n")
        );
    }
}
