//! Every qdev driver of QEMU 0.14's `qemu-system-x86_64` (built with KVM,
//! SPICE, VirtFS and the default sound cards) in the order of its
//! `device_info_list`, as `info qdm` and `device_add ?` print them
//! (`qdev_print_devinfo` of hw/qdev.c): name, bus, alias, description and
//! `no_user`.
//!
//! The order: `qdev_register` puts each driver at the head of the list, and
//! the `device_init` constructors of a 2011 toolchain run in reverse link
//! order (`.ctors`), so the list reads in the link order of Makefile.target
//! (the target's own objects, then `common-obj-y`, the `hw-obj-y` of
//! libhw64 and the i386 ones), each object's drivers in reverse order of
//! registration (`pci_qdev_register_many` and friends register in array
//! order). [`super::catalog`] describes the drivers the model can create;
//! each of them is here with the same bus, alias and `no_user` (tested).
//! Static data only.

/// One driver as `qdev_print_devinfo` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QdmEntry {
    /// `name`.
    pub name: &'static str,
    /// `bus_info->name`.
    pub bus: &'static str,
    /// `alias`.
    pub alias: Option<&'static str>,
    /// `desc`.
    pub desc: Option<&'static str>,
    /// `no_user`.
    pub no_user: bool,
}

const fn d(name: &'static str, bus: &'static str) -> QdmEntry {
    QdmEntry {
        name,
        bus,
        alias: None,
        desc: None,
        no_user: false,
    }
}

const fn desc(name: &'static str, bus: &'static str, desc: &'static str) -> QdmEntry {
    QdmEntry {
        desc: Some(desc),
        ..d(name, bus)
    }
}

const fn alias(name: &'static str, bus: &'static str, alias: &'static str) -> QdmEntry {
    QdmEntry {
        alias: Some(alias),
        ..d(name, bus)
    }
}

const fn internal(entry: QdmEntry) -> QdmEntry {
    QdmEntry {
        no_user: true,
        ..entry
    }
}

const PCI: &str = "PCI";
const ISA: &str = "ISA";
const SYS: &str = "System";
const USB: &str = "USB";
const SCSI: &str = "SCSI";

/// The list, head first. Each group is one object file (link order).
pub const QDM: &[QdmEntry] = &[
    // hw/virtio-pci.c (pci_qdev_register_many, virtio-9p-pci with VirtFS)
    d("virtio-9p-pci", PCI),
    d("virtio-balloon-pci", PCI),
    alias("virtio-serial-pci", PCI, "virtio-serial"),
    d("virtio-net-pci", PCI),
    alias("virtio-blk-pci", PCI, "virtio-blk"),
    // hw/ivshmem.c (with KVM)
    d("ivshmem", PCI),
    // common-obj-y: hw/smbus_eeprom.c, hw/scsi-*.c, hw/usb-*.c, usb-linux.c
    d("smbus-eeprom", "I2C"),
    desc("scsi-disk", SCSI, "virtual scsi disk or cdrom"),
    desc(
        "scsi-generic",
        SCSI,
        "pass through generic scsi device (/dev/sg*)",
    ),
    d("usb-hub", USB),
    d("usb-host", USB),
    d("usb-kbd", USB),
    d("usb-mouse", USB),
    d("usb-tablet", USB),
    d("usb-storage", USB),
    desc("usb-wacom-tablet", USB, "QEMU PenPartner Tablet"),
    d("usb-braille", USB),
    d("usb-serial", USB),
    d("usb-net", USB),
    d("usb-bt-dongle", USB),
    // hw-obj-y: hw/virtio-console.c (two constructors, in file order)
    d("virtconsole", "virtio-serial-bus"),
    d("virtserialport", "virtio-serial-bus"),
    internal(d("fw_cfg", SYS)),
    desc("ioh3420", PCI, "Intel IOH device id 3420 PCIE Root Port"),
    desc(
        "x3130-upstream",
        PCI,
        "TI X3130 Upstream Port of PCI Express Switch",
    ),
    desc(
        "xio3130-downstream",
        PCI,
        "TI X3130 Downstream Port of PCI Express Switch",
    ),
    d("isa-serial", ISA),
    d("isa-parallel", ISA),
    internal(d("i8042", ISA)),
    d("vt82c686b-usb-uhci", PCI),
    d("piix4-usb-uhci", PCI),
    d("piix3-usb-uhci", PCI),
    desc("sysbus-ohci", SYS, "OHCI USB Controller"),
    desc("pci-ohci", PCI, "Apple USB Controller"),
    d("SUNW,fdtwo", SYS),
    d("sysbus-fdc", SYS),
    internal(d("isa-fdc", ISA)),
    internal(desc("PIIX4_PM", PCI, "PM")),
    d("i6300esb", PCI),
    d("ne2k_pci", PCI),
    desc("i82801", PCI, "Intel i82801 Ethernet"),
    desc("i82562", PCI, "Intel i82562 Ethernet"),
    desc("i82559er", PCI, "Intel i82559ER Ethernet"),
    desc("i82559c", PCI, "Intel i82559C Ethernet"),
    desc("i82559b", PCI, "Intel i82559B Ethernet"),
    desc("i82559a", PCI, "Intel i82559A Ethernet"),
    desc("i82558b", PCI, "Intel i82558B Ethernet"),
    desc("i82558a", PCI, "Intel i82558A Ethernet"),
    desc("i82557c", PCI, "Intel i82557C Ethernet"),
    desc("i82557b", PCI, "Intel i82557B Ethernet"),
    desc("i82557a", PCI, "Intel i82557A Ethernet"),
    desc("i82551", PCI, "Intel i82551 Ethernet"),
    desc("i82550", PCI, "Intel i82550 Ethernet"),
    d("pcnet", PCI),
    desc("e1000", PCI, "Intel Gigabit Ethernet"),
    d("rtl8139", PCI),
    d("ne2k_isa", ISA),
    d("ide-drive", "IDE"),
    d("isa-ide", ISA),
    internal(d("piix4-ide", PCI)),
    internal(d("piix3-ide", PCI)),
    alias("ich9-ahci", PCI, "ahci"),
    alias("lsi53c895a", PCI, "lsi"),
    internal(d("isabus-bridge", SYS)),
    d("VGA", PCI),
    d("vmware-svga", PCI),
    desc("sb16", ISA, "Creative Sound Blaster 16"),
    desc("ES1370", PCI, "ENSONIQ AudioPCI ES1370"),
    desc("AC97", PCI, "Intel 82801AA AC97 Audio"),
    desc("intel-hda", PCI, "Intel HD Audio Controller"),
    desc("hda-duplex", "HDA", "HDA Audio Codec, duplex"),
    desc("hda-output", "HDA", "HDA Audio Codec, output-only"),
    // obj-i386-y
    internal(d("mc146818rtc", ISA)),
    internal(d("port92", ISA)),
    desc("cirrus-vga", PCI, "Cirrus CLGD 54xx VGA"),
    internal(d("apic", SYS)),
    internal(d("ioapic", SYS)),
    internal(desc("PIIX3", PCI, "ISA bridge")),
    internal(desc("i440FX", PCI, "Host bridge")),
    internal(d("i440FX-pcihost", SYS)),
    internal(d("hpet", SYS)),
    d("isa-applesmc", ISA),
    d("ib700", ISA),
    d("isa-debugcon", ISA),
    desc("qxl", PCI, "Spice QXL GPU (secondary)"),
    desc("qxl-vga", PCI, "Spice QXL GPU (primary, vga compatible)"),
];

/// `qdev_print_devinfo` of every driver (`info qdm`), or of those a user
/// may create (`device_add ?`, `-device ?`).
pub fn qdm_text(user_only: bool) -> String {
    let mut out = String::new();
    for e in QDM.iter().filter(|e| !(user_only && e.no_user)) {
        out.push_str(&format!("name \"{}\", bus {}", e.name, e.bus));
        if let Some(alias) = e.alias {
            out.push_str(&format!(", alias \"{alias}\""));
        }
        if let Some(desc) = e.desc {
            out.push_str(&format!(", desc \"{desc}\""));
        }
        if e.no_user {
            out.push_str(", no-user");
        }
        out.push('\n');
    }
    out
}

/// `qdev_find_info(NULL, NAME)`: a driver of the list by name, then by alias.
pub fn find(name: &str) -> Option<&'static QdmEntry> {
    QDM.iter()
        .find(|e| e.name == name)
        .or_else(|| QDM.iter().find(|e| e.alias == Some(name)))
}

/// A driver's own settable properties as `(name, PropertyInfo.name)`, in
/// definition order: the catalogue's, else the help-only table's.
fn settable_props(name: &str) -> Vec<(&'static str, &'static str)> {
    match super::catalog::DRIVERS.iter().find(|d| d.name == name) {
        Some(d) => d.props.iter().map(|p| (p.name, p.ty.info_name())).collect(),
        None => super::catalog::HELP_ONLY_PROPS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, props)| props.to_vec())
            .unwrap_or_default(),
    }
}

/// `qdev_device_help` (hw/qdev.c:154) for `DRIVER,?`: a `DRIVER.PROP=TYPE`
/// line per property of the driver itself (its bus's are not shown), under
/// the driver's own name when an alias was given. `no_user` drivers answer
/// too.
pub fn device_help_text(entry: &QdmEntry) -> String {
    settable_props(entry.name)
        .iter()
        .map(|(prop, ty)| format!("{}.{prop}={ty}\n", entry.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_driver_is_listed_alike() {
        let differing: Vec<&str> = super::super::catalog::DRIVERS
            .iter()
            .filter(|c| {
                !QDM.iter().any(|q| {
                    q.name == c.name
                        && q.bus == c.bus.info_name()
                        && q.alias == c.alias
                        && q.no_user == c.no_user
                })
            })
            .map(|c| c.name)
            .collect();
        assert!(differing.is_empty(), "{differing:?}");
    }

    #[test]
    fn every_listed_driver_has_its_properties_described_once() {
        let help_only = super::super::catalog::HELP_ONLY_PROPS;
        let described: Vec<&str> = QDM
            .iter()
            .map(|e| e.name)
            .filter(|n| {
                let in_catalogue = super::super::catalog::DRIVERS.iter().any(|d| d.name == *n);
                let in_help = help_only.iter().any(|(h, _)| h == n);
                in_catalogue != in_help
            })
            .collect();
        assert_eq!(described.len(), QDM.len());
        assert!(help_only
            .iter()
            .all(|(h, _)| QDM.iter().any(|e| e.name == *h)));
    }

    #[test]
    fn device_help_lists_own_props_under_the_driver_name() {
        let help = |name: &str| find(name).map(device_help_text);
        assert_eq!(
            help("e1000").as_deref(),
            Some(
                "e1000.mac=macaddr\ne1000.vlan=vlan\ne1000.netdev=netdev\ne1000.bootindex=int32\n"
            )
        );
        // By alias, printed under the name; a driver without properties
        // prints nothing; pointer properties are left out.
        assert!(help("virtio-blk")
            .unwrap()
            .starts_with("virtio-blk-pci.class=hex32\nvirtio-blk-pci.drive=drive\n"));
        assert_eq!(help("lsi").as_deref(), Some(""));
        assert_eq!(help("smbus-eeprom").as_deref(), Some(""));
        assert_eq!(help("apic").as_deref(), Some("apic.id=uint8\n"));
        assert_eq!(
            help("sysbus-ohci").as_deref(),
            Some("sysbus-ohci.num-ports=uint32\nsysbus-ohci.dma-offset=taddr\n")
        );
        assert_eq!(help("bogus"), None);
    }

    #[test]
    fn user_list_leaves_out_no_user_drivers() {
        let text = qdm_text(true);
        assert!(!text.contains("no-user") && text.contains("name \"e1000\""));
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = QDM.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), QDM.len());
    }

    #[test]
    fn line_shows_alias_before_desc_and_no_user_last() {
        let text = qdm_text(false);
        assert!(text.starts_with("name \"virtio-9p-pci\", bus PCI\n"));
        assert!(text.contains("name \"PIIX4_PM\", bus PCI, desc \"PM\", no-user\n"));
        assert!(text.contains("name \"lsi53c895a\", bus PCI, alias \"lsi\"\n"));
    }
}
