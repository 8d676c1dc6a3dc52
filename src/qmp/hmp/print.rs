//! HMP `info` printers: 0.14's `user_print` functions (facts §8; monitor.c,
//! block.c, hw/pci.c, ui/vnc.c, ui/spice-core.c, migration.c, balloon.c, input.c,
//! qemu-char.c), each formatting the QObject its QMP query returned, so HMP and
//! QMP never disagree. Lines end in `\n`; the caller turns them into `\r\n`. Pure.

use std::fmt::Write as _;

use crate::wire::{QDict, QObject};

fn dict(data: &QObject) -> QDict {
    data.as_dict().cloned().unwrap_or_default()
}

fn dicts(data: Option<&QObject>) -> impl Iterator<Item = &QDict> {
    data.and_then(QObject::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(QObject::as_dict)
}

fn sub(d: &QDict, k: &str) -> QDict {
    d.get(k)
        .and_then(QObject::as_dict)
        .cloned()
        .unwrap_or_default()
}

fn s<'a>(d: &'a QDict, k: &str) -> &'a str {
    d.get_str(k).unwrap_or_default()
}

fn i(d: &QDict, k: &str) -> i64 {
    d.get_int(k).unwrap_or_default()
}

/// A bool as `%d` prints it.
fn b(d: &QDict, k: &str) -> i64 {
    i64::from(d.get_bool(k).unwrap_or_default())
}

fn flag(d: &QDict, k: &str) -> bool {
    d.get_bool(k).unwrap_or_default()
}

/// `%c` of the current marker.
fn mark(d: &QDict) -> char {
    if flag(d, "current") {
        '*'
    } else {
        ' '
    }
}

/// `info version`: `0.14.0` followed by the package string.
pub fn version(data: &QObject, out: &mut String) {
    let d = dict(data);
    let q = sub(&d, "qemu");
    let _ = writeln!(
        out,
        "{}.{}.{}{}",
        i(&q, "major"),
        i(&q, "minor"),
        i(&q, "micro"),
        s(&d, "package")
    );
}

/// `info kvm`.
pub fn kvm(data: &QObject, out: &mut String) {
    let d = dict(data);
    let state = match (flag(&d, "present"), flag(&d, "enabled")) {
        (false, _) => "not compiled",
        (true, true) => "enabled",
        (true, false) => "disabled",
    };
    let _ = writeln!(out, "kvm support: {state}");
}

/// `info status`.
pub fn status(data: &QObject, out: &mut String) {
    let d = dict(data);
    out.push_str(match (flag(&d, "running"), flag(&d, "singlestep")) {
        (true, true) => "VM status: running (single step mode)\n",
        (true, false) => "VM status: running\n",
        (false, _) => "VM status: paused\n",
    });
}

/// `info name`: nothing when unset.
pub fn name(data: &QObject, out: &mut String) {
    if let Some(name) = dict(data).get_str("name") {
        let _ = writeln!(out, "{name}");
    }
}

/// `info uuid`.
pub fn uuid(data: &QObject, out: &mut String) {
    let _ = writeln!(out, "{}", s(&dict(data), "UUID"));
}

/// `info chardev`.
pub fn chardev(data: &QObject, out: &mut String) {
    for d in dicts(Some(data)) {
        let _ = writeln!(out, "{}: filename={}", s(d, "label"), s(d, "filename"));
    }
}

/// `monitor_print_filename`: blank, `"` and `\` escaped; tab, CR, LF as
/// `\t \r \n`.
fn escaped(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ' ' | '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// `info block` (`bdrv_print_dict`).
pub fn block(data: &QObject, out: &mut String) {
    for d in dicts(Some(data)) {
        let _ = write!(
            out,
            "{}: type={} removable={}",
            s(d, "device"),
            s(d, "type"),
            b(d, "removable")
        );
        if flag(d, "removable") {
            let _ = write!(out, " locked={}", b(d, "locked"));
        }
        match d.get("inserted").and_then(QObject::as_dict) {
            Some(ins) => {
                let _ = write!(out, " file={}", escaped(s(ins, "file")));
                if let Some(backing) = ins.get_str("backing_file") {
                    let _ = write!(out, " backing_file={}", escaped(backing));
                }
                let _ = write!(
                    out,
                    " ro={} drv={} encrypted={}",
                    b(ins, "ro"),
                    s(ins, "drv"),
                    b(ins, "encrypted")
                );
            }
            None => out.push_str(" [not inserted]"),
        }
        out.push('\n');
    }
}

/// `info blockstats`.
pub fn blockstats(data: &QObject, out: &mut String) {
    for d in dicts(Some(data)) {
        let st = sub(d, "stats");
        let _ = writeln!(
            out,
            "{}: rd_bytes={} wr_bytes={} rd_operations={} wr_operations={}",
            s(d, "device"),
            i(&st, "rd_bytes"),
            i(&st, "wr_bytes"),
            i(&st, "rd_operations"),
            i(&st, "wr_operations")
        );
    }
}

/// `info cpus`: `TARGET_FMT_lx` of an x86_64 build, 16 hex digits.
pub fn cpus(data: &QObject, out: &mut String) {
    for d in dicts(Some(data)) {
        let _ = write!(
            out,
            "{} CPU #{}: pc=0x{:016x}",
            mark(d),
            i(d, "CPU"),
            i(d, "pc")
        );
        if flag(d, "halted") {
            out.push_str(" (halted)");
        }
        out.push('\n');
    }
}

/// `info mice`.
pub fn mice(data: &QObject, out: &mut String) {
    let list: Vec<&QDict> = dicts(Some(data)).collect();
    if list.is_empty() {
        out.push_str("No mouse devices connected\n");
    }
    for d in list {
        let absolute = if flag(d, "absolute") {
            " (absolute)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{} Mouse #{}: {}{absolute}",
            mark(d),
            i(d, "index"),
            s(d, "name")
        );
    }
}

/// `info pci` (`do_pci_info_print`): the devices of every bus listed.
pub fn pci(data: &QObject, out: &mut String) {
    for bus in dicts(Some(data)) {
        for d in dicts(bus.get("devices")) {
            pci_device(d, out);
        }
    }
}

/// `pci_device_print`. Addresses are `pcibus_t` (64-bit) printed with `%x`
/// after a minimum width, so an unmapped BAR (-1) shows all 16 digits and its
/// end wraps around.
fn pci_device(d: &QDict, out: &mut String) {
    let _ = writeln!(
        out,
        "  Bus {:2}, device {:3}, function {}:",
        i(d, "bus"),
        i(d, "slot"),
        i(d, "function")
    );
    let class = sub(d, "class_info");
    match class.get_str("desc") {
        Some(desc) => {
            let _ = write!(out, "    {desc}");
        }
        // `Class %04" PRId64`: decimal, zero-padded.
        None => {
            let _ = write!(out, "    Class {:04}", i(&class, "class"));
        }
    }
    // 0.14's query-pci swaps the two ids and this prints them swapped back.
    let id = sub(d, "id");
    let _ = writeln!(
        out,
        ": PCI device {:04x}:{:04x}",
        i(&id, "device"),
        i(&id, "vendor")
    );
    if let Some(irq) = d.get_int("irq") {
        let _ = writeln!(out, "      IRQ {irq}.");
    }
    let bridge = d.get("pci_bridge").and_then(QObject::as_dict);
    if let Some(bridge) = bridge {
        pci_bridge(bridge, out);
    }
    for r in dicts(d.get("regions")) {
        pci_region(r, out);
    }
    let _ = writeln!(out, "      id \"{}\"", s(d, "qdev_id"));
    if let Some(bridge) = bridge {
        for child in dicts(bridge.get("devices")) {
            pci_device(child, out);
        }
    }
}

fn pci_bridge(bridge: &QDict, out: &mut String) {
    let bus = sub(bridge, "bus");
    let _ = writeln!(out, "      BUS {}.", i(&bus, "number"));
    let _ = writeln!(out, "      secondary bus {}.", i(&bus, "secondary"));
    let _ = writeln!(out, "      subordinate bus {}.", i(&bus, "subordinate"));
    let ranges = [
        ("IO range", "io_range", 4),
        ("memory range", "memory_range", 8),
        ("prefetchable memory range", "prefetchable_range", 8),
    ];
    for (what, key, digits) in ranges {
        let range = sub(bridge, key);
        let (base, limit) = (i(&range, "base"), i(&range, "limit"));
        let _ = writeln!(
            out,
            "      {what} [0x{base:0digits$x}, 0x{limit:0digits$x}]"
        );
    }
}

fn pci_region(r: &QDict, out: &mut String) {
    let addr = i(r, "address");
    let end = addr.wrapping_add(i(r, "size")).wrapping_sub(1);
    let _ = write!(out, "      BAR{}: ", i(r, "bar"));
    if s(r, "type") == "io" {
        let _ = writeln!(out, "I/O at 0x{addr:04x} [0x{end:04x}].");
    } else {
        let width = if flag(r, "mem_type_64") { 64 } else { 32 };
        let prefetch = if flag(r, "prefetch") {
            " prefetchable"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{width} bit{prefetch} memory at 0x{addr:08x} [0x{end:08x}]."
        );
    }
}

/// `info vnc`. The client lines of a build with VNC TLS and SASL, which the
/// display model's auth modes assume.
pub fn vnc(data: &QObject, out: &mut String) {
    let d = dict(data);
    if !flag(&d, "enabled") {
        out.push_str("Server: disabled\n");
        return;
    }
    let _ = writeln!(
        out,
        "Server:\n     address: {}:{}\n        auth: {}",
        s(&d, "host"),
        s(&d, "service"),
        s(&d, "auth")
    );
    let clients: Vec<&QDict> = dicts(d.get("clients")).collect();
    if clients.is_empty() {
        out.push_str("Client: none\n");
    }
    for c in clients {
        let _ = writeln!(
            out,
            "Client:\n     address: {}:{}\n  x509_dname: {}\n    username: {}",
            s(c, "host"),
            s(c, "service"),
            c.get_str("x509_dname").unwrap_or("none"),
            c.get_str("sasl_username").unwrap_or("none")
        );
    }
}

/// `info spice`.
pub fn spice(data: &QObject, out: &mut String) {
    let d = dict(data);
    if !flag(&d, "enabled") {
        out.push_str("Server: disabled\n");
        return;
    }
    out.push_str("Server:\n");
    if let Some(port) = d.get_int("port") {
        let _ = writeln!(out, "     address: {}:{port}", s(&d, "host"));
    }
    if let Some(port) = d.get_int("tls-port") {
        let _ = writeln!(out, "     address: {}:{port} [tls]", s(&d, "host"));
    }
    let _ = writeln!(out, "        auth: {}", s(&d, "auth"));
    let channels: Vec<&QDict> = dicts(d.get("channels")).collect();
    if channels.is_empty() {
        out.push_str("Channels: none\n");
    }
    for c in channels {
        let tls = if flag(c, "tls") { " [tls]" } else { "" };
        let _ = writeln!(
            out,
            "Channel:\n     address: {}:{}{tls}\n     session: {}\n     channel: {}:{}",
            s(c, "host"),
            s(c, "port"),
            i(c, "connection-id"),
            i(c, "channel-type"),
            i(c, "channel-id")
        );
    }
}

/// `info migrate`: nothing before any migration (0.14 returns no data then).
pub fn migrate(data: &QObject, out: &mut String) {
    let d = dict(data);
    let Some(status) = d.get_str("status") else {
        return;
    };
    let _ = writeln!(out, "Migration status: {status}");
    for part in ["ram", "disk"] {
        if let Some(r) = d.get(part).and_then(QObject::as_dict) {
            // `%" PRIu64` of `qdict_get_int(..) >> 10`.
            let kb = |k: &str| i(r, k) >> 10;
            let _ = writeln!(out, "transferred {part}: {} kbytes", kb("transferred"));
            let _ = writeln!(out, "remaining {part}: {} kbytes", kb("remaining"));
            let _ = writeln!(out, "total {part}: {} kbytes", kb("total"));
        }
    }
}

/// `info balloon`: `actual` in MB, then any other stat in the dict's
/// iteration order (none in 0.14).
pub fn balloon(data: &QObject, out: &mut String) {
    let d = dict(data);
    if !d.contains_key("actual") {
        return;
    }
    let _ = write!(out, "balloon: actual={}", i(&d, "actual") >> 20);
    for (k, v) in d.emit_order().into_iter().filter(|(k, _)| *k != "actual") {
        let _ = write!(out, ",{k}={}", v.as_int().unwrap_or_default());
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qdict;

    fn run(print: fn(&QObject, &mut String), data: QObject) -> String {
        let mut out = String::new();
        print(&data, &mut out);
        out
    }

    /// What `print` writes for one dict.
    fn run_dict(print: fn(&QDict, &mut String), data: &QDict) -> String {
        let mut out = String::new();
        print(data, &mut out);
        out
    }

    #[test]
    fn pci_bridge_prints_its_buses_and_ranges() {
        let range =
            |base: i64, limit: i64| QObject::Dict(qdict! {"base" => base, "limit" => limit});
        let mut bridge = qdict! {};
        bridge.put(
            "bus",
            QObject::Dict(qdict! {"number" => 1_i64, "secondary" => 2_i64, "subordinate" => 3_i64}),
        );
        bridge.put("io_range", range(0x1000, 0x1fff));
        bridge.put("memory_range", range(0xf000_0000, 0xf00f_ffff));
        bridge.put("prefetchable_range", range(0, 0xfff));
        let mut out = String::new();
        pci_bridge(&bridge, &mut out);
        assert_eq!(
            out,
            "      BUS 1.\n      secondary bus 2.\n      subordinate bus 3.\n      \
             IO range [0x1000, 0x1fff]\n      memory range [0xf0000000, 0xf00fffff]\n      \
             prefetchable memory range [0x00000000, 0x00000fff]\n"
        );
    }

    #[test]
    fn cpus_prints_16_hex_digits_and_halted() {
        let data = QObject::List(vec![
            QObject::Dict(
                qdict! {"CPU" => 0_i64, "current" => true, "halted" => false, "pc" => 0xffff_fff0_i64},
            ),
            QObject::Dict(
                qdict! {"CPU" => 1_i64, "current" => false, "halted" => true, "pc" => 0xfff0_i64},
            ),
        ]);
        assert_eq!(
            run(cpus, data),
            "* CPU #0: pc=0x00000000fffffff0\n  CPU #1: pc=0x000000000000fff0 (halted)\n"
        );
    }

    #[test]
    fn block_escapes_file_names() {
        let data = QObject::List(vec![QObject::Dict(qdict! {
            "device" => "ide0-hd0", "locked" => false, "removable" => false,
            "inserted" => qdict! {"ro" => false, "drv" => "raw", "encrypted" => false, "file" => "a b\\c.img"},
            "type" => "hd",
        })]);
        assert_eq!(
            run(block, data),
            "ide0-hd0: type=hd removable=0 file=a\\ b\\\\c.img ro=0 drv=raw encrypted=0\n"
        );
    }

    #[test]
    fn pci_unmapped_rom_prints_64_bit_address_and_wrapped_end() {
        let region = qdict! {"bar" => 6_i64, "type" => "memory", "mem_type_64" => false, "prefetch" => false, "address" => -1_i64, "size" => 65536_i64};
        assert_eq!(
            run_dict(pci_region, &region),
            "      BAR6: 32 bit memory at 0xffffffffffffffff [0x0000fffe].\n"
        );
    }

    #[test]
    fn pci_class_without_desc_is_decimal() {
        let dev = qdict! {"bus" => 0_i64, "slot" => 5_i64, "function" => 0_i64,
        "class_info" => qdict! {"class" => 255_i64},
        "id" => qdict! {"device" => 0x1af4_i64, "vendor" => 0x1002_i64},
        "regions" => QObject::List(vec![]), "qdev_id" => ""};
        assert_eq!(
            run_dict(pci_device, &dev),
            "  Bus  0, device   5, function 0:\n    Class 0255: PCI device 1af4:1002\n      id \"\"\n"
        );
    }

    #[test]
    fn migrate_before_any_migration_prints_nothing() {
        assert_eq!(run(migrate, QObject::Dict(QDict::new())), "");
    }

    #[test]
    fn migrate_active_prints_kbytes() {
        let ram = qdict! {"transferred" => 2048_i64, "remaining" => 1024_i64, "total" => 3072_i64};
        let data = QObject::Dict(qdict! {"status" => "active", "ram" => ram});
        assert_eq!(
            run(migrate, data),
            "Migration status: active\ntransferred ram: 2 kbytes\nremaining ram: 1 kbytes\ntotal ram: 3 kbytes\n"
        );
    }

    #[test]
    fn balloon_prints_megabytes() {
        let data = QObject::Dict(qdict! {"actual" => 134_217_728_i64});
        assert_eq!(run(balloon, data), "balloon: actual=128\n");
    }

    #[test]
    fn mice_empty_list_says_none_connected() {
        assert_eq!(
            run(mice, QObject::List(vec![])),
            "No mouse devices connected\n"
        );
    }

    #[test]
    fn vnc_client_prints_tls_and_sasl_lines() {
        let client = qdict! {"family" => "ipv4", "service" => "50401", "host" => "127.0.0.1"};
        let data = QObject::Dict(
            qdict! {"enabled" => true, "auth" => "none", "family" => "ipv4",
            "clients" => QObject::List(vec![QObject::Dict(client)]), "service" => "5901", "host" => "0.0.0.0"},
        );
        assert_eq!(
            run(vnc, data),
            "Server:\n     address: 0.0.0.0:5901\n        auth: none\nClient:\n     address: 127.0.0.1:50401\n  x509_dname: none\n    username: none\n"
        );
    }

    #[test]
    fn kvm_not_present_is_not_compiled() {
        let data = QObject::Dict(qdict! {"enabled" => false, "present" => false});
        assert_eq!(run(kvm, data), "kvm support: not compiled\n");
    }
}
