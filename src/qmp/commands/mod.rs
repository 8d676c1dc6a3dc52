//! QMP command handlers, grouped by area. Each handler takes the [`Ctx`] and the
//! checked arguments and returns the `return` value or a [`QmpError`]. Handlers
//! change the machine, queue events and effects on it, and never do I/O.

pub mod balloon;
pub mod block;
pub mod char;
pub mod clock;
pub mod cpus;
pub mod devices;
pub mod display;
pub mod fds;
pub mod info;
pub mod inject;
pub mod memory;
pub mod migration;
pub mod net;
pub mod runstate;

use crate::machine::Machine;
pub use crate::qmp::args::Args;
use crate::qmp::session::{ClientId, Session};
use crate::qobject::{QDict, QObject, QmpError};

/// What a handler sees.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The VM.
    pub machine: &'a mut Machine,
    /// The calling client's session.
    pub session: &'a mut Session,
    /// The calling client.
    pub client: ClientId,
    /// Extra responses to send after the main one, without id (0.14's balloon
    /// quirk is the only user).
    pub followups: Vec<QObject>,
}

/// A handler's outcome: the `return` value or an error.
pub type HandlerResult = Result<QObject, QmpError>;

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> HandlerResult;

/// The empty `return` value `{}`.
pub fn empty() -> HandlerResult {
    Ok(QObject::Dict(QDict::new()))
}

/// Runs `f` with a context for a fresh session on monitor 0: the shared
/// harness of the handlers' unit tests.
#[cfg(test)]
pub(crate) fn with_fresh_ctx<R>(machine: &mut Machine, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    with_ctx(machine, &mut Session::new(0), f)
}

/// Runs `f` with a context for `session` (client 0), for handler tests that set up
/// or look at the session.
#[cfg(test)]
pub(crate) fn with_ctx<R>(
    machine: &mut Machine,
    session: &mut Session,
    f: impl FnOnce(&mut Ctx<'_>) -> R,
) -> R {
    let mut ctx = Ctx {
        machine,
        session,
        client: ClientId(0),
        followups: Vec::new(),
    };
    f(&mut ctx)
}

/// The `args_type` of the table command whose handler is `handler`.
#[cfg(test)]
pub(crate) fn args_type_of(handler: Handler) -> &'static str {
    crate::qmp::table::COMMANDS
        .iter()
        .find(|c| c.handler as usize == handler as usize)
        .map(|c| c.args_type)
        .expect("the handler is in the command table")
}

/// `handler`'s arguments `args`, typed by its table entry's `args_type`.
#[cfg(test)]
pub(crate) fn typed(handler: Handler, args: &QDict) -> Args<'_> {
    Args::new(args_type_of(handler), args)
}

/// Runs `handler` as dispatch would after argument checking, for a fresh session.
#[cfg(test)]
pub(crate) fn call_fresh(machine: &mut Machine, handler: Handler, args: &QDict) -> HandlerResult {
    with_fresh_ctx(machine, |ctx| handler(ctx, typed(handler, args)))
}
