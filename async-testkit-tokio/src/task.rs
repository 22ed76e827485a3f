//! tokio's `task` module, with task spawning routed to async-testkit inside a run.
//!
//! Everything tokio's `task` module has is here. These items are this crate's own, with
//! tokio's API: [`spawn`], [`spawn_local`], [`spawn_blocking`], [`JoinHandle`],
//! [`AbortHandle`], [`JoinError`], [`Id`], [`id`], [`try_id`], [`JoinSet`], [`LocalSet`] and
//! [`LocalEnterGuard`]. Inside an
//! async-testkit run, [`spawn`], [`spawn_local`] and [`JoinSet`]'s `spawn` and
//! `spawn_local` start kit tasks; anywhere else they start tokio tasks.
//!
//! ```
//! use async_testkit_tokio as tokio;
//!
//! async_testkit::run(async {
//!     let h = tokio::spawn(async { 1 + 1 });
//!     // A kit task: the kit names it by its number in the run, the body being #0.
//!     assert_eq!(h.id().to_string(), "1");
//!     assert_eq!(h.await.unwrap(), 2);
//! });
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

#[doc(no_inline)]
pub use tokio::task::*;

pub use crate::local_set::{LocalEnterGuard, LocalSet};

/// Whether a task spawned here now starts as a kit task.
#[inline]
fn kit() -> bool {
    async_testkit::__private::in_run()
}

/// Starts a task, as `tokio::spawn` does: inside an async-testkit run a kit task (its
/// order explored, named in reports by this call's location), elsewhere a tokio task.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async fn work() -> u32 {
///     let h = tokio::spawn(async { 40 });
///     h.await.unwrap() + 2
/// }
/// assert_eq!(async_testkit::run(work()), 42); // a kit task
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(work()), 42); // a tokio task
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if kit() {
        JoinHandle::kit(async_testkit::task::Builder::new().spawn(future))
    } else {
        JoinHandle::tokio(tokio::task::spawn(future))
    }
}

/// Starts a task that need not be `Send`, as `tokio::task::spawn_local` does: inside an
/// async-testkit run a kit task (kit tasks all run on the test's thread), elsewhere a task
/// of the current `LocalSet`.
///
/// # Panics
///
/// Outside a run, as tokio's does: outside a `LocalSet`.
///
/// ```
/// use std::rc::Rc;
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let shared = Rc::new(5);
///     let s = shared.clone();
///     let h = tokio::task::spawn_local(async move { *s * 2 });
///     assert_eq!(h.await.unwrap(), 10);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if kit() {
        JoinHandle::kit(crate::local_set::spawn_kit_local(
            async_testkit::task::Builder::new(),
            future,
        ))
    } else {
        JoinHandle::tokio(tokio::task::spawn_local(future))
    }
}

/// Runs a blocking closure on tokio's blocking pool, as `tokio::task::spawn_blocking`
/// does (inside a run too: the kit waits for it and checks it, but does not order it).
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let h = tokio::task::spawn_blocking(|| 6 * 7);
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    JoinHandle::tokio(tokio::task::spawn_blocking(f))
}

/// The [`Id`] of the task being polled: a kit task's inside a run, else tokio's.
///
/// # Panics
///
/// Outside any task, as tokio's does.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let h = tokio::spawn(async { tokio::task::id() });
///     let id = h.id();
///     assert_eq!(h.await.unwrap(), id);
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    match async_testkit::task::try_id() {
        Some(id) => Id(IdRepr::Kit(id)),
        None => Id(IdRepr::Tokio(tokio::task::id())),
    }
}

/// The [`Id`] of the task being polled, or `None` outside any task.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// assert_eq!(tokio::task::try_id(), None);
/// async_testkit::run(async {
///     assert!(tokio::task::try_id().is_some()); // the test body is a kit task
/// });
/// ```
pub fn try_id() -> Option<Id> {
    match async_testkit::task::try_id() {
        Some(id) => Some(Id(IdRepr::Kit(id))),
        None => tokio::task::try_id().map(|id| Id(IdRepr::Tokio(id))),
    }
}

/// A task's id, as `tokio::task::Id`: of a kit task (its number in the run, as reports
/// show it after `#`) or of a tokio task (tokio's number).
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let a = tokio::spawn(async {});
///     let b = tokio::spawn(async {});
///     assert_ne!(a.id(), b.id());
///     a.await.unwrap();
///     b.await.unwrap();
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(IdRepr);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum IdRepr {
    Tokio(tokio::task::Id),
    Kit(async_testkit::task::Id),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdRepr::Tokio(id) => fmt::Display::fmt(id, f),
            IdRepr::Kit(id) => fmt::Display::fmt(id, f),
        }
    }
}

/// As tokio's: `Id(3)`, whichever kind of task it names.
impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdRepr::Tokio(id) => fmt::Debug::fmt(id, f),
            IdRepr::Kit(id) => f.debug_tuple("Id").field(&format_args!("{id}")).finish(),
        }
    }
}

/// An owned permission to await a task, as `tokio::task::JoinHandle`: of a kit task or of
/// a tokio task. Dropping it detaches the task.
///
/// A tokio `JoinHandle` (from `Handle::spawn`, say) converts with `From`.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let h = tokio::spawn(std::future::pending::<()>());
///     assert!(!h.is_finished());
///     h.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct JoinHandle<T>(HandleRepr<T>);

enum HandleRepr<T> {
    Tokio(tokio::task::JoinHandle<T>),
    Kit(async_testkit::JoinHandle<T>),
}

impl<T> JoinHandle<T> {
    fn tokio(h: tokio::task::JoinHandle<T>) -> Self {
        JoinHandle(HandleRepr::Tokio(h))
    }

    fn kit(h: async_testkit::JoinHandle<T>) -> Self {
        JoinHandle(HandleRepr::Kit(h))
    }

    /// Asks the task to stop, as tokio's `JoinHandle::abort`: awaiting the handle then
    /// gives a cancelled [`JoinError`] (a panic one if a destructor panics while the
    /// task's future is dropped), unless the task had already finished.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        match &self.0 {
            HandleRepr::Tokio(h) => h.abort(),
            HandleRepr::Kit(h) => h.abort(),
        }
    }

    /// Whether the task has finished (completed, panicked or cancelled).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(async {});
    ///     assert!(!h.is_finished());
    ///     tokio::task::yield_now().await;
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            HandleRepr::Tokio(h) => h.is_finished(),
            HandleRepr::Kit(h) => h.is_finished(),
        }
    }

    /// A handle that aborts the task without owning its output.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort_handle().abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        match &self.0 {
            HandleRepr::Tokio(h) => AbortHandle(AbortRepr::Tokio(h.abort_handle())),
            HandleRepr::Kit(h) => AbortHandle(AbortRepr::Kit(h.abort_handle())),
        }
    }

    /// The task's [`Id`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(async { tokio::task::id() });
    ///     assert_eq!(h.id(), h.await.unwrap());
    /// });
    /// ```
    pub fn id(&self) -> Id {
        match &self.0 {
            HandleRepr::Tokio(h) => Id(IdRepr::Tokio(h.id())),
            HandleRepr::Kit(h) => Id(IdRepr::Kit(h.id())),
        }
    }
}

impl<T> From<tokio::task::JoinHandle<T>> for JoinHandle<T> {
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h: tokio::task::JoinHandle<u8> = tokio::runtime::Handle::current().spawn(async { 1 }).into();
    ///     assert_eq!(h.await.unwrap(), 1);
    /// });
    /// ```
    fn from(h: tokio::task::JoinHandle<T>) -> Self {
        JoinHandle::tokio(h)
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            HandleRepr::Tokio(h) => Pin::new(h).poll(cx).map_err(|e| JoinError(ErrorRepr::Tokio(e))),
            HandleRepr::Kit(h) => Pin::new(h).poll(cx).map_err(|e| JoinError(ErrorRepr::Kit(e))),
        }
    }
}

/// As tokio's: `JoinHandle { id: Id(3) }`.
impl<T: fmt::Debug> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id()).finish()
    }
}

/// Aborts a task without owning its output, as `tokio::task::AbortHandle`.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let h = tokio::spawn(std::future::pending::<()>());
///     let abort = h.abort_handle();
///     assert_eq!(abort.id(), h.id());
///     abort.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
#[derive(Clone)]
pub struct AbortHandle(AbortRepr);

#[derive(Clone)]
enum AbortRepr {
    Tokio(tokio::task::AbortHandle),
    Kit(async_testkit::task::AbortHandle),
}

impl AbortHandle {
    /// Asks the task to stop, as [`JoinHandle::abort`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort_handle().abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        match &self.0 {
            AbortRepr::Tokio(h) => h.abort(),
            AbortRepr::Kit(h) => h.abort(),
        }
    }

    /// Whether the task has finished.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(async {});
    ///     let abort = h.abort_handle();
    ///     h.await.unwrap();
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            AbortRepr::Tokio(h) => h.is_finished(),
            AbortRepr::Kit(h) => h.is_finished(),
        }
    }

    /// The task's [`Id`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(async {});
    ///     assert_eq!(h.abort_handle().id(), h.id());
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn id(&self) -> Id {
        match &self.0 {
            AbortRepr::Tokio(h) => Id(IdRepr::Tokio(h.id())),
            AbortRepr::Kit(h) => Id(IdRepr::Kit(h.id())),
        }
    }
}

/// As tokio's: `AbortHandle { id: Id(3) }`.
impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").field("id", &self.id()).finish()
    }
}

/// Why a task produced no value, as `tokio::task::JoinError`: it panicked or was
/// cancelled.
///
/// A kit task's panic fails the test even when its handle is awaited, unless the test
/// takes the payload with [`JoinError::into_panic`] (or [`JoinError::try_into_panic`]):
/// that is how a test says the panic was expected.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let err = tokio::spawn(async { panic!("expected") }).await.unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "expected");
/// });
/// ```
pub struct JoinError(ErrorRepr);

enum ErrorRepr {
    Tokio(tokio::task::JoinError),
    Kit(async_testkit::JoinError),
}

impl JoinError {
    /// Whether the task was cancelled.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        match &self.0 {
            ErrorRepr::Tokio(e) => e.is_cancelled(),
            ErrorRepr::Kit(e) => e.is_cancelled(),
        }
    }

    /// Whether the task panicked.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let err = tokio::spawn(async { panic!("p") }).await.unwrap_err();
    ///     assert!(err.is_panic());
    ///     err.into_panic(); // taken: the test does not fail for it
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        match &self.0 {
            ErrorRepr::Tokio(e) => e.is_panic(),
            ErrorRepr::Kit(e) => e.is_panic(),
        }
    }

    /// The panic's payload.
    ///
    /// # Panics
    ///
    /// If the task did not panic; use [`JoinError::try_into_panic`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let err = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
    ///     assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    /// });
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(e) => panic!("`JoinError` reason is not a panic.: {e:?}"),
        }
    }

    /// The panic's payload if the task panicked, or the error back.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().try_into_panic().is_err());
    /// });
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.0 {
            ErrorRepr::Tokio(e) => e.try_into_panic().map_err(|e| JoinError(ErrorRepr::Tokio(e))),
            ErrorRepr::Kit(e) => e.try_into_panic().map_err(|e| JoinError(ErrorRepr::Kit(e))),
        }
    }

    /// The [`Id`] of the task that failed.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     let id = h.id();
    ///     h.abort();
    ///     assert_eq!(h.await.unwrap_err().id(), id);
    /// });
    /// ```
    pub fn id(&self) -> Id {
        match &self.0 {
            ErrorRepr::Tokio(e) => Id(IdRepr::Tokio(e.id())),
            ErrorRepr::Kit(e) => Id(IdRepr::Kit(e.id())),
        }
    }
}

/// Why a kit task failed, in the terms tokio prints.
enum KitReason {
    Cancelled,
    /// A `String` or `&str` payload.
    PanicText(String),
    Panic,
}

fn kit_reason(e: &async_testkit::JoinError) -> KitReason {
    if e.is_cancelled() {
        KitReason::Cancelled
    } else if let Some(text) = async_testkit::__private::join_error_panic_str(e) {
        KitReason::PanicText(text)
    } else {
        KitReason::Panic
    }
}

/// As tokio's: `task 3 was cancelled`, `task 3 panicked with message "boom"` (a `String`
/// or `&str` payload, quoted as `Debug` quotes it), `task 3 panicked` (another payload).
/// The kit's own `async_testkit::JoinError` prints more (task name, spawn site).
impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id();
        match &self.0 {
            ErrorRepr::Tokio(e) => fmt::Display::fmt(e, f),
            ErrorRepr::Kit(e) => match kit_reason(e) {
                KitReason::Cancelled => write!(f, "task {id} was cancelled"),
                KitReason::PanicText(text) => write!(f, "task {id} panicked with message {text:?}"),
                KitReason::Panic => write!(f, "task {id} panicked"),
            },
        }
    }
}

/// As tokio's: `JoinError::Cancelled(Id(3))`, `JoinError::Panic(Id(3), "boom", ...)`,
/// `JoinError::Panic(Id(3), ...)`.
impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id();
        match &self.0 {
            ErrorRepr::Tokio(e) => fmt::Debug::fmt(e, f),
            ErrorRepr::Kit(e) => match kit_reason(e) {
                KitReason::Cancelled => write!(f, "JoinError::Cancelled({id:?})"),
                KitReason::PanicText(text) => write!(f, "JoinError::Panic({id:?}, {text:?}, ...)"),
                KitReason::Panic => write!(f, "JoinError::Panic({id:?}, ...)"),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    /// As tokio's: an error of kind `Other` saying `task was cancelled` or `task panicked`.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     let io: std::io::Error = h.await.unwrap_err().into();
    ///     assert_eq!(io.kind(), std::io::ErrorKind::Other);
    ///     assert_eq!(io.to_string(), "task was cancelled");
    /// });
    /// ```
    fn from(e: JoinError) -> Self {
        match e.0 {
            ErrorRepr::Tokio(e) => e.into(),
            ErrorRepr::Kit(e) if e.is_cancelled() => std::io::Error::other("task was cancelled"),
            ErrorRepr::Kit(_) => std::io::Error::other("task panicked"),
        }
    }
}

/// A set of tasks, as `tokio::task::JoinSet`: its `spawn` and `spawn_local` start kit
/// tasks inside an async-testkit run and tokio tasks elsewhere; `join_next` returns them
/// as they finish; dropping the set aborts every task in it.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let mut set = tokio::task::JoinSet::new();
///     for i in 0..3u32 {
///         set.spawn(async move { i });
///     }
///     let mut got = Vec::new();
///     while let Some(r) = set.join_next().await {
///         got.push(r.unwrap());
///     }
///     got.sort();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
pub struct JoinSet<T> {
    /// The tasks, by the key of their entry in `lists`, each with the waker it finishes
    /// through.
    members: HashMap<u64, (Member<T>, Waker)>,
    /// Which tasks have woken the set since they were last polled: shared with each
    /// task's waker, which may run on any thread.
    lists: Arc<Mutex<Lists>>,
    /// The key of the next task inserted.
    next_key: u64,
}

/// A task of a [`JoinSet`].
enum Member<T> {
    Running(JoinHandle<T>),
    /// Finished before it was inserted (a handle whose task was already done).
    Finished(Id, Result<T, JoinError>),
}

/// The set's two lists, as tokio keeps them: the idle tasks, and the notified ones in
/// the order their wakes came (the order `join_next` takes them in).
#[derive(Default)]
struct Lists {
    /// Idle tasks by the order they became idle (oldest first), for `abort_all`'s order.
    idle: BTreeMap<u64, u64>,
    /// Notified tasks, oldest wake first.
    notified: VecDeque<u64>,
    /// Where each task of the set is: `Some(seq)`, idle since `seq`; `None`, notified.
    place: HashMap<u64, Option<u64>>,
    next_seq: u64,
    /// The waker of the last `poll_join_next` that found nothing to take.
    waiter: Option<Waker>,
}

impl Lists {
    fn make_idle(&mut self, key: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.idle.insert(seq, key);
        self.place.insert(key, Some(seq));
    }

    /// The oldest notified task, made idle again (until its next wake).
    fn pop_notified(&mut self) -> Option<u64> {
        let key = self.notified.pop_front()?;
        self.make_idle(key);
        Some(key)
    }

    fn remove(&mut self, key: u64) {
        match self.place.remove(&key) {
            Some(Some(seq)) => {
                self.idle.remove(&seq);
            }
            Some(None) => self.notified.retain(|&k| k != key),
            None => {}
        }
    }
}

fn locked(lists: &Mutex<Lists>) -> std::sync::MutexGuard<'_, Lists> {
    lists.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The waker a task of a set finishes through: it moves the task to the notified list
/// and wakes whoever waits on the set.
struct MemberWaker {
    lists: Arc<Mutex<Lists>>,
    key: u64,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiter = {
            let mut lists = locked(&self.lists);
            let Some(Some(seq)) = lists.place.get(&self.key).copied() else {
                return; // already notified, or no longer in the set
            };
            lists.idle.remove(&seq);
            lists.place.insert(self.key, None);
            lists.notified.push_back(self.key);
            lists.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = async_testkit_tokio::task::JoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        JoinSet {
            members: HashMap::new(),
            lists: Arc::default(),
            next_key: 0,
        }
    }

    /// How many tasks are in the set (running, or finished and not yet joined).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     assert_eq!(set.len(), 1);
    ///     set.join_next().await.unwrap().unwrap();
    ///     assert_eq!(set.len(), 0);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set holds no task.
    ///
    /// ```
    /// assert!(async_testkit_tokio::task::JoinSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Asks every task in the set to stop; they stay in the set until joined (as
    /// cancelled, or with their output if they had finished).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.abort_all();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        // In tokio's order: the idle tasks, longest idle first, then the notified ones.
        let order: Vec<u64> = {
            let lists = locked(&self.lists);
            lists
                .idle
                .values()
                .chain(lists.notified.iter())
                .copied()
                .collect()
        };
        for key in order {
            if let Some((Member::Running(handle), _)) = self.members.get(&key) {
                handle.abort();
            }
        }
    }

    /// Removes every task from the set without aborting them: they keep running.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     set.detach_all();
    ///     assert!(set.is_empty());
    ///     tokio::task::yield_now().await; // the detached task finishes on its own
    /// });
    /// ```
    pub fn detach_all(&mut self) {
        self.members.clear();
        let mut lists = locked(&self.lists);
        lists.idle.clear();
        lists.notified.clear();
        lists.place.clear();
    }

    /// Polls for the next task to finish, as tokio's `JoinSet::poll_join_next`:
    /// `Ready(None)` when the set is empty.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async { 7 });
    ///     let r = std::future::poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(r.unwrap().unwrap(), 7);
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|next| next.map(|r| r.map(|(_, v)| v)))
    }

    /// Polls for the next task to finish, with its [`Id`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     let id = set.spawn(async { 7 }).id();
    ///     let r = std::future::poll_fn(|cx| set.poll_join_next_with_id(cx)).await;
    ///     assert_eq!(r.unwrap().unwrap(), (id, 7));
    /// });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.members.is_empty() {
            return Poll::Ready(None);
        }
        let key = {
            let mut lists = locked(&self.lists);
            if !lists.waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                lists.waiter = Some(cx.waker().clone());
            }
            lists.pop_notified()
        };
        let Some(key) = key else {
            return Poll::Pending;
        };
        match self.poll_member(key, false) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => {
                // Woken but not done (its handle ran out of budget): as tokio's, give
                // the executor a turn and come back.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// Waits for the next task to finish: `None` once the set is empty.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async { "done" });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), "done");
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Waits for the next task to finish, with its [`Id`].
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     let id = set.spawn(async { 1 }).id();
    ///     assert_eq!(set.join_next_with_id().await.unwrap().unwrap(), (id, 1));
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// The next task that has finished, without waiting: `None` if none has.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async { 3 });
    ///     assert!(set.try_join_next().is_none()); // not run yet
    ///     tokio::task::yield_now().await;
    ///     assert_eq!(set.try_join_next().unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|r| r.map(|(_, v)| v))
    }

    /// The next task that has finished, with its [`Id`], without waiting.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     let id = set.spawn(async { 3 }).id();
    ///     tokio::task::yield_now().await;
    ///     assert_eq!(set.try_join_next_with_id().unwrap().unwrap(), (id, 3));
    /// });
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        loop {
            let key = locked(&self.lists).pop_notified()?;
            if let Poll::Ready(r) = self.poll_member(key, true) {
                return Some(r);
            }
        }
    }

    /// Aborts every task and waits until all have finished; the set is then empty.
    /// Panics of the tasks are ignored, as tokio's does.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they finished.
    ///
    /// # Panics
    ///
    /// When a task failed, as tokio's does: a task's panic is resumed here, and a
    /// cancelled task panics with the error; the tasks left are aborted (the set drops).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     set.spawn(async { 2 });
    ///     let mut all = set.join_all().await;
    ///     all.sort();
    ///     assert_eq!(all, [1, 2]);
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(next) = self.join_next().await {
            match next {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    fn insert(&mut self, mut handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let key = self.next_key;
        self.next_key += 1;
        let waker = Waker::from(Arc::new(MemberWaker {
            lists: self.lists.clone(),
            key,
        }));
        locked(&self.lists).make_idle(key);
        // Hands the handle the task's waker, as tokio's set does when it inserts a handle
        // (and without using up the budget of the task that spawns): a task that is
        // already done wakes it at once.
        let id = handle.id();
        let polled = poll_unconstrained(&mut handle, &waker);
        let member = match polled {
            Poll::Ready(r) => {
                waker.wake_by_ref();
                Member::Finished(id, r)
            }
            Poll::Pending => Member::Running(handle),
        };
        self.members.insert(key, (member, waker));
        abort
    }

    /// Polls the task of `key` with its own waker (outside the budget when `unconstrained`);
    /// one that is done leaves the set.
    fn poll_member(&mut self, key: u64, unconstrained: bool) -> Poll<Result<(Id, T), JoinError>> {
        let Some((member, waker)) = self.members.get_mut(&key) else {
            return Poll::Pending;
        };
        if let Member::Running(handle) = member {
            let id = handle.id();
            let polled = if unconstrained {
                poll_unconstrained(handle, waker)
            } else {
                Pin::new(handle).poll(&mut Context::from_waker(waker))
            };
            match polled {
                Poll::Ready(r) => *member = Member::Finished(id, r),
                Poll::Pending => return Poll::Pending,
            }
        }
        locked(&self.lists).remove(key);
        match self.members.remove(&key) {
            Some((Member::Finished(id, r), _)) => Poll::Ready(r.map(|v| (id, v))),
            _ => unreachable!("a finished member was just stored"),
        }
    }
}

impl<T: 'static> JoinSet<T> {
    /// Starts a task in the set, as [`spawn`] does (a kit task inside a run).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     let abort = set.spawn(std::future::pending::<()>());
    ///     abort.abort();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(spawn(task))
    }

    /// Starts a task on `handle`'s runtime, always a tokio task (not explored).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn_on(async { 5 }, &tokio::runtime::Handle::current());
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 5);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &tokio::runtime::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.insert(JoinHandle::tokio(handle.spawn(task)))
    }

    /// Starts a task that need not be `Send`, as [`spawn_local`] does (a kit task inside a
    /// run; elsewhere a task of the current `LocalSet`).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     let rc = std::rc::Rc::new(4);
    ///     set.spawn_local(async move { *rc });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(spawn_local(task))
    }

    /// Starts a task on `local_set`, always a tokio task (not explored).
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// let mut set = tokio::task::JoinSet::new();
    /// set.spawn_local_on(async { 9 }, &local);
    /// let r = local.block_on(&rt, async { set.join_next().await });
    /// assert_eq!(r.unwrap().unwrap(), 9);
    /// ```
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, task: F, local_set: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(local_set.spawn_local(task))
    }

    /// Runs a blocking closure on tokio's blocking pool, in the set.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn_blocking(|| 2 + 2);
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(spawn_blocking(f))
    }

    /// Runs a blocking closure on `handle`'s blocking pool, in the set.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.spawn_blocking_on(|| 1, &tokio::runtime::Handle::current());
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &tokio::runtime::Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.insert(JoinHandle::tokio(handle.spawn_blocking(f)))
    }
}

/// One poll of `handle` with `waker`, outside the cooperative budget.
fn poll_unconstrained<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    let mut cx = Context::from_waker(waker);
    std::pin::pin!(tokio::task::coop::unconstrained(handle)).poll(&mut cx)
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    /// Spawns every future of the iterator into a new set.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let set: tokio::task::JoinSet<u8> = (0..3u8).map(|i| async move { i }).collect();
    ///     assert_eq!(set.join_all().await.len(), 3);
    /// });
    /// ```
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    /// Spawns every future of the iterator into the set.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let mut set = tokio::task::JoinSet::new();
    ///     set.extend((1..=2u8).map(|i| async move { i }));
    ///     assert_eq!(set.len(), 2);
    ///     set.shutdown().await;
    /// });
    /// ```
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            self.spawn(task);
        }
    }
}

/// `tokio::task::join_set`, with this crate's [`JoinSet`].
pub mod join_set {
    #[doc(no_inline)]
    pub use super::JoinSet;
}

/// tokio's unstable task builder (`--cfg tokio_unstable` and the `tracing` feature), with
/// its `spawn` and `spawn_local` routed as [`spawn`] and [`spawn_local`] are: inside a run,
/// a kit task that reports show under the builder's name.
///
/// ```
/// use async_testkit_tokio as tokio;
///
/// async_testkit::run(async {
///     let h = tokio::task::Builder::new().name("flusher").spawn(async { 1 }).unwrap();
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
#[cfg(all(tokio_unstable, feature = "tracing"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

#[cfg(all(tokio_unstable, feature = "tracing"))]
impl<'a> Builder<'a> {
    /// A builder for an unnamed task.
    ///
    /// ```
    /// let _ = async_testkit_tokio::task::Builder::new();
    /// ```
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// The task's name (in the kit's reports, or tokio's tracing).
    ///
    /// ```
    /// let _ = async_testkit_tokio::task::Builder::new().name("worker");
    /// ```
    pub fn name(&self, name: &'a str) -> Self {
        Builder { name: Some(name) }
    }

    fn tokio(&self) -> tokio::task::Builder<'a> {
        match self.name {
            Some(name) => tokio::task::Builder::new().name(name),
            None => tokio::task::Builder::new(),
        }
    }

    fn kit(&self) -> async_testkit::task::Builder {
        match self.name {
            Some(name) => async_testkit::task::Builder::new().name(name),
            None => async_testkit::task::Builder::new(),
        }
    }

    /// Spawns the task, as [`spawn`] does.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::task::Builder::new().name("w").spawn(async { 2 }).unwrap();
    ///     assert_eq!(h.await.unwrap(), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<Fut>(self, future: Fut) -> std::io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        if kit() {
            Ok(JoinHandle::kit(self.kit().spawn(future)))
        } else {
            self.tokio().spawn(future).map(JoinHandle::tokio)
        }
    }

    /// Spawns the task on `handle`'s runtime: always a tokio task.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let handle = tokio::runtime::Handle::current();
    ///     let h = tokio::task::Builder::new().spawn_on(async { 3 }, &handle).unwrap();
    ///     assert_eq!(h.await.unwrap(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_on<Fut>(
        self,
        future: Fut,
        handle: &tokio::runtime::Handle,
    ) -> std::io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.tokio().spawn_on(future, handle).map(JoinHandle::tokio)
    }

    /// Spawns a task that need not be `Send`, as [`spawn_local`] does.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let rc = std::rc::Rc::new(4);
    ///     let h = tokio::task::Builder::new().spawn_local(async move { *rc }).unwrap();
    ///     assert_eq!(h.await.unwrap(), 4);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<Fut>(self, future: Fut) -> std::io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        if kit() {
            Ok(JoinHandle::kit(crate::local_set::spawn_kit_local(
                self.kit(),
                future,
            )))
        } else {
            self.tokio().spawn_local(future).map(JoinHandle::tokio)
        }
    }

    /// Spawns a task on `local_set`: always a tokio task.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// let h = tokio::task::Builder::new().spawn_local_on(async { 5 }, &local).unwrap();
    /// assert_eq!(local.block_on(&rt, h).unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn spawn_local_on<Fut>(
        self,
        future: Fut,
        local_set: &LocalSet,
    ) -> std::io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        self.tokio()
            .spawn_local_on(future, local_set)
            .map(JoinHandle::tokio)
    }

    /// Runs a blocking closure on tokio's blocking pool.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let h = tokio::task::Builder::new().spawn_blocking(|| 6).unwrap();
    ///     assert_eq!(h.await.unwrap(), 6);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<Function, Output>(self, function: Function) -> std::io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        self.tokio().spawn_blocking(function).map(JoinHandle::tokio)
    }

    /// Runs a blocking closure on `handle`'s blocking pool.
    ///
    /// ```
    /// use async_testkit_tokio as tokio;
    ///
    /// async_testkit::run(async {
    ///     let handle = tokio::runtime::Handle::current();
    ///     let h = tokio::task::Builder::new().spawn_blocking_on(|| 7, &handle).unwrap();
    ///     assert_eq!(h.await.unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_blocking_on<Function, Output>(
        self,
        function: Function,
        handle: &tokio::runtime::Handle,
    ) -> std::io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        self.tokio()
            .spawn_blocking_on(function, handle)
            .map(JoinHandle::tokio)
    }
}
