//! The checks 0.14's `drive_init` (blockdev.c) makes of a drive's options, and
//! the typed values `qemu_opts_parse` reads for them: shared by `-drive` at
//! startup and by the human monitor's `drive_add` and `pci_add`. Pure.

use super::block::BlockErrorAction;
use crate::machine::config::OptionList;

/// `if=` values of 0.14.
pub const DRIVE_BUSES: &[&str] = &[
    "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen", "none",
];

/// `-drive` keys whose value 0.14's `qemu_drive_opts` declares a number.
pub const DRIVE_NUMBER_KEYS: &[&str] = &["bus", "unit", "index", "cyls", "heads", "secs"];
/// `-drive` keys whose value 0.14's `qemu_drive_opts` declares a boolean.
pub const DRIVE_BOOL_KEYS: &[&str] = &["snapshot", "readonly", "boot"];
/// `-drive format=` values: the format drivers 0.14 registers.
pub use super::block::BLOCK_FORMATS as DRIVE_FORMATS;
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

/// A number as 0.14 stores it in an `int`: the low 32 bits, signed.
fn c_int(n: u64) -> i32 {
    let low = u32::try_from(n & 0xffff_ffff).expect("masked to 32 bits");
    i32::from_ne_bytes(low.to_ne_bytes())
}

/// A number key of a checked list (0 when absent), as `qemu_opt_get_number`.
fn number(opts: &OptionList, key: &str) -> Option<u64> {
    opts.get(key).map(|v| parse_c_number(v).unwrap_or(0))
}

/// Why `drive_init` made no drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveInitError {
    /// An `error_report` message (located at the option at startup).
    Report(String),
    /// `format=?`: the registered formats, printed bare (`error_printf`).
    FormatList,
}

impl std::fmt::Display for DriveInitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriveInitError::Report(message) => f.write_str(message),
            DriveInitError::FormatList => f.write_str(&super::block::supported_formats_line()),
        }
    }
}

impl From<String> for DriveInitError {
    fn from(message: String) -> Self {
        DriveInitError::Report(message)
    }
}

/// `drive_init`'s own checks (0.14 `blockdev.c`), in its order.
pub fn check_drive_init(opts: &OptionList) -> Result<(), DriveInitError> {
    let bus = opts.get("if").unwrap_or("ide");
    if !DRIVE_BUSES.contains(&bus) {
        return Err(format!("unsupported bus type '{bus}'").into());
    }
    check_geometry(opts, bus)?;
    let chs = ["cyls", "heads", "secs"]
        .iter()
        .any(|k| number(opts, k).unwrap_or(0) != 0);
    if let Some(media) = opts.get("media") {
        match media {
            "disk" => {}
            "cdrom" if chs => return Err(format!("'{media}' invalid physical CHS format").into()),
            "cdrom" => {}
            _ => return Err(format!("'{media}' invalid media").into()),
        }
    }
    if opts
        .get("cache")
        .is_some_and(|c| !DRIVE_CACHE_MODES.contains(&c))
    {
        return Err("invalid cache option".to_owned().into());
    }
    if opts
        .get("aio")
        .is_some_and(|a| a != "native" && a != "threads")
    {
        return Err("invalid aio option".to_owned().into());
    }
    match opts.get("format") {
        Some("?") => return Err(DriveInitError::FormatList),
        Some(format) if !DRIVE_FORMATS.contains(&format) => {
            return Err(format!("'{format}' invalid format").into())
        }
        _ => {}
    }
    let error_bus = matches!(bus, "ide" | "scsi" | "virtio" | "none");
    for (key, is_read, direction) in [("werror", false, "write"), ("rerror", true, "read")] {
        let Some(value) = opts.get(key) else { continue };
        if !error_bus {
            return Err(format!("{key} is not supported by this bus type").into());
        }
        if BlockErrorAction::parse(value, is_read).is_none() {
            return Err(format!("'{value}' invalid {direction} error action").into());
        }
    }
    if opts.get("addr").is_some() && bus != "virtio" {
        return Err("addr is not supported by this bus type".to_owned().into());
    }
    check_unit(opts, bus)?;
    let cdrom = opts.get("media") == Some("cdrom");
    let has_file = opts.get("file").is_some_and(|f| !f.is_empty());
    let readonly_bus = matches!(bus, "scsi" | "virtio" | "floppy" | "none");
    if has_file && !cdrom && opts.get("readonly") == Some("on") && !readonly_bus {
        return Err("readonly not supported by this bus type".to_owned().into());
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

/// Keys a drive's options take (0.14's `qemu_drive_opts`, plus `id` and the
/// qmpsim extensions `x-virtual` and `x-size`).
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

/// Why `qemu_opts_parse` refused an item of a drive's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptsError {
    /// A key the group does not declare.
    InvalidParameter(String),
    /// A value not of the key's type: the key and what it expects.
    Expects(String, &'static str),
}

impl std::fmt::Display for OptsError {
    /// The qerror description 0.14 prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptsError::InvalidParameter(key) => write!(f, "Invalid parameter '{key}'"),
            OptsError::Expects(key, what) => write!(f, "Parameter '{key}' expects {what}"),
        }
    }
}

/// `qemu_opts_parse` of a drive's options: each item in order, its key known,
/// numbers and booleans well formed.
pub fn check_drive_typed(opts: &OptionList) -> Result<(), OptsError> {
    for (key, value) in &opts.items {
        if !DRIVE_KEYS.contains(&key.as_str()) {
            return Err(OptsError::InvalidParameter(key.clone()));
        }
        if DRIVE_NUMBER_KEYS.contains(&key.as_str()) && parse_c_number(value).is_none() {
            return Err(OptsError::Expects(key.clone(), "a number"));
        }
        if DRIVE_BOOL_KEYS.contains(&key.as_str()) && value != "on" && value != "off" {
            return Err(OptsError::Expects(key.clone(), "'on' or 'off'"));
        }
    }
    Ok(())
}

/// Formats that read any file as it is (raw, and the protocols that open a
/// plain file).
pub const ANY_FILE_FORMATS: &[&str] = &["raw", "file", "host_device", "host_cdrom", "host_floppy"];

/// Why 0.14's driver for `asked` refuses an image probed as `found`: the
/// `strerror` of its `open`'s return (`qcow2_open` and `qed_open`: `-EINVAL`
/// for a wrong magic, `qcow2_open`: `-ENOTSUP` for another qcow version; the
/// other format drivers return `-1`), or `None` when it opens it.
pub fn format_refusal(asked: &str, found: &str) -> Option<&'static str> {
    if asked == found || ANY_FILE_FORMATS.contains(&asked) {
        return None;
    }
    Some(match (asked, found) {
        ("qcow2", "qcow") => "Operation not supported",
        ("qcow2" | "qed", _) => "Invalid argument",
        _ => "Operation not permitted",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> OptionList {
        OptionList {
            items: s
                .split(',')
                .map(|i| {
                    let (k, v) = i.split_once('=').unwrap_or((i, "on"));
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
        }
    }

    #[test]
    fn typed_check_reports_the_first_bad_item() {
        assert_eq!(
            check_drive_typed(&opts("file=a,index=x,speed=1")),
            Err(OptsError::Expects("index".to_owned(), "a number"))
        );
        assert_eq!(check_drive_typed(&opts("file=a,readonly=off")), Ok(()));
        assert_eq!(
            check_drive_typed(&opts("file=a,readonly=yes")),
            Err(OptsError::Expects("readonly".to_owned(), "'on' or 'off'"))
        );
    }

    #[test]
    fn drive_init_checks_media_addr_geometry_and_index() {
        let refusal = |s: &str| match check_drive_init(&opts(s)) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        };
        let cases = [
            ("file=a,media=cdrom", ""),
            ("file=a,media=tape", "'tape' invalid media"),
            ("file=a,if=virtio,addr=5", ""),
            ("file=a,addr=5", "addr is not supported by this bus type"),
            ("file=a,cyls=100,heads=16,secs=63", ""),
            (
                "file=a,media=cdrom,cyls=100,heads=16,secs=63",
                "'cdrom' invalid physical CHS format",
            ),
            (
                "file=a,cyls=16384,heads=16,secs=63",
                "invalid physical cyls number",
            ),
            ("file=a,if=scsi,cyls=16384,heads=16,secs=63", ""),
            (
                "file=a,cyls=100,heads=16,secs=0",
                "invalid physical secs number",
            ),
            (
                "file=a,readonly=on",
                "readonly not supported by this bus type",
            ),
            ("file=,readonly=on", ""),
            ("file=a,if=virtio,readonly=on", ""),
            (
                "file=a,cyls=100,heads=0,secs=63",
                "invalid physical heads number",
            ),
            ("file=a,index=1", ""),
            (
                "file=a,index=1,unit=0",
                "index cannot be used with bus and unit",
            ),
            (
                "file=a,index=1,bus=1",
                "index cannot be used with bus and unit",
            ),
            ("file=a,unit=1", ""),
            ("file=a,unit=2", "unit 2 too big (max is 1)"),
            ("file=a,if=scsi,unit=6", ""),
            ("file=a,if=scsi,unit=7", "unit 7 too big (max is 6)"),
            ("file=a,if=virtio,unit=9", ""),
            ("file=a,cyls=100,heads=16,secs=63,trans=lba", ""),
            (
                "file=a,cyls=100,heads=16,secs=63,trans=large",
                "'large' invalid translation type",
            ),
            (
                "file=a,trans=lba",
                "'lba' trans must be used with cyls,heads and secs",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(refusal(s), want, "{s}");
        }
    }

    #[test]
    fn drive_init_lists_formats_for_a_question_mark_and_refuses_unknown_ones() {
        let report = |text: &str| DriveInitError::Report(text.to_owned());
        for (spec, refusal) in [
            ("file=a,format=?", DriveInitError::FormatList),
            ("file=a,format=vmdk2", report("'vmdk2' invalid format")),
            ("file=a,cache=fast", report("invalid cache option")),
        ] {
            assert_eq!(check_drive_init(&opts(spec)), Err(refusal), "{spec}");
        }
    }

    #[test]
    fn c_int_keeps_the_low_32_bits_signed() {
        assert_eq!(
            [c_int(5), c_int(0xffff_ffff), c_int(0x1_0000_0002)],
            [5, -1, 2]
        );
    }

    #[test]
    fn c_number_reads_hex_octal_and_empty() {
        assert_eq!(
            ["0x10", "010", "", "12x"].map(parse_c_number),
            [Some(16), Some(8), Some(0), None]
        );
    }

    #[test]
    fn format_refusal_follows_each_drivers_open() {
        let rows = [
            ("qcow2", "raw", Some("Invalid argument")),
            ("qed", "qcow2", Some("Invalid argument")),
            ("qcow2", "qcow", Some("Operation not supported")),
            ("vmdk", "raw", Some("Operation not permitted")),
            ("qcow2", "qcow2", None),
            ("raw", "qcow2", None),
            ("host_device", "vmdk", None),
        ];
        for (asked, found, refusal) in rows {
            assert_eq!(format_refusal(asked, found), refusal, "{asked} on {found}");
        }
    }
}
