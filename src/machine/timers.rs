//! What a pending timer does when it fires. Plain data; the machine interprets it
//! in `Machine::fire`.

use serde::{Deserialize, Serialize};

use super::devices::guest::GuestTimer;

/// A timer's purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    /// The guest finishes its ACPI shutdown after a power-button press.
    GuestPowerOff,
    /// A system reset requested by the guest.
    Reset,
    /// Outgoing migration `id` sends its next rate-limited chunk.
    MigrationTick {
        /// The migration's id.
        id: u64,
    },
    /// The guest's balloon driver moves one batch towards the target.
    BalloonStep,
    /// Work of the simulated guest (runs on guest time; see `devices::guest`).
    Guest(GuestTimer),
    /// Step `index` of the `-x-scenario` (an `at` step) runs.
    ScenarioStep {
        /// Its index in the configuration's steps.
        index: usize,
    },
}

impl Timer {
    /// Whether the timer is background work nobody waits for (the guest's
    /// periodic scheduler tick). The idle clock driver jumps only to the next
    /// foreground deadline, so an idle VM with nothing pending stays still in
    /// virtual time; background timers fire on the way.
    pub fn is_background(&self) -> bool {
        matches!(self, Timer::Guest(GuestTimer::Tick))
    }
}
