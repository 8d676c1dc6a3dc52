//! The human monitor's user-mode network commands of 0.14: `hostfwd_add`,
//! `hostfwd_remove` (`net_slirp_hostfwd_add`, `net_slirp_hostfwd_remove` of
//! net/slirp.c) and `info usernet` (`do_info_usernet`), over the forwarding
//! rules of [`crate::machine::devices::slirp`]. Texts as 0.14 prints them,
//! `\n` line ends. Pure.

use std::fmt::Write as _;

use crate::machine::devices::net::Net;
use crate::machine::display::inet_aton;
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;

/// `slirp_lookup`: with a VLAN and a name, that client (which must be a user
/// stack); without, the first stack. `Err` holds what 0.14 prints.
fn slirp_lookup(net: &Net, vlan: Option<&str>, stack: Option<&str>) -> Result<String, String> {
    let (Some(vlan), Some(stack)) = (vlan, stack) else {
        return net
            .slirp_stacks()
            .next()
            .map(|c| c.name.clone())
            .ok_or_else(|| "user mode network stack not in use\n".to_owned());
    };
    // strtol(vlan, NULL, 0) into an int.
    let id = crate::machine::devices::usb::strtoul_int(vlan);
    let Some(v) = u32::try_from(id).ok().filter(|v| net.vlans.contains(v)) else {
        return Err(format!("unknown VLAN {id}\n"));
    };
    let Some(client) = net
        .clients
        .iter()
        .find(|c| c.vlan == Some(v) && c.name == stack)
    else {
        return Err(format!("can't find device {stack} on VLAN {id}\n"));
    };
    if client.model != "user" {
        return Err("invalid device specified\n".to_owned());
    }
    Ok(client.name.clone())
}

/// The stack and the rule text of `[VLAN NAME] RULE`.
fn stack_and_rule<'a>(net: &Net, args: &Args<'a>) -> Result<(String, Option<&'a str>), String> {
    let arg1 = args.str("arg1");
    match args.opt_str("arg2") {
        Some(arg2) => Ok((
            slirp_lookup(net, Some(arg1), Some(arg2))?,
            args.opt_str("arg3"),
        )),
        None => Ok((slirp_lookup(net, None, None)?, Some(arg1))),
    }
}

/// `hostfwd_add [VLAN NAME] [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`.
pub fn hostfwd_add(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let net = &mut ctx.machine.devices.net;
    let (stack, rule) = match stack_and_rule(net, &args) {
        Ok(found) => found,
        Err(text) => {
            out.push_str(&text);
            return;
        }
    };
    if let Err(report) = net.add_hostfwd(&stack, rule) {
        let _ = writeln!(out, "{report}");
    }
}

/// `hostfwd_remove [VLAN NAME] [tcp|udp]:[HOSTADDR]:HOSTPORT`: as in 0.14,
/// the rule is looked for on the first stack whatever the one named, and
/// the words are swapped (`not found` when it went, `removed` when not).
pub fn hostfwd_remove(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let net = &mut ctx.machine.devices.net;
    let src = match stack_and_rule(net, &args) {
        Ok((_, src)) => src,
        Err(text) => {
            out.push_str(&text);
            return;
        }
    };
    let Some(src) = src.filter(|s| !s.is_empty()) else {
        out.push_str("invalid format\n");
        return;
    };
    // get_str_sep's result is not checked for the protocol: without a `:`
    // the buffer stays empty (TCP) and the text is read on as it is.
    let (proto, rest) = src.split_once(':').unwrap_or(("", src));
    let udp = match proto {
        "tcp" | "" => false,
        "udp" => true,
        _ => {
            out.push_str("invalid format\n");
            return;
        }
    };
    let Some((host, port)) = rest.split_once(':') else {
        out.push_str("invalid format\n");
        return;
    };
    let host_addr = if host.is_empty() {
        Some([0; 4])
    } else {
        inet_aton(host)
    };
    let Some(host_addr) = host_addr else {
        out.push_str("invalid format\n");
        return;
    };
    // atoi
    let port = crate::machine::devices::cfmt::scan_int_prefix(port).map_or(0, |(n, _)| n);
    let removed = net.remove_hostfwd(udp, host_addr, port);
    let word = if removed { "not found" } else { "removed" };
    let _ = writeln!(out, "host forwarding rule for {src} {word}");
}

/// `do_info_usernet`.
pub fn info_usernet(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str(&ctx.machine.devices.net.info_usernet());
}

#[cfg(test)]
mod tests {
    use crate::machine::config::{MachineConfig, OptionList};
    use crate::machine::Machine;

    use super::super::{assert_printed_on_fresh_machines, printed as hmp};

    const HEADER: &str =
        "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\n";

    #[test]
    fn add_then_info_usernet_lists_the_rule() {
        let mut m = Machine::new(MachineConfig::default());
        assert_eq!(hmp(&mut m, "hostfwd_add tcp::2222-:22"), "");
        assert_eq!(
            hmp(&mut m, "info usernet"),
            format!(
                "VLAN 0 (user.0):\n{HEADER}  TCP[HOST_FORWARD]  16               *  2222       10.0.2.15    22     0     0\n"
            )
        );
    }

    #[test]
    fn add_of_a_taken_tcp_port_cannot_be_set_up() {
        let mut m = Machine::new(MachineConfig::default());
        hmp(&mut m, "hostfwd_add ::2222-:22");
        assert_eq!(
            hmp(&mut m, "hostfwd_add tcp:127.0.0.1:2222-:23"),
            "could not set up host forwarding rule 'tcp:127.0.0.1:2222-:23'\n"
        );
    }

    #[test]
    fn refused_rules_print_014s_messages() {
        let config = |nodefaults| MachineConfig {
            nodefaults,
            ..MachineConfig::default()
        };
        assert_printed_on_fresh_machines(
            config,
            &[
                (
                    false,
                    "hostfwd_add tcp::22",
                    "invalid host forwarding rule 'tcp::22'\n",
                ),
                (
                    false,
                    "hostfwd_add 0 user.0",
                    "invalid host forwarding rule '(null)'\n",
                ),
                (false, "hostfwd_add 3 user.0 ::1-:2", "unknown VLAN 3\n"),
                (
                    false,
                    "hostfwd_add 0 bogus ::1-:2",
                    "can't find device bogus on VLAN 0\n",
                ),
                (
                    false,
                    "hostfwd_add 0 e1000.0 ::1-:2",
                    "invalid device specified\n",
                ),
                (
                    true,
                    "hostfwd_add ::1-:2",
                    "user mode network stack not in use\n",
                ),
            ],
        );
    }

    #[test]
    fn remove_says_not_found_when_it_removed_and_removed_when_not() {
        let mut m = Machine::new(MachineConfig::default());
        hmp(&mut m, "hostfwd_add udp::5353-:53");
        assert_eq!(
            [
                hmp(&mut m, "hostfwd_remove udp::5353"),
                hmp(&mut m, "hostfwd_remove udp::5353"),
                hmp(&mut m, "hostfwd_remove sctp::1"),
                hmp(&mut m, "hostfwd_remove 22"),
            ],
            [
                "host forwarding rule for udp::5353 not found\n",
                "host forwarding rule for udp::5353 removed\n",
                "invalid format\n",
                "invalid format\n"
            ]
        );
    }

    #[test]
    fn startup_rules_are_listed_in_option_order() {
        let mut user = OptionList::from_iter([("type", "user")]);
        user.push("hostfwd", "::2222-:22");
        user.push("hostfwd", "udp::69-:69");
        user.push("hostfwd", "::8080-10.0.2.20:80");
        let mut m = Machine::new(MachineConfig {
            nets: vec![user],
            ..MachineConfig::default()
        });
        let info = hmp(&mut m, "info usernet");
        let ports: Vec<&str> = info
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().nth(3).unwrap_or_default())
            .collect();
        assert_eq!(ports, ["2222", "8080", "69"]);
    }
}
