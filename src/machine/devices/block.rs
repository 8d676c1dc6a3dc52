//! Block devices (0.14 `BlockDriverState`s): the drive list built from the command
//! line the way `drive_init` and the default drives do it, their media, guest lock,
//! keys, and I/O statistics; plus the operations behind eject, change,
//! block_resize, block_passwd and the `cont` key check, and each drive's reaction
//! to a guest I/O error (`werror=`/`rerror=`, 0.14's `bdrv_get_on_error` and the
//! IDE/virtio `handle_rw_error` decision).
//!
//! Drives live in a `Vec` in creation order, which is `query-block` order. Opening
//! an image never touches a file: what the edge learnt by probing it arrives as an
//! [`ImageProbe`] (in the config for command-line drives, in
//! `Machine::image_probes` for `change`). Errors are the qerror each 0.14 code path
//! reports, as [`QmpError`] data.

use serde::{Deserialize, Serialize};

use crate::machine::config::{DriveConfig, ImageInfo, ImageProbe, MachineConfig, OptionList};
use crate::machine::rng::Rng;
use crate::qobject::{ErrorClass, QmpError};

use super::{cfmt, drive_opts};

/// Most image probes the machine keeps for `change`: past it, probes of new file
/// names are dropped (a name already kept is still updated).
pub const IMAGE_PROBES_MAX: usize = 1024;
/// `BDRV_SECTOR_SIZE`.
pub const SECTOR_BYTES: u64 = 512;
/// Largest `x-size` of a virtual image: 16 EiB would overflow sector arithmetic.
pub const VIRTUAL_IMAGE_BYTES_MAX: u64 = 1 << 62;

/// Most drives at once, run-time additions included.
pub const HOT_DRIVES_MAX: usize = 256;

/// Format drivers registered in a default 0.14 build (`bdrv_find_format`; the
/// default whitelist is empty, so all of them are allowed).
pub const BLOCK_FORMATS: &[&str] = &[
    "blkdebug",
    "blkverify",
    "bochs",
    "cloop",
    "cow",
    "dmg",
    "file",
    "ftp",
    "ftps",
    "host_cdrom",
    "host_device",
    "host_floppy",
    "http",
    "https",
    "nbd",
    "parallels",
    "qcow",
    "qcow2",
    "qed",
    "raw",
    "sheepdog",
    "tftp",
    "vdi",
    "vmdk",
    "vpc",
    "vvfat",
];

/// [`BLOCK_FORMATS`] in the order of 0.14's driver list (`bdrv_drivers`),
/// which `format=?` prints: `bdrv_register` puts each driver at the head, and
/// the `block_init` constructors of a 2011 toolchain run in reverse link order
/// (`.ctors`), so the list reads in the link order of `Makefile.objs`'s
/// `block-nested-y` (raw-posix.c registers `file`, `host_device`,
/// `host_floppy`, `host_cdrom`, and curl.c `http` to `tftp`, each reversed).
pub const REGISTERED_FORMATS: &[&str] = &[
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
    "host_cdrom",
    "host_floppy",
    "host_device",
    "file",
    "tftp",
    "ftps",
    "ftp",
    "https",
    "http",
];

/// What `-drive format=?` prints (`bdrv_iterate_format` after
/// `Supported formats:`), without its newline.
pub fn supported_formats_line() -> String {
    let mut line = String::from("Supported formats:");
    for format in REGISTERED_FORMATS {
        line.push(' ');
        line.push_str(format);
    }
    line
}

/// Drivers that open the file themselves (`bdrv_file_open`), so no protocol
/// layer (`parent` in query-blockstats) sits under them.
const PROTOCOL_FORMATS: &[&str] = &[
    "file",
    "host_device",
    "host_cdrom",
    "host_floppy",
    "nbd",
    "http",
    "https",
    "ftp",
    "ftps",
    "tftp",
    "sheepdog",
    "vvfat",
    "blkdebug",
    "blkverify",
];

/// The `if=` interface of a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriveIf {
    /// `if=ide` (the default).
    Ide,
    /// `if=scsi`.
    Scsi,
    /// `if=floppy`.
    Floppy,
    /// `if=pflash`.
    Pflash,
    /// `if=mtd`.
    Mtd,
    /// `if=sd`.
    Sd,
    /// `if=virtio`.
    Virtio,
    /// `if=xen`.
    Xen,
    /// `if=none`.
    None,
}

impl DriveIf {
    fn parse(s: &str) -> Option<DriveIf> {
        Some(match s {
            "ide" => DriveIf::Ide,
            "scsi" => DriveIf::Scsi,
            "floppy" => DriveIf::Floppy,
            "pflash" => DriveIf::Pflash,
            "mtd" => DriveIf::Mtd,
            "sd" => DriveIf::Sd,
            "virtio" => DriveIf::Virtio,
            "xen" => DriveIf::Xen,
            "none" => DriveIf::None,
            _ => return None,
        })
    }

    /// `if_name[]`.
    pub fn name(self) -> &'static str {
        match self {
            DriveIf::Ide => "ide",
            DriveIf::Scsi => "scsi",
            DriveIf::Floppy => "floppy",
            DriveIf::Pflash => "pflash",
            DriveIf::Mtd => "mtd",
            DriveIf::Sd => "sd",
            DriveIf::Virtio => "virtio",
            DriveIf::Xen => "xen",
            DriveIf::None => "none",
        }
    }

    /// Units per bus (`MAX_IDE_DEVS`, `MAX_SCSI_DEVS`; 0 means unlimited).
    pub fn max_devs(self) -> u32 {
        match self {
            DriveIf::Ide => 2,
            DriveIf::Scsi => 7,
            DriveIf::Floppy
            | DriveIf::Pflash
            | DriveIf::Mtd
            | DriveIf::Sd
            | DriveIf::Virtio
            | DriveIf::Xen
            | DriveIf::None => 0,
        }
    }
}

/// The type hint `query-block` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriveType {
    /// `BDRV_TYPE_HD`.
    Hd,
    /// `BDRV_TYPE_CDROM`.
    Cdrom,
    /// `BDRV_TYPE_FLOPPY` (also SD cards).
    Floppy,
}

impl DriveType {
    /// The `type` string.
    pub fn name(self) -> &'static str {
        match self {
            DriveType::Hd => "hd",
            DriveType::Cdrom => "cdrom",
            DriveType::Floppy => "floppy",
        }
    }
}

/// A drive's configured reaction to guest I/O errors (0.14's
/// `BlockErrorAction`, set by `-drive werror=`/`rerror=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockErrorAction {
    /// `ignore`: the guest is told the request succeeded.
    Ignore,
    /// `report`: the guest sees the error.
    Report,
    /// `enospc`: stop the VM on "no space left", report anything else (the
    /// `werror` default).
    StopEnospc,
    /// `stop`: stop the VM on any error.
    StopAny,
}

impl BlockErrorAction {
    /// 0.14's `werror` default.
    pub const WRITE_DEFAULT: BlockErrorAction = BlockErrorAction::StopEnospc;
    /// 0.14's `rerror` default.
    pub const READ_DEFAULT: BlockErrorAction = BlockErrorAction::Report;

    /// `parse_block_error_action`: `enospc` is accepted for writes only.
    pub fn parse(value: &str, is_read: bool) -> Option<BlockErrorAction> {
        match value {
            "ignore" => Some(BlockErrorAction::Ignore),
            "enospc" if !is_read => Some(BlockErrorAction::StopEnospc),
            "stop" => Some(BlockErrorAction::StopAny),
            "report" => Some(BlockErrorAction::Report),
            _ => None,
        }
    }
}

/// The direction of a failed guest request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoOperation {
    /// A read (`rerror` applies).
    Read,
    /// A write (`werror` applies).
    Write,
}

impl IoOperation {
    /// `read` or `write`, as BLOCK_IO_ERROR's `operation` and x-block-error take it.
    pub fn name(self) -> &'static str {
        match self {
            IoOperation::Read => "read",
            IoOperation::Write => "write",
        }
    }

    /// The operation of that name.
    pub fn parse(s: &str) -> Option<IoOperation> {
        match s {
            "read" => Some(IoOperation::Read),
            "write" => Some(IoOperation::Write),
            _ => None,
        }
    }
}

/// Why a guest request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoErrno {
    /// `EIO`: the medium failed.
    Eio,
    /// `ENOSPC`: the host file system is full (the thin-provisioning case
    /// `werror=enospc` exists for).
    Enospc,
}

impl IoErrno {
    /// The errno of that lowercase name (`eio`, `enospc`).
    pub fn parse(s: &str) -> Option<IoErrno> {
        match s {
            "eio" => Some(IoErrno::Eio),
            "enospc" => Some(IoErrno::Enospc),
            _ => None,
        }
    }
}

/// What happens on one guest I/O error: BLOCK_IO_ERROR's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoErrorOutcome {
    /// The error is hidden from the guest.
    Ignore,
    /// The guest sees the error.
    Report,
    /// The VM stops; the request is retried when it continues.
    Stop,
}

impl IoErrorOutcome {
    /// `ignore`, `report` or `stop`.
    pub fn name(self) -> &'static str {
        match self {
            IoErrorOutcome::Ignore => "ignore",
            IoErrorOutcome::Report => "report",
            IoErrorOutcome::Stop => "stop",
        }
    }
}

/// I/O counters of one `BlockDriverState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockStats {
    /// Bytes read.
    pub rd_bytes: u64,
    /// Bytes written.
    pub wr_bytes: u64,
    /// Read requests.
    pub rd_operations: u64,
    /// Write requests.
    pub wr_operations: u64,
    /// Offset of the highest sector written (`wr_highest_sector * 512`).
    pub wr_highest_offset: u64,
}

/// An open image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Medium {
    /// The file name as given (`bs->filename`).
    pub file: String,
    /// Format driver name.
    pub format: String,
    /// Backing file named by the image.
    pub backing_file: Option<String>,
    /// Encrypted image.
    pub encrypted: bool,
    /// A key has been set (`valid_key`).
    pub key_valid: bool,
    /// The password the image accepts (`x-password=`); any when `None`.
    pub password: Option<String>,
    /// Virtual size in bytes.
    pub size_bytes: u64,
    /// Counters of the protocol layer under the format (`bs->file`), if any.
    pub parent_stats: Option<BlockStats>,
}

/// One drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    /// Device name (`-drive id=` or the generated `ide0-hd0` form).
    pub name: String,
    /// Interface.
    pub interface: DriveIf,
    /// Bus number on its interface.
    pub bus: u32,
    /// Unit number on its bus.
    pub unit: u32,
    /// Type hint.
    pub kind: DriveType,
    /// Removable (cdrom or floppy type).
    pub removable: bool,
    /// The guest locked the medium (`x-locked=on` models a guest that did).
    pub locked: bool,
    /// `bs->read_only`: kept across eject, used by `change` to reopen.
    pub read_only: bool,
    /// The inserted medium.
    pub medium: Option<Medium>,
    /// Format-layer counters (kept across media changes, as in 0.14).
    pub stats: BlockStats,
    /// The qdev device using it (`bdrv_attach`), by device uid.
    pub attached: Option<u64>,
    /// Delete the drive when its device goes away (`blockdev_mark_auto_del`).
    pub auto_del: bool,
    /// `addr=` for a virtio drive's device.
    pub devaddr: Option<String>,
    /// `rerror=`.
    pub on_read_error: BlockErrorAction,
    /// `werror=`.
    pub on_write_error: BlockErrorAction,
}

/// Format drivers with internal snapshots (`bdrv_snapshot_create`) in 0.14.
pub const SNAPSHOT_FORMATS: &[&str] = &["qcow2", "sheepdog"];

impl Drive {
    /// 0.14's `ide_handle_rw_error` / `virtio_blk_handle_rw_error` decision:
    /// `ignore` hides the error, `stop` (or `enospc` for an ENOSPC error)
    /// stops the VM, anything else reports it to the guest.
    pub fn io_error_outcome(&self, op: IoOperation, errno: IoErrno) -> IoErrorOutcome {
        let action = match op {
            IoOperation::Read => self.on_read_error,
            IoOperation::Write => self.on_write_error,
        };
        match (action, errno) {
            (BlockErrorAction::Ignore, _) => IoErrorOutcome::Ignore,
            (BlockErrorAction::StopAny, _) | (BlockErrorAction::StopEnospc, IoErrno::Enospc) => {
                IoErrorOutcome::Stop
            }
            (BlockErrorAction::Report, _) | (BlockErrorAction::StopEnospc, IoErrno::Eio) => {
                IoErrorOutcome::Report
            }
        }
    }

    /// `bdrv_can_snapshot`: an open, fixed (not removable), writable image whose
    /// format takes internal snapshots (the `file` protocol under a raw image
    /// takes none).
    pub fn can_snapshot(&self) -> bool {
        !self.removable
            && !self.read_only
            && self
                .medium
                .as_ref()
                .is_some_and(|m| SNAPSHOT_FORMATS.contains(&m.format.as_str()))
    }

    /// `bdrv_key_required`.
    pub fn key_required(&self) -> bool {
        self.medium
            .as_ref()
            .is_some_and(|m| m.encrypted && !m.key_valid)
    }
}

/// All drives, in creation order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Block {
    /// The drives.
    pub drives: Vec<Drive>,
}

/// `qemu_opt_get_bool` on a drive option.
fn opt_on(d: &DriveConfig, key: &str) -> bool {
    matches!(d.opts.get(key), Some("on" | "yes" | "true"))
}

/// A drive's `rerror`/`werror`; the CLI rejects values 0.14 refuses, so an
/// unknown one (from a hand-made config) falls back to the default.
fn error_action(
    d: &DriveConfig,
    key: &str,
    is_read: bool,
    default: BlockErrorAction,
) -> BlockErrorAction {
    d.opts
        .get(key)
        .and_then(|v| BlockErrorAction::parse(v, is_read))
        .unwrap_or(default)
}

impl Block {
    /// The drives a configuration gives: command-line drives in order, then the
    /// default cdrom (IDE index 2), floppy and SD card unless already defined or
    /// `-nodefaults`. Drives 0.14 would refuse (bad interface, duplicate unit) are
    /// left out.
    pub fn from_config(config: &MachineConfig, user_ide_drive: bool, user_fdc: bool) -> Block {
        let mut block = Block::default();
        for d in &config.drives {
            block.add_config_drive(d);
        }
        let defaults = !config.nodefaults;
        if defaults && !user_ide_drive && block.by_location(DriveIf::Ide, 1, 0).is_none() {
            block.add_config_drive(&default_drive("index=2,media=cdrom"));
        }
        if defaults && !user_fdc && block.by_location(DriveIf::Floppy, 0, 0).is_none() {
            block.add_config_drive(&default_drive("index=0,if=floppy"));
        }
        if defaults && block.by_location(DriveIf::Sd, 0, 0).is_none() {
            block.add_config_drive(&default_drive("index=0,if=sd"));
        }
        block
    }

    fn add_config_drive(&mut self, d: &DriveConfig) {
        let Some((interface, bus, unit)) = self.location(d) else {
            return;
        };
        let cdrom = d.opts.get("media") == Some("cdrom");
        let max = interface.max_devs();
        if (max != 0 && unit >= max) || self.by_location(interface, bus, unit).is_some() {
            return;
        }
        let name = match d.opts.get("id") {
            Some(id) => id.to_owned(),
            None => generated_name(interface, cdrom, bus, unit),
        };
        if self.find(&name).is_some() {
            return;
        }
        let kind = match interface {
            DriveIf::Floppy | DriveIf::Sd => DriveType::Floppy,
            _ if cdrom => DriveType::Cdrom,
            _ => DriveType::Hd,
        };
        let read_only = cdrom || opt_on(d, "readonly");
        let medium = open_config_medium(d);
        self.drives.push(Drive {
            name,
            interface,
            bus,
            unit,
            kind,
            removable: matches!(kind, DriveType::Cdrom | DriveType::Floppy),
            locked: opt_on(d, "x-locked"),
            // An empty drive was never opened: bs->read_only stays 0.
            read_only: medium.is_some() && read_only,
            medium,
            stats: BlockStats::default(),
            attached: None,
            auto_del: false,
            devaddr: d.opts.get("addr").map(str::to_owned),
            on_read_error: error_action(d, "rerror", true, BlockErrorAction::READ_DEFAULT),
            on_write_error: error_action(d, "werror", false, BlockErrorAction::WRITE_DEFAULT),
        });
    }

    /// `add_init_drive` at run time (`drive_def`, then `drive_init` with IDE as
    /// the default interface): the new drive's name, or the lines 0.14 prints
    /// on the monitor. `probe` is what the edge found at `file=`.
    pub fn hot_add(
        &mut self,
        opts: &OptionList,
        probe: Option<&ImageProbe>,
    ) -> Result<String, String> {
        drive_opts::check_drive_typed(opts).map_err(|e| format!("{e}\n"))?;
        if let Some(id) = opts.get("id") {
            if !super::qdev::id_wellformed(id) {
                return Err("Parameter 'id' expects an identifier\n\
                     Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"
                    .to_owned());
            }
            if self.find(id).is_some() {
                return Err(format!("Duplicate ID '{id}' for drive\n"));
            }
        }
        drive_opts::check_drive_init(opts).map_err(|m| format!("{m}\n"))?;
        if self.drives.len() >= HOT_DRIVES_MAX {
            return Err(format!("qmpsim: no more than {HOT_DRIVES_MAX} drives\n"));
        }
        let config = DriveConfig {
            opts: opts.clone(),
            probe: probe.cloned(),
        };
        let (interface, bus, unit) = self.location(&config).ok_or("")?;
        if self.by_location(interface, bus, unit).is_some() {
            let index = opts.get("index").and_then(cfmt::scan_int).unwrap_or(-1);
            return Err(format!(
                "drive with bus={bus}, unit={unit} (index={index}) exists\n"
            ));
        }
        if let Some(file) = opts.get("file").filter(|f| !f.is_empty()) {
            let open_error = |reason: &str| format!("could not open disk image {file}: {reason}\n");
            if opts.get("x-virtual") != Some("on") {
                let Some(ImageProbe::Found(info)) = probe else {
                    return Err(open_error("No such file or directory"));
                };
                if let Some(reason) = opts
                    .get("format")
                    .and_then(|f| drive_opts::format_refusal(f, &info.format))
                {
                    return Err(open_error(reason));
                }
            }
        }
        let before = self.drives.len();
        self.add_config_drive(&config);
        match self.drives.get(before) {
            Some(d) => Ok(d.name.clone()),
            None => Err(String::new()),
        }
    }

    /// Where a drive's options place it: interface, bus and unit (the first
    /// free unit when none is given), as `drive_init` computes them.
    fn location(&self, d: &DriveConfig) -> Option<(DriveIf, u32, u32)> {
        let interface = DriveIf::parse(d.opts.get("if").unwrap_or("ide"))?;
        let max = interface.max_devs();
        let (mut bus, unit) = match d.opts.get("index").and_then(cfmt::scan_int) {
            Some(index) if index >= 0 => {
                let index = index.unsigned_abs();
                match (index.checked_div(max), index.checked_rem(max)) {
                    (Some(bus), Some(unit)) => (bus, Some(unit)),
                    _ => (0, Some(index)),
                }
            }
            _ => (
                d.opts
                    .get("bus")
                    .and_then(cfmt::scan_int)
                    .map_or(0, i32::unsigned_abs),
                d.opts
                    .get("unit")
                    .and_then(cfmt::scan_int)
                    .map(i32::unsigned_abs),
            ),
        };
        let unit = match unit {
            Some(u) => u,
            None => {
                let mut u = 0;
                while self.by_location(interface, bus, u).is_some() {
                    u += 1;
                    if max != 0 && u >= max {
                        u -= max;
                        bus += 1;
                    }
                }
                u
            }
        };
        Some((interface, bus, unit))
    }

    /// `drive_del` (0.14's `do_drive_del`): the drive goes from the list; a
    /// device using it keeps running without it.
    pub fn drive_del(&mut self, id: &str) -> Result<(), QmpError> {
        let pos = self
            .drives
            .iter()
            .position(|d| d.name == id)
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, id))?;
        self.drives.remove(pos);
        Ok(())
    }

    /// `drive_get`: the drive at an interface location.
    pub fn by_location(&self, interface: DriveIf, bus: u32, unit: u32) -> Option<&Drive> {
        self.drives
            .iter()
            .find(|d| d.interface == interface && d.bus == bus && d.unit == unit)
    }

    /// `bdrv_find`.
    pub fn find(&self, name: &str) -> Option<&Drive> {
        self.drives.iter().find(|d| d.name == name)
    }

    /// The name of the first drive with a medium.
    pub fn first_with_medium(&self) -> Option<String> {
        self.drives
            .iter()
            .find(|d| d.medium.is_some())
            .map(|d| d.name.clone())
    }

    /// [`Block::find`] for a change.
    pub fn find_mut(&mut self, name: &str) -> Option<&mut Drive> {
        self.drives.iter_mut().find(|d| d.name == name)
    }

    /// [`Block::find_mut`], or DeviceNotFound.
    fn found_mut(&mut self, name: &str) -> Result<&mut Drive, QmpError> {
        self.find_mut(name)
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, name))
    }

    /// `bdrv_attach`: binds a drive to a device; false when unknown or in use.
    pub fn attach(&mut self, name: &str, device: u64) -> Result<(), AttachError> {
        let drive = self.find_mut(name).ok_or(AttachError::NotFound)?;
        if drive.attached.is_some() {
            return Err(AttachError::InUse);
        }
        drive.attached = Some(device);
        Ok(())
    }

    /// `free_drive`: detaches a drive from a device going away, deleting it when
    /// it was marked for automatic deletion.
    pub fn detach(&mut self, device: u64, mark_auto_del: bool) {
        for d in self
            .drives
            .iter_mut()
            .filter(|d| d.attached == Some(device))
        {
            d.attached = None;
            d.auto_del |= mark_auto_del;
        }
        self.drives
            .retain(|d| !(d.attached.is_none() && d.auto_del));
    }

    /// `eject`.
    pub fn eject(&mut self, name: &str, force: bool) -> Result<(), QmpError> {
        let drive = self.found_mut(name)?;
        eject_drive(drive, force)
    }

    /// The block part of `change`: checks, eject, then open `filename` as the
    /// probe for it says.
    pub fn change(
        &mut self,
        name: &str,
        filename: &str,
        format: Option<&str>,
        probe: Option<&ImageProbe>,
    ) -> Result<(), QmpError> {
        let drive = self.found_mut(name)?;
        if let Some(f) = format {
            if !BLOCK_FORMATS.contains(&f) {
                return Err(QmpError::with1(ErrorClass::InvalidBlockFormat, f));
            }
        }
        eject_drive(drive, false)?;
        let open_failed = || QmpError::with1(ErrorClass::OpenFileFailed, filename);
        let Some(ImageProbe::Found(info)) = probe else {
            return Err(open_failed());
        };
        let medium = open_medium(filename, info, format, None).ok_or_else(open_failed)?;
        drive.medium = Some(medium);
        if drive.key_required() {
            return Err(QmpError::with1(ErrorClass::DeviceEncrypted, name));
        }
        Ok(())
    }

    /// `snapshot_blkdev`'s reopen: the drive keeps its settings and counters
    /// and opens `file` (as probed) in place of its image.
    pub fn reopen(&mut self, name: &str, file: &str, probe: &ImageProbe) {
        let Some(drive) = self.find_mut(name) else {
            return;
        };
        if let ImageProbe::Found(info) = probe {
            drive.medium = open_medium(file, info, None, None);
        }
    }

    /// `block_resize`: every failure below the name check is `UndefinedError`.
    pub fn resize(&mut self, name: &str, size: i64) -> Result<(), QmpError> {
        let drive = self.found_mut(name)?;
        let undefined = || QmpError::bare(ErrorClass::UndefinedError);
        let size = u64::try_from(size).map_err(|_| undefined())?;
        let read_only = drive.read_only;
        let medium = drive.medium.as_mut().ok_or_else(undefined)?;
        let ok = match medium.format.as_str() {
            "raw" | "file" => !read_only,
            "qcow2" | "sheepdog" => {
                !read_only && size % SECTOR_BYTES == 0 && size >= medium.size_bytes
            }
            _ => false,
        };
        if !ok {
            return Err(undefined());
        }
        medium.size_bytes = size;
        Ok(())
    }

    /// `block_passwd`.
    pub fn set_key(&mut self, name: &str, password: &str) -> Result<(), QmpError> {
        let drive = self.found_mut(name)?;
        let not_encrypted = QmpError::with1(ErrorClass::DeviceNotEncrypted, name);
        let medium = match drive.medium.as_mut() {
            Some(m) if m.encrypted => m,
            _ => return Err(not_encrypted),
        };
        if medium.password.as_deref().is_some_and(|p| p != password) {
            medium.key_valid = false;
            return Err(QmpError::bare(ErrorClass::InvalidPassword));
        }
        medium.key_valid = true;
        Ok(())
    }

    /// The first drive still waiting for a key (`cont`'s `encrypted_bdrv_it`).
    pub fn first_key_required(&self) -> Option<&str> {
        self.drives
            .iter()
            .find(|d| d.key_required())
            .map(|d| d.name.as_str())
    }

    /// What a guest I/O error on drive `name` leads to. An unknown drive is
    /// DeviceNotFound; an empty one is DeviceNotActive (the guest cannot send
    /// requests to a drive without a medium).
    pub fn io_error(
        &self,
        name: &str,
        op: IoOperation,
        errno: IoErrno,
    ) -> Result<IoErrorOutcome, QmpError> {
        let drive = self
            .find(name)
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, name))?;
        if drive.medium.is_none() {
            return Err(QmpError::with1(ErrorClass::DeviceNotActive, name));
        }
        Ok(drive.io_error_outcome(op, errno))
    }

    /// One guest I/O period: attached drives with media see reads (and writes
    /// when writable), drawn from the machine's rng in drive order.
    pub fn guest_io(&mut self, rng: &mut Rng) {
        for drive in self.drives.iter_mut().filter(|d| d.attached.is_some()) {
            if drive.kind == DriveType::Floppy {
                continue;
            }
            let writable = !drive.read_only;
            let Some(medium) = drive.medium.as_mut() else {
                continue;
            };
            if medium.encrypted && !medium.key_valid {
                continue;
            }
            let io = GuestIo::draw(rng, writable, medium.size_bytes);
            io.apply(&mut drive.stats);
            if let Some(parent) = medium.parent_stats.as_mut() {
                io.apply(parent);
                if medium.format != "raw" {
                    // Format metadata (L2 tables, refcounts) costs extra host I/O.
                    let meta = rng.range(0, 1);
                    parent.rd_operations += meta;
                    parent.rd_bytes += meta * 4 * SECTOR_BYTES;
                }
            }
        }
    }
}

/// Why `bdrv_attach` via a `drive=` property failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// No such drive (`-ENOENT`).
    NotFound,
    /// Already attached (`-EEXIST`).
    InUse,
}

/// One period of guest block I/O on one drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GuestIo {
    reads: u64,
    read_bytes: u64,
    writes: u64,
    write_bytes: u64,
    highest_offset: Option<u64>,
}

impl GuestIo {
    /// Requests per period: up to 6 reads and 2 writes of 1 to 8 pages each.
    fn draw(rng: &mut Rng, writable: bool, size_bytes: u64) -> GuestIo {
        const PAGE_BYTES: u64 = 4096;
        let reads = rng.range(0, 6);
        let read_bytes = reads * PAGE_BYTES * rng.range(1, 8);
        let (writes, write_bytes, highest_offset) = if writable && size_bytes >= PAGE_BYTES {
            let writes = rng.range(0, 2);
            let sectors = size_bytes / SECTOR_BYTES;
            let offset = rng.range(0, sectors - 1) * SECTOR_BYTES;
            let highest = (writes > 0).then_some(offset);
            (writes, writes * PAGE_BYTES * rng.range(1, 4), highest)
        } else {
            (0, 0, None)
        };
        GuestIo {
            reads,
            read_bytes,
            writes,
            write_bytes,
            highest_offset,
        }
    }

    fn apply(&self, stats: &mut BlockStats) {
        stats.rd_operations += self.reads;
        stats.rd_bytes += self.read_bytes;
        stats.wr_operations += self.writes;
        stats.wr_bytes += self.write_bytes;
        if let Some(offset) = self.highest_offset {
            stats.wr_highest_offset = stats.wr_highest_offset.max(offset);
        }
    }
}

/// `eject_device`.
fn eject_drive(drive: &mut Drive, force: bool) -> Result<(), QmpError> {
    if !force {
        if !drive.removable {
            return Err(QmpError::with1(ErrorClass::DeviceNotRemovable, &drive.name));
        }
        if drive.locked {
            return Err(QmpError::with1(ErrorClass::DeviceLocked, &drive.name));
        }
    }
    drive.medium = None;
    Ok(())
}

/// `bdrv_open` of a probed image, optionally forcing a format. A forced format
/// other than the probed one fails, except `raw`, which reads any file.
fn open_medium(
    file: &str,
    info: &ImageInfo,
    format: Option<&str>,
    password: Option<String>,
) -> Option<Medium> {
    let format = format.unwrap_or(&info.format);
    let native = format == info.format;
    if !native && !super::drive_opts::ANY_FILE_FORMATS.contains(&format) {
        return None;
    }
    let encrypted = native && info.encrypted;
    Some(Medium {
        file: file.to_owned(),
        format: format.to_owned(),
        backing_file: if native {
            info.backing_file.clone()
        } else {
            None
        },
        encrypted,
        key_valid: !encrypted,
        password,
        size_bytes: info.size_bytes,
        parent_stats: (!PROTOCOL_FORMATS.contains(&format)).then(BlockStats::default),
    })
}

/// The medium of a command-line drive: from its probe, or declared with
/// `x-virtual=on,x-size=N` for an image without a file.
fn open_config_medium(d: &DriveConfig) -> Option<Medium> {
    let file = d.opts.get("file").filter(|f| !f.is_empty())?;
    let format = d.opts.get("format");
    let password = d.opts.get("x-password").map(str::to_owned);
    match &d.probe {
        Some(ImageProbe::Found(info)) => open_medium(file, info, format, password),
        Some(ImageProbe::Missing) => None,
        None if opt_on(d, "x-virtual") => {
            let info = ImageInfo {
                format: format.unwrap_or("raw").to_owned(),
                size_bytes: d.opts.get("x-size").map_or(0, parse_size),
                backing_file: None,
                encrypted: false,
            };
            open_medium(file, &info, None, password)
        }
        None => None,
    }
}

/// A size with an optional `k`/`M`/`G`/`T` suffix (bytes without), clamped to
/// [`VIRTUAL_IMAGE_BYTES_MAX`]; unparsable text gives 0.
pub fn parse_size(s: &str) -> u64 {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let Ok(n) = digits.parse::<u64>() else {
        return 0;
    };
    let shift = match &s[digits.len()..] {
        "" | "b" => 0,
        "k" | "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return 0,
    };
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .unwrap_or(VIRTUAL_IMAGE_BYTES_MAX)
        .min(VIRTUAL_IMAGE_BYTES_MAX)
}

fn generated_name(interface: DriveIf, cdrom: bool, bus: u32, unit: u32) -> String {
    let media = match interface {
        DriveIf::Ide | DriveIf::Scsi if cdrom => "-cd",
        DriveIf::Ide | DriveIf::Scsi => "-hd",
        _ => "",
    };
    if interface.max_devs() != 0 {
        format!("{}{bus}{media}{unit}", interface.name())
    } else {
        format!("{}{media}{unit}", interface.name())
    }
}

fn default_drive(spec: &str) -> DriveConfig {
    let mut d = DriveConfig::default();
    for item in spec.split(',') {
        if let Some((k, v)) = item.split_once('=') {
            d.opts.push(k, v);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_formats_are_the_block_formats_reordered() {
        let mut sorted = REGISTERED_FORMATS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, BLOCK_FORMATS);
    }

    #[test]
    fn supported_formats_line_starts_with_the_last_registered_driver() {
        assert!(supported_formats_line().starts_with("Supported formats: raw cow qcow "));
    }

    #[test]
    fn every_interface_name_parses_back() {
        let names = [
            "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen", "none",
        ];
        let back: Vec<Option<&str>> = names
            .iter()
            .map(|n| DriveIf::parse(n).map(DriveIf::name))
            .collect();
        assert_eq!(back, names.map(Some));
        assert_eq!(DriveIf::parse("usb"), None);
    }

    #[test]
    fn io_errnos_parse_by_name() {
        assert_eq!(
            ["eio", "enospc", "eperm"].map(IoErrno::parse),
            [Some(IoErrno::Eio), Some(IoErrno::Enospc), None]
        );
    }

    #[test]
    fn drive_del_removes_the_drive_or_says_it_is_not_found() {
        let mut b = Block::from_config(&MachineConfig::default(), false, false);
        assert!(b.find("ide1-cd0").is_some());
        assert_eq!(b.drive_del("ide1-cd0"), Ok(()));
        assert!(b.find("ide1-cd0").is_none());
        assert_eq!(
            b.drive_del("ide1-cd0"),
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "ide1-cd0"))
        );
    }

    fn hda(file: &str, info: ImageInfo) -> DriveConfig {
        let mut d = DriveConfig::default();
        d.opts.push("file", file);
        d.opts.push("index", "0");
        d.opts.push("media", "disk");
        d.probe = Some(ImageProbe::Found(info));
        d
    }

    fn raw(size: u64) -> ImageInfo {
        ImageInfo {
            format: "raw".into(),
            size_bytes: size,
            backing_file: None,
            encrypted: false,
        }
    }

    fn names(b: &Block) -> Vec<&str> {
        b.drives.iter().map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn defaults_without_drives_are_cd_floppy_sd() {
        let b = Block::from_config(&MachineConfig::default(), false, false);
        assert_eq!(names(&b), ["ide1-cd0", "floppy0", "sd0"]);
    }

    #[test]
    fn hda_comes_first_as_ide0_hd0() {
        let cfg = MachineConfig {
            drives: vec![hda("disk.img", raw(1 << 20))],
            ..Default::default()
        };
        let b = Block::from_config(&cfg, false, false);
        assert_eq!(names(&b), ["ide0-hd0", "ide1-cd0", "floppy0", "sd0"]);
    }

    #[test]
    fn negative_index_places_the_drive_like_no_index() {
        let mut d = DriveConfig::default();
        d.opts.push("file", "disk.img");
        d.opts.push("index", "-1");
        d.opts.push("media", "disk");
        d.probe = Some(ImageProbe::Found(raw(1 << 20)));
        let cfg = MachineConfig {
            drives: vec![d],
            ..Default::default()
        };
        let b = Block::from_config(&cfg, false, false);
        assert_eq!(names(&b)[0], "ide0-hd0");
    }

    /// The guest's I/O on one 1 MiB disk over `periods` periods: the stats
    /// after each.
    fn guest_io_stats(periods: usize) -> Vec<BlockStats> {
        guest_io_stats_of(raw(1 << 20), periods)
            .into_iter()
            .map(|(stats, _)| stats)
            .collect()
    }

    /// The same for a disk of `info`: the drive's stats and its image
    /// file's (`parent`) after each period.
    fn guest_io_stats_of(info: ImageInfo, periods: usize) -> Vec<(BlockStats, Option<BlockStats>)> {
        let cfg = MachineConfig {
            drives: vec![hda("disk.img", info)],
            ..Default::default()
        };
        let mut block = crate::machine::devices::Devices::new(&cfg).block;
        let mut rng = Rng::new(3);
        (0..periods)
            .map(|_| {
                block.guest_io(&mut rng);
                let drive = block.find("ide0-hd0").unwrap();
                (drive.stats, drive.medium.as_ref().unwrap().parent_stats)
            })
            .collect()
    }

    #[test]
    fn an_encrypted_disk_sees_guest_io_only_once_its_key_is_set() {
        let cfg = MachineConfig {
            drives: vec![hda(
                "secret.img",
                ImageInfo {
                    format: "qcow2".into(),
                    encrypted: true,
                    ..raw(1 << 20)
                },
            )],
            ..Default::default()
        };
        let mut block = crate::machine::devices::Devices::new(&cfg).block;
        let mut rng = Rng::new(3);
        let ops = |b: &Block| {
            let s = b.find("ide0-hd0").unwrap().stats;
            s.rd_operations + s.wr_operations
        };
        for _ in 0..20 {
            block.guest_io(&mut rng);
        }
        assert_eq!(ops(&block), 0, "no key yet");
        block.set_key("ide0-hd0", "pw").unwrap();
        for _ in 0..20 {
            block.guest_io(&mut rng);
        }
        assert!(ops(&block) > 0, "the key is set");
    }

    #[test]
    fn a_qcow2_files_extra_reads_are_metadata_of_four_sectors_each() {
        let qcow2 = ImageInfo {
            format: "qcow2".into(),
            ..raw(1 << 20)
        };
        let stats = guest_io_stats_of(qcow2, 50);
        let (drive, parent) = stats.last().unwrap();
        let parent = parent.unwrap();
        let extra_reads = parent.rd_operations - drive.rd_operations;
        assert!(extra_reads > 0, "{parent:?}");
        assert_eq!(
            parent.rd_bytes - drive.rd_bytes,
            extra_reads * 4 * SECTOR_BYTES
        );
        assert_eq!(
            (parent.wr_operations, parent.wr_bytes),
            (drive.wr_operations, drive.wr_bytes)
        );
    }

    #[test]
    fn guest_io_counts_pages_per_request_and_the_written_offset() {
        const PAGE: u64 = 4096;
        let stats = guest_io_stats(50);
        let last = stats.last().unwrap();
        assert!(last.rd_operations > 0 && last.wr_operations > 0, "{last:?}");
        for s in &stats {
            assert!(
                (s.rd_operations * PAGE..=s.rd_operations * 8 * PAGE).contains(&s.rd_bytes),
                "{s:?}"
            );
            assert!(
                (s.wr_operations * PAGE..=s.wr_operations * 4 * PAGE).contains(&s.wr_bytes),
                "{s:?}"
            );
        }
        // Writes start on a sector of the 1 MiB disk.
        assert!(stats
            .iter()
            .all(|s| s.wr_highest_offset % SECTOR_BYTES == 0 && s.wr_highest_offset < 1 << 20));
        assert!(stats.iter().any(|s| s.wr_highest_offset > 0));
        // Periods before the first write leave the highest offset alone.
        let before_writes: Vec<u64> = stats
            .iter()
            .take_while(|s| s.wr_operations == 0)
            .map(|s| s.wr_highest_offset)
            .collect();
        assert!(!before_writes.is_empty());
        assert!(before_writes.iter().all(|&o| o == 0), "{before_writes:?}");
    }

    #[test]
    fn nodefaults_gives_no_drives() {
        let cfg = MachineConfig {
            nodefaults: true,
            ..Default::default()
        };
        assert!(Block::from_config(&cfg, false, false).drives.is_empty());
    }

    #[test]
    fn hdc_replaces_default_cdrom() {
        let mut d = hda("c.img", raw(1 << 20));
        d.opts.push("index", "2");
        let cfg = MachineConfig {
            drives: vec![d],
            ..Default::default()
        };
        let b = Block::from_config(&cfg, false, false);
        assert_eq!(names(&b), ["ide1-hd0", "floppy0", "sd0"]);
    }

    #[test]
    fn eject_hd_without_force_is_not_removable() {
        let cfg = MachineConfig {
            drives: vec![hda("disk.img", raw(1 << 20))],
            ..Default::default()
        };
        let mut b = Block::from_config(&cfg, false, false);
        assert_eq!(
            b.eject("ide0-hd0", false),
            Err(QmpError::with1(ErrorClass::DeviceNotRemovable, "ide0-hd0"))
        );
    }

    #[test]
    fn eject_hd_with_force_closes_it() {
        let cfg = MachineConfig {
            drives: vec![hda("disk.img", raw(1 << 20))],
            ..Default::default()
        };
        let mut b = Block::from_config(&cfg, false, false);
        b.eject("ide0-hd0", true).unwrap();
        assert!(b.find("ide0-hd0").unwrap().medium.is_none());
    }

    #[test]
    fn change_unknown_format_is_invalid_block_format() {
        let mut b = Block::from_config(&MachineConfig::default(), false, false);
        assert_eq!(
            b.change("ide1-cd0", "x.iso", Some("iso"), None),
            Err(QmpError::with1(ErrorClass::InvalidBlockFormat, "iso"))
        );
    }

    #[test]
    fn change_without_probe_is_open_file_failed() {
        let mut b = Block::from_config(&MachineConfig::default(), false, false);
        assert_eq!(
            b.change("ide1-cd0", "x.iso", None, None),
            Err(QmpError::with1(ErrorClass::OpenFileFailed, "x.iso"))
        );
    }

    #[test]
    fn change_encrypted_leaves_medium_needing_key() {
        let mut b = Block::from_config(&MachineConfig::default(), false, false);
        let probe = ImageProbe::Found(ImageInfo {
            encrypted: true,
            format: "qcow2".into(),
            ..raw(1 << 20)
        });
        let r = b.change("floppy0", "enc.qcow2", None, Some(&probe));
        assert_eq!(
            r,
            Err(QmpError::with1(ErrorClass::DeviceEncrypted, "floppy0"))
        );
        assert_eq!(b.first_key_required(), Some("floppy0"));
    }

    #[test]
    fn resize_qcow2_shrink_is_undefined() {
        let mut d = hda(
            "q.qcow2",
            ImageInfo {
                format: "qcow2".into(),
                ..raw(1 << 20)
            },
        );
        d.opts.push("id", "q");
        let cfg = MachineConfig {
            drives: vec![d],
            ..Default::default()
        };
        let mut b = Block::from_config(&cfg, false, false);
        assert_eq!(
            b.resize("q", 512),
            Err(QmpError::bare(ErrorClass::UndefinedError))
        );
        assert_eq!(b.resize("q", 2 << 20), Ok(()));
    }

    #[test]
    fn passwd_on_empty_drive_is_not_encrypted() {
        let mut b = Block::from_config(&MachineConfig::default(), false, false);
        assert_eq!(
            b.set_key("ide1-cd0", "x"),
            Err(QmpError::with1(ErrorClass::DeviceNotEncrypted, "ide1-cd0"))
        );
    }

    #[test]
    fn parse_size_reads_suffixes_and_clamps_at_the_limit() {
        let max = VIRTUAL_IMAGE_BYTES_MAX.to_string();
        let past = (VIRTUAL_IMAGE_BYTES_MAX + 1).to_string();
        for (text, want) in [
            ("1G", 1 << 30),
            ("512", 512),
            ("4k", 4096),
            ("junk", 0),
            (&max, VIRTUAL_IMAGE_BYTES_MAX),
            // 2^62 bytes = 2^22 TiB.
            ("4194304T", VIRTUAL_IMAGE_BYTES_MAX),
            (&past, VIRTUAL_IMAGE_BYTES_MAX),
            // The shift overflows.
            ("99999999999T", VIRTUAL_IMAGE_BYTES_MAX),
        ] {
            assert_eq!(parse_size(text), want, "{text}");
        }
    }

    #[test]
    fn detach_deletes_auto_del_drive() {
        let mut d = DriveConfig::default();
        d.opts.push("if", "none");
        d.opts.push("id", "d1");
        let cfg = MachineConfig {
            drives: vec![d],
            nodefaults: true,
            ..Default::default()
        };
        let mut b = Block::from_config(&cfg, false, false);
        b.attach("d1", 7).unwrap();
        assert_eq!(b.attach("d1", 8), Err(AttachError::InUse));
        b.detach(7, true);
        assert!(b.find("d1").is_none());
    }

    fn hd_with(opts: &[(&str, &str)]) -> Block {
        let mut d = hda("disk.img", raw(1 << 20));
        for (k, v) in opts {
            d.opts.push(k, v);
        }
        let cfg = MachineConfig {
            drives: vec![d],
            ..Default::default()
        };
        Block::from_config(&cfg, false, false)
    }

    fn outcome(b: &Block, op: IoOperation, errno: IoErrno) -> IoErrorOutcome {
        b.io_error("ide0-hd0", op, errno).unwrap()
    }

    #[test]
    fn error_action_parse_accepts_enospc_for_writes_only() {
        assert_eq!(
            BlockErrorAction::parse("enospc", false),
            Some(BlockErrorAction::StopEnospc)
        );
        assert_eq!(BlockErrorAction::parse("enospc", true), None);
    }

    #[test]
    fn error_action_parse_rejects_unknown_value() {
        assert_eq!(BlockErrorAction::parse("Stop", false), None);
    }

    #[test]
    fn io_errors_follow_rerror_and_werror() {
        use IoErrno::{Eio, Enospc};
        use IoErrorOutcome::{Ignore, Report, Stop};
        use IoOperation::{Read, Write};
        let defaults: &[(&str, &str)] = &[];
        let cases = [
            (defaults, Write, Eio, Report),
            (defaults, Write, Enospc, Stop),
            (defaults, Read, Enospc, Report),
            (&[("rerror", "stop")], Read, Eio, Stop),
            (&[("werror", "ignore")], Write, Enospc, Ignore),
            (&[("werror", "report")], Write, Enospc, Report),
            // The later werror wins.
            (
                &[("werror", "ignore"), ("werror", "stop")],
                Write,
                Eio,
                Stop,
            ),
        ];
        for (opts, op, errno, want) in cases {
            let b = hd_with(opts);
            assert_eq!(outcome(&b, op, errno), want, "{opts:?} {op:?} {errno:?}");
        }
    }

    fn none_drive(id: &str) -> OptionList {
        OptionList::parse(&format!("if=none,id={id}"), None)
    }

    #[test]
    fn hot_add_up_to_the_drive_limit_is_accepted() {
        let mut b = Block::default();
        for i in 0..HOT_DRIVES_MAX - 1 {
            b.hot_add(&none_drive(&format!("d{i}")), None).unwrap();
        }
        assert_eq!(b.hot_add(&none_drive("last"), None), Ok("last".to_owned()));
    }

    #[test]
    fn hot_add_past_the_drive_limit_is_refused() {
        let mut b = Block::default();
        for i in 0..HOT_DRIVES_MAX {
            b.hot_add(&none_drive(&format!("d{i}")), None).unwrap();
        }
        assert_eq!(
            b.hot_add(&none_drive("one-more"), None),
            Err(format!("qmpsim: no more than {HOT_DRIVES_MAX} drives\n"))
        );
    }
}
