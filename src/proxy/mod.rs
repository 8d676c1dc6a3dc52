//! `qmpsim proxy` and `qmpsim serve`: record any QMP server, play the recording
//! back to a client (a VCR for QMP).
//!
//! - [`relay`]: the recording proxy. It sits between QMP clients and any QMP
//!   server (QEMU of any version, or qmpsim), forwards bytes and passed
//!   descriptors both ways unchanged, one upstream connection per client, and
//!   writes what it saw as an *observed* trace (see
//!   [`TraceKind::Observed`](crate::trace::format::TraceKind)), write-ahead.
//! - [`tape`]: any trace (observed, engine-recorded, imported) read into one
//!   [`Tape`](tape::Tape) per recorded client: its greeting, then each request
//!   with the server messages that followed it. Pure.
//! - [`matching`]: how a client's request is compared with the recorded one
//!   (`--match exact|value|command`, `--ignore-id`), the id splice, and the JSON
//!   diff of a divergence report. Pure.
//! - [`serve`]: the mock server that plays tapes back to clients.
//!
//! Edge code: [`relay`] and [`serve`] own sockets, a child process and the wall
//! clock, on one `mio` thread each, in the style of `crate::server`'s event loop.

pub mod address;
mod listening;
pub mod matching;
pub mod relay;
pub mod serve;
pub mod tape;

pub use address::Address;
