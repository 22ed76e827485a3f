//! Deterministic, virtual-time testing for async Rust on tokio.
//!
//! Put `#[async_testkit::test]` on an `async fn` and the test runs on a fresh tokio
//! current-thread runtime whose clock is paused at zero and jumps whenever every task
//! waits: an hour of `sleep` takes microseconds. The kit's own scheduler runs the body and
//! every task started with [`spawn`], records what each did, and fails the test loudly:
//!
//! - a panic in any task, awaited or not, kit task or `tokio::spawn`ed;
//! - tasks still alive when the body returns (leaks), named with their spawn sites;
//! - a deadlock (every task waits and no timer is pending), found at once;
//! - a virtual deadline (default 1 h) and a wall-clock deadline (default 60 s);
//! - a poll that blocks the thread longer than 100 ms (a warning by default).
//!
//! Every failure report has a headline, the tasks that were alive, the panics, the last
//! events as a timeline in virtual time, the seed, and a one-line replay command.
//!
//! ```
//! use std::time::Duration;
//!
//! // What #[async_testkit::test] does for a test, written out:
//! async_testkit::run(async {
//!     let (tx, rx) = tokio::sync::oneshot::channel();
//!     async_testkit::spawn(async move {
//!         tokio::time::sleep(Duration::from_secs(30)).await; // virtual: instant
//!         tx.send("pong").unwrap();
//!     });
//!     assert_eq!(rx.await.unwrap(), "pong");
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(30));
//! });
//! ```
//!
//! A test that would hang forever under plain tokio fails at once instead:
//!
//! ```
//! let failure = async_testkit::Builder::new()
//!     .try_run(|| async {
//!         let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
//!         let _ = rx.await; // nobody will ever send
//!     })
//!     .unwrap_err();
//! assert_eq!(failure.kind(), async_testkit::FailureKind::Deadlock);
//! assert!(failure.headline().starts_with("deadlock: every task is waiting and no timer is pending"));
//! ```
//!
//! # Guide
//!
//! New to the kit? The [`guide`] walks from a first test to virtual time, mocks, timeouts
//! and cancellation, exploration and proptest, one runnable example per step, and
//! explains each failure report ([`guide::why_did_my_test_fail`]). The cargo features,
//! what each adds and costs, are in [`guide::features`].
//!
//! # Map
//!
//! - [`test`], [`run`], [`Builder`]: start runs; [`Report`] and [`Failure`] say how they went.
//! - [`spawn`], [`spawn_background`], [`task::Builder`], [`yield_point`]: kit tasks.
//! - [`time`]: the virtual clock, [`time::advance`] that settles, [`time::run_until_idle`].
//! - [`Strategy`]: how the scheduler chooses among ready tasks.
//! - [`within`], [`TimedOut`], [`eventually`], [`assert_elapsed!`], [`assert_completes_within!`],
//!   [`assert_pending_for!`]: deadlines and time assertions on virtual time ([`timeout`]).
//! - [`Probe`] with [`assert_ready!`], [`assert_pending!`] and friends: a future polled by hand.
//! - [`cancel`]: drop a future at a time or a suspension point; the cancellation-safety checker.
//! - [`mock`](mod@mock): [`mock::AsyncMock`], async mocks on virtual time with a call log and gates; [`macro@mock`] mocks a trait.
//!
//! # The determinism contract
//!
//! Same code, same crate version, same seed: same schedule, same trace, same outcome
//! ([`Report::trace_hash`]). What escapes it: `std::time::Instant` and `SystemTime` (use
//! [`time::now`] and [`time::system_now`]), `HashMap` iteration order, real I/O, OS
//! threads, and `tokio::select!` without `biased;` (tokio picks branches at random).

#![warn(missing_docs)]

pub mod cancel;
pub mod guide;
pub mod mock;
pub mod probe;
#[cfg(feature = "proptest")]
pub mod proptest;
mod runner;
pub(crate) mod runtime;
pub mod schedule;
pub mod task;
pub mod time;
pub mod timeout;
pub mod trace;
#[cfg(feature = "tracing")]
pub mod tracing;
mod util;

pub use probe::Probe;
pub use runner::{Builder, explore, run, seed};
pub use runtime::{Clock, Failure, FailureKind, Policy, Report};
pub use schedule::{Schedule, Strategy, TokenError};
pub use task::{JoinError, JoinHandle, spawn, spawn_background, yield_point};

/// The exploration budget the kit is measured against: every bug of its corpus of 17
/// classic concurrency bugs is found within this many schedules of the default portfolio,
/// for every seed tried. A good `explore` value for a test that guards against races.
///
/// ```
/// let r = async_testkit::Builder::new()
///     .explore(async_testkit::DEFAULT_EXPLORE)
///     .try_run(|| async {})
///     .unwrap();
/// assert_eq!(r.schedules(), 1000);
/// ```
pub const DEFAULT_EXPLORE: u32 = 1000;
pub use timeout::{TimedOut, eventually, within};

/// Runs an `async fn` test on a fresh async-testkit runtime.
///
/// Options (all optional): `seed = 7`, `strategy = "fifo" | "random" | "urw" | "portfolio" |
/// "pct" | "pct2" | "pcty" | "pcty2" | "dfs" | "dfs(3)"`, `clock = "auto" | "manual" | "autojump" |
/// "autojump(10ms)"`, `timeout = "60s"` (wall clock), `virtual_timeout = "1h"`,
/// `leaks = "fail" | "warn" | "ignore"`, `slow_poll = "100ms"`,
/// `slow_poll_policy = "warn" | "fail" | "ignore"`, `io = true`, `explore = 1000` (that
/// many schedules, from the portfolio unless a strategy is given), `explore_for = "10s"`
/// (a wall-time budget). The test may return `()` or
/// `Result<(), E>` with `E: Debug`: an `Err` fails the test on whichever schedule returns
/// it, as a panic does (exploration minimises that schedule and prints its replay line;
/// the report's headline is `the test body returned Err(<the error's Debug>)`, kind
/// [`FailureKind::ReturnedErr`]). Other attributes such as `#[should_panic]` and
/// `#[ignore]` work as usual.
///
/// Each test runs on a thread of its own, so a test stuck in a blocking call fails at its
/// wall-clock limit and the rest of the suite goes on.
///
/// ```
/// # mod wrapper {
/// use std::time::Duration;
///
/// #[async_testkit::test]
/// async fn backoff_waits_an_hour_instantly() {
///     tokio::time::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(3600));
/// }
///
/// #[async_testkit::test(clock = "manual", seed = 7, leaks = "warn")]
/// async fn manual_clock() -> Result<(), String> {
///     async_testkit::time::advance(Duration::from_secs(5)).await;
///     Ok(())
/// }
/// # }
/// ```
pub use async_testkit_macros::test;

/// Generates a mock of an async trait: `#[async_testkit::mock] trait Repo { .. }` adds
/// `MockRepo`, with one public [`mock::AsyncMock`] field per method (named after it), and
/// implements `Repo` for it.
///
/// Methods may be `async fn`, or return `impl Future<Output = T>`,
/// `Pin<Box<dyn Future<Output = T> + ..>>` or `BoxFuture<'_, T>`; they take `&self` and
/// owned or borrowed arguments. A method's mock is an `AsyncMock<Args, T>` where `Args` is
/// `()` with no arguments, the argument itself with one, and a tuple with several;
/// borrowed arguments are recorded as owned values (`&str` as `String`, `&[u8]` as
/// `Vec<u8>`, `&T` as `T` through `ToOwned`). Arguments must be `Clone` (they are
/// recorded); those without `Debug` show as `<Type (not Debug)>` in call logs. Each mock is
/// named `Trait::method` in messages. `MockRepo` is `Clone` (clones share the mocks) and
/// `Default`.
///
/// Traits under `#[async_trait::async_trait]` work with the attribute above or below
/// async-trait's (with `(?Send)` too): the mock implements the trait as async-trait wrote
/// it, so `Box<dyn Trait>` and `Arc<dyn Trait>` take the mock. Method lifetimes and `where`
/// clauses on lifetimes and `Self` (what async-trait generates) are accepted.
///
/// Generic methods, `where` bounds on other types, `&mut self`, `self` and associated
/// functions, generic traits, associated types and consts, and outputs that borrow are
/// rejected at compile time with a message naming the method.
///
/// Outputs need not be `Clone`: [`mock::AsyncMock::returns_once`] gives a value for one
/// call, [`mock::AsyncMock::returns_with`] builds one per call, and for a
/// `Result<T, Box<dyn Error + Send + Sync>>` (tower's `BoxError`)
/// [`mock::AsyncMock::returns_ok`] and [`mock::AsyncMock::fails_with`] need no `Clone` error.
///
/// ```
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// #[async_testkit::mock]
/// #[async_trait::async_trait]
/// trait Fetch: Send + Sync {
///     async fn fetch(&self, url: &str) -> Result<Vec<u8>, BoxError>;
/// }
///
/// async_testkit::run(async {
///     let fetch = MockFetch::new();
///     fetch.fetch.returns_once(Ok(b"page".to_vec())).fails_with(|| "offline".into());
///     let client: Box<dyn Fetch> = Box::new(fetch.clone());
///     assert_eq!(client.fetch("a").await.unwrap(), b"page");
///     assert_eq!(client.fetch("b").await.unwrap_err().to_string(), "offline");
/// });
/// ```
///
/// ```
/// use std::future::Future;
/// use std::time::Duration;
///
/// #[async_testkit::mock]
/// trait Store {
///     async fn get(&self, key: &str) -> Option<String>;
///     fn put(&self, key: String, value: Vec<u8>) -> impl Future<Output = Result<(), String>>;
/// }
///
/// async fn copy(store: &impl Store, from: &str, to: &str) -> Result<(), String> {
///     let value = store.get(from).await.ok_or("missing")?;
///     store.put(to.to_string(), value.into_bytes()).await
/// }
///
/// async_testkit::run(async {
///     let store = MockStore::new();
///     store.get.returns_after(Duration::from_millis(5), Some("v".to_string()));
///     store.put.returns(Ok(()));
///     copy(&store, "a", "b").await.unwrap();
///     store.get.assert_called_with("a".to_string());
///     store.put.assert_called_with(("b".to_string(), b"v".to_vec()));
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(5));
/// });
/// ```
pub use async_testkit_macros::mock;

#[cfg(doctest)]
mod mock_macro_tests;

#[cfg(doctest)]
mod macro_tests;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    //! Support for the attribute macro; not a public API.

    use std::future::Future;
    use std::panic::Location;
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    use crate::runtime::panics::ReturnedErr;
    use crate::util::lock;

    pub use crate::probe::PollAssertions;

    /// Whether an async-testkit run is active on this thread: where async-testkit-tokio's
    /// `explore` feature starts a `tokio::spawn`ed future as a kit task.
    #[inline]
    pub fn in_run() -> bool {
        crate::runtime::executor::in_run()
    }

    /// A kit task's panic payload as text when it is a `String` or a `&'static str`
    /// (without taking it, so the panic still fails the test unless the test takes it):
    /// what async-testkit-tokio's `JoinError` prints, as tokio's does.
    pub fn join_error_panic_str(e: &crate::JoinError) -> Option<String> {
        e.payload_str()
    }

    /// Describes a mocked method's arguments in `#[async_testkit::mock]` mocks: with
    /// `Debug` when the type has it (through autoref), as opaque otherwise.
    pub struct Describe<'a, T>(pub &'a T);

    /// The `Debug` way of [`Describe`].
    pub trait DescribeDebug {
        /// The arguments as `Debug` prints them.
        fn describe(&self) -> String;
    }

    impl<T: std::fmt::Debug> DescribeDebug for Describe<'_, T> {
        fn describe(&self) -> String {
            format!("{:?}", self.0)
        }
    }

    /// The fallback of [`Describe`] for arguments without `Debug`.
    pub trait DescribeOpaque {
        /// The type's name, said to have no `Debug`.
        fn describe(&self) -> String;
    }

    impl<T> DescribeOpaque for &Describe<'_, T> {
        fn describe(&self) -> String {
            format!("<{} (not Debug)>", std::any::type_name::<T>())
        }
    }

    /// What a test function may return: what libtest's `Termination` takes and can fail,
    /// `()` and `Result<T, E>` (with `T` one of these, and `E: Debug`).
    #[diagnostic::on_unimplemented(
        message = "an #[async_testkit::test] function returns `()` or `Result<(), E>` with `E: Debug`, not `{Self}`",
        label = "the test's return type"
    )]
    pub trait TestOutput {
        /// Fails the run when the test failed: panics, inside the run, when it returned
        /// `Err`, so that the kit records that schedule as failing (kind
        /// [`FailureKind::ReturnedErr`](crate::FailureKind::ReturnedErr)) and the
        /// exploration minimises and reports it like a panic. `site` is the test.
        fn check(self, site: &'static Location<'static>);
    }

    impl TestOutput for () {
        fn check(self, _site: &'static Location<'static>) {}
    }

    impl<T: TestOutput, E: std::fmt::Debug> TestOutput for Result<T, E> {
        fn check(self, site: &'static Location<'static>) {
            match self {
                Ok(inner) => inner.check(site),
                Err(e) => std::panic::panic_any(ReturnedErr {
                    error: format!("{e:?}"),
                    site,
                }),
            }
        }
    }

    /// Strips the crate name from `crate::module::test` to get libtest's test name.
    fn test_name(path: &str) -> &str {
        path.split_once("::").map_or(path, |(_, rest)| rest)
    }

    /// Runs one attributed test on its own thread, so the test fails (rather than hangs)
    /// if the run gets stuck inside a poll.
    #[track_caller]
    pub fn run_test<F, Fut>(builder: crate::Builder, path: &'static str, body: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: TestOutput,
    {
        let site = Location::caller();
        let name = test_name(path).to_string();
        let stuck = Arc::new(Mutex::new(None::<String>));
        let builder = crate::runner::isolated(builder.name(name.clone()), stuck.clone());
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // Every schedule's output is checked inside its run: only the last one's
                // would come back from an exploration.
                builder.run_at(
                    || {
                        let f = body();
                        async move { TestOutput::check(f.await, site) }
                    },
                    site,
                )
            }));
            let _ = tx.send(result);
        });
        if let Err(e) = thread {
            panic!("async-testkit could not start a thread for the test: {e}");
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(())) => return,
                Ok(Err(payload)) => std::panic::resume_unwind(payload),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(text) = lock(&stuck).take() {
                        panic!("{text}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("async-testkit: the test's thread ended without a result")
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn test_names_drop_the_crate() {
            assert_eq!(super::test_name("oracles::deadlock"), "deadlock");
            assert_eq!(super::test_name("my_crate::tests::t"), "tests::t");
            assert_eq!(super::test_name("t"), "t");
        }
    }
}

#[cfg(test)]
mod tests {
    /// The attribute crate's expansions call this crate's hidden API, so the manifest pins
    /// it to exactly this version: a release that bumps one must bump the pin.
    #[test]
    fn the_attribute_crate_is_pinned_to_this_version() {
        let manifest = include_str!("../Cargo.toml");
        // Either `async-testkit-macros = { path = .., version = ".." }` (the repository's)
        // or `[dependencies.async-testkit-macros]` then `version = ".."` (a package's).
        let dep = manifest
            .find("async-testkit-macros")
            .expect("Cargo.toml names async-testkit-macros");
        let rest = &manifest[dep..];
        let at = rest
            .find("version = \"")
            .expect("a version for async-testkit-macros")
            + "version = \"".len();
        let version = &rest[at..at + rest[at..].find('"').unwrap()];
        assert_eq!(
            version,
            format!("={}", env!("CARGO_PKG_VERSION")),
            "Cargo.toml must pin async-testkit-macros to this crate's version exactly"
        );
    }
}
