//! The two strategies that look at nothing but the step: [`Fifo`] (always the first option,
//! the order a plain tokio runtime would use) and [`Random`] (a uniform option from the
//! run's seed).

use super::choice::{Chooser, Step};
use super::rng::SplitMix64;

/// Always the first option.
pub(crate) struct Fifo;

impl Chooser for Fifo {
    fn choose(&mut self, _: &Step<'_>) -> usize {
        0
    }
}

/// Uniform choice from a seeded generator.
pub(crate) struct Random {
    /// Seeded with the run's seed; one draw per step, nothing else draws from it.
    rng: SplitMix64,
}

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Random {
            rng: SplitMix64::new(seed),
        }
    }
}

impl Chooser for Random {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        self.rng.below(step.options() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::choice::tests::step;

    #[test]
    fn random_covers_every_option_including_tokio() {
        let mut r = Random::new(7);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.choose(&step(&[1, 2, 3, 4], true))] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
