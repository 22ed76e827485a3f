//! The test runtime: [`Builder`], [`run`], and what a run reports.
//!
//! Each run gets a fresh tokio current-thread runtime, paused from its first instant,
//! with time (and by default I/O) enabled. The kit's executor runs the test body as task
//! 0 and every task started with [`crate::spawn`]; tokio's own tasks run on tokio's queue.
//! When the body returns, the oracles look at what is left: panics, leaked tasks, slow
//! polls. A run that cannot finish is stopped: deadlock, virtual deadline, wall deadline.

pub(crate) mod executor;
pub(crate) mod panics;
pub(crate) mod pool;
pub(crate) mod report;
pub(crate) mod watchdog;

use std::future::Future;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use report::{Failure, FailureKind, Report};

use self::executor::{CurrentGuard, Executor, Shared, Stop};
use crate::schedule::{Plan, Strategy};
use crate::task::JoinInner;
use crate::util::lock;

/// How virtual time moves.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::{Builder, Clock, time};
///
/// // Manual: time moves only when the test advances it.
/// Builder::new().clock(Clock::Manual).run(|| async {
///     let t = async_testkit::spawn(async { tokio::time::sleep(Duration::from_secs(5)).await });
///     time::advance(Duration::from_secs(5)).await;
///     assert!(t.is_finished());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Clock {
    /// When every task waits and a timer is pending, the clock jumps to the timer at once.
    #[default]
    Auto,
    /// Like `Auto`, but the clock jumps only after the runtime has been idle for this much
    /// wall time: for tests that wait on real I/O or `spawn_blocking`, which the clock
    /// must not run ahead of.
    AutoJump(Duration),
    /// Time moves only through [`crate::time::advance`] and [`crate::time::advance_to`].
    /// A run where every task waits and nothing advances the clock is reported as stalled.
    Manual,
}

impl Clock {
    fn describe(self) -> String {
        match self {
            Clock::Auto => "auto".into(),
            Clock::AutoJump(d) => format!("autojump({d:?})"),
            Clock::Manual => "manual".into(),
        }
    }
}

/// What an oracle does when it fires: fail the test, warn on stderr, or say nothing.
///
/// ```
/// use async_testkit::{Builder, Policy};
///
/// // A leaked task becomes a warning in the report instead of a failure.
/// let report = Builder::new().leaks(Policy::Warn).try_run(|| async {
///     async_testkit::spawn(std::future::pending::<()>());
/// }).unwrap();
/// assert!(report.warnings()[0].contains("still alive"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Policy {
    /// The test fails.
    Fail,
    /// The report carries a warning, also printed to stderr.
    Warn,
    /// Nothing happens.
    Ignore,
}

/// Settings of a run, fixed when it starts.
#[derive(Clone, Debug)]
pub(crate) struct RunConfig {
    pub(crate) clock: Clock,
    pub(crate) wall_timeout: Duration,
    pub(crate) virtual_timeout: Duration,
    pub(crate) leaks: Policy,
    pub(crate) slow_poll: Duration,
    pub(crate) slow_poll_policy: Policy,
    pub(crate) io: bool,
    /// Whether the user chose `io` (otherwise exploration starts without the I/O driver).
    pub(crate) io_chosen: bool,
    pub(crate) trace_capacity: usize,
    /// Whether the run records its trace at all (the runs no report shows do not).
    pub(crate) tracing: bool,
}

/// Configures and starts runs.
///
/// `run` panics like a failing test; `try_run` returns the [`Failure`] for tools and the
/// kit's own tests. Environment variables override the code so a failure can be replayed
/// without editing it: `ASYNC_TESTKIT_SEED` (one run with that seed) and
/// `ASYNC_TESTKIT_STRATEGY` (`fifo` or `random`).
///
/// ```
/// use std::time::Duration;
/// use async_testkit::{Builder, Policy};
///
/// let n = Builder::new()
///     .seed(7)
///     .virtual_timeout(Duration::from_secs(10))
///     .leaks(Policy::Fail)
///     .run(|| async {
///         tokio::time::sleep(Duration::from_secs(3)).await;
///         async_testkit::time::elapsed().as_secs()
///     });
/// assert_eq!(n, 3);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    pub(crate) config: RunConfig,
    pub(crate) seed: u64,
    pub(crate) strategy: Option<Strategy>,
    pub(crate) explore: u32,
    pub(crate) explore_for: Option<Duration>,
    pub(crate) replay: Option<crate::Schedule>,
    name: Option<String>,
    isolated: Option<watchdog::OnStuck>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// Defaults for every run.
pub(crate) const DEFAULT_WALL_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_VIRTUAL_TIMEOUT: Duration = Duration::from_secs(3600);
pub(crate) const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(100);
/// What tokio panics with when a task uses sockets (or signals) on a runtime built
/// without the I/O driver.
pub(crate) const IO_DISABLED: &str = "IO is disabled";

impl Builder {
    /// Defaults: seed 0, FIFO, auto clock, 60 s wall limit, 1 h virtual limit, leaks fail,
    /// slow polls (over 100 ms) warn, I/O enabled.
    ///
    /// ```
    /// async_testkit::Builder::new().run(|| async {});
    /// ```
    pub fn new() -> Self {
        Builder {
            config: RunConfig {
                clock: Clock::Auto,
                wall_timeout: DEFAULT_WALL_TIMEOUT,
                virtual_timeout: DEFAULT_VIRTUAL_TIMEOUT,
                leaks: Policy::Fail,
                slow_poll: DEFAULT_SLOW_POLL,
                slow_poll_policy: Policy::Warn,
                io: true,
                io_chosen: false,
                trace_capacity: 256,
                tracing: true,
            },
            seed: 0,
            strategy: None,
            explore: 1,
            explore_for: None,
            replay: None,
            name: None,
            isolated: None,
        }
    }

    /// The seed of the run's choices (random strategy, and every seeded behaviour).
    ///
    /// ```
    /// let r = async_testkit::Builder::new().seed(42).try_run(|| async {}).unwrap();
    /// assert_eq!(r.seed(), 42);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How the scheduler picks among ready tasks. Default: FIFO for one run, random when
    /// exploring.
    ///
    /// ```
    /// use async_testkit::{Builder, Strategy};
    /// let r = Builder::new().strategy(Strategy::Random).try_run(|| async {}).unwrap();
    /// assert_eq!(r.strategy(), Strategy::Random);
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// How virtual time moves (see [`Clock`]).
    ///
    /// ```
    /// use async_testkit::{Builder, Clock};
    /// Builder::new().clock(Clock::Manual).run(|| async {});
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.config.clock = clock;
        self
    }

    /// The wall-clock limit of one run (default 60 s). A run that passes it while waiting
    /// (on real I/O, a blocking closure) stops with a wall-clock-timeout report. A run stuck
    /// *inside one poll* (a blocking call or an endless loop in async code) cannot be
    /// stopped: `#[async_testkit::test]` runs each test on its own thread, so that test
    /// fails and the suite goes on; a run started with `Builder::run` on the caller's
    /// thread prints the report naming the stuck task and ends the process (status 101).
    ///
    /// ```
    /// async_testkit::Builder::new().timeout(std::time::Duration::from_secs(5)).run(|| async {});
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.config.wall_timeout = limit;
        self
    }

    /// The virtual-time limit of one run (default 1 h): a run still going at that point of
    /// virtual time fails. `Duration::MAX` sets no limit (a deadlock is still found: the
    /// kit's deadline timer then sits about 30 years of virtual time away).
    ///
    /// ```
    /// use std::time::Duration;
    /// let f = async_testkit::Builder::new()
    ///     .virtual_timeout(Duration::from_secs(60))
    ///     .try_run(|| async { tokio::time::sleep(Duration::from_secs(61)).await })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), async_testkit::FailureKind::VirtualTimeout);
    /// ```
    pub fn virtual_timeout(mut self, limit: Duration) -> Self {
        self.config.virtual_timeout = limit;
        self
    }

    /// What a task still alive when the body returns does to the test (default: fail).
    ///
    /// ```
    /// use async_testkit::{Builder, Policy};
    /// Builder::new().leaks(Policy::Ignore).run(|| async {
    ///     async_testkit::spawn(std::future::pending::<()>());
    /// });
    /// ```
    pub fn leaks(mut self, policy: Policy) -> Self {
        self.config.leaks = policy;
        self
    }

    /// The wall time a single poll may take before it counts as slow (default 100 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = async_testkit::Builder::new()
    ///     .slow_poll(Duration::from_millis(1))
    ///     .try_run(|| async { std::thread::sleep(Duration::from_millis(5)) })
    ///     .unwrap();
    /// assert!(r.warnings()[0].contains("slow poll"));
    /// ```
    pub fn slow_poll(mut self, threshold: Duration) -> Self {
        self.config.slow_poll = threshold;
        self
    }

    /// What a slow poll does to the test (default: warn).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::{Builder, FailureKind, Policy};
    /// let f = Builder::new()
    ///     .slow_poll(Duration::from_millis(1))
    ///     .slow_poll_policy(Policy::Fail)
    ///     .try_run(|| async { std::thread::sleep(Duration::from_millis(5)) })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), FailureKind::SlowPoll);
    /// ```
    pub fn slow_poll_policy(mut self, policy: Policy) -> Self {
        self.config.slow_poll_policy = policy;
        self
    }

    /// Whether tokio's I/O driver is enabled (default: yes, for loopback sockets).
    ///
    /// Left unset, an exploration runs its schedules without the I/O driver (building it
    /// is about half of what a fresh runtime costs) until one of them needs it: that
    /// schedule runs again with the driver, and every later one has it. A test without
    /// sockets behaves the same either way. Setting `io` explicitly turns this off.
    ///
    /// ```
    /// async_testkit::Builder::new().io(false).run(|| async {});
    /// ```
    pub fn io(mut self, enabled: bool) -> Self {
        self.config.io = enabled;
        self.config.io_chosen = true;
        self
    }

    /// Runs the body under this many schedules (by default from the portfolio: random and
    /// PCT of depths 1 to 3 in turn). The first failing schedule is minimised to the fewest
    /// preemptions that still fail the same way and reported with a replay token.
    /// `ASYNC_TESTKIT_EXPLORE=N` overrides the count for every exploring test, and
    /// `ASYNC_TESTKIT_SHARD=i/n` runs only every n-th schedule from the i-th, so machines can
    /// share one exploration.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().explore(20).try_run(|| async {}).unwrap();
    /// assert_eq!(r.schedules(), 20);
    /// ```
    pub fn explore(mut self, schedules: u32) -> Self {
        self.explore = schedules.max(1);
        self
    }

    /// Explores for this much wall time: schedules run until the budget is spent (or until
    /// the `explore` count, if also given, is reached). Useful in nightly CI.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = async_testkit::Builder::new()
    ///     .explore_for(Duration::from_millis(50))
    ///     .try_run(|| async {})
    ///     .unwrap();
    /// assert!(r.schedules() >= 1);
    /// ```
    pub fn explore_for(mut self, budget: Duration) -> Self {
        self.explore_for = Some(budget);
        self
    }

    /// Runs exactly this schedule (from a failure's [`Failure::schedule`], or a token via
    /// [`crate::Schedule::from_token`]); `ASYNC_TESTKIT_REPLAY=<token>` does the same
    /// without editing the test.
    ///
    /// ```
    /// use async_testkit::{Builder, Schedule};
    /// let r = Builder::new()
    ///     .replay(Schedule::from_choices(vec![1]))
    ///     .try_run(|| async {
    ///         let t = async_testkit::spawn(async {});
    ///         async_testkit::yield_point().await; // the one choice: body again (option 2)
    ///         let finished_first = t.is_finished();
    ///         t.await.unwrap();
    ///         finished_first
    ///     })
    ///     .unwrap();
    /// assert!(!r.value()); // the replayed choice kept the body running
    /// ```
    pub fn replay(mut self, schedule: crate::Schedule) -> Self {
        self.replay = Some(schedule);
        self
    }

    /// Keeps every event of the run (not only the last ones), so the run can be exported
    /// as a Chrome trace with [`crate::trace::write_chrome_trace`]. Costs memory per event.
    ///
    /// ```
    /// let r = async_testkit::Builder::new().full_trace(true).try_run(|| async {}).unwrap();
    /// assert!(r.chrome_trace().is_some());
    /// ```
    pub fn full_trace(mut self, all: bool) -> Self {
        self.config.trace_capacity = if all { usize::MAX } else { 256 };
        self
    }

    /// The name used in reports and in the replay command (the attribute sets it to the
    /// test's path).
    ///
    /// ```
    /// let f = async_testkit::Builder::new()
    ///     .name("my_test")
    ///     .try_run(|| async { panic!("boom") })
    ///     .unwrap_err();
    /// assert!(f.to_string().contains("cargo test -- --exact my_test"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How many trace events a run keeps for its report (default 256; the trace hash
    /// covers all of them regardless).
    ///
    /// ```
    /// let r = async_testkit::Builder::new().trace_capacity(0).try_run(|| async {}).unwrap();
    /// assert!(r.trace_events() > 0);
    /// ```
    pub fn trace_capacity(mut self, events: usize) -> Self {
        self.config.trace_capacity = events;
        self
    }

    /// Runs the body (once, or once per explored schedule) and returns its value; on any
    /// failure it panics with the full report, as a failing test should.
    ///
    /// ```
    /// let v = async_testkit::Builder::new().run(|| async { 1 + 1 });
    /// assert_eq!(v, 2);
    /// ```
    #[track_caller]
    pub fn run<F, Fut>(self, body: F) -> Fut::Output
    where
        F: Fn() -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        self.run_at(body, Location::caller())
    }

    pub(crate) fn run_at<F, Fut>(self, body: F, site: &'static Location<'static>) -> Fut::Output
    where
        F: Fn() -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        match self.try_run_at(body, site) {
            Ok(report) => {
                report.print_warnings();
                report.into_value()
            }
            Err(failure) => panic!("{failure}"),
        }
    }

    /// Like [`Builder::run`], but returns the failure instead of panicking.
    ///
    /// ```
    /// let f = async_testkit::Builder::new()
    ///     .try_run(|| async {
    ///         let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    ///         rx.await.unwrap();
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), async_testkit::FailureKind::Deadlock);
    /// ```
    #[track_caller]
    pub fn try_run<F, Fut>(self, body: F) -> Result<Report<Fut::Output>, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        self.try_run_at(body, Location::caller())
    }

    fn try_run_at<F, Fut>(
        self,
        body: F,
        site: &'static Location<'static>,
    ) -> Result<Report<Fut::Output>, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        crate::explore::drive(&self, &body, site)
    }

    /// The test's name for reports: the builder's, else the thread's (libtest names test
    /// threads after their tests).
    pub(crate) fn test_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| {
                std::thread::current()
                    .name()
                    .filter(|n| *n != "main")
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "<test name>".to_string())
    }

    pub(crate) fn on_stuck(&self) -> watchdog::OnStuck {
        self.isolated.clone().unwrap_or(watchdog::OnStuck::Exit)
    }
}

pub(crate) fn env_u64(var: &str) -> Option<u64> {
    let v = std::env::var(var).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!(
            "{var}={v:?} is not a number: set it to the seed printed in a failure report, like {var}=7"
        ),
    }
}

/// Runs a future to completion on a fresh kit runtime with the default settings and
/// returns its value; panics with a report if any oracle fires.
///
/// ```
/// use std::time::Duration;
/// let v = async_testkit::run(async {
///     tokio::time::sleep(Duration::from_secs(3600)).await; // an hour, instantly
///     async_testkit::time::elapsed()
/// });
/// assert_eq!(v, Duration::from_secs(3600));
/// ```
#[track_caller]
pub fn run<Fut>(fut: Fut) -> Fut::Output
where
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let cell = std::cell::Cell::new(Some(fut));
    Builder::new().run(move || {
        cell.take().expect(
            "async_testkit::run runs its future once; use Builder::run with a closure to run several times",
        )
    })
}

/// Runs the body under `schedules` schedules from the default portfolio and returns the
/// last run's value; on the first failing schedule it panics with the minimised report
/// and its replay token. Shorthand for `Builder::new().explore(schedules).run(body)`.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let total = async_testkit::explore(200, || async {
///     let n = Rc::new(Cell::new(0));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let n = n.clone();
///             async_testkit::spawn(async move {
///                 async_testkit::yield_point().await;
///                 n.set(n.get() + 1); // one step: no lost update
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     n.get()
/// });
/// assert_eq!(total, 3);
/// ```
#[track_caller]
pub fn explore<F, Fut>(schedules: u32, body: F) -> Fut::Output
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    Builder::new().explore(schedules).run_at(body, Location::caller())
}

/// The seed of the current run: seed your own generators with it and a replay of the run
/// (`ASYNC_TESTKIT_SEED=..`) reproduces them too.
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// let s = async_testkit::Builder::new().seed(99).run(|| async { async_testkit::seed() });
/// assert_eq!(s, 99);
/// ```
#[track_caller]
pub fn seed() -> u64 {
    executor::current("async_testkit::seed").seed
}

static RUN_IDS: AtomicU64 = AtomicU64::new(1);

/// One run of the body under one schedule.
pub(crate) struct RunAttempt<'a> {
    pub(crate) config: RunConfig,
    pub(crate) seed: u64,
    /// Where the run's choices come from.
    pub(crate) plan: Plan,
    /// The strategy the user asked for (what `Report::strategy` says).
    pub(crate) strategy: Strategy,
    /// This run's own strategy, for the report: `fifo`, `pct2`, `replay`, ...
    pub(crate) label: String,
    pub(crate) name: &'a str,
    pub(crate) site: &'static Location<'static>,
    pub(crate) on_stuck: watchdog::OnStuck,
    /// Lines the report adds before the seed line (what exploration found).
    pub(crate) notes: Vec<String>,
    /// The replay line the report ends with.
    pub(crate) replay: String,
    /// Set by a run without the I/O driver when some task panicked for want of it.
    pub(crate) io_missing: std::cell::Cell<bool>,
    /// Where an exploration keeps its runtime between schedules.
    pub(crate) pool: Option<&'a pool::RuntimePool>,
}

impl RunAttempt<'_> {
    pub(crate) fn run<Fut>(&self, fut: Fut) -> Result<Report<Fut::Output>, Failure>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        if executor::try_current().is_some() {
            panic!(
                "an async-testkit run was started inside another run (at {}).\n\
                 Runs do not nest: to run more work concurrently inside a test, use async_testkit::spawn.",
                self.site
            );
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            panic!(
                "an async-testkit run was started inside a tokio runtime (at {}).\n\
                 The kit builds its own runtime for each test: use #[async_testkit::test] instead of \
                 #[tokio::test], or call async_testkit::run from a plain #[test] function.",
                self.site
            );
        }
        panics::install_hook();
        let shared = Shared::new();
        *lock(&shared.replay_line) = self.replay.clone();
        *lock(&shared.test_name) = self.name.to_string();

        let krt = match self.pool {
            Some(p) => p.take(self.config.io),
            None => pool::KitRuntime::build(self.config.io),
        };
        let rt = &krt.rt;
        let enter = rt.enter();
        let start = tokio::time::Instant::now();
        krt.begin(&shared, start);
        let _run_thread = panics::RunThreadGuard::enter(shared.clone(), start);
        let run_id = RUN_IDS.fetch_add(1, SeqCst);
        let core = Rc::new(Executor::new(
            run_id,
            shared.clone(),
            self.config.clone(),
            self.plan.chooser(self.seed),
            self.seed,
            rt.metrics(),
        ));
        let current = CurrentGuard::set(core.clone());
        let watch = watchdog::watch(&shared, self.config.wall_timeout, self.on_stuck.clone());

        let (meta, waker) = core.new_task(None, self.site, false);
        let body = JoinInner::<Fut::Output>::new(run_id, meta, waker.clone());
        {
            let done = body.clone();
            let fut = Box::pin(async move {
                let v = fut.await;
                done.complete(v);
            });
            core.start_task(waker, fut, body.clone());
        }
        // One test of the body's end, for the main loop and for polls inside its waits.
        let body_done: Rc<dyn Fn() -> bool> = {
            let body = body.clone();
            Rc::new(move || body.is_finished())
        };
        core.set_body_done(body_done.clone());
        let stop = core.run_loop(rt, &*body_done);
        let stopped_in_time = !matches!(stop, Stop::WallTimeout);

        // Settle at the final instant so work that can still finish now does, then judge.
        // A body that returned (rather than panicked): let work that can finish at this
        // instant finish, then run the end-of-test checks.
        if matches!(stop, Stop::BodyDone) && body.returned() {
            core.settle_at_end(rt);
            core.run_end_checks();
        }
        let snap = report::snapshot(&core, stop, rt.metrics().num_alive_tasks());
        core.cancel_all();
        shared.finished.store(true, SeqCst);
        drop(watch);
        drop(current);
        drop(enter);
        // `shared` holds the runtime's waker, and the runtime holds `shared` for its
        // threads: break the cycle or every run leaks its runtime (and its descriptors).
        shared.release_runtime();
        krt.end();
        match self.pool {
            Some(p) if stopped_in_time => p.give_back(krt),
            _ => krt.shutdown(),
        }
        let foreign = std::mem::take(&mut *lock(&shared.foreign_panics));
        if !self.config.io {
            self.io_missing.set(shared.io_wanted.load(SeqCst));
        }
        report::finish(snap, &core, self, foreign, body.take_output())
    }
}

/// For the attribute's runs: whether the run's thread may be left behind when stuck.
pub(crate) fn isolated(builder: Builder, cell: Arc<Mutex<Option<String>>>) -> Builder {
    Builder {
        isolated: Some(watchdog::OnStuck::Hand(cell)),
        ..builder
    }
}
