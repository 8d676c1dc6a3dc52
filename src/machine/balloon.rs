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

use super::config::MachineConfig;
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

/// Whether the configuration has a balloon device: `-balloon virtio[,...]` or
/// `-device virtio-balloon-pci`.
pub fn balloon_configured(config: &MachineConfig) -> bool {
    let from_option = config.balloon.as_ref().is_some_and(|b| {
        b.get("type") == Some("virtio") || b.items.first().is_some_and(|(k, _)| k == "virtio")
    });
    let from_device = config
        .devices
        .iter()
        .any(|d| d.get("driver") == Some("virtio-balloon-pci"));
    from_option || from_device
}

impl Machine {
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
        if self
            .clock
            .schedule(BALLOON_STEP_NS, Timer::BalloonStep)
            .is_ok()
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::clock::VirtualTime;
    use crate::machine::config::OptionList;
    use crate::machine::memory::MIB_BYTES;

    fn with_balloon() -> Machine {
        let mut b = OptionList::default();
        b.push("type", "virtio");
        Machine::new(MachineConfig {
            balloon: Some(b),
            ..MachineConfig::default()
        })
    }

    fn actual(m: &Machine) -> u64 {
        m.balloon.as_ref().unwrap().actual_bytes(128 * MIB_BYTES)
    }

    #[test]
    fn default_config_has_no_balloon() {
        assert!(!balloon_configured(&MachineConfig::default()));
    }

    #[test]
    fn balloon_none_has_no_balloon() {
        let mut b = OptionList::default();
        b.push("type", "none");
        let cfg = MachineConfig {
            balloon: Some(b),
            ..MachineConfig::default()
        };
        assert!(!balloon_configured(&cfg));
    }

    #[test]
    fn virtio_balloon_pci_device_is_a_balloon() {
        let mut d = OptionList::default();
        d.push("driver", "virtio-balloon-pci");
        let cfg = MachineConfig {
            devices: vec![d],
            ..MachineConfig::default()
        };
        assert!(balloon_configured(&cfg));
    }

    #[test]
    fn fresh_balloon_reports_all_ram() {
        assert_eq!(actual(&with_balloon()), 128 * MIB_BYTES);
    }

    #[test]
    fn target_is_reached_in_batches() {
        let mut m = with_balloon();
        m.balloon_set_target(i64::try_from(127 * MIB_BYTES).unwrap());
        m.advance_to(VirtualTime(BALLOON_STEP_NS));
        assert_eq!(actual(&m), 127 * MIB_BYTES);
        assert!(!m.balloon.as_ref().unwrap().stepping);
    }

    #[test]
    fn target_takes_one_batch_per_step() {
        let mut m = with_balloon();
        m.balloon_set_target(i64::try_from(64 * MIB_BYTES).unwrap());
        m.advance_to(VirtualTime(3 * BALLOON_STEP_NS));
        assert_eq!(actual(&m), 125 * MIB_BYTES);
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
        let bytes = bincode::serde::encode_to_vec(&state, bincode::config::standard()).unwrap();
        let (back, _): (BalloonState, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back, state);
    }
}
