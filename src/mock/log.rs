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

/// A call as the log keeps it: its times in whole nanoseconds since the origin, and its
/// outcome and whether it was awaited in the top bits of its end, so that a record of a
/// call with a one-word argument fits in 24 bytes (a test may make millions of calls).
pub(crate) struct Record<Args> {
    args: Args,
    /// The start, in the low `TIME_BITS`.
    started: u64,
    /// The end in the low `TIME_BITS` (`NOT_ENDED` while the call is pending), then
    /// `AWAITED`, then the outcome (`OUTCOME_SHIFT`).
    end: u64,
}

/// Bits of a time in a record: up to some 73 years of nanoseconds.
const TIME_MASK: u64 = (1 << 61) - 1;
/// The end of a pending call.
const NOT_ENDED: u64 = TIME_MASK;
/// A time too far for `TIME_MASK`, kept exactly in `Log::far`.
const FAR: u64 = TIME_MASK - 1;
const AWAITED: u64 = 1 << 61;
const OUTCOME_SHIFT: u32 = 62;

impl<Args> Record<Args> {
    fn ended(&self) -> u64 {
        self.end & TIME_MASK
    }

    fn awaited(&self) -> bool {
        self.end & AWAITED != 0
    }

    fn outcome(&self) -> Outcome {
        match self.end >> OUTCOME_SHIFT {
            0 => Outcome::Pending,
            1 => Outcome::Completed,
            2 => Outcome::Cancelled,
            _ => Outcome::Panicked,
        }
    }
}

fn outcome_bits(outcome: Outcome) -> u64 {
    let bits: u64 = match outcome {
        Outcome::Pending => 0,
        Outcome::Completed => 1,
        Outcome::Cancelled => 2,
        Outcome::Panicked => 3,
    };
    bits << OUTCOME_SHIFT
}

/// The calls of a mock, oldest first.
pub(crate) struct Log<Args> {
    records: Vec<Record<Args>>,
    /// The times written as `FAR`: call index, whether it is the end, the time.
    far: Vec<(usize, bool, Duration)>,
}

impl<Args> Log<Args> {
    pub(crate) fn new() -> Self {
        Log {
            records: Vec::new(),
            far: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.far.clear();
    }

    fn encode(&mut self, index: usize, end: bool, at: Duration) -> u64 {
        // Below `FAR` nanoseconds by a margin, without 128-bit arithmetic.
        const NEAR_SECS: u64 = 2_300_000_000;
        match at.as_secs() {
            secs if secs < NEAR_SECS => secs * 1_000_000_000 + u64::from(at.subsec_nanos()),
            _ => {
                self.far.push((index, end, at));
                FAR
            }
        }
    }

    fn decode(&self, index: usize, end: bool, n: u64) -> Duration {
        if n != FAR {
            return Duration::from_nanos(n);
        }
        let far = self.far.iter().rev().find(|f| f.0 == index && f.1 == end);
        far.map_or(Duration::MAX, |f| f.2)
    }

    /// Records a call made at `at`, pending; returns its index.
    pub(crate) fn push(&mut self, args: Args, at: Duration) -> usize {
        let index = self.records.len();
        let started = self.encode(index, false, at);
        self.records.push(Record {
            args,
            started,
            end: NOT_ENDED | outcome_bits(Outcome::Pending),
        });
        index
    }

    pub(crate) fn mark_awaited(&mut self, index: usize) {
        self.records[index].end |= AWAITED;
    }

    /// Records how call `index` ended, at `at`.
    pub(crate) fn end(&mut self, index: usize, at: Duration, outcome: Outcome, awaited_now: bool) {
        let ended = self.encode(index, true, at);
        let record = &mut self.records[index];
        let awaited = (record.end & AWAITED) | (u64::from(awaited_now) << AWAITED.trailing_zeros());
        record.end = ended | awaited | outcome_bits(outcome);
    }

    /// Records that call `index` was awaited and completed at the instant it was made.
    #[inline]
    pub(crate) fn complete_at_start(&mut self, index: usize) {
        let record = &mut self.records[index];
        let started = record.started;
        record.end = started | AWAITED | outcome_bits(Outcome::Completed);
        if started == FAR {
            let at = self.decode(index, false, FAR);
            self.far.push((index, true, at));
        }
    }

    /// Whether a call had arguments equal to `args`.
    pub(crate) fn any_args(&self, args: &Args) -> bool
    where
        Args: PartialEq,
    {
        self.records.iter().any(|r| r.args == *args)
    }

    /// Call `index` as [`Call`], its arguments cloned with `clone`.
    fn call(&self, index: usize, clone: fn(&Args) -> Args) -> Call<Args> {
        let r = &self.records[index];
        Call {
            args: clone(&r.args),
            started: self.decode(index, false, r.started),
            ended: (r.ended() != NOT_ENDED).then(|| self.decode(index, true, r.ended())),
            outcome: r.outcome(),
            awaited: r.awaited(),
        }
    }

    /// Every call, oldest first.
    pub(crate) fn calls(&self, clone: fn(&Args) -> Args) -> Vec<Call<Args>> {
        (0..self.len()).map(|i| self.call(i, clone)).collect()
    }

    /// The log as a table, one call a line, the arguments last.
    pub(crate) fn table(&self, label: &str, describe: fn(&Args) -> String) -> String {
        if self.records.is_empty() {
            return format!("{label} was never called");
        }
        let mut t = format!(
            "calls of {label} ({}):\n  {:>4}  {:<10} {:<10} {:<28} args",
            self.len(),
            "#",
            "called",
            "ended",
            "outcome"
        );
        for (i, r) in self.records.iter().enumerate() {
            let started = self.decode(i, false, r.started);
            let ended = if r.ended() == NOT_ENDED {
                "-".to_string()
            } else {
                Vt(self.decode(i, true, r.ended())).to_string()
            };
            let outcome = r.outcome();
            let outcome = if r.awaited() || outcome == Outcome::Completed {
                outcome.word().to_string()
            } else {
                format!("{} (never awaited)", outcome.word())
            };
            let _ = write!(
                t,
                "\n  {:>4}  {:<10} {:<10} {:<28} {}",
                i + 1,
                Vt(started).to_string(),
                ended,
                outcome,
                describe(&r.args)
            );
        }
        t
    }
}
