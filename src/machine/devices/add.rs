//! Creating and removing qdev devices: 0.14's `qemu_opts_from_qdict` id checks,
//! `qdev_device_add` (driver, bus, hotplug, properties, init) and `qdev_unplug`,
//! with every error in the order 0.14 reports it.
//!
//! Properties are applied in the order the options were set (for device_add that
//! is the client dict's hash order), so the first bad one reported is 0.14's.
//! Removing a device removes its subtree and everything bound to it (drive
//! bindings, NIC clients, mouse handlers). No I/O.

use super::block::AttachError;
use super::catalog::{self, BusKind, DriverInfo, PropType, Role};
use super::cfmt;
use super::net::NicSpec;
use super::pci::{PciFunction, FUNCTIONS_PER_SLOT};
use super::qdev::{id_wellformed, Device, Qdev};
use super::usb;
use super::Devices;
use crate::qobject::{ErrorClass, QmpError};

/// Most qdev devices at once (internal ones included).
pub const DEVICES_MAX: usize = 1024;
/// SCSI targets on an lsi53c895a bus (`LSI_MAX_DEVS`).
pub const LSI_TARGETS: u32 = 7;
/// Ports a virtio-serial device may have (`VIRTIO_PCI_QUEUE_MAX / 2 - 1`).
pub const VIRTIO_SERIAL_PORTS_MAX: u32 = 31;

/// The USB mass-storage driver, whose init makes a SCSI disk of its drive.
const USB_STORAGE: &str = "usb-storage";

/// What device_del did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unplug {
    /// Removed at once (USB, SCSI, virtio-serial devices).
    Removed,
    /// A PCI device: the guest was asked to eject this slot.
    EjectRequested {
        /// The slot.
        slot: u8,
    },
}

/// Property values init needs, as parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Parsed {
    addr: Option<u32>,
    romfile: Option<String>,
    rombar: Option<u64>,
    multifunction: bool,
    drive: Option<String>,
    netdev: Option<String>,
    vlan: Option<u32>,
    chardev: Option<String>,
    mac: Option<[u8; 6]>,
    vectors: Option<u64>,
    class: Option<u64>,
    nr: Option<u64>,
    scsi_id: Option<u64>,
    is_console: Option<u64>,
    max_ports: Option<u64>,
}

fn get<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Devices {
    /// `qemu_opts_create` for the `device` group: id syntax, then uniqueness.
    pub fn check_device_id(&self, id: Option<&str>) -> Result<(), QmpError> {
        let Some(id) = id else { return Ok(()) };
        if !id_wellformed(id) {
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "id",
                "an identifier",
            ));
        }
        if self
            .qdev
            .devices
            .iter()
            .any(|d| d.user && d.id.as_deref() == Some(id))
        {
            return Err(QmpError::with2(ErrorClass::DuplicateId, id, "device"));
        }
        Ok(())
    }

    /// device_add / -device: `opts` are the options other than `id`, in set
    /// order. Returns the new device's uid.
    pub fn device_add(
        &mut self,
        id: Option<&str>,
        opts: &[(String, String)],
        hotplug: bool,
    ) -> Result<u64, QmpError> {
        self.check_device_id(id)?;
        let driver = get(opts, "driver")
            .ok_or_else(|| QmpError::with1(ErrorClass::MissingParameter, "driver"))?;
        let info = catalog::find(driver)
            .filter(|i| !i.no_user)
            .ok_or_else(|| {
                QmpError::with2(ErrorClass::InvalidParameterValue, "driver", "a driver name")
            })?;
        let bus = match get(opts, "bus") {
            Some(path) => {
                let bus = self.qdev.find_bus_path(path)?;
                let kind = self.qdev.bus(bus).kind;
                if kind != info.bus {
                    return Err(QmpError::with2(
                        ErrorClass::BadBusForDevice,
                        driver,
                        kind.info_name(),
                    ));
                }
                bus
            }
            None => self
                .qdev
                .find_bus_recursive(Qdev::ROOT, None, Some(info.bus))
                .ok_or_else(|| {
                    QmpError::with2(ErrorClass::NoBusForDevice, info.name, info.bus.info_name())
                })?,
        };
        if hotplug && !self.qdev.bus(bus).allow_hotplug {
            return Err(QmpError::with1(
                ErrorClass::BusNoHotplug,
                &self.qdev.bus(bus).name,
            ));
        }
        let uid = self.qdev.next_uid;
        let mut parsed = Parsed::default();
        let mut props = Vec::new();
        for (key, value) in opts.iter().filter(|(k, _)| k != "driver" && k != "bus") {
            if let Err(e) = self.set_prop(uid, info, key, value, &mut parsed) {
                self.block.detach(uid, false);
                return Err(e);
            }
            props.push((key.clone(), value.clone()));
        }
        let device = Device {
            uid,
            driver: info.name.to_owned(),
            id: id.map(str::to_owned),
            bus,
            props,
            user: true,
            hotplugged: hotplug,
            unplug_requested: false,
            pci: None,
            port_nr: None,
            max_ports: None,
            scsi_id: None,
        };
        self.init_device(info, driver, device, &parsed, hotplug)
            .inspect_err(|_| {
                self.block.detach(uid, false);
            })
    }

    /// `qdev_prop_parse` for one property.
    fn set_prop(
        &mut self,
        uid: u64,
        info: &DriverInfo,
        name: &str,
        value: &str,
        parsed: &mut Parsed,
    ) -> Result<(), QmpError> {
        let Some(prop) = catalog::find_prop(info, name) else {
            return Err(QmpError::with2(
                ErrorClass::PropertyNotFound,
                info.name,
                name,
            ));
        };
        let err = |class| QmpError::new(class, &[&info.name, &name, &value]);
        match prop.ty {
            PropType::Drive | PropType::Chr | PropType::Netdev => self
                .set_backend_prop(uid, prop.ty, value, parsed)
                .map_err(err),
            ty => parse_value_prop(ty, name, value, parsed)
                .ok_or_else(|| err(ErrorClass::PropertyValueBad)),
        }
    }

    /// Properties naming another object: a drive (bound at once, as
    /// `bdrv_attach`), a chardev or a netdev (`-ENOENT`/`-EEXIST` become
    /// PropertyValueNotFound/PropertyValueInUse).
    fn set_backend_prop(
        &mut self,
        uid: u64,
        ty: PropType,
        value: &str,
        parsed: &mut Parsed,
    ) -> Result<(), ErrorClass> {
        match ty {
            PropType::Drive => {
                self.block.attach(value, uid).map_err(|e| match e {
                    AttachError::NotFound => ErrorClass::PropertyValueNotFound,
                    AttachError::InUse => ErrorClass::PropertyValueInUse,
                })?;
                parsed.drive = Some(value.to_owned());
            }
            PropType::Chr => {
                self.chardevs
                    .find(value)
                    .ok_or(ErrorClass::PropertyValueNotFound)?;
                parsed.chardev = Some(value.to_owned());
            }
            _ => {
                let client = self
                    .net
                    .find_netdev(value)
                    .ok_or(ErrorClass::PropertyValueNotFound)?;
                if client.peer.is_some() {
                    return Err(ErrorClass::PropertyValueInUse);
                }
                parsed.netdev = Some(value.to_owned());
            }
        }
        Ok(())
    }

    /// `qdev_init`: bus-specific registration, then the device's own init.
    fn init_device(
        &mut self,
        info: &'static DriverInfo,
        driver_given: &str,
        mut device: Device,
        parsed: &Parsed,
        hotplug: bool,
    ) -> Result<u64, QmpError> {
        let init_failed = || QmpError::with1(ErrorClass::DeviceInitFailed, driver_given);
        // A USB device that needs a hub first brings it along.
        let port = get(&device.props, "port");
        let hub = info.bus == BusKind::Usb
            && self.usb.attach_need(device.bus, port) == usb::AttachNeed::Hub;
        let disk = info.name == USB_STORAGE;
        if self.qdev.devices.len() + usize::from(hub) + usize::from(disk) >= DEVICES_MAX {
            return Err(init_failed());
        }
        if let Some(pinfo) = info.pci {
            let devfn = self.register_pci(parsed).ok_or_else(init_failed)?;
            if hotplug && pinfo.no_hotplug {
                return Err(QmpError::with1(ErrorClass::DeviceNoHotplug, info.name));
            }
            self.check_role(info, &mut device, parsed)
                .ok_or_else(init_failed)?;
            let class = pci_class(info.name, pinfo.class, parsed.class);
            let vectors = parsed.vectors.or(parsed.max_ports.map(|p| p + 1));
            let vectors = vectors.map_or(pinfo.msix_vectors_default.unwrap_or(0), |v| {
                u32::try_from(v).unwrap_or(u32::MAX)
            });
            let rom = match (&parsed.romfile, parsed.rombar) {
                (_, Some(0)) => 0,
                // Only the default ROM images exist in the model's BIOS directory.
                (Some(_), _) => 0,
                (None, _) => pinfo.rom_bytes,
            };
            let mut f = PciFunction::new(&pinfo, devfn, class, vectors, rom);
            f.multifunction = parsed.multifunction;
            device.pci = Some(f);
        } else {
            self.check_role(info, &mut device, parsed)
                .ok_or_else(init_failed)?;
        }
        let bus = device.bus;
        let port = get(&device.props, "port").map(str::to_owned);
        let uid = self.qdev.add_device(device);
        self.add_child_buses(uid, info);
        if let (USB_STORAGE, Some(drive)) = (info.name, &parsed.drive) {
            self.usb_storage_disk(uid, drive);
        }
        self.bind_role(info, uid, parsed);
        if info.bus == BusKind::Usb {
            self.usb_attach(bus, uid, port.as_deref());
        }
        Ok(uid)
    }

    /// `usb_msd_initfn`: the drive leaves `usb-storage` (whose `drive` then
    /// prints `<null>`) for a `scsi-disk` at target 0 of its own SCSI bus
    /// (`scsi_bus_legacy_add_drive`), which `device_del` frees with the drive.
    fn usb_storage_disk(&mut self, msd: u64, drive: &str) {
        let bus = self.first_child_bus(msd);
        self.block.detach(msd, false);
        if let Some(dev) = self.qdev.device_mut(msd) {
            dev.props.retain(|(k, _)| k != "drive");
        }
        self.drive_device("scsi-disk", bus, drive, Some(0));
    }

    /// `do_pci_register_device` + `pci_init_multifunction`: the devfn, or `None`
    /// when the slot is taken or the function layout is invalid.
    fn register_pci(&self, parsed: &Parsed) -> Option<u8> {
        let devfn = match parsed.addr {
            // 0.14 does not range-check addr= and would index past its table;
            // the model refuses such an address instead.
            Some(d) => u8::try_from(d).ok()?,
            None => self.free_slot_devfn()?,
        };
        if self.qdev.at_devfn(devfn).is_some() {
            return None;
        }
        let slot = devfn / FUNCTIONS_PER_SLOT;
        let function = devfn % FUNCTIONS_PER_SLOT;
        let f0_multi = |d: &Device| d.pci.as_ref().is_some_and(|p| p.multifunction);
        if function != 0 {
            if let Some(f0) = self.qdev.at_devfn(slot * FUNCTIONS_PER_SLOT) {
                if !f0_multi(f0) {
                    return None;
                }
            }
        } else if !parsed.multifunction
            && (1..FUNCTIONS_PER_SLOT)
                .any(|f| self.qdev.at_devfn(slot * FUNCTIONS_PER_SLOT + f).is_some())
        {
            return None;
        }
        Some(devfn)
    }

    /// The checks of each device type's init function; `None` means it failed.
    fn check_role(
        &mut self,
        info: &DriverInfo,
        device: &mut Device,
        parsed: &Parsed,
    ) -> Option<()> {
        match info.role {
            Role::Storage => {
                parsed.drive.as_ref()?;
                if info.bus == BusKind::Scsi {
                    device.scsi_id = Some(self.scsi_target(device.bus, parsed.scsi_id)?);
                }
            }
            Role::ScsiGeneric => return None,
            Role::NeedsChardev => {
                parsed.chardev.as_ref()?;
            }
            Role::SerialPort { console } => {
                device.port_nr = Some(self.serial_port_nr(device.bus, console, parsed)?);
            }
            Role::Plain | Role::Nic | Role::Mouse { .. } | Role::Vga => {}
        }
        if info.name == "virtio-serial-pci" {
            let max = parsed
                .max_ports
                .unwrap_or(u64::from(VIRTIO_SERIAL_PORTS_MAX));
            if max == 0 || max > u64::from(VIRTIO_SERIAL_PORTS_MAX) {
                return None;
            }
            device.max_ports = Some(u32::try_from(max).ok()?);
        }
        Some(())
    }

    /// `scsi_qdev_init`: the requested or first free target; a taken target's
    /// device is replaced.
    fn scsi_target(&mut self, bus: u64, requested: Option<u64>) -> Option<u32> {
        let targets = match self.qdev.bus(bus).parent.and_then(|p| self.qdev.device(p)) {
            Some(d) if d.driver == USB_STORAGE => 1,
            _ => LSI_TARGETS,
        };
        let taken = |q: &Qdev, t: u32| {
            q.children(bus)
                .iter()
                .find(|d| d.scsi_id == Some(t))
                .map(|d| d.uid)
        };
        let target = match requested {
            Some(t) => u32::try_from(t).ok()?,
            None => (0..targets)
                .find(|t| taken(&self.qdev, *t).is_none())
                .unwrap_or(targets),
        };
        if target >= targets {
            return None;
        }
        if let Some(old) = taken(&self.qdev, target) {
            self.free_device(old);
        }
        Some(target)
    }

    /// `virtser_port_qdev_init`: the port number of a new virtio-serial port.
    fn serial_port_nr(&self, bus: u64, console: bool, parsed: &Parsed) -> Option<u32> {
        let max = self
            .qdev
            .bus(bus)
            .parent
            .and_then(|p| self.qdev.device(p))
            .and_then(|d| d.max_ports)
            .unwrap_or(VIRTIO_SERIAL_PORTS_MAX);
        let used: Vec<u32> = self
            .qdev
            .children(bus)
            .iter()
            .filter_map(|d| d.port_nr)
            .collect();
        let is_console = parsed.is_console.map_or(console, |v| v != 0);
        let nr = match parsed.nr {
            Some(nr) => {
                let nr = u32::try_from(nr).ok()?;
                if used.contains(&nr) {
                    return None;
                }
                nr
            }
            None if is_console && !used.contains(&0) => 0,
            None => {
                // `find_free_port_id` over the bus's bitmap, in which
                // `virtio_serial_init` marks port 0 taken (kept for a console).
                let words = max.div_ceil(32);
                (1..words * 32).find(|n| !used.contains(n))?
            }
        };
        (nr < max).then_some(nr)
    }

    /// What a new device binds to: its NIC client or mouse handler.
    fn bind_role(&mut self, info: &DriverInfo, uid: u64, parsed: &Parsed) {
        match info.role {
            Role::Nic => {
                let id = self.qdev.device(uid).and_then(|d| d.id.clone());
                self.net.add_nic(NicSpec {
                    model: info.name,
                    id: id.as_deref(),
                    vlan: parsed.vlan,
                    netdev: parsed.netdev.as_deref(),
                    mac: parsed.mac,
                    device: uid,
                });
            }
            Role::Mouse { name, absolute } => {
                self.mice.add(name, absolute, Some(uid));
            }
            Role::Plain
            | Role::Storage
            | Role::ScsiGeneric
            | Role::SerialPort { .. }
            | Role::NeedsChardev
            | Role::Vga => {}
        }
    }

    /// device_del up to the point where 0.14 returns: unknown id, a bus or device
    /// without hotplug, else the removal (at once, or asked of the guest).
    pub fn device_del(&mut self, id: &str) -> Result<Unplug, QmpError> {
        let uid = self
            .qdev
            .find_by_id(Qdev::ROOT, id)
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, id))?;
        self.qdev_unplug(uid)
    }

    /// `qdev_unplug` of a device in the tree: a bus or device without hotplug
    /// refuses; a PCI device waits for the guest to eject its slot; others go.
    pub fn qdev_unplug(&mut self, uid: u64) -> Result<Unplug, QmpError> {
        let device = self
            .qdev
            .device(uid)
            .expect("qdev_unplug of a device in the tree");
        let bus = self.qdev.bus(device.bus);
        if !bus.allow_hotplug {
            return Err(QmpError::with1(ErrorClass::BusNoHotplug, &bus.name));
        }
        if let Some(f) = &device.pci {
            if f.no_hotplug {
                return Err(QmpError::with1(ErrorClass::DeviceNoHotplug, &device.driver));
            }
            let slot = f.slot();
            if let Some(d) = self.qdev.device_mut(uid) {
                d.unplug_requested = true;
            }
            return Ok(Unplug::EjectRequested { slot });
        }
        self.free_device(uid);
        Ok(Unplug::Removed)
    }

    /// `qdev_free`: a device and its subtree, with the drives, NIC clients and
    /// mouse handlers bound to them.
    pub fn free_device(&mut self, uid: u64) {
        for u in self.qdev.subtree(uid) {
            // usb_qdev_exit: the port is given back; a hub frees the devices
            // on its ports (same bus, so not in the subtree) and its ports.
            for orphan in self.usb.detach(u) {
                self.free_device(orphan);
            }
            self.usb.unregister_hub_ports(u);
            let auto_del = self.qdev.device(u).is_some_and(|d| {
                matches!(
                    d.driver.as_str(),
                    "virtio-blk-pci" | "scsi-disk" | "scsi-generic"
                )
            });
            self.block.detach(u, auto_del);
            self.net.remove_nic(u);
            self.mice.remove_device(u);
            self.qdev.remove(u);
        }
    }

    /// `usb_device_attach`: a `usb-hub` first when one free port is left (and
    /// no `port` is asked for), then the device on its port.
    fn usb_attach(&mut self, bus: u64, uid: u64, port: Option<&str>) {
        if self.usb.attach_need(bus, port) == usb::AttachNeed::Hub {
            let hub = self.internal("usb-hub", bus, None);
            self.usb.attach(bus, hub, None);
            self.usb.add_hub_ports(bus, hub);
        }
        self.usb.attach(bus, uid, port);
    }

    /// `usb_device_add` of a `-usbdevice`/`usb_add` name: the device's uid, or
    /// the lines 0.14 prints before `could not add USB device` (`None` for a
    /// name whose device the model does not make).
    pub fn usb_device_add(&mut self, devname: &str, hotplug: bool) -> Result<u64, Option<String>> {
        let Some(bus) = self.usb.buses.first().map(|b| b.bus) else {
            return Err(Some(String::new()));
        };
        let driver = match usb::parse_devname(devname) {
            usb::UsbDevName::Driver(driver) => driver,
            usb::UsbDevName::NoParams(name) => {
                return Err(Some(format!("usbdevice {name} accepts no params\n")))
            }
            usb::UsbDevName::Unknown => return Err(Some(String::new())),
            usb::UsbDevName::Unmodelled => return Err(None),
        };
        let path = self.qdev.bus(bus).name.clone();
        let opts = [
            ("driver".to_owned(), driver.to_owned()),
            ("bus".to_owned(), path),
        ];
        let uid = self
            .device_add(None, &opts, hotplug)
            .map_err(|e| Some(format!("{}\n", e.desc())))?;
        // usb_create_simple: made by qdev_create, not from a `device` group.
        if let Some(d) = self.qdev.device_mut(uid) {
            d.user = false;
            d.props.clear();
        }
        Ok(uid)
    }

    /// The guest ejects a slot (`pciej_write`): every function in it goes.
    pub fn eject_slot(&mut self, slot: u8) {
        let uids: Vec<u64> = self
            .qdev
            .devices
            .iter()
            .filter(|d| d.pci.as_ref().is_some_and(|p| p.slot() == slot))
            .map(|d| d.uid)
            .collect();
        for uid in uids {
            self.free_device(uid);
        }
    }
}

/// The value properties: `None` when the text is not accepted
/// (PropertyValueBad). Values init needs are recorded in `parsed`.
fn parse_value_prop(ty: PropType, name: &str, value: &str, parsed: &mut Parsed) -> Option<()> {
    match ty {
        PropType::Bit => {
            let v = value.as_bytes();
            let on = v.len() >= 2 && v[..2].eq_ignore_ascii_case(b"on");
            let off = v.len() >= 3 && v[..3].eq_ignore_ascii_case(b"off");
            if !on && !off {
                return None;
            }
            if name == "multifunction" {
                parsed.multifunction = on;
            }
        }
        PropType::Uint8 | PropType::Uint16 | PropType::Uint32 | PropType::Hex32 => {
            let base = if ty == PropType::Hex32 { 16 } else { 0 };
            let width_mask = match ty {
                PropType::Uint8 => 0xff,
                PropType::Uint16 => 0xffff,
                _ => 0xffff_ffff,
            };
            let n = cfmt::strtoul_full(value, base)? & width_mask;
            let slot = match name {
                "vectors" => &mut parsed.vectors,
                "class" => &mut parsed.class,
                "nr" => &mut parsed.nr,
                "scsi-id" => &mut parsed.scsi_id,
                "is_console" => &mut parsed.is_console,
                "max_ports" => &mut parsed.max_ports,
                "rombar" => &mut parsed.rombar,
                _ => return Some(()),
            };
            *slot = Some(n);
        }
        PropType::Int32 => {
            cfmt::strtol_full(value)?;
        }
        PropType::Str => {
            if name == "romfile" {
                parsed.romfile = Some(value.to_owned());
            }
        }
        PropType::Vlan => parsed.vlan = Some(cfmt::scan_int(value)? as u32),
        PropType::Mac => parsed.mac = Some(parse_mac(value)?),
        PropType::PciDevfn => parsed.addr = Some(parse_pci_devfn(value)?),
        PropType::Drive | PropType::Chr | PropType::Netdev => {}
    }
    Some(())
}

/// The class a virtio device ends up with given its `class=` property.
fn pci_class(driver: &str, default: u16, requested: Option<u64>) -> u16 {
    let allowed: &[u64] = match driver {
        "virtio-blk-pci" => &[0x0100, 0x0180],
        "virtio-serial-pci" => &[0x0780, 0x0380, 0x00ff],
        _ => return default,
    };
    match requested {
        Some(c) if allowed.contains(&c) => u16::try_from(c).unwrap_or(default),
        _ => default,
    }
}

/// `parse_mac`: six hex pairs separated by `:` or `-`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let b = s.as_bytes();
    let mut mac = [0u8; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        let pos = i * 3;
        let pair = b.get(pos..pos + 2)?;
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let sep = b.get(pos + 2).copied();
        match (i, sep) {
            (5, None) | (0..=4, Some(b':' | b'-')) => {}
            _ => return None,
        }
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(mac)
}

/// `parse_pci_devfn`: `SLOT[.FN]` in hex, function at most 7 (the slot is not
/// range-checked here, as in 0.14).
pub fn parse_pci_devfn(s: &str) -> Option<u32> {
    let (slot, used) = cfmt::scan_hex(s)?;
    let rest = &s[used..];
    let (function, used_fn) = match rest
        .strip_prefix('.')
        .and_then(|r| cfmt::scan_hex(r).map(|v| (v, r)))
    {
        Some(((f, n), r)) => (f, rest.len() - r.len() + n),
        None => (0, 0),
    };
    if used + used_fn != s.len() || function > 7 {
        return None;
    }
    Some(slot.wrapping_shl(3) | function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    use crate::machine::devices::opts;

    fn pc() -> Devices {
        Devices::new(&MachineConfig::default())
    }

    #[test]
    fn add_e1000_takes_first_free_slot() {
        let mut d = pc();
        let uid = d
            .device_add(Some("net1"), &opts(&[("driver", "e1000")]), true)
            .unwrap();
        assert_eq!(
            d.qdev
                .device(uid)
                .and_then(|x| x.pci.as_ref())
                .map(|p| p.devfn),
            Some(32)
        );
    }

    #[test]
    fn add_duplicate_id_is_duplicate_id() {
        let mut d = pc();
        d.device_add(Some("net1"), &opts(&[("driver", "e1000")]), true)
            .unwrap();
        assert_eq!(
            d.device_add(Some("net1"), &opts(&[("driver", "e1000")]), true),
            Err(QmpError::with2(ErrorClass::DuplicateId, "net1", "device"))
        );
    }

    #[test]
    fn refused_hot_adds_give_014s_errors() {
        let most_ports = VIRTIO_SERIAL_PORTS_MAX.to_string();
        let too_many_ports = (VIRTIO_SERIAL_PORTS_MAX + 1).to_string();
        let cases: [(&[(&str, &str)], QmpError); 8] = [
            (&[], QmpError::with1(ErrorClass::MissingParameter, "driver")),
            (
                &[("driver", "usb-tablet")],
                QmpError::with2(ErrorClass::NoBusForDevice, "usb-tablet", "USB"),
            ),
            (
                &[("driver", "isa-serial")],
                QmpError::with1(ErrorClass::BusNoHotplug, "isa.0"),
            ),
            (
                &[("driver", "cirrus-vga")],
                QmpError::with1(ErrorClass::DeviceNoHotplug, "cirrus-vga"),
            ),
            // The slot is in use.
            (
                &[("driver", "rtl8139"), ("addr", "3")],
                QmpError::with1(ErrorClass::DeviceInitFailed, "rtl8139"),
            ),
            // Storage without a drive.
            (
                &[("driver", "virtio-blk")],
                QmpError::with1(ErrorClass::DeviceInitFailed, "virtio-blk"),
            ),
            (
                &[
                    ("driver", "virtio-serial-pci"),
                    ("max_ports", &too_many_ports),
                ],
                QmpError::with1(ErrorClass::DeviceInitFailed, "virtio-serial-pci"),
            ),
            (
                &[("driver", "virtio-serial-pci"), ("max_ports", "0")],
                QmpError::with1(ErrorClass::DeviceInitFailed, "virtio-serial-pci"),
            ),
        ];
        for (options, want) in cases {
            assert_eq!(
                pc().device_add(None, &opts(options), true),
                Err(want),
                "{options:?}"
            );
        }
        let at_limit = [("driver", "virtio-serial-pci"), ("max_ports", &most_ports)];
        assert!(pc().device_add(None, &opts(&at_limit), true).is_ok());
    }

    #[test]
    fn add_internal_driver_is_not_a_driver_name() {
        let mut d = pc();
        let e = d
            .device_add(None, &opts(&[("driver", "PIIX3")]), true)
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidParameterValue);
    }

    /// A pc with USB and ISA serial ports added (at startup, so without
    /// the hotplug checks) until `n` qdev devices exist.
    fn with_devices(n: usize) -> Devices {
        let mut d = Devices::new(&MachineConfig {
            usb: true,
            ..Default::default()
        });
        let serial = opts(&[("driver", "isa-serial")]);
        let missing = n - d.qdev.devices.len();
        (0..missing).for_each(|_| {
            d.device_add(None, &serial, false)
                .expect("room for a device");
        });
        d
    }

    #[test]
    fn usb_device_needing_a_hub_counts_two_against_the_limit() {
        let mut d = with_devices(DEVICES_MAX - 2);
        let kbd = opts(&[("driver", "usb-kbd")]);
        d.device_add(None, &kbd, true)
            .expect("one free port left after it");
        assert_eq!(
            d.device_add(None, &kbd, true),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "usb-kbd"))
        );
    }

    #[test]
    fn device_add_reaching_limit_is_accepted() {
        let mut d = with_devices(DEVICES_MAX - 1);
        assert!(d
            .device_add(None, &opts(&[("driver", "usb-kbd")]), true)
            .is_ok());
    }

    #[test]
    fn device_add_past_limit_is_init_failed() {
        let mut d = with_devices(DEVICES_MAX);
        assert_eq!(
            d.device_add(None, &opts(&[("driver", "usb-kbd")]), true),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "usb-kbd"))
        );
    }

    #[test]
    fn device_add_past_limit_adds_nothing() {
        let mut d = with_devices(DEVICES_MAX);
        let _ = d.device_add(None, &opts(&[("driver", "usb-kbd")]), true);
        assert_eq!(d.qdev.devices.len(), DEVICES_MAX);
    }

    /// A pc with an `lsi` SCSI controller `s`, drives `d0` to `d{LSI_TARGETS}`,
    /// and `scsi-disk`s on the first `n` of them (taking targets 0, 1, ...).
    fn lsi_with_disks(n: u32) -> Devices {
        use crate::machine::config::DriveConfig;
        let drives = (0..=LSI_TARGETS)
            .map(|i| {
                let mut d = DriveConfig::default();
                d.opts.push("if", "none");
                d.opts.push("id", &format!("d{i}"));
                d
            })
            .collect();
        let mut d = Devices::new(&MachineConfig {
            drives,
            ..Default::default()
        });
        d.device_add(Some("s"), &opts(&[("driver", "lsi")]), true)
            .expect("the controller is added");
        (0..n).for_each(|i| {
            let drive = format!("d{i}");
            d.device_add(
                None,
                &opts(&[("driver", "scsi-disk"), ("drive", &drive)]),
                true,
            )
            .expect("a free target");
        });
        d
    }

    fn add_disk(d: &mut Devices, drive: &str) -> Result<(), QmpError> {
        d.device_add(
            None,
            &opts(&[("driver", "scsi-disk"), ("drive", drive)]),
            true,
        )
        .map(|_| ())
    }

    #[test]
    fn scsi_disk_on_last_target_is_accepted() {
        let mut d = lsi_with_disks(LSI_TARGETS - 1);
        let last = format!("d{}", LSI_TARGETS - 1);
        assert_eq!(add_disk(&mut d, &last), Ok(()));
    }

    #[test]
    fn scsi_disk_past_last_target_is_init_failed() {
        let mut d = lsi_with_disks(LSI_TARGETS);
        let past = format!("d{LSI_TARGETS}");
        assert_eq!(
            add_disk(&mut d, &past),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "scsi-disk"))
        );
    }

    #[test]
    fn different_ids_are_both_accepted() {
        let mut d = pc();
        let e1000 = opts(&[("driver", "e1000")]);
        assert!(d.device_add(Some("a"), &e1000, true).is_ok());
        assert!(d.device_add(Some("b"), &e1000, true).is_ok());
    }

    #[test]
    fn romfile_other_than_the_default_leaves_no_rom_bar() {
        let mut d = pc();
        let has_rom = |d: &Devices, uid: u64| {
            let f = d.qdev.device(uid).and_then(|x| x.pci.as_ref()).unwrap();
            f.bars
                .iter()
                .any(|b| b.index == crate::machine::devices::pci::ROM_BAR)
        };
        let plain = d.device_add(None, &opts(&[("driver", "rtl8139")]), true);
        let other = opts(&[("driver", "rtl8139"), ("romfile", "my.rom")]);
        let other = d.device_add(None, &other, true);
        assert_eq!(
            (has_rom(&d, plain.unwrap()), has_rom(&d, other.unwrap())),
            (true, false)
        );
    }

    #[test]
    fn scsi_disk_takes_the_scsi_id_it_names() {
        let mut d = lsi_with_disks(0);
        let uid = d
            .device_add(
                None,
                &opts(&[("driver", "scsi-disk"), ("drive", "d0"), ("scsi-id", "3")]),
                true,
            )
            .unwrap();
        assert_eq!(d.qdev.device(uid).and_then(|x| x.scsi_id), Some(3));
    }

    #[test]
    fn chardev_property_takes_a_chardev_not_a_netdev() {
        let mut d = pc();
        let e = d
            .device_add(
                None,
                &opts(&[("driver", "isa-serial"), ("chardev", "nope")]),
                false,
            )
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::PropertyValueNotFound);
        let serial = [("driver", "isa-serial"), ("chardev", "serial0")];
        assert!(d.device_add(None, &opts(&serial), false).is_ok());
    }

    #[test]
    fn function_zero_beside_other_functions_needs_multifunction() {
        let mut d = pc();
        let e1000 = |addr: &str, multi: &str| {
            opts(&[
                ("driver", "e1000"),
                ("addr", addr),
                ("multifunction", multi),
            ])
        };
        d.device_add(None, &e1000("5.1", "off"), true).unwrap();
        assert_eq!(
            d.device_add(None, &e1000("5.0", "off"), true),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "e1000"))
        );
        assert!(d.device_add(None, &e1000("5.0", "on"), true).is_ok());
    }

    /// A pc with a default virtio-serial bus `vs` and `n` ports on it.
    fn virtio_serial_with_ports(n: u32) -> Devices {
        let mut d = pc();
        d.device_add(Some("vs"), &opts(&[("driver", "virtio-serial")]), true)
            .expect("the bus is added");
        let port = opts(&[("driver", "virtserialport")]);
        (0..n).for_each(|_| {
            d.device_add(None, &port, true).expect("a free port");
        });
        d
    }

    // Ports without `nr` take 1, 2, ...: port 0 is kept for a console, so the
    // last of them is number VIRTIO_SERIAL_PORTS_MAX - 1, the
    // (VIRTIO_SERIAL_PORTS_MAX - 1)th port.
    #[test]
    fn virtio_serial_port_reaching_default_max_is_accepted() {
        let mut d = virtio_serial_with_ports(VIRTIO_SERIAL_PORTS_MAX - 2);
        let port = opts(&[("driver", "virtserialport")]);
        assert!(d.device_add(None, &port, true).is_ok());
    }

    #[test]
    fn virtio_serial_port_past_default_max_is_init_failed() {
        let mut d = virtio_serial_with_ports(VIRTIO_SERIAL_PORTS_MAX - 1);
        let port = opts(&[("driver", "virtserialport")]);
        assert_eq!(
            d.device_add(None, &port, true),
            Err(QmpError::with1(
                ErrorClass::DeviceInitFailed,
                "virtserialport"
            ))
        );
    }

    #[test]
    fn serial_ports_fill_up_to_max_ports() {
        let mut d = pc();
        d.device_add(
            Some("vs"),
            &opts(&[("driver", "virtio-serial"), ("max_ports", "3")]),
            true,
        )
        .unwrap();
        let port = opts(&[("driver", "virtserialport")]);
        assert!(d.device_add(None, &port, true).is_ok());
        assert!(d.device_add(None, &port, true).is_ok());
        assert_eq!(
            d.device_add(None, &port, true),
            Err(QmpError::with1(
                ErrorClass::DeviceInitFailed,
                "virtserialport"
            ))
        );
    }

    /// The port numbers of the ports on virtio-serial bus `vs.0`.
    fn port_numbers(d: &Devices) -> Vec<Option<u32>> {
        let bus = d.qdev.find_bus_path("vs.0").expect("the bus exists");
        d.qdev.children(bus).iter().map(|p| p.port_nr).collect()
    }

    #[test]
    fn virtserialport_without_nr_skips_port_zero() {
        let d = virtio_serial_with_ports(1);
        assert_eq!(port_numbers(&d), [Some(1)]);
    }

    #[test]
    fn virtconsole_without_nr_takes_port_zero() {
        let mut d = virtio_serial_with_ports(0);
        d.device_add(None, &opts(&[("driver", "virtconsole")]), true)
            .unwrap();
        assert_eq!(port_numbers(&d), [Some(0)]);
    }

    #[test]
    fn del_pci_requests_eject_and_keeps_device() {
        let mut d = pc();
        d.device_add(Some("n"), &opts(&[("driver", "e1000")]), true)
            .unwrap();
        assert_eq!(d.device_del("n"), Ok(Unplug::EjectRequested { slot: 4 }));
        assert!(d.qdev.find_by_id(Qdev::ROOT, "n").is_some());
        d.eject_slot(4);
        assert!(d.qdev.find_by_id(Qdev::ROOT, "n").is_none());
    }

    #[test]
    fn del_unknown_is_device_not_found() {
        let mut d = pc();
        assert_eq!(
            d.device_del("x"),
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "x"))
        );
    }

    #[test]
    fn parse_mac_accepts_colon_and_dash() {
        assert_eq!(
            parse_mac("52:54:00:12:34:56"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!(
            parse_mac("52-54-00-12-34-56"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!(parse_mac("52:54:00:12:34"), None);
        assert_eq!(parse_mac("52:54:00:12:34:56:"), None);
    }

    #[test]
    fn parse_devfn_reads_hex_slot_and_function() {
        assert_eq!(parse_pci_devfn("5"), Some(40));
        assert_eq!(parse_pci_devfn("10"), Some(128));
        assert_eq!(parse_pci_devfn("5.1"), Some(41));
        assert_eq!(parse_pci_devfn("5.8"), None);
        assert_eq!(parse_pci_devfn("x"), None);
        assert_eq!(parse_pci_devfn("5x"), None);
    }

    #[test]
    fn virtio_class_takes_only_the_classes_014_allows() {
        // virtio_blk_init_pci and virtio_serial_init_pci (hw/virtio-pci.c).
        let rows = [
            ("virtio-blk-pci", 0x0100, Some(0x0180), 0x0180),
            ("virtio-blk-pci", 0x0100, Some(0x0200), 0x0100),
            ("virtio-serial-pci", 0x0780, Some(0x0380), 0x0380),
            ("virtio-serial-pci", 0x0780, Some(0x00ff), 0x00ff),
            ("virtio-serial-pci", 0x0780, Some(0x0100), 0x0780),
            ("virtio-serial-pci", 0x0780, None, 0x0780),
            ("e1000", 0x0200, Some(0x0180), 0x0200),
        ];
        for (driver, default, requested, class) in rows {
            assert_eq!(
                pci_class(driver, default, requested),
                class,
                "{driver} {requested:?}"
            );
        }
    }
}
