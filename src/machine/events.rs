//! The events 0.14 can send, as a closed enum of typed values ([`Event`]), and
//! the machine's outgoing queue of them. Events are appended in the order they
//! happen, stamped with virtual time, and drained by the engine after every
//! step, which has `qmp::events` render each one (its 0.14 name and `data`
//! object, in one place) and broadcasts it to the monitors in command mode.
//!
//! Adding an event is one variant here (with its 0.14 name in
//! [`Event::name`]) and its rendering in `qmp::events`, plus their tests.

use serde::{Deserialize, Serialize};

use super::clock::VirtualTime;
use super::devices::block::{IoErrorOutcome, IoOperation};
use super::display::{SockAddr, SpiceAuth, SpiceChannel, VncAuth, VncClient};
use super::watchdog::WatchdogAction;

/// The VNC server's end of a client connection: its listening address and
/// authentication scheme (0.14's `vnc_server_info_put`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncServerEnd {
    /// The listening address.
    pub addr: SockAddr,
    /// The authentication scheme.
    pub auth: VncAuth,
}

/// Every event 0.14 sends (monitor.h's `MonitorEvent`), with its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// SHUTDOWN: the VM is shutting down (or stopping, with `-no-shutdown`).
    Shutdown,
    /// RESET: the VM was reset.
    Reset,
    /// POWERDOWN: the ACPI power button was pressed.
    Powerdown,
    /// STOP: the VCPUs stopped.
    Stop,
    /// RESUME: the VCPUs started again.
    Resume,
    /// VNC_CONNECTED: a client connected, before authentication.
    VncConnected {
        /// The server's end.
        server: VncServerEnd,
        /// The client (its authentication fields are not sent yet).
        client: VncClient,
    },
    /// VNC_INITIALIZED: the client authenticated.
    VncInitialized {
        /// The server's end.
        server: VncServerEnd,
        /// The client.
        client: VncClient,
    },
    /// VNC_DISCONNECTED: the client went away.
    VncDisconnected {
        /// The server's end.
        server: VncServerEnd,
        /// The client.
        client: VncClient,
    },
    /// SPICE_CONNECTED: a channel connection opened (addresses only).
    SpiceConnected {
        /// The channel.
        channel: SpiceChannel,
    },
    /// SPICE_INITIALIZED: the channel linked (with channel info and `auth`).
    SpiceInitialized {
        /// The channel.
        channel: SpiceChannel,
        /// The server's authentication.
        auth: SpiceAuth,
    },
    /// SPICE_DISCONNECTED: the channel closed (addresses only).
    SpiceDisconnected {
        /// The channel.
        channel: SpiceChannel,
    },
    /// BLOCK_IO_ERROR: a guest request on a drive failed.
    BlockIoError {
        /// The drive.
        device: String,
        /// What the drive's `rerror`/`werror` made of it.
        action: IoErrorOutcome,
        /// The request's direction.
        operation: IoOperation,
    },
    /// RTC_CHANGE: the guest set its RTC.
    RtcChange {
        /// Seconds ahead of host time.
        offset_s: i64,
    },
    /// WATCHDOG: the watchdog expired.
    Watchdog {
        /// What it does about it.
        action: WatchdogAction,
    },
}

impl Event {
    /// Every event name.
    pub const NAMES: &'static [&'static str] = &[
        "SHUTDOWN",
        "RESET",
        "POWERDOWN",
        "STOP",
        "RESUME",
        "VNC_CONNECTED",
        "VNC_INITIALIZED",
        "VNC_DISCONNECTED",
        "BLOCK_IO_ERROR",
        "RTC_CHANGE",
        "WATCHDOG",
        "SPICE_CONNECTED",
        "SPICE_INITIALIZED",
        "SPICE_DISCONNECTED",
    ];

    /// The 0.14 event name (`monitor_protocol_event`'s `event_name`).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Shutdown => "SHUTDOWN",
            Event::Reset => "RESET",
            Event::Powerdown => "POWERDOWN",
            Event::Stop => "STOP",
            Event::Resume => "RESUME",
            Event::VncConnected { .. } => "VNC_CONNECTED",
            Event::VncInitialized { .. } => "VNC_INITIALIZED",
            Event::VncDisconnected { .. } => "VNC_DISCONNECTED",
            Event::SpiceConnected { .. } => "SPICE_CONNECTED",
            Event::SpiceInitialized { .. } => "SPICE_INITIALIZED",
            Event::SpiceDisconnected { .. } => "SPICE_DISCONNECTED",
            Event::BlockIoError { .. } => "BLOCK_IO_ERROR",
            Event::RtcChange { .. } => "RTC_CHANGE",
            Event::Watchdog { .. } => "WATCHDOG",
        }
    }
}

/// Most QMP events queued within one engine step; more means a runaway loop in the
/// model (they are counted as dropped). Not the server loop's
/// `LOOP_EVENTS_QUEUED_MAX`.
pub const EVENTS_QUEUED_MAX: usize = 1024;

/// One queued event and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// When it happened.
    pub at: VirtualTime,
    /// What happened.
    pub event: Event,
}

/// Pending events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventQueue {
    pending: Vec<QueuedEvent>,
    /// Events dropped because the queue was full (reported, never silent).
    pub dropped: u64,
}

impl EventQueue {
    /// Appends an event, or counts it as dropped past [`EVENTS_QUEUED_MAX`].
    pub fn push(&mut self, event: QueuedEvent) {
        if self.pending.len() >= EVENTS_QUEUED_MAX {
            self.dropped += 1;
            return;
        }
        self.pending.push(event);
    }

    /// Takes every pending event.
    pub fn drain(&mut self) -> Vec<QueuedEvent> {
        std::mem::take(&mut self.pending)
    }

    /// Takes every pending event and returns their names (for tests and
    /// logs).
    pub fn drain_names(&mut self) -> Vec<String> {
        self.drain()
            .into_iter()
            .map(|e| e.event.name().to_owned())
            .collect()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    fn ev() -> QueuedEvent {
        QueuedEvent {
            at: VirtualTime(0),
            event: Event::Stop,
        }
    }

    #[test]
    fn names_lists_every_event_name_once() {
        assert_eq!(repeated(Event::NAMES.iter().copied()), Vec::<&str>::new());
        assert_eq!(Event::NAMES.len(), 14);
    }

    #[test]
    fn every_name_is_in_names() {
        let simple = [
            Event::Shutdown,
            Event::Reset,
            Event::Powerdown,
            Event::Stop,
            Event::Resume,
            Event::RtcChange { offset_s: 0 },
            Event::Watchdog {
                action: WatchdogAction::None,
            },
        ];
        assert!(simple.iter().all(|e| Event::NAMES.contains(&e.name())));
    }

    /// A queue after `n` pushes.
    fn pushed(n: usize) -> EventQueue {
        let mut q = EventQueue::default();
        (0..n).for_each(|_| q.push(ev()));
        q
    }

    #[test]
    fn queue_push_reaching_limit_keeps_every_event() {
        let mut q = pushed(EVENTS_QUEUED_MAX);
        assert_eq!((q.dropped, q.drain().len()), (0, EVENTS_QUEUED_MAX));
    }

    #[test]
    fn queue_push_past_limit_counts_a_drop() {
        let q = pushed(EVENTS_QUEUED_MAX + 1);
        assert_eq!(q.dropped, 1);
    }

    #[test]
    fn queue_push_past_limit_keeps_the_first_events() {
        let mut q = pushed(EVENTS_QUEUED_MAX + 1);
        assert_eq!(q.drain().len(), EVENTS_QUEUED_MAX);
    }

    #[test]
    fn queue_push_after_drain_at_limit_is_kept() {
        let mut q = pushed(EVENTS_QUEUED_MAX);
        q.drain();
        q.push(ev());
        assert_eq!((q.dropped, q.drain().len()), (0, 1));
    }
}
