//! QMP sessions and dispatch: per-client negotiation state ([`session`]), the
//! command table ([`table`]), `args_type` checking ([`args`]), request handling
//! ([`dispatch`]), the handlers ([`commands`]) and the rendering of the machine's
//! events ([`events`]). Pure: no I/O, no clocks.

pub mod args;
pub mod commands;
pub mod dispatch;
pub mod events;
pub mod hmp;
pub mod session;
pub mod table;
