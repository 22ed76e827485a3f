//! A test's life above its runs: the [`Builder`] and its settings (`builder.rs`), the environment
//! variables that override them (`env.rs`), the exploration loop that runs a body under
//! many schedules (`explore.rs`), minimisation of a failing schedule (`minimise.rs`)
//! and the assembly of the failure report from its runs (`failure.rs`).
//!
//! Data flows down only: the runner tells `runtime` what to run (a config, a seed and a
//! schedule plan) and reads back the run's report or failure; `runtime` never names
//! the runner.

pub(crate) mod builder;
pub(crate) mod env;
mod explore;
mod failure;
mod minimise;

use std::future::Future;
use std::panic::Location;

pub use self::builder::Builder;
pub(crate) use self::builder::isolated;
use crate::runtime::executor;
use crate::runtime::{Failure, Report};

impl Builder {
    /// Runs the body (once, or once per explored schedule) and returns its value; on any
    /// failure it panics with the full report, as a failing test should.
    ///
    /// ```
    /// let v = async_testkit::Builder::new().run(|| async { 1 + 1 });
    /// assert_eq!(v, 2);
    /// ```
    ///
    /// The value is not a verdict: the builder cannot tell an `Err` from any other value,
    /// and an exploration returns the last schedule's value only, so a body that returns
    /// `Err` on some other schedule passes. Fail inside the body instead (`.expect(..)` or
    /// `.unwrap()` on the `Result`, or `assert!`), which fails that schedule and is
    /// minimised and reported, or use `#[async_testkit::test]`, which does this for a test
    /// returning `Result` (kind [`FailureKind::ReturnedErr`](crate::FailureKind::ReturnedErr)):
    ///
    /// ```
    /// use async_testkit::{Builder, FailureKind};
    ///
    /// async fn connect() -> Result<(), String> {
    ///     Err("refused".to_string())
    /// }
    ///
    /// let f = Builder::new()
    ///     .explore(10)
    ///     .try_run(|| async { connect().await.expect("connect") })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), FailureKind::Panic);
    /// assert!(f.headline().ends_with("connect: \"refused\""));
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

    /// Like [`Builder::run`], but returns the failure instead of panicking. As with `run`,
    /// the body's value is not judged: an exploration's report holds the last schedule's.
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
        explore::drive(&self, &body, site)
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
/// Only a failure fails a schedule, not the value: a body returning `Result` should
/// unwrap it inside (see [`Builder::run`]).
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
