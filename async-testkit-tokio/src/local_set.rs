//! tokio's `LocalSet`, owning the kit tasks that `spawn_local` starts inside it.
//!
//! Inside a run, `spawn_local` starts a kit task (so the kit orders it). Under tokio a task
//! started inside a `LocalSet` belongs to that set: dropping the set drops the task, and
//! awaiting the set waits for it. [`LocalSet`] keeps both: while it runs (`run_until`, its
//! own poll, `block_on`, `enter`), and while a task it owns is polled, the set is this
//! thread's *current* set, and a kit task started then is adopted by it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::task::JoinHandle;

/// The kit tasks a [`LocalSet`] owns.
#[derive(Default)]
struct Owned {
    /// The tasks adopted (finished ones dropped now and then): their abort handle, and
    /// their future, which the set drops when it is dropped, as tokio's set does.
    tasks: RefCell<Vec<(async_testkit::task::AbortHandle, Rc<dyn DropNow>)>>,
    /// Adopted tasks whose future has not yet completed or been dropped.
    live: Cell<usize>,
    /// The waker of the set's own poll, woken when the last adopted task ends.
    waiting: RefCell<Option<Waker>>,
    /// The set is being dropped: a task started in it now is dropped at once, unpolled,
    /// as tokio's closed set does.
    closed: Cell<bool>,
}

impl Owned {
    fn adopt(&self, task: async_testkit::task::AbortHandle, future: Rc<dyn DropNow>) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.len() >= 32 && tasks.len().is_power_of_two() {
            tasks.retain(|(t, _)| !t.is_finished());
        }
        tasks.push((task, future));
    }

    fn ended(&self) {
        self.live.set(self.live.get() - 1);
        if self.live.get() == 0 {
            if let Some(w) = self.waiting.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

thread_local! {
    /// The set running on this thread now, if any.
    static CURRENT: RefCell<Option<Rc<Owned>>> = const { RefCell::new(None) };
}

/// Makes `owned` the current set until dropped, then puts back the set that was current
/// before, as tokio's guard does (guards dropped out of order restore what they found).
struct Entered {
    before: Option<Rc<Owned>>,
}

impl Entered {
    fn new(owned: &Rc<Owned>) -> Entered {
        Entered {
            before: CURRENT.with(|c| c.replace(Some(owned.clone()))),
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let before = self.before.take();
        let _ = CURRENT.try_with(|c| c.replace(before));
    }
}

/// The set's own `run_until` future, polled with the set current.
struct Scoped<F> {
    owned: Rc<Owned>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = Entered::new(&self.owned);
        self.future.as_mut().poll(cx)
    }
}

/// An owned task's future, shared between the task and its set.
struct Slot<F> {
    owned: Rc<Owned>,
    future: RefCell<Option<Pin<Box<F>>>>,
}

/// A slot's future dropped at once (type-erased for the set's list).
trait DropNow {
    fn drop_now(&self);
}

impl<F> DropNow for Slot<F> {
    /// Drops the future unless it is being polled right now (the set dropped from inside
    /// its own task: the abort drops it after that poll).
    fn drop_now(&self) {
        let taken = match self.future.try_borrow_mut() {
            Ok(mut f) => f.take(),
            Err(_) => None,
        };
        if taken.is_some() {
            drop(taken);
            self.owned.ended();
        }
    }
}

/// An owned task's future as the kit polls it: with its set current.
struct Member<F> {
    slot: Rc<Slot<F>>,
}

impl<F: Future> Future for Member<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = {
            let _entered = Entered::new(&self.slot.owned);
            let mut future = self.slot.future.borrow_mut();
            match future.as_mut() {
                Some(f) => f.as_mut().poll(cx),
                // Dropped by its set, which aborted the task too: never polled again.
                None => return Poll::Pending,
            }
        };
        if out.is_ready() {
            self.slot.drop_now();
        }
        out
    }
}

impl<F> Drop for Member<F> {
    fn drop(&mut self) {
        self.slot.drop_now();
    }
}

/// Starts `future` as a kit task with `builder`; inside a [`LocalSet`] the set owns it.
#[track_caller]
pub(crate) fn spawn_kit_local<F>(
    builder: async_testkit::task::Builder,
    future: F,
) -> async_testkit::JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match CURRENT.with(|c| c.borrow().clone()) {
        None => builder.spawn(future),
        Some(owned) => {
            owned.live.set(owned.live.get() + 1);
            let slot = Rc::new(Slot {
                owned: owned.clone(),
                future: RefCell::new(Some(Box::pin(future))),
            });
            let h = builder.spawn(Member { slot: slot.clone() });
            if owned.closed.get() {
                // Started while the set is dropped: never polled, as under tokio.
                h.abort();
                slot.drop_now();
            } else {
                owned.adopt(h.abort_handle(), slot);
            }
            h
        }
    }
}

/// tokio's `LocalSet`, as tokio has it, and the owner of the tasks `spawn_local` starts
/// inside it in an async-testkit run.
///
/// Inside a run, [`spawn_local`](crate::task::spawn_local) (and `JoinSet::spawn_local`,
/// `task::Builder::spawn_local`) starts a kit task, which the kit orders. Called while the
/// set runs (in [`run_until`](LocalSet::run_until), [`block_on`](LocalSet::block_on), an
/// `.await` of the set, after [`enter`](LocalSet::enter), or from a task the set owns),
/// the set owns that task as tokio's set would: dropping the set aborts it, and awaiting
/// the set waits for it. One thing differs: a kit task the set owns may run while the set
/// is not being polled (tokio's would wait for the set's next poll).
/// [`spawn_local`](LocalSet::spawn_local), the method, starts a task of tokio's in the set
/// (not explored). The set dereferences to tokio's `LocalSet`.
///
/// ```
/// use std::rc::Rc;
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let local = tokio::task::LocalSet::new();
///     let shared = Rc::new(3);
///     let s = shared.clone();
///     let v = local
///         .run_until(async move {
///             // A kit task, owned by `local`.
///             tokio::task::spawn_local(std::future::pending::<()>());
///             tokio::task::spawn_local(async move { *s * 2 }).await.unwrap()
///         })
///         .await;
///     assert_eq!(v, 6);
///     drop(local); // aborts the pending task, as tokio's set would: no leak
/// });
/// ```
pub struct LocalSet {
    inner: tokio::task::LocalSet,
    owned: Rc<Owned>,
}

/// The guard of [`LocalSet::enter`]: while it lives, the set is the current one.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let local = tokio::task::LocalSet::new();
///     let guard: tokio::task::LocalEnterGuard = local.enter();
///     let h = tokio::task::spawn_local(async { 1 });
///     drop(guard);
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
pub struct LocalEnterGuard {
    // Field order: the set stops being current for the kit, then for tokio.
    _entered: Entered,
    _inner: tokio::task::LocalEnterGuard,
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEnterGuard").finish_non_exhaustive()
    }
}

impl LocalSet {
    /// An empty set, as `tokio::task::LocalSet::new`.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// assert_eq!(local.block_on(&rt, async { tokio::task::spawn_local(async { 4 }).await }).unwrap(), 4);
    /// ```
    pub fn new() -> LocalSet {
        LocalSet {
            inner: tokio::task::LocalSet::new(),
            owned: Rc::default(),
        }
    }

    /// Makes this the current set until the guard is dropped, as tokio's `enter`:
    /// `spawn_local` then starts tasks the set owns.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// let h = {
    ///     let _guard = local.enter();
    ///     tokio::task::spawn_local(async { 2 })
    /// };
    /// assert_eq!(local.block_on(&rt, h).unwrap(), 2);
    /// ```
    pub fn enter(&self) -> LocalEnterGuard {
        let inner = self.inner.enter();
        LocalEnterGuard {
            _entered: Entered::new(&self.owned),
            _inner: inner,
        }
    }

    /// Starts a task of tokio's in this set, as tokio's `LocalSet::spawn_local` (inside a
    /// run too: tokio orders it, and an exploration says it did not).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// let h: tokio::task::JoinHandle<u8> = local.spawn_local(async { 8 });
    /// assert_eq!(local.block_on(&rt, h).unwrap(), 8);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        JoinHandle::from(self.inner.spawn_local(future))
    }

    /// Runs `future` to completion on `rt` with this set running, as tokio's
    /// `LocalSet::block_on`.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// assert_eq!(local.block_on(&rt, async { 5 }), 5);
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &tokio::runtime::Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Runs `future` to completion with this set running, as tokio's
    /// `LocalSet::run_until`.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let local = tokio::task::LocalSet::new();
    ///     let v = local.run_until(async { tokio::task::spawn_local(async { 7 }).await }).await;
    ///     assert_eq!(v.unwrap(), 7);
    /// });
    /// ```
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        Scoped {
            owned: self.owned.clone(),
            future: Box::pin(self.inner.run_until(future)),
        }
        .await
    }

    /// tokio's `LocalSet::unhandled_panic` (unstable), for the set's tokio tasks.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let mut local = tokio::task::LocalSet::new();
    /// local.unhandled_panic(tokio::runtime::UnhandledPanic::Ignore);
    /// ```
    #[cfg(tokio_unstable)]
    pub fn unhandled_panic(&mut self, behavior: tokio::runtime::UnhandledPanic) -> &mut Self {
        self.inner.unhandled_panic(behavior);
        self
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::ops::Deref for LocalSet {
    type Target = tokio::task::LocalSet;

    fn deref(&self) -> &tokio::task::LocalSet {
        &self.inner
    }
}

/// Awaiting the set runs it until its tasks are done, tokio's and the kit tasks it owns.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let local = tokio::task::LocalSet::new();
///     let (tx, rx) = tokio::sync::oneshot::channel();
///     {
///         let _in = local.enter();
///         tokio::task::spawn_local(async move { tx.send(3).unwrap() });
///     }
///     local.await;
///     assert_eq!(rx.await.unwrap(), 3);
/// });
/// ```
impl Future for LocalSet {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let tokio_done = {
            let _entered = Entered::new(&this.owned);
            Pin::new(&mut this.inner).poll(cx).is_ready()
        };
        if tokio_done && this.owned.live.get() == 0 {
            return Poll::Ready(());
        }
        // Woken by the last kit task ending, or by tokio for its own tasks.
        *this.owned.waiting.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        // Closed and current while its tasks are dropped: a task a destructor starts
        // in the set is dropped at once, unpolled, as under tokio.
        self.owned.closed.set(true);
        let _entered = Entered::new(&self.owned);
        let tasks = std::mem::take(&mut *self.owned.tasks.borrow_mut());
        for (task, future) in tasks {
            task.abort();
            future.drop_now();
        }
    }
}
