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

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

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
///
/// Like tokio's `block_on`, it takes a future that borrows from the caller: the run ends,
/// and the future is dropped, before `run` returns or unwinds. Tasks the future spawns
/// still need `'static` (they may outlive the body; the leak oracle reports those that
/// do), and so does the value it returns.
///
/// ```
/// let names = vec!["ada".to_string(), "grace".to_string()];
/// let total = async_testkit::run(async {
///     async_testkit::yield_point().await;
///     names.iter().map(String::len).sum::<usize>()
/// });
/// assert_eq!((total, names.len()), (8, 2));
/// ```
///
/// A task spawned by the body cannot borrow (it may outlive the body); move owned data
/// into it instead:
///
/// ```compile_fail
/// let name = String::from("ada");
/// async_testkit::run(async {
///     async_testkit::spawn(async { name.len() }).await.unwrap();
/// });
/// ```
#[track_caller]
pub fn run<'a, Fut>(fut: Fut) -> Fut::Output
where
    Fut: Future + 'a,
    Fut::Output: 'static,
{
    let dropped = Rc::new(Cell::new(false));
    let body: Pin<Box<dyn Future<Output = Fut::Output> + 'a>> = Box::pin(DropFlag {
        fut: Box::pin(fut),
        dropped: dropped.clone(),
    });
    // SAFETY: only the lifetime changes (same layout). The future is polled and dropped on
    // this thread, by the run below, which owns it until it drops it: the run cancels
    // every task it has left (task 0, the body, in the first round of `cancel_all`, never
    // forgotten) before `run_at` returns or unwinds, and the closure that holds the future
    // before the run starts is dropped with `run_at`'s frame. `Scope` checks this on the
    // way out, returning or unwinding, and aborts the process if the future is still
    // alive, so that no borrow `'a` is used after it ends.
    let body: Pin<Box<dyn Future<Output = Fut::Output>>> = unsafe {
        std::mem::transmute::<
            Pin<Box<dyn Future<Output = Fut::Output> + 'a>>,
            Pin<Box<dyn Future<Output = Fut::Output> + 'static>>,
        >(body)
    };
    let scope = Scope(dropped);
    let cell = Cell::new(Some(body));
    let value = Builder::new().run_at(
        move || {
            cell.take().expect(
                "async_testkit::run runs its future once; use Builder::run with a closure to run several times",
            )
        },
        Location::caller(),
    );
    drop(scope);
    value
}

/// A future that says when it is dropped.
struct DropFlag<F> {
    fut: Pin<Box<F>>,
    dropped: Rc<Cell<bool>>,
}

impl<F: Future> Future for DropFlag<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.fut.as_mut().poll(cx)
    }
}

impl<F> Drop for DropFlag<F> {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

/// Checks, as `run` returns or unwinds, that its future was dropped.
struct Scope(Rc<Cell<bool>>);

impl Drop for Scope {
    fn drop(&mut self) {
        if !self.0.get() {
            eprintln!(
                "async-testkit: internal error: the future given to async_testkit::run outlived the run; \
                 aborting, as it may borrow from the caller. Please report this with the test."
            );
            std::process::abort();
        }
    }
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
