//! Incoming migration: a machine started with `-incoming` checks what the source
//! sends and takes its state over (0.14's `process_incoming_migration`,
//! `qemu_loadvm_state` and `ram_load`).
//!
//! The edge reads the stream (`crate::migration_stream`) and feeds what it read as
//! inputs: the preamble first, then the source's state, or the reason the stream
//! broke. Every decision is made here, so a replay needs no source:
//!
//! - a source whose RAM size differs (0.14's `ram_load` returns `-EINVAL`), or
//!   that has a device section this machine lacks (0.14 prints `Unknown savevm
//!   section or instance 'ID' N`), is refused;
//! - a refusal, a damaged or truncated stream, or a cancelled source prints
//!   `load of migration failed` on stderr and exits with status 0, as 0.14's
//!   `exit(0)` does (a `qmpsim:` line before it says why);
//! - an accepted state replaces the guest-visible state: devices, guest, rng,
//!   virtual clock, balloon, RTC and screen. What belongs to this process stays:
//!   its configuration, character devices, monitors and their fds, displays'
//!   servers, watchdog action, migration settings. Then the VM runs, or stays
//!   paused with `-S` (0.14's `autostart`).
//!
//! Plain data, no I/O. Device sections are listed in device order, so the first
//! unknown one reported is deterministic.

use super::memory::ram_bytes;
use super::{Effect, Machine, RunState};
use crate::migration_stream::{Preamble, Section};

/// 0.14's line when an incoming migration fails, before it exits with status 0.
pub const LOAD_FAILED_TEXT: &str = "load of migration failed\n";
/// Exit status after a failed incoming migration (0.14's `exit(0)`).
pub const LOAD_FAILED_EXIT_CODE: i32 = 0;

impl Machine {
    /// Whether the machine still waits for its incoming migration.
    pub fn incoming_expected(&self) -> bool {
        self.run_state == RunState::InMigrate
    }

    /// The device sections a source with this machine's devices would send:
    /// one per device in the device tree, named by its PCI address and driver
    /// for a PCI function, by its driver otherwise, numbered per name.
    pub fn savevm_sections(&self) -> Vec<Section> {
        let mut out: Vec<Section> = Vec::new();
        for d in &self.devices.qdev.devices {
            let name = match &d.pci {
                Some(f) => format!("0000:00:{:02x}.{}/{}", f.devfn >> 3, f.devfn & 7, d.driver),
                None => d.driver.clone(),
            };
            let instance = out.iter().filter(|s| s.name == name).count();
            out.push(Section {
                name,
                instance: u32::try_from(instance).expect("device counts fit in u32"),
            });
        }
        out
    }

    /// The preamble a migration of this machine starts with; `blocks` are the
    /// drives of a block migration.
    pub fn migration_preamble(&self, blocks: Vec<crate::migration_stream::BlockSize>) -> Preamble {
        Preamble {
            ram_bytes: ram_bytes(self.config.ram_mb),
            blocks,
            sections: self.savevm_sections(),
        }
    }

    /// What 0.14 finds wrong with a source: `None` when it is accepted, else the
    /// lines to print before `load of migration failed`.
    pub fn incoming_mismatch(&self, ram: u64, sections: &[Section]) -> Option<String> {
        let own = ram_bytes(self.config.ram_mb);
        if ram != own {
            return Some(format!(
                "qmpsim: incoming migration: the source has {ram} bytes of RAM, this machine {own}\n"
            ));
        }
        let mine = self.savevm_sections();
        sections.iter().find(|s| !mine.contains(s)).map(|s| {
            format!(
                "Unknown savevm section or instance '{}' {}\n",
                s.name, s.instance
            )
        })
    }

    /// The edge read the stream's preamble.
    pub fn incoming_preamble(&mut self, preamble: &Preamble) {
        if !self.incoming_expected() {
            return;
        }
        if let Some(text) = self.incoming_mismatch(preamble.ram_bytes, &preamble.sections) {
            self.incoming_fail_with(text);
        }
    }

    /// The stream broke or did not decode: `reason` says why.
    pub fn incoming_fail(&mut self, reason: &str) {
        if !self.incoming_expected() {
            return;
        }
        self.incoming_fail_with(format!("qmpsim: incoming migration: {reason}\n"));
    }

    fn incoming_fail_with(&mut self, text: String) {
        self.effects.push(Effect::Stderr { text });
        self.effects.push(Effect::Stderr {
            text: LOAD_FAILED_TEXT.to_owned(),
        });
        self.exit_code = Some(LOAD_FAILED_EXIT_CODE);
    }

    /// Takes the source's machine over (see the module doc), then runs unless
    /// started with `-S`.
    pub fn incoming_restore(&mut self, source: Machine) {
        if !self.incoming_expected() {
            return;
        }
        let sections = source.savevm_sections();
        if let Some(text) = self.incoming_mismatch(ram_bytes(source.config.ram_mb), &sections) {
            self.incoming_fail_with(text);
            return;
        }
        self.take_guest_state(source);
        self.run_state = RunState::Paused;
        if !self.config.start_paused {
            self.vm_start();
        }
    }

    /// Replaces the guest-visible state with `source`'s (see the module doc).
    /// The clock keeps the later of the two times (event timestamps never go
    /// back); the source's timers, guest deadlines and boot time move with it,
    /// so each keeps its remaining delay.
    pub(crate) fn take_guest_state(&mut self, source: Machine) {
        let now = self.clock.now();
        let shift = now.0.saturating_sub(source.clock.now().0);
        let Machine {
            clock,
            rng,
            devices,
            balloon,
            rtc,
            display,
            ..
        } = source;
        self.clock = clock.moved_to(now);
        self.rng = rng;
        let chardevs = std::mem::take(&mut self.devices.chardevs);
        self.devices = devices;
        self.devices.chardevs = chardevs;
        for p in &mut self.devices.guest.pending {
            p.deadline = p.deadline.plus_ns(shift);
        }
        self.balloon = balloon;
        self.rtc = rtc;
        self.display.screen = display.screen;
        self.display.screen.boot_started_at = self
            .display
            .screen
            .boot_started_at
            .map(|t| t.plus_ns(shift));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;

    fn dest(start_paused: bool) -> Machine {
        Machine::new(MachineConfig {
            incoming: Some("tcp:0:4444".into()),
            start_paused,
            ..MachineConfig::default()
        })
    }

    fn source() -> Machine {
        Machine::new(MachineConfig::default())
    }

    #[test]
    fn restore_without_s_runs_and_emits_resume() {
        let mut m = dest(false);
        m.incoming_restore(source());
        let names: Vec<String> = m.events.drain_names();
        assert_eq!(
            (m.run_state, names),
            (RunState::Running, vec!["RESUME".to_owned()])
        );
    }

    #[test]
    fn restore_with_s_stays_paused() {
        let mut m = dest(true);
        m.incoming_restore(source());
        assert_eq!(m.run_state, RunState::Paused);
    }

    #[test]
    fn restore_takes_the_later_clock() {
        let mut src = source();
        src.advance_to(crate::machine::clock::VirtualTime(5_000_000_000));
        let mut m = dest(true);
        m.incoming_restore(src);
        assert_eq!(m.clock.now().0, 5_000_000_000);
    }

    #[test]
    fn ram_mismatch_fails_and_exits_zero() {
        let mut m = dest(false);
        m.incoming_preamble(&Preamble {
            ram_bytes: 1,
            blocks: vec![],
            sections: vec![],
        });
        assert_eq!(
            (m.exit_code, m.effects.last()),
            (
                Some(0),
                Some(&Effect::Stderr {
                    text: LOAD_FAILED_TEXT.into()
                })
            )
        );
    }

    #[test]
    fn broken_stream_says_why_and_fails_the_load() {
        let mut m = dest(false);
        m.incoming_fail("truncated section");
        assert_eq!(
            (m.exit_code, &m.effects[..]),
            (
                Some(LOAD_FAILED_EXIT_CODE),
                &[
                    Effect::Stderr {
                        text: "qmpsim: incoming migration: truncated section\n".into()
                    },
                    Effect::Stderr {
                        text: LOAD_FAILED_TEXT.into()
                    }
                ][..]
            )
        );
    }

    #[test]
    fn broken_stream_without_incoming_is_ignored() {
        let mut m = source();
        m.incoming_fail("truncated section");
        assert_eq!((m.exit_code, m.effects.len()), (None, 0));
    }

    #[test]
    fn unknown_section_is_named_as_014_does() {
        let m = dest(false);
        let extra = Section {
            name: "0000:00:09.0/virtio-balloon-pci".into(),
            instance: 0,
        };
        assert_eq!(
            m.incoming_mismatch(ram_bytes(m.config.ram_mb), &[extra]),
            Some("Unknown savevm section or instance '0000:00:09.0/virtio-balloon-pci' 0\n".into())
        );
    }

    #[test]
    fn own_sections_are_accepted() {
        let m = dest(false);
        let own = m.savevm_sections();
        assert_eq!(m.incoming_mismatch(ram_bytes(m.config.ram_mb), &own), None);
    }

    #[test]
    fn restore_after_loading_is_ignored() {
        let mut m = dest(true);
        m.incoming_restore(source());
        let before = m.clone();
        m.incoming_restore(source());
        assert_eq!(m, before);
    }
}
