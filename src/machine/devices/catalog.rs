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
            BusKind::System
            | BusKind::Isa
            | BusKind::Ide
            | BusKind::VirtioSerial
            | BusKind::I2c => &[],
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

/// One property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropDef {
    /// Name.
    pub name: &'static str,
    /// Parser.
    pub ty: PropType,
}

const fn prop(name: &'static str, ty: PropType) -> PropDef {
    PropDef { name, ty }
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
}

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
}

const PCI_BUS_PROPS: &[PropDef] = &[
    prop("addr", PropType::PciDevfn),
    prop("romfile", PropType::Str),
    prop("rombar", PropType::Uint32),
    prop("multifunction", PropType::Bit),
    prop("command_serr_enable", PropType::Bit),
];

const USB_BUS_PROPS: &[PropDef] = &[prop("port", PropType::Str)];
const SCSI_BUS_PROPS: &[PropDef] = &[prop("scsi-id", PropType::Uint32)];
const HDA_BUS_PROPS: &[PropDef] = &[prop("cad", PropType::Uint32)];
const HDA_CODEC_PROPS: &[PropDef] = &[prop("debug", PropType::Uint32)];
const BALLOON_PROPS: &[PropDef] = &[prop("indirect_desc", PropType::Bit)];

const NIC_PROPS: &[PropDef] = &[
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop("bootindex", PropType::Int32),
];

const BLOCK_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop("logical_block_size", PropType::Uint16),
    prop("physical_block_size", PropType::Uint16),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop("bootindex", PropType::Int32),
    prop("discard_granularity", PropType::Uint32),
];

const VIRTIO_NET_PROPS: &[PropDef] = &[
    prop("ioeventfd", PropType::Bit),
    prop("vectors", PropType::Uint32),
    prop("indirect_desc", PropType::Bit),
    prop("csum", PropType::Bit),
    prop("guest_csum", PropType::Bit),
    prop("gso", PropType::Bit),
    prop("guest_tso4", PropType::Bit),
    prop("guest_tso6", PropType::Bit),
    prop("guest_ecn", PropType::Bit),
    prop("guest_ufo", PropType::Bit),
    prop("host_tso4", PropType::Bit),
    prop("host_tso6", PropType::Bit),
    prop("host_ecn", PropType::Bit),
    prop("host_ufo", PropType::Bit),
    prop("mrg_rxbuf", PropType::Bit),
    prop("status", PropType::Bit),
    prop("ctrl_vq", PropType::Bit),
    prop("ctrl_rx", PropType::Bit),
    prop("ctrl_vlan", PropType::Bit),
    prop("ctrl_rx_extra", PropType::Bit),
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop("bootindex", PropType::Int32),
    prop("x-txtimer", PropType::Uint32),
    prop("x-txburst", PropType::Int32),
    prop("tx", PropType::Str),
];

const VIRTIO_BLK_PROPS: &[PropDef] = &[
    prop("class", PropType::Hex32),
    prop("drive", PropType::Drive),
    prop("logical_block_size", PropType::Uint16),
    prop("physical_block_size", PropType::Uint16),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop("bootindex", PropType::Int32),
    prop("discard_granularity", PropType::Uint32),
    prop("ioeventfd", PropType::Bit),
    prop("vectors", PropType::Uint32),
    prop("indirect_desc", PropType::Bit),
    prop("scsi", PropType::Bit),
];

const VIRTIO_SERIAL_PROPS: &[PropDef] = &[
    prop("vectors", PropType::Uint32),
    prop("class", PropType::Hex32),
    prop("indirect_desc", PropType::Bit),
    prop("max_ports", PropType::Uint32),
];

const SERIAL_PORT_PROPS: &[PropDef] = &[
    prop("nr", PropType::Uint32),
    prop("chardev", PropType::Chr),
    prop("name", PropType::Str),
];

const CONSOLE_PORT_PROPS: &[PropDef] = &[
    prop("is_console", PropType::Uint8),
    prop("nr", PropType::Uint32),
    prop("chardev", PropType::Chr),
    prop("name", PropType::Str),
];

const ISA_SERIAL_PROPS: &[PropDef] = &[
    prop("index", PropType::Uint32),
    prop("iobase", PropType::Hex32),
    prop("irq", PropType::Uint32),
    prop("chardev", PropType::Chr),
];

const SCSI_DISK_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop("logical_block_size", PropType::Uint16),
    prop("physical_block_size", PropType::Uint16),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop("bootindex", PropType::Int32),
    prop("discard_granularity", PropType::Uint32),
    prop("ver", PropType::Str),
    prop("serial", PropType::Str),
    prop("removable", PropType::Bit),
];

const IDE_DRIVE_PROPS: &[PropDef] = &[
    prop("unit", PropType::Uint32),
    prop("drive", PropType::Drive),
    prop("logical_block_size", PropType::Uint16),
    prop("physical_block_size", PropType::Uint16),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop("bootindex", PropType::Int32),
    prop("discard_granularity", PropType::Uint32),
    prop("ver", PropType::Str),
    prop("serial", PropType::Str),
];

const USB_STORAGE_PROPS: &[PropDef] = &[
    prop("drive", PropType::Drive),
    prop("logical_block_size", PropType::Uint16),
    prop("physical_block_size", PropType::Uint16),
    prop("min_io_size", PropType::Uint16),
    prop("opt_io_size", PropType::Uint32),
    prop("bootindex", PropType::Int32),
    prop("discard_granularity", PropType::Uint32),
    prop("removable", PropType::Bit),
];

const CHARDEV_PROPS: &[PropDef] = &[prop("chardev", PropType::Chr)];

const FDC_PROPS: &[PropDef] = &[
    prop("driveA", PropType::Drive),
    prop("driveB", PropType::Drive),
    prop("bootindexA", PropType::Int32),
    prop("bootindexB", PropType::Int32),
];

const NE2K_ISA_PROPS: &[PropDef] = &[
    prop("iobase", PropType::Hex32),
    prop("irq", PropType::Uint32),
    prop("mac", PropType::Mac),
    prop("vlan", PropType::Vlan),
    prop("netdev", PropType::Netdev),
    prop("bootindex", PropType::Int32),
];

const SB16_PROPS: &[PropDef] = &[
    prop("version", PropType::Hex32),
    prop("iobase", PropType::Hex32),
    prop("irq", PropType::Uint32),
    prop("dma", PropType::Uint32),
    prop("dma16", PropType::Uint32),
];

const PIIX4_PM_PROPS: &[PropDef] = &[prop("smb_io_base", PropType::Uint32)];

const E100_BARS: &[BarDef] = &[mem(0, 0x1000, true), io(1, 64), mem(2, 0x20000, false)];

/// An Intel EEPRO100 family member (hw/eepro100.c): the ROM image named there
/// is not shipped with 0.14, so these cards have no ROM BAR.
const fn e100(name: &'static str, device: u16) -> DriverInfo {
    pci_driver(
        name,
        NIC_PROPS,
        PciInfo {
            vendor: 0x8086,
            device,
            class: 0x0200,
            pin: 1,
            bars: E100_BARS,
            rom_bytes: 0,
            no_hotplug: false,
            msix_vectors_default: None,
        },
        Role::Nic,
    )
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
    DriverInfo {
        child_buses: &[(BusKind::Isa, false)],
        ..internal("isabus-bridge", BusKind::System)
    },
    internal("i8042", BusKind::Isa),
    internal("mc146818rtc", BusKind::Isa),
    // no_user in 0.14.0 (hw/fdc.c:2056): -device and device_add refuse it.
    DriverInfo {
        props: FDC_PROPS,
        ..internal("isa-fdc", BusKind::Isa)
    },
    // Display adapters.
    pci_driver(
        "cirrus-vga",
        &[],
        PciInfo {
            rom_bytes: 0x10000,
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
            ..pci_ids(0x10ec, 0x8029, 0x0200, 1, &[io(0, 0x100)])
        },
        Role::Nic,
    ),
    pci_driver(
        "pcnet",
        NIC_PROPS,
        PciInfo {
            rom_bytes: 0x10000,
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
    e100("i82559c", 0x1229),
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
                ..pci_ids(0x1af4, 0x1003, 0x0780, 1, &[io(0, 0x20)])
            },
            Role::Plain,
        )
    },
    pci_driver(
        "virtio-balloon-pci",
        BALLOON_PROPS,
        pci_ids(0x1af4, 0x1002, 0x0500, 1, &[io(0, 0x20)]),
        Role::Plain,
    ),
    // Storage controllers.
    DriverInfo {
        alias: Some("lsi"),
        child_buses: &[(BusKind::Scsi, true)],
        ..pci_driver(
            "lsi53c895a",
            &[],
            pci_ids(
                0x1000,
                0x0012,
                0x0100,
                1,
                &[io(0, 256), mem(1, 0x400, false), mem(2, 0x2000, false)],
            ),
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
        pci_ids(0x1274, 0x5000, 0x0401, 1, &[io(0, 256)]),
        Role::Plain,
    ),
    pci_driver(
        "AC97",
        &[],
        pci_ids(0x8086, 0x2415, 0x0401, 1, &[io(0, 1024), io(1, 256)]),
        Role::Plain,
    ),
    DriverInfo {
        child_buses: &[(BusKind::Hda, false)],
        ..pci_driver(
            "intel-hda",
            &[],
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
    fn class_desc_knows_0_14_table() {
        assert_eq!(class_desc(0x0680), Some("Bridge"));
        assert_eq!(class_desc(0x0780), None);
    }
}
