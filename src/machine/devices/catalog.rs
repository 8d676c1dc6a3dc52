//! The qdev driver catalogue of `qemu-system-x86_64` 0.14: every driver name the
//! `pc` machine knows, its bus, its properties (with their parser type), whether a
//! user may create it, and for PCI devices the IDs, class, interrupt pin, BARs and
//! option ROM size that `query-pci` reports.
//!
//! Static data only, in registration order; lookups are linear scans, so the
//! order of this table is the order 0.14's `qdev_find_info` would search.
//! Sources: hw/*.c of QEMU 0.14.0 and the pc-bios ROM images it shipped (ROM BAR
//! sizes are the image sizes rounded up to a power of two).

/// The bus types of the pc machine (0.14 `BusInfo`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum BusKind {
    /// The main system bus.
    System,
    /// PCI.
    Pci,
    /// ISA.
    Isa,
    /// IDE.
    Ide,
    /// SCSI.
    Scsi,
    /// USB.
    Usb,
    /// virtio-serial ports.
    VirtioSerial,
    /// Intel HDA codecs.
    Hda,
    /// The PIIX4 SMBus.
    I2c,
}

impl BusKind {
    /// The `BusInfo.name` errors report (`NoBusForDevice`, `BadBusForDevice`).
    pub fn info_name(self) -> &'static str {
        match self {
            BusKind::System => "System",
            BusKind::Pci => "PCI",
            BusKind::Isa => "ISA",
            BusKind::Ide => "IDE",
            BusKind::Scsi => "SCSI",
            BusKind::Usb => "USB",
            BusKind::VirtioSerial => "virtio-serial-bus",
            BusKind::Hda => "HDA",
            BusKind::I2c => "I2C",
        }
    }

    /// Properties every device on this bus has (`BusInfo.props`).
    pub fn props(self) -> &'static [PropDef] {
        match self {
            BusKind::Pci => PCI_BUS_PROPS,
            BusKind::Usb => USB_BUS_PROPS,
            BusKind::Scsi => SCSI_BUS_PROPS,
            BusKind::Hda => HDA_BUS_PROPS,
            BusKind::I2c => I2C_BUS_PROPS,
            BusKind::System | BusKind::Isa | BusKind::Ide | BusKind::VirtioSerial => &[],
        }
    }
}

/// How a property's text is parsed (0.14 `PropertyInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// `on`/`off` prefixes, case-insensitive.
    Bit,
    /// `strtoul` base 0, stored in 8 bits.
    Uint8,
    /// `strtoul` base 0, stored in 16 bits.
    Uint16,
    /// `strtoul` base 0, stored in 32 bits.
    Uint32,
    /// `strtol` base 10.
    Int32,
    /// `strtoul` base 16.
    Hex32,
    /// Any text.
    Str,
    /// A block device name.
    Drive,
    /// A character device label.
    Chr,
    /// A netdev id.
    Netdev,
    /// A VLAN number.
    Vlan,
    /// `xx:xx:xx:xx:xx:xx`.
    Mac,
    /// `SLOT[.FN]` in hex.
    PciDevfn,
}

impl PropType {
    /// `PropertyInfo.name` (hw/qdev-properties.c), which `-device DRIVER,?`
    /// prints.
    pub const fn info_name(self) -> &'static str {
        match self {
            PropType::Bit => "on/off",
            PropType::Uint8 => "uint8",
            PropType::Uint16 => "uint16",
            PropType::Uint32 => "uint32",
            PropType::Int32 => "int32",
            PropType::Hex32 => "hex32",
            PropType::Str => "string",
            PropType::Drive => "drive",
            PropType::Chr => "chr",
            PropType::Netdev => "netdev",
            PropType::Vlan => "vlan",
            PropType::Mac => "macaddr",
            PropType::PciDevfn => "pci-devfn",
        }
    }

    /// What the type's `print` shows for an all-zero field (`qdev_prop_set_defaults`
    /// of a property defined without a default).
    const fn zero_text(self) -> &'static str {
        match self {
            PropType::Bit => "off",
            PropType::Uint8 | PropType::Uint16 | PropType::Uint32 | PropType::Int32 => "0",
            PropType::Hex32 => "0x0",
            PropType::Str | PropType::Drive | PropType::Chr | PropType::Netdev | PropType::Vlan => {
                "<null>"
            }
            PropType::Mac => "00:00:00:00:00:00",
            PropType::PciDevfn => "<unset>",
        }
    }
}

/// One property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropDef {
    /// Name.
    pub name: &'static str,
    /// Parser.
    pub ty: PropType,
    /// The default as `info qtree` prints it (the `DEFINE_PROP_*` default
    /// through the type's `print`).
    pub default: &'static str,
}

const fn prop(name: &'static str, ty: PropType) -> PropDef {
    PropDef {
        name,
        ty,
        default: ty.zero_text(),
    }
}

/// A property with a non-zero default, in its printed form.
const fn prop_or(name: &'static str, ty: PropType, default: &'static str) -> PropDef {
    PropDef { name, ty, default }
}

/// One PCI base address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarDef {
    /// BAR number (0..5).
    pub index: u8,
    /// I/O space rather than memory.
    pub io: bool,
    /// Size in bytes (a power of two).
    pub size: u64,
    /// Prefetchable memory.
    pub prefetch: bool,
}

const fn io(index: u8, size: u64) -> BarDef {
    BarDef {
        index,
        io: true,
        size,
        prefetch: false,
    }
}

const fn mem(index: u8, size: u64, prefetch: bool) -> BarDef {
    BarDef {
        index,
        io: false,
        size,
        prefetch,
    }
}

/// What `query-pci` shows of a PCI device type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciInfo {
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// Class code (class << 8 | subclass).
    pub class: u16,
    /// Interrupt pin (0 none, 1 = INTA .. 4 = INTD).
    pub pin: u8,
    /// The BARs in number order.
    pub bars: &'static [BarDef],
    /// Size of the option ROM BAR (0: no default ROM).
    pub rom_bytes: u64,
    /// `no_hotplug`: cannot be hot-added or removed.
    pub no_hotplug: bool,
    /// virtio: an MSI-X table BAR 1 of [`MSIX_BAR_BYTES`] when vectors > 0.
    pub msix_vectors_default: Option<u32>,
    /// Subsystem vendor and device ID: 0.14's `pci_set_default_subsystem_id`
    /// (1af4:1100) unless the device's init writes its own.
    pub subsystem: (u16, u16),
    /// `PCIDeviceInfo.romfile`: the `romfile` property when not given.
    pub romfile: Option<&'static str>,
}

/// `pci_default_sub_vendor_id`:`pci_default_sub_device_id` of 0.14 hw/pci.c.
pub const DEFAULT_SUBSYSTEM: (u16, u16) = (0x1af4, 0x1100);

/// Size of a virtio device's MSI-X BAR (`MSIX_PAGE_SIZE`).
pub const MSIX_BAR_BYTES: u64 = 0x1000;

/// What the device does beyond sitting on its bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Nothing the model tracks.
    Plain,
    /// A network card: creates a NIC net client.
    Nic,
    /// Needs a `drive` (init fails without one).
    Storage,
    /// SCSI passthrough: needs a host sg device, which the model never has.
    ScsiGeneric,
    /// Registers a mouse handler.
    Mouse {
        /// Handler name in `query-mice`.
        name: &'static str,
        /// Absolute positioning.
        absolute: bool,
    },
    /// A virtio-serial port.
    SerialPort {
        /// `virtconsole` rather than `virtserialport`.
        console: bool,
    },
    /// Needs a `chardev` (init fails without one).
    NeedsChardev,
    /// A display adapter (replaces the default VGA when given with -device).
    Vga,
}

/// One driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverInfo {
    /// `qdev.name`.
    pub name: &'static str,
    /// `qdev.alias`.
    pub alias: Option<&'static str>,
    /// The bus it plugs into.
    pub bus: BusKind,
    /// `no_user`: internal, not creatable with -device/device_add.
    pub no_user: bool,
    /// Its own properties (the bus adds [`BusKind::props`]).
    pub props: &'static [PropDef],
    /// PCI identity, for PCI devices.
    pub pci: Option<PciInfo>,
    /// Behaviour.
    pub role: Role,
    /// Child buses it creates: kind and whether they allow hotplug.
    pub child_buses: &'static [(BusKind, bool)],
    /// ISA interrupts it claims at init whatever its properties say
    /// (`isa_init_irq`; devices with an `irq` property claim that one).
    pub isa_irqs: &'static [u8],
    /// `qdev_init_gpio_in` lines (`info qtree` prints `gpio-in N`).
    pub gpio_in: u8,
    /// System-bus MMIO regions in `sysbus_init_mmio` order.
    pub mmio: &'static [Mmio],
}

/// One MMIO region of a system-bus device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mmio {
    /// Size in bytes.
    pub size: u64,
    /// Where the board maps it (`sysbus_mmio_map`); unmapped regions keep
    /// `sysbus_init_mmio`'s address of all ones.
    pub base: Option<u64>,
}

/// `MSI_ADDR_BASE` (hw/pc.c:71), where hw/pc.c:875 maps the first APIC.
pub const APIC_BASE: u64 = 0xfee0_0000;

/// A `uint32` property defined with default -1, printed.
const UNSET_U32: &str = "4294967295";
/// A `hex32` property defined with default -1, printed.
const UNSET_HEX32: &str = "0xffffffff";

const PCI_BUS_PROPS: &[PropDef] = &[
    prop("addr", PropType::PciDevfn),
    prop("romfile", PropType::Str),
    prop_or("rombar", PropType::Uint32, "1"),
    prop("multifunction", PropType::Bit),
    prop_or("command_serr_enable", PropType::Bit, "on"),
];

const USB_BUS_PROPS: &[PropDef] = &[prop("port", PropType::Str)];
const SCSI_BUS_PROPS: &[PropDef] = &[prop_or("scsi-id", PropType::Uint32, UNSET_U32)];
const HDA_BUS_PROPS: &[PropDef] = &[prop_or("cad", PropType::Uint32, UNSET_U32)];
/// hw/i2c.c:24 `i2c_bus_info.props`.
const I2C_BUS_PROPS: &[PropDef] = &[prop("address", PropType::Uint8)];
const HDA_CODEC_PROPS: &[PropDef] = &[prop("debug", PropType::Uint32)];
/// hw/intel-hda.c:1280.
const INTEL_HDA_PROPS: &[PropDef] = &[
    prop("debug", PropType::Uint32),
    prop_or("msi", PropType::Uint32, "1"),
];
const BALLOON_PROPS: &[PropDef] = &[prop_or("indirect_desc", PropType::Bit, "on")];

const NIC_PROPS: &[PropDef] = &[
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop_or("bootindex", PropType::Int32, "-1"),
];

const BLOCK_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop_or("logical_block_size", PropType::Uint16, "512"),
    prop_or("physical_block_size", PropType::Uint16, "512"),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop("discard_granularity", PropType::Uint32),
];

const VIRTIO_NET_PROPS: &[PropDef] = &[
    prop("ioeventfd", PropType::Bit),
    prop_or("vectors", PropType::Uint32, "3"),
    prop_or("indirect_desc", PropType::Bit, "on"),
    prop_or("csum", PropType::Bit, "on"),
    prop_or("guest_csum", PropType::Bit, "on"),
    prop_or("gso", PropType::Bit, "on"),
    prop_or("guest_tso4", PropType::Bit, "on"),
    prop_or("guest_tso6", PropType::Bit, "on"),
    prop_or("guest_ecn", PropType::Bit, "on"),
    prop_or("guest_ufo", PropType::Bit, "on"),
    prop_or("host_tso4", PropType::Bit, "on"),
    prop_or("host_tso6", PropType::Bit, "on"),
    prop_or("host_ecn", PropType::Bit, "on"),
    prop_or("host_ufo", PropType::Bit, "on"),
    prop_or("mrg_rxbuf", PropType::Bit, "on"),
    prop_or("status", PropType::Bit, "on"),
    prop_or("ctrl_vq", PropType::Bit, "on"),
    prop_or("ctrl_rx", PropType::Bit, "on"),
    prop_or("ctrl_vlan", PropType::Bit, "on"),
    prop_or("ctrl_rx_extra", PropType::Bit, "on"),
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop_or("x-txtimer", PropType::Uint32, "150000"),
    prop_or("x-txburst", PropType::Int32, "256"),
    prop("tx", PropType::Str),
];

const VIRTIO_BLK_PROPS: &[PropDef] = &[
    prop("class", PropType::Hex32),
    prop("drive", PropType::Drive),
    prop_or("logical_block_size", PropType::Uint16, "512"),
    prop_or("physical_block_size", PropType::Uint16, "512"),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop("discard_granularity", PropType::Uint32),
    prop_or("ioeventfd", PropType::Bit, "on"),
    prop_or("vectors", PropType::Uint32, "2"),
    prop_or("indirect_desc", PropType::Bit, "on"),
    // hw/virtio-blk.h:101 (a Linux build): on by default.
    prop_or("scsi", PropType::Bit, "on"),
];

const VIRTIO_SERIAL_PROPS: &[PropDef] = &[
    prop_or("vectors", PropType::Uint32, UNSET_U32),
    prop("class", PropType::Hex32),
    prop_or("indirect_desc", PropType::Bit, "on"),
    prop_or("max_ports", PropType::Uint32, "31"),
];

const SERIAL_PORT_PROPS: &[PropDef] = &[
    prop_or("nr", PropType::Uint32, UNSET_U32),
    prop("chardev", PropType::Chr),
    prop("name", PropType::Str),
];

const CONSOLE_PORT_PROPS: &[PropDef] = &[
    prop_or("is_console", PropType::Uint8, "1"),
    prop_or("nr", PropType::Uint32, UNSET_U32),
    prop("chardev", PropType::Chr),
    prop("name", PropType::Str),
];

const ISA_SERIAL_PROPS: &[PropDef] = &[
    prop_or("index", PropType::Uint32, UNSET_U32),
    prop_or("iobase", PropType::Hex32, UNSET_HEX32),
    prop_or("irq", PropType::Uint32, UNSET_U32),
    prop("chardev", PropType::Chr),
];

const SCSI_DISK_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop_or("logical_block_size", PropType::Uint16, "512"),
    prop_or("physical_block_size", PropType::Uint16, "512"),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop("discard_granularity", PropType::Uint32),
    prop("ver", PropType::Str),
    prop("serial", PropType::Str),
    prop("removable", PropType::Bit),
];

const IDE_DRIVE_PROPS: &[PropDef] = &[
    prop_or("unit", PropType::Uint32, UNSET_U32),
    prop("drive", PropType::Drive),
    prop_or("logical_block_size", PropType::Uint16, "512"),
    prop_or("physical_block_size", PropType::Uint16, "512"),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop("discard_granularity", PropType::Uint32),
    prop("ver", PropType::Str),
    prop("serial", PropType::Str),
];

const USB_STORAGE_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop_or("logical_block_size", PropType::Uint16, "512"),
    prop_or("physical_block_size", PropType::Uint16, "512"),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop_or("bootindex", PropType::Int32, "-1"),
    prop("discard_granularity", PropType::Uint32),
    prop("removable", PropType::Bit),
];

const CHARDEV_PROPS: &[PropDef] = &[prop("chardev", PropType::Chr)];

const FDC_PROPS: &[PropDef] = &[
    prop("driveA", PropType::Drive),
    prop("driveB", PropType::Drive),
    prop_or("bootindexA", PropType::Int32, "-1"),
    prop_or("bootindexB", PropType::Int32, "-1"),
];

const NE2K_ISA_PROPS: &[PropDef] = &[
    prop_or("iobase", PropType::Hex32, "0x300"),
    prop_or("irq", PropType::Uint32, "9"),
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop_or("bootindex", PropType::Int32, "-1"),
];

const SB16_PROPS: &[PropDef] = &[
    prop_or("version", PropType::Hex32, "0x405"),
    prop_or("iobase", PropType::Hex32, "0x220"),
    prop_or("irq", PropType::Uint32, "5"),
    prop_or("dma", PropType::Uint32, "1"),
    prop_or("dma16", PropType::Uint32, "5"),
];

/// hw/apic.c:1022 (`cpu_env` is a pointer property: never printed or parsed).
const APIC_PROPS: &[PropDef] = &[prop_or("id", PropType::Uint8, "255")];
/// hw/fw_cfg.c:396.
const FW_CFG_PROPS: &[PropDef] = &[
    prop_or("ctl_iobase", PropType::Hex32, UNSET_HEX32),
    prop_or("data_iobase", PropType::Hex32, UNSET_HEX32),
];
/// hw/hpet.c:737 (`HPET_MIN_TIMERS` is 3).
const HPET_PROPS: &[PropDef] = &[
    prop_or("timers", PropType::Uint8, "3"),
    prop("msi", PropType::Bit),
];
/// hw/mc146818rtc.c:648.
const RTC_PROPS: &[PropDef] = &[prop_or("base_year", PropType::Int32, "1980")];

/// `smb_io_base` as `pc_init1` sets it (`piix4_pm_init(..., 0xb100, ...)`).
const PIIX4_PM_PROPS: &[PropDef] = &[prop_or("smb_io_base", PropType::Uint32, "45312")];

const E100_BARS: &[BarDef] = &[mem(0, 0x1000, true), io(1, 64), mem(2, 0x20000, false)];

/// An Intel EEPRO100 family member (hw/eepro100.c): the ROM image named there
/// is not shipped with 0.14, so these cards have no ROM BAR.
const fn e100(name: &'static str, device: u16) -> DriverInfo {
    pci_driver(name, NIC_PROPS, e100_pci(device), Role::Nic)
}

const fn e100_pci(device: u16) -> PciInfo {
    PciInfo {
        vendor: 0x8086,
        device,
        class: 0x0200,
        pin: 1,
        bars: E100_BARS,
        rom_bytes: 0,
        no_hotplug: false,
        msix_vectors_default: None,
        subsystem: DEFAULT_SUBSYSTEM,
        romfile: None,
    }
}

const fn pci_driver(
    name: &'static str,
    props: &'static [PropDef],
    pci: PciInfo,
    role: Role,
) -> DriverInfo {
    DriverInfo {
        name,
        alias: None,
        bus: BusKind::Pci,
        no_user: false,
        props,
        pci: Some(pci),
        role,
        child_buses: &[],
        isa_irqs: &[],
        gpio_in: 0,
        mmio: &[],
    }
}

const fn pci_ids(
    vendor: u16,
    device: u16,
    class: u16,
    pin: u8,
    bars: &'static [BarDef],
) -> PciInfo {
    PciInfo {
        vendor,
        device,
        class,
        pin,
        bars,
        rom_bytes: 0,
        no_hotplug: false,
        msix_vectors_default: None,
        subsystem: DEFAULT_SUBSYSTEM,
        romfile: None,
    }
}

const fn plain(
    name: &'static str,
    bus: BusKind,
    props: &'static [PropDef],
    role: Role,
) -> DriverInfo {
    DriverInfo {
        name,
        alias: None,
        bus,
        no_user: false,
        props,
        pci: None,
        role,
        child_buses: &[],
        isa_irqs: &[],
        gpio_in: 0,
        mmio: &[],
    }
}

const fn internal(name: &'static str, bus: BusKind) -> DriverInfo {
    DriverInfo {
        name,
        alias: None,
        bus,
        no_user: true,
        props: &[],
        pci: None,
        role: Role::Plain,
        child_buses: &[],
        isa_irqs: &[],
        gpio_in: 0,
        mmio: &[],
    }
}

/// Every driver of the x86_64 pc build, internal ones included.
pub static DRIVERS: &[DriverInfo] = &[
    // Built-in chipset devices (no_user).
    DriverInfo {
        pci: Some(PciInfo {
            no_hotplug: true,
            ..pci_ids(0x8086, 0x1237, 0x0600, 0, &[])
        }),
        ..internal("i440FX", BusKind::Pci)
    },
    DriverInfo {
        pci: Some(PciInfo {
            no_hotplug: true,
            ..pci_ids(0x8086, 0x7000, 0x0601, 0, &[])
        }),
        // piix3_initfn (hw/piix_pci.c:333) puts the ISA bus under PIIX3.
        child_buses: &[(BusKind::Isa, false)],
        ..internal("PIIX3", BusKind::Pci)
    },
    DriverInfo {
        pci: Some(PciInfo {
            no_hotplug: true,
            ..pci_ids(0x8086, 0x7010, 0x0101, 0, &[io(4, 16)])
        }),
        child_buses: &[(BusKind::Ide, false), (BusKind::Ide, false)],
        ..internal("piix3-ide", BusKind::Pci)
    },
    DriverInfo {
        pci: Some(PciInfo {
            no_hotplug: true,
            ..pci_ids(0x8086, 0x7113, 0x0680, 1, &[])
        }),
        props: PIIX4_PM_PROPS,
        child_buses: &[(BusKind::I2c, false)],
        ..internal("PIIX4_PM", BusKind::Pci)
    },
    DriverInfo {
        child_buses: &[(BusKind::Pci, true)],
        ..internal("i440FX-pcihost", BusKind::System)
    },
    // isa_bus_new (hw/isa-bus.c) creates the bridge only for a parentless
    // ISA bus, which the pc machine never asks for; it is listed, never built.
    internal("isabus-bridge", BusKind::System),
    DriverInfo {
        isa_irqs: &[1, 12],
        ..internal("i8042", BusKind::Isa)
    },
    DriverInfo {
        props: RTC_PROPS,
        ..internal("mc146818rtc", BusKind::Isa)
    },
    internal("port92", BusKind::Isa),
    // hw/smbus_eeprom.c:108: its one property, `data`, is a pointer.
    plain("smbus-eeprom", BusKind::I2c, &[], Role::Plain),
    // System-bus chipset devices (hw/apic.c:1016, hw/ioapic.c:346,
    // hw/fw_cfg.c:390, hw/hpet.c:730).
    DriverInfo {
        props: APIC_PROPS,
        mmio: &[Mmio {
            size: 0x10_0000,
            base: Some(APIC_BASE),
        }],
        ..internal("apic", BusKind::System)
    },
    DriverInfo {
        gpio_in: 24,
        mmio: &[Mmio {
            size: 0x1000,
            base: Some(0xfec0_0000),
        }],
        ..internal("ioapic", BusKind::System)
    },
    DriverInfo {
        props: FW_CFG_PROPS,
        mmio: &[
            Mmio {
                size: 2,
                base: None,
            },
            Mmio {
                size: 2,
                base: None,
            },
        ],
        ..internal("fw_cfg", BusKind::System)
    },
    DriverInfo {
        props: HPET_PROPS,
        gpio_in: 1,
        mmio: &[Mmio {
            size: 0x400,
            base: Some(0xfed0_0000),
        }],
        ..internal("hpet", BusKind::System)
    },
    // no_user in 0.14.0 (hw/fdc.c:2056): -device and device_add refuse it.
    DriverInfo {
        props: FDC_PROPS,
        isa_irqs: &[6],
        ..internal("isa-fdc", BusKind::Isa)
    },
    // Display adapters.
    pci_driver(
        "cirrus-vga",
        &[],
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("vgabios-cirrus.bin"),
            no_hotplug: true,
            ..pci_ids(
                0x1013,
                0x00b8,
                0x0300,
                0,
                &[mem(0, 0x0200_0000, true), mem(1, 0x1000, false)],
            )
        },
        Role::Vga,
    ),
    pci_driver(
        "VGA",
        &[],
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("vgabios-stdvga.bin"),
            no_hotplug: true,
            ..pci_ids(0x1234, 0x1111, 0x0300, 0, &[mem(0, 0x0080_0000, true)])
        },
        Role::Vga,
    ),
    pci_driver(
        "vmware-svga",
        &[],
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("vgabios-vmware.bin"),
            subsystem: (0x15ad, 0x0405),
            no_hotplug: true,
            ..pci_ids(
                0x15ad,
                0x0405,
                0x0300,
                0,
                &[
                    io(0, 0x10),
                    mem(1, 0x0080_0000, true),
                    mem(2, 0x10000, true),
                ],
            )
        },
        Role::Vga,
    ),
    // Network cards.
    pci_driver(
        "e1000",
        NIC_PROPS,
        PciInfo {
            rom_bytes: 0x20000,
            romfile: Some("pxe-e1000.bin"),
            ..pci_ids(
                0x8086,
                0x100e,
                0x0200,
                1,
                &[mem(0, 0x20000, false), io(1, 0x40)],
            )
        },
        Role::Nic,
    ),
    pci_driver(
        "rtl8139",
        NIC_PROPS,
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("pxe-rtl8139.bin"),
            ..pci_ids(
                0x10ec,
                0x8139,
                0x0200,
                1,
                &[io(0, 0x100), mem(1, 0x100, false)],
            )
        },
        Role::Nic,
    ),
    pci_driver(
        "ne2k_pci",
        NIC_PROPS,
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("pxe-ne2k_pci.bin"),
            ..pci_ids(0x10ec, 0x8029, 0x0200, 1, &[io(0, 0x100)])
        },
        Role::Nic,
    ),
    pci_driver(
        "pcnet",
        NIC_PROPS,
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("pxe-pcnet.bin"),
            // hw/pcnet-pci.c:288 clears the subsystem IDs.
            subsystem: (0, 0),
            ..pci_ids(
                0x1022,
                0x2000,
                0x0200,
                1,
                &[io(0, 0x20), mem(1, 0x20, false)],
            )
        },
        Role::Nic,
    ),
    e100("i82550", 0x1209),
    e100("i82551", 0x1209),
    e100("i82557a", 0x1229),
    e100("i82557b", 0x1229),
    e100("i82557c", 0x1229),
    e100("i82558a", 0x1229),
    e100("i82558b", 0x1229),
    e100("i82559a", 0x1229),
    e100("i82559b", 0x1229),
    // hw/eepro100.c:505: the i82559C writes Intel's subsystem IDs.
    DriverInfo {
        pci: Some(PciInfo {
            subsystem: (0x8086, 0x0040),
            ..e100_pci(0x1229)
        }),
        ..e100("i82559c", 0x1229)
    },
    e100("i82559er", 0x1209),
    e100("i82562", 0x1209),
    e100("i82801", 0x2449),
    // virtio.
    DriverInfo {
        alias: Some("virtio-blk"),
        ..pci_driver(
            "virtio-blk-pci",
            VIRTIO_BLK_PROPS,
            PciInfo {
                msix_vectors_default: Some(2),
                subsystem: (0x1af4, 2),
                ..pci_ids(0x1af4, 0x1001, 0x0100, 1, &[io(0, 0x40)])
            },
            Role::Storage,
        )
    },
    pci_driver(
        "virtio-net-pci",
        VIRTIO_NET_PROPS,
        PciInfo {
            rom_bytes: 0x10000,
            romfile: Some("pxe-virtio.bin"),
            subsystem: (0x1af4, 1),
            msix_vectors_default: Some(3),
            ..pci_ids(0x1af4, 0x1000, 0x0200, 1, &[io(0, 0x20)])
        },
        Role::Nic,
    ),
    DriverInfo {
        alias: Some("virtio-serial"),
        child_buses: &[(BusKind::VirtioSerial, true)],
        ..pci_driver(
            "virtio-serial-pci",
            VIRTIO_SERIAL_PROPS,
            PciInfo {
                msix_vectors_default: Some(32),
                subsystem: (0x1af4, 3),
                ..pci_ids(0x1af4, 0x1003, 0x0780, 1, &[io(0, 0x20)])
            },
            Role::Plain,
        )
    },
    pci_driver(
        "virtio-balloon-pci",
        BALLOON_PROPS,
        PciInfo {
            subsystem: (0x1af4, 5),
            ..pci_ids(0x1af4, 0x1002, 0x0500, 1, &[io(0, 0x20)])
        },
        Role::Plain,
    ),
    // Storage controllers.
    DriverInfo {
        alias: Some("lsi"),
        child_buses: &[(BusKind::Scsi, true)],
        ..pci_driver(
            "lsi53c895a",
            &[],
            PciInfo {
                // hw/lsi53c895a.c:2167 sets the subsystem ID only.
                subsystem: (DEFAULT_SUBSYSTEM.0, 0x1000),
                ..pci_ids(
                    0x1000,
                    0x0012,
                    0x0100,
                    1,
                    &[io(0, 256), mem(1, 0x400, false), mem(2, 0x2000, false)],
                )
            },
            Role::Plain,
        )
    },
    // USB host controllers.
    DriverInfo {
        child_buses: &[(BusKind::Usb, true)],
        ..pci_driver(
            "piix3-usb-uhci",
            &[],
            pci_ids(0x8086, 0x7020, 0x0c03, 4, &[io(4, 0x20)]),
            Role::Plain,
        )
    },
    DriverInfo {
        child_buses: &[(BusKind::Usb, true)],
        ..pci_driver(
            "piix4-usb-uhci",
            &[],
            pci_ids(0x8086, 0x7112, 0x0c03, 4, &[io(4, 0x20)]),
            Role::Plain,
        )
    },
    // Sound and misc PCI.
    pci_driver(
        "ES1370",
        &[],
        PciInfo {
            // hw/es1370.c:1007.
            subsystem: (0x4942, 0x4c4c),
            ..pci_ids(0x1274, 0x5000, 0x0401, 1, &[io(0, 256)])
        },
        Role::Plain,
    ),
    pci_driver(
        "AC97",
        &[],
        PciInfo {
            // hw/ac97.c:1313.
            subsystem: (0x8086, 0x0000),
            ..pci_ids(0x8086, 0x2415, 0x0401, 1, &[io(0, 1024), io(1, 256)])
        },
        Role::Plain,
    ),
    DriverInfo {
        child_buses: &[(BusKind::Hda, false)],
        ..pci_driver(
            "intel-hda",
            INTEL_HDA_PROPS,
            pci_ids(0x8086, 0x2668, 0x0403, 1, &[mem(0, 0x4000, false)]),
            Role::Plain,
        )
    },
    pci_driver(
        "i6300esb",
        &[],
        pci_ids(0x8086, 0x25ab, 0x0880, 0, &[mem(0, 0x10, false)]),
        Role::Plain,
    ),
    // ISA.
    plain("isa-serial", BusKind::Isa, ISA_SERIAL_PROPS, Role::Plain),
    plain("isa-parallel", BusKind::Isa, ISA_SERIAL_PROPS, Role::Plain),
    plain("ne2k_isa", BusKind::Isa, NE2K_ISA_PROPS, Role::Nic),
    plain("sb16", BusKind::Isa, SB16_PROPS, Role::Plain),
    plain("ib700", BusKind::Isa, &[], Role::Plain),
    // IDE and SCSI disks.
    plain("ide-drive", BusKind::Ide, IDE_DRIVE_PROPS, Role::Storage),
    plain("scsi-disk", BusKind::Scsi, SCSI_DISK_PROPS, Role::Storage),
    plain(
        "scsi-generic",
        BusKind::Scsi,
        BLOCK_PROPS,
        Role::ScsiGeneric,
    ),
    // USB devices.
    plain(
        "usb-tablet",
        BusKind::Usb,
        &[],
        Role::Mouse {
            name: "QEMU USB Tablet",
            absolute: true,
        },
    ),
    plain(
        "usb-mouse",
        BusKind::Usb,
        &[],
        Role::Mouse {
            name: "QEMU USB Mouse",
            absolute: false,
        },
    ),
    plain("usb-kbd", BusKind::Usb, &[], Role::Plain),
    plain("usb-hub", BusKind::Usb, &[], Role::Plain),
    DriverInfo {
        // usb_msd_initfn (hw/usb-msd.c) turns off the hotplug that
        // scsi_bus_new gives every SCSI bus.
        child_buses: &[(BusKind::Scsi, false)],
        ..plain(
            "usb-storage",
            BusKind::Usb,
            USB_STORAGE_PROPS,
            Role::Storage,
        )
    },
    plain(
        "usb-serial",
        BusKind::Usb,
        CHARDEV_PROPS,
        Role::NeedsChardev,
    ),
    plain(
        "usb-braille",
        BusKind::Usb,
        CHARDEV_PROPS,
        Role::NeedsChardev,
    ),
    plain("usb-net", BusKind::Usb, NIC_PROPS, Role::Nic),
    plain("usb-bt-dongle", BusKind::Usb, &[], Role::Plain),
    // virtio-serial ports.
    plain(
        "virtconsole",
        BusKind::VirtioSerial,
        CONSOLE_PORT_PROPS,
        Role::SerialPort { console: true },
    ),
    plain(
        "virtserialport",
        BusKind::VirtioSerial,
        SERIAL_PORT_PROPS,
        Role::SerialPort { console: false },
    ),
    // HDA codecs.
    plain("hda-output", BusKind::Hda, HDA_CODEC_PROPS, Role::Plain),
    plain("hda-duplex", BusKind::Hda, HDA_CODEC_PROPS, Role::Plain),
];

/// The settable properties (name and `PropertyInfo.name`) of the drivers of
/// 0.14's list that the model cannot create, for `-device DRIVER,?` only
/// (pointer properties, which have no parser, left out).
pub static HELP_ONLY_PROPS: &[(&str, &[(&str, &str)])] = &[
    // hw/virtio-pci.c:926
    (
        "virtio-9p-pci",
        &[
            ("vectors", "uint32"),
            ("indirect_desc", "on/off"),
            ("mount_tag", "string"),
            ("fsdev", "string"),
        ],
    ),
    // hw/ivshmem.c:813
    (
        "ivshmem",
        &[
            ("chardev", "chr"),
            ("size", "string"),
            ("vectors", "uint32"),
            ("ioeventfd", "on/off"),
            ("msi", "on/off"),
            ("shm", "string"),
            ("role", "string"),
        ],
    ),
    // usb-linux.c:1071
    (
        "usb-host",
        &[
            ("hostbus", "uint32"),
            ("hostaddr", "uint32"),
            ("vendorid", "hex32"),
            ("productid", "hex32"),
        ],
    ),
    ("usb-wacom-tablet", &[]),
    // hw/ioh3420.c:222, hw/xio3130_upstream.c:164, hw/xio3130_downstream.c:187
    (
        "ioh3420",
        &[
            ("port", "uint8"),
            ("chassis", "uint8"),
            ("slot", "uint16"),
            ("aer_log_max", "uint16"),
        ],
    ),
    (
        "x3130-upstream",
        &[("port", "uint8"), ("aer_log_max", "uint16")],
    ),
    (
        "xio3130-downstream",
        &[
            ("port", "uint8"),
            ("chassis", "uint8"),
            ("slot", "uint16"),
            ("aer_log_max", "uint16"),
        ],
    ),
    ("vt82c686b-usb-uhci", &[]),
    // hw/usb-ohci.c:1781: DEFINE_PROP_TADDR.
    (
        "sysbus-ohci",
        &[("num-ports", "uint32"), ("dma-offset", "taddr")],
    ),
    ("pci-ohci", &[]),
    // hw/fdc.c:2098, hw/fdc.c:2085
    ("SUNW,fdtwo", &[("drive", "drive")]),
    ("sysbus-fdc", &[("driveA", "drive"), ("driveB", "drive")]),
    // hw/ide/isa.c:108
    (
        "isa-ide",
        &[("iobase", "hex32"), ("iobase2", "hex32"), ("irq", "uint32")],
    ),
    ("piix4-ide", &[]),
    ("ich9-ahci", &[]),
    // hw/applesmc.c:229, hw/debugcon.c:95
    ("isa-applesmc", &[("iobase", "hex32"), ("osk", "string")]),
    (
        "isa-debugcon",
        &[
            ("iobase", "hex32"),
            ("chardev", "chr"),
            ("readback", "hex32"),
        ],
    ),
    // hw/qxl.c:1497, hw/qxl.c:1515
    ("qxl", QXL_HELP_PROPS),
    ("qxl-vga", QXL_HELP_PROPS),
];

const QXL_HELP_PROPS: &[(&str, &str)] = &[
    ("ram_size", "uint32"),
    ("vram_size", "uint32"),
    ("revision", "uint32"),
    ("debug", "uint32"),
    ("guestdebug", "uint32"),
    ("cmdlog", "uint32"),
];

/// `qdev_find_info`: a driver by name, then by alias.
pub fn find(name: &str) -> Option<&'static DriverInfo> {
    DRIVERS
        .iter()
        .find(|d| d.name == name)
        .or_else(|| DRIVERS.iter().find(|d| d.alias == Some(name)))
}

/// The driver of a name known to be in the table.
///
/// # Panics
/// If the name is not in [`DRIVERS`] (a programming error in the machine model).
pub fn get(name: &str) -> &'static DriverInfo {
    find(name).unwrap_or_else(|| panic!("driver {name} is in the catalogue"))
}

/// `qdev_prop_find`: the driver's own properties first, then its bus's.
pub fn find_prop(driver: &DriverInfo, name: &str) -> Option<PropDef> {
    driver
        .props
        .iter()
        .chain(driver.bus.props())
        .find(|p| p.name == name)
        .copied()
}

/// PCI NIC models accepted by `-net nic,model=` and `pci_add ... nic` on pc
/// (0.14's `pci_nic_models`), with the qdev driver each one creates.
pub const PCI_NIC_MODELS: &[(&str, &str)] = &[
    ("ne2k_pci", "ne2k_pci"),
    ("i82551", "i82551"),
    ("i82557b", "i82557b"),
    ("i82559er", "i82559er"),
    ("rtl8139", "rtl8139"),
    ("e1000", "e1000"),
    ("pcnet", "pcnet"),
    ("virtio", "virtio-net-pci"),
];

/// `pci_class_descriptions` of 0.14 hw/pci.c: the `desc` of a class code.
pub fn class_desc(class: u16) -> Option<&'static str> {
    const TABLE: &[(u16, &str)] = &[
        (0x0001, "VGA controller"),
        (0x0100, "SCSI controller"),
        (0x0101, "IDE controller"),
        (0x0102, "Floppy controller"),
        (0x0103, "IPI controller"),
        (0x0104, "RAID controller"),
        (0x0106, "SATA controller"),
        (0x0107, "SAS controller"),
        (0x0180, "Storage controller"),
        (0x0200, "Ethernet controller"),
        (0x0201, "Token Ring controller"),
        (0x0202, "FDDI controller"),
        (0x0203, "ATM controller"),
        (0x0280, "Network controller"),
        (0x0300, "VGA controller"),
        (0x0301, "XGA controller"),
        (0x0302, "3D controller"),
        (0x0380, "Display controller"),
        (0x0400, "Video controller"),
        (0x0401, "Audio controller"),
        (0x0402, "Phone"),
        (0x0480, "Multimedia controller"),
        (0x0500, "RAM controller"),
        (0x0501, "Flash controller"),
        (0x0580, "Memory controller"),
        (0x0600, "Host bridge"),
        (0x0601, "ISA bridge"),
        (0x0602, "EISA bridge"),
        (0x0603, "MC bridge"),
        (0x0604, "PCI bridge"),
        (0x0605, "PCMCIA bridge"),
        (0x0606, "NUBUS bridge"),
        (0x0607, "CARDBUS bridge"),
        (0x0608, "RACEWAY bridge"),
        (0x0680, "Bridge"),
        (0x0700, "Serial port"),
        (0x0701, "Parallel port"),
        (0x0800, "Interrupt controller"),
        (0x0801, "DMA controller"),
        (0x0802, "Timer"),
        (0x0803, "RTC"),
        (0x0900, "Keyboard"),
        (0x0901, "Pen"),
        (0x0902, "Mouse"),
        (0x0A00, "Dock station"),
        (0x0B00, "i386 cpu"),
        (0x0c00, "Fireware contorller"),
        (0x0c01, "Access bus controller"),
        (0x0c02, "SSA controller"),
        (0x0c03, "USB controller"),
        (0x0c04, "Fibre channel controller"),
    ];
    TABLE.iter().find(|(c, _)| *c == class).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    #[test]
    fn find_by_alias_gives_driver() {
        assert_eq!(find("virtio-blk").map(|d| d.name), Some("virtio-blk-pci"));
        assert_eq!(find("lsi").map(|d| d.name), Some("lsi53c895a"));
    }

    #[test]
    fn find_unknown_is_none() {
        assert!(find("nosuch").is_none());
    }

    #[test]
    fn driver_names_are_unique() {
        assert_eq!(repeated(DRIVERS.iter().map(|d| d.name)), Vec::<&str>::new());
    }

    #[test]
    fn bar_sizes_are_powers_of_two() {
        assert!(DRIVERS
            .iter()
            .filter_map(|d| d.pci)
            .flat_map(|p| p.bars.iter())
            .all(|b| b.size.is_power_of_two()));
    }

    #[test]
    fn pci_bus_props_follow_device_props() {
        let e1000 = get("e1000");
        assert_eq!(
            find_prop(e1000, "addr").map(|p| p.ty),
            Some(PropType::PciDevfn)
        );
        assert_eq!(find_prop(e1000, "mac").map(|p| p.ty), Some(PropType::Mac));
        assert!(find_prop(e1000, "drive").is_none());
    }

    #[test]
    fn prop_defaults_are_in_their_print_format() {
        let buses = [
            BusKind::Pci,
            BusKind::Usb,
            BusKind::Scsi,
            BusKind::Hda,
            BusKind::I2c,
        ];
        let bad: Vec<&str> = DRIVERS
            .iter()
            .flat_map(|d| d.props.iter())
            .chain(buses.iter().flat_map(|b| b.props().iter()))
            .filter(|p| {
                let d = p.default;
                !match p.ty {
                    PropType::Bit => d == "on" || d == "off",
                    PropType::Uint8 | PropType::Uint16 | PropType::Uint32 => {
                        d.parse::<u32>().is_ok()
                    }
                    PropType::Int32 => d.parse::<i32>().is_ok(),
                    PropType::Hex32 => d
                        .strip_prefix("0x")
                        .is_some_and(|h| u32::from_str_radix(h, 16).is_ok()),
                    PropType::Mac => d.len() == 17,
                    PropType::PciDevfn => d == "<unset>",
                    PropType::Str
                    | PropType::Drive
                    | PropType::Chr
                    | PropType::Netdev
                    | PropType::Vlan => d == "<null>",
                }
            })
            .map(|p| p.name)
            .collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            find_prop(get("e1000"), "bootindex").map(|p| p.default),
            Some("-1")
        );
    }

    #[test]
    fn class_desc_knows_0_14_table() {
        assert_eq!(class_desc(0x0680), Some("Bridge"));
        assert_eq!(class_desc(0x0780), None);
    }
}
