//! Cancellation testing: drop a future at a virtual time ([`after`]) or at its n-th
//! suspension point ([`at_poll`]), and check that an operation is cancel-safe at every
//! one of its suspension points ([`check_cancel_safety`]).
//!
//! In async Rust, cancelling a future means dropping it: whatever it was doing stops at
//! the `.await` where it was suspended. Code is *cancel-safe* when that loses nothing:
//! no message received and not yet handled, no lock state half-updated. The checker
//! finds the `.await` where it is not.
//!
//! # Cancellation tokens
//!
//! Code that cancels cooperatively (tokio-util's `CancellationToken`, or a
//! `tokio::sync::watch` flag) is tested the same way, on virtual time: cancel the token
//! at a chosen instant and check what the task did. The kit does not depend on
//! tokio-util; this example uses it as a dev-dependency:
//!
//! ```
//! use std::time::Duration;
//! use tokio_util::sync::CancellationToken;
//!
//! async_testkit::run(async {
//!     let token = CancellationToken::new();
//!     let child = token.child_token();
//!     let worker = async_testkit::spawn(async move {
//!         let mut ticks = 0;
//!         loop {
//!             tokio::select! {
//!                 biased;
//!                 _ = child.cancelled() => return ticks, // a clean stop, with the count so far
//!                 _ = tokio::time::sleep(Duration::from_secs(1)) => ticks += 1,
//!             }
//!         }
//!     });
//!     tokio::time::sleep(Duration::from_millis(3500)).await;
//!     token.cancel();
//!     assert_eq!(worker.await.unwrap(), 3); // ticks at +1s, +2s, +3s; stopped at +3.5s
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(3500));
//! });
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::runtime::executor::{self, Executor};
use crate::runtime::panics;
use crate::timeout::{What, within_at};
use crate::trace::Vt;

/// Runs `fut` for at most `limit` of virtual time: `Some(output)` if it completes by
/// then, `None` if it was still pending and has been dropped (cancelled) at the
/// deadline. Completing at exactly the deadline counts as completed (see
/// [`within`](crate::within), which this is built on).
///
/// # Panics
///
/// Outside an async-testkit run (at the call).
///
/// ```
/// use std::cell::Cell;
/// use std::time::Duration;
/// use async_testkit::cancel;
///
/// async_testkit::run(async {
///     let steps = Cell::new(0);
///     let out = cancel::after(Duration::from_millis(2500), async {
///         for _ in 0..10 {
///             tokio::time::sleep(Duration::from_secs(1)).await;
///             steps.set(steps.get() + 1);
///         }
///         "finished"
///     })
///     .await;
///     assert_eq!(out, None); // dropped at +2.5s, mid-sleep
///     assert_eq!(steps.get(), 2);
///     assert_eq!(cancel::after(Duration::ZERO, async { 1 }).await, Some(1));
/// });
/// ```
#[track_caller]
pub fn after<F: IntoFuture>(limit: Duration, fut: F) -> impl Future<Output = Option<F::Output>> {
    let race = within_at(limit, fut.into_future(), What::CancelAfter, Location::caller());
    async move { race.await.ok() }
}

/// Polls `fut` until it has returned `Pending` `n` times, then drops it (cancelled at its
/// n-th suspension point): `None`. If it completes first, `Some(output)`. With `n == 0`
/// the future is dropped without being polled at all.
///
/// Needs no kit run: it counts polls, not time.
///
/// ```
/// use std::cell::RefCell;
/// use async_testkit::cancel;
///
/// async_testkit::run(async {
///     let log = RefCell::new(Vec::new());
///     let step = |name| {
///         log.borrow_mut().push(name);
///         tokio::task::yield_now()
///     };
///     let out = cancel::at_poll(2, async {
///         step("a").await; // suspension point 1
///         step("b").await; // suspension point 2: dropped here
///         step("c").await;
///     })
///     .await;
///     assert_eq!(out, None);
///     assert_eq!(*log.borrow(), ["a", "b"]);
///     assert_eq!(cancel::at_poll(5, async { 9 }).await, Some(9));
/// });
/// ```
pub fn at_poll<F: IntoFuture>(n: usize, fut: F) -> impl Future<Output = Option<F::Output>> {
    let stop = StopAt::new(fut.into_future(), Some(n));
    async move { stop.await.0 }
}

/// Polls a future, counting its `Pending`s, and drops it at the chosen one.
struct StopAt<F> {
    fut: Option<Pin<Box<F>>>,
    limit: Option<usize>,
    pendings: usize,
}

impl<F: Future> StopAt<F> {
    fn new(fut: F, limit: Option<usize>) -> Self {
        StopAt {
            fut: Some(Box::pin(fut)),
            limit,
            pendings: 0,
        }
    }
}

impl<F: Future> Future for StopAt<F> {
    /// The output if it completed, and how many times it was pending.
    type Output = (Option<F::Output>, usize);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.limit == Some(0) {
            this.fut = None;
            return Poll::Ready((None, 0));
        }
        let Some(fut) = this.fut.as_mut() else {
            panic!("a cancel::at_poll future was polled again after it finished");
        };
        match fut.as_mut().poll(cx) {
            Poll::Ready(v) => {
                this.fut = None;
                Poll::Ready((Some(v), this.pendings))
            }
            Poll::Pending => {
                this.pendings += 1;
                if Some(this.pendings) == this.limit {
                    this.fut = None; // cancelled here, at this suspension point
                    Poll::Ready((None, this.pendings))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

/// What [`check_cancel_safety`] found when the invariant held everywhere.
///
/// ```
/// use async_testkit::cancel::check_cancel_safety;
///
/// async_testkit::run(async {
///     let report = check_cancel_safety(
///         || 0u32,
///         async |n: &mut u32| {
///             tokio::task::yield_now().await;
///             *n += 1;
///         },
///         |n: &mut u32| assert!(*n <= 1),
///     )
///     .await;
///     assert_eq!(report.points(), 1);
///     assert_eq!(report.tried(), 1);
///     assert_eq!(report.to_string(), "cancel-safe: the invariant held after a complete run and after a drop at each of 1 suspension point");
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelSafety {
    points: usize,
    not_reached: Vec<usize>,
}

impl CancelSafety {
    /// How many suspension points (times the operation returned `Pending`) the complete
    /// run had.
    ///
    /// ```
    /// use async_testkit::cancel::check_cancel_safety;
    /// async_testkit::run(async {
    ///     let r = check_cancel_safety(|| (), async |_: &mut ()| {}, |_: &mut ()| {}).await;
    ///     assert_eq!(r.points(), 0); // never suspended: nothing to cancel
    /// });
    /// ```
    pub fn points(&self) -> usize {
        self.points
    }

    /// How many suspension points the operation was dropped at (the points, less those
    /// a later run did not reach because it completed sooner).
    ///
    /// ```
    /// use async_testkit::cancel::check_cancel_safety;
    /// async_testkit::run(async {
    ///     let r = check_cancel_safety(
    ///         || (),
    ///         async |_: &mut ()| tokio::task::yield_now().await,
    ///         |_: &mut ()| {},
    ///     )
    ///     .await;
    ///     assert_eq!(r.tried(), 1);
    /// });
    /// ```
    pub fn tried(&self) -> usize {
        self.points - self.not_reached.len()
    }

    /// The points (1-based) that a fresh run completed before reaching: the operation
    /// does not suspend the same way every time (it depends on time or on outside
    /// state), so those points were not tested.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use async_testkit::cancel::check_cancel_safety;
    /// async_testkit::run(async {
    ///     let runs = Cell::new(0);
    ///     let r = check_cancel_safety(
    ///         || (),
    ///         async |_: &mut ()| {
    ///             runs.set(runs.get() + 1);
    ///             if runs.get() == 1 {
    ///                 tokio::task::yield_now().await; // only the first run suspends twice
    ///             }
    ///             tokio::task::yield_now().await;
    ///         },
    ///         |_: &mut ()| {},
    ///     )
    ///     .await;
    ///     assert_eq!((r.points(), r.tried(), r.not_reached()), (2, 1, &[2][..]));
    /// });
    /// ```
    pub fn not_reached(&self) -> &[usize] {
        &self.not_reached
    }
}

impl fmt::Display for CancelSafety {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.points == 1 { "" } else { "s" };
        if self.points == 0 {
            return f.write_str(
                "cancel-safe: the operation never suspended, so there was no point to cancel it at; \
                 the invariant held after a complete run",
            );
        }
        write!(
            f,
            "cancel-safe: the invariant held after a complete run and after a drop at each of {} suspension point{plural}",
            self.points
        )?;
        if !self.not_reached.is_empty() {
            write!(
                f,
                " tried ({} of {}; points {:?} were not reached: the operation suspended fewer times on a fresh run)",
                self.tried(),
                self.points,
                self.not_reached
            )?;
        }
        Ok(())
    }
}

/// How many events of the trace a violation shows.
const TRACE_EVENTS: usize = 24;

/// Checks that an operation is cancel-safe at every one of its suspension points.
///
/// - `setup` builds fresh state for each attempt (channels, a queue, a mutex, ...). It
///   runs inside the test, so it may spawn kit tasks: make long-lived ones
///   [`spawn_background`](crate::spawn_background) so they do not count as leaks.
/// - `op` is the operation under test, an async closure over the state
///   (`async |s: &mut S| { .. }`); it may use tokio's channels, `Mutex`, `select!`,
///   timers.
/// - `invariant` is checked on the state after each attempt and panics (`assert!`) when
///   it is broken.
///
/// The checker first runs the operation to completion and counts how many times it
/// returned `Pending` (its suspension points, `n`). Then, for each `k` in `1..=n`, it
/// builds fresh state, runs the operation until its `k`-th suspension point, drops it
/// there, lets every task that can still run at that instant run, and checks the
/// invariant. It returns a [`CancelSafety`] saying how many points it tried.
///
/// # Panics
///
/// When the invariant breaks: the message says at which point (`k of n`), at what
/// virtual time, the invariant's own panic message, and the trace of that attempt up to the
/// drop. Also when the invariant breaks after the complete run (the operation is wrong
/// even without cancellation), outside an async-testkit run (at the call), and when
/// awaited outside a kit task (in a `tokio::spawn`ed task). A panic in `op` or `setup`
/// is not caught: it fails the test like any panic.
///
/// ```
/// use std::collections::VecDeque;
/// use tokio::sync::mpsc;
/// use async_testkit::cancel::check_cancel_safety;
///
/// struct Worker {
///     inbox: mpsc::Receiver<u32>,
///     done: Vec<u32>,
///     pending: VecDeque<u32>, // taken from the inbox, not yet done: survives a drop
/// }
///
/// async_testkit::run(async {
///     let report = check_cancel_safety(
///         || {
///             let (tx, rx) = mpsc::channel(4);
///             for job in [1, 2] {
///                 tx.try_send(job).unwrap();
///             }
///             Worker { inbox: rx, done: Vec::new(), pending: VecDeque::new() }
///         },
///         // Cancel-safe: a job is recorded as pending before the await that may drop it.
///         async |w: &mut Worker| {
///             while let Ok(job) = w.inbox.try_recv() {
///                 w.pending.push_back(job);
///                 tokio::task::yield_now().await; // the work
///                 w.done.push(w.pending.pop_front().unwrap());
///             }
///         },
///         |w: &mut Worker| {
///             let accounted = w.done.len() + w.pending.len() + w.inbox.len();
///             assert_eq!(accounted, 2, "a job was lost");
///         },
///     )
///     .await;
///     assert_eq!(report.tried(), 2);
/// });
/// ```
#[track_caller]
pub fn check_cancel_safety<S, R, Setup, Op, Inv>(
    setup: Setup,
    op: Op,
    invariant: Inv,
) -> impl Future<Output = CancelSafety>
where
    Setup: FnMut() -> S,
    Op: AsyncFnMut(&mut S) -> R,
    Inv: FnMut(&mut S),
{
    let site = Location::caller();
    let run_id = executor::current("async_testkit::cancel::check_cancel_safety").run_id;
    Checker {
        site,
        run_id,
        setup,
        op,
        invariant,
    }
    .run()
}

struct Checker<Setup, Op, Inv> {
    site: &'static Location<'static>,
    run_id: u64,
    setup: Setup,
    op: Op,
    invariant: Inv,
}

/// Where an attempt stopped.
enum Ending {
    Completed,
    Dropped {
        k: usize,
        n: usize,
        at: Duration,
        timeline: String,
    },
}

impl<S, R, Setup, Op, Inv> Checker<Setup, Op, Inv>
where
    Setup: FnMut() -> S,
    Op: AsyncFnMut(&mut S) -> R,
    Inv: FnMut(&mut S),
{
    fn core(&self) -> std::rc::Rc<Executor> {
        match executor::try_current() {
            Some(c) if c.run_id == self.run_id => {
                if c.current.get().is_none() {
                    panic!(
                        "check_cancel_safety at {} was awaited outside a kit task (in a task started with \
                         tokio::spawn?); await it in the test body or in a task started with async_testkit::spawn",
                        self.site
                    );
                }
                c
            }
            _ => panic!(
                "check_cancel_safety at {} was awaited outside the async-testkit run that created it; \
                 await it inside the same test",
                self.site
            ),
        }
    }

    async fn run(mut self) -> CancelSafety {
        self.core();
        let mut state = (self.setup)();
        let (_, points) = StopAt::new((self.op)(&mut state), None).await;
        self.judge(state, Ending::Completed).await;

        let mut not_reached = Vec::new();
        for k in 1..=points {
            // The attempt starts inside the poll whose event is the last one recorded.
            let first_event = self.core().trace.borrow().count();
            let mut state = (self.setup)();
            let (out, _) = StopAt::new((self.op)(&mut state), Some(k)).await;
            let ending = if out.is_some() {
                not_reached.push(k);
                Ending::Completed
            } else {
                let core = self.core();
                let trace = core.trace.borrow();
                let events = usize::try_from(trace.count() - first_event + 1).unwrap_or(usize::MAX);
                let timeline = trace.render(&|id| core.label(id), events.min(TRACE_EVENTS));
                Ending::Dropped {
                    k,
                    n: points,
                    at: core.elapsed(),
                    timeline,
                }
            };
            self.judge(state, ending).await;
        }
        CancelSafety { points, not_reached }
    }

    /// Lets the run settle at this instant, then checks the invariant.
    async fn judge(&mut self, mut state: S, ending: Ending) {
        crate::time::run_until_idle().await;
        let core = self.core();
        let invariant = &mut self.invariant;
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| invariant(&mut state))) else {
            return;
        };
        let record = panics::take_last(None, core.elapsed(), &payload);
        panics::drop_payload(payload);
        let why = match &record.location {
            Some(at) => format!("the invariant panicked at {at}: {}", record.message),
            None => format!("the invariant panicked: {}", record.message),
        };
        match ending {
            Ending::Completed => panic!(
                "check_cancel_safety at {}: the invariant broke after the operation ran to completion, without \
                 any cancellation (at {})\n{why}\nFix the operation or the invariant first: the check assumes \
                 a complete run keeps the invariant.",
                self.site,
                Vt(core.elapsed())
            ),
            Ending::Dropped { k, n, at, timeline } => panic!(
                "check_cancel_safety at {}: the invariant broke when the operation was dropped at suspension \
                 point {k} of {n}, at virtual time {}\n{why}\npoints tried: {k} of {n}{}\n\
                 timeline of this attempt up to the drop (virtual time):\n{timeline}    the operation was dropped here, at its \
                 suspension point {k}\n\
                 What to do: the operation is not cancel-safe at that await. Finish the step before suspending, \
                 keep what it took where a drop cannot lose it (put it back in a Drop guard, or record it in the \
                 state first), or make sure callers never cancel it there.",
                self.site,
                Vt(at),
                match k {
                    1 => String::new(),
                    2 => " (point 1 held)".to_string(),
                    _ => format!(" (points 1 to {} held)", k - 1),
                }
            ),
        }
    }
}
