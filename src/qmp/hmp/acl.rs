//! The human monitor's `acl_show`, `acl_policy`, `acl_add`, `acl_remove` and
//! `acl_reset` (monitor.c `do_acl_*`) over the VNC server's access control
//! lists ([`crate::machine::display::acl`]), with 0.14's texts. Pure.

use std::fmt::Write as _;

use crate::machine::display::acl::Acl;
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;

/// `find_acl`: the list, or `acl: unknown list 'NAME'` printed.
fn find<'a>(ctx: &'a mut Ctx<'_>, name: &str, out: &mut String) -> Option<&'a mut Acl> {
    let acl = ctx
        .machine
        .display
        .vnc
        .as_mut()
        .and_then(|vnc| vnc.acl_mut(name));
    if acl.is_none() {
        let _ = writeln!(out, "acl: unknown list '{name}'");
    }
    acl
}

/// `allow` or `deny` as a deny flag; anything else prints 0.14's complaint.
fn policy(policy: &str, out: &mut String) -> Option<bool> {
    match policy {
        "allow" => Some(false),
        "deny" => Some(true),
        other => {
            let _ = writeln!(
                out,
                "acl: unknown policy '{other}', expected 'deny' or 'allow'"
            );
            None
        }
    }
}

/// `acl_show NAME`: the policy, then each rule by position.
pub fn acl_show(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let Some(acl) = find(ctx, args.str("aclname"), out) else {
        return;
    };
    let default = if acl.default_deny { "deny" } else { "allow" };
    let mut text = format!("policy: {default}\n");
    for (i, e) in acl.entries.iter().enumerate() {
        let verdict = if e.deny { "deny" } else { "allow" };
        let _ = writeln!(text, "{}: {verdict} {}", i + 1, e.pattern);
    }
    out.push_str(&text);
}

/// `acl_reset NAME`.
pub fn acl_reset(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    if let Some(acl) = find(ctx, args.str("aclname"), out) {
        acl.reset();
        out.push_str("acl: removed all rules\n");
    }
}

/// `acl_policy NAME allow|deny`.
pub fn acl_policy(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let wanted = args.str("policy");
    let mut text = String::new();
    if let Some(acl) = find(ctx, args.str("aclname"), out) {
        if let Some(deny) = policy(wanted, &mut text) {
            acl.default_deny = deny;
            let _ = writeln!(text, "acl: policy set to '{wanted}'");
        }
    }
    out.push_str(&text);
}

/// `acl_add NAME MATCH allow|deny [INDEX]`.
pub fn acl_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let pattern = args.str("match");
    let verdict = args.str("policy");
    let index = args.opt_int("index");
    let mut text = String::new();
    if let Some(acl) = find(ctx, args.str("aclname"), out) {
        if let Some(deny) = policy(verdict, &mut text) {
            let at = match index {
                // 0.14 keeps the index in an `int`.
                Some(i) => acl.insert(
                    deny,
                    pattern,
                    i64::from(i32::from_ne_bytes(
                        u32::try_from(i & 0xffff_ffff)
                            .expect("masked")
                            .to_ne_bytes(),
                    )),
                ),
                None => acl.append(deny, pattern),
            };
            if at < 0 {
                text.push_str("acl: unable to add acl entry\n");
            } else {
                let _ = writeln!(text, "acl: added rule at position {at}");
            }
        }
    }
    out.push_str(&text);
}

/// `acl_remove NAME MATCH`.
pub fn acl_remove(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let pattern = args.str("match");
    let mut text = String::new();
    if let Some(acl) = find(ctx, args.str("aclname"), out) {
        match acl.remove(pattern) {
            at if at < 0 => text.push_str("acl: no matching acl entry\n"),
            at => {
                let _ = writeln!(text, "acl: removed rule at position {at}");
            }
        }
    }
    out.push_str(&text);
}

#[cfg(test)]
mod tests {
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qmp::hmp::assert_printed;

    #[test]
    fn acl_add_says_where_the_rule_went_or_that_it_could_not() {
        let mut m = Machine::new(MachineConfig {
            vnc: Some(":0,sasl,acl".to_owned()),
            ..MachineConfig::default()
        });
        assert_printed(
            &mut m,
            &[
                (
                    "acl_add vnc.username bob allow",
                    "acl: added rule at position 1\n",
                ),
                // 0.14 appends when the index reaches the rule count.
                (
                    "acl_add vnc.username eve deny 1",
                    "acl: added rule at position 2\n",
                ),
                (
                    "acl_add vnc.username joe deny 1",
                    "acl: added rule at position 1\n",
                ),
                (
                    "acl_add vnc.username amy allow 0",
                    "acl: unable to add acl entry\n",
                ),
            ],
        );
    }
}
