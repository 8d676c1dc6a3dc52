//! Per-client session state: capabilities negotiation, the byte splitter, the
//! descriptor passed with the latest message, the monitor's selected CPU, and
//! for a human monitor its line editor (`crate::monitor`).
//! Created when a client connects (0.14 resets its parser and mode per connection).
//! Plain serde data.

use serde::{Deserialize, Serialize};

use crate::monitor::mux::Mux;
use crate::monitor::readline::Readline;
use crate::monitor::telnet::Telnet;
use crate::wire::framing::Framer;

/// A connected client, numbered by the edge in connection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u32);

/// A descriptor passed with SCM_RIGHTS, as a handle the edge maps to the real fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FdHandle(pub u64);

/// Negotiation state (qmp-spec.txt section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Only `qmp_capabilities` is accepted; events are dropped.
    Negotiation,
    /// Commands run; events are delivered.
    Command,
}

/// One client's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Index of the monitor (in `MachineConfig::monitors`) the client is on.
    pub monitor: u32,
    /// Negotiation state.
    pub mode: Mode,
    /// The byte splitter for this connection.
    pub framer: Framer,
    /// A descriptor received with the latest bytes, not yet taken by `getfd`.
    pub pending_fd: Option<FdHandle>,
    /// The CPU `cpu` selected for this monitor.
    pub cpu_index: u32,
    /// On a human (`mode=readline`) monitor: its line editor. `None` for QMP.
    pub human: Option<Readline>,
    /// On a telnet chardev: the filter of the client's IAC commands.
    pub telnet: Option<Telnet>,
    /// On a human monitor sharing a port (`mon:`): the multiplexer.
    pub mux: Option<Mux>,
}

impl Session {
    /// A fresh session in negotiation mode.
    pub fn new(monitor: u32) -> Self {
        Session {
            monitor,
            mode: Mode::Negotiation,
            framer: Framer::new(),
            pending_fd: None,
            cpu_index: 0,
            human: None,
            telnet: None,
            mux: None,
        }
    }
}
