//! The value model every layer shares: 0.14's `QObject`/`QDict` ([`value`]) and
//! its QMP error classes ([`error_class`]). A leaf: it imports nothing of the
//! crate, so the machine model can build error values and objects without
//! reaching into the byte stream ([`crate::wire`] re-exports both at their old
//! paths). No I/O; plain data and pure functions.

pub mod error_class;
pub mod value;

pub use error_class::{ErrorClass, QmpError};
pub use value::{QDict, QObject};
