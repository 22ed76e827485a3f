//! The planner: what each run of one exploration runs, and what a single run runs.
//!
//! Shaped like shuttle's `Scheduler::new_execution`: one [`Planner`] lives across the
//! runs of an exploration. It owns the DFS state and what passing runs have taught (how
//! many choices a run makes, how often each task is polled), answers "what does schedule
//! `i` run" with a [`Plan`] and its label, and is told each passing run's outcome so it
//! can learn and advance the DFS. A [`Plan`] turns into the run's [`Chooser`] once the
//! run's seed is known.

use super::choice::{Choice, Chooser};
use super::dfs::Dfs;
use super::fifo::{Fifo, Random};
use super::pct::Pct;
use super::pcty::PctYield;
use super::portfolio;
use super::replay::Replay;
use super::strategy::Strategy;
use super::urw::Urw;

/// Where one run's choices come from. Cloned when a run goes again (with the I/O
/// driver), which then makes the same choices.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    Fifo,
    Random,
    /// PCT; `steps` is the number of choice steps a run is expected to make, among which
    /// it draws its change points (at least 1 is used).
    Pct {
        depth: u32,
        steps: u64,
    },
    /// PCT where a yield drops the yielding task behind the others.
    PctYield {
        depth: u32,
        steps: u64,
    },
    /// Uniform random walk, with each task's expected number of polls.
    Urw(Vec<u64>),
    /// These choices, then FIFO.
    Replay(Vec<u32>),
}

impl Plan {
    /// The plan and label of a run on its own (not part of an exploration) under
    /// `strategy`: as schedule 0 of an exploration that expects 64 choice steps. DFS
    /// alone is one FIFO run.
    pub(crate) fn single(strategy: Strategy) -> (Plan, String) {
        Plan::of(strategy, 0, 64, &[])
    }

    /// The plan and label of schedule `i` under `strategy` (DFS aside, which the planner
    /// runs itself), given what passing runs have shown so far.
    fn of(strategy: Strategy, i: u32, steps_seen: u64, polls_seen: &[u64]) -> (Plan, String) {
        // PCT draws its change points among the choice steps a run makes: the most seen so
        // far, so they land inside short programs too (a guess until a run has been seen).
        let steps = if steps_seen == 0 { 8 } else { steps_seen };
        match strategy {
            Strategy::Fifo => (Plan::Fifo, "fifo".into()),
            Strategy::Random => (Plan::Random, "random".into()),
            Strategy::Urw => (Plan::Urw(polls_seen.to_vec()), "urw".into()),
            Strategy::Pct { depth } => (Plan::Pct { depth, steps }, strategy.name()),
            Strategy::PctYield { depth } => (Plan::PctYield { depth, steps }, strategy.name()),
            Strategy::Dfs { .. } => (Plan::Fifo, "fifo".into()),
            Strategy::Portfolio => Plan::of(portfolio::strategy(i), i, steps_seen, polls_seen),
        }
    }

    /// The choice source of a run with `seed`.
    pub(crate) fn chooser(&self, seed: u64) -> Box<dyn Chooser> {
        match self {
            Plan::Fifo => Box::new(Fifo),
            Plan::Random => Box::new(Random::new(seed)),
            Plan::Pct { depth, steps } => Box::new(Pct::new(seed, *depth, *steps)),
            Plan::PctYield { depth, steps } => Box::new(PctYield::new(seed, *depth, *steps)),
            Plan::Urw(expected) => Box::new(Urw::new(seed, expected.clone())),
            Plan::Replay(choices) => Box::new(Replay::new(choices.clone())),
        }
    }
}

/// How many schedules, from the first, the strategies that learn (PCT's step count,
/// URW's expected polls) learn from. Fixed, so that what schedule `i` runs depends only on
/// the outcomes of these: a shard of an exploration runs them all (those of other shards
/// only to learn), and the shards together run exactly the schedules of one unsharded
/// exploration.
pub(crate) const LEARNING_RUNS: u32 = 32;

/// Plans the schedules of one exploration, learning from its first passing runs.
pub(crate) struct Planner {
    /// The strategy the exploration runs; fixed.
    strategy: Strategy,
    /// The search when `strategy` is DFS (bounded by its `max_preemptions`); otherwise a
    /// search of bound 0 that is never consulted or advanced.
    dfs: Dfs,
    /// The most choices any passing run has made so far; 0 until a run has passed. Never
    /// decreases.
    steps_seen: u64,
    /// Indexed by task id: the most polls the task had in any passing run so far. As long
    /// as the most tasks a passing run had; no entry ever decreases.
    polls_seen: Vec<u64>,
}

impl Planner {
    pub(crate) fn new(strategy: Strategy) -> Self {
        Planner {
            strategy,
            dfs: Dfs::new(match strategy {
                Strategy::Dfs { max_preemptions } => max_preemptions,
                _ => 0,
            }),
            steps_seen: 0,
            polls_seen: Vec::new(),
        }
    }

    /// The plan and label of schedule `i` (its index in the exploration, which picks the
    /// portfolio's strategy), or `None` once DFS has run every schedule within its bound.
    /// Under DFS each run's outcome must reach [`Planner::passed`] before the next plan is
    /// asked for: until then there is none.
    pub(crate) fn new_execution(&mut self, i: u32) -> Option<(Plan, String)> {
        match self.strategy {
            Strategy::Dfs { .. } => {
                let prefix = self.dfs.next.take()?;
                Some((Plan::Replay(prefix), self.strategy.name()))
            }
            s => Some(Plan::of(s, i, self.steps_seen, &self.polls_seen)),
        }
    }

    /// Schedule `i` passed, making `choices` and polling task `t` `task_polls[t]` times:
    /// learn the run's length and polls (from the first [`LEARNING_RUNS`] schedules only),
    /// and advance DFS past it.
    pub(crate) fn passed(&mut self, i: u32, choices: &[Choice], task_polls: &[u64]) {
        if let Strategy::Dfs { .. } = self.strategy {
            self.dfs.advance(choices);
        }
        if i >= LEARNING_RUNS {
            return;
        }
        self.steps_seen = self.steps_seen.max(choices.len() as u64);
        if self.polls_seen.len() < task_polls.len() {
            self.polls_seen.resize(task_polls.len(), 0);
        }
        for (seen, &p) in self.polls_seen.iter_mut().zip(task_polls) {
            *seen = (*seen).max(p);
        }
    }

    /// Whether the exploration has run every schedule there is: only DFS ever has. Asked
    /// between runs (while a DFS plan is out, the next prefix is not known yet).
    pub(crate) fn exhausted(&self) -> bool {
        matches!(self.strategy, Strategy::Dfs { .. }) && self.dfs.next.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(options: u32) -> Choice {
        Choice {
            options,
            chosen: 0,
            task: true,
        }
    }

    #[test]
    fn dfs_plans_replay_each_prefix_until_the_search_is_exhausted() {
        let mut planner = Planner::new(Strategy::Dfs { max_preemptions: 1 });
        let mut labels = Vec::new();
        let mut prefixes = Vec::new();
        let mut i = 0;
        while let Some((plan, label)) = planner.new_execution(i) {
            let Plan::Replay(prefix) = plan else {
                panic!("DFS planned {plan:?}")
            };
            // A run of two binary choices that follows its prefix, then FIFO.
            let run: Vec<Choice> = (0..2)
                .map(|k| Choice {
                    chosen: prefix.get(k).copied().unwrap_or(0),
                    ..fifo(2)
                })
                .collect();
            planner.passed(i, &run, &[1, 1]);
            prefixes.push(prefix);
            labels.push(label);
            i += 1;
        }
        assert_eq!(prefixes, [vec![], vec![0, 1], vec![1]]);
        assert_eq!(labels, ["dfs1"; 3]);
        assert!(planner.exhausted());
    }

    #[test]
    fn other_strategies_learn_the_longest_run_and_the_most_polls() {
        let mut planner = Planner::new(Strategy::Portfolio);
        assert!(matches!(
            planner.new_execution(0),
            Some((Plan::PctYield { depth: 1, steps: 8 }, _))
        ));
        planner.passed(0, &[fifo(2); 5], &[3, 1]);
        planner.passed(1, &[fifo(2); 2], &[1, 4, 2]);
        // Past the learning runs, nothing more is learnt.
        planner.passed(LEARNING_RUNS, &[fifo(2); 9], &[9, 9, 9, 9]);
        assert!(matches!(
            planner.new_execution(1),
            Some((Plan::PctYield { depth: 2, steps: 5 }, _))
        ));
        match planner.new_execution(2) {
            Some((Plan::Urw(expected), label)) => {
                assert_eq!(expected, [3, 4, 2]);
                assert_eq!(label, "urw");
            }
            other => panic!("schedule 2 planned {other:?}"),
        }
        assert!(!planner.exhausted());
    }

    #[test]
    fn a_single_run_expects_64_steps_and_runs_dfs_as_fifo() {
        assert!(matches!(
            Plan::single(Strategy::Pct { depth: 2 }),
            (Plan::Pct { depth: 2, steps: 64 }, label) if label == "pct2"
        ));
        assert!(matches!(
            Plan::single(Strategy::Dfs { max_preemptions: 2 }),
            (Plan::Fifo, label) if label == "fifo"
        ));
        assert!(matches!(
            Plan::single(Strategy::Portfolio),
            (Plan::PctYield { depth: 1, steps: 64 }, label) if label == "pcty1"
        ));
    }
}
