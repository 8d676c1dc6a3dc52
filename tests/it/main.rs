//! Integration tests: real sockets, the CLI, replay of the corpus, determinism, tidy.

mod corpus_replay;
