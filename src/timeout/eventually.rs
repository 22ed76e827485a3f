//! [`eventually`]: waiting on virtual time until a condition is met (or holds for a
//! span), Awaitility style, with the last observed value in the failure message.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::runtime::executor::{self, Executor};
use crate::time::Settle;
use crate::trace::Vt;
use crate::trace::span;
use crate::util::FAR_FUTURE;

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

    /// The current run, checked to be the one the wait was created in.
    fn core(&self) -> Rc<Executor> {
        executor::same_run(self.run_id, &format_args!("eventually created at {}", self.site))
    }

    fn subject(&self) -> String {
        match &self.description {
            Some(d) => format!("{d:?}"),
            None => "the condition".to_string(),
        }
    }

    fn fail(&self, p: &Progress, now: Instant) -> ! {
        let core = self.core();
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

enum Phase {
    Check { settled: bool },
    Sleeping(Pin<Box<Sleep>>),
    Settling(Settle),
}

struct Progress {
    start: Instant,
    deadline: Instant,
    step: Phase,
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
        let _core = this.core();
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
                step: Phase::Check { settled: false },
                checks: 0,
                last: None,
                held_since: None,
                last_break: None,
            });
        }
        let mut p = this.progress.take().expect("set above");
        let out = loop {
            match &mut p.step {
                Phase::Sleeping(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        break Poll::Pending;
                    }
                    p.step = Phase::Settling(crate::time::run_until_idle());
                }
                Phase::Settling(settle) => {
                    if Pin::new(settle).poll(cx).is_pending() {
                        break Poll::Pending;
                    }
                    p.step = Phase::Check { settled: true };
                }
                Phase::Check { settled } => {
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
                    p.step = Phase::Sleeping(Box::pin(tokio::time::sleep_until(next)));
                }
            }
        };
        this.progress = Some(p);
        out
    }
}
