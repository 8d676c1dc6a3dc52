//! `x-clock-step`, a qmpsim extension that moves virtual time on request, and
//! `x-query-clock`, which tells the clock mode and the virtual time.
//!
//! With `-x-clock manual`, virtual time moves only by the fixed step per message
//! and through this command, so a script that waits for the guest gets the same
//! bytes however slowly it runs. Timers that fall due fire in order, and the
//! events they queue reach clients before the command's return.

use super::{Args, Ctx, HandlerResult};
use crate::wire::{ErrorClass, QObject, QmpError};

/// Longest single step: one virtual hour (the guest's periodic work runs on the way).
pub const CLOCK_STEP_NS_MAX: i64 = 3_600 * 1_000_000_000;

/// `x-clock-step [ns]`: advance by `ns`, or without it to the next pending deadline
/// somebody may wait for. Returns `{"virtual-ns": NOW}`.
pub fn x_clock_step(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let now = ctx.machine.clock.now();
    let target = match args.opt_int("ns") {
        Some(ns) if (0..=CLOCK_STEP_NS_MAX).contains(&ns) => {
            now.plus_ns(u64::try_from(ns).expect("range checked above"))
        }
        Some(_) => {
            return Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "ns",
                "a number of nanoseconds from 0 to 3600000000000",
            ))
        }
        None => ctx
            .machine
            .clock
            .next_deadline_matching(|t| !t.is_background())
            .unwrap_or(now),
    };
    ctx.machine.advance_to(target);
    let now_ns = i64::try_from(ctx.machine.clock.now().0).unwrap_or(i64::MAX);
    Ok(QObject::Dict(crate::qdict! { "virtual-ns" => now_ns }))
}

/// `x-query-clock`: `{"mode": "idle"|"manual"|"realtime", "virtual-ns": NOW}`.
pub fn x_query_clock(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let now_ns = i64::try_from(ctx.machine.clock.now().0).unwrap_or(i64::MAX);
    let mode = ctx.machine.config.clock.name();
    Ok(QObject::Dict(
        crate::qdict! { "mode" => mode, "virtual-ns" => now_ns },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qobject::QDict;

    fn step(m: &mut Machine, args: QDict) -> HandlerResult {
        super::super::call_fresh(m, x_clock_step, &args)
    }

    #[test]
    fn query_clock_reports_mode_and_time() {
        let mut m = Machine::new(MachineConfig {
            clock: crate::machine::clock::ClockMode::Realtime,
            ..MachineConfig::default()
        });
        m.advance_to(crate::machine::clock::VirtualTime(7_000));
        let r = super::super::call_fresh(&mut m, x_query_clock, &QDict::new()).unwrap();
        assert_eq!(r.to_json(), r#"{"mode": "realtime", "virtual-ns": 7000}"#);
    }

    #[test]
    fn step_by_ns_moves_the_clock() {
        let mut m = Machine::new(MachineConfig::default());
        let r = step(&mut m, crate::qdict! { "ns" => 5_000_i64 }).unwrap();
        assert_eq!(r.to_json(), r#"{"virtual-ns": 5000}"#);
    }

    fn paused() -> Machine {
        Machine::new(MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        })
    }

    #[test]
    fn step_at_limit_moves_the_clock_by_the_limit() {
        let mut m = paused();
        let r = step(&mut m, crate::qdict! { "ns" => CLOCK_STEP_NS_MAX }).unwrap();
        assert_eq!(r.to_json(), r#"{"virtual-ns": 3600000000000}"#);
    }

    #[test]
    fn step_past_limit_is_invalid_value() {
        let mut m = paused();
        let e = step(&mut m, crate::qdict! { "ns" => CLOCK_STEP_NS_MAX + 1 }).unwrap_err();
        assert_eq!(
            e.desc(),
            format!("Parameter 'ns' expects a number of nanoseconds from 0 to {CLOCK_STEP_NS_MAX}")
        );
    }

    #[test]
    fn step_past_limit_leaves_the_clock() {
        let mut m = paused();
        let _ = step(&mut m, crate::qdict! { "ns" => CLOCK_STEP_NS_MAX + 1 });
        assert_eq!(m.clock.now().0, 0);
    }

    #[test]
    fn negative_step_is_refused() {
        let mut m = Machine::new(MachineConfig::default());
        let e = step(&mut m, crate::qdict! { "ns" => -1_i64 }).unwrap_err();
        assert_eq!(
            e.desc(),
            "Parameter 'ns' expects a number of nanoseconds from 0 to 3600000000000"
        );
    }

    #[test]
    fn step_without_ns_and_nothing_pending_stays() {
        let mut m = Machine::new(MachineConfig {
            start_paused: true,
            ..MachineConfig::default()
        });
        let r = step(&mut m, QDict::new()).unwrap();
        assert_eq!(r.to_json(), r#"{"virtual-ns": 0}"#);
    }

    #[test]
    fn step_without_ns_reaches_guest_shutdown_after_powerdown() {
        let mut m = Machine::new(MachineConfig::default());
        m.requests.push(crate::machine::Request::Powerdown);
        m.run_requests();
        m.events.drain();
        // Checked first: a deadline far away would take for ever to reach.
        use crate::machine::devices::guest::{
            GUEST_ACPI_SHUTDOWN_JITTER_NS, GUEST_ACPI_SHUTDOWN_NS,
        };
        let at = m.clock.next_deadline_matching(|t| !t.is_background());
        assert!(at.is_some_and(|at| at.0 <= GUEST_ACPI_SHUTDOWN_NS + GUEST_ACPI_SHUTDOWN_JITTER_NS));
        step(&mut m, QDict::new()).unwrap();
        let names: Vec<String> = m.events.drain_names();
        assert_eq!(names, ["SHUTDOWN"]);
    }
}
