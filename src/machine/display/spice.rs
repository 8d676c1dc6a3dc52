//! The SPICE server (0.14's `ui/spice-core.c`: `qemu_spice_init`,
//! `do_info_spice`): its address, ports, ticket and expiry, where clients
//! should go after migration, and the channel connections, oldest first.

use serde::{Deserialize, Serialize};

use super::{SockAddr, TIME_NEVER_S};
use crate::machine::config::OptionList;

/// Most SPICE channel connections at once (0.14 is limited only by open files).
pub const SPICE_CHANNELS_MAX: usize = 64;
/// `SPICE_CHANNEL_MAIN`, the channel type a SPICE session starts with.
pub const SPICE_CHANNEL_MAIN: u8 = 1;

/// SPICE authentication (`auth` in `query-spice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpiceAuth {
    /// Ticketing (password) authentication, the default.
    Spice,
    /// `disable-ticketing`.
    None,
}

impl SpiceAuth {
    /// The name `query-spice` reports.
    pub fn name(self) -> &'static str {
        match self {
            SpiceAuth::Spice => "spice",
            SpiceAuth::None => "none",
        }
    }
}

/// Where SPICE clients should reconnect after migration (`client_migrate_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpiceMigrateTarget {
    /// Target host name.
    pub hostname: String,
    /// Plain port, -1 when not given.
    pub port: i32,
    /// TLS port, -1 when not given.
    pub tls_port: i32,
    /// Expected certificate subject.
    pub cert_subject: Option<String>,
}

/// The SPICE server, present with `-spice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpiceServer {
    /// `addr=`, if given.
    pub addr: Option<String>,
    /// `port=`, 0 when not given.
    pub port: i64,
    /// `tls-port=`, 0 when not given.
    pub tls_port: i64,
    /// Authentication.
    pub auth: SpiceAuth,
    /// The ticket (password).
    pub password: Option<String>,
    /// Ticket expiry, `time_t` seconds.
    pub expires_s: i64,
    /// Set by `client_migrate_info`.
    pub migrate_target: Option<SpiceMigrateTarget>,
    /// Channel connections that completed their link, oldest first (0.14's
    /// `channel_list`, appended at its tail).
    pub channels: Vec<SpiceChannel>,
}

/// One SPICE channel connection (`SpiceChannelEventInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpiceChannel {
    /// The client's end (`paddr`); `service` is the port.
    pub client: SockAddr,
    /// The server's end (`laddr`); `service` is the port.
    pub server: SockAddr,
    /// The session id all channels of one client share.
    pub connection_id: u32,
    /// `SPICE_CHANNEL_MAIN` (1), `DISPLAY` (2), `INPUTS` (3), `CURSOR` (4),
    /// `PLAYBACK` (5), `RECORD` (6)...
    pub channel_type: u8,
    /// Index among channels of that type.
    pub channel_id: u8,
    /// Connected to the TLS port.
    pub tls: bool,
}

/// `qemu_opt_get_number`: an unsigned decimal, else the default 0.
fn opt_number(v: Option<&str>) -> i64 {
    v.and_then(|s| s.parse::<u64>().ok())
        .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl SpiceServer {
    /// The server a `-spice` option list describes.
    pub fn from_options(opts: &OptionList) -> Self {
        let ticketing_off = opts
            .get("disable-ticketing")
            .is_some_and(|v| v == "on" || v == "yes" || v == "true");
        SpiceServer {
            addr: opts.get("addr").map(str::to_owned),
            port: opt_number(opts.get("port")),
            tls_port: opt_number(opts.get("tls-port")),
            auth: if ticketing_off {
                SpiceAuth::None
            } else {
                SpiceAuth::Spice
            },
            password: opts.get("password").map(str::to_owned),
            expires_s: TIME_NEVER_S,
            migrate_target: None,
            channels: Vec::new(),
        }
    }

    /// Whether a client's main channel is connected (spice-server's
    /// `reds->main_channel`).
    pub fn has_main_channel(&self) -> bool {
        self.channels
            .iter()
            .any(|c| c.channel_type == SPICE_CHANNEL_MAIN)
    }

    /// The channel whose client end is `host`:`port`, if connected.
    pub fn channel_index(&self, host: &str, port: &str) -> Option<usize> {
        self.channels
            .iter()
            .position(|c| c.client.host == host && c.client.service == port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spice_defaults_host_less_and_ticketing() {
        let o = OptionList::from_iter([("port", "5930")]);
        let s = SpiceServer::from_options(&o);
        assert_eq!((s.port, s.tls_port, s.auth), (5930, 0, SpiceAuth::Spice));
    }

    #[test]
    fn spice_disable_ticketing_means_auth_none() {
        let o = OptionList::from_iter([("port", "5930"), ("disable-ticketing", "on")]);
        assert_eq!(SpiceServer::from_options(&o).auth, SpiceAuth::None);
    }
}
