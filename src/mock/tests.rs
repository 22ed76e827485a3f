//! Unit tests of the mock internals that the integration tests cannot reach.

use std::time::Duration;

use super::times::Expect;
use super::*;

#[test]
fn jitter_draws_stay_in_range() {
    let low = Duration::from_millis(10);
    assert_eq!(draw(low, 0, u64::MAX), low);
    assert_eq!(draw(low, 40, 0), low);
    assert_eq!(draw(low, 40, u64::MAX), low + Duration::from_nanos(40));
    assert_eq!(draw(Duration::ZERO, u64::MAX, 17), Duration::from_nanos(17));
}

#[test]
fn expectations_describe_themselves() {
    let site = Location::caller();
    let e = |min, max| Expect { min, max, site };
    let at = format!("(expect_calls at {site})");
    assert_eq!(
        e(2, Some(2)).check("m", 1).unwrap_err(),
        format!("m expected exactly 2 calls, got 1 {at}")
    );
    assert_eq!(
        e(1, Some(1)).check("m", 0).unwrap_err(),
        format!("m expected exactly 1 call, got 0 {at}")
    );
    assert_eq!(
        e(0, Some(3)).check("m", 4).unwrap_err(),
        format!("m expected at most 3 calls, got 4 {at}")
    );
    assert_eq!(
        e(1, Some(3)).check("m", 0).unwrap_err(),
        format!("m expected 1 to 3 calls, got 0 {at}")
    );
    assert_eq!(
        e(2, None).check("m", 1).unwrap_err(),
        format!("m expected at least 2 calls, got 1 {at}")
    );
    assert_eq!(
        e(3, Some(1)).check("m", 2).unwrap_err(),
        format!("m expected an impossible range of calls (3 to 1), got 2 {at}")
    );
    assert!(e(1, Some(3)).check("m", 3).is_ok());
    assert!(e(0, None).check("m", 0).is_ok());
}

#[test]
fn every_kind_of_count_gives_its_bounds() {
    assert_eq!(2.bounds(), (2, Some(2)));
    assert_eq!((1..3).bounds(), (1, Some(2)));
    assert_eq!((1..=3).bounds(), (1, Some(3)));
    assert_eq!((2..).bounds(), (2, None));
    assert_eq!((..3).bounds(), (0, Some(2)));
    assert_eq!((..=3).bounds(), (0, Some(3)));
    assert_eq!((..).bounds(), (0, None));
}

#[test]
fn latency_levels_are_whole_milliseconds_inside_the_range() {
    let width = 100 * 1_000_000 - 1; // 100ms..200ms, upper bound exclusive
    let levels: Vec<u64> = (0..16).map(|l| super::level_nanos(width, l, 16)).collect();
    assert_eq!(levels[0], 0);
    assert_eq!(levels[15], 99 * 1_000_000);
    assert!(levels.iter().all(|n| n % 1_000_000 == 0));
    assert!(levels.windows(2).all(|w| w[0] <= w[1]));
    // Below a millisecond the levels stay exact.
    assert_eq!(super::level_nanos(1500, 15, 16), 1500);
}

/// Each call's start and end, in virtual time.
fn stamps(mock: &AsyncMock<u32, u32>) -> Vec<(Duration, Option<Duration>)> {
    mock.calls().iter().map(|c| (c.started(), c.ended())).collect()
}

/// The calls of one poll share one reading of the clock (`State::now`); the clock moved
/// inside that poll (by `tokio::time::advance`, which wakes the task) is read again.
#[test]
fn a_call_after_the_clock_moved_in_the_same_poll_is_stamped_afresh() {
    let secs = Duration::from_secs;
    let times = crate::run(async {
        let mock = AsyncMock::<u32, u32>::new().returns(1);
        mock.call(0).await;
        // In the same poll of this task: move the clock, then call.
        let mut advance = Box::pin(tokio::time::advance(secs(3)));
        std::future::poll_fn(|cx| {
            let _ = advance.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
        mock.call(1).await;
        let pending = mock.call(2);
        tokio::time::sleep(secs(2)).await;
        pending.await;
        let m = mock.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(1)).await;
            m.call(3).await
        })
        .await
        .unwrap();
        // The same through `join!`: the advance, then the call, in one poll.
        tokio::join!(tokio::time::advance(secs(4)), async { mock.call(4).await });
        // And with a Probe's own waker: the probe says it polled.
        mock.call(5).await;
        let mut probe = crate::Probe::new(tokio::time::advance(secs(5)));
        let _ = probe.poll();
        mock.call(6).await;
        stamps(&mock)
    });
    assert_eq!(
        times,
        [
            (secs(0), Some(secs(0))),
            (secs(3), Some(secs(3))),
            (secs(3), Some(secs(5))),
            (secs(6), Some(secs(6))),
            (secs(10), Some(secs(10))),
            (secs(10), Some(secs(10))),
            (secs(15), Some(secs(15))),
        ]
    );
}

/// The log keeps times in nanoseconds; those past `u64` of them are kept exactly apart.
#[test]
fn the_log_keeps_times_past_584_years_exactly() {
    let mut log = super::log::Log::new();
    let far = Duration::from_secs(700 * 365 * 86_400) + Duration::from_nanos(3);
    let a = log.push(1u32, Duration::from_nanos(5));
    let b = log.push(2, far);
    log.end(a, far + Duration::from_secs(1), Outcome::Completed, true);
    log.end(b, Duration::MAX, Outcome::Cancelled, false);
    let calls = log.calls(u32::clone);
    let got: Vec<_> = calls.iter().map(|c| (c.started(), c.ended())).collect();
    assert_eq!(
        got,
        [
            (Duration::from_nanos(5), Some(far + Duration::from_secs(1))),
            (far, Some(Duration::MAX)),
        ]
    );
    // Past the 61 bits of nanoseconds a record holds (some 73 years), and every outcome.
    let years = Duration::from_secs(100 * 365 * 86_400);
    let c = log.push(3, Duration::ZERO);
    assert_eq!(log.calls(u32::clone)[c].ended(), None);
    log.end(c, years, Outcome::Panicked, false);
    let call = &log.calls(u32::clone)[c];
    assert_eq!(
        (call.ended(), call.outcome(), call.awaited()),
        (Some(years), Outcome::Panicked, false)
    );
    log.mark_awaited(c);
    assert!(log.calls(u32::clone)[c].awaited());
    assert_eq!(std::mem::size_of::<super::log::Record<u64>>(), 24);
}

/// One recorded call: arguments, start, end, outcome, awaited.
type Seen = (u32, Duration, Option<Duration>, Outcome, bool);

/// What a mock shows of its calls: counters, then each call's record.
fn observed(mock: &AsyncMock<u32, u32>) -> (Vec<usize>, Vec<Seen>) {
    let counts = vec![
        mock.call_count(),
        mock.await_count(),
        mock.completed_count(),
        mock.cancelled_count(),
        mock.in_flight(),
        mock.max_in_flight(),
    ];
    let calls = mock
        .calls()
        .iter()
        .map(|c| (*c.args(), c.started(), c.ended(), c.outcome(), c.awaited()))
        .collect();
    (counts, calls)
}

/// The same calls against `mock`: awaited at once, held over a sleep, dropped unpolled,
/// two in flight.
async fn exercise(mock: &AsyncMock<u32, u32>) {
    assert_eq!(mock.call(1).await, 7);
    let held = mock.call(2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(held.await, 7);
    drop(mock.call(3));
    let (a, b) = tokio::join!(mock.call(4), mock.call(5));
    assert_eq!((a, b), (7, 7));
}

#[test]
fn a_plain_value_mock_records_as_one_with_a_branch() {
    // `returns(7)` alone takes the short path of `call`; a branch that never matches sends
    // every call down the general one. Both must record the same.
    let (plain, branched) = crate::run(async {
        let plain = AsyncMock::<u32, u32>::named("plain").returns(7).expect_calls(5);
        exercise(&plain).await;
        let branched = AsyncMock::<u32, u32>::named("plain").returns(7).expect_calls(5);
        branched.when(|_| false).returns(0);
        exercise(&branched).await;
        (observed(&plain), observed(&branched))
    });
    assert_eq!(plain.0, [5, 4, 4, 1, 0, 2]);
    assert_eq!(plain.1.len(), 5);
    assert_eq!(plain.1[1].2, Some(Duration::from_secs(1)));
    assert_eq!(plain.1[2].3, Outcome::Cancelled);
    assert!(!plain.1[2].4);
    let shift = Duration::from_secs(1);
    let branched_calls: Vec<_> = branched
        .1
        .iter()
        .map(|&(a, s, e, o, w)| (a, s - shift, e.map(|e| e - shift), o, w))
        .collect();
    assert_eq!((plain.0, plain.1), (branched.0, branched_calls));
}

#[test]
fn a_plain_value_mock_is_adopted_by_each_run_and_works_outside_one() {
    let mock = AsyncMock::<u32, u32>::named("shared").returns(7);
    // Outside a run: the value is ready at the first poll.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut outside = mock.call(1);
    assert_eq!(
        std::pin::Pin::new(&mut outside).poll(&mut cx),
        std::task::Poll::Ready(7)
    );
    drop(outside);
    crate::run({
        let mock = mock.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert_eq!(mock.call(2).await, 7);
        }
    });
    crate::run({
        let mock = mock.clone();
        async move { assert_eq!(mock.call(3).await, 7) }
    });
    let calls = mock.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].started(), Duration::from_secs(2));
    // The second run counts from its own start.
    assert_eq!(calls[2].started(), Duration::ZERO);
    assert!(calls.iter().all(|c| c.outcome() == Outcome::Completed));
}

/// Whether a call's completion waits in `done` for the next holder of the lock.
fn unrecorded(mock: &AsyncMock<u32, u32>) -> bool {
    mock.shared.done.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// A ready call first polled in the poll it was made in completes without the lock: every
/// state a test can see of it is as if it had taken the lock.
#[test]
fn a_ready_call_completed_without_the_lock_shows_every_state_as_before() {
    let secs = Duration::from_secs;
    crate::run(async {
        let mock = AsyncMock::<u32, u32>::named("ready").returns(7);
        // Made, not polled: called, pending, never awaited.
        let mut made = mock.call(1);
        assert_eq!(
            observed(&mock),
            (
                vec![1, 0, 0, 0, 1, 1],
                vec![(1, secs(0), None, Outcome::Pending, false)]
            )
        );
        // Polled in the same poll: completed at the instant it began, recorded at the next
        // look at the mock.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert_eq!(
            std::pin::Pin::new(&mut made).poll(&mut cx),
            std::task::Poll::Ready(7)
        );
        assert!(unrecorded(&mock));
        assert_eq!(
            observed(&mock),
            (
                vec![1, 1, 1, 0, 0, 1],
                vec![(1, secs(0), Some(secs(0)), Outcome::Completed, true)]
            )
        );
        assert!(!unrecorded(&mock));
        drop(made); // finished: its drop records nothing
        assert_eq!(mock.cancelled_count(), 0);
        // Dropped unpolled, later: cancelled at the drop, never awaited.
        let dropped = mock.call(2);
        tokio::time::sleep(secs(2)).await;
        drop(dropped);
        // Made, then first polled in a later poll: completed under the lock, at its poll.
        let held = mock.call(3);
        tokio::time::sleep(secs(1)).await;
        assert_eq!(held.await, 7);
        assert!(!unrecorded(&mock));
        // Polled inside the kit's wait (woken by its timer), where tokio holds back the wake
        // that would tell a moved clock: the completion is recorded under the lock.
        assert_eq!(mock.call(4).await, 7);
        assert!(!unrecorded(&mock));
        let pending = mock.call(5);
        assert!(!unrecorded(&mock));
        assert_eq!(mock.in_flight(), 1);
        drop(pending);
        assert_eq!(
            observed(&mock),
            (
                vec![5, 3, 3, 2, 0, 1],
                vec![
                    (1, secs(0), Some(secs(0)), Outcome::Completed, true),
                    (2, secs(0), Some(secs(2)), Outcome::Cancelled, false),
                    (3, secs(2), Some(secs(3)), Outcome::Completed, true),
                    (4, secs(3), Some(secs(3)), Outcome::Completed, true),
                    (5, secs(3), Some(secs(3)), Outcome::Cancelled, false),
                ]
            )
        );
        // The failure report's table shows the same.
        assert_eq!(
            mock.shared.table(),
            "calls of mock `ready` (5):\n     \
             #  called     ended      outcome                      args\n     \
             1  +0s        +0s        completed                    1\n     \
             2  +0s        +2.000s    cancelled (never awaited)    2\n     \
             3  +2.000s    +3.000s    completed                    3\n     \
             4  +3.000s    +3.000s    completed                    4\n     \
             5  +3.000s    +3.000s    cancelled (never awaited)    5"
        );
    });
}

/// Two ready calls in flight, completed one after the other in one poll: the first waits in
/// `done`, the second finds it full and takes the lock, which records the first before it.
#[test]
fn two_ready_calls_completed_in_one_poll_are_both_recorded() {
    crate::run(async {
        let mock = AsyncMock::<u32, u32>::new().returns(7);
        let (a, b) = (mock.call(1), mock.call(2));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let (mut a, mut b) = (a, b);
        assert!(std::pin::Pin::new(&mut a).poll(&mut cx).is_ready());
        assert!(unrecorded(&mock));
        assert!(std::pin::Pin::new(&mut b).poll(&mut cx).is_ready());
        assert!(!unrecorded(&mock));
        let (counts, calls) = observed(&mock);
        assert_eq!(counts, [2, 2, 2, 0, 0, 2]);
        assert!(calls.iter().all(|c| c.3 == Outcome::Completed && c.4));
    });
}

/// A completion left in `done` by a call of an earlier record (another run's) is not
/// written into the current one.
#[test]
fn a_completion_of_an_earlier_record_is_left_out() {
    let mock = AsyncMock::<u32, u32>::new().returns(7);
    drop(mock.call(1));
    let generation = mock.shared.state().generation;
    assert!(mock.shared.complete_unlocked(generation.wrapping_add(1), 0));
    let (counts, calls) = observed(&mock);
    assert_eq!(counts, [1, 0, 0, 1, 0, 1]);
    assert_eq!(calls[0].3, Outcome::Cancelled);
    assert!(!unrecorded(&mock));
    // And one whose index does not fit is refused, for the lock to record.
    assert!(!mock.shared.complete_unlocked(generation, u32::MAX as usize));
}
