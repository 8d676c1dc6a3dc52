//! One client run against one fresh VM: the qmpsim binary itself is started as
//! `qmpsim run -qmp unix:SOCK,server,nowait -record TRACE [VM options]`, the
//! client is started once the socket listens, with `QMP_SOCKET=SOCK` in its
//! environment and `{sock}` in its arguments replaced by SOCK, and waited for
//! with a timeout. With a relay ([`super::relay`]) the client is given the
//! relay's socket instead, and the relay forwards to the VM's. The VM is then
//! stopped with SIGTERM (recorded as an input, so the trace ends cleanly)
//! unless the client already made it exit. This is edge code: processes,
//! files and the wall clock.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::relay::{Relay, Seen, Shaping};

/// How long a VM may take to listen on its monitor socket.
pub const VM_LISTEN_TIMEOUT_MS: u64 = 10_000;
/// How long a VM may take to exit after SIGTERM before it is killed.
pub const VM_EXIT_TIMEOUT_MS: u64 = 5_000;
/// How often a waiting loop looks again.
const POLL_MS: u64 = 5;
/// The placeholder in client arguments replaced by the socket path.
pub const SOCKET_PLACEHOLDER: &str = "{sock}";
/// The environment variable that carries the socket path to the client.
pub const SOCKET_ENV: &str = "QMP_SOCKET";

/// Why a run could not be carried out (a client failing is not one of these).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The qmpsim binary or the client could not be started.
    #[error("qmpsim: could not start {what}: {source}")]
    Spawn {
        /// Which program.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file in the output folder could not be created.
    #[error("qmpsim: could not create {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The VM exited, or never listened, before the client could start.
    #[error("qmpsim: the VM did not start: {0}")]
    VmDidNotStart(String),
    /// The relay could not listen.
    #[error("qmpsim: the relay could not listen on {path}: {source}")]
    Relay {
        /// Its socket.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What one run should do.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The qmpsim binary.
    pub qmpsim: PathBuf,
    /// VM options given by the user, then the run's own (`-x-explore-gap ...`).
    pub vm_args: Vec<OsString>,
    /// The client command, `{sock}` not yet replaced.
    pub client: Vec<OsString>,
    /// The monitor socket to create.
    pub socket: PathBuf,
    /// The trace to record.
    pub trace: PathBuf,
    /// Where the client's stdout and stderr go.
    pub client_log: PathBuf,
    /// Where the VM's stderr goes.
    pub vm_log: PathBuf,
    /// How long the client may run.
    pub timeout: Duration,
    /// A relay between the client and the VM: how it shapes the stream, and
    /// the socket the client is given.
    pub relay: Option<(Shaping, PathBuf)>,
}

/// How a run ended, and what its relay saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How the client ended.
    pub end: ClientEnd,
    /// What the relay saw, when there was one.
    pub seen: Option<Seen>,
}

/// How a client run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEnd {
    /// The client exited with status 0.
    Passed,
    /// It exited otherwise: a status, or the signal that killed it.
    Failed(String),
    /// It was still running after the timeout and was killed.
    TimedOut,
}

impl ClientEnd {
    /// Whether the client passed.
    pub fn passed(&self) -> bool {
        *self == ClientEnd::Passed
    }

    /// For people: "exit status 1", "killed by signal 6", "timed out after 10 s".
    pub fn describe(&self, timeout: Duration) -> String {
        match self {
            ClientEnd::Passed => "passed".to_owned(),
            ClientEnd::Failed(how) => how.clone(),
            ClientEnd::TimedOut => format!("timed out after {} s", timeout.as_secs_f64()),
        }
    }
}

/// Runs the client once against a fresh VM.
pub fn run_once(spec: &RunSpec) -> Result<ClientEnd, RunError> {
    run_full(spec).map(|outcome| outcome.end)
}

/// Runs the client once against a fresh VM, through the relay if any.
pub fn run_full(spec: &RunSpec) -> Result<RunOutcome, RunError> {
    let _ = std::fs::remove_file(&spec.socket);
    let mut vm = start_vm(spec)?;
    if let Err(e) = wait_listening(&spec.socket, &mut vm) {
        let _ = vm.kill();
        let _ = vm.wait();
        let log = std::fs::read_to_string(&spec.vm_log).unwrap_or_default();
        return Err(RunError::VmDidNotStart(format!("{e}{}", indent(&log))));
    }
    let relay = match &spec.relay {
        None => None,
        Some((shaping, path)) => match Relay::start(path, &spec.socket, *shaping) {
            Ok(relay) => Some((relay, path.clone())),
            Err(source) => {
                stop_vm(&mut vm);
                return Err(RunError::Relay {
                    path: path.display().to_string(),
                    source,
                });
            }
        },
    };
    let client_socket = relay.as_ref().map_or(&spec.socket, |(_, path)| path);
    let end = run_client(spec, client_socket);
    stop_vm(&mut vm);
    let seen = relay.map(|(relay, path)| {
        let _ = std::fs::remove_file(path);
        relay.stop()
    });
    let _ = std::fs::remove_file(&spec.socket);
    Ok(RunOutcome { end: end?, seen })
}

fn start_vm(spec: &RunSpec) -> Result<Child, RunError> {
    let mut qmp = OsString::from("unix:");
    qmp.push(&spec.socket);
    qmp.push(",server,nowait");
    let vm_log = create(&spec.vm_log)?;
    Command::new(&spec.qmpsim)
        .arg("run")
        .arg("-qmp")
        .arg(qmp)
        .arg("-record")
        .arg(&spec.trace)
        .args(&spec.vm_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(vm_log)
        .spawn()
        .map_err(|source| RunError::Spawn {
            what: spec.qmpsim.display().to_string(),
            source,
        })
}

fn run_client(spec: &RunSpec, socket: &Path) -> Result<ClientEnd, RunError> {
    let (program, args) = spec
        .client
        .split_first()
        .expect("the command line requires a client command");
    let log = create(&spec.client_log)?;
    let log_err = log.try_clone().map_err(|source| RunError::File {
        path: spec.client_log.display().to_string(),
        source,
    })?;
    let mut child = Command::new(program)
        .args(args.iter().map(|a| substitute(a, socket)))
        .env(SOCKET_ENV, socket)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|source| RunError::Spawn {
            what: program.to_string_lossy().into_owned(),
            source,
        })?;
    Ok(match wait_timeout(&mut child, spec.timeout) {
        Some(status) if status.success() => ClientEnd::Passed,
        Some(status) => ClientEnd::Failed(describe_status(status)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            ClientEnd::TimedOut
        }
    })
}

/// `arg` with every `{sock}` replaced by `socket`.
pub fn substitute(arg: &OsStr, socket: &Path) -> OsString {
    match arg.to_str() {
        Some(text) if text.contains(SOCKET_PLACEHOLDER) => {
            OsString::from(text.replace(SOCKET_PLACEHOLDER, &socket.to_string_lossy()))
        }
        _ => arg.to_owned(),
    }
}

fn create(path: &Path) -> Result<File, RunError> {
    File::create(path).map_err(|source| RunError::File {
        path: path.display().to_string(),
        source,
    })
}

/// Waits until `socket` is a listening unix socket (`/proc/net/unix`), without
/// connecting to it: a probe connection would be a client of the VM.
fn wait_listening(socket: &Path, vm: &mut Child) -> Result<(), String> {
    let started = Instant::now();
    let limit = Duration::from_millis(VM_LISTEN_TIMEOUT_MS);
    loop {
        if let Ok(Some(status)) = vm.try_wait() {
            return Err(format!("it exited with {}", describe_status(status)));
        }
        if is_listening(socket) {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(format!(
                "no socket listened within {VM_LISTEN_TIMEOUT_MS} ms"
            ));
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
    }
}

/// Whether the kernel lists `socket` as a listening unix socket. Without
/// `/proc`, the socket file existing (plus a moment) has to do.
fn is_listening(socket: &Path) -> bool {
    crate::server::listen::unix_socket_listening(socket).unwrap_or_else(|| {
        let exists = socket.exists();
        if exists {
            std::thread::sleep(Duration::from_millis(50));
        }
        exists
    })
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if started.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
    }
}

/// SIGTERM (the VM records it and exits cleanly), then SIGKILL past
/// [`VM_EXIT_TIMEOUT_MS`].
fn stop_vm(vm: &mut Child) {
    if let Ok(Some(_)) = vm.try_wait() {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(vm.id()) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if wait_timeout(vm, Duration::from_millis(VM_EXIT_TIMEOUT_MS)).is_none() {
        let _ = vm.kill();
        let _ = vm.wait();
    }
}

/// "exit status 1", or "killed by signal 9".
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "an unknown end".to_owned(),
    }
}

/// `text` as indented lines after a newline, or nothing when empty.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("\n  {l}")).collect()
}

/// The last non-empty line of a log file, for reports.
pub fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitute_replaces_every_placeholder() {
        assert_eq!(
            substitute(OsStr::new("--a={sock},{sock}"), Path::new("/t/s")),
            OsString::from("--a=/t/s,/t/s")
        );
    }

    #[test]
    fn substitute_leaves_other_arguments() {
        assert_eq!(
            substitute(OsStr::new("-v"), Path::new("/t/s")),
            OsString::from("-v")
        );
    }

    #[test]
    fn client_end_describes_a_timeout_in_seconds() {
        assert_eq!(
            ClientEnd::TimedOut.describe(Duration::from_millis(2500)),
            "timed out after 2.5 s"
        );
    }
}
