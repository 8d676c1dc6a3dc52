//! The byte stream: splitting client bytes into messages ([`framing`]), parsing them
//! ([`parser`]) into 0.14's value model ([`value`]), and writing greeting, responses,
//! events ([`message`]) and error classes ([`error_class`]) byte for byte as QEMU
//! 0.14 does. No I/O; everything here is a pure function or plain data.

pub mod error_class;
pub mod framing;
pub mod message;
pub mod parser;
pub mod value;

pub use error_class::{ErrorClass, QmpError};
pub use value::{QDict, QObject};
