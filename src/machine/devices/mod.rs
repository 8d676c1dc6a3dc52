//! The devices of QEMU 0.14's default `pc` machine and the simulated guest that
//! drives them: block devices, the qdev tree with the PCI bus, VCPUs, character
//! devices, mouse handlers, network clients.
//!
//! [`Devices::new`] builds the machine a configuration describes in the order
//! 0.14's `pc_init1` and `vl.c` create things (chipset, VGA, `-net nic` cards, IDE,
//! USB, ACPI, SCSI, ISA ports, then `-device`, `-balloon` and virtio drives), so
//! uids, slots, names and list orders come out as in 0.14. Every collection is a
//! `Vec` in creation order. Guest reactions (firmware, ACPI power-down, hotplug,
//! I/O) are in [`guest`]; they need the clock and rng, so they are `Machine`
//! methods. No I/O anywhere.

pub mod add;
pub mod block;
pub mod catalog;
pub mod cfmt;
pub mod chardev;
pub mod cpu;
pub mod drive_opts;
pub mod guest;
pub mod mouse;
pub mod net;
pub mod pci;
pub mod qdev;
pub mod qdm;
pub mod qtree;
pub mod slirp;
pub mod usb;

use serde::{Deserialize, Serialize};

use crate::machine::config::{MachineConfig, OptionList};
use block::{Block, DriveIf};
use catalog::{BusKind, Role};
use chardev::Chardevs;
use cpu::Cpus;
use guest::Guest;
use mouse::Mice;
use net::{Net, NicSpec};
use pci::{Firmware, PciFunction, FUNCTIONS_PER_SLOT};
use qdev::{Device, Qdev};
use usb::Usb;

/// The devfn of the PIIX3 ISA bridge (slot 1, function 0).
pub const PIIX3_DEVFN: u8 = 8;

/// Everything the machine has besides its run state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devices {
    /// Block devices.
    pub block: Block,
    /// Network clients.
    pub net: Net,
    /// VCPUs.
    pub cpus: Cpus,
    /// Mouse handlers.
    pub mice: Mice,
    /// Character devices.
    pub chardevs: Chardevs,
    /// The device tree.
    pub qdev: Qdev,
    /// USB buses, ports and addresses.
    pub usb: Usb,
    /// The PCI firmware state.
    pub firmware: Firmware,
    /// The simulated guest.
    pub guest: Guest,
}

impl Devices {
    /// Builds the machine of a configuration, before any guest code ran.
    pub fn new(config: &MachineConfig) -> Devices {
        let user_drivers: Vec<&str> = config
            .devices
            .iter()
            .filter_map(|d| d.get("driver"))
            .collect();
        let has = |names: &[&str]| user_drivers.iter().any(|d| names.contains(d));
        let chardevs = Chardevs::from_config(config, has(&["isa-serial"]), has(&["isa-parallel"]));
        let mut mice = Mice::default();
        if chardevs.has_msmouse() {
            // The msmouse chardev registers its handler before the machine exists.
            mice.add("QEMU Microsoft Mouse", false, None);
        }
        let mut devices = Devices {
            block: Block::from_config(config, has(&["ide-drive"]), has(&["isa-fdc"])),
            net: Net::from_config(config),
            cpus: Cpus::new(config.smp),
            mice,
            chardevs,
            qdev: Qdev::default(),
            usb: Usb::default(),
            firmware: Firmware::default(),
            guest: Guest::default(),
        };
        devices.build_board(config, vga_card(config, &user_drivers));
        for name in &config.usb_devices {
            // The command line was checked: a name 0.14 refuses is not here.
            let _ = devices.usb_device_add(name, false);
        }
        devices.add_config_devices(config);
        devices.update_hotplug_slots();
        devices
    }

    /// `pc_init1` (hw/pc_piix.c:63): the chipset and the devices the command
    /// line implies, in its order.
    fn build_board(&mut self, config: &MachineConfig, vga: Option<&str>) {
        // pc_cpus_init -> pc_new_cpu (hw/pc.c:912): an APIC per CPU when the
        // model has one or there are several CPUs; `id` is the CPU index.
        if config.smp > 1 || cpu_has_apic(config.cpu_model.as_deref()) {
            for cpu in 0..config.smp {
                let apic = self.internal("apic", Qdev::ROOT, None);
                self.set_board_prop(apic, "id", &cpu.to_string());
            }
        }
        // pc_memory_init -> bochs_bios_init (hw/pc.c:586): fw_cfg on the
        // BIOS_CFG_IOPORT pair, its MMIO regions unmapped.
        let fw_cfg = self.internal("fw_cfg", Qdev::ROOT, None);
        self.set_board_prop(fw_cfg, "ctl_iobase", "0x510");
        self.set_board_prop(fw_cfg, "data_iobase", "0x511");
        self.internal("ioapic", Qdev::ROOT, None);
        // i440fx_init (hw/piix_pci.c:219); PIIX3's init makes the ISA bus its
        // child (hw/piix_pci.c:333).
        let host = self.internal("i440FX-pcihost", Qdev::ROOT, None);
        let pci_bus = self.first_child_bus(host);
        // PIIX4 power management makes the bus hotplug-capable (`pci_bus_hotplug`).
        if config.no_acpi {
            self.qdev.forbid_hotplug(pci_bus);
        }
        self.internal("i440FX", pci_bus, Some(0));
        let piix3 = self.internal("PIIX3", pci_bus, Some(PIIX3_DEVFN));
        if let Some(p) = self.qdev.device_mut(piix3).and_then(|d| d.pci.as_mut()) {
            p.multifunction = true;
        }
        let isa_bus = self.first_child_bus(piix3);
        if let Some(driver) = vga {
            self.internal(driver, pci_bus, None);
        }
        // pc_basic_device_init (hw/pc.c:1085): HPET, RTC, serial and parallel
        // ports, i8042, port92, and the floppy controller, which it always
        // creates.
        if !config.no_hpet {
            self.internal("hpet", Qdev::ROOT, None);
        }
        let rtc = self.internal("mc146818rtc", isa_bus, None);
        self.set_board_prop(rtc, "base_year", "2000");
        for prefix in ["serial", "parallel"] {
            for c in self.chardevs.list.clone() {
                if c.label.starts_with(prefix) {
                    self.internal(&format!("isa-{prefix}"), isa_bus, None);
                }
            }
        }
        self.internal("i8042", isa_bus, None);
        self.mice.add("QEMU PS/2 Mouse", false, None);
        self.internal("port92", isa_bus, None);
        let fdc = self.internal("isa-fdc", isa_bus, None);
        self.attach_existing(DriveIf::Floppy, fdc);
        self.add_legacy_nics(pci_bus, isa_bus);
        let ide = self.internal("piix3-ide", pci_bus, Some(PIIX3_DEVFN + 1));
        let ide_buses = self.child_bus_uids(ide);
        self.attach_drives(DriveIf::Ide, "ide-drive", |bus| {
            ide_buses.get(bus as usize).copied()
        });
        // audio_init (arch_init.c): the enabled cards in table order; the PC
        // speaker is no qdev device.
        for card in &config.sound_cards {
            match card.as_str() {
                "sb16" => {
                    self.internal("sb16", isa_bus, None);
                }
                "ac97" => {
                    self.internal("AC97", pci_bus, None);
                }
                "es1370" => {
                    self.internal("ES1370", pci_bus, None);
                }
                "hda" => {
                    // intel_hda_and_codec_init (hw/intel-hda.c:1296).
                    let hda = self.internal("intel-hda", pci_bus, None);
                    let codecs = self.first_child_bus(hda);
                    self.internal("hda-duplex", codecs, None);
                }
                _ => {}
            }
        }
        if config.usb {
            self.internal("piix3-usb-uhci", pci_bus, Some(PIIX3_DEVFN + 2));
        }
        // 0.14's pc_init1 creates the PIIX4 power management only with ACPI,
        // and on its SMBus eight SPD EEPROMs at 0x50..0x57 (hw/pc_piix.c:173).
        if !config.no_acpi {
            let pm = self.internal("PIIX4_PM", pci_bus, Some(PIIX3_DEVFN + 3));
            let i2c = self.first_child_bus(pm);
            for address in SMBUS_EEPROM_ADDRESSES {
                let eeprom = self.internal("smbus-eeprom", i2c, None);
                self.set_board_prop(eeprom, "address", &address.to_string());
            }
        }
        self.add_scsi_controllers(pci_bus);
    }

    /// A property the board sets before init (`qdev_prop_set_*`), which `info
    /// qtree` then prints.
    fn set_board_prop(&mut self, device: u64, name: &str, value: &str) {
        if let Some(dev) = self.qdev.device_mut(device) {
            dev.props.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The NICs of `-net nic` options, in order, with MAC 52:54:00:12:34:56+N.
    fn add_legacy_nics(&mut self, pci_bus: u64, isa_bus: u64) {
        let nics = std::mem::take(&mut self.net.pending_nics);
        let mut isa_nics = 0;
        for (idx, nic) in nics.iter().enumerate() {
            let model = nic.get("model").unwrap_or("e1000");
            let (driver, bus) = if model == "ne2k_isa" {
                // pc_init_ne2k_isa (hw/pc.c:832): at most six, each with its
                // I/O base and IRQ; past them the NIC is silently left out.
                let Some((iobase, irq)) = NE2K_ISA_RESOURCES.get(isa_nics) else {
                    continue;
                };
                isa_nics += 1;
                let uid = self.internal("ne2k_isa", isa_bus, None);
                self.set_board_prop(uid, "iobase", &format!("{iobase:#x}"));
                self.set_board_prop(uid, "irq", &irq.to_string());
                self.add_legacy_nic(nic, idx, "ne2k_isa", uid);
                continue;
            } else {
                match catalog::PCI_NIC_MODELS.iter().find(|(m, _)| *m == model) {
                    Some((_, driver)) => (*driver, pci_bus),
                    None => continue,
                }
            };
            let devfn = nic
                .get("addr")
                .and_then(cfmt::scan_hex)
                .and_then(|(slot, _)| u8::try_from(slot).ok())
                .filter(|slot| *slot < pci::SLOTS)
                .map(|slot| slot * FUNCTIONS_PER_SLOT);
            let uid = self.internal(driver, bus, devfn);
            self.add_legacy_nic(nic, idx, driver, uid);
        }
    }

    /// The NIC client of the `idx`-th `-net nic`, for its device `uid`.
    fn add_legacy_nic(&mut self, nic: &OptionList, idx: usize, driver: &'static str, uid: u64) {
        let mut mac = net::MAC_BASE;
        mac[5] = mac[5].wrapping_add(u8::try_from(idx).unwrap_or(u8::MAX));
        let netdev = nic.get("netdev");
        self.net.add_nic(NicSpec {
            model: driver,
            id: None,
            vlan: netdev.is_none().then(|| nic_vlan(nic)),
            netdev,
            mac: Some(mac),
            device: uid,
        });
    }

    /// One lsi53c895a per SCSI bus the drives use, with a scsi-disk per drive.
    fn add_scsi_controllers(&mut self, pci_bus: u64) {
        let buses: Vec<u32> = self
            .block
            .drives
            .iter()
            .filter(|d| d.interface == DriveIf::Scsi)
            .map(|d| d.bus)
            .collect();
        let Some(max) = buses.iter().max().copied() else {
            return;
        };
        let mut scsi_buses = Vec::new();
        for _ in 0..=max {
            let lsi = self.internal("lsi53c895a", pci_bus, None);
            scsi_buses.push(self.first_child_bus(lsi));
        }
        self.attach_drives(DriveIf::Scsi, "scsi-disk", |bus| {
            scsi_buses.get(bus as usize).copied()
        });
    }

    /// One storage device per drive of an interface, on the bus `bus_of` maps its
    /// bus number to.
    fn attach_drives(
        &mut self,
        interface: DriveIf,
        driver: &str,
        bus_of: impl Fn(u32) -> Option<u64>,
    ) {
        let drives: Vec<(String, u32, u32)> = self
            .block
            .drives
            .iter()
            .filter(|d| d.interface == interface)
            .map(|d| (d.name.clone(), d.bus, d.unit))
            .collect();
        for (name, bus, unit) in drives {
            let Some(bus) = bus_of(bus) else { continue };
            let scsi_id = (interface == DriveIf::Scsi).then_some(unit);
            self.drive_device(driver, bus, &name, scsi_id);
        }
    }

    /// A built-in storage device of `driver` on `bus`, bound to drive `name`
    /// (its `drive` property) at SCSI target `scsi_id` when given.
    fn drive_device(&mut self, driver: &str, bus: u64, name: &str, scsi_id: Option<u32>) -> u64 {
        let uid = self.internal(driver, bus, None);
        if let Some(dev) = self.qdev.device_mut(uid) {
            dev.props.push(("drive".to_owned(), name.to_owned()));
            dev.scsi_id = scsi_id;
        }
        let _ = self.block.attach(name, uid);
        uid
    }

    fn attach_existing(&mut self, interface: DriveIf, device: u64) {
        let names: Vec<String> = self
            .block
            .drives
            .iter()
            .filter(|d| d.interface == interface)
            .map(|d| d.name.clone())
            .collect();
        for name in names {
            let _ = self.block.attach(&name, device);
        }
    }

    /// `-device`, then `-balloon virtio`, then the devices of `if=virtio` drives,
    /// then the `-watchdog` model (0.14's `select_watchdog` appends it to the
    /// device options after the command line is parsed), through the same path
    /// as device_add (without the hotplug checks). A device 0.14 would refuse
    /// (making QEMU exit) is left out.
    fn add_config_devices(&mut self, config: &MachineConfig) {
        let mut groups: Vec<OptionList> = config.devices.clone();
        if let Some(b) = config
            .balloon
            .as_ref()
            .filter(|b| b.items.iter().any(|(k, v)| k == "virtio" || v == "virtio"))
        {
            let mut opts = OptionList::from_iter([("driver", "virtio-balloon-pci")]);
            for (k, v) in b
                .items
                .iter()
                .filter(|(k, v)| k != "virtio" && v != "virtio")
            {
                opts.push(k, v);
            }
            groups.push(opts);
        }
        for d in self
            .block
            .drives
            .iter()
            .filter(|d| d.interface == DriveIf::Virtio)
        {
            let mut opts = OptionList::from_iter([("driver", "virtio-blk-pci")]);
            opts.push("drive", &d.name);
            if let Some(addr) = &d.devaddr {
                opts.push("addr", addr);
            }
            groups.push(opts);
        }
        if let Some(model) = config.watchdog {
            let mut opts = OptionList::default();
            opts.push("driver", model.driver());
            groups.push(opts);
        }
        for g in groups {
            let opts: Vec<(String, String)> =
                g.items.iter().filter(|(k, _)| k != "id").cloned().collect();
            let _ = self.device_add(g.get("id"), &opts, false);
        }
    }

    /// Creates a built-in device without property checks. PCI devices take
    /// `devfn` or the first free slot.
    fn internal(&mut self, driver: &str, bus: u64, devfn: Option<u8>) -> u64 {
        let info = catalog::get(driver);
        let pci = info.pci.map(|p| {
            let devfn = devfn.or_else(|| self.free_slot_devfn()).unwrap_or(0);
            let vectors = p.msix_vectors_default.unwrap_or(0);
            PciFunction::new(&p, devfn, p.class, vectors, p.rom_bytes)
        });
        let uid = self.qdev.add_device(Device {
            uid: 0,
            driver: info.name.to_owned(),
            id: None,
            bus,
            props: Vec::new(),
            user: false,
            hotplugged: false,
            unplug_requested: false,
            pci,
            port_nr: None,
            max_ports: None,
            scsi_id: None,
        });
        self.add_child_buses(uid, info);
        uid
    }

    /// The buses a device's init creates (the catalogue's `child_buses`), in
    /// order; a USB bus gets its root ports.
    fn add_child_buses(&mut self, uid: u64, info: &catalog::DriverInfo) {
        for &(kind, hotplug_ok) in info.child_buses {
            // pm_smbus_init (hw/pm_smbus.c) names the PIIX4 SMBus, the only
            // I2C bus of the pc machine.
            let name = (kind == BusKind::I2c).then_some("i2c");
            let child = self.qdev.add_bus(uid, kind, hotplug_ok, name);
            if kind == BusKind::Usb {
                self.usb.add_bus(child, usb::UHCI_PORTS);
            }
        }
    }

    /// The uids of a device's child buses in creation order.
    fn child_bus_uids(&self, device: u64) -> Vec<u64> {
        let mut uids: Vec<u64> = self
            .qdev
            .child_buses(device)
            .iter()
            .map(|b| b.uid)
            .collect();
        uids.reverse();
        uids
    }

    /// A device's first child bus, which the catalogue gives its driver.
    fn first_child_bus(&self, device: u64) -> u64 {
        self.child_bus_uids(device)
            .first()
            .copied()
            .expect("the catalogue gives this driver a child bus")
    }

    /// The first slot whose function 0 is free (`devfn_min` is 0 on pc).
    pub fn free_slot_devfn(&self) -> Option<u8> {
        (0..pci::SLOTS)
            .map(|s| s * FUNCTIONS_PER_SLOT)
            .find(|devfn| self.qdev.at_devfn(*devfn).is_none())
    }

    /// Recomputes which slots take ACPI hotplug events (at creation and reset).
    pub fn update_hotplug_slots(&mut self) {
        let functions: Vec<&PciFunction> = self
            .qdev
            .devices
            .iter()
            .filter_map(|d| d.pci.as_ref())
            .collect();
        self.firmware.update_hotplug_slots(&functions);
    }

    /// Runs the BIOS over every PCI function.
    pub fn run_firmware(&mut self) {
        let mut functions: Vec<&mut PciFunction> = self
            .qdev
            .devices
            .iter_mut()
            .filter_map(|d| d.pci.as_mut())
            .collect();
        functions.sort_by_key(|f| f.devfn);
        self.firmware.run(&mut functions);
    }

    /// `qemu_system_reset` for the devices: CPUs to the reset vector, PCI
    /// configuration cleared, firmware to run again.
    pub fn reset(&mut self) {
        self.cpus.reset();
        for f in self.qdev.devices.iter_mut().filter_map(|d| d.pci.as_mut()) {
            f.reset();
        }
        self.firmware.done = false;
        self.usb.reset();
        self.update_hotplug_slots();
    }
}

/// The display adapter `pc_vga_init` creates: the last `-vga` type's, else
/// (vl.c:2842) Cirrus unless `-nodefaults` or a `-device` display adapter
/// cleared `default_vga`. `-nographic` keeps the card.
fn vga_card(config: &MachineConfig, user_drivers: &[&str]) -> Option<&'static str> {
    match config.vga {
        Some(vga) => vga.driver(),
        None => {
            let given = user_drivers
                .iter()
                .any(|d| catalog::find(d).is_some_and(|i| i.role == Role::Vga));
            (!config.nodefaults && !given).then_some("cirrus-vga")
        }
    }
}

/// I/O bases and IRQs of the pc's ISA NE2000 cards by index (`ne2000_io`
/// and `ne2000_irq`, hw/pc.c:825).
const NE2K_ISA_RESOURCES: [(u32, u32); 6] = [
    (0x300, 9),
    (0x320, 10),
    (0x340, 11),
    (0x360, 3),
    (0x280, 4),
    (0x380, 5),
];

/// The SMBus addresses of the board's SPD EEPROMs (`0x50 + i`).
const SMBUS_EEPROM_ADDRESSES: std::ops::Range<u8> = 0x50..0x58;

/// Whether the VCPUs of a `-cpu` model have an APIC (`CPUID_APIC`): every
/// model of 0.14's table but `486` (target-i386/cpuid.c:233), after the
/// `+apic` and `-apic` flags (`-` wins, as `cpu_x86_find_by_name` applies the
/// plus features first).
fn cpu_has_apic(model: Option<&str>) -> bool {
    let mut parts = model.unwrap_or("qemu64").split(',');
    let name = parts.next().unwrap_or_default();
    let flags: Vec<&str> = parts.collect();
    if flags.contains(&"-apic") {
        return false;
    }
    name != "486" || flags.contains(&"+apic")
}

/// `-net nic,vlan=N` (0 by default).
fn nic_vlan(nic: &OptionList) -> u32 {
    nic.get("vlan")
        .and_then(cfmt::scan_int)
        .map_or(0, i32::unsigned_abs)
}

/// Owned `(key, value)` options from literals, for tests.
#[cfg(test)]
pub(crate) fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(d: &Devices) -> Vec<(u8, &str)> {
        d.qdev
            .pci_functions()
            .iter()
            .map(|(dev, f)| (f.devfn, dev.driver.as_str()))
            .collect()
    }

    #[test]
    fn default_pc_has_014_pci_layout() {
        let d = Devices::new(&MachineConfig::default());
        assert_eq!(
            slots(&d),
            [
                (0, "i440FX"),
                (8, "PIIX3"),
                (9, "piix3-ide"),
                (11, "PIIX4_PM"),
                (16, "cirrus-vga"),
                (24, "e1000")
            ]
        );
    }

    #[test]
    fn nodefaults_drops_vga_and_nic() {
        let d = Devices::new(&MachineConfig {
            nodefaults: true,
            ..Default::default()
        });
        assert_eq!(slots(&d).len(), 4);
    }

    #[test]
    fn vga_option_chooses_the_card_and_none_leaves_slot_2_free() {
        use crate::machine::config::VgaType;
        let card = |vga: Option<VgaType>, nodefaults: bool, devices: Vec<OptionList>| {
            let d = Devices::new(&MachineConfig {
                vga,
                nodefaults,
                devices,
                ..Default::default()
            });
            slots(&d)
                .iter()
                .find(|(devfn, _)| *devfn == 16)
                .map(|(_, driver)| (*driver).to_owned())
        };
        assert_eq!(card(None, false, vec![]).as_deref(), Some("cirrus-vga"));
        assert_eq!(
            card(Some(VgaType::Std), false, vec![]).as_deref(),
            Some("VGA")
        );
        assert_eq!(
            card(Some(VgaType::Vmware), false, vec![]).as_deref(),
            Some("vmware-svga")
        );
        assert_eq!(
            card(Some(VgaType::Cirrus), true, vec![]).as_deref(),
            Some("cirrus-vga")
        );
        for none in [VgaType::None, VgaType::Xenfb, VgaType::Qxl] {
            assert_ne!(
                card(Some(none), false, vec![]).as_deref(),
                Some("cirrus-vga")
            );
        }
        assert_eq!(card(None, true, vec![]), None);
        // A -device display adapter clears default_vga; it takes the first
        // free slot after the board's devices.
        let vga = OptionList::from_iter([("driver", "VGA")]);
        assert_eq!(card(None, false, vec![vga]).as_deref(), Some("e1000"));
    }

    #[test]
    fn no_hpet_leaves_the_system_bus_without_one() {
        let has_hpet = |no_hpet| {
            Devices::new(&MachineConfig {
                no_hpet,
                ..Default::default()
            })
            .qdev
            .devices
            .iter()
            .any(|d| d.driver == "hpet")
        };
        assert_eq!((has_hpet(false), has_hpet(true)), (true, false));
    }

    #[test]
    fn sound_cards_follow_ide_in_table_order() {
        let d = Devices::new(&MachineConfig {
            sound_cards: ["sb16", "ac97", "es1370", "hda"]
                .map(str::to_owned)
                .to_vec(),
            ..Default::default()
        });
        assert_eq!(
            slots(&d)[5..],
            [
                (24, "e1000"),
                (32, "AC97"),
                (40, "ES1370"),
                (48, "intel-hda")
            ]
        );
        assert!(d.qdev.devices.iter().any(|x| x.driver == "sb16"));
        assert!(d.qdev.devices.iter().any(|x| x.driver == "hda-duplex"));
    }

    #[test]
    fn isa_ne2000_cards_take_the_board_resources_and_stop_at_six() {
        let nic = OptionList::from_iter([("type", "nic"), ("model", "ne2k_isa")]);
        let d = Devices::new(&MachineConfig {
            nets: vec![nic; 7],
            ..Default::default()
        });
        let cards: Vec<Vec<(String, String)>> = d
            .qdev
            .devices
            .iter()
            .filter(|x| x.driver == "ne2k_isa")
            .map(|x| x.props.clone())
            .collect();
        assert_eq!(cards.len(), 6);
        assert_eq!(
            cards[1],
            [
                ("iobase".to_owned(), "0x320".to_owned()),
                ("irq".to_owned(), "10".to_owned())
            ]
        );
        assert_eq!(d.net.clients.iter().filter(|c| c.nic).count(), 6);
    }

    #[test]
    fn usb_adds_uhci_at_1_2() {
        let d = Devices::new(&MachineConfig {
            usb: true,
            ..Default::default()
        });
        assert!(slots(&d).contains(&(10, "piix3-usb-uhci")));
    }

    #[test]
    fn balloon_virtio_goes_after_default_nic() {
        let b = OptionList::from_iter([("type", "virtio")]);
        let d = Devices::new(&MachineConfig {
            balloon: Some(b),
            ..Default::default()
        });
        assert!(slots(&d).contains(&(32, "virtio-balloon-pci")));
    }

    #[test]
    fn default_drives_are_attached_except_sd() {
        let d = Devices::new(&MachineConfig::default());
        let attached: Vec<bool> = d
            .block
            .drives
            .iter()
            .map(|d| d.attached.is_some())
            .collect();
        assert_eq!(attached, [true, true, false]);
    }

    #[test]
    fn default_nic_is_e1000_on_vlan0_after_user() {
        let d = Devices::new(&MachineConfig::default());
        let names: Vec<&str> = d.net.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["user.0", "e1000.0"]);
    }

    fn encode(d: &Devices) -> Vec<u8> {
        bincode::serde::encode_to_vec(d, bincode::config::standard()).unwrap()
    }

    #[test]
    fn roundtrip_save_restore_save_is_equal() {
        let d = Devices::new(&MachineConfig::default());
        let bytes = encode(&d);
        let (back, _): (Devices, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, d);
        assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn roundtrip_mutation_changes_encoding() {
        let d = Devices::new(&MachineConfig::default());
        let mut m = d.clone();
        m.run_firmware();
        assert_ne!(encode(&m), encode(&d));
    }

    #[test]
    fn watchdog_i6300esb_goes_on_pci_after_default_nic() {
        let d = Devices::new(&MachineConfig {
            watchdog: Some(crate::machine::watchdog::WatchdogModel::I6300esb),
            ..MachineConfig::default()
        });
        assert_eq!(slots(&d).last(), Some(&(32, "i6300esb")));
    }

    #[test]
    fn watchdog_ib700_goes_on_isa() {
        let d = Devices::new(&MachineConfig {
            watchdog: Some(crate::machine::watchdog::WatchdogModel::Ib700),
            ..MachineConfig::default()
        });
        assert!(d.qdev.devices.iter().any(|x| x.driver == "ib700"));
    }

    #[test]
    fn firmware_routes_each_pin_by_slot_and_programs_every_function_it_touches() {
        let mut d = Devices::new(&MachineConfig {
            usb: true,
            devices: vec![list(&[("driver", "rtl8139")]); 4],
            ..MachineConfig::default()
        });
        d.run_firmware();
        let functions = d.qdev.pci_functions();
        let irq = |devfn: u8| {
            let (_, f) = functions.iter().find(|(_, f)| f.devfn == devfn).unwrap();
            f.irq_line
        };
        // SeaBIOS: PIRQ (pin - 1 + slot - 1) & 3 of the links 10, 10, 11, 11;
        // PIIX4 power management takes the SCI line.
        let slots = [(3, 11), (4, 11), (5, 10), (6, 10), (7, 11)];
        for (slot, line) in slots {
            assert_eq!(irq(slot * 8), line, "slot {slot}");
        }
        assert_eq!(irq(PIIX3_DEVFN + 2), 11, "UHCI, pin D of slot 1");
        assert_eq!(irq(PIIX3_DEVFN + 3), 9, "PIIX4_PM");
        for (dev, f) in &functions {
            let touched = f.pin != 0 || !f.bars.is_empty() || dev.driver == "PIIX4_PM";
            assert_eq!(f.programmed(), touched, "{}", dev.driver);
        }
    }

    #[test]
    fn reset_unprograms_pci() {
        let mut d = Devices::new(&MachineConfig::default());
        d.run_firmware();
        d.reset();
        assert!(d
            .qdev
            .devices
            .iter()
            .filter_map(|x| x.pci.as_ref())
            .all(|f| !f.programmed()));
    }

    fn uid_of(d: &Devices, driver: &str) -> u64 {
        d.qdev
            .devices
            .iter()
            .find(|x| x.driver == driver)
            .unwrap_or_else(|| panic!("{driver} is on the board"))
            .uid
    }

    use crate::test_util::{option_list as list, raw_drive as drive};

    #[test]
    fn each_device_has_the_buses_its_014_init_creates() {
        let d = Devices::new(&MachineConfig {
            usb: true,
            sound_cards: vec!["hda".into()],
            drives: vec![
                drive(&[("file", "s.img"), ("if", "scsi")]),
                drive(&[("file", "u.img"), ("if", "none"), ("id", "u")]),
            ],
            devices: vec![
                list(&[("driver", "piix4-usb-uhci"), ("id", "uhci4")]),
                list(&[("driver", "virtio-serial-pci")]),
                list(&[
                    ("driver", "usb-storage"),
                    ("drive", "u"),
                    ("bus", "uhci4.0"),
                ]),
            ],
            ..MachineConfig::default()
        });
        let buses = |driver: &str| -> Vec<(String, BusKind, bool)> {
            d.child_bus_uids(uid_of(&d, driver))
                .into_iter()
                .map(|uid| d.qdev.bus(uid))
                .map(|b| (b.name.clone(), b.kind, b.allow_hotplug))
                .collect()
        };
        type Buses<'a> = &'a [(&'a str, BusKind, bool)];
        let want: [(&str, Buses); 10] = [
            ("i440FX-pcihost", &[("pci.0", BusKind::Pci, true)]),
            ("PIIX3", &[("isa.0", BusKind::Isa, false)]),
            (
                "piix3-ide",
                &[
                    ("ide.0", BusKind::Ide, false),
                    ("ide.1", BusKind::Ide, false),
                ],
            ),
            ("PIIX4_PM", &[("i2c", BusKind::I2c, false)]),
            ("piix3-usb-uhci", &[("usb.0", BusKind::Usb, true)]),
            ("intel-hda", &[("hda.0", BusKind::Hda, false)]),
            ("lsi53c895a", &[("scsi.0", BusKind::Scsi, true)]),
            ("piix4-usb-uhci", &[("uhci4.0", BusKind::Usb, true)]),
            (
                "virtio-serial-pci",
                &[("virtio-serial-bus.0", BusKind::VirtioSerial, true)],
            ),
            ("usb-storage", &[("scsi.0", BusKind::Scsi, false)]),
        ];
        for (driver, expected) in want {
            let expected: Vec<_> = expected
                .iter()
                .map(|&(n, k, h)| (n.to_owned(), k, h))
                .collect();
            assert_eq!(buses(driver), expected, "{driver}");
        }
        assert!(d.qdev.devices.iter().all(|x| x.driver != "isabus-bridge"));
        let no_acpi = Devices::new(&MachineConfig {
            no_acpi: true,
            ..MachineConfig::default()
        });
        let host = uid_of(&no_acpi, "i440FX-pcihost");
        assert!(!no_acpi.qdev.child_buses(host)[0].allow_hotplug);
    }

    #[test]
    fn usb_storage_hands_its_drive_to_a_scsi_disk_that_goes_with_it() {
        let mut d = Devices::new(&MachineConfig {
            usb: true,
            drives: vec![
                drive(&[("file", "u.img"), ("if", "none"), ("id", "u")]),
                drive(&[("file", "v.img"), ("if", "none"), ("id", "v")]),
            ],
            devices: vec![list(&[
                ("driver", "usb-storage"),
                ("drive", "u"),
                ("id", "msd"),
            ])],
            ..MachineConfig::default()
        });
        let text = qtree::qtree_text(&d);
        let at = text
            .find("dev: usb-storage")
            .expect("usb-storage in the tree");
        let msd = &text[at..];
        let disk = msd.find("dev: scsi-disk").expect("its disk");
        assert!(msd[..disk].contains("dev-prop: drive = <null>\n"), "{msd}");
        assert!(msd[..disk].contains("bus: msd.0\n"), "{msd}");
        assert!(msd[disk..].contains("dev-prop: drive = u\n"), "{msd}");
        assert!(msd[disk..].contains("bus-prop: scsi-id = 0\n"), "{msd}");
        // The bus has one target, and the disk holds it.
        let second = list(&[("driver", "scsi-disk"), ("drive", "v"), ("bus", "msd.0")]);
        assert_eq!(
            d.device_add(None, &second.items, false).unwrap_err().class,
            crate::qobject::ErrorClass::DeviceInitFailed
        );
        assert!(d.block.find("v").is_some_and(|v| v.attached.is_none()));
        assert_eq!(d.device_del("msd"), Ok(add::Unplug::Removed));
        assert!(d.block.find("u").is_none(), "the disk took its drive along");
        assert!(d.block.find("v").is_some());
    }

    #[test]
    fn chipset_and_vga_functions_refuse_unplug_and_a_nic_is_ejected() {
        use crate::machine::config::VgaType;
        use crate::qobject::{ErrorClass, QmpError};
        let cards = [
            (VgaType::Cirrus, "cirrus-vga"),
            (VgaType::Std, "VGA"),
            (VgaType::Vmware, "vmware-svga"),
        ];
        for (vga, card) in cards {
            let mut d = Devices::new(&MachineConfig {
                vga: Some(vga),
                ..MachineConfig::default()
            });
            for driver in ["i440FX", "PIIX3", "piix3-ide", "PIIX4_PM", card] {
                let refused = d.qdev_unplug(uid_of(&d, driver)).unwrap_err();
                assert_eq!(
                    refused,
                    QmpError::with1(ErrorClass::DeviceNoHotplug, driver)
                );
            }
            let nic = uid_of(&d, "e1000");
            assert_eq!(
                d.qdev_unplug(nic),
                Ok(add::Unplug::EjectRequested { slot: 3 })
            );
        }
    }
}
