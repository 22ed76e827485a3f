//! The controlled executor: the main loop (pick a ready task or tokio's turn, poll it,
//! time it), and the wait protocol with tokio. The task table, the state shared with
//! other threads, the clocks and the deadline probe are in files of their own
//! (`table`, `shared`, `clock`, `deadline`); what the run saw is kept in
//! [`Findings`] for the oracles.
//!
//! Kit tasks are polled here, outside tokio's scheduler, inside the runtime's
//! `Handle::block_on` (which gives each poll of its future tokio's cooperative budget and
//! makes tokio refuse blocking calls, as in a tokio task; the polls the main loop makes in
//! a row share one `Handle::block_on`, see [`Stretch`]). A task that yields
//! (`tokio::task::yield_now()`) stays an option of every choice, but the default order
//! resumes it as tokio does: once no other kit task is ready, the newest yield first,
//! after a turn of the I/O driver when the run has one; while tokio may have work of its
//! own (live tasks, timers due at a clock the poll moved) it waits for tokio's next turn.
//! The kit's `yield_point` is an immediate wake. `Runtime::block_on`
//! is entered only to wait: tokio then runs its own tasks, turns its drivers and, with a
//! paused clock, jumps to the next timer.
//!
//! One exception keeps waiting cheap: a task that wakes alone while the kit waits (the
//! only option, so no choice is made) is polled inside the wait, one such poll per poll
//! of the wait's own `block_on` future (so each has a whole cooperative budget, as tokio
//! gives `block_on`'s future at each poll). There a `yield_now()` is deferred by tokio,
//! so after such a poll the wait lets tokio's loop come round (delivering deferred wakes)
//! before anything is decided, and a choice source that watches yields turns it off.
//!
//! tokio calls its `on_thread_park` hook exactly when its queue is empty and it is about
//! to park (and, with a paused clock, auto-advance). When the kit wants time to stand
//! still (manual clock, autojump cushion, settling after `advance`, `run_until_idle`),
//! the hook wakes the waiting future instead: tokio then skips both the park and the
//! jump, and the executor learns that everything is quiescent at the current instant.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::clock::{Clock, ClockReadings, MANUAL_STALL_GRACE};
use super::config::{MAX_RECORDED_CHOICES, Policy, RunConfig};
use super::deadline::{DeadlineProbe, Probed, WaitOutcome};
use super::link::RunLink;
use super::mark;
use super::outside::{Outside, Pending};
use super::panics::{self, PanicRecord, Payload};
use super::shared::{ACTIVITY_IDLE, ACTIVITY_TOKIO, Shared, TaskWaker};
use super::table::{BoxFuture, Slot, TaskEntry, TaskTable};
use super::tasks::{JoinControl, SpawnSite, TaskInfo, TaskMeta, TaskState, TaskStats};
use super::wall;
use crate::schedule::{Choice, Chooser, SplitMix64, Step};
use crate::trace::{EventKind, LogLine, TaskId, Trace};
use crate::util::lock;

/// A check run when the body has returned; `Err(message)` fails the test.
pub(crate) type EndCheck = Box<dyn FnOnce() -> Result<(), String>>;

/// A poll that took longer than the slow-poll threshold.
#[derive(Clone, Debug)]
pub(crate) struct SlowPoll {
    pub(crate) task: TaskMeta,
    pub(crate) wall: Duration,
    pub(crate) at: Duration,
}

/// Why the main loop stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    BodyDone,
    Deadlock {
        manual_stall: bool,
        /// Outside work still pending when the run was judged (see `outside`).
        outside: Pending,
    },
    VirtualTimeout {
        why: String,
    },
    /// The wall-clock limit passed: during the run (`after_body: false`), or while the
    /// tasks left at the body's final instant ran on without ever all waiting.
    WallTimeout {
        after_body: bool,
    },
    SlowPoll,
    /// A kit component (a mock, a script) reported a broken expectation.
    Expectation,
}

/// How settling at the body's final instant ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Everything left waits (or has finished).
    Idle,
    /// The wall-clock limit passed first: tasks kept running at that instant.
    WallTimeout,
}

/// What a pass over the ready queue inside a wait ended with.
enum InlinePass {
    /// Nothing is ready, or a task was just polled inline (the wait looks at the queue
    /// again before it returns Pending).
    Empty,
    /// The main loop must decide (a choice to make, or a task it must poll itself).
    Decide,
}

/// How a grace for outside work ended.
#[derive(PartialEq, Eq)]
enum Grace {
    /// Nothing outside is pending (any more).
    NothingOutside,
    /// Something happened: a task woke, or the wait has something to decide.
    Woken,
    /// The grace ran out with the work still pending and nothing woken.
    RanOut,
}

/// A choice the scheduler made.
/// How a poll left its task.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Polled {
    /// It returned `Pending` without waking itself (it may have left a wake with tokio).
    Waits,
    /// It returned `Pending` and woke itself during the poll: it is ready again.
    Yielded,
    /// It completed, panicked or was cancelled.
    Ended,
}

enum Pick {
    /// A task, with the number of options and the index chosen.
    Task(TaskId, usize, usize),
    Tokio,
    /// No task is ready but some yielded: they run again, after a turn of the I/O driver
    /// when the run has one.
    Resume,
    /// The body is next (with the number of options and the index chosen), woken by a
    /// task's poll since tokio's drivers last turned: with the I/O driver, they turn first
    /// (see [`Shared::body_after_step`]), then the body is polled. Not a choice of its own:
    /// a run without the I/O driver (an exploration's lean runs) makes the same choices.
    TurnForBody(usize, usize),
}

/// How long (wall time) the clock is held still for outside work that may still wake a
/// task (an OS thread the test started, a child process) before it may jump, or before
/// a manual clock's run is judged stalled. A thread that replies later than this under a
/// pending timer lets the clock jump first: `Clock::AutoJump` waits longer.
pub(crate) const OUTSIDE_GRACE: Duration = Duration::from_millis(200);

/// How long (wall time) a run with the I/O driver, every task waiting with no timer
/// before the deadline, keeps turning the driver for an event from outside before it is
/// judged (see [`Executor::io_grace`]).
const IO_GRACE: Duration = Duration::from_millis(50);

/// Turns of the I/O driver the settling at the body's end makes in a row while the number
/// of tokio's live tasks stays the same (each a system call and a round of tokio's loop).
const SETTLE_IO_TURNS: u32 = 8;

/// Polls of kit tasks in a row before tokio's own queue gets a turn (FIFO), or, when
/// tokio has no task, its drivers do (as tokio turns them every 61 tasks it runs).
const TOKIO_TURN_EVERY: u32 = 61;

/// How long (wall time) a settling wait lets tokio run without parking before the
/// watchdog looks (see [`Executor::settle_at_end`]). Work that ends in time is never
/// looked at; the look only starts the count of [`SETTLE_SPIN_TURNS`].
pub(crate) const SPIN_LOOK: Duration = Duration::from_millis(100);

/// Rounds of tokio's loop a settling wait counts, after the watchdog found tokio still
/// running, before it lets tokio park again and asks for the look that ends settling.
pub(crate) const SETTLE_SPIN_TURNS: u32 = 1024;

/// One run's executor. Lives in an `Rc` in a thread-local while the run lasts.
pub(crate) struct Executor {
    pub(crate) run_id: u64,
    pub(crate) seed: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: RunConfig,
    /// The virtual instant the run began at: virtual time is measured from it.
    pub(crate) start: Instant,
    /// Every task of the run, by id (the body is task 0).
    pub(crate) tasks: RefCell<TaskTable>,
    /// The kit task being polled (or dropped) now.
    pub(crate) current: Cell<Option<TaskId>>,
    /// The polled task is yielding at a kit `yield_point`: the kit's own choice point,
    /// an immediate wake (the task stays where its wake put it), not tokio's deferred
    /// yield.
    pub(crate) kit_yield: Cell<bool>,
    pub(crate) trace: RefCell<Trace>,
    /// What the run's other threads reach: the clock, and their log lines.
    pub(crate) link: Arc<RunLink>,
    metrics: tokio::runtime::RuntimeMetrics,
    /// The run's runtime: the main loop polls kit tasks inside its `Handle::block_on` (see
    /// [`Stretch`]).
    handle: tokio::runtime::Handle,
    /// Who runs next, and what was chosen.
    pub(crate) choosing: Choosing,
    /// The executor's readings of the virtual and the wall clock.
    clock: ClockReadings,
    /// The state of the current wait inside `block_on`.
    waits: WaitState,
    /// `run_until_idle`, `advance` and the waiters for quiescence.
    settling: Settling,
    /// The virtual deadline's sentinel and the deadlock probe.
    deadline: DeadlineProbe,
    /// Work outside the runtime that may still wake a task.
    outside: Outside,
    /// What the run saw, for the oracles.
    pub(crate) findings: Findings,
}

/// Who runs next: the choice source and the record of its choices.
pub(crate) struct Choosing {
    chooser: RefCell<Box<dyn Chooser>>,
    /// The choice source needs to see every yield: no task is polled inside a wait.
    watch_yields: bool,
    /// Every choice made at a step with two or more options, in order, up to
    /// [`MAX_RECORDED_CHOICES`].
    pub(crate) choices: RefCell<Vec<Choice>>,
    /// Choices made past [`MAX_RECORDED_CHOICES`], counted and not recorded.
    pub(crate) unrecorded: Cell<u64>,
    /// The run's seeded generator for seeded behaviour (mock latency levels, ...).
    rng: RefCell<SplitMix64>,
    /// tokio had its turn and no kit task has been polled since.
    tokio_turned: Cell<bool>,
    /// Tasks that yielded while tokio had work (tasks of its own ready, or timers due at
    /// a clock a poll moved): as under tokio, where a yield is deferred until the queue
    /// has run and the drivers have turned, they wait for tokio's next turn.
    deferred: RefCell<Vec<TaskId>>,
    /// Tasks that yielded with nothing owed to tokio, in yield order. As under tokio, where
    /// a yield waits until the queue is empty (tasks woken meanwhile included) and the
    /// yielded tasks are then woken newest first, the default order runs them again once
    /// no other kit task is ready, newest first; until then each stays an option of every
    /// choice, after the ready tasks, so no schedule is lost.
    yielders: RefCell<Vec<TaskId>>,
    /// The body's last poll ended at a kit `yield_point`, an immediate wake: it keeps its
    /// place in the queue instead of waiting behind the other woken tasks.
    body_kit_yield: Cell<bool>,
}

impl Choosing {
    /// Records a choice, or only counts it past [`MAX_RECORDED_CHOICES`].
    fn record(&self, choice: Choice) {
        let mut choices = self.choices.borrow_mut();
        if choices.len() < MAX_RECORDED_CHOICES {
            choices.push(choice);
        } else {
            self.unrecorded.set(self.unrecorded.get() + 1);
        }
    }
}

/// The state of a wait inside `block_on` (see the module doc).
struct WaitState {
    /// A task polled inside the wait went back to waiting and may have left a
    /// `tokio::task::yield_now()` wake with tokio: the wait must let tokio's loop come
    /// round once before it decides anything (tokio drops such wakes when `block_on`
    /// returns, and delivers them on its way round). Cleared at the wait's next poll,
    /// which tokio's loop reaches only through that round.
    inline_unflushed: Cell<bool>,
    /// The kit task (not the body) that poll left waiting: a wake of it that tokio
    /// delivers on that round is its `yield_now()` (see [`Executor::inline_round_over`]).
    inline_polled: Cell<Option<TaskId>>,
    /// The park hook held the clock still for outside work (see [`OUTSIDE_GRACE`]).
    outside_hold: Cell<bool>,
    /// The wait is settling's: it ends `Spinning` when tokio's tasks run on without end
    /// (see [`Executor::settle_at_end`]).
    watch_spin: Cell<bool>,
}

/// Settling: waiters for the next quiescence, and `advance` calls in progress.
struct Settling {
    /// Woken at the next quiescence (while any wait, tokio may not jump the clock).
    waiters: RefCell<Vec<Waker>>,
    /// How many quiescences have been reached by settling: a waiter is done once this
    /// has grown past the value it was given.
    generation: Cell<u64>,
    /// `time::advance` calls in progress: while any is, tokio may move the clock.
    advancing: Cell<usize>,
}

/// What the run saw that the oracles judge, and the checks still to run at its end.
pub(crate) struct Findings {
    /// Panics of kit tasks (caught by the executor); those of other code are in
    /// [`Shared`]'s panic record.
    pub(crate) panics: RefCell<Vec<PanicRecord>>,
    pub(crate) slow_polls: RefCell<Vec<SlowPoll>>,
    /// Broken expectations reported by kit components (mocks, scripts) during the run.
    pub(crate) expectation_failures: RefCell<Vec<String>>,
    /// Checks run when the body has returned (mock expectations); each may report.
    end_checks: RefCell<Vec<EndCheck>>,
    /// Kit polls so far.
    pub(crate) polls: Cell<u64>,
    /// The virtual time of the last kit poll.
    pub(crate) last_activity: Cell<Duration>,
    /// tokio had tasks of its own at some point of the run (seen whenever the executor
    /// looks: before a choice, a wait, a turn). Their polls are not timed.
    pub(crate) saw_tokio_tasks: Cell<bool>,
    /// The most tasks of tokio's own (whose order the kit does not choose) seen alive at
    /// once, at the same looks.
    pub(crate) tokio_most: Cell<usize>,
    /// tokio's clock was found running (`tokio::time::resume()`): the times of the
    /// events from then on are real-time readings, not virtual ones.
    pub(crate) clock_ran: Cell<bool>,
    /// The wall reading of the last check of the panic hook in this run (0: none).
    hook_checked_at: Cell<u64>,
    /// Settling at the body's end was stopped with tokio's tasks still running (they
    /// never all waited): see [`Executor::settle_at_end`].
    pub(crate) tokio_spun: Cell<bool>,
}

/// How often, at most, a run with tokio tasks or blocking closures checks that the kit's
/// panic hook is still installed (a check costs a caught panic, about 10 µs).
const HOOK_CHECK_EVERY: Duration = Duration::from_millis(1);

impl Executor {
    pub(crate) fn new(
        run_id: u64,
        shared: Arc<Shared>,
        config: RunConfig,
        chooser: Box<dyn Chooser>,
        seed: u64,
        outside: Outside,
        link: Arc<RunLink>,
    ) -> Self {
        let (capacity, tracing) = (config.trace_capacity, config.tracing);
        let handle = link.handle().clone();
        let coarse_wall = wall::coarse_enough(config.slow_poll);
        Executor {
            run_id,
            seed,
            shared,
            config,
            start: Instant::now(),
            tasks: RefCell::new(TaskTable::new()),
            current: Cell::new(None),
            kit_yield: Cell::new(false),
            trace: RefCell::new(if tracing {
                Trace::new(capacity)
            } else {
                Trace::off()
            }),
            link,
            metrics: handle.metrics(),
            handle,
            choosing: Choosing {
                watch_yields: chooser.watches_yields(),
                chooser: RefCell::new(chooser),
                choices: RefCell::new(Vec::new()),
                unrecorded: Cell::new(0),
                rng: RefCell::new(SplitMix64::new(seed ^ 0x005E_ED0F_7E57_C0DE)),
                tokio_turned: Cell::new(false),
                deferred: RefCell::new(Vec::new()),
                yielders: RefCell::new(Vec::new()),
                body_kit_yield: Cell::new(false),
            },
            clock: ClockReadings::new(coarse_wall),
            waits: WaitState {
                inline_unflushed: Cell::new(false),
                inline_polled: Cell::new(None),
                outside_hold: Cell::new(false),
                watch_spin: Cell::new(false),
            },
            settling: Settling {
                waiters: RefCell::new(Vec::new()),
                generation: Cell::new(0),
                advancing: Cell::new(0),
            },
            deadline: DeadlineProbe::new(),
            outside,
            findings: Findings {
                panics: RefCell::new(Vec::new()),
                slow_polls: RefCell::new(Vec::new()),
                expectation_failures: RefCell::new(Vec::new()),
                end_checks: RefCell::new(Vec::new()),
                polls: Cell::new(0),
                last_activity: Cell::new(Duration::ZERO),
                saw_tokio_tasks: Cell::new(false),
                tokio_most: Cell::new(0),
                clock_ran: Cell::new(false),
                hook_checked_at: Cell::new(0),
                tokio_spun: Cell::new(false),
            },
        }
    }

    /// Whether tokio's clock still stands still between two readings: a run's clock is
    /// paused from its start, and only `tokio::time::resume()` sets it running (tokio has
    /// no public "is paused"). If it runs, virtual time is off (every sleep waits in real
    /// time): the clock is paused again and the run fails, naming the kit task whose poll
    /// (at a virtual time) set it running, or else the code the kit does not poll.
    pub(crate) fn check_paused(&self, poll: Option<(TaskId, Duration)>) {
        if paused_now().is_none() {
            self.clock_ran(poll);
        }
    }

    /// [`Executor::check_paused`] found tokio's clock running: pause it, fail the run.
    #[cold]
    #[inline(never)]
    fn clock_ran(&self, poll: Option<(TaskId, Duration)>) {
        tokio::time::pause();
        self.findings.clock_ran.set(true);
        let who = match poll {
            Some((id, at)) => format!("in a poll of task {} at {}", self.label(id), crate::trace::Vt(at)),
            None => "outside the kit's polls (in a task started with tokio::spawn, or a blocking closure)"
                .to_string(),
        };
        self.fail(format!(
            "virtual time was turned off: tokio::time::resume() was called {who}, so tokio's clock ran \
             in real time and every sleep would really wait; remove the call (to move virtual time, await \
             async_testkit::time::advance, or use clock = \"manual\")"
        ));
    }

    /// Reports a broken expectation: the run stops at the next scheduling point and fails
    /// with `message` (kind [`crate::FailureKind::Expectation`]).
    pub(crate) fn fail(&self, message: String) {
        self.findings.expectation_failures.borrow_mut().push(message);
    }

    /// Registers a check to run once the body has returned (and the runtime has settled);
    /// an `Err(message)` fails the test as a broken expectation.
    pub(crate) fn at_end(&self, check: EndCheck) {
        self.findings.end_checks.borrow_mut().push(check);
    }

    /// Runs the end checks (once).
    pub(crate) fn run_end_checks(&self) {
        let checks = self.findings.end_checks.take();
        for check in checks {
            if let Err(message) = check() {
                self.fail(message);
            }
        }
    }

    /// A value choice (a mock latency level): one of `options` levels, from the replayed
    /// schedule or else the run's seeded generator, and recorded like a task choice so a
    /// replay reproduces it and minimisation can lower it (level 0 is the default).
    pub(crate) fn choose_level(&self, options: u32) -> u32 {
        if options < 2 {
            return 0;
        }
        let replayed = self.choosing.chooser.borrow_mut().replay_value(options as usize);
        let chosen = match replayed {
            Some(v) => v as u32,
            None => self.choosing.rng.borrow_mut().below(u64::from(options)) as u32,
        };
        self.choosing.record(Choice {
            options,
            chosen,
            task: false,
        });
        chosen
    }

    /// Virtual time since the run began; once a deadlock has been found, the instant it
    /// was found at (the probe moved the clock on, but that is the kit's business).
    pub(crate) fn elapsed(&self) -> Duration {
        if let Some(at) = self.deadline.frozen_at() {
            return at;
        }
        let now = Instant::now().saturating_duration_since(self.start);
        self.clock.sched_now.set(Some(now));
        now
    }

    /// [`Executor::elapsed`] for the scheduler's own steps: read once while the clock cannot
    /// have moved (see `sched_now`).
    fn sched_elapsed(&self) -> Duration {
        self.clock.sched_now.get().unwrap_or_else(|| self.elapsed())
    }

    /// Before tokio may run its tasks: while some are alive, or `spawn_blocking` closures
    /// run, makes sure the kit's panic hook is still installed (a test may have replaced
    /// it and not yet put it back, and those panics reach the kit only through it), the
    /// first time in the run and then at most every [`HOOK_CHECK_EVERY`] of wall time. A
    /// replaced hook gets the kit's in front of it again, and the run warns at its end.
    fn check_hook(&self) {
        if self.metrics.num_alive_tasks() == 0 && self.outside.blocking() == 0 {
            return;
        }
        let now = self.clock.read_wall();
        let last = self.findings.hook_checked_at.get();
        if last != 0 && now.saturating_sub(last) < crate::util::nanos(HOOK_CHECK_EVERY) {
            return;
        }
        self.findings.hook_checked_at.set(now.max(1));
        panics::hook_generation();
    }

    /// After tokio ran (it may have moved its clock and spent wall time).
    fn tokio_ran(&self) {
        self.release_deferred();
        self.clock.mark_wall();
        // Only tokio's turns run code the kit does not poll: a resume() there is seen here,
        // not by a check before every kit poll. The check's reading of the paused clock is
        // the scheduler's next one (reading tokio's clock takes a lock): nothing moves it
        // before tokio runs again or a kit poll yields.
        match paused_now() {
            Some(at) if self.deadline.frozen_at().is_none() => {
                self.clock
                    .sched_now
                    .set(Some(at.saturating_duration_since(self.start)));
            }
            Some(_) => self.clock.sched_now.set(None),
            None => {
                self.clock.sched_now.set(None);
                self.clock_ran(None);
            }
        }
    }

    /// tokio has turned: the tasks that yielded for it are ready again, in yield order. (A
    /// body that yielded after them is polled after them: tokio polls its `block_on` future
    /// only after a turn of its loop, which would have woken their yields already.)
    fn release_deferred(&self) {
        let mut deferred = self.choosing.deferred.borrow_mut();
        if !deferred.is_empty() {
            lock(&self.shared.ready).extend(deferred.drain(..));
        }
    }

    /// Whether the body waits in the ready queue (its waker queued it, and it is not
    /// held back as a yield).
    fn body_waits(&self) -> bool {
        let queued = match self.tasks.borrow().first() {
            Some(TaskEntry { slot: Some(slot), .. }) => slot.waker.queued.load(Acquire),
            _ => false,
        };
        queued && lock(&self.shared.ready).contains(&0)
    }

    /// After a turn of tokio's that the body waited through in the ready queue: it goes
    /// first, as tokio polls its woken `block_on` future at the top of each round of its
    /// loop, before the tasks still queued.
    fn body_to_front(&self) {
        let mut ready = lock(&self.shared.ready);
        if let Some(at) = ready.iter().position(|&t| t == 0) {
            ready.remove(at);
            ready.push_front(0);
            self.shared.body_first.store(true, Relaxed);
        }
    }

    /// After task `id` yielded in a poll that began at `before`: when tokio may have work
    /// a yield would let it do (tasks of its own, which may be ready, or timers due at a
    /// clock the poll moved, as `tokio::time::advance` does), the task waits for tokio's
    /// next turn, as a `tokio::task::yield_now()` waits under tokio for the queue to run
    /// and the drivers to turn. Otherwise nothing is deferred: the yield stays an
    /// immediate wake and a choice. (tokio does not tell whether its local queue holds
    /// tasks, such as those its last park woke: any live task of its own counts.)
    /// Returns whether the task was deferred.
    #[inline(always)]
    fn defer_if_tokio_owed(&self, id: TaskId, before: Duration) -> bool {
        let owed = self.tokio_alive() || self.sched_elapsed() != before;
        if !owed {
            return false;
        }
        self.hold(id, &self.choosing.deferred);
        true
    }

    /// Takes task `id`, which woke itself in its poll, out of the ready queue into `held`.
    fn hold(&self, id: TaskId, held: &RefCell<Vec<TaskId>>) {
        let mut ready = lock(&self.shared.ready);
        if let Some(at) = ready.iter().rposition(|&queued| queued == id) {
            ready.remove(at);
            held.borrow_mut().push(id);
        }
    }

    /// Records an event at the current virtual time. Outside a kit task's poll (in a
    /// tokio task, which may have moved tokio's clock) the clock is read afresh.
    pub(crate) fn record(&self, task: Option<TaskId>, kind: EventKind) {
        let now = if self.current.get().is_some() {
            self.sched_elapsed()
        } else {
            self.elapsed()
        };
        self.record_posted_logs();
        self.trace.borrow_mut().record(now, task, kind);
    }

    /// Records a line the code under test logged (feature `tracing`), at the current
    /// virtual time, as the event of the kit task being polled (or of tokio's, or of no
    /// task, outside the kit's polls). Nothing when the run is untraced, or its trace is
    /// in use (a log line emitted by the kit's own rendering).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn log(&self, line: impl FnOnce() -> LogLine) {
        if !self.trace.try_borrow().is_ok_and(|t| t.is_on()) {
            return;
        }
        let line = line();
        let now = self.elapsed();
        self.record_posted_logs();
        if let Ok(mut trace) = self.trace.try_borrow_mut() {
            trace.record(now, self.current.get(), EventKind::Log(Box::new(line)));
        }
    }

    /// Records the log lines the run's other threads left (see [`RunLink::post`]).
    pub(crate) fn record_posted_logs(&self) {
        let posted = self.link.take_logs();
        if posted.is_empty() {
            return;
        }
        if let Ok(mut trace) = self.trace.try_borrow_mut() {
            for (at, line) in posted {
                trace.record(at, None, EventKind::Log(Box::new(line)));
            }
        }
    }

    pub(crate) fn label(&self, id: TaskId) -> String {
        lock(&self.shared.metas)
            .get(id)
            .map_or_else(|| format!("#{id}"), TaskMeta::label)
    }

    /// Adds a task's description to the task table; [`Executor::start_task`] gives it its
    /// future. Between the two, nothing else may spawn.
    pub(crate) fn new_task(
        &self,
        name: Option<String>,
        site: &'static Location<'static>,
        background: bool,
    ) -> (TaskMeta, Arc<TaskWaker>) {
        let id = self.tasks.borrow().len();
        let meta = TaskMeta {
            id,
            name: name.map(Arc::from),
            site: SpawnSite::new(site),
            background,
        };
        lock(&self.shared.metas).push(meta.clone());
        self.tasks.borrow_mut().push(TaskEntry {
            slot: None,
            stats: TaskStats {
                state: TaskState::Ready,
                polls: 0,
                last_poll: None,
            },
        });
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            outcome: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        (meta, waker)
    }

    /// Gives the task made by [`Executor::new_task`] its future; it is ready at once.
    pub(crate) fn start_task(&self, waker: Arc<TaskWaker>, fut: BoxFuture, control: Arc<dyn JoinControl>) {
        let id = waker.id;
        let std_waker = Waker::from(waker.clone());
        self.tasks.borrow_mut()[id].slot = Some(Slot {
            fut: Some((fut, std_waker.clone())),
            waker,
            control,
        });
        if let Some(parent) = self.current.get() {
            self.record(Some(parent), EventKind::spawned(id));
        } else if id != 0 {
            self.record(None, EventKind::spawned(id));
        }
        std_waker.wake();
    }

    fn set_state(&self, id: TaskId, state: TaskState) {
        if let Some(entry) = self.tasks.borrow_mut().get_mut(id) {
            entry.stats.state = state;
        }
    }

    fn is_live(&self, id: TaskId) -> bool {
        self.tasks.borrow().is_live(id)
    }

    /// Picks the next thing to run, or `None` when no kit task is ready. Every step with
    /// two or more options asks the choice source and is recorded.
    #[inline(always)]
    fn pick(&self) -> Option<Pick> {
        let mut ready = lock(&self.shared.ready);
        let deferred = !self.choosing.deferred.borrow().is_empty();
        let mut yielders = self.choosing.yielders.borrow_mut();
        loop {
            if ready.is_empty() {
                // Tasks that yielded for tokio: its turn is the only option.
                if deferred {
                    return Some(Pick::Tokio);
                }
                return (!yielders.is_empty()).then_some(Pick::Resume);
            }
            // The body runs, as tokio's `block_on` future does, when no other woken task is
            // ready (tokio polls it at the start of a tick, once its queue has run), unless
            // it was put first (woken where tokio would poll it next: see `Shared::body_first`).
            if !self.shared.body_first.swap(false, Relaxed)
                && ready.len() > 1
                && ready.front() == Some(&0)
                && !self.choosing.body_kit_yield.get()
            {
                ready.rotate_left(1);
            }
            // The tasks that yielded are options too, after the ready ones, newest first.
            let woken = ready.len();
            ready.extend(yielders.iter().rev());
            // tokio is an option when it has tasks (or tasks yielded for its turn), but
            // not twice in a row: its turn runs everything it has ready, and a turn does
            // not move the clock, so a strategy that kept choosing it would spin while kit
            // tasks wait.
            let tokio = !self.choosing.tokio_turned.get() && (deferred || self.tokio_alive());
            let options = ready.len() + usize::from(tokio);
            let k = if options == 1 {
                0
            } else {
                let step = Step {
                    ready: ready.make_contiguous(),
                    tokio,
                };
                let k = self.choosing.chooser.borrow_mut().choose(&step) % options;
                self.choosing.record(Choice {
                    options: options as u32,
                    chosen: k as u32,
                    task: true,
                });
                k
            };
            if k == ready.len() {
                ready.truncate(woken);
                return Some(Pick::Tokio);
            }
            let id = ready.remove(k).expect("index within the ready queue");
            if k < woken {
                ready.truncate(woken - 1);
            } else {
                ready.truncate(woken);
                let at = yielders.len() - 1 - (k - woken);
                yielders.remove(at);
            }
            if self.is_live(id) {
                if id == 0
                    && k < woken
                    && self.config.io
                    && self.shared.body_after_step.load(Relaxed)
                    && !self.tokio_alive()
                {
                    return Some(Pick::TurnForBody(options, k));
                }
                return Some(Pick::Task(id, options, k));
            }
        }
    }

    /// No kit task is ready: the tasks that yielded are, newest first (as tokio wakes
    /// the yields it deferred), behind any task the I/O driver's turn woke.
    fn resume_yielders(&self) {
        let mut yielders = self.choosing.yielders.borrow_mut();
        let mut ready = lock(&self.shared.ready);
        // The body first: tokio polls its `block_on` future at the tick's start.
        if let Some(at) = yielders.iter().position(|&t| t == 0) {
            yielders.remove(at);
            ready.push_front(0);
            self.shared.body_first.store(true, Relaxed);
        }
        ready.extend(yielders.drain(..).rev());
    }

    /// Polls one task once, and says how the poll left it. The caller gives the poll
    /// tokio's context: inside a wait the poll is inside tokio's `block_on` (its future's
    /// poll has a fresh cooperative budget); the main loop polls in a [`Stretch`].
    fn poll_task(&self, id: TaskId, options: usize, chosen: usize, now: Duration) -> Polled {
        match self.begin_poll(id, options, chosen, now) {
            Begun::Gone => Polled::Ended,
            Begun::Aborted(fut) => self.end_aborted(id, fut),
            Begun::Poll(mut polling) => {
                let result = self.run_poll(&mut polling, false);
                self.end_poll(polling, result)
            }
        }
    }

    /// The first part of a poll: takes the task's future and notes the poll (see
    /// [`Executor::poll_task`]); user code runs only in [`Executor::run_poll`] and, for a
    /// task that ended, in [`Executor::end_poll`] and [`Executor::end_aborted`].
    #[inline(always)]
    fn begin_poll(&self, id: TaskId, options: usize, chosen: usize, now: Duration) -> Begun {
        self.choosing.tokio_turned.set(false);
        if id == 0 {
            self.shared.body_after_step.store(false, Relaxed);
        }
        // A jump of the clock allowed after an autojump cushion is stale once a task runs.
        self.shared.jump_once.store(false, Relaxed);
        let taken = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(TaskEntry {
                slot: Some(slot),
                stats,
            }) = tasks.get_mut(id)
            else {
                return Begun::Gone;
            };
            slot.waker.queued.store(false, Release);
            let aborted = slot.waker.aborted.load(Acquire);
            let taken = slot.fut.take();
            if taken.is_some() && !aborted {
                stats.polls += 1;
                stats.last_poll = Some(now);
            }
            taken.map(|(f, w)| (f, w, aborted))
        };
        let Some((fut, waker, aborted)) = taken else {
            return Begun::Gone;
        };
        // Until `end_poll` or `end_aborted`, a wake is this task's doing.
        mark::set_stepping(true);
        if aborted {
            return Begun::Aborted(fut);
        }

        self.clock.last_seen.set(now);
        self.findings.last_activity.set(now);
        self.findings.polls.set(self.findings.polls.get() + 1);
        self.trace
            .borrow_mut()
            .record(now, Some(id), EventKind::polled(options, chosen));

        // One wall-clock read per poll: the poll is timed from the previous read (the end
        // of the last poll or wait: the kit's own few steps between count too, which is
        // noise next to a slow-poll threshold).
        let wall_start = self.clock.wall_mark.get();
        let hook_start = self.shared.panics.hook_nanos.load(Acquire);
        self.shared.set_activity(id, wall_start);
        Begun::Poll(Polling {
            id,
            fut,
            waker,
            now,
            wall_start,
            hook_start,
        })
    }

    /// A task its handle aborted: drops its future instead of polling it. As under tokio,
    /// a panic while the future is dropped ends the task as panicked, its handle giving
    /// that panic (the test may take it); otherwise the task is cancelled.
    fn end_aborted(&self, id: TaskId, fut: BoxFuture) -> Polled {
        let control = self.control(id);
        match self.finish(id, fut, TaskState::Cancelled) {
            None => {
                if let Some(c) = control {
                    c.cancelled();
                }
            }
            Some(panicked) => {
                let (payload, record) = *panicked;
                self.set_state(id, TaskState::Panicked);
                self.record(Some(id), panics::ended_event(&payload));
                let (handled, message) = (record.handled.clone(), record.message.clone());
                self.findings.panics.borrow_mut().push(record);
                tell_panic(control, payload, handled, message);
            }
        }
        // Whatever its destructor took is nobody's poll.
        self.clock.mark_wall();
        mark::set_stepping(false);
        Polled::Ended
    }

    /// The poll itself, in whatever tokio context the caller gives it. `marked`: the poll
    /// gets a clock mark (see [`mark`]); not inside a wait, where the poll runs in tokio's
    /// scheduler, which defers the wake `tokio::time::advance` makes after moving the clock
    /// until after the poll, so nothing would end the mark when the clock moves.
    #[inline(always)]
    fn run_poll(&self, polling: &mut Polling, marked: bool) -> std::thread::Result<Poll<()>> {
        self.current.set(Some(polling.id));
        self.kit_yield.set(false);
        let outer = if marked {
            mark::begin_poll(polling.id)
        } else {
            mark::begin_unmarked_poll(polling.id)
        };
        let Polling { fut, waker, .. } = polling;
        let result = panics::polling_kit_task(|| {
            catch_unwind(AssertUnwindSafe(|| {
                fut.as_mut().poll(&mut Context::from_waker(waker))
            }))
        });
        mark::end_poll(outer);
        self.current.set(None);
        result
    }

    /// What the poll left: the task back in its slot, or finished (its future dropped, its
    /// handle told); the poll's wall time.
    #[inline(always)]
    fn end_poll(&self, polling: Polling, result: std::thread::Result<Poll<()>>) -> Polled {
        let (id, now, fut) = (polling.id, polling.now, polling.fut);
        // A paused clock reads `now` after a poll that did not move it (one read; a clock
        // that reads otherwise was moved by the poll, or runs: the full check tells which).
        let unmoved = self.deadline.frozen_at().is_none()
            && Instant::now().saturating_duration_since(self.start) == now;
        if !unmoved {
            self.check_paused(Some((id, now)));
        }

        let polled = match result {
            Ok(Poll::Pending) => {
                self.trace.borrow_mut().record(now, Some(id), EventKind::Pending);
                let mut still_queued = false;
                if let Some(TaskEntry {
                    slot: Some(slot),
                    stats,
                }) = self.tasks.borrow_mut().get_mut(id)
                {
                    still_queued = slot.waker.queued.load(Acquire);
                    stats.state = if still_queued {
                        TaskState::Ready
                    } else {
                        TaskState::Waiting
                    };
                    slot.fut = Some((fut, polling.waker));
                }
                if still_queued {
                    self.clock.sched_now.set(unmoved.then_some(now));
                    self.choosing.chooser.borrow_mut().yielded(id);
                    Polled::Yielded
                } else {
                    Polled::Waits
                }
            }
            // A poll that moved the clock (`tokio::time::advance`) yielded after moving it:
            // one that completes moved nothing.
            Ok(Poll::Ready(())) => {
                self.trace
                    .borrow_mut()
                    .record(now, Some(id), EventKind::Completed);
                self.finish_dropped(id, fut, TaskState::Completed);
                Polled::Ended
            }
            Err(payload) => {
                self.clock.sched_now.set(None);
                self.record(Some(id), panics::ended_event(&payload));
                let record = panics::take_last(Some(self.meta(id)), now, &payload);
                let handled = record.handled.clone();
                let message = record.message.clone();
                self.findings.panics.borrow_mut().push(record);
                let control = self.control(id);
                self.finish_dropped(id, fut, TaskState::Panicked);
                tell_panic(control, payload, handled, message);
                Polled::Ended
            }
        };
        // The poll's wall time includes dropping the future of a task that ended: a slow
        // destructor stalls the run as a slow poll does, and is the same task's doing.
        let wall_end = self.clock.mark_wall();
        // Less the panic hook's backtrace captures (`RUST_BACKTRACE`): the kit's time.
        let hook = self
            .shared
            .panics
            .hook_nanos
            .load(Acquire)
            .saturating_sub(polling.hook_start);
        let wall = Duration::from_nanos(wall_end.saturating_sub(polling.wall_start).saturating_sub(hook));
        self.shared.set_activity(ACTIVITY_IDLE, 0);
        mark::set_stepping(false);
        if wall >= self.config.slow_poll {
            self.findings.slow_polls.borrow_mut().push(SlowPoll {
                task: self.meta(id),
                wall,
                at: now,
            });
        }
        polled
    }

    /// A live task's join control (looked up only on the rare paths: panic, abort).
    fn control(&self, id: TaskId) -> Option<Arc<dyn JoinControl>> {
        match self.tasks.borrow().get(id) {
            Some(TaskEntry { slot: Some(slot), .. }) => Some(slot.control.clone()),
            _ => None,
        }
    }

    /// [`Executor::finish`] for a task that completed or panicked: a panic while its
    /// future is dropped is recorded as one more panic of the task.
    #[inline]
    fn finish_dropped(&self, id: TaskId, fut: BoxFuture, state: TaskState) {
        self.note_drop_panic(self.finish(id, fut, state));
    }

    /// Records a panic while a task's future was dropped, if there was one, and drops its
    /// payload.
    #[inline]
    fn note_drop_panic(&self, panicked: Option<DropPanic>) {
        #[cold]
        fn note(core: &Executor, (payload, record): (Payload, PanicRecord)) {
            core.findings.panics.borrow_mut().push(record);
            panics::drop_payload(payload);
        }
        if let Some(panicked) = panicked {
            note(self, *panicked);
        }
    }

    /// Removes a task and drops its future (catching a panic in its destructors, which
    /// it returns).
    fn finish(&self, id: TaskId, fut: BoxFuture, state: TaskState) -> Option<DropPanic> {
        // Dropped outside the borrow: the slot may hold the last reference to the task's
        // output, whose destructor is user code that may spawn.
        let slot = self.tasks.borrow_mut()[id].slot.take();
        // A finished task is never an option: later wakes of it are no-ops (it stays
        // "queued"), and one it took during its last poll, or one racing in from another
        // thread, is taken back or kept out (under the queue's lock).
        if let Some(s) = slot.as_ref().filter(|s| s.waker.queued.swap(true, AcqRel)) {
            let mut ready = lock(&self.shared.ready);
            s.waker.finished.store(true, Relaxed);
            if let Some(at) = ready.iter().position(|&queued| queued == id) {
                ready.remove(at);
            }
        }
        drop(slot);
        self.set_state(id, state);
        if state == TaskState::Cancelled {
            self.record(Some(id), EventKind::Cancelled);
        }
        self.drop_future(id, fut, state == TaskState::Cancelled)
    }

    /// Drops a task's future; a panic in its destructors comes back as its payload and
    /// its record (see [`Executor::drop_panicked`]).
    fn drop_future(&self, id: TaskId, fut: BoxFuture, aborted: bool) -> Option<DropPanic> {
        let prev = self.current.replace(Some(id));
        let outer = mark::begin_drop();
        let dropped = panics::polling_kit_task(|| catch_unwind(AssertUnwindSafe(move || drop(fut))));
        mark::end_poll(outer);
        self.current.set(prev);
        match dropped {
            Ok(()) => None,
            Err(payload) => Some(self.drop_panicked(id, payload, aborted)),
        }
    }

    /// The record of a panic while a task's future was dropped: its message says so (the
    /// future of a task `aborted`, or of one that ended or that the run's end dropped).
    #[cold]
    fn drop_panicked(&self, id: TaskId, payload: Payload, aborted: bool) -> DropPanic {
        let mut record = panics::take_last(Some(self.meta(id)), self.elapsed(), &payload);
        let why = if aborted {
            "while the aborted task was being dropped"
        } else {
            "while the task was being dropped"
        };
        record.message = format!("{} ({why})", record.message);
        Box::new((payload, record))
    }

    /// Whether tokio has tasks of its own (then a turn for its queue is an option).
    fn tokio_alive(&self) -> bool {
        let n = self.metrics.num_alive_tasks();
        if n > 0 {
            self.findings.saw_tokio_tasks.set(true);
            if n > self.findings.tokio_most.get() {
                self.findings.tokio_most.set(n);
            }
        }
        n > 0
    }

    /// Runs the loop until the body is done or an oracle stops it.
    pub(crate) fn run_loop(&self, rt: &tokio::runtime::Runtime, body_done: &dyn Fn() -> bool) -> Stop {
        let mut in_a_row = 0u32;
        loop {
            if let Some(stop) = self.stop_now(body_done) {
                return stop;
            }
            if !self.step(rt, &mut in_a_row, Self::sched_elapsed, &|| {
                self.stop_now(body_done).is_none()
            }) {
                if let Some(stop) = self.wait_and_decide(rt, body_done) {
                    return stop;
                }
            }
        }
    }

    /// One step of a loop that runs the run's work: polls the ready kit task the chooser
    /// picks (reading the virtual time with `now`), or gives tokio its turn; tokio gets
    /// one anyway (or, with no task of its own, its drivers do) after
    /// [`TOKIO_TURN_EVERY`] kit polls in a row, counted in `in_a_row`. False when no kit
    /// task is ready: the caller waits.
    ///
    /// A kit task picked here is polled in a [`Stretch`], which goes on polling the next
    /// ones picked while nothing needs tokio and `go_on` (the caller's check before each
    /// step) holds: then this one step stands for the steps of the whole stretch.
    #[inline]
    fn step(
        &self,
        rt: &tokio::runtime::Runtime,
        in_a_row: &mut u32,
        now: fn(&Self) -> Duration,
        go_on: &dyn Fn() -> bool,
    ) -> bool {
        let mut pick = self.pick();
        loop {
            return match pick {
                Some(Pick::Task(id, options, chosen)) => {
                    let mut stretch = Stretch {
                        core: self,
                        next: (id, options, chosen),
                        in_a_row: &mut *in_a_row,
                        now,
                        go_on,
                        then: Then { tokio_turn: false },
                        ended: None,
                    };
                    self.handle.block_on(&mut stretch);
                    let then = match stretch.ended {
                        None => stretch.then,
                        Some(Stretched::Picked(next)) => {
                            pick = next;
                            continue;
                        }
                        // A task that ended is finished here, outside the runtime, as
                        // before a stretch went on (its destructors are user code).
                        Some(Stretched::Aborted { id, before, fut }) => {
                            let polled = self.end_aborted(id, fut);
                            self.after_poll(id, before, polled, in_a_row)
                        }
                        Some(Stretched::Ended {
                            before,
                            polling,
                            result,
                        }) => {
                            let id = polling.id;
                            let polled = self.end_poll(polling, result);
                            self.after_poll(id, before, polled, in_a_row)
                        }
                    };
                    if then.tokio_turn {
                        if self.tokio_alive() {
                            self.tokio_turn(rt);
                        } else {
                            // The drivers alone (see `driver_turn`), kit tasks ready.
                            self.turn(rt, true);
                        }
                    }
                    true
                }
                Some(Pick::Tokio) => {
                    *in_a_row = 0;
                    self.tokio_turn(rt);
                    true
                }
                Some(Pick::Resume) => {
                    if self.config.io {
                        self.io_turn_after_yield(rt);
                    }
                    self.resume_yielders();
                    true
                }
                Some(Pick::TurnForBody(options, chosen)) => {
                    // tokio has no task to run: its drivers alone, which wake no kit task a
                    // run without the I/O driver would not (nothing is due: time stands).
                    self.driver_turn(rt);
                    pick = Some(Pick::Task(0, options, chosen));
                    continue;
                }
                None => {
                    *in_a_row = 0;
                    false
                }
            };
        }
    }

    /// After a kit poll of the main loop that began at `before`: a task that yielded waits
    /// for tokio's turn when tokio may have work, else behind the ready kit tasks (see
    /// `Choosing::yielders`); after [`TOKIO_TURN_EVERY`] polls in a row tokio gets a turn.
    /// Says whether that turn is due (a turn runs outside a [`Stretch`]).
    #[inline(always)]
    fn after_poll(&self, id: TaskId, before: Duration, polled: Polled, in_a_row: &mut u32) -> Then {
        let kit_yield = self.kit_yield.get();
        if id == 0 {
            self.choosing
                .body_kit_yield
                .set(kit_yield && polled == Polled::Yielded);
        }
        if polled == Polled::Yielded && !self.defer_if_tokio_owed(id, before) && !kit_yield {
            // It waits behind the ready tasks.
            self.hold(id, &self.choosing.yielders);
        }
        *in_a_row += 1;
        let tokio_turn = *in_a_row >= TOKIO_TURN_EVERY;
        if tokio_turn {
            *in_a_row = 0;
        }
        Then { tokio_turn }
    }

    /// Why the loop must stop before its next step, if it must.
    fn stop_now(&self, body_done: &dyn Fn() -> bool) -> Option<Stop> {
        if body_done() {
            return Some(Stop::BodyDone);
        }
        if self.shared.wall_expired.load(Relaxed) {
            return Some(Stop::WallTimeout { after_body: false });
        }
        if self.config.slow_poll_policy == Policy::Fail && !self.findings.slow_polls.borrow().is_empty() {
            return Some(Stop::SlowPoll);
        }
        if !self.findings.expectation_failures.borrow().is_empty() {
            return Some(Stop::Expectation);
        }
        None
    }

    /// Whether the one ready task may be polled inside the wait, where the main loop
    /// would poll it next with no choice to make: nothing stops the run, the virtual
    /// deadline has not passed, and neither tokio (a task of its own) nor a yielded kit
    /// task (held by [`Executor::inline_round_over`]) is an option too.
    fn may_poll_inline(&self, body_done: &dyn Fn() -> bool) -> bool {
        self.stop_now(body_done).is_none()
            && self.clock.last_seen.get() <= self.config.virtual_timeout
            && !self.tokio_alive()
            && self.choosing.yielders.borrow().is_empty()
    }

    /// Inside a wait: polls the lone ready task if it is the only option and may be
    /// polled there (`body_done` given: the main loop's wait, before the deadline
    /// sentinel `fired`, with nothing left to flush). After one such poll nothing more is
    /// polled until tokio has come round; what is ready by then is the main loop's.
    fn inline_pass(&self, body_done: Option<&dyn Fn() -> bool>, fired: bool) -> InlinePass {
        let shared = &*self.shared;
        loop {
            let inline = body_done.filter(|_| !self.waits.inline_unflushed.get() && !fired);
            let (ready, lone, first) = {
                let mut queue = lock(&shared.ready);
                let n = queue.len();
                let lone = if n == 1 && inline.is_some() {
                    queue.pop_front()
                } else {
                    None
                };
                // The body's place is spent once it leaves the queue.
                let first = lone.is_some() && shared.body_first.swap(false, Relaxed);
                (n, lone, first)
            };
            if ready == 0 {
                return InlinePass::Empty;
            }
            if let (Some(id), Some(done)) = (lone, inline) {
                let now = self.note_clock();
                if self.may_poll_inline(done) {
                    // The one option: what `pick` would take, with no choice to record.
                    if self.is_live(id) {
                        let waits = self.poll_task(id, 1, 0, now) == Polled::Waits;
                        if waits {
                            // Inside tokio's loop a yield is deferred, so a poll that moved
                            // the clock (`tokio::time::advance` yields after moving it) ends
                            // looking like a wait: read the clock again.
                            self.clock.sched_now.set(None);
                        }
                        // Any poll inside tokio's loop may have left a deferred wake, for its
                        // own waker or another (a child's, in a combinator): the wait lets
                        // tokio come round before it decides anything.
                        self.unflushed(true);
                        self.waits.inline_polled.set((waits && id != 0).then_some(id));
                        // tokio runs its tasks next, in this wait.
                        self.check_hook();
                        shared.set_activity(ACTIVITY_TOKIO, 0);
                        shared.intercept.store(self.wants_intercept(), Relaxed);
                        // The poll may have made work for tokio (a spawned task): a
                        // quiescence seen before it is no longer true.
                        shared.quiescent.store(false, Relaxed);
                        // Nothing more is polled here before tokio comes round, and the
                        // wait looks at the queue again before it returns Pending.
                        return InlinePass::Empty;
                    }
                    continue;
                }
                // The main loop decides: the task goes back first in the queue (with its
                // place, under the queue's lock).
                let mut queue = lock(&shared.ready);
                queue.push_front(id);
                shared.body_first.fetch_or(first, Relaxed);
            }
            return InlinePass::Decide;
        }
    }

    /// A task polled inside the wait may have left wakes with tokio (a `yield_now`, a spent
    /// budget), which tokio delivers on its loop's next round: until then (`on`) the wait
    /// decides nothing, and the wakes tokio delivers are that poll's doing (see
    /// [`mark::WakeFrom`]).
    fn unflushed(&self, on: bool) {
        self.waits.inline_unflushed.set(on);
        mark::set_stepping(on);
        if !on {
            self.waits.inline_polled.set(None);
        }
    }

    /// The wait is polled again: tokio's loop has come round since the last poll. After a
    /// task polled inside the wait, that round was a park (tokio had no deferred wake: its
    /// hook, [`on_park`], ended the step, so what its drivers woke is theirs) or a turn
    /// of the drivers that then delivered the deferred wakes (the step's). There a wake of
    /// the task polled is its `yield_now()`: when other tasks are ready it waits with the
    /// kit's yielded tasks (`Choosing::yielders`), as tokio runs that yield after the
    /// tasks the poll woke and after its `block_on` future, which it polls first at the
    /// top of the round.
    fn inline_round_over(&self) {
        let polled = self.waits.inline_polled.take();
        if let Some(id) = polled
            && mark::stepping()
            && lock(&self.shared.ready).len() > 1
        {
            self.hold(id, &self.choosing.yielders);
        }
        self.unflushed(false);
    }

    /// Reads the clock (unless it cannot have moved since it was last read); records in
    /// the trace that it moved since then.
    fn note_clock(&self) -> Duration {
        let now = self.sched_elapsed();
        let before = self.clock.last_seen.replace(now);
        if now != before && !self.deadline.probing() {
            self.trace
                .borrow_mut()
                .record(now, None, EventKind::clock_moved(before));
        }
        now
    }

    /// Lets tokio run its queue once (and turn its drivers) without waiting or moving time.
    fn tokio_turn(&self, rt: &tokio::runtime::Runtime) {
        self.record(None, EventKind::TokioTurn);
        self.turn(rt, true);
        self.choosing.tokio_turned.set(true);
    }

    /// One round of tokio's loop (its queue, then its drivers without moving time). With
    /// `kit_ready` (kit tasks may be ready: the body may wait in the queue), a body that
    /// waited through it in the ready queue goes first after it.
    fn turn(&self, rt: &tokio::runtime::Runtime, kit_ready: bool) {
        let body_waits = kit_ready && self.body_waits();
        self.shared.body_after_step.store(false, Relaxed);
        self.check_hook();
        self.shared.set_activity(ACTIVITY_TOKIO, 0);
        rt.block_on(TurnOnce(false));
        self.tokio_ran();
        if body_waits {
            self.body_to_front();
        }
        self.shared.set_activity(ACTIVITY_IDLE, 0);
    }

    /// Turns tokio's drivers once without moving time, when it has no task to run. Its
    /// timer driver learns there its next deadline: until then, every timer a kit task
    /// registers wakes the driver (with the I/O driver, a write to its eventfd). Nothing
    /// a kit task can see changes (no timer is due: the clock stands still), so this is
    /// not a choice and is not traced; real I/O events may be taken in a little earlier.
    /// No kit task is ready (the main loop's periodic turn, which may find some, calls
    /// [`Executor::turn`]).
    fn driver_turn(&self, rt: &tokio::runtime::Runtime) {
        self.turn(rt, false);
    }

    /// Tasks yielded with the I/O driver on and nothing deferred for tokio, and no other
    /// kit task is ready: under tokio yielded tasks run again only after the I/O driver has
    /// turned, so the driver turns now and they find the I/O events that came in
    /// meanwhile. The turn is not a choice, so a schedule means the same with the driver
    /// and without (an exploration's first runs). Out of line: explorations run without
    /// the driver.
    #[cold]
    #[inline(never)]
    fn io_turn_after_yield(&self, rt: &tokio::runtime::Runtime) {
        self.driver_turn(rt);
    }

    /// Nothing is ready: wait, then act on what the wait says.
    fn wait_and_decide(&self, rt: &tokio::runtime::Runtime, body_done: &dyn Fn() -> bool) -> Option<Stop> {
        let idle_since = self.clock.last_seen.get();
        let inline = (!self.choosing.watch_yields).then_some(body_done);
        match self.wait(rt, self.wants_intercept(), inline) {
            // Spinning: only a settling wait watches for it.
            WaitOutcome::Woken | WaitOutcome::Spinning => None,
            WaitOutcome::WallTimeout => Some(Stop::WallTimeout { after_body: false }),
            // The clock reached the deadline with nothing woken. The park hook looks for
            // outside work only once a coarse tick: before judging, look afresh, and let
            // a wake on its way arrive (the run then goes on from the deadline).
            WaitOutcome::Deadline if self.outside_grace(rt) == Grace::Woken => None,
            WaitOutcome::Deadline if self.config.io && self.io_grace(rt) => None,
            WaitOutcome::Deadline => self.probe(rt, idle_since),
            WaitOutcome::Quiescent => {
                if !self.settling.waiters.borrow().is_empty() {
                    self.settle();
                    return None;
                }
                if self.waits.outside_hold.replace(false) {
                    // Auto: the clock jumps once the grace is over with nothing woken.
                    if self.outside_grace(rt) == Grace::RanOut {
                        self.shared.jump_once.store(true, Relaxed);
                    }
                    return self.check_virtual_deadline();
                }
                match self.config.clock {
                    Clock::Manual => (self.cushion(rt, MANUAL_STALL_GRACE)
                        && self.outside_grace(rt) != Grace::Woken)
                        .then(|| Stop::Deadlock {
                            manual_stall: true,
                            outside: self.outside.pending(),
                        }),
                    Clock::AutoJump(threshold) => {
                        if self.cushion(rt, threshold) {
                            self.shared.jump_once.store(true, Relaxed);
                        }
                        None
                    }
                    // Quiescence is only intercepted in auto mode to settle.
                    Clock::Auto => None,
                }
            }
        }
        .or_else(|| self.check_virtual_deadline())
    }

    fn check_virtual_deadline(&self) -> Option<Stop> {
        let now = self.clock.last_seen.get();
        (now > self.config.virtual_timeout).then(|| Stop::VirtualTimeout {
            why: format!("the virtual clock is already at {}", crate::trace::Vt(now)),
        })
    }

    /// Whether the park hook should stop tokio from parking (and auto-advancing).
    fn wants_intercept(&self) -> bool {
        if !self.settling.waiters.borrow().is_empty() {
            return true;
        }
        !matches!(self.config.clock, Clock::Auto) && self.settling.advancing.get() == 0
    }

    /// Wakes everything waiting for the runtime to settle at the current instant.
    fn settle(&self) {
        self.settling.generation.set(self.settling.generation.get() + 1);
        self.record(None, EventKind::Settled);
        // Woken as by a task's poll: the body goes after the other waiters (a kit point,
        // not tokio's), so `advance` or `run_until_idle` in the body returns once what the
        // same settling released has run.
        mark::set_stepping(true);
        for w in self.settling.waiters.take() {
            w.wake();
        }
        mark::set_stepping(false);
    }

    /// While outside work is pending (see [`Outside`]), waits for it with time standing
    /// still, up to [`OUTSIDE_GRACE`] of wall time.
    fn outside_grace(&self, rt: &tokio::runtime::Runtime) -> Grace {
        self.hold_still(rt, OUTSIDE_GRACE, || self.outside.pending().any())
    }

    /// Waits with time standing still, up to `grace` of wall time, looking after steps that
    /// grow from 0.1 ms to 5 ms, while `worth_it` (asked before each look) holds.
    fn hold_still(
        &self,
        rt: &tokio::runtime::Runtime,
        grace: Duration,
        worth_it: impl Fn() -> bool,
    ) -> Grace {
        let until = std::time::Instant::now() + grace;
        let mut step = Duration::from_micros(100);
        loop {
            if !worth_it() {
                return Grace::NothingOutside;
            }
            if std::time::Instant::now() >= until {
                return Grace::RanOut;
            }
            std::thread::sleep(step);
            step = (step * 2).min(Duration::from_millis(5));
            // The sentinel may have fired already (a grace at the deadline): that is
            // nothing new.
            if !matches!(
                self.wait(rt, true, None),
                WaitOutcome::Quiescent | WaitOutcome::Deadline
            ) {
                return Grace::Woken;
            }
        }
    }

    /// The clock reached the deadline with every task waiting, and the run has an I/O
    /// driver: an event from outside that the kit cannot see (a reply from a thread of
    /// another name, a signal) may be a moment away, where tokio, with no timer of the
    /// test's, would block on I/O. Turns the I/O driver before each look, for up to
    /// [`IO_GRACE`] of wall time; true when a kit task woke (the run goes on from the
    /// deadline).
    #[cold]
    fn io_grace(&self, rt: &tokio::runtime::Runtime) -> bool {
        let turn = || {
            self.driver_turn(rt);
            true
        };
        self.hold_still(rt, IO_GRACE, turn) == Grace::Woken
    }

    /// tokio is about to park and may jump the clock (auto mode, not intercepting):
    /// whether the park hook must hold the clock still for outside work instead.
    fn holds_for_outside(&self) -> bool {
        let shared = &*self.shared;
        matches!(self.config.clock, Clock::Auto)
            && shared.waiting.load(SeqCst)
            && !shared.intercept.load(Relaxed)
            && self.settling.advancing.get() == 0
            && !self.deadline.probing()
            && !shared.jump_once.swap(false, Relaxed)
            && self.outside.pending_at_park().any()
    }

    /// Waits up to `cushion` of wall time for an outside event while time stands still.
    /// Returns true when nothing at all happened (still quiescent).
    fn cushion(&self, rt: &tokio::runtime::Runtime, cushion: Duration) -> bool {
        let until = std::time::Instant::now() + cushion;
        loop {
            if std::time::Instant::now() >= until {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1).min(cushion));
            match self.wait(rt, true, None) {
                WaitOutcome::Quiescent => continue,
                _ => return false,
            }
        }
    }

    /// Waits inside `block_on` until a kit task is woken, or tokio goes quiescent (when
    /// `intercept`), or the virtual deadline sentinel fires.
    ///
    /// With `inline` (the main loop's `body_done`), a lone ready task that the main loop
    /// would poll next with no choice to make is polled right here, without leaving
    /// `block_on`: waiting, waking and polling one task then cost what they cost under
    /// tokio alone. The wait returns to the main loop as soon as there is a choice.
    fn wait(
        &self,
        rt: &tokio::runtime::Runtime,
        intercept: bool,
        inline: Option<&dyn Fn() -> bool>,
    ) -> WaitOutcome {
        self.check_hook();
        // Out of its cell while the wait runs user code (inline polls), put back after.
        let mut sentinel = self.deadline.take(self.start, self.config.virtual_timeout);
        self.shared.quiescent.store(false, Relaxed);
        self.shared.intercept.store(intercept, Relaxed);
        self.shared.set_activity(ACTIVITY_TOKIO, 0);
        self.unflushed(false);
        // tokio gives `block_on`'s future a fresh cooperative budget at each poll, and the
        // wait polls at most one task inline per poll of its own: that task gets a whole
        // budget, as one polled by the main loop does (see `Stretch`).
        let spin = if self.waits.watch_spin.get() && self.tokio_alive() {
            self.look_for_spin();
            Spin::Watching
        } else {
            Spin::Off
        };
        let idle = Idle {
            core: self,
            sentinel: sentinel.as_mut(),
            inline,
            registered: None,
            spin,
        };
        let outcome = rt.block_on(idle);
        if spin != Spin::Off {
            self.shared.spin_look_at.store(0, SeqCst);
            self.shared.spin_looked.store(false, SeqCst);
        }
        self.unflushed(false);
        self.tokio_ran();
        self.choosing.tokio_turned.set(false);
        self.shared.set_activity(ACTIVITY_IDLE, 0);
        self.shared.waiting.store(false, Relaxed);
        self.shared.intercept.store(false, Relaxed);
        self.deadline.put_back(sentinel);
        // A jump to the deadline sentinel, or the probe's steps past it, are the kit's own
        // bookkeeping: the probe records what it concludes instead.
        if matches!(outcome, WaitOutcome::Deadline) {
            self.clock.last_seen.set(self.elapsed());
        } else {
            self.note_clock();
        }
        outcome
    }

    /// The virtual deadline passed with nothing woken: tell a deadlock (no timer pending
    /// at all) from a timeout (timers pending beyond the deadline) by letting the clock
    /// run on toward a far probe, one stop at a time. Without a virtual limit, a timer
    /// found on the way is no timeout: the run goes on (`None`).
    fn probe(&self, rt: &tokio::runtime::Runtime, idle_since: Duration) -> Option<Stop> {
        // A task polled inline in the last wait ran after `idle_since` was read.
        let idle_since = idle_since.max(self.findings.last_activity.get());
        let wait = || {
            self.shared.jump_once.store(true, Relaxed);
            self.wait(rt, true, None)
        };
        match self
            .deadline
            .probe(self.config.virtual_timeout, idle_since, wait, || self.elapsed())
        {
            Probed::Deadlock => {
                // Other threads read the instant it was found at, as the run thread does.
                self.link.freeze(idle_since);
                Some(Stop::Deadlock {
                    manual_stall: false,
                    outside: self.outside.pending(),
                })
            }
            Probed::WallTimeout => Some(Stop::WallTimeout { after_body: false }),
            Probed::Timeout { why } => {
                self.record(None, EventKind::clock_moved(idle_since));
                self.clock.last_seen.set(self.elapsed());
                (!self.deadline.unlimited()).then_some(Stop::VirtualTimeout { why })
            }
        }
    }

    /// After the body returned: runs whatever can still run at this instant (kit tasks and
    /// tokio's), without moving time, so the leak oracle sees only tasks that truly wait.
    /// tokio gets its turns as in the main loop (at least every [`TOKIO_TURN_EVERY`] kit
    /// polls). There is no limit on kit polls: work that needs many to finish at this
    /// instant finishes; kit tasks that never all wait (a livelock) run until the
    /// wall-clock watchdog fires, and the run ends as a wall-clock timeout that says so.
    ///
    /// tokio's tasks alone are bounded: while no kit task is ready, tokio runs inside the
    /// wait, which sees nothing of its loop until tokio would park or wakes a kit task. A
    /// task of tokio's that never waits (`loop { yield_now().await }`) would keep it there
    /// until the wall limit, so the wait asks the watchdog to look after [`SPIN_LOOK`];
    /// if tokio has not parked by then, the wait counts [`SETTLE_SPIN_TURNS`] rounds of
    /// tokio's loop (work that ends within them ends), lets tokio park if it now can, and
    /// at a second look it stops settling (`Findings::tokio_spun`): tokio's live tasks
    /// are then leaks that were still running.
    pub(crate) fn settle_at_end(&self, rt: &tokio::runtime::Runtime) -> Settled {
        // Every task has finished, kit's and tokio's: nothing is left that could run.
        if !self.tasks.borrow().any_live() && !self.tokio_alive() {
            return Settled::Idle;
        }
        let mut in_a_row = 0u32;
        // tokio's live tasks when the I/O driver last turned here, with no kit poll since,
        // and how many turns in a row found that many.
        let mut io_turned: Option<(usize, u32)> = None;
        loop {
            if self.shared.wall_expired.load(Relaxed) {
                return Settled::WallTimeout;
            }
            if self.step(rt, &mut in_a_row, Self::elapsed, &|| {
                !self.shared.wall_expired.load(Relaxed)
            }) {
                io_turned = None;
            } else {
                self.waits.watch_spin.set(true);
                let outcome = self.wait(rt, true, None);
                self.waits.watch_spin.set(false);
                match outcome {
                    WaitOutcome::Woken => {}
                    WaitOutcome::WallTimeout => return Settled::WallTimeout,
                    // The wait held tokio back from parking, and tokio's park is where it
                    // reads I/O events: a socket closed by the body (a reader that can
                    // finish now) would go unseen and its task look leaked. Turn the I/O
                    // driver and go round again, as long as turns change the number of tokio's
                    // live tasks, and [`SETTLE_IO_TURNS`] more (a task may end and start
                    // another through I/O, leaving the number as it was).
                    WaitOutcome::Quiescent if self.config.io && self.tokio_alive() => {
                        let alive = self.metrics.num_alive_tasks();
                        let same = match io_turned {
                            Some((n, k)) if n == alive => k + 1,
                            _ => 0,
                        };
                        if same > SETTLE_IO_TURNS {
                            return Settled::Idle;
                        }
                        io_turned = Some((alive, same));
                        self.driver_turn(rt);
                    }
                    WaitOutcome::Quiescent | WaitOutcome::Deadline => return Settled::Idle,
                    WaitOutcome::Spinning => {
                        self.findings.tokio_spun.set(true);
                        return Settled::Idle;
                    }
                }
            }
        }
    }

    /// Asks the watchdog to look at the settling wait [`SPIN_LOOK`] from now.
    fn look_for_spin(&self) {
        self.shared.spin_looked.store(false, SeqCst);
        let at = wall::precise()
            .saturating_add(crate::util::nanos(SPIN_LOOK))
            .max(1);
        self.shared.spin_look_at.store(at, SeqCst);
    }

    /// Registers a waiter woken when the runtime is next quiescent; returns the generation
    /// to compare with [`Executor::settled_since`].
    pub(crate) fn request_settle(&self, waker: &Waker) -> u64 {
        self.settling.waiters.borrow_mut().push(waker.clone());
        // Asked from a tokio task while the executor waits inside `block_on`: the wait
        // began without interception, so turn it on now, or tokio would jump the clock.
        if self.shared.waiting.load(SeqCst) {
            self.shared.intercept.store(true, SeqCst);
        }
        self.settling.generation.get()
    }

    pub(crate) fn settled_since(&self, generation: u64) -> bool {
        self.settling.generation.get() > generation
    }

    pub(crate) fn advancing_started(&self) {
        self.settling.advancing.set(self.settling.advancing.get() + 1);
        self.refresh_intercept();
    }

    pub(crate) fn advancing_ended(&self) {
        self.settling
            .advancing
            .set(self.settling.advancing.get().saturating_sub(1));
        self.refresh_intercept();
    }

    /// From a tokio task while the executor waits inside `block_on`: the wait chose
    /// whether tokio may jump the clock when it began, and must follow the change.
    fn refresh_intercept(&self) {
        if self.shared.waiting.load(SeqCst) {
            self.shared.intercept.store(self.wants_intercept(), SeqCst);
        }
    }

    /// A task's description.
    pub(crate) fn meta(&self, id: TaskId) -> TaskMeta {
        lock(&self.shared.metas)[id].clone()
    }

    /// Tasks that are still alive (not finished), in id order.
    pub(crate) fn alive(&self) -> Vec<TaskInfo> {
        let metas = lock(&self.shared.metas);
        self.tasks
            .borrow()
            .iter()
            .zip(metas.iter())
            .filter(|(e, _)| e.slot.is_some())
            .map(|(e, m)| TaskInfo {
                meta: m.clone(),
                state: e.stats.state,
                polls: e.stats.polls,
                last_poll: e.stats.last_poll,
            })
            .collect()
    }

    /// Drops every remaining task (cancelling it), newest first.
    ///
    /// Dropping a task's future runs its `Drop` impls, which may spawn tasks: those are
    /// cancelled too, round after round, until none is left. A `Drop` that spawns on every
    /// drop never ends: after [`TEARDOWN_ROUNDS`] rounds the tasks still there are
    /// forgotten (not dropped) and the run fails with an expectation saying so.
    pub(crate) fn cancel_all(&self) {
        let mut done = 0;
        for round in 0.. {
            let end = self.tasks.borrow().len();
            if done == end {
                break;
            }
            let last_round = round == TEARDOWN_ROUNDS;
            // Newest first, as the tasks of the first round were started.
            for id in (done..end).rev() {
                let taken = self.tasks.borrow_mut().get_mut(id).and_then(|e| e.slot.take());
                if let Some(mut slot) = taken {
                    self.set_state(id, TaskState::Cancelled);
                    self.record(Some(id), EventKind::Cancelled);
                    if let Some((fut, _)) = slot.fut.take() {
                        if last_round {
                            std::mem::forget(fut);
                        } else {
                            self.note_drop_panic(self.drop_future(id, fut, false));
                        }
                    }
                    slot.control.cancelled();
                }
            }
            if last_round {
                let meta = self.meta(end - 1);
                self.findings.expectation_failures.borrow_mut().push(format!(
                    "teardown: dropping the run's tasks at its end spawned new tasks for {TEARDOWN_ROUNDS} \
                     rounds (the last one: task {} spawned at {}); a Drop impl that calls async_testkit::spawn \
                     on every drop never ends, so the tasks of the last round were not dropped: spawn from Drop \
                     only what ends, or stop such tasks before the test returns",
                    meta.label(),
                    meta.site
                ));
                break;
            }
            done = end;
        }
        self.deadline.disarm();
    }
}

/// A panic while a task's future was dropped: its payload and its record (boxed: the
/// common path, no panic, returns a null pointer).
type DropPanic = Box<(Payload, PanicRecord)>;

/// Tells a task's handle that it panicked; with no handle to tell, drops the payload (as
/// tokio drops one nobody takes).
fn tell_panic(
    control: Option<Arc<dyn JoinControl>>,
    payload: Payload,
    handled: Arc<AtomicBool>,
    message: String,
) {
    match control {
        Some(c) => c.panicked(payload, handled, message),
        None => panics::drop_payload(payload),
    }
}

/// How many rounds of tasks spawned while the run's tasks are dropped at its end the
/// teardown drops (each round's drops may spawn the next).
pub(crate) const TEARDOWN_ROUNDS: usize = 64;

/// Waits until a kit task is ready, tokio goes quiescent (when intercepting), the
/// deadline sentinel fires, or the watchdog says the wall deadline passed.
struct Idle<'a> {
    core: &'a Executor,
    sentinel: Pin<&'a mut Sleep>,
    /// The main loop's `body_done` when a lone ready task may be polled here.
    inline: Option<&'a dyn Fn() -> bool>,
    /// The waker last handed to [`Shared`] for wakes from outside.
    registered: Option<Waker>,
    /// Where a settling wait is in watching tokio for a spin.
    spin: Spin,
}

/// A settling wait's watch on tokio's loop (see [`Executor::settle_at_end`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spin {
    /// Not a settling wait, or tokio had no task when it began.
    Off,
    /// Waiting for the watchdog's first look: tokio parking first ends the wait.
    Watching,
    /// tokio had not parked at the first look: the wait wakes itself at each poll, so it
    /// is polled once a round of tokio's loop, and counts the rounds.
    Counting(u32),
    /// The rounds are counted: tokio may park again (ending the wait); the watchdog's
    /// second look ends it `Spinning`.
    Confirming,
}

impl Future for Idle<'_> {
    type Output = WaitOutcome;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitOutcome> {
        let core = self.core;
        let shared = &*core.shared;
        core.tokio_ran();
        // tokio's loop goes from one poll of this future to the next only through a turn of
        // its drivers, which delivers the wakes it deferred: what a task polled here left
        // has been delivered.
        core.inline_round_over();
        // To know whether (and how many) tasks tokio schedules itself the run had: the
        // slow-poll oracle's note, and an exploration's note that it did not order them.
        core.tokio_alive();
        // tokio's block_on waker is one for the whole wait; `will_wake` would not see it
        // (its clones may carry another copy of the vtable), the data pointer does.
        if self
            .registered
            .as_ref()
            .is_none_or(|w| w.data() != cx.waker().data())
        {
            let waker = cx.waker().clone();
            *lock(&shared.idle_waker) = Some(waker.clone());
            self.registered = Some(waker);
        }
        // While this poll runs it sees every push itself: wakers need not wake tokio (each
        // such wake would cost a round of tokio's loop).
        shared.waiting.store(false, Relaxed);
        let fired = core.deadline.fired(self.sentinel.as_mut(), cx);
        loop {
            if let Some(outcome) = self.as_mut().step(cx, fired) {
                return outcome;
            }
            // About to return Pending: from here on a wake must reach tokio. The store
            // pairs with the waker's load (push, then check `waiting`): SeqCst so that one
            // of the two sides sees the other.
            shared.waiting.store(true, SeqCst);
            if lock(&shared.ready).is_empty()
                && !shared.wall_expired.load(SeqCst)
                && !(self.spin != Spin::Off && shared.spin_looked.load(SeqCst))
            {
                if let Spin::Counting(_) = self.spin {
                    cx.waker().wake_by_ref();
                }
                // tokio delivers any wake it holds on its way round, and a delivered wake
                // polls the wait again. If the wait held back a decision for that round (a
                // task polled here may have left a wake), the wake it was polled for (the
                // deadline, quiescence) is spent: it looks again after the round.
                if core.waits.inline_unflushed.get() && (fired || shared.quiescent.load(Relaxed)) {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
            shared.waiting.store(false, Relaxed);
        }
    }
}

impl Idle<'_> {
    /// One pass: polls a lone ready task inline, or decides the wait's outcome. `None`
    /// means wait on (when nothing became ready meanwhile).
    fn step(mut self: Pin<&mut Self>, cx: &mut Context<'_>, fired: bool) -> Option<Poll<WaitOutcome>> {
        let core = self.core;
        let shared = &*core.shared;
        if let InlinePass::Decide = core.inline_pass(self.inline, fired) {
            return Some(self.leave(cx));
        }
        // Nothing is ready. A poll inside the wait (here, or after a park) may have ended
        // the run (the body finished, an expectation broke): then leave, once tokio has
        // delivered any wake it holds.
        if self.inline.is_some_and(|done| core.stop_now(done).is_some()) {
            return Some(self.leave(cx));
        }
        if core.waits.inline_unflushed.get() {
            return None;
        }
        if shared.wall_expired.load(SeqCst) {
            return Some(Poll::Ready(WaitOutcome::WallTimeout));
        }
        if shared.quiescent.load(Relaxed) && shared.quiescent.swap(false, Relaxed) {
            return Some(Poll::Ready(WaitOutcome::Quiescent));
        }
        if fired {
            return Some(Poll::Ready(WaitOutcome::Deadline));
        }
        self.watch_spin()
    }

    /// A settling wait's watch on tokio's loop (see [`Spin`]), one step a poll that
    /// nothing else ended.
    fn watch_spin(mut self: Pin<&mut Self>) -> Option<Poll<WaitOutcome>> {
        let shared = &*self.core.shared;
        match self.spin {
            Spin::Off => {}
            Spin::Watching => {
                if shared.spin_looked.swap(false, SeqCst) {
                    self.spin = Spin::Counting(0);
                }
            }
            Spin::Counting(n) if n + 1 < SETTLE_SPIN_TURNS => self.spin = Spin::Counting(n + 1),
            Spin::Counting(_) => {
                self.spin = Spin::Confirming;
                self.core.look_for_spin();
            }
            Spin::Confirming => {
                if shared.spin_looked.swap(false, SeqCst) {
                    return Some(Poll::Ready(WaitOutcome::Spinning));
                }
            }
        }
        None
    }

    /// Returns to the main loop as woken, after one more round of tokio's loop when a
    /// task polled here may have left a wake with tokio (the round delivers it and does
    /// not move the clock: a woken `block_on` future stops tokio from parking).
    fn leave(&mut self, cx: &mut Context<'_>) -> Poll<WaitOutcome> {
        if self.core.waits.inline_unflushed.replace(false) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(WaitOutcome::Woken)
    }
}

/// Reads tokio's clock twice: the reading if they agree (the clock is paused), `None` if
/// it runs (`tokio::time::resume`; tokio has no public "is paused").
fn paused_now() -> Option<Instant> {
    let at = Instant::now();
    (at == Instant::now()).then_some(at)
}

/// Returns Pending once (waking itself), then Ready: one pass of tokio's loop.
struct TurnOnce(bool);

/// A kit poll under way (see [`Executor::begin_poll`]).
struct Polling {
    id: TaskId,
    fut: BoxFuture,
    waker: Waker,
    /// The virtual time the poll began at.
    now: Duration,
    /// The wall reading the poll is timed from.
    wall_start: u64,
    /// The panic hook's time spent before the poll (not counted in the poll's).
    hook_start: u64,
}

/// What [`Executor::begin_poll`] found.
enum Begun {
    /// The task has finished (its slot or future is gone).
    Gone,
    /// Its handle aborted it: its future is to be dropped, not polled.
    Aborted(BoxFuture),
    Poll(Polling),
}

/// The turns due after a kit poll of the main loop (see [`Executor::after_poll`]).
#[derive(Clone, Copy)]
struct Then {
    /// [`TOKIO_TURN_EVERY`] polls in a row: tokio's turn (or its drivers').
    tokio_turn: bool,
}

/// Kit polls of the main loop in a row, inside one `Handle::block_on` (entered once for
/// them all): each poll of this future polls one task and, when the main loop would poll
/// another next (picked here, so every choice is made in the same order), wakes itself
/// and returns `Pending`. tokio's `block_on` polls its future again at once, each time
/// with a fresh cooperative budget: every kit poll has a whole budget, as one polled by
/// tokio does, and runs inside the runtime (tokio refuses blocking calls there). A
/// `yield_now()` wakes its task at once, as there is no scheduler here to defer it: the
/// executor orders it afterwards (see `Choosing::yielders`).
///
/// The stretch ends (`Ready`) where the main loop must act outside the runtime: a turn
/// of tokio's (a runtime cannot be entered twice), a task that ended (its destructors
/// run outside, as before a stretch went on), a pick that is not a kit task, or the
/// caller's check before a step failing.
struct Stretch<'a> {
    core: &'a Executor,
    /// The task to poll next, with the number of options and the index chosen.
    next: (TaskId, usize, usize),
    in_a_row: &'a mut u32,
    now: fn(&Executor) -> Duration,
    go_on: &'a dyn Fn() -> bool,
    /// The turns due after the last poll, when it left its task alive.
    then: Then,
    /// How the stretch ended otherwise.
    ended: Option<Stretched>,
}

/// How a [`Stretch`] ended, when not with its last poll leaving its task alive.
enum Stretched {
    /// The step after its last poll picked this, which is not a kit task to poll here.
    Picked(Option<Pick>),
    /// The task picked was aborted: its future is to be dropped.
    Aborted {
        id: TaskId,
        before: Duration,
        fut: BoxFuture,
    },
    /// Its last poll ended the task (completed or panicked).
    Ended {
        before: Duration,
        polling: Polling,
        result: std::thread::Result<Poll<()>>,
    },
}

impl Future for Stretch<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let core = self.core;
        let (id, options, chosen) = self.next;
        let before = (self.now)(core);
        let polled = match core.begin_poll(id, options, chosen, before) {
            Begun::Gone => Polled::Ended,
            Begun::Aborted(fut) => {
                self.ended = Some(Stretched::Aborted { id, before, fut });
                return Poll::Ready(());
            }
            Begun::Poll(mut polling) => {
                let result = core.run_poll(&mut polling, true);
                if !matches!(result, Ok(Poll::Pending)) {
                    self.ended = Some(Stretched::Ended {
                        before,
                        polling,
                        result,
                    });
                    return Poll::Ready(());
                }
                core.end_poll(polling, result)
            }
        };
        self.then = core.after_poll(id, before, polled, self.in_a_row);
        if self.then.tokio_turn || !(self.go_on)() {
            return Poll::Ready(());
        }
        match core.pick() {
            Some(Pick::Task(id, options, chosen)) => {
                self.next = (id, options, chosen);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            other => {
                self.ended = Some(Stretched::Picked(other));
                Poll::Ready(())
            }
        }
    }
}

impl Future for TurnOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Executor>>> = const { RefCell::new(None) };
}

/// Installs `core` as this thread's current run until the guard drops.
pub(crate) struct CurrentGuard(());

impl CurrentGuard {
    pub(crate) fn set(core: Rc<Executor>) -> Self {
        mark::set_run(core.run_id);
        CURRENT.with(|c| *c.borrow_mut() = Some(core));
        CurrentGuard(())
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
        mark::set_run(0);
    }
}

/// Whether this thread is running an async-testkit run now (cheaper than [`try_current`]).
pub(crate) fn in_run() -> bool {
    CURRENT.try_with(|c| c.borrow().is_some()).unwrap_or(false)
}

/// The current run, if this thread is inside one.
pub(crate) fn try_current() -> Option<Rc<Executor>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// tokio's `on_thread_park` hook, on the thread that drives the runtime: tells the run
/// on this thread, if any (a runtime outlives its runs in an exploration).
pub(crate) fn on_park() {
    let _ = CURRENT.try_with(|c| {
        let Some(core) = &*c.borrow() else {
            return;
        };
        let shared = &*core.shared;
        // tokio parks only with no deferred wake to deliver: after a task polled inside the
        // wait, what wakes from here on (a timer as the clock jumps, I/O) is not its step.
        mark::set_stepping(false);
        // Outside work may still wake a task: hold the clock still (the wait ends
        // quiescent and the executor waits out a grace) instead of letting tokio jump.
        if core.holds_for_outside() {
            core.waits.outside_hold.set(true);
            shared.quiescent.store(true, Relaxed);
            shared.wake_waiter();
            return;
        }
        shared.on_park();
    });
}

/// The current run, or a panic naming `what` and telling how to fix it.
#[track_caller]
pub(crate) fn current(what: &str) -> Rc<Executor> {
    match try_current() {
        Some(core) => core,
        None => panic!(
            "{what} was called outside an async-testkit run.\n\
             It needs the kit's runtime: call it from inside an #[async_testkit::test] function, \
             or from a future passed to async_testkit::run / Builder::run.{}",
            if what.starts_with("async_testkit::time::") {
                // The executor is the run thread's: blocking closures and other threads
                // read the clock through the run's link.
                " To read the virtual clock from another thread of the run (a spawn_blocking \
                 closure, a thread the test started), use async_testkit::time::try_elapsed()."
            } else {
                ""
            }
        ),
    }
}

/// The current run, checked to be the one (`run_id`) a future was created in: `what`
/// names the future in the panic otherwise (`"time::advance()"`, `"within() created at
/// src/lib.rs:3:9"`).
#[track_caller]
pub(crate) fn same_run(run_id: u64, what: &dyn std::fmt::Display) -> Rc<Executor> {
    match try_current() {
        Some(core) if core.run_id == run_id => core,
        _ => panic!(
            "{what} was awaited outside the async-testkit run that created it; await it inside the same test"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Builder, FailureKind};

    #[test]
    fn an_end_check_that_fails_fails_the_run_as_an_expectation() {
        let f = Builder::new()
            .try_run(|| async {
                super::current("test")
                    .at_end(Box::new(|| Err("mock `fetch` expected 2 calls, got 1".into())));
            })
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Expectation);
        assert_eq!(f.headline(), "mock `fetch` expected 2 calls, got 1");
    }

    #[test]
    fn end_checks_that_pass_leave_the_run_green() {
        Builder::new().run(|| async {
            super::current("test").at_end(Box::new(|| Ok(())));
        });
    }

    #[test]
    fn a_reported_failure_stops_the_run_at_the_next_step() {
        let f = Builder::new()
            .try_run(|| async {
                super::current("test").fail("script: unexpected write b\"x\"".into());
                tokio::time::sleep(Duration::from_secs(5)).await;
                unreachable!("the run stops before the body resumes");
            })
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Expectation);
        assert!(f.to_string().contains("unexpected write"), "{f}");
    }

    #[test]
    fn a_failure_reported_in_a_poll_stops_the_run_before_the_next_ready_task() {
        let second_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ran = second_ran.clone();
        let f = Builder::new()
            .try_run(move || {
                let ran = ran.clone();
                async move {
                    let first = crate::spawn(async {
                        super::current("test").fail("mock `send` got an unexpected call".into());
                        std::future::pending::<()>().await;
                    });
                    let second = crate::spawn(async move {
                        ran.store(true, std::sync::atomic::Ordering::SeqCst);
                    });
                    // Both are ready now, and polled by the main loop one after the other.
                    let _ = (first.await, second.await);
                }
            })
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Expectation);
        assert_eq!(f.headline(), "mock `send` got an unexpected call");
        assert!(!second_ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn the_run_generator_follows_the_seed() {
        let draw = |seed| {
            Builder::new().seed(seed).run(|| async {
                (0..8)
                    .map(|_| super::current("t").choose_level(16))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
