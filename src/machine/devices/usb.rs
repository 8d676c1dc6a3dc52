//! USB as 0.14's hw/usb-bus.c keeps it: each USB bus with its numbered ports,
//! free and used, the devices attached to them, and the addresses the guest
//! gave them; the legacy device names of `-usbdevice` and `usb_add`
//! (`usbdevice_create` and `usb_device_add` of vl.c), `usb_del`'s `BUS.ADDR`
//! and `info usb`.
//!
//! Ports are kept in 0.14's list orders: a bus's free ports in the order they
//! were registered or given back (a freed port goes to the tail), its used
//! ports in attach order (`info usb` lists them so). A device attached when
//! only one free port is left first gets a `usb-hub` on that port, whose eight
//! ports join the tail of the free list (`usb_device_attach`). A device's
//! address is 0 until the guest enumerates it ([`Usb::enumerate`]). Pure data.

use serde::{Deserialize, Serialize};

/// Ports of a UHCI controller (`NB_PORTS`).
pub const UHCI_PORTS: u32 = 2;
/// Ports of a `usb-hub` (`NUM_PORTS`).
pub const HUB_PORTS: u32 = 8;
/// The first address the guest (Linux's `choose_devnum`) gives a device: 1 is
/// its root hub's.
pub const FIRST_DEVICE_ADDR: u8 = 2;
/// Addresses past the last one wrap around (USB's 7-bit addresses).
pub const ADDRS: u8 = 128;

/// One port: its path (`1`, `2.3`), the hub it belongs to (none for a root
/// port), and, when used, the device on it and that device's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbPort {
    /// `usb_port_location`: the root port's number, then each hub port's.
    pub path: String,
    /// The `usb-hub` device whose port this is.
    pub hub: Option<u64>,
    /// The device attached.
    pub device: Option<u64>,
    /// That device's address (0 until the guest sets one).
    pub addr: u8,
}

/// One USB bus (`USBBus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbBus {
    /// The qdev bus.
    pub bus: u64,
    /// `busnr`: buses are numbered in creation order.
    pub busnr: u32,
    /// Free ports, in list order.
    pub free: Vec<UsbPort>,
    /// Used ports, in attach order.
    pub used: Vec<UsbPort>,
    /// The address the guest gives next.
    pub next_addr: u8,
}

/// Every USB bus, in creation order (0.14's `busses`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usb {
    /// The buses.
    pub buses: Vec<UsbBus>,
    /// The next `busnr` (`next_usb_bus`).
    pub next_busnr: u32,
}

/// What attaching a device needs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachNeed {
    /// Nothing: attach it.
    Nothing,
    /// A `usb-hub` on this bus first (one free port left).
    Hub,
}

impl Usb {
    /// `usb_bus_new` with the controller's root ports (`usb_register_port` of
    /// each, paths `1`..`N`).
    pub fn add_bus(&mut self, bus: u64, ports: u32) {
        let free = (1..=ports)
            .map(|n| UsbPort {
                path: n.to_string(),
                hub: None,
                device: None,
                addr: 0,
            })
            .collect();
        self.buses.push(UsbBus {
            bus,
            busnr: self.next_busnr,
            free,
            used: Vec::new(),
            next_addr: FIRST_DEVICE_ADDR,
        });
        self.next_busnr += 1;
    }

    /// The bus of a qdev bus uid.
    pub fn bus(&self, bus: u64) -> Option<&UsbBus> {
        self.buses.iter().find(|b| b.bus == bus)
    }

    fn bus_mut(&mut self, bus: u64) -> Option<&mut UsbBus> {
        self.buses.iter_mut().find(|b| b.bus == bus)
    }

    /// `usb_bus_find(busnr)`: -1 is the first bus.
    pub fn find_busnr(&self, busnr: i64) -> Option<&UsbBus> {
        if busnr == -1 {
            return self.buses.first();
        }
        self.buses.iter().find(|b| i64::from(b.busnr) == busnr)
    }

    /// What `usb_device_attach` of a device without a `port` property needs.
    pub fn attach_need(&self, bus: u64, port: Option<&str>) -> AttachNeed {
        match self.bus(bus) {
            Some(b) if b.free.len() == 1 && port.is_none() => AttachNeed::Hub,
            _ => AttachNeed::Nothing,
        }
    }

    /// `do_attach`: the device takes the free port of path `port`, or the
    /// first free one. `false` when there is none (0.14 warns, or crashes
    /// when no port is free at all); the device then stays unattached.
    pub fn attach(&mut self, bus: u64, device: u64, port: Option<&str>) -> bool {
        let Some(b) = self.bus_mut(bus) else {
            return false;
        };
        let index = match port {
            Some(path) => b.free.iter().position(|p| p.path == path),
            None => (!b.free.is_empty()).then_some(0),
        };
        let Some(index) = index else {
            return false;
        };
        let mut p = b.free.remove(index);
        p.device = Some(device);
        p.addr = 0;
        b.used.push(p);
        true
    }

    /// `usb_hub_initfn` and its attach: the hub (already attached with
    /// [`Usb::attach`]) registers its ports at the tail of the free list,
    /// named after the port it sits on.
    pub fn add_hub_ports(&mut self, bus: u64, hub: u64) {
        let Some(b) = self.bus_mut(bus) else {
            return;
        };
        let Some(base) = b
            .used
            .iter()
            .find(|p| p.device == Some(hub))
            .map(|p| p.path.clone())
        else {
            return;
        };
        for n in 1..=HUB_PORTS {
            b.free.push(UsbPort {
                path: format!("{base}.{n}"),
                hub: Some(hub),
                device: None,
                addr: 0,
            });
        }
    }

    /// `usb_qdev_exit` of a device: its port goes back to the tail of the
    /// free list; a hub's ports are unregistered. Returns the devices on the
    /// hub's ports, which 0.14 frees with it (`usb_unregister_port`).
    pub fn detach(&mut self, device: u64) -> Vec<u64> {
        let mut orphans = Vec::new();
        for b in &mut self.buses {
            if let Some(i) = b.used.iter().position(|p| p.device == Some(device)) {
                let mut p = b.used.remove(i);
                p.device = None;
                p.addr = 0;
                b.free.push(p);
            }
            orphans.extend(
                b.used
                    .iter()
                    .filter(|p| p.hub == Some(device))
                    .filter_map(|p| p.device),
            );
        }
        orphans
    }

    /// After a hub's orphans were freed: its ports leave the free list.
    pub fn unregister_hub_ports(&mut self, hub: u64) {
        for b in &mut self.buses {
            b.free.retain(|p| p.hub != Some(hub));
            b.used.retain(|p| p.hub != Some(hub));
        }
    }

    /// The guest enumerates the bus of `device`: every attached device
    /// without an address gets the next free one, in attach order (a hub
    /// before the devices behind it), as Linux's `choose_devnum` gives them
    /// (round robin over 1..127, skipping those in use).
    pub fn enumerate(&mut self, device: u64) {
        let Some(b) = self
            .buses
            .iter_mut()
            .find(|b| b.used.iter().any(|p| p.device == Some(device)))
        else {
            return;
        };
        for i in 0..b.used.len() {
            if b.used[i].addr != 0 {
                continue;
            }
            let taken: Vec<u8> = b.used.iter().map(|p| p.addr).collect();
            let start = b.next_addr;
            let mut addr = start;
            while taken.contains(&addr) {
                addr = if addr + 1 >= ADDRS { 1 } else { addr + 1 };
                if addr == start {
                    return;
                }
            }
            b.used[i].addr = addr;
            b.next_addr = if addr + 1 >= ADDRS { 1 } else { addr + 1 };
        }
    }

    /// `qemu_system_reset`: the guest will reset the ports and enumerate
    /// again, so every address is 0 and numbering starts over.
    pub fn reset(&mut self) {
        for b in &mut self.buses {
            b.next_addr = FIRST_DEVICE_ADDR;
            for p in &mut b.used {
                p.addr = 0;
            }
        }
    }

    /// `usb_device_delete_addr`: the device on bus `busnr` whose address is
    /// `addr` (the first in attach order).
    pub fn device_at(&self, busnr: i64, addr: i64) -> Option<u64> {
        self.find_busnr(busnr)?
            .used
            .iter()
            .find(|p| i64::from(p.addr) == addr)
            .and_then(|p| p.device)
    }
}

/// `product_desc` of the USB drivers.
pub fn product_desc(driver: &str) -> &'static str {
    match driver {
        "usb-tablet" => "QEMU USB Tablet",
        "usb-mouse" => "QEMU USB Mouse",
        "usb-kbd" => "QEMU USB Keyboard",
        "usb-hub" => "QEMU USB Hub",
        "usb-storage" => "QEMU USB MSD",
        "usb-serial" => "QEMU USB Serial",
        "usb-braille" => "QEMU USB Braille",
        "usb-net" => "QEMU USB Network Interface",
        "usb-bt-dongle" => "QEMU BT dongle",
        _ => "",
    }
}

/// Every USB device of 0.14 runs at full speed (`usb_desc_init`): its
/// `usb_speed` text.
pub const SPEED_MBPS: &str = "12";

/// What `usb_device_add` makes of a device name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsbDevName {
    /// A driver `usb_create_simple` makes (`tablet`, `mouse`, `keyboard`).
    Driver(&'static str),
    /// A driver that takes no parameters, given some: 0.14 reports
    /// `usbdevice NAME accepts no params` and fails.
    NoParams(String),
    /// A name whose device the model does not make (`disk:`, `serial:`,
    /// `net:`, `wacom-tablet`, `host:`, `bt`).
    Unmodelled,
    /// A name 0.14 makes nothing of (unknown, or `braille` in a build without
    /// brlapi).
    Unknown,
}

/// `usbdevice_name`s of the drivers `usb_create_simple` makes directly.
const SIMPLE_USBDEVICES: &[(&str, &str)] = &[
    ("tablet", "usb-tablet"),
    ("mouse", "usb-mouse"),
    ("keyboard", "usb-kbd"),
];

/// `usbdevice_create` then the `host:` and `bt` cases of `usb_device_add`.
pub fn parse_devname(devname: &str) -> UsbDevName {
    // 0.14 copies the name into a 32-byte buffer; every known name is shorter.
    let (driver, params) = devname.split_once(':').unwrap_or((devname, ""));
    if let Some((name, qdev)) = SIMPLE_USBDEVICES.iter().find(|(n, _)| *n == driver) {
        if params.is_empty() {
            return UsbDevName::Driver(qdev);
        }
        return UsbDevName::NoParams((*name).to_owned());
    }
    match driver {
        "wacom-tablet" if !params.is_empty() => UsbDevName::NoParams(driver.to_owned()),
        "disk" | "serial" | "net" | "wacom-tablet" => UsbDevName::Unmodelled,
        // No brlapi in a default build: the braille chardev cannot open.
        "braille" => UsbDevName::Unknown,
        _ if devname.starts_with("host:") || devname == "bt" || devname.starts_with("bt:") => {
            UsbDevName::Unmodelled
        }
        _ => UsbDevName::Unknown,
    }
}

/// `strtoul(s, NULL, 0)` stored in an `int`: the leading number (0 if none),
/// wrapped to 32 bits.
pub fn strtoul_int(s: &str) -> i64 {
    let value = super::cfmt::strtoul_prefix(s, 0).map_or(0, |(v, _)| v);
    let low = u32::try_from(value & 0xffff_ffff).expect("masked to 32 bits");
    i64::from(i32::from_ne_bytes(low.to_ne_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> Usb {
        let mut usb = Usb::default();
        usb.add_bus(7, UHCI_PORTS);
        usb
    }

    fn paths(ports: &[UsbPort]) -> Vec<&str> {
        ports.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn second_device_needs_a_hub_on_the_last_root_port() {
        let mut usb = bus();
        assert_eq!(usb.attach_need(7, None), AttachNeed::Nothing);
        assert!(usb.attach(7, 1, None));
        assert_eq!(usb.attach_need(7, None), AttachNeed::Hub);
        assert!(usb.attach(7, 2, None));
        usb.add_hub_ports(7, 2);
        assert!(usb.attach(7, 3, None));
        let b = usb.bus(7).unwrap();
        assert_eq!((paths(&b.used), b.free.len()), (vec!["1", "2", "2.1"], 7));
    }

    #[test]
    fn freed_port_goes_to_the_tail() {
        let mut usb = bus();
        usb.attach(7, 1, None);
        assert!(usb.detach(1).is_empty());
        assert_eq!(paths(&usb.bus(7).unwrap().free), ["2", "1"]);
    }

    #[test]
    fn hub_detach_names_the_devices_behind_it() {
        let mut usb = bus();
        usb.attach(7, 1, None);
        usb.attach(7, 2, None);
        usb.add_hub_ports(7, 2);
        usb.attach(7, 3, None);
        assert_eq!(usb.detach(2), [3]);
        usb.detach(3);
        usb.unregister_hub_ports(2);
        assert_eq!(paths(&usb.bus(7).unwrap().free), ["2"]);
    }

    #[test]
    fn port_property_names_a_free_port() {
        let mut usb = bus();
        assert!(usb.attach(7, 1, Some("2")));
        assert!(!usb.attach(7, 2, Some("5")));
        assert_eq!(paths(&usb.bus(7).unwrap().used), ["2"]);
    }

    #[test]
    fn enumeration_numbers_in_attach_order_from_two() {
        let mut usb = bus();
        usb.attach(7, 1, None);
        usb.attach(7, 2, None);
        usb.enumerate(2);
        let addrs: Vec<u8> = usb.bus(7).unwrap().used.iter().map(|p| p.addr).collect();
        assert_eq!(addrs, [2, 3]);
        assert_eq!(usb.device_at(0, 3), Some(2));
    }

    #[test]
    fn enumeration_after_a_removal_does_not_reuse_at_once() {
        let mut usb = bus();
        usb.attach(7, 1, None);
        usb.enumerate(1);
        usb.detach(1);
        usb.attach(7, 2, None);
        usb.enumerate(2);
        assert_eq!(usb.bus(7).unwrap().used[0].addr, 3);
    }

    #[test]
    fn enumeration_skips_an_address_in_use_and_wraps_after_127() {
        // The next address before each of two devices is enumerated (None:
        // as it is), then the addresses they got and the next one.
        let rows: [([Option<u8>; 2], [u8; 2], u8); 2] = [
            // As after the addresses wrapped: the next one is in use.
            ([None, Some(2)], [2, 3], 4),
            ([Some(ADDRS - 1), None], [127, 1], 2),
        ];
        for (next, addrs, after) in rows {
            let mut usb = bus();
            for (device, next) in [1, 2].into_iter().zip(next) {
                if let Some(n) = next {
                    usb.buses[0].next_addr = n;
                }
                usb.attach(7, device, None);
                usb.enumerate(device);
            }
            let b = usb.bus(7).unwrap();
            let got: Vec<u8> = b.used.iter().map(|p| p.addr).collect();
            assert_eq!((got, b.next_addr), (addrs.to_vec(), after), "{next:?}");
        }
    }

    #[test]
    fn buses_are_numbered_in_creation_order() {
        let mut usb = bus();
        usb.add_bus(9, UHCI_PORTS);
        assert_eq!(
            (
                usb.find_busnr(0).map(|b| b.bus),
                usb.find_busnr(1).map(|b| b.bus),
                usb.find_busnr(-1).map(|b| b.bus)
            ),
            (Some(7), Some(9), Some(7))
        );
    }

    #[test]
    fn reset_clears_addresses() {
        let mut usb = bus();
        usb.attach(7, 1, None);
        usb.enumerate(1);
        usb.reset();
        assert_eq!(usb.device_at(-1, 0), Some(1));
    }

    #[test]
    fn devnames_as_usb_device_add_reads_them() {
        assert_eq!(
            [
                parse_devname("tablet"),
                parse_devname("keyboard:x"),
                parse_devname("disk:/a.img"),
                parse_devname("host:1.2"),
                parse_devname("braille"),
                parse_devname("bogus"),
                parse_devname("wacom-tablet"),
                parse_devname("wacom-tablet:x"),
            ],
            [
                UsbDevName::Driver("usb-tablet"),
                UsbDevName::NoParams("keyboard".to_owned()),
                UsbDevName::Unmodelled,
                UsbDevName::Unmodelled,
                UsbDevName::Unknown,
                UsbDevName::Unknown,
                UsbDevName::Unmodelled,
                UsbDevName::NoParams("wacom-tablet".to_owned()),
            ]
        );
    }

    #[test]
    fn strtoul_reads_the_leading_number() {
        assert_eq!(
            ["0", "3x", "0x1f", "010", "-1", "", "99999999999"].map(strtoul_int),
            [0, 3, 31, 8, -1, 0, 1_215_752_191]
        );
    }
}
