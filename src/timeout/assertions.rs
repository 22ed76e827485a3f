//! The assertion macros on virtual time, [`assert_elapsed!`](crate::assert_elapsed),
//! [`assert_completes_within!`](crate::assert_completes_within) and
//! [`assert_pending_for!`](crate::assert_pending_for), and the doc-hidden helpers their
//! expansions call as `$crate::timeout::__..` (not a public API).

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::timed_out::{TimedOut, What};
use super::within::{Deadline, Within, within_at};
use crate::runtime::executor;
use crate::trace::Vt;
use crate::trace::span;

#[doc(hidden)]
#[track_caller]
pub fn __completes_within<F: IntoFuture>(limit: Duration, fut: F) -> Within<F::IntoFuture> {
    within_at(
        limit,
        fut.into_future(),
        What::CompletesWithin,
        Location::caller(),
    )
}

#[doc(hidden)]
#[track_caller]
pub fn __completed<T>(result: Result<T, TimedOut>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __pending_for<F: IntoFuture>(limit: Duration, fut: F) -> PendingFor<F::IntoFuture> {
    PendingFor {
        fut: Some(Box::pin(fut.into_future())),
        deadline: Deadline::new(limit, What::PendingFor, Location::caller()),
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __still_pending<F>(result: Result<Pin<Box<F>>, Completed>) -> Pin<Box<F>> {
    match result {
        Ok(fut) => fut,
        Err(c) => panic!(
            "assert_pending_for! failed at {}: the future completed at {}, {} after it started at {}; \
             expected it to stay pending for {} (past {})",
            c.site,
            Vt(c.at),
            span(c.at.saturating_sub(c.started)),
            Vt(c.started),
            span(c.limit),
            Vt(c.deadline)
        ),
    }
}

/// The future of [`assert_pending_for!`](crate::assert_pending_for) (not a public API).
#[doc(hidden)]
pub struct PendingFor<F> {
    fut: Option<Pin<Box<F>>>,
    deadline: Deadline,
}

/// A future that completed when it was expected to stay pending (not a public API).
#[doc(hidden)]
#[derive(Debug)]
pub struct Completed {
    site: &'static Location<'static>,
    limit: Duration,
    started: Duration,
    deadline: Duration,
    at: Duration,
}

impl<F: Future> Future for PendingFor<F> {
    type Output = Result<Pin<Box<F>>, Completed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            panic!(
                "assert_pending_for! at {} was polled again after it finished",
                this.deadline.site
            );
        };
        match this.deadline.poll_race(fut.as_mut(), cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_still_pending)) => Poll::Ready(Ok(this.fut.take().expect("checked above"))),
            Poll::Ready(Ok(_)) => {
                this.fut = None;
                let d = &this.deadline;
                let core = d.core();
                Poll::Ready(Err(Completed {
                    site: d.site,
                    limit: d.limit,
                    started: d.started,
                    deadline: d.deadline(&core),
                    at: core.elapsed(),
                }))
            }
        }
    }
}

/// Measures virtual time for [`assert_elapsed!`](crate::assert_elapsed) (not a public API).
#[doc(hidden)]
#[derive(Debug)]
pub struct __Stopwatch {
    start: Duration,
    site: &'static Location<'static>,
}

impl __Stopwatch {
    #[doc(hidden)]
    #[track_caller]
    pub fn start() -> Self {
        __Stopwatch {
            start: executor::current("assert_elapsed!").elapsed(),
            site: Location::caller(),
        }
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn check(self, expected: Duration) {
        let end = executor::current("assert_elapsed!").elapsed();
        let took = end.saturating_sub(self.start);
        if took != expected {
            panic!(
                "assert_elapsed! failed at {}: the block took {} of virtual time, expected exactly {} \
                 ({}); it ran from {} to {}",
                self.site,
                span(took),
                span(expected),
                difference(took, expected),
                Vt(self.start),
                Vt(end)
            );
        }
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __elapsed_since_start(expected: Duration) {
    let now = executor::current("assert_elapsed!").elapsed();
    if now != expected {
        panic!(
            "assert_elapsed! failed at {}: the virtual clock is at {} since the run started, expected exactly {} ({})",
            Location::caller(),
            Vt(now),
            Vt(expected),
            difference(now, expected)
        );
    }
}

/// tokio-test's form, `assert_elapsed!(start, d)`: `elapsed` is `start.elapsed()`, and
/// may be up to a millisecond longer than `expected`, as tokio-test allows.
#[doc(hidden)]
#[track_caller]
pub fn __elapsed_since_instant(elapsed: Duration, expected: Duration) {
    let slack = Duration::from_millis(1);
    if elapsed < expected || elapsed > expected + slack {
        panic!(
            "assert_elapsed! failed at {}: {} passed since the start instant, expected {} to {} \
             (tokio-test's form allows a millisecond more; {})",
            Location::caller(),
            span(elapsed),
            span(expected),
            span(expected + slack),
            difference(
                elapsed,
                if elapsed < expected {
                    expected
                } else {
                    expected + slack
                }
            )
        );
    }
}

fn difference(actual: Duration, expected: Duration) -> String {
    if actual > expected {
        format!("{} too long", span(actual - expected))
    } else {
        format!("{} too short", span(expected - actual))
    }
}

/// Asserts the exact virtual time, and panics with expected and actual durations and the
/// call site when it differs.
///
/// - `assert_elapsed!(d, { .. })` runs the block in place (it may `.await`), checks that
///   it took exactly `d` of virtual time, and gives back the block's value.
/// - `assert_elapsed!(d)` checks that exactly `d` of virtual time has passed since the
///   run began.
///
/// - `assert_elapsed!(start, d)`, tokio-test's form: `start` is an `Instant` (tokio's or
///   std's), and the time since it must be `d` to `d` + 1 ms, as tokio-test checks it; it
///   works outside a kit run too, so a tokio-test import can be swapped for this one.
///
/// tokio's `assert_elapsed!` allows a millisecond of slack because real clocks jitter;
/// virtual time does not, so the kit's own forms are exact.
///
/// # Panics
///
/// When the time differs, and outside an async-testkit run.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::assert_elapsed;
///
/// async_testkit::run(async {
///     let v = assert_elapsed!(Duration::from_millis(1500), {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         tokio::time::sleep(Duration::from_millis(500)).await;
///         "done"
///     });
///     assert_eq!(v, "done");
///     assert_elapsed!(Duration::from_millis(1500));
/// });
/// ```
///
/// A block that takes longer fails with both durations:
///
/// ```should_panic
/// # use std::time::Duration;
/// async_testkit::run(async {
///     // panics: "assert_elapsed! failed at ..: the block took 2.000s of virtual time,
///     // expected exactly 1.000s (1.000s too long); it ran from +0s to +2.000s"
///     async_testkit::assert_elapsed!(Duration::from_secs(1), {
///         tokio::time::sleep(Duration::from_secs(2)).await;
///     });
/// });
/// ```
#[macro_export]
macro_rules! assert_elapsed {
    ($expected:expr $(,)?) => {
        $crate::timeout::__elapsed_since_start($expected)
    };
    ($expected:expr, $body:block $(,)?) => {{
        let __async_testkit_watch = $crate::timeout::__Stopwatch::start();
        let __async_testkit_value = $body;
        __async_testkit_watch.check($expected);
        __async_testkit_value
    }};
    ($start:expr, $expected:expr $(,)?) => {
        $crate::timeout::__elapsed_since_instant(($start).elapsed(), $expected)
    };
}

/// Awaits a future and asserts that it completes within a virtual duration, giving back
/// its output; on failure it panics with the deadline, the call site and the tasks still
/// pending (the text of [`TimedOut`]).
///
/// Completing exactly at the deadline counts as in time (see the [module
/// docs](crate::timeout)).
///
/// # Panics
///
/// When the future is still pending at the deadline, and outside an async-testkit run.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::assert_completes_within;
///
/// async_testkit::run(async {
///     let v = assert_completes_within!(
///         async {
///             tokio::time::sleep(Duration::from_secs(3)).await;
///             42
///         },
///         Duration::from_secs(3)
///     );
///     assert_eq!(v, 42);
/// });
/// ```
///
/// ```should_panic
/// # use std::time::Duration;
/// async_testkit::run(async {
///     // panics: "assert_completes_within! failed at ..: the future was still pending at
///     // its deadline +1.000s, 1.000s after it started at +0s; expected it to complete within 1.000s"
///     async_testkit::assert_completes_within!(tokio::time::sleep(Duration::from_secs(2)), Duration::from_secs(1));
/// });
/// ```
#[macro_export]
macro_rules! assert_completes_within {
    ($fut:expr, $limit:expr $(,)?) => {
        $crate::timeout::__completed($crate::timeout::__completes_within($limit, $fut).await)
    };
}

/// Asserts that a future is still pending after a virtual duration, and hands it back
/// (boxed and pinned) so the test can go on with it.
///
/// The complement of [`within`](crate::within): a future that completes at exactly the deadline has
/// completed, so it fails this assertion.
///
/// # Panics
///
/// When the future completes by the deadline (with when it completed, the expected span
/// and the call site), and outside an async-testkit run.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::{assert_completes_within, assert_pending_for};
///
/// async_testkit::run(async {
///     let (tx, rx) = tokio::sync::oneshot::channel();
///     async_testkit::spawn(async move {
///         tokio::time::sleep(Duration::from_secs(10)).await;
///         tx.send(1).unwrap();
///     });
///     let rx = assert_pending_for!(rx, Duration::from_secs(9)); // nothing yet at +9s
///     assert_eq!(assert_completes_within!(rx, Duration::from_secs(1)).unwrap(), 1);
/// });
/// ```
///
/// ```should_panic
/// # use std::time::Duration;
/// async_testkit::run(async {
///     // panics: "assert_pending_for! failed at ..: the future completed at +1.000s,
///     // 1.000s after it started at +0s; expected it to stay pending for 5.000s (past +5.000s)"
///     async_testkit::assert_pending_for!(tokio::time::sleep(Duration::from_secs(1)), Duration::from_secs(5));
/// });
/// ```
#[macro_export]
macro_rules! assert_pending_for {
    ($fut:expr, $limit:expr $(,)?) => {
        $crate::timeout::__still_pending($crate::timeout::__pending_for($limit, $fut).await)
    };
}
