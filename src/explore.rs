//! Exploration: run a body under many schedules, and make the first failure small.
//!
//! Each schedule is one run on a fresh runtime. A schedule's choices come from its
//! strategy (random, PCT, the portfolio that rotates them, or bounded DFS over FIFO
//! deviations). On the first failure the failing schedule is minimised: deviations from
//! FIFO (preemptions) are removed while a replay still fails the same way, then the run
//! is shortened where it can be; the result is replayed twice to check it is
//! deterministic, written as a Chrome trace, and reported with a one-line token.

use std::future::Future;
use std::panic::Location;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::runner::{Builder, env};
use crate::runtime::RunAttempt;
use crate::runtime::report::{replay_line, token_line};
use crate::schedule::{Choice, Dfs, Plan, Planner, Schedule, Strategy, mix64, preemptions};
use crate::{Failure, FailureKind, Report};

/// Replays a minimisation may spend, and the wall time, whichever ends first.
const MINIMISE_REPLAYS: usize = 4000;
const MINIMISE_TIME: Duration = Duration::from_secs(5);
/// The largest preemption bound the minimiser searches exhaustively.
const DEEPEN_MAX: u32 = 2;

/// Runs the body as the builder says: one run, a replay, or an exploration.
pub(crate) fn drive<F, Fut>(
    b: &Builder,
    body: &F,
    site: &'static Location<'static>,
) -> Result<Report<Fut::Output>, Failure>
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let name = b.test_name();
    let strategy = env::strategy().or(b.strategy);
    let attempt = |seed: u64, plan: Plan, strategy: Strategy, label: String, replay: String| RunAttempt {
        config: b.config.clone(),
        seed,
        plan,
        strategy,
        label,
        name: &name,
        site,
        on_stuck: b.on_stuck(),
        notes: Vec::new(),
        replay,
        io_missing: std::cell::Cell::new(false),
        pool: None,
    };

    // A replay: from the environment (a failure report's line) or the builder.
    let replay = env::replay().or_else(|| b.replay.clone());
    if let Some(s) = replay {
        let line = token_line(&name, &s);
        let mut a = attempt(
            s.seed(),
            Plan::Replay(s.choices().to_vec()),
            strategy.unwrap_or_default(),
            s.strategy().to_string(),
            line,
        );
        a.notes.push(format!(
            "replayed schedule with {} preemption(s)",
            s.preemptions()
        ));
        return a.run(body());
    }

    let env_seed = env::seed();
    let exploring = (b.explore > 1 || b.explore_for.is_some()) && env_seed.is_none();
    if !exploring {
        let seed = env_seed.unwrap_or(b.seed);
        let strategy = strategy.unwrap_or(Strategy::Fifo);
        let (plan, label) = Plan::single(strategy);
        let line = replay_line(&name, seed, strategy);
        return attempt(seed, plan, strategy, label, line).run(body());
    }

    let strategy = strategy.unwrap_or(Strategy::Portfolio);
    let total = env::explore().unwrap_or(if b.explore_for.is_some() && b.explore <= 1 {
        u32::MAX
    } else {
        b.explore
    });
    let (shard, shards) = env::shard();
    let deadline = b.explore_for.map(|d| Instant::now() + d);
    let mut planner = Planner::new(strategy);
    let (mut ran, mut last) = (0u32, None);
    let mut lean_io = !b.config.io_chosen;
    // One runtime serves schedule after schedule while nothing of a run lives on in it.
    let pool = crate::runtime::pool::RuntimePool::default();
    for i in 0..total {
        if i % shards != shard {
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let seed = mix64(b.seed ^ u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // None: DFS has run every schedule within its bound.
        let Some((plan, label)) = planner.new_execution(i) else {
            break;
        };
        // Without the I/O driver until a schedule needs it; that one runs again with it.
        // Only the last schedule's report is returned, and a failure is reported from a
        // traced replay of its minimal schedule: the others run untraced.
        let final_one = total != u32::MAX && i.saturating_add(shards) >= total;
        let run_one = |io: bool, tracing: bool| {
            let mut a = attempt(seed, plan.clone(), strategy, label.clone(), String::new());
            a.config.io = io;
            a.config.tracing = tracing;
            a.pool = Some(&pool);
            (a.run(body()), a.io_missing.get())
        };
        let (mut run, missing) = run_one(b.config.io && !lean_io, final_one);
        if missing && lean_io {
            lean_io = false;
            run = run_one(true, final_one).0;
        }
        ran += 1;
        match run {
            Ok(report) => {
                planner.passed(&report.choices, &report.task_polls);
                last = Some(report);
            }
            Err(failure) => {
                let found = Found {
                    index: i,
                    total,
                    ran,
                    seed,
                    label,
                };
                return Err(report_failure(b, body, &attempt, strategy, failure, found));
            }
        }
    }
    let exhausted = planner.exhausted();
    match last {
        Some(report) => Ok(report.with_schedules(ran, exhausted)),
        None => {
            // A shard (or a budget) with nothing to run still runs the body once, FIFO.
            let line = replay_line(&name, b.seed, Strategy::Fifo);
            attempt(b.seed, Plan::Fifo, strategy, "fifo".into(), line)
                .run(body())
                .map(|r| r.with_schedules(1, exhausted))
        }
    }
}

/// Where the first failure was found.
struct Found {
    index: u32,
    total: u32,
    ran: u32,
    seed: u64,
    label: String,
}

/// What makes two failures "the same": the oracle, and for a panic where it happened
/// (its message may carry values that differ between schedules), for a broken
/// expectation its message.
fn signature(f: &Failure) -> (FailureKind, Option<String>) {
    let detail = match f.kind() {
        FailureKind::Panic => f
            .first_panic_site()
            .map(str::to_string)
            .or_else(|| f.panic_messages().first().cloned()),
        FailureKind::Expectation => Some(f.headline().to_string()),
        _ => None,
    };
    (f.kind(), detail)
}

/// Choices that differ from the default (preemptions, and raised latency levels).
fn deviations(choices: &[Choice]) -> usize {
    choices.iter().filter(|c| c.chosen != 0).count()
}

/// What a replay of a candidate schedule did.
enum Replayed {
    /// Failed the same way; the run's recorded choices.
    Same(Vec<Choice>),
    /// Passed, or failed another way; the run's recorded choices.
    Other(Vec<Choice>),
}

/// Shrinks a failing schedule: fewest preemptions first, then the fewest steps, keeping
/// only candidates whose replay fails the same way.
struct Minimiser<'r> {
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
    fn new(replay: &'r mut dyn FnMut(&[u32]) -> Replayed, best: Vec<Choice>) -> Self {
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
    fn run(mut self) -> (Vec<Choice>, usize) {
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

fn report_failure<'a, F, Fut>(
    b: &Builder,
    body: &F,
    attempt: &dyn Fn(u64, Plan, Strategy, String, String) -> RunAttempt<'a>,
    strategy: Strategy,
    first: Failure,
    found: Found,
) -> Failure
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let name = b.test_name();
    let sig = signature(&first);
    let quiet = |choices: &[u32]| {
        let mut a = attempt(
            found.seed,
            Plan::Replay(choices.to_vec()),
            strategy,
            found.label.clone(),
            String::new(),
        );
        a.config.tracing = false;
        a.run(body())
    };

    // Minimise: fewest preemptions first, then the fewest steps.
    let mut replay = |choices: &[u32]| match quiet(choices) {
        Err(f) if signature(&f) == sig => Replayed::Same(f.choices().to_vec()),
        Err(f) => Replayed::Other(f.choices().to_vec()),
        Ok(report) => Replayed::Other(report.choices),
    };
    let (best, replays) = Minimiser::new(&mut replay, first.choices().to_vec()).run();
    let minimal = Schedule::recorded(found.label.clone(), found.seed, &best);

    // Replay the minimal schedule twice, keeping every event: the report comes from the
    // first, the second checks the run is deterministic.
    let full = |notes: Vec<String>| {
        let mut a = attempt(
            found.seed,
            Plan::Replay(minimal.choices().to_vec()),
            strategy,
            found.label.clone(),
            token_line(&name, &minimal),
        );
        a.config.trace_capacity = usize::MAX;
        a.notes = notes;
        a.run(body())
    };
    let trace_path = chrome_trace_path(&name);
    let mut notes = vec![
        format!(
            "found on schedule {} of {} ({}), after {} passing schedule{}",
            found.index + 1,
            if found.total == u32::MAX {
                "a time budget".to_string()
            } else {
                found.total.to_string()
            },
            found.label,
            found.ran - 1,
            if found.ran == 2 { "" } else { "s" }
        ),
        format!(
            "minimised to {} preemption{} (from {}) in {} replay{}; the failing run makes {} scheduling choice{}",
            minimal.preemptions(),
            if minimal.preemptions() == 1 { "" } else { "s" },
            preemptions(first.choices()),
            replays,
            if replays == 1 { "" } else { "s" },
            best.len(),
            if best.len() == 1 { "" } else { "s" }
        ),
    ];
    notes.push(format!(
        "chrome trace: {} (open in ui.perfetto.dev or chrome://tracing)",
        trace_path.display()
    ));
    let (one, two) = (full(notes.clone()), full(notes));
    let mut failure = match one {
        Err(f) if signature(&f) == sig => f,
        other => {
            // The minimal schedule did not fail again the same way: the test escapes the
            // determinism contract. Report the original failure, and say so.
            let mut f = first;
            f.set_replay_line(&replay_line(&name, found.seed, strategy));
            f.add_note(&format!(
                "nondeterminism: replaying this failure's schedule did not fail the same way ({}); \
                 the test escapes the determinism contract: look for HashMap iteration order, \
                 std::time::Instant or SystemTime, real I/O, or OS threads in the code under test",
                match other {
                    Ok(_) => "the replay passed".to_string(),
                    Err(g) => format!("the replay failed with: {}", g.headline()),
                }
            ));
            return f;
        }
    };
    if let Some(json) = failure.chrome_trace() {
        if let Some(dir) = trace_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&trace_path, json);
    }
    if let Err(second) = &two {
        if second.trace_hash() != failure.trace_hash() {
            failure.add_note(&divergence(&failure, second));
        }
    } else {
        failure.add_note(
            "nondeterminism: the minimal schedule failed once and passed on a second replay; the test \
             escapes the determinism contract (HashMap order, std time, real I/O or threads)",
        );
    }
    failure
}

/// Names the first event where two replays of one schedule differ.
fn divergence(a: &Failure, b: &Failure) -> String {
    let (ea, eb) = (
        a.events().unwrap_or_default().to_vec(),
        b.events().unwrap_or_default().to_vec(),
    );
    let at = ea
        .iter()
        .zip(&eb)
        .position(|(x, y)| x != y)
        .unwrap_or(ea.len().min(eb.len()));
    let show = |e: &[String]| e.get(at).cloned().unwrap_or_else(|| "(the run had ended)".into());
    format!(
        "nondeterminism: two replays of this schedule diverged at event {}:\n  first replay:  {}\n  second replay: {}\n\
         the test escapes the determinism contract: look for HashMap iteration order, std::time::Instant or \
         SystemTime, real I/O, or OS threads in the code under test",
        at + 1,
        show(&ea),
        show(&eb)
    )
}

/// `target/async-testkit/<test name>.json`, beside the test binary's target folder.
fn chrome_trace_path(name: &str) -> PathBuf {
    let target = env::target_dir().map(PathBuf::from).or_else(|| {
        std::env::current_exe()
            .ok()?
            .ancestors()
            .find(|p| p.file_name().is_some_and(|n| n == "target"))
            .map(PathBuf::from)
    });
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    target
        .unwrap_or_else(std::env::temp_dir)
        .join("async-testkit")
        .join(format!("{file}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_paths_are_file_names() {
        let p = chrome_trace_path("tests::a b/c");
        assert!(p.ends_with("async-testkit/tests__a_b_c.json"), "{}", p.display());
    }
}
