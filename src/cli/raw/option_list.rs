//! QEMU option strings (`first,key=value,flag,noflag`), as 0.14's
//! `qemu_opts_do_parse` reads them, and the checks every option family shares.

use super::RawError;
use crate::machine::config::OptionList;

/// Splits a QEMU option string at commas, `,,` standing for a literal comma.
pub fn split_items(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ',' {
            cur.push(c);
        } else if chars.peek() == Some(&',') {
            chars.next();
            cur.push(',');
        } else {
            items.push(std::mem::take(&mut cur));
        }
    }
    items.push(cur);
    items.retain(|i| !i.is_empty());
    items
}

/// Parses `first,key=value,flag,noflag` as 0.14's `qemu_opts_do_parse`: a bare first
/// item goes under `implied` when given; other bare items are flags, `on`, or `off`
/// when written with a `no` prefix.
pub fn parse_option_list(s: &str, implied: Option<&str>) -> OptionList {
    let mut opts = OptionList::default();
    let first_is_bare = !s.starts_with(',');
    for (i, item) in split_items(s).into_iter().enumerate() {
        match (item.split_once('='), implied) {
            (Some((k, v)), _) => opts.push(k, v),
            (None, Some(key)) if i == 0 && first_is_bare => opts.push(key, &item),
            (None, _) => match item.strip_prefix("no") {
                Some(flag) => opts.push(flag, "off"),
                None => opts.push(&item, "on"),
            },
        }
    }
    opts
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
