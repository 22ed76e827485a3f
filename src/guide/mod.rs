//! The guide: from a first test to exploration, one runnable step at a time.
//!
//! Each chapter is a module of documentation only; its examples are doctests, run with
//! the rest of the suite (`cargo test --workspace --all-features`). Read them in order:
//!
//! 1. [`first_test`]: the attribute, [`run`](crate::run) and [`Builder`](crate::Builder).
//! 2. [`virtual_time`]: the paused clock, [`time::advance`](crate::time::advance), clock modes.
//! 3. [`mocks`]: [`AsyncMock`](crate::mock::AsyncMock) and `#[async_testkit::mock]`.
//! 4. [`timeouts_and_cancellation`]: [`within`](crate::within), the time assertions, [`cancel`](crate::cancel).
//! 5. [`exploration`]: many schedules, a minimal failing one, its replay token.
//! 6. [`with_proptest`]: schedules as proptest inputs (feature `proptest`).
//! 7. [`why_did_my_test_fail`]: each oracle's report, its headline, and what to do.
//! 8. [`features`]: the cargo features, what each adds and what it costs.
//!
//! ```
//! // The whole kit in one line: a fresh paused runtime, and a loud failure report.
//! assert_eq!(async_testkit::run(async { 6 * 7 }), 42);
//! ```

#[doc = include_str!("first_test.md")]
pub mod first_test {}

#[doc = include_str!("virtual_time.md")]
pub mod virtual_time {}

#[doc = include_str!("mocks.md")]
pub mod mocks {}

#[doc = include_str!("timeouts_and_cancellation.md")]
pub mod timeouts_and_cancellation {}

#[doc = include_str!("exploration.md")]
pub mod exploration {}

#[doc = include_str!("with_proptest.md")]
pub mod with_proptest {}

#[doc = include_str!("why_did_my_test_fail.md")]
pub mod why_did_my_test_fail {}

#[doc = include_str!("features.md")]
pub mod features {}
