//! The snapshot tables of real disk images: at start, the sidecar file next to
//! each qcow2 image that takes snapshots (`crate::machine::snapshots`) is read
//! and fed to the engine as `Input::SnapshotTableOpened`, so that `-loadvm TAG`
//! and `info snapshots` see what an earlier run saved. An `x-virtual` image has
//! no file and keeps its snapshots in memory. Changes are written back through
//! `Effect::WriteFile`, like any file the machine writes.

use std::io;

use super::ServerError;
use crate::engine::{Engine, Input};
use crate::machine::config::ImageProbe;
use crate::machine::snapshots::{decode_sidecar, SIDECAR_SUFFIX};

/// The inputs that open every real image's snapshot table, in drive order.
pub fn open_tables(engine: &Engine) -> Result<Vec<Input>, ServerError> {
    let machine = engine.machine();
    let mut inputs = Vec::new();
    for drive in machine
        .devices
        .block
        .drives
        .iter()
        .filter(|d| d.can_snapshot())
    {
        let Some(medium) = &drive.medium else {
            continue;
        };
        let real = machine.config.drives.iter().any(|c| {
            c.opts.get("file") == Some(medium.file.as_str())
                && matches!(c.probe, Some(ImageProbe::Found(_)))
        });
        if !real {
            continue;
        }
        let sidecar = format!("{}{SIDECAR_SUFFIX}", medium.file);
        let entries = match std::fs::read(&sidecar) {
            Ok(bytes) => decode_sidecar(&bytes).map_err(|e| ServerError::SnapshotTable {
                path: sidecar.clone(),
                problem: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(ServerError::SnapshotTable {
                    path: sidecar,
                    problem: super::strerror(&e),
                })
            }
        };
        inputs.push(Input::SnapshotTableOpened {
            drive: drive.name.clone(),
            sidecar,
            entries,
        });
    }
    Ok(inputs)
}
