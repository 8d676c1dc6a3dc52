//! The machine's outgoing event queue. Events are appended in the order they
//! happen, stamped with virtual time, and drained by the engine after every step,
//! which broadcasts them to the monitors in command mode.

use serde::{Deserialize, Serialize};

use super::clock::VirtualTime;

/// Most QMP events queued within one engine step; more means a runaway loop in the
/// model (they are counted as dropped). Not the server loop's
/// `LOOP_EVENTS_QUEUED_MAX`.
pub const EVENTS_QUEUED_MAX: usize = 1024;

/// One event: a 0.14 event name and its data as ordered `(key, value)` JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub at: VirtualTime,
    /// The 0.14 event name (`STOP`, `RESUME`, ...).
    pub name: String,
    /// The `data` member, already serialized in 0.14's format, if any.
    pub data_json: Option<String>,
}

/// Pending events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventQueue {
    pending: Vec<Event>,
    /// Events dropped because the queue was full (reported, never silent).
    pub dropped: u64,
}

impl EventQueue {
    /// Appends an event, or counts it as dropped past [`EVENTS_QUEUED_MAX`].
    pub fn push(&mut self, event: Event) {
        if self.pending.len() >= EVENTS_QUEUED_MAX {
            self.dropped += 1;
            return;
        }
        self.pending.push(event);
    }

    /// Takes every pending event.
    pub fn drain(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        Event {
            at: VirtualTime(0),
            name: "STOP".into(),
            data_json: None,
        }
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
