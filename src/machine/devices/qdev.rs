//! The qdev device tree: buses and devices, their names and ids, and 0.14's
//! lookups over them (`qbus_find`, `qbus_find_recursive`, `qdev_find_recursive`).
//!
//! Buses and devices live in `Vec`s in creation order, each with a uid from one
//! counter. 0.14 keeps a bus's children and a device's child buses in lists with
//! the newest entry first; the lookups here walk in that order, so which device
//! or bus a name resolves to is the one 0.14 would find. Pure data, no I/O.

use serde::{Deserialize, Serialize};

use super::catalog::BusKind;
use super::pci::PciFunction;
use crate::qobject::{ErrorClass, QmpError};

/// Name of the root bus.
pub const MAIN_SYSTEM_BUS: &str = "main-system-bus";

/// One bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bus {
    /// Creation-order uid.
    pub uid: u64,
    /// Name (`pci.0`, `ide.1`, `scsi0.0`...).
    pub name: String,
    /// Type.
    pub kind: BusKind,
    /// Devices may be added and removed at run time.
    pub allow_hotplug: bool,
    /// The device it hangs off (none for the root).
    pub parent: Option<u64>,
}

/// One device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Creation-order uid.
    pub uid: u64,
    /// Driver name.
    pub driver: String,
    /// qdev id, when given.
    pub id: Option<String>,
    /// The bus it sits on.
    pub bus: u64,
    /// Properties as set, in order.
    pub props: Vec<(String, String)>,
    /// Created from -device / device_add (it owns a `device` QemuOpts group).
    pub user: bool,
    /// Added after machine creation.
    pub hotplugged: bool,
    /// device_del asked the guest to eject it.
    pub unplug_requested: bool,
    /// The PCI function, for PCI devices.
    pub pci: Option<PciFunction>,
    /// virtio-serial port number.
    pub port_nr: Option<u32>,
    /// virtio-serial-pci `max_ports`.
    pub max_ports: Option<u32>,
    /// SCSI target id.
    pub scsi_id: Option<u32>,
}

/// The tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qdev {
    /// Buses in creation order.
    pub buses: Vec<Bus>,
    /// Devices in creation order.
    pub devices: Vec<Device>,
    /// The next uid.
    pub next_uid: u64,
}

impl Default for Qdev {
    fn default() -> Self {
        Qdev {
            buses: vec![Bus {
                uid: 0,
                name: MAIN_SYSTEM_BUS.to_owned(),
                kind: BusKind::System,
                allow_hotplug: false,
                parent: None,
            }],
            devices: Vec::new(),
            next_uid: 1,
        }
    }
}

impl Qdev {
    /// The root bus uid.
    pub const ROOT: u64 = 0;

    /// A bus by uid.
    ///
    /// # Panics
    /// If no such bus exists (uids come from this tree).
    pub fn bus(&self, uid: u64) -> &Bus {
        self.buses
            .iter()
            .find(|b| b.uid == uid)
            .expect("bus uid belongs to this tree")
    }

    /// A device by uid.
    pub fn device(&self, uid: u64) -> Option<&Device> {
        self.devices.iter().find(|d| d.uid == uid)
    }

    /// A device by uid, mutable.
    pub fn device_mut(&mut self, uid: u64) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| d.uid == uid)
    }

    /// Devices on a bus, newest first (0.14 `bus->children`).
    pub fn children(&self, bus: u64) -> Vec<&Device> {
        self.devices.iter().rev().filter(|d| d.bus == bus).collect()
    }

    /// A device's child buses, newest first (0.14 `dev->child_bus`).
    pub fn child_buses(&self, device: u64) -> Vec<&Bus> {
        self.buses
            .iter()
            .rev()
            .filter(|b| b.parent == Some(device))
            .collect()
    }

    /// Adds a device (its uid is taken from the counter).
    pub fn add_device(&mut self, mut device: Device) -> u64 {
        device.uid = self.take_uid();
        let uid = device.uid;
        self.devices.push(device);
        uid
    }

    /// Creates a child bus of a device, named as `qbus_create` names it:
    /// `name` if given, else `ID.N` for a device with an id, else `kind.N`.
    pub fn add_bus(
        &mut self,
        device: u64,
        kind: BusKind,
        allow_hotplug: bool,
        name: Option<&str>,
    ) -> u64 {
        let n = self.child_buses(device).len();
        let name = match (name, self.device(device).and_then(|d| d.id.clone())) {
            (Some(name), _) => name.to_owned(),
            (None, Some(id)) => format!("{id}.{n}"),
            (None, None) => format!("{}.{n}", kind.info_name().to_ascii_lowercase()),
        };
        let uid = self.take_uid();
        self.buses.push(Bus {
            uid,
            name,
            kind,
            allow_hotplug,
            parent: Some(device),
        });
        uid
    }

    /// Makes a bus refuse hot-plug (the PCI bus of a machine without ACPI).
    pub fn forbid_hotplug(&mut self, bus: u64) {
        if let Some(b) = self.buses.iter_mut().find(|b| b.uid == bus) {
            b.allow_hotplug = false;
        }
    }

    fn take_uid(&mut self) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        uid
    }

    /// `qbus_find_recursive`: depth first from `bus`, the first bus matching the
    /// name and/or type.
    pub fn find_bus_recursive(
        &self,
        bus: u64,
        name: Option<&str>,
        kind: Option<BusKind>,
    ) -> Option<u64> {
        let b = self.bus(bus);
        if name.is_none_or(|n| b.name == n) && kind.is_none_or(|k| b.kind == k) {
            return Some(bus);
        }
        self.children(bus).iter().find_map(|dev| {
            self.child_buses(dev.uid)
                .iter()
                .find_map(|child| self.find_bus_recursive(child.uid, name, kind))
        })
    }

    /// `qbus_find_dev`: on one bus, by id, then driver name, then alias.
    fn find_dev_on_bus(&self, bus: u64, elem: &str) -> Option<u64> {
        let children = self.children(bus);
        children
            .iter()
            .find(|d| d.id.as_deref() == Some(elem))
            .or_else(|| children.iter().find(|d| d.driver == elem))
            .or_else(|| {
                children
                    .iter()
                    .find(|d| super::catalog::find(&d.driver).and_then(|i| i.alias) == Some(elem))
            })
            .map(|d| d.uid)
    }

    /// `qbus_find`: resolves a `bus=` path such as `pci.0`, `/i440FX-pcihost/pci.0`
    /// or `scsi0` (a device with exactly one child bus).
    pub fn find_bus_path(&self, path: &str) -> Result<u64, QmpError> {
        let mut rest = path;
        let mut bus = if path.starts_with('/') {
            Self::ROOT
        } else {
            let (elem, tail) = split_elem(rest);
            rest = tail;
            self.find_bus_recursive(Self::ROOT, Some(elem), None)
                .ok_or_else(|| QmpError::with1(ErrorClass::BusNotFound, elem))?
        };
        loop {
            rest = rest.trim_start_matches('/');
            if rest.is_empty() {
                return Ok(bus);
            }
            let (elem, tail) = split_elem(rest);
            let dev = self
                .find_dev_on_bus(bus, elem)
                .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, elem))?;
            rest = tail.trim_start_matches('/');
            let children = self.child_buses(dev);
            if rest.is_empty() {
                return match children.as_slice() {
                    [] => Err(QmpError::with1(ErrorClass::DeviceNoBus, elem)),
                    [only] => Ok(only.uid),
                    _ => Err(QmpError::with1(ErrorClass::DeviceMultipleBusses, elem)),
                };
            }
            let (elem, tail) = split_elem(rest);
            rest = tail;
            bus = children
                .iter()
                .find(|b| b.name == elem)
                .map(|b| b.uid)
                .ok_or_else(|| QmpError::with1(ErrorClass::BusNotFound, elem))?;
        }
    }

    /// `qdev_find_recursive`: the device with a qdev id, depth first.
    pub fn find_by_id(&self, bus: u64, id: &str) -> Option<u64> {
        for dev in self.children(bus) {
            if dev.id.as_deref() == Some(id) {
                return Some(dev.uid);
            }
            for child in self.child_buses(dev.uid) {
                if let Some(found) = self.find_by_id(child.uid, id) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// A device and everything below it, children before parents.
    pub fn subtree(&self, device: u64) -> Vec<u64> {
        let mut out = Vec::new();
        for bus in self.child_buses(device) {
            for child in self.children(bus.uid) {
                out.extend(self.subtree(child.uid));
            }
        }
        out.push(device);
        out
    }

    /// Removes one device and its child buses (the caller removes children first).
    pub fn remove(&mut self, device: u64) {
        self.devices.retain(|d| d.uid != device);
        self.buses.retain(|b| b.parent != Some(device));
    }

    /// PCI functions sorted by devfn.
    pub fn pci_functions(&self) -> Vec<(&Device, &PciFunction)> {
        let mut v: Vec<(&Device, &PciFunction)> = self
            .devices
            .iter()
            .filter_map(|d| d.pci.as_ref().map(|p| (d, p)))
            .collect();
        v.sort_by_key(|(_, p)| p.devfn);
        v
    }

    /// The device at a devfn of the PCI bus.
    pub fn at_devfn(&self, devfn: u8) -> Option<&Device> {
        self.devices
            .iter()
            .find(|d| d.pci.as_ref().is_some_and(|p| p.devfn == devfn))
    }
}

/// `sscanf("%127[^/]")`: the element up to the next `/`, and the rest.
fn split_elem(s: &str) -> (&str, &str) {
    match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// `id_wellformed`: a letter, then letters, digits, `-`, `.`, `_`.
pub fn id_wellformed(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(driver: &str, id: Option<&str>, bus: u64) -> Device {
        Device {
            uid: 0,
            driver: driver.into(),
            id: id.map(str::to_owned),
            bus,
            props: vec![],
            user: false,
            hotplugged: false,
            unplug_requested: false,
            pci: None,
            port_nr: None,
            max_ports: None,
            scsi_id: None,
        }
    }

    /// Adds an lsi53c895a SCSI controller with `id` on `bus`: the device and
    /// its SCSI bus.
    fn add_scsi_controller(q: &mut Qdev, id: Option<&str>, bus: u64) -> (u64, u64) {
        let device = q.add_device(dev("lsi53c895a", id, bus));
        (device, q.add_bus(device, BusKind::Scsi, true, None))
    }

    fn tree() -> (Qdev, u64) {
        let mut q = Qdev::default();
        let host = q.add_device(dev("i440FX-pcihost", None, Qdev::ROOT));
        let pci = q.add_bus(host, BusKind::Pci, true, None);
        (q, pci)
    }

    #[test]
    fn bus_names_follow_kind_or_parent_id() {
        let (mut q, pci) = tree();
        let a = q.add_device(dev("lsi53c895a", None, pci));
        let b = q.add_device(dev("lsi53c895a", Some("s1"), pci));
        let ba = q.add_bus(a, BusKind::Scsi, true, None);
        let bb = q.add_bus(b, BusKind::Scsi, true, None);
        assert_eq!(q.bus(pci).name, "pci.0");
        assert_eq!(q.bus(ba).name, "scsi.0");
        assert_eq!(q.bus(bb).name, "s1.0");
    }

    #[test]
    fn recursive_find_prefers_newest_device() {
        let (mut q, pci) = tree();
        add_scsi_controller(&mut q, None, pci);
        let (_, bb) = add_scsi_controller(&mut q, Some("s1"), pci);
        assert_eq!(
            q.find_bus_recursive(Qdev::ROOT, None, Some(BusKind::Scsi)),
            Some(bb)
        );
    }

    #[test]
    fn path_to_device_with_one_bus_gives_that_bus() {
        let (mut q, pci) = tree();
        let (_, bb) = add_scsi_controller(&mut q, Some("s1"), pci);
        assert_eq!(q.find_bus_path("pci.0/s1"), Ok(bb));
        assert_eq!(q.find_bus_path("/i440FX-pcihost/pci.0/s1/s1.0"), Ok(bb));
    }

    #[test]
    fn path_errors_match_014() {
        let (mut q, pci) = tree();
        q.add_device(dev("e1000", Some("n"), pci));
        for (path, class, name) in [
            ("nosuch", ErrorClass::BusNotFound, "nosuch"),
            ("pci.0/x", ErrorClass::DeviceNotFound, "x"),
            ("pci.0/n", ErrorClass::DeviceNoBus, "n"),
            ("pci.0/n/y", ErrorClass::BusNotFound, "y"),
        ] {
            assert_eq!(
                q.find_bus_path(path),
                Err(QmpError::with1(class, name)),
                "{path}"
            );
        }
    }

    #[test]
    fn device_with_two_buses_needs_bus_name() {
        let (mut q, pci) = tree();
        let ide = q.add_device(dev("piix3-ide", None, pci));
        q.add_bus(ide, BusKind::Ide, false, None);
        q.add_bus(ide, BusKind::Ide, false, None);
        assert_eq!(
            q.find_bus_path("pci.0/piix3-ide"),
            Err(QmpError::with1(
                ErrorClass::DeviceMultipleBusses,
                "piix3-ide"
            ))
        );
        assert_eq!(
            q.find_bus_recursive(Qdev::ROOT, None, Some(BusKind::Ide))
                .map(|b| q.bus(b).name.clone()),
            Some("ide.1".to_owned())
        );
    }

    #[test]
    fn id_syntax_follows_qemu_opts() {
        assert!(id_wellformed("net1"));
        assert!(id_wellformed("a-b.c_d"));
        assert!(!id_wellformed("1net"));
        assert!(!id_wellformed(""));
        assert!(!id_wellformed("a b"));
    }

    #[test]
    fn find_by_id_searches_depth_first() {
        let (mut q, pci) = tree();
        let (s, sb) = add_scsi_controller(&mut q, None, pci);
        let disk = q.add_device(dev("scsi-disk", Some("d"), sb));
        assert_eq!(q.find_by_id(Qdev::ROOT, "d"), Some(disk));
        assert_eq!(q.subtree(s), [disk, s]);
    }
}
