//! The `qmpsim` binary: a thin shell over the library's CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(qmpsim::cli::main_entry(std::env::args_os()))
}
