//! Compile-fail tests of the `#[async_testkit::mock]` attribute.
//!
//! Each example below must be rejected at compile time. The exact messages and spans are
//! checked by the unit tests of the `async-testkit-macros` crate; these doctests check
//! that the errors really stop compilation when the attribute is used through
//! `async-testkit`.
//!
//! A generic method:
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! trait Repo {
//!     async fn get<T: Clone + std::fmt::Debug + 'static>(&self, t: T) -> u8;
//! }
//! # fn main() {}
//! ```
//!
//! `&mut self`:
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! trait Repo {
//!     async fn get(&mut self) -> u8;
//! }
//! # fn main() {}
//! ```
//!
//! A method that is not async:
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! trait Repo {
//!     fn get(&self) -> u8;
//! }
//! # fn main() {}
//! ```
//!
//! An output that borrows (`&'static str` is fine):
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! trait Repo {
//!     async fn get(&self) -> &str;
//! }
//! # fn main() {}
//! ```
//!
//! An associated type:
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! trait Repo {
//!     type Item;
//!     async fn get(&self) -> u8;
//! }
//! # fn main() {}
//! ```
//!
//! Not a trait:
//!
//! ```compile_fail
//! #[async_testkit::mock]
//! struct Repo;
//! # fn main() {}
//! ```
//!
//! Arguments that are not `Clone` cannot be recorded:
//!
//! ```compile_fail
//! struct Token;
//! #[async_testkit::mock]
//! trait Repo {
//!     async fn get(&self, t: Token) -> u8;
//! }
//! # fn main() {}
//! ```
//!
//! And the control: the same shapes, supported, compile.
//!
//! ```
//! #[derive(Clone)]
//! struct Token;
//! #[async_testkit::mock]
//! trait Repo {
//!     async fn get(&self, t: Token, name: &str) -> u8;
//! }
//! # fn main() {}
//! ```
