//! `qmpsim fleet`: N independent VMs in one process, on one event loop.
//!
//! VM `k` (from 1) is exactly the VM of
//! `qmpsim run VM-OPTIONS -name vm-0000k -uuid UUID -qmp unix:DIR/vm-0000k.sock,server,nowait`
//! (plus `-record RDIR/vm-0000k.qmptrace` with `--record RDIR`): [`vm_args`]
//! builds that command line, and the fleet parses it with the same parser as
//! `run`, so a session against VM `k` gives the same bytes in the fleet as in
//! that single run. The uuid is derived from the machine's seed (`-x-seed`,
//! default 0) and the index ([`vm_uuid`]).
//!
//! `--manifest FILE` writes the list of VMs as JSON (index, name, uuid, socket,
//! and the equivalent `run` options) before the ready line, which is printed on
//! stdout once every socket listens.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::commands::FleetArgs;
use super::{config, raw};
use crate::server::fleet::{self, Member};
use crate::server::record::RecordError;
use crate::server::ServerError;

/// Most VMs one fleet runs.
pub const FLEET_VMS_MAX: u32 = 100_000;

/// Why a fleet did not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The VM options were refused.
    #[error(transparent)]
    Options(#[from] raw::RawError),
    /// The VM options do not make a VM.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// An option that a fleet cannot give to each of its VMs.
    #[error("qmpsim: fleet: {0} cannot be used in a fleet")]
    Unsupported(&'static str),
    /// The VM options add a monitor of their own.
    #[error("qmpsim: fleet: VM options cannot add monitors (-qmp, -monitor, -mon); each VM's QMP socket is DIR/vm-NNNNN.sock")]
    ExtraMonitor,
    /// The count is past what the open-file limit allows.
    #[error("qmpsim: fleet: --count {count} needs {needed} open files before any client connects, but the limit is {limit} (raise it with ulimit -n)")]
    OpenFiles {
        /// VMs asked for.
        count: u32,
        /// Descriptors they hold before any client connects.
        needed: u64,
        /// The soft limit, raised as far as allowed.
        limit: u64,
    },
    /// A folder could not be made.
    #[error("qmpsim: fleet: {}: {}", path.display(), crate::server::strerror(source))]
    Dir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The manifest could not be written.
    #[error("qmpsim: fleet: --manifest {}: {}", path.display(), crate::server::strerror(source))]
    Manifest {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A trace file could not be opened.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The name of VM `index`.
pub fn vm_name(index: u32) -> String {
    format!("vm-{index:05}")
}

/// The uuid of VM `index` of a fleet whose machines have `seed`: a version-4
/// uuid made of the first 16 bytes of a SHA-256 of both.
pub fn vm_uuid(seed: u64, index: u32) -> String {
    let mut h = Sha256::new();
    h.update(b"qmpsim fleet vm uuid");
    h.update(seed.to_le_bytes());
    h.update(index.to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The socket of VM `index` in `dir`.
pub fn vm_socket(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{}.sock", vm_name(index)))
}

/// The `qmpsim run` options that make VM `index`: the fleet's VM options, then
/// its name, uuid, monitor and (with `record`) trace.
pub fn vm_args(
    base: &[OsString],
    dir: &Path,
    record: Option<&Path>,
    seed: u64,
    index: u32,
) -> Vec<OsString> {
    let mut args = base.to_vec();
    args.extend([
        "-name".into(),
        vm_name(index).into(),
        "-uuid".into(),
        vm_uuid(seed, index).into(),
        "-qmp".into(),
        format!("unix:{},server,nowait", vm_socket(dir, index).display()).into(),
    ]);
    if let Some(rdir) = record {
        args.push("-record".into());
        args.push(
            rdir.join(format!("{}.qmptrace", vm_name(index)))
                .into_os_string(),
        );
    }
    args
}

/// `qmpsim fleet`: returns the exit status.
pub fn run(a: &FleetArgs) -> Result<i32, FleetError> {
    let seed = raw::parse(a.vm_options.clone())?.config.seed;
    make_dir(&a.dir)?;
    if let Some(rdir) = &a.record {
        make_dir(rdir)?;
    }
    let dir = absolute(&a.dir);
    let (count, recording) = (u64::from(a.count), a.record.is_some());
    let needed = fleet::open_files_at_start(count, recording);
    let limit =
        fleet::raise_open_file_limit(fleet::open_files_needed(count, recording)).unwrap_or(0);
    if limit < needed {
        return Err(FleetError::OpenFiles {
            count: a.count,
            needed,
            limit,
        });
    }
    let at_once = fleet::clients_at_once(count, recording, limit);
    if at_once < count {
        eprintln!(
            "qmpsim: fleet: the open-file limit ({limit}) leaves room for {at_once} clients at once; \
             a client past that waits in its socket's backlog until another leaves"
        );
    }
    let mut members = Vec::new();
    let mut manifest = Vec::new();
    for index in 1..=a.count {
        let args = vm_args(&a.vm_options, &dir, a.record.as_deref(), seed, index);
        members.push(member(&args)?);
        manifest.push(serde_json::json!({
            "index": index,
            "name": vm_name(index),
            "uuid": vm_uuid(seed, index),
            "socket": vm_socket(&dir, index).display().to_string(),
            "args": args.iter().map(|s| s.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        }));
    }
    if let Some(path) = &a.manifest {
        write_manifest(path, &serde_json::Value::Array(manifest))?;
    }
    let count = a.count;
    let shown = dir.display().to_string();
    let code = fleet::run(members, move || {
        let vms = if count == 1 { "VM" } else { "VMs" };
        println!("qmpsim: fleet ready: {count} {vms} listening in {shown}");
        // A closed stdout is no reason to stop the fleet.
        let _ = io::stdout().flush();
    })?;
    Ok(code)
}

/// One VM from its `run` options.
fn member(args: &[OsString]) -> Result<Member, FleetError> {
    let low = raw::parse(args.to_vec())?;
    if low.special.is_some() {
        return Err(FleetError::Unsupported(
            "an option that prints and exits (-version, -help, ...)",
        ));
    }
    let plan = config::build(&low)?;
    if plan.edge.daemonize {
        return Err(FleetError::Unsupported("-daemonize"));
    }
    if plan.edge.pidfile.is_some() {
        return Err(FleetError::Unsupported("-pidfile"));
    }
    if plan.edge.resume.is_some() {
        return Err(FleetError::Unsupported("-x-resume"));
    }
    if plan.config.incoming.is_some() {
        return Err(FleetError::Unsupported("-incoming"));
    }
    if plan.config.monitors.len() != 1 {
        return Err(FleetError::ExtraMonitor);
    }
    let recorder = plan
        .trace_recorder()?
        .map(|r| Box::new(r) as Box<dyn crate::server::Recorder>);
    Ok(Member {
        config: plan.config,
        recorder,
        loadvm: plan.edge.loadvm,
    })
}

fn make_dir(path: &Path) -> Result<(), FleetError> {
    std::fs::create_dir_all(path).map_err(|source| FleetError::Dir {
        path: path.to_owned(),
        source,
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes the manifest next to its place, then renames it there, so a reader
/// never sees half of it.
fn write_manifest(path: &Path, manifest: &serde_json::Value) -> Result<(), FleetError> {
    let err = |source| FleetError::Manifest {
        path: path.to_owned(),
        source,
    };
    let mut text = serde_json::to_string_pretty(manifest).map_err(|e| err(e.into()))?;
    text.push('\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_name_pads_to_five_digits() {
        assert_eq!(
            (vm_name(1), vm_name(12345)),
            ("vm-00001".into(), "vm-12345".into())
        );
    }

    #[test]
    fn vm_uuid_is_a_version_4_uuid() {
        let u = vm_uuid(0, 1);
        assert_eq!((u.len(), &u[14..15], u.matches('-').count()), (36, "4", 4));
    }

    #[test]
    fn vm_uuid_differs_by_index_and_seed() {
        let uuids = [vm_uuid(0, 1), vm_uuid(0, 2), vm_uuid(1, 1)];
        assert!(uuids[0] != uuids[1] && uuids[0] != uuids[2] && uuids[1] != uuids[2]);
    }

    #[test]
    fn vm_args_append_name_uuid_and_socket() {
        let args = vm_args(&["-S".into()], Path::new("/d"), None, 0, 3);
        let text: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            text,
            [
                "-S",
                "-name",
                "vm-00003",
                "-uuid",
                &vm_uuid(0, 3),
                "-qmp",
                "unix:/d/vm-00003.sock,server,nowait"
            ]
        );
    }

    #[test]
    fn vm_options_with_their_own_monitor_are_refused() {
        let args = vm_args(
            &["-qmp".into(), "stdio".into()],
            Path::new("/d"),
            None,
            0,
            1,
        );
        assert!(matches!(member(&args), Err(FleetError::ExtraMonitor)));
    }
}
