//! HMP `info` printers: 0.14's `user_print` formats (facts §8), each reading the
//! QObject its QMP query returned. Lines end in `\n`; the caller turns them into
//! `\r\n`. Pure.

use std::fmt::Write as _;

use crate::qmp::commands::Ctx;
use crate::wire::{QDict, QObject};

fn dicts(data: Option<&QObject>) -> impl Iterator<Item = &QDict> {
    data.and_then(QObject::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(QObject::as_dict)
}

fn s<'a>(d: &'a QDict, k: &str) -> &'a str {
    d.get_str(k).unwrap_or_default()
}

fn i(d: &QDict, k: &str) -> i64 {
    d.get_int(k).unwrap_or_default()
}

fn b(d: &QDict, k: &str) -> i64 {
    i64::from(d.get_bool(k).unwrap_or_default())
}

/// Items that print nothing (`info commands`).
pub fn nothing(_ctx: &mut Ctx<'_>, _data: Option<&QObject>, _out: &mut String) {}

/// `info version`: `0.14.0` followed by the package string.
pub fn version(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let d = data.and_then(QObject::as_dict);
    let q = d.and_then(|d| d.get("qemu")).and_then(QObject::as_dict);
    let (major, minor, micro) =
        q.map_or((0, 0, 0), |q| (i(q, "major"), i(q, "minor"), i(q, "micro")));
    let package = d.map(|d| s(d, "package")).unwrap_or_default();
    let _ = writeln!(out, "{major}.{minor}.{micro}{package}");
}

/// `info kvm`.
pub fn kvm(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let d = data.and_then(QObject::as_dict);
    let present = d.and_then(|d| d.get_bool("present")).unwrap_or(false);
    let enabled = d.and_then(|d| d.get_bool("enabled")).unwrap_or(false);
    let state = match (present, enabled) {
        (false, _) => "not compiled",
        (true, true) => "enabled",
        (true, false) => "disabled",
    };
    let _ = writeln!(out, "kvm support: {state}");
}

/// `info status`.
pub fn status(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let d = data.and_then(QObject::as_dict);
    let running = d.and_then(|d| d.get_bool("running")).unwrap_or(false);
    let single = d.and_then(|d| d.get_bool("singlestep")).unwrap_or(false);
    out.push_str(match (running, single) {
        (true, true) => "VM status: running (single step mode)\n",
        (true, false) => "VM status: running\n",
        (false, _) => "VM status: paused\n",
    });
}

/// `info name`: nothing when unset.
pub fn name(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    if let Some(name) = data
        .and_then(QObject::as_dict)
        .and_then(|d| d.get_str("name"))
    {
        let _ = writeln!(out, "{name}");
    }
}

/// `info uuid`.
pub fn uuid(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let d = data.and_then(QObject::as_dict);
    let _ = writeln!(out, "{}", d.map(|d| s(d, "UUID")).unwrap_or_default());
}

/// `info chardev`.
pub fn chardev(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    for d in dicts(data) {
        let _ = writeln!(out, "{}: filename={}", s(d, "label"), s(d, "filename"));
    }
}

/// 0.14's escaping of file names in `info block`.
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

/// `info block`.
pub fn block(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    for d in dicts(data) {
        let removable = b(d, "removable");
        let _ = write!(
            out,
            "{}: type={} removable={removable}",
            s(d, "device"),
            s(d, "type")
        );
        if removable == 1 {
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
pub fn blockstats(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    for d in dicts(data) {
        let st = d
            .get("stats")
            .and_then(QObject::as_dict)
            .cloned()
            .unwrap_or_default();
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

/// `info cpus`: x86_64 prints 16 hex digits.
pub fn cpus(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    for d in dicts(data) {
        let mark = if d.get_bool("current") == Some(true) {
            '*'
        } else {
            ' '
        };
        let _ = write!(out, "{mark} CPU #{}: pc=0x{:016x}", i(d, "CPU"), i(d, "pc"));
        if d.get_bool("halted") == Some(true) {
            out.push_str(" (halted)");
        }
        out.push('\n');
    }
}

/// `info mice`.
pub fn mice(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let mut any = false;
    for d in dicts(data) {
        any = true;
        let mark = if d.get_bool("current") == Some(true) {
            '*'
        } else {
            ' '
        };
        let _ = write!(out, "{mark} Mouse #{}: {}", i(d, "index"), s(d, "name"));
        if d.get_bool("absolute") == Some(true) {
            out.push_str(" (absolute)");
        }
        out.push('\n');
    }
    if !any {
        out.push_str("No mouse devices connected\n");
    }
}

/// `info pci` (bus 0 and bridges' children).
pub fn pci(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    for bus in dicts(data) {
        pci_devices(bus.get("devices"), out);
    }
}

fn pci_devices(devices: Option<&QObject>, out: &mut String) {
    for d in dicts(devices) {
        let _ = writeln!(
            out,
            "  Bus {:2}, device {:3}, function {}:",
            i(d, "bus"),
            i(d, "slot"),
            i(d, "function")
        );
        let class = d
            .get("class_info")
            .and_then(QObject::as_dict)
            .cloned()
            .unwrap_or_default();
        let id = d
            .get("id")
            .and_then(QObject::as_dict)
            .cloned()
            .unwrap_or_default();
        // 0.14's query-pci swaps the two ids; HMP prints vendor:device correctly.
        let (vendor, device) = (i(&id, "device"), i(&id, "vendor"));
        match class.get_str("desc") {
            Some(desc) => {
                let _ = write!(out, "    {desc}");
            }
            None => {
                let _ = write!(out, "    Class {:04x}", i(&class, "class"));
            }
        }
        let _ = writeln!(out, ": PCI device {vendor:04x}:{device:04x}");
        if let Some(irq) = d.get_int("irq") {
            let _ = writeln!(out, "      IRQ {irq}.");
        }
        if let Some(bridge) = d.get("pci_bridge").and_then(QObject::as_dict) {
            pci_devices(bridge.get("devices"), out);
        }
        for r in dicts(d.get("regions")) {
            let (bar, addr, size) = (i(r, "bar"), i(r, "address"), i(r, "size"));
            if s(r, "type") == "io" {
                let _ = writeln!(
                    out,
                    "      BAR{bar}: I/O at 0x{addr:04x} [0x{:04x}].",
                    addr + size - 1
                );
            } else {
                let prefetch = if r.get_bool("prefetch") == Some(true) {
                    " prefetchable"
                } else {
                    ""
                };
                let width = if r.get_bool("mem_type_64") == Some(true) {
                    "64"
                } else {
                    "32"
                };
                let _ = writeln!(
                    out,
                    "      BAR{bar}: {width} bit{prefetch} memory at 0x{:08x} [0x{:08x}].",
                    addr & 0xffff_ffff,
                    (addr + size - 1) & 0xffff_ffff
                );
            }
        }
        let qdev_id = s(d, "qdev_id");
        let _ = writeln!(out, "      id \"{qdev_id}\"");
    }
}

/// `info vnc`.
pub fn vnc(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let Some(d) = data
        .and_then(QObject::as_dict)
        .filter(|d| d.get_bool("enabled") == Some(true))
    else {
        out.push_str("Server: disabled\n");
        return;
    };
    let _ = writeln!(
        out,
        "Server:\n     address: {}:{}\n        auth: {}",
        s(d, "host"),
        s(d, "service"),
        s(d, "auth")
    );
    let clients: Vec<&QDict> = dicts(d.get("clients")).collect();
    if clients.is_empty() {
        out.push_str("Client: none\n");
    }
    for c in clients {
        let _ = writeln!(
            out,
            "Client:\n     address: {}:{}",
            s(c, "host"),
            s(c, "service")
        );
        if let Some(dn) = c.get_str("x509_dname") {
            let _ = writeln!(out, "  x509_dname: {dn}");
        }
        if let Some(user) = c.get_str("sasl_username") {
            let _ = writeln!(out, "    username: {user}");
        }
    }
}

/// `info spice`.
pub fn spice(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let Some(d) = data
        .and_then(QObject::as_dict)
        .filter(|d| d.get_bool("enabled") == Some(true))
    else {
        out.push_str("Server: disabled\n");
        return;
    };
    out.push_str("Server:\n");
    if let Some(port) = d.get_int("port") {
        let _ = writeln!(out, "     address: {}:{port}", s(d, "host"));
    }
    if let Some(port) = d.get_int("tls-port") {
        let _ = writeln!(out, "     address: {}:{port} [tls]", s(d, "host"));
    }
    let _ = writeln!(out, "        auth: {}", s(d, "auth"));
    let channels: Vec<&QDict> = dicts(d.get("channels")).collect();
    if channels.is_empty() {
        out.push_str("Channels: none\n");
    }
    for c in channels {
        let _ = writeln!(
            out,
            "Channel:\n     address: {}:{}{}\n     session: {}\n     channel: {}:{}",
            s(c, "host"),
            s(c, "port"),
            if c.get_bool("tls") == Some(true) {
                " [tls]"
            } else {
                ""
            },
            i(c, "connection-id"),
            i(c, "channel-type"),
            i(c, "channel-id")
        );
    }
}

/// `info migrate`: nothing before any migration.
pub fn migrate(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let Some(d) = data.and_then(QObject::as_dict) else {
        return;
    };
    let Some(status) = d.get_str("status") else {
        return;
    };
    let _ = writeln!(out, "Migration status: {status}");
    for part in ["ram", "disk"] {
        if let Some(r) = d.get(part).and_then(QObject::as_dict) {
            let _ = writeln!(
                out,
                "transferred {part}: {} kbytes",
                i(r, "transferred") >> 10
            );
            let _ = writeln!(out, "remaining {part}: {} kbytes", i(r, "remaining") >> 10);
            let _ = writeln!(out, "total {part}: {} kbytes", i(r, "total") >> 10);
        }
    }
}

/// `info balloon`: `actual` in MB plus any extra stats.
pub fn balloon(_ctx: &mut Ctx<'_>, data: Option<&QObject>, out: &mut String) {
    let Some(d) = data.and_then(QObject::as_dict) else {
        return;
    };
    let _ = write!(out, "balloon: actual={}", i(d, "actual") >> 20);
    for (k, v) in d.iter_inserted().filter(|(k, _)| *k != "actual") {
        let _ = write!(out, ",{k}={}", v.as_int().unwrap_or_default());
    }
    out.push('\n');
}

/// `info snapshots`: no drive in this model supports snapshots yet.
pub fn snapshots(_ctx: &mut Ctx<'_>, _data: Option<&QObject>, out: &mut String) {
    out.push_str("No available block device supports snapshots\n");
}
