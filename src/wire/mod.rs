//! The byte stream: splitting client bytes into messages ([`framing`]), parsing them
//! ([`parser`]) into 0.14's value model ([`crate::qobject`]), and writing greeting,
//! responses, events ([`message`]) and error classes byte for byte as QEMU 0.14
//! does. No I/O; everything here is a pure function or plain data.
//!
//! The value model and the error classes live in the leaf module
//! [`crate::qobject`]; `wire::value` and `wire::error_class` re-export them.

pub mod framing;
pub mod message;
pub mod parser;

pub use crate::qobject::{error_class, value};
pub use crate::qobject::{ErrorClass, QDict, QObject, QmpError};
