//! How the machine starts: `-boot` (boot order), `-rtc` (the RTC's base, clock
//! and drift fix) and `-incoming` (the migration channel it waits on), checked as
//! 0.14's `vl.c` and `migration.c` check them at startup. The values are kept as
//! given in the config; what they change is the machine's business.

use super::option_list::parse_option_list;
use super::other::date_fields_read;
use super::{OptCtx, RawError};
use crate::machine::display::inet_aton;

/// Bytes of a `-boot` key or device list 0.14 keeps (`char buf[33]`, one for the
/// terminating NUL).
pub const BOOT_SPEC_BYTES_MAX: usize = 32;
/// `-boot` keys of 0.14.
const BOOT_KEYS: &[&str] = &["order", "once", "menu"];
/// `-rtc` keys of 0.14 (`qemu_rtc_opts`).
const RTC_KEYS: &[&str] = &["base", "clock", "driftfix"];

/// 0.14's `pstrcpy` into a `BOOT_SPEC_BYTES_MAX + 1` buffer: at most that many
/// bytes (cut at a character boundary).
fn clip(s: &str) -> &str {
    let mut end = s.len().min(BOOT_SPEC_BYTES_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `validate_bootdevices`: letters `a` to `p`, each at most once.
pub fn validate_boot_devices(devices: &str) -> Result<(), RawError> {
    let mut seen = [false; 16];
    for c in devices.chars() {
        if !('a'..='p').contains(&c) {
            return Err(RawError::BootDevice(c));
        }
        let slot = &mut seen[(u32::from(c) - u32::from('a')) as usize];
        if *slot {
            return Err(RawError::BootDeviceTwice(c));
        }
        *slot = true;
    }
    Ok(())
}

/// `-boot [order=]DRIVES[,once=DRIVES][,menu=on|off]`, checked as 0.14's `vl.c`:
/// without `=` the whole value (clipped) is the order.
pub fn check_boot(arg: &str) -> Result<(), RawError> {
    if !arg.contains('=') {
        return validate_boot_devices(clip(arg));
    }
    // check_params: every item is a known key followed by `=`.
    for item in super::split_items(arg) {
        let key = item.split_once('=').map_or(item.as_str(), |(k, _)| k);
        if !item.contains('=') || !BOOT_KEYS.contains(&key) {
            return Err(RawError::BootParameter {
                param: clip(key).to_owned(),
                arg: arg.to_owned(),
            });
        }
    }
    // get_param_value: the first item with the key; doubled commas escape.
    let items = parse_option_list(arg, None).items;
    let first = |key: &str| {
        items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| clip(v).to_owned())
    };
    for key in ["order", "once"] {
        if let Some(devices) = first(key) {
            validate_boot_devices(&devices)?;
        }
    }
    match first("menu").as_deref() {
        None | Some("on" | "off") => Ok(()),
        Some(other) => Err(RawError::OptionValue(other.to_owned())),
    }
}

/// `-rtc [base=utc|localtime|DATE][,clock=host|vm][,driftfix=slew|none]`,
/// checked as 0.14's `qemu_opts_parse` and `configure_rtc` (a date that is not
/// `%d-%d-%d`, `now` included, fails as `-startdate` does).
pub fn check_rtc(option: &str, arg: &str) -> Result<(), RawError> {
    let opts = parse_option_list(arg, None);
    if let Some((key, _)) = opts
        .items
        .iter()
        .find(|(k, _)| !RTC_KEYS.contains(&k.as_str()))
    {
        return Err(RawError::InvalidParameter {
            option: option.to_owned(),
            arg: arg.to_owned(),
            param: key.clone(),
        });
    }
    if let Some(base) = opts.get("base") {
        if base != "utc" && base != "localtime" && date_fields_read(base) != 3 {
            return Err(RawError::StartDate);
        }
    }
    for (key, allowed) in [("clock", ["host", "vm"]), ("driftfix", ["slew", "none"])] {
        if let Some(value) = opts.get(key).filter(|v| !allowed.contains(v)) {
            return Err(RawError::OptionValue(value.to_owned()));
        }
    }
    Ok(())
}

/// `-incoming URI`, checked before anything opens as 0.14's
/// `qemu_start_incoming_migration` does: a known protocol (`tcp:`, `exec:`,
/// `unix:`, `fd:`, and qmpsim's `stdio`), and for `tcp:` what
/// `parse_host_port` checks without the network (a `:`, a dotted quad for a
/// host starting with a digit, a number after the `:`). Names are resolved
/// when the channel opens.
pub fn check_incoming(uri: &str) -> Result<(), RawError> {
    if let Some(rest) = uri.strip_prefix("tcp:") {
        let bad = || RawError::IncomingHostPort {
            uri: uri.to_owned(),
            rest: rest.to_owned(),
        };
        let (host, port) = rest.split_once(':').ok_or_else(bad)?;
        if host.starts_with(|c: char| c.is_ascii_digit()) && inet_aton(host).is_none() {
            return Err(bad());
        }
        // strtol(p, &r, 0) must read something.
        let digits = port.trim_start().trim_start_matches(['+', '-']);
        if !digits.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad());
        }
        return Ok(());
    }
    let known = ["exec:", "unix:", "fd:"].iter().any(|p| uri.starts_with(p));
    if known || uri == "stdio" {
        Ok(())
    } else {
        Err(RawError::IncomingProtocol(uri.to_owned()))
    }
}

/// `-boot SPEC`.
pub(super) fn apply_boot(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    check_boot(&v)?;
    ctx.low.config.boot = Some(v);
    Ok(())
}

/// `-rtc SPEC`.
pub(super) fn apply_rtc(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    check_rtc(ctx.option, &v)?;
    ctx.low.config.rtc = Some(v);
    Ok(())
}

/// `-incoming URI`.
pub(super) fn apply_incoming(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    check_incoming(&v)?;
    ctx.low.config.incoming = Some(v);
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
                "boot legacy letter past p is invalid",
                &["-boot", "z"],
                "Invalid boot device 'z'",
            ),
            (
                "boot letter twice is refused",
                &["-boot", "cdc"],
                "Boot device 'c' was given twice",
            ),
            (
                "boot unknown key is refused with the argument",
                &["-boot", "foo=bar"],
                "qemu: unknown boot parameter 'foo' in 'foo=bar'",
            ),
            (
                "boot item without equals after a key is refused",
                &["-boot", "order=c,menu"],
                "qemu: unknown boot parameter 'menu' in 'order=c,menu'",
            ),
            (
                "boot menu other than on off is an invalid option value",
                &["-boot", "order=c,menu=yes"],
                "qemu: invalid option value 'yes'",
            ),
            (
                "boot once is validated too",
                &["-boot", "once=q"],
                "Invalid boot device 'q'",
            ),
            (
                "rtc garbage base is an invalid date",
                &["-rtc", "base=garbage"],
                "Invalid date format. Valid formats are:\n'2006-06-17T16:01:21' or '2006-06-17'",
            ),
            (
                "rtc unknown clock is an invalid option value",
                &["-rtc", "clock=rt"],
                "qemu: invalid option value 'rt'",
            ),
            (
                "rtc unknown key is an invalid parameter",
                &["-rtc", "utc"],
                "qemu-system-x86_64: -rtc utc: Invalid parameter 'utc'",
            ),
        ]);
    }

    #[test]
    fn boot_valid_spec_is_kept() {
        assert_eq!(
            parse_ok(&["-boot", "order=dc,once=n,menu=on"])
                .config
                .boot
                .as_deref(),
            Some("order=dc,once=n,menu=on")
        );
    }

    #[test]
    fn boot_long_unknown_key_is_clipped_to_the_buffer() {
        let key = "k".repeat(BOOT_SPEC_BYTES_MAX + 8);
        let arg = format!("{key}=1");
        assert_eq!(
            check_boot(&arg),
            Err(RawError::BootParameter {
                param: "k".repeat(BOOT_SPEC_BYTES_MAX),
                arg: arg.clone()
            })
        );
    }

    #[test]
    fn rtc_base_now_is_refused_unlike_startdate() {
        assert_eq!(check_rtc("-rtc", "base=now"), Err(RawError::StartDate));
    }

    #[test]
    fn rtc_valid_spec_is_kept() {
        let spec = "base=2006-06-17T16:01:21,clock=vm,driftfix=slew";
        assert_eq!(parse_ok(&["-rtc", spec]).config.rtc.as_deref(), Some(spec));
    }

    #[test]
    fn incoming_unknown_protocol_exits_163() {
        let e = check_incoming("bogus:1").unwrap_err();
        assert_eq!(
            (e.to_string(), e.exit_status()),
            (
                "unknown migration protocol: bogus:1\n\
                 Migration failed. Exit code bogus:1(-93), exiting."
                    .to_owned(),
                163
            )
        );
    }

    #[test]
    fn incoming_tcp_without_port_exits_234() {
        let e = check_incoming("tcp:localhost").unwrap_err();
        assert_eq!(
            (e.to_string(), e.exit_status()),
            (
                "invalid host/port combination: localhost\n\
                 Migration failed. Exit code tcp:localhost(-22), exiting."
                    .to_owned(),
                234
            )
        );
    }

    #[test]
    fn incoming_tcp_bad_quad_is_refused() {
        assert!(check_incoming("tcp:1.2.3.999:4444").is_err());
    }

    #[test]
    fn incoming_known_protocols_are_accepted() {
        let uris = [
            "tcp::4444",
            "tcp:0:4444",
            "unix:/tmp/m",
            "exec:cat x",
            "fd:3",
            "stdio",
        ];
        assert!(uris.iter().all(|u| check_incoming(u).is_ok()));
    }
}
