//! Helpers the unit tests of several modules share.

use std::ffi::OsString;

use crate::machine::config::{DriveConfig, ImageInfo, ImageProbe, OptionList};

/// The names that appear more than once in `names`, sorted (empty when each is
/// unique).
pub fn repeated<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    let mut twice: Vec<&str> = names
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    twice.dedup();
    twice
}

/// Writes `bytes` to file `name` in `dir`; returns its path as text.
pub fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Command-line words as the OS gives them.
pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// A drive with `file=FILE`, probed as a 1 GiB unencrypted image of `format`
/// without a backing file.
pub fn probed_drive(file: &str, format: &str) -> DriveConfig {
    DriveConfig {
        opts: option_list(&[("file", file)]),
        probe: found(format, 1 << 30),
    }
}

/// The probe of an unencrypted image of `format` and `size_bytes` without a
/// backing file.
fn found(format: &str, size_bytes: u64) -> Option<ImageProbe> {
    Some(ImageProbe::Found(ImageInfo {
        format: format.to_owned(),
        size_bytes,
        backing_file: None,
        encrypted: false,
    }))
}

/// An option group from literals, in order.
pub fn option_list(pairs: &[(&str, &str)]) -> OptionList {
    OptionList::from_iter(pairs.iter().copied())
}

/// A drive of the options `pairs`, probed as a 1 MiB raw image.
pub fn raw_drive(pairs: &[(&str, &str)]) -> DriveConfig {
    DriveConfig {
        opts: option_list(pairs),
        probe: found("raw", 1 << 20),
    }
}

/// `value` encoded with bincode and decoded again, as a snapshot stores it.
pub fn bincode_round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(value, config).unwrap();
    bincode::serde::decode_from_slice(&bytes, config).unwrap().0
}

#[test]
fn repeated_names_each_name_seen_twice_once() {
    assert_eq!(repeated(["b", "a", "b", "c", "a", "b"]), ["a", "b"]);
    assert!(repeated(["a", "b"]).is_empty());
}
