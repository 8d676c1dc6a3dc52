//! Goldens of the human monitor's USB, user-mode network and qdev listing
//! commands (`golden/hmp__usb_*.snap`, `golden/hmp__hostfwd_*.snap`,
//! `golden/hmp__qdm.snap`): `usb_add`, `usb_del`, `info usb` and
//! `-usbdevice`, before and after the guest gives the devices their
//! addresses; `hostfwd_add`, `hostfwd_remove` and `info usernet`, with
//! `hostfwd=` rules from the command line; `info qdm` and `device_add ?`.
//! Success and error paths, each reply decoded under its `<- ` line.

use qmpsim::machine::config::{MachineConfig, OptionList};

use crate::golden_hmp::{lines, timed};
use crate::support::{nodefaults, snap, Step};

use Step::{AdvanceMs, Hmp, Send};

fn usb(devices: &[&str]) -> MachineConfig {
    MachineConfig {
        usb: true,
        usb_devices: devices.iter().map(|d| (*d).to_owned()).collect(),
        ..MachineConfig::default()
    }
}

#[test]
fn golden_hmp_usb_off() {
    snap(
        "hmp__usb_off",
        &lines(
            MachineConfig::default(),
            &["info usb", "usb_add tablet", "usb_add bogus", "usb_del 0.2"],
        ),
    );
}

#[test]
fn golden_hmp_usb_add_and_del_before_the_guest_runs() {
    snap(
        "hmp__usb_add_del",
        &lines(
            usb(&["tablet"]),
            &[
                "info usb",
                "usb_add keyboard",
                "usb_add mouse",
                "info usb",
                r#"{"execute":"query-mice"}"#,
                "usb_add mouse:fast",
                "usb_add braille",
                "usb_add bogus",
                "usb_add disk:/tmp/usb.img",
                "usb_del 0.2",
                "usb_del 0",
                "usb_del host:1.2",
                "usb_del 0.0",
                "info usb",
                r#"{"execute":"query-mice"}"#,
            ],
        ),
    );
}

#[test]
fn golden_hmp_usb_enumerated() {
    snap(
        "hmp__usb_enumerated",
        &timed(
            usb(&["tablet", "keyboard"]),
            &[
                Hmp("info usb"),
                AdvanceMs(2000),
                Hmp("info usb"),
                Hmp("usb_add mouse"),
                AdvanceMs(2000),
                Hmp("info usb"),
                Send(r#"{"execute":"query-mice"}"#),
                Hmp("usb_del 0.3"),
                Hmp("info usb"),
                Send(r#"{"execute":"system_reset"}"#),
                Hmp("info usb"),
                AdvanceMs(2000),
                Hmp("info usb"),
            ],
        ),
    );
}

fn user(rules: &[&str]) -> MachineConfig {
    let mut user = OptionList::from_iter([("type", "user")]);
    for rule in rules {
        user.push("hostfwd", rule);
    }
    let nic = OptionList::from_iter([("type", "nic")]);
    MachineConfig {
        nets: vec![nic, user],
        ..MachineConfig::default()
    }
}

#[test]
fn golden_hmp_hostfwd() {
    snap(
        "hmp__hostfwd",
        &lines(
            user(&["tcp::2222-:22", "udp:127.0.0.1:5353-10.0.2.3:53"]),
            &[
                "info usernet",
                "hostfwd_add ::8080-:80",
                "hostfwd_add 0 user.0 udp::5353-:53",
                "hostfwd_add tcp:127.0.0.1:2222-:23",
                "hostfwd_add tcp::2222",
                "hostfwd_add tcp::0-:22",
                "hostfwd_add 0 user.0",
                "hostfwd_add 1 user.0 ::1-:2",
                "hostfwd_add 0 bogus ::1-:2",
                "hostfwd_add 0 e1000.0 ::1-:2",
                "info usernet",
                "hostfwd_remove tcp::2222",
                "hostfwd_remove tcp::2222",
                "hostfwd_remove udp:127.0.0.1:5353",
                "hostfwd_remove sctp::1",
                "hostfwd_remove 22",
                "hostfwd_remove 0 user.0",
                "info usernet",
            ],
        ),
    );
}

#[test]
fn golden_hmp_hostfwd_without_user_networking() {
    snap(
        "hmp__hostfwd_no_user",
        &lines(
            nodefaults(),
            &[
                "hostfwd_add ::2222-:22",
                "hostfwd_remove ::2222",
                "info usernet",
                "netdev_add user,id=u1,hostfwd=::2222-:22",
                "netdev_add user,id=u2,hostfwd=bogus",
                "host_net_add user hostfwd=::2222-:22,hostfwd=::2222-:23",
                "info usernet",
            ],
        ),
    );
}

#[test]
fn golden_hmp_info_qdm_and_device_add_help() {
    snap(
        "hmp__qdm",
        &lines(
            MachineConfig::default(),
            &[
                "info qdm",
                "device_add ?",
                "device_add bogus",
                "device_add isa-fdc",
                r#"{"execute":"device_add","arguments":{"driver":"?"}}"#,
            ],
        ),
    );
}
