//! One run of a test body under one schedule, and what it reports. The runner
//! (`crate::runner`) decides what to run; nothing here names it.
//!
//! Each run gets a fresh tokio current-thread runtime, paused from its first instant,
//! with time (and by default I/O) enabled. The kit's executor runs the test body as task
//! 0 and every task started with [`crate::spawn`]; tokio's own tasks run on tokio's queue.
//! When the body returns, the oracles look at what is left: panics, leaked tasks (and
//! `spawn_blocking` closures still running), slow polls. A run that cannot finish is
//! stopped: deadlock, virtual deadline, wall deadline.

pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod deadline;
pub(crate) mod executor;
pub(crate) mod family;
pub(crate) mod link;
pub(crate) mod mark;
pub(crate) mod oracles;
pub(crate) mod outside;
pub(crate) mod panics;
pub(crate) mod pool;
pub(crate) mod report;
pub(crate) mod shared;
pub(crate) mod table;
pub(crate) mod tasks;
pub(crate) mod wall;
pub(crate) mod watchdog;

use std::future::Future;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

pub use report::{Failure, FailureKind, Report};

pub use self::config::{Clock, Policy};
pub(crate) use self::config::{DEFAULT_SLOW_POLL, DEFAULT_VIRTUAL_TIMEOUT, DEFAULT_WALL_TIMEOUT, RunConfig};
use self::executor::{CurrentGuard, Executor, Settled, Stop};
use self::shared::Shared;
use self::tasks::JoinControl;
use crate::schedule::{Plan, Strategy};
use crate::util::lock;

static RUN_IDS: AtomicU64 = AtomicU64::new(1);

/// How long, at most, the leak oracle waits for the threads of tokio's blocking pool to
/// stop once the body has returned and the run has settled. tokio wakes a closure's
/// `JoinHandle` before its thread is done with the closure, so a thread whose closure the
/// body awaited may still be alive for a few microseconds (more on a loaded machine);
/// a closure that still runs after this is a leak. The wait ends as soon as no thread is
/// left, so a run without blocking work (or whose closures were awaited) does not wait.
const BLOCKING_POOL_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// The body's outcome, as task 0's owner: its value once it returned, and whether it
/// ended at all (returned, panicked or was cancelled).
struct Body<T> {
    output: Mutex<Option<T>>,
    ended: AtomicBool,
}

impl<T> Default for Body<T> {
    fn default() -> Self {
        Body {
            output: Mutex::new(None),
            ended: AtomicBool::new(false),
        }
    }
}

impl<T> Body<T> {
    fn returned(&self, v: T) {
        *lock(&self.output) = Some(v);
        self.ended.store(true, SeqCst);
    }

    fn is_finished(&self) -> bool {
        self.ended.load(SeqCst)
    }

    /// Whether the body returned (rather than panicked or was cancelled).
    fn has_returned(&self) -> bool {
        lock(&self.output).is_some()
    }

    fn take_output(&self) -> Option<T> {
        lock(&self.output).take()
    }
}

/// The body's panic is recorded by the executor and fails the run; nobody can take it.
impl<T> JoinControl for Body<T> {
    fn cancelled(&self) {
        self.ended.store(true, SeqCst);
    }

    fn panicked(&self, payload: Box<dyn std::any::Any + Send>, _handled: Arc<AtomicBool>, _message: String) {
        self.ended.store(true, SeqCst);
        panics::drop_payload(payload);
    }
}

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
    /// A schedule of an exploration that may skip its closing panic-hook check when it
    /// passes (see [`panics::hook_generation_at_end`]); the exploration runs it again if a
    /// later check finds the hook replaced.
    pub(crate) amortise_hook_check: bool,
    /// What the run's closing panic-hook check found.
    pub(crate) closing_check: std::cell::Cell<panics::ClosingCheck>,
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
        let family = family::current();
        let hook_at_start = panics::hook_generation_at_start(family, self.amortise_hook_check);
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
        let link = link::RunLink::new(rt.handle().clone(), start);
        let run_link = link::LinkGuard::enter(link.clone());
        krt.begin(&shared, start, &link);
        let _run_thread = panics::RunThreadGuard::enter(shared.panics.clone(), start);
        let run_id = RUN_IDS.fetch_add(1, SeqCst);
        let core = Rc::new(Executor::new(
            run_id,
            shared.clone(),
            self.config.clone(),
            self.plan.chooser(self.seed),
            self.seed,
            {
                let blocking = krt.blocking.clone();
                outside::Outside::new(Box::new(move || blocking.alive()), self.config.io, family)
            },
            link,
        ));
        let current = CurrentGuard::set(core.clone());
        family::run_started(&core);
        let watch = watchdog::watch(&shared, self.config.wall_timeout, self.on_stuck.clone());

        let (_, waker) = core.new_task(None, self.site, false);
        let body = Arc::new(Body::<Fut::Output>::default());
        {
            let done = body.clone();
            let fut = Box::pin(async move {
                let v = fut.await;
                done.returned(v);
            });
            core.start_task(waker, fut, body.clone());
        }
        // One test of the body's end, for the main loop and for polls inside its waits.
        let body_done: Rc<dyn Fn() -> bool> = {
            let body = body.clone();
            Rc::new(move || body.is_finished())
        };
        let mut stop = core.run_loop(rt, &*body_done);

        // Settle at the final instant so work that can still finish now does, then judge.
        // A body that returned (rather than panicked): let work that can finish at this
        // instant finish, then run the end-of-test checks. Tasks that never all wait run
        // until the wall-clock limit, and the run ends there.
        let mut settled = false;
        if matches!(stop, Stop::BodyDone) && body.has_returned() {
            match core.settle_at_end(rt) {
                Settled::Idle => {
                    core.run_end_checks();
                    settled = true;
                }
                Settled::WallTimeout => stop = Stop::WallTimeout { after_body: true },
            }
        }
        // `spawn_blocking` closures still running when the run stopped (leaks, when the
        // body returned), and a panic of theirs until the runtime is shut down is recorded:
        // first let the blocking pool's threads finish what tokio does after a closure that
        // was awaited. Not past the wall-clock limit, and not when nobody would hear of them.
        let ignored = settled && self.config.leaks == Policy::Ignore;
        let blocking = if ignored || shared.wall_expired.load(SeqCst) {
            krt.blocking.alive()
        } else {
            // At most the run's own limit: the watchdog, still watching, must not take
            // this wait for a stuck run.
            krt.blocking
                .alive_after(BLOCKING_POOL_GRACE.min(self.config.wall_timeout))
        };
        // The clock may have been set running by a task of tokio's since the last kit poll.
        core.check_paused(None);
        let stopped_in_time = !matches!(stop, Stop::WallTimeout { .. });
        let snap = oracles::snapshot(&core, stop, rt.metrics().num_alive_tasks(), blocking);
        core.cancel_all();
        // What other threads logged until now belongs to the run; nothing after.
        core.record_posted_logs();
        drop(run_link);
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
        let foreign = shared.panics.close();
        if !self.config.io {
            self.io_missing.set(shared.panics.io_wanted.load(SeqCst));
        }
        let mut verdict = oracles::judge(&snap, &core, foreign);
        // Checked once the runtime is down (its blocking closures could panic until then):
        // a hook replaced during the run may have kept panics from the kit. Always for a
        // failing run; an exploration's passing schedule may leave it to a later one.
        let amortised = self.amortise_hook_check && verdict.failure.is_none();
        let closing = panics::hook_generation_at_end(family, hook_at_start, amortised);
        self.closing_check.set(closing);
        if closing == panics::ClosingCheck::Replaced {
            verdict.hook_replaced();
        }
        let label = report::RunLabel {
            name: self.name,
            seed: self.seed,
            strategy: self.strategy,
            label: &self.label,
            notes: &self.notes,
            replay: &self.replay,
        };
        report::finish(verdict, snap, &core, &label, body.take_output())
    }
}
