//! The run's task table: one entry per task, holding its future while it lives and
//! its counters for good, reused across the runs of a thread.

use std::cell::RefCell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Waker;

use super::shared::TaskWaker;
use super::tasks::{JoinControl, TaskStats};

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// A live task's future and the handles the executor polls and finishes it with.
pub(crate) struct Slot {
    /// The future and the waker it is polled with, moved out while it is polled (so a
    /// poll takes no reference count).
    pub(crate) fut: Option<(BoxFuture, Waker)>,
    pub(crate) waker: Arc<TaskWaker>,
    pub(crate) control: Arc<dyn JoinControl>,
}

/// One task's entry in the task table: its future while it lives, its bookkeeping for
/// good (one entry, so that a poll touches one place).
pub(crate) struct TaskEntry {
    /// `Some` while the task lives; taken when it finishes (completed, panicked,
    /// cancelled), never put back.
    pub(crate) slot: Option<Slot>,
    pub(crate) stats: TaskStats,
}

thread_local! {
    /// The task table of the last run on this thread, emptied, for the next run to fill
    /// without growing it again (an exploration, a benchmark, proptest cases).
    static SPARE_TASKS: RefCell<Vec<TaskEntry>> = const { RefCell::new(Vec::new()) };
}

/// Tables up to this many entries are kept for the next run.
const SPARE_TASKS_MAX: usize = 1 << 16;

/// The task table, indexed by task id (ids are given in order from 0, the body). It
/// starts from this thread's spare table and gives its storage back when the run ends.
pub(crate) struct TaskTable(Vec<TaskEntry>);

impl TaskTable {
    /// An empty table, reusing the storage the last run on this thread left.
    pub(crate) fn new() -> Self {
        TaskTable(SPARE_TASKS.with(RefCell::take))
    }

    /// Whether task `id` still has its future (it has not finished).
    pub(crate) fn is_live(&self, id: usize) -> bool {
        self.0.get(id).is_some_and(|e| e.slot.is_some())
    }

    /// Whether any task still has its future.
    pub(crate) fn any_live(&self) -> bool {
        self.0.iter().any(|e| e.slot.is_some())
    }
}

impl Deref for TaskTable {
    type Target = Vec<TaskEntry>;
    fn deref(&self) -> &Vec<TaskEntry> {
        &self.0
    }
}

impl DerefMut for TaskTable {
    fn deref_mut(&mut self) -> &mut Vec<TaskEntry> {
        &mut self.0
    }
}

impl Drop for TaskTable {
    fn drop(&mut self) {
        let mut tasks = std::mem::take(&mut self.0);
        if tasks.capacity() <= SPARE_TASKS_MAX {
            tasks.clear();
            let _ = SPARE_TASKS.try_with(|spare| *spare.borrow_mut() = tasks);
        }
    }
}
