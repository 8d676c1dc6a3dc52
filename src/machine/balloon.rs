//! The virtio balloon: the host's target (`balloon`) and the guest driver's
//! progress towards it (`query-balloon`'s `actual`), as 0.14's
//! `hw/virtio-balloon.c` and a Linux guest driver behave.
//!
//! `balloon` sets `num_pages`, the number of pages the host wants in the balloon
//! (the target clamped to RAM, as `virtio_balloon_to_target` does). The guest
//! driver then moves towards it in batches of [`BALLOON_STEP_PAGES`] (Linux's
//! `VIRTIO_BALLOON_ARRAY_PFNS_MAX`), one batch every [`BALLOON_STEP_NS`] of
//! virtual time, and only while the VCPUs run: a paused guest does not inflate.
//! `actual` is RAM minus the pages in the balloon. Guest statistics are compiled
//! out in 0.14, so only `actual` is ever reported. Plain serde data, no I/O.

use serde::{Deserialize, Serialize};

use super::faults::BalloonFault;
use super::memory::{ram_bytes, PAGE_BYTES};
use super::timers::Timer;
use super::{Machine, RunState};

/// Virtual time between two guest driver batches.
pub const BALLOON_STEP_NS: u64 = 10_000_000;
/// Pages the guest driver moves per batch.
pub const BALLOON_STEP_PAGES: u64 = 256;

/// The balloon device's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BalloonState {
    /// Pages the host wants in the balloon (`num_pages`).
    pub target_pages: u64,
    /// Pages the guest has put in the balloon (`actual`, in pages).
    pub actual_pages: u64,
    /// Whether a [`Timer::BalloonStep`] is pending.
    pub stepping: bool,
}

impl BalloonState {
    /// `query-balloon`'s `actual`: RAM minus the ballooned pages, in bytes.
    pub fn actual_bytes(&self, ram: u64) -> u64 {
        ram.saturating_sub(self.actual_pages.saturating_mul(PAGE_BYTES))
    }
}

/// The qdev driver of the balloon device (`-balloon virtio` creates one too).
pub const BALLOON_DRIVER: &str = "virtio-balloon-pci";

impl Machine {
    /// Matches the balloon to the device tree: the first `virtio-balloon-pci`
    /// (from `-balloon virtio`, `-device` or device_add) gives the machine a
    /// fresh balloon, and the last one going away (device_del, once the guest
    /// ejects its slot) takes it. 0.14 never unregisters its balloon handler, so
    /// there `balloon` after an unplug reaches a freed device (docs/compat.md).
    pub fn balloon_sync(&mut self) {
        let present = self
            .devices
            .qdev
            .devices
            .iter()
            .any(|d| d.driver == BALLOON_DRIVER);
        match (present, self.balloon.is_some()) {
            (true, false) => self.balloon = Some(BalloonState::default()),
            (false, true) => self.balloon = None,
            (true, true) | (false, false) => {}
        }
    }

    /// `virtio_balloon_to_target` with a non-zero target in bytes. The value is
    /// taken as 0.14's unsigned `ram_addr_t`, so a negative one means "all RAM".
    pub fn balloon_set_target(&mut self, target: i64) {
        let ram = ram_bytes(self.config.ram_mb);
        let Some(balloon) = self.balloon.as_mut() else {
            return;
        };
        let target = u64::from_ne_bytes(target.to_ne_bytes()).min(ram);
        balloon.target_pages = (ram - target) / PAGE_BYTES;
        self.balloon_resume();
    }

    /// Starts the guest driver's batches if it has work and the VCPUs run.
    pub fn balloon_resume(&mut self) {
        let running = self.run_state == RunState::Running;
        let Some(balloon) = self.balloon.as_mut() else {
            return;
        };
        if balloon.stepping || !running || balloon.actual_pages == balloon.target_pages {
            return;
        }
        let step_ns = match self.faults.balloon {
            BalloonFault::Normal => BALLOON_STEP_NS,
            BalloonFault::Slow { factor } => BALLOON_STEP_NS.saturating_mul(factor),
            BalloonFault::Stuck => return,
        };
        if self.clock.schedule(step_ns, Timer::BalloonStep).is_ok() {
            balloon.stepping = true;
        }
    }

    /// One guest driver batch.
    pub fn balloon_step(&mut self) {
        let Some(balloon) = self.balloon.as_mut() else {
            return;
        };
        balloon.stepping = false;
        if self.run_state != RunState::Running {
            return;
        }
        let (actual, target) = (balloon.actual_pages, balloon.target_pages);
        balloon.actual_pages = if actual < target {
            actual + BALLOON_STEP_PAGES.min(target - actual)
        } else {
            actual - BALLOON_STEP_PAGES.min(actual - target)
        };
        self.balloon_resume();
    }
}

/// The default machine with `-balloon virtio`, for tests.
#[cfg(test)]
pub(crate) fn with_balloon() -> Machine {
    let mut b = crate::machine::config::OptionList::default();
    b.push("type", "virtio");
    Machine::new(crate::machine::config::MachineConfig {
        balloon: Some(b),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::clock::VirtualTime;
    use crate::machine::config::{MachineConfig, OptionList};
    use crate::machine::memory::MIB_BYTES;

    fn actual(m: &Machine) -> u64 {
        m.balloon.as_ref().unwrap().actual_bytes(128 * MIB_BYTES)
    }

    /// A machine with a balloon `steps` balloon steps after its target was
    /// set to `target_mib` MiB.
    fn balloon_after_steps(target_mib: u64, steps: u64) -> Machine {
        let mut m = with_balloon();
        m.balloon_set_target(i64::try_from(target_mib * MIB_BYTES).unwrap());
        m.advance_to(VirtualTime(steps * BALLOON_STEP_NS));
        m
    }

    #[test]
    fn default_config_has_no_balloon() {
        assert!(Machine::new(MachineConfig::default()).balloon.is_none());
    }

    #[test]
    fn balloon_none_has_no_balloon() {
        let b = OptionList::from_iter([("type", "none")]);
        let cfg = MachineConfig {
            balloon: Some(b),
            ..MachineConfig::default()
        };
        assert!(Machine::new(cfg).balloon.is_none());
    }

    #[test]
    fn virtio_balloon_pci_device_is_a_balloon() {
        let mut d = OptionList::default();
        d.push("driver", BALLOON_DRIVER);
        let cfg = MachineConfig {
            devices: vec![d],
            ..MachineConfig::default()
        };
        assert!(Machine::new(cfg).balloon.is_some());
    }

    #[test]
    fn hotplugged_balloon_device_gives_a_balloon() {
        let mut m = Machine::new(MachineConfig::default());
        let opts = [("driver".to_owned(), BALLOON_DRIVER.to_owned())];
        m.devices.device_add(Some("b"), &opts, true).unwrap();
        m.balloon_sync();
        assert!(m.balloon.is_some());
    }

    #[test]
    fn removed_balloon_device_takes_the_balloon() {
        let mut m = with_balloon();
        let uid = m
            .devices
            .qdev
            .devices
            .iter()
            .find(|d| d.driver == BALLOON_DRIVER)
            .map(|d| d.uid)
            .unwrap();
        m.devices.free_device(uid);
        m.balloon_sync();
        assert!(m.balloon.is_none());
    }

    #[test]
    fn fresh_balloon_reports_all_ram() {
        assert_eq!(actual(&with_balloon()), 128 * MIB_BYTES);
    }

    #[test]
    fn target_is_reached_in_batches() {
        let m = balloon_after_steps(127, 1);
        assert_eq!(actual(&m), 127 * MIB_BYTES);
        assert!(!m.balloon.as_ref().unwrap().stepping);
    }

    #[test]
    fn target_takes_one_batch_per_step() {
        let m = balloon_after_steps(64, 3);
        assert_eq!(actual(&m), 125 * MIB_BYTES);
    }

    #[test]
    fn raised_target_deflates_one_batch_per_step() {
        let mut m = balloon_after_steps(126, 2);
        assert_eq!(actual(&m), 126 * MIB_BYTES);
        m.balloon_set_target(i64::try_from(128 * MIB_BYTES).unwrap());
        m.advance_to(VirtualTime(3 * BALLOON_STEP_NS));
        assert_eq!(actual(&m), 127 * MIB_BYTES);
        m.advance_to(VirtualTime(4 * BALLOON_STEP_NS));
        assert_eq!(actual(&m), 128 * MIB_BYTES);
    }

    #[test]
    fn target_above_ram_is_clamped_to_ram() {
        let mut m = with_balloon();
        m.balloon_set_target(i64::MAX);
        assert_eq!(m.balloon.as_ref().unwrap().target_pages, 0);
    }

    #[test]
    fn negative_target_means_all_ram() {
        let mut m = with_balloon();
        m.balloon_set_target(-1);
        assert_eq!(m.balloon.as_ref().unwrap().target_pages, 0);
    }

    #[test]
    fn paused_guest_does_not_inflate_until_resumed() {
        let mut m = with_balloon();
        m.vm_stop();
        m.balloon_set_target(i64::try_from(64 * MIB_BYTES).unwrap());
        m.advance_to(VirtualTime(10 * BALLOON_STEP_NS));
        assert_eq!(actual(&m), 128 * MIB_BYTES);
        m.vm_start();
        m.advance_to(VirtualTime(11 * BALLOON_STEP_NS));
        assert_eq!(actual(&m), 127 * MIB_BYTES);
    }

    #[test]
    fn balloon_state_roundtrips_through_bincode() {
        let state = BalloonState {
            target_pages: 3,
            actual_pages: 1,
            stepping: true,
        };
        assert_eq!(crate::test_util::bincode_round_trip(&state), state);
    }
}
