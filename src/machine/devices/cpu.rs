//! The VCPUs as `query-cpus` sees them: index, program counter (x86: EIP plus
//! the CS base) and the halted flag.
//!
//! A `Vec` in CPU index order. At reset the BSP sits at the reset vector and the
//! application processors are halted waiting for INIT/SIPI, as in 0.14's x86
//! `cpu_reset`. While the guest runs, [`Cpus::guest_tick`] moves them between an
//! idle loop (halted) and kernel code, drawing from the machine's rng.

use serde::{Deserialize, Serialize};

use crate::machine::rng::Rng;

/// The x86 reset vector: CS base 0xffff0000 + EIP 0xfff0.
pub const RESET_PC: u64 = 0xffff_fff0;
/// Where the simulated guest kernel idles (a 32-bit kernel's `default_idle`).
pub const GUEST_IDLE_PC: u64 = 0xc010_2e9c;
/// Start of the simulated guest kernel text.
pub const GUEST_TEXT_START: u64 = 0xc010_0000;
/// End of the simulated guest kernel text.
pub const GUEST_TEXT_END: u64 = 0xc060_0000;
/// Percent of ticks a simulated idle CPU spends halted.
pub const GUEST_IDLE_PERCENT: u64 = 80;

/// One VCPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// `cpu_index`.
    pub index: u32,
    /// EIP + CS base.
    pub pc: u64,
    /// `env->halted`.
    pub halted: bool,
}

/// All VCPUs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cpus {
    /// In index order.
    pub cpus: Vec<Cpu>,
}

impl Cpus {
    /// `smp` CPUs at reset.
    pub fn new(smp: u32) -> Cpus {
        let mut cpus = Cpus {
            cpus: (0..smp.max(1))
                .map(|index| Cpu {
                    index,
                    pc: RESET_PC,
                    halted: false,
                })
                .collect(),
        };
        cpus.reset();
        cpus
    }

    /// `cpu_reset` on every CPU: the BSP runs, the APs wait halted.
    pub fn reset(&mut self) {
        for cpu in &mut self.cpus {
            cpu.pc = RESET_PC;
            cpu.halted = cpu.index != 0;
        }
    }

    /// Whether `index` names a CPU (`mon_set_cpu`).
    pub fn exists(&self, index: i64) -> bool {
        self.cpus.iter().any(|c| i64::from(c.index) == index)
    }

    /// One scheduling period of the running guest.
    pub fn guest_tick(&mut self, rng: &mut Rng) {
        for cpu in &mut self.cpus {
            cpu.halted = rng.range(0, 99) < GUEST_IDLE_PERCENT;
            cpu.pc = if cpu.halted {
                GUEST_IDLE_PC
            } else {
                rng.range(GUEST_TEXT_START, GUEST_TEXT_END - 1)
            };
        }
    }

    /// The guest powered itself off: every CPU halted in the idle loop.
    pub fn guest_halt(&mut self) {
        for cpu in &mut self.cpus {
            cpu.halted = true;
            cpu.pc = GUEST_IDLE_PC;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_ticks_halt_a_cpu_about_the_idle_share_of_the_time() {
        let mut c = Cpus::new(1);
        let mut rng = Rng::new(1);
        let halted = (0..1000)
            .filter(|_| {
                c.guest_tick(&mut rng);
                c.cpus[0].halted
            })
            .count();
        // 800 expected; a binomial spread of 1000 draws stays within 60.
        assert!((740..=860).contains(&halted), "{halted} of 1000");
    }

    #[test]
    fn new_puts_bsp_at_reset_vector_running() {
        let c = Cpus::new(1);
        assert_eq!(
            c.cpus,
            [Cpu {
                index: 0,
                pc: 4_294_967_280,
                halted: false
            }]
        );
    }

    #[test]
    fn new_halts_application_processors() {
        let c = Cpus::new(2);
        assert!(c.cpus[1].halted);
    }

    #[test]
    fn exists_rejects_out_of_range() {
        let c = Cpus::new(2);
        assert!(c.exists(1));
        assert!(!c.exists(2));
        assert!(!c.exists(-1));
    }

    #[test]
    fn guest_tick_keeps_pc_in_kernel() {
        let mut c = Cpus::new(4);
        c.guest_tick(&mut Rng::new(1));
        assert!(c
            .cpus
            .iter()
            .all(|cpu| (GUEST_TEXT_START..GUEST_TEXT_END).contains(&cpu.pc)));
    }
}
