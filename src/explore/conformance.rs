//! `qmpsim conformance`: a client run once per *behaviour* that a QMP server
//! may legally show, each against a fresh recorded VM behind the relay
//! ([`super::relay`]), and a table of which behaviours the client survives,
//! also as JUnit XML and JSON. A behaviour is VM options (an event placed at
//! every gap, a stopped guest, many devices), a shaping of the stream by the
//! relay (other key orders, split writes, more capabilities, errors without
//! an id), or both. Edge code: processes, sockets, files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::relay::Shaping;
use super::run::{self, ClientEnd, RunSpec};
use super::{count, qmpsim_binary, run_tool, Setup, Split, EXIT_FOUND};
use crate::cli::commands::ConformanceArgs;

/// NICs the `large-replies` VM adds.
pub const LARGE_NICS: usize = 20;
/// Drives (without a medium) the `large-replies` VM adds.
pub const LARGE_DRIVES: usize = 64;

/// One legal server behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Its name, for the table and `--only`.
    pub name: &'static str,
    /// What the client sees, for people.
    pub description: &'static str,
    /// VM options it adds.
    pub vm: VmPart,
    /// How the relay shapes the stream.
    pub shaping: Shaping,
}

/// The VM side of a behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmPart {
    /// Nothing added.
    Plain,
    /// These options.
    Args(&'static [&'static str]),
    /// [`LARGE_NICS`] NICs and [`LARGE_DRIVES`] drives.
    ManyDevices,
}

const PLAIN: Shaping = Shaping {
    reverse_keys: false,
    extra_capability: false,
    split_bytes: false,
    bad_input_before_requests: false,
};

/// The matrix, in the order the table lists it.
pub const BEHAVIOURS: &[Behaviour] = &[
    Behaviour {
        name: "baseline",
        description: "the VM as it is, nothing changed",
        vm: VmPart::Plain,
        shaping: PLAIN,
    },
    Behaviour {
        name: "event-before-every-reply",
        description: "an event (RTC_CHANGE) arrives before every reply, \
                      qmp_capabilities' included",
        vm: VmPart::Args(&["-x-explore-gap", "every,event=RTC_CHANGE"]),
        shaping: PLAIN,
    },
    Behaviour {
        name: "event-after-every-reply",
        description: "an event (RTC_CHANGE) arrives right after every reply, \
                      between it and the next request",
        vm: VmPart::Args(&["-x-explore-gap", "every,event=RTC_CHANGE,when=after"]),
        shaping: PLAIN,
    },
    Behaviour {
        name: "ids-echoed",
        description: "the id of every request comes back as 0.14 re-serializes it, \
                      whatever its JSON type (the table notes the types the client used)",
        vm: VmPart::Plain,
        shaping: PLAIN,
    },
    Behaviour {
        name: "other-key-order",
        description: "every object of every message has its keys in the reverse order",
        vm: VmPart::Plain,
        shaping: Shaping {
            reverse_keys: true,
            ..PLAIN
        },
    },
    Behaviour {
        name: "error-without-id",
        description: "an error without an id (0.14's answer to input it cannot use, \
                      here `[]` added to the stream) arrives before every reply after \
                      the first",
        vm: VmPart::Plain,
        shaping: Shaping {
            bad_input_before_requests: true,
            ..PLAIN
        },
    },
    Behaviour {
        name: "large-replies",
        description: "the VM has 20 more NICs and 64 more drives: query-pci answers \
                      with over 10 KiB, query-block with over 5 KiB",
        vm: VmPart::ManyDevices,
        shaping: PLAIN,
    },
    Behaviour {
        name: "split-replies",
        description: "every message arrives one byte per write, with a pause after \
                      the first byte",
        vm: VmPart::Plain,
        shaping: Shaping {
            split_bytes: true,
            ..PLAIN
        },
    },
    Behaviour {
        name: "greeting-extra-capabilities",
        description: "the greeting announces a capability the client does not know",
        vm: VmPart::Plain,
        shaping: Shaping {
            extra_capability: true,
            ..PLAIN
        },
    },
    Behaviour {
        name: "guest-stopped",
        description: "the VM stopped before the client connected (STOP before the \
                      greeting): the guest completes nothing, device_del included, \
                      until a cont",
        vm: VmPart::Args(&["-x-explore-gap", "0,event=STOP"]),
        shaping: PLAIN,
    },
];

impl Behaviour {
    /// The VM options it adds.
    pub fn vm_args(&self) -> Vec<String> {
        match self.vm {
            VmPart::Plain => Vec::new(),
            VmPart::Args(args) => args.iter().map(|a| (*a).to_owned()).collect(),
            VmPart::ManyDevices => {
                let nics = (1..=LARGE_NICS)
                    .flat_map(|i| ["-device".to_owned(), format!("e1000,id=extra-nic{i}")]);
                let drives = (1..=LARGE_DRIVES)
                    .flat_map(|i| ["-drive".to_owned(), format!("if=none,id=extra-drive{i}")]);
                nics.chain(drives).collect()
            }
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The behaviour's name.
    pub behaviour: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Whether the client survived it.
    pub passed: bool,
    /// "passed", "exit status 1", "timed out after 10 s".
    pub result: String,
    /// The last line the client printed.
    pub client_said: Option<String>,
    /// The JSON types of the ids the client used.
    pub id_types: Vec<&'static str>,
    /// The run's trace.
    pub trace: PathBuf,
    /// The command that runs this behaviour alone.
    pub reproduce: String,
}

/// `qmpsim conformance`. Returns the exit status.
pub fn conformance_cli(args: &ConformanceArgs) -> i32 {
    run_tool("conformance", select(&args.only), &args.runs, |setup| {
        conformance(args, setup)
    })
}

fn select(only: &[String]) -> Result<Vec<&'static Behaviour>, String> {
    if only.is_empty() {
        return Ok(BEHAVIOURS.iter().collect());
    }
    only.iter()
        .map(|name| {
            BEHAVIOURS.iter().find(|b| b.name == name).ok_or_else(|| {
                let names: Vec<&str> = BEHAVIOURS.iter().map(|b| b.name).collect();
                format!(
                    "qmpsim conformance: unknown behaviour '{name}' (one of {})",
                    names.join(", ")
                )
            })
        })
        .collect()
}

fn conformance(
    args: &ConformanceArgs,
    setup: Setup<Vec<&'static Behaviour>>,
) -> Result<i32, String> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let qmpsim = qmpsim_binary()?;
    let mut rows = Vec::new();
    for behaviour in setup.selected {
        rows.push(run_behaviour(
            behaviour,
            &qmpsim,
            &setup.dir,
            &setup.split,
            timeout,
        )?);
    }
    print_table(&rows);
    if let Some(path) = &args.junit {
        write_file(path, &junit(&rows)?)?;
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        write_file(path, &format!("{text}\n"))?;
    }
    Ok(if rows.iter().all(|r| r.passed) {
        0
    } else {
        EXIT_FOUND
    })
}

fn run_behaviour(
    behaviour: &'static Behaviour,
    qmpsim: &Path,
    dir: &Path,
    split: &Split,
    timeout: Duration,
) -> Result<Row, String> {
    let mut vm_args = split.vm.clone();
    vm_args.extend(behaviour.vm_args().into_iter().map(Into::into));
    let spec = RunSpec {
        qmpsim: qmpsim.to_owned(),
        vm_args,
        client: split.client.clone(),
        socket: dir.join("vm.sock"),
        trace: dir.join(format!("{}.qmptrace", behaviour.name)),
        client_log: dir.join(format!("{}.log", behaviour.name)),
        vm_log: dir.join(format!("{}.vm.log", behaviour.name)),
        timeout,
        relay: Some((behaviour.shaping, dir.join("monitor.sock"))),
    };
    let outcome = run::run_full(&spec).map_err(|e| e.to_string())?;
    Ok(Row {
        behaviour: behaviour.name,
        description: behaviour.description,
        passed: outcome.end.passed(),
        result: outcome.end.describe(timeout),
        client_said: match outcome.end {
            ClientEnd::Passed => None,
            _ => run::last_line(&spec.client_log),
        },
        id_types: outcome.seen.map(|s| s.id_types).unwrap_or_default(),
        trace: spec.trace,
        reproduce: reproduce_line(behaviour.name, split),
    })
}

/// The command that runs one behaviour again.
pub fn reproduce_line(name: &str, split: &Split) -> String {
    split.command_line(vec![
        "qmpsim".into(),
        "conformance".into(),
        "--only".into(),
        name.into(),
        "--".into(),
    ])
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.behaviour.len()).max().unwrap_or(0);
    println!("{:width$}  result", "behaviour");
    for row in rows {
        let result = if row.passed {
            "passed".to_owned()
        } else {
            format!("FAILED ({})", row.result)
        };
        let ids = if row.behaviour == "ids-echoed" {
            match row.id_types.as_slice() {
                [] => " (the client sent no ids)".to_owned(),
                types => format!(" (ids of type {})", types.join(", ")),
            }
        } else {
            String::new()
        };
        println!("{:width$}  {result}{ids}", row.behaviour);
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed).collect();
    if failed.is_empty() {
        println!(
            "qmpsim conformance: the client survived every behaviour ({})",
            count(rows.len(), "behaviour")
        );
        return;
    }
    println!(
        "qmpsim conformance: {} of {} broke the client:",
        failed.len(),
        count(rows.len(), "behaviour")
    );
    for row in failed {
        println!("  {}: {}", row.behaviour, row.description);
        if let Some(said) = &row.client_said {
            println!("    client said: {said}");
        }
        println!("    trace:       {}", row.trace.display());
        println!("    reproduce:   {}", row.reproduce);
    }
}

fn junit(rows: &[Row]) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("qmpsim conformance");
    for row in rows {
        let status = if row.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(row.result.clone());
            s.set_description(format!(
                "{}\nclient said: {}\ntrace: {}\nreproduce: {}\n",
                row.description,
                row.client_said.as_deref().unwrap_or(""),
                row.trace.display(),
                row.reproduce
            ));
            s
        };
        let mut case = TestCase::new(row.behaviour, status);
        case.set_classname("qmpsim.conformance");
        suite.add_test_case(case);
    }
    let mut report = Report::new("qmpsim");
    report.add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| format!("qmpsim conformance: JUnit: {e}"))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| {
        format!(
            "qmpsim conformance: could not write {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::repeated;

    #[test]
    fn behaviour_names_are_unique() {
        assert_eq!(
            repeated(BEHAVIOURS.iter().map(|b| b.name)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn select_unknown_behaviour_names_them_all() {
        assert!(select(&["nope".to_owned()])
            .unwrap_err()
            .starts_with("qmpsim conformance: unknown behaviour 'nope' (one of baseline, "));
    }

    #[test]
    fn many_devices_adds_nics_then_drives() {
        let args = Behaviour {
            vm: VmPart::ManyDevices,
            ..BEHAVIOURS[0]
        }
        .vm_args();
        assert_eq!(
            (
                args.len(),
                args[1].as_str(),
                args[2 * LARGE_NICS + 1].as_str()
            ),
            (
                2 * (LARGE_NICS + LARGE_DRIVES),
                "e1000,id=extra-nic1",
                "if=none,id=extra-drive1"
            )
        );
    }

    #[test]
    fn reproduce_line_runs_one_behaviour() {
        let split = Split {
            vm: vec![],
            client: vec!["./c".into()],
        };
        assert_eq!(
            reproduce_line("split-replies", &split),
            "qmpsim conformance --only split-replies -- ./c"
        );
    }
}
