//! Deadlines and time assertions on virtual time.
//!
//! - [`within`] races a future against a virtual deadline and says, when it loses, where
//!   the deadline was set, when it passed, and which tasks were still pending.
//! - [`assert_elapsed!`](crate::assert_elapsed) checks the exact virtual time a block
//!   took (tokio's own `assert_elapsed!` allows a millisecond of slack; virtual time does
//!   not need it).
//! - [`assert_completes_within!`](crate::assert_completes_within) and
//!   [`assert_pending_for!`](crate::assert_pending_for) check that a future finishes by a
//!   deadline, or is still pending after it (and hand the future back).
//! - [`eventually`] waits for a condition on virtual time, Awaitility style, with a limit,
//!   a polling interval, an optional span it must hold for, and the last observed value
//!   in its failure message.
//!
//! # The boundary: "exactly at the deadline" is in time
//!
//! When the deadline's timer fires, other work due at the same instant may not have run
//! yet (a task that sleeps until the deadline and then sends). So on expiry the kit first
//! lets everything that can run at that instant run, then polls the future once more:
//! only if it is still pending has it missed the deadline. A future that completes at
//! exactly `start + limit` is in time, whichever task's timer fired first.
//!
//! tokio's timers fire on whole milliseconds of (virtual) time, so a deadline that falls
//! between two milliseconds is rounded up to the next one, and reported that way.
//!
//! ```
//! use std::time::Duration;
//! use async_testkit::within;
//!
//! async_testkit::run(async {
//!     let (tx, rx) = tokio::sync::oneshot::channel();
//!     async_testkit::spawn(async move {
//!         tokio::time::sleep(Duration::from_secs(2)).await;
//!         tx.send("just in time").unwrap();
//!     });
//!     // The answer comes at +2s, the deadline is +2s: in time.
//!     assert_eq!(within(Duration::from_secs(2), rx).await.unwrap().unwrap(), "just in time");
//! });
//! ```

mod assertions;
mod eventually;
mod timed_out;
mod within;

#[doc(hidden)]
pub use assertions::{
    __Stopwatch, __completed, __completes_within, __elapsed_since_instant, __elapsed_since_start,
    __pending_for, __still_pending, Completed, PendingFor,
};
pub use eventually::{Eventually, Verdict, eventually};
pub use timed_out::TimedOut;
pub(crate) use timed_out::What;
pub(crate) use within::within_at;
pub use within::{Within, within};
