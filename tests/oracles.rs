//! The oracles: every way a run fails loudly, and the text it fails with.

use std::sync::Arc;
use std::time::Duration;

use async_testkit::{Builder, Failure, FailureKind, Policy, spawn, spawn_background, task, time};

const S: Duration = Duration::from_secs(1);

// ---- panics -------------------------------------------------------------------------

#[test]
fn a_panic_in_the_body_fails_with_its_message_and_location() {
    let f = Builder::new()
        .name("body_panics")
        .try_run(|| async {
            tokio::time::sleep(S).await;
            panic!("the body gave up");
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(
        f.headline()
            .starts_with("the test body panicked at tests/oracles.rs:"),
        "{f}"
    );
    assert!(f.headline().ends_with(": the body gave up"), "{f}");
    assert_eq!(f.panic_messages(), ["the body gave up"]);
    let text = f.to_string();
    assert!(text.contains("panics (1):"), "{text}");
    assert!(text.contains("[+1.000s]"), "{text}");
}

#[test]
fn a_panic_in_a_detached_kit_task_fails_the_test_with_task_name_and_spawn_site() {
    let f = Builder::new()
        .try_run(|| async {
            task::Builder::new().name("worker").spawn(async {
                tokio::time::sleep(S).await;
                panic!("disk full");
            });
            tokio::time::sleep(S * 5).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    let h = f.headline();
    assert!(
        h.starts_with("task #1 \"worker\" panicked at tests/oracles.rs:"),
        "{h}"
    );
    assert!(h.ends_with(": disk full"), "{h}");
    assert!(f.to_string().contains("#1 \"worker\": panicked"), "{f}");
}

#[test]
fn a_panic_in_an_awaited_task_still_fails_unless_the_test_takes_it() {
    // Awaited, but only inspected: still a failure.
    let f = Builder::new()
        .try_run(|| async {
            let err = spawn(async { panic!("inspected only") }).await.unwrap_err();
            assert!(err.is_panic());
            assert_eq!(err.to_string().split(": ").last(), Some("inspected only"));
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert_eq!(f.panic_messages(), ["inspected only"]);
    assert!(
        f.to_string()
            .contains("a panic the test expects is taken by awaiting the task's JoinHandle"),
        "{f}"
    );

    // Taken with into_panic: the test passes.
    Builder::new().run(|| async {
        let err = spawn(async { panic!("expected") }).await.unwrap_err();
        let payload = err.into_panic();
        assert_eq!(*payload.downcast::<&str>().unwrap(), "expected");
    });
}

#[test]
fn a_panic_in_a_tokio_spawned_task_fails_even_if_nobody_awaits_it() {
    let f = Builder::new()
        .try_run(|| async {
            tokio::spawn(async {
                tokio::time::sleep(S).await;
                panic!("tokio task failed");
            });
            tokio::time::sleep(S * 3).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    let h = f.headline();
    assert!(
        h.starts_with("a task started with tokio::spawn panicked at tests/oracles.rs:"),
        "{h}"
    );
    assert!(h.ends_with(": tokio task failed"), "{h}");
}

#[test]
fn a_panic_in_a_spawn_blocking_closure_fails_the_test() {
    let f = Builder::new()
        .try_run(|| async {
            let r = tokio::task::spawn_blocking(|| panic!("blocking work failed")).await;
            assert!(r.is_err());
        })
        .unwrap_err();
    assert_blocking_closure_panicked(&f, "blocking work failed");
}

/// `f` failed for the panic of a `spawn_blocking` closure with this message.
fn assert_blocking_closure_panicked(f: &Failure, message: &str) {
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(
        f.headline().starts_with("a spawn_blocking closure (thread '"),
        "{f}"
    );
    assert!(f.headline().ends_with(&format!(": {message}")), "{f}");
}

#[test]
fn every_panic_is_collected_not_only_the_first() {
    let f = Builder::new()
        .try_run(|| async {
            for name in ["a", "b", "c"] {
                task::Builder::new()
                    .name(name)
                    .spawn(async move { panic!("{name} failed") });
            }
            tokio::time::sleep(S).await;
        })
        .unwrap_err();
    assert_eq!(f.panic_messages(), ["a failed", "b failed", "c failed"]);
    assert!(f.to_string().contains("panics (3):"), "{f}");
}

#[test]
fn a_panic_while_a_task_is_dropped_is_reported_too() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop exploded");
        }
    }
    let f = Builder::new()
        .try_run(|| async {
            let b = Bomb;
            let h = spawn(async move {
                let _b = b;
                std::future::pending::<()>().await
            });
            time::run_until_idle().await;
            h.abort();
            let _ = h.await;
        })
        .unwrap_err();
    assert_eq!(
        f.panic_messages(),
        ["drop exploded (while the aborted task was being dropped)"]
    );
    assert!(
        f.headline().starts_with("task #1 panicked at tests/oracles.rs:"),
        "{f}"
    );
}

/// A task whose `Drop` panics when it is aborted ends as panicked, as under tokio: the
/// handle gives that panic, and the test that takes it passes.
#[test]
fn an_aborted_task_whose_drop_panics_ends_as_panicked_and_the_test_may_take_it() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop exploded");
        }
    }
    let r = Builder::new()
        .try_run(|| async {
            let h = spawn(async {
                let _b = Bomb;
                std::future::pending::<()>().await
            });
            time::run_until_idle().await;
            h.abort();
            let err = h.await.unwrap_err();
            let shown = err.to_string();
            assert!(!err.is_cancelled());
            assert!(err.is_panic());
            let payload = err.into_panic();
            (shown, payload.downcast_ref::<&str>().copied())
        })
        .unwrap();
    let (shown, payload) = r.into_value();
    assert_eq!(payload, Some("drop exploded"));
    assert!(
        shown.starts_with("task #1 (spawned at tests/oracles.rs:"),
        "{shown}"
    );
    assert!(
        shown.ends_with(" panicked: drop exploded (while the aborted task was being dropped)"),
        "{shown}"
    );
}

/// A panic payload whose own `Drop` panics is dropped as tokio drops it, the second panic
/// swallowed: the task's panic fails the run with a report, it does not escape `try_run`.
#[test]
fn a_payload_whose_drop_panics_still_gives_a_report() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the payload's drop");
        }
    }
    for awaited in [false, true] {
        let f = Builder::new()
            .try_run(move || async move {
                let h = spawn(async {
                    std::panic::resume_unwind(Box::new(Bomb));
                });
                if awaited {
                    // Held, not taken: dropped with the handle below.
                    let _ = time::run_until_idle().await;
                    assert!(h.is_finished());
                } else {
                    drop(h);
                }
                time::run_until_idle().await;
            })
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Panic, "{f}");
        assert_eq!(
            f.headline(),
            "task #1 panicked: (a panic payload that is not a string)",
            "awaited {awaited}: {f}"
        );
        assert_eq!(f.panic_messages().len(), 1, "{f}");
    }
    // Awaited, and the `JoinError` dropped by the test without taking the payload.
    let f = Builder::new()
        .try_run(|| async {
            let e = spawn(async {
                std::panic::resume_unwind(Box::new(Bomb));
            })
            .await
            .unwrap_err();
            assert!(e.is_panic());
            drop(e);
        })
        .unwrap_err();
    assert_eq!(
        f.headline(),
        "task #1 panicked: (a panic payload that is not a string)",
        "{f}"
    );
    // The body's own payload, and one of a task's Drop at the run's end.
    let f = Builder::new()
        .try_run(|| async {
            std::panic::resume_unwind(Box::new(Bomb));
        })
        .unwrap_err();
    assert_eq!(
        f.headline(),
        "the test body panicked: (a panic payload that is not a string)",
        "{f}"
    );
    let f = Builder::new()
        .try_run(|| async {
            struct Rethrow;
            impl Drop for Rethrow {
                fn drop(&mut self) {
                    std::panic::resume_unwind(Box::new(Bomb));
                }
            }
            spawn_background(async {
                let _r = Rethrow;
                std::future::pending::<()>().await
            });
            time::run_until_idle().await;
        })
        .unwrap_err();
    assert_eq!(
        f.panic_messages(),
        ["(a panic payload that is not a string) (while the task was being dropped)"],
        "{f}"
    );
}

/// A task spawned by an iterator adapter of the standard library (`map`, here) is named
/// by the test's line, not by the adapter's: `#[track_caller]` stops at std's frames.
#[test]
fn a_spawn_through_an_iterator_adapter_is_named_by_the_tests_line() {
    let line = line!() + 3;
    let f = Builder::new()
        .try_run(|| async {
            let hs: Vec<_> = (0..2).map(|_| std::future::pending::<()>()).map(spawn).collect();
            std::mem::forget(hs);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    let at = format!("tests/oracles.rs:{line}:");
    assert!(
        f.headline().starts_with(&format!(
            "leak: 2 tasks were still alive when the test body returned: #1 (spawned at {at}"
        )),
        "{f}"
    );
    assert!(f.headline().contains(&format!("), #2 (spawned at {at}")), "{f}");
    assert!(!f.to_string().contains("/rustc/"), "{f}");
}

// ---- leaks --------------------------------------------------------------------------

#[test]
fn a_task_alive_when_the_body_returns_is_a_leak_naming_it_and_its_site() {
    let f = Builder::new()
        .name("leaky")
        .try_run(|| async {
            task::Builder::new()
                .name("forgotten")
                .spawn(async { tokio::time::sleep(S * 60).await });
            tokio::time::sleep(S).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak);
    assert_eq!(f.leaked_tasks().len(), 1);
    assert!(
        f.leaked_tasks()[0].starts_with("#1 \"forgotten\" (spawned at tests/oracles.rs:"),
        "{f}"
    );
    assert!(
        f.headline()
            .starts_with("leak: 1 task was still alive when the test body returned: #1 \"forgotten\""),
        "{f}"
    );
    let text = f.to_string();
    assert!(
        text.contains("start long-lived ones with async_testkit::spawn_background, or set leaks = \"warn\"")
    );
    assert!(text.contains("tasks alive when the run stopped:"), "{text}");
    assert!(text.contains("waiting"), "{text}");
}

#[test]
fn tokio_spawned_tasks_left_running_are_leaks_too() {
    let f = Builder::new()
        .try_run(|| async {
            tokio::spawn(std::future::pending::<()>());
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak);
    assert_eq!(
        f.headline(),
        "leak: 2 tasks started with tokio::spawn were still alive when the test body returned"
    );
    assert!(
        f.to_string()
            .contains("and 2 tasks started with tokio::spawn (tokio gives no names, ids or spawn sites"),
        "{f}"
    );
}

#[test]
fn work_that_can_finish_at_the_final_instant_is_not_a_leak() {
    Builder::new().run(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        spawn(async move {
            let _ = rx.await;
        });
        tokio::spawn(async {});
        drop(tx); // wakes the task, which finishes at this instant
    });
}

#[test]
fn background_tasks_are_not_leaks_and_are_cancelled_at_the_end() {
    let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = cancelled.clone();
    Builder::new().run(move || {
        let c = c.clone();
        async move {
            struct OnDrop(Arc<std::sync::atomic::AtomicBool>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let guard = OnDrop(c);
            spawn_background(async move {
                let _g = guard;
                loop {
                    tokio::time::sleep(S).await;
                }
            });
            tokio::time::sleep(S * 10).await;
        }
    });
    assert!(cancelled.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn leaks_can_warn_or_be_ignored() {
    let r = Builder::new()
        .leaks(Policy::Warn)
        .try_run(|| async {
            spawn(std::future::pending::<()>());
        })
        .unwrap();
    assert_eq!(r.warnings().len(), 1);
    assert!(
        r.warnings()[0]
            .starts_with("leak: 1 task was still alive when the test body returned: #1 (spawned at")
    );
    let r = Builder::new()
        .leaks(Policy::Ignore)
        .try_run(|| async {
            spawn(std::future::pending::<()>());
        })
        .unwrap();
    assert!(r.warnings().is_empty());
}

/// A `spawn_blocking` closure nobody awaits, still running when the body returns, is a
/// leak like a task: the kit cannot cancel it, and its panic would come after the verdict.
#[test]
fn a_spawn_blocking_closure_still_running_when_the_body_returns_is_a_leak() {
    let f = Builder::new()
        .try_run(|| async {
            drop(tokio::task::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(500))
            }));
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak);
    assert_eq!(
        f.headline(),
        "leak: 1 spawn_blocking closure was still running when the test body returned"
    );
    let text = f.to_string();
    assert!(
        text.contains("A spawn_blocking closure cannot be aborted: await its JoinHandle"),
        "{text}"
    );
    assert!(
        text.contains("tasks alive when the run stopped:\n  and 1 spawn_blocking closure still running"),
        "{text}"
    );
}

#[test]
fn a_leaked_spawn_blocking_closure_warns_or_is_ignored_as_leaks_say() {
    let leak = || async {
        drop(tokio::task::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(500))
        }));
    };
    let r = Builder::new().leaks(Policy::Warn).try_run(leak).unwrap();
    assert_eq!(
        r.warnings(),
        ["leak: 1 spawn_blocking closure was still running when the test body returned"]
    );
    let r = Builder::new().leaks(Policy::Ignore).try_run(leak).unwrap();
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
}

/// A detached closure that panics once the body has returned, before the runtime is shut
/// down, fails the test: the kit waits for the blocking pool before it judges.
#[test]
fn a_spawn_blocking_closure_that_panics_after_the_body_returned_fails_the_test() {
    let f = Builder::new()
        .leaks(Policy::Warn)
        .try_run(|| async {
            let (_body_alive, body_gone) = std::sync::mpsc::channel::<()>();
            drop(tokio::task::spawn_blocking(move || {
                let _ = body_gone.recv(); // returns when the body has returned
                std::thread::sleep(Duration::from_millis(5));
                panic!("too late for anyone to await");
            }));
        })
        .unwrap_err();
    assert_blocking_closure_panicked(&f, "too late for anyone to await");
}

/// tokio wakes a closure's JoinHandle before its pool thread has finished with it: an
/// awaited closure must never be taken for one still running, however the threads race.
#[test]
fn an_awaited_spawn_blocking_closure_is_never_a_leak() {
    for _ in 0..200 {
        Builder::new().run(|| async { tokio::task::spawn_blocking(|| ()).await.unwrap() });
        Builder::new().run(|| async {
            tokio::spawn(async { tokio::task::spawn_blocking(|| ()).await.unwrap() })
                .await
                .unwrap()
        });
    }
}

/// Settling at the final instant has no poll limit: work that needs many polls there
/// finishes and is not a leak.
#[test]
fn a_task_that_needs_many_polls_at_the_final_instant_is_not_a_leak() {
    let r = Builder::new()
        .try_run(|| async {
            spawn(async {
                for _ in 0..150_000 {
                    tokio::task::yield_now().await;
                }
            });
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(r.polls() > 150_000);
}

/// A livelock of kit tasks after the body returned (tasks that never wait) ends at the
/// wall-clock limit, and the report says that it happened after the body returned.
#[test]
fn a_livelock_after_the_body_returned_is_a_wall_timeout_that_says_so() {
    let f = Builder::new()
        .timeout(Duration::from_millis(300))
        .try_run(|| async {
            task::Builder::new().name("spinner").spawn(async {
                loop {
                    tokio::task::yield_now().await;
                }
            });
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::WallTimeout, "{f}");
    assert_eq!(
        f.headline(),
        "wall-clock timeout: the test body returned at +0s, but tasks kept running at that \
         instant without ever waiting until the limit of 300ms of real time (a livelock: tasks \
         that yield or wake each other forever)",
        "{f}"
    );
}

/// A tokio task that never waits, left when the body returns, is a leak found once
/// settling stops (well before the wall-clock limit), and the report says it was still
/// running.
#[test]
fn an_endless_tokio_task_after_the_body_returned_is_a_leak_still_running() {
    let spinner = || {
        tokio::spawn(async {
            loop {
                tokio::task::yield_now().await;
            }
        })
    };
    let f = Builder::new()
        .try_run(move || async move {
            spinner();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    assert_eq!(
        f.headline(),
        "leak: 1 task started with tokio::spawn was still alive when the test body returned, and \
         still running (it never waited) when the kit stopped settling",
        "{f}"
    );

    // With one that waits beside it.
    let f = Builder::new()
        .try_run(move || async move {
            tokio::spawn(std::future::pending::<()>());
            spinner();
        })
        .unwrap_err();
    assert_eq!(
        f.headline(),
        "leak: 2 tasks started with tokio::spawn were still alive when the test body returned, and \
         still running (they never all waited) when the kit stopped settling",
        "{f}"
    );

    // Asked only to warn, the test passes with the same words.
    let r = Builder::new()
        .leaks(Policy::Warn)
        .try_run(move || async move {
            spinner();
        })
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        r.warnings(),
        [
            "leak: 1 task started with tokio::spawn was still alive when the test body returned, and \
          still running (it never waited) when the kit stopped settling"
        ]
    );
}

/// Settling still lets tokio's work that ends finish, when it runs long enough for the
/// kit to look at it (a blocking sleep in a tokio task, then yields): the kit task it
/// wakes runs, and nothing is left.
#[test]
fn tokio_work_that_ends_after_a_look_still_finishes_while_settling() {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = done.clone();
    Builder::new().run(move || {
        let seen = seen.clone();
        async move {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            spawn(async move {
                rx.await.unwrap();
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            tokio::spawn(async move {
                // Longer than the kit may take to look at a settling tokio (its watchdog
                // looks at least every 500 ms).
                std::thread::sleep(Duration::from_millis(700));
                for _ in 0..2_000 {
                    tokio::task::yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
    });
    assert!(done.load(std::sync::atomic::Ordering::SeqCst));
}

// ---- deadlock -----------------------------------------------------------------------

#[test]
fn a_lock_order_deadlock_is_found_at_once_and_lists_the_blocked_tasks() {
    let wall = std::time::Instant::now();
    let f = Builder::new()
        .name("lock_order")
        .try_run(|| async {
            let a = Arc::new(tokio::sync::Mutex::new(()));
            let b = Arc::new(tokio::sync::Mutex::new(()));
            let (a1, b1) = (a.clone(), b.clone());
            let t1 = task::Builder::new().name("transfer a->b").spawn(async move {
                let _ga = a1.lock().await;
                tokio::time::sleep(S).await;
                let _gb = b1.lock().await;
            });
            let t2 = task::Builder::new().name("transfer b->a").spawn(async move {
                let _gb = b.lock().await;
                tokio::time::sleep(S).await;
                let _ga = a.lock().await;
            });
            t1.await.unwrap();
            t2.await.unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    assert_eq!(
        f.headline(),
        "deadlock: every task is waiting and no timer is pending (nothing has run since +1.000s)"
    );
    let text = f.to_string();
    for task in ["#0 test body", "#1 \"transfer a->b\"", "#2 \"transfer b->a\""] {
        assert!(text.contains(task), "{task} missing from:\n{text}");
    }
    // The virtual deadline is an hour away; finding the deadlock costs no real hour.
    assert!(wall.elapsed() < Duration::from_secs(30));
    // The timeline shows what happened, not the kit's probing past the deadline.
    assert!(!text.contains("+1h"), "{text}");
}

/// A lone task woken by a timer is polled right after tokio's park, inside the wait; when
/// it then waits forever, the deadline sentinel must still end the wait and the
/// deadlock be reported (a regression hung here until the wall-clock limit).
#[test]
fn a_task_that_waits_forever_after_a_timer_is_a_deadlock() {
    let f = Builder::new()
        .timeout(Duration::from_secs(20))
        .try_run(|| async {
            tokio::time::sleep(S).await;
            let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
            rx.await.unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert_eq!(
        f.headline(),
        "deadlock: every task is waiting and no timer is pending (nothing has run since +1.000s)"
    );
}

#[test]
fn a_deadlock_with_a_tokio_task_waiting_too() {
    let f = Builder::new()
        .try_run(|| async {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let keep = tokio::spawn(async move {
                let _tx = tx; // holds the sender, never sends
                std::future::pending::<()>().await
            });
            let _ = rx.await;
            keep.abort();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock);
    assert!(
        f.to_string().contains("and 1 task started with tokio::spawn"),
        "{f}"
    );
}

// ---- deadlines ----------------------------------------------------------------------

#[test]
fn still_running_at_the_virtual_deadline_is_a_virtual_timeout() {
    let f = Builder::new()
        .virtual_timeout(S * 60)
        .try_run(|| async {
            loop {
                tokio::time::sleep(S).await; // busy forever, one second at a time
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::VirtualTimeout);
    assert_eq!(
        f.headline(),
        "virtual timeout: the test did not finish within its virtual time limit of +1m00.000s: \
         a task was still waiting on a timer past it, woken at +1m01.000s; raise the limit with \
         #[async_testkit::test(virtual_timeout = \"..\")] if the test really waits that long"
    );
}

#[test]
fn a_background_ticker_that_never_lets_the_body_finish_is_a_virtual_timeout_not_a_deadlock() {
    let f = Builder::new()
        .virtual_timeout(S * 60)
        .try_run(|| async {
            tokio::spawn(async {
                let mut tick = tokio::time::interval(S);
                loop {
                    tick.tick().await;
                }
            });
            std::future::pending::<()>().await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::VirtualTimeout);
    assert_eq!(
        f.headline(),
        "virtual timeout: the test did not finish within its virtual time limit of +1m00.000s: \
         timers were still firing after +1m00.000s; raise the limit with \
         #[async_testkit::test(virtual_timeout = \"..\")] if the test really waits that long"
    );
}

#[test]
fn a_run_waiting_on_the_real_world_past_its_wall_limit_is_a_wall_timeout() {
    let f = Builder::new()
        .timeout(Duration::from_millis(100))
        .try_run(|| async {
            // The clock cannot jump while a blocking closure runs; the run waits in real time.
            let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(3))).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::WallTimeout);
    assert_eq!(
        f.headline(),
        "wall-clock timeout: the test ran longer than its limit of 100ms of real time (virtual time +0s)"
    );
    assert!(f.to_string().contains("#0 test body"), "{f}");
}

// ---- slow polls ---------------------------------------------------------------------

#[test]
fn a_blocking_poll_is_a_warning_by_default_and_a_failure_when_asked() {
    let blocking = || async {
        task::Builder::new()
            .name("blocker")
            .spawn(async { std::thread::sleep(Duration::from_millis(150)) })
            .await
            .unwrap();
    };
    let r = Builder::new()
        .slow_poll(Duration::from_millis(60))
        .try_run(blocking)
        .unwrap();
    assert_eq!(r.warnings().len(), 1);
    let w = &r.warnings()[0];
    assert!(
        w.starts_with("slow poll: task #1 \"blocker\" (spawned at tests/oracles.rs:"),
        "{w}"
    );
    assert!(
        w.contains("of wall time in one poll at +0s (threshold 60ms)"),
        "{w}"
    );
    assert!(
        w.ends_with("a blocking call in async code stalls every other task"),
        "{w}"
    );

    let f = Builder::new()
        .slow_poll(Duration::from_millis(60))
        .slow_poll_policy(Policy::Fail)
        .try_run(blocking)
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::SlowPoll);
    assert!(f.headline().starts_with("slow poll: task #1 \"blocker\""), "{f}");

    let r = Builder::new()
        .slow_poll(Duration::from_millis(60))
        .slow_poll_policy(Policy::Ignore)
        .try_run(blocking)
        .unwrap();
    assert!(r.warnings().is_empty());
}

/// The default threshold (100 ms) is coarse enough for the kit to time polls with the
/// kernel's coarse clock where it has one: a blocking poll is still caught and timed.
#[test]
fn a_blocking_poll_over_the_default_threshold_is_reported() {
    let r = Builder::new()
        .try_run(|| async {
            task::Builder::new()
                .name("blocker")
                .spawn(async { std::thread::sleep(Duration::from_millis(150)) })
                .await
                .unwrap();
        })
        .unwrap();
    assert_eq!(r.warnings().len(), 1, "{:?}", r.warnings());
    let w = &r.warnings()[0];
    assert!(w.starts_with("slow poll: task #1 \"blocker\""), "{w}");
    assert!(w.contains("(threshold 100ms)"), "{w}");
    let took: f64 = w
        .split(" took ")
        .nth(1)
        .and_then(|s| s.split("ms of wall time").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no duration in milliseconds in {w}"));
    assert!(took >= 140.0, "{w}");
}

/// Dropping an aborted task's future runs user code outside any poll: a slow destructor
/// there must not be blamed on whichever task is polled next.
#[test]
fn a_slow_destructor_of_an_aborted_task_is_not_blamed_on_the_next_poll() {
    struct SlowToDrop;
    impl Drop for SlowToDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    let r = Builder::new()
        .slow_poll(Duration::from_millis(60))
        .try_run(|| async {
            let guard = SlowToDrop;
            let stuck = task::Builder::new().name("stuck").spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            async_testkit::yield_point().await; // "stuck" starts and waits
            stuck.abort();
            let quick = task::Builder::new().name("quick").spawn(async {});
            quick.await.unwrap();
            assert!(stuck.await.unwrap_err().is_cancelled());
        })
        .unwrap();
    assert_eq!(r.warnings(), &[] as &[String]);
}

/// The slow-poll oracle times the polls the kit makes (the body, `async_testkit::spawn`);
/// tokio polls its own tasks inside its turn, untimed, and the report says so.
#[test]
fn tasks_started_with_tokio_spawn_are_not_timed_and_the_report_says_so() {
    let blocking_tokio_task = || async {
        tokio::spawn(async { std::thread::sleep(Duration::from_millis(80)) })
            .await
            .unwrap();
    };
    let r = Builder::new()
        .slow_poll(Duration::from_millis(40))
        .slow_poll_policy(Policy::Fail)
        .try_run(blocking_tokio_task)
        .unwrap();
    assert_eq!(
        r.warnings(),
        [
            "slow poll: tasks started with tokio::spawn are not timed (this run had some): start them \
          with async_testkit::spawn for the slow-poll oracle to see their polls"
        ]
    );
    // With the oracle warning (the default) a run says nothing more than before...
    let r = Builder::new()
        .slow_poll(Duration::from_millis(40))
        .try_run(blocking_tokio_task)
        .unwrap();
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    // ...but a slow poll it does see says what it cannot.
    let r = Builder::new()
        .slow_poll(Duration::from_millis(40))
        .try_run(|| async {
            tokio::spawn(async {}).await.unwrap();
            std::thread::sleep(Duration::from_millis(80));
        })
        .unwrap();
    assert_eq!(r.warnings().len(), 1, "{:?}", r.warnings());
    assert!(
        r.warnings()[0].ends_with(
            "a blocking call in async code stalls every other task (tasks started with tokio::spawn are not timed)"
        ),
        "{:?}",
        r.warnings()
    );
    // A failure report with tokio tasks alive says it too.
    let f = Builder::new()
        .try_run(|| async {
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    assert!(
        f.to_string().contains(
            "and 1 task started with tokio::spawn (tokio gives no names, ids or spawn sites of its live tasks, \
             and the slow-poll oracle does not time its polls: depend on tokio through async-testkit-tokio with \
             its explore feature (README: \"Exploring code that uses tokio::spawn\"), or start them with \
             async_testkit::spawn to see them here)"
        ),
        "{f}"
    );
}

// ---- the report ---------------------------------------------------------------------

#[test]
fn a_failure_report_has_headline_tasks_timeline_seed_and_replay_line() {
    let f = Builder::new()
        .seed(42)
        .name("suite::report_shape")
        .try_run(|| async {
            let h = task::Builder::new().name("waiter").spawn(async {
                let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
                let _ = rx.await;
            });
            tokio::time::sleep(S * 2).await;
            h.await.unwrap();
        })
        .unwrap_err();
    let text = f.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "async-testkit: deadlock: every task is waiting and no timer is pending (nothing has run since +2.000s)"
    );
    assert_eq!(lines[1], "  test: suite::report_shape");
    assert!(
        text.contains("tasks alive when the run stopped:\n  #0 test body"),
        "{text}"
    );
    assert!(text.contains("  #1 \"waiter\""), "{text}");
    assert!(text.contains("last polled +2.000s"), "{text}");
    assert!(text.contains("timeline (virtual time):"), "{text}");
    assert!(
        text.contains("+2.000s  tokio: clock moved from +0s to +2.000s"),
        "{text}"
    );
    assert!(text.contains("seed 42, strategy fifo, clock auto"), "{text}");
    assert_eq!(
        *lines.last().unwrap(),
        "replay: ASYNC_TESTKIT_SEED=42 cargo test -- --exact suite::report_shape"
    );
    assert_eq!(format!("{f:?}"), text);
}

#[test]
fn run_panics_with_the_report_like_a_failing_test() {
    let payload = std::panic::catch_unwind(|| {
        Builder::new()
            .name("panicky")
            .run(|| async { panic!("inner message") });
    })
    .unwrap_err();
    let text = payload.downcast_ref::<String>().unwrap();
    assert!(
        text.starts_with("async-testkit: the test body panicked at tests/oracles.rs:"),
        "{text}"
    );
    assert!(text.contains("inner message"), "{text}");
}

/// The wall-clock limit is for the whole test: an exploration of schedules that each take
/// real time stops starting schedules once the test has run that long, and fails.
#[test]
fn an_exploration_longer_than_the_wall_limit_is_a_wall_timeout() {
    let f = Builder::new()
        .explore(40)
        .timeout(Duration::from_millis(300))
        .try_run(|| async {
            // 100 ms of real time a schedule: 40 of them are 4 s, far past the limit.
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)))
                .await
                .unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::WallTimeout, "{f}");
    let head = f.headline();
    let ran: u32 = head
        .strip_prefix(
            "wall-clock timeout: the exploration ran longer than the test's limit of 300ms of real time; ",
        )
        .and_then(|r| r.strip_suffix(" of 40 schedules ran, and passed"))
        .unwrap_or_else(|| panic!("{f}"))
        .parse()
        .unwrap();
    assert!((1..40).contains(&ran), "{f}");
    assert!(
        f.to_string().contains(
            "  The wall-clock limit (`timeout`, default 60s) is for the whole test: each run stops at it, and \
             no schedule starts once the test has run that long. Raise `timeout`, lower `explore`, or give \
             the exploration a time budget with `explore_for` (it stops there and passes).\n\n\
             replay: ASYNC_TESTKIT_SEED=0 ASYNC_TESTKIT_STRATEGY=portfolio cargo test -- --exact "
        ),
        "{f}"
    );
}

/// An `explore_for` budget longer than the wall-clock limit is the exploration's bound.
#[test]
fn an_explore_for_budget_longer_than_the_wall_limit_passes() {
    let r = Builder::new()
        .explore_for(Duration::from_millis(600))
        .timeout(Duration::from_millis(200))
        .try_run(|| async {
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(10)))
                .await
                .unwrap();
        })
        .unwrap();
    assert!(r.schedules() >= 2, "{}", r.schedules());
}

/// Panics when dropped: a task holding one panics when the run tears it down.
struct PanicsOnDrop(&'static str);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

#[test]
fn a_panic_in_the_teardown_of_a_timed_out_run_does_not_take_the_headline() {
    let f = Builder::new()
        .timeout(Duration::from_millis(100))
        .try_run(|| async {
            let guard = PanicsOnDrop("tokio task dropped at shutdown");
            tokio::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            let guard = PanicsOnDrop("kit task cancelled");
            spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            loop {
                async_testkit::yield_point().await;
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::WallTimeout, "{f}");
    assert_eq!(
        f.headline(),
        "wall-clock timeout: the test ran longer than its limit of 100ms of real time (virtual time +0s)"
    );
    assert_eq!(
        f.panic_messages(),
        [
            "kit task cancelled (while the task was being dropped)",
            "tokio task dropped at shutdown"
        ]
    );
    let text = f.to_string();
    assert!(
        text.contains(
            "also, after the run had stopped, while its tasks were cancelled and its runtime shut down (2):\n  \
             task #1 panicked at tests/oracles.rs:"
        ),
        "{text}"
    );
    assert!(
        text.contains(": kit task cancelled (while the task was being dropped) [+0s]\n  a task started with tokio::spawn panicked at tests/oracles.rs:"),
        "{text}"
    );
    assert!(!text.contains("panics ("), "{text}");
}

#[test]
fn a_panic_in_the_teardown_fails_the_test_when_nothing_else_did() {
    let f = Builder::new()
        .leaks(Policy::Warn)
        .try_run(|| async {
            let guard = PanicsOnDrop("dropped at shutdown");
            tokio::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(
        f.headline()
            .starts_with("a task started with tokio::spawn panicked at tests/oracles.rs:"),
        "{f}"
    );
    let text = f.to_string();
    assert!(text.contains("panics (1):"), "{text}");
    assert!(!text.contains("also, after the run"), "{text}");
}

/// Run by `a_backtrace_capture_is_not_a_slow_poll` in a child process with
/// `RUST_BACKTRACE=1`: a failing assertion, with a slow-poll threshold below what
/// capturing and resolving its backtrace takes.
#[test]
fn backtrace_child() {
    if std::env::var_os("ASYNC_TESTKIT_BACKTRACE_CHILD").is_none() {
        return;
    }
    let f = Builder::new()
        // Above what unwinding costs in a debug build, well below a backtrace's capture
        // and symbolization there (hundreds of milliseconds).
        .slow_poll(Duration::from_millis(50))
        .try_run(|| async {
            let started = std::time::Instant::now();
            let r = std::panic::catch_unwind(|| assert_eq!(1 + 1, 3, "arithmetic"));
            let hook = started.elapsed();
            // The hook's own time, for the parent to know the case was really exercised.
            println!("hook took {}ms", hook.as_millis());
            std::panic::resume_unwind(r.unwrap_err());
        })
        .unwrap_err();
    println!("{f}");
}

#[test]
fn a_backtrace_capture_is_not_a_slow_poll() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "backtrace_child", "--test-threads=1", "--nocapture"])
        .env("ASYNC_TESTKIT_BACKTRACE_CHILD", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("async-testkit: the test body panicked at tests/oracles.rs:"),
        "{stdout}"
    );
    assert!(stdout.contains("backtrace (your frames):"), "{stdout}");
    assert!(!stdout.contains("slow poll"), "{stdout}");
}

#[test]
fn a_deadlock_among_tokio_tasks_says_what_the_kit_does_not_see() {
    let f = Builder::new()
        .try_run(|| async {
            let (tx_a, rx_a) = tokio::sync::oneshot::channel::<()>();
            let (tx_b, rx_b) = tokio::sync::oneshot::channel::<()>();
            // Each waits for the other's sender, which it holds until then.
            let a = tokio::spawn(async move {
                tokio::time::sleep(5 * S).await;
                let _ = rx_b.await;
                drop(tx_a);
            });
            let b = tokio::spawn(async move {
                tokio::time::sleep(3 * S).await;
                let _ = rx_a.await;
                drop(tx_b);
            });
            a.await.unwrap();
            b.await.unwrap();
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Deadlock, "{f}");
    assert_eq!(
        f.headline(),
        "deadlock: every task is waiting and no timer is pending (the kit's own tasks last ran at +0s; \
         2 tasks started with tokio::spawn are waiting too, and the kit does not see when they last ran)"
    );
    let text = f.to_string();
    assert!(
        text.contains(
            "  The kit does not see what tasks started with tokio::spawn wait on, when tokio polls them, or when \
             they last ran:\n  they are not in the timeline below, which shows the kit's own tasks only. To see \
             them in it,\n  depend on tokio through async-testkit-tokio with its explore feature (README: \
             \"Exploring code that uses tokio::spawn\"), or start them with async_testkit::spawn.\n"
        ),
        "{text}"
    );
}

/// A slow poll found by an exploration is not minimised (each replay would take its wall
/// time, and whether it is slow depends on the machine): the report says so.
#[test]
fn a_slow_poll_found_by_an_exploration_is_not_minimised_and_says_so() {
    let f = Builder::new()
        .explore(3)
        .slow_poll(Duration::from_millis(60))
        .slow_poll_policy(Policy::Fail)
        .try_run(|| async { std::thread::sleep(Duration::from_millis(100)) })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::SlowPoll, "{f}");
    assert!(
        f.to_string().contains(
            "not minimised: a slow poll depends on the machine's speed, and each replay would take its wall \
             time, so the schedule is the one found (0 preemptions); the failing run makes 0 scheduling choices"
        ),
        "{f}"
    );
}

/// The note of an exploration that could not order tokio's own tasks.
fn not_explored_note<T>(r: &async_testkit::Report<T>) -> &str {
    r.warnings()
        .iter()
        .find(|w| w.starts_with("not explored"))
        .expect("a note")
}

/// Use before init across two tasks started straight on tokio: under tokio's own order the
/// writer always runs first, so no exploration can find the bug; it must say so.
async fn tokio_ordered_use_before_init() {
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ready.clone();
    let writer = tokio::spawn(async move { r.store(true, std::sync::atomic::Ordering::SeqCst) });
    let r = ready.clone();
    let reader = tokio::spawn(async move { assert!(r.load(std::sync::atomic::Ordering::SeqCst)) });
    writer.await.unwrap();
    reader.await.unwrap();
}

#[test]
fn an_exploration_that_could_not_order_tokios_tasks_says_so_with_the_fix() {
    let r = Builder::new()
        .explore(50)
        .try_run(tokio_ordered_use_before_init)
        .unwrap();
    assert_eq!(r.tokio_tasks(), 2);
    let note = not_explored_note(&r);
    assert!(
        note.starts_with(
            "not explored: 50 of 50 schedules had tasks that tokio schedules itself (up to 2 alive at once: \
             started with tokio::spawn, spawn_local or JoinSet straight on tokio, by the code under test or a \
             library); tokio ran them in its own order every time, so no order of theirs but that one was tried. \
             To explore them, depend on tokio through async-testkit-tokio with its explore feature in \
             [dev-dependencies]: tokio = { package = \"async-testkit-tokio\", version = \"0.1\", features = \
             [\"full\", \"explore\"] }"
        ),
        "{note}"
    );
    // With the kit's own tasks only, no such note.
    let r = Builder::new()
        .explore(50)
        .try_run(|| async { async_testkit::spawn(async {}).await.unwrap() })
        .unwrap();
    assert_eq!(r.tokio_tasks(), 0);
    assert!(
        r.warnings().iter().all(|w| !w.starts_with("not explored")),
        "{:?}",
        r.warnings()
    );
}

#[test]
fn dfs_never_calls_a_space_with_tokios_own_tasks_exhausted() {
    let r = Builder::new()
        .strategy(async_testkit::Strategy::Dfs { max_preemptions: 3 })
        .explore(1000)
        .try_run(tokio_ordered_use_before_init)
        .unwrap();
    assert!(r.schedules() < 1000, "the search ran out of schedules");
    assert!(!r.exhausted());
    let note = not_explored_note(&r);
    assert!(
        note.contains(
            "(the DFS search ran out of schedules, but its space did not include their orders: not exhausted)"
        ),
        "{note}"
    );
}

/// A reader whose peer is still open when the body returns waits for ever: a leak, even
/// though the settling turns the I/O driver to look for events that came in.
#[test]
fn a_reader_whose_peer_stays_open_is_still_a_leak() {
    let f = Builder::new()
        .try_run(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 8];
                let _ = tokio::io::AsyncReadExt::read(&mut server, &mut buf).await;
            });
            tokio::task::yield_now().await;
            std::mem::forget(client);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    assert!(
        f.headline().starts_with(
            "leak: 1 task started with tokio::spawn was still alive when the test body returned"
        ),
        "{}",
        f.headline()
    );
}
