//! The rest of the VM's identity and behaviour: `-name`, `-uuid`, `-watchdog`,
//! `-watchdog-action`, and qmpsim's `-x-` options. Watchdog names are read with the
//! machine's own parsers ([`WatchdogModel::parse`], [`WatchdogAction::parse`]).

use super::{OptCtx, RawError, SpecialMode};
use crate::machine::clock::ClockMode;
use crate::machine::config::{GuestConfig, GUEST_SHUTDOWN_MS_MAX};
use crate::machine::devices::cfmt::scan_int_prefix;
use crate::machine::watchdog::{WatchdogAction, WatchdogModel};

/// Parses `-name NAME[,process=P]`; returns the name.
pub fn parse_name(v: &str) -> Result<String, RawError> {
    match v.split_once(',') {
        None => Ok(v.to_owned()),
        Some((name, rest)) if rest.starts_with("process=") => Ok(name.to_owned()),
        Some((_, rest)) => Err(RawError::NameSubargument(rest.to_owned())),
    }
}

/// Parses `-uuid` (8-4-4-4-12 hex digits), returning the lowercase form.
pub fn parse_uuid(v: &str) -> Result<String, RawError> {
    let groups: Vec<&str> = v.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lens != [8, 4, 4, 4, 12] || !hex {
        return Err(RawError::BadUuid);
    }
    Ok(v.to_ascii_lowercase())
}

/// `-name NAME[,process=P]`.
pub(super) fn apply_name(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.name = Some(parse_name(&v)?);
    Ok(())
}

/// `-uuid UUID`, kept lowercase.
pub(super) fn apply_uuid(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.uuid = Some(parse_uuid(&v)?);
    Ok(())
}

/// `-watchdog MODEL` (once); `?` lists the models.
pub(super) fn apply_watchdog(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let low = &mut *ctx.low;
    if v == "?" {
        low.special = Some(SpecialMode::WatchdogList);
        return Ok(());
    }
    if low.config.watchdog.is_some() {
        return Err(RawError::WatchdogTwice);
    }
    low.config.watchdog = Some(WatchdogModel::parse(&v).ok_or(RawError::Watchdog(v))?);
    Ok(())
}

/// `-watchdog-action ACTION`.
pub(super) fn apply_watchdog_action(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let action = WatchdogAction::parse(&v).ok_or(RawError::WatchdogAction(v))?;
    ctx.low.config.watchdog_action = Some(action);
    Ok(())
}

/// `-x-guest acpi=on|off,shutdown-ms=N` over the current settings.
pub fn parse_guest(arg: &str, mut guest: GuestConfig) -> Result<GuestConfig, RawError> {
    let bad = |problem: String| RawError::Guest {
        arg: arg.to_owned(),
        problem,
    };
    for item in arg.split(',').filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some(("acpi", "on")) => guest.acpi = true,
            Some(("acpi", "off")) => guest.acpi = false,
            Some(("shutdown-ms", v)) => {
                guest.shutdown_ms = v
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= GUEST_SHUTDOWN_MS_MAX)
                    .ok_or_else(|| {
                        bad(format!("shutdown-ms takes 0 to {GUEST_SHUTDOWN_MS_MAX}"))
                    })?;
            }
            _ => {
                return Err(bad(format!(
                    "unknown setting '{item}' (acpi=on|off, shutdown-ms=N)"
                )))
            }
        }
    }
    Ok(guest)
}

/// `-startdate now|DATE`, 0.14's older spelling of `-rtc base=DATE`: the date is
/// checked as `configure_rtc_date_offset` reads it (`%d-%d-%d`, optionally followed
/// by `T%d:%d:%d`; what follows is not looked at). The RTC's start date changes
/// nothing QMP shows.
pub(super) fn apply_startdate(_ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    if v == "now" || date_fields_read(&v) == 3 {
        Ok(())
    } else {
        Err(RawError::StartDate)
    }
}

/// How many fields of `%d-%d-%d` sscanf fills from `s`.
pub(super) fn date_fields_read(s: &str) -> usize {
    let mut rest = s;
    for field in 0..3 {
        if field > 0 {
            match rest.strip_prefix('-') {
                Some(after) => rest = after,
                None => return field,
            }
        }
        match scan_int_prefix(rest) {
            Some((_, used)) => rest = &rest[used..],
            None => return field,
        }
    }
    3
}

/// `-x-guest`, over what earlier `-x-guest` options set.
pub(super) fn apply_guest(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.guest = parse_guest(&v, ctx.low.config.guest)?;
    Ok(())
}

/// `-x-seed N`.
pub(super) fn apply_seed(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.seed = v.parse().map_err(|_| RawError::Seed(v))?;
    Ok(())
}

/// `-x-epoch SECONDS`.
pub(super) fn apply_epoch(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.epoch_s = v.parse().map_err(|_| RawError::Epoch(v))?;
    Ok(())
}

/// `-x-clock idle|manual|realtime`.
pub(super) fn apply_clock(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.clock = ClockMode::parse(&v).ok_or(RawError::ClockMode(v))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_err, parse_ok};
    use super::*;

    #[test]
    fn parse_name_with_process_keeps_name() {
        assert_eq!(
            parse_ok(&["-name", "vm1,process=qemu-vm1"])
                .config
                .name
                .as_deref(),
            Some("vm1")
        );
    }

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "parse name with other subargument fails",
                &["-name", "vm1,foo=bar"],
                "Unknown subargument foo=bar to -name",
            ),
            (
                "uuid with short group is rejected",
                &["-uuid", "550e8400-e29b-41d4-a716-44665544000"],
                "Fail to parse UUID string. Wrong format.",
            ),
            (
                "watchdog action unknown is rejected",
                &["-watchdog-action", "explode"],
                "Unknown -watchdog-action parameter",
            ),
            (
                "watchdog twice is rejected",
                &["-watchdog", "ib700", "-watchdog", "ib700"],
                "qemu: only one watchdog option may be given",
            ),
            (
                "seed negative is rejected",
                &["-x-seed", "-1"],
                "qmpsim: -x-seed: invalid seed '-1'",
            ),
            (
                "epoch letters are rejected",
                &["-x-epoch", "soon"],
                "qmpsim: -x-epoch: invalid epoch 'soon'",
            ),
            (
                "startdate without day is invalid date format",
                &["-startdate", "2006-06"],
                "Invalid date format. Valid formats are:\n'2006-06-17T16:01:21' or '2006-06-17'",
            ),
        ]);
    }

    #[test]
    fn uuid_is_lowercased() {
        assert_eq!(
            parse_uuid("550E8400-E29B-41D4-A716-446655440000").as_deref(),
            Ok("550e8400-e29b-41d4-a716-446655440000")
        );
    }

    #[test]
    fn uuid_with_non_hex_is_rejected() {
        assert_eq!(
            parse_uuid("550e8400-e29b-41d4-a716-44665544000g"),
            Err(RawError::BadUuid)
        );
    }

    #[test]
    fn seed_parses_u64() {
        assert_eq!(parse_ok(&["-x-seed", "42"]).config.seed, 42);
        assert_eq!(
            parse_ok(&["-x-clock", "manual"]).config.clock,
            ClockMode::Manual
        );
        assert!(parse_ok(&["-no-acpi"]).config.no_acpi);
        let g = parse_ok(&["-x-guest", "acpi=off,shutdown-ms=3600000"])
            .config
            .guest;
        assert_eq!((g.acpi, g.shutdown_ms), (false, 3_600_000));
        assert_eq!(
            parse_err(&["-x-guest", "shutdown-ms=3600001"]),
            "qmpsim: -x-guest shutdown-ms=3600001: shutdown-ms takes 0 to 3600000"
        );
        assert_eq!(
            parse_err(&["-x-guest", "acpi=maybe"]),
            "qmpsim: -x-guest acpi=maybe: unknown setting 'acpi=maybe' (acpi=on|off, shutdown-ms=N)"
        );
        assert_eq!(
            parse_ok(&["-x-clock", "idle"]).config.clock,
            ClockMode::Idle
        );
        assert_eq!(
            parse_ok(&["-x-clock", "realtime"]).config.clock,
            ClockMode::Realtime
        );
        assert_eq!(
            parse_err(&["-x-clock", "fast"]),
            "qmpsim: -x-clock: invalid clock mode 'fast' (idle, manual or realtime)"
        );
    }

    #[test]
    fn record_keeps_path() {
        assert_eq!(
            parse_ok(&["-record", "s.qmptrace"]).edge.record,
            Some("s.qmptrace".into())
        );
    }

    #[test]
    fn guest_shutdown_ms_at_max_is_accepted() {
        let arg = format!("shutdown-ms={GUEST_SHUTDOWN_MS_MAX}");
        assert_eq!(
            parse_ok(&["-x-guest", &arg]).config.guest.shutdown_ms,
            GUEST_SHUTDOWN_MS_MAX
        );
    }

    #[test]
    fn guest_shutdown_ms_past_max_is_rejected() {
        let arg = format!("shutdown-ms={}", GUEST_SHUTDOWN_MS_MAX + 1);
        assert_eq!(
            parse_err(&["-x-guest", &arg]),
            format!("qmpsim: -x-guest {arg}: shutdown-ms takes 0 to {GUEST_SHUTDOWN_MS_MAX}")
        );
    }

    #[test]
    fn startdate_date_is_checked_and_changes_nothing_qmp_shows() {
        assert_eq!(
            parse_ok(&["-startdate", "2006-06-17"]).config,
            crate::machine::config::MachineConfig::default()
        );
    }

    #[test]
    fn startdate_with_time_and_now_are_accepted() {
        assert_eq!(
            (
                parse_ok(&["-startdate", "2006-06-17T16:01:21"]).special,
                parse_ok(&["-startdate", "now"]).special
            ),
            (None, None)
        );
    }
}
