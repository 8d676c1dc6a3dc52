//! `info qtree` of QEMU 0.14 (hw/qdev.c `do_info_qtree`): the device tree
//! from `main-system-bus` down, as `qbus_print` and `qdev_print` walk it
//! (each bus's children newest first, each device's child buses newest
//! first, two spaces of indent a level), with every property through its
//! type's `print` (`qdev_print_props`: the driver's own as `dev-prop:`, the
//! bus's as `bus-prop:`) and each bus's `print_dev` lines: hw/pci.c
//! `pcibus_dev_print`, hw/isa-bus.c `isabus_dev_print`, hw/usb-bus.c
//! `usb_bus_dev_print`, hw/virtio-serial-bus.c `virtser_bus_dev_print` and
//! hw/sysbus.c `sysbus_dev_print` (MMIO regions; IDE, SCSI, HDA and I2C
//! buses print none). A device with GPIO inputs shows `gpio-in N` first.
//!
//! Property names, types and defaults come from [`super::catalog`]; the
//! values a device's init writes back into its properties (a PCI address, a
//! NIC's MAC, an ISA serial port's index, I/O base and IRQ, an IDE drive's
//! unit, version and serial...) come from the machine's state. Pure.

use std::fmt::Write as _;

use super::block::DriveIf;
use super::catalog::{self, BusKind, DriverInfo, PropDef, PropType};
use super::cfmt;
use super::qdev::{Device, Qdev};
use super::usb::{product_desc, SPEED_MBPS};
use super::Devices;

/// `QEMU_VERSION`, which IDE drives report (and keep as `ver`) by default.
const QEMU_VERSION: &str = "0.14.0";

/// I/O bases of the ISA serial ports by index (`isa_serial_io`).
const SERIAL_IOBASE: [u32; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
/// IRQs of the ISA serial ports by index (`isa_serial_irq`).
const SERIAL_IRQ: [u32; 4] = [4, 3, 4, 3];
/// I/O bases of the ISA parallel ports by index (`isa_parallel_io`).
const PARALLEL_IOBASE: [u32; 3] = [0x378, 0x278, 0x3bc];
/// The parallel port's `irq` default.
const PARALLEL_IRQ: u32 = 7;
/// `RTC_ISA_IRQ` (hw/mc146818rtc.h).
const RTC_ISA_IRQ: u32 = 8;

/// The whole tree, as `info qtree` prints it.
pub fn qtree_text(devices: &Devices) -> String {
    let mut out = String::new();
    print_bus(devices, Qdev::ROOT, 0, &mut out);
    out
}

fn print_bus(devices: &Devices, bus: u64, indent: usize, out: &mut String) {
    let b = devices.qdev.bus(bus);
    let _ = writeln!(out, "{:indent$}bus: {}", "", b.name);
    let indent = indent + 2;
    let _ = writeln!(out, "{:indent$}type {}", "", b.kind.info_name());
    for dev in devices.qdev.children(bus) {
        print_device(devices, dev, b.kind, indent, out);
    }
}

fn print_device(devices: &Devices, dev: &Device, bus: BusKind, indent: usize, out: &mut String) {
    let _ = writeln!(
        out,
        "{:indent$}dev: {}, id \"{}\"",
        "",
        dev.driver,
        dev.id.as_deref().unwrap_or("")
    );
    let indent = indent + 2;
    let info = catalog::get(&dev.driver);
    if info.gpio_in > 0 {
        let _ = writeln!(out, "{:indent$}gpio-in {}", "", info.gpio_in);
    }
    for (prefix, props) in [("dev", info.props), ("bus", bus.props())] {
        for p in props {
            let value = prop_text(devices, dev, info, p);
            let _ = writeln!(out, "{:indent$}{prefix}-prop: {} = {value}", "", p.name);
        }
    }
    match bus {
        BusKind::Pci => print_pci(dev, out, indent),
        BusKind::Isa => print_isa(devices, dev, info, out, indent),
        BusKind::Usb => print_usb(devices, dev, out, indent),
        BusKind::VirtioSerial => print_virtser(dev, out, indent),
        BusKind::System => print_sysbus(devices, dev, info, out, indent),
        BusKind::Ide | BusKind::Scsi | BusKind::Hda | BusKind::I2c => {}
    }
    for child in devices.qdev.child_buses(dev.uid) {
        print_bus(devices, child.uid, indent, out);
    }
}

/// `pcibus_dev_print` (hw/pci.c): class, address and IDs, then each sized
/// region with its address (all ones while unmapped, so the end wraps as in
/// C). The bus number is `pci_bus_num`'s 0 of the host bridge's bus, the only
/// PCI bus the model has.
fn print_pci(dev: &Device, out: &mut String, indent: usize) {
    let Some(f) = &dev.pci else { return };
    let info = catalog::get(&dev.driver);
    let (sub_vendor, sub_device) = info.pci.map_or(catalog::DEFAULT_SUBSYSTEM, |p| p.subsystem);
    let class = catalog::class_desc(f.class)
        .map_or_else(|| format!("Class {:04x}", f.class), str::to_owned);
    let _ = writeln!(
        out,
        "{:indent$}class {class}, addr 00:{:02x}.{:x}, pci id {:04x}:{:04x} (sub {sub_vendor:04x}:{sub_device:04x})",
        "",
        f.devfn >> 3,
        f.devfn & 7,
        f.vendor_id,
        f.device_id,
    );
    for b in &f.bars {
        let addr = b.address.unwrap_or(u64::MAX);
        let space = if b.io { "i/o" } else { "mem" };
        let _ = writeln!(
            out,
            "{:indent$}bar {}: {space} at 0x{addr:x} [0x{:x}]",
            "",
            b.index,
            addr.wrapping_add(b.size).wrapping_sub(1)
        );
    }
}

/// `sysbus_dev_print` (hw/sysbus.c:176): each MMIO region's address and size
/// as `TARGET_FMT_plx` (`%016" PRIx64`, 64-bit physical addresses on x86_64).
/// Only the first APIC is mapped (`apic_mapped`, hw/pc.c:871); the others keep
/// the all-ones address of an unmapped region.
fn print_sysbus(
    devices: &Devices,
    dev: &Device,
    info: &DriverInfo,
    out: &mut String,
    indent: usize,
) {
    let apic_unmapped = info.name == "apic" && ordinal(devices, dev) > 0;
    for m in info.mmio {
        let addr = m.base.filter(|_| !apic_unmapped).unwrap_or(u64::MAX);
        let _ = writeln!(out, "{:indent$}mmio {addr:016x}/{:016x}", "", m.size);
    }
}

/// `isabus_dev_print`: the ISA interrupts the device claimed.
fn print_isa(devices: &Devices, dev: &Device, info: &DriverInfo, out: &mut String, indent: usize) {
    let irqs: Vec<u32> = if info.name == "mc146818rtc" {
        // `rtc_init` (hw/mc146818rtc.c:636) claims IRQ 8 only when no HPET
        // intercepts it.
        let hpet = devices.qdev.devices.iter().any(|d| d.driver == "hpet");
        if hpet {
            Vec::new()
        } else {
            vec![RTC_ISA_IRQ]
        }
    } else if info.isa_irqs.is_empty() {
        catalog::find_prop(info, "irq")
            .map(|p| prop_text(devices, dev, info, &p))
            .and_then(|t| t.parse().ok())
            .into_iter()
            .collect()
    } else {
        info.isa_irqs.iter().map(|&i| u32::from(i)).collect()
    };
    match irqs.as_slice() {
        [a, b, ..] => {
            let _ = writeln!(out, "{:indent$}isa irqs {a},{b}", "");
        }
        [a] => {
            let _ = writeln!(out, "{:indent$}isa irq {a}", "");
        }
        [] => {}
    }
}

/// `usb_bus_dev_print`: bus number and address, port, speed and product.
fn print_usb(devices: &Devices, dev: &Device, out: &mut String, indent: usize) {
    let found = devices.usb.buses.iter().find_map(|b| {
        b.used
            .iter()
            .find(|p| p.device == Some(dev.uid))
            .map(|p| (b.busnr, p.addr, p.path.as_str()))
    });
    let (busnr, addr, path, attached) = match found {
        Some((busnr, addr, path)) => (busnr, addr, path, ", attached"),
        None => (devices.usb.bus(dev.bus).map_or(0, |b| b.busnr), 0, "-", ""),
    };
    let _ = writeln!(
        out,
        "{:indent$}addr {busnr}.{addr}, port {path}, speed {SPEED_MBPS}, name {}{attached}",
        "",
        product_desc(&dev.driver)
    );
}

/// `virtser_bus_dev_print`: the port's id and connection state (the model's
/// guest never opens a port).
fn print_virtser(dev: &Device, out: &mut String, indent: usize) {
    let host = u8::from(last(dev, "chardev").is_some());
    let id = dev.port_nr.unwrap_or(0);
    let _ = writeln!(out, "{:indent$} dev-prop-int: id: {id}", "");
    let _ = writeln!(out, "{:indent$} dev-prop-int: guest_connected: 0", "");
    let _ = writeln!(out, "{:indent$} dev-prop-int: host_connected: {host}", "");
    let _ = writeln!(out, "{:indent$} dev-prop-int: throttled: 0", "");
}

/// The last value given for a property.
fn last<'a>(dev: &'a Device, name: &str) -> Option<&'a str> {
    dev.props
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One property's printed value: what init wrote back, else what was given,
/// else the default.
fn prop_text(devices: &Devices, dev: &Device, info: &DriverInfo, p: &PropDef) -> String {
    derived(devices, dev, info, p)
        .or_else(|| last(dev, p.name).and_then(|v| given_text(p.ty, v)))
        .unwrap_or_else(|| p.default.to_owned())
}

/// A given value through its type's parse and print.
fn given_text(ty: PropType, v: &str) -> Option<String> {
    let uint =
        |bits: u32| cfmt::strtoul_full(v, 0).map(|n| (n & (u64::MAX >> (64 - bits))).to_string());
    Some(match ty {
        PropType::Bit => if v.get(..2).is_some_and(|s| s.eq_ignore_ascii_case("on")) {
            "on"
        } else {
            "off"
        }
        .to_owned(),
        PropType::Uint8 => uint(8)?,
        PropType::Uint16 => uint(16)?,
        PropType::Uint32 => uint(32)?,
        // `strtol`'s long stored in an int32_t: truncated.
        PropType::Int32 => {
            let b = cfmt::strtol_full(v)?.to_le_bytes();
            i32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string()
        }
        PropType::Hex32 => format!("0x{:x}", cfmt::strtoul_full(v, 16)? & 0xffff_ffff),
        PropType::Str => format!("\"{v}\""),
        PropType::Drive | PropType::Chr | PropType::Netdev => v.to_owned(),
        PropType::Vlan => cfmt::scan_int(v)?.to_string(),
        PropType::Mac => mac_text(&super::add::parse_mac(v)?),
        PropType::PciDevfn => {
            let devfn = super::add::parse_pci_devfn(v)?;
            format!("{:02x}.{:x}", devfn >> 3, devfn & 7)
        }
    })
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The n-th (from 0) device of a driver, in creation order.
fn ordinal(devices: &Devices, dev: &Device) -> usize {
    devices
        .qdev
        .devices
        .iter()
        .take_while(|d| d.uid != dev.uid)
        .filter(|d| d.driver == dev.driver)
        .count()
}

/// Values a device's init (or the board) writes into its properties.
fn derived(devices: &Devices, dev: &Device, info: &DriverInfo, p: &PropDef) -> Option<String> {
    let given = |name: &str| last(dev, name);
    let nic = || {
        devices
            .net
            .clients
            .iter()
            .find(|c| c.nic && c.device == Some(dev.uid))
    };
    let drive_of = |pred: &dyn Fn(&super::block::Drive) -> bool| {
        devices
            .block
            .drives
            .iter()
            .find(|d| d.attached == Some(dev.uid) && pred(d))
    };
    let isa_index = || {
        given("index")
            .and_then(|v| cfmt::strtoul_full(v, 0))
            .map_or(ordinal(devices, dev), |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            })
    };
    let pci = dev.pci.as_ref();
    match (info.name, p.name) {
        (_, "addr") if p.ty == PropType::PciDevfn => {
            pci.map(|f| format!("{:02x}.{:x}", f.devfn >> 3, f.devfn & 7))
        }
        (_, "romfile") if info.bus == BusKind::Pci => Some(
            given("romfile")
                .map(|v| format!("\"{v}\""))
                .or_else(|| info.pci.and_then(|i| i.romfile).map(|r| format!("\"{r}\"")))
                .unwrap_or_else(|| "<null>".to_owned()),
        ),
        (_, "multifunction") => pci.map(|f| if f.multifunction { "on" } else { "off" }.to_owned()),
        (_, "mac") => nic().and_then(|c| {
            c.info
                .split(',')
                .find_map(|kv| kv.strip_prefix("macaddr="))
                .map(str::to_owned)
        }),
        (_, "vlan") if info.role == catalog::Role::Nic => Some(
            nic()
                .and_then(|c| c.vlan)
                .map_or("<null>".to_owned(), |v| v.to_string()),
        ),
        (_, "netdev") if info.role == catalog::Role::Nic => Some(
            nic()
                .filter(|c| c.vlan.is_none())
                .and_then(|c| c.peer.clone())
                .unwrap_or_else(|| "<null>".to_owned()),
        ),
        ("isa-fdc", "driveA" | "driveB") => {
            let unit = u32::from(p.name == "driveB");
            Some(
                drive_of(&|d| d.interface == DriveIf::Floppy && d.unit == unit)
                    .map_or("<null>".to_owned(), |d| d.name.clone()),
            )
        }
        (_, "drive") => Some(drive_of(&|_| true).map_or("<null>".to_owned(), |d| d.name.clone())),
        ("ide-drive", "unit") => Some(ide_unit(devices, dev).to_string()),
        ("ide-drive", "ver") => Some(format!("\"{}\"", given("ver").unwrap_or(QEMU_VERSION))),
        ("ide-drive", "serial") => Some(format!(
            "\"{}\"",
            given("serial").map_or_else(
                || {
                    let bus = devices
                        .qdev
                        .bus(dev.bus)
                        .name
                        .rsplit('.')
                        .next()
                        .and_then(|n| n.parse::<u32>().ok())
                        .unwrap_or(0);
                    format!("QM{:05}", bus * 2 + ide_unit(devices, dev) + 1)
                },
                str::to_owned
            )
        )),
        (_, "scsi-id") => dev.scsi_id.map(|id| id.to_string()),
        (_, "cad") => Some(hda_cad(devices, dev).to_string()),
        (_, "nr") => dev.port_nr.map(|n| n.to_string()),
        (_, "max_ports") => dev.max_ports.map(|n| n.to_string()),
        (_, "class") => pci.map(|f| format!("0x{:x}", f.class)),
        ("virtio-serial-pci", "vectors") => Some(
            given("vectors")
                .and_then(|v| given_text(PropType::Uint32, v))
                .unwrap_or_else(|| (dev.max_ports.unwrap_or(31) + 1).to_string()),
        ),
        ("isa-serial" | "isa-parallel", "index") => Some(isa_index().to_string()),
        ("isa-serial" | "isa-parallel", "iobase") => given("iobase")
            .and_then(|v| given_text(PropType::Hex32, v))
            .or_else(|| {
                let table: &[u32] = if info.name == "isa-serial" {
                    &SERIAL_IOBASE
                } else {
                    &PARALLEL_IOBASE
                };
                table.get(isa_index()).map(|a| format!("0x{a:x}"))
            }),
        ("isa-serial" | "isa-parallel", "irq") => given("irq")
            .and_then(|v| given_text(PropType::Uint32, v))
            .or_else(|| {
                if info.name == "isa-serial" {
                    SERIAL_IRQ.get(isa_index()).map(u32::to_string)
                } else {
                    Some(PARALLEL_IRQ.to_string())
                }
            }),
        ("isa-serial" | "isa-parallel", "chardev") if !dev.user => {
            let prefix = if info.name == "isa-serial" {
                "serial"
            } else {
                "parallel"
            };
            devices
                .chardevs
                .list
                .iter()
                .filter(|c| c.label.starts_with(prefix))
                .nth(ordinal(devices, dev))
                .map(|c| c.label.clone())
        }
        _ => None,
    }
}

/// `hda_codec_dev_init` (hw/intel-hda.c): the codec address given, else the
/// bus's next one, which each codec's init sets past its own.
fn hda_cad(devices: &Devices, dev: &Device) -> u32 {
    let mut next = 0;
    for d in devices.qdev.devices.iter().filter(|d| d.bus == dev.bus) {
        let cad = last(d, "cad")
            .and_then(|v| given_text(PropType::Uint32, v))
            .and_then(|v| v.parse().ok())
            .unwrap_or(next);
        if d.uid == dev.uid {
            return cad;
        }
        next = cad.wrapping_add(1);
    }
    next
}

/// `ide_qdev_init`: the unit given, else the drive's, else 0 when the bus has
/// no master yet and 1 otherwise.
fn ide_unit(devices: &Devices, dev: &Device) -> u32 {
    if let Some(u) = last(dev, "unit").and_then(|v| cfmt::strtoul_full(v, 0)) {
        return u32::try_from(u).unwrap_or(u32::MAX);
    }
    if !dev.user {
        if let Some(d) = devices
            .block
            .drives
            .iter()
            .find(|d| d.attached == Some(dev.uid))
        {
            return d.unit;
        }
    }
    let older = devices
        .qdev
        .devices
        .iter()
        .take_while(|d| d.uid != dev.uid)
        .any(|d| d.bus == dev.bus);
    u32::from(older)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    fn tree(config: &MachineConfig) -> String {
        qtree_text(&Devices::new(config))
    }

    #[test]
    fn given_values_go_through_their_print_format() {
        assert_eq!(given_text(PropType::Bit, "ON").as_deref(), Some("on"));
        assert_eq!(given_text(PropType::Bit, "offx").as_deref(), Some("off"));
        assert_eq!(given_text(PropType::Uint32, "0x10").as_deref(), Some("16"));
        assert_eq!(given_text(PropType::Uint8, "257").as_deref(), Some("1"));
        assert_eq!(given_text(PropType::Hex32, "1F").as_deref(), Some("0x1f"));
        assert_eq!(given_text(PropType::Int32, "-3").as_deref(), Some("-3"));
        assert_eq!(given_text(PropType::Str, "a b").as_deref(), Some("\"a b\""));
        assert_eq!(
            given_text(PropType::Mac, "52-54-00-AB-CD-EF").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(
            given_text(PropType::PciDevfn, "1f.7").as_deref(),
            Some("1f.7")
        );
        assert_eq!(given_text(PropType::Uint32, "x"), None);
    }

    /// The top-level devices of a tree, in printed order.
    fn system_bus_devices(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.strip_prefix("  dev: "))
            .map(|l| l.split(',').next().unwrap_or_default())
            .collect()
    }

    #[test]
    fn tree_starts_at_the_system_bus_with_newest_devices_first() {
        let text = tree(&MachineConfig::default());
        assert!(text.starts_with("bus: main-system-bus\n  type System\n  dev: hpet, id \"\"\n"));
        assert_eq!(
            system_bus_devices(&text),
            ["hpet", "i440FX-pcihost", "ioapic", "fw_cfg", "apic"]
        );
        let host = text.find("dev: i440FX, id").expect("host bridge listed");
        let isa = text.find("dev: PIIX3, id").expect("ISA bridge listed");
        assert!(isa < host, "PIIX3 was created after i440FX");
    }

    #[test]
    fn system_bus_devices_show_gpio_props_and_mmio() {
        let text = tree(&MachineConfig::default());
        assert!(text.contains(
            "  dev: hpet, id \"\"\n    gpio-in 1\n    dev-prop: timers = 3\n    dev-prop: msi = off\n    mmio 00000000fed00000/0000000000000400\n"
        ));
        assert!(text.contains(
            "  dev: ioapic, id \"\"\n    gpio-in 24\n    mmio 00000000fec00000/0000000000001000\n"
        ));
        assert!(text.contains(
            "  dev: fw_cfg, id \"\"\n    dev-prop: ctl_iobase = 0x510\n    dev-prop: data_iobase = 0x511\n    mmio ffffffffffffffff/0000000000000002\n    mmio ffffffffffffffff/0000000000000002\n"
        ));
    }

    #[test]
    fn one_apic_per_cpu_and_only_the_first_mapped() {
        let text = tree(&MachineConfig {
            smp: 3,
            ..MachineConfig::default()
        });
        assert_eq!(
            system_bus_devices(&text)[4..],
            ["apic", "apic", "apic"],
            "newest first"
        );
        assert!(text.ends_with(
            "  dev: apic, id \"\"\n    dev-prop: id = 2\n    mmio ffffffffffffffff/0000000000100000\n  dev: apic, id \"\"\n    dev-prop: id = 1\n    mmio ffffffffffffffff/0000000000100000\n  dev: apic, id \"\"\n    dev-prop: id = 0\n    mmio 00000000fee00000/0000000000100000\n"
        ));
    }

    #[test]
    fn a_486_alone_has_no_apic_unless_asked() {
        let count = |model: &str, smp: u32| {
            let text = tree(&MachineConfig {
                cpu_model: Some(model.to_owned()),
                smp,
                ..MachineConfig::default()
            });
            system_bus_devices(&text)
                .iter()
                .filter(|d| **d == "apic")
                .count()
        };
        assert_eq!(count("486", 1), 0);
        assert_eq!(count("486,+apic", 1), 1);
        assert_eq!(count("qemu64,+apic,-apic", 1), 0);
        assert_eq!(count("486", 2), 2, "several CPUs always have APICs");
    }

    #[test]
    fn isa_bus_hangs_off_piix3_with_the_board_devices_newest_first() {
        let text = tree(&MachineConfig::default());
        let piix3 = text.find("      dev: PIIX3, id").expect("PIIX3 listed");
        let isa = &text[piix3..];
        assert!(isa
            .contains("        bus: isa.0\n          type ISA\n          dev: isa-fdc, id \"\"\n"));
        let order: Vec<&str> = isa
            .lines()
            .filter_map(|l| l.strip_prefix("          dev: "))
            .map(|l| l.split(',').next().unwrap_or_default())
            .collect();
        assert_eq!(
            order,
            [
                "isa-fdc",
                "port92",
                "i8042",
                "isa-parallel",
                "isa-serial",
                "mc146818rtc"
            ]
        );
        // The HPET takes the RTC's interrupt: no `isa irq` line.
        assert!(isa.contains("          dev: mc146818rtc, id \"\"\n            dev-prop: base_year = 2000\n      dev: i440FX"));
    }

    #[test]
    fn piix4_smbus_has_eight_eeproms_newest_first() {
        let text = tree(&MachineConfig::default());
        let addresses: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("            bus-prop: address = "))
            .collect();
        assert_eq!(addresses, ["87", "86", "85", "84", "83", "82", "81", "80"]);
        let no_acpi = tree(&MachineConfig {
            no_acpi: true,
            ..MachineConfig::default()
        });
        assert!(!no_acpi.contains("smbus-eeprom") && !no_acpi.contains("PIIX4_PM"));
    }

    #[test]
    fn floppy_controller_is_there_without_a_floppy() {
        let text = tree(&MachineConfig {
            nodefaults: true,
            ..MachineConfig::default()
        });
        assert!(text.contains("dev: isa-fdc, id \"\"\n            dev-prop: driveA = <null>\n"));
    }

    #[test]
    fn pci_devices_show_bus_props_and_ids() {
        let text = tree(&MachineConfig::default());
        assert!(text.contains(
            "      dev: PIIX3, id \"\"\n        bus-prop: addr = 01.0\n        bus-prop: romfile = <null>\n        bus-prop: rombar = 1\n        bus-prop: multifunction = on\n        bus-prop: command_serr_enable = on\n        class ISA bridge, addr 00:01.0, pci id 8086:7000 (sub 1af4:1100)\n"
        ));
        // Unmapped before the firmware runs: all ones, and the end wraps.
        assert!(text.contains("bar 4: i/o at 0xffffffffffffffff [0xe]\n"));
    }

    #[test]
    fn pci_address_has_bus_0_whatever_the_device_bars_hold() {
        let mut opts = crate::machine::config::OptionList::default();
        opts.push("driver", "lsi53c895a");
        let mut devices = Devices::new(&MachineConfig {
            devices: vec![opts],
            ..MachineConfig::default()
        });
        devices.run_firmware();
        let text = qtree_text(&devices);
        assert!(text.contains("class SCSI controller, addr 00:04.0, pci id 1000:0012"));
        assert!(text.contains("bar 2: mem at 0x"));
    }

    #[test]
    fn devices_that_write_their_own_subsystem_ids_show_them() {
        let devices: Vec<crate::machine::config::OptionList> = ["pcnet", "lsi53c895a", "i82559c"]
            .iter()
            .map(|d| crate::machine::config::OptionList::from_iter([("driver", *d)]))
            .collect();
        let text = tree(&MachineConfig {
            devices,
            ..MachineConfig::default()
        });
        assert!(text.contains("pci id 1022:2000 (sub 0000:0000)\n"));
        assert!(text.contains("pci id 1000:0012 (sub 1af4:1000)\n"));
        assert!(text.contains("pci id 8086:1229 (sub 8086:0040)\n"));
    }

    #[test]
    fn hda_codecs_take_the_next_codec_address() {
        let dev = |pairs: &[(&str, &str)]| {
            crate::machine::config::OptionList::from_iter(pairs.iter().copied())
        };
        let text = tree(&MachineConfig {
            devices: vec![
                dev(&[("driver", "intel-hda"), ("id", "hda")]),
                dev(&[("driver", "hda-duplex")]),
                dev(&[("driver", "hda-output"), ("cad", "5")]),
                dev(&[("driver", "hda-duplex")]),
            ],
            ..MachineConfig::default()
        });
        let cads: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("bus-prop: cad = "))
            .collect();
        assert_eq!(cads, ["6", "5", "0"], "newest first");
        assert!(text.contains("dev-prop: msi = 1\n"));
    }

    #[test]
    fn user_device_shows_given_and_default_props() {
        let mut opts = crate::machine::config::OptionList::default();
        opts.push("driver", "virtio-net-pci");
        opts.push("id", "n0");
        opts.push("x-txburst", "-5");
        opts.push("mac", "52:54:00:00:00:01");
        let config = MachineConfig {
            devices: vec![opts],
            ..MachineConfig::default()
        };
        let text = tree(&config);
        assert!(text.contains("dev: virtio-net-pci, id \"n0\"\n"));
        assert!(text.contains("dev-prop: ioeventfd = off\n"));
        assert!(text.contains("dev-prop: mac = 52:54:00:00:00:01\n"));
        assert!(text.contains("dev-prop: x-txburst = -5\n"));
        assert!(text.contains("dev-prop: tx = <null>\n"));
        assert!(text.contains("(sub 1af4:0001)\n"));
    }

    #[test]
    fn isa_serial_ports_take_index_iobase_and_irq_in_order() {
        let config = MachineConfig {
            serials: vec!["null".into(), "null".into()],
            ..MachineConfig::default()
        };
        let text = tree(&config);
        assert!(text.contains(
            "dev-prop: index = 1\n            dev-prop: iobase = 0x2f8\n            dev-prop: irq = 3\n            dev-prop: chardev = serial1\n            isa irq 3\n"
        ));
        assert!(text.contains("isa irqs 1,12\n"));
    }

    #[test]
    fn drives_romfiles_and_subsystems_of_a_full_machine() {
        use crate::machine::config::OptionList;
        use crate::test_util::raw_drive as drive;
        let text = tree(&MachineConfig {
            drives: vec![
                drive(&[("file", "a.img"), ("index", "0"), ("if", "floppy")]),
                drive(&[("file", "b.img"), ("index", "1"), ("if", "floppy")]),
                drive(&[("file", "d.img"), ("index", "0"), ("media", "disk")]),
            ],
            devices: vec![OptionList::from_iter([("driver", "vmware-svga")])],
            ..MachineConfig::default()
        });
        for want in [
            "dev-prop: driveA = floppy0\n            dev-prop: driveB = floppy1\n",
            "dev-prop: unit = 0\n            dev-prop: drive = ide0-hd0\n",
            "dev-prop: ver = \"0.14.0\"\n            dev-prop: serial = \"QM00001\"\n",
            "dev-prop: serial = \"QM00003\"\n",
            "dev: e1000, id \"\"\n        dev-prop: mac = 52:54:00:12:34:56\n        dev-prop: vlan = 0\n        dev-prop: netdev = <null>\n        dev-prop: bootindex = -1\n        bus-prop: addr = 02.0\n        bus-prop: romfile = \"pxe-e1000.bin\"\n",
            "bus-prop: romfile = \"vgabios-vmware.bin\"\n",
            "pci id 15ad:0405 (sub 15ad:0405)\n",
            "dev: PIIX4_PM, id \"\"\n        dev-prop: smb_io_base = 45312\n",
        ] {
            assert!(text.contains(want), "{want}");
        }
    }

    /// The lines of `info qtree` that belong to the first device of `driver`:
    /// its own line and every deeper line after it.
    fn device_block(text: &str, driver: &str) -> String {
        let head = format!("dev: {driver}, id ");
        let mut lines = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(&head));
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("{driver} is in the tree"));
        let indent = |l: &str| l.len() - l.trim_start().len();
        let depth = indent(first);
        std::iter::once(first)
            .chain(lines.take_while(|l| indent(l) > depth))
            .map(|l| format!("{}\n", l.trim_start()))
            .collect()
    }

    #[test]
    fn option_roms_subsystems_msix_vectors_and_isa_irqs_of_each_model() {
        use crate::machine::config::{OptionList, VgaType};
        use crate::test_util::{option_list as list, raw_drive};
        let drive = raw_drive(&[("file", "v.img"), ("if", "none"), ("id", "vb")]);
        let mut devices: Vec<OptionList> = [
            "VGA",
            "vmware-svga",
            "rtl8139",
            "ne2k_pci",
            "pcnet",
            "virtio-net-pci",
            "virtio-serial-pci",
            "virtio-balloon-pci",
            "ES1370",
            "AC97",
        ]
        .iter()
        .map(|d| list(&[("driver", d)]))
        .collect();
        devices.push(list(&[("driver", "virtio-blk-pci"), ("drive", "vb")]));
        let mut d = Devices::new(&MachineConfig {
            vga: Some(VgaType::Cirrus),
            drives: vec![drive],
            devices,
            ..MachineConfig::default()
        });
        d.run_firmware();
        let text = qtree_text(&d);
        // hw/*.c of 0.14.0: each model's `romfile` default and the size of that
        // image in pc-bios/ rounded up to a power of two (an unmapped ROM BAR
        // prints its end as size - 2); the subsystem IDs the model writes
        // (virtio: 1af4 and the virtio device ID); the virtio `vectors`
        // defaults (virtio-serial: max_ports + 1), which give an MSI-X BAR.
        let rom_64k = "bar 6: mem at 0xffffffffffffffff [0xfffe]\n";
        let want: [(&str, &[&str]); 15] = [
            ("cirrus-vga", &["romfile = \"vgabios-cirrus.bin\"", rom_64k]),
            ("VGA", &["romfile = \"vgabios-stdvga.bin\"", rom_64k]),
            (
                "vmware-svga",
                &["romfile = \"vgabios-vmware.bin\"", rom_64k],
            ),
            ("e1000", &["romfile = \"pxe-e1000.bin\"", "[0x1fffe]"]),
            ("rtl8139", &["romfile = \"pxe-rtl8139.bin\"", rom_64k]),
            ("ne2k_pci", &["romfile = \"pxe-ne2k_pci.bin\"", rom_64k]),
            (
                "pcnet",
                &["romfile = \"pxe-pcnet.bin\"", rom_64k, "(sub 0000:0000)"],
            ),
            (
                "virtio-net-pci",
                &[
                    "romfile = \"pxe-virtio.bin\"",
                    rom_64k,
                    "(sub 1af4:0001)",
                    "vectors = 3\n",
                    "bar 1: mem",
                ],
            ),
            (
                "virtio-blk-pci",
                &[
                    "romfile = <null>",
                    "(sub 1af4:0002)",
                    "vectors = 2\n",
                    "bar 1: mem",
                ],
            ),
            (
                "virtio-serial-pci",
                &[
                    "romfile = <null>",
                    "(sub 1af4:0003)",
                    "vectors = 32\n",
                    "bar 1: mem",
                ],
            ),
            ("virtio-balloon-pci", &["(sub 1af4:0005)"]),
            ("ES1370", &["(sub 4942:4c4c)"]),
            ("AC97", &["(sub 8086:0000)"]),
            ("isa-fdc", &["isa irq 6\n"]),
            ("i8042", &["isa irqs 1,12\n"]),
        ];
        for (driver, parts) in want {
            let block = device_block(&text, driver);
            for part in parts {
                assert!(block.contains(part), "{driver}: {part:?} in\n{block}");
            }
        }
        for driver in ["virtio-balloon-pci", "ES1370", "AC97"] {
            assert!(
                !device_block(&text, driver).contains("bar 6"),
                "{driver} has no ROM"
            );
        }
    }

    #[test]
    fn user_ide_drives_without_a_unit_take_0_then_1_on_their_bus() {
        use crate::test_util::{option_list as list, raw_drive};
        let drive = |id: &str| raw_drive(&[("file", "d.img"), ("if", "none"), ("id", id)]);
        let text = tree(&MachineConfig {
            nodefaults: true,
            drives: vec![drive("a"), drive("b")],
            devices: vec![
                list(&[("driver", "ide-drive"), ("drive", "a"), ("bus", "ide.0")]),
                list(&[("driver", "ide-drive"), ("drive", "b"), ("bus", "ide.0")]),
            ],
            ..MachineConfig::default()
        });
        let units: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("dev-prop: unit = "))
            .collect();
        assert_eq!(units, ["1", "0"], "newest first");
    }

    #[test]
    fn usb_devices_and_virtio_serial_ports_print_their_place() {
        use crate::test_util::option_list as list;
        let text = tree(&MachineConfig {
            usb: true,
            usb_devices: vec!["tablet".into()],
            devices: vec![
                list(&[("driver", "virtio-serial-pci"), ("id", "vs")]),
                list(&[("driver", "virtserialport"), ("id", "p1")]),
                list(&[("driver", "virtconsole"), ("id", "c0")]),
                list(&[("driver", "virtserialport"), ("id", "p2")]),
            ],
            ..MachineConfig::default()
        });
        let tablet = device_block(&text, "usb-tablet");
        assert!(
            tablet.contains("addr 0.0, port 1, speed 12, name QEMU USB Tablet, attached\n"),
            "{tablet}"
        );
        let nr = |driver: &str| -> String {
            device_block(&text, driver)
                .lines()
                .find_map(|l| l.strip_prefix("dev-prop: nr = "))
                .unwrap_or_else(|| panic!("{driver} has nr"))
                .to_owned()
        };
        // virtio_serial_port_qdev_init: number 0 is kept for a console, other
        // ports take the first free number.
        assert_eq!(nr("virtconsole"), "0");
        assert_eq!(nr("virtserialport"), "2", "the newest port prints first");
    }
}
