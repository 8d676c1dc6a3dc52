//! What a pending timer does when it fires. Plain data; the machine interprets it
//! in `Machine::fire`.

use serde::{Deserialize, Serialize};

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
}
