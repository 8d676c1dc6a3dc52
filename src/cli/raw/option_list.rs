//! QEMU option strings (`first,key=value,flag,noflag`), as 0.14's
//! `qemu_opts_do_parse` reads them, and the checks every option family shares.

use super::RawError;
use crate::machine::config::OptionList;

/// Splits a QEMU option string at commas (see [`OptionList::split_items`]).
pub fn split_items(s: &str) -> Vec<String> {
    OptionList::split_items(s)
}

/// Parses an option string (see [`OptionList::parse`]).
pub fn parse_option_list(s: &str, implied: Option<&str>) -> OptionList {
    OptionList::parse(s, implied)
}

/// A QEMU boolean option value (`on`/`off`, also `yes`/`no`); anything else is off.
pub(super) fn opt_bool(opts: &OptionList, key: &str, default: bool) -> bool {
    match opts.get(key) {
        Some("on" | "yes") => true,
        Some(_) => false,
        None => default,
    }
}

/// `Invalid parameter` for the first key not in `keys`.
pub(super) fn check_keys(
    option: &str,
    v: &str,
    opts: &OptionList,
    keys: &[&str],
) -> Result<(), RawError> {
    match opts.items.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
        Some((key, _)) => Err(RawError::InvalidParameter {
            option: option.to_owned(),
            arg: v.to_owned(),
            param: key.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_list_no_prefix_flag_is_off() {
        assert_eq!(
            parse_option_list("x,nowait", Some("a")).items,
            [
                ("a".to_owned(), "x".to_owned()),
                ("wait".to_owned(), "off".to_owned())
            ]
        );
    }
}
