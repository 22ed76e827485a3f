//! Choice sources: how the scheduler picks the next task when several are ready.
//!
//! Every time more than one thing could run next, the runtime asks its choice source
//! for an index into the list of options (ready kit tasks in the order they were woken,
//! then, when tokio's own tasks exist, a turn for tokio's queue). The answer is read as
//! `choice % options`, so any sequence of numbers is a valid schedule.
//!
//! ```
//! use async_testkit::{Builder, Strategy};
//!
//! // The same body under a seeded random schedule: the same seed gives the same run.
//! let order = Builder::new()
//!     .strategy(Strategy::Random)
//!     .seed(3)
//!     .run(|| async {
//!         let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//!         let mut handles = Vec::new();
//!         for i in 0..3 {
//!             let log = log.clone();
//!             handles.push(async_testkit::spawn(async move { log.borrow_mut().push(i) }));
//!         }
//!         for h in handles {
//!             h.await.unwrap();
//!         }
//!         let v = log.borrow().clone();
//!         v
//!     });
//! assert_eq!(order.len(), 3);
//! ```

use std::fmt;

/// How the scheduler chooses among ready tasks.
///
/// ```
/// use async_testkit::{Builder, Strategy};
/// Builder::new().strategy(Strategy::Fifo).run(|| async {});
/// Builder::new().strategy(Strategy::Random).seed(9).run(|| async {});
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// First woken, first run: the order a plain tokio runtime would use. The default for
    /// single runs.
    #[default]
    Fifo,
    /// A uniformly random ready task at every step, from a generator seeded by the run's
    /// seed.
    Random,
}

impl Strategy {
    /// The strategy's name as the attribute spells it (`"fifo"`, `"random"`).
    ///
    /// ```
    /// assert_eq!(async_testkit::Strategy::Random.name(), "random");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Fifo => "fifo",
            Strategy::Random => "random",
        }
    }

    /// Parses a name as written in `#[async_testkit::test(strategy = "..")]` or in the
    /// `ASYNC_TESTKIT_STRATEGY` variable.
    ///
    /// ```
    /// use async_testkit::Strategy;
    /// assert_eq!(Strategy::from_name("fifo"), Some(Strategy::Fifo));
    /// assert_eq!(Strategy::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Strategy> {
        match name {
            "fifo" => Some(Strategy::Fifo),
            "random" => Some(Strategy::Random),
            _ => None,
        }
    }

    pub(crate) fn chooser(self, seed: u64) -> Box<dyn Chooser> {
        match self {
            Strategy::Fifo => Box::new(Fifo),
            Strategy::Random => Box::new(Random::new(seed)),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source of scheduling decisions for one run.
pub(crate) trait Chooser {
    /// Picks one of `options` (at least 2) and returns its index.
    fn choose(&mut self, options: usize) -> usize;
    /// Whether the strategy wants tokio's queue offered as an option at every step.
    fn offers_tokio_turns(&self) -> bool;
}

/// Always the first option.
pub(crate) struct Fifo;

impl Chooser for Fifo {
    fn choose(&mut self, _options: usize) -> usize {
        0
    }
    fn offers_tokio_turns(&self) -> bool {
        false
    }
}

/// Uniform choice from a seeded generator.
pub(crate) struct Random {
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
    fn choose(&mut self, options: usize) -> usize {
        self.rng.below(options as u64) as usize
    }
    fn offers_tokio_turns(&self) -> bool {
        true
    }
}

/// A small, fast, well-mixed 64-bit generator. Its output for a seed is part of the
/// determinism contract: it never changes within a minor version.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A number in `0..n` (n > 0), without modulo bias worth speaking of for scheduling.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// The finaliser of SplitMix64: a bijective mix of 64 bits.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_in_range() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for n in 1..200u64 {
            let x = a.below(n);
            assert_eq!(x, b.below(n));
            assert!(x < n);
        }
    }

    #[test]
    fn different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(SplitMix64::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(SplitMix64::new(2), |r, _| Some(r.next_u64()))
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn random_covers_every_option() {
        let mut r = Random::new(7);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.choose(5)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn names_round_trip() {
        for s in [Strategy::Fifo, Strategy::Random] {
            assert_eq!(Strategy::from_name(s.name()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
    }
}
