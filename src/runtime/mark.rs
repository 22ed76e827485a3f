//! What code on a run's thread can learn without the executor itself: the run on this
//! thread, and the mark of the kit poll running now, both in one thread-local of plain
//! cells (read in a few instructions, where finding the executor takes a reference
//! count). The executor sets them; mocks read them to reuse a reading of the clock
//! within one kit poll (`time::poll_mark`).
//!
//! A mark names one stretch of one kit poll in which tokio's clock has stood still.
//! Marks are unique in the process (a block of them is taken from a global counter
//! at a time), never 0, so that two readings under one mark, on any thread, are equal.
//! Inside a kit poll the clock moves only by `tokio::time::advance`, which ends with a
//! wake of the polled task: that wake, made on this thread, ends the mark (no reading is
//! reused for the rest of the poll). Inside tokio's scheduler (a poll inside the
//! executor's wait) tokio defers that wake until after the poll: such polls get no mark.
//! Not seen: the clock moved by another thread in the middle of a poll that blocks on it
//! (a wake from there does not reach this thread's mark). A future polled by hand with a waker of its own (a
//! `Probe`) may have moved it too: the poll gets a new mark ([`note_hand_poll`]).
//!
//! It also says whether a kit task's step (its poll, or its end) runs on this thread now:
//! a waker learns there where its wake comes from ([`WakeFrom`]), which decides the body's
//! place in the ready queue.

use std::cell::Cell;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use crate::trace::TaskId;

struct Here {
    /// The run on this thread (its `run_id`), 0 for none.
    run: Cell<u64>,
    /// The mark of the kit poll running now, 0 outside one (or once its task was woken).
    mark: Cell<u64>,
    /// The task that poll polls.
    task: Cell<TaskId>,
    /// The next mark this thread gives out; its low 32 bits 0 when a block must be taken.
    next: Cell<u64>,
    /// A kit task's step runs on this thread: its poll, or the end of a task (its future
    /// dropped, its outcome told to its handle). A wake made then is a task's doing.
    stepping: Cell<bool>,
}

thread_local! {
    static HERE: Here = const {
        Here {
            run: Cell::new(0),
            mark: Cell::new(0),
            task: Cell::new(0),
            next: Cell::new(0),
            stepping: Cell::new(false),
        }
    };
}

/// Blocks of 2^32 marks handed to threads; block 0 is never given, so no mark is 0.
static BLOCKS: AtomicU64 = AtomicU64::new(1);

fn fresh(here: &Here) -> u64 {
    let mut next = here.next.get();
    if next & u64::from(u32::MAX) == 0 {
        next = (BLOCKS.fetch_add(1, Relaxed) << 32) | 1;
    }
    here.next.set(next.wrapping_add(1));
    next
}

/// The run on this thread (0 for none) and the mark of the kit poll running now (0 for
/// none), in one read.
#[inline]
pub(crate) fn here() -> (u64, u64) {
    HERE.try_with(|h| (h.run.get(), h.mark.get())).unwrap_or((0, 0))
}

/// The executor entered (`run_id`) or left (0) this thread.
pub(crate) fn set_run(run_id: u64) {
    let _ = HERE.try_with(|h| {
        h.run.set(run_id);
        h.mark.set(0);
        h.stepping.set(false);
    });
}

/// What a kit poll (or a drop) interrupted, restored by [`end_poll`]: nothing, unless
/// it runs inside another poll.
#[must_use]
pub(crate) struct Outer {
    mark: u64,
    task: TaskId,
}

/// Enters a poll of `task` (`None`: a drop, the polled task unchanged), under a new mark
/// when `marked`, else under none.
#[inline]
fn begin(task: Option<TaskId>, marked: bool) -> Outer {
    HERE.try_with(|h| Outer {
        task: match task {
            Some(t) => h.task.replace(t),
            None => h.task.get(),
        },
        mark: h.mark.replace(if marked { fresh(h) } else { 0 }),
    })
    .unwrap_or(Outer { mark: 0, task: 0 })
}

/// A kit poll of `task` begins, under a new mark.
pub(crate) fn begin_poll(task: TaskId) -> Outer {
    begin(Some(task), true)
}

/// A kit poll of `task` begins without a mark: nothing it reads of the clock is reused.
pub(crate) fn begin_unmarked_poll(task: TaskId) -> Outer {
    begin(Some(task), false)
}

/// A task's future is being dropped: no mark while it is (the task's waker may have been
/// called already, unseen).
pub(crate) fn begin_drop() -> Outer {
    begin(None, false)
}

/// The poll or drop begun with [`begin_poll`] or [`begin_drop`] ended. An outer poll it
/// interrupted goes on under a new mark (the clock may have moved meanwhile).
pub(crate) fn end_poll(outer: Outer) {
    let _ = HERE.try_with(|h| {
        h.task.set(outer.task);
        h.mark.set(if outer.mark == 0 { 0 } else { fresh(h) });
    });
}

/// A kit task's step begins (`true`: its poll, or the end of a task, or tokio's delivery
/// of the wakes a poll inside a wait left with it) or ends (`false`; also where tokio
/// parks, see `executor::on_park`) on this thread.
#[inline]
pub(crate) fn set_stepping(on: bool) {
    let _ = HERE.try_with(|h| h.stepping.set(on));
}

/// Whether a kit task's step runs on this thread now (see [`set_stepping`]).
#[inline]
pub(crate) fn stepping() -> bool {
    HERE.try_with(|h| h.stepping.get()).unwrap_or(false)
}

/// Where a wake was made, for the body's place in the ready queue (tokio polls its
/// `block_on` future before the tasks a park woke, after those a task's poll woke).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WakeFrom {
    /// In a kit task's step, on a run's thread.
    Step,
    /// Elsewhere on a run's thread: tokio's loop (a task of its own, its drivers), or the
    /// executor itself.
    RunThread,
    /// On a thread with no run (a blocking closure, a thread the test started).
    Elsewhere,
}

/// A task's waker was called on this thread: when it is the polled task's, the poll's
/// mark ends. Says where the wake was made.
#[inline]
pub(crate) fn note_wake(task: TaskId) -> WakeFrom {
    HERE.try_with(|h| {
        if h.task.get() == task {
            h.mark.set(0);
        }
        if h.stepping.get() {
            WakeFrom::Step
        } else if h.run.get() != 0 {
            WakeFrom::RunThread
        } else {
            WakeFrom::Elsewhere
        }
    })
    .unwrap_or(WakeFrom::Elsewhere)
}

/// A future was just polled by hand with a waker of its own (a `Probe`): it may have moved
/// tokio's clock without waking the task polling it, so the poll goes on under a new mark.
pub(crate) fn note_hand_poll() {
    let _ = HERE.try_with(|h| {
        if h.mark.get() != 0 {
            h.mark.set(fresh(h));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_fresh_and_end_with_a_wake_of_the_polled_task() {
        assert_eq!(here(), (0, 0));
        set_run(9);
        let outer = begin_poll(3);
        let (run, first) = here();
        assert_eq!(run, 9);
        assert_ne!(first, 0);
        note_wake(4); // another task: the mark stands
        assert_eq!(here().1, first);
        note_hand_poll();
        let second = here().1;
        assert!(second != 0 && second != first);
        note_wake(3);
        assert_eq!(here().1, 0);
        note_hand_poll(); // no mark to renew
        assert_eq!(here().1, 0);
        end_poll(outer);
        assert_eq!(here(), (9, 0));
    }

    #[test]
    fn a_nested_poll_or_drop_gives_the_outer_poll_a_new_mark() {
        set_run(9);
        let outer = begin_poll(3);
        let first = here().1;
        let inner = begin_poll(5);
        let nested = here().1;
        assert!(nested != 0 && nested != first);
        end_poll(inner);
        let after = here().1;
        assert!(after != 0 && after != first && after != nested);
        note_wake(3); // the outer task is the polled one again
        assert_eq!(here().1, 0);
        end_poll(outer);
        let outer = begin_poll(3);
        let drop = begin_drop();
        assert_eq!(here().1, 0);
        end_poll(drop);
        assert_ne!(here().1, 0);
        end_poll(outer);
        let drop = begin_drop();
        end_poll(drop);
        assert_eq!(here(), (9, 0));
        set_run(0);
        assert_eq!(here(), (0, 0));
    }
}
