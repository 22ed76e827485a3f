//! A panic hook replaced by the test (or by a library it calls) does not blind the kit:
//! each run puts the kit's hook back in front, and the run that saw it replaced says so.
//! One test only: the hook is the whole process's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use async_testkit::{Builder, FailureKind};

mod support;
use support::line_of;

const SRC: &str = include_str!("panic_hook.rs");

const WARNING: &str = "panic hook: the process's panic hook was replaced during this run (std::panic::set_hook, \
     by the test or by a library such as an error-report crate); until the kit noticed (before tokio ran its \
     tasks, at most once a millisecond, or at the end of the run), panics in tasks started with tokio::spawn or \
     spawn_local and in spawn_blocking closures went to that hook and may have gone unseen (kit tasks' panics were still caught). The kit has installed its hook again, in front of the new one: install \
     panic hooks before the test's run starts and the kit passes on to them what it does not take";

/// Installs a hook that counts the panics it is given and prints nothing.
fn counting_hook() -> Arc<AtomicUsize> {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, SeqCst);
    }));
    seen
}

/// A run whose tokio task panics, detached.
fn tokio_task_panics() -> async_testkit::Failure {
    Builder::new()
        .try_run(|| async {
            tokio::spawn(async { panic!("unseen before") }); // tokio-panic
            tokio::task::yield_now().await;
        })
        .unwrap_err()
}

#[test]
fn a_replaced_panic_hook_is_put_back_and_the_run_that_replaced_it_warns() {
    let line = line_of(SRC, "tokio-panic");
    let headline =
        format!("a task started with tokio::spawn panicked at tests/panic_hook.rs:{line}:34: unseen before");

    // Replaced between runs (by an earlier test, or before this run): the run still sees.
    let outside = counting_hook();
    let f = tokio_task_panics();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert_eq!(f.headline(), headline);
    assert!(!f.to_string().contains("panic hook:"), "{f}");
    // The replacement still gets what the kit does not take.
    let before = outside.load(SeqCst);
    let _ = std::panic::catch_unwind(|| panic!("outside any run"));
    assert_eq!(outside.load(SeqCst), before + 1);

    // Replaced during a run: the run warns, and later runs see again.
    let r = Builder::new()
        .try_run(|| async {
            let _ = counting_hook();
        })
        .unwrap();
    assert_eq!(r.warnings(), [WARNING]);
    let f = tokio_task_panics();
    assert_eq!(f.headline(), headline);
    assert!(!f.to_string().contains("panic hook:"), "{f}");

    // Swapped and put back within one run, around a tokio task's panic (the hook at the
    // run's end is the kit's again): the kit looks before tokio runs its tasks, so the
    // panic is seen, and the run says the hook was replaced.
    let line = line_of(SRC, "swapped-panic");
    let f = Builder::new()
        .try_run(|| async {
            let old = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            tokio::spawn(async { panic!("swapped") }); // swapped-panic
            // tokio runs the task while the body sleeps, under the test's hook.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            std::panic::set_hook(old);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert_eq!(
        f.headline(),
        format!("a task started with tokio::spawn panicked at tests/panic_hook.rs:{line}:34: swapped")
    );
    assert!(f.to_string().contains(WARNING), "{f}");
    let f = tokio_task_panics();
    assert!(!f.to_string().contains("panic hook:"), "{f}");

    // Replaced right after a run, before the next on the same thread (runs of one
    // exploration reuse the check between them; separate runs do not): a spawn_local
    // task's panic, which reaches the kit only through its hook and runs in no tokio
    // turn, is still seen.
    Builder::new().run(|| async {});
    let _ = counting_hook();
    let line = line_of(SRC, "local-panic");
    let f = Builder::new()
        .try_run(|| async {
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async {
                    let _ = tokio::task::spawn_local(async { panic!("local") }).await; // local-panic
                })
                .await;
        })
        .unwrap_err();
    // The test's own assertions print through the default hook.
    drop(std::panic::take_hook());
    assert_eq!(
        f.headline(),
        format!(
            "a task started with tokio::task::spawn_local panicked at tests/panic_hook.rs:{line}:62: local"
        )
    );
    assert!(!f.to_string().contains("panic hook:"), "{f}");
}
