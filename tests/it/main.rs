//! Integration tests: real sockets, the CLI, replay of the corpus, determinism, tidy.

// Real sockets against the built binary: unix, tcp, stdio, -chardev/-mon, fds.
#[cfg(test)]
mod sockets;
// The command line of the built binary: errors, -version, --help, subcommands.
#[cfg(test)]
mod cli;
