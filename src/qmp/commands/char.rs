//! query-chardev (qmp-commands.hx section 3): every character device, label and
//! filename, in creation order.

use super::{Args, Ctx, HandlerResult};
use crate::qdict;
use crate::wire::QObject;

/// `query-chardev`.
pub fn query_chardev(ctx: &mut Ctx<'_>, _args: Args<'_>) -> HandlerResult {
    let list = ctx
        .machine
        .devices
        .chardevs
        .list
        .iter()
        .map(|c| {
            QObject::Dict(qdict! {"label" => c.label.as_str(), "filename" => c.filename.as_str()})
        })
        .collect();
    Ok(QObject::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::wire::QDict;

    #[test]
    fn default_lists_serial_then_parallel() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(
            super::super::call_fresh(&mut m, query_chardev, &QDict::new())
                .unwrap()
                .to_json(),
            r#"[{"filename": "vc", "label": "serial0"}, {"filename": "vc", "label": "parallel0"}]"#
        );
    }
}
