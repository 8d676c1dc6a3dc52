//! Where monitor clients come from: listening sockets, outgoing connections and
//! stdio, one endpoint per monitor, QMP (`mode=control`) and human
//! (`mode=readline`) alike: the engine makes the difference.
//!
//! A QEMU socket chardev serves one client at a time: the event loop accepts one
//! connection, and accepts the next only once that one closed; later clients wait
//! in the listen backlog and get their greeting when their turn comes. A `server` chardev without `nowait` makes
//! startup wait for its first client (printing QEMU's message), before the VM runs.
//! Backends other than sockets and stdio (`vc`, `pty`, `file:`...) are not served.

use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use super::conn::Conn;
use super::process::CreatedFiles;
use super::ServerError;
use crate::machine::config::{ChardevBackend, MachineConfig};

/// Pause after a failed `accept` (for example out of descriptors) before retrying.
pub const ACCEPT_RETRY_MS: u64 = 100;

/// Whether a unix socket listens at `path`: the kernel's table of unix sockets
/// (`/proc/net/unix`) shows it with `__SO_ACCEPTCON` set; `None` without that
/// table. The file alone is not enough: it appears at `bind`, a moment before
/// `listen`. A test connection is no way to tell either: a server started with
/// `server` (waiting) would take it as its first client.
pub fn unix_socket_listening(path: &Path) -> Option<bool> {
    /// `__SO_ACCEPTCON` in the flags column.
    const SO_ACCEPTCON: u64 = 0x10000;
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    let wanted = path.to_string_lossy();
    Some(table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 8
            && fields[7] == wanted
            && u64::from_str_radix(fields[3], 16).is_ok_and(|flags| flags & SO_ACCEPTCON != 0)
    }))
}

/// A bound listening socket.
#[derive(Debug)]
pub enum Listener {
    /// Unix stream socket.
    Unix(UnixListener),
    /// TCP socket.
    Tcp(TcpListener),
}

impl Listener {
    /// Accepts one connection (`WouldBlock` when none waits on a non-blocking
    /// listener). The accepted socket is blocking until the loop takes it.
    pub fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
        }
    }

    /// Makes accepting non-blocking, for the event loop.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Unix(l) => l.set_nonblocking(true),
            Listener::Tcp(l) => l.set_nonblocking(true),
        }
    }

    /// The socket's descriptor, to register with the poll.
    pub fn raw_fd(&self) -> RawFd {
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

/// How a monitor gets its client.
#[derive(Debug)]
pub enum Endpoint {
    /// Listens; `wait` holds startup until the first client.
    Listen {
        /// The socket.
        listener: Listener,
        /// Wait for the first client at startup.
        wait: bool,
        /// The chardev's filename, for the waiting message.
        filename: String,
    },
    /// Connects out at startup (a socket chardev without `server`).
    Connect(ChardevBackend),
    /// Stdin and stdout, connected from the start.
    Stdio,
}

/// One served monitor.
#[derive(Debug)]
pub struct MonitorEndpoint {
    /// Index in `MachineConfig::monitors`.
    pub monitor: u32,
    /// Its endpoint.
    pub endpoint: Endpoint,
}

/// Binds every monitor's listening socket (removing a stale unix socket file
/// first, as QEMU does, and remembering the new one in `files`).
pub fn bind_all(
    config: &MachineConfig,
    files: &mut CreatedFiles,
) -> Result<Vec<MonitorEndpoint>, ServerError> {
    let mut out = Vec::new();
    for (index, monitor) in config.monitors.iter().enumerate() {
        let Some(chardev) = config.chardevs.iter().find(|c| c.label == monitor.chardev) else {
            continue;
        };
        let Some(endpoint) = endpoint(&chardev.backend, files)? else {
            continue;
        };
        out.push(MonitorEndpoint {
            monitor: u32::try_from(index).expect("monitor count fits u32"),
            endpoint,
        });
    }
    Ok(out)
}

fn endpoint(
    backend: &ChardevBackend,
    files: &mut CreatedFiles,
) -> Result<Option<Endpoint>, ServerError> {
    let filename = backend.filename();
    let bind_error = |error| ServerError::Bind {
        filename: filename.clone(),
        error,
    };
    let (listener, wait) = match backend {
        ChardevBackend::Unix {
            path,
            server: true,
            wait,
        } => {
            // QEMU unlinks whatever is at the path before binding.
            let _ = std::fs::remove_file(path);
            let l = UnixListener::bind(path).map_err(bind_error)?;
            files.add(Path::new(path));
            (Listener::Unix(l), *wait)
        }
        ChardevBackend::Tcp {
            host,
            port,
            server: true,
            wait,
            ..
        } => {
            let l = TcpListener::bind(tcp_addr(host, port)).map_err(bind_error)?;
            (Listener::Tcp(l), *wait)
        }
        ChardevBackend::Unix { server: false, .. } | ChardevBackend::Tcp { server: false, .. } => {
            return Ok(Some(Endpoint::Connect(backend.clone())));
        }
        ChardevBackend::Stdio => return Ok(Some(Endpoint::Stdio)),
        ChardevBackend::Vc
        | ChardevBackend::Null
        | ChardevBackend::Pty
        | ChardevBackend::Other(_) => return Ok(None),
    };
    Ok(Some(Endpoint::Listen {
        listener,
        wait,
        filename,
    }))
}

/// An empty host means every address, as in QEMU.
fn tcp_addr(host: &str, port: &str) -> String {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    format!("{host}:{port}")
}

/// The connections present at startup, in monitor order: stdio, outgoing sockets,
/// and the first client of every listening socket that waits for one.
pub fn initial_connections(endpoints: &[MonitorEndpoint]) -> Result<Vec<(u32, Conn)>, ServerError> {
    let mut out = Vec::new();
    for ep in endpoints {
        let conn = match &ep.endpoint {
            Endpoint::Stdio => Conn::Stdio,
            Endpoint::Connect(backend) => connect(backend)?,
            Endpoint::Listen {
                listener,
                wait: true,
                filename,
            } => {
                eprintln!("QEMU waiting for connection on: {filename}");
                listener.accept().map_err(ServerError::Accept)?
            }
            Endpoint::Listen { wait: false, .. } => continue,
        };
        out.push((ep.monitor, conn));
    }
    Ok(out)
}

fn connect(backend: &ChardevBackend) -> Result<Conn, ServerError> {
    let connect_error = |error| ServerError::Connect {
        filename: backend.filename(),
        error,
    };
    match backend {
        ChardevBackend::Unix { path, .. } => UnixStream::connect(path)
            .map(Conn::Unix)
            .map_err(connect_error),
        ChardevBackend::Tcp { host, port, .. } => {
            let addrs = tcp_addr(host, port)
                .to_socket_addrs()
                .map_err(connect_error)?;
            TcpStream::connect(&addrs.collect::<Vec<_>>()[..])
                .map(Conn::Tcp)
                .map_err(connect_error)
        }
        other => unreachable!("only socket chardevs connect out, not {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::{ChardevConfig, MonitorConfig, MonitorMode};

    fn config_with(backend: ChardevBackend, mode: MonitorMode) -> MachineConfig {
        MachineConfig {
            chardevs: vec![ChardevConfig {
                label: "m".to_owned(),
                backend,
            }],
            monitors: vec![MonitorConfig {
                chardev: "m".to_owned(),
                mode,
                pretty: false,
            }],
            ..MachineConfig::default()
        }
    }

    #[test]
    fn bind_unix_creates_socket_and_remembers_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sock");
        let config = config_with(
            ChardevBackend::Unix {
                path: path.to_str().unwrap().to_owned(),
                server: true,
                wait: false,
            },
            MonitorMode::Control,
        );
        let mut files = CreatedFiles::default();
        let eps = bind_all(&config, &mut files).unwrap();
        assert!(path.exists() && eps.len() == 1);
        drop(files);
        assert!(!path.exists());
    }

    #[test]
    fn bind_serves_a_readline_monitor_on_stdio() {
        let config = config_with(ChardevBackend::Stdio, MonitorMode::Readline);
        let eps = bind_all(&config, &mut CreatedFiles::default()).unwrap();
        assert!(matches!(
            eps[..],
            [MonitorEndpoint {
                monitor: 0,
                endpoint: Endpoint::Stdio
            }]
        ));
    }

    #[test]
    fn bind_skips_a_monitor_on_a_virtual_console() {
        let config = config_with(ChardevBackend::Vc, MonitorMode::Readline);
        let eps = bind_all(&config, &mut CreatedFiles::default()).unwrap();
        assert!(eps.is_empty());
    }

    #[test]
    fn bind_into_missing_directory_fails_with_filename() {
        let config = config_with(
            ChardevBackend::Unix {
                path: "/nonexistent-dir/q.sock".to_owned(),
                server: true,
                wait: false,
            },
            MonitorMode::Control,
        );
        let err = bind_all(&config, &mut CreatedFiles::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chardev: opening backend \"socket\" failed: bind(unix:/nonexistent-dir/q.sock,server): No such file or directory"
        );
    }

    #[test]
    fn tcp_empty_host_means_any_address() {
        assert_eq!(tcp_addr("", "4444"), "0.0.0.0:4444");
    }
}
