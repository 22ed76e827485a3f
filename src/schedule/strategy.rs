//! [`Strategy`]: how the scheduler chooses, by name; and [`STRATEGY_NAMES`], the one list
//! of the names both [`Strategy::from_name`] and the attribute's parser read.

use std::fmt;
use std::ops::RangeInclusive;

/// How the scheduler chooses among ready tasks.
///
/// ```
/// use async_testkit::{Builder, Strategy};
/// Builder::new().strategy(Strategy::Fifo).run(|| async {});
/// Builder::new().strategy(Strategy::Pct { depth: 2 }).seed(9).run(|| async {});
/// let r = Builder::new().explore(8).try_run(|| async {}).unwrap();
/// assert_eq!(r.strategy(), Strategy::Portfolio);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// First woken, first run: the order a plain tokio runtime would use. The default for
    /// single runs.
    #[default]
    Fifo,
    /// A uniformly random ready task at every step, seeded by the run's seed.
    Random,
    /// Probabilistic concurrency testing: random task priorities, highest first, with
    /// `depth - 1` priority drops at random steps. Finds a bug of depth `d` in one run with
    /// probability at least `1/(n k^(d-1))` for `n` tasks and `k` steps.
    Pct {
        /// The bug depth aimed at (1 to 3 finds most real bugs).
        depth: u32,
    },
    /// PCT where a task that yields (a `yield_point()`, `tokio::task::yield_now()`, any
    /// await that wakes its own task at once) drops behind every task that has not
    /// yielded since: a yield is where another task's work usually fits in, so shallow
    /// check-then-act bugs show in the first runs. It cannot run one task far ahead across
    /// its yields; plain [`Strategy::Pct`] does that.
    PctYield {
        /// The bug depth aimed at, as for [`Strategy::Pct`].
        depth: u32,
    },
    /// Uniform random walk: a ready task is chosen with probability proportional to the
    /// steps it still has to run (learnt from earlier runs), so a short task lands at any
    /// point of a long one about equally often.
    Urw,
    /// Every schedule with at most `max_preemptions` deviations from FIFO, one per run,
    /// depth first; exploration stops early when the space is exhausted.
    Dfs {
        /// The most preemptions a schedule may have.
        max_preemptions: u32,
    },
    /// The default for exploration, a rotation of eight schedules: PCT with yields
    /// lowering of depths 1 and 2 (most shallow bugs show in these two), then URW on every
    /// other schedule and PCT of depths 1, 2 and 3 on the rest, so no single strategy's
    /// blind spot is left uncovered.
    Portfolio,
}

impl Strategy {
    /// The strategy's name as the attribute and tokens spell it: `fifo`, `random`,
    /// `pct3`, `pcty1`, `dfs2`, `portfolio`.
    ///
    /// ```
    /// use async_testkit::Strategy;
    /// assert_eq!(Strategy::Pct { depth: 3 }.name(), "pct3");
    /// assert_eq!(Strategy::PctYield { depth: 1 }.name(), "pcty1");
    /// assert_eq!(Strategy::Dfs { max_preemptions: 2 }.name(), "dfs2");
    /// ```
    pub fn name(self) -> String {
        match self {
            Strategy::Fifo => "fifo".into(),
            Strategy::Random => "random".into(),
            Strategy::Urw => "urw".into(),
            Strategy::Pct { depth } => format!("pct{depth}"),
            Strategy::PctYield { depth } => format!("pcty{depth}"),
            Strategy::Dfs { max_preemptions } => format!("dfs{max_preemptions}"),
            Strategy::Portfolio => "portfolio".into(),
        }
    }

    /// Parses a name as written in `#[async_testkit::test(strategy = "..")]`, in
    /// `ASYNC_TESTKIT_STRATEGY`, or in a token: `fifo`, `random`, `urw`, `portfolio`,
    /// `pct` (depth 3), `pct2` or `pct(2)`, `pcty` (depth 1), `pcty2` or `pcty(2)`, `dfs`
    /// (2 preemptions), `dfs3` or `dfs(3)`.
    ///
    /// ```
    /// use async_testkit::Strategy;
    /// assert_eq!(Strategy::from_name("pct(2)"), Some(Strategy::Pct { depth: 2 }));
    /// assert_eq!(Strategy::from_name("pcty"), Some(Strategy::PctYield { depth: 1 }));
    /// assert_eq!(Strategy::from_name("dfs"), Some(Strategy::Dfs { max_preemptions: 2 }));
    /// assert_eq!(Strategy::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Strategy> {
        let name = name.trim();
        STRATEGY_NAMES.iter().find_map(|n| n.parse(name))
    }
}

/// A name of the strategy grammar: what [`Strategy::from_name`] reads, and what the
/// attribute's parser in the macros crate reads too (a test in each crate holds them to
/// [`STRATEGY_NAMES`]).
pub(crate) struct StrategyName {
    /// The name as written: `pct`. No name is another's followed by a digit, `(` or `+`
    /// (which a number may start with), so at most one name reads any text.
    pub(crate) name: &'static str,
    /// For a name that takes a number, written right after it (`pct2`) or in parentheses
    /// (`pct(2)`): the number the name alone stands for, and the numbers allowed (the
    /// default is always one of them). `None` for a name that takes no number.
    pub(crate) number: Option<(u32, RangeInclusive<u32>)>,
    /// The strategy the name stands for, given its number (0 for a name without one).
    make: fn(u32) -> Strategy,
}

/// Every strategy name, the one list of them: [`Strategy::from_name`] reads these, and
/// the attribute's parser (macros/src/options.rs) is tested to read exactly these.
pub(crate) const STRATEGY_NAMES: &[StrategyName] = &[
    StrategyName::plain("fifo", |_| Strategy::Fifo),
    StrategyName::plain("random", |_| Strategy::Random),
    StrategyName::plain("urw", |_| Strategy::Urw),
    StrategyName::plain("portfolio", |_| Strategy::Portfolio),
    StrategyName::numbered("pct", 3, 1..=16, |depth| Strategy::Pct { depth }),
    StrategyName::numbered("pcty", 1, 1..=16, |depth| Strategy::PctYield { depth }),
    StrategyName::numbered("dfs", 2, 0..=u32::MAX, |max_preemptions| Strategy::Dfs {
        max_preemptions,
    }),
];

/// Every name, for messages: `fifo, random, urw, portfolio, pct (or pct1 to pct16),
/// pcty (or pcty1 to pcty16), dfs (or dfs0, dfs1, ...)`.
pub(crate) fn strategy_names() -> String {
    STRATEGY_NAMES
        .iter()
        .map(|n| match &n.number {
            None => n.name.to_string(),
            Some((_, allowed)) if *allowed.end() == u32::MAX => {
                format!(
                    "{0} (or {0}{1}, {0}{2}, ...)",
                    n.name,
                    allowed.start(),
                    allowed.start() + 1
                )
            }
            Some((_, allowed)) => format!(
                "{0} (or {0}{1} to {0}{2})",
                n.name,
                allowed.start(),
                allowed.end()
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl StrategyName {
    const fn plain(name: &'static str, make: fn(u32) -> Strategy) -> Self {
        StrategyName {
            name,
            number: None,
            make,
        }
    }

    const fn numbered(
        name: &'static str,
        default: u32,
        allowed: RangeInclusive<u32>,
        make: fn(u32) -> Strategy,
    ) -> Self {
        StrategyName {
            name,
            number: Some((default, allowed)),
            make,
        }
    }

    /// The strategy `text` names, if it is this name (with an allowed number, if it takes
    /// one).
    fn parse(&self, text: &str) -> Option<Strategy> {
        let rest = text.strip_prefix(self.name)?;
        let n = match &self.number {
            None if rest.is_empty() => 0,
            None => return None,
            Some((default, _)) if rest.is_empty() => *default,
            Some((_, allowed)) => {
                let rest = rest
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .unwrap_or(rest);
                rest.parse().ok().filter(|n| allowed.contains(n))?
            }
        };
        Some((self.make)(n))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_round_trip() {
        for s in [
            Strategy::Fifo,
            Strategy::Random,
            Strategy::Urw,
            Strategy::Portfolio,
            Strategy::Pct { depth: 1 },
            Strategy::Pct { depth: 3 },
            Strategy::PctYield { depth: 1 },
            Strategy::PctYield { depth: 2 },
            Strategy::Dfs { max_preemptions: 0 },
            Strategy::Dfs { max_preemptions: 4 },
        ] {
            assert_eq!(Strategy::from_name(&s.name()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(Strategy::from_name("pct0"), None);
        assert_eq!(Strategy::from_name("pcty0"), None);
        assert_eq!(
            Strategy::from_name("pcty(2)"),
            Some(Strategy::PctYield { depth: 2 })
        );
        assert_eq!(Strategy::from_name("pct(x)"), None);
    }

    /// The list as one line, the form macros/src/options.rs keeps its copy in: `name`, or
    /// `name:default:min-max` for a name that takes a number (`max` left out when any
    /// `u32` goes).
    fn strategy_names_line() -> String {
        let one = |n: &StrategyName| match &n.number {
            None => n.name.to_string(),
            Some((default, allowed)) => {
                let max = Some(*allowed.end()).filter(|&m| m != u32::MAX);
                let max = max.map(|m| m.to_string()).unwrap_or_default();
                format!("{}:{default}:{}-{max}", n.name, allowed.start())
            }
        };
        STRATEGY_NAMES.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn from_name_reads_exactly_the_listed_names_and_the_attribute_reads_the_same_list() {
        let read = |text: String| Strategy::from_name(&text);
        for n in STRATEGY_NAMES {
            let name = n.name;
            let named = read(name.into()).unwrap_or_else(|| panic!("{name:?} is not read"));
            // No other name follows this one with a digit: the text is read by one name.
            for other in STRATEGY_NAMES.iter().filter(|o| o.name != name) {
                let after = other.name.strip_prefix(name).and_then(|r| r.chars().next());
                assert!(!after.is_some_and(|c| c.is_ascii_digit() || c == '(' || c == '+'));
            }
            for junk in ["x", "()", "(", "(1", "1)", "-1", "1x"] {
                assert_eq!(read(format!("{name}{junk}")), None, "{name}{junk}");
            }
            assert_eq!(read(name.to_uppercase()), None);
            let Some((default, allowed)) = &n.number else {
                assert_eq!(read(format!("{name}1")), None, "{name} takes no number");
                continue;
            };
            assert_eq!(read(format!("{name}{default}")), Some(named));
            for k in [allowed.start(), allowed.end()] {
                assert!(read(format!("{name}{k}")).is_some(), "{name}{k}");
                assert_eq!(read(format!("{name}({k})")), read(format!("{name}{k}")));
            }
            let below = u64::from(*allowed.start()).checked_sub(1);
            for k in below.into_iter().chain([u64::from(*allowed.end()) + 1]) {
                assert_eq!(read(format!("{name}{k}")), None, "{name}{k}");
                assert_eq!(read(format!("{name}({k})")), None, "{name}({k})");
            }
        }
        // The attribute's parser cannot use this list (the macros crate cannot depend on
        // this one): it keeps a copy, tested there to be exactly what it reads. Here: the
        // copy is this list.
        let line = format!("{:?}", strategy_names_line());
        let options = include_str!("../../macros/src/options.rs");
        assert!(
            options.contains(&line),
            "macros/src/options.rs must hold the strategy names as {line}"
        );
    }
}
