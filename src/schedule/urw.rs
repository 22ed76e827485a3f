//! [`Urw`]: the uniform random walk, which weighs each ready task by the steps it still
//! has to run, learnt from earlier runs of the same body.

use super::choice::{Chooser, Step};
use super::rng::SplitMix64;
use crate::trace::TaskId;

/// Uniform random walk over executions: a ready task is chosen with probability
/// proportional to the steps it still has to run, estimated from earlier runs of the same
/// body (how often each task was polled). Long tasks then get proportionally more chances
/// to be interrupted at each of their steps, so a short task lands at any point of a long
/// one about equally often.
pub(crate) struct Urw {
    /// Seeded with the run's seed; one draw per step.
    rng: SplitMix64,
    /// Indexed by task id: the polls the task is expected to take in a whole run (the
    /// most seen in earlier runs). Fixed for the run; a task past its end counts as 1.
    expected: Vec<u64>,
    /// Indexed by task id: how many times this run has chosen the task at a step with a
    /// choice so far. Grows to the highest task id chosen; only ever increases.
    polled: Vec<u64>,
}

impl Urw {
    pub(crate) fn new(seed: u64, expected: Vec<u64>) -> Self {
        Urw {
            rng: SplitMix64::new(seed),
            expected,
            polled: Vec::new(),
        }
    }

    fn remaining(&self, task: TaskId) -> u64 {
        let expected = self.expected.get(task).copied().unwrap_or(1);
        let polled = self.polled.get(task).copied().unwrap_or(0);
        expected.saturating_sub(polled).max(1)
    }
}

impl Chooser for Urw {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        let weights: Vec<u64> = step
            .ready
            .iter()
            .map(|&t| self.remaining(t))
            .chain(step.tokio.then_some(1))
            .collect();
        let total: u64 = weights.iter().sum();
        let mut pick = self.rng.below(total);
        let mut index = 0;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                index = i;
                break;
            }
            pick -= w;
        }
        if let Some(&task) = step.ready.get(index) {
            if self.polled.len() <= task {
                self.polled.resize(task + 1, 0);
            }
            self.polled[task] += 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::choice::tests::step;

    #[test]
    fn urw_weights_tasks_by_their_remaining_steps() {
        // Task 1 is expected to take 9 steps, task 2 one: task 1 is chosen about 9 times
        // in 10 while both are ready.
        let mut u = Urw::new(4, vec![0, 9, 1]);
        let mut first = 0;
        for _ in 0..1000 {
            u.polled.clear();
            if u.choose(&step(&[1, 2], false)) == 0 {
                first += 1;
            }
        }
        assert!((850..=950).contains(&first), "{first}");
        // Without estimates it is uniform.
        let mut u = Urw::new(4, Vec::new());
        let picks: usize = (0..1000).map(|_| u.choose(&step(&[1, 2], false))).sum();
        assert!((400..=600).contains(&picks), "{picks}");
    }
}
