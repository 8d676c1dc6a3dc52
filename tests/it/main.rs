//! Integration tests: real sockets, the CLI, replay of the corpus, determinism, tidy.

#[cfg(test)]
mod golden_display;
