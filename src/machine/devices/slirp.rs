//! The user-mode network stack's host forwarding rules (0.14's net/slirp.c
//! and slirp/): `hostfwd=` of `-net user`/`-netdev user`, the human monitor's
//! `hostfwd_add` and `hostfwd_remove`, and `info usernet`
//! (`slirp_connection_info` of slirp/misc.c).
//!
//! A rule is a listening host socket in 0.14; here it is data: no socket is
//! opened, and the descriptor number `info usernet` shows comes from a
//! counter ([`HOSTFWD_FD_FIRST`] upwards). A TCP rule on a host address and
//! port another TCP rule (of any stack) already listens on cannot be set up,
//! as `bind` refuses it; UDP rules share ports (`SO_REUSEADDR`); ports other
//! host programs hold are not known. A stack's rules are kept newest first,
//! as slirp's socket lists are. Pure.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::net::{Net, NetClient};
use crate::machine::display::inet_aton;

/// The descriptor number the first rule's socket shows in `info usernet`
/// (0.14 shows the host's own; the model's are a counter from here).
pub const HOSTFWD_FD_FIRST: u32 = 16;
/// Bytes of each field `get_str_sep` copies (`char buf[256]`, one for the
/// terminating NUL); longer fields are cut.
pub const HOSTFWD_FIELD_BYTES_MAX: usize = 255;
/// The guest address a rule without one forwards to (slirp's
/// `vdhcp_startaddr` of the default network, 10.0.2.15).
pub const GUEST_ADDR_DEFAULT: [u8; 4] = [10, 0, 2, 15];

/// One forwarding rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFwd {
    /// UDP rather than TCP.
    pub udp: bool,
    /// The host address it listens on (0.0.0.0: any).
    pub host_addr: [u8; 4],
    /// The host port.
    pub host_port: u16,
    /// The guest address it forwards to.
    pub guest_addr: [u8; 4],
    /// The guest port.
    pub guest_port: u16,
    /// The descriptor number `info usernet` shows.
    pub fd: u32,
}

/// A rule as `slirp_hostfwd` parses it, before it is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFwdSpec {
    /// UDP rather than TCP.
    pub udp: bool,
    /// Host address (0.0.0.0 when empty).
    pub host_addr: [u8; 4],
    /// Host port, 1..65535.
    pub host_port: u16,
    /// Guest address (`None` when empty: the DHCP start address).
    pub guest_addr: Option<[u8; 4]>,
    /// Guest port, 1..65535.
    pub guest_port: u16,
}

/// `get_str_sep`: the text before `sep` (cut to [`HOSTFWD_FIELD_BYTES_MAX`]
/// bytes) and the rest after it; `None` without `sep`.
fn str_sep(p: &str, sep: char) -> Option<(&str, &str)> {
    let (field, rest) = p.split_once(sep)?;
    let mut end = field.len().min(HOSTFWD_FIELD_BYTES_MAX);
    while !field.is_char_boundary(end) {
        end -= 1;
    }
    Some((&field[..end], rest))
}

/// `strtol(buf, &end, 0)` with `*end == '\0'`, in 1..65535.
fn port(text: &str) -> Option<u16> {
    let n = super::cfmt::strtoul_full(text, 0)?;
    u16::try_from(n).ok().filter(|p| *p >= 1)
}

/// An address field: empty, or one `inet_aton` reads.
fn addr(text: &str) -> Option<Option<[u8; 4]>> {
    if text.is_empty() {
        return Some(None);
    }
    inet_aton(text).map(Some)
}

/// `slirp_hostfwd`'s parse (not the legacy `-redir` form):
/// `[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`.
pub fn parse_hostfwd(rule: &str) -> Option<HostFwdSpec> {
    let (proto, p) = str_sep(rule, ':')?;
    let udp = match proto {
        "tcp" | "" => false,
        "udp" => true,
        _ => return None,
    };
    let (host, p) = str_sep(p, ':')?;
    let host_addr = addr(host)?.unwrap_or_default();
    let (host_port, p) = str_sep(p, '-')?;
    let host_port = port(host_port)?;
    let (guest, p) = str_sep(p, ':')?;
    let guest_addr = addr(guest)?;
    let guest_port = port(p)?;
    Some(HostFwdSpec {
        udp,
        host_addr,
        host_port,
        guest_addr,
        guest_port,
    })
}

/// Why a rule was not added: 0.14's `error_report` text.
pub fn hostfwd_error(rule: Option<&str>, parsed: bool) -> String {
    // A missing rule reaches printf's `%s` as NULL: glibc prints `(null)`.
    let rule = rule.unwrap_or("(null)");
    if parsed {
        format!("could not set up host forwarding rule '{rule}'")
    } else {
        format!("invalid host forwarding rule '{rule}'")
    }
}

impl Net {
    /// `slirp_add_hostfwd` on the stack of client `name`: `Err` with 0.14's
    /// text for a rule that does not parse or cannot listen.
    pub fn add_hostfwd(&mut self, name: &str, rule: Option<&str>) -> Result<(), String> {
        let spec = rule
            .and_then(parse_hostfwd)
            .ok_or_else(|| hostfwd_error(rule, false))?;
        let fd = HOSTFWD_FD_FIRST + self.next_host_fd;
        // The host's ports are shared by every stack.
        let taken = !spec.udp
            && self.clients.iter().flat_map(|c| &c.hostfwds).any(|f| {
                !f.udp
                    && f.host_port == spec.host_port
                    && (f.host_addr == spec.host_addr
                        || f.host_addr == [0; 4]
                        || spec.host_addr == [0; 4])
            });
        let client = self.clients.iter_mut().find(|c| c.name == name);
        let Some(client) = client.filter(|_| !taken) else {
            return Err(hostfwd_error(rule, true));
        };
        client.hostfwds.insert(
            0,
            HostFwd {
                udp: spec.udp,
                host_addr: spec.host_addr,
                host_port: spec.host_port,
                guest_addr: spec.guest_addr.unwrap_or(GUEST_ADDR_DEFAULT),
                guest_port: spec.guest_port,
                fd,
            },
        );
        self.next_host_fd += 1;
        Ok(())
    }

    /// The user-mode stacks (`slirp_stacks`), in creation order.
    pub fn slirp_stacks(&self) -> impl Iterator<Item = &NetClient> {
        self.clients.iter().filter(|c| c.model == "user")
    }

    /// `slirp_remove_hostfwd` on the first stack: whether a rule listening
    /// on exactly that address and port went.
    pub fn remove_hostfwd(&mut self, udp: bool, host_addr: [u8; 4], host_port: i32) -> bool {
        let Some(client) = self.clients.iter_mut().find(|c| c.model == "user") else {
            return false;
        };
        let found = client.hostfwds.iter().position(|f| {
            f.udp == udp && f.host_addr == host_addr && i32::from(f.host_port) == host_port
        });
        found.map(|i| client.hostfwds.remove(i)).is_some()
    }

    /// `do_info_usernet`: each stack with its sockets (TCP, then UDP).
    pub fn info_usernet(&self) -> String {
        let mut out = String::new();
        for s in self.slirp_stacks() {
            let vlan = s.vlan.map_or(-1, i64::from);
            let _ = writeln!(out, "VLAN {vlan} ({}):", s.name);
            out.push_str(
                "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\n",
            );
            for udp in [false, true] {
                for f in s.hostfwds.iter().filter(|f| f.udp == udp) {
                    let state = if udp {
                        "  UDP[HOST_FORWARD]"
                    } else {
                        "  TCP[HOST_FORWARD]"
                    };
                    let source = if f.host_addr == [0; 4] {
                        "*".to_owned()
                    } else {
                        dotted(f.host_addr)
                    };
                    let _ = writeln!(
                        out,
                        "{state:<19} {:>3} {source:>15} {:>5} {:>15} {:>5} {:>5} {:>5}",
                        f.fd,
                        f.host_port,
                        dotted(f.guest_addr),
                        f.guest_port,
                        0,
                        0
                    );
                }
            }
        }
        out
    }
}

/// `inet_ntoa`.
fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms_of_a_rule() {
        let spec = parse_hostfwd("udp:127.0.0.1:5555-10.0.2.9:53").unwrap();
        assert_eq!(
            (
                spec.udp,
                spec.host_addr,
                spec.host_port,
                spec.guest_addr,
                spec.guest_port
            ),
            (true, [127, 0, 0, 1], 5555, Some([10, 0, 2, 9]), 53)
        );
        assert_eq!(
            parse_hostfwd("::2222-:22").map(|s| (s.udp, s.host_addr, s.guest_addr)),
            Some((false, [0; 4], None))
        );
    }

    #[test]
    fn parse_refuses_what_slirp_hostfwd_refuses() {
        let bad = [
            "",
            "tcp",
            "sctp::1-:2",
            "tcp:1",
            "tcp::1:2",
            "tcp::0-:22",
            "tcp::65536-:22",
            "tcp::22x-:22",
            "tcp::22-:",
            "tcp::22-10.0.2.x:22",
            "tcp:host:22-:22",
        ];
        assert_eq!(bad.map(|r| parse_hostfwd(r).is_none()), [true; 11]);
    }

    #[test]
    fn port_limits_are_1_and_65535() {
        assert_eq!(
            ["tcp::1-:65535", "tcp::0x10-:010"].map(|r| parse_hostfwd(r).is_some()),
            [true, true]
        );
    }

    #[test]
    fn field_cut_at_255_bytes_still_parses_a_port() {
        let rule = format!("tcp::{}22-:22", "0".repeat(HOSTFWD_FIELD_BYTES_MAX));
        // The host port field keeps 255 zeros and loses "22": 0 is no port.
        assert!(parse_hostfwd(&rule).is_none());
        let rule = format!("tcp::{}22-:22", "0".repeat(HOSTFWD_FIELD_BYTES_MAX - 2));
        assert!(parse_hostfwd(&rule).is_some());
    }

    #[test]
    fn remove_takes_the_rule_of_that_protocol_only() {
        let mut net = Net::from_config(&crate::machine::config::MachineConfig::default());
        net.add_hostfwd("user.0", Some("tcp::2222-:22")).unwrap();
        net.add_hostfwd("user.0", Some("udp::2222-:22")).unwrap();
        assert!(net.remove_hostfwd(true, [0; 4], 2222));
        let left: Vec<bool> = net.clients[0].hostfwds.iter().map(|f| f.udp).collect();
        assert_eq!(left, [false]);
        assert!(!net.remove_hostfwd(true, [0; 4], 2222));
    }

    #[test]
    fn missing_rule_prints_null() {
        assert_eq!(
            hostfwd_error(None, false),
            "invalid host forwarding rule '(null)'"
        );
    }
}
