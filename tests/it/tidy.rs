//! Tidy checks over the source tree (TigerBeetle's tidy idea): the deterministic core
//! must not name anything nondeterministic. Each rule prints the sanctioned
//! replacement.

use std::path::{Path, PathBuf};

mod limits;
mod voice;

/// Folders and files that form the pure core (DESIGN.md, the one rule).
const CORE: &[&str] = &[
    "src/qobject",
    "src/wire",
    "src/qmp",
    "src/machine",
    "src/engine.rs",
    "src/snapshot.rs",
    "src/trace",
    "src/scenario.rs",
    "src/monitor",
];

/// (forbidden text, what to use instead)
const BANNED: &[(&str, &str)] = &[
    ("HashMap", "BTreeMap or IndexMap (order must be explicit)"),
    ("HashSet", "BTreeSet (order must be explicit)"),
    ("std::net", "an Input from src/server"),
    (
        "std::fs",
        "an Effect carried out by src/server, or an Input",
    ),
    ("std::thread", "nothing: the core is single-threaded"),
    ("Instant", "VirtualTime from machine::clock"),
    ("SystemTime", "VirtualTime plus the configured epoch"),
    ("thread_rng", "machine::rng::Rng seeded from the config"),
    ("std::env", "MachineConfig fields set by the CLI"),
];

fn rust_files(root: &Path, out: &mut Vec<PathBuf>) {
    if root.is_file() {
        out.push(root.to_owned());
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Lines of `text` that name a banned item outside comments.
fn violations(text: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (banned, instead) in BANNED {
            if code.contains(banned) {
                found.push((n + 1, *banned, *instead));
            }
        }
    }
    found
}

#[test]
fn tidy_core_names_nothing_nondeterministic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for part in CORE {
        rust_files(&root.join(part), &mut files);
    }
    assert!(
        files.len() >= 10,
        "tidy found too few core files: {files:?}"
    );
    let mut report = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("core source is readable");
        for (line, banned, instead) in violations(&text) {
            report.push_str(&format!(
                "{}:{line}: `{banned}` — use {instead}\n",
                file.display()
            ));
        }
    }
    assert!(report.is_empty(), "nondeterminism in the core:\n{report}");
}

#[test]
fn tidy_detects_a_banned_name() {
    let found = violations("use std::collections::HashMap;\n// HashSet in a comment is fine\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, "HashMap");
}

#[test]
fn tidy_every_source_file_opens_with_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` module doc: {missing:?}"
    );
}

/// (folder, crate paths its code must not name, why): imports point inward.
const LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "src/qobject",
        &[
            "crate::wire",
            "crate::qmp",
            "crate::machine",
            "crate::engine",
        ],
        "the value model is a leaf",
    ),
    (
        "src/machine",
        &[
            "crate::wire",
            "crate::qmp",
            "crate::engine",
            "crate::server",
            "crate::cli",
        ],
        "the model sees only crate::qobject below it",
    ),
    (
        "src/server",
        &["crate::cli"],
        "the command line sits above the server",
    ),
    (
        "src/monitor",
        &["crate::engine", "crate::server", "crate::cli"],
        "the human monitor is a connection kind the engine drives",
    ),
];

/// Known outward imports, each to be moved: (file, crate path).
const LAYER_EXCEPTIONS: &[(&str, &str)] = &[
    // savevm's snapshot table keeps whole engine states.
    ("src/machine/snapshots.rs", "crate::engine"),
];

/// Lines of `text` whose code names one of `banned`.
fn layer_violations<'a>(text: &str, banned: &[&'a str]) -> Vec<(usize, &'a str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        found.extend(
            banned
                .iter()
                .filter(|b| code.contains(*b))
                .map(|b| (n + 1, *b)),
        );
    }
    found
}

#[test]
fn tidy_layers_import_only_inward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = String::new();
    for (folder, banned, why) in LAYERS {
        let mut files = Vec::new();
        rust_files(&root.join(folder), &mut files);
        assert!(!files.is_empty(), "tidy found no files in {folder}");
        for file in &files {
            let text = std::fs::read_to_string(file).expect("source is readable");
            let relative = file.strip_prefix(root).unwrap_or(file);
            let excepted = |name: &str| {
                LAYER_EXCEPTIONS
                    .iter()
                    .any(|(f, n)| relative == Path::new(f) && *n == name)
            };
            for (line, name) in layer_violations(&text, banned)
                .into_iter()
                .filter(|(_, name)| !excepted(name))
            {
                report.push_str(&format!("{}:{line}: `{name}` — {why}\n", file.display()));
            }
        }
    }
    assert!(report.is_empty(), "imports pointing outward:\n{report}");
}

#[test]
fn tidy_detects_an_outward_import() {
    let found = layer_violations(
        "use crate::wire::QDict;\n// crate::wire in a comment is fine\n",
        &["crate::wire"],
    );
    assert_eq!(found, [(1, "crate::wire")]);
}
