//! tokio, re-exported, so that async-testkit can explore the order of the tasks your code
//! starts with `tokio::spawn`.
//!
//! Depend on this crate under the name `tokio`, and turn on its `explore` feature in
//! `[dev-dependencies]` only:
//!
//! ```toml
//! [dependencies]
//! tokio = { package = "async-testkit-tokio", version = "0.1", features = ["full"] }
//!
//! [dev-dependencies]
//! tokio = { package = "async-testkit-tokio", version = "0.1", features = ["full", "explore"] }
//! ```
//!
//! Without `explore` this crate *is* tokio: every item is tokio's own, re-exported, at no
//! cost (`tokio::task::JoinHandle<()>` is tokio's type). cargo's resolver 2 (edition 2021
//! and later) keeps a dev-dependency's features out of normal builds, so the binary you
//! ship never has `explore`.
//!
//! With `explore`, the code under test keeps writing `tokio::spawn`,
//! `tokio::task::spawn_local` and `tokio::task::JoinSet`, unchanged. Inside an
//! async-testkit run (`#[async_testkit::test]`, `async_testkit::run`, `Builder::run`) the
//! tasks they start are *kit tasks*: the kit chooses their order (an exploration tries
//! many orders, and replays and shrinks a failing one), names them in reports by their
//! spawn site, catches their panics exactly and reports them if they leak. Outside a run
//! (a plain `#[tokio::test]`, `#[tokio::main]`) everything goes to tokio. The handles keep
//! tokio's API: [`task::JoinHandle`], [`task::AbortHandle`], [`task::JoinError`],
//! [`task::Id`] and [`task::JoinSet`] wrap either a kit task or a tokio task.
//! [`task::LocalSet`] is tokio's, wrapped: a kit task `spawn_local` starts inside it
//! belongs to it as under tokio (dropping the set drops the task; awaiting it waits).
//!
//! What is not routed, and stays in tokio's own order: tasks started by other crates
//! that depend on tokio directly (tower's `Buffer` worker, hyper's connection tasks),
//! `Handle::spawn` / `Runtime::spawn`, `LocalSet::spawn_local` and `JoinSet::spawn_on`.
//! An exploring test that meets such tasks says so in its report. tokio's unstable
//! `task::Builder` (`--cfg tokio_unstable` with the `tracing` feature) is routed too, its
//! name shown in the kit's reports; `JoinSet::build_task` is not mirrored.
//!
//! ```
//! use async_testkit_tokio as tokio; // in your crate: the dependency is named tokio
//!
//! // Code under test: plain tokio.
//! async fn double_all(items: Vec<u32>) -> Vec<u32> {
//!     let mut set = tokio::task::JoinSet::new();
//!     for i in items {
//!         set.spawn(async move { i * 2 });
//!     }
//!     let mut out = set.join_all().await;
//!     out.sort();
//!     out
//! }
//!
//! // Under the kit, its tasks are kit tasks (with `explore`); under tokio, tokio's.
//! assert_eq!(async_testkit::run(double_all(vec![1, 2, 3])), [2, 4, 6]);
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(rt.block_on(double_all(vec![4])), [8]);
//! ```

#![warn(missing_docs)]

#[doc(no_inline)]
pub use tokio::*;

#[cfg(feature = "explore")]
pub mod task;

#[cfg(feature = "explore")]
mod local_set;

/// The tokio crate underneath, under a name of its own (the tests check that without
/// `explore` the re-exported paths are its types); not a public API.
#[doc(hidden)]
pub use tokio as __tokio;

#[cfg(feature = "explore")]
pub use task::spawn;
