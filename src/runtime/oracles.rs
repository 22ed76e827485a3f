//! The oracles: from what a run saw when it stopped, which one failed the test (if any),
//! with its headline, and what the others only warn about. `report.rs` renders the
//! [`Verdict`]; nothing here formats more than one line.
//!
//! Precedence, first match wins: a panic nobody took; an `Err` the test body returned
//! (`#[async_testkit::test]` on a test returning `Result`); a broken expectation; why the
//! loop stopped (deadlock or manual stall, virtual timeout, wall-clock timeout, a slow
//! poll under [`Policy::Fail`]); and, for a body that returned, leaked tasks then slow
//! polls under [`Policy::Fail`]; last, a panic of the run's teardown (once it stopped:
//! a task's `Drop`, a blocking closure whose runtime was shut down), which otherwise is
//! listed as "also". Leaks and slow polls under [`Policy::Warn`] are warnings.
//!
//! What the oracles see: a leak is a kit task (not `spawn_background`), a task started
//! with `tokio::spawn` or a `spawn_blocking` closure still alive once the run settled at
//! the body's final instant. Slow polls are the polls the executor makes (the body and
//! `async_testkit::spawn`ed tasks): tokio polls its own tasks inside its turn, and only
//! its `tokio_unstable` hooks could time them one by one, so they are not timed, and the
//! report says so when the run had some.

use std::fmt;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use super::config::Policy;
use super::executor::{Executor, OUTSIDE_GRACE, Stop};
use super::outside::Pending;
use super::panics::{HOOK_REPLACED, PanicRecord};
use super::tasks::TaskInfo;
use crate::trace::Vt;

/// Which oracle failed the test.
///
/// ```
/// use async_testkit::{Builder, FailureKind};
/// let f = Builder::new().try_run(|| async { panic!("boom") }).unwrap_err();
/// assert_eq!(f.kind(), FailureKind::Panic);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// A panic ended a task (the body, a kit task, a `tokio::spawn`ed task, a
    /// `spawn_local` task or a blocking closure) and the test did not take it with
    /// `JoinError::into_panic` (kit tasks only). A panic the task's own code catches
    /// (`catch_unwind`) is not a failure. A payload re-raised with
    /// `std::panic::resume_unwind` in a tokio task or a blocking closure is not seen (that
    /// call runs no panic hook); in a kit task it is, without a place.
    ///
    /// ```
    /// use async_testkit::{Builder, FailureKind};
    /// // Caught by the task itself: the test passes.
    /// Builder::new().run(|| async {
    ///     let ok = tokio::spawn(async { std::panic::catch_unwind(|| panic!("handled")).is_err() });
    ///     assert!(ok.await.unwrap());
    /// });
    /// // Ending a spawn_local task: the test fails.
    /// let f = Builder::new()
    ///     .try_run(|| async {
    ///         let local = tokio::task::LocalSet::new();
    ///         let r = local.run_until(async { tokio::task::spawn_local(async { panic!("lost") }).await }).await;
    ///         assert!(r.is_err());
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), FailureKind::Panic);
    /// assert!(f.headline().starts_with("a task started with tokio::task::spawn_local panicked at "), "{f}");
    /// ```
    Panic,
    /// Tasks (kit tasks, tasks started with `tokio::spawn`) were still alive, or
    /// `spawn_blocking` closures still running, when the body returned and the run had
    /// settled at that instant. A closure counts as running when tokio's blocking pool
    /// still has a thread for it once the pool has had up to 250 ms of real time to finish
    /// (tokio wakes an awaited closure's `JoinHandle` before its thread is done with it).
    ///
    /// ```
    /// use async_testkit::{Builder, FailureKind};
    /// let f = Builder::new()
    ///     .try_run(|| async {
    ///         // Not awaited: the closure outlives the test, and so would its panic.
    ///         drop(tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_secs(1))));
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), FailureKind::Leak);
    /// assert_eq!(f.headline(), "leak: 1 spawn_blocking closure was still running when the test body returned");
    /// ```
    Leak,
    /// Every task waited, no timer was pending (or, with a manual clock, nothing advanced
    /// it), and the body had not finished.
    Deadlock,
    /// The run was still going at its virtual-time limit.
    VirtualTimeout,
    /// The run was still going at its wall-clock limit: before the body returned, or
    /// after, when the tasks left at its final instant never all waited (a livelock).
    WallTimeout,
    /// A poll of the body or of a task started with `async_testkit::spawn` took longer
    /// than the slow-poll threshold, with the policy set to fail. Tasks started with
    /// `tokio::spawn` are not timed: tokio polls them inside its own turn.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::{Builder, FailureKind, Policy};
    /// let slow = Builder::new()
    ///     .slow_poll(Duration::from_millis(20))
    ///     .slow_poll_policy(Policy::Fail);
    /// let f = slow
    ///     .clone()
    ///     .try_run(|| async { std::thread::sleep(Duration::from_millis(40)) })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), FailureKind::SlowPoll);
    /// // The same poll in a tokio task is not timed; the report says so.
    /// let r = slow
    ///     .try_run(|| async {
    ///         tokio::spawn(async { std::thread::sleep(Duration::from_millis(40)) }).await.unwrap()
    ///     })
    ///     .unwrap();
    /// assert!(r.warnings()[0].contains("tasks started with tokio::spawn are not timed"));
    /// ```
    SlowPoll,
    /// A kit component's expectation was broken: an `AsyncMock` called too few or too
    /// many times, a scripted stream or I/O not followed, or the paused clock the kit
    /// runs on set running by `tokio::time::resume()`.
    Expectation,
    /// The test body returned `Err`: a test of `#[async_testkit::test]` that returns
    /// `Result<(), E>` fails on an `Err` from any schedule, as on a panic (found,
    /// minimised and reported with its replay line). The headline is
    /// `the test body returned Err(<the error's Debug>)`.
    ///
    /// Only the attribute turns an `Err` into a failure: [`Builder::run`](crate::Builder::run)
    /// and [`Builder::try_run`](crate::Builder::try_run) cannot tell a failure from a value,
    /// and hand back the (last) run's value, `Err` or not.
    ///
    /// ```
    /// assert_eq!(async_testkit::FailureKind::ReturnedErr.name(), "returned error");
    /// ```
    ReturnedErr,
}

impl FailureKind {
    /// A short lowercase name: `panic`, `leak`, `deadlock`, `virtual timeout`,
    /// `wall-clock timeout`, `slow poll`, `expectation`, `returned error`.
    ///
    /// ```
    /// assert_eq!(async_testkit::FailureKind::Deadlock.name(), "deadlock");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Panic => "panic",
            FailureKind::Leak => "leak",
            FailureKind::Deadlock => "deadlock",
            FailureKind::VirtualTimeout => "virtual timeout",
            FailureKind::WallTimeout => "wall-clock timeout",
            FailureKind::SlowPoll => "slow poll",
            FailureKind::Expectation => "expectation",
            FailureKind::ReturnedErr => "returned error",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the oracles concluded about one run.
pub(crate) struct Verdict {
    /// The oracle that failed the test and the report's headline; `None`: it passed.
    pub(crate) failure: Option<(FailureKind, String)>,
    /// Panics nobody took (`JoinError::into_panic`) until the run stopped, kit tasks'
    /// first, in order.
    pub(crate) panics: Vec<PanicRecord>,
    /// Panics nobody took in the run's teardown (tasks cancelled, the runtime shut
    /// down): the headline only when nothing else failed.
    pub(crate) late: Vec<PanicRecord>,
    /// The `Err` the test body returned, told apart from the panics: its message is the
    /// headline, its location the test.
    pub(crate) returned_err: Option<PanicRecord>,
    /// Broken expectations, in the order they were reported.
    pub(crate) expectations: Vec<String>,
    /// Leaked kit tasks, as `#3 "name" (spawned at file:line:col)` (only when the body
    /// returned).
    pub(crate) leaked: Vec<String>,
    /// What the oracles set to [`Policy::Warn`] found.
    pub(crate) warnings: Vec<String>,
}

impl Verdict {
    /// The process's panic hook was replaced during the run (and the kit's put back),
    /// as its closing check found once the verdict was in: the first warning.
    pub(crate) fn hook_replaced(&mut self) {
        self.warnings.insert(0, HOOK_REPLACED.to_string());
    }
}

/// Everything known when the run stopped, before teardown.
pub(crate) struct Snapshot {
    pub(crate) stop: Stop,
    pub(crate) alive: Vec<TaskInfo>,
    pub(crate) tokio_alive: usize,
    /// `spawn_blocking` closures still running (the blocking pool's threads alive).
    pub(crate) blocking_alive: usize,
    pub(crate) elapsed: Duration,
    /// The run had tasks started with `tokio::spawn` (whose polls are not timed).
    pub(crate) saw_tokio_tasks: bool,
    /// The most tasks of tokio's own alive at once (0: none seen).
    pub(crate) tokio_most: usize,
    /// How many panics the executor (kit tasks) and the hook (tokio's tasks, blocking
    /// closures) had recorded when the run stopped: later ones happened in its teardown.
    pub(crate) panics_before: (usize, usize),
}

pub(crate) fn snapshot(core: &Executor, stop: Stop, tokio_alive: usize, blocking_alive: usize) -> Snapshot {
    Snapshot {
        panics_before: (core.findings.panics.borrow().len(), core.shared.panics.recorded()),
        stop,
        alive: core.alive(),
        tokio_alive,
        blocking_alive,
        elapsed: core.elapsed(),
        saw_tokio_tasks: core.findings.saw_tokio_tasks.get() || tokio_alive > 0,
        tokio_most: core.findings.tokio_most.get().max(tokio_alive),
    }
}

/// What the slow-poll oracle adds when the run had tasks it does not time.
const TOKIO_NOT_TIMED: &str = "tasks started with tokio::spawn are not timed";

/// `n thing(s) was/were`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing} was")
    } else {
        format!("{n} {thing}s were")
    }
}

pub(crate) fn describe_panic(p: &PanicRecord) -> String {
    let who = match (&p.task, &p.thread) {
        (Some(meta), _) if meta.id == 0 => "the test body".to_string(),
        (Some(meta), _) => format!("task {}", meta.label()),
        (None, Some(thread)) => format!("a spawn_blocking closure (thread '{thread}')"),
        (None, None) if p.local => "a task started with tokio::task::spawn_local".to_string(),
        (None, None) => "a task started with tokio::spawn".to_string(),
    };
    let at = p
        .location
        .as_deref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    format!("{who} panicked{at}: {}{}", p.message, hint(&p.message))
}

/// What to do about a panic the kit itself causes a test to meet.
fn hint(message: &str) -> &'static str {
    if message == "time is already frozen" {
        " (the kit's clock is always paused, as with #[tokio::test(start_paused = true)]: remove the call to \
         tokio::time::pause())"
    } else {
        ""
    }
}

/// The headline of a deadlock. The kit sees every poll of its own tasks, so without
/// tokio tasks it knows when anything last ran; tokio polls its own tasks inside its
/// turns, unseen, so with some alive the headline says what it does not know.
fn deadlock_headline(snap: &Snapshot, core: &Executor) -> String {
    let last = Vt(core.findings.last_activity.get());
    match snap.tokio_alive {
        0 => {
            format!("deadlock: every task is waiting and no timer is pending (nothing has run since {last})")
        }
        n => format!(
            "deadlock: every task is waiting and no timer is pending (the kit's own tasks last ran at {last}; \
             {n} task{} started with tokio::spawn {} waiting too, and the kit does not see when {} last ran)",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" },
            if n == 1 { "it" } else { "they" },
        ),
    }
}

fn leak_label(info: &TaskInfo) -> String {
    format!("{} (spawned at {})", info.meta.label(), info.meta.site)
}

/// Judges a run that has ended: `foreign` are the panics the executor did not catch
/// itself (tokio's tasks, blocking closures), collected once the runtime is shut down.
pub(crate) fn judge(snap: &Snapshot, core: &Executor, foreign: Vec<PanicRecord>) -> Verdict {
    let config = &core.config;
    // The panics of the run, then those of its teardown (the kit's tasks cancelled, the
    // runtime shut down): a panic there follows from the stop (a blocking closure whose
    // runtime went away), so it never takes the headline from why the run stopped.
    let (kit_before, foreign_before) = snap.panics_before;
    let mut kit: Vec<PanicRecord> = core.findings.panics.take();
    let mut foreign = foreign;
    let kit_late = kit.split_off(kit_before.min(kit.len()));
    let foreign_late = foreign.split_off(foreign_before.min(foreign.len()));
    let unhandled = |v: Vec<PanicRecord>| v.into_iter().filter(|p| !p.handled.load(SeqCst));
    let mut panics: Vec<PanicRecord> = unhandled(kit).chain(unhandled(foreign)).collect();
    let late: Vec<PanicRecord> = unhandled(kit_late).chain(unhandled(foreign_late)).collect();
    let returned_err = panics
        .iter()
        .position(|p| p.returned_err)
        .map(|at| panics.remove(at));

    let body_done = matches!(snap.stop, Stop::BodyDone);
    let leaked: Vec<&TaskInfo> = if body_done {
        snap.alive.iter().filter(|i| !i.meta.background).collect()
    } else {
        Vec::new()
    };
    let leak_lines: Vec<String> = leaked.iter().map(|i| leak_label(i)).collect();
    let tokio_leak = body_done && snap.tokio_alive > 0;
    let blocking_leak = body_done && snap.blocking_alive > 0;
    let any_leak = !leaked.is_empty() || tokio_leak || blocking_leak;
    let untimed = if snap.saw_tokio_tasks {
        format!(" ({TOKIO_NOT_TIMED})")
    } else {
        String::new()
    };
    let slow: Vec<String> = core
        .findings
        .slow_polls
        .borrow()
        .iter()
        .map(|s| {
            format!(
                "slow poll: task {} (spawned at {}) took {:?} of wall time in one poll at {} (threshold {:?}); \
                 a blocking call in async code stalls every other task{untimed}",
                s.task.label(),
                s.task.site,
                s.wall,
                Vt(s.at),
                config.slow_poll
            )
        })
        .collect();

    let leak_headline = || {
        let mut parts = Vec::new();
        if !leaked.is_empty() {
            parts.push(format!(
                "{} still alive when the test body returned: {}",
                count(leaked.len(), "task"),
                leak_lines.join(", ")
            ));
        }
        if tokio_leak {
            let n = snap.tokio_alive;
            // Settling stopped with them running: no wait will ever end them.
            let spun = match (core.findings.tokio_spun.get(), n) {
                (false, _) => "",
                (true, 1) => ", and still running (it never waited) when the kit stopped settling",
                (true, _) => ", and still running (they never all waited) when the kit stopped settling",
            };
            parts.push(format!(
                "{n} task{} started with tokio::spawn {} still alive when the test body returned{spun}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" },
            ));
        }
        if blocking_leak {
            parts.push(format!(
                "{} still running when the test body returned",
                count(snap.blocking_alive, "spawn_blocking closure")
            ));
        }
        parts.join("; ")
    };

    let expectations = core.findings.expectation_failures.borrow().clone();
    let mut failure: Option<(FailureKind, String)> = if let Some(first) = panics.first() {
        Some((FailureKind::Panic, describe_panic(first)))
    } else if let Some(err) = &returned_err {
        Some((FailureKind::ReturnedErr, err.message.clone()))
    } else if let Some(first) = expectations.first() {
        Some((FailureKind::Expectation, first.clone()))
    } else {
        match &snap.stop {
            Stop::Deadlock {
                manual_stall: false,
                outside,
            } => Some((
                FailureKind::Deadlock,
                format!("{}{}", deadlock_headline(snap, core), outside_note(outside)),
            )),
            Stop::Deadlock {
                manual_stall: true,
                outside,
            } => Some((
                FailureKind::Deadlock,
                format!(
                    "stalled: every task is waiting and the clock is manual, so nothing can move time (at {}); \
                     call async_testkit::time::advance from the test, or use clock = \"auto\"{}",
                    Vt(core.findings.last_activity.get()),
                    outside_note(outside)
                ),
            )),
            Stop::VirtualTimeout { why } => Some((
                FailureKind::VirtualTimeout,
                format!(
                    "virtual timeout: the test did not finish within its virtual time limit of {}: {why}; \
                     raise the limit with #[async_testkit::test(virtual_timeout = \"..\")] if the test really \
                     waits that long",
                    Vt(config.virtual_timeout)
                ),
            )),
            Stop::WallTimeout { after_body: false } => Some((
                FailureKind::WallTimeout,
                format!(
                    "wall-clock timeout: the test ran longer than its limit of {:?} of real time (virtual time {})",
                    config.wall_timeout,
                    Vt(snap.elapsed)
                ),
            )),
            Stop::WallTimeout { after_body: true } => Some((
                FailureKind::WallTimeout,
                format!(
                    "wall-clock timeout: the test body returned at {}, but tasks kept running at that instant \
                     without ever waiting until the limit of {:?} of real time (a livelock: tasks that yield or \
                     wake each other forever)",
                    Vt(snap.elapsed),
                    config.wall_timeout
                ),
            )),
            Stop::SlowPoll => Some((FailureKind::SlowPoll, slow.first().cloned().unwrap_or_default())),
            Stop::Expectation => None,
            Stop::BodyDone => {
                if config.leaks == Policy::Fail && any_leak {
                    Some((FailureKind::Leak, format!("leak: {}", leak_headline())))
                } else if config.slow_poll_policy == Policy::Fail && !slow.is_empty() {
                    Some((FailureKind::SlowPoll, slow[0].clone()))
                } else {
                    None
                }
            }
        }
    };
    if failure.is_none() {
        failure = late.first().map(|p| (FailureKind::Panic, describe_panic(p)));
    }

    let mut warnings = Vec::new();
    if config.leaks == Policy::Warn && any_leak {
        warnings.push(format!("leak: {}", leak_headline()));
    }
    if config.slow_poll_policy == Policy::Warn {
        warnings.extend(slow.iter().cloned());
    }
    // Asked to fail on slow polls, the test must hear of the polls nobody timed.
    if config.slow_poll_policy == Policy::Fail && snap.saw_tokio_tasks {
        warnings.push(format!(
            "slow poll: {TOKIO_NOT_TIMED} (this run had some): start them with async_testkit::spawn for the \
             slow-poll oracle to see their polls"
        ));
    }

    Verdict {
        failure,
        panics,
        late,
        returned_err,
        expectations,
        leaked: leak_lines,
        warnings,
    }
}

/// What a deadlock's headline adds when work outside the runtime was still pending: the
/// wake the run waited for may have been on its way, later than the kit waited.
fn outside_note(outside: &Pending) -> String {
    if !outside.any() {
        return String::new();
    }
    format!(
        "; {} still running after {} of real time: if a task waits for it, it did not wake one in that \
         time; let it answer sooner, or use clock = \"autojump(5s)\" to wait longer before the clock moves",
        outside.describe(),
        crate::trace::span(OUTSIDE_GRACE)
    )
}
