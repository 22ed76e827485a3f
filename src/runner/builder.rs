//! The [`Builder`]: a test's settings, and what the environment overrides of them
//! (documented on each method; read in `env.rs`). Running is in `runner/mod.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::runtime::watchdog;
use crate::runtime::{
    Clock, DEFAULT_SLOW_POLL, DEFAULT_VIRTUAL_TIMEOUT, DEFAULT_WALL_TIMEOUT, Policy, RunConfig,
};
use crate::schedule::Strategy;

/// Configures and starts runs.
///
/// `run` panics like a failing test; `try_run` returns the [`Failure`](crate::Failure) for tools and the
/// kit's own tests.
///
/// Environment variables override the code for every test of the process, so a failure
/// can be replayed, or an exploration widened or split, without editing a test; each is
/// documented on the method it overrides:
///
/// | variable | overrides |
/// |---|---|
/// | `ASYNC_TESTKIT_SEED=7` | [`Builder::seed`] (an exploring test explores from it) |
/// | `ASYNC_TESTKIT_STRATEGY=pct2` | [`Builder::strategy`] (any name [`Strategy::from_name`] takes) |
/// | `ASYNC_TESTKIT_REPLAY=<token>` | [`Builder::replay`] |
/// | `ASYNC_TESTKIT_EXPLORE=5000` | raises the count of [`Builder::explore`] (never lowers it) |
/// | `ASYNC_TESTKIT_SHARD=2/8` | which of [`Builder::explore`]'s schedules this process runs |
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

    /// The seed of the run's choices (seeded strategies, and every seeded behaviour such
    /// as mock latencies); an exploration derives each schedule's seed from it.
    /// `ASYNC_TESTKIT_SEED=<seed>` overrides it: a single-run test runs with that seed
    /// (with `ASYNC_TESTKIT_STRATEGY`, what a report's replay line says), an exploring test
    /// explores from it (its runs stay as many; a failing schedule replays from its
    /// `ASYNC_TESTKIT_REPLAY` token).
    ///
    /// ```
    /// let r = async_testkit::Builder::new().seed(42).try_run(|| async {}).unwrap();
    /// assert_eq!(r.seed(), 42);
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How the scheduler picks among ready tasks. Default: FIFO for one run, the
    /// portfolio ([`Strategy::Portfolio`]) when exploring. `ASYNC_TESTKIT_STRATEGY=<name>`
    /// overrides it, with any name [`Strategy::from_name`] takes.
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

    /// The wall-clock limit (default 60 s) of each run and of the whole test. A run that
    /// passes it while waiting (on real I/O, a blocking closure) stops with a wall-clock-timeout report.
    /// An exploration starts no schedule once the test has run that long: it fails with
    /// `wall-clock timeout: the exploration ran longer than the test's limit of ..`, naming
    /// how many schedules ran (each run still gets the whole limit, so a slow last schedule
    /// can take the test up to twice it; finding and minimising a failure runs more). An
    /// [`explore_for`](Self::explore_for) budget longer than the limit replaces it for
    /// the exploration. A run stuck
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
    /// The polls timed are those of the body and of [`crate::spawn`]ed tasks. Tasks
    /// started with `tokio::spawn` are not timed: tokio polls them inside its own turn.
    /// A run that had some says so in its slow-poll warnings.
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

    /// Runs the body under this many schedules (by default from the portfolio, see
    /// [`Strategy::Portfolio`]: PCT with yields lowering, uniform random walks and PCT of
    /// depths 1 to 3 in a fixed rotation). The first failing schedule is minimised to the
    /// fewest preemptions that still fail the same way and reported with a replay token.
    /// `ASYNC_TESTKIT_EXPLORE=N` raises the count of every exploring test to at least
    /// `N` (a value that is not from 1 to `u32::MAX` is an error), and
    /// `ASYNC_TESTKIT_SHARD=i/n` runs only every n-th schedule from the i-th, so machines can
    /// share one exploration: together the shards run exactly its schedules (a DFS
    /// search, which cannot be split, runs whole on shard 0; see the README).
    /// `ASYNC_TESTKIT_SEED` seeds the exploration.
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

    /// Runs exactly this schedule (from a failure's [`Failure::schedule`](crate::Failure::schedule), or a token via
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
    /// "Every" is capped so a run that never ends cannot exhaust memory: a run of more
    /// than 100,000 events keeps its first 50,000 and its last 50,000, and the report
    /// and the Chrome trace say how many were left out between them.
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
    /// test's path). The command is `cargo test -- --exact <name>`, or under
    /// cargo-nextest (`NEXTEST=1` in the environment) `cargo nextest run -E 'test(=<name>)'`.
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

    /// How many trace events a run keeps for its report (default 256, at most 100,000;
    /// the trace hash covers all of them regardless).
    ///
    /// ```
    /// let r = async_testkit::Builder::new().trace_capacity(0).try_run(|| async {}).unwrap();
    /// assert!(r.trace_events() > 0);
    /// ```
    pub fn trace_capacity(mut self, events: usize) -> Self {
        self.config.trace_capacity = events;
        self
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

/// For the attribute's runs: whether the run's thread may be left behind when stuck.
pub(crate) fn isolated(builder: Builder, cell: Arc<Mutex<Option<String>>>) -> Builder {
    Builder {
        isolated: Some(watchdog::OnStuck::Hand(cell)),
        ..builder
    }
}
