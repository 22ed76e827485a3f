//! What other threads see of a run: the ready queue that wakers push to, the flags
//! tokio's park hook reads, the watchdog's view, and the task wakers themselves.
//!
//! Everything else of a run lives on its thread, in the executor (`Rc`, `Cell`). Code
//! here may be called from any thread (a waker moved to a blocking closure, the
//! watchdog) and takes no reference to the executor.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::Duration;

use super::mark::WakeFrom;
use super::panics::RunPanics;
use super::tasks::TaskMeta;
use crate::trace::TaskId;
use crate::util::lock;

/// Where the executor thread is, for the watchdog: kept in two atomics because it
/// changes around every poll.
#[derive(Clone, Debug)]
pub(crate) enum Activity {
    Idle,
    /// Polling this kit task, since this [`super::wall`] reading (in nanoseconds).
    Polling(TaskId, Duration),
    InTokio,
}

pub(crate) const ACTIVITY_IDLE: usize = usize::MAX;
pub(crate) const ACTIVITY_TOKIO: usize = usize::MAX - 1;

/// State shared with wakers, tokio's hooks and the watchdog (other threads).
///
/// # Ground rules
///
/// Threads: the *run thread* runs the executor, and inside `block_on` tokio's own tasks
/// and its park hooks (the runtime is current-thread). *Wakers* may run on any thread.
/// The *watchdog* is one thread for the process.
///
/// - `ready` and `idle_waker` are behind mutexes; everything below is an atomic flag.
/// - `body_first` is written and read under `ready`'s lock (Relaxed).
/// - `waiting` is written by the run thread only: `true` (SeqCst) just before the wait's
///   future returns `Pending`, `false` while that future runs and after the wait.
///   Wakers read it (SeqCst) *after* pushing to `ready`; the wait stores it *before*
///   looking at `ready` again. With SeqCst on both sides, either the waker sees
///   `waiting` and wakes `block_on`, or the wait sees the push: a wake is never lost.
///   Stores of `false` are Relaxed: they only skip wakes the wait does not need.
/// - `intercept`, `jump_once` and `quiescent` are written and read on the run thread
///   only (by the executor, by tokio's tasks through `request_settle` and
///   `time::advance`, and by the park hook, which tokio calls on the run thread).
///   Relaxed suffices; the SeqCst stores in `request_settle` and `refresh_intercept`
///   are for readers' peace of mind, not for correctness.
/// - `wall_expired` is written once by the watchdog (SeqCst) and read by the run thread
///   at every step (Relaxed in the main loop: seeing it one step late is harmless) and
///   before the wait sleeps (SeqCst, paired with the watchdog's wake of `idle_waker`).
/// - `spin_look_at` is written by the run thread (SeqCst) when a settling wait wants the
///   watchdog to look, and taken (swapped to 0) by the watchdog, which then sets
///   `spin_looked` (SeqCst) and wakes `idle_waker`; the wait stores `waiting` before it
///   reads `spin_looked` (SeqCst on both sides, as for `ready`), so no look is lost.
/// - `finished` is written once by the run thread when the run ends (SeqCst); the
///   watchdog reads it before it reports a run as stuck.
/// - `activity_task` / `activity_since` are written by the run thread around every
///   poll, `since` first (Relaxed) then `task` (Release); the watchdog reads `task`
///   (Acquire) then `since`, so a task it sees comes with its own start time.
pub(crate) struct Shared {
    /// Kit tasks woken and not yet polled, in wake order (a task at most once: see
    /// [`TaskWaker`]'s `queued`).
    pub(crate) ready: Mutex<VecDeque<TaskId>>,
    /// The body (task 0) is at the front of `ready` where tokio would poll its `block_on`
    /// future next: the next pick keeps it there (see `Executor::pick`).
    pub(crate) body_first: AtomicBool,
    /// The body was queued behind other tasks (a task's poll woke it, see
    /// [`Shared::body_goes_first`]) since tokio's drivers last turned: tokio polls such a
    /// body only after its queue ran and its drivers turned (a park), so I/O readiness a
    /// task's write made is known to the body when it runs. Cleared by a turn and by a
    /// poll of the body.
    pub(crate) body_after_step: AtomicBool,
    /// The waker of the executor's wait inside `block_on`, while it waits.
    pub(crate) idle_waker: Mutex<Option<Waker>>,
    /// The executor waits inside `block_on` and must be woken for a push to `ready`.
    pub(crate) waiting: AtomicBool,
    /// The park hook stops tokio from parking (and moving a paused clock): it wakes the
    /// wait instead and sets `quiescent`.
    pub(crate) intercept: AtomicBool,
    /// Let tokio park (and jump the clock) once despite `intercept`.
    pub(crate) jump_once: AtomicBool,
    /// The park hook found tokio with nothing to run while intercepting.
    pub(crate) quiescent: AtomicBool,

    /// The watchdog found the run past its wall-clock deadline.
    pub(crate) wall_expired: AtomicBool,
    /// When (a [`super::wall::precise`] reading) the watchdog should look at a settling
    /// wait that may be stuck inside tokio's loop (0: no look wanted). See
    /// `Executor::settle_at_end`.
    pub(crate) spin_look_at: AtomicU64,
    /// The watchdog looked (at or after `spin_look_at`) and woke the wait.
    pub(crate) spin_looked: AtomicBool,
    /// The run is over (the watchdog no longer reports it).
    pub(crate) finished: AtomicBool,
    /// The kit task being polled, or [`ACTIVITY_IDLE`] / [`ACTIVITY_TOKIO`].
    activity_task: std::sync::atomic::AtomicUsize,
    /// The wall reading (nanoseconds) when the current activity began.
    activity_since: AtomicU64,
    /// Every task's description, for reports written off the run thread.
    pub(crate) metas: Mutex<Vec<TaskMeta>>,
    /// Panics of code the executor does not poll (tokio's tasks, blocking closures).
    pub(crate) panics: Arc<RunPanics>,
    /// Set once the run starts: `seed ..., replay: ...` for reports written off-thread.
    pub(crate) replay_line: Mutex<String>,
    pub(crate) test_name: Mutex<String>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Shared {
            ready: Mutex::new(VecDeque::new()),
            body_first: AtomicBool::new(false),
            body_after_step: AtomicBool::new(false),
            idle_waker: Mutex::new(None),
            waiting: AtomicBool::new(false),
            intercept: AtomicBool::new(false),
            jump_once: AtomicBool::new(false),
            quiescent: AtomicBool::new(false),

            wall_expired: AtomicBool::new(false),
            spin_look_at: AtomicU64::new(0),
            spin_looked: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            activity_task: std::sync::atomic::AtomicUsize::new(ACTIVITY_IDLE),
            activity_since: AtomicU64::new(0),
            metas: Mutex::new(Vec::new()),
            panics: Arc::new(RunPanics::default()),
            replay_line: Mutex::new(String::new()),
            test_name: Mutex::new(String::new()),
        })
    }

    /// Queues task `id`, unless it has `finished` (checked under the queue's lock, where
    /// `Executor::finish` sets it): at the back, or at the front as the body that goes
    /// `first`.
    pub(crate) fn push_ready(&self, id: TaskId, finished: &AtomicBool, first: bool) {
        {
            let mut ready = lock(&self.ready);
            if finished.load(Relaxed) {
                return;
            }
            if first {
                ready.push_front(id);
                self.body_first.store(true, Relaxed);
            } else {
                ready.push_back(id);
            }
        }
        self.wake_waiter();
    }

    /// Whether a wake of the body made `from` there puts it first, as tokio's
    /// `current_thread` scheduler polls its `block_on` future at the top of each round of
    /// its loop when a park (its drivers: a timer, I/O; a wake from another thread while
    /// it runs its own tasks or sleeps) woke it, before the tasks that park woke; woken by
    /// a task's poll (a kit task's, or one of tokio's), it is polled only once the run
    /// queue has emptied. A wake from another thread while the kit polls its tasks is
    /// such a wake too.
    fn body_goes_first(&self, from: WakeFrom) -> bool {
        match from {
            WakeFrom::Step => false,
            WakeFrom::RunThread => tokio::task::try_id().is_none(),
            WakeFrom::Elsewhere => self.activity_task.load(Acquire) == ACTIVITY_TOKIO,
        }
    }

    /// Wakes the executor if it waits inside `block_on`.
    pub(crate) fn wake_waiter(&self) {
        if self.waiting.load(SeqCst) {
            if let Some(w) = lock(&self.idle_waker).as_ref() {
                w.wake_by_ref();
            }
        }
    }

    pub(crate) fn set_activity(&self, task: usize, since_nanos: u64) {
        self.activity_since.store(since_nanos, Relaxed);
        self.activity_task.store(task, Release);
    }

    /// What the executor thread is doing now.
    pub(crate) fn activity(&self) -> Activity {
        match self.activity_task.load(Acquire) {
            ACTIVITY_IDLE => Activity::Idle,
            ACTIVITY_TOKIO => Activity::InTokio,
            id => Activity::Polling(id, Duration::from_nanos(self.activity_since.load(Relaxed))),
        }
    }

    /// Drops the runtime's waker and any queued ids at the end of a run.
    pub(crate) fn release_runtime(&self) {
        self.waiting.store(false, SeqCst);
        lock(&self.idle_waker).take();
        lock(&self.ready).clear();
        self.body_first.store(false, Relaxed);
        self.body_after_step.store(false, Relaxed);
    }

    /// tokio's `on_thread_park` hook: tokio has nothing to run and is about to park.
    pub(crate) fn on_park(&self) {
        if self.waiting.load(SeqCst) && self.intercept.load(Relaxed) {
            if self.jump_once.swap(false, Relaxed) {
                return;
            }
            self.quiescent.store(true, Relaxed);
            if let Some(w) = lock(&self.idle_waker).as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

/// The waker of one kit task, and the flags the executor reads before polling it.
pub(crate) struct TaskWaker {
    pub(crate) id: TaskId,
    /// The task is in (or on its way into) the ready queue: set by the wake that queues
    /// it (AcqRel swap, so one wake of many queues it), cleared by the executor just
    /// before it polls the task (Release), read after the poll (Acquire) to see whether
    /// the task woke itself.
    pub(crate) queued: AtomicBool,
    /// Its handle asked it to stop: its future is dropped instead of polled.
    pub(crate) aborted: AtomicBool,
    /// The task has finished: a wake (from any thread) no longer queues it. Written
    /// and read under the ready queue's lock.
    pub(crate) finished: AtomicBool,
    /// The task's outcome is known (completed, panicked or cancelled): what
    /// `JoinHandle::is_finished` and `AbortHandle::is_finished` read (SeqCst).
    pub(crate) outcome: AtomicBool,
    pub(crate) shared: Arc<Shared>,
}

impl TaskWaker {
    /// Asks the task to stop and wakes it, so that the executor drops its future.
    pub(crate) fn abort(self: &Arc<Self>) {
        self.aborted.store(true, SeqCst);
        self.wake_by_ref();
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let from = super::mark::note_wake(self.id);
        if !self.queued.swap(true, AcqRel) {
            let first = self.id == 0 && self.shared.body_goes_first(from);
            if self.id == 0 && !first {
                self.shared.body_after_step.store(true, Relaxed);
            }
            self.shared.push_ready(self.id, &self.finished, first);
        }
    }
}
