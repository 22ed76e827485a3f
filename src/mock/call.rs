//! The future of one mock call: gate, then delay, then the answer.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use super::gate::GatePass;
use super::log::Outcome;
use super::state::{BoxFuture, Shared, WaitFor};
use crate::time::poll_mark;
use crate::trace::span;

/// What a call produces once it is through its gate and delay.
pub(crate) enum Answer<Ret> {
    Value(Ret),
    Future(BoxFuture<Ret>),
    /// Panics with this message: `panics(..)`, or a call the mock cannot answer.
    Panic(String),
    Hang,
}

/// The future of one call of an [`AsyncMock`](super::AsyncMock), from
/// [`AsyncMock::call`](super::AsyncMock::call).
///
/// The call is recorded when it is made; the future marks it awaited when first polled,
/// completed when it yields its value, and cancelled if it is dropped before that.
///
/// ```
/// use async_testkit::mock::AsyncMock;
/// async_testkit::run(async {
///     let mock = AsyncMock::<u32, u32>::new().returns(4);
///     let call = mock.call(1); // recorded now
///     assert_eq!((mock.call_count(), mock.await_count()), (1, 0));
///     assert_eq!(call.await, 4);
///     assert_eq!((mock.await_count(), mock.completed_count()), (1, 1));
/// });
/// ```
#[must_use = "a mock call does nothing unless awaited (it is recorded as called, and as cancelled when dropped)"]
pub struct MockCall<Args, Ret> {
    pub(crate) shared: Arc<Shared<Args, Ret>>,
    pub(crate) index: usize,
    /// The record the call is in (a later run of its test starts another).
    pub(crate) generation: u32,
    /// The mark of the kit poll the call was made in (0 for none): a first poll under the
    /// same mark that yields the value ends the call at the instant it began.
    pub(crate) mark: u64,
    /// The value the call answers with (once through `rest`'s wait, if any).
    pub(crate) value: Option<Ret>,
    /// The rest of what a call may go through: `None` for a ready value (most calls), so
    /// that such a call stays small to move and has next to nothing to drop.
    pub(crate) rest: Option<Box<Rest<Ret>>>,
    pub(crate) awaited: bool,
    pub(crate) finished: bool,
    /// Set while the answer is being produced: a panic there unwinds through `drop`,
    /// which then records the call as panicked rather than cancelled.
    pub(crate) producing: bool,
}

/// A call's gate and delay, and an answer other than a ready value.
pub(crate) struct Rest<Ret> {
    pub(crate) wait: Option<Wait>,
    pub(crate) answer: Option<Answer<Ret>>,
}

/// A call's gate, then its delay.
pub(crate) struct Wait {
    gate: Option<GatePass>,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Wait {
    pub(crate) fn new(gate: Option<GatePass>, delay: Duration) -> Self {
        Wait {
            gate,
            delay,
            sleep: None,
        }
    }

    /// Ready once the call is through its gate and its delay.
    fn poll_through(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(gate) = self.gate.as_mut() {
            if gate.poll_pass(cx).is_pending() {
                return Poll::Pending;
            }
            self.gate = None;
        }
        if !self.delay.is_zero() {
            let delay = self.delay;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.delay = Duration::ZERO;
            self.sleep = None;
        }
        Poll::Ready(())
    }
}

// No field is ever pinned structurally: the user's future and the timer are boxed, and
// a ready value is only moved out.
impl<Args, Ret> Unpin for MockCall<Args, Ret> {}

impl<Args, Ret> fmt::Debug for MockCall<Args, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockCall")
            .field("mock", &self.shared.label())
            .field("call", &(self.index + 1))
            .finish_non_exhaustive()
    }
}

impl<Args, Ret> MockCall<Args, Ret> {
    /// The future of call `index` of `generation`, made under `mark`: a ready value
    /// goes in `value`; a wait or any other answer in `rest`.
    pub(crate) fn new(
        shared: Arc<Shared<Args, Ret>>,
        (index, generation, mark): (usize, u32, u64),
        wait: Option<Wait>,
        answer: Option<Answer<Ret>>,
    ) -> Self {
        let (value, answer) = match answer {
            Some(Answer::Value(v)) => (Some(v), None),
            other => (None, other),
        };
        let rest = (wait.is_some() || answer.is_some()).then(|| Box::new(Rest { wait, answer }));
        MockCall {
            shared,
            index,
            generation,
            mark,
            value,
            rest,
            awaited: false,
            finished: false,
            producing: false,
        }
    }

    fn end(&mut self, outcome: Outcome) {
        self.finished = true;
        self.shared
            .end_call(self.generation, self.index, outcome, !self.awaited);
        self.awaited = true;
    }

    /// Every poll but the first of a call with a ready value.
    fn poll_rest(&mut self, cx: &mut Context<'_>) -> Poll<Ret> {
        if self.finished {
            panic!(
                "a call of {} was polled after it completed: a future must not be polled again once it is ready",
                self.shared.label()
            );
        }
        if let Some(v) = self.rest.is_none().then(|| self.value.take()).flatten() {
            // A ready value polled first under a mark other than its call's.
            self.end(Outcome::Completed);
            return Poll::Ready(v);
        }
        if !self.awaited {
            self.awaited = true;
            self.shared.mark_awaited(self.generation, self.index);
        }
        let rest = self
            .rest
            .as_mut()
            .expect("a mock call keeps its answer until it finishes");
        if let Some(wait) = rest.wait.as_mut() {
            if wait.poll_through(cx).is_pending() {
                return Poll::Pending;
            }
            rest.wait = None;
        }
        match rest.answer.take() {
            Some(Answer::Value(v)) => {
                self.end(Outcome::Completed);
                Poll::Ready(v)
            }
            None => {
                let v = self
                    .value
                    .take()
                    .expect("a mock call keeps its answer until it finishes");
                self.end(Outcome::Completed);
                Poll::Ready(v)
            }
            Some(Answer::Future(mut fut)) => {
                self.producing = true;
                let poll = fut.as_mut().poll(cx);
                self.producing = false;
                match poll {
                    Poll::Ready(v) => {
                        self.end(Outcome::Completed);
                        Poll::Ready(v)
                    }
                    Poll::Pending => {
                        rest.answer = Some(Answer::Future(fut));
                        Poll::Pending
                    }
                }
            }
            Some(Answer::Panic(message)) => {
                self.producing = true;
                panic!("{message}");
            }
            Some(Answer::Hang) => {
                rest.answer = Some(Answer::Hang);
                Poll::Pending
            }
        }
    }
}

impl<Args, Ret> Future for MockCall<Args, Ret> {
    type Output = Ret;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ret> {
        let this = &mut *self;
        if this.rest.is_none() && !this.awaited {
            // The common case: a ready value, awaited and completed at once; without the
            // lock when the clock cannot have moved since the call was made.
            if let Some(v) = this.value.take() {
                let unlocked = this.mark != 0
                    && poll_mark().1 == this.mark
                    && this.shared.complete_unlocked(this.generation, this.index);
                if !unlocked {
                    this.value = Some(v);
                    return this.poll_rest(cx);
                }
                this.finished = true;
                this.awaited = true;
                return Poll::Ready(v);
            }
        }
        this.poll_rest(cx)
    }
}

impl<Args, Ret> Drop for MockCall<Args, Ret> {
    fn drop(&mut self) {
        if !self.finished {
            let outcome = if self.producing {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            self.finished = true;
            self.shared.end_call(self.generation, self.index, outcome, false);
        }
    }
}

/// The future of [`AsyncMock::wait_for_calls`](super::AsyncMock::wait_for_calls): ready
/// once the mock has been called at least `n` times in all.
///
/// ```
/// use async_testkit::mock::AsyncMock;
/// async_testkit::run(async {
///     let mock = AsyncMock::<u32, ()>::new().returns(());
///     let m = mock.clone();
///     let worker = async_testkit::spawn(async move {
///         for i in 0..3 {
///             tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///             m.call(i).await;
///         }
///     });
///     mock.wait_for_calls(3).await;
///     assert_eq!(async_testkit::time::elapsed().as_secs(), 3);
///     worker.await.unwrap();
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForCalls<Args, Ret> {
    pub(crate) shared: Arc<Shared<Args, Ret>>,
    pub(crate) n: usize,
    pub(crate) site: &'static Location<'static>,
}

impl<Args, Ret> fmt::Debug for WaitForCalls<Args, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCalls")
            .field("mock", &self.shared.label())
            .field("n", &self.n)
            .finish()
    }
}

impl<Args, Ret> Future for WaitForCalls<Args, Ret> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.state();
        if state.calls.len() >= self.n {
            Poll::Ready(())
        } else {
            let n = self.n;
            if !state
                .waiters
                .iter()
                .any(|w| w.calls == n && w.waker.will_wake(cx.waker()))
            {
                state.waiters.push(WaitFor {
                    calls: n,
                    waker: cx.waker().clone(),
                });
            }
            Poll::Pending
        }
    }
}

impl<Args: 'static, Ret: 'static> WaitForCalls<Args, Ret> {
    /// Bounds the wait by `limit` of virtual time: if the mock has not been called `n`
    /// times by then, the returned future panics with the call log.
    ///
    /// ```
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let m = mock.clone();
    ///     let t = async_testkit::spawn(async move { m.call(()).await });
    ///     mock.wait_for_calls(1).within(Duration::from_secs(5)).await;
    ///     t.await.unwrap();
    /// });
    /// ```
    ///
    /// A call that never comes fails at the limit, in virtual time:
    ///
    /// ```should_panic
    /// use std::time::Duration;
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::named("ping").returns(());
    ///     mock.wait_for_calls(1).within(Duration::from_secs(5)).await;
    /// });
    /// ```
    #[track_caller]
    pub fn within(self, limit: Duration) -> impl Future<Output = ()> {
        let site = Location::caller();
        async move {
            let shared = self.shared.clone();
            let n = self.n;
            let wait_site = self.site;
            if tokio::time::timeout(limit, self).await.is_err() {
                let got = shared.state().calls.len();
                panic!(
                    "{}: expected {n} call{} within {} (wait_for_calls at {wait_site}, within at {site}), got {}\n{}",
                    shared.label(),
                    if n == 1 { "" } else { "s" },
                    span(limit),
                    got,
                    shared.table()
                );
            }
        }
    }
}
