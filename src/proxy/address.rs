//! `unix:PATH` and `tcp:HOST:PORT`: where the proxy and the mock server listen,
//! and where the proxy's upstream is.

use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use crate::server::conn::Conn;
use crate::server::listen::Listener;

/// A socket address given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `unix:PATH`.
    Unix(PathBuf),
    /// `tcp:HOST:PORT`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path".to_owned());
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| "tcp: needs HOST:PORT".to_owned())?;
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("'{port}' is not a port number"))?;
            let host = if host.is_empty() { "localhost" } else { host };
            return Ok(Address::Tcp {
                host: host.trim_matches(['[', ']']).to_owned(),
                port,
            });
        }
        Err("expected unix:PATH or tcp:HOST:PORT".to_owned())
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

impl Address {
    /// Binds a listening socket (a stale unix socket file is removed first, as
    /// QEMU does).
    pub fn bind(&self) -> io::Result<Listener> {
        match self {
            Address::Unix(path) => {
                let _ = std::fs::remove_file(path);
                UnixListener::bind(path).map(Listener::Unix)
            }
            Address::Tcp { host, port } => {
                TcpListener::bind((host.as_str(), *port)).map(Listener::Tcp)
            }
        }
    }

    /// Connects (blocking).
    pub fn connect(&self) -> io::Result<Conn> {
        match self {
            Address::Unix(path) => UnixStream::connect(path).map(Conn::Unix),
            Address::Tcp { host, port } => {
                let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect(addr) {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }

    /// The unix socket file to remove at exit, if any.
    pub fn socket_file(&self) -> Option<&std::path::Path> {
        match self {
            Address::Unix(path) => Some(path),
            Address::Tcp { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parses_unix_and_tcp() {
        assert_eq!(
            ["unix:/tmp/q.sock", "tcp:127.0.0.1:4444"].map(|t| t.parse::<Address>()),
            [
                Ok(Address::Unix(PathBuf::from("/tmp/q.sock"))),
                Ok(Address::Tcp {
                    host: "127.0.0.1".to_owned(),
                    port: 4444
                })
            ]
        );
    }

    #[test]
    fn address_without_scheme_is_refused() {
        assert_eq!(
            "/tmp/q.sock".parse::<Address>().unwrap_err(),
            "expected unix:PATH or tcp:HOST:PORT"
        );
    }

    #[test]
    fn address_with_bad_port_is_refused() {
        assert_eq!(
            "tcp:localhost:99999".parse::<Address>().unwrap_err(),
            "'99999' is not a port number"
        );
    }
}
