//! [`within`] and the deadline machinery under it: a [`Deadline`] on virtual time that
//! expires only once the run has settled at its instant, and races a future against it.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::timed_out::{TimedOut, What};
use crate::runtime::executor::{self, Executor};
use crate::time::Settle;
use crate::trace::Vt;
use crate::util::FAR_FUTURE;

/// `d` rounded up to a whole millisecond: tokio's timers fire on millisecond ticks, so a
/// deadline between two ticks passes at the later one.
fn whole_ms(d: Duration) -> Option<Duration> {
    u64::try_from(d.as_nanos().div_ceil(1_000_000))
        .ok()
        .map(Duration::from_millis)
}

/// A virtual deadline that expires only once nothing more can run at its instant.
pub(super) struct Deadline {
    pub(super) what: What,
    pub(super) site: &'static Location<'static>,
    run_id: u64,
    pub(super) limit: Duration,
    /// The virtual time since the run began at which the deadline was set.
    pub(super) started: Duration,
    at: Instant,
    sleep: Pin<Box<Sleep>>,
    settle: Option<Settle>,
}

impl Deadline {
    #[track_caller]
    pub(super) fn new(limit: Duration, what: What, site: &'static Location<'static>) -> Self {
        let core = executor::current(what.path());
        let at = core
            .elapsed()
            .checked_add(limit)
            .and_then(whole_ms)
            .and_then(|t| core.start.checked_add(t))
            .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        Deadline {
            what,
            site,
            run_id: core.run_id,
            limit,
            started: core.elapsed(),
            at,
            sleep: Box::pin(tokio::time::sleep_until(at)),
            settle: None,
        }
    }

    /// The current run, checked to be the one the deadline was created in.
    pub(super) fn core(&self) -> Rc<Executor> {
        executor::same_run(
            self.run_id,
            &format_args!("{} created at {}", self.what.name(), self.site),
        )
    }

    /// The deadline, as virtual time since the run began.
    pub(super) fn deadline(&self, core: &Executor) -> Duration {
        self.at.saturating_duration_since(core.start)
    }

    /// Ready once the deadline has passed and the runtime has settled at that instant.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.settle.is_none() {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.settle = Some(crate::time::run_until_idle());
        }
        Pin::new(self.settle.as_mut().expect("set above")).poll(cx)
    }

    /// Polls `fut`; when the deadline has passed (and settled) with `fut` still pending,
    /// says so with the state of the run.
    pub(super) fn poll_race<F: Future + ?Sized>(
        &mut self,
        fut: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<F::Output, TimedOut>> {
        let core = self.core();
        if let Poll::Ready(v) = fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match self.poll_expired(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Err(self.timed_out(&core))),
        }
    }

    fn timed_out(&self, core: &Executor) -> TimedOut {
        let current = core.current.get();
        let pending = core
            .alive()
            .iter()
            .map(|info| {
                let last = info.last_poll.map_or_else(
                    || "never polled".to_string(),
                    |t| format!("last polled {}", Vt(t)),
                );
                let this = if Some(info.meta.id) == current {
                    " (this task is the one awaiting the deadline)"
                } else {
                    ""
                };
                format!(
                    "{} spawned at {}: {}, {} poll{}, {last}{this}",
                    info.meta.label(),
                    info.meta.site,
                    info.state.word(),
                    info.polls,
                    if info.polls == 1 { "" } else { "s" },
                )
            })
            .collect();
        TimedOut {
            what: self.what,
            site: self.site,
            limit: self.limit,
            started: self.started,
            deadline: self.deadline(core),
            at: core.elapsed(),
            pending,
        }
    }
}

/// Runs `fut` with a deadline `limit` from now, on virtual time: `Ok(output)` if it
/// completes by then, `Err(`[`TimedOut`]`)` otherwise (and the future is dropped).
///
/// A future that completes at exactly the deadline is in time, even when the work that
/// completes it is woken by a timer due at that same instant (see the [module
/// docs](crate::timeout)). A zero limit asks whether the future completes at the current
/// instant, after everything that can run now has run.
///
/// # Panics
///
/// Outside an async-testkit run (at the call), or when awaited in another run.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::within;
///
/// async_testkit::run(async {
///     let slow = tokio::time::sleep(Duration::from_secs(5));
///     let err = within(Duration::from_secs(2), slow).await.unwrap_err();
///     assert_eq!(err.deadline(), Duration::from_secs(2));
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(2)); // not 5
///     assert!(err.to_string().contains("still pending at its deadline +2.000s"));
/// });
/// ```
#[track_caller]
pub fn within<F: IntoFuture>(limit: Duration, fut: F) -> Within<F::IntoFuture> {
    within_at(limit, fut.into_future(), What::Within, Location::caller())
}

#[track_caller]
pub(crate) fn within_at<F: Future>(
    limit: Duration,
    fut: F,
    what: What,
    site: &'static Location<'static>,
) -> Within<F> {
    Within {
        fut: Some(Box::pin(fut)),
        deadline: Deadline::new(limit, what, site),
    }
}

/// The future of [`within`].
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     let w: async_testkit::timeout::Within<_> = async_testkit::within(Duration::from_secs(1), async { 7 });
///     assert_eq!(w.await.unwrap(), 7);
/// });
/// ```
#[must_use = "within does nothing unless awaited"]
pub struct Within<F> {
    fut: Option<Pin<Box<F>>>,
    deadline: Deadline,
}

impl<F> fmt::Debug for Within<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Within")
            .field("limit", &self.deadline.limit)
            .field("site", &self.deadline.site)
            .field("finished", &self.fut.is_none())
            .finish()
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            panic!(
                "{} created at {} was polled again after it finished",
                this.deadline.what.name(),
                this.deadline.site
            );
        };
        match this.deadline.poll_race(fut.as_mut(), cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                // Drop the future now, at the deadline, not whenever `Within` is dropped.
                this.fut = None;
                Poll::Ready(r)
            }
        }
    }
}
