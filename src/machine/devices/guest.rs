//! The simulated guest's state: an ACPI-aware OS behind SeaBIOS (what it does
//! to the machine is in `machine::guest`). It runs the firmware
//! when the VCPUs first start (and after each reset), shuts down a while after an
//! ACPI power button press, programs hot-plugged PCI devices, ejects slots
//! device_del asked about, starts polling new USB mice (which makes them the
//! current mouse), and does block I/O and scheduling every tick.
//!
//! Guest work happens on QEMU's `vm_clock`, which stops while the VM is stopped:
//! pending guest timers are taken off the clock by `Machine::guest_on_stop`
//! and put back with their remaining time by `Machine::guest_on_start`, so a
//! paused VM's state and digest do not change as time passes. Delays draw their
//! jitter from the machine's seeded rng. The timers are [`GuestTimer`]s inside
//! `Timer::Guest`, tracked in [`Guest`] (`Vec`s in scheduling order).

use serde::{Deserialize, Serialize};

use crate::machine::clock::VirtualTime;

/// Period of the guest's scheduler and I/O activity.
pub const GUEST_TICK_NS: u64 = 100_000_000;
/// How long the guest OS takes to shut down after the ACPI power button.
pub const GUEST_ACPI_SHUTDOWN_NS: u64 =
    crate::machine::config::GUEST_SHUTDOWN_MS_DEFAULT * 1_000_000;
/// Random extra shutdown time, at most.
pub const GUEST_ACPI_SHUTDOWN_JITTER_NS: u64 = 500_000_000;
/// How long the guest takes to program a hot-plugged PCI device.
pub const GUEST_PCI_PROBE_NS: u64 = 200_000_000;
/// How long the guest takes to eject a slot after an unplug request.
pub const GUEST_PCI_EJECT_NS: u64 = 300_000_000;
/// How long the guest takes to start polling a new USB mouse.
pub const GUEST_USB_ACTIVATE_NS: u64 = 400_000_000;
/// Random extra time for hotplug reactions, at most.
pub const GUEST_HOTPLUG_JITTER_NS: u64 = 100_000_000;

/// Something the guest will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GuestTimer {
    /// Scheduler tick: CPU states and block I/O.
    Tick,
    /// The OS finishes its ACPI shutdown and powers off.
    AcpiShutdown,
    /// The OS programs the functions of a hot-plugged slot.
    PciProbe {
        /// The slot.
        slot: u8,
    },
    /// The OS ejects a slot.
    PciEject {
        /// The slot.
        slot: u8,
    },
    /// The USB HID driver starts polling a mouse (after the guest gave it
    /// an address).
    UsbActivate {
        /// The device's uid.
        device: u64,
    },
    /// The guest enumerates a new USB device, or the USB devices again after
    /// a reset: it gives them addresses.
    UsbEnumerate {
        /// The device's uid.
        device: u64,
    },
}

/// A guest timer on the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTimer {
    /// When it fires.
    pub deadline: VirtualTime,
    /// What it does.
    pub timer: GuestTimer,
}

/// A guest timer held while the VM is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendedTimer {
    /// Guest time left until it fires.
    pub remaining_ns: u64,
    /// What it does.
    pub timer: GuestTimer,
}

/// The guest's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Guest {
    /// The OS powered itself off and does nothing until a reset.
    pub off: bool,
    /// Timers on the clock, in scheduling order.
    pub pending: Vec<PendingTimer>,
    /// Timers waiting for the VM to run again, in scheduling order.
    pub suspended: Vec<SuspendedTimer>,
}

impl Guest {
    /// Whether `timer` is pending or suspended.
    pub fn has(&self, timer: GuestTimer) -> bool {
        self.pending.iter().any(|p| p.timer == timer)
            || self.suspended.iter().any(|s| s.timer == timer)
    }
}
