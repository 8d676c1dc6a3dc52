//! Process-level chores: `-daemonize` (fork, wait for the child to be ready), the
//! `-pidfile`, and files this process created that must go when it ends.
//!
//! The pidfile is 0.14's `qemu_create_pidfile`: opened `O_RDWR | O_CREAT` with
//! mode 0600, locked with `lockf(F_TLOCK)` and kept open (so locked) for the
//! life of the process. A second process on the same file fails the lock and
//! exits 1 with "Could not acquire pid file: ..." before touching the file, so
//! the pid of the first stays; only the owner removes it at exit. Unlike 0.14,
//! the file is truncated once locked, so a shorter pid leaves no stale digits.
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
    /// The locked pidfile, held open while the process runs.
    pidfile: Option<Pidfile>,
}

impl CreatedFiles {
    /// Remembers a file to remove at the end.
    pub fn add(&mut self, path: &Path) {
        self.paths.push(path.to_path_buf());
    }

    /// Keeps the locked pidfile open until the files are removed (its lock ends
    /// with the process or when the guard drops, after the file is gone).
    pub fn hold(&mut self, pidfile: Pidfile) {
        self.paths.push(pidfile.path.clone());
        self.pidfile = Some(pidfile);
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

/// A pidfile this process created and holds locked.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Open for the lock's sake: closing it would release the lock.
    _file: fs::File,
}

/// Creates `path` as 0.14's `qemu_create_pidfile` does: opens it (mode 0600),
/// takes the `lockf(F_TLOCK)` lock or fails at once, then writes the pid and a
/// newline. A file locked by another process gives the lock's error
/// (`EAGAIN` or `EACCES`) and is left as it is.
pub fn create_pidfile(path: &Path) -> io::Result<Pidfile> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    // SAFETY: lockf on a descriptor this function owns.
    if unsafe { libc::lockf(file.as_raw_fd(), libc::F_TLOCK, 0) } == -1 {
        return Err(io::Error::last_os_error());
    }
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    Ok(Pidfile {
        path: path.to_path_buf(),
        _file: file,
    })
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

    /// `p.pid` in a fresh directory (returned too, to keep it).
    fn pid_path() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.pid");
        (dir, path)
    }

    /// What a pidfile of this process holds.
    fn own_pid_line() -> String {
        format!("{}\n", std::process::id())
    }

    #[test]
    fn pidfile_holds_pid_and_newline() {
        let (_dir, path) = pid_path();
        let _held = create_pidfile(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), own_pid_line());
    }

    #[test]
    fn pidfile_over_a_longer_old_pid_keeps_no_stale_digits() {
        let (_dir, path) = pid_path();
        fs::write(&path, "123456789012\n").unwrap();
        let _held = create_pidfile(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), own_pid_line());
    }

    #[test]
    fn pidfile_is_created_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = pid_path();
        let _held = create_pidfile(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
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
