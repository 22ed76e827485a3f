//! Schedules: how the scheduler picks the next task, and how a run's picks are replayed.
//!
//! Every time two or more things could run next (ready kit tasks in the order they were
//! woken, then a turn for tokio's own queue when tokio tasks exist), the run asks its
//! choice source for an index. A [`Schedule`] is the list of indices a run used; replaying
//! it reads each as `choice % options` and falls back to FIFO (index 0) once it runs out,
//! so every list of numbers is a valid schedule. A *preemption* is a choice FIFO would not
//! have made (an index other than 0): minimising a failing schedule means removing them.
//!
//! What the schedules cover: which ready task runs at every await that lets another run
//! (a yield, a lock or channel freed by another task, a spawned task becoming ready), the
//! order of tasks woken by timers due at the same virtual instant, [`crate::yield_point`]s,
//! and the latency levels of mocks with jitter. What they do not: preemption inside
//! synchronous code running on several OS threads (atomics, a `std::sync::Mutex` contended
//! by threads) — that is loom's job; the kit runs every task on the test's thread.
//!
//! ```
//! use async_testkit::{Builder, Schedule, Strategy};
//!
//! // The same body under a seeded random schedule: the same seed gives the same run.
//! let order = || {
//!     Builder::new().strategy(Strategy::Random).seed(3).run(|| async {
//!         let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//!         let handles: Vec<_> = (0..3)
//!             .map(|i| {
//!                 let log = log.clone();
//!                 async_testkit::spawn(async move { log.borrow_mut().push(i) })
//!             })
//!             .collect();
//!         for h in handles {
//!             h.await.unwrap();
//!         }
//!         log.take()
//!     })
//! };
//! assert_eq!(order(), order());
//!
//! // A schedule travels as one line of text.
//! let token = format!("atk1:{}:random:3:0*4.2.1", env!("CARGO_PKG_VERSION"));
//! let s = Schedule::from_token(&token).unwrap();
//! assert_eq!(s.choices(), [0, 0, 0, 0, 2, 1]);
//! assert_eq!(s.preemptions(), 2);
//! ```

// One file per job; each says what it is in its module doc.
mod choice; // Step, Choice and the Chooser trait every strategy implements
mod dfs; // bounded DFS over preemptions
mod fifo; // Fifo and Random
mod pct; // PCT
mod pcty; // PCT with yields lowering
mod planner; // what each run of an exploration runs
mod portfolio; // the exploration default's rotation
mod replay; // playing back recorded choices
mod rng; // SplitMix64, the generator every strategy draws from
mod strategy; // Strategy and the one list of strategy names
mod token; // Schedule and its replay token
mod urw; // the uniform random walk

pub(crate) use choice::{Choice, Chooser, Step, preemptions};
pub(crate) use dfs::Dfs;
pub(crate) use planner::{LEARNING_RUNS, Plan, Planner};
pub(crate) use rng::{SplitMix64, mix64};
pub use strategy::Strategy;
pub(crate) use strategy::strategy_names;
pub use token::{Schedule, TokenError};
