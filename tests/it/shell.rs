//! What a shell user meets: `qmpsim man` and `qmpsim completions SHELL` from the
//! built binary.

use std::process::{Command, Output};

fn qmpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qmpsim"))
        .args(args)
        .output()
        .expect("the built binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("text")
}

#[test]
fn man_prints_the_main_page_with_the_vm_options() {
    let out = qmpsim(&["man"]);
    let page = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(page.contains(".SH \"VM OPTIONS\""), "{page}");
    assert!(page.contains("\\fB\\-qmp\\fR"), "{page}");
}

#[test]
fn man_out_writes_every_page_and_lists_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = qmpsim(&["man", "--out", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert_eq!(
        listed.lines().count(),
        std::fs::read_dir(dir.path()).unwrap().count()
    );
    assert!(dir.path().join("qmpsim-replay.1").is_file(), "{listed}");
}

#[test]
fn man_out_to_a_missing_folder_exits_one_with_a_message() {
    let out = qmpsim(&["man", "--out", "/nonexistent-dir/man1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "qmpsim: man: could not write to /nonexistent-dir/man1: No such file or directory\n"
    );
}

#[test]
fn completions_fish_prints_a_script() {
    let out = qmpsim(&["completions", "fish"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("complete -c qmpsim"));
}

#[test]
fn completions_without_a_shell_is_a_usage_error() {
    let out = qmpsim(&["completions"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage: qmpsim completions <SHELL>"));
}

#[test]
fn completions_help_exits_zero() {
    let out = qmpsim(&["completions", "-h"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("[possible values: bash, zsh, fish]"));
}
