//! The `#[async_testkit::test]` and `#[async_testkit::mock]` attributes.
//!
//! This crate is an implementation detail of
//! [async-testkit](https://docs.rs/async-testkit): depend on `async-testkit`
//! and write `#[async_testkit::test]`. The code the attribute generates
//! refers to items of `::async_testkit`, so it does not work without that
//! crate.
//!
//! See [`macro@test`] for the full documentation.

mod duration;
mod expand;
mod mock;
mod options;

#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Runs an `async fn` as a deterministic, virtual-time test.
///
/// ```ignore
/// use std::time::Duration;
///
/// #[async_testkit::test]
/// async fn an_hour_passes_instantly() {
///     let start = tokio::time::Instant::now();
///     tokio::time::sleep(Duration::from_secs(3600)).await;
///     assert!(start.elapsed() >= Duration::from_secs(3600));
/// }
/// ```
///
/// The examples on this page are marked `ignore` because the doctests of
/// this proc-macro crate cannot depend on `async-testkit`; runnable copies of
/// them live in the `async-testkit` documentation.
///
/// # What each test gets
///
/// The annotated function becomes an ordinary `#[test]` function. When the
/// test runs, its body is executed by `async-testkit`, which gives every test:
///
/// - **A fresh runtime of its own**: a tokio current-thread runtime with a
///   *paused* clock, created for this test and dropped when it ends, so no
///   state, tasks or timers carry over from one test to another. Time is
///   virtual: sleeping for an hour costs no real time, and `Instant`s from
///   `tokio::time` only move as the test's clock moves (see the `clock`
///   option).
/// - **A controlled scheduler**: the order in which ready tasks run is chosen
///   by a scheduling strategy rather than left to chance. With the `random`
///   strategy the order comes from a seed, so a failing interleaving can be
///   replayed exactly by running again with the same `seed`; `explore` runs
///   the test under many schedules to look for one that fails.
/// - **Failure oracles**: a wall-clock `timeout` and a `virtual_timeout` that
///   fail a test that hangs, a check at the end of the test for tasks it
///   left running (`leaks`), and detection of polls that block the thread for
///   too long (`slow_poll`). What happens when an oracle fires is set by its
///   policy: `"fail"`, `"warn"` or `"ignore"`.
///
/// Everything not set through an option keeps the default of
/// `async_testkit::Builder::new()`, documented in `async-testkit`.
///
/// # The function
///
/// The attribute goes on an `async fn` without parameters and without
/// generics. It may return `()` or `Result<(), E>` with `E: Debug`; with a
/// `Result`, `?` can be used in the body and an `Err` fails the test: with
/// `explore`, an `Err` on any schedule fails it, and that schedule is
/// minimised and reported with its replay line, as a panic would be (the
/// report's headline reads `the test body returned Err(<the error's Debug>)`).
/// Other return types, such as `std::process::ExitCode`, are compile errors.
/// Visibility and all other
/// attributes are kept, so `#[should_panic]`, `#[ignore]` and doc comments
/// work as usual. Do not add `#[test]` or `#[tokio::test]` as well: the
/// attribute already makes the function a test and runs it on its own
/// runtime.
///
/// # Options
///
/// Options are written `name = value`, separated by commas, each at most
/// once: `#[async_testkit::test(seed = 7, timeout = "30s")]`.
///
/// | Option | Value | Meaning |
/// |--------|-------|---------|
/// | `seed` | integer (`u64`), like `seed = 7` | Seed of the scheduler's random choices; the same seed gives the same schedule. |
/// | `strategy` | `"fifo"`, `"random"`, `"urw"`, `"portfolio"`, `"pct"`/`"pct2"`/`"pct(2)"`, `"pcty"`/`"pcty2"`/`"pcty(2)"`, `"dfs"`/`"dfs3"`/`"dfs(3)"` | How the next ready task is picked: in the order tasks became ready (the default for one run), at random from the seed, by a uniform random walk, by PCT priorities of a depth (`pcty`: with yields lowering the yielding task), by bounded DFS over preemptions, or by the portfolio (the default when exploring). |
/// | `clock` | `"auto"`, `"manual"`, `"autojump"` or `"autojump(<duration>)"` | How virtual time moves: `auto` advances it when every task is waiting on a timer; `manual` only when the test advances it; `autojump` moves it forward by a fixed step (10ms unless given, like `"autojump(50ms)"`). |
/// | `timeout` | duration string, like `"30s"` | Wall-clock limit for the whole test (default 60s): a run still going at it fails (`wall-clock timeout`), and with `explore` no schedule starts once the test has run that long, which fails too. Must be greater than zero. |
/// | `virtual_timeout` | duration string, like `"1h"` | Limit on how far virtual time may advance during the test. Must be greater than zero. |
/// | `leaks` | `"fail"`, `"warn"` or `"ignore"` | What to do about tasks still alive when the test body finishes. |
/// | `slow_poll` | duration string, like `"100ms"` | A single poll taking longer than this (in real time) counts as a slow poll. Must be greater than zero. |
/// | `slow_poll_policy` | `"fail"`, `"warn"` or `"ignore"` | What to do about slow polls. |
/// | `io` | `true` or `false` | Whether the runtime has real I/O (such as sockets) enabled. Unset: yes, except that an exploration runs schedules without it until one needs it. |
/// | `explore` | integer `>= 1` (`u32`), like `explore = 1000` | Number of schedules to run the test under. |
/// | `explore_for` | duration string, like `explore_for = "10s"` | Explore for this much wall time (with `explore`, whichever ends first). |
/// | `crate` | a path as a string, like `crate = "my_kit"` | The path of the `async-testkit` crate, when the dependency is renamed (as tokio's option of the same name names tokio). |
///
/// tokio's own runtime options are accepted where the kit always does what
/// they ask, so that migrating from `#[tokio::test(...)]` is a rename:
/// `start_paused = true` (the kit's clock is always paused) and
/// `flavor = "current_thread"` (its only flavor) need no call.
/// `start_paused = false`, `flavor = "multi_thread"` (or `"local"`) and
/// `worker_threads` are compile errors that say why the kit cannot honour
/// them and what to write instead.
///
/// Each of the kit's options becomes one call on the builder, in the order
/// written: `seed = 7` becomes `.seed(7u64)`, `strategy = "random"` becomes
/// `.strategy(__async_testkit::Strategy::Random)`, `clock = "manual"`
/// becomes `.clock(__async_testkit::Clock::Manual)`, `leaks = "warn"` becomes
/// `.leaks(__async_testkit::Policy::Warn)`, a duration becomes a
/// `::core::time::Duration`, and so on (`__async_testkit` is the kit, by the
/// path `crate` names).
///
/// ## Duration strings
///
/// A duration is one or more `<integer><unit>` parts with no spaces, added
/// together. The units are `ns`, `us`, `ms`, `s`, `m` (minutes), `h` and `d`
/// (days): `"500us"`, `"100ms"`, `"30s"`, `"1h30m"`, `"2d"`. Fractions
/// (`"1.5s"`), a missing unit (`"10"`), spaces (`"10 s"`) and durations too
/// long for a `u64` count of nanoseconds (over about 213503 days) are
/// rejected at compile time.
///
/// # Expansion
///
/// ```ignore
/// #[async_testkit::test(seed = 7, timeout = "30s")]
/// #[should_panic]
/// async fn name() -> Result<(), Error> { body }
/// ```
///
/// expands to
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// #[should_panic]
/// fn name() {
///     use ::async_testkit as __async_testkit;
///     // Pins the output of the async block to the declared return type.
///     fn output<F: ::core::future::Future<Output = Result<(), Error>>>(future: F) -> F {
///         future
///     }
///     __async_testkit::__private::run_test(
///         __async_testkit::Builder::new()
///             .seed(7u64)
///             .timeout(::core::time::Duration::from_nanos(30000000000u64)),
///         ::core::concat!(::core::module_path!(), "::", ::core::stringify!(name)),
///         move || output(async move { body }),
///     )
/// }
/// ```
///
/// The async block is given the declared return type (`()` when none is
/// declared), as the body of the `async fn` would have: `?` converts errors
/// to the declared error type, and a body that only panics still has type
/// `()` or `Result`, not `!`.
///
/// # Compile-time errors
///
/// Mistakes are reported as compile errors pointing at the offending token,
/// saying what is wrong and what to write instead: unknown options (with a
/// suggestion for near misses, like `sed` for `seed`), options given twice,
/// values of the wrong kind (`seed = "7"`, `io = 1`), unknown strategy,
/// clock or policy names, malformed or overflowing durations, `explore = 0`,
/// a zero `timeout`, `virtual_timeout`, `slow_poll` or autojump step, and a
/// function that is not `async`, takes arguments or is generic.
///
/// # Examples
///
/// A plain test; timers complete at once on the virtual clock:
///
/// ```ignore
/// use std::time::Duration;
///
/// #[async_testkit::test]
/// async fn heartbeat_every_five_seconds() {
///     let mut ticks = tokio::time::interval(Duration::from_secs(5));
///     for _ in 0..10 {
///         ticks.tick().await;
///     }
/// }
/// ```
///
/// Returning a `Result` so that `?` can be used:
///
/// ```ignore
/// #[async_testkit::test]
/// async fn parses_config() -> Result<(), std::num::ParseIntError> {
///     let port: u16 = "8080".parse()?;
///     assert_eq!(port, 8080);
///     Ok(())
/// }
/// ```
///
/// Replaying one random schedule, with limits on real and virtual time:
///
/// ```ignore
/// #[async_testkit::test(strategy = "random", seed = 42, timeout = "10s", virtual_timeout = "1h")]
/// async fn two_workers_share_a_counter() {
///     let counter = std::sync::Arc::new(tokio::sync::Mutex::new(0));
///     let handles: Vec<_> = (0..2)
///         .map(|_| {
///             let counter = counter.clone();
///             tokio::spawn(async move { *counter.lock().await += 1 })
///         })
///         .collect();
///     for handle in handles {
///         handle.await.unwrap();
///     }
///     assert_eq!(*counter.lock().await, 2);
/// }
/// ```
///
/// Exploring many schedules, with a manual clock and strict oracles:
///
/// ```ignore
/// #[async_testkit::test(
///     strategy = "random",
///     explore = 1000,
///     clock = "manual",
///     leaks = "fail",
///     slow_poll = "50ms",
///     slow_poll_policy = "fail",
/// )]
/// async fn no_interleaving_loses_a_message() {
///     // ...
/// }
/// ```
///
/// Other test attributes keep working:
///
/// ```ignore
/// /// The deadline is enforced even when the peer never answers.
/// #[async_testkit::test(clock = "autojump(100ms)")]
/// #[should_panic(expected = "deadline exceeded")]
/// async fn gives_up_after_the_deadline() {
///     tokio::time::sleep(std::time::Duration::from_secs(60)).await;
///     panic!("deadline exceeded");
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand_or_error(args.into(), item.into()).into()
}

/// Generates `Mock<Trait>`: one `async_testkit::mock::AsyncMock` per method of an async
/// trait, and an implementation of the trait that calls them.
///
/// ```ignore
/// #[async_testkit::mock]
/// trait Repo {
///     async fn get(&self, id: &str) -> Option<String>;
/// }
///
/// let repo = MockRepo::new();
/// repo.get.returns(Some("ada".to_string()));
/// ```
///
/// The full documentation, with runnable examples, is on `async_testkit::mock` (the
/// attribute) in the `async-testkit` crate.
#[proc_macro_attribute]
pub fn mock(args: TokenStream, item: TokenStream) -> TokenStream {
    mock::expand_or_error(args.into(), item.into()).into()
}
