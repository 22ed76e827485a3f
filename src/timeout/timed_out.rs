//! [`TimedOut`]: what a deadline of this module reports, and [`What`] helper it was.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::trace::Vt;
use crate::trace::span;

/// Which helper a deadline belongs to, for its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    Within,
    CompletesWithin,
    PendingFor,
    CancelAfter,
}

impl What {
    pub(crate) fn name(self) -> &'static str {
        match self {
            What::Within => "within",
            What::CompletesWithin => "assert_completes_within!",
            What::PendingFor => "assert_pending_for!",
            What::CancelAfter => "cancel::after",
        }
    }

    pub(crate) fn path(self) -> &'static str {
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
    pub(crate) what: What,
    pub(crate) site: &'static Location<'static>,
    pub(crate) limit: Duration,
    pub(crate) started: Duration,
    pub(crate) deadline: Duration,
    pub(crate) at: Duration,
    pub(crate) pending: Vec<String>,
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
