//! Identity and status queries: qmp_capabilities, query-version, query-commands,
//! query-kvm, query-status, query-name, query-uuid, and the extension
//! x-query-events. Objects are built in the order
//! 0.14's handlers insert their keys; the wire layer applies the hash order.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::events::Event;
use crate::qdict;
use crate::qmp::table;
use crate::wire::message::version_info;
use crate::wire::{QDict, QObject};

/// `qmp_capabilities`: the mode switch itself happens in dispatch.
pub fn qmp_capabilities(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    empty()
}

/// `query-version`.
pub fn query_version(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    Ok(version_info(""))
}

/// `query-commands`: every command in table order.
pub fn query_commands(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let list = table::visible(ctx.machine.config.extensions)
        .map(|c| QObject::Dict(qdict! { "name" => c.name }))
        .collect();
    Ok(QObject::List(list))
}

/// `query-kvm`: built with KVM support, so `present` is always true.
pub fn query_kvm(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    Ok(QObject::Dict(
        qdict! { "enabled" => ctx.machine.config.kvm, "present" => true },
    ))
}

/// `query-status`.
pub fn query_status(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let running = ctx.machine.run_state.is_running();
    let singlestep = ctx.machine.singlestep;
    Ok(QObject::Dict(
        qdict! { "running" => running, "singlestep" => singlestep },
    ))
}

/// `query-name`: `{}` without `-name`.
pub fn query_name(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let mut d = QDict::new();
    if let Some(name) = &ctx.machine.config.name {
        d.put("name", name.as_str());
    }
    Ok(QObject::Dict(d))
}

/// The UUID `query-uuid` and `info uuid` show.
pub fn uuid_text(ctx: &Ctx<'_>) -> String {
    ctx.machine
        .config
        .uuid
        .clone()
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".to_owned())
}

/// `query-uuid`: all zeros without `-uuid`.
pub fn query_uuid(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    Ok(QObject::Dict(qdict! { "UUID" => uuid_text(ctx) }))
}

/// `x-query-events` (`query-events` from QEMU 1.2 on): every event name the
/// monitor can send, as `[{"name": NAME}, ...]`.
pub fn x_query_events(_ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let list = Event::NAMES
        .iter()
        .map(|n| QObject::Dict(qdict! { "name" => *n }))
        .collect();
    Ok(QObject::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;

    #[test]
    fn x_query_events_lists_every_event_by_name() {
        let mut m = Machine::new(MachineConfig::default());
        let r = super::super::call_fresh(&mut m, x_query_events, &QDict::new()).unwrap();
        let json = r.to_json();
        assert!(
            json.starts_with(r#"[{"name": "SHUTDOWN"}, {"name": "RESET"}"#),
            "{json}"
        );
        assert_eq!(r.as_list().map(<[QObject]>::len), Some(Event::NAMES.len()));
    }
}
