//! Gates: calls of a mock block at the gate until the test lets them through.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::runtime::executor::{self, Executor};
use crate::runtime::family::{self, Adopted, Owner};
use crate::util::lock;

/// A gate on a mock's calls, from [`AsyncMock::gate`](super::AsyncMock::gate): each call
/// that reaches it waits until the test lets it through with [`Gate::release`] (one call,
/// oldest first) or [`Gate::release_all`] (every call, now and later).
///
/// Cloning gives another handle to the same gate. A gate made outside a test's closure
/// (of a mock built there) starts each run of the test (each explored schedule) as the
/// first run to use it found it: released or closed, with the same permits, and no call
/// at it.
///
/// ```
/// use async_testkit::mock::{AsyncMock, Outcome};
/// async_testkit::run(async {
///     let mock = AsyncMock::<u32, u32>::new().returns(1);
///     let gate = mock.gate();
///     let task = async_testkit::spawn({
///         let mock = mock.clone();
///         async move { mock.call(7).await }
///     });
///     gate.entered().await; // the call is now blocked inside the mock
///     assert_eq!(mock.calls()[0].outcome(), Outcome::Pending);
///     gate.release();
///     assert_eq!(task.await.unwrap(), 1);
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Gate {
    inner: Arc<Mutex<GateState>>,
}

#[derive(Debug)]
struct GateState {
    open: bool,
    /// Releases not yet taken by a call.
    permits: usize,
    /// Calls blocked at the gate, oldest first.
    waiting: VecDeque<(u64, Waker)>,
    /// Calls released but not yet polled since.
    granted: Vec<u64>,
    next_id: u64,
    /// Calls that reached the gate, and how many of them `entered()` has reported.
    entered: usize,
    entered_seen: usize,
    entered_waiters: Vec<Waker>,
    /// The run using the gate, and what each later run of its test starts from: `open`
    /// and `permits` as the first run found them.
    owner: Owner,
    start: (bool, usize),
}

/// The gate's state, made the current run's first (see [`GateState::adopt`]).
fn state(inner: &Arc<Mutex<GateState>>) -> MutexGuard<'_, GateState> {
    let mut g = lock(inner);
    if let Some(core) = executor::try_current() {
        if g.adopt(&core) == Adopted::FirstOfFamily && g.owner.outlives_runs() {
            family::adopt_each_run(inner, |inner, core| {
                lock(&inner).adopt(core);
            });
        }
    }
    g
}

impl GateState {
    /// Makes `core`'s run the gate's: the first run of a test to use it keeps what it
    /// finds, each later run starts from that again.
    fn adopt(&mut self, core: &Executor) -> Adopted {
        let adopted = self.owner.adopt(core);
        match adopted {
            Adopted::FirstOfFamily => self.start = (self.open, self.permits),
            Adopted::Again => {
                (self.open, self.permits) = self.start;
                self.waiting.clear();
                self.granted.clear();
                self.entered = 0;
                self.entered_seen = 0;
                self.entered_waiters.clear();
            }
            Adopted::Already => {}
        }
        adopted
    }

    /// Lets the oldest waiting call through, or keeps the permit for the next call.
    fn grant_one(&mut self) -> Option<Waker> {
        match self.waiting.pop_front() {
            Some((id, waker)) => {
                self.granted.push(id);
                Some(waker)
            }
            None => {
                self.permits += 1;
                None
            }
        }
    }
}

/// A closed gate: [`Gate::new`].
///
/// ```
/// assert_eq!(async_testkit::mock::Gate::default().waiting(), 0);
/// ```
impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    /// A closed gate of its own, for futures built by hand (see
    /// `mock::mockall::gated`); [`AsyncMock::gate`](super::AsyncMock::gate) makes one for a
    /// mock.
    ///
    /// ```
    /// let gate = async_testkit::mock::Gate::new();
    /// assert_eq!(gate.entered_count(), 0);
    /// ```
    pub fn new() -> Self {
        Gate {
            inner: Arc::new(Mutex::new(GateState {
                open: false,
                permits: 0,
                waiting: VecDeque::new(),
                granted: Vec::new(),
                next_id: 0,
                entered: 0,
                entered_seen: 0,
                entered_waiters: Vec::new(),
                owner: Owner::here(),
                start: (false, 0),
            })),
        }
    }

    /// Lets one call through: the oldest call waiting at the gate, or, if none waits, the
    /// next call to reach it.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u8>::new().returns(5);
    ///     let gate = mock.gate();
    ///     gate.release(); // kept for the next call
    ///     assert_eq!(mock.call(()).await, 5);
    /// });
    /// ```
    pub fn release(&self) {
        let waker = state(&self.inner).grant_one();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Opens the gate for good: every waiting call and every later one goes through.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), u8>::new().returns(5);
    ///     mock.gate().release_all();
    ///     assert_eq!(mock.call(()).await + mock.call(()).await, 10);
    /// });
    /// ```
    pub fn release_all(&self) {
        let waiting = {
            let mut g = state(&self.inner);
            g.open = true;
            std::mem::take(&mut g.waiting)
        };
        for (_, w) in waiting {
            w.wake();
        }
    }

    /// Waits until one more call has reached the gate: the first `entered().await`
    /// returns once a first call has reached it, the second once a second has, and so on.
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<u32, ()>::new().returns(());
    ///     let gate = mock.gate();
    ///     let calls: Vec<_> = (0..2).map(|i| async_testkit::spawn(mock.call(i))).collect();
    ///     gate.entered().await;
    ///     gate.entered().await;
    ///     assert_eq!(gate.waiting(), 2);
    ///     gate.release_all();
    ///     for c in calls {
    ///         c.await.unwrap();
    ///     }
    /// });
    /// ```
    pub fn entered(&self) -> Entered {
        Entered {
            inner: self.inner.clone(),
        }
    }

    /// How many calls are blocked at the gate now.
    ///
    /// ```
    /// let gate = async_testkit::mock::Gate::default();
    /// assert_eq!(gate.waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        state(&self.inner).waiting.len()
    }

    /// How many calls have reached the gate so far (released or not).
    ///
    /// ```
    /// use async_testkit::mock::AsyncMock;
    /// async_testkit::run(async {
    ///     let mock = AsyncMock::<(), ()>::new().returns(());
    ///     let gate = mock.gate();
    ///     gate.release_all();
    ///     mock.call(()).await;
    ///     assert_eq!(gate.entered_count(), 1);
    /// });
    /// ```
    pub fn entered_count(&self) -> usize {
        state(&self.inner).entered
    }

    pub(crate) fn pass(&self) -> GatePass {
        GatePass {
            inner: self.inner.clone(),
            id: None,
            done: false,
        }
    }
}

/// The future of [`Gate::entered`]: ready once one more call has reached the gate.
///
/// ```
/// use async_testkit::mock::AsyncMock;
/// async_testkit::run(async {
///     let mock = AsyncMock::<(), ()>::new().returns(());
///     let gate = mock.gate();
///     let entered = gate.entered(); // nothing has reached the gate yet
///     let call = async_testkit::spawn(mock.call(()));
///     entered.await;
///     gate.release();
///     call.await.unwrap();
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Entered {
    inner: Arc<Mutex<GateState>>,
}

impl Future for Entered {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = state(&self.inner);
        if g.entered > g.entered_seen {
            g.entered_seen += 1;
            Poll::Ready(())
        } else {
            if !g.entered_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                g.entered_waiters.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

/// One call going through a gate.
#[derive(Debug)]
pub(crate) struct GatePass {
    inner: Arc<Mutex<GateState>>,
    id: Option<u64>,
    done: bool,
}

impl GatePass {
    pub(crate) fn poll_pass(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut wake = Vec::new();
        let ready = {
            let mut g = state(&self.inner);
            let id = match self.id {
                Some(id) => id,
                None => {
                    let id = g.next_id;
                    g.next_id += 1;
                    g.entered += 1;
                    wake = std::mem::take(&mut g.entered_waiters);
                    self.id = Some(id);
                    if g.open || g.permits > 0 {
                        g.permits = g.permits.saturating_sub(usize::from(!g.open));
                        self.done = true;
                    } else {
                        g.waiting.push_back((id, cx.waker().clone()));
                    }
                    id
                }
            };
            if !self.done {
                if let Some(i) = g.granted.iter().position(|&x| x == id) {
                    g.granted.swap_remove(i);
                    self.done = true;
                } else if g.open {
                    self.done = true;
                } else if let Some(slot) = g.waiting.iter_mut().find(|(x, _)| *x == id) {
                    if !slot.1.will_wake(cx.waker()) {
                        slot.1 = cx.waker().clone();
                    }
                }
            }
            self.done
        };
        for w in wake {
            w.wake();
        }
        if ready { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Future for GatePass {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_pass(cx)
    }
}

impl Drop for GatePass {
    fn drop(&mut self) {
        let (Some(id), false) = (self.id, self.done) else {
            return;
        };
        let waker = {
            let mut g = lock(&self.inner);
            g.waiting.retain(|(x, _)| *x != id);
            match g.granted.iter().position(|&x| x == id) {
                // Released, then cancelled before it went through: the release is not lost.
                Some(i) => {
                    g.granted.swap_remove(i);
                    g.grant_one()
                }
                None => None,
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}
