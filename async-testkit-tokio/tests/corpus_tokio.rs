//! The kit's bug corpus run a second time, with every task started by `tokio::spawn`
//! through the re-export: every bug found for 30 seeds within the default budget and
//! minimised to the same fewest preemptions as with kit tasks, every fixed twin clean for
//! ten times the budget, FIFO failing exactly the programs that need no preemption. The
//! checks are the kit's own (`tests/corpus/checks.rs` at the workspace root), shared.
#![cfg(feature = "explore")]

// As users name it: the dependency is called tokio.
extern crate async_testkit_tokio as tokio;

// The port; `checks` expects its corpus at `crate::corpus`.
#[path = "corpus_tokio/mod.rs"]
mod corpus;

#[path = "../../tests/corpus/checks.rs"]
mod checks;
