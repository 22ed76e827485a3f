//! Shrinking a failing schedule: fewest preemptions first, then other deviations
//! (raised latency levels), then the fewest steps, keeping only candidates whose replay
//! fails the same way. It knows schedules only as choices; the caller replays them.

use std::time::{Duration, Instant};

use crate::schedule::{Choice, Dfs, preemptions};

/// Replays a minimisation may spend, and the wall time, whichever ends first.
const MINIMISE_REPLAYS: usize = 4000;
const MINIMISE_TIME: Duration = Duration::from_secs(5);
/// The largest preemption bound the minimiser searches exhaustively.
const DEEPEN_MAX: u32 = 2;

/// Choices that differ from the default (preemptions, and raised latency levels).
fn deviations(choices: &[Choice]) -> usize {
    choices.iter().filter(|c| c.chosen != 0).count()
}

/// What a replay of a candidate schedule did.
pub(crate) enum Replayed {
    /// Failed the same way; the run's recorded choices.
    Same(Vec<Choice>),
    /// Passed, or failed another way; the run's recorded choices.
    Other(Vec<Choice>),
}

/// Shrinks a failing schedule: fewest preemptions first, then the fewest steps, keeping
/// only candidates whose replay fails the same way.
pub(crate) struct Minimiser<'r> {
    replay: &'r mut dyn FnMut(&[u32]) -> Replayed,
    best: Vec<Choice>,
    replays: usize,
    started: Instant,
}

/// Changes count as an improvement in this order: preemptions, other deviations (raised
/// latency levels), length, and the sum of the choices (nearer options).
fn rank(c: &[Choice]) -> (usize, usize, usize, u64) {
    (
        preemptions(c),
        deviations(c),
        c.len(),
        c.iter().map(|c| u64::from(c.chosen)).sum(),
    )
}

impl<'r> Minimiser<'r> {
    pub(crate) fn new(replay: &'r mut dyn FnMut(&[u32]) -> Replayed, best: Vec<Choice>) -> Self {
        Minimiser {
            replay,
            best,
            replays: 0,
            started: Instant::now(),
        }
    }

    fn budget_left(&mut self) -> bool {
        self.replays += 1;
        self.replays <= MINIMISE_REPLAYS && self.started.elapsed() < MINIMISE_TIME
    }

    fn chosen(&self) -> Vec<u32> {
        self.best.iter().map(|c| c.chosen).collect()
    }

    fn deviation_positions(&self) -> Vec<usize> {
        (0..self.best.len())
            .filter(|&i| self.best[i].chosen != 0)
            .collect()
    }

    /// Replays `candidate`; keeps it if it fails the same way and ranks better.
    fn try_candidate(&mut self, candidate: &[u32]) -> bool {
        match (self.replay)(candidate) {
            Replayed::Same(choices) if rank(&choices) < rank(&self.best) => {
                self.best = choices;
                true
            }
            _ => false,
        }
    }

    /// Sets the deviations in `window` back to FIFO.
    fn without(&self, window: &[usize]) -> Vec<u32> {
        let mut candidate = self.chosen();
        for &i in window {
            candidate[i] = 0;
        }
        candidate
    }

    /// Removes deviations in chunks, halving the chunk size, later ones first.
    fn remove_chunks(&mut self) {
        let mut chunk = deviations(&self.best).next_power_of_two();
        while chunk >= 1 {
            let mut removed = true;
            while removed {
                removed = false;
                let devs = self.deviation_positions();
                for window in devs.rchunks(chunk) {
                    if !self.budget_left() {
                        return;
                    }
                    if self.try_candidate(&self.without(window)) {
                        removed = true;
                        break;
                    }
                }
            }
            chunk /= 2;
        }
    }

    /// Removes single deviations front to back (the result of a greedy pass depends on
    /// its order).
    fn remove_forward(&mut self) {
        let mut removed = true;
        while removed {
            removed = false;
            for i in self.deviation_positions() {
                if !self.budget_left() {
                    return;
                }
                if self.try_candidate(&self.without(&[i])) {
                    removed = true;
                    break;
                }
            }
        }
    }

    /// Moves each deviation to a nearer option or an earlier step; a moved deviation can
    /// make another one removable, and an earlier one can end the run sooner.
    fn moves(&mut self) {
        for d in self.deviation_positions() {
            let Some(&Choice { chosen: value, .. }) = self.best.get(d) else {
                continue;
            };
            if value == 0 {
                continue;
            }
            for smaller in 1..value {
                if !self.budget_left() {
                    return;
                }
                let mut candidate = self.chosen();
                candidate[d] = smaller;
                if self.try_candidate(&candidate) {
                    break;
                }
            }
            for earlier in 0..d.min(self.best.len()) {
                if self.best[earlier].chosen != 0 {
                    continue;
                }
                if !self.budget_left() {
                    return;
                }
                let mut candidate = self.chosen();
                candidate[earlier] = 1;
                if d < candidate.len() {
                    candidate[d] = 0;
                }
                if self.try_candidate(&candidate) {
                    break;
                }
            }
        }
    }

    /// Greedy passes can stop at a local minimum: search exhaustively for a failing
    /// schedule with 0, 1, 2 preemptions below the best so far (a bound of b costs about
    /// k^b replays for k choices, so larger bounds are left to the greedy passes).
    fn deepen(&mut self) {
        for bound in 0..(preemptions(&self.best) as u32).min(DEEPEN_MAX + 1) {
            let mut dfs = Dfs::new(bound);
            while let Some(prefix) = dfs.next.take() {
                if !self.budget_left() {
                    return;
                }
                match (self.replay)(&prefix) {
                    Replayed::Same(choices) => {
                        self.best = choices;
                        return;
                    }
                    Replayed::Other(choices) => dfs.advance(&choices),
                }
            }
        }
    }

    /// Runs the passes until a round changes nothing (or the budget ends); returns the
    /// best schedule's choices and the replays spent.
    pub(crate) fn run(mut self) -> (Vec<Choice>, usize) {
        loop {
            let before = self.best.clone();
            self.remove_chunks();
            self.remove_forward();
            self.moves();
            if self.best == before || self.replays > MINIMISE_REPLAYS {
                break;
            }
        }
        self.deepen();
        self.remove_forward();
        self.moves();
        (self.best, self.replays.min(MINIMISE_REPLAYS))
    }
}
