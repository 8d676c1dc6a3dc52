//! Block commands: eject, change, block_resize, block_passwd, query-block,
//! query-blockstats (qmp-commands.hx sections 2 and 3).
//!
//! Handlers call the block model and build replies with keys inserted in 0.14's
//! order (`bdrv_info`, `bdrv_info_stats_bs`); the wire layer applies the hash
//! order. `change` on device `vnc` goes to the display handlers.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::devices::block::{BlockStats, Drive};
use crate::wire::{QDict, QObject};

/// A counter as the QInt 0.14 prints with `PRId64`.
fn int(v: u64) -> QObject {
    QObject::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// `eject`: DeviceNotFound, then (without force) DeviceNotRemovable, DeviceLocked.
pub fn eject(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let force = args.flag("force");
    ctx.machine.devices.block.eject(args.str("device"), force)?;
    empty()
}

/// `change`: VNC settings for device `vnc`, else a new medium from the probe
/// the edge recorded for `target` (none: OpenFileFailed).
pub fn change(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let device = args.str("device");
    let target = args.str("target");
    let format = args.opt_str("arg");
    if device == "vnc" {
        return super::display::change_vnc(ctx, target, format);
    }
    let probe = ctx.machine.image_probes.get(target).cloned();
    ctx.machine
        .devices
        .block
        .change(device, target, format, probe.as_ref())?;
    empty()
}

/// The file a `change` names: its `target`, except for device `vnc`, whose
/// target is a VNC setting.
pub fn change_files(args: &QDict) -> Vec<String> {
    match (args.get_str("device"), args.get_str("target")) {
        (Some(device), Some(target)) if device != "vnc" => vec![target.to_owned()],
        _ => Vec::new(),
    }
}

/// `block_resize`.
pub fn block_resize(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let size = args.int("size");
    ctx.machine.devices.block.resize(args.str("device"), size)?;
    empty()
}

/// `block_passwd`.
pub fn block_passwd(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    ctx.machine
        .devices
        .block
        .set_key(args.str("device"), args.str("password"))?;
    empty()
}

/// One `query-block` entry.
pub fn block_info(d: &Drive) -> QDict {
    let mut entry = QDict::new();
    entry.put("device", d.name.as_str());
    entry.put("type", d.kind.name());
    entry.put("removable", d.removable);
    entry.put("locked", d.locked);
    if let Some(m) = &d.medium {
        let mut inserted = QDict::new();
        inserted.put("file", m.file.as_str());
        inserted.put("ro", d.read_only);
        inserted.put("drv", m.format.as_str());
        inserted.put("encrypted", m.encrypted);
        if let Some(b) = &m.backing_file {
            inserted.put("backing_file", b.as_str());
        }
        entry.put("inserted", inserted);
    }
    entry
}

/// `query-block`: every drive in creation order.
pub fn query_block(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    per_drive(ctx, block_info)
}

/// One dict per drive, in creation order.
fn per_drive(ctx: &Ctx<'_>, info: fn(&Drive) -> QDict) -> HandlerResult {
    let drives = &ctx.machine.devices.block.drives;
    Ok(QObject::List(
        drives.iter().map(|d| QObject::Dict(info(d))).collect(),
    ))
}

fn stats_dict(s: &BlockStats) -> QDict {
    let mut stats = QDict::new();
    stats.put("rd_bytes", int(s.rd_bytes));
    stats.put("wr_bytes", int(s.wr_bytes));
    stats.put("rd_operations", int(s.rd_operations));
    stats.put("wr_operations", int(s.wr_operations));
    stats.put("wr_highest_offset", int(s.wr_highest_offset));
    let mut outer = QDict::new();
    outer.put("stats", stats);
    outer
}

/// One `query-blockstats` entry: the format layer, and the protocol layer
/// under it as `parent`.
pub fn blockstats_info(d: &Drive) -> QDict {
    let mut entry = stats_dict(&d.stats);
    entry.put("device", d.name.as_str());
    if let Some(parent) = d.medium.as_ref().and_then(|m| m.parent_stats.as_ref()) {
        entry.put("parent", stats_dict(parent));
    }
    entry
}

/// `query-blockstats`.
pub fn query_blockstats(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    per_drive(ctx, blockstats_info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{ImageInfo, ImageProbe, MachineConfig};
    use crate::machine::Machine;
    use crate::qdict;
    use crate::test_util::probed_drive;

    use crate::wire::{ErrorClass, QmpError};

    use super::super::call_fresh as run;

    fn with_hda(format: &str) -> Machine {
        let mut d = probed_drive("disks/test.img", format);
        d.opts.push("index", "0");
        d.opts.push("media", "disk");
        Machine::new(MachineConfig {
            drives: vec![d],
            start_paused: true,
            ..Default::default()
        })
    }

    #[test]
    fn query_block_matches_seed_example() {
        let mut m = with_hda("qcow2");
        let r = run(&mut m, query_block, &QDict::new()).unwrap();
        assert_eq!(
            r.to_json(),
            r#"[{"device": "ide0-hd0", "locked": false, "removable": false, "inserted": {"ro": false, "drv": "qcow2", "encrypted": false, "file": "disks/test.img"}, "type": "hd"}, {"device": "ide1-cd0", "locked": false, "removable": true, "type": "cdrom"}, {"device": "floppy0", "locked": false, "removable": true, "type": "floppy"}, {"device": "sd0", "locked": false, "removable": true, "type": "floppy"}]"#
        );
    }

    #[test]
    fn query_blockstats_has_parent_only_for_open_image() {
        let mut m = with_hda("raw");
        let r = run(&mut m, query_blockstats, &QDict::new()).unwrap();
        let json = r.to_json();
        assert!(json.starts_with(r#"[{"device": "ide0-hd0", "parent": {"stats": {"wr_highest_offset": 0, "wr_bytes": 0, "wr_operations": 0, "rd_bytes": 0, "rd_operations": 0}}, "stats": "#), "{json}");
        assert!(
            json.contains(r#"{"device": "ide1-cd0", "stats": {"wr_highest_offset": 0"#),
            "{json}"
        );
    }

    #[test]
    fn change_uses_recorded_probe() {
        let mut m = with_hda("raw");
        m.image_probes.insert(
            "cd.iso".into(),
            ImageProbe::Found(ImageInfo {
                format: "raw".into(),
                size_bytes: 1 << 20,
                backing_file: None,
                encrypted: false,
            }),
        );
        let r = run(
            &mut m,
            change,
            &qdict! {"device" => "ide1-cd0", "target" => "cd.iso"},
        );
        assert!(r.is_ok());
        assert!(m.devices.block.find("ide1-cd0").unwrap().medium.is_some());
    }

    #[test]
    fn eject_unknown_device_is_not_found() {
        let mut m = with_hda("raw");
        let r = run(&mut m, eject, &qdict! {"device" => "nosuch"});
        assert_eq!(
            r,
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "nosuch"))
        );
    }
}
