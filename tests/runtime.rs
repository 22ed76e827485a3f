//! The runtime and scheduler: tasks, join handles, tokio interop, strategies, misuse.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use async_testkit::{Builder, FailureKind, Strategy, spawn, task, time, yield_point};

type Log = Rc<RefCell<Vec<&'static str>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn run_returns_the_body_value_and_the_body_is_task_zero() {
    let r = Builder::new()
        .try_run(|| async {
            let h = spawn(async { 2 });
            h.await.unwrap() * 21
        })
        .unwrap();
    assert_eq!(*r.value(), 42);
    assert_eq!(r.tasks_spawned(), 2);
    assert!(
        r.timeline().contains("#0 test body: spawned #1"),
        "{}",
        r.timeline()
    );
}

#[test]
fn kit_tasks_need_not_be_send() {
    async_testkit::run(async {
        let shared = Rc::new(RefCell::new(0));
        let s = shared.clone();
        spawn(async move { *s.borrow_mut() += 1 }).await.unwrap();
        assert_eq!(*shared.borrow(), 1);
    });
}

#[test]
fn tasks_spawned_by_tasks_run_and_are_named_in_the_trace() {
    let r = Builder::new()
        .try_run(|| async {
            let outer = task::Builder::new().name("outer").spawn(async {
                let inner = task::Builder::new().name("inner").spawn(async { 7 });
                inner.await.unwrap()
            });
            outer.await.unwrap()
        })
        .unwrap();
    assert_eq!(*r.value(), 7);
    assert!(
        r.timeline().contains("#1 \"outer\": spawned #2 \"inner\""),
        "{}",
        r.timeline()
    );
}

#[test]
fn fifo_runs_ready_tasks_in_wake_order_and_yield_point_lets_others_run() {
    let order = async_testkit::run(async {
        let l = log();
        let (a, b) = (l.clone(), l.clone());
        let ha = spawn(async move {
            a.borrow_mut().push("a1");
            yield_point().await;
            a.borrow_mut().push("a2");
        });
        let hb = spawn(async move {
            b.borrow_mut().push("b1");
            tokio::task::yield_now().await;
            b.borrow_mut().push("b2");
        });
        ha.await.unwrap();
        hb.await.unwrap();
        l.borrow().clone()
    });
    assert_eq!(order, ["a1", "b1", "a2", "b2"]);
}

/// The trap DESIGN.md describes: inside tokio's block_on every `yield_now` wake is
/// deferred to the next tick, so a task that yields could never be chosen again while
/// another task is ready. The kit polls outside block_on: some schedule must run the
/// yielding task twice in a row.
#[test]
fn a_task_yielding_with_tokio_yield_now_can_be_chosen_again_before_another_ready_task() {
    let orders = orders_under_random_schedules(|| async {
        let l = log();
        let (a, b) = (l.clone(), l.clone());
        let ha = spawn(async move {
            a.borrow_mut().push("a1");
            tokio::task::yield_now().await;
            a.borrow_mut().push("a2");
        });
        let hb = spawn(async move { b.borrow_mut().push("b") });
        ha.await.unwrap();
        hb.await.unwrap();
        l.borrow().clone()
    });
    assert!(
        orders.contains(&vec!["a1", "a2", "b"]),
        "no schedule ran the yielding task again while another was ready: {orders:?}"
    );
    assert!(
        orders.contains(&vec!["a1", "b", "a2"]),
        "no schedule switched at the yield: {orders:?}"
    );
}

/// Every order of events that 64 seeded random schedules of `body` produce.
fn orders_under_random_schedules<F, Fut>(body: F) -> std::collections::BTreeSet<Vec<&'static str>>
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Vec<&'static str>> + 'static,
{
    (0..64)
        .map(|seed| {
            Builder::new()
                .strategy(Strategy::Random)
                .seed(seed)
                .run(body.clone())
        })
        .collect()
}

/// While every task waits, the kit polls a lone woken task inside tokio's `block_on`
/// (the fast path). There `tokio::task::yield_now()` leaves its wake with tokio: the task
/// must still come back, and still be a choice against a task it woke on the way.
#[test]
fn a_task_woken_by_a_timer_that_wakes_another_and_yields_is_still_a_choice() {
    let orders = orders_under_random_schedules(|| async {
        let l = log();
        let (a, b) = (l.clone(), l.clone());
        let go = Rc::new(tokio::sync::Notify::new());
        let go2 = go.clone();
        let ha = spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            go.notify_one();
            tokio::task::yield_now().await;
            a.borrow_mut().push("a");
        });
        let hb = spawn(async move {
            go2.notified().await;
            b.borrow_mut().push("b");
        });
        ha.await.unwrap();
        hb.await.unwrap();
        assert_eq!(time::elapsed(), Duration::from_secs(1));
        l.borrow().clone()
    });
    let want: std::collections::BTreeSet<Vec<&str>> = [vec!["a", "b"], vec!["b", "a"]].into();
    assert_eq!(orders, want);
}

#[test]
fn tokio_spawn_sync_and_select_work_inside_a_run() {
    async_testkit::run(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let producer = tokio::spawn(async move {
            for i in 0..3 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                tx.send(i).await.unwrap();
            }
        });
        let mutex = std::sync::Arc::new(tokio::sync::Mutex::new(0));
        let m = mutex.clone();
        let mut got = Vec::new();
        loop {
            tokio::select! {
                biased;
                Some(v) = rx.recv() => {
                    *m.lock().await += v;
                    got.push(v);
                }
                _ = tokio::time::sleep(Duration::from_secs(10)) => break,
            }
        }
        producer.await.unwrap();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(*mutex.lock().await, 3);
        assert_eq!(time::elapsed(), Duration::from_secs(13));
    });
}

/// An echo over a loopback socket.
async fn echo_over_loopback() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
    });
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    server.await.unwrap();
}

#[test]
fn loopback_sockets_work_with_io_enabled() {
    async_testkit::run(echo_over_loopback());
}

#[test]
fn an_exploration_turns_the_io_driver_on_when_a_schedule_needs_it() {
    let r = Builder::new().explore(5).try_run(echo_over_loopback).unwrap();
    assert_eq!(r.schedules(), 5);
}

/// A panic for want of the driver counts even when the test takes it as expected: the
/// schedule runs again with the driver, so the test sees what it would have seen.
#[test]
fn a_schedule_that_panicked_for_want_of_the_io_driver_runs_again_with_it() {
    let r = Builder::new()
        .explore(3)
        .try_run(|| async {
            let bind = spawn(async {
                tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            });
            match bind.await {
                Ok(()) => "bound",
                Err(e) => {
                    drop(e.into_panic());
                    "panicked"
                }
            }
        })
        .unwrap();
    assert_eq!(*r.value(), "bound");
}

/// An exploration keeps its tokio runtime from schedule to schedule only when nothing of
/// a run lives on in it: a tokio task that one schedule left running must not tick on
/// into the next.
#[test]
fn a_tokio_task_left_running_by_one_schedule_is_gone_in_the_next() {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    static TICKS: AtomicU32 = AtomicU32::new(0);
    let r = Builder::new()
        .leaks(async_testkit::Policy::Warn)
        .explore(4)
        .try_run(|| async {
            TICKS.store(0, SeqCst);
            tokio::spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    TICKS.fetch_add(1, SeqCst);
                }
            });
            tokio::time::sleep(Duration::from_millis(10_500)).await;
            TICKS.load(SeqCst)
        })
        .unwrap();
    assert_eq!(r.schedules(), 4);
    assert_eq!(*r.value(), 10);
}

/// tokio's own queue is a choice while it has tasks, but a turn that finds nothing to run
/// does not move the clock: a schedule that always prefers tokio (as a PCT priority can)
/// must not spin there while a kit task is ready.
#[test]
fn a_schedule_that_always_prefers_tokio_still_runs_the_ready_kit_task() {
    let always_tokio = async_testkit::Schedule::from_choices(vec![1; 100_000]);
    let r = Builder::new()
        .leaks(async_testkit::Policy::Warn)
        .replay(always_tokio)
        .try_run(|| async {
            tokio::spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
            tokio::time::sleep(Duration::from_millis(10_500)).await;
            time::elapsed()
        })
        .unwrap();
    assert_eq!(*r.value(), Duration::from_millis(10_500));
    assert!(
        r.schedule().choices().len() < 10,
        "{} choices",
        r.schedule().choices().len()
    );
}

/// A schedule that leaves tokio's clock running (`tokio::time::resume`) fails, and cannot
/// hand its runtime on (the clock can no longer be moved to a fresh origin): the replays
/// that check the failure get fresh runtimes and fail the same way.
#[test]
fn a_schedule_that_leaves_the_clock_running_does_not_spoil_the_next() {
    let f = Builder::new()
        .explore(3)
        .try_run(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            tokio::time::resume();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation, "{f}");
    assert!(
        f.headline().starts_with(
            "virtual time was turned off: tokio::time::resume() was called in a poll of task #0 test body at +5.000s"
        ),
        "{f}"
    );
    // The replays' event times after the call are real-time readings: they differ without
    // the test being at fault, and the headline already names the cause.
    assert!(!f.to_string().contains("nondeterminism"), "{f}");
}

/// Work on tokio's blocking pool inside an exploration (such a runtime is not kept).
#[test]
fn spawn_blocking_works_in_every_schedule_of_an_exploration() {
    let r = Builder::new()
        .explore(5)
        .try_run(|| async { tokio::task::spawn_blocking(|| 6 * 7).await.unwrap() })
        .unwrap();
    assert_eq!((r.schedules(), *r.value()), (5, 42));
}

/// Even a panic caught inside the test's own code counts: the kit hears of it first.
#[test]
fn a_panic_for_want_of_the_io_driver_counts_even_when_the_test_catches_it() {
    let r = Builder::new()
        .explore(3)
        .try_run(|| async {
            std::panic::catch_unwind(|| {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.set_nonblocking(true).unwrap();
                tokio::net::TcpListener::from_std(l).is_ok()
            })
            .unwrap_or(false)
        })
        .unwrap();
    assert!(*r.value(), "the schedule ran without the I/O driver");
}

#[test]
fn an_exploration_with_io_turned_off_fails_where_sockets_are_used() {
    let f = Builder::new()
        .io(false)
        .explore(5)
        .try_run(echo_over_loopback)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(
        f.headline().contains("IO is disabled. Call `enable_io`"),
        "{}",
        f.headline()
    );
}

#[test]
fn abort_cancels_a_task_and_its_handle_reports_it() {
    async_testkit::run(async {
        let dropped = Rc::new(RefCell::new(false));
        struct Guard(Rc<RefCell<bool>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                *self.0.borrow_mut() = true;
            }
        }
        let g = Guard(dropped.clone());
        let h = task::Builder::new().name("sleeper").spawn(async move {
            let _g = g;
            tokio::time::sleep(Duration::from_secs(100)).await;
        });
        time::run_until_idle().await;
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert!(!err.is_panic());
        assert!(*dropped.borrow(), "the task's future was dropped");
        assert!(
            err.to_string()
                .starts_with("task #1 \"sleeper\" (spawned at tests/runtime.rs:"),
            "{err}"
        );
        assert!(err.to_string().ends_with("was cancelled"), "{err}");
        assert_eq!(time::elapsed(), Duration::ZERO);
    });
}

#[test]
fn abort_after_completion_keeps_the_value() {
    async_testkit::run(async {
        let h = spawn(async { 5 });
        time::run_until_idle().await;
        assert!(h.is_finished());
        h.abort();
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn join_handles_can_be_awaited_from_tokio_tasks_of_the_same_run() {
    async_testkit::run(async {
        let h = spawn(async { "kit" });
        let t = tokio::spawn(async move { h.await.unwrap() });
        assert_eq!(t.await.unwrap(), "kit");
    });
}

#[test]
fn random_strategy_is_reproducible_and_seeds_change_the_interleaving() {
    let order = |seed| {
        Builder::new()
            .strategy(Strategy::Random)
            .seed(seed)
            .run(|| async {
                let l = log();
                let names = ["a", "b", "c", "d", "e"];
                let hs: Vec<_> = names
                    .into_iter()
                    .map(|n| {
                        let l = l.clone();
                        spawn(async move {
                            l.borrow_mut().push(n);
                            yield_point().await;
                            l.borrow_mut().push(n);
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
                l.borrow().clone()
            })
    };
    assert_eq!(order(11), order(11));
    let distinct: std::collections::BTreeSet<_> = (0..20).map(order).collect();
    assert!(
        distinct.len() > 5,
        "20 seeds gave only {} interleavings",
        distinct.len()
    );
}

/// Two tasks increment a counter with a yield point between read and write.
async fn lost_update() {
    let counter = Rc::new(RefCell::new(0));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let c = counter.clone();
            spawn(async move {
                let v = *c.borrow();
                yield_point().await;
                *c.borrow_mut() = v + 1;
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(*counter.borrow(), 2, "lost update");
}

/// The body assumes the task it spawned has run by the time its yield point returns:
/// true under FIFO, false when the scheduler keeps the body running (one preemption).
async fn needs_one_preemption() {
    let t = task::Builder::new().name("setter").spawn(async {});
    yield_point().await;
    assert!(t.is_finished(), "the setter had not run yet");
    t.await.unwrap();
}

#[test]
fn explore_runs_the_portfolio_and_reports_a_minimal_failing_schedule() {
    let r = Builder::new().explore(50).try_run(|| async {}).unwrap();
    assert_eq!(r.schedules(), 50);
    assert_eq!(r.strategy(), Strategy::Portfolio);

    let f = Builder::new()
        .explore(200)
        .name("lost_update")
        .try_run(lost_update)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    // FIFO itself interleaves at the yield point: no preemption is needed.
    assert_eq!(f.schedule().preemptions(), 0);
    let text = f.to_string();
    assert!(text.contains("found on schedule 1 of 200"), "{text}");
    assert!(text.contains("minimised to 0 preemptions"), "{text}");

    let f = Builder::new()
        .explore(200)
        .name("one_preemption")
        .try_run(needs_one_preemption)
        .unwrap_err();
    assert_eq!(f.panic_messages(), ["the setter had not run yet"]);
    assert_eq!(f.schedule().preemptions(), 1);
    let text = f.to_string();
    assert!(text.contains("minimised to 1 preemption (from "), "{text}");
    assert!(
        text.contains("a preemption)"),
        "the timeline marks the preemption:\n{text}"
    );
    let token = f.schedule().to_token();
    assert!(
        text.ends_with(&format!(
            "replay: ASYNC_TESTKIT_REPLAY={token} cargo test -- --exact one_preemption"
        )),
        "{text}"
    );
    let trace = text
        .lines()
        .find_map(|l| l.strip_prefix("chrome trace: "))
        .unwrap();
    let path = trace.split(" (open in").next().unwrap();
    let json = std::fs::read_to_string(path).unwrap();
    assert!(json.contains("\"#1 \\\"setter\\\"\""), "{json}");

    // The token replays the same failure, on its own.
    let again = Builder::new()
        .replay(async_testkit::Schedule::from_token(&token).unwrap())
        .try_run(needs_one_preemption)
        .unwrap_err();
    assert_eq!(again.panic_messages(), f.panic_messages());
    assert_eq!(again.schedule(), f.schedule());
}

#[test]
fn bounded_dfs_finds_what_its_bound_allows_and_says_when_it_is_exhausted() {
    let r = Builder::new()
        .strategy(Strategy::Dfs { max_preemptions: 0 })
        .explore(100)
        .try_run(needs_one_preemption)
        .unwrap();
    assert!(r.exhausted());
    assert_eq!(r.schedules(), 1);

    let f = Builder::new()
        .strategy(Strategy::Dfs { max_preemptions: 1 })
        .explore(100)
        .try_run(needs_one_preemption)
        .unwrap_err();
    assert_eq!(f.schedule().preemptions(), 1);
    assert!(f.to_string().contains("strategy dfs1"), "{f}");
}

#[test]
fn every_strategy_finds_the_one_preemption_bug() {
    for strategy in [
        Strategy::Random,
        Strategy::Pct { depth: 1 },
        Strategy::Pct { depth: 2 },
        Strategy::Portfolio,
    ] {
        let f = Builder::new()
            .strategy(strategy)
            .explore(100)
            .try_run(needs_one_preemption);
        assert!(f.is_err(), "{strategy} missed it");
    }
}

#[test]
fn seed_is_visible_inside_the_run() {
    assert_eq!(
        Builder::new().seed(1234).run(|| async { async_testkit::seed() }),
        1234
    );
}

// ---- misuse -------------------------------------------------------------------------

#[test]
fn spawn_outside_a_run_says_where_and_what_to_do() {
    let m = support::caught_panic(|| {
        drop(spawn(async {}));
    });
    assert!(
        m.starts_with("async_testkit::spawn was called outside an async-testkit run."),
        "{m}"
    );
    assert!(m.contains("#[async_testkit::test]"), "{m}");
}

#[test]
fn time_functions_outside_a_run_panic_clearly() {
    let m = support::caught_panic(|| {
        time::elapsed();
    });
    assert!(
        m.starts_with("async_testkit::time::elapsed was called outside an async-testkit run."),
        "{m}"
    );
    let m = support::caught_panic(|| {
        drop(time::advance(Duration::from_secs(1)));
    });
    assert!(
        m.starts_with("async_testkit::time::advance was called outside"),
        "{m}"
    );
    let m = support::caught_panic(|| {
        async_testkit::seed();
    });
    assert!(m.starts_with("async_testkit::seed was called outside"), "{m}");
}

#[test]
fn a_run_inside_a_run_is_refused() {
    let f = Builder::new()
        .try_run(|| async {
            async_testkit::run(async {});
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(
        f.panic_messages()[0]
            .starts_with("an async-testkit run was started inside another run (at tests/runtime.rs:"),
        "{f}"
    );
    assert!(f.panic_messages()[0].contains("use async_testkit::spawn"), "{f}");
}

#[test]
fn a_run_inside_a_tokio_runtime_is_refused() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let m = support::caught_panic(move || rt.block_on(async { async_testkit::run(async {}) }));
    assert!(
        m.starts_with("an async-testkit run was started inside a tokio runtime (at tests/runtime.rs:"),
        "{m}"
    );
    assert!(
        m.contains("use #[async_testkit::test] instead of #[tokio::test]"),
        "{m}"
    );
}

#[test]
#[allow(clippy::async_yields_async)] // the handle leaves its run un-awaited on purpose
fn a_join_handle_of_a_task_still_running_in_another_run_is_refused() {
    let (send_handle, handle) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let other = std::thread::spawn(move || {
        async_testkit::Builder::new()
            .leaks(async_testkit::Policy::Ignore)
            .run(move || {
                let released = released.clone();
                let send_handle = send_handle.clone();
                async move {
                    let h = task::Builder::new()
                        .name("orphan")
                        .spawn(std::future::pending::<()>());
                    send_handle.send(h).unwrap();
                    // Keeps this run going, in real time, until the other run is done.
                    tokio::task::spawn_blocking(move || released.lock().unwrap().recv())
                        .await
                        .unwrap()
                        .unwrap();
                }
            })
    });
    let cell = std::cell::Cell::new(Some(handle.recv().unwrap()));
    let f = Builder::new()
        .try_run(move || {
            let h = cell.take().unwrap();
            async move {
                let _ = h.await;
            }
        })
        .unwrap_err();
    release.send(()).unwrap();
    other.join().unwrap();
    let m = &f.panic_messages()[0];
    assert!(
        m.starts_with("the JoinHandle of task #1 \"orphan\" (spawned at tests/runtime.rs:"),
        "{m}"
    );
    assert!(
        m.contains(
            "was awaited in a different async-testkit run than the one that spawned it, before that task finished.\n\
             Tasks do not outlive their run: spawn the task again inside this test."
        ),
        "{m}"
    );
}

/// A handle whose run is over gives its task's outcome anywhere, as tokio's does after
/// its runtime shut down: cancelled, for a task the run's end dropped.
#[test]
#[allow(clippy::async_yields_async)] // the handle leaves its run un-awaited on purpose
fn a_join_handle_whose_run_ended_gives_cancelled_in_another_run_and_outside_any() {
    let orphan = || {
        async_testkit::Builder::new()
            .leaks(async_testkit::Policy::Ignore)
            .run(|| async { task::spawn(std::future::pending::<()>()) })
    };
    let cell = std::cell::Cell::new(Some(orphan()));
    let r = Builder::new()
        .try_run(move || {
            let h = cell.take().unwrap();
            async move { h.await.unwrap_err().is_cancelled() }
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(*r.value());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(rt.block_on(orphan()).unwrap_err().is_cancelled());
}

/// A handle awaited on a thread of the run's blocking pool, as tokio allows.
#[async_testkit::test]
async fn a_join_handle_can_be_awaited_from_a_blocking_closure() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let h = task::spawn(async { rx.await.unwrap() });
    let rt = tokio::runtime::Handle::current();
    let waiter = tokio::task::spawn_blocking(move || rt.block_on(h).unwrap());
    tokio::task::yield_now().await;
    tx.send(7).unwrap();
    assert_eq!(waiter.await.unwrap(), 7);
}

#[test]
fn advance_that_overflows_the_clock_is_refused() {
    let f = Builder::new()
        .try_run(|| async {
            time::advance(Duration::MAX).await;
        })
        .unwrap_err();
    let m = &f.panic_messages()[0];
    assert!(
        m.starts_with("async_testkit::time::advance(18446744073709551615.999999999s) at tests/runtime.rs:"),
        "{m}"
    );
    assert!(
        m.contains("would move the virtual clock past the largest instant it can represent"),
        "{m}"
    );
}

#[test]
fn advance_to_the_past_is_refused() {
    let f = Builder::new()
        .try_run(|| async {
            let t0 = time::now();
            tokio::time::sleep(Duration::from_secs(5)).await;
            time::advance_to(t0).await;
        })
        .unwrap_err();
    let m = &f.panic_messages()[0];
    assert!(
        m.starts_with("async_testkit::time::advance_to at tests/runtime.rs:"),
        "{m}"
    );
    assert!(
        m.contains("the target +0s is earlier than the current virtual time +5.000s"),
        "{m}"
    );
}

/// The report of the failure that exploring `schedules` schedules of `body` finds; `body`
/// is told which run of it this is: state outside the run, like a `HashMap`'s random
/// order or the wall clock, which the kit's replays cannot reproduce.
fn failure_of_run_dependent<F, Fut>(schedules: u32, body: F) -> String
where
    F: Fn(u32) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let runs: &'static std::sync::atomic::AtomicU32 = Box::leak(Box::default());
    Builder::new()
        .explore(schedules)
        .try_run(move || body(runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst)))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_failure_that_does_not_replay_the_same_way_is_reported_as_nondeterministic() {
    let text = failure_of_run_dependent(50, |run| async move {
        let t = spawn(async {});
        if run % 2 == 1 {
            yield_point().await; // only on odd runs: the trace differs between replays
        }
        t.await.unwrap();
        assert!(run == 0, "failed on run {run}");
    });
    assert!(text.contains("nondeterminism: "), "{text}");
    assert!(
        text.contains("the test escapes the determinism contract"),
        "{text}"
    );
}

/// An exploration returns the report of its last schedule, traced; by wall-time budget
/// it cannot know which is last, and the report says its timeline was not recorded.
#[test]
fn an_exploration_reports_the_timeline_of_its_last_schedule_when_it_knows_which() {
    let counted = Builder::new().explore(5).try_run(|| async {}).unwrap();
    assert!(
        counted.timeline().contains("#0 test body: completed"),
        "{}",
        counted.timeline()
    );
    let timed = Builder::new()
        .explore_for(Duration::from_millis(20))
        .try_run(|| async {})
        .unwrap();
    assert!(timed.schedules() > 1);
    assert!(
        timed
            .timeline()
            .contains("(not recorded: an exploration records the events of its last planned"),
        "{}",
        timed.timeline()
    );
}

/// A failure that never happens again: the exploration ran that schedule untraced, and
/// its replays (traced) pass. The report says the timeline is missing.
#[test]
fn a_failure_seen_once_in_an_exploration_says_its_timeline_was_not_recorded() {
    let text = failure_of_run_dependent(50, |run| async move {
        assert!(run != 1, "failed on run {run}");
    });
    assert!(text.contains("failed on run 1"), "{text}");
    assert!(
        text.contains("timeline: not recorded (an exploration runs its schedules untraced"),
        "{text}"
    );
    assert!(
        text.contains(
            "nondeterminism: replaying this failure's schedule did not fail the same way (the replay passed)"
        ),
        "{text}"
    );
    // The replay line is the failing schedule's token, not a seed line (which would run
    // the whole exploration again from another seed).
    assert!(text.contains("replay: ASYNC_TESTKIT_REPLAY=atk1:"), "{text}");
    assert!(!text.contains("ASYNC_TESTKIT_SEED="), "{text}");
}

#[test]
fn two_replays_that_diverge_name_the_first_differing_event() {
    let text = failure_of_run_dependent(10, |run| async move {
        let t = task::Builder::new().name("worker").spawn(async {});
        if run % 2 == 0 {
            task::Builder::new().name("extra").spawn(async {}).await.unwrap();
        }
        t.await.unwrap();
        panic!("always fails");
    });
    assert!(
        text.contains("nondeterminism: replays 1 and 2 of this schedule diverged at event "),
        "{text}"
    );
    assert!(
        text.contains("\n  first replay: ") && text.contains("\n  replay 2:     "),
        "{text}"
    );
    assert!(text.contains(&format!("\n{CONTRACT}")), "{text}");
}

/// The causes every nondeterminism note names.
const CONTRACT: &str = "the test escapes the determinism contract: look for HashMap or HashSet iteration \
                        order (std's RandomState), tokio::select! without `biased;` (it polls its branches in \
                        a random order), random numbers, std::time::Instant or SystemTime, real I/O, or OS \
                        threads in the code under test";

/// A coin flip that comes up the same on the first two replays of the failing schedule
/// and differently on the third (the run count stands in for a hash order or a `select!`):
/// the determinism check replays until a replay differs, not only twice.
#[test]
fn a_replay_that_diverges_after_the_second_is_reported_as_nondeterministic() {
    // Run 0 is the exploration's failing schedule (it has no choices, so nothing is
    // minimised), runs 1 and 2 the first two replays: the path differs from run 3 on.
    let text = failure_of_run_dependent(10, |run| async move {
        if run >= 3 {
            task::Builder::new().name("extra").spawn(async {}).await.unwrap();
        }
        panic!("always fails");
    });
    assert!(
        text.contains(&format!(
            "nondeterminism: replays 1 and 3 of this schedule diverged at event 2:\n  first replay: \
             +0s  #0 test body: panicked\n  replay 3:     +0s  #0 test body: spawned #1 \"extra\"\n{CONTRACT}"
        )),
        "{text}"
    );
}

/// Replays that differ only below a millisecond (the timeline's precision): the note
/// shows the diverging event to the nanosecond, as the trace's hash sees it, and never
/// two identical sides.
#[test]
fn replays_that_differ_below_a_millisecond_name_the_event_exactly() {
    let text = failure_of_run_dependent(10, |run| async move {
        time::advance(Duration::from_secs(1) + Duration::from_nanos(250 + u64::from(run % 2) * 250)).await;
        panic!("always fails");
    });
    assert!(
        text.contains(
            "nondeterminism: replays 1 and 2 of this schedule diverged at event 9:\n  first replay: \
             +1.000000500s  tokio: tokio's own tasks ran\n  replay 2:     +1.000000250s  tokio: tokio's own \
             tasks ran\n"
        ),
        "{text}"
    );
    assert!(!text.contains("(the run had ended)"), "{text}");
}

/// The same when the coin flip decides whether the run fails at all.
#[test]
fn a_replay_that_passes_after_the_second_is_reported_as_nondeterministic() {
    let text = failure_of_run_dependent(10, |run| async move {
        // Run 0 is the failing schedule, runs 1 and 2 the first two replays.
        assert!(run >= 3, "failed on run {run}");
    });
    assert!(
        text.contains(&format!(
            "nondeterminism: the minimal schedule failed on its first replay and passed on replay 3; {CONTRACT}"
        )),
        "{text}"
    );
}

#[test]
fn explore_is_a_shorthand_that_panics_with_the_report() {
    assert_eq!(async_testkit::explore(10, || async { 7 }), 7);
    let payload = std::panic::catch_unwind(|| async_testkit::explore(100, needs_one_preemption)).unwrap_err();
    let text = payload.downcast_ref::<String>().unwrap();
    assert!(text.contains("minimised to 1 preemption"), "{text}");
}

#[test]
fn a_join_handle_polled_again_after_its_output_is_refused() {
    let f = Builder::new()
        .try_run(|| async {
            let mut h = task::Builder::new().name("once").spawn(async { 1 });
            assert_eq!((&mut h).await.unwrap(), 1);
            let _ = (&mut h).await;
        })
        .unwrap_err();
    let m = &f.panic_messages()[0];
    assert!(
        m.starts_with("the JoinHandle of task #1 \"once\" (spawned at tests/runtime.rs:"),
        "{m}"
    );
    assert!(
        m.ends_with("was polled again after it returned its output"),
        "{m}"
    );
}

#[test]
fn into_panic_on_a_cancelled_task_says_it_was_not_a_panic() {
    let f = Builder::new()
        .try_run(|| async {
            let h = task::Builder::new()
                .name("stopped")
                .spawn(std::future::pending::<()>());
            h.abort();
            h.await.unwrap_err().into_panic();
        })
        .unwrap_err();
    let m = &f.panic_messages()[0];
    assert!(
        m.starts_with(
            "JoinError::into_panic called on an error that is not a panic: task #1 \"stopped\" (spawned at tests/runtime.rs:"
        ),
        "{m}"
    );
    assert!(m.ends_with("was cancelled"), "{m}");
}

#[test]
#[allow(clippy::async_yields_async)] // the handle and the future leave their run on purpose
fn kit_futures_awaited_outside_any_run_are_refused() {
    let settle = Builder::new().run(|| async { time::run_until_idle() });
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let m = support::caught_panic(std::panic::AssertUnwindSafe(|| rt.block_on(settle)));
    assert_eq!(
        m,
        "run_until_idle() was awaited outside the async-testkit run that created it; await it inside the same test"
    );
}

/// Teardown: a kit task's future that spawns a task when it is dropped, at the end of
/// the run. Each of `n` generations spawns the next; every one of them is dropped.
struct SpawnOnDrop {
    generations_left: u32,
    dropped: Arc<std::sync::atomic::AtomicU32>,
    panic: bool,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.generations_left == 0 {
            assert!(!self.panic, "the last generation panics in its Drop");
            return;
        }
        let next = SpawnOnDrop {
            generations_left: self.generations_left - 1,
            dropped: self.dropped.clone(),
            panic: self.panic,
        };
        drop(async_testkit::spawn(async move {
            let _next = next;
            std::future::pending::<()>().await
        }));
    }
}

fn spawning_on_drop(
    generations: u32,
    panic: bool,
) -> (Result<async_testkit::Report<()>, async_testkit::Failure>, u32) {
    let dropped = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let d = dropped.clone();
    let r = Builder::new().try_run(move || {
        let d = d.clone();
        async move {
            let first = SpawnOnDrop {
                generations_left: generations,
                dropped: d,
                panic,
            };
            async_testkit::spawn_background(async move {
                let _first = first;
                std::future::pending::<()>().await
            });
            async_testkit::yield_point().await;
        }
    });
    (r, dropped.load(std::sync::atomic::Ordering::SeqCst))
}

#[test]
fn tasks_spawned_while_the_teardown_drops_tasks_are_dropped_too() {
    let (r, dropped) = spawning_on_drop(5, false);
    r.unwrap();
    assert_eq!(dropped, 6);
}

#[test]
fn a_panic_in_the_drop_of_a_task_spawned_at_teardown_fails_the_run() {
    let (r, dropped) = spawning_on_drop(2, true);
    let f = r.unwrap_err();
    assert_eq!(dropped, 3);
    assert_eq!(f.kind(), async_testkit::FailureKind::Panic, "{f}");
    assert!(
        f.headline().starts_with("task #3 panicked at tests/runtime.rs:"),
        "{f}"
    );
    assert!(
        f.headline()
            .ends_with(": the last generation panics in its Drop (while the task was being dropped)"),
        "{f}"
    );
}

#[test]
fn a_drop_that_spawns_on_every_drop_ends_the_teardown_with_a_report() {
    let (r, dropped) = spawning_on_drop(u32::MAX, false);
    let f = r.unwrap_err();
    // The first task, and 64 rounds of tasks each spawned by the drop before it.
    assert_eq!(dropped, 64);
    assert_eq!(f.kind(), async_testkit::FailureKind::Expectation, "{f}");
    let head = f.headline();
    assert!(
        head.starts_with(
            "teardown: dropping the run's tasks at its end spawned new tasks for 64 rounds (the last one: \
             task #65 spawned at tests/runtime.rs:"
        ),
        "{f}"
    );
    assert!(
        head.ends_with(
            "); a Drop impl that calls async_testkit::spawn on every drop never ends, so the tasks of the \
             last round were not dropped: spawn from Drop only what ends, or stop such tasks before the test \
             returns"
        ),
        "{f}"
    );
}

/// `async_testkit::run` takes a future that borrows, as tokio's `block_on` does.
#[test]
fn run_takes_a_future_that_borrows_from_the_caller() {
    let names = vec!["ada".to_string(), "grace".to_string()];
    let mut seen = Vec::new();
    let total = async_testkit::run(async {
        for n in &names {
            tokio::time::sleep(Duration::from_secs(1)).await;
            seen.push(n.len());
        }
        time::elapsed()
    });
    assert_eq!(total, Duration::from_secs(2));
    assert_eq!(seen, [3, 5]);
}

/// A failing run drops the borrowing future before `run` unwinds: the caller's data is
/// intact, and the failure is the run's report.
#[test]
fn a_borrowing_run_that_fails_drops_its_future_before_unwinding() {
    struct Flag<'a>(&'a std::cell::Cell<u32>);
    impl Drop for Flag<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let drops = std::cell::Cell::new(0);
    let message = support::caught_panic(std::panic::AssertUnwindSafe(|| {
        async_testkit::run(async {
            let _flag = Flag(&drops);
            let _never = spawn(std::future::pending::<()>()); // left running: a leak too
            tokio::time::sleep(Duration::from_secs(1)).await;
            panic!("borrowed and failed");
        });
    }));
    assert!(message.contains("borrowed and failed"), "{message}");
    assert_eq!(drops.get(), 1);
    // A body stuck for ever is dropped at the run's end too (a deadlock).
    let message = support::caught_panic(std::panic::AssertUnwindSafe(|| {
        async_testkit::run(async {
            let _flag = Flag(&drops);
            std::future::pending::<()>().await;
        });
    }));
    assert!(message.contains("deadlock"), "{message}");
    assert_eq!(drops.get(), 2);
}
