//! PCI functions on bus 0 and the firmware that programs them.
//!
//! A [`PciFunction`] carries what `query-pci` shows: IDs, class, interrupt pin and
//! line, and BARs with their sizes and (once programmed) addresses. Until the
//! firmware runs, BARs are unmapped (`address: -1`) and interrupt lines 0, as
//! under `-S`. [`Firmware`] reproduces SeaBIOS 0.6.1.2's `pci_setup` (the BIOS
//! QEMU 0.14 ships): I/O from 0xc000 and memory from 0xf0000000, each BAR aligned
//! to its size in bus/devfn order, ROM BARs allocated but left disabled, and
//! interrupt lines from the PIIX PIRQ routing (10, 10, 11, 11) with the ACPI SCI
//! on 9. A hot-plugged device is programmed by the guest from where the
//! allocator stopped. Plain data, no I/O.

use serde::{Deserialize, Serialize};

use super::catalog::{PciInfo, MSIX_BAR_BYTES};

/// The option ROM BAR number (`PCI_ROM_SLOT`).
pub const ROM_BAR: u8 = 6;
/// Functions per slot.
pub const FUNCTIONS_PER_SLOT: u8 = 8;
/// Slots on a bus.
pub const SLOTS: u8 = 32;
/// First I/O address SeaBIOS hands out.
pub const IO_START: u64 = 0xc000;
/// I/O allocations must end below 64 KiB.
pub const IO_END: u64 = 0x1_0000;
/// First memory address SeaBIOS hands out (`BUILD_PCIMEM_START`).
pub const MEM_START: u64 = 0xf000_0000;
/// End of SeaBIOS's PCI memory window (`BUILD_PCIMEM_END`).
pub const MEM_END: u64 = 0xf800_0000;
/// Host interrupts behind PIRQ A-D (`pci_irqs`).
pub const PCI_IRQS: [u8; 4] = [10, 10, 11, 11];
/// The ACPI SCI line SeaBIOS hard-wires for the PIIX4 PM function.
pub const ACPI_SCI_IRQ: u8 = 9;

/// One BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciBar {
    /// BAR number (6 is the ROM).
    pub index: u8,
    /// I/O space.
    pub io: bool,
    /// Prefetchable memory.
    pub prefetch: bool,
    /// 64-bit memory BAR.
    pub mem64: bool,
    /// Size in bytes.
    pub size: u64,
    /// Programmed address; `None` reads back as -1 (unmapped).
    pub address: Option<u64>,
}

/// One PCI function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciFunction {
    /// `slot << 3 | function`.
    pub devfn: u8,
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Class code.
    pub class: u16,
    /// Interrupt pin (0 none).
    pub pin: u8,
    /// `PCI_INTERRUPT_LINE` as the guest programmed it.
    pub irq_line: u8,
    /// The multifunction header bit.
    pub multifunction: bool,
    /// Cannot be hot-plugged or hot-unplugged.
    pub no_hotplug: bool,
    /// BARs in number order.
    pub bars: Vec<PciBar>,
}

impl PciFunction {
    /// A function of a catalogue device at `devfn`. `msix_vectors` adds the
    /// virtio MSI-X BAR; `rom_bytes` (0 for none) the option ROM BAR.
    pub fn new(info: &PciInfo, devfn: u8, class: u16, msix_vectors: u32, rom_bytes: u64) -> Self {
        let mut bars: Vec<PciBar> = info
            .bars
            .iter()
            .map(|b| PciBar {
                index: b.index,
                io: b.io,
                prefetch: b.prefetch,
                mem64: false,
                size: b.size,
                address: None,
            })
            .collect();
        if info.msix_vectors_default.is_some() && msix_vectors > 0 {
            bars.push(PciBar {
                index: 1,
                io: false,
                prefetch: false,
                mem64: false,
                size: MSIX_BAR_BYTES,
                address: None,
            });
        }
        if rom_bytes > 0 {
            bars.push(PciBar {
                index: ROM_BAR,
                io: false,
                prefetch: false,
                mem64: false,
                size: rom_bytes,
                address: None,
            });
        }
        bars.sort_by_key(|b| b.index);
        PciFunction {
            devfn,
            vendor_id: info.vendor,
            device_id: info.device,
            class,
            pin: info.pin,
            irq_line: 0,
            multifunction: false,
            no_hotplug: info.no_hotplug,
            bars,
        }
    }

    /// The slot number.
    pub fn slot(&self) -> u8 {
        self.devfn / FUNCTIONS_PER_SLOT
    }

    /// The function number.
    pub fn function(&self) -> u8 {
        self.devfn % FUNCTIONS_PER_SLOT
    }

    /// Device reset: BARs unmapped, interrupt line cleared.
    pub fn reset(&mut self) {
        self.irq_line = 0;
        for bar in &mut self.bars {
            bar.address = None;
        }
    }

    /// Whether the guest has programmed it.
    pub fn programmed(&self) -> bool {
        self.irq_line != 0 || self.bars.iter().any(|b| b.address.is_some())
    }
}

/// The BIOS allocator state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    /// The firmware ran since the last reset.
    pub done: bool,
    /// Next free I/O address.
    pub io_next: u64,
    /// Next free memory address.
    pub mem_next: u64,
    /// Slots the ACPI tables offer for hotplug (bit per slot), as PIIX4 computes
    /// them at reset: slots without a `no_hotplug` function.
    pub hotplug_slots: u32,
}

impl Default for Firmware {
    fn default() -> Self {
        Firmware {
            done: false,
            io_next: IO_START,
            mem_next: MEM_START,
            hotplug_slots: u32::MAX,
        }
    }
}

impl Firmware {
    /// `pci_setup`: programs every function the BIOS can see, in devfn order.
    /// `functions` must be sorted by devfn.
    pub fn run(&mut self, functions: &mut [&mut PciFunction]) {
        self.io_next = IO_START;
        self.mem_next = MEM_START;
        let visible = visible_devfns(functions);
        for f in functions.iter_mut() {
            if visible.contains(&f.devfn) {
                self.program(f);
            }
        }
        self.done = true;
    }

    /// `pci_bios_init_device` for one function: BARs, then the interrupt line.
    pub fn program(&mut self, f: &mut PciFunction) {
        for bar in &mut f.bars {
            let addr = self.allocate(bar.io, bar.size);
            // The ROM BAR is sized and placed but left disabled (reads back -1).
            bar.address = if bar.index == ROM_BAR { None } else { addr };
        }
        if f.pin != 0 {
            let pirq = (usize::from(f.pin) - 1 + usize::from(f.slot()) + 3) % 4;
            f.irq_line = PCI_IRQS[pirq];
        }
        if f.vendor_id == 0x8086 && f.device_id == 0x7113 {
            f.irq_line = ACPI_SCI_IRQ;
        }
    }

    fn allocate(&mut self, io: bool, size: u64) -> Option<u64> {
        let (next, end) = if io {
            (&mut self.io_next, IO_END)
        } else {
            (&mut self.mem_next, MEM_END)
        };
        let addr = next.div_ceil(size) * size;
        if addr + size >= end {
            return None;
        }
        *next = addr + size;
        Some(addr)
    }

    /// `piix4_update_hotplug`: which slots take hotplug events.
    pub fn update_hotplug_slots(&mut self, functions: &[&PciFunction]) {
        self.hotplug_slots = u32::MAX;
        for f in functions.iter().filter(|f| f.no_hotplug) {
            self.hotplug_slots &= !(1 << f.slot());
        }
    }

    /// Whether the guest handles hotplug events for `slot`.
    pub fn slot_hotpluggable(&self, slot: u8) -> bool {
        self.hotplug_slots & (1 << slot) != 0
    }
}

/// Functions a bus scan finds: function 0 of each slot, and the other functions
/// only behind a multifunction function 0.
pub fn visible_devfns(functions: &[&mut PciFunction]) -> Vec<u8> {
    functions
        .iter()
        .filter(|f| {
            f.function() == 0
                || functions
                    .iter()
                    .any(|f0| f0.devfn == f.slot() * FUNCTIONS_PER_SLOT && f0.multifunction)
        })
        .map(|f| f.devfn)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::devices::catalog;

    fn func(driver: &str, devfn: u8) -> PciFunction {
        let info = catalog::get(driver).pci.unwrap();
        PciFunction::new(&info, devfn, info.class, 0, info.rom_bytes)
    }

    #[test]
    fn firmware_places_default_machine_like_seabios() {
        let mut ide = func("piix3-ide", 9);
        let mut vga = func("cirrus-vga", 16);
        let mut nic = func("e1000", 24);
        let mut fw = Firmware::default();
        let mut piix3 = func("PIIX3", 8);
        piix3.multifunction = true;
        fw.run(&mut [&mut piix3, &mut ide, &mut vga, &mut nic]);
        assert_eq!(ide.bars[0].address, Some(0xc000));
        assert_eq!(vga.bars[0].address, Some(0xf000_0000));
        assert_eq!(vga.bars[1].address, Some(0xf200_0000));
        assert_eq!(vga.bars[2].address, None);
        assert_eq!(nic.bars[0].address, Some(0xf202_0000));
        assert_eq!(nic.bars[1].address, Some(0xc040));
        assert_eq!(nic.irq_line, 11);
    }

    #[test]
    fn acpi_gets_sci_line_nine() {
        let mut pm = func("PIIX4_PM", 11);
        Firmware::default().program(&mut pm);
        assert_eq!(pm.irq_line, 9);
    }

    #[test]
    fn function_behind_single_function_slot_is_invisible() {
        let mut f0 = func("e1000", 40);
        let mut f1 = func("e1000", 41);
        assert_eq!(visible_devfns(&[&mut f0, &mut f1]), [40]);
    }

    #[test]
    fn io_window_exhaustion_leaves_bar_unmapped() {
        let mut fw = Firmware {
            io_next: IO_END - 0x10,
            ..Firmware::default()
        };
        let mut f = func("piix3-ide", 9);
        fw.program(&mut f);
        assert_eq!(f.bars[0].address, None);
    }

    #[test]
    fn hotplug_slots_exclude_no_hotplug_functions() {
        let mut fw = Firmware::default();
        let vga = func("cirrus-vga", 16);
        fw.update_hotplug_slots(&[&vga]);
        assert!(!fw.slot_hotpluggable(2));
        assert!(fw.slot_hotpluggable(3));
    }
}
