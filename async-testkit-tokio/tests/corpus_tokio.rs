//! The kit's bug corpus run a second time, with every task started by `tokio::spawn`
//! through the re-export: every bug found for 30 seeds within the default budget and
//! minimised to the fewest preemptions it needs in tokio's order (the kit corpus's, but for
//! the bugs that a `tokio::task::yield_now` in tokio's order lets happen sooner), every
//! fixed twin clean for ten times the budget, FIFO failing exactly the programs that need
//! no preemption, and exactly those failing on a plain tokio runtime too. The checks are
//! the kit's own (`tests/corpus/checks.rs` at the workspace root), shared.
#![cfg(feature = "explore")]

// As users name it: the dependency is called tokio.
extern crate async_testkit_tokio as tokio;

// The port; `checks` expects its corpus at `crate::corpus`.
#[path = "corpus_tokio/mod.rs"]
mod corpus;

#[path = "../../tests/corpus/checks.rs"]
mod checks;

/// The kit's default order is tokio's: each buggy program fails on a plain tokio runtime
/// (current-thread, paused clock) exactly when it needs no preemption, and every fixed
/// twin passes there.
#[test]
fn tokio_s_own_runtime_fails_exactly_the_programs_that_need_no_preemption() {
    let on_tokio = |body: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        // A deadlock (every task waiting, no timer) fails at the timeout: tokio's paused
        // clock jumps to it.
        let run = || {
            local.block_on(&rt, async {
                tokio::time::timeout(std::time::Duration::from_secs(3600), body()).await
            })
        };
        !matches!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)),
            Ok(Ok(()))
        )
    };
    for p in corpus::all() {
        assert_eq!(
            on_tokio(p.buggy),
            p.min_preemptions == 0,
            "{}: buggy twin on tokio",
            p.name
        );
        assert!(!on_tokio(p.fixed), "{}: the fixed twin fails on tokio", p.name);
    }
}
