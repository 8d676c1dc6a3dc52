//! Integration tests, one binary with topical modules:
//! - `scenarios`: the shared client scripts;
//! - `scenario_files`: `-x-scenario` files through the binary, `examples/scenarios/`;
//! - `determinism`: every scenario twice, any chunking, same bytes and digest;
//! - `device_tree`: `info qtree` of the real binary as the command line shapes it;
//! - `tidy`: source checks that keep the core deterministic;
//! - `malformed`: every malformed input from the reference and QEMU's qmp-test.c;
//! - `corpus_replay`: the recorded `traces/` corpus replays byte-exact;
//! - `sockets`: the real binary over unix, tcp and stdio monitors;
//! - `chaos`: `-x-chaos` through the binary (same seed, same bytes; replay);
//! - `cli`: QEMU-style option handling of the real binary;
//! - `clock`: the three `-x-clock` modes through the binary;
//! - `minimize`: `qmpsim trace minimize` through the real binary;
//! - `record_replay`: `-record` over real sockets, then `qmpsim replay`;
//! - `refusals`: every bad option value 0.14 refuses at startup, with its source;
//! - `golden_*`: reviewed insta goldens of every command, per area (`golden_hotplug`:
//!   the human monitor's hotplug family; `golden_readers`: its memory, register,
//!   port and input commands and ACLs), and (`golden_corpus`) of the dump of
//!   every corpus trace, and (`golden_faults`) of every `x-inject` fault kind;
//! - `support`: helpers the goldens and scenarios share (`snap`, `goldens!`, `sessions`, ...);
//! - `lifecycle`: a whole VM lifecycle, in process, recorded, and over a real socket;
//! - `snapshots`: snapshot, restore and migration as properties of random sessions;
//! - `regressions`: shrunk failing cases of the fuzz properties, `traces/regressions/`;
//! - `shell`: `qmpsim man` and `qmpsim completions`;
//! - `seed_examples`: every example of the seed `qmp-commands.hx` against the engine;
//! - `trace_tools`: `qmpsim trace dump|info|export|import|coverage` through the binary;
//! - `trace_damage`: every flipped byte and every cut of a trace is caught at its
//!   frame, and what replay and dump say about each kind of damage;
//! - `write_ahead`: `-record` survives SIGKILL, refuses bad paths, locks its file;
//! - `replay_runner`: `qmpsim replay`'s options through the binary;
//! - `event_loop`: the one-thread server under load (backpressure, many clients);
//! - `fleet`: `qmpsim fleet` with real sockets and clients;
//! - `explore`: `qmpsim explore` against the clients of `tests/clients/`;
//! - `conformance`: `qmpsim conformance` against the same clients;
//! - `proxy`: `qmpsim proxy` between real clients and servers, and its observed trace;
//! - `serve`: `qmpsim serve` playing traces of every kind back to real clients.
// Integration tests are top-level functions by nature; the lint targets unit tests.
#![allow(clippy::tests_outside_test_module)]

mod chaos;
mod cli;
mod clock;
mod conformance;
mod corpus_replay;
mod determinism;
mod device_tree;
mod effects_order;
mod event_loop;
mod explore;
mod fleet;
mod golden_core;
mod golden_corpus;
mod golden_devices;
mod golden_display;
mod golden_events;
mod golden_faults;
mod golden_hmp;
mod golden_hotplug;
mod golden_human;
mod golden_readers;
mod golden_usb_usernet;
mod human_monitor;
mod lifecycle;
mod malformed;
mod minimize;
mod proxy;
mod record_replay;
mod refusals;
mod regressions;
mod replay_runner;
mod scenario_files;
mod scenarios;
mod seed_examples;
mod serve;
mod shell;
mod snapshots;
mod sockets;
mod support;
mod tidy;
mod trace_damage;
mod trace_tools;
mod write_ahead;
