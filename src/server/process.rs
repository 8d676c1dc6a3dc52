//! Process-level chores: `-daemonize` (fork, wait for the child to be ready), the
//! `-pidfile`, and files this process created that must go when it ends.
//!
//! `daemonize` must run before any thread is started: a fork copies only the
//! calling thread.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Files removed when the guard is dropped: unix sockets this process bound, the
/// pidfile it wrote.
#[derive(Debug, Default)]
pub struct CreatedFiles {
    paths: Vec<PathBuf>,
}

impl CreatedFiles {
    /// Remembers a file to remove at the end.
    pub fn add(&mut self, path: &Path) {
        self.paths.push(path.to_path_buf());
    }
}

impl Drop for CreatedFiles {
    fn drop(&mut self) {
        for path in self.paths.iter().rev() {
            // Gone already is fine: someone else cleaned up.
            let _ = fs::remove_file(path);
        }
    }
}

/// Writes the pid and a newline, as QEMU does.
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    writeln!(f, "{}", std::process::id())?;
    Ok(())
}

/// The child side of `-daemonize`, until it reports being ready.
#[derive(Debug)]
pub struct Daemon {
    ready: fs::File,
}

/// Forks. The parent waits until the child calls [`Daemon::ready`] and exits 0, or
/// exits 1 if the child ends first; it never returns. The child starts a new session
/// and gets the `Daemon`.
pub fn daemonize() -> io::Result<Daemon> {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: no other thread exists yet (callers daemonize before spawning any).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(read_end);
            // SAFETY: plain system call in the child.
            unsafe { libc::setsid() };
            Ok(Daemon {
                ready: fs::File::from(write_end),
            })
        }
        _child => {
            drop(write_end);
            let mut byte = [0u8; 1];
            let ok = matches!(fs::File::from(read_end).read(&mut byte), Ok(1));
            // _exit: the parent must not run the child's cleanups (socket files).
            // SAFETY: ends the process at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
    }
}

impl Daemon {
    /// Tells the parent to exit 0 and detaches stdin, stdout and stderr.
    pub fn ready(mut self) -> io::Result<()> {
        let null = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        for target in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, which this process owns.
            if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.ready.write_all(&[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_holds_pid_and_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.pid");
        write_pidfile(&path).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn created_files_are_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        fs::write(&path, b"").unwrap();
        let mut files = CreatedFiles::default();
        files.add(&path);
        drop(files);
        assert!(!path.exists());
    }
}
