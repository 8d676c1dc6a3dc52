//! Network clients (0.14 `VLANClientState`s): the user/tap/socket backends, the
//! NICs, their VLANs and netdev peering, and the operations behind netdev_add,
//! netdev_del and set_link.
//!
//! Clients are one `Vec` in creation order; VLAN numbers a `Vec` in creation
//! order, so "walk every VLAN, then the clients not on a VLAN" is 0.14's search
//! order. No sockets are opened: a backend "opens" when its options are valid.

use serde::{Deserialize, Serialize};

use crate::machine::config::{MachineConfig, OptionList};
use crate::qobject::{ErrorClass, QmpError};

use super::cfmt;

/// Most network clients at once (backends and NICs).
pub const NET_CLIENTS_MAX: usize = 256;

/// NICs `nd_table` holds (0.14's `MAX_NICS`).
pub const ND_TABLE_NICS_MAX: u32 = 8;

/// The first NIC MAC address of 0.14 (`52:54:00:12:34:56`); later ones add 1.
pub const MAC_BASE: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// One net client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetClient {
    /// Name (`MODEL.N`, a netdev id or a NIC's qdev id).
    pub name: String,
    /// Model (`user`, `tap`, `socket`, or the NIC driver name).
    pub model: String,
    /// The VLAN it is on, if any.
    pub vlan: Option<u32>,
    /// A NIC (guest side) rather than a backend.
    pub nic: bool,
    /// `link_down`.
    pub link_down: bool,
    /// Peer client name (non-VLAN clients).
    pub peer: Option<String>,
    /// `info_str` as `info network` shows it.
    pub info: String,
    /// The qdev device of a NIC, by uid.
    pub device: Option<u64>,
    /// A descriptor the backend took over with `fd=NAME` (an edge handle),
    /// closed when the backend goes.
    pub fd: Option<u64>,
    /// A user-mode stack's host forwarding rules, newest first.
    pub hostfwds: Vec<super::slirp::HostFwd>,
}

/// A refused netdev_add: the qerror, and the line 0.14's backend printed with
/// `error_report` before it, if any (the human monitor shows it; QMP drops it).
#[derive(Debug, Clone, PartialEq)]
pub struct NetdevAddError {
    /// The QMP error.
    pub error: QmpError,
    /// The `error_report` text, without its newline.
    pub report: Option<String>,
}

impl From<QmpError> for NetdevAddError {
    fn from(error: QmpError) -> Self {
        NetdevAddError {
            error,
            report: None,
        }
    }
}

/// Takes a descriptor named with `getfd` from the calling monitor, by name.
pub type TakeFd<'a> = &'a mut dyn FnMut(&str) -> Option<u64>;

/// Network state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Net {
    /// Clients in creation order.
    pub clients: Vec<NetClient>,
    /// VLAN ids in creation order.
    pub vlans: Vec<u32>,
    /// Ids of the `netdev` option groups (for DuplicateId).
    pub netdev_ids: Vec<String>,
    /// `-net nic` entries waiting for the machine to create their cards.
    pub pending_nics: Vec<OptionList>,
    /// Next default MAC suffix of `qemu_macaddr_default_if_unset`.
    pub mac_default_index: u8,
    /// `host:port` of listening socket backends.
    pub listening: Vec<String>,
    /// `nd_table` entries taken (`-net nic` and the human monitor's
    /// `pci_add nic`); 0.14 never frees one, and the next NIC's MAC address
    /// is [`MAC_BASE`] plus this count.
    pub nd_table_used: u32,
    /// The descriptor number the next host forwarding rule shows.
    pub next_host_fd: u32,
}

/// Options a netdev type accepts, with their QemuOpts type.
fn netdev_desc(ty: &str) -> Option<&'static [(&'static str, OptType)]> {
    use OptType::{Bool, Number, Size, Str};
    const COMMON: [(&str, OptType); 3] = [("type", Str), ("vlan", Number), ("name", Str)];
    const USER: &[(&str, OptType)] = &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        ("hostname", Str),
        ("restrict", Str),
        ("ip", Str),
        ("net", Str),
        ("host", Str),
        ("tftp", Str),
        ("bootfile", Str),
        ("dhcpstart", Str),
        ("dns", Str),
        ("smb", Str),
        ("smbserver", Str),
        ("hostfwd", Str),
        ("guestfwd", Str),
    ];
    const TAP: &[(&str, OptType)] = &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        ("ifname", Str),
        ("fd", Str),
        ("script", Str),
        ("downscript", Str),
        ("sndbuf", Size),
        ("vnet_hdr", Bool),
        ("vhost", Bool),
        ("vhostfd", Str),
    ];
    const SOCKET: &[(&str, OptType)] = &[
        COMMON[0],
        COMMON[1],
        COMMON[2],
        ("fd", Str),
        ("listen", Str),
        ("connect", Str),
        ("mcast", Str),
        ("localaddr", Str),
    ];
    match ty {
        "user" => Some(USER),
        "tap" => Some(TAP),
        "socket" => Some(SOCKET),
        _ => None,
    }
}

/// QemuOpts value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptType {
    Str,
    Bool,
    Number,
    Size,
}

/// `qemu_opts_validate` + `qemu_opt_parse` over options in their set order.
fn validate(opts: &[(String, String)], desc: &[(&str, OptType)]) -> Result<(), QmpError> {
    for (name, value) in opts {
        let Some((_, ty)) = desc.iter().find(|(n, _)| n == name) else {
            return Err(QmpError::with1(ErrorClass::InvalidParameter, name));
        };
        let bad =
            |expected: &str| QmpError::with2(ErrorClass::InvalidParameterValue, name, expected);
        match ty {
            OptType::Str => {}
            OptType::Bool if value != "on" && value != "off" => return Err(bad("'on' or 'off'")),
            OptType::Bool => {}
            OptType::Number => {
                let digits_end = cfmt::strtoul_prefix(value, 0).map_or(0, |(_, n)| n);
                if digits_end != value.len() {
                    return Err(bad("a number"));
                }
            }
            OptType::Size => {
                let n = cfmt::strtod_prefix_len(value);
                if !matches!(
                    value.as_bytes().get(n),
                    None | Some(b'T' | b'G' | b'M' | b'K' | b'k' | b'b')
                ) {
                    return Err(bad("a size"));
                }
            }
        }
    }
    Ok(())
}

fn get<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `parse_host_port`: `HOST:PORT` with an empty, numeric or `localhost` host.
fn host_port_ok(s: &str) -> bool {
    let Some((host, port)) = s.split_once(':') else {
        return false;
    };
    let host_ok = host.is_empty()
        || host == "localhost"
        || host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok());
    host_ok && cfmt::strtoul_prefix(port, 0).is_some()
}

impl Net {
    /// Clients a configuration creates: `-netdev` backends, then `-net` backends
    /// (the default `-net nic -net user` unless any -net/-netdev or -nodefaults).
    /// NICs of `-net nic` are created later, with the machine's PCI devices.
    pub fn from_config(config: &MachineConfig) -> Net {
        let mut net = Net::default();
        for nd in &config.netdevs {
            let opts: Vec<(String, String)> = nd
                .items
                .iter()
                .filter(|(k, _)| k != "id")
                .cloned()
                .collect();
            // No monitor exists yet: 0.14 reads a named fd= as a number, and fails.
            let _ = net.netdev_add(nd.get("id"), &opts, &mut |_| None);
        }
        let mut nets = config.nets.clone();
        if nets.is_empty() && config.netdevs.is_empty() && !config.nodefaults {
            let nic = OptionList::from_iter([("type", "nic")]);
            let user = OptionList::from_iter([("type", "user")]);
            nets = vec![nic, user];
        }
        for n in &nets {
            let vlan = n
                .get("vlan")
                .and_then(cfmt::scan_int)
                .map_or(0, i32::unsigned_abs);
            match n.get("type") {
                Some("nic") => {
                    net.pending_nics.push(n.clone());
                    net.nd_table_used += 1;
                }
                Some(ty @ ("user" | "tap" | "socket")) => {
                    let name = n.get("name").map(str::to_owned);
                    let name = net.add_backend(ty, name, Some(vlan), (backend_info(ty), None));
                    if ty == "user" {
                        // The command line was checked: its rules parse.
                        let _ = net.user_rules(&name, &n.items);
                    }
                }
                _ => {}
            }
        }
        net
    }

    fn add_vlan(&mut self, id: u32) {
        if !self.vlans.contains(&id) {
            self.vlans.push(id);
        }
    }

    /// `assign_name`: `MODEL.N`, N counting VLAN clients of the same model.
    fn assign_name(&self, model: &str) -> String {
        let n = self
            .clients
            .iter()
            .filter(|c| c.vlan.is_some() && c.model == model)
            .count();
        format!("{model}.{n}")
    }

    fn add_backend(
        &mut self,
        model: &str,
        name: Option<String>,
        vlan: Option<u32>,
        (info, fd): (String, Option<u64>),
    ) -> String {
        if let Some(v) = vlan {
            self.add_vlan(v);
        }
        let name = name.unwrap_or_else(|| self.assign_name(model));
        self.clients.push(NetClient {
            name: name.clone(),
            model: model.to_owned(),
            vlan,
            nic: false,
            link_down: false,
            peer: None,
            info,
            device: None,
            fd,
            hostfwds: Vec::new(),
        });
        name
    }

    /// Whether a new user stack with these options would set up its
    /// `hostfwd=` rules: the first report if not (startup checks it).
    pub fn check_user_rules(opts: &[(String, String)]) -> Result<(), String> {
        let mut scratch = Net::default();
        let name = scratch.add_backend("user", None, Some(0), (String::new(), None));
        scratch.user_rules(&name, opts)
    }

    /// `net_slirp_init`'s rules: a new user stack sets up its `hostfwd=`
    /// options (0.14 takes them from a list it prepends to, so last first);
    /// on a failure the stack goes again and `Err` holds the report.
    fn user_rules(&mut self, name: &str, opts: &[(String, String)]) -> Result<(), String> {
        let rules: Vec<&str> = opts
            .iter()
            .filter(|(k, _)| k == "hostfwd")
            .map(|(_, v)| v.as_str())
            .collect();
        for rule in rules.into_iter().rev() {
            if let Err(report) = self.add_hostfwd(name, Some(rule)) {
                if let Some(pos) = self.clients.iter().rposition(|c| c.name == name) {
                    self.clients.remove(pos);
                }
                return Err(report);
            }
        }
        Ok(())
    }

    /// `qemu_find_netdev`: a client not on any VLAN, by name.
    pub fn find_netdev(&self, name: &str) -> Option<&NetClient> {
        self.clients
            .iter()
            .find(|c| c.vlan.is_none() && c.name == name)
    }

    /// netdev_add after the QemuOpts id checks: `opts` are the options other than
    /// `id`, in the order they were set; `take_fd` resolves `fd=NAME`.
    pub fn netdev_add(
        &mut self,
        id: Option<&str>,
        opts: &[(String, String)],
        take_fd: TakeFd<'_>,
    ) -> Result<(), QmpError> {
        self.netdev_add_reporting(id, opts, take_fd)
            .map_err(|e| e.error)
    }

    /// [`Net::netdev_add`] with the backend's `error_report` line.
    pub fn netdev_add_reporting(
        &mut self,
        id: Option<&str>,
        opts: &[(String, String)],
        take_fd: TakeFd<'_>,
    ) -> Result<(), NetdevAddError> {
        let Some(ty) = get(opts, "type") else {
            return Err(QmpError::with1(ErrorClass::MissingParameter, "type").into());
        };
        let Some(desc) = netdev_desc(ty) else {
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "type",
                "a netdev backend type",
            )
            .into());
        };
        for key in ["vlan", "name"] {
            if get(opts, key).is_some() {
                return Err(QmpError::with1(ErrorClass::InvalidParameter, key).into());
            }
        }
        let Some(id) = id else {
            return Err(QmpError::with1(ErrorClass::MissingParameter, "id").into());
        };
        validate(opts, desc)?;
        let init_failed = |report: Option<String>| NetdevAddError {
            error: QmpError::with1(ErrorClass::DeviceInitFailed, ty),
            report,
        };
        if self.clients.len() >= NET_CLIENTS_MAX {
            return Err(init_failed(None));
        }
        let backend = match ty {
            "socket" => self.socket_init(opts, take_fd),
            "tap" => tap_init(opts, take_fd),
            other => Ok((backend_info(other), None)),
        }
        .map_err(init_failed)?;
        let ty = ty.to_owned();
        self.add_backend(&ty, Some(id.to_owned()), None, backend);
        if ty == "user" {
            self.user_rules(id, opts)
                .map_err(|report| init_failed(Some(report)))?;
        }
        self.netdev_ids.push(id.to_owned());
        Ok(())
    }

    /// `net_init_socket`: `fd`, `listen`, `connect` or `mcast`, in that order of
    /// precedence, each refusing the options that conflict with it. Returns the
    /// client's info string and the descriptor it took, or the `error_report`
    /// text (`None` for a failure 0.14 reports elsewhere).
    fn socket_init(
        &mut self,
        opts: &[(String, String)],
        take_fd: TakeFd<'_>,
    ) -> Result<(String, Option<u64>), Option<String>> {
        let has = |keys: &[&str]| keys.iter().any(|k| get(opts, k).is_some());
        if let Some(fd) = get(opts, "fd") {
            if has(&["listen", "connect", "mcast", "localaddr"]) {
                return Err(Some(
                    "listen=, connect=, mcast= and localaddr= is invalid with fd=\n".to_owned(),
                ));
            }
            let (number, owned) = fd_param(fd, take_fd)?;
            return Ok((format!("socket: fd={number}"), owned));
        }
        let (key, conflicts, report): (&str, &[&str], &str) = if has(&["listen"]) {
            (
                "listen",
                &["connect", "mcast", "localaddr"],
                "fd=, connect=, mcast= and localaddr= is invalid with listen=\n",
            )
        } else if has(&["connect"]) {
            (
                "connect",
                &["mcast", "localaddr"],
                "fd=, listen=, mcast= and localaddr= is invalid with connect=\n",
            )
        } else if has(&["mcast"]) {
            (
                "mcast",
                &[],
                "fd=, connect= and listen= is invalid with mcast=",
            )
        } else {
            return Err(Some(
                "-socket requires fd=, listen=, connect= or mcast=".to_owned(),
            ));
        };
        if has(conflicts) {
            return Err(Some(report.to_owned()));
        }
        let value = get(opts, key).unwrap_or_default();
        let ok = match key {
            "listen" => host_port_ok(value) && !self.listening.iter().any(|l| l == value),
            _ => host_port_ok(value),
        };
        if !ok {
            return Err(None);
        }
        if key == "listen" {
            self.listening.push(value.to_owned());
        }
        Ok((format!("socket: {key}={value}"), None))
    }

    /// The human monitor's `host_net_add` (`net_client_init` of a `-net`
    /// backend): the backend joins its VLAN (0 by default). `Err` holds the
    /// lines 0.14 prints before its own `adding host network device` line.
    pub fn host_net_add(&mut self, opts: &OptionList) -> Result<(), String> {
        let items = &opts.items;
        let ty = opts.get("type").unwrap_or_default();
        let Some(desc) = netdev_desc(ty) else {
            return Err("Parameter 'type' expects a network client type\n".to_owned());
        };
        let failed = |report: Option<String>| {
            let mut text = report
                .map(|r| format!("{}\n", r.trim_end()))
                .unwrap_or_default();
            text.push_str(&format!("Device '{ty}' could not be initialized\n"));
            text
        };
        // `id` is the option group's, not a backend option.
        let backend_opts: Vec<(String, String)> =
            items.iter().filter(|(k, _)| k != "id").cloned().collect();
        validate(&backend_opts, desc).map_err(|e| format!("{}\n", e.desc()))?;
        if self.clients.len() >= NET_CLIENTS_MAX {
            return Err(failed(None));
        }
        let backend = match ty {
            "socket" => self.socket_init(&backend_opts, &mut |_| None),
            "tap" => tap_init(&backend_opts, &mut |_| None),
            other => Ok((backend_info(other), None)),
        }
        .map_err(failed)?;
        let vlan = opts
            .get("vlan")
            .and_then(cfmt::scan_int)
            .map_or(0, i32::unsigned_abs);
        let name = opts
            .get("id")
            .or_else(|| opts.get("name"))
            .map(str::to_owned);
        let name = self.add_backend(ty, name, Some(vlan), backend);
        if ty == "user" {
            self.user_rules(&name, &backend_opts)
                .map_err(|report| failed(Some(report)))?;
        }
        Ok(())
    }

    /// The human monitor's `host_net_remove` (`net_host_device_remove`): the
    /// text it prints (nothing when the backend went).
    pub fn host_net_remove(&mut self, vlan: i32, name: &str) -> String {
        let Some(id) = u32::try_from(vlan).ok().filter(|v| self.vlans.contains(v)) else {
            return format!("unknown VLAN {vlan}\n");
        };
        let Some(pos) = self
            .clients
            .iter()
            .position(|c| c.vlan == Some(id) && c.name == name)
        else {
            return format!("can't find device {name} on VLAN {vlan}\n");
        };
        let model = &self.clients[pos].model;
        if !["tap", "socket", "dump", "user", "vde"]
            .iter()
            .any(|t| model.starts_with(t))
        {
            return format!("invalid host network device {name}\n");
        }
        let client = self.clients.remove(pos);
        if let Some(port) = client.info.strip_prefix("socket: listen=") {
            self.listening.retain(|l| l != port);
        }
        String::new()
    }

    /// netdev_del: a backend not on a VLAN; NICs cannot be removed this way.
    /// Returns the descriptor the backend owned, for the caller to close.
    pub fn netdev_del(&mut self, id: &str) -> Result<Option<u64>, QmpError> {
        let pos = self
            .clients
            .iter()
            .position(|c| c.vlan.is_none() && c.name == id && !c.nic)
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, id))?;
        let client = self.clients.remove(pos);
        if let Some(peer) = client.peer {
            if let Some(nic) = self.clients.iter_mut().find(|c| c.name == peer) {
                // The NIC stays with its link down. 0.14 keeps its peer pointer
                // (the backend is cleaned up, not freed), so `info network`
                // still names the old peer.
                nic.link_down = true;
            }
        }
        if let Some(port) = client
            .info
            .strip_prefix("socket: listen=")
            .map(str::to_owned)
        {
            self.listening.retain(|l| *l != port);
        }
        self.netdev_ids.retain(|n| n != id);
        Ok(client.fd)
    }

    /// set_link: VLAN clients by name first, then clients off any VLAN.
    pub fn set_link(&mut self, name: &str, up: bool) -> Result<(), QmpError> {
        let vlans = self.vlans.clone();
        let pos = vlans
            .iter()
            .find_map(|v| {
                self.clients
                    .iter()
                    .position(|c| c.vlan == Some(*v) && c.name == name)
            })
            .or_else(|| {
                self.clients
                    .iter()
                    .position(|c| c.vlan.is_none() && c.name == name)
            })
            .ok_or_else(|| QmpError::with1(ErrorClass::DeviceNotFound, name))?;
        self.clients[pos].link_down = !up;
        Ok(())
    }

    /// `qemu_new_nic` for a card: joins a VLAN or peers with a netdev.
    pub fn add_nic(&mut self, nic: NicSpec<'_>) {
        let mac = nic.mac.unwrap_or_else(|| {
            let mut m = MAC_BASE;
            m[5] = m[5].wrapping_add(self.mac_default_index);
            self.mac_default_index = self.mac_default_index.wrapping_add(1);
            m
        });
        let info = format!(
            "model={},macaddr={}",
            nic.model,
            mac.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        );
        if let Some(v) = nic.vlan {
            self.add_vlan(v);
        }
        let name = match nic.id {
            Some(id) => id.to_owned(),
            None => self.assign_name(nic.model),
        };
        let vlan = if nic.netdev.is_some() { None } else { nic.vlan };
        if let Some(peer) = nic.netdev.and_then(|p| {
            self.clients
                .iter_mut()
                .find(|c| c.vlan.is_none() && c.name == p)
        }) {
            peer.peer = Some(name.clone());
        }
        self.clients.push(NetClient {
            name,
            model: nic.model.to_owned(),
            vlan,
            nic: true,
            link_down: false,
            peer: nic.netdev.map(str::to_owned),
            info,
            device: Some(nic.device),
            fd: None,
            hostfwds: Vec::new(),
        });
    }

    /// A NIC's device went away: its client goes, its netdev is free again.
    pub fn remove_nic(&mut self, device: u64) {
        let Some(pos) = self.clients.iter().position(|c| c.device == Some(device)) else {
            return;
        };
        let nic = self.clients.remove(pos);
        if let Some(backend) = self
            .clients
            .iter_mut()
            .find(|c| !c.nic && c.peer.as_deref() == Some(nic.name.as_str()))
        {
            backend.peer = None;
        }
    }
}

/// What a new NIC needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicSpec<'a> {
    /// Driver name (the client model).
    pub model: &'a str,
    /// qdev id (the client name).
    pub id: Option<&'a str>,
    /// `vlan=`.
    pub vlan: Option<u32>,
    /// `netdev=`.
    pub netdev: Option<&'a str>,
    /// `mac=`.
    pub mac: Option<[u8; 6]>,
    /// The device's uid.
    pub device: u64,
}

/// `net_handle_fd_param`: a name is a descriptor taken from the monitor's
/// `getfd` list (0.14: "No file descriptor named NAME found" otherwise); a
/// number is used as is (no handle to own). Returns the number shown in the
/// info string and the handle taken.
fn fd_param(param: &str, take_fd: TakeFd<'_>) -> Result<(u64, Option<u64>), Option<String>> {
    if !param.starts_with(|c: char| c.is_ascii_digit()) {
        return take_fd(param)
            .map(|h| (h, Some(h)))
            .ok_or_else(|| Some(format!("No file descriptor named {param} found")));
    }
    // `strtol(param, &end, 10)` with the whole-string check.
    let n = cfmt::strtol_full(param).ok_or(None)?;
    let n = u64::try_from(n).map_err(|_| None)?;
    Ok((n, None))
}

/// `net_init_tap`: `fd=` excludes the options that open a device; with it the
/// info string is `fd=N`. Without it the device "opens" with the default
/// scripts.
fn tap_init(
    opts: &[(String, String)],
    take_fd: TakeFd<'_>,
) -> Result<(String, Option<u64>), Option<String>> {
    let Some(fd) = get(opts, "fd") else {
        return Ok((backend_info("tap"), None));
    };
    if ["ifname", "script", "downscript", "vnet_hdr"]
        .iter()
        .any(|k| get(opts, k).is_some())
    {
        return Err(Some(
            "ifname=, script=, downscript= and vnet_hdr= is invalid with fd=".to_owned(),
        ));
    }
    let (number, owned) = fd_param(fd, take_fd)?;
    Ok((format!("fd={number}"), owned))
}

/// The `info_str` of a backend created from options without an address.
fn backend_info(ty: &str) -> String {
    match ty {
        "user" => "net=10.0.2.0, restricted=n".to_owned(),
        "tap" => "ifname=tap0,script=/etc/qemu-ifup,downscript=/etc/qemu-ifdown".to_owned(),
        other => format!("{other}: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::machine::devices::opts;

    /// A default `Net` with one netdev `id` of `pairs` added; every fd name
    /// given is taken as `fd`.
    fn added(id: &str, pairs: &[(&str, &str)], fd: Option<u64>) -> Net {
        let mut n = Net::default();
        n.netdev_add(Some(id), &opts(pairs), &mut |_| fd).unwrap();
        n
    }

    /// Why adding netdev `id` of `pairs` to a default `Net` fails, no fd
    /// name being known.
    fn refused(id: &str, pairs: &[(&str, &str)]) -> NetdevAddError {
        Net::default()
            .netdev_add_reporting(Some(id), &opts(pairs), &mut |_| None)
            .unwrap_err()
    }

    #[test]
    fn host_port_takes_an_empty_dotted_or_localhost_host_and_a_port() {
        let ok: Vec<bool> = [
            ":1234",
            "localhost:1",
            "10.0.0.1:80",
            "10.0.0:80",
            "example.org:80",
            "10.0.0.1:x",
            "1234",
        ]
        .map(host_port_ok)
        .to_vec();
        assert_eq!(ok, [true, true, true, false, false, false, false]);
    }

    #[test]
    fn default_config_has_user_backend_on_vlan0() {
        let n = Net::from_config(&MachineConfig::default());
        assert_eq!(n.clients[0].name, "user.0");
        assert_eq!(n.pending_nics.len(), 1);
    }

    #[test]
    fn netdev_add_without_type_is_missing_type() {
        let mut n = Net::default();
        assert_eq!(
            n.netdev_add(Some("n1"), &[], &mut |_| None),
            Err(QmpError::with1(ErrorClass::MissingParameter, "type"))
        );
    }

    #[test]
    fn netdev_add_bad_type_is_invalid_value() {
        let mut n = Net::default();
        let e = n
            .netdev_add(Some("n1"), &opts(&[("type", "nic")]), &mut |_| None)
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidParameterValue);
    }

    #[test]
    fn netdev_add_without_id_is_missing_id() {
        let mut n = Net::default();
        assert_eq!(
            n.netdev_add(None, &opts(&[("type", "user")]), &mut |_| None),
            Err(QmpError::with1(ErrorClass::MissingParameter, "id"))
        );
    }

    #[test]
    fn netdev_add_unknown_option_is_invalid_parameter() {
        let mut n = Net::default();
        assert_eq!(
            n.netdev_add(
                Some("n1"),
                &opts(&[("type", "user"), ("bogus", "1")]),
                &mut |_| None
            ),
            Err(QmpError::with1(ErrorClass::InvalidParameter, "bogus"))
        );
    }

    #[test]
    fn socket_without_address_fails_init() {
        let mut n = Net::default();
        assert_eq!(
            n.netdev_add(Some("s"), &opts(&[("type", "socket")]), &mut |_| None),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "socket"))
        );
    }

    /// A `Net` with `n` user netdevs `n0`, `n1`, ...
    fn with_netdevs(n: usize) -> Net {
        let mut net = Net::default();
        (0..n).for_each(|i| {
            net.netdev_add(
                Some(&format!("n{i}")),
                &opts(&[("type", "user")]),
                &mut |_| None,
            )
            .expect("room for a net client");
        });
        net
    }

    #[test]
    fn netdev_add_reaching_client_limit_is_accepted() {
        let mut n = with_netdevs(NET_CLIENTS_MAX - 1);
        assert_eq!(
            n.netdev_add(Some("last"), &opts(&[("type", "user")]), &mut |_| None),
            Ok(())
        );
    }

    #[test]
    fn netdev_add_past_client_limit_is_init_failed() {
        let mut n = with_netdevs(NET_CLIENTS_MAX);
        assert_eq!(
            n.netdev_add(Some("past"), &opts(&[("type", "user")]), &mut |_| None),
            Err(QmpError::with1(ErrorClass::DeviceInitFailed, "user"))
        );
    }

    #[test]
    fn netdev_add_past_client_limit_keeps_no_id() {
        let mut n = with_netdevs(NET_CLIENTS_MAX);
        let _ = n.netdev_add(Some("past"), &opts(&[("type", "user")]), &mut |_| None);
        assert!(n.find_netdev("past").is_none());
    }

    #[test]
    fn netdev_add_past_client_limit_with_fd_does_not_take_it() {
        let mut n = with_netdevs(NET_CLIENTS_MAX);
        let mut taken = false;
        let _ = n.netdev_add(
            Some("past"),
            &opts(&[("type", "tap"), ("fd", "tapfd")]),
            &mut |_| {
                taken = true;
                Some(3)
            },
        );
        assert!(!taken);
    }

    #[test]
    fn netdev_del_removes_and_frees_id() {
        let mut n = added("n1", &[("type", "user")], None);
        n.netdev_del("n1").unwrap();
        assert!(n.find_netdev("n1").is_none());
        assert!(n.netdev_ids.is_empty());
    }

    #[test]
    fn set_link_unknown_is_device_not_found() {
        let mut n = Net::default();
        assert_eq!(
            n.set_link("e1000.0", false),
            Err(QmpError::with1(ErrorClass::DeviceNotFound, "e1000.0"))
        );
    }

    #[test]
    fn nics_get_model_dot_n_names_and_macs() {
        let mut n = Net::default();
        let spec = NicSpec {
            model: "e1000",
            id: None,
            vlan: Some(0),
            netdev: None,
            mac: None,
            device: 1,
        };
        n.add_nic(spec);
        n.add_nic(NicSpec { device: 2, ..spec });
        assert_eq!(n.clients[1].name, "e1000.1");
        assert_eq!(n.clients[1].info, "model=e1000,macaddr=52:54:00:12:34:57");
    }

    #[test]
    fn tap_named_fd_is_taken_and_shown() {
        let mut n = Net::default();
        let mut take = |name: &str| (name == "tapfd").then_some(7);
        n.netdev_add(
            Some("t"),
            &opts(&[("type", "tap"), ("fd", "tapfd")]),
            &mut take,
        )
        .unwrap();
        assert_eq!(
            (n.clients[0].info.as_str(), n.clients[0].fd),
            ("fd=7", Some(7))
        );
    }

    #[test]
    fn tap_unknown_fd_name_fails_init_with_report() {
        assert_eq!(
            refused("t", &[("type", "tap"), ("fd", "nosuch")]),
            NetdevAddError {
                error: QmpError::with1(ErrorClass::DeviceInitFailed, "tap"),
                report: Some("No file descriptor named nosuch found".to_owned()),
            }
        );
    }

    #[test]
    fn tap_fd_with_ifname_is_refused_before_taking_the_fd() {
        let mut n = Net::default();
        let mut taken = false;
        let mut take = |_: &str| {
            taken = true;
            Some(7)
        };
        let e = n
            .netdev_add_reporting(
                Some("t"),
                &opts(&[("type", "tap"), ("fd", "f"), ("ifname", "tap1")]),
                &mut take,
            )
            .unwrap_err();
        assert!(e.report.is_some_and(|r| r.starts_with("ifname=, script=")));
        assert!(!taken);
    }

    #[test]
    fn tap_numeric_fd_is_used_as_is() {
        let n = added("t", &[("type", "tap"), ("fd", "3")], None);
        assert_eq!(
            (n.clients[0].info.as_str(), n.clients[0].fd),
            ("fd=3", None)
        );
    }

    #[test]
    fn socket_named_fd_is_taken() {
        let n = added("s", &[("type", "socket"), ("fd", "sk")], Some(4));
        assert_eq!(n.clients[0].info, "socket: fd=4");
    }

    #[test]
    fn socket_listen_with_connect_reports_conflict() {
        let e = refused(
            "s",
            &[("type", "socket"), ("listen", ":1"), ("connect", ":2")],
        );
        assert_eq!(
            e.report.as_deref(),
            Some("fd=, connect=, mcast= and localaddr= is invalid with listen=\n")
        );
    }

    #[test]
    fn netdev_del_returns_owned_fd() {
        let mut n = added("t", &[("type", "tap"), ("fd", "f")], Some(9));
        assert_eq!(n.netdev_del("t"), Ok(Some(9)));
    }

    #[test]
    fn bool_option_takes_only_on_or_off() {
        assert_eq!(
            refused("t", &[("type", "tap"), ("vnet_hdr", "yes")]).error,
            QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "vnet_hdr",
                "'on' or 'off'"
            )
        );
        let n = added("t", &[("type", "tap"), ("vnet_hdr", "off")], None);
        assert_eq!(n.clients.len(), 1);
    }

    #[test]
    fn size_option_takes_a_number_with_an_optional_unit() {
        // parse_option_size looks at the first character after strtod's
        // prefix only, so a bare unit is 0 and "1Mb" is 1M.
        for size in ["65536", "1.5M", "2k", "1G", "M", "1Mb"] {
            let n = added("t", &[("type", "tap"), ("sndbuf", size)], None);
            assert_eq!(n.clients.len(), 1, "{size}");
        }
        for size in ["1x", "x", "-"] {
            assert_eq!(
                refused("t", &[("type", "tap"), ("sndbuf", size)]).error,
                QmpError::with2(ErrorClass::InvalidParameterValue, "sndbuf", "a size"),
                "{size}"
            );
        }
    }

    #[test]
    fn each_net_nic_of_the_command_line_takes_an_nd_table_entry() {
        let nic = OptionList::from_iter([("type", "nic")]);
        let n = Net::from_config(&MachineConfig {
            nets: vec![nic.clone(), nic.clone(), nic],
            ..MachineConfig::default()
        });
        assert_eq!((n.pending_nics.len(), n.nd_table_used), (3, 3));
    }

    #[test]
    fn a_user_netdev_whose_rule_fails_goes_and_only_it() {
        let mut n = Net::from_config(&MachineConfig::default());
        let e = n
            .netdev_add_reporting(
                Some("u2"),
                &opts(&[("type", "user"), ("hostfwd", "bogus")]),
                &mut |_| None,
            )
            .unwrap_err();
        assert_eq!(
            e.error,
            QmpError::with1(ErrorClass::DeviceInitFailed, "user")
        );
        let names: Vec<&str> = n.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["user.0"]);
    }

    #[test]
    fn host_net_remove_of_a_backend_prints_nothing_and_removes_it() {
        let mut n = Net::from_config(&MachineConfig::default());
        assert_eq!(n.host_net_remove(0, "user.0"), "");
        assert!(n.clients.is_empty());
        assert_eq!(
            n.host_net_remove(0, "user.0"),
            "can't find device user.0 on VLAN 0\n"
        );
    }

    #[test]
    fn a_listening_port_is_taken_once_and_freed_by_its_own_removal() {
        let listen = |port: &str| {
            OptionList::from_iter([("type", "socket"), ("listen", port), ("vlan", "0")])
        };
        let mut n = Net::default();
        n.host_net_add(&listen(":5000")).unwrap();
        n.host_net_add(&listen(":5001")).unwrap();
        assert!(n.host_net_add(&listen(":5000")).is_err(), "taken");
        assert_eq!(n.listening, [":5000", ":5001"]);
        let first = n.clients[0].name.clone();
        assert_eq!(n.host_net_remove(0, &first), "");
        assert_eq!(n.listening, [":5001"]);
        n.host_net_add(&listen(":5000")).unwrap();
    }

    /// A user netdev `n1` with an e1000 NIC `nic` of qdev `device` on it.
    fn nic_on_n1(device: u64) -> Net {
        let mut n = added("n1", &[("type", "user")], None);
        n.add_nic(NicSpec {
            model: "e1000",
            id: Some("nic"),
            vlan: None,
            netdev: Some("n1"),
            mac: None,
            device,
        });
        n
    }

    #[test]
    fn remove_nic_drops_its_client_and_frees_its_netdev() {
        let mut n = nic_on_n1(7);
        n.remove_nic(7);
        assert_eq!(
            n.clients
                .iter()
                .map(|c| (c.name.as_str(), c.peer.as_deref()))
                .collect::<Vec<_>>(),
            [("n1", None)]
        );
    }

    #[test]
    fn netdev_del_of_peered_backend_keeps_nic_peer_name() {
        let mut n = nic_on_n1(1);
        n.netdev_del("n1").unwrap();
        let nic = &n.clients[0];
        assert_eq!((nic.peer.as_deref(), nic.link_down), (Some("n1"), true));
    }
}
