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
//! | [`engine`] | `Engine::step`, `digest`, `next_deadline` |
//! | [`snapshot`] | the versioned, checksummed snapshot envelope of the engine state |
//! | [`scenario`] | scripted sessions against an engine, for goldens and corpora |
//! | [`trace`] | the `.qmptrace` format: writer, reader, dump |
//! | [`replay`] | byte-exact replay of one trace and of a corpus |
//! | [`server`] | sockets, fd passing, signals, the clock driver (the only I/O) |
//! | [`cli`] | QEMU-style options and subcommands |
//!
//! ## Embedding
//!
//! ```
//! use qmpsim::engine::{Engine, Input, Output};
//! use qmpsim::machine::config::MachineConfig;
//! use qmpsim::qmp::session::ClientId;
//!
//! let mut engine = Engine::new(MachineConfig::default());
//! let client = ClientId(1);
//! engine.step(Input::Connect { client, monitor: 0 });
//! engine.step(Input::Bytes { client, data: br#"{"execute":"qmp_capabilities"}"#.to_vec() });
//! let out = engine.step(Input::Bytes { client, data: br#"{"execute":"query-status"}"#.to_vec() });
//! let Output::Send { data, .. } = &out[0] else { unreachable!() };
//! assert_eq!(data, b"{\"return\": {\"singlestep\": false, \"running\": true}}\r\n");
//! ```
#![warn(missing_docs, missing_debug_implementations)]

pub mod cli;
pub mod engine;
pub mod machine;
pub mod qmp;
pub mod qobject;
pub mod replay;
pub mod scenario;
pub mod server;
pub mod snapshot;
pub mod trace;
pub mod wire;
