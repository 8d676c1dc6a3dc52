//! The human monitor's pre-qdev hotplug and machine-setting commands of 0.14:
//! `pci_add`/`pci_del` (hw/pci-hotplug.c), `drive_add`/`drive_del`
//! (hw/pci-hotplug.c, blockdev.c), `host_net_add`/`host_net_remove` (net.c),
//! `boot_set` (monitor.c, hw/pc.c), `singlestep` (monitor.c) and
//! `snapshot_blkdev` (blockdev.c). Each prints 0.14's texts, with `\n` line
//! ends; errors 0.14 reports with `qerror_report` print their description, and
//! `error_report` lines print bare (a monitor is current, so no location).
//! Effects go through the same machine operations as QMP's `device_add`,
//! `device_del` and `change`. Pure.

use std::fmt::Write as _;

use crate::machine::config::{ImageInfo, ImageProbe, OptionList};
use crate::machine::devices::add::Unplug;
use crate::machine::devices::block::DriveIf;
use crate::machine::devices::catalog::BusKind;
use crate::machine::devices::catalog::PCI_NIC_MODELS;
use crate::machine::devices::net::{MAC_BASE, ND_TABLE_NICS_MAX};
use crate::machine::devices::pci::FUNCTIONS_PER_SLOT;
use crate::machine::devices::qdev::Qdev;
use crate::machine::memory::FileBytes;
use crate::machine::Effect;
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;
use crate::qobject::{ErrorClass, QmpError};

/// Keys a `-net nic` (and `pci_add ... nic`) takes (`net_client_types`).
const NIC_KEYS: &[&str] = &[
    "type", "vlan", "name", "netdev", "macaddr", "model", "addr", "vectors", "id",
];

/// `pci_parse_devaddr` without a function: `[[DOMAIN:]BUS:]SLOT` in hex, each
/// part in range.
pub fn parse_devaddr(addr: &str) -> Option<(u64, u64, u64)> {
    let hex = |s: &str| -> Option<(u64, usize)> {
        let end = s.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len());
        (end > 0)
            .then(|| u64::from_str_radix(&s[..end], 16).ok().map(|v| (v, end)))
            .flatten()
    };
    let mut parts = Vec::new();
    let mut rest = addr;
    loop {
        let (value, used) = hex(rest)?;
        parts.push(value);
        rest = &rest[used..];
        match rest.strip_prefix(':') {
            Some(after) if parts.len() < 3 => rest = after,
            _ => break,
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let (dom, bus, slot) = match parts[..] {
        [slot] => (0, 0, slot),
        [bus, slot] => (0, bus, slot),
        [dom, bus, slot] => (dom, bus, slot),
        _ => return None,
    };
    (dom <= 0xffff && bus <= 0xff && slot <= 0x1f).then_some((dom, bus, slot))
}

/// `pci_get_bus_devfn`: `None` (auto) or a slot on the one PCI bus of the pc
/// machine, domain 0 bus 0; `Err` for an address that names no bus.
fn bus_devfn(devaddr: Option<&str>) -> Result<Option<u8>, ()> {
    let Some(addr) = devaddr else { return Ok(None) };
    match parse_devaddr(addr) {
        Some((0, 0, slot)) => Ok(Some(
            u8::try_from(slot).expect("slot <= 0x1f") * FUNCTIONS_PER_SLOT,
        )),
        _ => Err(()),
    }
}

/// The PCI bus's uid, and whether it takes hotplugged devices.
fn pci_bus(ctx: &Ctx<'_>) -> Option<(u64, bool)> {
    let qdev = &ctx.machine.devices.qdev;
    let bus = qdev.find_bus_recursive(Qdev::ROOT, None, Some(BusKind::Pci))?;
    Some((bus, qdev.bus(bus).allow_hotplug))
}

/// `pci_add ADDR nic|storage [OPTS]`.
pub fn pci_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let mut addr = args.str("pci_addr");
    addr = addr.strip_prefix("pci_addr=").unwrap_or(addr);
    let opts = args.opt_str("opts").unwrap_or_default();
    let devaddr = (addr != "auto").then_some(addr);
    let added = match args.str("type") {
        "nic" => hot_add_nic(ctx, devaddr, opts, out),
        "storage" => hot_add_storage(ctx, devaddr, opts, out),
        other => {
            let _ = writeln!(out, "invalid type: {other}");
            None
        }
    };
    let devfn = added.and_then(|uid| {
        let devfn = ctx.machine.devices.qdev.device(uid)?.pci.as_ref()?.devfn;
        ctx.machine.guest_on_hotplug(uid);
        ctx.machine.balloon_sync();
        Some(devfn)
    });
    match devfn {
        Some(devfn) => {
            let _ = writeln!(
                out,
                "OK domain 0, bus 0, slot {}, function {}",
                devfn / FUNCTIONS_PER_SLOT,
                devfn % FUNCTIONS_PER_SLOT
            );
        }
        None => {
            let _ = writeln!(out, "failed to add {opts}");
        }
    }
}

/// The checks before a PCI device is created: the address and the bus.
fn hot_add_bus(ctx: &Ctx<'_>, devaddr: Option<&str>, out: &mut String) -> Option<Option<u8>> {
    let Ok(devfn) = bus_devfn(devaddr) else {
        let _ = writeln!(
            out,
            "Invalid PCI device address {}",
            devaddr.unwrap_or_default()
        );
        return None;
    };
    if !pci_bus(ctx).is_some_and(|(_, hotplug)| hotplug) {
        out.push_str("PCI bus doesn't support hotplug\n");
        return None;
    }
    Some(devfn)
}

/// `pci_create` + `qdev_init` of `driver` at `devfn` (or the first free slot),
/// with `props`; 0.14's `error_report` text when the slot is taken.
fn create_pci(
    ctx: &mut Ctx<'_>,
    driver: &str,
    devfn: Option<u8>,
    props: &[(&str, String)],
    out: &mut String,
) -> Option<u64> {
    let devices = &ctx.machine.devices;
    match devfn {
        Some(devfn) => {
            if let Some(other) = devices.qdev.at_devfn(devfn) {
                let _ = writeln!(
                    out,
                    "PCI: slot {} function {} not available for {driver}, in use by {}",
                    devfn / FUNCTIONS_PER_SLOT,
                    devfn % FUNCTIONS_PER_SLOT,
                    other.driver
                );
                return None;
            }
        }
        None if devices.free_slot_devfn().is_none() => {
            let _ = writeln!(
                out,
                "PCI: no slot/function available for {driver}, all in use"
            );
            return None;
        }
        None => {}
    }
    let mut opts = vec![("driver".to_owned(), driver.to_owned())];
    if let Some(devfn) = devfn {
        opts.push((
            "addr".to_owned(),
            format!(
                "{:x}.{:x}",
                devfn / FUNCTIONS_PER_SLOT,
                devfn % FUNCTIONS_PER_SLOT
            ),
        ));
    }
    opts.extend(props.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let devices = &mut ctx.machine.devices;
    match devices.device_add(None, &opts, true) {
        Ok(uid) => {
            // Made by qdev_create, not from a `device` option group.
            if let Some(d) = devices.qdev.device_mut(uid) {
                d.user = false;
            }
            Some(uid)
        }
        Err(e) => {
            let _ = writeln!(out, "{}", e.desc());
            None
        }
    }
}

/// `qemu_pci_hot_add_nic`: `net_client_init` of a `nic` (an `nd_table` entry,
/// kept even when the card fails), then `pci_nic_init` with `rtl8139` as the
/// default model.
fn hot_add_nic(
    ctx: &mut Ctx<'_>,
    devaddr: Option<&str>,
    opts: &str,
    out: &mut String,
) -> Option<u64> {
    let devfn = hot_add_bus(ctx, devaddr, out)?;
    let mut nic = OptionList::parse(opts, None);
    nic.push("type", "nic");
    let mac = match nic_client_init(ctx, &nic) {
        Ok(mac) => mac,
        Err(lines) => {
            out.push_str(&lines);
            return None;
        }
    };
    if nic.get("addr").is_some() {
        out.push_str("Parameter addr not supported\n");
        return None;
    }
    let model = nic.get("model").unwrap_or("rtl8139");
    let Some((_, driver)) = PCI_NIC_MODELS.iter().find(|(m, _)| *m == model) else {
        let _ = writeln!(out, "qemu: Unsupported NIC model: {model}");
        return None;
    };
    let mut props = vec![("mac", mac)];
    match nic.get("netdev") {
        Some(netdev) => props.push(("netdev", netdev.to_owned())),
        None => props.push(("vlan", nic.get("vlan").unwrap_or("0").to_owned())),
    }
    if let Some(vectors) = nic.get("vectors") {
        props.push(("vectors", vectors.to_owned()));
    }
    create_pci(ctx, driver, devfn, &props, out)
}

/// `net_client_init` + `net_init_nic` of a human monitor's NIC: its MAC
/// address, or the lines 0.14 prints (the `qerror` of a failed init last).
fn nic_client_init(ctx: &mut Ctx<'_>, nic: &OptionList) -> Result<String, String> {
    if let Some((key, _)) = nic
        .items
        .iter()
        .find(|(k, _)| !NIC_KEYS.contains(&k.as_str()))
    {
        return Err(format!("Invalid parameter '{key}'\n"));
    }
    for key in ["vlan", "vectors"] {
        if nic
            .get(key)
            .is_some_and(|v| crate::machine::devices::drive_opts::parse_c_number(v).is_none())
        {
            return Err(format!("Parameter '{key}' expects a number\n"));
        }
    }
    let failed = |line: &str| format!("{line}\nDevice 'nic' could not be initialized\n");
    let net = &mut ctx.machine.devices.net;
    if net.nd_table_used >= ND_TABLE_NICS_MAX {
        return Err(failed("Too Many NICs"));
    }
    if let Some(netdev) = nic.get("netdev") {
        if net.find_netdev(netdev).is_none() {
            return Err(failed(&format!("netdev '{netdev}' not found")));
        }
    }
    let index = net.nd_table_used;
    let mut mac = MAC_BASE;
    mac[5] = mac[5].wrapping_add(u8::try_from(index).expect("below ND_TABLE_NICS_MAX"));
    let mac_text = match nic.get("macaddr") {
        Some(m) if crate::machine::devices::add::parse_mac(m).is_none() => {
            return Err(failed("invalid syntax for ethernet address"));
        }
        Some(m) => m.to_owned(),
        None => mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    };
    net.nd_table_used += 1;
    Ok(mac_text)
}

/// `qemu_pci_hot_add_storage`: an `if=scsi` controller (with the drive, if a
/// file is given) or an `if=virtio` disk.
fn hot_add_storage(
    ctx: &mut Ctx<'_>,
    devaddr: Option<&str>,
    opts: &str,
    out: &mut String,
) -> Option<u64> {
    let parsed = OptionList::parse(opts, None);
    let scsi = match parsed
        .items
        .iter()
        .find(|(k, _)| k == "if")
        .map(|(_, v)| v.as_str())
    {
        None => {
            out.push_str("no if= specified\n");
            return None;
        }
        Some("scsi") => true,
        Some("virtio") => false,
        Some(other) => {
            let _ = writeln!(out, "type {other} not a hotpluggable PCI device.");
            return None;
        }
    };
    let drive = if parsed.get("file").is_some() {
        let name = add_init_drive(ctx, &parsed, out)?;
        if parsed.get("addr").is_some() {
            out.push_str("Parameter addr not supported\n");
            return None;
        }
        Some(name)
    } else {
        None
    };
    let devfn = hot_add_bus(ctx, devaddr, out)?;
    if scsi {
        let uid = create_pci(ctx, "lsi53c895a", devfn, &[], out)?;
        if let Some(name) = drive {
            if scsi_hot_add(ctx, uid, &name, &parsed, out).is_none() {
                let _ = ctx.machine.devices.qdev_unplug(uid);
                return None;
            }
        }
        return Some(uid);
    }
    let Some(name) = drive else {
        out.push_str("virtio requires a backing file/device.\n");
        return None;
    };
    create_pci(ctx, "virtio-blk-pci", devfn, &[("drive", name)], out)
}

/// `add_init_drive`: the drive of `opts` (its file as the edge probed it);
/// `None` after printing why not.
fn add_init_drive(ctx: &mut Ctx<'_>, opts: &OptionList, out: &mut String) -> Option<String> {
    let probe = opts
        .get("file")
        .and_then(|f| ctx.machine.image_probes.get(f))
        .cloned();
    match ctx.machine.devices.block.hot_add(opts, probe.as_ref()) {
        Ok(name) => Some(name),
        Err(text) => {
            out.push_str(&text);
            None
        }
    }
}

/// The bus number 0.14's `scsi_bus_new` gave a SCSI bus (they count up in
/// creation order).
fn scsi_bus_number(ctx: &Ctx<'_>, bus: u64) -> usize {
    ctx.machine
        .devices
        .qdev
        .buses
        .iter()
        .filter(|b| b.kind == BusKind::Scsi)
        .position(|b| b.uid == bus)
        .unwrap_or(0)
}

/// `scsi_hot_add`: a `scsi-disk` for drive `name` on the adapter's SCSI bus, at
/// the `unit=` of `opts` or the first free target; its bus number and target.
fn scsi_hot_add(
    ctx: &mut Ctx<'_>,
    adapter: u64,
    name: &str,
    opts: &OptionList,
    out: &mut String,
) -> Option<(usize, u32)> {
    let devices = &mut ctx.machine.devices;
    let Some(bus) = devices
        .qdev
        .child_buses(adapter)
        .first()
        .filter(|b| b.kind == BusKind::Scsi)
        .map(|b| b.uid)
    else {
        out.push_str("Device is not a SCSI adapter\n");
        return None;
    };
    let path = devices.qdev.bus(bus).name.clone();
    let mut props = vec![
        ("driver".to_owned(), "scsi-disk".to_owned()),
        ("bus".to_owned(), path),
        ("drive".to_owned(), name.to_owned()),
    ];
    if let Some(unit) = opts.get("unit") {
        props.push(("scsi-id".to_owned(), unit.to_owned()));
    }
    let uid = devices.device_add(None, &props, true).ok()?;
    let device = devices.qdev.device_mut(uid)?;
    device.user = false;
    let target = device.scsi_id?;
    let number = scsi_bus_number(ctx, bus);
    if let Some(d) = ctx
        .machine
        .devices
        .block
        .drives
        .iter_mut()
        .find(|d| d.name == name)
    {
        d.bus = u32::try_from(number).unwrap_or(u32::MAX);
        d.unit = target;
    }
    Some((number, target))
}

/// `pci_del [[DOMAIN:]BUS:]SLOT`: asks the guest to eject the slot.
pub fn pci_del(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let addr = args.str("pci_addr");
    let addr = addr.strip_prefix("pci_addr=").unwrap_or(addr);
    let Some((dom, bus, slot)) = parse_devaddr(addr) else {
        out.push_str("Invalid pci address\n");
        return;
    };
    let devfn = u8::try_from(slot).expect("slot <= 0x1f") * FUNCTIONS_PER_SLOT;
    let found = (dom == 0 && bus == 0)
        .then(|| ctx.machine.devices.qdev.at_devfn(devfn).map(|d| d.uid))
        .flatten();
    let Some(uid) = found else {
        let _ = writeln!(out, "slot {slot} empty");
        return;
    };
    match ctx.machine.devices.qdev_unplug(uid) {
        Ok(Unplug::EjectRequested { slot }) => ctx.machine.guest_on_unplug_request(slot),
        Ok(Unplug::Removed) => ctx.machine.balloon_sync(),
        Err(e) => {
            let _ = writeln!(out, "{}", e.desc());
        }
    }
}

/// 0.14's `BlockInterfaceType` number of an interface (`Can't hot-add drive to
/// type N`).
fn interface_number(interface: DriveIf) -> u32 {
    match interface {
        DriveIf::None => 0,
        DriveIf::Ide => 1,
        DriveIf::Scsi => 2,
        DriveIf::Floppy => 3,
        DriveIf::Pflash => 4,
        DriveIf::Mtd => 5,
        DriveIf::Sd => 6,
        DriveIf::Virtio => 7,
        DriveIf::Xen => 8,
    }
}

/// `drive_add ADDR OPTS` (`drive_hot_add`): an `if=scsi` drive goes on the SCSI
/// adapter at ADDR, an `if=none` drive waits for a device; other interfaces
/// cannot be added, and the drive is dropped again.
pub fn drive_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let opts = OptionList::parse(args.str("opts"), None);
    let Some(name) = add_init_drive(ctx, &opts, out) else {
        return;
    };
    if run_drive_add(ctx, args.str("pci_addr"), &name, &opts, out).is_none() {
        let _ = ctx.machine.devices.block.drive_del(&name);
    }
}

fn run_drive_add(
    ctx: &mut Ctx<'_>,
    pci_addr: &str,
    name: &str,
    opts: &OptionList,
    out: &mut String,
) -> Option<()> {
    if opts.get("addr").is_some() {
        out.push_str("Parameter addr not supported\n");
        return None;
    }
    let interface = ctx.machine.devices.block.find(name)?.interface;
    match interface {
        DriveIf::Scsi => {
            let addr = pci_addr.strip_prefix("pci_addr=").unwrap_or(pci_addr);
            let Some((dom, bus, slot)) = parse_devaddr(addr) else {
                out.push_str("Invalid pci address\n");
                return None;
            };
            let devfn = u8::try_from(slot).expect("slot <= 0x1f") * FUNCTIONS_PER_SLOT;
            let adapter = (dom == 0 && bus == 0)
                .then(|| ctx.machine.devices.qdev.at_devfn(devfn).map(|d| d.uid))
                .flatten();
            let Some(adapter) = adapter else {
                let _ = writeln!(out, "no pci device with address {pci_addr}");
                return None;
            };
            let (bus, unit) = scsi_hot_add(ctx, adapter, name, opts, out)?;
            let _ = writeln!(out, "OK bus {bus}, unit {unit}");
        }
        DriveIf::None => out.push_str("OK\n"),
        other => {
            let _ = writeln!(
                out,
                "Can't hot-add drive to type {}",
                interface_number(other)
            );
            return None;
        }
    }
    Some(())
}

/// `drive_del ID` (`do_drive_del`): the drive goes; a device using it stays,
/// without a medium.
pub fn drive_del(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    if let Err(e) = ctx.machine.devices.block.drive_del(args.str("id")) {
        let _ = writeln!(out, "{}", e.desc());
    }
}

/// `net_host_check_device`: a host backend type, compared by prefix as 0.14
/// does.
fn host_net_type_ok(device: &str) -> bool {
    ["tap", "socket", "dump", "user", "vde"]
        .iter()
        .any(|t| device.starts_with(t))
}

/// `host_net_add TYPE [OPTS]` (`net_host_device_add`): a backend on a VLAN.
pub fn host_net_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let device = args.str("device");
    if !host_net_type_ok(device) {
        let _ = writeln!(out, "invalid host network device {device}");
        return;
    }
    let mut opts = OptionList::parse(args.opt_str("opts").unwrap_or_default(), None);
    opts.push("type", device);
    if let Err(text) = ctx.machine.devices.net.host_net_add(&opts) {
        out.push_str(&text);
        let _ = writeln!(out, "adding host network device {device} failed");
    }
}

/// `host_net_remove VLAN NAME` (`net_host_device_remove`).
pub fn host_net_remove(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let raw = args.int("vlan_id");
    // 0.14 keeps the VLAN id in an `int`.
    let low = u32::try_from(raw & 0xFFFF_FFFF).expect("masked to 32 bits");
    let vlan = i32::from_ne_bytes(low.to_ne_bytes());
    let device = args.str("device");
    out.push_str(&ctx.machine.devices.net.host_net_remove(vlan, device));
}

/// `boot_set DEVICES` (`pc_boot_set`): at most three of `a`, `b` (floppy), `c`
/// (disk), `d` (CD-ROM), `n` (network). The boot order lives in the RTC's
/// CMOS, which nothing QMP shows reads.
pub fn boot_set(_ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let devices = args.str("bootdevice");
    let refused = if devices.len() > 3 {
        Some("Too many boot devices for PC".to_owned())
    } else {
        devices
            .chars()
            .find(|c| !matches!(c, 'a' | 'b' | 'c' | 'd' | 'n'))
            .map(|c| format!("Invalid boot device for PC: '{c}'"))
    };
    match refused {
        Some(line) => {
            let _ = writeln!(out, "{line}\nsetting boot device list failed");
        }
        None => {
            let _ = writeln!(out, "boot device list now set to {devices}");
        }
    }
}

/// `singlestep [on|off]`: the flag `query-status` reports.
pub fn singlestep(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    match args.opt_str("option") {
        None | Some("on") => ctx.machine.singlestep = true,
        Some("off") => ctx.machine.singlestep = false,
        Some(other) => {
            let _ = writeln!(out, "unexpected option {other}");
        }
    }
}

/// Formats whose images can name a backing file (`BLOCK_OPT_BACKING_FILE`).
const BACKING_FORMATS: &[&str] = &["qcow2", "qcow", "cow", "qed", "vmdk"];

/// `snapshot_blkdev DEVICE FILE [FORMAT]` (`do_snapshot_blkdev`): creates FILE,
/// an image in FORMAT (qcow2 by default) backed by the device's image, and
/// reopens the device on it. The file is written before the command returns.
pub fn snapshot_blkdev(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    if let Err(e) = run_snapshot_blkdev(ctx, &args, out) {
        let _ = writeln!(out, "{}", e.desc());
    }
}

fn run_snapshot_blkdev(
    ctx: &mut Ctx<'_>,
    args: &Args<'_>,
    out: &mut String,
) -> Result<(), QmpError> {
    let Some(file) = args.opt_str("snapshot_file") else {
        return Err(QmpError::with1(
            ErrorClass::MissingParameter,
            "snapshot_file",
        ));
    };
    let device = args.str("device");
    let block = &ctx.machine.devices.block;
    let drive = block
        .find(device)
        .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, device))?;
    let format = args.opt_str("format").unwrap_or("qcow2");
    if !crate::machine::devices::block::BLOCK_FORMATS.contains(&format) {
        return Err(QmpError::with1(ErrorClass::InvalidBlockFormat, format));
    }
    // 0.14 reads the driver of an empty drive through a null pointer; here the
    // command fails silently instead.
    let Some(medium) = drive.medium.clone() else {
        return Ok(());
    };
    if !BACKING_FORMATS.contains(&format) {
        // bdrv_img_create's error_report; the command then fails silently.
        let _ = writeln!(out, "Backing file not supported for file format '{format}'");
        return Ok(());
    }
    if format != "qcow2" {
        let _ = writeln!(out, "snapshot_blkdev: format {format}: not supported yet");
        return Ok(());
    }
    let bytes = qcow2_image(medium.size_bytes, &medium.file, &medium.format);
    ctx.machine.effects.push(Effect::WriteFile {
        path: file.to_owned(),
        bytes: FileBytes(bytes),
    });
    let info = ImageInfo {
        format: "qcow2".to_owned(),
        size_bytes: medium.size_bytes,
        backing_file: Some(medium.file.clone()),
        encrypted: false,
    };
    ctx.machine
        .devices
        .block
        .reopen(device, file, &ImageProbe::Found(info));
    Ok(())
}

/// Bytes of a qcow2 cluster (`cluster_bits` 16, 0.14's default).
const QCOW2_CLUSTER_BYTES: u64 = 1 << 16;
/// Bytes one L2 table maps (`cluster_bytes / 8` entries of one cluster each).
const QCOW2_L2_MAPS_BYTES: u64 = QCOW2_CLUSTER_BYTES / 8 * QCOW2_CLUSTER_BYTES;

/// An empty qcow2 (version 2) image of `size_bytes` backed by `backing` in
/// `backing_format`, laid out as 0.14's `qcow2_create2` writes it: the header
/// cluster (header, backing format extension, end of extensions, backing file
/// name), the refcount table, one refcount block, then the L1 table.
pub fn qcow2_image(size_bytes: u64, backing: &str, backing_format: &str) -> Vec<u8> {
    let cluster = QCOW2_CLUSTER_BYTES;
    let l1_entries = size_bytes.div_ceil(QCOW2_L2_MAPS_BYTES);
    let l1_clusters = (l1_entries * 8).div_ceil(cluster).max(1);
    let (refcount_table, refcount_block, l1_table) = (cluster, 2 * cluster, 3 * cluster);
    let total_clusters = 3 + l1_clusters;
    let mut header = Vec::new();
    let be32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes();
    header.extend_from_slice(b"QFI\xfb");
    header.extend_from_slice(&2u32.to_be_bytes());
    let mut ext = Vec::new();
    ext.extend_from_slice(&0xE279_2ACAu32.to_be_bytes());
    ext.extend_from_slice(&be32(backing_format.len() as u64));
    ext.extend_from_slice(backing_format.as_bytes());
    ext.resize(ext.len().next_multiple_of(8), 0);
    ext.extend_from_slice(&[0; 8]);
    let backing_offset = 72 + ext.len() as u64;
    header.extend_from_slice(&backing_offset.to_be_bytes());
    header.extend_from_slice(&be32(backing.len() as u64));
    header.extend_from_slice(&16u32.to_be_bytes());
    header.extend_from_slice(&size_bytes.to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(&be32(l1_entries));
    header.extend_from_slice(&l1_table.to_be_bytes());
    header.extend_from_slice(&refcount_table.to_be_bytes());
    header.extend_from_slice(&1u32.to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(&0u64.to_be_bytes());
    header.extend_from_slice(&ext);
    header.extend_from_slice(backing.as_bytes());
    let mut image = vec![0u8; usize::try_from(total_clusters * cluster).unwrap_or(0)];
    let len = header.len().min(image.len());
    image[..len].copy_from_slice(&header[..len]);
    let at = |offset: u64| usize::try_from(offset).expect("inside the image");
    image[at(refcount_table)..at(refcount_table) + 8]
        .copy_from_slice(&refcount_block.to_be_bytes());
    for c in 0..total_clusters {
        let entry = at(refcount_block + c * 2);
        image[entry..entry + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;

    #[test]
    fn hot_adds_and_boot_set_print_as_014_does() {
        let mut m = Machine::new(MachineConfig::default());
        crate::qmp::hmp::assert_printed(
            &mut m,
            &[
                (
                    "pci_add auto storage if=virtio",
                    "virtio requires a backing file/device.\nfailed to add if=virtio\n",
                ),
                (
                    "pci_add auto storage if=scsi",
                    "OK domain 0, bus 0, slot 4, function 0\n",
                ),
                (
                    "pci_add auto nic",
                    "OK domain 0, bus 0, slot 5, function 0\n",
                ),
                (
                    "pci_add 7 nic model=virtio",
                    "OK domain 0, bus 0, slot 7, function 0\n",
                ),
                ("drive_add 4 if=scsi", "OK bus 0, unit 0\n"),
                ("drive_add 5 if=scsi", "Device is not a SCSI adapter\n"),
                ("boot_set cdn", "boot device list now set to cdn\n"),
            ],
        );
    }

    #[test]
    fn devaddr_forms() {
        assert_eq!(
            ["5", "0:5", "0:0:1f", "20", "0:5.0", "", "g"].map(parse_devaddr),
            [
                Some((0, 0, 5)),
                Some((0, 0, 5)),
                Some((0, 0, 0x1f)),
                None,
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn qcow2_image_header_names_its_backing_file() {
        let image = qcow2_image(1 << 30, "/img/base.img", "raw");
        let offset = usize::try_from(u64::from_be_bytes(image[8..16].try_into().unwrap())).unwrap();
        assert_eq!(
            (&image[..4], &image[offset..offset + 13], image.len()),
            (&b"QFI\xfb"[..], &b"/img/base.img"[..], 4 << 16)
        );
    }

    #[test]
    fn qcow2_image_l1_covers_the_size() {
        let image = qcow2_image(1 << 30, "b", "raw");
        // 1 GiB / 512 MiB per L2 table.
        assert_eq!(u32::from_be_bytes(image[36..40].try_into().unwrap()), 2);
    }
}
