//! The human monitor's readers of guest memory, registers and ports, answering
//! from the modelled state in 0.14's formats (monitor.c `memory_dump`,
//! `do_print`, `do_sum`, `do_ioport_read`/`write`; target-i386 `cpu_dump_state`,
//! `tlb_info`, `mem_info`; hw/i8259.c `pic_info`).
//!
//! - Memory is what `memsave`/`pmemsave` write ([`crate::machine::memory`]):
//!   a pure function of the seed, with no paging, so `x` and `xp` read the
//!   same bytes.
//! - The CPU is the modelled one: its `pc` and halted flag, in a reset CPU's
//!   real-mode registers while it sits at the reset vector, else in the flat
//!   32-bit protected-mode context of the simulated guest kernel (paging off,
//!   as the memory model has none). The `-cpu` model sets EDX at reset.
//! - Ports: the two 8259 PICs (0x20/0x21, 0xa0/0xa1) and their ELCRs
//!   (0x4d0/0x4d1), the i8042 status (0x64); other ports read as 0.14's
//!   unassigned ports (all ones). Writes change nothing.
//!
//! Pure: no I/O.

use std::fmt::Write as _;

use crate::machine::devices::cpu::{Cpu, RESET_PC};
use crate::machine::memory::{ram_bytes, read_phys};
use crate::machine::{FormatDefaults, Machine};
use crate::qmp::args::Args;
use crate::qmp::commands::Ctx;
use crate::wire::QDict;

/// 0.14's `/fmt` defaulting: a format or size not given is the remembered one
/// (no size for `i`), and what was used is remembered.
pub fn resolve_format(defaults: &mut FormatDefaults, args: &mut QDict) {
    let (Some(mut format), Some(mut size)) = (args.get_int("format"), args.get_int("size")) else {
        return;
    };
    if format < 0 {
        format = defaults.format;
    }
    if format == i64::from(b'i') {
        // `i` without a size disassembles in the CPU's mode.
    } else {
        if size < 0 {
            size = defaults.size;
        }
        defaults.size = size;
    }
    defaults.format = format;
    args.put("format", format);
    args.put("size", size);
}

/// A part of the `/fmt` argument (`count`, `format`, `size`), which the
/// args_type declares as one `fmt:/`.
fn fmt_part(args: &Args<'_>, key: &str) -> i64 {
    args.format_part(key)
}

/// The monitor's CPU (`mon_get_cpu`).
fn monitor_cpu(ctx: &Ctx<'_>) -> Cpu {
    let cpus = &ctx.machine.devices.cpus.cpus;
    cpus.iter()
        .find(|c| c.index == ctx.session.cpu_index)
        .or_else(|| cpus.first())
        .copied()
        .expect("a machine has a CPU")
}

/// `len` bytes of guest memory at `addr`.
fn read(machine: &Machine, addr: u64, len: usize) -> Vec<u8> {
    read_phys(
        machine.config.seed,
        ram_bytes(machine.config.ram_mb),
        addr,
        len,
    )
}

/// `x /fmt addr`: virtual memory (no paging: the physical bytes).
pub fn x(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    dump(ctx, &args, out);
}

/// `xp /fmt addr`: physical memory.
pub fn xp(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    dump(ctx, &args, out);
}

/// C's `%#o` of a value.
fn alt_octal(v: u64) -> String {
    if v == 0 {
        "0".to_owned()
    } else {
        format!("0{v:o}")
    }
}

/// `memory_dump`: lines of 8 bytes (16 for wider units), the address first.
fn dump(ctx: &Ctx<'_>, args: &Args<'_>, out: &mut String) {
    let count = fmt_part(args, "count");
    let format = u8::try_from(fmt_part(args, "format")).unwrap_or(b'x');
    let mut wsize = fmt_part(args, "size");
    let mut addr = u64::from_ne_bytes(args.int("addr").to_ne_bytes());
    if format == b'i' {
        out.push_str("x/i: not supported yet\n");
        return;
    }
    if !matches!(wsize, 1 | 2 | 4 | 8) {
        wsize = 1;
    }
    // 0.14 computes this in an `int`.
    let mut len = i64::from(i32::try_from((wsize * count) & 0xffff_ffff).unwrap_or(-1));
    let line_size = if wsize == 1 { 8 } else { 16 };
    let max_digits = match format {
        b'o' => (wsize * 8 + 2) / 3,
        b'u' | b'd' => (wsize * 8 * 10 + 32) / 33,
        _ => wsize * 8 / 4,
    };
    if format == b'c' {
        wsize = 1;
    }
    let width = usize::try_from(max_digits).unwrap_or(0);
    while len > 0 {
        // TARGET_FMT_plx and TARGET_FMT_lx are both 16 digits on x86_64.
        let _ = write!(out, "{addr:016x}:");
        let l = len.min(line_size);
        let buf = read(ctx.machine, addr, usize::try_from(l).unwrap_or(0));
        for chunk in buf.chunks(usize::try_from(wsize).unwrap_or(1)) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            out.push(' ');
            match format {
                b'o' => {
                    let _ = write!(out, "{:>width$}", alt_octal(v));
                }
                b'u' => {
                    let _ = write!(out, "{v:>width$}");
                }
                b'd' => {
                    let signed = sign_extend(v, wsize);
                    let _ = write!(out, "{signed:>width$}");
                }
                b'c' => printc(out, v),
                _ => {
                    let _ = write!(out, "0x{v:0width$x}");
                }
            }
        }
        out.push('\n');
        addr = addr.wrapping_add(u64::try_from(l).unwrap_or(0));
        len -= l;
    }
}

/// A `wsize`-byte unit read as a signed number (0.14 prints it with `PRId64`
/// of the zero-extended value, so only 8-byte units can be negative).
fn sign_extend(v: u64, wsize: i64) -> i64 {
    if wsize == 8 {
        i64::from_ne_bytes(v.to_ne_bytes())
    } else {
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

/// `monitor_printc`: a character in quotes, escaped.
fn printc(out: &mut String, v: u64) {
    // 0.14 passes the value as an `int`.
    let c = i64::from(i32::from_ne_bytes(
        u32::try_from(v & 0xffff_ffff)
            .expect("masked")
            .to_ne_bytes(),
    ));
    out.push('\'');
    match c {
        0x27 => out.push_str("\\'"),
        0x5c => out.push_str("\\\\"),
        0x0a => out.push_str("\\n"),
        0x0d => out.push_str("\\r"),
        32..=126 => out.push(char::from(u8::try_from(c).expect("printable"))),
        _ => {
            let _ = write!(out, "\\x{:02x}", c & 0xff);
        }
    }
    out.push('\'');
}

/// `print /fmt expr` (`p`): the value in the format (`d` by default).
pub fn print(_ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let format = u8::try_from(fmt_part(&args, "format")).unwrap_or(b'x');
    let val = args.int("val");
    let bits = u64::from_ne_bytes(val.to_ne_bytes());
    match format {
        b'o' => out.push_str(&alt_octal(bits)),
        b'x' if bits == 0 => out.push('0'),
        b'x' => {
            let _ = write!(out, "{bits:#x}");
        }
        b'u' => {
            let _ = write!(out, "{bits}");
        }
        b'c' => printc(out, bits),
        _ => {
            let _ = write!(out, "{val}");
        }
    }
    out.push('\n');
}

/// Bytes of guest RAM `sum` reads at most (past RAM every byte is zero, and
/// sixteen zero bytes leave the sum as it was, so only RAM costs time).
pub const SUM_RAM_BYTES_MAX: u64 = 16 << 20;

/// `sum addr size` (`do_sum`): the BSD checksum (16 bits, rotated right before
/// each byte is added) of the bytes from `addr` up to `addr + size`, both
/// 32-bit (a range that wraps sums nothing).
pub fn sum(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let low32 = |v: i64| u64::from_ne_bytes(v.to_ne_bytes()) & 0xffff_ffff;
    let (start, size) = (low32(args.int("start")), low32(args.int("size")));
    let end = (start + size) & 0xffff_ffff;
    let ram = ram_bytes(ctx.machine.config.ram_mb);
    let ram_end = end.min(ram).max(start);
    if ram_end - start > SUM_RAM_BYTES_MAX {
        let _ = writeln!(
            out,
            "qmpsim: sum reads at most {SUM_RAM_BYTES_MAX} bytes of RAM"
        );
        return;
    }
    let mut sum: u16 = 0;
    let mut addr = start;
    while addr < ram_end {
        let chunk = (ram_end - addr).min(1 << 16);
        for b in read(ctx.machine, addr, usize::try_from(chunk).expect("64 KiB")) {
            sum = sum.rotate_right(1).wrapping_add(u16::from(b));
        }
        addr += chunk;
    }
    let zeros = end.saturating_sub(ram_end.max(start));
    sum = sum.rotate_right(u32::try_from(zeros % 16).expect("below 16"));
    let _ = writeln!(out, "{sum:05}");
}

/// C's `%#0*x`: `0x` and hex digits, zero-padded to `width` in all (a zero
/// value has no prefix).
fn alt_hex(v: u64, width: usize) -> String {
    if v == 0 {
        format!("{:0width$}", 0)
    } else {
        let digits = format!("{v:x}");
        format!("0x{digits:0>w$}", w = width.saturating_sub(2))
    }
}

/// Whether the simulated guest has left the reset vector (its firmware and
/// kernel have programmed the chipset).
fn booted(machine: &Machine) -> bool {
    machine
        .devices
        .cpus
        .cpus
        .first()
        .is_some_and(|c| c.pc != RESET_PC)
}

/// A PIC's state: `irr`, `imr`, `isr`, `priority_add`, `irq_base`,
/// `read_reg_select`, `elcr`, `special_fully_nested_mode`.
type PicState = [u8; 8];

/// The two PICs: at reset, or as a Linux guest programs them (vectors 0x30 and
/// 0x38, the cascade and the PCI interrupts 9, 10 and 11 level-triggered).
fn pics(machine: &Machine) -> [PicState; 2] {
    if booted(machine) {
        [
            [0, 0xb8, 0, 0, 0x30, 0, 0x00, 0],
            [0, 0x8f, 0, 0, 0x38, 0, 0x0e, 0],
        ]
    } else {
        [[0; 8], [0; 8]]
    }
}

/// A port's value as the model reads it, `size` bytes wide.
fn port_read(machine: &Machine, addr: u64, size: i64) -> u64 {
    let [pic0, pic1] = pics(machine);
    let byte = |port: u64| -> u8 {
        match port {
            0x20 => pic0[0],
            0x21 => pic0[1],
            0xa0 => pic1[0],
            0xa1 => pic1[1],
            0x4d0 => pic0[6],
            0x4d1 => pic1[6],
            0x64 if booted(machine) => 0x1c,
            0x64 => 0x18,
            _ => 0xff,
        }
    };
    match size {
        2 => u64::from(byte(addr)) | u64::from(byte((addr + 1) & 0xffff)) << 8,
        4 => 0xffff_ffff,
        _ => u64::from(byte(addr)),
    }
}

/// `i /fmt addr [index]`: an I/O port read (`index` is written to `addr`
/// first, and `addr + 1` read).
pub fn port_in(ctx: &mut Ctx<'_>, args: Args<'_>, out: &mut String) {
    let size = fmt_part(&args, "size");
    let mut addr = u64::from_ne_bytes(args.int("addr").to_ne_bytes());
    // `index:i.` is optional without a `?`.
    if args.dict().get_int("index").is_some() {
        addr = addr.wrapping_add(1);
    }
    addr &= 0xffff;
    let (size, suffix) = match size {
        2 => (2, 'w'),
        4 => (4, 'l'),
        _ => (1, 'b'),
    };
    let val = port_read(ctx.machine, addr, size);
    let width = usize::try_from(size * 2).unwrap_or(2);
    let _ = writeln!(out, "port{suffix}[0x{addr:04x}] = {}", alt_hex(val, width));
}

/// `o /fmt addr value`: an I/O port write; no modelled device reacts.
pub fn port_out(_ctx: &mut Ctx<'_>, _args: Args<'_>, _out: &mut String) {}

/// `info pic` (`pic_info`).
pub fn info_pic(ctx: &mut Ctx<'_>, out: &mut String) {
    for (i, p) in pics(ctx.machine).iter().enumerate() {
        let _ = writeln!(
            out,
            "pic{i}: irr={:02x} imr={:02x} isr={:02x} hprio={} irq_base={:02x} rr_sel={} elcr={:02x} fnm={}",
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        );
    }
}

/// `info tlb` and `info mem`: paging is never on in the model.
pub fn info_tlb(_ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("PG disabled\n");
}

/// Size of 0.14's `bios.bin` (SeaBIOS), mapped as ROM just below 4 GiB.
const BIOS_BYTES: u64 = 0x2_0000;

/// `info roms` (hw/loader.c `do_info_roms`): the pc machine's one ROM image
/// outside the PCI option ROM BARs, the BIOS.
pub fn info_roms(_ctx: &mut Ctx<'_>, out: &mut String) {
    let addr = (1u64 << 32) - BIOS_BYTES;
    let _ = writeln!(
        out,
        "addr={addr:016x} size=0x{BIOS_BYTES:06x} mem=rom name=\"bios.bin\" "
    );
}

/// `cpuid_version` of a `-cpu` model (family, model and stepping as 0.14's
/// `cpu_x86_register` packs them; qemu64 by default).
fn cpuid_version(model: Option<&str>) -> u32 {
    let (family, m, stepping) = match model.unwrap_or("qemu64") {
        "phenom" => (16, 2, 3),
        "core2duo" => (6, 15, 11),
        "kvm64" | "kvm32" => (15, 6, 1),
        "qemu32" => (6, 3, 3),
        "coreduo" => (6, 14, 8),
        "486" => (4, 0, 0),
        "pentium" => (5, 4, 3),
        "pentium2" => (6, 5, 2),
        "pentium3" => (6, 7, 3),
        "n270" => (6, 28, 2),
        _ => (6, 2, 3),
    };
    let base = if family > 0x0f {
        0xf00 | ((family - 0x0f) << 20)
    } else {
        family << 8
    };
    base | ((m & 0xf) << 4) | ((m >> 4) << 16) | stepping
}

/// A segment register: selector, base, limit, flags, and what protected mode
/// adds after them.
struct Segment {
    name: &'static str,
    selector: u16,
    base: u32,
    limit: u32,
    flags: u32,
    tail: &'static str,
}

/// `info registers` (`cpu_dump_state` with the FPU): the monitor CPU.
pub fn info_registers(ctx: &mut Ctx<'_>, out: &mut String) {
    let cpu = monitor_cpu(ctx);
    let reset = cpu.pc == RESET_PC;
    let edx = if reset {
        cpuid_version(ctx.machine.config.cpu_model.as_deref())
    } else {
        0
    };
    // At reset CS.base + EIP is the reset vector; in the guest kernel CS is flat.
    let (eip, esp, cr0) = if reset {
        (0xfff0_u32, 0_u32, 0x6000_0010_u32)
    } else {
        (
            u32::try_from(cpu.pc & 0xffff_ffff).expect("masked"),
            0xc03f_bfd4,
            0x6000_0011,
        )
    };
    let _ = write!(
        out,
        "EAX=00000000 EBX=00000000 ECX=00000000 EDX={edx:08x}\n\
         ESI=00000000 EDI=00000000 EBP=00000000 ESP={esp:08x}\n\
         EIP={eip:08x} EFL={:08x} [-------] CPL=0 II=0 A20=1 SMM=0 HLT={}\n",
        if reset { 0x2 } else { 0x202 },
        u8::from(cpu.halted),
    );
    for s in segments(reset) {
        let _ = writeln!(
            out,
            "{:<3}={:04x} {:08x} {:08x} {:08x}{}",
            s.name, s.selector, s.base, s.limit, s.flags, s.tail
        );
    }
    let (gdt, gdt_limit, idt, idt_limit) = if reset {
        (0, 0xffff, 0, 0xffff)
    } else {
        (0xc15d_0000_u32, 0xff, 0xc15c_f000_u32, 0x7ff)
    };
    let _ = write!(
        out,
        "GDT=     {gdt:08x} {gdt_limit:08x}\nIDT=     {idt:08x} {idt_limit:08x}\n\
         CR0={cr0:08x} CR2=00000000 CR3=00000000 CR4=00000000\n"
    );
    for i in 0..4 {
        let _ = write!(out, "DR{i}=0000000000000000 ");
    }
    out.push_str("\nDR6=00000000ffff0ff0 DR7=0000000000000400\nEFER=0000000000000000\n");
    out.push_str("FCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80\n");
    for i in 0..8 {
        let _ = write!(out, "FPR{i}=0000000000000000 0000");
        out.push(if i % 2 == 1 { '\n' } else { ' ' });
    }
    for i in 0..8 {
        let _ = write!(out, "XMM{i:02}=00000000000000000000000000000000");
        out.push(if i % 2 == 1 { '\n' } else { ' ' });
    }
}

/// The segment registers, LDT and TR: those of a reset CPU, or the flat
/// descriptors of a 32-bit Linux kernel.
fn segments(reset: bool) -> Vec<Segment> {
    let seg = |name, selector, base, limit, flags, tail| Segment {
        name,
        selector,
        base,
        limit,
        flags,
        tail,
    };
    if reset {
        let data = |name| seg(name, 0, 0, 0xffff, 0x9300, "");
        return vec![
            data("ES"),
            seg("CS", 0xf000, 0xffff_0000, 0xffff, 0x9b00, ""),
            data("SS"),
            data("DS"),
            data("FS"),
            data("GS"),
            seg("LDT", 0, 0, 0xffff, 0x8200, ""),
            seg("TR", 0, 0, 0xffff, 0x8b00, ""),
        ];
    }
    let data = |name, selector| {
        seg(
            name,
            selector,
            0,
            0xffff_ffff,
            0x00cf_9300,
            " DPL=0 DS   [-WA]",
        )
    };
    vec![
        data("ES", 0x7b),
        seg("CS", 0x60, 0, 0xffff_ffff, 0x00cf_9b00, " DPL=0 CS32 [-RA]"),
        data("SS", 0x68),
        data("DS", 0x7b),
        data("FS", 0xd8),
        seg("GS", 0, 0, 0xffff_ffff, 0, ""),
        seg("LDT", 0, 0, 0xffff, 0x8200, " DPL=0 LDT"),
        seg("TR", 0x80, 0xc15d_0000, 0x206b, 0x8b00, " DPL=0 TSS32-busy"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of one `xp` line, after its address.
    fn values(line: &str) -> Vec<&str> {
        line.split_once(':').unwrap().1.split_whitespace().collect()
    }

    #[test]
    fn xp_decimal_is_the_zero_extended_unit_so_only_giant_units_are_negative() {
        let mut m = crate::machine::Machine::new(crate::machine::config::MachineConfig::default());
        let mut xp = |line: &str| crate::qmp::hmp::printed(&mut m, line);
        let (unsigned, signed) = (xp("xp /4uw 0x1000"), xp("xp /4dw 0x1000"));
        // "ADDR:" and four fields of a space and ten columns.
        assert_eq!(unsigned.len(), 17 + 4 * 11 + 1, "{unsigned:?}");
        assert_eq!(values(&signed), values(&unsigned));
        let (unsigned, signed) = (xp("xp /2ug 0x1000"), xp("xp /2dg 0x1000"));
        let as_signed: Vec<String> = values(&unsigned)
            .iter()
            .map(|u| i64::from_ne_bytes(u.parse::<u64>().unwrap().to_ne_bytes()).to_string())
            .collect();
        assert_eq!(values(&signed), as_signed);
    }

    #[test]
    fn port_and_memory_reads_print_at_the_width_of_their_size_and_format() {
        let mut m = crate::machine::Machine::new(crate::machine::config::MachineConfig::default());
        crate::qmp::hmp::assert_printed(
            &mut m,
            &[
                // A zero byte, a byte port before boot, two byte ports as a
                // word, and a 4-byte port.
                ("i /b 0x20", "portb[0x0020] = 00\n"),
                ("i /b 0x64", "portb[0x0064] = 0x18\n"),
                ("i /h 0x64", "portw[0x0064] = 0xff18\n"),
                ("i /w 0x20", "portl[0x0020] = 0xffffffff\n"),
                // Past RAM every byte is zero.
                ("xp /2ob 0x7ffff0000", "00000007ffff0000:   0   0\n"),
                ("xp /2ub 0x7ffff0000", "00000007ffff0000:   0   0\n"),
                ("xp /2xb 0x7ffff0000", "00000007ffff0000: 0x00 0x00\n"),
                ("xp /1ow 0x7ffff0000", "00000007ffff0000:           0\n"),
            ],
        );
    }

    #[test]
    fn printc_escapes_quotes_backslash_and_line_ends() {
        let printed: Vec<String> = [0x27, 0x5c, 0x0a, 0x0d, 0x41, 0x07]
            .iter()
            .map(|&c| {
                let mut out = String::new();
                printc(&mut out, c);
                out
            })
            .collect();
        assert_eq!(
            printed,
            ["'\\''", "'\\\\'", "'\\n'", "'\\r'", "'A'", "'\\x07'"]
        );
    }

    #[test]
    fn sum_of_one_byte_is_the_byte_and_of_nothing_is_zero() {
        let mut m = crate::machine::Machine::new(crate::machine::config::MachineConfig::default());
        let byte = crate::qmp::hmp::printed(&mut m, "xp /1ub 0x1000");
        let byte: u16 = values(&byte)[0].parse().unwrap();
        assert_ne!(byte, 0, "pick an address holding a non-zero byte");
        assert_eq!(
            crate::qmp::hmp::printed(&mut m, "sum 0x1000 1"),
            format!("{byte:05}\n")
        );
        assert_eq!(crate::qmp::hmp::printed(&mut m, "sum 0x1000 0"), "00000\n");
    }

    #[test]
    fn cpuid_versions_of_the_models() {
        assert_eq!(
            ["qemu32", "core2duo", "kvm64", "486", "n270"].map(|m| cpuid_version(Some(m))),
            [0x633, 0x6fb, 0xf61, 0x400, 0x106c2]
        );
    }

    #[test]
    fn cpuid_version_of_qemu64_is_0x623() {
        assert_eq!(cpuid_version(None), 0x623);
    }

    #[test]
    fn cpuid_version_of_phenom_uses_the_extended_family() {
        assert_eq!(cpuid_version(Some("phenom")), 0x100f23);
    }

    #[test]
    fn alt_hex_pads_after_the_prefix_and_not_zero() {
        assert_eq!(
            (alt_hex(0xff, 2), alt_hex(0xff, 8), alt_hex(0, 4)),
            ("0xff".to_owned(), "0x0000ff".to_owned(), "0000".to_owned())
        );
    }

    #[test]
    fn resolve_format_remembers_format_and_size() {
        let mut d = FormatDefaults::default();
        let mut first =
            crate::qdict! { "count" => 1_i64, "format" => i64::from(b'd'), "size" => 2_i64 };
        resolve_format(&mut d, &mut first);
        let mut second = crate::qdict! { "count" => 1_i64, "format" => -1_i64, "size" => -1_i64 };
        resolve_format(&mut d, &mut second);
        assert_eq!(
            (second.get_int("format"), second.get_int("size")),
            (Some(i64::from(b'd')), Some(2))
        );
    }
}
