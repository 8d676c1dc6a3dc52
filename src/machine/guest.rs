//! What the simulated guest does to the machine (the `impl Machine` half of
//! [`super::devices::guest`], which holds the guest's plain state and timings):
//! it runs the firmware when the VCPUs first start (and after each reset),
//! shuts down a while after an ACPI power button press, programs hot-plugged
//! PCI devices, ejects slots device_del asked about, starts polling new USB
//! mice, and does block I/O and scheduling every tick. Pending guest timers
//! leave the clock while the VM is stopped and come back with their remaining
//! time, so a paused VM's state and digest do not change as time passes.

use super::devices::catalog::{self, Role};
use super::devices::guest::{
    GuestTimer, PendingTimer, SuspendedTimer, GUEST_ACPI_SHUTDOWN_JITTER_NS,
    GUEST_HOTPLUG_JITTER_NS, GUEST_PCI_EJECT_NS, GUEST_PCI_PROBE_NS, GUEST_TICK_NS,
    GUEST_USB_ACTIVATE_NS,
};
use super::devices::pci;
use super::faults::AcpiFault;
use super::timers::Timer;
use super::{Machine, Request, RunState};

impl Machine {
    /// At machine creation: the first tick and the USB mice to activate; the
    /// firmware runs now when the VM starts running.
    pub(crate) fn guest_boot(&mut self) {
        self.guest_schedule(GUEST_TICK_NS, GuestTimer::Tick);
        let mice: Vec<u64> = self
            .devices
            .mice
            .handlers
            .iter()
            .filter_map(|m| m.device)
            .collect();
        for device in &mice {
            self.guest_schedule_jittered(
                GUEST_USB_ACTIVATE_NS,
                GuestTimer::UsbActivate { device: *device },
            );
        }
        self.guest_enumerate_usb(&mice);
        if self.run_state == RunState::Running {
            self.guest_on_start();
        }
    }

    /// Sets a guest timer `delay_ns` of guest time from now.
    fn guest_schedule(&mut self, delay_ns: u64, timer: GuestTimer) {
        if self.run_state != RunState::Running {
            self.devices.guest.suspended.push(SuspendedTimer {
                remaining_ns: delay_ns,
                timer,
            });
            return;
        }
        // The guest's timers are few and bounded by its devices; should the
        // clock's table be full, the guest simply misses this event.
        if self.clock.schedule(delay_ns, Timer::Guest(timer)).is_ok() {
            self.devices.guest.pending.push(PendingTimer {
                deadline: self.clock.now().plus_ns(delay_ns),
                timer,
            });
        }
    }

    /// The guest will enumerate the USB devices attached now (but those in
    /// `skip`, whose activation enumerates them).
    fn guest_enumerate_usb(&mut self, skip: &[u64]) {
        let attached: Vec<u64> = self
            .devices
            .usb
            .buses
            .iter()
            .flat_map(|b| b.used.iter().filter_map(|p| p.device))
            .filter(|d| !skip.contains(d))
            .collect();
        for device in attached {
            self.guest_schedule_jittered(
                GUEST_USB_ACTIVATE_NS,
                GuestTimer::UsbEnumerate { device },
            );
        }
    }

    fn guest_schedule_jittered(&mut self, delay_ns: u64, timer: GuestTimer) {
        let jitter = self.rng.range(0, GUEST_HOTPLUG_JITTER_NS);
        self.guest_schedule(delay_ns + jitter, timer);
    }

    fn guest_cancel(&mut self, keep: impl Fn(&GuestTimer) -> bool) {
        let cancelled: Vec<GuestTimer> = self
            .devices
            .guest
            .pending
            .iter()
            .filter(|p| !keep(&p.timer))
            .map(|p| p.timer)
            .collect();
        for t in cancelled {
            self.clock.cancel(|x| *x == Timer::Guest(t));
        }
        self.devices.guest.pending.retain(|p| keep(&p.timer));
        self.devices.guest.suspended.retain(|s| keep(&s.timer));
    }

    /// The VCPUs start: the firmware runs if it has not since the last reset,
    /// and suspended guest timers resume.
    pub(crate) fn guest_on_start(&mut self) {
        if !self.devices.firmware.done {
            self.devices.run_firmware();
        }
        let suspended = std::mem::take(&mut self.devices.guest.suspended);
        for s in suspended {
            self.guest_schedule(s.remaining_ns, s.timer);
        }
    }

    /// The VCPUs stop: guest timers leave the clock, keeping their remaining time.
    pub(crate) fn guest_on_stop(&mut self) {
        let now = self.clock.now();
        let pending = std::mem::take(&mut self.devices.guest.pending);
        for p in pending {
            self.clock.cancel(|x| *x == Timer::Guest(p.timer));
            self.devices.guest.suspended.push(SuspendedTimer {
                remaining_ns: p.deadline.0.saturating_sub(now.0),
                timer: p.timer,
            });
        }
    }

    /// `qemu_system_reset`: devices reset, the guest boots again (firmware now
    /// if the VCPUs run), pending shutdown and hotplug work is forgotten.
    pub(crate) fn guest_on_reset(&mut self) {
        self.devices.reset();
        self.devices.guest.off = false;
        self.guest_cancel(|t| {
            matches!(
                t,
                GuestTimer::Tick | GuestTimer::UsbActivate { .. } | GuestTimer::UsbEnumerate { .. }
            )
        });
        if self.run_state == RunState::Running {
            self.devices.run_firmware();
        }
        // The reset cleared the USB addresses; the guest numbers them again.
        let pending: Vec<u64> = self
            .devices
            .guest
            .pending
            .iter()
            .map(|p| p.timer)
            .chain(self.devices.guest.suspended.iter().map(|s| s.timer))
            .filter_map(|t| match t {
                GuestTimer::UsbActivate { device } | GuestTimer::UsbEnumerate { device } => {
                    Some(device)
                }
                _ => None,
            })
            .collect();
        self.guest_enumerate_usb(&pending);
    }

    /// The ACPI power button was pressed: the OS starts shutting down, once.
    /// Without ACPI hardware (`-no-acpi`) or with a guest that ignores the
    /// button (`-x-guest acpi=off`) nothing happens after the POWERDOWN event.
    pub(crate) fn guest_on_powerdown(&mut self) {
        let guest = self.config.guest;
        if self.config.no_acpi || !guest.acpi {
            return;
        }
        if self.devices.guest.off || self.devices.guest.has(GuestTimer::AcpiShutdown) {
            return;
        }
        let shutdown_ms = match self.faults.acpi {
            AcpiFault::Obey => guest.shutdown_ms,
            AcpiFault::Ignore => return,
            AcpiFault::Delay { ms } => ms,
        };
        let jitter = self.rng.range(0, GUEST_ACPI_SHUTDOWN_JITTER_NS);
        let delay_ns = shutdown_ms.saturating_mul(1_000_000);
        self.guest_schedule(delay_ns + jitter, GuestTimer::AcpiShutdown);
    }

    /// The guest powers itself off (its ACPI shutdown finishing, or an
    /// injected guest shutdown): its CPUs halt and the main loop gets a
    /// shutdown request (SHUTDOWN, then exit or, with `-no-shutdown`, STOP).
    pub(crate) fn guest_power_off(&mut self) {
        self.devices.guest.off = true;
        self.devices.cpus.guest_halt();
        self.requests.push(Request::Shutdown { force_exit: false });
    }

    /// After device_add: the guest reacts to a new PCI slot or USB mouse.
    pub(crate) fn guest_on_hotplug(&mut self, uid: u64) {
        let Some(dev) = self.devices.qdev.device(uid) else {
            return;
        };
        if let Some(f) = &dev.pci {
            let slot = f.slot();
            if self.devices.firmware.slot_hotpluggable(slot) {
                self.guest_schedule_jittered(GUEST_PCI_PROBE_NS, GuestTimer::PciProbe { slot });
            }
        } else if matches!(
            catalog::find(&dev.driver).map(|i| i.role),
            Some(Role::Mouse { .. })
        ) {
            self.guest_schedule_jittered(
                GUEST_USB_ACTIVATE_NS,
                GuestTimer::UsbActivate { device: uid },
            );
        } else if catalog::find(&dev.driver).is_some_and(|i| i.bus == catalog::BusKind::Usb) {
            self.guest_schedule_jittered(
                GUEST_USB_ACTIVATE_NS,
                GuestTimer::UsbEnumerate { device: uid },
            );
        }
    }

    /// After device_del of a PCI device: the guest will eject the slot,
    /// unless an injected fault says it never completes unplugs.
    pub(crate) fn guest_on_unplug_request(&mut self, slot: u8) {
        if !self.faults.unplug_stuck
            && self.devices.firmware.slot_hotpluggable(slot)
            && !self.devices.guest.has(GuestTimer::PciEject { slot })
        {
            self.guest_schedule_jittered(GUEST_PCI_EJECT_NS, GuestTimer::PciEject { slot });
        }
    }

    /// A guest timer fell due.
    pub(crate) fn guest_fire(&mut self, timer: GuestTimer) {
        if let Some(pos) = self
            .devices
            .guest
            .pending
            .iter()
            .position(|p| p.timer == timer)
        {
            self.devices.guest.pending.remove(pos);
        }
        match timer {
            GuestTimer::Tick => {
                if !self.devices.guest.off {
                    self.devices.cpus.guest_tick(&mut self.rng);
                    self.devices.block.guest_io(&mut self.rng);
                }
                self.guest_schedule(GUEST_TICK_NS, GuestTimer::Tick);
            }
            GuestTimer::AcpiShutdown => self.guest_power_off(),
            _ if self.devices.guest.off => {}
            GuestTimer::PciProbe { slot } => self.guest_program_slot(slot),
            GuestTimer::PciEject { slot } => {
                self.devices.eject_slot(slot);
                self.balloon_sync();
            }
            GuestTimer::UsbActivate { device } => {
                self.devices.usb.enumerate(device);
                if let Some(index) = self.devices.mice.of_device(device) {
                    self.devices.mice.activate(index);
                }
            }
            GuestTimer::UsbEnumerate { device } => self.devices.usb.enumerate(device),
        }
    }

    /// The guest programs the functions of a slot it has not programmed yet.
    fn guest_program_slot(&mut self, slot: u8) {
        if !self.devices.firmware.done {
            return;
        }
        let devices = &mut self.devices;
        let mut functions: Vec<&mut pci::PciFunction> = devices
            .qdev
            .devices
            .iter_mut()
            .filter_map(|d| d.pci.as_mut())
            .filter(|f| f.slot() == slot)
            .collect();
        functions.sort_by_key(|f| f.devfn);
        let visible = pci::visible_devfns(&functions);
        for f in functions {
            if visible.contains(&f.devfn) && !f.programmed() {
                devices.firmware.program(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::after_requests;
    use crate::machine::clock::VirtualTime;
    use crate::machine::config::MachineConfig;
    use crate::machine::devices::guest::GUEST_ACPI_SHUTDOWN_NS;

    fn names(m: &mut Machine) -> Vec<String> {
        m.events.drain_names()
    }

    fn guest_timers(m: &Machine) -> Vec<GuestTimer> {
        m.devices.guest.pending.iter().map(|p| p.timer).collect()
    }

    fn uid_of(m: &Machine, driver: &str) -> u64 {
        let d = m.devices.qdev.devices.iter().find(|d| d.driver == driver);
        d.expect("the device").uid
    }

    fn usb_timers(m: &Machine) -> Vec<GuestTimer> {
        guest_timers(m)
            .into_iter()
            .filter(|t| {
                matches!(
                    t,
                    GuestTimer::UsbEnumerate { .. } | GuestTimer::UsbActivate { .. }
                )
            })
            .collect()
    }

    #[test]
    fn reset_enumerates_each_usb_device_once_more_unless_it_still_waits() {
        let mut m = Machine::new(MachineConfig {
            usb: true,
            usb_devices: vec!["keyboard".into(), "tablet".into()],
            ..MachineConfig::default()
        });
        let at_boot = usb_timers(&m);
        m.guest_on_reset();
        assert_eq!(usb_timers(&m), at_boot, "each device waits once");
        m.advance_to(VirtualTime(m.clock.now().0 + 10_000_000_000));
        assert_eq!(usb_timers(&m), []);
        m.guest_on_reset();
        let again = usb_timers(&m);
        assert_eq!(again.len(), 3, "{again:?}");
        assert!(again
            .iter()
            .all(|t| matches!(t, GuestTimer::UsbEnumerate { .. })));
    }

    #[test]
    fn boot_enumerates_usb_devices_and_activates_mice() {
        let m = Machine::new(MachineConfig {
            usb: true,
            usb_devices: vec!["keyboard".into(), "tablet".into()],
            ..MachineConfig::default()
        });
        let (kbd, tablet) = (uid_of(&m, "usb-kbd"), uid_of(&m, "usb-tablet"));
        // The second device takes the last root port, so a hub comes too.
        let hub = uid_of(&m, "usb-hub");
        assert_eq!(
            usb_timers(&m),
            [
                GuestTimer::UsbActivate { device: tablet },
                GuestTimer::UsbEnumerate { device: kbd },
                GuestTimer::UsbEnumerate { device: hub },
            ]
        );
    }

    #[test]
    fn unplug_request_schedules_the_eject_unless_stuck() {
        let mut m = Machine::new(MachineConfig::default());
        let e1000 = crate::machine::devices::opts(&[("driver", "e1000"), ("addr", "5")]);
        m.devices.device_add(None, &e1000, true).unwrap();
        let mut stuck = m.clone();
        stuck.faults.unplug_stuck = true;
        m.guest_on_unplug_request(5);
        stuck.guest_on_unplug_request(5);
        let eject = GuestTimer::PciEject { slot: 5 };
        assert_eq!(
            (m.devices.guest.has(eject), stuck.devices.guest.has(eject)),
            (true, false)
        );
    }

    #[test]
    fn running_machine_has_firmware_done() {
        let m = Machine::new(MachineConfig::default());
        assert!(m.devices.firmware.done);
    }

    #[test]
    fn paused_machine_keeps_timers_off_clock() {
        let m = Machine::new(MachineConfig {
            start_paused: true,
            ..Default::default()
        });
        assert_eq!(m.clock.pending(), 0);
        assert!(!m.devices.firmware.done);
    }

    #[test]
    fn powerdown_shuts_guest_down_after_delay() {
        let mut m = after_requests(MachineConfig::default(), [Request::Powerdown]);
        m.advance_to(VirtualTime(GUEST_ACPI_SHUTDOWN_NS - 1));
        assert_eq!(names(&mut m), ["POWERDOWN"]);
        m.advance_to(VirtualTime(
            GUEST_ACPI_SHUTDOWN_NS + GUEST_ACPI_SHUTDOWN_JITTER_NS,
        ));
        assert_eq!(names(&mut m), ["SHUTDOWN"]);
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn powerdown_without_acpi_hardware_or_an_acpi_guest_only_emits_powerdown() {
        let ignoring = crate::machine::config::GuestConfig {
            acpi: false,
            ..Default::default()
        };
        for config in [
            MachineConfig {
                no_acpi: true,
                ..Default::default()
            },
            MachineConfig {
                guest: ignoring,
                ..Default::default()
            },
        ] {
            let mut m = after_requests(config, [Request::Powerdown]);
            m.advance_to(VirtualTime(10 * GUEST_ACPI_SHUTDOWN_NS));
            assert_eq!(
                (names(&mut m), m.exit_code),
                (vec!["POWERDOWN".to_owned()], None)
            );
        }
    }

    #[test]
    fn powerdown_with_configured_delay_shuts_down_after_it() {
        let guest = crate::machine::config::GuestConfig {
            acpi: true,
            shutdown_ms: 10_000,
        };
        let mut m = after_requests(
            MachineConfig {
                guest,
                ..Default::default()
            },
            [Request::Powerdown],
        );
        m.advance_to(VirtualTime(10_000_000_000 - 1));
        assert_eq!(m.exit_code, None);
        m.advance_to(VirtualTime(10_000_000_000 + GUEST_ACPI_SHUTDOWN_JITTER_NS));
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn no_acpi_machine_has_no_piix4_pm() {
        let m = Machine::new(MachineConfig {
            no_acpi: true,
            ..Default::default()
        });
        let with = Machine::new(MachineConfig::default());
        let count = |m: &Machine| {
            m.devices
                .qdev
                .devices
                .iter()
                .filter(|d| d.driver == "PIIX4_PM")
                .count()
        };
        assert_eq!((count(&m), count(&with)), (0, 1));
    }

    #[test]
    fn powerdown_while_paused_waits_for_cont() {
        let mut m = after_requests(
            MachineConfig {
                start_paused: true,
                ..Default::default()
            },
            [Request::Powerdown],
        );
        m.advance_to(VirtualTime(10 * GUEST_ACPI_SHUTDOWN_NS));
        assert_eq!(m.exit_code, None);
        m.vm_start();
        m.advance_to(VirtualTime(20 * GUEST_ACPI_SHUTDOWN_NS));
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn stop_then_start_keeps_remaining_time() {
        let mut m = Machine::new(MachineConfig::default());
        m.advance_to(VirtualTime(GUEST_TICK_NS / 2));
        m.vm_stop();
        m.advance_to(VirtualTime(10 * GUEST_TICK_NS));
        m.vm_start();
        assert_eq!(
            m.clock.next_deadline(),
            Some(VirtualTime(10 * GUEST_TICK_NS + GUEST_TICK_NS / 2))
        );
    }

    #[test]
    fn reset_cancels_pending_shutdown() {
        let mut m = Machine::new(MachineConfig::default());
        m.requests.push(Request::Powerdown);
        m.requests.push(Request::Reset);
        m.run_requests();
        m.advance_to(VirtualTime(10 * GUEST_ACPI_SHUTDOWN_NS));
        assert_eq!(m.exit_code, None);
    }

    #[test]
    fn hotplugged_nic_is_programmed_after_probe() {
        let mut m = Machine::new(MachineConfig::default());
        let opts = vec![("driver".to_owned(), "e1000".to_owned())];
        let uid = m.devices.device_add(Some("n"), &opts, true).unwrap();
        m.guest_on_hotplug(uid);
        let programmed = |m: &Machine| {
            m.devices
                .qdev
                .device(uid)
                .and_then(|d| d.pci.as_ref())
                .is_some_and(pci::PciFunction::programmed)
        };
        assert!(!programmed(&m));
        m.advance_to(VirtualTime(GUEST_PCI_PROBE_NS + GUEST_HOTPLUG_JITTER_NS));
        assert!(programmed(&m));
    }
}
