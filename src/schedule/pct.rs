//! [`Pct`]: probabilistic concurrency testing. Random task priorities, highest first,
//! with `depth - 1` priority drops at random steps; [`super::pcty`] builds the variant
//! that also lowers a task when it yields.

use super::choice::{Chooser, Step};
use super::rng::SplitMix64;
use crate::trace::TaskId;

/// PCT: every task gets a random priority when first seen; the ready task with the
/// highest priority runs; at `depth - 1` random steps the task about to run drops to a
/// priority below all initial ones. Only steps with a real choice count, so the change
/// points land inside short programs too (`steps` is the number of such steps expected,
/// learnt from earlier runs of the same body).
///
/// Priorities come in three bands, each below the one before: initial priorities (the
/// top bit set), yield priorities given by [`super::pcty::PctYield`] (from `1 << 62`
/// down), and drops (from `depth` down to 1). A drop therefore always puts the task
/// behind every task that has not dropped.
pub(crate) struct Pct {
    /// Seeded with the run's seed. Draws, in this order: the change points, tokio's
    /// priority, then each task's initial priority the first time it is looked at.
    rng: SplitMix64,
    /// Indexed by task id: `None` for a task not looked at yet, otherwise its current
    /// priority. Grows to the highest task id seen; an entry, once set, is never unset.
    priorities: Vec<Option<u64>>,
    /// The priority of the turn for tokio's own queue, which lowers like a task.
    tokio_priority: u64,
    /// The steps (values of `step`) at which the option about to run is dropped: sorted,
    /// `depth - 1` of them at the start, each below `steps`, removed as they are passed.
    change_points: Vec<u64>,
    /// How many choices this run has made so far.
    step: u64,
    /// The priority of the last drop: starts at `depth + 1`, and each drop first
    /// decreases it by one (never below 1), so later drops go below earlier ones.
    next_low: u64,
    /// The task chosen at the previous step (`None` before the first step, or when
    /// tokio's turn was chosen).
    last: Option<TaskId>,
    /// How many steps in a row before this one chose `last` again; always below
    /// [`SPIN_LIMIT`] between steps (reaching it drops `last` and resets it to 0).
    same_in_a_row: u32,
}

/// A task chosen this many times in a row while others are ready is spinning (a yield
/// loop waiting for another task): PCT lowers it so the run cannot livelock.
const SPIN_LIMIT: u32 = 64;

impl Pct {
    pub(crate) fn new(seed: u64, depth: u32, steps: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let steps = steps.max(1);
        let mut change_points: Vec<u64> = (1..depth.max(1)).map(|_| rng.below(steps)).collect();
        change_points.sort_unstable();
        let tokio_priority = rng.next_u64() | (1 << 63);
        Pct {
            rng,
            priorities: Vec::new(),
            tokio_priority,
            change_points,
            step: 0,
            next_low: u64::from(depth.max(1)) + 1,
            last: None,
            same_in_a_row: 0,
        }
    }

    fn priority(&mut self, task: TaskId) -> u64 {
        if self.priorities.len() <= task {
            self.priorities.resize(task + 1, None);
        }
        // Initial priorities live in the upper half, drops go below all of them.
        *self.priorities[task].get_or_insert_with(|| self.rng.next_u64() | (1 << 63))
    }

    /// Gives `task` the priority `p`. A task not seen before draws its initial priority
    /// first, so the generator's draws do not depend on how a task's priority was set.
    pub(super) fn set_priority(&mut self, task: TaskId, p: u64) {
        self.priority(task);
        self.priorities[task] = Some(p);
    }

    fn lower(&mut self, option: Option<TaskId>) {
        self.next_low = self.next_low.saturating_sub(1).max(1);
        match option {
            Some(task) => self.set_priority(task, self.next_low),
            None => self.tokio_priority = self.next_low,
        }
    }

    fn best(&mut self, step: &Step<'_>) -> (usize, Option<TaskId>) {
        let mut best = (0, step.ready.first().copied(), 0u64);
        for (i, &t) in step.ready.iter().enumerate() {
            let p = self.priority(t);
            if p > best.2 {
                best = (i, Some(t), p);
            }
        }
        if step.tokio && self.tokio_priority > best.2 {
            best = (step.ready.len(), None, self.tokio_priority);
        }
        (best.0, best.1)
    }
}

impl Chooser for Pct {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        let (mut index, mut task) = self.best(step);
        while self.change_points.first() == Some(&self.step) {
            self.change_points.remove(0);
            self.lower(task);
            (index, task) = self.best(step);
        }
        if task.is_some() && task == self.last {
            self.same_in_a_row += 1;
            if self.same_in_a_row >= SPIN_LIMIT {
                self.lower(task);
                (index, task) = self.best(step);
                self.same_in_a_row = 0;
            }
        } else {
            self.same_in_a_row = 0;
        }
        self.last = task;
        self.step += 1;
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::choice::tests::step;

    #[test]
    fn pct_depth_one_runs_the_highest_priority_task_until_it_stops_being_ready() {
        let mut p = Pct::new(3, 1, 10);
        let first = p.choose(&step(&[1, 2, 3], false));
        let chosen = [1, 2, 3][first];
        // Still ready with the others: still chosen (no change points at depth 1).
        for _ in 0..10 {
            let i = p.choose(&step(&[1, 2, 3], false));
            assert_eq!([1, 2, 3][i], chosen);
        }
    }

    #[test]
    fn pct_change_points_lower_the_running_task() {
        // Depth 2 over 1 step: the only change point is step 0, so the first choice is
        // not the initially highest task.
        let mut p = Pct::new(11, 2, 1);
        let mut q = Pct::new(11, 1, 1);
        let ready = [1, 2];
        assert_ne!(p.choose(&step(&ready, false)), q.choose(&step(&ready, false)));
    }

    #[test]
    fn pct_breaks_spin_loops() {
        let mut p = Pct::new(5, 1, 10);
        let ready = [1, 2];
        let mut last = p.choose(&step(&ready, false));
        let mut switched = false;
        for _ in 0..(SPIN_LIMIT + 2) {
            let i = p.choose(&step(&ready, false));
            switched |= i != last;
            last = i;
        }
        assert!(switched, "PCT kept a spinning task forever");
    }
}
