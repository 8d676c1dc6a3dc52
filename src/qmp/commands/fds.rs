//! Descriptor passing: getfd and closefd (0.14's `do_getfd` / `do_closefd`),
//! and [`take_named_fd`] for commands that consume a named descriptor
//! (`migrate fd:NAME`, `netdev_add ...,fd=NAME`). Names are kept per monitor in
//! `Machine::named_fds`, as 0.14 keeps them in the `Monitor`. Descriptors are
//! edge handles; closing one leaves as [`Effect::CloseFd`]. No I/O here.

use std::collections::BTreeMap;

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::{Effect, Machine};
use crate::wire::{ErrorClass, QmpError};

/// Most named descriptors one monitor may hold (0.14 is bounded only by the
/// process's open-file limit, whose error class is TooManyFiles).
pub const NAMED_FDS_MAX: usize = 256;

/// `getfd`: takes the descriptor passed with this message and names it.
/// FdNotSupplied is checked first; a name starting with a digit is refused
/// (the descriptor is closed, where 0.14 leaks it); an existing name is
/// replaced silently and its old descriptor closed.
pub fn getfd(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let Some(fd) = ctx.session.pending_fd.take() else {
        return Err(QmpError::bare(ErrorClass::FdNotSupplied));
    };
    let name = args.str("fdname");
    let machine = &mut *ctx.machine;
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        machine.effects.push(Effect::CloseFd { fd: fd.0 });
        return Err(QmpError::with2(
            ErrorClass::InvalidParameterValue,
            "fdname",
            "a name not starting with a digit",
        ));
    }
    let fds = machine.named_fds.entry(ctx.session.monitor).or_default();
    if let Some(old) = fds.get_mut(name) {
        let old_fd = std::mem::replace(old, fd.0);
        machine.effects.push(Effect::CloseFd { fd: old_fd });
        return empty();
    }
    if fds.len() >= NAMED_FDS_MAX {
        machine.effects.push(Effect::CloseFd { fd: fd.0 });
        return Err(QmpError::bare(ErrorClass::TooManyFiles));
    }
    fds.insert(name.to_owned(), fd.0);
    empty()
}

/// `closefd`: FdNotFound for a name this monitor does not hold.
pub fn closefd(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let name = args.str("fdname");
    let Some(fd) = take_named_fd(ctx.machine, ctx.session.monitor, name) else {
        return Err(QmpError::with1(ErrorClass::FdNotFound, name));
    };
    ctx.machine.effects.push(Effect::CloseFd { fd });
    empty()
}

/// 0.14's `monitor_get_fd`: removes the named descriptor from `monitor`'s list
/// and hands it over, or `None`.
pub fn take_named_fd(machine: &mut Machine, monitor: u32, name: &str) -> Option<u64> {
    take_from(&mut machine.named_fds, monitor, name)
}

/// [`take_named_fd`] on the named-descriptor table alone, for callers that hold
/// other parts of the machine at the same time.
pub fn take_from(
    named_fds: &mut BTreeMap<u32, BTreeMap<String, u64>>,
    monitor: u32,
    name: &str,
) -> Option<u64> {
    let fds = named_fds.get_mut(&monitor)?;
    let fd = fds.remove(name)?;
    if fds.is_empty() {
        named_fds.remove(&monitor);
    }
    Some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::qdict;
    use crate::qmp::session::{FdHandle, Session};

    struct World {
        m: Machine,
        s: Session,
    }

    impl World {
        fn new() -> Self {
            World {
                m: Machine::new(MachineConfig::default()),
                s: Session::new(0),
            }
        }

        fn call(&mut self, h: super::super::Handler, name: &str, fd: Option<u64>) -> HandlerResult {
            self.s.pending_fd = fd.map(FdHandle);
            super::super::with_ctx(&mut self.m, &mut self.s, |ctx| {
                h(ctx, super::super::typed(h, &qdict! { "fdname" => name }))
            })
        }
    }

    #[test]
    fn getfd_without_fd_is_not_supplied_even_for_digit_name() {
        let mut w = World::new();
        assert_eq!(
            w.call(getfd, "1x", None),
            Err(QmpError::bare(ErrorClass::FdNotSupplied))
        );
    }

    #[test]
    fn getfd_digit_name_is_refused_and_fd_closed() {
        let mut w = World::new();
        assert_eq!(
            w.call(getfd, "1x", Some(5)),
            Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "fdname",
                "a name not starting with a digit"
            ))
        );
        assert_eq!(w.m.effects, [Effect::CloseFd { fd: 5 }]);
    }

    #[test]
    fn getfd_same_name_replaces_and_closes_old() {
        let mut w = World::new();
        w.call(getfd, "fd1", Some(5)).unwrap();
        w.call(getfd, "fd1", Some(6)).unwrap();
        assert_eq!(w.m.effects, [Effect::CloseFd { fd: 5 }]);
        assert_eq!(w.m.named_fds[&0]["fd1"], 6);
    }

    #[test]
    fn getfd_consumes_pending_fd() {
        let mut w = World::new();
        w.call(getfd, "fd1", Some(5)).unwrap();
        assert_eq!(w.s.pending_fd, None);
    }

    /// A world whose monitor 0 holds `n` named descriptors `f0`, `f1`, ...
    fn holding(n: usize) -> World {
        let mut w = World::new();
        let named = (0..n).map(|i| (format!("f{i}"), 1_u64)).collect();
        w.m.named_fds.insert(0, named);
        w
    }

    #[test]
    fn getfd_reaching_limit_is_accepted() {
        let mut w = holding(NAMED_FDS_MAX - 1);
        assert!(w.call(getfd, "last", Some(9)).is_ok());
    }

    #[test]
    fn getfd_past_limit_is_too_many_files() {
        let mut w = holding(NAMED_FDS_MAX);
        assert_eq!(
            w.call(getfd, "extra", Some(9)),
            Err(QmpError::bare(ErrorClass::TooManyFiles))
        );
    }

    #[test]
    fn getfd_past_limit_closes_the_descriptor() {
        let mut w = holding(NAMED_FDS_MAX);
        let _ = w.call(getfd, "extra", Some(9));
        assert_eq!(w.m.effects, [Effect::CloseFd { fd: 9 }]);
    }

    #[test]
    fn getfd_past_limit_does_not_name_it() {
        let mut w = holding(NAMED_FDS_MAX);
        let _ = w.call(getfd, "extra", Some(9));
        assert!(!w.m.named_fds[&0].contains_key("extra"));
    }

    #[test]
    fn getfd_at_limit_with_a_held_name_replaces_it() {
        let mut w = holding(NAMED_FDS_MAX);
        w.call(getfd, "f0", Some(9)).unwrap();
        assert_eq!(w.m.named_fds[&0]["f0"], 9);
    }

    #[test]
    fn getfd_at_limit_on_another_monitor_is_accepted() {
        let mut w = holding(NAMED_FDS_MAX);
        w.s.monitor = 1;
        assert!(w.call(getfd, "extra", Some(9)).is_ok());
    }

    #[test]
    fn closefd_unknown_is_not_found() {
        let mut w = World::new();
        assert_eq!(
            w.call(closefd, "fd1", None),
            Err(QmpError::with1(ErrorClass::FdNotFound, "fd1"))
        );
    }

    #[test]
    fn closefd_known_closes_and_forgets() {
        let mut w = World::new();
        w.call(getfd, "fd1", Some(5)).unwrap();
        w.call(closefd, "fd1", None).unwrap();
        assert_eq!(w.m.effects, [Effect::CloseFd { fd: 5 }]);
        assert!(w.m.named_fds.is_empty());
    }

    #[test]
    fn names_are_per_monitor() {
        let mut w = World::new();
        w.call(getfd, "fd1", Some(5)).unwrap();
        assert_eq!(take_named_fd(&mut w.m, 1, "fd1"), None);
        assert_eq!(take_named_fd(&mut w.m, 0, "fd1"), Some(5));
    }
}
