//! Access control lists (0.14's acl.c), as the VNC server uses them: a
//! display opened with `acl` and `x509verify` checks a client certificate's
//! distinguished name against `vnc.x509dname`, one opened with `acl` and `sasl`
//! checks the SASL user name against `vnc.username`. The human monitor's
//! `acl_*` commands edit them (monitor.c `do_acl_*`). Lists are kept in
//! creation order and outlive the display, as 0.14's global list does.
//!
//! Matching is `fnmatch` with no flags: `*`, `?`, `[...]` (with `!`/`^` and
//! ranges) and `\` escapes. Pure: no I/O.

use serde::{Deserialize, Serialize};

/// ACL entries one list holds at most.
pub const ACL_ENTRIES_MAX: usize = 256;

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// The `fnmatch` pattern.
    pub pattern: String,
    /// Deny (rather than allow) a party it matches.
    pub deny: bool,
}

/// One list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// `vnc.x509dname` or `vnc.username`.
    pub name: String,
    /// The policy when no rule matches (a new list denies).
    pub default_deny: bool,
    /// Rules in order.
    pub entries: Vec<AclEntry>,
    /// 0.14's `nentries`: counts appends and inserts; `qemu_acl_remove` does
    /// not lower it, so it can exceed the rules left.
    pub nentries: i64,
}

impl Acl {
    /// `qemu_acl_init`: an empty list that denies by default.
    pub fn new(name: &str) -> Acl {
        Acl {
            name: name.to_owned(),
            default_deny: true,
            entries: Vec::new(),
            nentries: 0,
        }
    }

    /// `qemu_acl_party_is_allowed`: the first matching rule decides.
    pub fn allows(&self, party: &str) -> bool {
        match self.entries.iter().find(|e| fnmatch(&e.pattern, party)) {
            Some(e) => !e.deny,
            None => !self.default_deny,
        }
    }

    /// `qemu_acl_reset`: no rules, deny by default.
    pub fn reset(&mut self) {
        self.default_deny = true;
        self.entries.clear();
        self.nentries = 0;
    }

    /// `qemu_acl_append`: the new rule's position (-1 past
    /// [`ACL_ENTRIES_MAX`] rules).
    pub fn append(&mut self, deny: bool, pattern: &str) -> i64 {
        if self.entries.len() >= ACL_ENTRIES_MAX {
            return -1;
        }
        self.entries.push(AclEntry {
            pattern: pattern.to_owned(),
            deny,
        });
        self.nentries += 1;
        self.nentries
    }

    /// `qemu_acl_insert` before the rule at 1-based `index`: -1 for an index
    /// below 1; an append when `index` reaches `nentries`.
    pub fn insert(&mut self, deny: bool, pattern: &str, index: i64) -> i64 {
        if index <= 0 {
            return -1;
        }
        if index >= self.nentries {
            return self.append(deny, pattern);
        }
        let at = usize::try_from(index - 1).unwrap_or(usize::MAX);
        if self.entries.len() >= ACL_ENTRIES_MAX {
            return -1;
        }
        if at < self.entries.len() {
            self.entries.insert(
                at,
                AclEntry {
                    pattern: pattern.to_owned(),
                    deny,
                },
            );
            self.nentries += 1;
        }
        index
    }

    /// `qemu_acl_remove`: the position of the first rule with exactly this
    /// pattern, removed; -1 when none has it.
    pub fn remove(&mut self, pattern: &str) -> i64 {
        match self.entries.iter().position(|e| e.pattern == pattern) {
            Some(i) => {
                self.entries.remove(i);
                i64::try_from(i + 1).unwrap_or(i64::MAX)
            }
            None => -1,
        }
    }
}

/// `fnmatch(pattern, s, 0)`.
pub fn fnmatch(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    matches_at(&p, &t)
}

fn matches_at(p: &[char], t: &[char]) -> bool {
    let Some((&first, rest)) = p.split_first() else {
        return t.is_empty();
    };
    match first {
        '*' => (0..=t.len()).any(|skip| matches_at(rest, &t[skip..])),
        '?' => !t.is_empty() && matches_at(rest, &t[1..]),
        '[' => match (t.first(), bracket(rest)) {
            (Some(&c), Some((set, after))) => set_has(set, c) && matches_at(after, &t[1..]),
            // An unclosed bracket matches itself.
            (Some('['), None) => matches_at(rest, &t[1..]),
            _ => false,
        },
        '\\' if !rest.is_empty() => t.first() == Some(&rest[0]) && matches_at(&rest[1..], &t[1..]),
        c => t.first() == Some(&c) && matches_at(rest, &t[1..]),
    }
}

/// The set of a bracket expression (after its `[`) and what follows its `]`.
fn bracket(p: &[char]) -> Option<(&[char], &[char])> {
    let start = usize::from(matches!(p.first(), Some('!' | '^')));
    // A `]` right after the opening (or its negation) is part of the set.
    let close = p
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, &c)| c == ']')
        .map(|(i, _)| i)?;
    Some((&p[..close], &p[close + 1..]))
}

fn set_has(set: &[char], c: char) -> bool {
    let (negated, items) = match set.split_first() {
        Some(('!' | '^', rest)) => (true, rest),
        _ => (false, set),
    };
    let mut found = false;
    let mut i = 0;
    while i < items.len() {
        if i + 2 < items.len() && items[i + 1] == '-' {
            found |= (items[i]..=items[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= items[i] == c;
            i += 1;
        }
    }
    found != negated
}

impl crate::machine::Machine {
    /// The display's access control turns away the client at `host`:`service`
    /// (its certificate name or SASL user name is not allowed): it is
    /// disconnected, as 0.14 drops a client whose authentication fails.
    pub fn vnc_acl_refuses(
        &mut self,
        host: &str,
        service: &str,
    ) -> Result<bool, crate::qobject::QmpError> {
        let Some(vnc) = self.display.vnc.as_ref() else {
            return Ok(false);
        };
        let Some(client) = vnc.client_index(host, service).map(|i| &vnc.clients[i]) else {
            return Ok(false);
        };
        if vnc.acl_admits(
            client.x509_dname.as_deref(),
            client.sasl_username.as_deref(),
        ) {
            return Ok(false);
        }
        self.vnc_client_disconnect(host, service)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_wildcards_and_sets() {
        assert_eq!(
            [
                fnmatch("CN=*,O=Corp", "CN=alice,O=Corp"),
                fnmatch("user?", "user1"),
                fnmatch("[a-c]*", "bob"),
                fnmatch("[!a-c]*", "bob"),
                fnmatch("a\\*", "a*"),
                fnmatch("fred", "fredd"),
                fnmatch("[xyz]", "y"),
                fnmatch("[xyz]", "a"),
                fnmatch("[!xyz]", "y"),
                fnmatch("[a-cx]", "x"),
            ],
            [true, true, true, false, true, false, true, false, false, true]
        );
    }

    #[test]
    fn new_list_denies_everyone() {
        assert!(!Acl::new("vnc.username").allows("fred"));
    }

    #[test]
    fn first_matching_rule_decides() {
        let mut acl = Acl::new("vnc.username");
        acl.append(true, "fred");
        acl.append(false, "*");
        assert_eq!((acl.allows("fred"), acl.allows("bob")), (false, true));
    }

    #[test]
    fn remove_keeps_nentries_as_0_14_does() {
        let mut acl = Acl::new("vnc.username");
        acl.append(false, "a");
        acl.append(false, "b");
        assert_eq!(
            (acl.remove("a"), acl.nentries, acl.insert(false, "c", 1)),
            (1, 2, 1)
        );
    }

    #[test]
    fn insert_counts_the_rule_and_puts_it_first() {
        let mut acl = Acl::new("vnc.username");
        acl.append(false, "a");
        acl.append(false, "b");
        assert_eq!((acl.insert(true, "c", 1), acl.nentries), (1, 3));
        assert_eq!(acl.append(false, "d"), 4);
        let patterns: Vec<&str> = acl.entries.iter().map(|e| e.pattern.as_str()).collect();
        assert_eq!(patterns, ["c", "a", "b", "d"]);
    }

    #[test]
    fn insert_below_one_fails() {
        assert_eq!(Acl::new("x").insert(false, "a", 0), -1);
    }

    #[test]
    fn append_up_to_the_rule_limit_is_accepted() {
        let mut acl = Acl::new("vnc.username");
        for i in 0..ACL_ENTRIES_MAX - 1 {
            acl.append(false, &format!("u{i}"));
        }
        assert_eq!(
            acl.append(false, "last"),
            i64::try_from(ACL_ENTRIES_MAX).unwrap()
        );
    }

    #[test]
    fn append_past_the_rule_limit_fails() {
        let mut acl = Acl::new("vnc.username");
        for i in 0..ACL_ENTRIES_MAX {
            acl.append(false, &format!("u{i}"));
        }
        assert_eq!(acl.append(false, "one-more"), -1);
    }
}
