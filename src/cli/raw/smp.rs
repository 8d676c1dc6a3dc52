//! The machine's size and kind: `-M`/`-machine`, `-cpu`, `-smp` and `-m`, parsed
//! as 0.14's `vl.c` parses them.

use super::option_list::parse_option_list;
use super::{OptCtx, RawError, SpecialMode};
use crate::machine::config::{RAM_MB_DEFAULT, SMP_CPUS_MAX};

/// Largest `-m`, in MiB (4 TiB).
pub const RAM_MB_MAX: u64 = 4 * 1024 * 1024;

/// Machine types of 0.14's x86 binary: (name, alias, description, max CPUs).
pub const MACHINES: &[(&str, Option<&str>, &str, u32)] = &[
    ("pc-0.14", Some("pc"), "Standard PC", SMP_CPUS_MAX),
    ("pc-0.13", None, "Standard PC", SMP_CPUS_MAX),
    ("pc-0.12", None, "Standard PC", SMP_CPUS_MAX),
    ("pc-0.11", None, "Standard PC, qemu 0.11", SMP_CPUS_MAX),
    ("pc-0.10", None, "Standard PC, qemu 0.10", SMP_CPUS_MAX),
    ("isapc", None, "ISA-only PC", 1),
];

/// What `-M ?` prints (without the final newline).
pub fn machine_list() -> String {
    let mut s = String::from("Supported machines are:");
    for (i, (name, alias, desc, _)) in MACHINES.iter().enumerate() {
        if let Some(alias) = alias {
            s.push_str(&format!("\n{alias:<10} {desc} (alias of {name})"));
        }
        let default = if i == 0 { " (default)" } else { "" };
        s.push_str(&format!("\n{name:<10} {desc}{default}"));
    }
    s
}

/// The most CPUs a machine type (or alias) takes.
pub(super) fn machine_max_cpus(machine: &str) -> u32 {
    MACHINES
        .iter()
        .find(|(name, alias, _, _)| *name == machine || *alias == Some(machine))
        .map_or(SMP_CPUS_MAX, |m| m.3)
}

/// `-M`/`-machine [type=]MACHINE[,accel=kvm]`; `?` lists the machines.
pub(super) fn apply_machine(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let low = &mut *ctx.low;
    if v == "?" {
        low.special = Some(SpecialMode::MachineList);
        return Ok(());
    }
    let opts = parse_option_list(&v, Some("type"));
    let machine = opts.get("type").unwrap_or("pc").to_owned();
    if !MACHINES
        .iter()
        .any(|(name, alias, _, _)| *name == machine || *alias == Some(machine.as_str()))
    {
        return Err(RawError::UnknownMachine(machine));
    }
    if opts
        .get("accel")
        .is_some_and(|a| a.split(':').next() == Some("kvm"))
    {
        low.config.kvm = true;
    }
    low.config.machine = machine;
    Ok(())
}

/// x86 CPU models of 0.14 (`-cpu ?` order).
pub const CPU_MODELS: &[&str] = &[
    "qemu64", "phenom", "core2duo", "kvm64", "qemu32", "coreduo", "486", "pentium", "pentium2",
    "pentium3", "athlon", "n270",
];

/// What `-cpu ?` prints (without the final newline).
pub fn cpu_list() -> String {
    CPU_MODELS
        .iter()
        .map(|m| format!("x86 {m:>16}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `-cpu MODEL[,flags]`; `?` lists the models.
pub(super) fn apply_cpu(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    let low = &mut *ctx.low;
    if v == "?" {
        low.special = Some(SpecialMode::CpuList);
        return Ok(());
    }
    let model = v.split(',').next().unwrap_or_default();
    if !CPU_MODELS.contains(&model) && model != "host" {
        return Err(RawError::UnknownCpu(v));
    }
    low.config.cpu_model = Some(v);
    Ok(())
}

/// `-smp` as given and completed the way 0.14's `smp_parse` completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpArgs {
    /// CPU count.
    pub cpus: u32,
    /// `maxcpus` (defaults to `cpus`).
    pub max_cpus: u32,
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// Parses `-smp n[,maxcpus=m][,sockets=s][,cores=c][,threads=t]` and completes the
/// missing values as 0.14's `smp_parse` does (sockets over cores over threads).
pub fn parse_smp(v: &str) -> Result<SmpArgs, RawError> {
    let opts = parse_option_list(v, Some("cpus"));
    let num = |key: &str| -> Result<u32, RawError> {
        opts.get(key)
            .map_or(Ok(0), |s| s.parse().map_err(|_| RawError::InvalidCpuCount))
    };
    let (mut cpus, mut sockets, mut cores, mut threads) = (
        num("cpus")?,
        num("sockets")?,
        num("cores")?,
        num("threads")?,
    );
    let max_cpus = num("maxcpus")?;
    if cpus == 0 || sockets == 0 {
        sockets = sockets.max(1);
        cores = cores.max(1);
        threads = threads.max(1);
        if cpus == 0 {
            cpus = cores.saturating_mul(threads).saturating_mul(sockets);
        }
    } else if cores == 0 {
        threads = threads.max(1);
        cores = cpus / sockets.saturating_mul(threads).max(1);
    } else {
        threads = cpus / cores.saturating_mul(sockets).max(1);
    }
    if opts.get("cpus") == Some("0") {
        return Err(RawError::InvalidCpuCount);
    }
    let max_cpus = if max_cpus == 0 { cpus } else { max_cpus };
    if max_cpus < cpus {
        return Err(RawError::MaxCpusBelowSmp);
    }
    if max_cpus > SMP_CPUS_MAX {
        return Err(RawError::MaxCpusUnsupported);
    }
    Ok(SmpArgs {
        cpus,
        max_cpus,
        sockets,
        cores: cores.max(1),
        threads: threads.max(1),
    })
}

/// Parses `-m`: a number of MiB, or with an `M`/`G` suffix (0.14 reads only the
/// first character after the digits). `0` means the default.
pub fn parse_ram_mb(v: &str) -> Result<Option<u64>, RawError> {
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(digits_end);
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| RawError::RamTooLarge)?
    };
    let mb = match suffix.chars().next() {
        None | Some('M' | 'm') => Some(n),
        Some('G' | 'g') => n.checked_mul(1024),
        Some(_) => return Err(RawError::InvalidRamSize(v.to_owned())),
    };
    match mb {
        Some(0) => Ok(None),
        Some(mb) if mb <= RAM_MB_MAX => Ok(Some(mb)),
        _ => Err(RawError::RamTooLarge),
    }
}

/// `-smp`: the CPU count goes to the config (the topology is checked, not kept).
pub(super) fn apply_smp(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.smp = parse_smp(&v)?.cpus;
    Ok(())
}

/// `-m`: `0` means the default size.
pub(super) fn apply_ram(ctx: &mut OptCtx<'_>, v: String) -> Result<(), RawError> {
    ctx.low.config.ram_mb = parse_ram_mb(&v)?.unwrap_or(RAM_MB_DEFAULT);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{assert_refused, parse_err, parse_ok};
    use super::*;
    use crate::cli::raw::SpecialMode;

    #[test]
    fn ram_plain_number_is_mib() {
        assert_eq!(parse_ram_mb("512"), Ok(Some(512)));
    }

    #[test]
    fn ram_g_suffix_is_gib() {
        assert_eq!(parse_ram_mb("2G"), Ok(Some(2048)));
    }

    #[test]
    fn ram_m_suffix_is_mib() {
        assert_eq!(parse_ram_mb("256M"), Ok(Some(256)));
    }

    #[test]
    fn ram_zero_means_default() {
        assert_eq!(parse_ram_mb("0"), Ok(None));
    }

    #[test]
    fn refused_command_lines_print_014s_message() {
        assert_refused(&[
            (
                "ram letters are invalid",
                &["-m", "abc"],
                "qemu: invalid ram size: abc",
            ),
            (
                "smp zero is invalid",
                &["-smp", "0"],
                "Invalid number of CPUs",
            ),
            (
                "smp letters are invalid",
                &["-smp", "two"],
                "Invalid number of CPUs",
            ),
            (
                "smp past max is rejected",
                &["-smp", "256"],
                "Unsupported number of maxcpus",
            ),
            (
                "smp maxcpus below count is rejected",
                &["-smp", "4,maxcpus=2"],
                "maxcpus must be equal to or greater than smp",
            ),
            (
                "smp more than isapc allows is rejected",
                &["-M", "isapc", "-smp", "2"],
                "Number of SMP cpus requested (2), exceeds max cpus supported by machine `isapc' (1)",
            ),
            (
                "cpu unknown model is rejected",
                &["-cpu", "z80"],
                "Unable to find x86 CPU definition",
            ),
        ]);
    }

    #[test]
    fn ram_at_max_is_accepted() {
        assert_eq!(parse_ram_mb("4096G"), Ok(Some(RAM_MB_MAX)));
    }

    #[test]
    fn ram_past_max_is_too_large() {
        assert_eq!(
            parse_ram_mb(&(RAM_MB_MAX + 1).to_string()),
            Err(RawError::RamTooLarge)
        );
    }

    #[test]
    fn smp_count_only_fills_topology() {
        assert_eq!(
            parse_smp("4"),
            Ok(SmpArgs {
                cpus: 4,
                max_cpus: 4,
                sockets: 1,
                cores: 1,
                threads: 1
            })
        );
    }

    #[test]
    fn smp_topology_only_computes_count() {
        assert_eq!(parse_smp("cores=2,sockets=2").map(|s| s.cpus), Ok(4));
    }

    #[test]
    fn smp_at_max_is_accepted() {
        assert_eq!(parse_ok(&["-smp", "255"]).config.smp, 255);
    }

    #[test]
    fn smp_maxcpus_at_max_is_accepted() {
        let v = format!("1,maxcpus={SMP_CPUS_MAX}");
        assert_eq!(parse_smp(&v).map(|s| s.max_cpus), Ok(SMP_CPUS_MAX));
    }

    #[test]
    fn smp_maxcpus_past_max_is_unsupported() {
        let v = format!("1,maxcpus={}", SMP_CPUS_MAX + 1);
        assert_eq!(parse_smp(&v), Err(RawError::MaxCpusUnsupported));
    }

    #[test]
    fn machine_unknown_prints_list() {
        assert!(parse_err(&["-M", "q35"]).starts_with("Supported machines are:\npc         Standard PC (alias of pc-0.14)\npc-0.14    Standard PC (default)"));
    }

    #[test]
    fn machine_question_mark_is_list_mode() {
        assert_eq!(
            parse_ok(&["-M", "?"]).special,
            Some(SpecialMode::MachineList)
        );
    }

    #[test]
    fn machine_accel_kvm_enables_kvm() {
        assert!(parse_ok(&["-machine", "pc,accel=kvm"]).config.kvm);
    }

    #[test]
    fn no_kvm_after_enable_kvm_disables() {
        assert!(!parse_ok(&["-enable-kvm", "-no-kvm"]).config.kvm);
    }

    #[test]
    fn cpu_model_with_flags_is_accepted() {
        assert_eq!(
            parse_ok(&["-cpu", "qemu64,+ssse3"])
                .config
                .cpu_model
                .as_deref(),
            Some("qemu64,+ssse3")
        );
    }
}
