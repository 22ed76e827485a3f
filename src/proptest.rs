//! proptest integration (feature `proptest`): interleavings as test inputs.
//!
//! [`schedule()`] is a proptest strategy for [`Schedule`]s, and [`run_with`] runs a body
//! under one. Used together inside `proptest!`, a failing case shrinks its ordinary inputs
//! and its interleaving at once: proptest shortens the choice list and lowers each
//! choice toward 0, which is FIFO, so the shrunk schedule has the fewest preemptions
//! proptest could find.
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use async_testkit::proptest::{run_with, schedule};
//! use proptest::prelude::*;
//!
//! /// `workers` tasks each add one to a shared counter, with a yield between read and write.
//! async fn count(workers: usize) -> usize {
//!     let counter = Rc::new(RefCell::new(0));
//!     let tasks: Vec<_> = (0..workers)
//!         .map(|_| {
//!             let c = counter.clone();
//!             async_testkit::spawn(async move {
//!                 let v = *c.borrow();
//!                 async_testkit::yield_point().await;
//!                 *c.borrow_mut() = v + 1;
//!             })
//!         })
//!         .collect();
//!     for t in tasks {
//!         t.await.unwrap();
//!     }
//!     let n = *counter.borrow();
//!     n
//! }
//!
//! use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
//! let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
//! let mut runner = TestRunner::new_with_rng(Config::default(), rng);
//! let result = runner.run(&(1usize..5, schedule()), |(workers, s)| {
//!     let counted = run_with(&s, move || count(workers));
//!     prop_assert_eq!(counted, workers);
//!     Ok(())
//! });
//! // The race is found, and shrunk: a case with two or more workers that loses a count.
//! let Err(TestError::Fail(_, (workers, s))) = result else { panic!("not found") };
//! assert!(workers >= 2);
//! assert_ne!(run_with(&s, move || count(workers)), workers);
//! ```
//!
//! A fuzzer drives schedules the same way, through [`Schedule::from_bytes`].

use std::future::Future;

use proptest::strategy::Strategy;

use crate::{Builder, Schedule};

/// The most choices a generated schedule makes before FIFO takes over.
const MAX_CHOICES: usize = 64;

/// A proptest strategy for schedules: up to 64 choices, each in `0..8` (read modulo the
/// options at each step), shrinking toward FIFO.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let tree = async_testkit::proptest::schedule().new_tree(&mut runner).unwrap();
/// assert!(tree.current().choices().len() <= 64);
/// ```
pub fn schedule() -> impl Strategy<Value = Schedule> {
    proptest::collection::vec(0u32..8, 0..=MAX_CHOICES).prop_map(Schedule::from_choices)
}

/// Runs `body` once under `schedule` (like [`Builder::replay`]) and returns its value;
/// on any failure it panics with the full report, which proptest counts as a failing case.
/// One run, so a `Result` the body returns comes back to the caller whole: check it there
/// (`prop_assert!(r.is_ok(), ..)`, or `?` after mapping the error to a `TestCaseError`).
///
/// ```
/// use async_testkit::{Schedule, proptest::run_with};
/// let v = run_with(&Schedule::from_choices(vec![0, 1]), || async { 5 });
/// assert_eq!(v, 5);
/// ```
#[track_caller]
pub fn run_with<F, Fut>(schedule: &Schedule, body: F) -> Fut::Output
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    Builder::new().replay(schedule.clone()).run(body)
}
