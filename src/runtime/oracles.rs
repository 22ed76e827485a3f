//! The oracles: from what a run saw when it stopped, which one failed the test (if any),
//! with its headline, and what the others only warn about. `report.rs` renders the
//! [`Verdict`]; nothing here formats more than one line.
//!
//! Precedence, first match wins: a panic nobody took; an `Err` the test body returned
//! (`#[async_testkit::test]` on a test returning `Result`); a broken expectation; why the
//! loop stopped (deadlock or manual stall, virtual timeout, wall-clock timeout, a slow
//! poll under [`Policy::Fail`]); and, for a body that returned, leaked tasks then slow
//! polls under [`Policy::Fail`]. Leaks and slow polls under [`Policy::Warn`] are warnings.

use std::fmt;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use super::config::Policy;
use super::executor::{Executor, Stop};
use super::panics::PanicRecord;
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
    /// A task panicked (the body, a kit task, a `tokio::spawn`ed task or a blocking
    /// closure) and the test did not take the panic with `JoinError::into_panic`.
    Panic,
    /// Tasks were still alive when the body returned.
    Leak,
    /// Every task waited, no timer was pending (or, with a manual clock, nothing advanced
    /// it), and the body had not finished.
    Deadlock,
    /// The run was still going at its virtual-time limit.
    VirtualTimeout,
    /// The run was still going at its wall-clock limit.
    WallTimeout,
    /// A poll took longer than the slow-poll threshold, with the policy set to fail.
    SlowPoll,
    /// A kit component's expectation was broken: an `AsyncMock` called too few or too
    /// many times, a scripted stream or I/O not followed.
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
    /// Panics nobody took (`JoinError::into_panic`), kit tasks' first, in order.
    pub(crate) panics: Vec<PanicRecord>,
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

/// Everything known when the run stopped, before teardown.
pub(crate) struct Snapshot {
    pub(crate) stop: Stop,
    pub(crate) alive: Vec<TaskInfo>,
    pub(crate) tokio_alive: usize,
    pub(crate) elapsed: Duration,
}

pub(crate) fn snapshot(core: &Executor, stop: Stop, tokio_alive: usize) -> Snapshot {
    Snapshot {
        stop,
        alive: core.alive(),
        tokio_alive,
        elapsed: core.elapsed(),
    }
}

pub(crate) fn describe_panic(p: &PanicRecord) -> String {
    let who = match (&p.task, &p.thread) {
        (Some(meta), _) if meta.id == 0 => "the test body".to_string(),
        (Some(meta), _) => format!("task {}", meta.label()),
        (None, Some(thread)) => format!("a spawn_blocking closure (thread '{thread}')"),
        (None, None) => "a task started with tokio::spawn".to_string(),
    };
    let at = p
        .location
        .as_deref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    format!("{who} panicked{at}: {}", p.message)
}

fn leak_label(info: &TaskInfo) -> String {
    format!("{} (spawned at {})", info.meta.label(), info.meta.site)
}

/// Judges a run that has ended: `foreign` are the panics the executor did not catch
/// itself (tokio's tasks, blocking closures), collected once the runtime is shut down.
pub(crate) fn judge(snap: &Snapshot, core: &Executor, foreign: Vec<PanicRecord>) -> Verdict {
    let config = &core.config;
    let mut panics: Vec<PanicRecord> = core.findings.panics.take();
    panics.extend(foreign);
    panics.retain(|p| !p.handled.load(SeqCst));
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
    let slow: Vec<String> = core
        .findings
        .slow_polls
        .borrow()
        .iter()
        .map(|s| {
            format!(
                "slow poll: task {} (spawned at {}) took {:?} of wall time in one poll at {} (threshold {:?}); \
                 a blocking call in async code stalls every other task",
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
                "{} task{} still alive when the test body returned: {}",
                leaked.len(),
                if leaked.len() == 1 { " was" } else { "s were" },
                leak_lines.join(", ")
            ));
        }
        if tokio_leak {
            parts.push(format!(
                "{} task{} started with tokio::spawn {} still alive when the test body returned",
                snap.tokio_alive,
                if snap.tokio_alive == 1 { "" } else { "s" },
                if snap.tokio_alive == 1 { "was" } else { "were" },
            ));
        }
        parts.join("; ")
    };

    let expectations = core.findings.expectation_failures.borrow().clone();
    let failure: Option<(FailureKind, String)> = if let Some(first) = panics.first() {
        Some((FailureKind::Panic, describe_panic(first)))
    } else if let Some(err) = &returned_err {
        Some((FailureKind::ReturnedErr, err.message.clone()))
    } else if let Some(first) = expectations.first() {
        Some((FailureKind::Expectation, first.clone()))
    } else {
        match &snap.stop {
            Stop::Deadlock { manual_stall: false } => Some((
                FailureKind::Deadlock,
                format!(
                    "deadlock: every task is waiting and no timer is pending (nothing has run since {})",
                    Vt(core.findings.last_activity.get())
                ),
            )),
            Stop::Deadlock { manual_stall: true } => Some((
                FailureKind::Deadlock,
                format!(
                    "stalled: every task is waiting and the clock is manual, so nothing can move time (at {}); \
                     call async_testkit::time::advance from the test, or use clock = \"auto\"",
                    Vt(core.findings.last_activity.get())
                ),
            )),
            Stop::VirtualTimeout { why } => Some((
                FailureKind::VirtualTimeout,
                format!(
                    "virtual timeout: the test did not finish within its virtual time limit of {}: {why}",
                    Vt(config.virtual_timeout)
                ),
            )),
            Stop::WallTimeout => Some((
                FailureKind::WallTimeout,
                format!(
                    "wall-clock timeout: the test ran longer than its limit of {:?} of real time (virtual time {})",
                    config.wall_timeout,
                    Vt(snap.elapsed)
                ),
            )),
            Stop::SlowPoll => Some((FailureKind::SlowPoll, slow.first().cloned().unwrap_or_default())),
            Stop::Expectation => None,
            Stop::BodyDone => {
                if config.leaks == Policy::Fail && (!leaked.is_empty() || tokio_leak) {
                    Some((FailureKind::Leak, format!("leak: {}", leak_headline())))
                } else if config.slow_poll_policy == Policy::Fail && !slow.is_empty() {
                    Some((FailureKind::SlowPoll, slow[0].clone()))
                } else {
                    None
                }
            }
        }
    };

    let mut warnings = Vec::new();
    if config.leaks == Policy::Warn && (!leaked.is_empty() || tokio_leak) {
        warnings.push(format!("leak: {}", leak_headline()));
    }
    if config.slow_poll_policy == Policy::Warn {
        warnings.extend(slow.iter().cloned());
    }

    Verdict {
        failure,
        panics,
        returned_err,
        expectations,
        leaked: leak_lines,
        warnings,
    }
}
