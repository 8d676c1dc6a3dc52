//! Tidy rules for limits: every `pub const NAME_MAX` in `src/` is indexed in
//! `src/limits.rs`, and every indexed limit has an edge test.
//!
//! An edge test is found mechanically: the limit's name must appear in test code,
//! that is a file under `tests/` or `fuzz/`, or the part of a `src/` file from its
//! first `#[cfg(test)]` on. A test that names the limit is one that builds input at
//! or past it.

use std::path::Path;

use super::rust_files;

/// The names of the `pub const NAME_MAX` items `text` defines.
fn limit_definitions(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub const "))
        .filter_map(|rest| rest.split(':').next())
        .filter(|name| name.ends_with("_MAX"))
        .collect()
}

/// The `NAME_MAX` words of `text`'s code lines (comments and docs left out).
fn indexed_limits(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.ends_with("_MAX") && w.len() > "_MAX".len())
        .collect()
}

/// The test code of a `src/` file: everything from its first `#[cfg(test)]` on.
fn test_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or("", |at| &text[at..])
}

/// Whether `code` names `name` as a whole word.
fn names(code: &str, name: &str) -> bool {
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("source files are readable")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn indexed() -> Vec<String> {
    let text = read(&root().join("src/limits.rs"));
    let mut names: Vec<String> = indexed_limits(&text)
        .into_iter()
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn tidy_every_limit_is_indexed_in_limits_rs() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let indexed = indexed();
    let mut missing = Vec::new();
    for file in &files {
        let text = read(file);
        for name in limit_definitions(&text) {
            if !indexed.iter().any(|n| n == name) {
                missing.push(format!("{name} ({})", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "limits not re-exported by src/limits.rs: {missing:?}"
    );
}

#[test]
fn tidy_every_limit_has_an_edge_test() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut code: String = files
        .iter()
        .map(|f| test_code(&read(f)).to_owned())
        .collect();
    let mut test_files = Vec::new();
    rust_files(&root().join("tests"), &mut test_files);
    rust_files(&root().join("fuzz"), &mut test_files);
    code.extend(test_files.iter().map(|f| read(f)));
    let untested: Vec<String> = indexed()
        .into_iter()
        .filter(|name| !names(&code, name))
        .collect();
    assert!(
        untested.is_empty(),
        "limits no test names (add a test at and past the edge): {untested:?}"
    );
}

#[test]
fn tidy_limit_rules_read_definitions_index_and_tests() {
    let source = "/// Doc naming A_MAX.\npub const B_BYTES_MAX: usize = 4;\npub const C: u8 = 1;\n\
                  fn f() {}\n#[cfg(test)]\nmod tests { fn t() { let _ = B_BYTES_MAX + 1; } }\n";
    let index = "//! | [`OLD_MAX`] |\npub use crate::x::{B_BYTES_MAX, D_MAX};\n";
    assert_eq!(
        (
            limit_definitions(source),
            indexed_limits(index),
            names(test_code(source), "B_BYTES_MAX"),
            names(test_code(source), "B_BYTES"),
        ),
        (
            vec!["B_BYTES_MAX"],
            vec!["B_BYTES_MAX", "D_MAX"],
            true,
            false
        )
    );
}
