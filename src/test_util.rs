//! Helpers the unit tests of several modules share.

use std::ffi::OsString;

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

#[test]
fn repeated_names_each_name_seen_twice_once() {
    assert_eq!(repeated(["b", "a", "b", "c", "a", "b"]), ["a", "b"]);
    assert!(repeated(["a", "b"]).is_empty());
}
