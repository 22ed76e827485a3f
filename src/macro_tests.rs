//! Compile-fail tests of the `#[async_testkit::test]` attribute.
//!
//! Each example below must be rejected at compile time. The exact messages
//! and spans are checked by the unit tests of the `async-testkit-macros`
//! crate; these doctests check that the errors really stop compilation when
//! the attribute is used through `async-testkit`.
//!
//! `#[tokio::test]` written above the attribute (it runs first and rewrites the
//! function; the error says to remove it):
//!
//! ```compile_fail
//! #[tokio::test]
//! #[async_testkit::test]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! An unknown option:
//!
//! ```compile_fail
//! #[async_testkit::test(sed = 7)]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! An option given twice:
//!
//! ```compile_fail
//! #[async_testkit::test(seed = 1, seed = 2)]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! A value of the wrong literal kind:
//!
//! ```compile_fail
//! #[async_testkit::test(seed = "7")]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! A malformed duration:
//!
//! ```compile_fail
//! #[async_testkit::test(timeout = "10 sec")]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! Exploring zero schedules:
//!
//! ```compile_fail
//! #[async_testkit::test(explore = 0)]
//! async fn t() {}
//! # fn main() {}
//! ```
//!
//! A function that is not `async`:
//!
//! ```compile_fail
//! #[async_testkit::test]
//! fn t() {}
//! # fn main() {}
//! ```
//!
//! A function with parameters:
//!
//! ```compile_fail
//! #[async_testkit::test]
//! async fn t(x: u32) {}
//! # fn main() {}
//! ```
//!
//! A generic function:
//!
//! ```compile_fail
//! #[async_testkit::test]
//! async fn t<T>() {}
//! # fn main() {}
//! ```
