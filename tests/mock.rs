//! AsyncMock: every behaviour, the record, the counters, and every failure message.

use std::time::Duration;

use async_testkit::mock::{AsyncMock, Outcome};
use async_testkit::{Builder, Failure, FailureKind};

mod support;

fn sites(text: &str) -> String {
    support::sites(text, file!())
}

use support::fails;

/// The only panic message of a failed run, with sites replaced.
fn panic_of(f: &Failure) -> String {
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert_eq!(f.panic_messages().len(), 1, "{f}");
    sites(&f.panic_messages()[0])
}

const SECOND: Duration = Duration::from_secs(1);

#[async_testkit::test]
async fn returns_gives_a_clone_each_time() {
    let mock = AsyncMock::<u32, String>::new().returns("x".into());
    assert_eq!(mock.call(1).await, "x");
    assert_eq!(mock.call(2).await, "x");
    assert_eq!(async_testkit::time::elapsed(), Duration::ZERO);
}

#[async_testkit::test]
async fn returns_after_takes_virtual_time() {
    let mock = AsyncMock::<(), u8>::new().returns_after(3 * SECOND, 1);
    tokio::time::sleep(SECOND).await;
    assert_eq!(mock.call(()).await, 1);
    let call = &mock.calls()[0];
    assert_eq!((call.started(), call.ended()), (SECOND, Some(4 * SECOND)));
}

#[async_testkit::test]
async fn a_sequence_then_its_fallback() {
    let mock = AsyncMock::<(), u8>::new().returns(0).returns_seq([1, 2]);
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(mock.call(()).await);
    }
    assert_eq!(got, [1, 2, 0, 0]);
}

#[test]
fn a_sequence_that_runs_out_fails_the_call() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, u8>::named("next").returns_seq([1, 2]);
        mock.call(10).await;
        mock.call(20).await;
        mock.call(30).await;
    });
    assert_eq!(
        panic_of(&f),
        "mock `next` ran out of values: returns_seq gave 2 and call #3 with arguments 30 (called at <site>) \
         needed one more.\nGive returns_seq more values, or a fallback after them with returns(..)."
    );
}

#[test]
fn a_mock_without_behaviour_says_how_to_give_it_one() {
    let f = fails(|| async {
        AsyncMock::<&str, u8>::named("load").call("k").await;
    });
    assert_eq!(
        panic_of(&f),
        "mock `load` has no behaviour for call #1 with arguments \"k\" (called at <site>).\n\
         Give it one with returns(..), returns_seq(..), returns_once(..), returns_with(..), fails(..), panics(..) or hangs()."
    );
}

#[async_testkit::test]
async fn returns_with_runs_a_future_on_virtual_time() {
    let mock = AsyncMock::<(u64, &'static str), String>::new().returns_with(|(secs, s)| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        s.repeat(2)
    });
    assert_eq!(mock.call((5, "ab")).await, "abab");
    assert_eq!(async_testkit::time::elapsed(), 5 * SECOND);
    assert_eq!(mock.calls()[0].ended(), Some(5 * SECOND));
}

#[async_testkit::test]
async fn fails_answers_an_error() {
    let mock = AsyncMock::<(), Result<u8, String>>::new().fails("down".into());
    assert_eq!(mock.call(()).await, Err("down".to_string()));
    assert_eq!(mock.call(()).await, Err("down".to_string()));
}

#[test]
fn panics_fails_the_test_and_records_a_panicked_call() {
    let f = fails(|| async {
        let mock = AsyncMock::<(), ()>::new().panics("disk on fire");
        let t = async_testkit::spawn(mock.call(()));
        assert!(t.await.is_err());
        assert_eq!(mock.calls()[0].outcome(), Outcome::Panicked);
        assert_eq!(mock.calls()[0].ended(), Some(Duration::ZERO));
        assert_eq!(
            (mock.completed_count(), mock.cancelled_count(), mock.in_flight()),
            (0, 0, 0)
        );
    });
    // The panic was not taken with into_panic, so it still fails the test.
    assert_eq!(panic_of(&f), "disk on fire");
}

#[async_testkit::test]
async fn a_panicking_returns_with_future_is_recorded_as_panicked() {
    let mock = AsyncMock::<(), ()>::new().returns_with(|()| async { panic!("inner") });
    let err = async_testkit::spawn(mock.call(())).await.unwrap_err();
    assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "inner");
    assert_eq!(mock.calls()[0].outcome(), Outcome::Panicked);
}

#[test]
fn hangs_deadlocks_a_test_that_waits_for_it() {
    let f = fails(|| async {
        AsyncMock::<(), ()>::new().hangs().call(()).await;
    });
    assert_eq!(f.kind(), FailureKind::Deadlock);
}

#[async_testkit::test]
async fn a_hanging_call_cut_by_a_timeout_is_cancelled_at_that_time() {
    let mock = AsyncMock::<(), ()>::new().hangs();
    assert!(tokio::time::timeout(2 * SECOND, mock.call(())).await.is_err());
    let call = &mock.calls()[0];
    assert_eq!(
        (call.outcome(), call.ended(), call.awaited()),
        (Outcome::Cancelled, Some(2 * SECOND), true)
    );
    assert_eq!(
        (mock.call_count(), mock.await_count(), mock.cancelled_count()),
        (1, 1, 1)
    );
}

#[async_testkit::test]
async fn delay_and_jitter_add_up() {
    let mock = AsyncMock::<(), ()>::new()
        .returns(())
        .delay(SECOND)
        .jitter(Duration::from_millis(100)..Duration::from_millis(200));
    for _ in 0..20 {
        mock.call(()).await;
    }
    for c in mock.calls() {
        let took = c.ended().unwrap() - c.started();
        assert!(
            took >= Duration::from_millis(1100) && took < Duration::from_millis(1200),
            "{took:?}"
        );
    }
}

#[test]
fn jitter_follows_the_seed() {
    let latencies = |seed| {
        Builder::new().seed(seed).run(|| async {
            let mock = AsyncMock::<(), ()>::new().returns(()).jitter(..=SECOND);
            for _ in 0..8 {
                mock.call(()).await;
            }
            mock.calls()
                .iter()
                .map(|c| c.ended().unwrap() - c.started())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(latencies(1), latencies(1));
    assert_ne!(latencies(1), latencies(2));
}

#[test]
fn jitter_rejects_open_and_empty_ranges() {
    let open = std::panic::catch_unwind(|| {
        AsyncMock::<(), ()>::new().jitter(SECOND..);
    })
    .unwrap_err();
    assert_eq!(
        sites(open.downcast_ref::<String>().unwrap()),
        "jitter at <site> needs a range with an upper bound, like \
         Duration::from_millis(10)..Duration::from_millis(50)"
    );
    let empty = std::panic::catch_unwind(|| {
        AsyncMock::<(), ()>::new().jitter(SECOND..SECOND);
    })
    .unwrap_err();
    assert_eq!(
        sites(empty.downcast_ref::<String>().unwrap()),
        "jitter at <site> was given an empty range: write it as low..high with low < high"
    );
}

#[async_testkit::test]
async fn a_gate_holds_calls_until_released_one_by_one() {
    let mock = AsyncMock::<u32, u32>::new().returns_with(|x| async move { x * 2 });
    let gate = mock.gate();
    let calls: Vec<_> = (1..=3).map(|i| async_testkit::spawn(mock.call(i))).collect();
    for _ in 0..3 {
        gate.entered().await;
    }
    assert_eq!(
        (gate.waiting(), gate.entered_count(), mock.await_count()),
        (3, 3, 3)
    );
    gate.release();
    async_testkit::time::run_until_idle().await;
    assert_eq!(mock.completed_count(), 1);
    assert_eq!(
        mock.calls()[0].outcome(),
        Outcome::Completed,
        "the oldest call goes first"
    );
    gate.release_all();
    let mut got = Vec::new();
    for c in calls {
        got.push(c.await.unwrap());
    }
    assert_eq!(got, [2, 4, 6]);
    assert_eq!(mock.call(5).await, 10, "an open gate lets later calls through");
}

#[async_testkit::test]
async fn a_release_given_to_a_cancelled_call_goes_to_the_next() {
    let mock = AsyncMock::<u32, u32>::new().returns(0);
    let gate = mock.gate();
    let mut first = Box::pin(mock.call(1));
    let second = async_testkit::spawn(mock.call(2));
    assert!(futures_poll(&mut first).is_pending());
    gate.entered().await;
    gate.entered().await;
    gate.release();
    drop(first);
    assert_eq!(second.await.unwrap(), 0);
    assert_eq!(mock.calls()[0].outcome(), Outcome::Cancelled);
}

fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let waker = std::task::Waker::noop();
    std::pin::Pin::new(f).poll(&mut std::task::Context::from_waker(waker))
}

#[async_testkit::test]
async fn a_gate_comes_before_the_delay() {
    let mock = AsyncMock::<(), ()>::new().returns_after(SECOND, ());
    let gate = mock.gate();
    let call = async_testkit::spawn(mock.call(()));
    gate.entered().await;
    tokio::time::sleep(10 * SECOND).await;
    gate.release();
    call.await.unwrap();
    assert_eq!(mock.calls()[0].ended(), Some(11 * SECOND));
}

#[async_testkit::test]
async fn branches_answer_in_order_then_the_default() {
    let mock = AsyncMock::<u32, &'static str>::new().returns("other");
    mock.when(|x| *x < 10).returns("small");
    mock.when(|x| *x < 100).returns_after(SECOND, "medium");
    mock.when(|x| *x == 5).returns("never: an earlier branch matches");
    assert_eq!(mock.call(5).await, "small");
    assert_eq!(mock.call(50).await, "medium");
    assert_eq!(async_testkit::time::elapsed(), SECOND);
    assert_eq!(mock.call(500).await, "other");
}

#[test]
fn an_unmatched_call_lists_the_branches_and_the_arguments() {
    let f = fails(|| async {
        let mock = AsyncMock::<(u32, &str), u8>::named("route");
        mock.when(|(x, _)| *x == 1).returns(1);
        mock.when(|(_, s)| s.is_empty()).returns(2);
        mock.call((7, "x")).await;
    });
    assert_eq!(
        panic_of(&f),
        "mock `route` has no branch matching call #1 with arguments (7, \"x\") (called at <site>).\n\
         branches, tried in order:\n  1. when(..) at <site>\n  2. when(..) at <site>\n\
         Add a when(..) branch that matches these arguments, or a default behaviour on the mock itself \
         with returns(..)."
    );
}

#[test]
fn a_branch_without_behaviour_is_named_in_the_failure() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, u8>::named("m").returns(0);
        mock.when(|x| *x == 1);
        mock.call(1).await;
    });
    assert_eq!(
        panic_of(&f),
        "the branch when(..) at <site> of mock `m` has no behaviour for call #1 with arguments 1 (called at \
         <site>).\nGive it one with returns(..), returns_seq(..), returns_once(..), returns_with(..), fails(..), \
         panics(..) or hangs()."
    );
}

#[async_testkit::test]
async fn the_record_keeps_called_awaited_completed_and_cancelled_apart() {
    let mock = AsyncMock::<u32, ()>::new().returns_after(SECOND, ());
    let never_polled = mock.call(1);
    let cut = tokio::time::timeout(Duration::from_millis(500), mock.call(2)).await;
    assert!(cut.is_err());
    mock.call(3).await;
    let pending = mock.call(4);
    assert_eq!(
        (
            mock.call_count(),
            mock.await_count(),
            mock.completed_count(),
            mock.cancelled_count()
        ),
        (4, 2, 1, 1)
    );
    assert_eq!((mock.in_flight(), mock.max_in_flight()), (2, 2));
    let outcomes: Vec<_> = mock.calls().iter().map(|c| (c.outcome(), c.awaited())).collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Pending, false),
            (Outcome::Cancelled, true),
            (Outcome::Completed, true),
            (Outcome::Pending, false)
        ]
    );
    drop((never_polled, pending));
    assert_eq!(mock.cancelled_count(), 3);
    assert_eq!(
        sites(&mock.log_table()),
        "calls of the mock created at <site> (4):\n\
         \x20    #  called     ended      outcome                      args\n\
         \x20    1  +0s        +1.500s    cancelled (never awaited)    1\n\
         \x20    2  +0s        +0.500s    cancelled                    2\n\
         \x20    3  +0.500s    +1.500s    completed                    3\n\
         \x20    4  +1.500s    +1.500s    cancelled (never awaited)    4"
    );
}

#[async_testkit::test]
async fn calls_from_tokio_spawn_are_recorded_too() {
    let mock = AsyncMock::<u32, u32>::new().returns_after(SECOND, 7);
    let handles: Vec<_> = (0..3).map(|i| tokio::spawn(mock.call(i))).collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 7);
    }
    mock.assert_max_in_flight(3);
    assert_eq!(async_testkit::time::elapsed(), SECOND);
}

#[async_testkit::test]
async fn wait_for_calls_waits_on_virtual_time() {
    let mock = AsyncMock::<u32, ()>::new().returns(());
    let m = mock.clone();
    let worker = async_testkit::spawn(async move {
        for i in 0..4 {
            tokio::time::sleep(SECOND).await;
            m.call(i).await;
        }
    });
    mock.wait_for_calls(2).await;
    assert_eq!(async_testkit::time::elapsed(), 2 * SECOND);
    mock.wait_for_calls(4).within(10 * SECOND).await;
    assert_eq!(async_testkit::time::elapsed(), 4 * SECOND);
    mock.wait_for_calls(1).await; // already there
    worker.await.unwrap();
}

#[test]
fn wait_for_calls_within_fails_with_the_log() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, ()>::named("tick").returns(());
        let m = mock.clone();
        async_testkit::spawn(async move { m.call(1).await })
            .await
            .unwrap();
        mock.wait_for_calls(2).within(5 * SECOND).await;
    });
    assert_eq!(
        panic_of(&f),
        "mock `tick`: expected 2 calls within 5.000s (wait_for_calls at <site>, within at <site>), got 1\n\
         calls of mock `tick` (1):\n\
         \x20    #  called     ended      outcome                      args\n\
         \x20    1  +0s        +0s        completed                    1"
    );
    assert!(f.to_string().contains("+5.000s"), "{f}");
}

/// Runs `assert` on a mock called once with 1 (completed) and once with 2 (cancelled),
/// and returns the failure message.
fn assertion_message(assert: fn(&AsyncMock<u32, ()>)) -> String {
    let f = fails(move || async move {
        let mock = AsyncMock::<u32, ()>::named("save").returns_after(SECOND, ());
        mock.call(1).await;
        let _ = tokio::time::timeout(Duration::from_millis(250), mock.call(2)).await;
        assert(&mock);
    });
    panic_of(&f)
}

const LOG: &str = "calls of mock `save` (2):\n\
    \x20    #  called     ended      outcome                      args\n\
    \x20    1  +0s        +1.000s    completed                    1\n\
    \x20    2  +1.000s    +1.250s    cancelled                    2";

#[test]
fn assert_called_times_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_called_times(3)),
        format!("mock `save`: expected 3 calls, got 2 (assert_called_times at <site>)\n{LOG}")
    );
}

#[test]
fn assert_called_with_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_called_with(9)),
        format!(
            "mock `save`: expected a call with arguments 9, got none (assert_called_with at <site>)\n{LOG}"
        )
    );
}

#[test]
fn assert_awaited_times_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_awaited_times(1)),
        format!("mock `save`: expected 1 awaited call, got 2 (assert_awaited_times at <site>)\n{LOG}")
    );
}

#[test]
fn assert_not_called_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_not_called()),
        format!("mock `save`: expected no calls, got 2 (assert_not_called at <site>)\n{LOG}")
    );
}

#[test]
fn assert_cancelled_times_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_cancelled_times(0)),
        format!("mock `save`: expected 0 cancelled calls, got 1 (assert_cancelled_times at <site>)\n{LOG}")
    );
}

#[test]
fn assert_max_in_flight_failure() {
    assert_eq!(
        assertion_message(|m| m.assert_max_in_flight(2)),
        format!(
            "mock `save`: expected a peak of 2 calls in flight, got 1 (assert_max_in_flight at <site>)\n{LOG}"
        )
    );
}

#[test]
fn assertions_that_hold_pass() {
    Builder::new().run(|| async {
        let mock = AsyncMock::<u32, ()>::new().returns(());
        mock.assert_not_called();
        mock.call(1).await;
        drop(mock.call(2));
        mock.assert_called_times(2);
        mock.assert_called_with(2);
        mock.assert_awaited_times(1);
        mock.assert_cancelled_times(1);
        mock.assert_max_in_flight(1);
    });
}

#[test]
fn an_assertion_on_a_mock_never_called_says_so() {
    let f = fails(|| async {
        AsyncMock::<u32, ()>::named("idle").assert_called_times(1);
    });
    assert_eq!(
        panic_of(&f),
        "mock `idle`: expected 1 call, got 0 (assert_called_times at <site>)\nmock `idle` was never called"
    );
}

#[test]
fn unmet_expectations_fail_the_run_at_its_end() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, ()>::named("send").returns(()).expect_calls(2);
        mock.call(1).await;
    });
    assert_eq!(f.kind(), FailureKind::Expectation);
    assert_eq!(
        sites(f.headline()),
        "mock `send` expected exactly 2 calls, got 1 (expect_calls at <site>)\n\
         calls of mock `send` (1):\n\
         \x20    #  called     ended      outcome                      args\n\
         \x20    1  +0s        +0s        completed                    1"
    );
}

#[test]
fn branch_expectations_count_the_branch_calls() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, ()>::named("get").returns(());
        mock.when(|x| *x > 10).returns(()).expect_calls(1..=2);
        mock.expect_calls(..=1);
        mock.call(1).await;
        mock.call(2).await;
    });
    assert_eq!(f.kind(), FailureKind::Expectation);
    let headline = sites(f.headline());
    let first_lines: Vec<&str> = headline.lines().take(2).collect();
    assert_eq!(
        first_lines,
        [
            "mock `get` expected at most 1 call, got 2 (expect_calls at <site>)",
            "mock `get`, branch 1 (when at <site>), expected 1 to 2 calls, got 0 (expect_calls at <site>)"
        ]
    );
}

#[test]
fn met_expectations_pass() {
    Builder::new().run(|| async {
        let mock = AsyncMock::<u32, ()>::new().returns(()).expect_calls(1..3);
        mock.when(|x| *x == 0).returns(()).expect_calls(0);
        mock.call(1).await;
    });
}

#[test]
fn expectations_of_a_mock_held_by_a_panicked_task_are_still_checked() {
    let f = fails(|| async {
        let mock = AsyncMock::<(), ()>::named("audit").returns(()).expect_calls(1);
        let held = mock.clone();
        drop(mock);
        async_testkit::spawn(async move {
            let _mock = held;
            panic!("worker crashed");
        })
        .await
        .unwrap_err();
    });
    assert_eq!(f.kind(), FailureKind::Panic);
    let text = sites(&f.to_string());
    assert!(text.contains("broken expectations (1):"), "{text}");
    assert!(
        text.contains("mock `audit` expected exactly 1 call, got 0 (expect_calls at <site>)"),
        "{text}"
    );
}

#[test]
fn expectations_outside_a_run_are_checked_on_drop() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let err = std::panic::catch_unwind(|| {
        let mock = AsyncMock::<(), u8>::named("plain").returns(1).expect_calls(2);
        rt.block_on(async { mock.call(()).await });
    })
    .unwrap_err();
    assert_eq!(
        sites(err.downcast_ref::<String>().unwrap())
            .lines()
            .next()
            .unwrap(),
        "mock `plain` expected exactly 2 calls, got 1 (expect_calls at <site>)"
    );
}

#[test]
fn a_mock_created_outside_a_run_is_checked_by_the_run_that_uses_it() {
    let mock = AsyncMock::<(), ()>::named("shared").returns(()).expect_calls(1);
    let m = mock.clone();
    let f = Builder::new()
        .try_run(move || {
            let m = m.clone();
            async move {
                let _ = m.call_count(); // not a call: nothing to check yet
                m.expect_calls(1); // registers the check with this run
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation);
    drop(mock); // checked by the run: no second failure on drop
}

#[async_testkit::test]
async fn a_cloned_handle_shares_behaviour_and_log() {
    let mock = AsyncMock::<(), u8>::new();
    let held_by_code = mock.clone();
    mock.returns(4);
    assert_eq!(held_by_code.call(()).await, 4);
    mock.assert_called_times(1);
}

#[test]
fn polling_a_completed_call_again_says_what_is_wrong() {
    let f = fails(|| async {
        let mock = AsyncMock::<(), ()>::named("once").returns(());
        let mut call = Box::pin(mock.call(()));
        assert!(futures_poll(&mut call).is_ready());
        let _ = futures_poll(&mut call);
    });
    assert_eq!(
        panic_of(&f),
        "a call of mock `once` was polled after it completed: a future must not be polled again once it is ready"
    );
}

#[test]
fn handles_and_calls_are_send_and_sync_when_their_types_are() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<AsyncMock<String, Result<Vec<u8>, String>>>();
    send::<async_testkit::mock::MockCall<String, Result<Vec<u8>, String>>>();
    send_sync::<async_testkit::mock::Gate>();
}

/// A mock built outside the test's closure is shared by every schedule of an exploration:
/// each schedule (each run) starts its calls and counts afresh, so an expectation holds
/// per schedule.
#[test]
fn a_mock_built_outside_an_exploration_counts_each_schedule_afresh() {
    let m = AsyncMock::<u32, u32>::named("fetch").returns(7).expect_calls(1);
    let r = Builder::new().explore(10).try_run({
        let m = m.clone();
        move || {
            let m = m.clone();
            async move {
                m.assert_not_called();
                let t = async_testkit::spawn({
                    let m = m.clone();
                    async move { m.call(1).await }
                });
                assert_eq!(t.await.unwrap(), 7);
                m.assert_called_times(1);
                assert_eq!(
                    (m.await_count(), m.completed_count(), m.max_in_flight()),
                    (1, 1, 1)
                );
            }
        }
    });
    assert_eq!(r.unwrap().schedules(), 10);
    // What the last schedule recorded.
    assert_eq!(m.call_count(), 1);
}

/// A schedule that does not use the shared mock at all is still checked.
#[test]
fn a_schedule_that_never_calls_a_mock_built_outside_fails_its_expectation() {
    let m = AsyncMock::<u32, u32>::named("fetch").returns(7).expect_calls(1);
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let f = Builder::new()
        .explore(10)
        .try_run({
            let m = m.clone();
            move || {
                let (m, runs) = (m.clone(), runs.clone());
                async move {
                    if runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 3 {
                        m.call(1).await;
                    }
                }
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation, "{f}");
    // The run count decides the failure: run 4 (schedule 4) fails, its replays pass.
    let head = f.headline();
    assert!(
        head.starts_with("mock `fetch` expected exactly 1 call, got 0 (expect_calls at tests/mock.rs:")
            && head.ends_with(")\nmock `fetch` was never called"),
        "{f}"
    );
}

/// A `returns_seq` is not given back to later runs: the message says why and what to do.
#[test]
fn a_returns_seq_spent_by_an_earlier_schedule_says_to_build_the_mock_inside() {
    let m = AsyncMock::<u32, u32>::named("fetch").returns_seq([1, 2]);
    let f = Builder::new()
        .explore(10)
        .try_run({
            let m = m.clone();
            move || {
                let m = m.clone();
                async move {
                    m.call(0).await;
                }
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(
        f.to_string().contains(
            "mock `fetch` ran out of values: returns_seq gave 2 and call #1 with arguments 0 (called at \
             tests/mock.rs:"
        ),
        "{f}"
    );
    assert!(
        f.to_string().contains(
            // Schedules 1 and 2 took the values, schedule 3 failed: the report comes from a
            // replay of it, the fourth run.
            ") needed one more.\nThe mock was built outside the test's closure, and 3 earlier runs of this \
             test (the schedules of an exploration, a failure's replays) took values from it: each run starts \
             the mock's calls and counts afresh, not its queued values. Build the mock inside the closure, so \
             that each run has its own."
        ),
        "{f}"
    );
}

/// A gate of a mock built outside the test's closure starts each schedule closed, with no
/// call at it, as the first schedule found it.
#[test]
fn a_gate_built_outside_an_exploration_starts_each_schedule_as_the_first_found_it() {
    let m = AsyncMock::<u32, u32>::named("fetch").returns(7);
    let gate = m.gate();
    let r = Builder::new()
        .explore(5)
        .try_run(move || {
            let (m, gate) = (m.clone(), gate.clone());
            async move {
                assert_eq!((gate.waiting(), gate.entered_count()), (0, 0));
                let call = async_testkit::spawn(m.call(1));
                gate.entered().await;
                assert_eq!(gate.waiting(), 1, "the call waits at the closed gate");
                gate.release_all();
                assert_eq!(call.await.unwrap(), 7);
            }
        })
        .unwrap();
    assert_eq!(r.schedules(), 5);
}

/// A gate opened before the runs stays open in each of them: that is how they found it.
#[test]
fn a_gate_opened_outside_an_exploration_is_open_in_each_schedule() {
    let m = AsyncMock::<u32, u32>::named("fetch").returns(7);
    let gate = m.gate();
    gate.release();
    let r = Builder::new()
        .explore(5)
        .try_run(move || {
            let m = m.clone();
            async move { m.call(1).await }
        })
        .unwrap();
    assert_eq!((r.schedules(), *r.value()), (5, 7));
}

/// Separate runs (not one test's schedules) keep adding to a mock's record, as before.
#[test]
fn separate_runs_add_to_a_mock_record() {
    let m = AsyncMock::<u32, u32>::new().returns(1);
    for _ in 0..2 {
        let m = m.clone();
        async_testkit::run(async move {
            m.call(0).await;
        });
    }
    assert_eq!(m.call_count(), 2);
}

/// A value that is not `Clone`.
#[derive(Debug, PartialEq)]
struct Token(u32);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[async_testkit::test]
async fn returns_once_hands_out_non_clone_values_in_order_then_the_fallback() {
    let mock = AsyncMock::<(), Token>::new()
        .returns_once(Token(1))
        .returns_once(Token(2))
        .returns_with(|()| async { Token(0) });
    let got = [mock.call(()).await, mock.call(()).await, mock.call(()).await];
    assert_eq!(got, [Token(1), Token(2), Token(0)]);
}

#[test]
fn a_second_call_after_returns_once_fails_naming_the_mock_and_the_call_site() {
    let f = fails(|| async {
        let mock = AsyncMock::<u32, Token>::named("lease").returns_once(Token(1));
        mock.call(1).await;
        mock.call(2).await;
    });
    assert_eq!(
        panic_of(&f),
        "mock `lease` ran out of values: returns_once gave 1 and call #2 with arguments 2 (called at <site>) \
         needed one more.\nGive each call its value with returns_once(..), or answer every call with \
         returns_with(..), which builds a fresh value per call (returns(..) needs a Clone value)."
    );
    assert!(
        f.panic_messages()[0].contains(&format!("(called at {}:{}:", file!(), line!() - 9)),
        "{f}"
    );
}

#[test]
fn returns_seq_and_returns_once_count_together_when_they_run_out() {
    let f = fails(|| async {
        let mock = AsyncMock::<(), u8>::named("m")
            .returns_seq([1, 2])
            .returns_once(3);
        for _ in 0..4 {
            mock.call(()).await;
        }
    });
    assert_eq!(
        panic_of(&f),
        "mock `m` ran out of values: returns_seq and returns_once gave 3 and call #4 with arguments () \
         (called at <site>) needed one more.\nGive each call its value with returns_once(..), or answer \
         every call with returns_with(..), which builds a fresh value per call (returns(..) needs a Clone \
         value)."
    );
}

#[async_testkit::test]
async fn box_error_results_need_no_workaround() {
    let ok = AsyncMock::<u32, Result<String, BoxError>>::new().returns_ok("up".to_string());
    assert_eq!(ok.call(1).await.unwrap(), "up");
    assert_eq!(ok.call(2).await.unwrap(), "up");
    let failing = AsyncMock::<u32, Result<String, BoxError>>::new().fails_with(|| "refused".into());
    assert_eq!(failing.call(1).await.unwrap_err().to_string(), "refused");
    assert_eq!(failing.call(2).await.unwrap_err().to_string(), "refused");
    failing.assert_called_times(2);
    let once = AsyncMock::<(), Result<u8, BoxError>>::new()
        .returns_once(Err("first".into()))
        .returns_ok(1);
    assert_eq!(once.call(()).await.unwrap_err().to_string(), "first");
    assert_eq!(once.call(()).await.unwrap(), 1);
}

/// Each call's times: started, ended, how it ended, awaited.
fn times<A: Clone + std::fmt::Debug + 'static, R: 'static>(
    m: &AsyncMock<A, R>,
) -> Vec<(Duration, Option<Duration>, Outcome, bool)> {
    m.calls()
        .iter()
        .map(|c| (c.started(), c.ended(), c.outcome(), c.awaited()))
        .collect()
}

/// A task woken by its timer is polled inside the executor's wait, where tokio defers the
/// wake `tokio::time::advance` makes: calls ended and made in the same poll as an
/// `advance` still get the moved clock's time.
#[test]
fn calls_around_an_advance_in_a_poll_after_a_sleep_get_the_moved_time() {
    async_testkit::run(async {
        let m = AsyncMock::<u32, u32>::new().returns(7);
        let mm = m.clone();
        let t = async_testkit::spawn(async move {
            tokio::time::sleep(SECOND).await;
            let c = mm.call(1);
            tokio::join!(tokio::time::advance(SECOND), c).1
        });
        assert_eq!(t.await.unwrap(), 7);
        tokio::time::sleep(SECOND).await;
        m.call(2).await;
        let (_, v) = tokio::join!(tokio::time::advance(SECOND), async { m.call(3).await });
        assert_eq!(v, 7);
        assert_eq!(
            times(&m),
            [
                (SECOND, Some(2 * SECOND), Outcome::Completed, true),
                (3 * SECOND, Some(3 * SECOND), Outcome::Completed, true),
                (4 * SECOND, Some(4 * SECOND), Outcome::Completed, true),
            ]
        );
    });
}
