//! The mc146818 RTC as QMP sees it: the offset from host time the guest last
//! set. Models the `rtc_change_mon_event` path of 0.14's `hw/mc146818rtc.c`:
//! when the guest writes the time, 0.14 reports `qemu_timedate_diff`, the
//! guest's new time minus the host's, in whole seconds (a C `int`). The guest
//! write itself is `Machine::rtc_set` in `machine::inject`.
//!
//! qmpsim takes that offset as given: it does not model `-rtc base=` dates,
//! `localtime` time zones or the guest clock ticking. Plain serde data, no I/O.

use serde::{Deserialize, Serialize};

/// Smallest offset 0.14 can report (`qemu_timedate_diff` returns `int`).
pub const RTC_OFFSET_S_MIN: i64 = i32::MIN as i64;
/// Largest offset 0.14 can report.
pub const RTC_OFFSET_S_MAX: i64 = i32::MAX as i64;

/// The RTC state the machine keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rtc {
    /// Seconds the guest's clock is ahead of host time, as last set.
    pub offset_s: i64,
}

impl Rtc {
    /// Whether 0.14 could report `offset_s`.
    pub fn offset_fits(offset_s: i64) -> bool {
        (RTC_OFFSET_S_MIN..=RTC_OFFSET_S_MAX).contains(&offset_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_fits_at_min() {
        assert!(Rtc::offset_fits(RTC_OFFSET_S_MIN));
    }

    #[test]
    fn offset_fits_at_max() {
        assert!(Rtc::offset_fits(RTC_OFFSET_S_MAX));
    }

    #[test]
    fn offset_below_min_does_not_fit() {
        assert!(!Rtc::offset_fits(RTC_OFFSET_S_MIN - 1));
    }

    #[test]
    fn offset_past_max_does_not_fit() {
        assert!(!Rtc::offset_fits(RTC_OFFSET_S_MAX + 1));
    }
}
