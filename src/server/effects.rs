//! Carries out the machine's [`Effect`]s in the real world.
//!
//! One `match` with an arm per effect; it grows with the machine model (files to
//! write, migration streams to send). Effects on things that are already gone (a
//! handle closed twice) are ignored: the engine decided, the world may have moved.

use std::sync::mpsc::SyncSender;

use super::fds::FdTable;
use super::migrate::Migrations;
use super::Event;
use crate::engine::{Engine, Input};
use crate::machine::migration::blk_migration_drives;
use crate::machine::{Effect, Machine};
use crate::migration_stream;
use crate::qmp::session::FdHandle;

/// What effects may touch.
#[derive(Debug)]
pub struct World<'a> {
    /// Descriptors passed by clients.
    pub fds: &'a mut FdTable,
    /// Outgoing migration channels.
    pub migrations: &'a mut Migrations,
    /// The engine loop's event channel, for results that come back as inputs.
    pub events: &'a SyncSender<Event>,
    /// The engine (for the state snapshot a finished migration sends).
    pub engine: &'a Engine,
}

/// Carries out one effect; returns an input for the engine when the world
/// answers at once (a migration destination fell behind).
pub fn apply(effect: &Effect, world: &mut World<'_>) -> Option<Input> {
    match effect {
        Effect::CloseFd { fd } => {
            // Dropping the descriptor closes it.
            drop(world.fds.remove(FdHandle(*fd)));
        }
        Effect::WriteFile { path, bytes } => {
            if let Err(e) = std::fs::write(path, &bytes.0) {
                eprintln!("qmpsim: could not write '{path}': {e}");
            }
        }
        Effect::MigrationStart { id, uri, fd, .. } => {
            let fd = fd.and_then(|h| world.fds.remove(FdHandle(h)));
            let prefix = migration_stream::encode_prefix(&preamble(world.engine.machine(), *id));
            if !world
                .migrations
                .start(*id, uri, fd, prefix, world.events.clone())
            {
                return Some(Input::MigrationFailed { id: *id });
            }
        }
        Effect::MigrationData { id, bytes } => {
            if world.migrations.data(*id, *bytes) {
                return Some(Input::MigrationStalled {
                    id: *id,
                    stalled: true,
                });
            }
        }
        Effect::MigrationFinish { id } => match crate::snapshot::save(world.engine) {
            Ok(snapshot) => world.migrations.finish(*id, snapshot),
            Err(e) => {
                eprintln!("qmpsim: migration {id}: no state snapshot: {e}");
                world.migrations.cancel(*id);
                return Some(Input::MigrationFailed { id: *id });
            }
        },
        Effect::MigrationCancel { id } => world.migrations.cancel(*id),
        Effect::Stderr { text } => eprint!("{text}"),
    }
    None
}

/// The preamble of migration `id`: the machine's RAM and devices, and the
/// drives a block migration copies.
fn preamble(machine: &Machine, id: u64) -> migration_stream::Preamble {
    let blk = machine
        .migration
        .current
        .as_ref()
        .is_some_and(|m| m.id == id && m.disk.is_some());
    let blocks = if blk {
        blk_migration_drives(&machine.devices.block)
            .into_iter()
            .map(|(name, bytes)| migration_stream::BlockSize {
                name: name.to_owned(),
                bytes,
            })
            .collect()
    } else {
        Vec::new()
    };
    machine.migration_preamble(blocks)
}

#[cfg(test)]
mod tests {
    use std::os::fd::{FromRawFd, OwnedFd};

    use super::*;

    fn pipe_read_end() -> OwnedFd {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both were just created; the write end is closed at once.
        unsafe {
            drop(OwnedFd::from_raw_fd(fds[1]));
            OwnedFd::from_raw_fd(fds[0])
        }
    }

    fn apply_to(effect: &Effect, fds: &mut FdTable) {
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let engine = Engine::new(crate::machine::config::MachineConfig::default());
        let mut migrations = Migrations::default();
        let mut world = World {
            fds,
            migrations: &mut migrations,
            events: &tx,
            engine: &engine,
        };
        apply(effect, &mut world);
    }

    #[test]
    fn close_fd_removes_handle_from_table() {
        let mut fds = FdTable::default();
        let h = fds.insert(pipe_read_end()).unwrap();
        apply_to(&Effect::CloseFd { fd: h.0 }, &mut fds);
        assert!(fds.is_empty());
    }

    #[test]
    fn close_fd_of_unknown_handle_is_ignored() {
        let mut fds = FdTable::default();
        fds.insert(pipe_read_end()).unwrap();
        apply_to(&Effect::CloseFd { fd: 99 }, &mut fds);
        assert_eq!(fds.len(), 1);
    }

    #[test]
    fn write_file_writes_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.bin");
        let bytes = crate::machine::memory::FileBytes(vec![1_u8, 2, 3]);
        let effect = Effect::WriteFile {
            path: path.display().to_string(),
            bytes,
        };
        apply_to(&effect, &mut FdTable::default());
        assert_eq!(std::fs::read(&path).unwrap(), [1, 2, 3]);
    }
}
