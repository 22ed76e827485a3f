//! The seeded generator every strategy draws from: SplitMix64, and its finaliser
//! [`mix64`], which exploration also uses to derive each schedule's seed.

/// A small, fast, well-mixed 64-bit generator. Its output for a seed is part of the
/// determinism contract: it never changes within a minor version.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    /// The seed plus the golden-ratio increment times the draws made so far (wrapping);
    /// each draw adds the increment and returns `mix64` of the result, so the same seed
    /// always gives the same sequence.
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
}
