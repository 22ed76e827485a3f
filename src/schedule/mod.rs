//! Schedules: how the scheduler picks the next task, and how a run's picks are replayed.
//!
//! Every time two or more things could run next (ready kit tasks in the order they were
//! woken, then a turn for tokio's own queue when tokio tasks exist), the run asks its
//! choice source for an index. A [`Schedule`] is the list of indices a run used; replaying
//! it reads each as `choice % options` and falls back to FIFO (index 0) once it runs out,
//! so every list of numbers is a valid schedule. A *preemption* is a choice FIFO would not
//! have made (an index other than 0): minimising a failing schedule means removing them.
//!
//! What the schedules cover: which ready task runs at every await that lets another run
//! (a yield, a lock or channel freed by another task, a spawned task becoming ready), the
//! order of tasks woken by timers due at the same virtual instant, [`crate::yield_point`]s,
//! and the latency levels of mocks with jitter. What they do not: preemption inside
//! synchronous code running on several OS threads (atomics, a `std::sync::Mutex` contended
//! by threads) — that is loom's job; the kit runs every task on the test's thread.
//!
//! ```
//! use async_testkit::{Builder, Schedule, Strategy};
//!
//! // The same body under a seeded random schedule: the same seed gives the same run.
//! let order = || {
//!     Builder::new().strategy(Strategy::Random).seed(3).run(|| async {
//!         let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//!         let handles: Vec<_> = (0..3)
//!             .map(|i| {
//!                 let log = log.clone();
//!                 async_testkit::spawn(async move { log.borrow_mut().push(i) })
//!             })
//!             .collect();
//!         for h in handles {
//!             h.await.unwrap();
//!         }
//!         log.take()
//!     })
//! };
//! assert_eq!(order(), order());
//!
//! // A schedule travels as one line of text.
//! let token = format!("atk1:{}:random:3:0*4.2.1", env!("CARGO_PKG_VERSION"));
//! let s = Schedule::from_token(&token).unwrap();
//! assert_eq!(s.choices(), [0, 0, 0, 0, 2, 1]);
//! assert_eq!(s.preemptions(), 2);
//! ```

use std::fmt;

use crate::trace::TaskId;

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
        let number = |rest: &str| -> Option<u32> {
            let rest = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(rest);
            rest.parse().ok()
        };
        match name {
            "fifo" => Some(Strategy::Fifo),
            "random" => Some(Strategy::Random),
            "urw" => Some(Strategy::Urw),
            "portfolio" => Some(Strategy::Portfolio),
            "pct" => Some(Strategy::Pct { depth: 3 }),
            "pcty" => Some(Strategy::PctYield { depth: 1 }),
            "dfs" => Some(Strategy::Dfs { max_preemptions: 2 }),
            _ => {
                let depth = |rest: &str| number(rest).filter(|d| (1..=16).contains(d));
                if let Some(rest) = name.strip_prefix("pcty") {
                    depth(rest).map(|depth| Strategy::PctYield { depth })
                } else if let Some(rest) = name.strip_prefix("pct") {
                    depth(rest).map(|depth| Strategy::Pct { depth })
                } else if let Some(rest) = name.strip_prefix("dfs") {
                    number(rest).map(|max_preemptions| Strategy::Dfs { max_preemptions })
                } else {
                    None
                }
            }
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What the choice source sees at a step with two or more options.
pub(crate) struct Step<'a> {
    /// Ready kit tasks, in the order they were woken (FIFO takes the first).
    pub(crate) ready: &'a [TaskId],
    /// Whether a turn for tokio's own queue is offered, as the last option.
    pub(crate) tokio: bool,
}

impl Step<'_> {
    pub(crate) fn options(&self) -> usize {
        self.ready.len() + usize::from(self.tokio)
    }
}

/// One recorded choice of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) options: u32,
    pub(crate) chosen: u32,
    /// A choice of the next task (a deviation is a preemption), not of a value (a mock
    /// latency level).
    pub(crate) task: bool,
}

/// How many recorded choices preempt (pick a task FIFO would not have).
pub(crate) fn preemptions(choices: &[Choice]) -> usize {
    choices.iter().filter(|c| c.task && c.chosen != 0).count()
}

/// A source of scheduling decisions for one run.
pub(crate) trait Chooser {
    /// Picks an option of `step` (there are at least 2) and returns its index.
    fn choose(&mut self, step: &Step<'_>) -> usize;

    /// For a value choice (a mock latency level): the replayed value, if this source
    /// replays a schedule; otherwise the run draws it from its seeded generator.
    fn replay_value(&mut self, _options: usize) -> Option<usize> {
        None
    }

    /// The task just polled woke itself during its poll (a yield point, `yield_now`).
    fn yielded(&mut self, _task: TaskId) {}

    /// Whether [`Chooser::yielded`] matters to this source. Inside tokio's loop a
    /// `tokio::task::yield_now()` is deferred and cannot be told from a wait, so the
    /// executor then polls every task from its main loop, where yields are seen.
    fn watches_yields(&self) -> bool {
        false
    }
}

/// Always the first option.
pub(crate) struct Fifo;

impl Chooser for Fifo {
    fn choose(&mut self, _: &Step<'_>) -> usize {
        0
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
    fn choose(&mut self, step: &Step<'_>) -> usize {
        self.rng.below(step.options() as u64) as usize
    }
}

/// Replays a list of choices, then FIFO.
pub(crate) struct Replay {
    choices: Vec<u32>,
    next: usize,
}

impl Replay {
    pub(crate) fn new(choices: Vec<u32>) -> Self {
        Replay { choices, next: 0 }
    }
}

impl Replay {
    fn next_choice(&mut self, options: usize) -> usize {
        let c = self.choices.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        c as usize % options
    }
}

impl Chooser for Replay {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        self.next_choice(step.options())
    }

    fn replay_value(&mut self, options: usize) -> Option<usize> {
        Some(self.next_choice(options))
    }
}

/// PCT: every task gets a random priority when first seen; the ready task with the
/// highest priority runs; at `depth - 1` random steps the task about to run drops to a
/// priority below all initial ones. Only steps with a real choice count, so the change
/// points land inside short programs too (`steps` is the number of such steps expected,
/// learnt from earlier runs of the same body).
pub(crate) struct Pct {
    rng: SplitMix64,
    priorities: Vec<Option<u64>>,
    tokio_priority: u64,
    change_points: Vec<u64>,
    step: u64,
    next_low: u64,
    last: Option<TaskId>,
    same_in_a_row: u32,
    /// With yields lowering: the priority the next yielding task gets (below every
    /// initial priority, above every change point's drop), counting down.
    yield_low: Option<u64>,
}

/// A task chosen this many times in a row while others are ready is spinning (a yield
/// loop waiting for another task): PCT lowers it so the run cannot livelock.
const SPIN_LIMIT: u32 = 64;

impl Pct {
    pub(crate) fn new(seed: u64, depth: u32, steps: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let steps = steps.max(1);
        let mut change_points: Vec<u64> = (1..depth.max(1)).map(|_| rng.below(steps)).collect();
        change_points.sort_unstable();
        let tokio_priority = rng.next_u64() | (1 << 63);
        Pct {
            rng,
            priorities: Vec::new(),
            tokio_priority,
            change_points,
            step: 0,
            next_low: u64::from(depth.max(1)) + 1,
            last: None,
            same_in_a_row: 0,
            yield_low: None,
        }
    }

    /// PCT where a task that yields drops behind every task that has not yielded since.
    pub(crate) fn lowering_yields(seed: u64, depth: u32, steps: u64) -> Self {
        Pct {
            yield_low: Some(1 << 62),
            ..Pct::new(seed, depth, steps)
        }
    }

    fn priority(&mut self, task: TaskId) -> u64 {
        if self.priorities.len() <= task {
            self.priorities.resize(task + 1, None);
        }
        // Initial priorities live in the upper half, drops go below all of them.
        *self.priorities[task].get_or_insert_with(|| self.rng.next_u64() | (1 << 63))
    }

    fn lower(&mut self, option: Option<TaskId>) {
        self.next_low = self.next_low.saturating_sub(1).max(1);
        match option {
            Some(task) => {
                self.priority(task);
                self.priorities[task] = Some(self.next_low);
            }
            None => self.tokio_priority = self.next_low,
        }
    }

    fn best(&mut self, step: &Step<'_>) -> (usize, Option<TaskId>) {
        let mut best = (0, step.ready.first().copied(), 0u64);
        for (i, &t) in step.ready.iter().enumerate() {
            let p = self.priority(t);
            if p > best.2 {
                best = (i, Some(t), p);
            }
        }
        if step.tokio && self.tokio_priority > best.2 {
            best = (step.ready.len(), None, self.tokio_priority);
        }
        (best.0, best.1)
    }
}

impl Chooser for Pct {
    fn choose(&mut self, step: &Step<'_>) -> usize {
        let (mut index, mut task) = self.best(step);
        while self.change_points.first() == Some(&self.step) {
            self.change_points.remove(0);
            self.lower(task);
            (index, task) = self.best(step);
        }
        if task.is_some() && task == self.last {
            self.same_in_a_row += 1;
            if self.same_in_a_row >= SPIN_LIMIT {
                self.lower(task);
                (index, task) = self.best(step);
                self.same_in_a_row = 0;
            }
        } else {
            self.same_in_a_row = 0;
        }
        self.last = task;
        self.step += 1;
        index
    }

    fn watches_yields(&self) -> bool {
        self.yield_low.is_some()
    }

    fn yielded(&mut self, task: TaskId) {
        if let Some(low) = self.yield_low {
            self.priority(task);
            self.priorities[task] = Some(low);
            self.yield_low = Some(low - 1);
        }
    }
}

/// Uniform random walk over executions: a ready task is chosen with probability
/// proportional to the steps it still has to run, estimated from earlier runs of the same
/// body (how often each task was polled). Long tasks then get proportionally more chances
/// to be interrupted at each of their steps, so a short task lands at any point of a long
/// one about equally often.
pub(crate) struct Urw {
    rng: SplitMix64,
    expected: Vec<u64>,
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
    strategy: String,
    seed: u64,
    choices: Vec<u32>,
    /// Which choices pick a value (a mock latency level) rather than a task.
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
pub struct TokenError(String);

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenError {}

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

    fn step(ready: &[TaskId], tokio: bool) -> Step<'_> {
        Step { ready, tokio }
    }

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
    fn random_covers_every_option_including_tokio() {
        let mut r = Random::new(7);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.choose(&step(&[1, 2, 3, 4], true))] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn replay_reads_choices_modulo_options_then_fifo() {
        let mut r = Replay::new(vec![5, 1]);
        assert_eq!(r.choose(&step(&[1, 2], false)), 1); // 5 % 2
        assert_eq!(r.choose(&step(&[1, 2, 3], false)), 1);
        assert_eq!(r.choose(&step(&[1, 2, 3], false)), 0); // ran out: FIFO
    }

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

    #[test]
    fn pct_depth_one_runs_the_highest_priority_task_until_it_stops_being_ready() {
        let mut p = Pct::new(3, 1, 10);
        let first = p.choose(&step(&[1, 2, 3], false));
        let chosen = [1, 2, 3][first];
        // Still ready with the others: still chosen (no change points at depth 1).
        for _ in 0..10 {
            let i = p.choose(&step(&[1, 2, 3], false));
            assert_eq!([1, 2, 3][i], chosen);
        }
    }

    #[test]
    fn pct_change_points_lower_the_running_task() {
        // Depth 2 over 1 step: the only change point is step 0, so the first choice is
        // not the initially highest task.
        let mut p = Pct::new(11, 2, 1);
        let mut q = Pct::new(11, 1, 1);
        let ready = [1, 2];
        assert_ne!(p.choose(&step(&ready, false)), q.choose(&step(&ready, false)));
    }

    #[test]
    fn pct_lowering_yields_puts_a_yielding_task_behind_the_others() {
        for seed in 0..20 {
            let mut p = Pct::lowering_yields(seed, 1, 10);
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

    #[test]
    fn pct_breaks_spin_loops() {
        let mut p = Pct::new(5, 1, 10);
        let ready = [1, 2];
        let mut last = p.choose(&step(&ready, false));
        let mut switched = false;
        for _ in 0..(SPIN_LIMIT + 2) {
            let i = p.choose(&step(&ready, false));
            switched |= i != last;
            last = i;
        }
        assert!(switched, "PCT kept a spinning task forever");
    }

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
