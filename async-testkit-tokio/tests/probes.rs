//! Hostile probes: what real code written against tokio's task API does, asserted to behave
//! (and print) as tokio's does, both for kit tasks (inside a run) and tokio's (outside one).
#![cfg(feature = "explore")]

extern crate async_testkit_tokio as tokio;

use std::future::Future;
use std::sync::{Arc, Mutex};

/// The texts tokio's task types print, with each task's id written as `{id}`.
async fn printed() -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: String, id: tokio::task::Id| out.push(s.replace(&id.to_string(), "{id}"));

    let h = tokio::spawn(std::future::pending::<()>());
    let id = h.id();
    push(format!("{id}|{id:?}"), id);
    push(format!("{h:?}"), id);
    push(format!("{:?}", h.abort_handle()), id);
    h.abort();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    let io: std::io::Error = e.into();
    push(io.to_string(), id);

    let h = tokio::spawn(async { panic!("boom") });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom");

    let h = tokio::spawn(async { panic!("{}", "fmt \"q\"") });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    e.into_panic();

    let h = tokio::spawn(async { std::panic::panic_any(7u8) });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    e.into_panic();

    let mut set = tokio::task::JoinSet::new();
    set.spawn(async {});
    out.push(format!("{set:?}"));
    set.shutdown().await;
    out
}

fn expected() -> Vec<String> {
    [
        "{id}|Id({id})",
        "JoinHandle { id: Id({id}) }",
        "AbortHandle { id: Id({id}) }",
        "task {id} was cancelled | JoinError::Cancelled(Id({id}))",
        "task was cancelled",
        "task {id} panicked with message \"boom\" | JoinError::Panic(Id({id}), \"boom\", ...)",
        "task {id} panicked with message \"fmt \\\"q\\\"\" | JoinError::Panic(Id({id}), \"fmt \\\"q\\\"\", ...)",
        "task {id} panicked | JoinError::Panic(Id({id}), ...)",
        "JoinSet { len: 1 }",
    ]
    .map(String::from)
    .to_vec()
}

fn on_tokio<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn kit_tasks_print_as_tokio_tasks_do() {
    assert_eq!(async_testkit::run(printed()), expected());
}

#[test]
fn tokio_tasks_print_as_tokio_prints_them() {
    assert_eq!(on_tokio(printed()), expected());
}

#[test]
fn kit_task_ids_print_as_tokio_ids() {
    async_testkit::run(async {
        let h = tokio::spawn(std::future::pending::<()>());
        // The body is kit task 0, its first spawn 1.
        assert_eq!(format!("{:?} {}", h.id(), h.id()), "Id(1) 1");
        assert_eq!(format!("{:#?}", h.id()), "Id(\n    1,\n)");
        assert_eq!(format!("{h:?}"), "JoinHandle { id: Id(1) }");
        h.abort();
        let e = h.await.unwrap_err();
        assert_eq!(format!("{e:?}"), "JoinError::Cancelled(Id(1))");
        assert_eq!(e.to_string(), "task 1 was cancelled");
    });
}

#[test]
fn into_panic_of_a_cancelled_task_panics_with_tokios_message() {
    for in_run in [true, false] {
        let program = async {
            let h = tokio::spawn(std::future::pending::<()>());
            h.abort();
            let e = h.await.unwrap_err();
            let id = e.id();
            let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.into_panic()))
                .map(|_| ())
                .unwrap_err();
            msg.downcast::<String>().unwrap().replace(&id.to_string(), "{id}")
        };
        let msg = if in_run {
            async_testkit::run(program)
        } else {
            on_tokio(program)
        };
        assert_eq!(
            msg,
            "`JoinError` reason is not a panic.: JoinError::Cancelled(Id({id}))"
        );
    }
}

#[test]
fn a_panic_turned_into_an_io_error_says_so_and_still_fails_the_run() {
    let io = on_tokio(async {
        let e = tokio::spawn(async { panic!("lost") }).await.unwrap_err();
        std::io::Error::from(e).to_string()
    });
    assert_eq!(io, "task panicked");
    // In a run, the payload is not taken by the conversion: the panic fails the test, as
    // any kit task's panic that the test does not take (README, the table of differences).
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            let e = tokio::spawn(async { panic!("lost") }).await.unwrap_err();
            assert_eq!(std::io::Error::from(e).to_string(), "task panicked");
        })
        .unwrap_err();
    assert_eq!(f.kind(), async_testkit::FailureKind::Panic, "{f}");
    assert!(f.panic_messages()[0].contains("lost"), "{f}");
}

/// Runs `program` in a kit run and on a plain tokio runtime: both must give `want`.
fn both<F, Fut, T>(program: F, want: T)
where
    F: Fn() -> Fut,
    Fut: Future<Output = T> + 'static,
    T: PartialEq + std::fmt::Debug + 'static,
{
    assert_eq!(async_testkit::run(program()), want, "in a kit run");
    assert_eq!(
        on_tokio(tokio::task::LocalSet::new().run_until(program())),
        want,
        "on tokio"
    );
}

#[test]
fn join_set_edge_cases_behave_as_tokios() {
    both(
        || async {
            let mut set = tokio::task::JoinSet::<u8>::new();
            let mut out = vec![format!("{:?}", set.join_next().await.is_none())];
            set.spawn(std::future::pending());
            set.shutdown().await;
            out.push(format!("{} {:?}", set.len(), set.try_join_next().is_none()));
            // A set is usable again after shutdown.
            set.spawn(async { 4 });
            out.push(format!("{:?}", set.join_next().await.unwrap().unwrap()));
            // Abort, then join_next_with_id: the cancelled error names the task.
            let abort = set.spawn(std::future::pending());
            abort.abort();
            let e = set.join_next_with_id().await.unwrap().unwrap_err();
            out.push(format!("{} {}", e.is_cancelled(), e.id() == abort.id()));
            out.push(format!("{}", abort.is_finished()));
            // An id from join_next_with_id is the one spawn's handle gave.
            let h = set.spawn(async { 5 });
            let (id, v) = set.join_next_with_id().await.unwrap().unwrap();
            out.push(format!("{} {v}", id == h.id()));
            out
        },
        ["true", "0 true", "4", "true true", "true", "true 5"]
            .map(String::from)
            .to_vec(),
    );
}

#[test]
fn handles_of_finished_tasks_behave_as_tokios() {
    both(
        || async {
            let h = tokio::spawn(async { 1 });
            let abort = h.abort_handle();
            while !h.is_finished() {
                tokio::task::yield_now().await;
            }
            // Aborting a finished task changes nothing: its output is still there.
            h.abort();
            let v = h.await.unwrap();
            // The abort handle outlives the JoinHandle.
            abort.abort();
            (v, abort.is_finished())
        },
        (1, true),
    );
}

#[test]
fn select_over_join_handles_behaves_as_tokios() {
    both(
        || async {
            let mut slow = tokio::spawn(std::future::pending::<u8>());
            let fast = tokio::spawn(async { 2u8 });
            let got = tokio::select! {
                r = &mut slow => r.unwrap(),
                r = fast => r.unwrap(),
            };
            slow.abort();
            (got, slow.await.unwrap_err().is_cancelled())
        },
        (2, true),
    );
}

tokio::task_local! {
    static TRACE: u32;
}

#[test]
fn task_locals_do_not_cross_a_spawn_as_in_tokio() {
    both(
        || {
            TRACE.scope(7, async {
                let inside = TRACE.get();
                let spawned = tokio::spawn(async { TRACE.try_with(|v| *v).is_err() });
                let scoped = tokio::spawn(TRACE.scope(8, async { TRACE.get() }));
                (inside, spawned.await.unwrap(), scoped.await.unwrap())
            })
        },
        (7, true, 8),
    );
}

#[test]
fn budget_and_unconstrained_work_in_routed_tasks() {
    both(
        || async {
            let h = tokio::spawn(async {
                for _ in 0..300 {
                    tokio::task::consume_budget().await;
                }
                tokio::task::unconstrained(async { tokio::task::coop::has_budget_remaining() }).await
            });
            h.await.unwrap()
        },
        true,
    );
}

/// How many of 300 finished tasks a loop joins (through their handles, or a `JoinSet`)
/// before a task spawned ahead of the loop runs: each join spends a unit of the
/// cooperative budget, as tokio's `JoinHandle` does, and the loop yields when it is spent.
async fn joins_before_a_sibling_runs(through_a_set: bool) -> usize {
    let joined = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    let mut handles = Vec::new();
    for i in 0..300u32 {
        if through_a_set {
            set.spawn(async move { i });
        } else {
            handles.push(tokio::spawn(async move { i }));
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1)).await; // all finish meanwhile
    let seen = joined.clone();
    let sibling = tokio::spawn(async move { seen.load(std::sync::atomic::Ordering::SeqCst) });
    let count = || joined.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if through_a_set {
        while let Some(r) = set.join_next().await {
            r.unwrap();
            count();
        }
    } else {
        for h in handles {
            h.await.unwrap();
            count();
        }
    }
    sibling.await.unwrap()
}

#[test]
fn joins_spend_the_budget_as_tokios() {
    for through_a_set in [false, true] {
        let on_tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(joins_before_a_sibling_runs(through_a_set));
        let in_a_run = async_testkit::run(joins_before_a_sibling_runs(through_a_set));
        // The sleep spent one unit of the 128.
        assert_eq!((in_a_run, on_tokio), (127, 127), "through a set: {through_a_set}");
    }
}

#[test]
fn spawns_from_blocking_threads_tokio_tasks_and_drop_work() {
    struct SpawnOnDrop;
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            drop(tokio::spawn(async {}));
        }
    }
    both(
        || async {
            // spawn_blocking inside a routed task, which spawns back onto the runtime.
            let inner = tokio::spawn(async {
                tokio::task::spawn_blocking(|| tokio::spawn(async { 3u8 }))
                    .await
                    .unwrap()
                    .await
                    .unwrap()
            });
            // A tokio task that spawns through the re-export.
            let nested =
                tokio::runtime::Handle::current().spawn(async { tokio::spawn(async { 4u8 }).await.unwrap() });
            // A spawn from a Drop inside a routed task.
            tokio::spawn(async { drop(SpawnOnDrop) }).await.unwrap();
            (inner.await.unwrap(), nested.await.unwrap())
        },
        (3, 4),
    );
}

#[test]
fn a_local_join_set_of_non_send_tasks_works() {
    both(
        || async {
            let shared = std::rc::Rc::new(std::cell::Cell::new(0));
            let mut set = tokio::task::JoinSet::new();
            for i in 1..=3 {
                let s = shared.clone();
                set.spawn_local(async move { s.set(s.get() + i) });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            shared.get()
        },
        6,
    );
}

/// Every public item of `tokio::task` is there under the same path with the feature on.
#[test]
fn every_item_of_tokios_task_module_is_reexported() {
    #[allow(unused_imports)]
    use tokio::task::{
        AbortHandle, Id, JoinError, JoinHandle, JoinSet, LocalEnterGuard, LocalKey, LocalSet, Unconstrained,
        block_in_place, consume_budget, coop, futures::TaskLocalFuture, id, join_set, spawn, spawn_blocking,
        spawn_local, try_id, unconstrained, yield_now,
    };
    let _: fn() -> join_set::JoinSet<()> = join_set::JoinSet::new;
    let _ = coop::has_budget_remaining;
}

/// A difference kept (README, "Exploring code that uses `tokio::spawn`"): tokio's
/// current-thread runtime refuses `block_in_place` inside `block_on`; a kit run polls its
/// tasks outside `block_on` (with the runtime only entered), where tokio runs the closure
/// in place, as a multi-thread runtime's worker does. Code that calls it is written for
/// the multi-thread runtime, which a kit run stands in for, so it is left working.
#[test]
fn block_in_place_runs_in_place_in_a_run_where_tokios_current_thread_runtime_refuses_it() {
    let program = || async {
        std::panic::catch_unwind(|| tokio::task::block_in_place(|| 1)).map_err(|payload| {
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap()
        })
    };
    assert_eq!(async_testkit::run(program()), Ok(1));
    assert_eq!(
        on_tokio(program()),
        Err("can call blocking only when running on the multi-threaded runtime".to_string())
    );
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    assert_eq!(
        multi.block_on(async { tokio::spawn(program()).await.unwrap() }),
        Ok(1)
    );
}

/// Counts its wakes.
struct Count(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn poll_join_next_wakes_the_waker_of_its_last_poll_as_tokios() {
    both(
        || async {
            use std::sync::{Arc, atomic::Ordering::SeqCst};
            use std::task::{Context, Poll, Waker};
            let mut set = tokio::task::JoinSet::new();
            let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
            set.spawn(async move { rx.await.unwrap() });
            let a = Arc::new(Count(0.into()));
            let b = Arc::new(Count(0.into()));
            let first = set.poll_join_next(&mut Context::from_waker(&Waker::from(a.clone())));
            let second = set.poll_join_next(&mut Context::from_waker(&Waker::from(b.clone())));
            tx.send(9).unwrap();
            while b.0.load(SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            let Poll::Ready(Some(Ok(v))) =
                set.poll_join_next(&mut Context::from_waker(&Waker::from(b.clone())))
            else {
                panic!("the set was woken but is not ready");
            };
            (first.is_pending(), second.is_pending(), v, b.0.load(SeqCst) >= 1)
        },
        (true, true, 9, true),
    );
}

/// A difference kept (README table): every task of a run is polled on the run's one thread,
/// so `spawn_local` in a run needs no `LocalSet` (tokio offers no public way to tell
/// whether one is around); outside a `LocalSet` tokio panics.
#[test]
fn spawn_local_needs_no_local_set_in_a_run_where_tokio_panics() {
    let program = || async {
        std::panic::catch_unwind(|| drop(tokio::task::spawn_local(async {}))).map_err(|p| {
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap()
        })
    };
    assert_eq!(async_testkit::run(program()), Ok(()));
    assert_eq!(
        on_tokio(program()),
        Err("`spawn_local` called from outside of a `task::LocalSet` or `runtime::LocalRuntime`".to_string())
    );
}

#[test]
fn a_detached_task_of_a_join_set_runs_on() {
    both(
        || async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let mut set = tokio::task::JoinSet::new();
            set.spawn(async move { tx.send(5u8).unwrap() });
            set.detach_all();
            drop(set);
            rx.await.unwrap()
        },
        5,
    );
}

/// As tokio refuses a `block_on` inside a runtime, a run refuses to start inside a run.
#[test]
fn a_nested_run_is_refused() {
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            async_testkit::run(async { tokio::spawn(async {}).await.unwrap() });
        })
        .unwrap_err();
    assert_eq!(f.kind(), async_testkit::FailureKind::Panic, "{f}");
    assert!(
        f.panic_messages()[0].contains(
            "an async-testkit run was started inside another run (at async-testkit-tokio/tests/probes.rs:"
        ),
        "{f}"
    );
}

#[test]
fn a_panic_taken_from_a_join_set_leaves_the_run_passing() {
    both(
        || async {
            let mut set = tokio::task::JoinSet::new();
            let abort = set.spawn(async { panic!("in the set") });
            let e = set.join_next().await.unwrap().unwrap_err();
            let payload = e.into_panic();
            (
                *payload.downcast::<&str>().unwrap(),
                abort.is_finished(),
                set.is_empty(),
            )
        },
        ("in the set", true, true),
    );
}

/// Counts its drops.
struct Dropped(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A `spawn_local` task started inside a `LocalSet` belongs to the set: dropping the set
/// drops the task's future at once, and a task pending then is no leak (it was one before
/// the set owned its kit tasks: a correct test failed), also a task such a task started.
#[test]
fn dropping_a_local_set_drops_the_tasks_spawned_inside_it_as_tokios() {
    both(
        || async {
            let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let local = tokio::task::LocalSet::new();
            let (d1, d2) = (Dropped(dropped.clone()), Dropped(dropped.clone()));
            let v = local
                .run_until(async move {
                    tokio::task::spawn_local(async move {
                        let _d1 = d1;
                        tokio::task::spawn_local(async move {
                            let _d2 = d2;
                            std::future::pending::<()>().await
                        });
                        std::future::pending::<()>().await
                    });
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                    5
                })
                .await;
            let before = dropped.load(std::sync::atomic::Ordering::SeqCst);
            drop(local);
            (v, before, dropped.load(std::sync::atomic::Ordering::SeqCst))
        },
        (5, 0, 2),
    );
}

/// Awaiting a `LocalSet` waits for the tasks started in it (after `enter`), kit tasks too.
#[test]
fn awaiting_a_local_set_waits_for_its_tasks_as_tokios() {
    both(
        || async {
            let local = tokio::task::LocalSet::new();
            let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            {
                let _in = local.enter();
                let l = log.clone();
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    l.borrow_mut().push("task");
                });
            }
            let l = log.clone();
            let mine: tokio::task::JoinHandle<()> =
                local.spawn_local(async move { l.borrow_mut().push("tokio's") });
            local.await;
            mine.await.unwrap();
            log.borrow().clone()
        },
        vec!["tokio's", "task"],
    );
}

/// An exploration orders the tasks a `LocalSet`'s future starts: nothing is left to tokio.
#[test]
fn tasks_spawned_in_a_local_set_are_explored() {
    let r = async_testkit::Builder::new()
        .strategy(async_testkit::Strategy::Dfs { max_preemptions: 2 })
        .explore(1000)
        .try_run(|| async {
            tokio::task::LocalSet::new()
                .run_until(async {
                    let a = tokio::task::spawn_local(async { tokio::task::yield_now().await });
                    let b = tokio::task::spawn_local(async { tokio::task::yield_now().await });
                    a.await.unwrap();
                    b.await.unwrap();
                })
                .await
        })
        .unwrap();
    assert!(r.schedules() > 1, "{}", r.schedules());
    assert_eq!(r.tokio_tasks(), 0);
    assert!(r.exhausted());
}

type Log = Arc<Mutex<Vec<String>>>;
fn push(l: &Log, s: impl Into<String>) {
    l.lock().unwrap().push(s.into());
}

/// Tasks that yield, wake each other, spawn and join, and what order they log in.
async fn interleaving() -> Vec<String> {
    let log: Log = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
    let l = log.clone();
    let a = tokio::spawn(async move {
        for i in 0..3 {
            tx.send(i).await.unwrap();
            push(&l, format!("sent {i}"));
        }
    });
    let l = log.clone();
    let b = tokio::spawn(async move {
        while let Some(i) = rx.recv().await {
            push(&l, format!("got {i}"));
        }
    });
    push(&log, "body before yield");
    tokio::task::yield_now().await;
    push(&log, "body after yield");
    a.await.unwrap();
    b.await.unwrap();
    let n = Arc::new(tokio::sync::Notify::new());
    let mut hs = vec![];
    for i in 0..3 {
        let n = n.clone();
        let l = log.clone();
        hs.push(tokio::spawn(async move {
            n.notified().await;
            push(&l, format!("notified {i}"));
        }));
    }
    tokio::task::yield_now().await;
    n.notify_waiters();
    push(&log, "after notify");
    for h in hs {
        h.await.unwrap();
    }
    let h4 = tokio::spawn(async { tokio::spawn(async { 2 }).await.unwrap() });
    tokio::task::yield_now().await;
    push(&log, format!("h4 finished after 1 yield={}", h4.is_finished()));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..4u64 {
        set.spawn(async move {
            if i % 2 == 0 {
                tokio::task::yield_now().await;
            }
            i
        });
    }
    let mut order = vec![];
    while let Some(r) = set.join_next().await {
        order.push(r.unwrap());
    }
    push(&log, format!("joinset {order:?}"));
    let mut hs = vec![];
    for i in 0..2 {
        let l = log.clone();
        hs.push(tokio::spawn(async move {
            for j in 0..2 {
                push(&l, format!("t{i} step{j}"));
                tokio::task::yield_now().await;
            }
        }));
    }
    for j in 0..2 {
        push(&log, format!("body step{j}"));
        tokio::task::yield_now().await;
    }
    for h in hs {
        h.await.unwrap();
    }
    let m = Arc::new(tokio::sync::Mutex::new(()));
    let g = m.lock().await;
    let mut hs = vec![];
    for i in 0..3 {
        let m = m.clone();
        let l = log.clone();
        hs.push(tokio::spawn(async move {
            let _g = m.lock().await;
            push(&l, format!("lock {i}"));
            tokio::task::yield_now().await;
        }));
    }
    tokio::task::yield_now().await;
    drop(g);
    for h in hs {
        h.await.unwrap();
    }
    log.lock().unwrap().clone()
}

/// The order of a run that does not explore is tokio's, around `yield_now` too: a task
/// that yields runs again once no other task is ready (the newest yield first), and the
/// body, as tokio's `block_on` future, runs when no other woken task is ready.
#[test]
fn the_default_order_is_tokios_around_yield_now() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    assert_eq!(async_testkit::run(interleaving()), rt.block_on(interleaving()));
}

/// `enter` guards dropped out of order put back what they found, as tokio's do: a task
/// started after each drop belongs to the set tokio would give it.
#[test]
fn local_set_guards_dropped_out_of_order_restore_what_they_found() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    both(
        || async {
            let (d_a, d_outer) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let pending = |d: &Arc<AtomicUsize>| {
                let d = Dropped(d.clone());
                async move {
                    let _d = d;
                    std::future::pending::<()>().await
                }
            };
            let outer = tokio::task::LocalSet::new();
            let (da, dout) = (d_a.clone(), d_outer.clone());
            let seen = outer
                .run_until(async move {
                    let (a, b) = (tokio::task::LocalSet::new(), tokio::task::LocalSet::new());
                    let ga = a.enter(); // found `outer`
                    let gb = b.enter(); // found `a`
                    drop(ga); // `outer` is current again
                    tokio::task::spawn_local(pending(&dout));
                    drop(gb); // `a` is current again
                    tokio::task::spawn_local(pending(&da));
                    drop(b);
                    let after_b = (da.load(SeqCst), dout.load(SeqCst));
                    drop(a);
                    (after_b, (da.load(SeqCst), dout.load(SeqCst)))
                })
                .await;
            drop(outer);
            (seen, d_outer.load(SeqCst))
        },
        (((0, 0), (1, 0)), 1),
    );
}

/// A task a destructor starts while the set drops its tasks is dropped too, unpolled.
#[test]
fn a_task_started_while_a_local_set_drops_is_dropped_unpolled() {
    struct SpawnsOnDrop(std::rc::Rc<std::cell::Cell<(u32, u32)>>);
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            let seen = self.0.clone();
            struct Counted(std::rc::Rc<std::cell::Cell<(u32, u32)>>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    let (ran, dropped) = self.0.get();
                    self.0.set((ran, dropped + 1));
                }
            }
            let c = Counted(seen.clone());
            tokio::task::spawn_local(async move {
                let (ran, dropped) = c.0.get();
                c.0.set((ran + 1, dropped));
            });
        }
    }
    both(
        || async {
            let seen = std::rc::Rc::new(std::cell::Cell::new((0, 0)));
            let local = tokio::task::LocalSet::new();
            let s = SpawnsOnDrop(seen.clone());
            local
                .run_until(async move {
                    tokio::task::spawn_local(async move {
                        let _s = s;
                        std::future::pending::<()>().await
                    });
                    tokio::task::yield_now().await;
                })
                .await;
            drop(local);
            tokio::task::yield_now().await;
            seen.get()
        },
        (0, 1),
    );
}
