//! Memory dumps: memsave (virtual) and pmemsave (physical), 0.14's
//! `do_memory_save` / `do_physical_memory_save`. The bytes come from the guest
//! memory model ([`crate::machine::memory`]) and leave as an
//! [`Effect::WriteFile`]; the command answers `{}` before the edge opens the
//! file, so an open failure (0.14's OpenFileFailed) is reported by the edge on
//! stderr instead (docs/compat.md). No I/O here.

use super::{empty, Args, Ctx, HandlerResult};
use crate::machine::memory::{ram_bytes, read_phys, FileBytes, MIB_BYTES};
use crate::machine::Effect;
use crate::wire::{ErrorClass, QmpError};

/// Largest dump one command may write, in bytes (0.14 has no limit; qmpsim
/// keeps dumps in memory and in traces).
pub const MEMSAVE_BYTES_MAX: u64 = 16 * MIB_BYTES;

/// The `expected` text of the error for a dump past [`MEMSAVE_BYTES_MAX`].
pub const MEMSAVE_SIZE_EXPECTED: &str = "a size of at most 16777216 bytes";

/// Shared body: 0.14 keeps `size` in a `uint32_t` and the address in a 64-bit
/// `target_phys_addr_t`/`target_long`, so both are truncated/reinterpreted first.
fn save(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    let size = args.int("size");
    let size = u64::try_from(size & 0xFFFF_FFFF).unwrap_or(0);
    if size > MEMSAVE_BYTES_MAX {
        return Err(QmpError::with2(
            ErrorClass::InvalidParameterValue,
            "size",
            MEMSAVE_SIZE_EXPECTED,
        ));
    }
    let addr = args.int("val");
    let addr = u64::from_ne_bytes(addr.to_ne_bytes());
    let machine = &mut *ctx.machine;
    let ram = ram_bytes(machine.config.ram_mb);
    let len = usize::try_from(size).unwrap_or(0);
    let bytes = read_phys(machine.config.seed, ram, addr, len);
    machine.effects.push(Effect::WriteFile {
        path: args.str("filename").to_owned(),
        bytes: FileBytes(bytes),
    });
    empty()
}

/// `memsave`: guest paging is not modelled, so a virtual address reads the same
/// bytes as the physical one, whatever the monitor's current CPU.
pub fn memsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    save(ctx, args)
}

/// `pmemsave`.
pub fn pmemsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> HandlerResult {
    save(ctx, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::config::MachineConfig;
    use crate::machine::Machine;
    use crate::qdict;

    fn run(size: i64) -> (Machine, HandlerResult) {
        let mut m = Machine::new(MachineConfig::default());
        let args = qdict! { "val" => 10_i64, "size" => size, "filename" => "/tmp/d" };
        let r = super::super::call_fresh(&mut m, pmemsave, &args);
        (m, r)
    }

    fn written_len(m: &Machine) -> usize {
        match m.effects.as_slice() {
            [Effect::WriteFile { bytes, .. }] => bytes.0.len(),
            other => panic!("unexpected effects {other:?}"),
        }
    }

    #[test]
    fn pmemsave_writes_size_bytes() {
        let (m, r) = run(100);
        assert!(r.is_ok());
        assert_eq!(written_len(&m), 100);
    }

    #[test]
    fn pmemsave_at_limit_writes() {
        let (m, _) = run(i64::try_from(MEMSAVE_BYTES_MAX).unwrap());
        assert_eq!(written_len(&m), 16 << 20);
    }

    #[test]
    fn pmemsave_past_limit_is_invalid_size() {
        let (m, r) = run(i64::try_from(MEMSAVE_BYTES_MAX).unwrap() + 1);
        assert_eq!(
            r,
            Err(QmpError::with2(
                ErrorClass::InvalidParameterValue,
                "size",
                MEMSAVE_SIZE_EXPECTED
            ))
        );
        assert!(m.effects.is_empty());
    }

    #[test]
    fn memsave_size_expected_names_the_limit() {
        assert_eq!(
            MEMSAVE_SIZE_EXPECTED,
            format!("a size of at most {MEMSAVE_BYTES_MAX} bytes")
        );
    }

    #[test]
    fn pmemsave_size_wrapping_to_the_limit_writes() {
        let (m, _) = run((1_i64 << 32) + i64::try_from(MEMSAVE_BYTES_MAX).unwrap());
        assert_eq!(written_len(&m), 16 << 20);
    }

    #[test]
    fn pmemsave_size_wraps_at_32_bits() {
        let (m, _) = run((1_i64 << 32) + 3);
        assert_eq!(written_len(&m), 3);
    }

    #[test]
    fn pmemsave_negative_size_is_past_limit() {
        let (_, r) = run(-1);
        assert!(r.is_err());
    }
}
