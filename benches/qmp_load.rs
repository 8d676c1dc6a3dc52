//! Load tools for `ci/bench`, outside the timed tests:
//!
//! - `qmp_load fleet --manifest FILE [-j N]`: connects to every VM a
//!   `qmpsim fleet --manifest FILE` lists, reads each greeting, negotiates
//!   (`qmp_capabilities`), then runs one round of `query-status` over all of
//!   them; `-j` workers (threads) share the VMs, and `--window W` keeps at most
//!   W sessions open at once (windows run one after another, and their times
//!   add up), for fleets larger than the open-file limits allow clients for.
//!   Prints one JSON line: the time
//!   to have every VM greeted and negotiated, the time of the query-status
//!   round, and the replies that were not what they should be.
//! - `qmp_load echo-server SOCKET`: the floor of `benches/qmp_anchor.py`, a
//!   trivial server on the same kind of socket, serving one client at a time
//!   like a QMP monitor: a greeting line on connect, then one fixed reply line
//!   per request line (with the request's `"id"` when it has one). Everything
//!   qmpsim does beyond this is the cost of being a VM.
//!
//! - `qmp_load rtt SOCKET N`: the sequential round trip with a native client:
//!   connects, negotiates, sends RTT_WARMUP query-status requests, then N more
//!   one at a time, each written only after the previous reply was read, and
//!   prints one JSON line with the median, p90, p99 and mean in microseconds.
//!   A Python client costs tens of microseconds per request itself, which hides
//!   the server's own share; this one costs a few.
//!
//! Run with no arguments (as `cargo test --all-targets` does) it prints its
//! usage and exits 0.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// The greeting the echo server sends, as QEMU 0.14's.
const ECHO_GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 14, \"major\": 0}, \"package\": \"\"}, \"capabilities\": []}}\r\n";
/// The reply of the echo server (the length of qmpsim's query-status reply).
const ECHO_REPLY: &str = "{\"return\": {\"singlestep\": false, \"running\": true}";
/// Longest wait for one read of the load client.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("fleet") => fleet(&args[1..]),
        Some("echo-server") if args.len() == 2 => echo_server(&args[1]),
        Some("rtt") if args.len() == 3 => rtt(&args[1], &args[2]),
        _ => {
            println!(
                "usage: qmp_load fleet --manifest FILE [-j N] [--window W] | qmp_load echo-server SOCKET | qmp_load rtt SOCKET N"
            );
            Ok(())
        }
    };
    if let Err(e) = code {
        eprintln!("qmp_load: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// sequential round trip

/// query-status requests sent before timing starts.
const RTT_WARMUP: usize = 1000;

fn rtt(path: &str, n: &str) -> io::Result<()> {
    let n: usize = n
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| io::Error::other("N is a positive number"))?;
    // Negotiated by hand: the echo floor answers qmp_capabilities with its one
    // fixed reply.
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut s = Session {
        reader: BufReader::new(stream),
    };
    let mut line = String::new();
    s.reader.read_line(&mut line)?;
    s.reader
        .get_ref()
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    s.reader.read_line(&mut line)?;
    let mut one = |s: &mut Session| -> io::Result<()> {
        s.reader
            .get_ref()
            .write_all(b"{\"execute\":\"query-status\"}\n")?;
        line.clear();
        s.reader.read_line(&mut line)?;
        if !line.starts_with("{\"return\": {") {
            return Err(io::Error::other(format!("not a status: {line}")));
        }
        Ok(())
    };
    for _ in 0..RTT_WARMUP {
        one(&mut s)?;
    }
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        one(&mut s)?;
        ns.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    ns.sort_unstable();
    let at = |p: usize| ns[(ns.len() * p / 100).min(ns.len() - 1)] as f64 / 1000.0;
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64 / 1000.0;
    println!(
        "{{\"n\": {n}, \"median_us\": {:.1}, \"p90_us\": {:.1}, \"p99_us\": {:.1}, \"mean_us\": {mean:.1}}}",
        at(50),
        at(90),
        at(99)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// echo floor

fn echo_server(path: &str) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    for stream in listener.incoming() {
        let stream = stream?;
        // A client that goes away is the end of its session, not of the server.
        let _ = echo_session(stream);
    }
    Ok(())
}

fn echo_session(stream: UnixStream) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    out.write_all(ECHO_GREETING)?;
    let mut input = stream;
    let mut buf = vec![0u8; 1 << 16];
    let mut pending: Vec<u8> = Vec::new();
    let mut replies = Vec::new();
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(k) = pending[start..].iter().position(|&b| b == b'\n') {
            reply_to(&pending[start..start + k], &mut replies);
            start += k + 1;
        }
        pending.drain(..start);
        if !replies.is_empty() {
            out.write_all(&replies)?;
            replies.clear();
        }
    }
}

/// Appends the fixed reply to one request line, with its `"id"` if it has one.
fn reply_to(line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(ECHO_REPLY.as_bytes());
    if let Some(at) = find(line, b"\"id\":") {
        let value = &line[at + 5..];
        let end = value.iter().position(|&b| b == b'}').unwrap_or(value.len());
        out.extend_from_slice(b", \"id\": ");
        out.extend_from_slice(value[..end].trim_ascii());
    }
    out.extend_from_slice(b"}\r\n");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// fleet load client

struct FleetOptions {
    manifest: String,
    jobs: usize,
    /// Most sessions open at once (all when absent).
    window: Option<usize>,
}

fn parse_fleet(args: &[String]) -> io::Result<FleetOptions> {
    let mut manifest = None;
    let mut jobs = 4;
    let mut window = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--manifest" => manifest = it.next().cloned(),
            "-j" => {
                jobs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&j| j > 0)
                    .ok_or_else(|| io::Error::other("-j takes a positive number"))?;
            }
            "--window" => {
                window = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&w| w > 0)
                        .ok_or_else(|| io::Error::other("--window takes a positive number"))?,
                );
            }
            other => return Err(io::Error::other(format!("unknown option {other}"))),
        }
    }
    Ok(FleetOptions {
        manifest: manifest.ok_or_else(|| io::Error::other("--manifest FILE is required"))?,
        jobs,
        window,
    })
}

/// The socket paths a fleet manifest lists, in order (a plain scan of its
/// `"socket": "..."` fields; the manifest is qmpsim's own JSON).
fn sockets_of(manifest: &str) -> Vec<String> {
    manifest
        .match_indices("\"socket\": \"")
        .map(|(at, key)| {
            let rest = &manifest[at + key.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

/// Lets this process hold `n` descriptors if the hard limit allows.
fn raise_open_files(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < n {
            lim.rlim_cur = n.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A negotiated session: one descriptor (writes go through `get_ref`).
struct Session {
    reader: BufReader<UnixStream>,
}

fn open_session(path: &str) -> io::Result<Session> {
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("{\"QMP\"") {
        return Err(io::Error::other(format!("{path}: no greeting")));
    }
    reader
        .get_ref()
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    if line != "{\"return\": {}}\r\n" {
        return Err(io::Error::other(format!("{path}: qmp_capabilities failed")));
    }
    Ok(Session { reader })
}

/// One query-status round over `sessions`: every request written first, then
/// every reply read. Returns the replies that were not a status.
fn status_round(sessions: &mut [Session]) -> io::Result<usize> {
    for s in sessions.iter() {
        s.reader
            .get_ref()
            .write_all(b"{\"execute\":\"query-status\"}\n")?;
    }
    let mut bad = 0;
    let mut line = String::new();
    for s in sessions.iter_mut() {
        line.clear();
        s.reader.read_line(&mut line)?;
        if !line.starts_with("{\"return\": {") || !line.contains("\"running\"") {
            bad += 1;
        }
    }
    Ok(bad)
}

/// One window of a fleet run: `jobs` workers open a session to each socket of
/// `sockets` (greeting and negotiation), then run one query-status round over
/// them, then close them. Returns the time to greet them all, the round's
/// time, and the bad replies.
fn fleet_window(sockets: &[String], jobs: usize) -> io::Result<(Duration, Duration, usize)> {
    let jobs = jobs.min(sockets.len().max(1));
    let share = sockets.len().div_ceil(jobs);
    let barrier = Arc::new(Barrier::new(jobs + 1));
    let mut workers = Vec::new();
    for part in sockets.chunks(share.max(1)) {
        let part = part.to_vec();
        let barrier = Arc::clone(&barrier);
        workers.push(thread::spawn(move || -> io::Result<(Duration, usize)> {
            let opened: io::Result<Vec<Session>> = part.iter().map(|p| open_session(p)).collect();
            barrier.wait();
            let mut sessions = opened?;
            barrier.wait();
            let start = Instant::now();
            let bad = status_round(&mut sessions)?;
            Ok((start.elapsed(), bad))
        }));
    }
    // Pad the barrier for chunks() giving fewer parts than jobs.
    for _ in workers.len()..jobs {
        let barrier = Arc::clone(&barrier);
        workers.push(thread::spawn(move || {
            barrier.wait();
            barrier.wait();
            Ok((Duration::ZERO, 0))
        }));
    }
    let start = Instant::now();
    barrier.wait();
    let greeted = start.elapsed();
    let round_start = Instant::now();
    barrier.wait();
    let mut bad = 0;
    for w in workers {
        let (_, b) = w
            .join()
            .map_err(|_| io::Error::other("a worker panicked"))??;
        bad += b;
    }
    Ok((greeted, round_start.elapsed(), bad))
}

fn fleet(args: &[String]) -> io::Result<()> {
    let opts = parse_fleet(args)?;
    let text = std::fs::read_to_string(&opts.manifest)?;
    let sockets = sockets_of(&text);
    let window = opts.window.unwrap_or(sockets.len()).max(1);
    raise_open_files(window.min(sockets.len()) as u64 + 64);
    let jobs = opts.jobs.min(sockets.len().max(1));
    let (mut greeted, mut round, mut bad) = (Duration::ZERO, Duration::ZERO, 0);
    for part in sockets.chunks(window) {
        let (g, r, b) = fleet_window(part, jobs)?;
        greeted += g;
        round += r;
        bad += b;
    }
    println!(
        "{{\"vms\": {}, \"jobs\": {}, \"window\": {}, \"connect_greet_caps_s\": {:.4}, \"query_status_round_s\": {:.4}, \"bad_replies\": {}}}",
        sockets.len(),
        jobs,
        window.min(sockets.len()),
        greeted.as_secs_f64(),
        round.as_secs_f64(),
        bad
    );
    Ok(())
}
