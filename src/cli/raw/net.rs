//! Devices and networking: `-net`, `-netdev`, `-device` and `-balloon`, checked
//! against 0.14's types and required keys; the machine builds them from the lists.

use super::option_list::parse_option_list;
use super::{OptCtx, RawError};
use crate::machine::config::OptionList;

/// `-net` types of 0.14.
pub const NET_TYPES: &[&str] = &["none", "nic", "user", "tap", "socket", "vde", "dump"];
/// `-netdev` types of 0.14.
pub const NETDEV_TYPES: &[&str] = &["user", "tap", "socket", "vde"];

fn parse_net(
    option: &str,
    v: &str,
    types: &[&str],
    expected: &str,
) -> Result<OptionList, RawError> {
    let opts = parse_option_list(v, Some("type"));
    match opts.get("type") {
        None => Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
        }),
        Some(t) if !types.contains(&t) => Err(RawError::InvalidParameterValue {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "type".to_owned(),
            expected: expected.to_owned(),
        }),
        Some(_) => Ok(opts),
    }
}

fn parse_netdev(option: &str, v: &str) -> Result<OptionList, RawError> {
    let opts = parse_net(option, v, NETDEV_TYPES, "a netdev backend type")?;
    if opts.get("id").is_none() {
        return Err(RawError::MissingParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: "id".to_owned(),
        });
    }
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
    use super::super::{parse_err, parse_ok};

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
    fn device_without_driver_is_rejected() {
        assert_eq!(
            parse_err(&["-device", "id=n1"]),
            "qemu-system-x86_64: -device id=n1: Parameter 'driver' is missing"
        );
    }

    #[test]
    fn netdev_without_id_is_rejected() {
        assert_eq!(
            parse_err(&["-netdev", "user"]),
            "qemu-system-x86_64: -netdev user: Parameter 'id' is missing"
        );
    }

    #[test]
    fn net_unknown_type_is_rejected() {
        assert_eq!(
            parse_err(&["-net", "wifi"]),
            "qemu-system-x86_64: -net wifi: Parameter 'type' expects a network client type"
        );
    }

    #[test]
    fn net_none_stores_type() {
        assert_eq!(
            parse_ok(&["-net", "none"]).config.nets[0].get("type"),
            Some("none")
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

    #[test]
    fn balloon_unknown_is_rejected() {
        assert_eq!(
            parse_err(&["-balloon", "xen"]),
            "Unknown -balloon argument xen"
        );
    }
}
