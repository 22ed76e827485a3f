//! Virtual time: the clock of the current run, and ways to move it.
//!
//! Every run starts its clock paused at virtual time zero. With the default
//! [`Clock::Auto`](crate::Clock::Auto), whenever every task waits and a timer is pending,
//! the clock jumps straight to that timer: hours of `sleep` take microseconds. With
//! [`Clock::Manual`](crate::Clock::Manual), time moves only through [`advance`] and
//! [`advance_to`].
//!
//! `advance` and `advance_to` *settle*: every timer due up to and including the target
//! fires in deadline order, each woken task runs at its own instant (it sees
//! `now()` equal to its deadline), and the call returns only when nothing more can run at
//! the target. tokio's own `tokio::time::advance` moves the clock and returns before the
//! tasks it woke have run.
//!
//! ```
//! use std::time::Duration;
//! use async_testkit::{Builder, Clock, time};
//!
//! Builder::new().clock(Clock::Manual).run(|| async {
//!     let seen = std::rc::Rc::new(std::cell::Cell::new(None));
//!     let s = seen.clone();
//!     async_testkit::spawn(async move {
//!         tokio::time::sleep(Duration::from_secs(3)).await;
//!         s.set(Some(time::elapsed())); // runs at its own instant: 3 s
//!     });
//!     time::advance(Duration::from_secs(10)).await;
//!     assert_eq!(seen.get(), Some(Duration::from_secs(3)));
//!     assert_eq!(time::elapsed(), Duration::from_secs(10));
//! });
//! ```

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, Sleep};

use crate::runtime::executor::{self, Executor};
use crate::runtime::{link, mark};
use crate::trace::Vt;

/// The current virtual instant (tokio's `Instant`, which the paused clock drives).
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// async_testkit::run(async {
///     let t0 = async_testkit::time::now();
///     tokio::time::sleep(std::time::Duration::from_millis(250)).await;
///     assert_eq!(async_testkit::time::now() - t0, std::time::Duration::from_millis(250));
/// });
/// ```
#[track_caller]
pub fn now() -> Instant {
    let _ = executor::current("async_testkit::time::now");
    Instant::now()
}

/// Virtual time since the run began.
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// async_testkit::run(async {
///     tokio::time::sleep(std::time::Duration::from_secs(90)).await;
///     assert_eq!(async_testkit::time::elapsed().as_secs(), 90);
/// });
/// ```
#[track_caller]
pub fn elapsed() -> Duration {
    executor::current("async_testkit::time::elapsed").elapsed()
}

/// Virtual time since the run began, or `None` outside a run (it never panics).
///
/// Unlike [`elapsed`], it works from every thread of the run, not only the one the
/// executor runs on: `spawn_blocking` closures, and on Linux the OS threads the test
/// started while the run lasts (an unnamed thread is recognised by the name it inherits
/// from the test's thread; a thread given a name of its own is not, and gets `None`, as
/// does such a thread on other systems). Log timers and other code that may run anywhere
/// use it (`async_testkit::tracing::VirtualTime` does, with feature `tracing`).
///
/// ```
/// use std::time::Duration;
/// use async_testkit::time::try_elapsed;
///
/// assert_eq!(try_elapsed(), None); // outside a run
/// async_testkit::run(async {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     let seen = tokio::task::spawn_blocking(try_elapsed).await.unwrap();
///     assert_eq!(seen, Some(Duration::from_secs(60)));
///     assert_eq!(try_elapsed(), Some(Duration::from_secs(60)));
/// });
/// ```
pub fn try_elapsed() -> Option<Duration> {
    match executor::try_current() {
        Some(core) => Some(core.elapsed()),
        None => link::current()?.elapsed(),
    }
}

/// A future was just polled by hand with a waker of its own (a `Probe`): it may have moved
/// tokio's clock (`tokio::time::advance`) without waking the task, so a reading taken
/// before it in this poll is not reused after it.
pub(crate) fn note_hand_poll() {
    mark::note_hand_poll();
}

/// The run on this thread (its id, 0 for none) and the mark of the kit poll running now,
/// for code that reads the virtual clock often and may reuse a reading (tokio's paused
/// clock takes a lock and a handle's reference count to read): two readings under equal
/// marks are equal. The mark is 0 outside a kit task's poll (a task started with
/// `tokio::spawn`, a blocking closure, a drop), and once the polled task has been woken
/// on this thread in this poll, when a reading must be taken afresh.
///
/// Inside a kit poll tokio's clock moves only by `tokio::time::advance` (this module's
/// [`advance`] ends with it too), which moves the clock and then yields: a wake of the
/// waker it was polled with, the task's own when it is awaited in the task, directly or
/// through a combinator such as `join!` (tokio's `resume()` fails the run). A `Probe`
/// polls with a waker of its own, and says so ([`note_hand_poll`]): the mark changes. What
/// this cannot see is `tokio::time::advance` polled by hand with a foreign waker by other
/// code (a no-op waker, tokio-test's task) inside the same poll.
#[inline]
pub(crate) fn poll_mark() -> (u64, u64) {
    mark::here()
}

/// The virtual calendar's starting point: 2000-01-01T00:00:00Z. Every run's
/// [`system_now`] starts here.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(async_testkit::time::epoch(), UNIX_EPOCH + Duration::from_secs(946_684_800));
/// ```
pub fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800)
}

/// Virtual calendar time: [`epoch`] plus the virtual time elapsed in this run. Pass it to
/// code that takes a clock instead of calling `SystemTime::now()`, which the kit cannot
/// make virtual.
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// use std::time::Duration;
/// let day = Duration::from_secs(86_400);
/// async_testkit::Builder::new().virtual_timeout(2 * day).run(move || async move {
///     tokio::time::sleep(day).await;
///     let day_two = async_testkit::time::system_now();
///     assert_eq!(day_two.duration_since(async_testkit::time::epoch()).unwrap(), day);
/// });
/// ```
#[track_caller]
pub fn system_now() -> SystemTime {
    epoch() + executor::current("async_testkit::time::system_now").elapsed()
}

/// Moves virtual time forward by `duration`, settling: timers due up to and including the
/// target fire in deadline order, each woken task runs at its own instant, and the call
/// returns when nothing more can run at the target.
///
/// Works with every clock mode; with [`Clock::Manual`](crate::Clock::Manual) it is the
/// only way time moves. Moving past the run's virtual-time limit fails the test as a
/// virtual timeout.
///
/// # Panics
///
/// Outside an async-testkit run, or if the target overflows the clock
/// (`advance(Duration::MAX)`).
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     async_testkit::time::advance(Duration::from_secs(5)).await;
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(5));
/// });
/// ```
#[track_caller]
pub fn advance(duration: Duration) -> Advance {
    let site = Location::caller();
    let core = executor::current("async_testkit::time::advance");
    let now = Instant::now();
    let Some(target) = now.checked_add(duration) else {
        panic!(
            "async_testkit::time::advance({duration:?}) at {site} would move the virtual clock past the largest \
             instant it can represent (it is at {}). Advance by a smaller duration.",
            Vt(core.elapsed())
        );
    };
    Advance::new(&core, target, site)
}

/// Moves virtual time forward to `target`, settling like [`advance`].
///
/// # Panics
///
/// Outside an async-testkit run, or if `target` is earlier than the current instant.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::time;
/// async_testkit::run(async {
///     let t = time::now() + Duration::from_secs(60);
///     time::advance_to(t).await;
///     assert_eq!(time::now(), t);
/// });
/// ```
#[track_caller]
pub fn advance_to(target: Instant) -> Advance {
    let site = Location::caller();
    let core = executor::current("async_testkit::time::advance_to");
    let now = Instant::now();
    if target < now {
        panic!(
            "async_testkit::time::advance_to at {site}: the target {} is earlier than the current virtual time {}; \
             the clock only moves forward.",
            Vt(target.saturating_duration_since(core.start)),
            Vt(core.elapsed())
        );
    }
    Advance::new(&core, target, site)
}

/// Runs every task that can run at the current instant (kit tasks and tokio's), without
/// moving time, and returns when nothing more is runnable.
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// async_testkit::run(async {
///     let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
///     async_testkit::spawn(async move { tx.send(1).unwrap() });
///     async_testkit::time::run_until_idle().await;
///     assert_eq!(rx.try_recv().unwrap(), 1);
/// });
/// ```
#[track_caller]
pub fn run_until_idle() -> Settle {
    let core = executor::current("async_testkit::time::run_until_idle");
    Settle {
        run_id: core.run_id,
        generation: None,
    }
}

/// The future of [`run_until_idle`]. It need not be awaited on a kit task: any task of
/// the run may await it.
///
/// ```
/// async_testkit::run(async {
///     let s: async_testkit::time::Settle = async_testkit::time::run_until_idle();
///     s.await;
/// });
/// ```
#[derive(Debug)]
#[must_use = "run_until_idle does nothing unless awaited"]
pub struct Settle {
    run_id: u64,
    generation: Option<u64>,
}

impl Future for Settle {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let core = executor::same_run(self.run_id, &"run_until_idle()");
        match self.generation {
            Some(g) if core.settled_since(g) => Poll::Ready(()),
            Some(_) => {
                core.request_settle(cx.waker());
                Poll::Pending
            }
            None => {
                self.generation = Some(core.request_settle(cx.waker()));
                Poll::Pending
            }
        }
    }
}

/// The future of [`advance`] and [`advance_to`].
///
/// ```
/// async_testkit::run(async {
///     let a: async_testkit::time::Advance = async_testkit::time::advance(std::time::Duration::from_secs(1));
///     a.await;
/// });
/// ```
#[must_use = "advance does nothing unless awaited"]
pub struct Advance {
    run_id: u64,
    target: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The exact last step, under a millisecond (`tokio::time::advance`).
    step: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Settling at the instant before that step.
    before_step: Option<Settle>,
    moving: bool,
    settle: Settle,
    site: &'static Location<'static>,
}

impl std::fmt::Debug for Advance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advance")
            .field("target", &self.target)
            .field("site", &self.site)
            .finish()
    }
}

impl Advance {
    fn new(core: &Executor, target: Instant, site: &'static Location<'static>) -> Self {
        Advance {
            run_id: core.run_id,
            target,
            sleep: None,
            step: None,
            before_step: None,
            moving: false,
            settle: Settle {
                run_id: core.run_id,
                generation: None,
            },
            site,
        }
    }
}

/// Where a sleep must end for tokio's jump to it to land at or before `target`, and
/// as close to it as whole milliseconds allow.
///
/// tokio's timer wheel counts whole milliseconds from its origin (the run's `start`:
/// a fresh runtime's, or one the pool aligned to a multiple of the wheel's reach): it
/// rounds a deadline up to its millisecond, and jumps the clock by whole milliseconds
/// from its reading rounded down, so the clock keeps its sub-millisecond part `frac`
/// across jumps. The sleep ends on the last millisecond `t` with `t + frac <= target`.
fn jump_point(start: Instant, now: Instant, target: Instant) -> Instant {
    const MS: u128 = 1_000_000;
    let since = |t: Instant| t.saturating_duration_since(start).as_nanos();
    let frac = since(now) % MS;
    let whole_ms = since(target).saturating_sub(frac) / MS;
    let nanos = u64::try_from(whole_ms * MS).unwrap_or(u64::MAX);
    start.checked_add(Duration::from_nanos(nanos)).unwrap_or(target)
}

impl Future for Advance {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let core = executor::same_run(self.run_id, &"time::advance()");
        if self.settle.generation.is_none() {
            if !self.moving {
                self.moving = true;
                core.advancing_started();
            }
            // Timers fire at their own instants on the way (tokio jumps to each); the last
            // part of a millisecond, which tokio's wheel cannot sleep, is moved exactly.
            loop {
                let now = Instant::now();
                if self.target <= now {
                    break;
                }
                if let Some(step) = self.step.as_mut() {
                    if step.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.step = None;
                    continue;
                }
                let until = jump_point(core.start, now, self.target);
                if until > now && self.sleep.is_none() {
                    self.sleep = Some(Box::pin(tokio::time::sleep_until(until)));
                }
                if let Some(sleep) = self.sleep.as_mut() {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.sleep = None;
                    if Instant::now() > now {
                        continue;
                    }
                }
                // What the last jump woke runs at its own instant first.
                let run_id = self.run_id;
                let settle = self.before_step.get_or_insert(Settle {
                    run_id,
                    generation: None,
                });
                if Pin::new(settle).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.before_step = None;
                self.step = Some(Box::pin(tokio::time::advance(self.target - Instant::now())));
            }
            if self.moving {
                self.moving = false;
                core.advancing_ended();
            }
            self.sleep = None;
        }
        Pin::new(&mut self.settle).poll(cx)
    }
}

impl Drop for Advance {
    fn drop(&mut self) {
        if self.moving {
            if let Some(core) = executor::try_current() {
                if core.run_id == self.run_id {
                    core.advancing_ended();
                }
            }
        }
    }
}
