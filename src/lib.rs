//! # qmpsim
//!
//! A deterministic stand-in for a QEMU 0.14 virtual machine as seen through its QMP
//! monitor. Clients connect exactly as they would to `qemu-system-x86_64 -qmp ...`;
//! behind the socket there is no CPU emulation, only a faithful model of what QMP can
//! see and change, and a simulated guest.
//!
//! ## The one rule
//!
//! [`engine::Engine`] is a pure state machine: `step(Input) -> Vec<Output>`, with
//! virtual time, one seeded rng and no I/O. Sockets, files, signals and clocks live
//! at the edge ([`server`], [`cli`]) and enter the engine only as
//! [`engine::Input`]s; everything the engine does to the world leaves as an
//! [`engine::Output`]. Same inputs, same outputs, same [`engine::Engine::digest`].
//!
//! ## Module map
//!
//! | module | owns |
//! |---|---|
//! | [`qobject`] | 0.14's value model (`QObject`, `QDict`) and QMP error classes: a leaf |
//! | [`wire`] | byte splitting, 0.14 JSON parsing and byte-exact serialization |
//! | [`qmp`] | sessions, the command table, argument checking, dispatch, handlers |
//! | [`machine`] | the VM model: config, run state, clock, timers, rng, events, devices, guest |
//! | [`monitor`] | the human monitor on a chardev: banner, prompt, 0.14's line editor, telnet |
//! | [`engine`] | `Engine::step`, `digest`, `next_deadline` |
//! | [`migration_stream`] | the bytes of a migration stream: preamble, payload, state envelope |
//! | [`snapshot`] | the versioned, checksummed snapshot envelope of the engine state |
//! | [`envelope`] | the magic, version and length prefix every binary file opens with: a leaf |
//! | [`scenario`] | scripted sessions against an engine, for goldens and corpora |
//! | [`trace`] | the `.qmptrace` format: writer, reader, dump |
//! | [`replay`] | byte-exact replay of one trace and of a corpus |
//! | [`proxy`] | `qmpsim proxy` (record any QMP server) and `qmpsim serve` (play a trace back) |
//! | [`server`] | sockets, fd passing, signals, the clock driver (the only I/O) |
//! | [`cli`] | QEMU-style options and subcommands |
//! | [`explore`] | `qmpsim explore` and `conformance`: a QMP client run against many VMs |
//! | [`limits`] | the index of every `*_MAX` limit, with units |
//! | [`embed`] | [`Vm`]: a VM on a socket on its own thread, for programs that embed qmpsim |
//!
//! ## Embedding
//!
//! [`Vm::builder`] runs a VM in process, with the same options as `qmpsim run`, on
//! a unix socket in a temporary folder, served on a thread of its own; the handle
//! stops it and returns the trace it recorded. `examples/qmp_client.rs` is a
//! complete client.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use std::os::unix::net::UnixStream;
//!
//! let vm = qmpsim::Vm::builder().args(["-S", "-name", "demo"]).record(true).spawn()?;
//! let stream = UnixStream::connect(vm.socket_path())?;
//! let mut lines = BufReader::new(stream.try_clone()?).lines();
//! lines.next(); // the greeting
//! (&stream).write_all(b"{\"execute\":\"qmp_capabilities\"}\r\n")?;
//! (&stream).write_all(b"{\"execute\":\"query-name\"}\r\n")?;
//! lines.next(); // {"return": {}}
//! assert_eq!(lines.next().unwrap()?, r#"{"return": {"name": "demo"}}"#);
//!
//! let ended = vm.stop()?;
//! let trace = ended.trace.expect("recorded");
//! qmpsim::replay::one::replay(&trace[..])?; // byte for byte, or an error
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For tests with no sockets at all, [`Engine`] takes requests in memory; build it
//! from a [`machine::config::MachineConfig`] or from command-line options with
//! [`VmBuilder::engine`]:
//!
//! ```
//! use qmpsim::engine::{Engine, Input, Output};
//! use qmpsim::machine::config::MachineConfig;
//! use qmpsim::qmp::session::ClientId;
//!
//! let mut engine = Engine::new(MachineConfig::default());
//! let client = ClientId(1);
//! engine.step(Input::connect(client));
//! engine.step(Input::bytes(client, br#"{"execute":"qmp_capabilities"}"#));
//! let out = engine.step(Input::bytes(client, br#"{"execute":"query-status"}"#));
//! let Output::Send { data, .. } = &out[0] else { unreachable!() };
//! assert_eq!(data, b"{\"return\": {\"singlestep\": false, \"running\": true}}\r\n");
//! ```
#![warn(missing_docs, missing_debug_implementations)]

pub mod cli;
pub mod embed;
pub mod engine;
pub mod envelope;
pub mod explore;
pub mod limits;
pub mod machine;
pub mod migration_stream;
pub mod monitor;
pub mod proxy;
pub mod qmp;
pub mod qobject;
pub mod replay;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod trace;
pub mod wire;

#[cfg(test)]
mod test_util;

pub use embed::{EmbedError, Vm, VmBuilder, VmExit, VmHandle};
pub use engine::Engine;
