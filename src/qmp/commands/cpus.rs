//! CPU commands: cpu and query-cpus (qmp-commands.hx sections 2 and 3).
//!
//! The selected CPU is per monitor connection (`Session::cpu_index`), as 0.14's
//! `mon->mon_cpu`. query-cpus inserts `CPU`, `current`, `halted`, then `pc`.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::Machine;
use crate::wire::{ErrorClass, QDict, QObject, QmpError};

/// `cpu`: 0.14 stores the index in an `int`, so it is truncated to 32 bits.
pub fn cpu(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    ctx.session.cpu_index = selected_cpu(ctx.machine, args.int("index"), "index")?;
    empty()
}

/// The CPU a monitor selects with `raw` (`mon_set_cpu` takes an `int`: the
/// number is truncated to 32 bits).
///
/// Errors: InvalidParameterValue `name` when there is no such CPU.
pub fn selected_cpu(machine: &Machine, raw: i64, name: &str) -> Result<u32, QmpError> {
    let low = u32::try_from(raw & 0xFFFF_FFFF).expect("masked to 32 bits");
    let index = i32::from_ne_bytes(low.to_ne_bytes());
    if !machine.devices.cpus.exists(i64::from(index)) {
        return Err(QmpError::with2(
            ErrorClass::InvalidParameterValue,
            name,
            "a CPU number",
        ));
    }
    Ok(index.unsigned_abs())
}

/// `query-cpus`.
pub fn query_cpus(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let current = ctx.session.cpu_index;
    let list = ctx
        .machine
        .devices
        .cpus
        .cpus
        .iter()
        .map(|c| {
            let mut d = QDict::new();
            d.put("CPU", c.index);
            d.put("current", c.index == current);
            d.put("halted", c.halted);
            d.put("pc", QObject::Int(c.pc as i64));
            QObject::Dict(d)
        })
        .collect();
    Ok(QObject::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;
    use crate::qmp::session::Session;

    fn run(smp: u32, h: super::super::Handler, args: &QDict) -> (Session, HandlerResult) {
        let mut m = Machine::new(MachineConfig {
            smp,
            start_paused: true,
            ..Default::default()
        });
        let mut s = Session::new(0);
        let r = super::super::with_ctx(&mut m, &mut s, |ctx| h(ctx, super::super::typed(h, args)));
        (s, r)
    }

    #[test]
    fn query_cpus_at_reset_matches_facts() {
        let (_, r) = run(1, query_cpus, &QDict::new());
        assert_eq!(
            r.unwrap().to_json(),
            r#"[{"current": true, "CPU": 0, "pc": 4294967280, "halted": false}]"#
        );
    }

    #[test]
    fn cpu_selects_existing_cpu() {
        let (s, r) = run(2, cpu, &qdict! {"index" => 1_i64});
        assert!(r.is_ok());
        assert_eq!(s.cpu_index, 1);
    }

    #[test]
    fn cpu_out_of_range_is_invalid_value() {
        let (_, r) = run(1, cpu, &qdict! {"index" => 1_i64});
        assert_eq!(
            r,
            Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "index",
                "a CPU number"
            ))
        );
    }

    #[test]
    fn cpu_index_truncates_to_int() {
        let (s, r) = run(1, cpu, &qdict! {"index" => 4_294_967_296_i64});
        assert!(r.is_ok());
        assert_eq!(s.cpu_index, 0);
    }
}
