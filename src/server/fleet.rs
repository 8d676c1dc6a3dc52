//! Fleet mode: many independent VMs served by one event loop in one process.
//!
//! Each member is a whole VM as `qmpsim run` would serve it: its own engine,
//! its own monitor socket, its own recorder, its own helper thread when it
//! writes files. The loop never lets one VM's input reach another's engine, so
//! each VM is exactly as deterministic as a single one. What the command line
//! derives for each member (name, uuid, socket path) is [`crate::cli::fleet`]'s.
//!
//! Descriptors: each member holds one listening socket, one per connected
//! client, and its trace file when recording, so [`open_files_needed`] grows
//! with the count; [`raise_open_file_limit`] raises the soft `RLIMIT_NOFILE` to
//! what is needed when the hard limit allows, and says how far it got.

use std::io;

use super::event_loop::{EventLoop, Vm};
use super::listen::{self, Endpoint, MonitorEndpoint};
use super::process::CreatedFiles;
use super::{event_channel, snapshots, EventReceiver, Recorder, ServerError};
use crate::engine::{Engine, Input};
use crate::machine::config::MachineConfig;

/// Descriptors the process keeps besides its VMs' (standard streams, the poll,
/// the waker, signal pipe, library files) and room for a few spare.
pub const OPEN_FILES_BASE: u64 = 64;

/// One VM of a fleet.
pub struct Member {
    /// The VM (its one monitor is its QMP socket).
    pub config: MachineConfig,
    /// Where its session is recorded, if anywhere.
    pub recorder: Option<Box<dyn Recorder>>,
    /// `-loadvm TAG`.
    pub loadvm: Option<String>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("name", &self.config.name)
            .field("recording", &self.recorder.is_some())
            .finish_non_exhaustive()
    }
}

/// Descriptors a fleet of `count` VMs needs with one client each.
pub fn open_files_needed(count: u64, recording: bool) -> u64 {
    let per_vm = 2 + u64::from(recording);
    count.saturating_mul(per_vm).saturating_add(OPEN_FILES_BASE)
}

/// Raises the soft open-file limit to `needed` if it is lower and the hard limit
/// allows; returns the soft limit in force afterwards.
pub fn raise_open_file_limit(needed: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= needed {
        return Ok(lim.rlim_cur);
    }
    lim.rlim_cur = needed.min(lim.rlim_max);
    // SAFETY: setrlimit reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}

/// Binds every member's socket, then calls `ready` (every socket listens) and
/// serves them all until every VM has exited (a signal stops them all).
/// Returns the first non-zero exit status by member order, or 0.
pub fn run(members: Vec<Member>, ready: impl FnOnce()) -> Result<i32, ServerError> {
    let (tx, rx) = event_channel().map_err(ServerError::Setup)?;
    let EventReceiver { rx, poll } = rx;
    let mut ev = EventLoop::new(poll, rx, true).map_err(ServerError::Setup)?;
    for (index, member) in members.into_iter().enumerate() {
        let mut files = CreatedFiles::default();
        let endpoints = listen::bind_all(&member.config, &mut files)?;
        let engine = Engine::new(member.config);
        let tables = snapshots::open_tables(&engine)?;
        let mut vm = Vm::new(engine, member.recorder, tx.for_vm(index), files);
        for input in tables {
            vm.step(input, &mut ev.io);
        }
        if let Some(name) = member.loadvm {
            vm.step(Input::LoadVm { name }, &mut ev.io);
        }
        for MonitorEndpoint { monitor, endpoint } in endpoints {
            if let Endpoint::Listen { listener, .. } = endpoint {
                vm.listen(monitor, listener, false, &mut ev.io)
                    .map_err(ServerError::Setup)?;
            }
        }
        ev.vms.push(vm);
    }
    ready();
    Ok(ev.run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_files_needed_counts_listener_client_and_trace() {
        assert_eq!(
            (open_files_needed(10, false), open_files_needed(10, true)),
            (20 + OPEN_FILES_BASE, 30 + OPEN_FILES_BASE)
        );
    }

    #[test]
    fn raising_to_the_current_soft_limit_keeps_it() {
        let now = raise_open_file_limit(0).unwrap();
        assert_eq!(raise_open_file_limit(now).unwrap(), now);
    }
}
