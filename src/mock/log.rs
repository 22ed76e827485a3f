//! The call log of a mock: one [`Call`] per call, and the table assertions print.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::trace::Vt;

/// How a call of a mock ended, or that it has not.
///
/// ```
/// use async_testkit::mock::{AsyncMock, Outcome};
/// async_testkit::run(async {
///     let mock = AsyncMock::<u32, u32>::new().returns(7);
///     mock.call(1).await;
///     drop(mock.call(2)); // dropped before it finished
///     let outcomes: Vec<Outcome> = mock.calls().iter().map(|c| c.outcome()).collect();
///     assert_eq!(outcomes, [Outcome::Completed, Outcome::Cancelled]);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The call's future is still alive and has not produced its value.
    Pending,
    /// The call's future produced its value.
    Completed,
    /// The call's future was dropped before it finished.
    Cancelled,
    /// The call panicked: a `panics(..)` behaviour, a `returns_with` future that panicked,
    /// or a call the mock could not answer (no behaviour, no matching branch, a used-up
    /// sequence).
    Panicked,
}

impl Outcome {
    /// `pending`, `completed`, `cancelled` or `panicked`.
    ///
    /// ```
    /// assert_eq!(async_testkit::mock::Outcome::Cancelled.word(), "cancelled");
    /// ```
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Completed => "completed",
            Outcome::Cancelled => "cancelled",
            Outcome::Panicked => "panicked",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One call of a mock, as recorded: its arguments, when it was made and when it ended in
/// virtual time, and how it ended.
///
/// ```
/// use std::time::Duration;
/// use async_testkit::mock::{AsyncMock, Outcome};
/// async_testkit::run(async {
///     let mock = AsyncMock::<&'static str, u32>::new().returns_after(Duration::from_secs(2), 1);
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     mock.call("a").await;
///     let call = &mock.calls()[0];
///     assert_eq!(call.args(), &"a");
///     assert_eq!(call.started(), Duration::from_secs(1));
///     assert_eq!(call.ended(), Some(Duration::from_secs(3)));
///     assert_eq!(call.outcome(), Outcome::Completed);
///     assert!(call.awaited());
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Call<Args> {
    pub(crate) args: Args,
    pub(crate) started: Duration,
    pub(crate) ended: Option<Duration>,
    pub(crate) outcome: Outcome,
    pub(crate) awaited: bool,
}

impl<Args> Call<Args> {
    /// The arguments the call was made with.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(u32, bool), ()>::new().returns(());
    ///     mock.call((3, true)).await;
    ///     assert_eq!(mock.calls()[0].args(), &(3, true));
    /// });
    /// ```
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Virtual time (since the run began) at which the call was made.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     tokio::time::sleep(Duration::from_millis(1500)).await;
    ///     mock.call(()).await;
    ///     assert_eq!(mock.calls()[0].started(), Duration::from_millis(1500));
    /// });
    /// ```
    pub fn started(&self) -> Duration {
        self.started
    }

    /// Virtual time at which the call completed, was cancelled or panicked; `None` while it
    /// is pending.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().hangs();
    ///     let call = mock.call(());
    ///     assert_eq!(mock.calls()[0].ended(), None);
    ///     tokio::time::sleep(Duration::from_secs(4)).await;
    ///     drop(call);
    ///     assert_eq!(mock.calls()[0].ended(), Some(Duration::from_secs(4)));
    /// });
    /// ```
    pub fn ended(&self) -> Option<Duration> {
        self.ended
    }

    /// How the call ended, or [`Outcome::Pending`].
    ///
    /// ```
    /// use async_testkit::mock::{AsyncMock, Outcome};
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let call = mock.call(());
    ///     assert_eq!(mock.calls()[0].outcome(), Outcome::Pending);
    ///     call.await;
    ///     assert_eq!(mock.calls()[0].outcome(), Outcome::Completed);
    /// });
    /// ```
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the call's future was polled at least once.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     drop(mock.call(()));
    ///     assert!(!mock.calls()[0].awaited());
    /// });
    /// ```
    pub fn awaited(&self) -> bool {
        self.awaited
    }
}

/// The call log as a table, one call a line, the arguments last.
pub(crate) fn table<Args>(label: &str, calls: &[Call<Args>], describe: fn(&Args) -> String) -> String {
    if calls.is_empty() {
        return format!("{label} was never called");
    }
    let mut t = format!(
        "calls of {label} ({}):\n  {:>4}  {:<10} {:<10} {:<28} args",
        calls.len(),
        "#",
        "called",
        "ended",
        "outcome"
    );
    for (i, c) in calls.iter().enumerate() {
        let ended = c.ended.map_or_else(|| "-".to_string(), |e| Vt(e).to_string());
        let outcome = if c.awaited || c.outcome == Outcome::Completed {
            c.outcome.word().to_string()
        } else {
            format!("{} (never awaited)", c.outcome.word())
        };
        let _ = write!(
            t,
            "\n  {:>4}  {:<10} {:<10} {:<28} {}",
            i + 1,
            Vt(c.started).to_string(),
            ended,
            outcome,
            describe(&c.args)
        );
    }
    t
}
