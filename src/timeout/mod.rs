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

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::trace::Vt;
use crate::trace::span;

mod assertions;
mod eventually;
mod within;

#[doc(hidden)]
pub use assertions::{
    __Stopwatch, __completed, __completes_within, __elapsed_since_start, __pending_for, __still_pending,
    Completed, PendingFor,
};
pub use eventually::{Eventually, Verdict, eventually};
pub(crate) use within::within_at;
pub use within::{Within, within};

/// Which helper a deadline belongs to, for its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    Within,
    CompletesWithin,
    PendingFor,
    CancelAfter,
}

impl What {
    fn name(self) -> &'static str {
        match self {
            What::Within => "within",
            What::CompletesWithin => "assert_completes_within!",
            What::PendingFor => "assert_pending_for!",
            What::CancelAfter => "cancel::after",
        }
    }

    fn path(self) -> &'static str {
        match self {
            What::Within => "async_testkit::within",
            What::CompletesWithin => "assert_completes_within!",
            What::PendingFor => "assert_pending_for!",
            What::CancelAfter => "async_testkit::cancel::after",
        }
    }
}

/// A future that missed its virtual deadline: where the deadline was set, when it
/// passed, and the kit tasks that were still pending, with their spawn sites.
///
/// `Display` (and `Debug`, so `unwrap()` shows it) print all of it:
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     let server = async_testkit::task::Builder::new()
///         .name("server")
///         .spawn(tokio::time::sleep(Duration::from_secs(60)));
///     let err = async_testkit::within(Duration::from_millis(1500), async {
///         tokio::time::sleep(Duration::from_secs(10)).await
///     })
///     .await
///     .unwrap_err();
///     let text = err.to_string();
///     assert!(text.starts_with("within(1.500s) at "), "{text}");
///     assert!(text.contains("timed out: the future was still pending at its deadline +1.500s"), "{text}");
///     assert!(text.contains("#1 \"server\" spawned at "), "{text}");
///     assert_eq!(err.pending_tasks().len(), 2); // the body and the server
///     server.abort();
/// });
/// ```
#[derive(Clone)]
pub struct TimedOut {
    what: What,
    site: &'static Location<'static>,
    limit: Duration,
    started: Duration,
    deadline: Duration,
    at: Duration,
    pending: Vec<String>,
}

impl TimedOut {
    /// The limit the future was given.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.limit(), Duration::from_secs(3));
    /// });
    /// ```
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The deadline, as virtual time since the run began.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.deadline(), Duration::from_secs(4));
    /// });
    /// ```
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The virtual time at which the future was found still pending (the deadline,
    /// unless the future was first polled after it).
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::from_secs(3), std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.elapsed(), Duration::from_secs(3));
    /// });
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.at
    }

    /// Where the deadline was set.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
    ///     assert_eq!(e.location().file(), file!());
    /// });
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.site
    }

    /// The kit tasks still pending when the deadline passed, one line each:
    /// `#1 "server" spawned at src/lib.rs:10:5: waiting, 1 poll, last polled +0s`.
    ///
    /// ```
    /// use std::time::Duration;
    /// async_testkit::run(async {
    ///     let e = async_testkit::within(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
    ///     assert!(e.pending_tasks()[0].starts_with("#0 test body spawned at "));
    /// });
    /// ```
    pub fn pending_tasks(&self) -> &[String] {
        &self.pending
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            What::CompletesWithin => write!(f, "assert_completes_within! failed at {}", self.site)?,
            other => write!(
                f,
                "{}({}) at {} timed out",
                other.name(),
                span(self.limit),
                self.site
            )?,
        }
        write!(
            f,
            ": the future was still pending at its deadline {}, {} after it started at {}",
            Vt(self.deadline),
            span(self.limit),
            Vt(self.started)
        )?;
        if self.at > self.deadline {
            write!(f, " (it was first polled after the deadline, at {})", Vt(self.at))?;
        }
        if self.what == What::CompletesWithin {
            write!(f, "; expected it to complete within {}", span(self.limit))?;
        }
        write!(f, "\ntasks still pending:")?;
        for line in &self.pending {
            write!(f, "\n  {line}")?;
        }
        write!(
            f,
            "\nIf the future should have finished by then, look at what the tasks above wait for; \
             if it may take longer, raise the limit."
        )
    }
}

impl fmt::Debug for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for TimedOut {}
