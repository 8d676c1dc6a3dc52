//! Passed file descriptors: receiving them with `SCM_RIGHTS` and the table that maps
//! the engine's [`FdHandle`]s to the real descriptors.
//!
//! The engine never sees a descriptor number: each received descriptor gets a fresh
//! handle (counting from 1, never reused) and lives in [`FdTable`] until an
//! `Effect::CloseFd` names its handle or the server ends. As in QEMU 0.14 (whose
//! receive buffer has room for one descriptor), only the first descriptor of a
//! message is kept; the others are closed at once.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::qmp::session::FdHandle;

/// Most descriptors one `recvmsg` makes room for (the extra ones are closed).
pub const FDS_PER_READ_MAX: usize = 16;
/// Most descriptors held at once; a client passing more gets the newest dropped.
pub const FDS_HELD_MAX: usize = 1024;

/// Handle-to-descriptor table. Ordered by handle.
#[derive(Debug, Default)]
pub struct FdTable {
    fds: BTreeMap<FdHandle, OwnedFd>,
    last: u64,
}

impl FdTable {
    /// Stores a descriptor under a fresh handle; `None` (and the descriptor closed)
    /// when [`FDS_HELD_MAX`] are already held.
    pub fn insert(&mut self, fd: OwnedFd) -> Option<FdHandle> {
        if self.fds.len() >= FDS_HELD_MAX {
            return None;
        }
        self.last += 1;
        let handle = FdHandle(self.last);
        self.fds.insert(handle, fd);
        Some(handle)
    }

    /// Takes a descriptor out of the table (dropping it closes it).
    pub fn remove(&mut self, handle: FdHandle) -> Option<OwnedFd> {
        self.fds.remove(&handle)
    }

    /// Descriptors held.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether no descriptor is held.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// A small byte count as the C `unsigned int` the CMSG macros take.
fn c_uint(n: usize) -> libc::c_uint {
    libc::c_uint::try_from(n).expect("control message sizes are small")
}

/// Reads from a unix stream socket with `recvmsg`, collecting passed descriptors
/// (close-on-exec). Returns the byte count (0 at end of stream) and the first
/// descriptor passed, if any.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let (n, fds) = recv_with_all_fds(sock, buf)?;
    // Dropping the rest closes them.
    Ok((n, fds.into_iter().next()))
}

/// [`recv_with_fds`], keeping every descriptor passed (at most
/// [`FDS_PER_READ_MAX`]), in order: what `qmpsim proxy` forwards.
pub fn recv_with_all_fds(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    const INT_BYTES: usize = std::mem::size_of::<libc::c_int>();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(c_uint(FDS_PER_READ_MAX * INT_BYTES)) };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; (space as usize).div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() * 8;
    let n = loop {
        // SAFETY: msg points at live buffers of the stated sizes for this call.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break usize::try_from(n).expect("non-negative byte count");
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg_control; CMSG_* walk it within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let header = libc::CMSG_LEN(0) as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header) / INT_BYTES;
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, fds))
}

/// Sends `data` on a unix stream socket with `fds` attached (`SCM_RIGHTS`), as a
/// client passing a descriptor to `getfd` does. `data` must not be empty.
pub fn send_with_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    assert!(
        fds.len() <= FDS_PER_READ_MAX,
        "too many descriptors for one message"
    );
    send_any_fds(sock, data, fds)
}

/// [`send_with_fds`] without the [`FDS_PER_READ_MAX`] bound (the kernel's own
/// bound still applies), to test what a receiver does with more.
fn send_any_fds(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    const INT_BYTES: usize = std::mem::size_of::<libc::c_int>();
    assert!(
        !data.is_empty(),
        "SCM_RIGHTS needs at least one byte of data"
    );
    let fds_bytes = fds.len() * INT_BYTES;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(c_uint(fds_bytes)) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: the control buffer has CMSG_SPACE(fds_bytes) bytes, enough for one
        // header and the descriptors.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(c_uint(fds_bytes)) as _;
            let dst = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
            for (i, fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned(dst.add(i), *fd);
            }
        }
    }
    loop {
        // SAFETY: msg points at live buffers of the stated sizes for this call.
        let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(usize::try_from(n).expect("non-negative byte count"));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    /// Both ends of a new pipe: (read, write). Close-on-exec, so that a child
    /// another test spawns cannot keep a write end open.
    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both were just created and are owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn pipe_fd() -> OwnedFd {
        pipe().0
    }

    #[test]
    fn table_handles_start_at_one_and_grow() {
        let mut t = FdTable::default();
        let a = t.insert(pipe_fd());
        let b = t.insert(pipe_fd());
        assert_eq!((a, b), (Some(FdHandle(1)), Some(FdHandle(2))));
    }

    #[test]
    fn table_handles_are_not_reused() {
        let mut t = FdTable::default();
        let a = t.insert(pipe_fd()).unwrap();
        t.remove(a);
        assert_eq!(t.insert(pipe_fd()), Some(FdHandle(2)));
    }

    #[test]
    fn table_remove_unknown_is_none() {
        assert!(FdTable::default().remove(FdHandle(9)).is_none());
    }

    #[test]
    fn recv_plain_bytes_has_no_fd() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        let (n, fd) = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!((n, fd.is_none()), (2, true));
    }

    #[test]
    fn recv_passed_fd_is_a_new_descriptor_for_the_same_pipe() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = pipe();
        send_with_fds(a.as_raw_fd(), b"x", &[w.as_raw_fd()]).unwrap();
        drop(w);
        let mut buf = [0u8; 8];
        let (_, fd) = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap();
        let mut writer = std::fs::File::from(fd.unwrap());
        writer.write_all(b"ok").unwrap();
        let mut got = [0u8; 2];
        std::io::Read::read_exact(&mut std::fs::File::from(r), &mut got).unwrap();
        assert_eq!(&got, b"ok");
    }

    #[test]
    fn recv_keeps_only_first_of_several_fds() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        send_with_fds(a.as_raw_fd(), b"x", &[w1.as_raw_fd(), w2.as_raw_fd()]).unwrap();
        drop((w1, w2, r1));
        let mut buf = [0u8; 8];
        let _kept = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap();
        assert!(writers_all_closed(r2));
    }

    /// Whether every write end of the pipe whose read end is `r` is closed: a
    /// non-blocking read then gives end of file rather than "would block".
    fn writers_all_closed(r: OwnedFd) -> bool {
        // SAFETY: r is a live descriptor.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut one = [0u8; 1];
        matches!(
            std::io::Read::read(&mut std::fs::File::from(r), &mut one),
            Ok(0)
        )
    }

    /// Sends one byte with the write ends of `n` new pipes attached (dropping our
    /// copies), receives it, and returns the read ends.
    fn pass_pipes(n: usize) -> Vec<OwnedFd> {
        let (a, b) = UnixStream::pair().unwrap();
        let (readers, writers): (Vec<OwnedFd>, Vec<OwnedFd>) = (0..n).map(|_| pipe()).unzip();
        let raw: Vec<RawFd> = writers.iter().map(AsRawFd::as_raw_fd).collect();
        send_any_fds(a.as_raw_fd(), b"x", &raw).unwrap();
        drop(writers);
        let mut buf = [0u8; 8];
        let _kept = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap();
        readers
    }

    #[test]
    fn recv_at_per_read_limit_closes_the_last_fd() {
        let mut readers = pass_pipes(FDS_PER_READ_MAX);
        assert!(writers_all_closed(readers.pop().unwrap()));
    }

    #[test]
    fn recv_past_per_read_limit_closes_the_extra_fd() {
        let mut readers = pass_pipes(FDS_PER_READ_MAX + 1);
        assert!(writers_all_closed(readers.pop().unwrap()));
    }

    #[test]
    fn recv_past_per_read_limit_still_returns_the_bytes_and_first_fd() {
        let (a, b) = UnixStream::pair().unwrap();
        let (_readers, writers): (Vec<OwnedFd>, Vec<OwnedFd>) =
            (0..=FDS_PER_READ_MAX).map(|_| pipe()).unzip();
        let raw: Vec<RawFd> = writers.iter().map(AsRawFd::as_raw_fd).collect();
        send_any_fds(a.as_raw_fd(), b"xy", &raw).unwrap();
        let mut buf = [0u8; 8];
        let (n, fd) = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!((n, fd.is_some()), (2, true));
    }

    #[test]
    #[should_panic(expected = "too many descriptors for one message")]
    fn send_past_per_read_limit_panics() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (_r, w) = pipe();
        let raw = vec![w.as_raw_fd(); FDS_PER_READ_MAX + 1];
        let _ = send_with_fds(a.as_raw_fd(), b"x", &raw);
    }

    /// Lets this process hold `n` more descriptors: raises the soft open-file
    /// limit to the hard one when it is lower than that.
    fn allow_open_files(n: usize) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let wanted = libc::rlim_t::try_from(n).unwrap() + 256;
        assert!(
            lim.rlim_max >= wanted,
            "hard open-file limit below {wanted}"
        );
        if lim.rlim_cur < wanted {
            lim.rlim_cur = lim.rlim_max;
            // SAFETY: setrlimit reads the struct.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        }
    }

    /// A table holding `n` descriptors (duplicates of one pipe's read end).
    fn table_holding(n: usize) -> FdTable {
        allow_open_files(2 * FDS_HELD_MAX);
        let fd = pipe_fd();
        let mut t = FdTable::default();
        (0..n).for_each(|_| {
            t.insert(fd.try_clone().unwrap())
                .expect("room in the table");
        });
        t
    }

    #[test]
    fn table_insert_reaching_held_limit_is_stored() {
        let mut t = table_holding(FDS_HELD_MAX - 1);
        let handle = u64::try_from(FDS_HELD_MAX).unwrap();
        assert_eq!(t.insert(pipe_fd()), Some(FdHandle(handle)));
    }

    #[test]
    fn table_insert_past_held_limit_is_refused() {
        let mut t = table_holding(FDS_HELD_MAX);
        assert_eq!(t.insert(pipe_fd()), None);
    }

    #[test]
    fn table_insert_past_held_limit_closes_the_descriptor() {
        let mut t = table_holding(FDS_HELD_MAX);
        let (r, w) = pipe();
        t.insert(w);
        assert!(writers_all_closed(r));
    }

    #[test]
    fn table_insert_after_a_remove_at_held_limit_is_stored() {
        let mut t = table_holding(FDS_HELD_MAX);
        t.remove(FdHandle(1));
        assert!(t.insert(pipe_fd()).is_some());
    }

    #[test]
    fn recv_end_of_stream_is_zero() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut buf = [0u8; 8];
        assert_eq!(recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().0, 0);
    }
}
