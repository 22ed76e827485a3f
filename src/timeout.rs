//! Deadlines and time assertions on virtual time.
//!
//! - [`within`] races a future against a virtual deadline and says, when it loses, where
//!   the deadline was set, when it passed, and which tasks were still pending.
//! - [`assert_elapsed!`](crate::assert_elapsed) checks the exact virtual time a block
//!   took (tokio's own `assert_elapsed!` allows a millisecond of slack; virtual time does
//!   not need it).
//! - [`assert_completes_within!`](crate::assert_completes_within) and
//!   [`assert_pending_for!`](crate::assert_pending_for) check that a future finishes by a
//!   deadline, or is still pending after it (and hand the future back).
//! - [`eventually`] waits for a condition on virtual time, Awaitility style, with a limit,
//!   a polling interval, an optional span it must hold for, and the last observed value
//!   in its failure message.
//!
//! # The boundary: "exactly at the deadline" is in time
//!
//! When the deadline's timer fires, other work due at the same instant may not have run
//! yet (a task that sleeps until the deadline and then sends). So on expiry the kit first
//! lets everything that can run at that instant run, then polls the future once more:
//! only if it is still pending has it missed the deadline. A future that completes at
//! exactly `start + limit` is in time, whichever task's timer fired first.
//!
//! tokio's timers fire on whole milliseconds of (virtual) time, so a deadline that falls
//! between two milliseconds is rounded up to the next one, and reported that way.
//!
//! ```
//! use std::time::Duration;
//! use async_testkit::within;
//!
//! async_testkit::run(async {
//!     let (tx, rx) = tokio::sync::oneshot::channel();
//!     async_testkit::spawn(async move {
//!         tokio::time::sleep(Duration::from_secs(2)).await;
//!         tx.send("just in time").unwrap();
//!     });
//!     // The answer comes at +2s, the deadline is +2s: in time.
//!     assert_eq!(within(Duration::from_secs(2), rx).await.unwrap().unwrap(), "just in time");
//! });
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::runtime::executor::{self, Executor};
use crate::time::Settle;
use crate::trace::Vt;
use crate::util::{FAR_FUTURE, span};

/// `d` rounded up to a whole millisecond: tokio's timers fire on millisecond ticks, so a
/// deadline between two ticks passes at the later one.
fn whole_ms(d: Duration) -> Option<Duration> {
    u64::try_from(d.as_nanos().div_ceil(1_000_000))
        .ok()
        .map(Duration::from_millis)
}

/// The current run, checked to be the one a future was created in.
/// Which helper a deadline belongs to, for its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    Within,
    CompletesWithin,
    PendingFor,
    CancelAfter,
}

impl What {
    fn name(self) -> &'static str {
        match self {
            What::Within => "within",
            What::CompletesWithin => "assert_completes_within!",
            What::PendingFor => "assert_pending_for!",
            What::CancelAfter => "cancel::after",
        }
    }

    fn path(self) -> &'static str {
        match self {
            What::Within => "async_testkit::within",
            What::CompletesWithin => "assert_completes_within!",
            What::PendingFor => "assert_pending_for!",
            What::CancelAfter => "async_testkit::cancel::after",
        }
    }
}

/// A virtual deadline that expires only once nothing more can run at its instant.
pub(crate) struct Deadline {
    what: What,
    site: &'static Location<'static>,
    run_id: u64,
    limit: Duration,
    started: Duration,
    at: Instant,
    sleep: Pin<Box<Sleep>>,
    settle: Option<Settle>,
}

impl Deadline {
    #[track_caller]
    pub(crate) fn new(limit: Duration, what: What, site: &'static Location<'static>) -> Self {
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
    pub(crate) fn poll_race<F: Future + ?Sized>(
        &mut self,
        fut: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<F::Output, TimedOut>> {
        let core = executor::same_run(
            self.run_id,
            &format_args!("{} created at {}", self.what.name(), self.site),
        );
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
            deadline: self.at.saturating_duration_since(core.start),
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

/// A future that missed its virtual deadline: where the deadline was set, when it
/// passed, and the kit tasks that were still pending, with their spawn sites.
///
/// `Display` (and `Debug`, so `unwrap()` shows it) print all of it:
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     let server = async_testkit::task::Builder::new()
///         .name("server")
///         .spawn(tokio::time::sleep(Duration::from_secs(60)));
///     let err = async_testkit::within(Duration::from_millis(1500), async {
///         tokio::time::sleep(Duration::from_secs(10)).await
///     })
///     .await
///     .unwrap_err();
///     let text = err.to_string();
///     assert!(text.starts_with("within(1.500s) at "), "{text}");
///     assert!(text.contains("timed out: the future was still pending at its deadline +1.500s"), "{text}");
///     assert!(text.contains("#1 \"server\" spawned at "), "{text}");
///     assert_eq!(err.pending_tasks().len(), 2); // the body and the server
///     server.abort();
/// });
/// ```
#[derive(Clone)]
pub struct TimedOut {
    what: What,
    site: &'static Location<'static>,
    limit: Duration,
    started: Duration,
    deadline: Duration,
    at: Duration,
    pending: Vec<String>,
}

impl TimedOut {
    /// The limit the future was given.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.limit(), Duration::from_secs(3));
    /// });
    /// ```
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The deadline, as virtual time since the run began.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.deadline(), Duration::from_secs(4));
    /// });
    /// ```
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The virtual time at which the future was found still pending (the deadline,
    /// unless the future was first polled after it).
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.elapsed(), Duration::from_secs(3));
    /// });
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.at
    }

    /// Where the deadline was set.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.location().file(), file!());
    /// });
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.site
    }

    /// The kit tasks still pending when the deadline passed, one line each:
    /// `#1 "server" spawned at src/lib.rs:10:5: waiting, 1 poll, last polled +0s`.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
    ///     assert!(e.pending_tasks()[0].starts_with("#0 test body spawned at "));
    /// });
    /// ```
    pub fn pending_tasks(&self) -> &[String] {
        &self.pending
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            What::CompletesWithin => write!(f, "assert_completes_within! failed at {}", self.site)?,
            other => write!(
                f,
                "{}({}) at {} timed out",
                other.name(),
                span(self.limit),
                self.site
            )?,
        }
        write!(
            f,
            ": the future was still pending at its deadline {}, {} after it started at {}",
            Vt(self.deadline),
            span(self.limit),
            Vt(self.started)
        )?;
        if self.at > self.deadline {
            write!(f, " (it was first polled after the deadline, at {})", Vt(self.at))?;
        }
        if self.what == What::CompletesWithin {
            write!(f, "; expected it to complete within {}", span(self.limit))?;
        }
        write!(f, "\ntasks still pending:")?;
        for line in &self.pending {
            write!(f, "\n  {line}")?;
        }
        write!(
            f,
            "\nIf the future should have finished by then, look at what the tasks above wait for; \
             if it may take longer, raise the limit."
        )
    }
}

impl fmt::Debug for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for TimedOut {}

// ---------------------------------------------------------------------------------------
// Support for the assertion macros (not a public API).

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
                let core = executor::same_run(
                    this.deadline.run_id,
                    &format_args!("assert_pending_for! created at {}", this.deadline.site),
                );
                let d = &this.deadline;
                Poll::Ready(Err(Completed {
                    site: d.site,
                    limit: d.limit,
                    started: d.started,
                    deadline: d.at.saturating_duration_since(core.start),
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
/// tokio's `assert_elapsed!` allows a millisecond of slack because real clocks jitter;
/// virtual time does not, so this one is exact.
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
/// The complement of [`within`]: a future that completes at exactly the deadline has
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

// ---------------------------------------------------------------------------------------
// eventually

/// What a condition of [`eventually`] returns: met (with a value) or not met (with what
/// it observed, shown in the failure message).
///
/// - `bool`: `true` is met; the output is `()`.
/// - `Option<T>`: `Some(v)` is met with `v`.
/// - `Result<T, E>`: `Ok(v)` is met with `v`; `Err(observed)` is not met, and the last
///   `observed` value is printed (with `Debug`) if the wait fails.
///
/// ```
/// use async_testkit::timeout::Verdict;
/// assert_eq!(true.verdict(), Ok(()));
/// assert_eq!(Err::<(), _>(3).verdict(), Err("3".to_string()));
/// assert_eq!(None::<u8>.verdict(), Err("None".to_string()));
/// ```
pub trait Verdict {
    /// What [`eventually`] gives back when the condition is met.
    type Output;
    /// `Ok(output)` when met, `Err(observed)` when not.
    fn verdict(self) -> Result<Self::Output, String>;
}

impl Verdict for bool {
    type Output = ();
    fn verdict(self) -> Result<(), String> {
        if self { Ok(()) } else { Err("false".to_string()) }
    }
}

impl<T> Verdict for Option<T> {
    type Output = T;
    fn verdict(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_string())
    }
}

impl<T, E: fmt::Debug> Verdict for Result<T, E> {
    type Output = T;
    fn verdict(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Defaults of [`eventually`].
const DEFAULT_LIMIT: Duration = Duration::from_secs(10);
const DEFAULT_EVERY: Duration = Duration::from_millis(10);

/// Waits on virtual time until `condition` is met, in the spirit of Awaitility: checked
/// at once, then every [`poll_every`](Eventually::poll_every) (default 10 ms) up to
/// [`within`](Eventually::within) (default 10 s); with [`during`](Eventually::during) it
/// must also hold at every check over a span. Before each check after the first, every
/// task that can run at that instant has run, so the condition sees a settled world; the
/// last check is at the limit itself.
///
/// The condition returns a `bool`, an `Option` or a `Result` (see [`Verdict`]); awaiting
/// gives back the value it was met with. When the limit passes, it panics with the call
/// site, the description, how often and over what span it checked, and the last observed
/// value.
///
/// # Panics
///
/// Outside an async-testkit run (at the call); when the condition is not met in time;
/// when `during` is longer than `within`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use async_testkit::eventually;
///
/// async_testkit::run(async {
///     let done = Rc::new(Cell::new(0));
///     let d = done.clone();
///     async_testkit::spawn(async move {
///         for _ in 0..3 {
///             tokio::time::sleep(Duration::from_millis(700)).await;
///             d.set(d.get() + 1);
///         }
///     });
///     // Met when three jobs are done; gives back the count.
///     let n = eventually(|| if done.get() == 3 { Ok(done.get()) } else { Err(done.get()) })
///         .within(Duration::from_secs(5))
///         .poll_every(Duration::from_millis(100))
///         .describe("three jobs done")
///         .await;
///     assert_eq!(n, 3);
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(2100));
/// });
/// ```
///
/// A failure names the condition and the last value seen:
///
/// ```should_panic
/// # use std::time::Duration;
/// async_testkit::run(async {
///     // panics: `eventually at ..: "queue drained" was not met within 1.000s: checked 11 times,
///     // every 100ms, from +0s to +1.000s; last observed: 4`
///     async_testkit::eventually(|| Err::<(), _>(4))
///         .within(Duration::from_secs(1))
///         .poll_every(Duration::from_millis(100))
///         .describe("queue drained")
///         .await;
/// });
/// ```
#[track_caller]
pub fn eventually<C, V>(condition: C) -> Eventually<C>
where
    C: FnMut() -> V,
    V: Verdict,
{
    let core = executor::current("async_testkit::eventually");
    Eventually {
        condition: Box::new(condition),
        site: Location::caller(),
        run_id: core.run_id,
        limit: DEFAULT_LIMIT,
        every: DEFAULT_EVERY,
        during: Duration::ZERO,
        description: None,
        progress: None,
    }
}

/// The future of [`eventually`], configured with its builder methods before it is
/// awaited.
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     let e: async_testkit::timeout::Eventually<_> = async_testkit::eventually(|| true);
///     e.within(Duration::from_secs(1)).await;
/// });
/// ```
#[must_use = "eventually does nothing unless awaited"]
pub struct Eventually<C> {
    condition: Box<C>,
    site: &'static Location<'static>,
    run_id: u64,
    limit: Duration,
    every: Duration,
    during: Duration,
    description: Option<String>,
    progress: Option<Progress>,
}

impl<C> fmt::Debug for Eventually<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Eventually")
            .field("site", &self.site)
            .field("within", &self.limit)
            .field("poll_every", &self.every)
            .field("during", &self.during)
            .field("description", &self.description)
            .finish()
    }
}

impl<C> Eventually<C> {
    /// The longest the wait may take, in virtual time from the first poll (default 10 s).
    /// With [`during`](Eventually::during), the span must end by then.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     async_testkit::eventually(|| async_testkit::time::elapsed() >= Duration::from_secs(50))
    ///         .within(Duration::from_secs(60))
    ///         .poll_every(Duration::from_secs(1))
    ///         .await;
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(50));
    /// });
    /// ```
    pub fn within(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// How often the condition is checked, in virtual time (default 10 ms).
    ///
    /// # Panics
    ///
    /// If `every` is zero: the clock could never move between checks.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     async_testkit::eventually(|| async_testkit::time::elapsed() >= Duration::from_millis(1))
    ///         .poll_every(Duration::from_millis(250))
    ///         .await;
    ///     // Checked at +0s, then at +250ms.
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(250));
    /// });
    /// ```
    #[track_caller]
    pub fn poll_every(mut self, every: Duration) -> Self {
        if every.is_zero() {
            panic!(
                "eventually(..).poll_every(0s) at {}: the interval must be longer than zero, or virtual \
                 time could never move between checks; use Duration::from_millis(1) for the finest polling",
                Location::caller()
            );
        }
        self.every = every;
        self
    }

    /// Requires the condition to hold at every check over a span of `span`: met once it
    /// has held that long without a break (a failed check starts the span again). The span
    /// must end within the [`within`](Eventually::within) limit, so
    /// `.during(d).within(d)` means "holds from now on for `d`".
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let connections = Cell::new(2);
    ///     // Stays at most 2 for a whole minute.
    ///     async_testkit::eventually(|| connections.get() <= 2)
    ///         .during(Duration::from_secs(60))
    ///         .within(Duration::from_secs(60))
    ///         .poll_every(Duration::from_secs(1))
    ///         .await;
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(60));
    /// });
    /// ```
    pub fn during(mut self, span: Duration) -> Self {
        self.during = span;
        self
    }

    /// A description of the condition for the failure message.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     async_testkit::eventually(|| true).describe("the cache is warm").await;
    /// });
    /// ```
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn subject(&self) -> String {
        match &self.description {
            Some(d) => format!("{d:?}"),
            None => "the condition".to_string(),
        }
    }

    fn fail(&self, p: &Progress, now: Instant) -> ! {
        let core = executor::same_run(self.run_id, &format_args!("eventually created at {}", self.site));
        let t = |i: Instant| Vt(i.saturating_duration_since(core.start));
        let checks = format!(
            "checked {} time{}, every {}, from {} to {}",
            p.checks,
            if p.checks == 1 { "" } else { "s" },
            span(self.every),
            t(p.start),
            t(now)
        );
        let last = p.last.as_deref().unwrap_or("it was met at every check");
        if self.during.is_zero() {
            panic!(
                "eventually at {}: {} was not met within {}: {checks}; last observed: {last}",
                self.site,
                self.subject(),
                span(self.limit)
            );
        }
        let story = match (p.held_since, p.last_break) {
            (Some(since), _) => format!("it had held since {} when the limit came", t(since)),
            (None, Some((from, to))) => format!("it last held from {} until {}", t(from), t(to)),
            (None, None) => "it never held".to_string(),
        };
        panic!(
            "eventually at {}: {} did not hold for {} in a row within {}: {story}; {checks}; last observed \
             when it failed: {last}",
            self.site,
            self.subject(),
            span(self.during),
            span(self.limit)
        );
    }
}

enum Step {
    Check { settled: bool },
    Sleeping(Pin<Box<Sleep>>),
    Settling(Settle),
}

struct Progress {
    start: Instant,
    deadline: Instant,
    step: Step,
    checks: u32,
    last: Option<String>,
    held_since: Option<Instant>,
    last_break: Option<(Instant, Instant)>,
}

impl<C, V> Future for Eventually<C>
where
    C: FnMut() -> V,
    V: Verdict,
{
    type Output = V::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<V::Output> {
        let this = self.get_mut();
        let _core = executor::same_run(this.run_id, &format_args!("eventually created at {}", this.site));
        if this.progress.is_none() {
            if this.during > this.limit {
                panic!(
                    "eventually at {}: .during({}) is longer than .within({}), so it can never be met; \
                     raise .within to at least the span",
                    this.site,
                    span(this.during),
                    span(this.limit)
                );
            }
            let start = Instant::now();
            this.progress = Some(Progress {
                start,
                deadline: start.checked_add(this.limit).unwrap_or(start + FAR_FUTURE),
                step: Step::Check { settled: false },
                checks: 0,
                last: None,
                held_since: None,
                last_break: None,
            });
        }
        let mut p = this.progress.take().expect("set above");
        let out = loop {
            match &mut p.step {
                Step::Sleeping(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        break Poll::Pending;
                    }
                    p.step = Step::Settling(crate::time::run_until_idle());
                }
                Step::Settling(settle) => {
                    if Pin::new(settle).poll(cx).is_pending() {
                        break Poll::Pending;
                    }
                    p.step = Step::Check { settled: true };
                }
                Step::Check { settled } => {
                    let settled = *settled;
                    let now = Instant::now();
                    p.checks += 1;
                    match (this.condition)().verdict() {
                        Ok(v) => {
                            let since = *p.held_since.get_or_insert(now);
                            if now.saturating_duration_since(since) >= this.during {
                                break Poll::Ready(v);
                            }
                        }
                        Err(observed) => {
                            if let Some(since) = p.held_since.take() {
                                p.last_break = Some((since, now));
                            }
                            p.last = Some(observed);
                        }
                    }
                    if now >= p.deadline && settled {
                        this.fail(&p, now);
                    }
                    let mut next = now.checked_add(this.every).unwrap_or(p.deadline).min(p.deadline);
                    if let Some(since) = p.held_since {
                        next = next.min(since.checked_add(this.during).unwrap_or(p.deadline));
                    }
                    p.step = Step::Sleeping(Box::pin(tokio::time::sleep_until(next)));
                }
            }
        };
        this.progress = Some(p);
        out
    }
}
