//! Drives: `-drive`, the shorthands `-hda`..`-hdd`, `-cdrom`, `-fda`/`-fdb`, and a
//! bare image argument. Checked here; expanded into `-drive` options and probed by
//! `config.rs`.

use super::option_list::parse_option_list;
use super::{OptCtx, RawError};
use crate::machine::config::OptionList;
pub use crate::machine::devices::drive_opts::{
    check_drive_init, parse_c_number, DriveInitError, DRIVE_BOOL_KEYS, DRIVE_BUSES, DRIVE_FORMATS,
    DRIVE_KEYS, DRIVE_NUMBER_KEYS,
};

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
    check_drive_init(&opts).map_err(|e| match e {
        DriveInitError::Report(message) => RawError::Located {
            option: option.to_owned(),
            arg: v.to_owned(),
            message,
        },
        DriveInitError::FormatList => RawError::FormatList,
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
    use super::super::{assert_refused, parse_ok};
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
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "drive werror unknown is rejected",
                &["-drive", "file=a,werror=explode"],
                "qemu-system-x86_64: -drive file=a,werror=explode: 'explode' invalid write error action",
            ),
            (
                "drive rerror enospc is rejected",
                &["-drive", "file=a,rerror=enospc"],
                "qemu-system-x86_64: -drive file=a,rerror=enospc: 'enospc' invalid read error action",
            ),
            (
                "drive unknown key is invalid parameter",
                &["-drive", "file=a.img,speed=fast"],
                "qemu-system-x86_64: -drive file=a.img,speed=fast: Invalid parameter 'speed'",
            ),
            (
                "drive bad bus is rejected",
                &["-drive", "file=a.img,if=usb"],
                "qemu-system-x86_64: -drive file=a.img,if=usb: unsupported bus type 'usb'",
            ),
            (
                "drive bad media is rejected",
                &["-drive", "file=a.img,media=tape"],
                "qemu-system-x86_64: -drive file=a.img,media=tape: 'tape' invalid media",
            ),
            (
                "drive virtual without size is rejected",
                &["-drive", "file=v.img,x-virtual=on"],
                "qmpsim: -drive file=v.img,x-virtual=on: x-virtual=on needs x-size=SIZE",
            ),
            (
                "drive bad size is rejected",
                &["-drive", "file=v.img,x-virtual=on,x-size=10Q"],
                "qmpsim: -drive file=v.img,x-virtual=on,x-size=10Q: invalid x-size '10Q'",
            ),
        ]);
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
