//! The bug corpus: every buggy program fails under exploration with the expected kind,
//! every fixed twin passes, and FIFO agrees with each program's `min_preemptions`. The
//! checks are in `corpus/checks.rs`, shared with async-testkit-tokio's run of the same
//! programs with `tokio::spawn`.

// The crate root is tests/corpus.rs, so `mod corpus;` alone would be ambiguous.
#[path = "corpus/mod.rs"]
mod corpus;

#[path = "corpus/checks.rs"]
mod checks;
