//! Kit tasks: [`spawn`], [`spawn_background`], [`Builder`] for named tasks,
//! [`JoinHandle`], and [`yield_point`].
//!
//! Kit tasks run on the test's thread, so their futures need not be `Send`. The kit's
//! scheduler decides which ready task runs next, records what each did in the trace, and
//! names each task in failure reports with its spawn site.
//!
//! ```
//! async_testkit::run(async {
//!     let producer = async_testkit::task::Builder::new().name("producer").spawn(async { 21 });
//!     assert_eq!(producer.await.unwrap() * 2, 42);
//! });
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::runtime::executor;
use crate::runtime::panics;
use crate::runtime::shared::TaskWaker;
use crate::runtime::tasks::{JoinControl, TaskMeta};
use crate::trace::{EventKind, TaskId};
use crate::util::lock;

/// Starts a kit task running `fut`, returning a handle to await its output.
///
/// The task must finish (or be aborted) before the test body returns, or the leak oracle
/// fails the test naming the task and this call site. Use [`spawn_background`] for tasks
/// meant to outlive the body.
///
/// # Panics
///
/// Outside an async-testkit run.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::spawn(async { 1 + 2 });
///     assert_eq!(h.await.unwrap(), 3);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Builder::new().spawn_at(fut, Location::caller(), "async_testkit::spawn")
}

/// Starts a kit task that may outlive the test body: it is not a leak, and it is
/// cancelled (dropped) when the test ends.
///
/// ```
/// use std::time::Duration;
/// async_testkit::run(async {
///     async_testkit::spawn_background(async {
///         loop {
///             tokio::time::sleep(Duration::from_secs(1)).await; // a heartbeat, forever
///         }
///     });
///     tokio::time::sleep(Duration::from_secs(10)).await;
/// }); // passes: the heartbeat is cancelled, not reported
/// ```
#[track_caller]
pub fn spawn_background<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Builder::new()
        .background(true)
        .spawn_at(fut, Location::caller(), "async_testkit::spawn_background")
}

/// Configures a kit task before spawning it: a name for reports and traces, and whether
/// it is a background task.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::task::Builder::new().name("worker").spawn(async { "ok" });
///     assert_eq!(h.name(), Some("worker"));
///     assert_eq!(h.await.unwrap(), "ok");
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<String>,
    background: bool,
}

impl Builder {
    /// A builder for an unnamed, ordinary task.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     async_testkit::task::Builder::new().spawn(async {}).await.unwrap();
    /// });
    /// ```
    pub fn new() -> Self {
        Builder::default()
    }

    /// The task's name in reports, traces and errors.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::task::Builder::new().name("db").spawn(async {});
    ///     assert_eq!(h.name(), Some("db"));
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks the task as background: exempt from the leak oracle, cancelled at test end.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     async_testkit::task::Builder::new().background(true).spawn(std::future::pending::<()>());
    /// });
    /// ```
    pub fn background(mut self, background: bool) -> Self {
        self.background = background;
        self
    }

    /// Spawns the task.
    ///
    /// # Panics
    ///
    /// Outside an async-testkit run.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::task::Builder::new().name("x").spawn(async { 5 });
    ///     assert_eq!(h.await.unwrap(), 5);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_at(fut, Location::caller(), "async_testkit::task::Builder::spawn")
    }

    #[track_caller]
    fn spawn_at<F>(self, fut: F, site: &'static Location<'static>, what: &str) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let core = executor::current(what);
        let (meta, waker) = core.new_task(self.name, site, self.background);
        let inner = JoinInner::<F::Output>::new(core.run_id, meta, waker.clone());
        let done = inner.clone();
        let task = Box::pin(async move {
            let v = fut.await;
            done.complete(v);
        });
        core.start_task(waker, task, inner.clone());
        JoinHandle { inner }
    }
}

/// Awaits a kit task's output: `Ok(value)`, or a [`JoinError`] when the task panicked or
/// was aborted. Dropping the handle detaches the task (it keeps running). As tokio's
/// handle, a poll spends a unit of tokio's cooperative budget (given back when the task
/// has not finished).
///
/// As tokio's handle, it may be awaited on any thread: in a blocking closure
/// (`Handle::block_on`), on another runtime, after its run ended (a task the run's end
/// dropped gives a cancelled error). Awaiting it in another async-testkit run while its
/// task still runs panics: that run could not see what it waits for.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::spawn(std::future::pending::<()>());
///     h.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
}

impl<T> JoinHandle<T> {
    /// Asks the task to stop: its future is dropped before its next poll, and awaiting the
    /// handle gives a cancelled [`JoinError`] (or, as under tokio, a panic one when a
    /// destructor panics while the future is dropped). A task that already finished is
    /// unaffected.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.inner.waker.abort();
    }

    /// Whether the task has finished (completed, panicked or cancelled).
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(async {});
    ///     assert!(!h.is_finished());
    ///     async_testkit::time::run_until_idle().await;
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.waker.outcome.load(SeqCst)
    }

    /// The task's [`Id`], the number its reports and traces show after `#`.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(async { async_testkit::task::id() });
    ///     let id = h.id();
    ///     assert_eq!(h.await.unwrap(), id); // the task sees the same id
    ///     assert_eq!(id.to_string(), "1"); // the body is task 0
    /// });
    /// ```
    pub fn id(&self) -> Id {
        Id(self.inner.meta.id)
    }

    /// A handle that can abort the task without owning its output (it may be cloned and
    /// sent to other threads).
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     let abort = h.abort_handle();
    ///     abort.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            id: self.inner.meta.id,
            waker: self.inner.waker.clone(),
        }
    }

    /// The task's name, if it was given one.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(async {});
    ///     assert_eq!(h.name(), None);
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.meta.name.as_deref()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.inner.meta.label();
        f.debug_struct("JoinHandle")
            .field("task", &label)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &self.inner;
        let describe = || format!("task {} (spawned at {})", inner.meta.label(), inner.meta.site);
        // As tokio's handle, it may be awaited on any thread (a blocking closure, another
        // runtime): its task's run sets the output (a cancelled error at the latest, when
        // the run ends). Only another run's handle whose task has not finished is refused:
        // that run cannot see the wait, and would call it a deadlock.
        if let Some(c) = executor::try_current() {
            if c.run_id != inner.run_id && !inner.waker.outcome.load(SeqCst) {
                panic!(
                    "the JoinHandle of {} was awaited in a different async-testkit run than the one that spawned it, \
                     before that task finished.\n\
                     Tasks do not outlive their run: spawn the task again inside this test.",
                    describe()
                );
            }
        }
        // As tokio's handle, a poll spends a unit of the task's cooperative budget: with the
        // budget spent it returns Pending and the task yields (a loop that joins finished
        // tasks lets others run every 128 joins). A poll that finds no output gives its
        // unit back when `coop` drops.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut state = lock(&inner.state);
        if let Some(out) = state.output.take() {
            state.taken = true;
            coop.made_progress();
            return Poll::Ready(out.map_err(|e| *e));
        }
        if state.taken {
            panic!(
                "the JoinHandle of {} was polled again after it returned its output",
                describe()
            );
        }
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Why a task produced no value: it panicked, or it was cancelled (aborted, or dropped at
/// the end of the test).
///
/// A panic in a task fails the test even when the handle is awaited, unless the test
/// takes the panic with [`JoinError::into_panic`]: that is how a test says the panic was
/// expected.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::spawn(async { panic!("expected") });
///     let err = h.await.unwrap_err();
///     assert!(err.is_panic());
///     let payload = err.into_panic(); // taken: the test does not fail for it
///     assert_eq!(*payload.downcast::<&str>().unwrap(), "expected");
/// });
/// ```
pub struct JoinError {
    repr: Repr,
    task: TaskMeta,
}

enum Repr {
    Cancelled,
    Panic {
        payload: Mutex<Option<Box<dyn Any + Send>>>,
        handled: Arc<AtomicBool>,
        message: String,
    },
}

impl JoinError {
    /// Whether the task was cancelled.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let err = async_testkit::spawn(async { panic!("p") }).await.unwrap_err();
    ///     assert!(err.is_panic());
    ///     err.into_panic();
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// Takes the panic's payload, marking the panic as handled so it does not fail the
    /// test.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicking; use [`JoinError::try_into_panic`].
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let err = async_testkit::spawn(async { panic!("boom") }).await.unwrap_err();
    ///     assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    /// });
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        match self.try_into_panic() {
            Ok(p) => p,
            Err(e) => panic!("JoinError::into_panic called on an error that is not a panic: {e}"),
        }
    }

    /// Takes the panic's payload if the task panicked (marking it handled), or gives the
    /// error back.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     h.abort();
    ///     let err = h.await.unwrap_err();
    ///     assert!(err.try_into_panic().is_err());
    /// });
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match &self.repr {
            Repr::Panic { payload, handled, .. } => {
                let taken = lock(payload).take();
                match taken {
                    Some(p) => {
                        handled.store(true, Ordering::SeqCst);
                        Ok(p)
                    }
                    None => Err(self),
                }
            }
            Repr::Cancelled => Err(self),
        }
    }

    /// The name of the task, if it had one.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::task::Builder::new().name("w").spawn(async { panic!("x") });
    ///     let err = h.await.unwrap_err();
    ///     assert_eq!(err.task_name(), Some("w"));
    ///     err.into_panic();
    /// });
    /// ```
    pub fn task_name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// The [`Id`] of the task that failed.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     let id = h.id();
    ///     h.abort();
    ///     assert_eq!(h.await.unwrap_err().id(), id);
    /// });
    /// ```
    pub fn id(&self) -> Id {
        Id(self.task.id)
    }
}

/// A payload nobody took is dropped as tokio drops one: a panic in the payload's own
/// `Drop` is swallowed (wherever the error goes: a detached task's state, a handle's
/// output dropped unread, the error the test dropped). The task's panic was recorded
/// already and fails the test as usual.
impl Drop for JoinError {
    fn drop(&mut self) {
        if let Repr::Panic { payload, .. } = &mut self.repr {
            let taken = payload.get_mut().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(p) = taken {
                panics::drop_payload(p);
            }
        }
    }
}

impl JoinError {
    /// The panic's payload as text when it is a `String` or a `&'static str` and has not
    /// been taken (what tokio's `JoinError` prints); `None` otherwise.
    pub(crate) fn payload_str(&self) -> Option<String> {
        match &self.repr {
            Repr::Panic { payload, .. } => {
                let payload = lock(payload);
                let payload = payload.as_ref()?;
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&'static str>().map(|s| (*s).to_string()))
            }
            Repr::Cancelled => None,
        }
    }
}

/// Aborts a kit task without owning its output: from [`JoinHandle::abort_handle`].
/// Unlike the `JoinHandle`, it can be cloned and sent to other threads.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::spawn(std::future::pending::<()>());
///     let abort = h.abort_handle();
///     assert_eq!(abort.id(), h.id());
///     assert!(!abort.is_finished());
///     abort.abort();
///     assert!(h.await.unwrap_err().is_cancelled());
/// });
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    id: TaskId,
    waker: Arc<TaskWaker>,
}

impl AbortHandle {
    /// Asks the task to stop, as [`JoinHandle::abort`] does.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(std::future::pending::<()>());
    ///     h.abort_handle().abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.waker.abort();
    }

    /// Whether the task has finished (completed, panicked or cancelled).
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(async {});
    ///     let abort = h.abort_handle();
    ///     h.await.unwrap();
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.waker.outcome.load(SeqCst)
    }

    /// The task's [`Id`].
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let h = async_testkit::spawn(async {});
    ///     assert_eq!(h.abort_handle().id(), h.id());
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn id(&self) -> Id {
        Id(self.id)
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A kit task's id: its number in its run (the test body is 0, then in spawn order), as
/// reports and traces show it after `#`. Unique within one run; another run (another
/// schedule of an exploration) numbers its tasks again from 0.
///
/// ```
/// async_testkit::run(async {
///     assert_eq!(async_testkit::task::id().to_string(), "0"); // the test body
///     let h = async_testkit::spawn(async {});
///     assert_ne!(h.id(), async_testkit::task::id());
///     h.await.unwrap();
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(TaskId);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The [`Id`] of the kit task being polled, or `None` outside one (outside a run, or in
/// a task tokio polls: a `tokio::spawn`ed task, a `spawn_blocking` closure).
///
/// ```
/// assert_eq!(async_testkit::task::try_id(), None);
/// async_testkit::run(async {
///     assert!(async_testkit::task::try_id().is_some());
/// });
/// ```
pub fn try_id() -> Option<Id> {
    executor::try_current()
        .and_then(|core| core.current.get())
        .map(Id)
}

/// The [`Id`] of the kit task being polled.
///
/// # Panics
///
/// Outside a kit task; use [`try_id`] there.
///
/// ```
/// async_testkit::run(async {
///     let h = async_testkit::spawn(async { async_testkit::task::id() });
///     assert_eq!(h.id(), h.await.unwrap());
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    try_id().unwrap_or_else(|| {
        panic!(
            "async_testkit::task::id() was called outside a kit task: it names the kit task being polled \
             (from the body or a task started with async_testkit::spawn, inside a run). Use \
             async_testkit::task::try_id() where there may be none."
        )
    })
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = format!("task {} (spawned at {})", self.task.label(), self.task.site);
        match &self.repr {
            Repr::Cancelled => write!(f, "{who} was cancelled"),
            Repr::Panic { message, .. } => write!(f, "{who} panicked: {message}"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

/// The state a task shares with its handle.
pub(crate) struct JoinInner<T> {
    run_id: u64,
    state: Mutex<JoinState<T>>,
    meta: TaskMeta,
    waker: Arc<TaskWaker>,
}

struct JoinState<T> {
    /// The outcome; the error boxed, so a task's shared state stays small.
    output: Option<Result<T, Box<JoinError>>>,
    waiter: Option<Waker>,
    taken: bool,
}

impl<T> JoinInner<T> {
    pub(crate) fn new(run_id: u64, meta: TaskMeta, waker: Arc<TaskWaker>) -> Arc<Self> {
        Arc::new(JoinInner {
            run_id,
            state: Mutex::new(JoinState {
                output: None,
                waiter: None,
                taken: false,
            }),
            meta,
            waker,
        })
    }

    fn set(&self, out: Result<T, Box<JoinError>>) {
        let waiter = {
            let mut state = lock(&self.state);
            if self.waker.outcome.load(SeqCst) {
                return;
            }
            state.output = Some(out);
            self.waker.outcome.store(true, SeqCst);
            state.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }

    pub(crate) fn complete(&self, v: T) {
        self.set(Ok(v));
    }
}

impl<T> JoinControl for JoinInner<T> {
    fn cancelled(&self) {
        self.set(Err(Box::new(JoinError {
            repr: Repr::Cancelled,
            task: self.meta.clone(),
        })));
    }

    fn panicked(&self, payload: Box<dyn Any + Send>, handled: Arc<AtomicBool>, message: String) {
        self.set(Err(Box::new(JoinError {
            repr: Repr::Panic {
                payload: Mutex::new(Some(payload)),
                handled,
                message,
            },
            task: self.meta.clone(),
        })));
    }
}

/// A choice point: the current task offers the scheduler to switch to another ready task.
///
/// Under FIFO the other ready tasks run first (like `tokio::task::yield_now`); under an
/// exploring strategy the scheduler may also continue with this task. Each yield point is
/// recorded in the trace with its location. Outside a kit run it is a plain yield.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// async_testkit::run(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let l = log.clone();
///     let other = async_testkit::spawn(async move { l.borrow_mut().push("other") });
///     log.borrow_mut().push("body, before");
///     async_testkit::yield_point().await; // FIFO: the other task runs here
///     log.borrow_mut().push("body, after");
///     other.await.unwrap();
///     assert_eq!(*log.borrow(), ["body, before", "other", "body, after"]);
/// });
/// ```
#[track_caller]
pub fn yield_point() -> YieldPoint {
    YieldPoint {
        at: Location::caller(),
        yielded: false,
    }
}

/// The future of [`yield_point`].
///
/// ```
/// async_testkit::run(async {
///     let y: async_testkit::task::YieldPoint = async_testkit::yield_point();
///     y.await;
/// });
/// ```
#[derive(Debug)]
#[must_use = "a yield point does nothing unless awaited"]
pub struct YieldPoint {
    at: &'static Location<'static>,
    yielded: bool,
}

impl Future for YieldPoint {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if let Some(core) = executor::try_current() {
            core.record(core.current.get(), EventKind::Yielded { at: self.at });
            core.kit_yield.set(true);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
