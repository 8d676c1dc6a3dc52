//! Virtual time and the timer queue.
//!
//! `VirtualTime` is nanoseconds since machine start. Timers are keyed
//! `(deadline, seq)` in a `BTreeMap`, so two timers due at the same instant fire in
//! the order they were set. Time only moves when the engine is told to
//! ([`Clock::advance_to`]), madsim's "advance to the next deadline". No wall clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::timers::Timer;

/// Most timers pending at once.
pub const TIMERS_MAX: usize = 4096;

/// How virtual time moves when no input arrives (`-x-clock`). The engine never
/// reads a clock: the edge turns the mode into `Input::AdvanceTo` inputs, so a
/// trace replays the same in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ClockMode {
    /// After a quiet time without input, virtual time jumps to the next pending
    /// deadline (the default): a script waiting for the guest is not slowed down.
    #[default]
    Idle,
    /// Virtual time moves only by the fixed step per message and `x-clock-step`.
    Manual,
    /// Virtual time follows the wall clock, as in QEMU.
    Realtime,
}

impl ClockMode {
    /// Every mode, in the order the docs list them.
    pub const ALL: [ClockMode; 3] = [ClockMode::Idle, ClockMode::Manual, ClockMode::Realtime];

    /// The name `-x-clock` takes and `x-query-clock` reports.
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::Idle => "idle",
            ClockMode::Manual => "manual",
            ClockMode::Realtime => "realtime",
        }
    }

    /// The mode named `name`.
    pub fn parse(name: &str) -> Option<ClockMode> {
        ClockMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Nanoseconds since machine start.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct VirtualTime(pub u64);

impl VirtualTime {
    /// Nanoseconds in a second.
    pub const NS_PER_S: u64 = 1_000_000_000;

    /// This time plus a duration, saturating.
    #[must_use]
    pub fn plus_ns(self, ns: u64) -> VirtualTime {
        VirtualTime(self.0.saturating_add(ns))
    }
}

/// Why a timer could not be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// [`TIMERS_MAX`] timers are already pending.
    #[error("Too many pending timers (limit {TIMERS_MAX})")]
    TooManyTimers,
}

/// The virtual clock with its timer queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Clock {
    now: VirtualTime,
    seq: u64,
    timers: BTreeMap<(VirtualTime, u64), Timer>,
}

impl Clock {
    /// The current virtual time.
    pub fn now(&self) -> VirtualTime {
        self.now
    }

    /// Sets a timer `delay_ns` from now.
    pub fn schedule(&mut self, delay_ns: u64, timer: Timer) -> Result<(), ClockError> {
        if self.timers.len() >= TIMERS_MAX {
            return Err(ClockError::TooManyTimers);
        }
        let key = (self.now.plus_ns(delay_ns), self.seq);
        self.seq += 1;
        self.timers.insert(key, timer);
        Ok(())
    }

    /// Removes every pending timer matching `pred`.
    pub fn cancel(&mut self, pred: impl Fn(&Timer) -> bool) {
        self.timers.retain(|_, t| !pred(t));
    }

    /// Whether a timer matching `pred` is pending.
    pub fn is_pending(&self, pred: impl Fn(&Timer) -> bool) -> bool {
        self.timers.values().any(pred)
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<VirtualTime> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// The earliest deadline of a timer matching `pred`.
    pub fn next_deadline_matching(&self, pred: impl Fn(&Timer) -> bool) -> Option<VirtualTime> {
        self.timers
            .iter()
            .find(|(_, t)| pred(t))
            .map(|((at, _), _)| *at)
    }

    /// Takes the earliest timer due at or before `limit`, moving `now` to its
    /// deadline. Call repeatedly, then [`Clock::advance_to`] the limit.
    pub fn pop_due(&mut self, limit: VirtualTime) -> Option<Timer> {
        let (&key, _) = self.timers.iter().next()?;
        if key.0 > limit {
            return None;
        }
        let timer = self
            .timers
            .remove(&key)
            .expect("key was just read from the map");
        self.now = self.now.max(key.0);
        Some(timer)
    }

    /// Moves `now` forward to `t` (never backward).
    pub fn advance_to(&mut self, t: VirtualTime) {
        self.now = self.now.max(t);
    }

    /// This clock with `now` moved forward to `at` (if later) and every pending
    /// timer moved by the same amount, so each keeps its remaining delay.
    pub fn moved_to(self, at: VirtualTime) -> Clock {
        let shift = at.0.saturating_sub(self.now.0);
        Clock {
            now: self.now.plus_ns(shift),
            seq: self.seq,
            timers: self
                .timers
                .into_iter()
                .map(|((t, seq), timer)| ((t.plus_ns(shift), seq), timer))
                .collect(),
        }
    }

    /// Number of pending timers.
    pub fn pending(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_deadline_fires_in_set_order() {
        let mut c = Clock::default();
        c.schedule(10, Timer::GuestPowerOff).unwrap();
        c.schedule(10, Timer::Reset).unwrap();
        assert_eq!(c.pop_due(VirtualTime(10)), Some(Timer::GuestPowerOff));
        assert_eq!(c.pop_due(VirtualTime(10)), Some(Timer::Reset));
        assert_eq!(c.now(), VirtualTime(10));
    }

    #[test]
    fn timer_not_due_stays() {
        let mut c = Clock::default();
        c.schedule(10, Timer::Reset).unwrap();
        assert_eq!(c.pop_due(VirtualTime(9)), None);
        assert_eq!(c.next_deadline(), Some(VirtualTime(10)));
    }

    /// A clock with `n` timers pending.
    fn with_timers(n: usize) -> Clock {
        let mut c = Clock::default();
        (0..n).for_each(|_| c.schedule(1, Timer::Reset).expect("room for a timer"));
        c
    }

    #[test]
    fn schedule_reaching_timer_limit_is_accepted() {
        let mut c = with_timers(TIMERS_MAX - 1);
        assert_eq!(c.schedule(1, Timer::Reset), Ok(()));
    }

    #[test]
    fn schedule_past_timer_limit_is_too_many_timers() {
        let mut c = with_timers(TIMERS_MAX);
        assert_eq!(c.schedule(1, Timer::Reset), Err(ClockError::TooManyTimers));
    }

    #[test]
    fn schedule_past_timer_limit_leaves_the_queue_unchanged() {
        let mut c = with_timers(TIMERS_MAX);
        let before = c.clone();
        let _ = c.schedule(2, Timer::GuestPowerOff);
        assert_eq!(c, before);
    }

    #[test]
    fn schedule_after_a_timer_fired_at_limit_is_accepted() {
        let mut c = with_timers(TIMERS_MAX);
        c.pop_due(VirtualTime(1));
        assert_eq!(c.schedule(1, Timer::Reset), Ok(()));
    }
}
