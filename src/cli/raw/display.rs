//! Remote displays: `-vnc` and `-spice`, checked as 0.14 checks them at startup
//! (`vnc_display_open` with `inet_parse`; `qemu_opts_parse` of `qemu_spice_opts`
//! and `qemu_spice_init`'s name tables). Resolving a `-vnc` host name needs the
//! network, so `config.rs` does it.

use super::drive::parse_c_number;
use super::option_list::parse_option_list;
use super::{OptCtx, RawError};
use crate::machine::display::{VncOpenError, VncServer};

/// `-spice` keys of 0.14 (`qemu_spice_opts`).
pub const SPICE_KEYS: &[&str] = &[
    "port",
    "tls-port",
    "addr",
    "ipv4",
    "ipv6",
    "password",
    "disable-ticketing",
    "x509-dir",
    "x509-key-file",
    "x509-key-password",
    "x509-cert-file",
    "x509-cacert-file",
    "x509-dh-key-file",
    "tls-ciphers",
    "tls-channel",
    "plaintext-channel",
    "image-compression",
    "jpeg-wan-compression",
    "zlib-glz-wan-compression",
    "streaming-video",
    "agent-mouse",
    "playback-compression",
];
/// `-spice` keys whose value is a number.
const SPICE_NUMBER_KEYS: &[&str] = &["port", "tls-port"];
/// `-spice` keys whose value is `on` or `off`.
const SPICE_BOOL_KEYS: &[&str] = &[
    "ipv4",
    "ipv6",
    "disable-ticketing",
    "agent-mouse",
    "playback-compression",
];
/// `image-compression` names (`compression_names` of `spice-core.c`).
const SPICE_IMAGE_COMPRESSIONS: &[&str] = &["off", "auto_glz", "auto_lz", "quic", "glz", "lz"];
/// `jpeg-wan-compression` and `zlib-glz-wan-compression` names.
const SPICE_WAN_COMPRESSIONS: &[&str] = &["auto", "never", "always"];

/// Checks `-spice OPTS`: keys and typed values as `qemu_opts_parse` does, then,
/// when a port is set (otherwise 0.14 starts no SPICE server and looks at
/// nothing else), the compression names.
pub fn check_spice(option: &str, arg: &str) -> Result<(), RawError> {
    let opts = parse_option_list(arg, None);
    let refuse = |problem: String| RawError::SpiceParse {
        option: option.to_owned(),
        arg: arg.to_owned(),
        problem,
    };
    for (key, value) in &opts.items {
        if !SPICE_KEYS.contains(&key.as_str()) {
            return Err(refuse(format!("Invalid parameter '{key}'")));
        }
        let expected = if SPICE_NUMBER_KEYS.contains(&key.as_str()) {
            parse_c_number(value).is_none().then_some("a number")
        } else if SPICE_BOOL_KEYS.contains(&key.as_str()) {
            (value != "on" && value != "off").then_some("'on' or 'off'")
        } else {
            None
        };
        if let Some(expected) = expected {
            return Err(refuse(format!("Parameter '{key}' expects {expected}")));
        }
    }
    let port = |key| opts.get(key).and_then(parse_c_number).unwrap_or(0);
    if port("port") == 0 && port("tls-port") == 0 {
        return Ok(());
    }
    let names = [
        (
            "image-compression",
            "image compression",
            SPICE_IMAGE_COMPRESSIONS,
        ),
        (
            "jpeg-wan-compression",
            "wan compression",
            SPICE_WAN_COMPRESSIONS,
        ),
        (
            "zlib-glz-wan-compression",
            "wan compression",
            SPICE_WAN_COMPRESSIONS,
        ),
    ];
    for (key, what, table) in names {
        if let Some(value) = opts.get(key).filter(|v| !table.contains(v)) {
            return Err(RawError::SpiceName {
                what,
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks `-vnc DISPLAY` as `vnc_display_open` parses it: a certificate path
/// for `x509`, and an address `inet_parse` reads.
pub fn check_vnc(display: &str) -> Result<(), RawError> {
    match VncServer::closed().open(display) {
        Err(VncOpenError::X509PathMissing) => Err(RawError::VncCertificatePath),
        Err(VncOpenError::BadAddress(_)) => Err(RawError::VncAddress {
            kind: match display.chars().next() {
                Some(':') => "portonly",
                Some('[') => "ipv6",
                Some(c) if c.is_ascii_digit() => "ipv4",
                _ => "hostname",
            },
            display: display.to_owned(),
        }),
        // A port or address getaddrinfo refuses leaves the display without a
        // socket, as the machine models it.
        Err(VncOpenError::CannotListen(_)) | Ok(()) => Ok(()),
    }
}

/// `-spice OPTS`.
pub(super) fn apply_spice(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    check_spice(ctx.option, &v)?;
    ctx.low.config.spice = Some(parse_option_list(&v, None));
    Ok(())
}

/// `-vnc DISPLAY`.
pub(super) fn apply_vnc(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    check_vnc(&v)?;
    ctx.low.config.vnc = Some(v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_ok};
    use super::*;

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "spice port letters are a parse error",
                &["-spice", "port=abc"],
                "qemu-system-x86_64: -spice port=abc: Parameter 'port' expects a number\n\
                 parse error: port=abc",
            ),
            (
                "spice unknown key is a parse error",
                &["-spice", "5900"],
                "qemu-system-x86_64: -spice 5900: Invalid parameter '5900'\nparse error: 5900",
            ),
            (
                "spice unknown image compression is refused",
                &["-spice", "port=5900,image-compression=zip"],
                "spice: invalid image compression: zip",
            ),
            (
                "vnc hostname without port is a hostname parse error",
                &["-vnc", "bogus"],
                "inet_parse: hostname parse error (bogus)",
            ),
            (
                "vnc ipv4 without port is an ipv4 parse error",
                &["-vnc", "127.0.0.1"],
                "inet_parse: ipv4 parse error (127.0.0.1)",
            ),
            (
                "vnc x509 without path is refused",
                &["-vnc", ":0,tls,x509"],
                "No certificate path provided",
            ),
        ]);
    }

    #[test]
    fn spice_bool_must_be_on_or_off() {
        assert_eq!(
            check_spice("-spice", "port=5900,ipv4=yes").map_err(|e| e.to_string()),
            Err(
                "qemu-system-x86_64: -spice port=5900,ipv4=yes: Parameter 'ipv4' expects \
                 'on' or 'off'\nparse error: port=5900,ipv4=yes"
                    .to_owned()
            )
        );
    }

    #[test]
    fn spice_names_without_a_port_are_not_looked_at() {
        assert!(check_spice("-spice", "image-compression=zip").is_ok());
    }

    #[test]
    fn spice_valid_options_are_kept() {
        let low = parse_ok(&[
            "-spice",
            "port=5900,disable-ticketing,jpeg-wan-compression=never",
        ]);
        assert_eq!(low.config.spice.map(|s| s.items.len()), Some(3));
    }

    #[test]
    fn vnc_valid_display_is_kept() {
        assert_eq!(
            parse_ok(&["-vnc", "127.0.0.1:1,password"])
                .config
                .vnc
                .as_deref(),
            Some("127.0.0.1:1,password")
        );
    }
}
