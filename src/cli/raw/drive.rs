//! Drives: `-drive`, the shorthands `-hda`..`-hdd`, `-cdrom`, `-fda`/`-fdb`, and a
//! bare image argument. Checked here; expanded into `-drive` options and probed by
//! `config.rs`.

use super::option_list::parse_option_list;
use super::{OptCtx, RawError};
use crate::machine::config::OptionList;
use crate::machine::devices::block::BlockErrorAction;

/// A drive option before expansion into `-drive` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveArg {
    /// `-drive OPTS` (or a bare image argument, as `-hda`).
    Drive(OptionList),
    /// `-hda`..`-hdd` FILE (index 0..3).
    Hd {
        /// IDE index.
        index: u32,
        /// Image file.
        file: String,
    },
    /// `-cdrom FILE`.
    Cdrom(String),
    /// `-fda`/`-fdb` FILE (index 0/1).
    Floppy {
        /// Floppy index.
        index: u32,
        /// Image file.
        file: String,
    },
}

/// Keys `-drive` takes (0.14's `qemu_drive_opts`, plus `id` and the qmpsim
/// extensions `x-virtual` and `x-size`).
pub const DRIVE_KEYS: &[&str] = &[
    "bus",
    "unit",
    "if",
    "index",
    "cyls",
    "heads",
    "secs",
    "trans",
    "media",
    "snapshot",
    "file",
    "cache",
    "aio",
    "format",
    "serial",
    "rerror",
    "werror",
    "addr",
    "readonly",
    "boot",
    "id",
    "x-virtual",
    "x-size",
];
/// `-drive if=` values of 0.14.
pub const DRIVE_BUSES: &[&str] = &[
    "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen", "none",
];

/// `-drive` keys whose value 0.14's `qemu_drive_opts` declares a number.
const DRIVE_NUMBER_KEYS: &[&str] = &["bus", "unit", "index", "cyls", "heads", "secs"];
/// `-drive` keys whose value 0.14's `qemu_drive_opts` declares a boolean.
const DRIVE_BOOL_KEYS: &[&str] = &["snapshot", "readonly", "boot"];
/// `-drive format=` values 0.14's block layer registers (a build without
/// curl and rbd; `bdrv_find_whitelisted_format` with no whitelist).
pub const DRIVE_FORMATS: &[&str] = &[
    "raw",
    "cow",
    "qcow",
    "vdi",
    "vmdk",
    "cloop",
    "dmg",
    "bochs",
    "vpc",
    "vvfat",
    "qcow2",
    "qed",
    "parallels",
    "nbd",
    "blkdebug",
    "sheepdog",
    "blkverify",
    "file",
    "host_device",
    "host_floppy",
    "host_cdrom",
];
/// `-drive cache=` values 0.14 accepts.
const DRIVE_CACHE_MODES: &[&str] = &["off", "none", "writeback", "unsafe", "writethrough"];
/// Units per IDE bus and per SCSI bus (0.14's `MAX_IDE_DEVS`, `MAX_SCSI_DEVS`);
/// other interfaces have no bus limit.
const IDE_UNITS_MAX: u64 = 2;
const SCSI_UNITS_MAX: u64 = 7;
/// Largest IDE geometry 0.14 accepts: cylinders, heads, sectors.
const IDE_CHS_MAX: (u64, u64, u64) = (16383, 16, 63);

/// 0.14's `parse_option_number`: `strtoull(value, &end, 0)` must use the whole
/// value (empty means 0; a minus sign wraps, as strtoull does).
pub fn parse_c_number(v: &str) -> Option<u64> {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let n = if digits.is_empty() {
        0
    } else if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { n.wrapping_neg() } else { n })
}

/// A typed `qemu_opts_parse` check of one item: numbers and booleans.
fn check_typed(
    option: &str,
    arg: &str,
    (key, value): (&str, &str),
    numbers: &[&str],
    bools: &[&str],
) -> Result<(), RawError> {
    let expected = if numbers.contains(&key) && parse_c_number(value).is_none() {
        "a number"
    } else if bools.contains(&key) && value != "on" && value != "off" {
        "'on' or 'off'"
    } else {
        return Ok(());
    };
    Err(RawError::InvalidParameterValue {
        option: option.to_owned(),
        arg: arg.to_owned(),
        param: key.to_owned(),
        expected: expected.to_owned(),
    })
}

/// Checks a `-drive` option string as 0.14 does: `qemu_opts_parse` (keys and
/// typed values), then `drive_init`'s checks in their order, except those that
/// need the other drives or the image (`config.rs`).
pub fn parse_drive(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, None);
    for (key, value) in &opts.items {
        if !DRIVE_KEYS.contains(&key.as_str()) {
            return Err(RawError::InvalidParameter {
                option: option.to_owned(),
                arg: v.to_owned(),
                param: key.clone(),
            });
        }
        check_typed(option, v, (key, value), DRIVE_NUMBER_KEYS, DRIVE_BOOL_KEYS)?;
    }
    check_drive_init(&opts).map_err(|message| RawError::Located {
        option: option.to_owned(),
        arg: v.to_owned(),
        message,
    })?;
    if let Some(size) = opts.get("x-size") {
        parse_size_bytes(size).ok_or_else(|| RawError::DriveSize {
            arg: v.to_owned(),
            value: size.to_owned(),
        })?;
    }
    if opts.get("x-virtual") == Some("on") && opts.get("x-size").is_none() {
        return Err(RawError::DriveVirtualSize(v.to_owned()));
    }
    Ok(opts)
}

/// A number as 0.14 stores it in an `int`: the low 32 bits, signed.
fn c_int(n: u64) -> i32 {
    let low = u32::try_from(n & 0xffff_ffff).expect("masked to 32 bits");
    i32::from_ne_bytes(low.to_ne_bytes())
}

/// A number key of a checked list (0 when absent), as `qemu_opt_get_number`.
fn number(opts: &OptionList, key: &str) -> Option<u64> {
    opts.get(key).map(|v| parse_c_number(v).unwrap_or(0))
}

/// `drive_init`'s own checks (0.14 `blockdev.c`), in its order: the message.
fn check_drive_init(opts: &OptionList) -> Result<(), String> {
    let bus = opts.get("if").unwrap_or("ide");
    if !DRIVE_BUSES.contains(&bus) {
        return Err(format!("unsupported bus type '{bus}'"));
    }
    check_geometry(opts, bus)?;
    let chs = ["cyls", "heads", "secs"]
        .iter()
        .any(|k| number(opts, k).unwrap_or(0) != 0);
    if let Some(media) = opts.get("media") {
        match media {
            "disk" => {}
            "cdrom" if chs => return Err(format!("'{media}' invalid physical CHS format")),
            "cdrom" => {}
            _ => return Err(format!("'{media}' invalid media")),
        }
    }
    if opts
        .get("cache")
        .is_some_and(|c| !DRIVE_CACHE_MODES.contains(&c))
    {
        return Err("invalid cache option".to_owned());
    }
    if opts
        .get("aio")
        .is_some_and(|a| a != "native" && a != "threads")
    {
        return Err("invalid aio option".to_owned());
    }
    if let Some(format) = opts.get("format").filter(|f| !DRIVE_FORMATS.contains(f)) {
        return Err(format!("'{format}' invalid format"));
    }
    let error_bus = matches!(bus, "ide" | "scsi" | "virtio" | "none");
    for (key, is_read, direction) in [("werror", false, "write"), ("rerror", true, "read")] {
        let Some(value) = opts.get(key) else { continue };
        if !error_bus {
            return Err(format!("{key} is not supported by this bus type"));
        }
        if BlockErrorAction::parse(value, is_read).is_none() {
            return Err(format!("'{value}' invalid {direction} error action"));
        }
    }
    if opts.get("addr").is_some() && bus != "virtio" {
        return Err("addr is not supported by this bus type".to_owned());
    }
    check_unit(opts, bus)?;
    let cdrom = opts.get("media") == Some("cdrom");
    let has_file = opts.get("file").is_some_and(|f| !f.is_empty());
    let readonly_bus = matches!(bus, "scsi" | "virtio" | "floppy" | "none");
    if has_file && !cdrom && opts.get("readonly") == Some("on") && !readonly_bus {
        return Err("readonly not supported by this bus type".to_owned());
    }
    Ok(())
}

/// `cyls`, `heads`, `secs` and `trans`.
fn check_geometry(opts: &OptionList, bus: &str) -> Result<(), String> {
    let get = |k| number(opts, k).map_or(0, c_int);
    let (cyls, heads, secs) = (get("cyls"), get("heads"), get("secs"));
    if cyls != 0 || heads != 0 || secs != 0 {
        let ide = bus == "ide";
        let (c_max, h_max, s_max) = IDE_CHS_MAX;
        let too_big = |n: i32, max: u64| ide && u64::try_from(n).is_ok_and(|n| n > max);
        if cyls < 1 || too_big(cyls, c_max) {
            return Err("invalid physical cyls number".to_owned());
        }
        if heads < 1 || too_big(heads, h_max) {
            return Err("invalid physical heads number".to_owned());
        }
        if secs < 1 || too_big(secs, s_max) {
            return Err("invalid physical secs number".to_owned());
        }
    }
    if let Some(trans) = opts.get("trans") {
        if cyls == 0 {
            return Err(format!(
                "'{trans}' trans must be used with cyls,heads and secs"
            ));
        }
        if !matches!(trans, "none" | "lba" | "auto") {
            return Err(format!("'{trans}' invalid translation type"));
        }
    }
    Ok(())
}

/// `index` against `bus`/`unit`, and the unit against the bus's size.
fn check_unit(opts: &OptionList, bus: &str) -> Result<(), String> {
    // -1 means "not given".
    let get = |k| number(opts, k).map_or(-1, c_int);
    let (bus_id, unit, index) = (
        number(opts, "bus").map_or(0, c_int),
        get("unit"),
        get("index"),
    );
    if index != -1 && (bus_id != 0 || unit != -1) {
        return Err("index cannot be used with bus and unit".to_owned());
    }
    let max = match bus {
        "ide" => IDE_UNITS_MAX,
        "scsi" => SCSI_UNITS_MAX,
        _ => 0,
    };
    if max != 0 && u64::try_from(unit).is_ok_and(|u| u >= max) {
        return Err(format!("unit {unit} too big (max is {})", max - 1));
    }
    Ok(())
}

/// Parses a size with an optional `K`/`M`/`G`/`T` suffix (powers of 1024; `B` or no
/// suffix means bytes), as `-drive x-size=10G` takes it.
pub fn parse_size_bytes(v: &str) -> Option<u64> {
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(digits_end);
    let n: u64 = digits.parse().ok()?;
    let shift = match suffix {
        "" | "B" | "b" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// `-drive OPTS`.
pub(super) fn apply_drive(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let drive = DriveArg::Drive(parse_drive(ctx.option, &v)?);
    push(ctx, drive, &v)
}

/// Adds a drive with its command-line location.
fn push(ctx: &mut OptCtx<'_>, drive: DriveArg, value: &str) -> Result<(), RawError> {
    ctx.low.drives.push(drive);
    ctx.low
        .drive_locations
        .push(Some(format!("{} {value}", ctx.option)));
    Ok(())
}

/// `-hdX FILE` as IDE index `index`.
pub(super) fn push_hd(ctx: &mut OptCtx<'_>, index: u32, file: String) -> Result<(), RawError> {
    let value = file.clone();
    push(ctx, DriveArg::Hd { index, file }, &value)
}

/// `-fdX FILE` as floppy index `index`.
pub(super) fn push_floppy(ctx: &mut OptCtx<'_>, index: u32, file: String) -> Result<(), RawError> {
    let value = file.clone();
    push(ctx, DriveArg::Floppy { index, file }, &value)
}

/// `-cdrom FILE`.
pub(super) fn apply_cdrom(ctx: &mut OptCtx<'_>, file: String) -> Result<(), RawError> {
    let value = file.clone();
    push(ctx, DriveArg::Cdrom(file), &value)
}

#[cfg(test)]
mod tests {
    use super::super::{parse_err, parse_ok};
    use super::*;

    #[test]
    fn parse_bare_argument_is_first_disk() {
        assert_eq!(
            parse_ok(&["disk.img"]).drives,
            [DriveArg::Hd {
                index: 0,
                file: "disk.img".to_owned()
            }]
        );
    }

    #[test]
    fn parse_hdc_has_index_two() {
        assert_eq!(
            parse_ok(&["-hdc", "x.img"]).drives,
            [DriveArg::Hd {
                index: 2,
                file: "x.img".to_owned()
            }]
        );
    }

    #[test]
    fn parse_fdb_has_index_one() {
        assert_eq!(
            parse_ok(&["-fdb", "f.img"]).drives,
            [DriveArg::Floppy {
                index: 1,
                file: "f.img".to_owned()
            }]
        );
    }

    #[test]
    fn drive_werror_unknown_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a,werror=explode"]),
            "qemu-system-x86_64: -drive file=a,werror=explode: 'explode' invalid write error action"
        );
    }

    #[test]
    fn drive_rerror_enospc_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a,rerror=enospc"]),
            "qemu-system-x86_64: -drive file=a,rerror=enospc: 'enospc' invalid read error action"
        );
    }

    #[test]
    fn drive_unknown_key_is_invalid_parameter() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,speed=fast"]),
            "qemu-system-x86_64: -drive file=a.img,speed=fast: Invalid parameter 'speed'"
        );
    }

    #[test]
    fn drive_bad_bus_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,if=usb"]),
            "qemu-system-x86_64: -drive file=a.img,if=usb: unsupported bus type 'usb'"
        );
    }

    #[test]
    fn drive_bad_media_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=a.img,media=tape"]),
            "qemu-system-x86_64: -drive file=a.img,media=tape: 'tape' invalid media"
        );
    }

    #[test]
    fn drive_virtual_without_size_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=v.img,x-virtual=on"]),
            "qmpsim: -drive file=v.img,x-virtual=on: x-virtual=on needs x-size=SIZE"
        );
    }

    #[test]
    fn drive_bad_size_is_rejected() {
        assert_eq!(
            parse_err(&["-drive", "file=v.img,x-virtual=on,x-size=10Q"]),
            "qmpsim: -drive file=v.img,x-virtual=on,x-size=10Q: invalid x-size '10Q'"
        );
    }

    #[test]
    fn drive_comma_escape_keeps_comma_in_file() {
        let low = parse_ok(&["-drive", "file=a,,b.img,if=ide"]);
        assert_eq!(
            low.drives,
            [DriveArg::Drive(parse_option_list(
                "file=a,,b.img,if=ide",
                None
            ))]
        );
    }

    #[test]
    fn size_suffixes_are_powers_of_1024() {
        assert_eq!(parse_size_bytes("10G"), Some(10 << 30));
    }

    #[test]
    fn size_without_suffix_is_bytes() {
        assert_eq!(parse_size_bytes("512"), Some(512));
    }

    #[test]
    fn size_overflow_is_rejected() {
        assert_eq!(parse_size_bytes("17179869184G"), None);
    }
}
