//! Migration commands: migrate, migrate_cancel, migrate_set_speed,
//! migrate_set_downtime, query-migrate (qmp-commands.hx; 0.14's `migration.c`).
//! The state machine and its virtual-time model live in
//! [`crate::machine::migration`]; the channel is opened by the edge through
//! `Effect::MigrationStart`. No I/O here.

use super::fds::take_named_fd;
use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::migration::{
    parse_uri, MigrationStart, MigrationStatus, MigrationTarget, Progress,
};
use crate::qdict;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

fn undefined() -> QmpError {
    QmpError::bare(ErrorClass::UndefinedError)
}

/// `migrate`: refuses (UndefinedError, as 0.14's "migration failed" paths do)
/// while a migration is active, for an unknown scheme or bad `tcp:` address,
/// and for an `fd:` name this monitor does not hold. Answers at once.
pub fn migrate(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let uri = args.str("uri").to_owned();
    // `inc` implies block migration (block_set_params: blk_enable |= shared_base).
    let blk = args.flag("blk") || args.flag("inc");
    if ctx.machine.migration.is_active() {
        return Err(undefined());
    }
    let target = parse_uri(&uri).map_err(|_| undefined())?;
    let fd = match &target {
        MigrationTarget::Fd { name } => {
            Some(take_named_fd(ctx.machine, ctx.session.monitor, name).ok_or_else(undefined)?)
        }
        MigrationTarget::Tcp { .. }
        | MigrationTarget::Exec { .. }
        | MigrationTarget::Unix { .. } => None,
    };
    ctx.machine.migration_start(MigrationStart { uri, blk, fd });
    empty()
}

/// `migrate_cancel`: always `{}`.
pub fn migrate_cancel(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    ctx.machine.migration_cancel();
    empty()
}

/// `migrate_set_speed`: negative values become 0; 0.14 keeps the limit in a
/// `uint32_t`, so larger values wrap.
pub fn migrate_set_speed(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let value = args.int("value").max(0);
    ctx.machine.migration.speed_bytes_per_s = u32::try_from(value & 0xFFFF_FFFF).unwrap_or(0);
    empty()
}

/// Seconds to whole nanoseconds as 0.14 converts them: times 1e9, clamped to
/// `0..=UINT64_MAX`, truncated.
pub fn downtime_ns(seconds: f64) -> u64 {
    // Rust's float-to-int `as` saturates and is exact for the clamped range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ns = (seconds * 1e9).max(0.0) as u64;
    ns
}

/// `migrate_set_downtime`: `{}`; stored as integer nanoseconds.
pub fn migrate_set_downtime(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let seconds = args.number("value");
    ctx.machine.migration.downtime_ns = downtime_ns(seconds);
    empty()
}

fn counters(p: Progress) -> QDict {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    qdict! {
        "transferred" => int(p.transferred),
        "remaining" => int(p.remaining),
        "total" => int(p.total),
    }
}

/// `query-migrate`: `{}` before the first migration; `ram` (and `disk` for a
/// block migration with disks) only while active.
pub fn query_migrate(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let Some(m) = &ctx.machine.migration.current else {
        return empty();
    };
    let mut d = qdict! { "status" => m.status.name() };
    match m.status {
        MigrationStatus::Active => {
            d.put("ram", counters(m.ram));
            if let Some(disk) = m.disk {
                d.put("disk", counters(disk));
            }
        }
        MigrationStatus::Completed | MigrationStatus::Failed | MigrationStatus::Cancelled => {}
    }
    Ok(QObject::Dict(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::migration::MIGRATION_SPEED_BYTES_PER_S_DEFAULT;
    use crate::machine::{Effect, Machine};

    use super::super::call_fresh as call;

    fn machine() -> Machine {
        Machine::new(MachineConfig::default())
    }

    #[test]
    fn query_migrate_before_first_is_empty() {
        let mut m = machine();
        assert_eq!(
            call(&mut m, query_migrate, &QDict::new())
                .unwrap()
                .to_json(),
            "{}"
        );
    }

    #[test]
    fn migrate_tcp_starts_active_migration() {
        let mut m = machine();
        call(&mut m, migrate, &qdict! { "uri" => "tcp:0:4446" }).unwrap();
        assert_eq!(
            call(&mut m, query_migrate, &QDict::new())
                .unwrap()
                .to_json(),
            r#"{"status": "active", "ram": {"total": 134217728, "remaining": 134217728, "transferred": 0}}"#
        );
    }

    #[test]
    fn migrate_while_active_is_undefined_error() {
        let mut m = machine();
        call(&mut m, migrate, &qdict! { "uri" => "tcp:0:4446" }).unwrap();
        assert_eq!(
            call(&mut m, migrate, &qdict! { "uri" => "tcp:0:4446" }),
            Err(undefined())
        );
    }

    #[test]
    fn migrate_to_an_unknown_scheme_or_fd_name_is_undefined_error() {
        for uri in ["ftp:x", "fd:nosuch"] {
            let mut m = machine();
            assert_eq!(
                call(&mut m, migrate, &qdict! { "uri" => uri }),
                Err(undefined()),
                "{uri}"
            );
            assert!(m.migration.current.is_none(), "{uri}");
        }
    }

    #[test]
    fn migrate_fd_takes_the_named_descriptor() {
        let mut m = machine();
        m.named_fds.entry(0).or_default().insert("mig".into(), 42);
        call(&mut m, migrate, &qdict! { "uri" => "fd:mig" }).unwrap();
        assert!(m.named_fds.is_empty());
        assert!(matches!(
            m.effects.as_slice(),
            [Effect::MigrationStart { fd: Some(42), .. }]
        ));
    }

    #[test]
    fn set_speed_negative_is_zero() {
        let mut m = machine();
        call(&mut m, migrate_set_speed, &qdict! { "value" => -5_i64 }).unwrap();
        assert_eq!(m.migration.speed_bytes_per_s, 0);
    }

    #[test]
    fn set_speed_wraps_at_32_bits() {
        let mut m = machine();
        call(
            &mut m,
            migrate_set_speed,
            &qdict! { "value" => (1_i64 << 32) + 7 },
        )
        .unwrap();
        assert_eq!(m.migration.speed_bytes_per_s, 7);
    }

    #[test]
    fn default_speed_is_32_mib() {
        assert_eq!(
            machine().migration.speed_bytes_per_s,
            MIGRATION_SPEED_BYTES_PER_S_DEFAULT
        );
    }

    #[test]
    fn downtime_conversion_truncates_and_clamps() {
        assert_eq!(downtime_ns(0.1), 100_000_000);
        assert_eq!(downtime_ns(-1.0), 0);
        assert_eq!(downtime_ns(1e300), u64::MAX);
    }

    #[test]
    fn set_downtime_takes_an_integer_too() {
        let mut m = machine();
        call(&mut m, migrate_set_downtime, &qdict! { "value" => 2_i64 }).unwrap();
        assert_eq!(m.migration.downtime_ns, 2_000_000_000);
    }
}
