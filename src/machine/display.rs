//! Display servers and the screen: the VNC server (`-vnc`, `change vnc`), the
//! SPICE server (`-spice`), their passwords, and the picture `screendump` saves.
//!
//! Models 0.14's `ui/vnc.c` (`vnc_display_open`, `vnc_display_password`,
//! `do_info_vnc`), `ui/spice-core.c` (`qemu_spice_init`, `do_info_spice`) and
//! `hw/vga.c`'s PPM dump. There are no real display sockets: the listening
//! address a display string names is computed, never bound, so host name
//! resolution and x509 file checks are not performed (see `docs/compat.md`).
//! Plain serde data, no I/O; screen pixels are a pure function of the seed.
//!
//! Connected clients ([`VncClient`], [`SpiceChannel`]) come from the simulated
//! world (the `x-vnc-client` and `x-spice-client` extension commands, see
//! `machine::inject`); this file keeps them and builds the `server`/`client`
//! objects their events and `query-vnc`/`query-spice` carry, inserting keys in
//! 0.14's order (the wire layer applies the hash order). VNC clients are kept
//! newest first and SPICE channels oldest first, as 0.14's lists are.

use serde::{Deserialize, Serialize};

use super::clock::VirtualTime;
use super::config::MachineConfig;
use crate::qobject::{QDict, QObject};

/// First VNC port: display `:N` listens on `VNC_PORT_BASE + N`.
pub const VNC_PORT_BASE: i64 = 5900;
/// Bytes of a password `change vnc password` keeps (0.14 copies into `char[9]`).
pub const VNC_CHANGE_PASSWORD_BYTES_MAX: usize = 8;
/// Longest host part `inet_parse` accepts (`%64[...]`).
pub const INET_HOST_BYTES_MAX: usize = 64;
/// Longest port part `inet_parse` accepts (`%32[^,]`).
pub const INET_PORT_BYTES_MAX: usize = 32;
/// Size of getnameinfo's service buffer (`NI_MAXSERV`): a unix socket path this
/// long or longer cannot be reported, so 0.14's `query-vnc` returns `{}`.
pub const NI_MAXSERV_BYTES: usize = 32;
/// Size of getnameinfo's host buffer (`NI_MAXHOST`): a client host this long or
/// longer cannot be reported.
pub const NI_MAXHOST_BYTES: usize = 1025;
/// Most VNC clients connected at once (0.14 is limited only by open files).
pub const VNC_CLIENTS_MAX: usize = 64;
/// Most SPICE channel connections at once (0.14 is limited only by open files).
pub const SPICE_CHANNELS_MAX: usize = 64;
/// `SPICE_CHANNEL_MAIN`, the channel type a SPICE session starts with.
pub const SPICE_CHANNEL_MAIN: u8 = 1;
/// The family names 0.14's `inet_strfamily` gives.
pub const ADDRESS_FAMILIES: &[&str] = &["ipv4", "ipv6", "unix", "unknown"];
/// `time_t` "never" (0.14's `TIME_MAX`).
pub const TIME_NEVER_S: i64 = i64::MAX;
/// Text mode screen size (80x25 cells of 9x16 pixels), before the guest runs.
pub const TEXT_MODE_PX: (u32, u32) = (720, 400);
/// Graphics mode screen size, once the guest has booted.
pub const GRAPHICS_MODE_PX: (u32, u32) = (1024, 768);
/// Virtual time the guest runs before it leaves VGA text mode.
pub const BOOT_TO_GRAPHICS_NS: u64 = 5 * VirtualTime::NS_PER_S;

/// Why a VNC display string could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VncOpenError {
    /// `x509` given without `=PATH`.
    #[error("No certificate path provided")]
    X509PathMissing,
    /// The address part did not parse (0.14's `inet_parse`).
    #[error("Bad VNC address '{0}'")]
    BadAddress(String),
    /// The address parsed but cannot be listened on.
    #[error("Cannot listen on '{0}'")]
    CannotListen(String),
}

/// The VNC authentication scheme (`vnc_auth_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VncAuth {
    /// After `vnc_display_close` (display `none`).
    Invalid,
    /// No authentication.
    None,
    /// Classic VNC password.
    Vnc,
    /// SASL.
    Sasl,
    /// VeNCrypt with a sub-scheme.
    Vencrypt(VencryptAuth),
}

/// VeNCrypt sub-schemes 0.14 sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VencryptAuth {
    /// `tls`.
    TlsNone,
    /// `tls,password`.
    TlsVnc,
    /// `tls,sasl`.
    TlsSasl,
    /// `tls,x509=...`.
    X509None,
    /// `tls,x509=...,password`.
    X509Vnc,
    /// `tls,x509=...,sasl`.
    X509Sasl,
}

impl VncAuth {
    /// The name `query-vnc` reports.
    pub fn name(self) -> &'static str {
        match self {
            VncAuth::Invalid => "invalid",
            VncAuth::None => "none",
            VncAuth::Vnc => "vnc",
            VncAuth::Sasl => "sasl",
            VncAuth::Vencrypt(VencryptAuth::TlsNone) => "vencrypt+tls+none",
            VncAuth::Vencrypt(VencryptAuth::TlsVnc) => "vencrypt+tls+vnc",
            VncAuth::Vencrypt(VencryptAuth::TlsSasl) => "vencrypt+tls+sasl",
            VncAuth::Vencrypt(VencryptAuth::X509None) => "vencrypt+x509+none",
            VncAuth::Vencrypt(VencryptAuth::X509Vnc) => "vencrypt+x509+vnc",
            VncAuth::Vencrypt(VencryptAuth::X509Sasl) => "vencrypt+x509+sasl",
        }
    }
}

/// Where an open VNC display is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VncListen {
    /// Listening on TCP.
    Inet {
        /// Numeric host as getnameinfo prints it.
        host: String,
        /// `ipv4` or `ipv6`.
        family: String,
        /// Port as a decimal string.
        service: String,
    },
    /// Listening on a unix socket.
    Unix {
        /// Socket path.
        path: String,
    },
    /// `reverse`: connected out to a viewer, so there is no listening socket.
    Reverse,
    /// The display string was kept but listening failed (0.14 leaves `display`
    /// set with no socket).
    Broken,
}

/// The VNC server, present once `-vnc` was given (even `-vnc none`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncServer {
    /// The open display; `None` when closed (`none`), which `query-vnc` shows as
    /// `{"enabled": false}`.
    pub listen: Option<VncListen>,
    /// Authentication scheme.
    pub auth: VncAuth,
    /// The password, as bytes (never echoed back).
    pub password: Option<Vec<u8>>,
    /// Password expiry, `time_t` seconds.
    pub expires_s: i64,
    /// Connected clients, newest first (0.14 inserts at the head of
    /// `vd->clients`). Reopening the display keeps them, as in 0.14.
    pub clients: Vec<VncClient>,
}

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
    /// 0.14's `put_addr_qdict` / `add_addr_info`: host, port, family, with the
    /// port under `port_key` (`service` for VNC, `port` for SPICE).
    pub fn put_into(&self, d: &mut QDict, port_key: &str) {
        d.put("host", self.host.as_str());
        d.put(port_key, self.service.as_str());
        d.put("family", self.family.as_str());
    }

    /// `HOST:PORT`, how clients are named in errors.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.service)
    }
}

/// One VNC client: its address and what its authentication revealed
/// (`VncState.info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncClient {
    /// The client's address.
    pub addr: SockAddr,
    /// The x509 distinguished name of its certificate (x509 schemes only).
    pub x509_dname: Option<String>,
    /// Its SASL user name (SASL schemes only).
    pub sasl_username: Option<String>,
}

impl VncClient {
    /// `client->info` as `vnc_client_cache_addr` builds it (host, service,
    /// family) plus, once authenticated (`initialized`), what
    /// `vnc_client_cache_auth` adds.
    pub fn info(&self, initialized: bool) -> QDict {
        let mut d = QDict::new();
        self.addr.put_into(&mut d, "service");
        if initialized {
            if let Some(dn) = &self.x509_dname {
                d.put("x509_dname", dn.as_str());
            }
            if let Some(user) = &self.sasl_username {
                d.put("sasl_username", user.as_str());
            }
        }
        d
    }
}

impl VncServer {
    /// A server with no display open.
    pub fn closed() -> Self {
        VncServer {
            listen: None,
            auth: VncAuth::Invalid,
            password: None,
            expires_s: TIME_NEVER_S,
            clients: Vec::new(),
        }
    }

    /// The listening address `vnc_server_addr_put` reports; `None` when there
    /// is none getnameinfo can print (no display, reverse mode, a failed
    /// open, a unix path of [`NI_MAXSERV_BYTES`] or more).
    pub fn server_address(&self) -> Option<SockAddr> {
        match self.listen.as_ref()? {
            VncListen::Inet {
                host,
                family,
                service,
            } => Some(SockAddr {
                host: host.clone(),
                service: service.clone(),
                family: family.clone(),
            }),
            VncListen::Unix { path } if path.len() < NI_MAXSERV_BYTES => Some(SockAddr {
                host: "localhost".to_owned(),
                service: path.clone(),
                family: "unix".to_owned(),
            }),
            VncListen::Unix { .. } | VncListen::Reverse | VncListen::Broken => None,
        }
    }

    /// `vnc_server_info_put`: the listening address, then `auth`.
    pub fn server_info(&self) -> Option<QDict> {
        let mut d = QDict::new();
        self.server_address()?.put_into(&mut d, "service");
        d.put("auth", self.auth.name());
        Some(d)
    }

    /// Whether the scheme checks an x509 client certificate, so a client has
    /// an `x509_dname`.
    pub fn auth_uses_x509_dname(&self) -> bool {
        matches!(
            self.auth,
            VncAuth::Vencrypt(
                VencryptAuth::X509None | VencryptAuth::X509Vnc | VencryptAuth::X509Sasl
            )
        )
    }

    /// Whether the scheme is SASL, so a client has a `sasl_username`.
    pub fn auth_uses_sasl_username(&self) -> bool {
        matches!(
            self.auth,
            VncAuth::Sasl | VncAuth::Vencrypt(VencryptAuth::TlsSasl | VencryptAuth::X509Sasl)
        )
    }

    /// The client at `host`:`service`, if connected.
    pub fn client_index(&self, host: &str, service: &str) -> Option<usize> {
        self.clients
            .iter()
            .position(|c| c.addr.host == host && c.addr.service == service)
    }

    /// `query-vnc`'s `clients`: every client's `info`, newest first.
    pub fn clients_list(&self) -> QObject {
        QObject::List(
            self.clients
                .iter()
                .map(|c| QObject::Dict(c.info(true)))
                .collect(),
        )
    }

    /// `vnc_display_open`: closes the current display, then opens `display`.
    /// On an address error the display is left [`VncListen::Broken`], as in 0.14.
    pub fn open(&mut self, display: &str) -> Result<(), VncOpenError> {
        self.listen = None;
        self.auth = VncAuth::Invalid;
        if display == "none" {
            return Ok(());
        }
        let flags = VncFlags::parse(display);
        if flags.x509 && !flags.x509_path {
            return Err(VncOpenError::X509PathMissing);
        }
        self.auth = flags.auth();
        if flags.reverse {
            self.listen = Some(VncListen::Reverse);
            return Ok(());
        }
        match listen_address(display) {
            Ok(listen) => {
                self.listen = Some(listen);
                Ok(())
            }
            Err(e) => {
                self.listen = Some(VncListen::Broken);
                Err(e)
            }
        }
    }

    /// `vnc_display_password`: a non-empty password turns `none` into `vnc`
    /// auth; an empty one turns authentication off.
    pub fn set_password(&mut self, password: &[u8]) {
        if password.is_empty() {
            self.password = None;
            self.auth = VncAuth::None;
            return;
        }
        self.password = Some(password.to_vec());
        if self.auth == VncAuth::None {
            self.auth = VncAuth::Vnc;
        }
    }
}

/// The `,option` flags of a VNC display string (0.14 matches each by prefix).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct VncFlags {
    password: bool,
    reverse: bool,
    sasl: bool,
    tls: bool,
    x509: bool,
    x509_path: bool,
}

impl VncFlags {
    fn parse(display: &str) -> Self {
        let mut f = VncFlags::default();
        for opt in display.split(',').skip(1) {
            if opt.starts_with("password") {
                f.password = true;
            } else if opt.starts_with("reverse") {
                f.reverse = true;
            } else if opt.starts_with("sasl") {
                f.sasl = true;
            } else if opt.starts_with("tls") {
                f.tls = true;
            } else if opt.starts_with("x509") {
                f.x509 = true;
                f.x509_path = opt.contains('=');
            }
        }
        f
    }

    fn auth(self) -> VncAuth {
        let sub = |x509, tls| {
            if self.x509 {
                VncAuth::Vencrypt(x509)
            } else {
                VncAuth::Vencrypt(tls)
            }
        };
        match (self.password, self.sasl, self.tls) {
            (true, _, true) => sub(VencryptAuth::X509Vnc, VencryptAuth::TlsVnc),
            (true, _, false) => VncAuth::Vnc,
            (false, true, true) => sub(VencryptAuth::X509Sasl, VencryptAuth::TlsSasl),
            (false, true, false) => VncAuth::Sasl,
            (false, false, true) => sub(VencryptAuth::X509None, VencryptAuth::TlsNone),
            (false, false, false) => VncAuth::None,
        }
    }
}

/// Where a (non-reverse) display string listens.
fn listen_address(display: &str) -> Result<VncListen, VncOpenError> {
    if let Some(rest) = display.strip_prefix("unix:") {
        let path = rest.split(',').next().unwrap_or_default();
        let path = if path.is_empty() {
            // unix_listen_opts makes a temporary name with mkstemp; ours is fixed.
            "/tmp/qemu-socket-000000".to_owned()
        } else {
            path.to_owned()
        };
        return Ok(VncListen::Unix { path });
    }
    let bad = || VncOpenError::BadAddress(display.to_owned());
    let parsed = parse_inet(display).ok_or_else(bad)?;
    let port = atoi(&parsed.port).saturating_add(VNC_PORT_BASE);
    let cannot = || VncOpenError::CannotListen(display.to_owned());
    if !(1..=65535).contains(&port) {
        return Err(cannot());
    }
    let (host, family) = match parsed.host {
        InetHost::Any if parsed.opts.contains(",ipv6") => ("::".to_owned(), "ipv6"),
        InetHost::Any => ("0.0.0.0".to_owned(), "ipv4"),
        InetHost::V6(h) => (h, "ipv6"),
        InetHost::V4(h) => (format_ipv4(inet_aton(&h).ok_or_else(cannot)?), "ipv4"),
        InetHost::Name(h) if h == "localhost" => ("127.0.0.1".to_owned(), "ipv4"),
        InetHost::Name(h) => (h, "ipv4"),
    };
    Ok(VncListen::Inet {
        host,
        family: family.to_owned(),
        service: port.to_string(),
    })
}

/// The host part of an `inet_parse` address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InetHost {
    /// `:port`: every address.
    Any,
    /// `[addr]:port`.
    V6(String),
    /// Digits and dots.
    V4(String),
    /// A host name.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InetAddr {
    host: InetHost,
    port: String,
    /// What follows the port (`,to=99,ipv6` ...).
    opts: String,
}

/// 0.14's `inet_parse`, sscanf patterns and length limits included.
fn parse_inet(s: &str) -> Option<InetAddr> {
    let (host, rest) = if let Some(r) = s.strip_prefix(':') {
        (InetHost::Any, r)
    } else if let Some(r) = s.strip_prefix('[') {
        let (h, r) = r.split_once(']')?;
        if h.is_empty() || h.len() > INET_HOST_BYTES_MAX {
            return None;
        }
        (InetHost::V6(h.to_owned()), r.strip_prefix(':')?)
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if end > INET_HOST_BYTES_MAX {
            return None;
        }
        (
            InetHost::V4(s[..end].to_owned()),
            s[end..].strip_prefix(':')?,
        )
    } else {
        let (h, r) = s.split_once(':')?;
        if h.is_empty() || h.len() > INET_HOST_BYTES_MAX {
            return None;
        }
        (InetHost::Name(h.to_owned()), r)
    };
    let port_end = rest.find(',').unwrap_or(rest.len());
    let port_end = port_end.min(INET_PORT_BYTES_MAX);
    let port_end = (0..=port_end)
        .rev()
        .find(|&i| rest.is_char_boundary(i))
        .unwrap_or(0);
    if port_end == 0 {
        return None;
    }
    Some(InetAddr {
        host,
        port: rest[..port_end].to_owned(),
        opts: rest[port_end..].to_owned(),
    })
}

/// C `atoi`: optional whitespace and sign, then digits; anything else stops it.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// C `inet_aton` on a string of digits and dots: one to four parts, a leading
/// `0` means octal, the last part fills the remaining bytes.
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = match p.strip_prefix('0') {
            Some(r) if !r.is_empty() => (r, 8),
            _ => (*p, 10),
        };
        values.push(u32::from_str_radix(digits, radix).ok()?);
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let last_bits = 8 * (4 - u32::try_from(head.len()).ok()?);
    if last_bits < 32 && *last >> last_bits != 0 {
        return None;
    }
    let mut addr: u32 = *last;
    for (i, &v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * u32::try_from(i).ok()?);
    }
    Some(addr.to_be_bytes())
}

/// Dotted-quad form of an IPv4 address.
pub fn format_ipv4(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

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

impl SpiceChannel {
    /// 0.14's `add_channel_info`.
    fn put_channel_info(&self, d: &mut QDict) {
        d.put("connection-id", i64::from(self.connection_id));
        d.put("channel-type", i64::from(self.channel_type));
        d.put("channel-id", i64::from(self.channel_id));
        d.put("tls", self.tls);
    }

    /// An event's `client`: the address, plus the channel info for
    /// SPICE_INITIALIZED.
    pub fn client_info(&self, initialized: bool) -> QDict {
        let mut d = QDict::new();
        self.client.put_into(&mut d, "port");
        if initialized {
            self.put_channel_info(&mut d);
        }
        d
    }

    /// An event's `server`: the address, plus `auth` for SPICE_INITIALIZED.
    pub fn server_info(&self, auth: Option<SpiceAuth>) -> QDict {
        let mut d = QDict::new();
        self.server.put_into(&mut d, "port");
        if let Some(auth) = auth {
            d.put("auth", auth.name());
        }
        d
    }
}

/// `qemu_opt_get_number`: an unsigned decimal, else the default 0.
fn opt_number(v: Option<&str>) -> i64 {
    v.and_then(|s| s.parse::<u64>().ok())
        .map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl SpiceServer {
    /// The server a `-spice` option list describes.
    pub fn from_options(opts: &super::config::OptionList) -> Self {
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

    /// `query-spice`'s `channels` (`channel_list_get`): per channel the client
    /// address and the channel info, oldest first.
    pub fn channels_list(&self) -> QObject {
        QObject::List(
            self.channels
                .iter()
                .map(|c| QObject::Dict(c.client_info(true)))
                .collect(),
        )
    }
}

/// VGA mode, which decides the screen size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenMode {
    /// 80x25 text, 720x400 pixels.
    Text,
    /// The guest's graphical desktop, 1024x768 pixels.
    Graphics,
}

impl ScreenMode {
    /// Width and height in pixels.
    pub fn size_px(self) -> (u32, u32) {
        match self {
            ScreenMode::Text => TEXT_MODE_PX,
            ScreenMode::Graphics => GRAPHICS_MODE_PX,
        }
    }
}

/// The screen: text mode until the guest has run [`BOOT_TO_GRAPHICS_NS`] since
/// it was last started from firmware (machine start or reset).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Screen {
    /// When the guest last started booting; `None` while it never ran (`-S`).
    pub boot_started_at: Option<VirtualTime>,
}

impl Screen {
    /// The mode at virtual time `now`.
    pub fn mode(&self, now: VirtualTime) -> ScreenMode {
        match self.boot_started_at {
            Some(t) if now.0.saturating_sub(t.0) >= BOOT_TO_GRAPHICS_NS => ScreenMode::Graphics,
            Some(_) | None => ScreenMode::Text,
        }
    }
}

/// A binary PPM (P6) of the screen in `mode`, pixels derived from the seed:
/// text mode shows a few light-grey "characters" on black, graphics mode a
/// gradient tinted by the seed.
pub fn render_ppm(seed: u64, mode: ScreenMode) -> Vec<u8> {
    let (w, h) = mode.size_px();
    let header = format!("P6\n{w} {h}\n255\n");
    let pixels = usize::try_from(u64::from(w) * u64::from(h) * 3).unwrap_or(0);
    let mut out = Vec::with_capacity(header.len() + pixels);
    out.extend_from_slice(header.as_bytes());
    let tint = seed.to_le_bytes();
    for y in 0..h {
        for x in 0..w {
            out.extend_from_slice(&pixel(seed, &tint, mode, (x, y), (w, h)));
        }
    }
    out
}

fn pixel(seed: u64, tint: &[u8; 8], mode: ScreenMode, xy: (u32, u32), wh: (u32, u32)) -> [u8; 3] {
    let (x, y) = xy;
    match mode {
        ScreenMode::Text => {
            let (col, row) = (x / 9, y / 16);
            let lit =
                row < 2 && x % 9 < 8 && (seed.rotate_left(col % 64) ^ u64::from(row)) & 1 == 1;
            if lit {
                [0xAA, 0xAA, 0xAA]
            } else {
                [0, 0, 0]
            }
        }
        ScreenMode::Graphics => {
            let gx = u8::try_from(x * 255 / wh.0.max(1)).unwrap_or(u8::MAX);
            let gy = u8::try_from(y * 255 / wh.1.max(1)).unwrap_or(u8::MAX);
            [gx ^ tint[0], gy ^ tint[1], tint[2]]
        }
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
    use crate::machine::config::OptionList;

    fn opened(display: &str) -> VncServer {
        let mut s = VncServer::closed();
        s.open(display).expect("display opens");
        s
    }

    fn inet(host: &str, family: &str, service: &str) -> Option<VncListen> {
        Some(VncListen::Inet {
            host: host.into(),
            family: family.into(),
            service: service.into(),
        })
    }

    #[test]
    fn open_display_zero_listens_on_any_5900() {
        assert_eq!(opened(":0").listen, inet("0.0.0.0", "ipv4", "5900"));
    }

    #[test]
    fn open_localhost_resolves_to_loopback() {
        assert_eq!(
            opened("localhost:0,to=99").listen,
            inet("127.0.0.1", "ipv4", "5900")
        );
    }

    #[test]
    fn open_numeric_host_is_normalised_like_inet_aton() {
        assert_eq!(opened("127.1:3").listen, inet("127.0.0.1", "ipv4", "5903"));
    }

    #[test]
    fn open_ipv6_bracket_host_is_ipv6() {
        assert_eq!(opened("[::1]:1").listen, inet("::1", "ipv6", "5901"));
    }

    #[test]
    fn open_any_with_ipv6_flag_listens_on_ipv6_any() {
        assert_eq!(opened(":2,ipv6").listen, inet("::", "ipv6", "5902"));
    }

    #[test]
    fn open_unix_keeps_path_before_options() {
        assert_eq!(
            opened("unix:/tmp/v.sock,password").listen,
            Some(VncListen::Unix {
                path: "/tmp/v.sock".into()
            })
        );
    }

    #[test]
    fn open_none_closes_display() {
        let mut s = opened(":0");
        s.open("none").unwrap();
        assert_eq!((s.listen, s.auth), (None, VncAuth::Invalid));
    }

    #[test]
    fn open_without_port_is_bad_address_and_broken() {
        let mut s = VncServer::closed();
        assert_eq!(s.open("foo"), Err(VncOpenError::BadAddress("foo".into())));
        assert_eq!(s.listen, Some(VncListen::Broken));
    }

    #[test]
    fn open_port_past_65535_cannot_listen() {
        let mut s = VncServer::closed();
        assert_eq!(
            s.open(":59636"),
            Err(VncOpenError::CannotListen(":59636".into()))
        );
    }

    #[test]
    fn open_highest_port_listens() {
        assert_eq!(opened(":59635").listen, inet("0.0.0.0", "ipv4", "65535"));
    }

    /// `parse_inet`'s host, `None` when the address is refused.
    fn inet_host(s: &str) -> Option<InetHost> {
        parse_inet(s).map(|a| a.host)
    }

    #[test]
    fn parse_inet_name_host_at_limit_is_accepted() {
        let host = "h".repeat(INET_HOST_BYTES_MAX);
        assert_eq!(inet_host(&format!("{host}:1")), Some(InetHost::Name(host)));
    }

    #[test]
    fn parse_inet_name_host_past_limit_is_refused() {
        let host = "h".repeat(INET_HOST_BYTES_MAX + 1);
        assert_eq!(inet_host(&format!("{host}:1")), None);
    }

    #[test]
    fn parse_inet_ipv6_host_at_limit_is_accepted() {
        let host = "a".repeat(INET_HOST_BYTES_MAX);
        assert_eq!(inet_host(&format!("[{host}]:1")), Some(InetHost::V6(host)));
    }

    #[test]
    fn parse_inet_ipv6_host_past_limit_is_refused() {
        let host = "a".repeat(INET_HOST_BYTES_MAX + 1);
        assert_eq!(inet_host(&format!("[{host}]:1")), None);
    }

    #[test]
    fn parse_inet_ipv4_host_at_limit_is_accepted() {
        let host = "1".repeat(INET_HOST_BYTES_MAX);
        assert_eq!(inet_host(&format!("{host}:1")), Some(InetHost::V4(host)));
    }

    #[test]
    fn parse_inet_ipv4_host_past_limit_is_refused() {
        let host = "1".repeat(INET_HOST_BYTES_MAX + 1);
        assert_eq!(inet_host(&format!("{host}:1")), None);
    }

    #[test]
    fn parse_inet_port_at_limit_is_kept_whole() {
        let port = "1".repeat(INET_PORT_BYTES_MAX);
        let a = parse_inet(&format!(":{port}")).expect("address parses");
        assert_eq!((a.port, a.opts), (port, String::new()));
    }

    #[test]
    fn parse_inet_port_past_limit_leaves_the_rest_as_options() {
        // sscanf's `%32[^,]` stops after 32 bytes; `%n` then points at the 33rd.
        let port = "1".repeat(INET_PORT_BYTES_MAX);
        let a = parse_inet(&format!(":{port}2")).expect("address parses");
        assert_eq!((a.port, a.opts), (port, "2".to_owned()));
    }

    #[test]
    fn parse_inet_port_past_limit_is_cut_before_a_split_character() {
        let port = "1".repeat(INET_PORT_BYTES_MAX - 1);
        let a = parse_inet(&format!(":{port}é")).expect("address parses");
        assert_eq!((a.port, a.opts), (port, "é".to_owned()));
    }

    #[test]
    fn open_x509_without_path_fails_closed() {
        let mut s = VncServer::closed();
        assert_eq!(s.open(":0,tls,x509"), Err(VncOpenError::X509PathMissing));
        assert_eq!(s.listen, None);
    }

    #[test]
    fn open_reverse_has_no_listening_socket() {
        assert_eq!(
            opened("127.0.0.1:5500,reverse").listen,
            Some(VncListen::Reverse)
        );
    }

    #[test]
    fn auth_names_follow_option_combinations() {
        let names: Vec<&str> = [
            ":0",
            ":0,password",
            ":0,sasl",
            ":0,tls",
            ":0,tls,password",
            ":0,tls,sasl",
            ":0,tls,x509=/c",
            ":0,tls,x509verify=/c,password",
            ":0,tls,x509=/c,sasl",
        ]
        .iter()
        .map(|d| opened(d).auth.name())
        .collect();
        assert_eq!(
            names,
            [
                "none",
                "vnc",
                "sasl",
                "vencrypt+tls+none",
                "vencrypt+tls+vnc",
                "vencrypt+tls+sasl",
                "vencrypt+x509+none",
                "vencrypt+x509+vnc",
                "vencrypt+x509+sasl"
            ]
        );
    }

    #[test]
    fn set_password_on_no_auth_switches_to_vnc_auth() {
        let mut s = opened(":0");
        s.set_password(b"secret");
        assert_eq!(s.auth, VncAuth::Vnc);
    }

    #[test]
    fn set_empty_password_turns_auth_off() {
        let mut s = opened(":0,password");
        s.set_password(b"");
        assert_eq!((s.auth, s.password), (VncAuth::None, None));
    }

    #[test]
    fn atoi_stops_at_first_non_digit() {
        assert_eq!((atoi(" 12x"), atoi("-3"), atoi("x")), (12, -3, 0));
    }

    #[test]
    fn inet_aton_accepts_short_and_octal_forms() {
        assert_eq!(inet_aton("0"), Some([0, 0, 0, 0]));
        assert_eq!(inet_aton("10.010"), Some([10, 0, 0, 8]));
        assert_eq!(inet_aton("1.2.3.4"), Some([1, 2, 3, 4]));
    }

    #[test]
    fn inet_aton_rejects_out_of_range_parts() {
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("1..2"), None);
    }

    #[test]
    fn spice_defaults_host_less_and_ticketing() {
        let mut o = OptionList::default();
        o.push("port", "5930");
        let s = SpiceServer::from_options(&o);
        assert_eq!((s.port, s.tls_port, s.auth), (5930, 0, SpiceAuth::Spice));
    }

    #[test]
    fn spice_disable_ticketing_means_auth_none() {
        let mut o = OptionList::default();
        o.push("port", "5930");
        o.push("disable-ticketing", "on");
        assert_eq!(SpiceServer::from_options(&o).auth, SpiceAuth::None);
    }

    #[test]
    fn screen_before_boot_is_text_mode() {
        let s = Screen::default();
        assert_eq!(s.mode(VirtualTime(u64::MAX)), ScreenMode::Text);
    }

    #[test]
    fn screen_at_boot_delay_is_graphics_mode() {
        let s = Screen {
            boot_started_at: Some(VirtualTime(7)),
        };
        assert_eq!(
            s.mode(VirtualTime(7 + BOOT_TO_GRAPHICS_NS - 1)),
            ScreenMode::Text
        );
        assert_eq!(
            s.mode(VirtualTime(7 + BOOT_TO_GRAPHICS_NS)),
            ScreenMode::Graphics
        );
    }

    #[test]
    fn render_ppm_has_p6_header_and_full_size() {
        let ppm = render_ppm(1, ScreenMode::Text);
        assert!(ppm.starts_with(b"P6\n720 400\n255\n"));
        assert_eq!(ppm.len(), "P6\n720 400\n255\n".len() + 720 * 400 * 3);
    }

    #[test]
    fn render_ppm_depends_on_seed() {
        assert_ne!(
            render_ppm(1, ScreenMode::Graphics),
            render_ppm(2, ScreenMode::Graphics)
        );
    }

    #[test]
    fn server_address_of_unix_display_is_localhost_path() {
        assert_eq!(
            opened("unix:/tmp/v.sock").server_address(),
            Some(SockAddr {
                host: "localhost".into(),
                service: "/tmp/v.sock".into(),
                family: "unix".into()
            })
        );
    }

    #[test]
    fn server_address_of_reverse_display_is_none() {
        assert_eq!(opened("127.0.0.1:5500,reverse").server_address(), None);
    }

    #[test]
    fn auth_field_use_follows_scheme() {
        let uses = |d: &str| {
            let s = opened(d);
            (s.auth_uses_x509_dname(), s.auth_uses_sasl_username())
        };
        assert_eq!(
            [
                uses(":0"),
                uses(":0,sasl"),
                uses(":0,tls,x509=/c"),
                uses(":0,tls,x509=/c,sasl")
            ],
            [(false, false), (false, true), (true, false), (true, true)]
        );
    }

    #[test]
    fn vnc_client_info_leaves_auth_fields_until_initialized() {
        let c = VncClient {
            addr: SockAddr {
                host: "h".into(),
                service: "1".into(),
                family: "ipv4".into(),
            },
            x509_dname: Some("CN=x".into()),
            sasl_username: None,
        };
        assert_eq!((c.info(false).len(), c.info(true).len()), (3, 4));
    }

    #[test]
    fn spice_channels_list_entry_has_address_and_channel_info() {
        let ch = SpiceChannel {
            client: SockAddr {
                host: "127.0.0.1".into(),
                service: "40000".into(),
                family: "ipv4".into(),
            },
            server: SockAddr {
                host: "127.0.0.1".into(),
                service: "5930".into(),
                family: "ipv4".into(),
            },
            connection_id: 1,
            channel_type: 2,
            channel_id: 0,
            tls: true,
        };
        let keys: Vec<String> = ch
            .client_info(true)
            .iter_inserted()
            .map(|(k, _)| k.to_owned())
            .collect();
        assert_eq!(
            keys,
            [
                "host",
                "port",
                "family",
                "connection-id",
                "channel-type",
                "channel-id",
                "tls"
            ]
        );
    }

    #[test]
    fn display_state_roundtrips_through_bincode() {
        let cfg = MachineConfig {
            vnc: Some(":1,password".into()),
            ..MachineConfig::default()
        };
        let state = DisplayState::from_config(&cfg);
        let bytes = bincode::serde::encode_to_vec(&state, bincode::config::standard()).unwrap();
        let (back, _): (DisplayState, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, state);
    }
}
