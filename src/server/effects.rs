//! Carries out the machine's [`Effect`]s in the real world.
//!
//! One `match` with an arm per effect; it grows with the machine model (files to
//! write, migration streams to send). Effects on things that are already gone (a
//! handle closed twice) are ignored: the engine decided, the world may have moved.

use super::fds::FdTable;
use crate::machine::Effect;
use crate::qmp::session::FdHandle;

/// What effects may touch.
#[derive(Debug)]
pub struct World<'a> {
    /// Descriptors passed by clients.
    pub fds: &'a mut FdTable,
}

/// Carries out one effect.
pub fn apply(effect: &Effect, world: &mut World<'_>) {
    match effect {
        Effect::CloseFd { fd } => {
            // Dropping the descriptor closes it.
            drop(world.fds.remove(FdHandle(*fd)));
        }
    }
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

    #[test]
    fn close_fd_removes_handle_from_table() {
        let mut fds = FdTable::default();
        let h = fds.insert(pipe_read_end()).unwrap();
        apply(&Effect::CloseFd { fd: h.0 }, &mut World { fds: &mut fds });
        assert!(fds.is_empty());
    }

    #[test]
    fn close_fd_of_unknown_handle_is_ignored() {
        let mut fds = FdTable::default();
        fds.insert(pipe_read_end()).unwrap();
        apply(&Effect::CloseFd { fd: 99 }, &mut World { fds: &mut fds });
        assert_eq!(fds.len(), 1);
    }
}
