//! With the `explore` feature: tasks started through the re-export inside a kit run are kit
//! tasks (explored, named, their panics and leaks reported), and tokio's tasks outside one.
#![cfg(feature = "explore")]

// As users name it: the dependency is called tokio.
extern crate async_testkit_tokio as tokio;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use async_testkit::{Builder, FailureKind, Strategy};

/// Use before init: the reader must run after the writer, which the body starts first.
/// Under tokio's FIFO the writer always runs first; only an explored order shows the bug.
async fn use_before_init() {
    let ready = Arc::new(AtomicBool::new(false));
    let r = ready.clone();
    let writer = tokio::spawn(async move { r.store(true, SeqCst) });
    let r = ready.clone();
    #[rustfmt::skip]
    let reader = tokio::spawn(async move { assert!(r.load(SeqCst), "use before init: the reader ran first: {}", line!()) });
    writer.await.unwrap();
    reader.await.unwrap();
}

#[test]
fn an_exploration_finds_the_order_of_tokio_spawned_tasks() {
    let f = Builder::new()
        .seed(1)
        .explore(200)
        .try_run(use_before_init)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(
        f.panic_messages()[0].contains("use before init: the reader ran first"),
        "{f}"
    );
    // The panic names the line of the task started with tokio::spawn.
    let line = f.panic_messages()[0].rsplit(": ").next().unwrap().to_string();
    let text = f.to_string();
    assert!(
        text.contains(&format!(
            "panicked at async-testkit-tokio/tests/explore.rs:{line}:"
        )),
        "{text}"
    );
}

#[test]
fn dfs_finds_it_and_does_not_call_the_space_exhausted_before() {
    let f = Builder::new()
        .strategy(Strategy::Dfs { max_preemptions: 3 })
        .explore(1000)
        .try_run(use_before_init)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
}

#[test]
fn fifo_keeps_tokios_order() {
    // One run, FIFO: the writer was spawned first and runs first, as on tokio.
    Builder::new().try_run(use_before_init).unwrap();
}

#[tokio::test]
async fn outside_a_run_tasks_are_tokios_own() {
    let h = tokio::spawn(async { (async_testkit::task::try_id(), tokio::task::id()) });
    let id = h.id();
    let (kit_id, seen) = h.await.unwrap();
    assert_eq!(kit_id, None, "a tokio task is not a kit task");
    assert_eq!(seen, id);
    // JoinSet too.
    let mut set = tokio::task::JoinSet::new();
    set.spawn(async { async_testkit::task::try_id() });
    assert_eq!(set.join_next().await.unwrap().unwrap(), None);
}

#[test]
fn inside_a_run_tasks_are_kit_tasks() {
    let report = Builder::new()
        .try_run(|| async {
            let h = tokio::spawn(async { async_testkit::task::try_id() });
            let id = h.id();
            let mut set = tokio::task::JoinSet::new();
            set.spawn(async { async_testkit::task::try_id() });
            let local = tokio::task::spawn_local(async { async_testkit::task::try_id() });
            assert_eq!(h.await.unwrap().map(|i| i.to_string()), Some(id.to_string()));
            assert!(set.join_next().await.unwrap().unwrap().is_some());
            assert!(local.await.unwrap().is_some());
        })
        .unwrap();
    assert_eq!(report.tasks_spawned(), 4, "the body and three kit tasks");
}

#[test]
fn abort_is_finished_and_cancellation_keep_tokios_semantics() {
    async_testkit::run(async {
        let h = tokio::spawn(std::future::pending::<()>());
        assert!(!h.is_finished());
        let abort = h.abort_handle();
        assert_eq!(abort.id(), h.id());
        abort.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled() && !err.is_panic());
        assert!(abort.is_finished());
        assert!(err.try_into_panic().is_err());

        let done = tokio::spawn(async { 1 });
        tokio::task::yield_now().await;
        assert!(done.is_finished());
        done.abort(); // too late: the output stays
        assert_eq!(done.await.unwrap(), 1);
    });
}

#[test]
fn a_panic_taken_through_the_join_error_passes() {
    async_testkit::run(async {
        let err = tokio::spawn(async { panic!("expected") }).await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "expected");
    });
}

#[test]
fn a_panic_not_taken_fails_the_test_naming_the_spawn_site() {
    let f = Builder::new()
        .try_run(|| async {
            let err = tokio::spawn(async { panic!("unexpected at {}", line!()) })
                .await
                .unwrap_err();
            assert!(err.is_panic()); // looked at, not taken
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    let line = f.panic_messages()[0]
        .strip_prefix("unexpected at ")
        .unwrap()
        .to_string();
    assert!(
        f.to_string().contains(&format!(
            "task #1 panicked at async-testkit-tokio/tests/explore.rs:{line}:"
        )),
        "{f}"
    );
}

#[test]
fn resume_unwind_and_catch_unwind_inside_a_task_are_seen_exactly() {
    // A payload re-raised with resume_unwind calls no panic hook: still a failure.
    let f = Builder::new()
        .try_run(|| async {
            let h = tokio::spawn(async { std::panic::resume_unwind(Box::new("re-raised")) });
            let _ = h.await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(f.panic_messages()[0].contains("re-raised"), "{f}");
    // A panic the task catches itself ends nothing: the test passes.
    async_testkit::run(async {
        let h = tokio::spawn(async { std::panic::catch_unwind(|| panic!("caught inside")).is_err() });
        assert!(h.await.unwrap());
    });
}

#[test]
fn a_leaked_task_is_reported_with_its_spawn_site() {
    let f = Builder::new()
        .try_run(|| async {
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    let line = line!() - 3;
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    assert!(
        f.leaked_tasks()[0].contains(&format!(
            "spawned at async-testkit-tokio/tests/explore.rs:{line}:"
        )),
        "{f}"
    );
}

#[test]
fn dropping_a_join_set_aborts_its_tasks() {
    let report = Builder::new().try_run(|| async {
        let mut set = tokio::task::JoinSet::new();
        set.spawn(std::future::pending::<()>());
        set.spawn(std::future::pending::<()>());
        drop(set); // aborted: not leaked
    });
    report.unwrap();
}

#[test]
fn join_set_returns_tasks_as_they_finish_and_join_all_resumes_panics() {
    async_testkit::run(async {
        let mut set = tokio::task::JoinSet::new();
        for ms in [30u64, 10, 20] {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        let mut order = Vec::new();
        while let Some(r) = set.join_next_with_id().await {
            order.push(r.unwrap().1);
        }
        assert_eq!(order, [10, 20, 30]);
    });
    let f = Builder::new()
        .try_run(|| async {
            let set: tokio::task::JoinSet<()> = [async { panic!("in the set") }].into_iter().collect();
            set.join_all().await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(f.panic_messages().iter().any(|m| m.contains("in the set")), "{f}");
}

#[test]
fn tokios_macros_work_through_the_re_export() {
    async_testkit::run(async {
        let (a, b) = tokio::join!(async { 1 }, async { 2 });
        let c = tokio::select! {
            v = tokio::spawn(async { 3 }) => v.unwrap(),
            _ = tokio::time::sleep(Duration::from_secs(1)) => 0,
        };
        assert_eq!(a + b + c, 6);
    });
}

#[tokio::main(flavor = "current_thread")]
async fn plain_main() -> u32 {
    tokio::spawn(async { 7 }).await.unwrap()
}

#[test]
fn tokio_main_works_through_the_re_export() {
    assert_eq!(plain_main(), 7);
}

#[test]
fn a_tokio_spawned_task_spawned_from_a_tokio_task_is_a_kit_task_too() {
    // Code reached from a task that tokio runs (here the runtime's own spawn) still
    // starts kit tasks while the run is on this thread.
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    async_testkit::run(async move {
        let outer = tokio::runtime::Handle::current().spawn(async move {
            let inner = tokio::spawn(async { async_testkit::task::try_id().is_some() });
            inner.await.unwrap()
        });
        if outer.await.unwrap() {
            s.fetch_add(1, SeqCst);
        }
    });
    assert_eq!(seen.load(SeqCst), 1);
}

#[test]
fn an_exploration_of_routed_tasks_has_nothing_left_unexplored() {
    let r = Builder::new()
        .strategy(Strategy::Dfs { max_preemptions: 2 })
        .explore(1000)
        .try_run(|| async {
            let a = tokio::spawn(async { tokio::task::yield_now().await });
            let b = tokio::spawn(async { tokio::task::yield_now().await });
            a.await.unwrap();
            b.await.unwrap();
        })
        .unwrap();
    assert_eq!(r.tokio_tasks(), 0);
    assert!(r.exhausted(), "every kit-task order within the bound was run");
    assert!(
        r.warnings().iter().all(|w| !w.starts_with("not explored")),
        "{:?}",
        r.warnings()
    );
}

#[test]
fn the_handles_are_send_sync_and_unpin_as_tokios_are() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<tokio::task::JoinHandle<u8>>();
    send_sync_unpin::<tokio::task::AbortHandle>();
    send_sync_unpin::<tokio::task::JoinError>();
    send_sync_unpin::<tokio::task::JoinSet<u8>>();
    send_sync_unpin::<tokio::task::Id>();
    // A handle moved into another task and awaited there.
    async_testkit::run(async {
        let h = tokio::spawn(async { 5 });
        let waiter = tokio::spawn(async move { h.await.unwrap() });
        assert_eq!(waiter.await.unwrap(), 5);
    });
}

/// tokio's unstable builder (`RUSTFLAGS="--cfg tokio_unstable"`, feature `tracing`): a
/// named kit task inside a run.
#[cfg(all(tokio_unstable, feature = "tracing"))]
#[test]
fn the_unstable_builder_names_a_kit_task() {
    let f = Builder::new()
        .try_run(|| async {
            tokio::task::Builder::new()
                .name("flusher")
                .spawn(std::future::pending::<()>())
                .unwrap();
        })
        .unwrap_err();
    assert!(f.leaked_tasks()[0].contains("\"flusher\""), "{f}");
}

#[test]
fn try_join_next_keeps_the_wakeup_of_a_pending_join_next() {
    // A Pending poll_join_next, then try_join_next in the same poll: the set must still
    // wake its waiter when the task finishes (a no-op waker would take the wakeup away).
    let got = async_testkit::run(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut set = tokio::task::JoinSet::new();
        set.spawn(async move { rx.await.unwrap() });
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            tx.send(4).unwrap();
        });
        std::future::poll_fn(|cx| match set.poll_join_next(cx) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(r.unwrap().unwrap()),
            std::task::Poll::Pending => {
                assert!(set.try_join_next().is_none());
                std::task::Poll::Pending
            }
        })
        .await
    });
    assert_eq!(got, 4);
}
