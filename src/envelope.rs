//! The prefix every binary file and stream of qmpsim opens with, and the sealed
//! envelope built on it.
//!
//! ```text
//! prefix:   magic (8 or 16) | version u32 | body length (u32 or u64)   integers little-endian
//! envelope: prefix (u64 length) | body | sha256(body) (32)
//! ```
//!
//! The snapshot ([`crate::snapshot`]) and the internal-snapshot sidecar
//! (`machine::snapshots`) are envelopes; the migration stream and the trace
//! header start with a prefix of their own magic and a `u32` length. The prefix is
//! checked in one order everywhere: magic, then version (strictly), then the body
//! length against the reader's bound, before any body byte is read or allocated.
//! Each reader turns a [`PrefixError`] or [`OpenError`] into its own error, with
//! its own words. Pure: byte slices only; a leaf module.

use sha2::{Digest, Sha256};

/// Bytes of the sha256 that closes an envelope.
pub const ENVELOPE_HASH_BYTES: usize = 32;

/// One prefix layout: what a reader expects and how long the length field is.
#[derive(Debug, Clone, Copy)]
pub struct Prefix {
    /// The bytes the prefix starts with.
    pub magic: &'static [u8],
    /// The one version this build writes and reads.
    pub version: u32,
    /// Bytes of the length field: 4 or 8.
    pub length_bytes: usize,
    /// Largest body length a reader accepts.
    pub body_max: u64,
}

/// Why a prefix is refused, in the order it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// The prefix does not start with the magic.
    BadMagic,
    /// The version is not [`Prefix::version`].
    UnsupportedVersion {
        /// The version read.
        found: u32,
        /// [`Prefix::version`].
        expected: u32,
    },
    /// The body length is past [`Prefix::body_max`].
    TooLarge {
        /// The body length read.
        len: u64,
    },
}

/// Why an envelope does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Fewer bytes than a whole prefix.
    Short {
        /// Bytes present.
        available: u64,
    },
    /// The prefix is refused.
    Prefix(PrefixError),
    /// The byte count is not the one the prefix's length makes.
    WrongLength {
        /// Bytes the envelope requires.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The body's sha256 does not match.
    ChecksumMismatch,
}

impl Prefix {
    /// Bytes in the prefix: magic, version, length.
    pub const fn bytes(&self) -> usize {
        self.magic.len() + 4 + self.length_bytes
    }

    /// Appends the prefix of a body of `len` bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>, len: u64) {
        out.extend_from_slice(self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        match self.length_bytes {
            4 => out.extend_from_slice(
                &u32::try_from(len)
                    .expect("a body within its bound fits the length field")
                    .to_le_bytes(),
            ),
            _ => out.extend_from_slice(&len.to_le_bytes()),
        }
    }

    /// Checks a whole prefix (at least [`Prefix::bytes`] bytes); returns the body
    /// length, bounded by [`Prefix::body_max`].
    pub fn check(&self, prefix: &[u8]) -> Result<u64, PrefixError> {
        let m = self.magic.len();
        if prefix[..m] != *self.magic {
            return Err(PrefixError::BadMagic);
        }
        let version = u32::from_le_bytes(prefix[m..m + 4].try_into().expect("4 version bytes"));
        if version != self.version {
            return Err(PrefixError::UnsupportedVersion {
                found: version,
                expected: self.version,
            });
        }
        let field = &prefix[m + 4..self.bytes()];
        let len = match self.length_bytes {
            4 => u64::from(u32::from_le_bytes(
                field.try_into().expect("4 length bytes"),
            )),
            _ => u64::from_le_bytes(field.try_into().expect("8 length bytes")),
        };
        if len > self.body_max {
            return Err(PrefixError::TooLarge { len });
        }
        Ok(len)
    }

    /// The envelope around `body`: prefix, body, sha256. The caller bounds the
    /// body by [`Prefix::body_max`].
    pub fn seal(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes() + body.len() + ENVELOPE_HASH_BYTES);
        self.write(&mut out, body.len() as u64);
        out.extend_from_slice(body);
        out.extend_from_slice(&Sha256::digest(body));
        out
    }

    /// Checks an envelope's prefix, its length (exactly the bytes present) and
    /// its checksum; returns the body.
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], OpenError> {
        let available = bytes.len() as u64;
        if bytes.len() < self.bytes() {
            return Err(OpenError::Short { available });
        }
        let len = self.check(bytes).map_err(OpenError::Prefix)?;
        let needed = (self.bytes() + ENVELOPE_HASH_BYTES) as u64 + len;
        if available != needed {
            return Err(OpenError::WrongLength { needed, available });
        }
        let body_end = self.bytes() + usize::try_from(len).expect("length bounded by body_max");
        let body = &bytes[self.bytes()..body_end];
        if Sha256::digest(body)[..] != bytes[body_end..] {
            return Err(OpenError::ChecksumMismatch);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDE: Prefix = Prefix {
        magic: b"TESTMAGC",
        version: 3,
        length_bytes: 8,
        body_max: 10,
    };
    const NARROW: Prefix = Prefix {
        magic: b"HEADER--TESTMAGC",
        version: 7,
        length_bytes: 4,
        body_max: 10,
    };

    #[test]
    fn prefix_bytes_count_magic_version_and_length() {
        assert_eq!(WIDE.bytes(), 20);
        assert_eq!(NARROW.bytes(), 24);
    }

    #[test]
    fn sealed_bytes_are_prefix_body_and_sha256() {
        let sealed = WIDE.seal(b"");
        assert_eq!(sealed[..20], *b"TESTMAGC\x03\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(sealed[20..], Sha256::digest(b"")[..]);
        let mut narrow = Vec::new();
        NARROW.write(&mut narrow, 0x0102);
        assert_eq!(narrow[16..], *b"\x07\0\0\0\x02\x01\0\0");
    }

    #[test]
    fn written_prefix_checks_back_to_its_length() {
        for layout in [WIDE, NARROW] {
            let mut out = Vec::new();
            layout.write(&mut out, 10);
            assert_eq!(out.len(), layout.bytes());
            assert_eq!(layout.check(&out), Ok(10));
        }
    }

    #[test]
    fn check_refuses_in_order_magic_version_length() {
        for layout in [WIDE, NARROW] {
            let mut good = Vec::new();
            layout.write(&mut good, 11);
            assert_eq!(layout.check(&good), Err(PrefixError::TooLarge { len: 11 }));
            let mut old = good.clone();
            old[layout.magic.len()] ^= 1;
            assert_eq!(
                layout.check(&old),
                Err(PrefixError::UnsupportedVersion {
                    found: layout.version ^ 1,
                    expected: layout.version
                })
            );
            old[0] ^= 1;
            assert_eq!(layout.check(&old), Err(PrefixError::BadMagic));
        }
    }

    #[test]
    fn sealed_body_opens_and_each_damage_is_named() {
        let sealed = WIDE.seal(b"body");
        assert_eq!(WIDE.open(&sealed), Ok(&b"body"[..]));
        assert_eq!(
            WIDE.open(&sealed[..19]),
            Err(OpenError::Short { available: 19 })
        );
        let needed = sealed.len() as u64;
        assert_eq!(
            WIDE.open(&sealed[..sealed.len() - 1]),
            Err(OpenError::WrongLength {
                needed,
                available: needed - 1
            })
        );
        let mut damaged = sealed.clone();
        damaged[WIDE.bytes()] ^= 1;
        assert_eq!(WIDE.open(&damaged), Err(OpenError::ChecksumMismatch));
        let mut wrong_magic = sealed;
        wrong_magic[0] ^= 1;
        assert_eq!(
            WIDE.open(&wrong_magic),
            Err(OpenError::Prefix(PrefixError::BadMagic))
        );
    }
}
