//! [`Schedule`]: a run's choices with the strategy and seed that made them, and the
//! one-line replay token it travels as (`atk1:<kit version>:<strategy>:<seed>:<choices>`):
//! printing, parsing, and [`TokenError`] for a token that cannot be read.

use std::fmt;

use super::choice::Choice;
use super::strategy::Strategy;

/// A run's schedule: the strategy and seed that produced it, and the choices it made.
///
/// Replaying a schedule ([`crate::Builder::replay`], or `ASYNC_TESTKIT_REPLAY=<token>`)
/// reproduces the run exactly as long as the code under test is deterministic (see the
/// crate's determinism contract). Tokens are one line, versioned and self-describing:
/// `atk1:<kit version>:<strategy>:<seed>:<choices>`, where choices are dot-separated
/// indices and `N*k` stands for `k` times `N`.
///
/// ```
/// use async_testkit::Schedule;
/// let s = Schedule::from_choices(vec![0, 0, 1, 0, 0, 0]);
/// assert_eq!(s.preemptions(), 1);
/// let token = s.to_token();
/// assert_eq!(Schedule::from_token(&token).unwrap().choices(), [0, 0, 1]); // trailing FIFO dropped
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The label of the strategy that made it, as the report and the token print it: a
    /// strategy name (`pct2`), or `replay` for raw choices. A parsed token's is always
    /// one of those.
    strategy: String,
    /// The seed of the run that made it (0 for raw choices).
    seed: u64,
    /// One per step that had two or more options, task and value choices alike, in the
    /// run's order. Never ends in 0: trailing FIFO choices, which a replay makes anyway,
    /// are dropped.
    choices: Vec<u32>,
    /// As long as `choices`: which choices pick a value (a mock latency level) rather
    /// than a task. A value choice is never a preemption.
    values: Vec<bool>,
}

/// The version of the token format.
const TOKEN_FORMAT: &str = "atk1";

impl Schedule {
    pub(crate) fn new(strategy: String, seed: u64, mut choices: Vec<u32>) -> Self {
        while choices.last() == Some(&0) {
            choices.pop();
        }
        let values = vec![false; choices.len()];
        Schedule {
            strategy,
            seed,
            choices,
            values,
        }
    }

    /// The schedule of a run's recorded choices.
    pub(crate) fn recorded(strategy: String, seed: u64, recorded: &[Choice]) -> Self {
        let mut s = Schedule::new(strategy, seed, recorded.iter().map(|c| c.chosen).collect());
        s.values = recorded[..s.choices.len()].iter().map(|c| !c.task).collect();
        s
    }

    /// A schedule from raw choices (trailing zeros, which FIFO would make anyway, are
    /// dropped).
    ///
    /// ```
    /// let s = async_testkit::Schedule::from_choices(vec![2, 0, 0]);
    /// assert_eq!(s.choices(), [2]);
    /// ```
    pub fn from_choices(choices: Vec<u32>) -> Self {
        Schedule::new("replay".into(), 0, choices)
    }

    /// A schedule from arbitrary bytes, for a fuzzer to drive: each byte is one choice.
    ///
    /// ```
    /// // In a cargo-fuzz target:
    /// // fuzz_target!(|data: &[u8]| {
    /// //     Builder::new().replay(Schedule::from_bytes(data)).run(|| my_concurrent_body());
    /// // });
    /// let s = async_testkit::Schedule::from_bytes(&[0, 3, 1]);
    /// assert_eq!(s.choices(), [0, 3, 1]);
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Schedule::from_choices(bytes.iter().map(|&b| u32::from(b)).collect())
    }

    /// The choices, one per step that had two or more options.
    ///
    /// ```
    /// assert!(async_testkit::Schedule::from_choices(vec![]).choices().is_empty());
    /// ```
    pub fn choices(&self) -> &[u32] {
        &self.choices
    }

    /// How many choices deviate from FIFO.
    ///
    /// ```
    /// assert_eq!(async_testkit::Schedule::from_choices(vec![0, 1, 0, 4]).preemptions(), 2);
    /// ```
    pub fn preemptions(&self) -> usize {
        self.choices
            .iter()
            .zip(&self.values)
            .filter(|(c, value)| **c != 0 && !**value)
            .count()
    }

    /// The seed of the run that made this schedule.
    ///
    /// ```
    /// let token = format!("atk1:{}:pct2:99:1", env!("CARGO_PKG_VERSION"));
    /// let s = async_testkit::Schedule::from_token(&token).unwrap();
    /// assert_eq!(s.seed(), 99);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The name of the strategy that made this schedule.
    ///
    /// ```
    /// let token = format!("atk1:{}:pct2:99:1", env!("CARGO_PKG_VERSION"));
    /// let s = async_testkit::Schedule::from_token(&token).unwrap();
    /// assert_eq!(s.strategy(), "pct2");
    /// ```
    pub fn strategy(&self) -> &str {
        &self.strategy
    }

    /// The one-line token: `atk1:<kit version>:<strategy>:<seed>:<choices>`.
    ///
    /// ```
    /// let s = async_testkit::Schedule::from_choices(vec![0, 0, 0, 2]);
    /// assert_eq!(s.to_token(), format!("atk1:{}:replay:0:0*3.2", env!("CARGO_PKG_VERSION")));
    /// ```
    pub fn to_token(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        let at = |i: usize| (self.choices[i], self.values[i]);
        while i < self.choices.len() {
            let (c, value) = at(i);
            let mut run = 1;
            while i + run < self.choices.len() && at(i + run) == (c, value) {
                run += 1;
            }
            let one = if value { format!("v{c}") } else { c.to_string() };
            parts.push(if run > 2 {
                format!("{one}*{run}")
            } else {
                vec![one; run].join(".")
            });
            i += run;
        }
        format!(
            "{TOKEN_FORMAT}:{}:{}:{}:{}",
            env!("CARGO_PKG_VERSION"),
            self.strategy,
            self.seed,
            parts.join(".")
        )
    }

    /// Parses a token printed by a failure report.
    ///
    /// # Errors
    ///
    /// A token of another format or kit version, or a malformed one, with a message that
    /// says what is wrong and what to do.
    ///
    /// ```
    /// use async_testkit::Schedule;
    /// assert!(Schedule::from_token(&format!("atk1:{}:fifo:0:", env!("CARGO_PKG_VERSION"))).is_ok());
    /// let err = Schedule::from_token("hello").unwrap_err();
    /// assert!(err.to_string().starts_with("not an async-testkit replay token: \"hello\""));
    /// ```
    pub fn from_token(token: &str) -> Result<Schedule, TokenError> {
        let token = token.trim();
        let bad = |why: &str| {
            TokenError(format!(
                "not an async-testkit replay token: {token:?} ({why}); a token looks like \
             atk1:{}:pct2:7:0*3.1 — copy it whole from the failure report",
                env!("CARGO_PKG_VERSION")
            ))
        };
        let fields: Vec<&str> = token.splitn(5, ':').collect();
        if fields.len() != 5 || !fields[0].starts_with("atk") {
            return Err(bad("it should have five fields separated by ':'"));
        }
        if fields[0] != TOKEN_FORMAT {
            return Err(TokenError(format!(
                "replay token {token:?} is in format {}, which this async-testkit ({}) does not read; \
                 run the test's exploration again to get a new token",
                fields[0],
                env!("CARGO_PKG_VERSION")
            )));
        }
        if fields[1] != env!("CARGO_PKG_VERSION") {
            return Err(TokenError(format!(
                "replay token {token:?} was made by async-testkit {}, and this is {}: schedules can \
                 differ between versions, so it would not replay the same run; run the test's \
                 exploration again to get a new token",
                fields[1],
                env!("CARGO_PKG_VERSION")
            )));
        }
        let strategy = fields[2];
        if strategy != "replay" && Strategy::from_name(strategy).is_none() {
            return Err(bad(&format!("unknown strategy {strategy:?}")));
        }
        let seed: u64 = fields[3]
            .parse()
            .map_err(|_| bad(&format!("the seed {:?} is not a number", fields[3])))?;
        let mut choices = Vec::new();
        let mut values = Vec::new();
        for part in fields[4].split('.').filter(|p| !p.is_empty()) {
            let (value, count) = match part.split_once('*') {
                Some((v, n)) => (v, n),
                None => (part, "1"),
            };
            let (is_value, value) = match value.strip_prefix('v') {
                Some(v) => (true, v),
                None => (false, value),
            };
            let value: u32 = value
                .parse()
                .map_err(|_| bad(&format!("the choice {part:?} is not a number")))?;
            let count: usize = count.parse().ok().filter(|n| *n <= 1_000_000).ok_or_else(|| {
                bad(&format!(
                    "the repeat count in {part:?} is not a number up to 1000000"
                ))
            })?;
            choices.extend(std::iter::repeat_n(value, count));
            values.extend(std::iter::repeat_n(is_value, count));
        }
        let mut s = Schedule::new(strategy.to_string(), seed, choices);
        values.truncate(s.choices.len());
        s.values = values;
        Ok(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_token())
    }
}

/// Why a replay token was refused.
///
/// ```
/// let err = async_testkit::Schedule::from_token("atk0:x").unwrap_err();
/// assert!(err.to_string().contains("not an async-testkit replay token"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError(
    /// The whole message: what is wrong with the token, and what to do.
    String,
);

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::preemptions;

    #[test]
    fn tokens_round_trip_and_compress_runs() {
        let s = Schedule::new("pct2".into(), 12, vec![0, 0, 0, 0, 1, 1, 3, 0, 0, 0, 2, 0, 0]);
        let t = s.to_token();
        assert_eq!(
            t,
            format!("atk1:{}:pct2:12:0*4.1.1.3.0*3.2", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(Schedule::from_token(&t).unwrap(), s);
        assert_eq!(s.preemptions(), 4);
    }

    #[test]
    fn value_choices_are_marked_in_tokens_and_are_not_preemptions() {
        let recorded = [
            Choice {
                options: 2,
                chosen: 1,
                task: true,
            },
            Choice {
                options: 16,
                chosen: 5,
                task: false,
            },
            Choice {
                options: 16,
                chosen: 5,
                task: false,
            },
            Choice {
                options: 16,
                chosen: 5,
                task: false,
            },
            Choice {
                options: 2,
                chosen: 0,
                task: true,
            },
        ];
        let s = Schedule::recorded("pct1".into(), 3, &recorded);
        assert_eq!(s.preemptions(), 1);
        let t = s.to_token();
        assert!(t.ends_with(":pct1:3:1.v5*3"), "{t}");
        assert_eq!(Schedule::from_token(&t).unwrap(), s);
        assert_eq!(preemptions(&recorded), 1);
    }

    #[test]
    fn bad_tokens_are_refused_with_a_reason() {
        let v = env!("CARGO_PKG_VERSION");
        let e = |t: &str| Schedule::from_token(t).unwrap_err().to_string();
        assert!(e("atk1:0.0.1:pct2:1:0").contains("was made by async-testkit 0.0.1, and this is"));
        assert!(e("atk9:x:y:z:w").contains("is in format atk9, which this async-testkit"));
        assert!(e(&format!("atk1:{v}:chaos:1:0")).contains("(unknown strategy \"chaos\")"));
        assert!(e(&format!("atk1:{v}:pct2:x:0")).contains("(the seed \"x\" is not a number)"));
        assert!(e(&format!("atk1:{v}:pct2:1:0.a")).contains("(the choice \"a\" is not a number)"));
        assert!(e(&format!("atk1:{v}:pct2:1:0*99999999")).contains("repeat count"));
        assert!(e("atk1:too:few").contains("five fields"));
    }
}
