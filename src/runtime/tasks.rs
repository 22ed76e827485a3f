//! What the kit knows about its tasks, for the executor and the reports: a task's
//! description ([`TaskMeta`], shareable across threads), its state and counters, and how
//! its owner learns its outcome ([`JoinControl`]). Depends on nothing else in the runtime.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::trace::TaskId;

/// What the kit knows about a task, shareable across threads; cheap to clone (the name
/// is shared).
#[derive(Clone, Debug)]
pub(crate) struct TaskMeta {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) site: &'static Location<'static>,
    pub(crate) background: bool,
}

impl TaskMeta {
    /// `#0 test body`, `#3 "producer"`, `#4`.
    pub(crate) fn label(&self) -> String {
        match (&self.name, self.id) {
            (Some(n), id) => format!("#{id} \"{n}\""),
            (None, 0) => "#0 test body".to_string(),
            (None, id) => format!("#{id}"),
        }
    }
}

/// How a task's owner learns its outcome; implemented by the `JoinHandle` state.
pub(crate) trait JoinControl {
    fn cancelled(&self);
    fn panicked(&self, payload: Box<dyn std::any::Any + Send>, handled: Arc<AtomicBool>, message: String);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    Ready,
    Waiting,
    Completed,
    Panicked,
    Cancelled,
}

impl TaskState {
    pub(crate) fn word(self) -> &'static str {
        match self {
            TaskState::Ready => "ready",
            TaskState::Waiting => "waiting",
            TaskState::Completed => "completed",
            TaskState::Panicked => "panicked",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// Per-task bookkeeping kept after the task ends, for reports (the task's description
/// is kept once, in [`Shared::metas`]).
#[derive(Clone, Copy)]
pub(crate) struct TaskStats {
    pub(crate) state: TaskState,
    pub(crate) polls: u64,
    pub(crate) last_poll: Option<Duration>,
}

/// A task's description and bookkeeping, for reports.
#[derive(Clone)]
pub(crate) struct TaskInfo {
    pub(crate) meta: TaskMeta,
    pub(crate) state: TaskState,
    pub(crate) polls: u64,
    pub(crate) last_poll: Option<Duration>,
}
