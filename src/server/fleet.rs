//! Fleet mode: many independent VMs served by one event loop in one process.
//!
//! Each member is a whole VM as `qmpsim run` would serve it: its own engine,
//! its own monitor socket, its own recorder, its own helper thread when it
//! writes files. The loop never lets one VM's input reach another's engine, so
//! each VM is exactly as deterministic as a single one. What the command line
//! derives for each member (name, uuid, socket path) is [`crate::cli::fleet`]'s.
//!
//! Descriptors: each member holds one listening socket, one per connected
//! client, and its trace file when recording. A fleet starts when the limit
//! holds [`open_files_at_start`] (no clients yet); [`open_files_needed`] adds a
//! client per VM, and [`clients_at_once`] says how many fit; [`raise_open_file_limit`] raises the soft `RLIMIT_NOFILE` to
//! what is needed (and the hard limit too where the process may), and says how
//! far it got.

use std::io;

use super::event_loop::{EventLoop, Vm};
use super::listen;
use super::process::CreatedFiles;
use super::{event_channel, snapshots, EventReceiver, Recorder, ServerError};
use crate::engine::Engine;
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

/// Descriptors a fleet of `count` VMs holds before any client connects: a
/// listening socket each, a trace file each when recording, and the base.
pub fn open_files_at_start(count: u64, recording: bool) -> u64 {
    let per_vm = 1 + u64::from(recording);
    count.saturating_mul(per_vm).saturating_add(OPEN_FILES_BASE)
}

/// Descriptors a fleet of `count` VMs needs with one client connected to each.
pub fn open_files_needed(count: u64, recording: bool) -> u64 {
    open_files_at_start(count, recording).saturating_add(count)
}

/// How many clients can be connected at once under `limit` descriptors; a
/// client past that waits in its socket's backlog until a descriptor is free
/// (the loop retries a failed accept), as with any process at its limit.
pub fn clients_at_once(count: u64, recording: bool, limit: u64) -> u64 {
    limit
        .saturating_sub(open_files_at_start(count, recording))
        .min(count)
}

/// Raises the soft open-file limit to `needed` if it is lower; returns the soft
/// limit in force afterwards. Past the hard limit it first tries to raise the
/// hard limit too (allowed with `CAP_SYS_RESOURCE`, as for root, up to
/// `fs.nr_open`), as `ulimit -n` would; without that privilege it stops at the
/// hard limit.
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
    if lim.rlim_max < needed {
        let raised = libc::rlimit {
            rlim_cur: needed,
            rlim_max: needed,
        };
        // SAFETY: setrlimit reads the struct. Refused (EPERM) without the
        // privilege, or (EPERM) past fs.nr_open: then the hard limit stays.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(needed);
        }
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
        vm.start(tables, member.loadvm, endpoints, &[], &mut ev.io)
            .map_err(ServerError::Setup)?;
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
        assert_eq!(
            (
                open_files_at_start(10, false),
                open_files_at_start(10, true)
            ),
            (10 + OPEN_FILES_BASE, 20 + OPEN_FILES_BASE)
        );
    }

    #[test]
    fn clients_at_once_is_what_the_limit_leaves_after_the_listeners() {
        // 10,000 VMs under a hard limit of 20,000: every VM starts, and all
        // but the base's worth of clients can be connected at once.
        let start = open_files_at_start(10_000, false);
        assert_eq!(clients_at_once(10_000, false, 20_000), 20_000 - start);
        assert_eq!(clients_at_once(10_000, false, start), 0);
        assert_eq!(clients_at_once(10_000, false, start - 1), 0);
        assert_eq!(
            clients_at_once(10_000, false, open_files_needed(10_000, false)),
            10_000
        );
        assert_eq!(clients_at_once(10, true, u64::MAX), 10);
    }

    fn limits() -> (u64, u64) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        (lim.rlim_cur, lim.rlim_max)
    }

    #[test]
    fn raising_past_the_hard_limit_raises_it_when_privileged_or_stops_at_it() {
        let (_, hard) = limits();
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(hard);
        let wanted = (hard + 16).min(nr_open.max(hard));
        let got = raise_open_file_limit(wanted).unwrap();
        let (soft, hard_after) = limits();
        assert_eq!(got, soft, "it reports the soft limit in force");
        if hard_after > hard {
            assert_eq!((soft, hard_after), (wanted, wanted), "raised both limits");
        } else {
            assert_eq!(
                soft, hard,
                "unprivileged: the soft limit stops at the hard one"
            );
        }
    }

    #[test]
    fn raising_to_the_current_soft_limit_keeps_it() {
        let now = raise_open_file_limit(0).unwrap();
        assert_eq!(raise_open_file_limit(now).unwrap(), now);
    }
}
