//! `qmpsim man` and `qmpsim completions SHELL`: the man pages and shell completion
//! scripts, generated from the same definitions as `--help`.
//!
//! The subcommands, their flags and help come from the clap declarations in
//! [`super::commands`] (clap_mangen, clap_complete). The VM options section of
//! qmpsim(1) comes from the parser's own option table, so neither can drift from
//! what the program accepts. Nothing here touches files except
//! [`write_man_pages`], which writes where it is told.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use roff::{bold, italic, roman, Roff};

use super::commands;
use super::raw::{options, Group, OptDef};

/// Section of the manual the pages go in (user commands).
pub const MAN_SECTION: &str = "1";

/// Shells `qmpsim completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// bash (bash-completion).
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

impl CompletionShell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// Writes the completion script for `shell`.
pub fn write_completions(shell: CompletionShell, out: &mut dyn Write) {
    let mut cmd = commands::command();
    clap_complete::generate(shell.generator(), &mut cmd, "qmpsim", out);
}

/// The clap tree with every subcommand named as its man page is (`qmpsim-trace-dump`).
fn man_tree() -> clap::Command {
    let mut cmd = commands::command();
    cmd.build();
    cmd
}

/// Writes qmpsim(1): how to run a VM, every VM option from the option table,
/// the subcommands, and where their own pages are.
pub fn write_main_page(out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(man_tree()).section(MAN_SECTION);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    synopsis().to_writer(&mut page)?;
    description().to_writer(&mut page)?;
    // `qmpsim -h`, `-help` and `-version` go to `run`'s parser, which lists them in
    // VM OPTIONS: clap's own --help/--version of the top level are never reached.
    vm_options().to_writer(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    man.render_version_section(&mut page)?;
    out.write_all(&once_preamble(&page))
}

/// Every roff piece starts with the same two-line preamble (the apostrophe
/// string); a page needs it once.
fn once_preamble(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut lines: Vec<&str> = Vec::new();
    let mut seen = 0;
    for line in text.lines() {
        let preamble = line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq");
        if preamble {
            seen += 1;
            if seen > 2 {
                continue;
            }
        }
        lines.push(line);
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

/// Writes qmpsim(1) and one page per subcommand (qmpsim-replay(1),
/// qmpsim-trace-dump(1), ...) into `dir`; returns the files written, in order.
pub fn write_man_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let cmd = man_tree();
    let main = dir.join(format!("qmpsim.{MAN_SECTION}"));
    let mut file = io::BufWriter::new(std::fs::File::create(&main)?);
    write_main_page(&mut file)?;
    file.flush()?;
    let mut written = vec![main];
    for sub in cmd.get_subcommands() {
        subcommand_pages(sub, dir, &mut written)?;
    }
    Ok(written)
}

fn subcommand_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> io::Result<()> {
    let path = clap_mangen::Man::new(cmd.clone())
        .section(MAN_SECTION)
        .generate_to(dir)?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        subcommand_pages(sub, dir, written)?;
    }
    Ok(())
}

fn synopsis() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([
        bold("qmpsim"),
        roman(" ["),
        bold("run"),
        roman("] ["),
        italic("VM options"),
        roman("]"),
    ]);
    roff.control("br", [] as [&str; 0]);
    roff.text([
        bold("qmpsim"),
        roman(" "),
        italic("SUBCOMMAND"),
        roman(" ..."),
    ]);
    roff
}

fn description() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    roff.text([roman(
        "qmpsim is a deterministic stand-in for a QEMU 0.14 virtual machine as seen \
         through its QMP monitor. Management software, QMP client libraries and test \
         suites connect to it exactly as they would to qemu-system-x86_64 -qmp; the \
         same client script gets the same bytes on every run.",
    )]);
    roff.control("PP", [] as [&str; 0]);
    roff.text([
        bold("qmpsim run"),
        roman(
            " takes QEMU's own options; a first argument that starts with a dash means \
             run, so qmpsim replaces qemu-system-x86_64 on a command line. For example:",
        ),
    ]);
    roff.control("PP", [] as [&str; 0]);
    roff.control("nf", [] as [&str; 0]);
    roff.text([roman(
        "qmpsim -qmp unix:/tmp/q.sock,server,nowait -name demo -S -record demo.qmptrace",
    )]);
    roff.control("fi", [] as [&str; 0]);
    roff
}

/// The options qmpsim acts on (not the accepted-and-ignored ones), by group in
/// [`Group::ALL`] order, groups without any left out.
fn parsed_by_group() -> impl Iterator<Item = (Group, Vec<&'static OptDef>)> {
    Group::ALL.into_iter().filter_map(|group| {
        let parsed: Vec<&'static OptDef> = options()
            .filter(|o| o.group == group && !o.is_ignored())
            .collect();
        (!parsed.is_empty()).then_some((group, parsed))
    })
}

/// VM OPTIONS: every entry of the option table ([`super::raw::options`]), by
/// group in the table's order, with its value name and help; then the ones
/// accepted and ignored.
fn vm_options() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["VM OPTIONS"]);
    for (group, parsed) in parsed_by_group() {
        roff.control("SS", [group.title()]);
        for opt in parsed {
            option_item(&mut roff, opt);
        }
    }
    roff.control("SS", ["Accepted and ignored"]);
    roff.text([roman(
        "These QEMU 0.14 options are accepted and change nothing QMP shows.",
    )]);
    for opt in options().filter(|o| o.is_ignored()) {
        option_item(&mut roff, opt);
    }
    roff
}

/// The line of docs/options.md after which the page is [`options_markdown`].
pub const OPTIONS_PAGE_MARKER: &str =
    "<!-- Generated from the option table (src/cli/raw/table.rs) below this line. -->";

/// The QEMU options as Markdown tables, one per group, then the ones accepted and
/// ignored: the generated part of the book's options page.
pub fn options_markdown() -> String {
    let mut md = String::new();
    for (group, parsed) in parsed_by_group() {
        md.push_str(&format!(
            "\n## {}\n\n| option | meaning |\n|---|---|\n",
            group.title()
        ));
        for opt in parsed {
            md.push_str(&markdown_row(opt));
        }
    }
    md.push_str(
        "\n## Accepted and ignored\n\nThese QEMU 0.14 options are accepted and change \
         nothing QMP shows.\n\n| option | meaning in QEMU |\n|---|---|\n",
    );
    for opt in options().filter(|o| o.is_ignored()) {
        md.push_str(&markdown_row(opt));
    }
    md
}

fn markdown_row(opt: &OptDef) -> String {
    let head = match opt.value_name() {
        Some(value) => format!("-{} {value}", opt.name),
        None => format!("-{}", opt.name),
    };
    let help = opt.help.replace('\n', " ");
    format!(
        "| `{}` | {} |\n",
        head.replace('|', "\\|"),
        help.replace('|', "\\|")
    )
}

fn option_item(roff: &mut Roff, opt: &OptDef) {
    let mut head = vec![bold(format!("-{}", opt.name))];
    if let Some(value) = opt.value_name() {
        head.push(roman(" "));
        head.push(italic(value));
    }
    roff.control("TP", [] as [&str; 0]);
    roff.text(head);
    roff.text([roman(opt.help.replace('\n', " "))]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main_page() -> String {
        let mut out = Vec::new();
        write_main_page(&mut out).expect("writes to memory");
        String::from_utf8(out).expect("roff is text")
    }

    fn completions(shell: CompletionShell) -> String {
        let mut out = Vec::new();
        write_completions(shell, &mut out);
        String::from_utf8(out).expect("scripts are text")
    }

    #[test]
    fn main_page_lists_every_option_of_the_table() {
        let page = main_page();
        let missing: Vec<&str> = options()
            .map(|o| o.name)
            .filter(|name| !page.contains(&format!("\\fB\\-{}\\fR", name.replace('-', "\\-"))))
            .collect();
        assert_eq!(missing, Vec::<&str>::new());
    }

    #[test]
    fn main_page_gives_an_options_value_name_and_help() {
        let page = main_page();
        let qmp = options()
            .find(|o| o.name == "qmp")
            .expect("-qmp is in the table");
        let help = qmp.help.replace('\n', " ").replace('-', "\\-");
        let item = format!(
            ".TP\n\\fB\\-qmp\\fR \\fI{}\\fR\n{help}\n",
            qmp.value_name().expect("-qmp takes a value")
        );
        assert!(page.contains(&item), "{item} not in\n{page}");
    }

    /// docs/options.md ends with [`options_markdown`]; `QMPSIM_UPDATE_DOCS=1 cargo
    /// test --lib options_page` rewrites that part after the table changed.
    #[test]
    fn options_page_of_the_book_is_generated_from_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/options.md");
        let page = std::fs::read_to_string(path).expect("docs/options.md is readable");
        let (intro, generated) = page
            .split_once(OPTIONS_PAGE_MARKER)
            .expect("docs/options.md has the generated-part marker");
        let expected = options_markdown();
        if generated.trim_start_matches('\n') != expected.trim_start_matches('\n')
            && std::env::var_os("QMPSIM_UPDATE_DOCS").is_some()
        {
            std::fs::write(path, format!("{intro}{OPTIONS_PAGE_MARKER}\n{expected}"))
                .expect("docs/options.md is writable");
            return;
        }
        assert!(
            generated.trim_start_matches('\n') == expected.trim_start_matches('\n'),
            "docs/options.md is out of date with the option table: run \
             QMPSIM_UPDATE_DOCS=1 cargo test --lib options_page"
        );
    }

    #[test]
    fn main_page_names_the_subcommands_and_their_pages() {
        let page = main_page();
        assert!(page.contains("\n.TH qmpsim 1 "), "{page}");
        assert!(page.contains("qmpsim\\-replay(1)"), "{page}");
        assert!(page.contains("qmpsim\\-trace(1)"), "{page}");
        assert_eq!(page.matches(".el .ds Aq").count(), 1, "one preamble");
    }

    #[test]
    fn write_man_pages_writes_one_page_per_subcommand() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = write_man_pages(dir.path()).expect("writes");
        let names: Vec<String> = written
            .iter()
            .map(|p| {
                p.file_name()
                    .expect("a file")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert!(names.starts_with(&["qmpsim.1".to_owned()]), "{names:?}");
        assert!(
            names.contains(&"qmpsim-trace-dump.1".to_owned()),
            "{names:?}"
        );
        let replay = std::fs::read_to_string(dir.path().join("qmpsim-replay.1")).expect("read");
        assert!(replay.contains(".SH SYNOPSIS"), "{replay}");
    }

    #[test]
    fn bash_completions_complete_the_subcommands() {
        let script = completions(CompletionShell::Bash);
        assert!(script.contains("complete -F _qmpsim"), "{script}");
        assert!(
            script.contains("qmpsim__subcmd__trace__subcmd__dump"),
            "{script}"
        );
    }

    #[test]
    fn zsh_completions_describe_the_subcommands() {
        let script = completions(CompletionShell::Zsh);
        assert!(script.starts_with("#compdef qmpsim"), "{script}");
        assert!(script.contains("'replay:Replay traces"), "{script}");
    }

    #[test]
    fn fish_completions_complete_the_subcommands() {
        let script = completions(CompletionShell::Fish);
        assert!(script.contains("complete -c qmpsim"), "{script}");
        assert!(script.contains("-a \"replay\""), "{script}");
    }
}
