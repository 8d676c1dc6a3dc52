//! Carries out the machine's [`Effect`]s in the real world.
//!
//! One `match` with an arm per effect; it grows with the machine model (files to
//! write, migration streams to send). Files are written by the VM's helper
//! thread ([`super::helper`]), in order; the loop holds the step's replies until
//! the helper reports the file written. Effects on things that are already gone (a
//! handle closed twice) are ignored: the engine decided, the world may have moved.

use super::fds::FdTable;
use super::helper::{Helper, Job};
use super::migrate::Migrations;
use super::EventSender;
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
    /// The event loop's channel, for results that come back as inputs.
    pub events: &'a EventSender,
    /// The engine (for the state snapshot a finished migration sends).
    pub engine: &'a Engine,
    /// The helper thread that writes files.
    pub helper: &'a mut Helper,
    /// File jobs handed to the helper so far (counted up here).
    pub jobs_issued: &'a mut u64,
}

/// Carries out one effect; returns an input for the engine when the world
/// answers at once (a migration destination fell behind, or broke).
pub fn apply(effect: &Effect, world: &mut World<'_>) -> Option<Input> {
    match effect {
        Effect::CloseFd { fd } => {
            // Dropping the descriptor closes it.
            drop(world.fds.remove(FdHandle(*fd)));
        }
        Effect::WriteFile { path, bytes } => {
            let job = Job::Write {
                path: path.clone(),
                bytes: bytes.0.clone(),
            };
            if world.helper.submit(job).is_ok() {
                *world.jobs_issued += 1;
            } else if let Err(e) = std::fs::write(path, &bytes.0) {
                // No helper thread: write here rather than lose the file.
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
        Effect::MigrationData { id, bytes } => return world.migrations.data(*id, *bytes),
        Effect::MigrationFinish { id } => match crate::snapshot::save(world.engine) {
            Ok(snapshot) => return world.migrations.finish(*id, snapshot),
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

    /// Applies `effect`; returns the loop's end of the channel and the file jobs
    /// handed to the helper.
    fn apply_to(effect: &Effect, fds: &mut FdTable) -> (crate::server::EventReceiver, u64) {
        let (tx, rx) = crate::server::event_channel().unwrap();
        let engine = Engine::new(crate::machine::config::MachineConfig::default());
        let mut migrations = Migrations::default();
        let mut helper = Helper::new(tx.clone());
        let mut jobs_issued = 0;
        let mut world = World {
            fds,
            migrations: &mut migrations,
            events: &tx,
            engine: &engine,
            helper: &mut helper,
            jobs_issued: &mut jobs_issued,
        };
        apply(effect, &mut world);
        (rx, jobs_issued)
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
        let (rx, jobs) = apply_to(&effect, &mut FdTable::default());
        let done = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(matches!(done, crate::server::Event::FileWritten));
        assert_eq!((jobs, std::fs::read(&path).unwrap()), (1, vec![1, 2, 3]));
    }
}
