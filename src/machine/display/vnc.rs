//! The VNC server (0.14's `ui/vnc.c`: `vnc_display_open`,
//! `vnc_display_password`, `do_info_vnc`): the display string parsed into a
//! listening address and authentication scheme, the password and its expiry,
//! and the connected clients, newest first.

use serde::{Deserialize, Serialize};

use super::{SockAddr, NI_MAXSERV_BYTES, TIME_NEVER_S};
use crate::machine::devices::cfmt::atoi;
use crate::machine::events::VncServerEnd;

/// First VNC port: display `:N` listens on `VNC_PORT_BASE + N`.
pub const VNC_PORT_BASE: i64 = 5900;
/// Bytes of a password `change vnc password` keeps (0.14 copies into `char[9]`).
pub const VNC_CHANGE_PASSWORD_BYTES_MAX: usize = 8;
/// Longest host part `inet_parse` accepts (`%64[...]`).
pub const INET_HOST_BYTES_MAX: usize = 64;
/// Longest port part `inet_parse` accepts (`%32[^,]`).
pub const INET_PORT_BYTES_MAX: usize = 32;
/// Most VNC clients connected at once (0.14 is limited only by open files).
pub const VNC_CLIENTS_MAX: usize = 64;

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
    /// The access control lists displays opened with `acl` made (they
    /// outlive the display, as 0.14's global list does).
    pub acls: Vec<super::acl::Acl>,
    /// The open display checks certificate names against `vnc.x509dname`
    /// (`acl` with `x509verify`).
    pub acl_x509: bool,
    /// The open display checks SASL user names against `vnc.username` (`acl`
    /// with `sasl`).
    pub acl_sasl: bool,
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

impl VncServer {
    /// A server with no display open.
    pub fn closed() -> Self {
        VncServer {
            listen: None,
            auth: VncAuth::Invalid,
            password: None,
            expires_s: TIME_NEVER_S,
            clients: Vec::new(),
            acls: Vec::new(),
            acl_x509: false,
            acl_sasl: false,
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

    /// The server's end of its connections as `vnc_server_info_put` reports
    /// it: the listening address and `auth`; `None` without a reportable
    /// address.
    pub fn server_end(&self) -> Option<VncServerEnd> {
        Some(VncServerEnd {
            addr: self.server_address()?,
            auth: self.auth,
        })
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
        self.acl_x509 = flags.acl && flags.x509 && flags.x509verify;
        self.acl_sasl = flags.acl && flags.sasl;
        for (on, name) in [
            (self.acl_x509, "vnc.x509dname"),
            (self.acl_sasl, "vnc.username"),
        ] {
            if on && self.acl(name).is_none() {
                self.acls.push(super::acl::Acl::new(name));
            }
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

    /// The access control list of that name (`qemu_acl_find`).
    pub fn acl(&self, name: &str) -> Option<&super::acl::Acl> {
        self.acls.iter().find(|a| a.name == name)
    }

    /// The same, to change.
    pub fn acl_mut(&mut self, name: &str) -> Option<&mut super::acl::Acl> {
        self.acls.iter_mut().find(|a| a.name == name)
    }

    /// Whether the open display's access control lets a client with these
    /// names in (`vnc_tls_validate_certificate`, `vnc_auth_sasl_check_access`).
    pub fn acl_admits(&self, x509_dname: Option<&str>, sasl_username: Option<&str>) -> bool {
        let check = |on: bool, list: &str, party: Option<&str>| match (on, party, self.acl(list)) {
            (true, Some(party), Some(acl)) => acl.allows(party),
            _ => true,
        };
        check(self.acl_x509, "vnc.x509dname", x509_dname)
            && check(self.acl_sasl, "vnc.username", sasl_username)
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
    acl: bool,
    x509verify: bool,
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
                f.x509verify |= opt.starts_with("x509verify");
                f.x509_path = opt.contains('=');
            } else if opt.starts_with("acl") {
                f.acl = true;
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn open_other_host_name_is_kept_as_given() {
        assert_eq!(
            opened("example.org:1").listen,
            inet("example.org", "ipv4", "5901")
        );
    }

    #[test]
    fn sasl_acl_admits_only_the_names_it_allows() {
        let mut s = opened(":0,sasl,acl");
        assert!(!s.acl_admits(None, Some("bob")), "a new list denies");
        s.acl_mut("vnc.username").unwrap().append(false, "bob");
        assert!(s.acl_admits(None, Some("bob")));
        assert!(!s.acl_admits(None, Some("eve")));
        assert!(
            opened(":0,sasl").acl_admits(None, Some("eve")),
            "no acl flag"
        );
    }

    #[test]
    fn the_x509_acl_needs_acl_and_x509verify() {
        let acls = |display: &str| {
            let mut s = opened(display);
            (s.acl_x509, s.acl_mut("vnc.x509dname").is_some())
        };
        assert_eq!(acls(":0,x509verify=/etc/pki,acl"), (true, true));
        assert_eq!(acls(":0,x509verify=/etc/pki"), (false, false));
        assert_eq!(acls(":0,x509=/etc/pki,acl"), (false, false));
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
    fn parse_inet_hosts_at_the_limit_are_accepted_and_past_it_refused() {
        let name: fn(String) -> InetHost = InetHost::Name;
        let kinds = [
            ("h", "{}:1", name),
            ("a", "[{}]:1", InetHost::V6),
            ("1", "{}:1", InetHost::V4),
        ];
        for (c, form, kind) in kinds {
            let at = c.repeat(INET_HOST_BYTES_MAX);
            let past = c.repeat(INET_HOST_BYTES_MAX + 1);
            assert_eq!(inet_host(&form.replace("{}", &at)), Some(kind(at)));
            assert_eq!(inet_host(&form.replace("{}", &past)), None, "{form}");
        }
    }

    #[test]
    fn parse_inet_ports_are_cut_at_the_limit() {
        let port = "1".repeat(INET_PORT_BYTES_MAX);
        let short = &port[1..];
        for (text, kept, opts) in [
            // At the limit: kept whole.
            (format!(":{port}"), &port[..], ""),
            // sscanf's `%32[^,]` stops after 32 bytes; `%n` then points at the 33rd.
            (format!(":{port}2"), &port[..], "2"),
            // Past the limit, cut before a split character.
            (format!(":{short}é"), short, "é"),
        ] {
            let a = parse_inet(&text).expect("address parses");
            assert_eq!((a.port.as_str(), a.opts.as_str()), (kept, opts), "{text}");
        }
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
}
