//! Devices and networking: `-net`, `-netdev`, `-device` and `-balloon`, checked
//! against 0.14's types and required keys; the machine builds them from the lists.

use super::drive::parse_c_number;
use super::option_list::parse_option_list;
use super::{OptCtx, RawError, SpecialMode, PROGRAM};
use crate::machine::config::OptionList;

/// `-net` types of 0.14.
pub const NET_TYPES: &[&str] = &["none", "nic", "user", "tap", "socket", "vde", "dump"];
/// `-netdev` types of 0.14.
pub const NETDEV_TYPES: &[&str] = &["user", "tap", "socket", "vde"];

/// The keys each `-net`/`-netdev` type takes besides `type`, `vlan` and `name`
/// (0.14's `net_client_types`; `id` is the option list's own).
const NET_TYPE_KEYS: &[(&str, &[&str])] = &[
    ("none", &[]),
    ("nic", &["netdev", "macaddr", "model", "addr", "vectors"]),
    (
        "user",
        &[
            "hostname",
            "restrict",
            "ip",
            "net",
            "host",
            "tftp",
            "bootfile",
            "dhcpstart",
            "dns",
            "smb",
            "smbserver",
            "hostfwd",
            "guestfwd",
        ],
    ),
    (
        "tap",
        &[
            "ifname",
            "fd",
            "script",
            "downscript",
            "sndbuf",
            "vnet_hdr",
            "vhost",
            "vhostfd",
            "vhostforce",
        ],
    ),
    ("socket", &["fd", "listen", "connect", "mcast", "localaddr"]),
    ("vde", &["sock", "port", "group", "mode"]),
    ("dump", &["len", "file"]),
];
/// NIC models 0.14's PC machine knows (`pci_nic_models`, and `ne2k_isa`).
pub const NIC_MODELS: &[&str] = &[
    "ne2k_pci", "i82551", "i82557b", "i82559er", "rtl8139", "e1000", "pcnet", "virtio", "ne2k_isa",
];
/// Largest `-net nic,vectors=` 0.14 accepts.
pub const NIC_VECTORS_MAX: u64 = 0x7ff_ffff;

fn parse_net(
    option: &str,
    v: &str,
    types: &[&str],
    expected: &str,
) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("type"));
    let Some(kind) = opts.get("type") else {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
        });
    };
    if !types.contains(&kind) {
        return Err(RawError::InvalidParameterValue {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(opts)
}

/// `net_client_init`'s checks after the type: the type's keys
/// (`qemu_opts_validate`), then a NIC's `macaddr` and `vectors`.
fn check_net_client(option: &str, v: &str, opts: &OptionList) -> Result<(), RawError> {
    let kind = opts.get("type").unwrap_or_default();
    let keys = NET_TYPE_KEYS
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or(&[][..], |(_, k)| *k);
    for (key, value) in &opts.items {
        let key = key.as_str();
        if !matches!(key, "type" | "vlan" | "name" | "id") && !keys.contains(&key) {
            return Err(RawError::InvalidParameter {
                option: option.to_owned(),
                arg: v.to_owned(),
                param: key.to_owned(),
            });
        }
        if matches!(key, "vlan" | "vectors") && parse_c_number(value).is_none() {
            return Err(RawError::InvalidParameterValue {
                option: option.to_owned(),
                arg: v.to_owned(),
                param: key.to_owned(),
                expected: "a number".to_owned(),
            });
        }
    }
    if kind == "user" {
        // net_slirp_init sets up the `hostfwd=` rules; one that fails fails
        // the stack.
        if let Err(report) = crate::machine::devices::net::Net::check_user_rules(&opts.items) {
            return Err(RawError::Located {
                option: option.to_owned(),
                arg: v.to_owned(),
                message: format!(
                    "{report}\n{PROGRAM}: {option} {v}: Device 'user' could not be initialized"
                ),
            });
        }
    }
    if kind != "nic" {
        return Ok(());
    }
    let failed = |message: &str| RawError::Located {
        option: option.to_owned(),
        arg: v.to_owned(),
        message: format!(
            "{message}\n{PROGRAM}: {option} {v}: Device 'nic' could not be initialized"
        ),
    };
    if opts.get("macaddr").is_some_and(|m| !is_macaddr(m)) {
        return Err(failed("invalid syntax for ethernet address"));
    }
    if let Some(n) = opts.get("vectors").and_then(parse_c_number) {
        // 0.14 reads it into an int; -1 means "unspecified".
        let n = i64::from(i32::from_ne_bytes(
            u32::try_from(n & 0xffff_ffff)
                .expect("masked")
                .to_ne_bytes(),
        ));
        if n != -1 && !(0..=i64::try_from(NIC_VECTORS_MAX).expect("fits")).contains(&n) {
            return Err(failed(&format!("invalid # of vectors: {n}")));
        }
    }
    Ok(())
}

/// 0.14's `net_parse_macaddr`: a number up to 0xFFFFFF (the last three bytes),
/// or six hex fields separated by `:` or `-`.
pub fn is_macaddr(s: &str) -> bool {
    if parse_c_number(s).is_some_and(|n| n <= 0xff_ffff) && !s.starts_with('-') {
        return true;
    }
    let mut rest = s;
    for field in 0..6 {
        let digits = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        rest = &rest[digits..];
        if field == 5 {
            return rest.is_empty();
        }
        match rest.strip_prefix([':', '-']) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    unreachable!("the loop returns at the sixth field")
}

/// The PC's PCI NIC models (`pci_nic_models`), which `model=?` lists.
pub const PCI_NIC_MODELS: &[&str] = &[
    "ne2k_pci", "i82551", "i82557b", "i82559er", "rtl8139", "e1000", "pcnet", "virtio",
];

/// What `-net nic,model=?` prints on stderr (`qemu_show_nic_models`).
pub fn nic_models_text() -> String {
    format!("qemu: Supported NIC models: {}\n", PCI_NIC_MODELS.join(","))
}

/// The NIC models the machine refuses when it builds the NICs (0.14's
/// `qemu_find_nic_model`, after all options are read: no location).
fn check_nic_model(opts: &OptionList) -> Result<(), RawError> {
    match opts.get("model") {
        Some(model) if opts.get("type") == Some("nic") && !NIC_MODELS.contains(&model) => Err(
            RawError::Unlocated(format!("qemu: Unsupported NIC model: {model}")),
        ),
        _ => Ok(()),
    }
}

fn parse_netdev(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_net(option, v, NETDEV_TYPES, "a netdev backend type")?;
    if let Some(param) = ["vlan", "name"].into_iter().find(|k| opts.get(k).is_some()) {
        return Err(RawError::InvalidParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: param.to_owned(),
        });
    }
    if opts.get("id").is_none() {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "id".to_owned(),
        });
    }
    check_net_client(option, v, &opts)?;
    Ok(opts)
}

/// Checks `-device DRIVER[,prop=value...]`.
pub fn parse_device(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("driver"));
    if opts.get("driver").filter(|d| !d.is_empty()).is_none() {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "driver".to_owned(),
        });
    }
    let driver = opts.get("driver").unwrap_or_default();
    // `DRIVER,?` of any driver of the build, `no_user` ones included, asks
    // for its properties (qdev_device_help, before any device is made).
    if opts.get("?").is_some() && crate::machine::devices::qdm::find(driver).is_some() {
        return Ok(opts);
    }
    // qdev_device_add: a driver of the build (by name or alias) a user may
    // create; `?` lists them (qdev_device_help, before any device is made).
    let known = crate::machine::devices::qdm::QDM
        .iter()
        .find(|e| e.name == driver)
        .or_else(|| {
            crate::machine::devices::qdm::QDM
                .iter()
                .find(|e| e.alias == Some(driver))
        })
        .is_some_and(|e| !e.no_user);
    if driver != "?" && !known {
        return Err(RawError::Located {
            option: option.to_owned(),
            arg: v.to_owned(),
            message: "Parameter 'driver' expects a driver name\nTry with argument '?' for a list."
                .to_owned(),
        });
    }
    Ok(opts)
}

/// Checks `-balloon none|virtio[,addr=..]`.
pub fn parse_balloon(v: &str) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("type"));
    let known_keys = opts.items.iter().all(|(k, _)| k == "type" || k == "addr");
    match opts.get("type") {
        Some("none") if opts.items.len() == 1 => Ok(opts),
        Some("virtio") if known_keys => Ok(opts),
        _ => Err(RawError::Balloon(v.to_owned())),
    }
}

/// `-net TYPE[,...]`.
pub(super) fn apply_net(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let net = parse_net(ctx.option, &v, NET_TYPES, "a network client type")?;
    check_net_client(ctx.option, &v, &net)?;
    if net.get("type") == Some("nic") && net.get("model") == Some("?") {
        // pci_nic_init_nofail: the list, then exit(0).
        ctx.low.special = Some(SpecialMode::NicModels);
        return Ok(());
    }
    check_nic_model(&net)?;
    ctx.low.config.nets.push(net);
    Ok(())
}

/// `-netdev TYPE,id=ID[,...]`.
pub(super) fn apply_netdev(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let netdev = parse_netdev(ctx.option, &v)?;
    ctx.low.config.netdevs.push(netdev);
    Ok(())
}

/// `-device DRIVER[,...]`.
pub(super) fn apply_device(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let device = parse_device(ctx.option, &v)?;
    if device.get("driver") == Some("?") {
        ctx.low.special = Some(SpecialMode::DeviceList);
        return Ok(());
    }
    if device.get("?").is_some() {
        if let Some(entry) = device
            .get("driver")
            .and_then(crate::machine::devices::qdm::find)
        {
            ctx.low.special = Some(SpecialMode::DeviceHelp { driver: entry.name });
            return Ok(());
        }
    }
    ctx.low.config.devices.push(device);
    Ok(())
}

/// `-balloon none|virtio[,addr=..]`.
pub(super) fn apply_balloon(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.balloon = Some(parse_balloon(&v)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_ok};
    use super::is_macaddr;

    #[test]
    fn device_keeps_driver_first() {
        assert_eq!(
            parse_ok(&["-device", "e1000,id=n1"]).config.devices[0].items,
            [
                ("driver".to_owned(), "e1000".to_owned()),
                ("id".to_owned(), "n1".to_owned())
            ]
        );
    }

    #[test]
    fn device_driver_question_mark_asks_for_its_properties() {
        use super::super::SpecialMode;
        let special = |arg: &str| parse_ok(&["-device", arg]).special;
        assert_eq!(
            special("e1000,?"),
            Some(SpecialMode::DeviceHelp { driver: "e1000" })
        );
        assert_eq!(
            special("virtio-blk,?"),
            Some(SpecialMode::DeviceHelp {
                driver: "virtio-blk-pci"
            })
        );
        // no_user drivers answer too, and `?` may come anywhere.
        assert_eq!(
            special("driver=isa-fdc,id=x,?"),
            Some(SpecialMode::DeviceHelp { driver: "isa-fdc" })
        );
        assert_eq!(special("?"), Some(SpecialMode::DeviceList));
        assert_refused(&[(
            "an unknown driver's ? is no help",
            &["-device", "bogus,?"],
            "qemu-system-x86_64: -device bogus,?: Parameter 'driver' expects a driver name\nTry with argument '?' for a list.",
        )]);
    }

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "device without driver is rejected",
                &["-device", "id=n1"],
                "qemu-system-x86_64: -device id=n1: Parameter 'driver' is missing",
            ),
            (
                "netdev without id is rejected",
                &["-netdev", "user"],
                "qemu-system-x86_64: -netdev user: Parameter 'id' is missing",
            ),
            (
                "net unknown type is rejected",
                &["-net", "wifi"],
                "qemu-system-x86_64: -net wifi: Parameter 'type' expects a network client type",
            ),
            (
                "net nic unknown model is refused without location",
                &["-net", "nic,model=bogus"],
                "qemu-system-x86_64: qemu: Unsupported NIC model: bogus",
            ),
            (
                "net key of another type is an invalid parameter",
                &["-net", "nic,ifname=tap0"],
                "qemu-system-x86_64: -net nic,ifname=tap0: Invalid parameter 'ifname'",
            ),
            (
                "net bad macaddr fails the nic",
                &["-net", "nic,macaddr=52:54:00:12:34"],
                "qemu-system-x86_64: -net nic,macaddr=52:54:00:12:34: invalid syntax for ethernet \
                 address\nqemu-system-x86_64: -net nic,macaddr=52:54:00:12:34: Device 'nic' could \
                 not be initialized",
            ),
            (
                "netdev with vlan is an invalid parameter",
                &["-netdev", "user,id=u,vlan=1"],
                "qemu-system-x86_64: -netdev user,id=u,vlan=1: Invalid parameter 'vlan'",
            ),
            (
                "net vlan must be a number",
                &["-net", "user,vlan=x"],
                "qemu-system-x86_64: -net user,vlan=x: Parameter 'vlan' expects a number",
            ),
            (
                "balloon unknown is rejected",
                &["-balloon", "xen"],
                "Unknown -balloon argument xen",
            ),
        ]);
    }

    #[test]
    fn net_none_stores_type() {
        assert_eq!(
            parse_ok(&["-net", "none"]).config.nets[0].get("type"),
            Some("none")
        );
    }

    #[test]
    fn net_nic_isa_model_is_accepted() {
        assert_eq!(
            parse_ok(&["-net", "nic,model=ne2k_isa"]).config.nets.len(),
            1
        );
    }

    #[test]
    fn macaddr_forms_of_0_14() {
        assert_eq!(
            [
                "52:54:00:12:34:56",
                "52-54-0-1-2-3",
                "0x123456",
                "52:54:00:12:34:5g"
            ]
            .map(is_macaddr),
            [true, true, true, false]
        );
    }

    #[test]
    fn balloon_virtio_with_addr_is_accepted() {
        assert_eq!(
            parse_ok(&["-balloon", "virtio,addr=0x5"])
                .config
                .balloon
                .map(|b| b.items.len()),
            Some(2)
        );
    }
}
