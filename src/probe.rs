//! [`Probe`]: a future polled by hand, with a waker that counts, and the assertions that
//! go with it: [`assert_ready!`](crate::assert_ready),
//! [`assert_pending!`](crate::assert_pending), [`assert_ready_eq!`](crate::assert_ready_eq),
//! [`assert_ready_ok!`](crate::assert_ready_ok), [`assert_ready_err!`](crate::assert_ready_err).
//!
//! A probe is built on tokio-test's `task::spawn` (its mock task gives the waker and
//! `is_woken`); the probe adds a wake counter, a poll counter, a guard against polling a
//! finished future, and failure messages that name both the assertion's call site and
//! the probe's. It needs no kit run, but inside one (or any tokio runtime) the future
//! may use tokio's timers and I/O, and virtual time moves them.
//!
//! ```
//! use std::time::Duration;
//! use async_testkit::{Probe, assert_pending, assert_ready};
//!
//! async_testkit::run(async {
//!     let mut sleep = Probe::new(tokio::time::sleep(Duration::from_secs(5)));
//!     assert_pending!(sleep);
//!     assert!(!sleep.is_woken());
//!     async_testkit::time::advance(Duration::from_secs(5)).await;
//!     assert!(sleep.is_woken());
//!     assert_ready!(sleep);
//! });
//! ```
//!
//! **With tokio-test.** The macros also take a `std::task::Poll`, as tokio-test's
//! macros of the same names do, so code written for tokio-test keeps working when it
//! imports the kit's macros instead (a `Probe` adds the call sites and counters to the
//! messages):
//!
//! ```
//! use async_testkit::{assert_pending, assert_ready_eq};
//!
//! let (tx, rx) = tokio::sync::oneshot::channel();
//! let mut task = tokio_test::task::spawn(rx);
//! assert_pending!(task.poll());
//! tx.send(1).unwrap();
//! assert!(task.is_woken());
//! assert_ready_eq!(task.poll(), Ok(1));
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

use tokio_test::task::Spawn;

/// Forwards wakes to tokio-test's mock task waker, counting them.
struct CountingWaker {
    inner: Waker,
    count: Arc<AtomicUsize>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.count.fetch_add(1, SeqCst);
        self.inner.wake_by_ref();
    }
}

/// A future polled by hand: [`poll`](Probe::poll) it, ask whether its waker was called
/// ([`is_woken`](Probe::is_woken), [`wake_count`](Probe::wake_count)), and check its
/// state with the `assert_ready!` family of macros.
///
/// ```
/// use async_testkit::{Probe, assert_pending, assert_ready_eq};
///
/// async_testkit::run(async {
///     let (tx, rx) = tokio::sync::oneshot::channel();
///     let mut rx = Probe::new(rx);
///     assert_pending!(rx);
///     tx.send(7).unwrap();
///     assert!(rx.is_woken());
///     assert_eq!(rx.wake_count(), 1);
///     assert_ready_eq!(rx, Ok(7));
/// });
/// ```
pub struct Probe<F> {
    task: Spawn<F>,
    wakes: Arc<AtomicUsize>,
    polls: usize,
    finished_at: Option<&'static Location<'static>>,
    site: &'static Location<'static>,
}

impl<F> fmt::Debug for Probe<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("site", &self.site)
            .field("polls", &self.polls)
            .field("wakes", &self.wakes.load(SeqCst))
            .field("finished", &self.finished_at.is_some())
            .finish()
    }
}

impl<F: Future> Probe<F> {
    /// Wraps a future (anything `IntoFuture`) without polling it.
    ///
    /// ```
    /// let p = async_testkit::Probe::new(async { 1 });
    /// assert_eq!(p.poll_count(), 0);
    /// ```
    #[track_caller]
    pub fn new(fut: impl IntoFuture<IntoFuture = F>) -> Self {
        Probe {
            task: tokio_test::task::spawn(fut.into_future()),
            wakes: Arc::new(AtomicUsize::new(0)),
            polls: 0,
            finished_at: None,
            site: Location::caller(),
        }
    }

    /// Polls the future once with the probe's waker.
    ///
    /// # Panics
    ///
    /// When the future already returned `Ready` (polling it again is a bug in the test),
    /// and when the future itself panics.
    ///
    /// ```
    /// let mut p = async_testkit::Probe::new(async { "hi" });
    /// assert_eq!(p.poll(), std::task::Poll::Ready("hi"));
    /// ```
    #[track_caller]
    pub fn poll(&mut self) -> Poll<F::Output> {
        if let Some(at) = self.finished_at {
            panic!(
                "the Probe created at {} was polled at {} after its future completed (at {}); \
                 a future must not be polled again after it returned Ready",
                self.site,
                Location::caller(),
                at
            );
        }
        self.polls += 1;
        let count = self.wakes.clone();
        let out = self.task.enter(|cx, fut| {
            let waker = Waker::from(Arc::new(CountingWaker {
                inner: cx.waker().clone(),
                count,
            }));
            fut.poll(&mut Context::from_waker(&waker))
        });
        // The future may have moved tokio's clock without waking the task polling it.
        crate::time::note_hand_poll();
        if out.is_ready() {
            self.finished_at = Some(Location::caller());
        }
        out
    }

    /// Whether the future's waker was called since the last poll.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let notify = tokio::sync::Notify::new();
    ///     let mut p = async_testkit::Probe::new(notify.notified());
    ///     assert!(p.poll().is_pending());
    ///     assert!(!p.is_woken());
    ///     notify.notify_one();
    ///     assert!(p.is_woken());
    /// });
    /// ```
    pub fn is_woken(&self) -> bool {
        self.task.is_woken()
    }

    /// How many times the future's wakers were called since the probe was made.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let notify = tokio::sync::Notify::new();
    ///     let mut p = async_testkit::Probe::new(notify.notified());
    ///     assert!(p.poll().is_pending());
    ///     notify.notify_one();
    ///     assert_eq!(p.wake_count(), 1);
    /// });
    /// ```
    pub fn wake_count(&self) -> usize {
        self.wakes.load(SeqCst)
    }

    /// How many times the probe polled the future.
    ///
    /// ```
    /// let mut p = async_testkit::Probe::new(std::future::pending::<()>());
    /// let _ = p.poll();
    /// let _ = p.poll();
    /// assert_eq!(p.poll_count(), 2);
    /// ```
    pub fn poll_count(&self) -> usize {
        self.polls
    }

    /// Whether the future has returned `Ready`.
    ///
    /// ```
    /// let mut p = async_testkit::Probe::new(async {});
    /// assert!(!p.is_finished());
    /// let _ = p.poll();
    /// assert!(p.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }

    fn describe(&self) -> String {
        format!(
            "the probe created at {} was polled {} time{} and woken {} time{}",
            self.site,
            self.polls,
            if self.polls == 1 { "" } else { "s" },
            self.wake_count(),
            if self.wake_count() == 1 { "" } else { "s" }
        )
    }

    #[track_caller]
    fn ready_or_panic(&mut self, what: &str, message: Option<String>) -> F::Output {
        match self.poll() {
            Poll::Ready(v) => v,
            Poll::Pending => panic!(
                "{what} failed at {}: the future is pending, expected it to be ready ({}){}",
                Location::caller(),
                self.describe(),
                extra(message)
            ),
        }
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn __assert_ready(&mut self, message: Option<String>) -> F::Output {
        self.ready_or_panic("assert_ready!", message)
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn __assert_pending(&mut self, message: Option<String>) {
        if self.poll().is_ready() {
            panic!(
                "assert_pending! failed at {}: the future completed, expected it to be pending ({}){}",
                Location::caller(),
                self.describe(),
                extra(message)
            );
        }
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn __assert_ready_eq<E>(&mut self, expected: E, message: Option<String>)
    where
        F::Output: PartialEq<E> + fmt::Debug,
        E: fmt::Debug,
    {
        let v = self.ready_or_panic("assert_ready_eq!", message.clone());
        if v != expected {
            panic!(
                "assert_ready_eq! failed at {}: the future completed with {v:?}, expected {expected:?} ({}){}",
                Location::caller(),
                self.describe(),
                extra(message)
            );
        }
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn __assert_ready_ok<T, E>(&mut self, message: Option<String>) -> T
    where
        F: Future<Output = Result<T, E>>,
        E: fmt::Debug,
    {
        match self.ready_or_panic("assert_ready_ok!", message.clone()) {
            Ok(v) => v,
            Err(e) => panic!(
                "assert_ready_ok! failed at {}: the future completed with Err({e:?}), expected Ok ({}){}",
                Location::caller(),
                self.describe(),
                extra(message)
            ),
        }
    }

    #[doc(hidden)]
    #[track_caller]
    pub fn __assert_ready_err<T, E>(&mut self, message: Option<String>) -> E
    where
        F: Future<Output = Result<T, E>>,
        T: fmt::Debug,
    {
        match self.ready_or_panic("assert_ready_err!", message.clone()) {
            Err(e) => e,
            Ok(v) => panic!(
                "assert_ready_err! failed at {}: the future completed with Ok({v:?}), expected Err ({}){}",
                Location::caller(),
                self.describe(),
                extra(message)
            ),
        }
    }
}

/// The `assert_ready!` family on a `std::task::Poll`, as tokio-test's macros take one:
/// `assert_pending!(task.poll())` works with a tokio-test `task::spawn` or any poll
/// result. A [`Probe`]'s own methods come first (they are inherent), so the macros take
/// both. Not a public API: the macros bring it into scope.
#[doc(hidden)]
pub trait PollAssertions {
    /// The `T` of `Poll<T>`.
    type Output;
    #[track_caller]
    fn __assert_ready(&mut self, message: Option<String>) -> Self::Output;
    #[track_caller]
    fn __assert_pending(&mut self, message: Option<String>);
    #[track_caller]
    fn __assert_ready_eq<E>(&mut self, expected: E, message: Option<String>)
    where
        Self::Output: PartialEq<E> + fmt::Debug,
        E: fmt::Debug;
    #[track_caller]
    fn __assert_ready_ok<T, E>(&mut self, message: Option<String>) -> T
    where
        Self: PollAssertions<Output = Result<T, E>>,
        E: fmt::Debug;
    #[track_caller]
    fn __assert_ready_err<T, E>(&mut self, message: Option<String>) -> E
    where
        Self: PollAssertions<Output = Result<T, E>>,
        T: fmt::Debug;
}

impl<O> PollAssertions for Poll<O> {
    type Output = O;

    #[track_caller]
    fn __assert_ready(&mut self, message: Option<String>) -> O {
        poll_ready("assert_ready!", self, message)
    }

    #[track_caller]
    fn __assert_pending(&mut self, message: Option<String>) {
        if self.is_ready() {
            panic!(
                "assert_pending! failed at {}: the poll returned Ready, expected Pending{}",
                Location::caller(),
                extra(message)
            );
        }
    }

    #[track_caller]
    fn __assert_ready_eq<E>(&mut self, expected: E, message: Option<String>)
    where
        O: PartialEq<E> + fmt::Debug,
        E: fmt::Debug,
    {
        let v = poll_ready("assert_ready_eq!", self, message.clone());
        if v != expected {
            panic!(
                "assert_ready_eq! failed at {}: the poll returned Ready({v:?}), expected Ready({expected:?}){}",
                Location::caller(),
                extra(message)
            );
        }
    }

    #[track_caller]
    fn __assert_ready_ok<T, E>(&mut self, message: Option<String>) -> T
    where
        Self: PollAssertions<Output = Result<T, E>>,
        E: fmt::Debug,
    {
        match PollAssertions::__assert_ready(self, message.clone()) {
            Ok(v) => v,
            Err(e) => panic!(
                "assert_ready_ok! failed at {}: the poll returned Ready(Err({e:?})), expected Ready(Ok(_)){}",
                Location::caller(),
                extra(message)
            ),
        }
    }

    #[track_caller]
    fn __assert_ready_err<T, E>(&mut self, message: Option<String>) -> E
    where
        Self: PollAssertions<Output = Result<T, E>>,
        T: fmt::Debug,
    {
        match PollAssertions::__assert_ready(self, message.clone()) {
            Err(e) => e,
            Ok(v) => panic!(
                "assert_ready_err! failed at {}: the poll returned Ready(Ok({v:?})), expected Ready(Err(_)){}",
                Location::caller(),
                extra(message)
            ),
        }
    }
}

/// Takes the value out of a ready poll, or panics naming the assertion.
#[track_caller]
fn poll_ready<O>(what: &str, poll: &mut Poll<O>, message: Option<String>) -> O {
    match std::mem::replace(poll, Poll::Pending) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!(
            "{what} failed at {}: the poll returned Pending, expected Ready{}",
            Location::caller(),
            extra(message)
        ),
    }
}

fn extra(message: Option<String>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

/// Polls a [`Probe`] once (or takes a `Poll`, such as tokio-test's `task.poll()`) and
/// asserts that its future is ready, giving back the output.
/// An optional message (with format arguments) is added to the failure.
///
/// ```
/// use async_testkit::{Probe, assert_ready};
/// let mut p = Probe::new(async { 5 });
/// assert_eq!(assert_ready!(p, "the value is computed at once"), 5);
/// ```
///
/// ```should_panic
/// # use async_testkit::{Probe, assert_ready};
/// let mut p = Probe::new(std::future::pending::<()>());
/// // panics: "assert_ready! failed at ..: the future is pending, expected it to be ready
/// // (the probe created at .. was polled 1 time and woken 0 times)"
/// assert_ready!(p);
/// ```
#[macro_export]
macro_rules! assert_ready {
    ($probe:expr $(,)?) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready(::std::option::Option::None)
    }};
    ($probe:expr, $($msg:tt)+) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready(::std::option::Option::Some(::std::format!($($msg)+)))
    }};
}

/// Polls a [`Probe`] once (or takes a `Poll`, such as tokio-test's `task.poll()`) and
/// asserts that its future is still pending.
///
/// ```
/// use async_testkit::{Probe, assert_pending};
/// let mut p = Probe::new(std::future::pending::<()>());
/// assert_pending!(p);
/// assert_pending!(p, "still nothing after {} polls", 1);
/// ```
///
/// ```should_panic
/// # use async_testkit::{Probe, assert_pending};
/// let mut p = Probe::new(async {});
/// assert_pending!(p); // panics: "assert_pending! failed at ..: the future completed, expected it to be pending .."
/// ```
#[macro_export]
macro_rules! assert_pending {
    ($probe:expr $(,)?) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_pending(::std::option::Option::None)
    }};
    ($probe:expr, $($msg:tt)+) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_pending(::std::option::Option::Some(::std::format!($($msg)+)))
    }};
}

/// Polls a [`Probe`] once (or takes a `Poll`, such as tokio-test's `task.poll()`) and
/// asserts that its future is ready with a value equal to the
/// expected one.
///
/// ```
/// use async_testkit::{Probe, assert_ready_eq};
/// let mut p = Probe::new(async { "pong" });
/// assert_ready_eq!(p, "pong");
/// ```
///
/// ```should_panic
/// # use async_testkit::{Probe, assert_ready_eq};
/// let mut p = Probe::new(async { 1 });
/// assert_ready_eq!(p, 2); // panics: "assert_ready_eq! failed at ..: the future completed with 1, expected 2 .."
/// ```
#[macro_export]
macro_rules! assert_ready_eq {
    ($probe:expr, $expected:expr $(,)?) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_eq($expected, ::std::option::Option::None)
    }};
    ($probe:expr, $expected:expr, $($msg:tt)+) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_eq($expected, ::std::option::Option::Some(::std::format!($($msg)+)))
    }};
}

/// Polls a [`Probe`] once (or takes a `Poll`, such as tokio-test's `task.poll()`) and
/// asserts that its future is ready with `Ok`, giving back
/// the value.
///
/// ```
/// use async_testkit::{Probe, assert_ready_ok};
/// let mut p = Probe::new(async { Ok::<_, String>(3) });
/// assert_eq!(assert_ready_ok!(p), 3);
/// ```
///
/// ```should_panic
/// # use async_testkit::{Probe, assert_ready_ok};
/// let mut p = Probe::new(async { Err::<(), _>("refused") });
/// assert_ready_ok!(p); // panics: "assert_ready_ok! failed at ..: the future completed with Err(\"refused\"), expected Ok .."
/// ```
#[macro_export]
macro_rules! assert_ready_ok {
    ($probe:expr $(,)?) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_ok(::std::option::Option::None)
    }};
    ($probe:expr, $($msg:tt)+) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_ok(::std::option::Option::Some(::std::format!($($msg)+)))
    }};
}

/// Polls a [`Probe`] once (or takes a `Poll`, such as tokio-test's `task.poll()`) and
/// asserts that its future is ready with `Err`, giving back
/// the error.
///
/// ```
/// use async_testkit::{Probe, assert_ready_err};
/// let mut p = Probe::new(async { Err::<(), _>("refused") });
/// assert_eq!(assert_ready_err!(p), "refused");
/// ```
///
/// ```should_panic
/// # use async_testkit::{Probe, assert_ready_err};
/// let mut p = Probe::new(async { Ok::<_, ()>(1) });
/// assert_ready_err!(p); // panics: "assert_ready_err! failed at ..: the future completed with Ok(1), expected Err .."
/// ```
#[macro_export]
macro_rules! assert_ready_err {
    ($probe:expr $(,)?) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_err(::std::option::Option::None)
    }};
    ($probe:expr, $($msg:tt)+) => {{
        use $crate::__private::PollAssertions as _;
        ($probe).__assert_ready_err(::std::option::Option::Some(::std::format!($($msg)+)))
    }};
}
