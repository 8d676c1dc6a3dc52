//! The `qmpsim` binary: a thin shell over the library's CLI.

fn main() {}
