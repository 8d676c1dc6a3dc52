//! `qmpsim explore`: the event-interleaving explorer. A client command runs
//! first against a clean VM, whose trace tells how many gaps its session has
//! ([`gaps`]); then once per placement, a (gap, event) pair, against a fresh VM
//! started with `-x-explore-gap GAP,event=EVENT` (see
//! `crate::machine::placement`), each run recorded ([`run`]). Placements are
//! enumerated gap by gap; past `--budget` they are sampled with a seeded
//! shuffle, so the same seed runs the same placements. Every placement that
//! made the client fail (an exit status other than 0, or a timeout) is
//! reported with its trace and a one-line command that runs it again.
//!
//! `qmpsim conformance` ([`conformance`]) shares the runner and the client
//! contract, and puts a relay ([`relay`]) between client and VM.
//!
//! This is edge code (processes, files, the wall clock for timeouts); the
//! placement itself is deterministic and recorded in each trace's header.

pub mod conformance;
pub mod gaps;
pub mod relay;
pub mod run;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::commands::{ClientRuns, ExploreArgs};
use crate::machine::placement::{happening_names, Happening};
use gaps::Gap;
use run::{ClientEnd, RunSpec};

/// The events placed when `--events` is not given: those any VM can show.
pub const EVENTS_DEFAULT: [Happening; 4] = [
    Happening::Stop,
    Happening::Reset,
    Happening::Powerdown,
    Happening::RtcChange,
];
/// Most runs without `--budget`.
pub const BUDGET_DEFAULT: u32 = 64;
/// Exit status when a client failed somewhere (or the command could not run).
pub const EXIT_FOUND: i32 = 1;
/// Exit status for a usage error.
pub const EXIT_USAGE: i32 = 2;

/// The user's command line after `--`, split into VM options and the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// QEMU-style options for every VM.
    pub vm: Vec<OsString>,
    /// The client command.
    pub client: Vec<OsString>,
}

impl Split {
    /// A command line for a shell: `words` (the qmpsim part, ending in `--`),
    /// then the VM options and their `--` if any, then the client.
    pub fn command_line(&self, mut words: Vec<String>) -> String {
        if !self.vm.is_empty() {
            words.extend(self.vm.iter().map(|a| a.to_string_lossy().into_owned()));
            words.push("--".into());
        }
        words.extend(self.client.iter().map(|a| a.to_string_lossy().into_owned()));
        shell_words::join(words)
    }
}

/// Splits `[VM options --] CLIENT...`: a second `--` ends the VM options when
/// what precedes it starts with `-` (or is empty); otherwise everything is the
/// client, whose own arguments may contain `--`.
pub fn split_rest(rest: &[OsString]) -> Split {
    let second = rest.iter().position(|a| a == "--");
    let starts_with_option = rest
        .first()
        .is_some_and(|a| a.to_string_lossy().starts_with('-'));
    match second {
        Some(at) if at == 0 || starts_with_option => Split {
            vm: rest[..at].to_vec(),
            client: rest[at + 1..].to_vec(),
        },
        _ => Split {
            vm: Vec::new(),
            client: rest.to_vec(),
        },
    }
}

/// One placement: an event at a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    /// The gap number.
    pub gap: u64,
    /// The event.
    pub event: Happening,
}

/// The placements to run: every (gap, event) pair in gap order, or `budget` of
/// them drawn with a shuffle seeded by `seed` (then put back in gap order).
pub fn choose(gaps: &[u64], events: &[Happening], budget: usize, seed: u64) -> Vec<Placement> {
    let mut all: Vec<Placement> = gaps
        .iter()
        .flat_map(|&gap| events.iter().map(move |&event| Placement { gap, event }))
        .collect();
    if all.len() <= budget {
        return all;
    }
    let mut rng = crate::machine::rng::Rng::new(seed);
    // Fisher-Yates, drawing from the machine's own seeded generator.
    for i in (1..all.len()).rev() {
        let top = u64::try_from(i).expect("placements fit in u64");
        let j = usize::try_from(rng.range(0, top)).expect("at most i");
        all.swap(i, j);
    }
    all.truncate(budget);
    all.sort();
    all
}

/// One failing placement, for the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The run number (from 1).
    pub run: usize,
    /// What was placed.
    pub placement: Placement,
    /// Where the gap lies.
    pub label: String,
    /// How the client ended.
    pub end: ClientEnd,
    /// The last line the client printed.
    pub said: Option<String>,
    /// The run's trace.
    pub trace: PathBuf,
}

/// `qmpsim explore`. Returns the exit status.
pub fn explore_cli(args: &ExploreArgs) -> i32 {
    run_tool("explore", parse_events(&args.events), &args.runs, |setup| {
        explore(args, setup)
    })
}

fn parse_events(names: &[String]) -> Result<Vec<Happening>, String> {
    if names.is_empty() {
        return Ok(EVENTS_DEFAULT.to_vec());
    }
    let mut events = Vec::new();
    for name in names {
        let h = Happening::parse(name).ok_or_else(|| {
            format!(
                "qmpsim explore: unknown event '{name}' (one of {})",
                happening_names()
            )
        })?;
        if !events.contains(&h) {
            events.push(h);
        }
    }
    Ok(events)
}

/// The folder for sockets, traces and logs: `--out`, or a fresh one in the
/// temporary folder.
pub fn output_dir(out: Option<&Path>, what: &str) -> Result<PathBuf, String> {
    let dir = match out {
        Some(dir) => dir.to_owned(),
        None => std::env::temp_dir().join(format!("qmpsim-{what}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("qmpsim {what}: could not create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The qmpsim binary to start VMs with: this one.
pub fn qmpsim_binary() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("qmpsim: cannot find its own binary: {e}"))
}

/// What `explore` and `conformance` start from: their selection, the VM
/// options and client command, and the output folder.
#[derive(Debug)]
pub struct Setup<T> {
    /// The events or behaviours to try.
    pub selected: T,
    /// `[VM OPTIONS --] CLIENT...`.
    pub split: Split,
    /// `--out`, or a fresh folder.
    pub dir: PathBuf,
}

/// Runs tool `what` (`explore`, `conformance`) with `run`, once its setup is
/// made: a refused selection or a missing client command is a usage error
/// (said on stderr, [`EXIT_USAGE`]); an error `run` gives is said on stderr
/// ([`EXIT_FOUND`]). Returns the exit status.
pub fn run_tool<T>(
    what: &str,
    selected: Result<T, String>,
    runs: &ClientRuns,
    run: impl FnOnce(Setup<T>) -> Result<i32, String>,
) -> i32 {
    let outcome = match setup(what, selected, runs) {
        Ok(Ok(setup)) => run(setup),
        Ok(Err(code)) => Ok(code),
        Err(message) => Err(message),
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("{message}");
        EXIT_FOUND
    })
}

/// Checks what tool `what` was given: a refused selection or a missing client
/// command is a usage error (said on stderr; `Ok(Err(EXIT_USAGE))`).
fn setup<T>(
    what: &str,
    selected: Result<T, String>,
    runs: &ClientRuns,
) -> Result<Result<Setup<T>, i32>, String> {
    let selected = match selected {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("{message}");
            return Ok(Err(EXIT_USAGE));
        }
    };
    let split = split_rest(&runs.rest);
    if split.client.is_empty() {
        eprintln!("qmpsim {what}: no client command after --");
        return Ok(Err(EXIT_USAGE));
    }
    let dir = output_dir(runs.out.as_deref(), what)?;
    Ok(Ok(Setup {
        selected,
        split,
        dir,
    }))
}

fn explore(args: &ExploreArgs, setup: Setup<Vec<Happening>>) -> Result<i32, String> {
    let Setup {
        selected: events,
        split,
        dir,
    } = setup;
    let timeout = Duration::from_secs_f64(args.timeout);
    let base = RunSpec {
        qmpsim: qmpsim_binary()?,
        vm_args: split.vm.clone(),
        client: split.client.clone(),
        socket: dir.join("monitor.sock"),
        trace: dir.join("clean.qmptrace"),
        client_log: dir.join("clean.log"),
        vm_log: dir.join("clean.vm.log"),
        timeout,
        relay: None,
    };
    let clean = run::run_once(&base).map_err(|e| e.to_string())?;
    if !clean.passed() {
        println!(
            "qmpsim explore: the client failed without any placed event ({}); nothing explored\n  \
             client said: {}\n  trace:       {}",
            clean.describe(timeout),
            run::last_line(&base.client_log).unwrap_or_default(),
            base.trace.display()
        );
        return Ok(EXIT_FOUND);
    }
    let gaps = read_gaps(&base.trace)?;
    let numbers: Vec<u64> = gaps
        .iter()
        .map(|g| g.index)
        .filter(|g| args.gap.is_none_or(|only| only == *g))
        .collect();
    let budget = usize::try_from(args.budget).unwrap_or(usize::MAX);
    let placements = choose(&numbers, &events, budget, args.seed);
    println!(
        "qmpsim explore: the clean run passed with {}; {} of {} placement{} to run (events {})",
        count(gaps.len(), "gap"),
        placements.len(),
        numbers.len() * events.len(),
        plural(numbers.len() * events.len()),
        events
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let findings = run_placements(&base, &dir, &gaps, &placements)?;
    report(&findings, placements.len(), &split, timeout);
    Ok(if findings.is_empty() { 0 } else { EXIT_FOUND })
}

fn read_gaps(trace: &Path) -> Result<Vec<Gap>, String> {
    let file = std::fs::File::open(trace)
        .map_err(|e| format!("qmpsim explore: cannot read {}: {e}", trace.display()))?;
    gaps::gaps_of_trace(std::io::BufReader::new(file))
        .map_err(|e| format!("qmpsim explore: {}: {e}", trace.display()))
}

fn run_placements(
    base: &RunSpec,
    dir: &Path,
    gaps: &[Gap],
    placements: &[Placement],
) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::new();
    for (n, placement) in placements.iter().enumerate() {
        let run = n + 1;
        let name = format!("run-{run}-gap{}-{}", placement.gap, placement.event.name());
        let mut spec = base.clone();
        spec.vm_args.push("-x-explore-gap".into());
        spec.vm_args
            .push(format!("{},event={}", placement.gap, placement.event.name()).into());
        spec.trace = dir.join(format!("{name}.qmptrace"));
        spec.client_log = dir.join(format!("{name}.log"));
        spec.vm_log = dir.join(format!("{name}.vm.log"));
        let end = run::run_once(&spec).map_err(|e| e.to_string())?;
        let label = gaps
            .iter()
            .find(|g| g.index == placement.gap)
            .map_or_else(String::new, |g| g.label.clone());
        println!(
            "run {run}/{}: {} at gap {}, {label}: {}",
            placements.len(),
            placement.event.name(),
            placement.gap,
            end.describe(spec.timeout)
        );
        if end.passed() {
            for path in [&spec.trace, &spec.client_log, &spec.vm_log] {
                let _ = std::fs::remove_file(path);
            }
        } else {
            findings.push(Finding {
                run,
                placement: *placement,
                label,
                said: run::last_line(&spec.client_log),
                end,
                trace: spec.trace,
            });
        }
    }
    Ok(findings)
}

fn report(findings: &[Finding], runs: usize, split: &Split, timeout: Duration) {
    let Some(first) = findings.first() else {
        println!(
            "qmpsim explore: no placement made the client fail ({})",
            count(runs, "run")
        );
        return;
    };
    println!(
        "qmpsim explore: {} of {} made the client fail (the first at run {}):",
        findings.len(),
        count(runs, "placement"),
        first.run
    );
    for f in findings {
        println!(
            "  {} at gap {}, {}: {}",
            f.placement.event.name(),
            f.placement.gap,
            f.label,
            f.end.describe(timeout)
        );
        if let Some(said) = &f.said {
            println!("    client said: {said}");
        }
        println!("    trace:       {}", f.trace.display());
        println!(
            "    reproduce:   {}",
            reproduce_line(f.placement, split, timeout)
        );
    }
}

/// The command that runs one placement again.
pub fn reproduce_line(placement: Placement, split: &Split, timeout: Duration) -> String {
    let mut words: Vec<String> = vec![
        "qmpsim".into(),
        "explore".into(),
        "--gap".into(),
        placement.gap.to_string(),
        "--events".into(),
        placement.event.name().into(),
    ];
    if timeout != Duration::from_secs_f64(crate::cli::commands::EXPLORE_TIMEOUT_S_DEFAULT) {
        words.push("--timeout".into());
        words.push(timeout.as_secs_f64().to_string());
    }
    words.push("--".into());
    split.command_line(words)
}

/// "1 gap", "3 gaps".
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", plural(n))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::os;

    #[test]
    fn split_rest_with_options_then_dashes_separates_vm_and_client() {
        assert_eq!(
            split_rest(&os(&["-S", "-name", "x", "--", "py", "c.py"])),
            Split {
                vm: os(&["-S", "-name", "x"]),
                client: os(&["py", "c.py"])
            }
        );
    }

    #[test]
    fn split_rest_without_second_dashes_is_all_client() {
        assert_eq!(
            split_rest(&os(&["py", "c.py", "--", "x"])),
            Split {
                vm: vec![],
                client: os(&["py", "c.py", "--", "x"])
            }
        );
    }

    #[test]
    fn split_rest_with_leading_dashes_has_no_vm_options() {
        assert_eq!(
            split_rest(&os(&["--", "py"])),
            Split {
                vm: vec![],
                client: os(&["py"])
            }
        );
    }

    #[test]
    fn choose_within_budget_takes_all_in_gap_order() {
        let chosen = choose(&[0, 1], &[Happening::Stop, Happening::Reset], 10, 0);
        assert_eq!(
            chosen,
            [
                Placement {
                    gap: 0,
                    event: Happening::Stop
                },
                Placement {
                    gap: 0,
                    event: Happening::Reset
                },
                Placement {
                    gap: 1,
                    event: Happening::Stop
                },
                Placement {
                    gap: 1,
                    event: Happening::Reset
                },
            ]
        );
    }

    /// What `choose` takes with `seed` from a STOP in each of 50 gaps, on a
    /// budget of 7.
    fn stop_sample_past_budget(seed: u64) -> Vec<Placement> {
        let gaps: Vec<u64> = (0..50).collect();
        choose(&gaps, &[Happening::Stop], 7, seed)
    }

    #[test]
    fn choose_past_budget_takes_budget_many() {
        assert_eq!(stop_sample_past_budget(1).len(), 7);
    }

    #[test]
    fn choose_past_budget_same_seed_same_sample() {
        assert_eq!(stop_sample_past_budget(3), stop_sample_past_budget(3));
    }

    #[test]
    fn choose_past_budget_other_seed_other_sample() {
        assert_ne!(stop_sample_past_budget(3), stop_sample_past_budget(4));
    }

    #[test]
    fn reproduce_line_quotes_and_keeps_vm_options() {
        let split = Split {
            vm: os(&["-name", "a b"]),
            client: os(&["python3", "c.py", "{sock}"]),
        };
        assert_eq!(
            reproduce_line(
                Placement {
                    gap: 3,
                    event: Happening::Stop
                },
                &split,
                Duration::from_secs(10)
            ),
            "qmpsim explore --gap 3 --events STOP -- -name 'a b' -- python3 c.py {sock}"
        );
    }

    #[test]
    fn parse_events_unknown_names_the_known_ones() {
        assert!(parse_events(&["BOGUS".to_owned()])
            .unwrap_err()
            .contains("one of STOP, RESUME"));
    }

    #[test]
    fn count_says_one_gap_and_two_gaps() {
        assert_eq!(
            (count(1, "gap"), count(2, "gap")),
            ("1 gap".to_owned(), "2 gaps".to_owned())
        );
    }
}
