//! Async mocks on virtual time: [`AsyncMock`], its call log, [`Gate`]s.
//!
//! An `AsyncMock<Args, Ret>` stands in for an async function taking `Args` (a tuple for
//! several arguments) and returning `Ret`. It is a cloneable handle: the code under test
//! holds one clone, the test keeps another, and both see the same behaviour and the same
//! call log.
//!
//! - **Behaviour**: [`returns`](AsyncMock::returns), [`returns_after`](AsyncMock::returns_after),
//!   [`returns_seq`](AsyncMock::returns_seq), [`returns_with`](AsyncMock::returns_with),
//!   [`fails`](AsyncMock::fails), [`panics`](AsyncMock::panics), [`hangs`](AsyncMock::hangs),
//!   [`delay`](AsyncMock::delay), [`jitter`](AsyncMock::jitter) (seeded by the run),
//!   [`gate`](AsyncMock::gate), and [`when`](AsyncMock::when) branches with their own.
//! - **Record**: every call with its arguments, virtual start and end time, and outcome
//!   ([`Outcome`]): completed, cancelled (dropped before it finished), panicked or still
//!   pending. Counters keep called, awaited, completed and cancelled apart, plus
//!   [`max_in_flight`](AsyncMock::max_in_flight). The times are read from tokio's clock
//!   once per poll of a kit task and shared by the calls of that poll: inside a poll the
//!   clock moves only by `tokio::time::advance`, which wakes the task, and the first call
//!   after that reads the clock again, as does the first call after a [`Probe`](crate::Probe)
//!   polled a future. The one move this cannot see is an `advance` polled by hand with a
//!   foreign waker (a no-op waker, tokio-test's task) followed by a call in the same poll:
//!   that call gets the time before the move.
//! - **Assertions** print the whole call log as a table when they fail;
//!   [`wait_for_calls`](AsyncMock::wait_for_calls) waits on virtual time.
//! - **Scripted I/O**: [`io::IoScript`] plays reads, writes, waits and errors on virtual
//!   time, and fails the test (never hangs) when the code does not follow the script.
//! - **Scripted streams**: [`stream::StreamScript`] yields items with waits between them,
//!   and fails the test if items are left untaken.
//! - **mockall**: `mock::mockall` has futures for mockall expectations of methods that
//!   return futures (with any mockall version: they need nothing from it).
//! - **Expectations** ([`expect_calls`](AsyncMock::expect_calls)) are checked by the
//!   runtime when the test body has returned, so a mock held by a task that panicked is
//!   still checked; outside a kit run they are checked when the last handle drops.
//! - **Across runs**: build a mock inside the test's closure, so that each run has its
//!   own. A mock built outside it is shared by the runs of the test (the schedules of an
//!   exploration, a failure's replays): each of them starts the mock's calls, counts and
//!   branch matches afresh, and checks its expectations at its end whether it used the
//!   mock or not. Values a [`returns_seq`](AsyncMock::returns_seq) gave an earlier run
//!   are gone (the message of a call that finds none says so); [`Gate`]s and scripts are
//!   not reset. Separate runs (two `async_testkit::run` calls) add to one record.
//!
//! ```
//! use std::time::Duration;
//! use async_testkit::mock::AsyncMock;
//!
//! async_testkit::run(async {
//!     let fetch = AsyncMock::<u32, Result<String, String>>::named("fetch")
//!         .returns_after(Duration::from_millis(200), Ok("user".to_string()));
//!     fetch.when(|id| *id == 0).fails("no such user".to_string());
//!     fetch.expect_calls(2);
//!
//!     assert_eq!(fetch.call(7).await.unwrap(), "user");
//!     assert_eq!(fetch.call(0).await.unwrap_err(), "no such user");
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(200));
//!     fetch.assert_called_with(7);
//!     fetch.assert_awaited_times(2);
//! });
//! ```

mod call;
mod gate;
pub mod io;
mod log;
pub mod mockall;
mod script;
mod state;
pub mod stream;
mod times;

use std::fmt;
use std::future::Future;
use std::ops::{Bound, RangeBounds};
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use self::log::Log;
pub use call::{MockCall, WaitForCalls};
pub use gate::{Entered, Gate};
pub use log::{Call, Outcome};
pub use times::Times;

use self::call::{Answer, Rest, Wait};
use self::state::{Behaviour, Producer, Shared, State, Steady};
use self::times::Expect;
use crate::runtime::executor;
use crate::runtime::family::{self, Adopted, Owner};
use crate::schedule::SplitMix64;
use crate::time::poll_mark;
use crate::util::nanos;

/// A mock async function from `Args` to `Ret`, on virtual time.
///
/// Configuration methods take `&self` and return another handle to the same mock, so
/// they chain from [`AsyncMock::new`] and work just as well on a clone held elsewhere.
/// A [`when`](AsyncMock::when) branch is such a handle too: the behaviour methods called
/// on it configure the branch; everything else (calls, log, counters, assertions) is the
/// whole mock's.
///
/// Several arguments are one tuple: `AsyncMock<(String, u32), bool>`.
///
/// ```
/// use async_testkit::mock::AsyncMock;
///
/// async_testkit::run(async {
///     let mock = AsyncMock::<(String, u32), String>::new()
///         .returns_with(|(name, n)| async move { format!("hello {name} #{n}") });
///     assert_eq!(mock.call(("ada".into(), 1)).await, "hello ada #1");
///     mock.assert_called_times(1);
/// });
/// ```
pub struct AsyncMock<Args, Ret> {
    shared: Arc<Shared<Args, Ret>>,
    /// `None`: the mock itself; `Some(i)`: its `i`th `when` branch.
    branch: Option<usize>,
}

impl<Args, Ret> Clone for AsyncMock<Args, Ret> {
    fn clone(&self) -> Self {
        AsyncMock {
            shared: self.shared.clone(),
            branch: self.branch,
        }
    }
}

impl<Args, Ret> fmt::Debug for AsyncMock<Args, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        f.debug_struct("AsyncMock")
            .field("mock", &self.shared.label())
            .field("calls", &state.calls.len())
            .field("branches", &state.branches.len())
            .finish_non_exhaustive()
    }
}

/// Whether a call takes the short path (`AsyncMock::call_simple`): a mock already
/// adopted by this thread's run (`run`, 0 for none), with a steady value and nothing else
/// configured (no `when` branch, sequence, delay, jitter or gate) and no
/// `wait_for_calls` waiting.
#[inline]
fn simple<Args, Ret>(state: &State<Args, Ret>, run: u64) -> bool {
    let root = &state.root;
    matches!(root.steady, Steady::Value(..))
        && state.branches.is_empty()
        && state.waiters.is_empty()
        && root.seq.is_empty()
        && root.delay.is_zero()
        && root.jitter.is_none()
        && root.gate.is_none()
        && (run == 0 || state.run == run)
}

/// A call's plan, decided when it is made.
enum Plan<Args, Ret> {
    Ready(Answer<Ret>),
    Produce(Producer<Args, Ret>),
}

/// How many latency levels a jittered call chooses from inside a run.
const JITTER_LEVELS: u64 = 16;

/// The extra latency of `level` out of `levels`, evenly spaced over `[0, width]`. tokio's
/// timers round deadlines up to whole milliseconds, so when the range spans one, levels
/// fall on whole milliseconds (rounded down) and stay inside an exclusive upper bound.
fn level_nanos(width: u64, level: u64, levels: u64) -> u64 {
    const MS: u64 = 1_000_000;
    let exact = ((u128::from(width) * u128::from(level)) / u128::from(levels - 1)) as u64;
    if width >= MS { exact / MS * MS } else { exact }
}

/// Draws a jitter in `[low, low + width]`.
fn draw(low: Duration, width: u64, random: u64) -> Duration {
    let extra = if width == u64::MAX {
        random
    } else {
        ((u128::from(random) * (u128::from(width) + 1)) >> 64) as u64
    };
    low + Duration::from_nanos(extra)
}

impl<Args: Clone + fmt::Debug + 'static, Ret: 'static> AsyncMock<Args, Ret> {
    /// A mock without behaviour yet; reports call it "the mock created at" this call's
    /// location. Calls fail until a behaviour is set.
    ///
    /// ```
    /// let mock = async_testkit::mock::AsyncMock::<u32, u32>::new().returns(1);
    /// assert_eq!(mock.call_count(), 0);
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        Self::build(None, Location::caller(), |a| format!("{a:?}"))
    }

    /// A mock with a name, used in every message about it.
    ///
    /// ```
    /// let mock = async_testkit::mock::AsyncMock::<u32, u32>::named("fetch");
    /// assert_eq!(mock.name(), Some("fetch"));
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        Self::build(Some(name.into()), Location::caller(), |a| format!("{a:?}"))
    }
}

impl<Args: Clone + 'static, Ret: 'static> AsyncMock<Args, Ret> {
    /// For `#[async_testkit::mock]`: arguments need not be `Debug`.
    #[doc(hidden)]
    #[track_caller]
    pub fn __for_trait(name: &str, describe: fn(&Args) -> String) -> Self {
        Self::build(Some(name.to_string()), Location::caller(), describe)
    }

    fn build(name: Option<String>, site: &'static Location<'static>, describe: fn(&Args) -> String) -> Self {
        let clone_args: fn(&Args) -> Args = Args::clone;
        let mock = AsyncMock {
            shared: Arc::new(Shared {
                locked: Mutex::new(State {
                    calls: Log::new(),
                    awaited: 0,
                    completed: 0,
                    cancelled: 0,
                    in_flight: 0,
                    max_in_flight: 0,
                    root: Behaviour::new(None, site),
                    branches: Vec::new(),
                    waiters: Vec::new(),
                    owner: Owner::here(),
                    earlier_runs: 0,
                    generation: 0,
                    origin: Instant::now(),
                    rng: SplitMix64::new(0),
                    stamp: (0, Duration::ZERO),
                    run: 0,
                }),
                name,
                site,
                describe,
                clone_args,
                done: AtomicU64::new(0),
            }),
            branch: None,
        };
        if let Some(core) = executor::try_current() {
            mock.register(&core);
        }
        mock
    }
}

impl<Args: Clone + fmt::Debug + 'static, Ret: 'static> Default for AsyncMock<Args, Ret> {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<Args: 'static, Ret: 'static> AsyncMock<Args, Ret> {
    /// Has the run `core` check this mock's expectations at its end (once per run).
    fn register(&self, core: &executor::Executor) {
        let adopted = self.shared.adopt(&mut self.shared.state(), core);
        self.adopted(adopted, core);
    }

    /// What a run that adopted the mock does: check it at its end, and have the later
    /// runs of its test adopt it as they start, whether or not they use it.
    fn adopted(&self, adopted: Adopted, core: &executor::Executor) {
        if adopted == Adopted::Already {
            return;
        }
        self.end_check(core);
        if adopted == Adopted::FirstOfFamily && self.shared.state().owner.outlives_runs() {
            family::adopt_each_run(&self.shared, |shared, core| {
                AsyncMock { shared, branch: None }.register(core);
            });
        }
    }

    fn end_check(&self, core: &executor::Executor) {
        let shared = self.shared.clone();
        core.at_end(Box::new(move || shared.verify()));
    }

    /// Changes the behaviour this handle configures (the mock's, or its branch's).
    fn configure(&self, f: impl FnOnce(&mut Behaviour<Args, Ret>)) -> Self {
        {
            let mut state = self.shared.state();
            let behaviour = match self.branch {
                Some(i) => &mut state.branches[i],
                None => &mut state.root,
            };
            f(behaviour);
        }
        self.clone()
    }

    /// The mock's name, if it was made with [`AsyncMock::named`].
    ///
    /// ```
    /// let mock = async_testkit::mock::AsyncMock::<(), ()>::new();
    /// assert_eq!(mock.name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.name.as_deref()
    }

    /// Every call answers with a clone of `value`. A [`returns_seq`](Self::returns_seq)
    /// sequence, if any, is used first.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u32>::new().returns(3);
    ///     assert_eq!(mock.call(()).await + mock.call(()).await, 6);
    /// });
    /// ```
    pub fn returns(&self, value: Ret) -> Self
    where
        Ret: Clone,
    {
        self.configure(|b| b.steady = Steady::Value(value, Ret::clone))
    }

    /// Like [`returns`](Self::returns), with each call taking `delay` of virtual time
    /// (it sets [`delay`](Self::delay) too).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u32>::new().returns_after(Duration::from_secs(2), 3);
    ///     assert_eq!(mock.call(()).await, 3);
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(2));
    /// });
    /// ```
    pub fn returns_after(&self, delay: Duration, value: Ret) -> Self
    where
        Ret: Clone,
    {
        self.configure(|b| {
            b.steady = Steady::Value(value, Ret::clone);
            b.delay = delay;
        })
    }

    /// The next calls answer with these values, one each, in order. When they are used
    /// up, the steady behaviour set by `returns`, `returns_with`, `fails`, `panics` or
    /// `hangs` answers; without one, the call fails, saying the sequence ran out.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), Result<u32, &str>>::new()
    ///         .returns_seq([Err("busy"), Err("busy"), Ok(1)])
    ///         .returns(Ok(0)); // the fallback once the sequence is spent
    ///     let got = [mock.call(()).await, mock.call(()).await, mock.call(()).await, mock.call(()).await];
    ///     assert_eq!(got, [Err("busy"), Err("busy"), Ok(1), Ok(0)]);
    /// });
    /// ```
    pub fn returns_seq(&self, values: impl IntoIterator<Item = Ret>) -> Self {
        self.configure(|b| {
            let before = b.seq.len();
            b.seq.extend(values);
            b.seq_given += b.seq.len() - before;
        })
    }

    /// The next call answers with `value`, once: for a value that is not `Clone` (a
    /// stream, a channel's receiver, a `Box<dyn Error>`). Several `returns_once` queue
    /// their values in order, after any [`returns_seq`](Self::returns_seq) values given
    /// before. When they are used up, the steady behaviour answers; without one, the next
    /// call fails, naming the mock and the call's site. For a non-`Clone` value on every
    /// call, build one per call with [`returns_with`](Self::returns_with).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// use tokio::sync::mpsc;
    ///
    /// async_testkit::run(async {
    ///     let (tx, rx) = mpsc::channel::<u32>(1);
    ///     let subscribe = AsyncMock::<(), mpsc::Receiver<u32>>::new().returns_once(rx);
    ///     let mut events = subscribe.call(()).await;
    ///     tx.send(7).await.unwrap();
    ///     assert_eq!(events.recv().await, Some(7));
    /// });
    /// ```
    pub fn returns_once(&self, value: Ret) -> Self {
        self.configure(|b| {
            b.seq.push_back(value);
            b.seq_given += 1;
            b.once_given += 1;
        })
    }

    /// Every call answers with the future `f(args)` returns: it runs on virtual time, so
    /// it may sleep, wait on channels, or call other mocks. The closure and its futures
    /// must be `Send`, so that the mock's calls can run on `tokio::spawn`ed tasks too.
    ///
    /// The closure makes a fresh value for each call, so `Ret` need not be `Clone`: this
    /// is how to answer every call with a channel, a stream or a boxed error (see also
    /// [`returns_once`](Self::returns_once), [`returns_ok`](Self::returns_ok) and
    /// [`fails_with`](Self::fails_with)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u64, u64>::new().returns_with(|secs| async move {
    ///         tokio::time::sleep(Duration::from_secs(secs)).await;
    ///         secs * 10
    ///     });
    ///     assert_eq!(mock.call(3).await, 30);
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(3));
    /// });
    /// ```
    pub fn returns_with<F, Fut>(&self, f: F) -> Self
    where
        F: Fn(Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Ret> + Send + 'static,
    {
        let producer: Producer<Args, Ret> = Arc::new(move |args| Box::pin(f(args)));
        self.configure(|b| b.steady = Steady::With(producer))
    }

    /// Every call panics with `message` (after its gate and delay), as a broken
    /// dependency would; the call is recorded as [`Outcome::Panicked`].
    ///
    /// ```
    /// use async_testkit::mock::{AsyncMock, Outcome};
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().panics("driver crashed");
    ///     let t = async_testkit::spawn(mock.call(()));
    ///     let err = t.await.unwrap_err();
    ///     assert_eq!(err.into_panic().downcast_ref::<String>().unwrap(), "driver crashed");
    ///     assert_eq!(mock.calls()[0].outcome(), Outcome::Panicked);
    /// });
    /// ```
    pub fn panics(&self, message: impl Into<String>) -> Self {
        let message = message.into();
        self.configure(|b| b.steady = Steady::Panic(message))
    }

    /// Every call stays pending for ever (until it is dropped, which records it as
    /// cancelled). With nothing else to do, the run then reports a deadlock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().hangs();
    ///     let r = tokio::time::timeout(Duration::from_secs(30), mock.call(())).await;
    ///     assert!(r.is_err());
    ///     mock.assert_cancelled_times(1);
    /// });
    /// ```
    pub fn hangs(&self) -> Self {
        self.configure(|b| b.steady = Steady::Hang)
    }

    /// Each call takes `delay` of virtual time before it answers (after its gate, if any).
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u8>::new().returns(1).delay(Duration::from_millis(300));
    ///     mock.call(()).await;
    ///     assert_eq!(mock.calls()[0].ended(), Some(Duration::from_millis(300)));
    /// });
    /// ```
    pub fn delay(&self, delay: Duration) -> Self {
        self.configure(|b| b.delay = delay)
    }

    /// Adds to each call's delay a duration drawn from `range`, from the run's seeded
    /// generator: the same seed gives the same latencies, so a replay reproduces them.
    /// (Outside a kit run, the draws come from a generator of the mock's own, seeded 0.)
    ///
    /// # Panics
    ///
    /// If the range has no upper bound or is empty.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// let latencies = |seed| {
    ///     async_testkit::Builder::new().seed(seed).run(|| async {
    ///         let mock = AsyncMock::<(), ()>::new()
    ///             .returns(())
    ///             .jitter(Duration::from_millis(10)..=Duration::from_millis(50));
    ///         for _ in 0..5 {
    ///             mock.call(()).await;
    ///         }
    ///         mock.calls().iter().map(|c| c.ended().unwrap() - c.started()).collect::<Vec<_>>()
    ///     })
    /// };
    /// let a = latencies(7);
    /// assert_eq!(a, latencies(7));
    /// assert!(a.iter().all(|d| (Duration::from_millis(10)..=Duration::from_millis(50)).contains(d)));
    /// ```
    #[track_caller]
    pub fn jitter(&self, range: impl RangeBounds<Duration>) -> Self {
        let site = Location::caller();
        let low = match range.start_bound() {
            Bound::Included(d) => *d,
            Bound::Excluded(d) => *d + Duration::from_nanos(1),
            Bound::Unbounded => Duration::ZERO,
        };
        let high = match range.end_bound() {
            Bound::Included(d) => Some(*d),
            Bound::Excluded(d) => d.checked_sub(Duration::from_nanos(1)),
            Bound::Unbounded => panic!(
                "jitter at {site} needs a range with an upper bound, like \
                 Duration::from_millis(10)..Duration::from_millis(50)"
            ),
        };
        let Some(high) = high.filter(|h| *h >= low) else {
            panic!("jitter at {site} was given an empty range: write it as low..high with low < high");
        };
        let width = nanos(high - low);
        self.configure(|b| b.jitter = Some((low, width)))
    }

    /// Puts a gate on the calls: each call that reaches it waits until the test lets it
    /// through with the returned [`Gate`] (see there). The gate comes before the delay.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u8>::new().returns(9);
    ///     let gate = mock.gate();
    ///     let call = async_testkit::spawn(mock.call(()));
    ///     gate.entered().await;
    ///     assert_eq!(mock.completed_count(), 0);
    ///     gate.release();
    ///     assert_eq!(call.await.unwrap(), 9);
    /// });
    /// ```
    pub fn gate(&self) -> Gate {
        let gate = Gate::default();
        let g = gate.clone();
        self.configure(|b| b.gate = Some(g));
        gate
    }

    /// Adds a branch: calls whose arguments satisfy `predicate` are answered by the
    /// branch's own behaviour, set through the returned handle. Branches are tried in the
    /// order they were added; a call no branch matches gets the mock's own behaviour, and
    /// fails (listing the branches and the arguments) if the mock has none.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let price = AsyncMock::<&'static str, Option<u32>>::new().returns(None);
    ///     price.when(|item| *item == "tea").returns(Some(3));
    ///     price.when(|item| item.starts_with("co")).returns(Some(4)).expect_calls(1);
    ///     assert_eq!(price.call("tea").await, Some(3));
    ///     assert_eq!(price.call("coffee").await, Some(4));
    ///     assert_eq!(price.call("water").await, None);
    /// });
    /// ```
    #[track_caller]
    pub fn when(&self, predicate: impl Fn(&Args) -> bool + Send + Sync + 'static) -> Self {
        let site = Location::caller();
        let mut state = self.shared.state();
        state
            .branches
            .push(Behaviour::new(Some(Box::new(predicate)), site));
        AsyncMock {
            shared: self.shared.clone(),
            branch: Some(state.branches.len() - 1),
        }
    }

    /// Expects this many calls (of the mock, or of this branch when called on a `when`
    /// handle): a number or a range (`2`, `1..=3`, `2..`, `..5`). The run checks it when
    /// the test body has returned, and fails the test with the call log if it is not met;
    /// outside a kit run it is checked when the last handle drops.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// let f = async_testkit::Builder::new()
    ///     .try_run(|| async {
    ///         let mock = AsyncMock::<u32, ()>::named("notify").returns(()).expect_calls(2..);
    ///         mock.call(1).await;
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(f.kind(), async_testkit::FailureKind::Expectation);
    /// assert!(f.headline().starts_with("mock `notify` expected at least 2 calls, got 1"));
    /// ```
    #[track_caller]
    pub fn expect_calls(&self, times: impl Times) -> Self {
        let (min, max) = times.bounds();
        let expect = Expect {
            min,
            max,
            site: Location::caller(),
        };
        if let Some(core) = executor::try_current() {
            self.register(&core);
        }
        self.configure(|b| b.expect = Some(expect))
    }

    /// Calls the mock: records the call now (arguments, virtual time) and returns the
    /// future of its answer.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u32, u32>::new().returns_with(|x| async move { x + 1 });
    ///     assert_eq!(mock.call(41).await, 42);
    /// });
    /// ```
    #[track_caller]
    pub fn call(&self, args: Args) -> MockCall<Args, Ret> {
        let site = Location::caller();
        let (run, mark) = poll_mark();
        let mut guard = self.shared.state_inlined();
        let state = &mut *guard;
        if simple(state, run) {
            return self.call_simple(state, mark, &args);
        }
        let core = if run == 0 { None } else { executor::try_current() };
        let core = core.as_deref();
        let adopted = match core {
            Some(c) if state.run != c.run_id => self.shared.adopt(state, c),
            _ => Adopted::Already,
        };
        let now = state.now(mark);
        let index = state.calls.push((self.shared.clone_args)(&args), now);
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        let matched = if state.branches.is_empty() {
            None
        } else {
            state
                .branches
                .iter()
                .position(|b| b.predicate.as_ref().is_some_and(|p| p(&args)))
        };
        let unmatched = matched.is_none()
            && !state.branches.is_empty()
            && state.root.seq.is_empty()
            && matches!(state.root.steady, Steady::Unset);
        let unmatched = unmatched.then(|| self.unmatched(state, index, &args, site));
        let earlier_runs = state.earlier_runs;
        let behaviour = match matched {
            Some(i) => &mut state.branches[i],
            None => &mut state.root,
        };
        behaviour.matched += 1;
        let plan = match unmatched {
            Some(message) => Plan::Ready(Answer::Panic(message)),
            None => self.plan(behaviour, index, &args, site, earlier_runs),
        };
        let mut delay = behaviour.delay;
        if let Some((low, width)) = behaviour.jitter {
            delay += match core {
                // In a run, the latency is a choice point: one of up to 16 evenly spaced
                // levels, drawn from the run's seed and replayed with its schedule.
                Some(c) => {
                    let levels = width.min(JITTER_LEVELS - 1) + 1;
                    let level = u64::from(c.choose_level(levels as u32));
                    low + Duration::from_nanos(if levels == 1 {
                        0
                    } else {
                        level_nanos(width, level, levels)
                    })
                }
                None => draw(low, width, state.rng.next_u64()),
            };
        }
        let gate = behaviour.gate.as_ref().map(Gate::pass);
        let wait = (gate.is_some() || !delay.is_zero()).then(|| Wait::new(gate, delay));
        let woken = if state.waiters.is_empty() {
            Vec::new()
        } else {
            state.take_waiters()
        };
        let (answer, produce) = match plan {
            Plan::Ready(answer) => (Some(answer), None),
            Plan::Produce(f) => (None, Some(f)),
        };
        let mut call = MockCall::new(self.shared.clone(), (index, state.generation, mark), wait, answer);
        drop(guard);
        if adopted != Adopted::Already {
            if let Some(core) = core {
                self.adopted(adopted, core);
            }
        }
        for w in woken {
            w.wake();
        }
        // The user's closure runs outside the mock's lock: it may call the mock.
        if let Some(f) = produce {
            let answer = Answer::Future(f(args));
            let rest = call.rest.get_or_insert_with(|| {
                Box::new(Rest {
                    wait: None,
                    answer: None,
                })
            });
            rest.answer = Some(answer);
        }
        call
    }

    /// The common call, in a few steps, for a call [`simple`] admits: it records the call
    /// as the general path does.
    #[inline]
    fn call_simple(&self, state: &mut State<Args, Ret>, mark: u64, args: &Args) -> MockCall<Args, Ret> {
        let now = state.now(mark);
        let index = state.calls.push((self.shared.clone_args)(args), now);
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state.root.matched += 1;
        let Steady::Value(value, clone) = &state.root.steady else {
            unreachable!("checked above");
        };
        MockCall {
            shared: self.shared.clone(),
            index,
            generation: state.generation,
            mark,
            value: Some(clone(value)),
            rest: None,
            awaited: false,
            finished: false,
            producing: false,
        }
    }

    /// What the behaviour answers to this call.
    fn plan(
        &self,
        b: &mut Behaviour<Args, Ret>,
        index: usize,
        args: &Args,
        site: &Location<'_>,
        earlier_runs: u32,
    ) -> Plan<Args, Ret> {
        if let Some(v) = b.seq.pop_front() {
            return Plan::Ready(Answer::Value(v));
        }
        let answer = match &b.steady {
            Steady::Value(v, clone) => Answer::Value(clone(v)),
            Steady::With(f) => return Plan::Produce(f.clone()),
            Steady::Panic(m) => Answer::Panic(m.clone()),
            Steady::Hang => Answer::Hang,
            Steady::Unset => {
                let what = self.call_words(index, args, site);
                let which = match self.branch_of(b) {
                    Some(branch) => branch,
                    None => self.shared.label(),
                };
                let gave = match (b.seq_given - b.once_given, b.once_given) {
                    (0, once) => format!("returns_once gave {once}"),
                    (_, 0) => format!("returns_seq gave {}", b.seq_given),
                    (seq, once) => format!("returns_seq and returns_once gave {}", seq + once),
                };
                Answer::Panic(if b.seq_given > 0 && earlier_runs > 0 {
                    format!(
                        "{which} ran out of values: {gave} and {what} needed one more.\n\
                         The mock was built outside the test's closure, and {} earlier run{} of this test \
                         (the schedules of an exploration, a failure's replays) took values from it: each \
                         run starts the mock's calls and counts afresh, not its queued values. Build the mock \
                         inside the closure, so that each run has its own.",
                        earlier_runs,
                        if earlier_runs == 1 { "" } else { "s" }
                    )
                } else if b.once_given > 0 {
                    format!(
                        "{which} ran out of values: {gave} and {what} needed one more.\n\
                         Give each call its value with returns_once(..), or answer every call with \
                         returns_with(..), which builds a fresh value per call (returns(..) needs a Clone value)."
                    )
                } else if b.seq_given > 0 {
                    format!(
                        "{which} ran out of values: {gave} and {what} needed one more.\n\
                         Give returns_seq more values, or a fallback after them with returns(..)."
                    )
                } else {
                    format!(
                        "{which} has no behaviour for {what}.\n\
                         Give it one with returns(..), returns_seq(..), returns_once(..), returns_with(..), \
                         fails(..), panics(..) or hangs()."
                    )
                })
            }
        };
        Plan::Ready(answer)
    }

    /// `branch 2 (when at src/x.rs:3:4) of mock `x`` for a branch behaviour.
    fn branch_of(&self, b: &Behaviour<Args, Ret>) -> Option<String> {
        b.predicate
            .as_ref()
            .map(|_| format!("the branch when(..) at {} of {}", b.site, self.shared.label()))
    }

    fn call_words(&self, index: usize, args: &Args, site: &Location<'_>) -> String {
        format!(
            "call #{} with arguments {} (called at {site})",
            index + 1,
            (self.shared.describe)(args)
        )
    }

    fn unmatched(&self, state: &State<Args, Ret>, index: usize, args: &Args, site: &Location<'_>) -> String {
        let mut m = format!(
            "{} has no branch matching {}.\nbranches, tried in order:",
            self.shared.label(),
            self.call_words(index, args, site)
        );
        for (i, b) in state.branches.iter().enumerate() {
            m.push_str(&format!("\n  {}. when(..) at {}", i + 1, b.site));
        }
        m.push_str(
            "\nAdd a when(..) branch that matches these arguments, or a default behaviour on the mock \
             itself with returns(..).",
        );
        m
    }

    /// A copy of the call log, oldest call first.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u32, ()>::new().returns(());
    ///     mock.call(1).await;
    ///     mock.call(2).await;
    ///     let args: Vec<u32> = mock.calls().iter().map(|c| *c.args()).collect();
    ///     assert_eq!(args, [1, 2]);
    /// });
    /// ```
    pub fn calls(&self) -> Vec<Call<Args>> {
        self.shared.state().calls.calls(self.shared.clone_args)
    }

    /// How many times the mock was called (awaited or not).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let _never_awaited = mock.call(());
    ///     assert_eq!(mock.call_count(), 1);
    /// });
    /// ```
    pub fn call_count(&self) -> usize {
        self.shared.state().calls.len()
    }

    /// How many calls were awaited (their future polled at least once).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let _never_awaited = mock.call(());
    ///     mock.call(()).await;
    ///     assert_eq!(mock.await_count(), 1);
    /// });
    /// ```
    pub fn await_count(&self) -> usize {
        self.shared.state().awaited
    }

    /// How many calls produced their value.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     mock.call(()).await;
    ///     assert_eq!(mock.completed_count(), 1);
    /// });
    /// ```
    pub fn completed_count(&self) -> usize {
        self.shared.state().completed
    }

    /// How many calls were dropped before they finished.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     drop(mock.call(()));
    ///     assert_eq!(mock.cancelled_count(), 1);
    /// });
    /// ```
    pub fn cancelled_count(&self) -> usize {
        self.shared.state().cancelled
    }

    /// How many calls are in flight now: made, and not yet completed, cancelled or
    /// panicked.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().hangs();
    ///     let call = mock.call(());
    ///     assert_eq!(mock.in_flight(), 1);
    ///     drop(call);
    ///     assert_eq!(mock.in_flight(), 0);
    /// });
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared.state().in_flight
    }

    /// The most calls that were in flight at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u32, ()>::new().returns_after(Duration::from_secs(1), ());
    ///     let (a, b) = (mock.call(1), mock.call(2));
    ///     tokio::join!(a, b);
    ///     mock.call(3).await;
    ///     assert_eq!(mock.max_in_flight(), 2);
    /// });
    /// ```
    pub fn max_in_flight(&self) -> usize {
        self.shared.state().max_in_flight
    }

    /// Waits (on virtual time) until the mock has been called at least `n` times in all.
    /// Bound the wait with [`WaitForCalls::within`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let m = mock.clone();
    ///     let t = async_testkit::spawn(async move {
    ///         tokio::time::sleep(Duration::from_secs(9)).await;
    ///         m.call(()).await
    ///     });
    ///     mock.wait_for_calls(1).await;
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(9));
    ///     t.await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn wait_for_calls(&self, n: usize) -> WaitForCalls<Args, Ret> {
        WaitForCalls {
            shared: self.shared.clone(),
            n,
            site: Location::caller(),
        }
    }

    /// The call log as the table assertions print.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u32, ()>::named("save").returns(());
    ///     mock.call(5).await;
    ///     assert!(mock.log_table().contains("completed"));
    /// });
    /// ```
    pub fn log_table(&self) -> String {
        self.shared.table()
    }

    #[track_caller]
    fn check(&self, ok: bool, what: &str, expected: impl fmt::Display, got: impl fmt::Display) {
        if !ok {
            panic!(
                "{}: expected {expected}, got {got} ({what} at {})\n{}",
                self.shared.label(),
                Location::caller(),
                self.shared.table()
            );
        }
    }

    /// Asserts the mock was called exactly `n` times.
    ///
    /// # Panics
    ///
    /// Otherwise, with the call log.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     mock.call(()).await;
    ///     mock.assert_called_times(1);
    /// });
    /// ```
    #[track_caller]
    pub fn assert_called_times(&self, n: usize) {
        let got = self.call_count();
        self.check(got == n, "assert_called_times", plural(n, "call"), got);
    }

    /// Asserts exactly `n` calls were awaited (their future polled at least once).
    ///
    /// # Panics
    ///
    /// Otherwise, with the call log.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let _not_awaited = mock.call(());
    ///     mock.call(()).await;
    ///     mock.assert_awaited_times(1);
    /// });
    /// ```
    #[track_caller]
    pub fn assert_awaited_times(&self, n: usize) {
        let got = self.await_count();
        self.check(got == n, "assert_awaited_times", plural(n, "awaited call"), got);
    }

    /// Asserts the mock was never called.
    ///
    /// # Panics
    ///
    /// Otherwise, with the call log.
    ///
    /// ```
    /// let mock = async_testkit::mock::AsyncMock::<(), ()>::new();
    /// mock.assert_not_called();
    /// ```
    #[track_caller]
    pub fn assert_not_called(&self) {
        let got = self.call_count();
        self.check(got == 0, "assert_not_called", "no calls", got);
    }

    /// Asserts exactly `n` calls were cancelled (dropped before they finished).
    ///
    /// # Panics
    ///
    /// Otherwise, with the call log.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().hangs();
    ///     drop(mock.call(()));
    ///     mock.assert_cancelled_times(1);
    /// });
    /// ```
    #[track_caller]
    pub fn assert_cancelled_times(&self, n: usize) {
        let got = self.cancelled_count();
        self.check(
            got == n,
            "assert_cancelled_times",
            plural(n, "cancelled call"),
            got,
        );
    }

    /// Asserts the most calls in flight at once was exactly `n`: proof that a concurrency
    /// limit of `n` was both reached and kept.
    ///
    /// # Panics
    ///
    /// Otherwise, with the call log.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     mock.call(()).await;
    ///     mock.call(()).await;
    ///     mock.assert_max_in_flight(1);
    /// });
    /// ```
    #[track_caller]
    pub fn assert_max_in_flight(&self, n: usize) {
        let got = self.max_in_flight();
        self.check(
            got == n,
            "assert_max_in_flight",
            format_args!("a peak of {} in flight", plural(n, "call")),
            got,
        );
    }
}

impl<Args: PartialEq + 'static, Ret: 'static> AsyncMock<Args, Ret> {
    /// Asserts that at least one call had these arguments.
    ///
    /// # Panics
    ///
    /// Otherwise, with the arguments and the call log.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(String, u32), ()>::new().returns(());
    ///     mock.call(("a".into(), 1)).await;
    ///     mock.assert_called_with(("a".into(), 1));
    /// });
    /// ```
    #[track_caller]
    pub fn assert_called_with(&self, args: Args) {
        let found = self.shared.state().calls.any_args(&args);
        self.check(
            found,
            "assert_called_with",
            format_args!("a call with arguments {}", (self.shared.describe)(&args)),
            "none",
        );
    }
}

impl<Args: 'static, T: 'static, E: Clone + 'static> AsyncMock<Args, Result<T, E>> {
    /// Every call answers `Err(error)`.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), Result<u8, String>>::new().fails("timeout".to_string());
    ///     assert_eq!(mock.call(()).await, Err("timeout".to_string()));
    /// });
    /// ```
    pub fn fails(&self, error: E) -> Self {
        fn clone_err<T, E: Clone>(r: &Result<T, E>) -> Result<T, E> {
            match r {
                Err(e) => Err(e.clone()),
                Ok(_) => unreachable!("fails(..) stores an Err"),
            }
        }
        self.configure(|b| b.steady = Steady::Value(Err(error), clone_err))
    }
}

impl<Args: 'static, T: 'static, E: 'static> AsyncMock<Args, Result<T, E>> {
    /// Every call answers `Ok` with a clone of `value`; the error type need not be
    /// `Clone`, so this works with tower's `BoxError` (`Box<dyn Error + Send + Sync>`).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// type BoxError = Box<dyn std::error::Error + Send + Sync>;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), Result<u8, BoxError>>::new().returns_ok(4);
    ///     assert_eq!(mock.call(()).await.unwrap(), 4);
    /// });
    /// ```
    pub fn returns_ok(&self, value: T) -> Self
    where
        T: Clone,
    {
        fn clone_ok<T: Clone, E>(r: &Result<T, E>) -> Result<T, E> {
            match r {
                Ok(v) => Ok(v.clone()),
                Err(_) => unreachable!("returns_ok(..) stores an Ok"),
            }
        }
        self.configure(|b| b.steady = Steady::Value(Ok(value), clone_ok))
    }

    /// Every call answers `Err(make())`: for an error that is not `Clone`, such as
    /// tower's `BoxError` (`Box<dyn Error + Send + Sync>`). A `Clone` error can use
    /// [`fails`](Self::fails).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// type BoxError = Box<dyn std::error::Error + Send + Sync>;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), Result<u8, BoxError>>::new().fails_with(|| "refused".into());
    ///     assert_eq!(mock.call(()).await.unwrap_err().to_string(), "refused");
    /// });
    /// ```
    pub fn fails_with(&self, make: impl Fn() -> E + Send + Sync + 'static) -> Self
    where
        T: Send,
        E: Send,
    {
        let producer: Producer<Args, Result<T, E>> = Arc::new(move |_| {
            let e = make();
            Box::pin(std::future::ready(Err(e)))
        });
        self.configure(|b| b.steady = Steady::With(producer))
    }
}

/// `1 call`, `2 calls`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests;
