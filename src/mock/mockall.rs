//! Futures for [mockall](https://docs.rs/mockall) expectations of trait methods that
//! return futures: [`delayed`], [`pending`] and [`gated`].
//!
//! mockall mocks a method declared `fn get(&self) -> impl Future<Output = T>` (or
//! returning a boxed future) with an expectation whose `returning` closure must give
//! back a `Pin<Box<dyn Future<Output = T> ..>>`. These helpers build such futures, on the
//! run's virtual time: a value after a delay, a future that never completes, or a value
//! held at a [`Gate`] until the test releases it.
//!
//! **No mockall dependency.** The helpers return plain boxed futures and use nothing
//! from mockall, so the kit does not depend on it: they work with the mockall your crate
//! uses (0.13 to 0.15 are tested to fit), and add no second copy of it to your tree. The
//! crate feature `mockall` is kept so that manifests naming it still build; it enables
//! nothing (the helpers are always there).
//!
//! **Why not `async fn`?** For a trait method written `async fn get(&self) -> T`,
//! mockall's generated method is itself an `async fn` whose body calls your `returning`
//! closure and returns the `T` it gives back. The closure is a plain function: it cannot
//! await, so the mocked call is ready the first time it is polled, and there is no place
//! to put a delay, a hang or a gate. Declare such methods with
//! `fn get(&self) -> impl Future<Output = T> + Send` (callers do not change: they still
//! write `.get().await`, and implementations may still use `async` blocks), or use
//! [`AsyncMock`](super::AsyncMock) through `#[async_testkit::mock]`, which supports
//! `async fn` directly.
//!
//! ```
//! use std::future::Future;
//! use std::time::Duration;
//! use async_testkit::mock::mockall::delayed;
//!
//! #[mockall::automock]
//! trait Quotes {
//!     fn price(&self, item: u32) -> impl Future<Output = u32> + Send;
//! }
//!
//! async_testkit::run(async {
//!     let mut quotes = MockQuotes::new();
//!     quotes.expect_price().returning(|item| delayed(Duration::from_secs(2), item * 10));
//!     assert_eq!(quotes.price(3).await, 30);
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(2));
//! });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::gate::Gate;

/// The boxed future the helpers return: what mockall expects from a `returning` closure
/// of a method returning `impl Future<Output = T> + Send` (it also coerces to the
/// non-`Send` form).
///
/// ```
/// use std::{future::Future, pin::Pin, time::Duration};
/// let not_send: Pin<Box<dyn Future<Output = u8>>> =
///     async_testkit::mock::mockall::delayed(Duration::from_secs(1), 1);
/// # drop(not_send);
/// ```
pub type MockFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A future that waits `delay` of (virtual) time, then yields `value`.
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     let v = async_testkit::mock::mockall::delayed(Duration::from_millis(300), 'x').await;
///     assert_eq!((v, async_testkit::time::elapsed()), ('x', Duration::from_millis(300)));
/// });
/// ```
pub fn delayed<T: Send + 'static>(delay: Duration, value: T) -> MockFuture<T> {
    Box::pin(async move {
        tokio::time::sleep(delay).await;
        value
    })
}

/// A future that never completes: a dependency that hangs. Bound the caller with a
/// timeout; with nothing else to do, a kit run reports a deadlock.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::mock::mockall::pending;
///
/// #[mockall::automock]
/// trait Link {
///     fn send(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
/// }
///
/// async_testkit::run(async {
///     let mut link = MockLink::new();
///     link.expect_send().returning(pending);
///     let r = tokio::time::timeout(Duration::from_secs(5), link.send()).await;
///     assert!(r.is_err());
/// });
/// ```
pub fn pending<T: Send + 'static>() -> MockFuture<T> {
    Box::pin(std::future::pending())
}

/// A future that waits at `gate` until the test lets it through
/// ([`Gate::release`], [`Gate::release_all`]), then yields `value`.
///
/// ```
/// use std::future::Future;
/// use async_testkit::mock::{Gate, mockall::gated};
///
/// #[mockall::automock]
/// trait Db {
///     fn commit(&self) -> impl Future<Output = bool> + Send;
/// }
///
/// async_testkit::run(async {
///     let gate = Gate::new();
///     let mut db = MockDb::new();
///     let g = gate.clone();
///     db.expect_commit().returning(move || gated(&g, true));
///     let commit = async_testkit::spawn(db.commit());
///     gate.entered().await; // the commit is in progress
///     gate.release();
///     assert!(commit.await.unwrap());
/// });
/// ```
pub fn gated<T: Send + 'static>(gate: &Gate, value: T) -> MockFuture<T> {
    let pass = gate.pass();
    Box::pin(async move {
        pass.await;
        value
    })
}
