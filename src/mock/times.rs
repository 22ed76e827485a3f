//! How many calls a mock expects.

use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use std::panic::Location;

/// A number of calls, or a range of them, for
/// [`AsyncMock::expect_calls`](super::AsyncMock::expect_calls): `2`, `1..3`, `1..=3`,
/// `2..`, `..5`, `..=5`, `..`.
///
/// ```
/// use async_testkit::mock::Times;
/// assert_eq!(3.bounds(), (3, Some(3)));
/// assert_eq!((1..=3).bounds(), (1, Some(3)));
/// assert_eq!((2..).bounds(), (2, None));
/// ```
pub trait Times {
    /// The least and the most calls allowed (`None`: no upper limit).
    ///
    /// ```
    /// use async_testkit::mock::Times;
    /// assert_eq!((..5).bounds(), (0, Some(4)));
    /// ```
    fn bounds(self) -> (usize, Option<usize>);
}

impl Times for usize {
    fn bounds(self) -> (usize, Option<usize>) {
        (self, Some(self))
    }
}

impl Times for Range<usize> {
    fn bounds(self) -> (usize, Option<usize>) {
        (self.start, Some(self.end.saturating_sub(1)))
    }
}

impl Times for RangeInclusive<usize> {
    fn bounds(self) -> (usize, Option<usize>) {
        (*self.start(), Some(*self.end()))
    }
}

impl Times for RangeFrom<usize> {
    fn bounds(self) -> (usize, Option<usize>) {
        (self.start, None)
    }
}

impl Times for RangeTo<usize> {
    fn bounds(self) -> (usize, Option<usize>) {
        (0, Some(self.end.saturating_sub(1)))
    }
}

impl Times for RangeToInclusive<usize> {
    fn bounds(self) -> (usize, Option<usize>) {
        (0, Some(self.end))
    }
}

impl Times for RangeFull {
    fn bounds(self) -> (usize, Option<usize>) {
        (0, None)
    }
}

/// An expectation on a number of calls, and where it was set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expect {
    pub(crate) min: usize,
    pub(crate) max: Option<usize>,
    pub(crate) site: &'static Location<'static>,
}

impl Expect {
    fn describe(&self) -> String {
        let calls = |n: usize| format!("{n} call{}", if n == 1 { "" } else { "s" });
        match (self.min, self.max) {
            (min, Some(max)) if min == max => format!("exactly {}", calls(min)),
            (min, Some(max)) if min > max => format!("an impossible range of calls ({min} to {max})"),
            (0, Some(max)) => format!("at most {}", calls(max)),
            (min, Some(max)) => format!("{min} to {}", calls(max)),
            (min, None) => format!("at least {}", calls(min)),
        }
    }

    /// `Err("<who> expected exactly 2 calls, got 1 (expect_calls at ..)")` when unmet.
    pub(crate) fn check(&self, who: &str, got: usize) -> Result<(), String> {
        if got >= self.min && self.max.is_none_or(|max| got <= max) {
            Ok(())
        } else {
            Err(format!(
                "{who} expected {}, got {got} (expect_calls at {})",
                self.describe(),
                self.site
            ))
        }
    }
}
