//! The guest memory model: what `memsave`/`pmemsave` read and `migrate` counts.
//!
//! There is no emulated CPU, so guest RAM has no real content. Instead every byte
//! is a pure function of the machine seed and its guest-physical address: the
//! same seed gives the same dump, every run, on every host. RAM is one block at
//! guest-physical 0 of `-m` MiB (0.14's "pc.ram"); reads past it return zeros, as
//! 0.14's unassigned-memory handlers do. Paging is not modelled, so a virtual
//! address (`memsave`) is the same as a physical one (`pmemsave`).
//!
//! Pure functions only: no state, no I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes per guest page (`TARGET_PAGE_SIZE` on x86).
pub const PAGE_BYTES: u64 = 4096;
/// Bytes per MiB.
pub const MIB_BYTES: u64 = 1 << 20;

/// Size of guest RAM in bytes for a `-m` value in MiB.
pub fn ram_bytes(ram_mb: u64) -> u64 {
    ram_mb.saturating_mul(MIB_BYTES)
}

/// The 8-byte little-endian word of RAM holding guest-physical `addr`
/// (SplitMix64's finalizer over the seed and the word index).
fn ram_word(seed: u64, word_index: u64) -> u64 {
    let mut z = seed ^ word_index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The byte at guest-physical `addr` in a machine with `ram` bytes of RAM.
pub fn phys_byte(seed: u64, ram: u64, addr: u64) -> u8 {
    if addr >= ram {
        return 0;
    }
    ram_word(seed, addr / 8).to_le_bytes()[usize::try_from(addr % 8).unwrap_or(0)]
}

/// `len` bytes from guest-physical `addr`, wrapping at the top of the address
/// space as 0.14's `addr += l` does.
pub fn read_phys(seed: u64, ram: u64, addr: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut a = addr;
    while out.len() < len {
        // Whole words when aligned and inside RAM; byte by byte at the edges.
        let whole_word = a % 8 == 0 && a.checked_add(8).is_some_and(|end| end <= ram);
        if whole_word && len - out.len() >= 8 {
            out.extend_from_slice(&ram_word(seed, a / 8).to_le_bytes());
            a = a.wrapping_add(8);
        } else {
            out.push(phys_byte(seed, ram, a));
            a = a.wrapping_add(1);
        }
    }
    out
}

/// The contents of a file the edge writes ([`super::Effect::WriteFile`]).
///
/// `Debug` prints the length and a sha256 prefix rather than every byte, so
/// transcripts and goldens that show effects stay short and still pin the
/// content exactly.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileBytes(pub Vec<u8>);

impl FileBytes {
    /// The sha256 of the contents, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        Sha256::digest(&self.0)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = self.sha256_hex();
        f.debug_struct("FileBytes")
            .field("len", &self.0.len())
            .field("sha256", &&hex[..16])
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 128 * MIB_BYTES;

    #[test]
    fn read_phys_same_seed_same_bytes() {
        assert_eq!(read_phys(7, RAM, 10, 100), read_phys(7, RAM, 10, 100));
    }

    #[test]
    fn read_phys_different_seed_different_bytes() {
        assert_ne!(read_phys(1, RAM, 0, 64), read_phys(2, RAM, 0, 64));
    }

    #[test]
    fn words_of_one_seed_are_all_different() {
        let mut words: Vec<u64> = (0..64).map(|i| ram_word(7, i)).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), 64);
    }

    #[test]
    fn read_phys_unaligned_matches_byte_reads() {
        let bytes = read_phys(3, RAM, 5, 37);
        let single: Vec<u8> = (5..42).map(|a| phys_byte(3, RAM, a)).collect();
        assert_eq!(bytes, single);
    }

    #[test]
    fn read_phys_past_ram_reads_zeros() {
        assert_eq!(read_phys(3, RAM, RAM - 2, 4)[2..], [0, 0]);
    }

    #[test]
    fn read_phys_wraps_at_top_of_address_space() {
        let bytes = read_phys(3, RAM, u64::MAX, 2);
        assert_eq!(bytes, [0, phys_byte(3, RAM, 0)]);
    }

    #[test]
    fn file_bytes_debug_shows_length_and_digest_prefix() {
        let f = FileBytes(b"abc".to_vec());
        assert_eq!(
            format!("{f:?}"),
            "FileBytes { len: 3, sha256: \"ba7816bf8f01cfea\" }"
        );
    }

    #[test]
    fn ram_bytes_of_default_is_128_mib() {
        assert_eq!(ram_bytes(128), 134_217_728);
    }
}
