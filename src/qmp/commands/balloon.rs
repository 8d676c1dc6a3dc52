//! The balloon commands: balloon and query-balloon (0.14's `balloon.c`, async
//! commands answered at once). Without a balloon device both fail with
//! DeviceNotActive; KVMMissingCap never applies (the model has a synchronous
//! MMU). The guest's progress is modelled in [`crate::machine::balloon`].

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::memory::ram_bytes;
use crate::machine::Machine;
use crate::qdict;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

fn not_active() -> QmpError {
    QmpError::with1(ErrorClass::DeviceNotActive, "balloon")
}

/// The stats object: only `actual`, since 0.14 compiles guest stats out.
fn stats(machine: &Machine) -> Option<QObject> {
    let balloon = machine.balloon.as_ref()?;
    let actual = balloon.actual_bytes(ram_bytes(machine.config.ram_mb));
    let actual = i64::try_from(actual).unwrap_or(i64::MAX);
    Some(QObject::Dict(qdict! { "actual" => actual }))
}

/// `balloon`: sets the target (clamped to RAM) and answers `{}`. Value 0 is
/// 0.14's stats request: the stats come back first (with the id), then `{}`
/// (without it).
pub fn balloon(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let value = args.int("value");
    if value == 0 {
        let stats = stats(ctx.machine).ok_or_else(not_active)?;
        ctx.followups.push(QObject::Dict(QDict::new()));
        return Ok(stats);
    }
    if ctx.machine.balloon.is_none() {
        return Err(not_active());
    }
    ctx.machine.balloon_set_target(value);
    empty()
}

/// `query-balloon`: `{"actual": BYTES}`.
pub fn query_balloon(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    stats(ctx.machine).ok_or_else(not_active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::balloon::with_balloon;
    use crate::machine::config::MachineConfig;
    use crate::qmp::commands::Handler;

    fn call(m: &mut Machine, h: Handler, value: i64) -> (HandlerResult, Vec<QObject>) {
        super::super::with_fresh_ctx(m, |ctx| {
            let r = h(ctx, super::super::typed(h, &qdict! { "value" => value }));
            (r, std::mem::take(&mut ctx.followups))
        })
    }

    #[test]
    fn balloon_without_device_is_not_active() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(call(&mut m, balloon, 1).0, Err(not_active()));
    }

    #[test]
    fn balloon_zero_without_device_is_not_active_without_followup() {
        let mut m = Machine::new(MachineConfig::default());
        let (r, f) = call(&mut m, balloon, 0);
        assert_eq!((r, f.len()), (Err(not_active()), 0));
    }

    #[test]
    fn balloon_zero_returns_stats_then_empty_followup() {
        let mut m = with_balloon();
        let (r, f) = call(&mut m, balloon, 0);
        assert_eq!(r.unwrap().to_json(), r#"{"actual": 134217728}"#);
        assert_eq!(f, [QObject::Dict(QDict::new())]);
    }

    #[test]
    fn balloon_sets_target_pages() {
        let mut m = with_balloon();
        call(&mut m, balloon, 64 << 20).0.unwrap();
        assert_eq!(m.balloon.as_ref().unwrap().target_pages, (64 << 20) / 4096);
    }

    #[test]
    fn query_balloon_reports_actual_bytes() {
        let mut m = with_balloon();
        let (r, _) = call(&mut m, query_balloon, 0);
        assert_eq!(r.unwrap().to_json(), r#"{"actual": 134217728}"#);
    }
}
