//! Every environment variable the kit reads, read here and nowhere else. Each overrides
//! a [`Builder`](crate::Builder) setting for every test of the process, so that a failure
//! can be replayed, or an exploration widened or shared between machines, without
//! editing the test; each is documented on the `Builder` method it overrides.

use crate::schedule::{Schedule, Strategy};

/// The seed of every test (overrides [`crate::Builder::seed`]): a single-run test runs
/// with it, an exploring test explores from it.
pub(crate) const SEED: &str = "ASYNC_TESTKIT_SEED";
/// The strategy of every run (overrides [`crate::Builder::strategy`]).
pub(crate) const STRATEGY: &str = "ASYNC_TESTKIT_STRATEGY";
/// Runs exactly the schedule of this token (overrides [`crate::Builder::replay`]).
pub(crate) const REPLAY: &str = "ASYNC_TESTKIT_REPLAY";
/// How many schedules every exploring test runs at least (raises
/// [`crate::Builder::explore`], never lowers it).
pub(crate) const EXPLORE: &str = "ASYNC_TESTKIT_EXPLORE";
/// `i/n`: this process runs the schedules whose index is `i` modulo `n` (see
/// [`crate::Builder::explore`]).
pub(crate) const SHARD: &str = "ASYNC_TESTKIT_SHARD";
/// Where cargo builds: a failing exploration's Chrome trace is written under it.
pub(crate) const CARGO_TARGET_DIR: &str = "CARGO_TARGET_DIR";
/// Set to `1` by cargo-nextest in the tests it runs.
pub(crate) const NEXTEST: &str = "NEXTEST";
/// Set by cargo-nextest to the id of its run.
pub(crate) const NEXTEST_RUN_ID: &str = "NEXTEST_RUN_ID";

/// The test runner running this process: what a replay line tells the user to type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestRunner {
    /// `cargo test` (libtest), and anything else.
    Cargo,
    /// cargo-nextest: it sets `NEXTEST=1` and `NEXTEST_RUN_ID` in each test process.
    Nextest,
}

/// Which runner runs the tests: nextest when it has said so in the environment.
pub(crate) fn test_runner() -> TestRunner {
    let nextest =
        std::env::var(NEXTEST).is_ok_and(|v| v.trim() == "1") || std::env::var_os(NEXTEST_RUN_ID).is_some();
    if nextest {
        TestRunner::Nextest
    } else {
        TestRunner::Cargo
    }
}

/// `ASYNC_TESTKIT_SEED`, if set.
///
/// # Panics
///
/// When it is not a number.
pub(crate) fn seed() -> Option<u64> {
    number(SEED, "the seed printed in a failure report")
}

/// `ASYNC_TESTKIT_EXPLORE`, if set.
///
/// # Panics
///
/// When it is not a number from 1 to `u32::MAX`: a count the kit cannot honour is an
/// error, never silently changed.
pub(crate) fn explore() -> Option<u32> {
    let n = number(EXPLORE, "the number of schedules to run")?;
    match u32::try_from(n) {
        Ok(n) if n >= 1 => Some(n),
        _ => panic!(
            "{EXPLORE}={n} cannot be honoured: an exploration runs from 1 to {} schedules; \
             for a time budget instead of a count use Builder::explore_for",
            u32::MAX
        ),
    }
}

/// `ASYNC_TESTKIT_STRATEGY`, if set.
///
/// # Panics
///
/// When it names no strategy.
pub(crate) fn strategy() -> Option<Strategy> {
    let s = std::env::var(STRATEGY).ok()?;
    match Strategy::from_name(&s) {
        Some(st) => Some(st),
        None => panic!(
            "{STRATEGY}={s:?} is not a strategy async-testkit knows: use one of {}",
            crate::schedule::strategy_names()
        ),
    }
}

/// `ASYNC_TESTKIT_REPLAY`, if set.
///
/// # Panics
///
/// When it is not a schedule token.
pub(crate) fn replay() -> Option<Schedule> {
    let token = std::env::var(REPLAY).ok()?;
    Some(Schedule::from_token(&token).unwrap_or_else(|e| panic!("{REPLAY}: {e}")))
}

/// `ASYNC_TESTKIT_SHARD=i/n` as `(i, n)`; `(0, 1)` when unset.
///
/// # Panics
///
/// When it is not `i/n` with `0 <= i < n`.
pub(crate) fn shard() -> (u32, u32) {
    let Ok(v) = std::env::var(SHARD) else {
        return (0, 1);
    };
    let parsed = v
        .trim()
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => (i, n),
        _ => panic!(
            "{SHARD}={v:?} is not a shard: write i/n with 0 <= i < n, like {SHARD}=2/8 \
             for the third of eight machines"
        ),
    }
}

/// `CARGO_TARGET_DIR`, if set.
pub(crate) fn target_dir() -> Option<std::ffi::OsString> {
    std::env::var_os(CARGO_TARGET_DIR)
}

fn number(var: &str, what: &str) -> Option<u64> {
    let v = std::env::var(var).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{var}={v:?} is not a number: set it to {what}, like {var}=7"),
    }
}
