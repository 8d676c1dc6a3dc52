//! The start both `proxy` and `serve` share: the client listener, bound and
//! registered in a new poll, and the signals that stop them.

use std::io;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;

use super::Address;
use crate::server::conn::Conn;
use crate::server::listen::Listener;

/// The poll token of the client listener.
pub(super) const LISTENER: Token = Token(0);
/// The poll token of the signals.
pub(super) const SIGNALS: Token = Token(1);

/// A bound, non-blocking listener registered as [`LISTENER`] in `poll`, with
/// the signals registered as [`SIGNALS`].
pub(super) struct Listening {
    pub poll: Poll,
    pub listener: Listener,
    pub signals: Signals,
}

/// Binds `address` (a failure goes through `bind_error`) and sets up the poll
/// for it and for `signals`.
pub(super) fn listen<E: From<io::Error>>(
    address: &Address,
    signals: &[std::os::raw::c_int],
    bind_error: impl FnOnce(io::Error) -> E,
) -> Result<Listening, E> {
    let listener = address.bind().map_err(bind_error)?;
    listener.set_nonblocking()?;
    let poll = Poll::new()?;
    poll.registry().register(
        &mut SourceFd(&listener.raw_fd()),
        LISTENER,
        Interest::READABLE,
    )?;
    let mut signals = Signals::new(signals)?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    Ok(Listening {
        poll,
        listener,
        signals,
    })
}

/// Waits for `events`; false when polling failed (the error goes to
/// `report`). An interruption is not a failure.
pub(super) fn wait(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
    report: impl FnOnce(&io::Error),
) -> bool {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() != io::ErrorKind::Interrupted => {
            report(&e);
            false
        }
        _ => true,
    }
}

/// The next waiting client, or `None` when there is none or accepting failed
/// (the error goes to `report`).
pub(super) fn accept_next(listener: &Listener, report: impl FnOnce(&io::Error)) -> Option<Conn> {
    loop {
        match listener.accept() {
            Ok(conn) => return Some(conn),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) => {
                report(&e);
                return None;
            }
        }
    }
}

/// The index of the first free slot of `slots`, a new one at the end when none
/// is free.
pub(super) fn free_slot<T>(slots: &mut Vec<Option<T>>) -> usize {
    slots.iter().position(Option::is_none).unwrap_or_else(|| {
        slots.push(None);
        slots.len() - 1
    })
}
