//! The settings of one run, fixed when it starts, and their defaults.

use std::time::Duration;

pub use super::clock::Clock;

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

/// Defaults for every run.
pub(crate) const DEFAULT_WALL_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_VIRTUAL_TIMEOUT: Duration = Duration::from_secs(3600);
pub(crate) const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(100);

/// The most scheduling choices a run records (12 bytes each). The chooser still makes
/// every choice; past this many, the run counts them without recording them, so a run
/// that livelocks until its wall-clock limit (millions of choices) does not grow without
/// bound. The schedule of such a run (its report, its replay token, minimisation) is its
/// first choices only: a replay makes those, then runs FIFO, as it does after any
/// schedule's last choice, and the failure report says so.
pub(crate) const MAX_RECORDED_CHOICES: usize = 100_000;
