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
    /// Work of the simulated guest (runs on guest time; see `devices::guest`).
    Guest(GuestTimer),
}
