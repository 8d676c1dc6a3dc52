//! Display servers and the screen, one file each: the VNC server ([`vnc`]:
//! `-vnc`, `change vnc`, its password and clients), the SPICE server
//! ([`spice`]: `-spice`, its ticket and channels) and the picture `screendump`
//! saves ([`screen`]). This file keeps what they share: socket addresses as
//! getnameinfo prints them, and [`DisplayState`], which holds all three.
//!
//! Models 0.14's `ui/vnc.c`, `ui/spice-core.c` and `hw/vga.c`'s PPM dump.
//! There are no real display sockets: the listening address a display string
//! names is computed, never bound, so host name resolution and x509 file
//! checks are not performed (see `docs/compat.md`). Plain serde data, no I/O;
//! the `query-vnc`/`query-spice` replies and the VNC_*/SPICE_* event data are
//! built from this data in `qmp/`. Connected clients come from the simulated
//! world (`machine::inject`); VNC clients are kept newest first and SPICE
//! channels oldest first, as 0.14's lists are.

pub mod acl;
pub mod screen;
pub mod spice;
pub mod vnc;

use serde::{Deserialize, Serialize};

use super::config::MachineConfig;
use crate::qobject::{ErrorClass, QmpError};

pub use screen::*;
pub use spice::*;
pub use vnc::*;

/// Size of getnameinfo's service buffer (`NI_MAXSERV`): a unix socket path this
/// long or longer cannot be reported, so 0.14's `query-vnc` returns `{}`.
pub const NI_MAXSERV_BYTES: usize = 32;
/// Size of getnameinfo's host buffer (`NI_MAXHOST`): a client host this long or
/// longer cannot be reported.
pub const NI_MAXHOST_BYTES: usize = 1025;
/// The family names 0.14's `inet_strfamily` gives.
pub const ADDRESS_FAMILIES: &[&str] = &["ipv4", "ipv6", "unix", "unknown"];
/// `time_t` "never" (0.14's `TIME_MAX`).
pub const TIME_NEVER_S: i64 = i64::MAX;

/// A socket address as getnameinfo prints it (numeric host and port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockAddr {
    /// Numeric host (`127.0.0.1`, `::1`) or, for unix sockets, `localhost`.
    pub host: String,
    /// Port as a decimal string, or a unix socket path.
    pub service: String,
    /// `ipv4`, `ipv6`, `unix` or `unknown`.
    pub family: String,
}

impl SockAddr {
    /// `HOST:PORT`, how clients are named in errors.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.service)
    }

    /// A simulated client's address, checked as `x-vnc-client` checks it:
    /// `host` (not empty) and the `service` (the argument `port_key`) must fit
    /// getnameinfo's buffers; `family` defaults to `ipv6` for a host with a
    /// colon, else `ipv4`.
    ///
    /// Errors: InvalidParameterValue naming the argument at fault;
    /// MissingParameter `port_key` when `service` is `None` (after the host
    /// check).
    pub fn checked(
        host: &str,
        port_key: &str,
        service: Option<&str>,
        family: Option<&str>,
    ) -> Result<SockAddr, QmpError> {
        let invalid = |name: &str, expected: &str| {
            QmpError::with2(ErrorClass::InvalidParameterValue, name, expected)
        };
        if host.is_empty() || host.len() >= NI_MAXHOST_BYTES {
            let expected = format!("a host of 1 to {} bytes", NI_MAXHOST_BYTES - 1);
            return Err(invalid("host", &expected));
        }
        let service =
            service.ok_or_else(|| QmpError::with1(ErrorClass::MissingParameter, port_key))?;
        if service.len() >= NI_MAXSERV_BYTES {
            // Empty is what getnameinfo gives for an unnamed unix socket peer.
            let expected = format!("a {port_key} of at most {} bytes", NI_MAXSERV_BYTES - 1);
            return Err(invalid(port_key, &expected));
        }
        let family = match family {
            Some(f) if ADDRESS_FAMILIES.contains(&f) => f,
            Some(_) => return Err(invalid("family", "ipv4, ipv6, unix or unknown")),
            None if host.contains(':') => "ipv6",
            None => "ipv4",
        };
        Ok(SockAddr {
            host: host.to_owned(),
            service: service.to_owned(),
            family: family.to_owned(),
        })
    }
}

/// VNC, SPICE and the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayState {
    /// The VNC server; `None` without `-vnc` (then `change vnc` fails).
    pub vnc: Option<VncServer>,
    /// The SPICE server; `None` without `-spice`.
    pub spice: Option<SpiceServer>,
    /// The screen.
    pub screen: Screen,
}

impl DisplayState {
    /// The displays a configuration starts. A `-vnc` string that fails to open
    /// leaves the server as 0.14 would have it; the CLI rejects such strings
    /// up front with [`VncServer::open`] (0.14 exits).
    pub fn from_config(config: &MachineConfig) -> Self {
        let vnc = config.vnc.as_deref().map(|display| {
            let mut server = VncServer::closed();
            // An error leaves the state 0.14 would have; see the doc above.
            let _ = server.open(display);
            server
        });
        DisplayState {
            vnc,
            spice: config.spice.as_ref().map(SpiceServer::from_options),
            screen: Screen::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_state_roundtrips_through_bincode() {
        let cfg = MachineConfig {
            vnc: Some(":1,password".into()),
            ..MachineConfig::default()
        };
        let state = DisplayState::from_config(&cfg);
        assert_eq!(crate::test_util::bincode_round_trip(&state), state);
    }

    #[test]
    fn a_client_address_family_defaults_by_the_host_and_is_kept_when_given() {
        let family = |host: &str, family: Option<&str>| {
            SockAddr::checked(host, "port", Some("5900"), family)
                .map(|a| a.family)
                .unwrap()
        };
        assert_eq!(family("127.0.0.1", None), "ipv4");
        assert_eq!(family("::1", None), "ipv6");
        assert_eq!(family("::1", Some("unknown")), "unknown");
    }
}
