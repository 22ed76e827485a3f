//! [`PctYield`]: PCT with yields lowering (`pcty`). A task that yields (a `yield_point()`,
//! `tokio::task::yield_now()`, any await that wakes its own task at once) drops behind
//! every task that has not yielded since, so another task's work fits in where a
//! check-then-act window usually is.

use super::choice::{Chooser, Step};
use super::pct::Pct;
use crate::trace::TaskId;

/// PCT where a task that yields drops behind every task that has not yielded since.
pub(crate) struct PctYield {
    /// Plain PCT, which makes every choice: priorities, change points, spin breaking.
    pct: Pct,
    /// The priority the next yielding task gets: below every initial priority (those
    /// have the top bit set), above every change point's drop (at most the depth), and
    /// one lower after each yield, so the task that yielded last runs last.
    next_yield: u64,
}

impl PctYield {
    pub(crate) fn new(seed: u64, depth: u32, steps: u64) -> Self {
        PctYield {
            pct: Pct::new(seed, depth, steps),
            next_yield: 1 << 62,
        }
    }
}

impl Chooser for PctYield {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        self.pct.choose(step)
    }

    fn watches_yields(&self) -> bool {
        true
    }

    fn yielded(&mut self, task: TaskId) {
        self.pct.set_priority(task, self.next_yield);
        self.next_yield -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::choice::tests::step;

    #[test]
    fn pct_lowering_yields_puts_a_yielding_task_behind_the_others() {
        for seed in 0..20 {
            let mut p = PctYield::new(seed, 1, 10);
            let mut plain = Pct::new(seed, 1, 10);
            let ready = [1, 2, 3];
            let first = ready[p.choose(&step(&ready, false))];
            assert_eq!(first, ready[plain.choose(&step(&ready, false))]);
            // The first task yields: each of the others runs before it again, in the
            // order of their priorities, and a task yielding later goes behind it.
            p.yielded(first);
            let second = ready[p.choose(&step(&ready, false))];
            assert_ne!(second, first);
            p.yielded(second);
            let third = ready[p.choose(&step(&ready, false))];
            assert!(third != first && third != second);
            p.yielded(third);
            assert_eq!(ready[p.choose(&step(&ready, false))], first);
            // Plain PCT ignores yields.
            plain.yielded(first);
            assert_eq!(ready[plain.choose(&step(&ready, false))], first);
        }
    }
}
