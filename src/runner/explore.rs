//! A test's runs: a replay, one run, or an exploration of many schedules.
//!
//! Each schedule is one run (on a runtime kept across schedules while nothing of a run
//! lives on in it). The planner (`schedule::Planner`) says what each schedule runs; the
//! first failure is minimised and reported by `failure.rs`. Passing schedules check the
//! panic hook at their end at most once a millisecond; a replacement found late has the
//! schedules it may cover run again ([`HookWatch`]).

use std::future::Future;
use std::panic::Location;
use std::time::Instant;

use super::builder::Builder;
use super::env;
use super::failure::{Found, replay_line, report_failure, token_line};
use crate::runtime::RunAttempt;
use crate::runtime::panics::{ClosingCheck, HOOK_REPLACED};
use crate::schedule::{Choice, LEARNING_RUNS, Plan, Planner, Strategy, mix64};
use crate::{Failure, Report};

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
    // Every run of this test is one family: a mock built outside the body starts each afresh.
    let _family = crate::runtime::family::Family::enter();
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
        amortise_hook_check: false,
        closing_check: std::cell::Cell::default(),
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
        return match a.run(body()) {
            Ok(mut report) => {
                if let Some(m) = misfit(s.choices(), &report.choices) {
                    report.add_warning(m);
                }
                Ok(report)
            }
            Err(mut failure) => {
                if let Some(m) = misfit(s.choices(), failure.choices()) {
                    failure.add_note(&m);
                }
                Err(failure)
            }
        };
    }

    // The environment may choose the seed, and may widen an exploration; it never turns
    // an exploring test into fewer runs.
    let base_seed = env::seed().unwrap_or(b.seed);
    let exploring = b.explore > 1 || b.explore_for.is_some();
    if !exploring {
        let seed = base_seed;
        let strategy = strategy.unwrap_or(Strategy::Fifo);
        let (plan, label) = Plan::single(strategy);
        let line = replay_line(&name, seed, strategy);
        return attempt(seed, plan, strategy, label, line).run(body());
    }

    let strategy = strategy.unwrap_or(Strategy::Portfolio);
    let total = if b.explore_for.is_some() && b.explore <= 1 {
        u32::MAX
    } else {
        env::explore().map_or(b.explore, |n| n.max(b.explore))
    };
    let (shard, shards) = env::shard();
    // DFS runs one schedule after another, each following from the last run's choices:
    // it cannot be split, so the first shard runs the whole search and the others none.
    let dfs = matches!(strategy, Strategy::Dfs { .. });
    let owns = |i: u32| if dfs { shard == 0 } else { i % shards == shard };
    let deadline = b.explore_for.map(|d| Instant::now() + d);
    let mut planner = Planner::new(strategy);
    let (mut ran, mut last) = (0u32, None);
    // Tasks tokio schedules itself: the most alive at once, and in how many schedules.
    let (mut tokio_most, mut tokio_runs) = (0usize, 0u32);
    let mut lean_io = !b.config.io_chosen;
    // One runtime serves schedule after schedule while nothing of a run lives on in it.
    let pool = crate::runtime::pool::RuntimePool::default();
    // The wall-clock limit bounds each run and the whole exploration: no schedule starts
    // once the test has run that long (an `explore_for` budget longer than it wins).
    let started = Instant::now();
    let limit = b.config.wall_timeout.max(b.explore_for.unwrap_or_default());
    // The last schedule this shard owns, the one whose report is returned (traced).
    let final_index = (total != u32::MAX)
        .then(|| (0..total).rev().find(|&i| owns(i)))
        .flatten();
    let run_one = |seed: u64, plan: &Plan, label: &str, io: bool, tracing: bool, amortised: bool| {
        let mut a = attempt(seed, plan.clone(), strategy, label.to_string(), String::new());
        a.config.io = io;
        a.config.tracing = tracing;
        a.pool = Some(&pool);
        a.amortise_hook_check = amortised;
        (a.run(body()), a.io_missing.get(), a.closing_check.get())
    };
    let mut hooks = HookWatch::default();
    // What a run's closing hook check found, for the schedules since the last check: on
    // a replacement, those that passed unchecked run again, each checked at both ends
    // (the first that fails is the exploration's failure), and every later schedule is
    // checked at both ends. Ok(true): the replacement may predate schedule `i` itself.
    let settle = |hooks: &mut HookWatch, i: u32, check: ClosingCheck| -> Result<bool, Failure> {
        match check {
            ClosingCheck::Skipped => return Ok(false),
            ClosingCheck::Kept => {
                hooks.unchecked.clear();
                return Ok(false);
            }
            ClosingCheck::Replaced => {}
        }
        let window = std::mem::take(&mut hooks.unchecked);
        hooks.found(window.first().map_or(i, |u| u.index), i);
        for u in &window {
            if let (Err(failure), ..) = run_one(u.seed, &u.plan, &u.label, b.config.io, false, false) {
                let found = Found {
                    index: u.index,
                    total,
                    ran: u.ran,
                    seed: u.seed,
                    label: u.label.clone(),
                };
                let mut failure = report_failure(b, body, &attempt, strategy, failure, found);
                failure.add_note(&hooks.warning(Rerun::Failed(u.index)));
                return Err(failure);
            }
        }
        Ok(!window.is_empty())
    };
    for i in 0..total {
        // Another shard's schedule: run only among the first LEARNING_RUNS (what a
        // learning strategy plans depends on their outcomes), never reported.
        let own = owns(i);
        if !own && dfs {
            break;
        }
        if !own && i >= LEARNING_RUNS {
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if ran > 0 && started.elapsed() >= limit {
            let mut failure = exploration_timeout(&name, limit, ran, total, base_seed, strategy);
            // No time to run anything again: the note says what the last check found.
            if let Some(at) = hooks.replaced_unchecked() {
                let from = hooks.unchecked[0].index;
                hooks.found(from, at);
                failure.add_note(&hooks.warning(Rerun::NotRun));
            }
            return Err(failure);
        }
        let seed = mix64(base_seed ^ u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // None: DFS has run every schedule within its bound.
        let Some((plan, label)) = planner.new_execution(i) else {
            break;
        };
        // Without the I/O driver until a schedule needs it; that one runs again with it.
        // Only the last schedule's report is returned, and a failure is reported from a
        // traced replay of its minimal schedule: the others run untraced. A passing
        // schedule but the last may leave its closing panic-hook check to a later one.
        let final_one = final_index == Some(i);
        let (mut run, missing, mut check) = run_one(
            seed,
            &plan,
            &label,
            b.config.io && !lean_io,
            final_one,
            hooks.amortise && !final_one,
        );
        if missing && lean_io {
            lean_io = false;
            // The first try's check counts too: it may have covered the schedules before.
            settle(&mut hooks, i, check)?;
            (run, _, check) = run_one(seed, &plan, &label, true, final_one, hooks.amortise && !final_one);
        }
        let rerun = settle(&mut hooks, i, check)? && run.is_ok();
        if rerun {
            // The hook may have been another's since an earlier schedule: this one too
            // runs again, checked at both ends.
            (run, _, check) = run_one(seed, &plan, &label, b.config.io && !lean_io, final_one, false);
            // Replaced again (its report says so): counted.
            settle(&mut hooks, i, check)?;
        }
        match run {
            Ok(report) => {
                planner.passed(i, &report.choices, &report.task_polls);
                if own {
                    ran += 1;
                    tokio_most = tokio_most.max(report.tokio_tasks());
                    tokio_runs += report.tokio_schedules();
                    last = Some((i, report));
                    if check == ClosingCheck::Skipped {
                        hooks.unchecked.push(Unchecked {
                            index: i,
                            seed,
                            plan,
                            label,
                            ran,
                        });
                    }
                }
            }
            // Another shard's schedule failed: that shard reports it.
            Err(_) if !own => {}
            Err(failure) => {
                ran += 1;
                let found = Found {
                    index: i,
                    total,
                    ran,
                    seed,
                    label,
                };
                let mut failure = report_failure(b, body, &attempt, strategy, failure, found);
                if hooks.first.is_some() {
                    failure.add_note(&hooks.warning(if rerun { Rerun::Failed(i) } else { Rerun::Passed }));
                }
                return Err(failure);
            }
        }
    }
    // The exploration's last check, when its last schedules skipped theirs.
    if let Some(at) = hooks.replaced_unchecked() {
        settle(&mut hooks, at, ClosingCheck::Replaced)?;
    }
    // A search that never chose among tokio's own tasks has not exhausted anything.
    let searched = planner.exhausted();
    let exhausted = searched && tokio_runs == 0;
    let mut report = match last {
        Some((last_index, mut report)) => {
            // Unless the returned schedule's own check found the only replacement (its
            // report says so), the report says what the exploration found.
            let own_warning = report.warnings().iter().any(|w| w == HOOK_REPLACED);
            if hooks
                .first
                .is_some_and(|(from, at)| from != at || at != last_index || !own_warning)
            {
                report.add_warning(hooks.warning(Rerun::Passed));
            }
            report.with_schedules(ran, exhausted, (tokio_most, tokio_runs))
        }
        None => {
            // A shard (or a budget) with nothing to run still runs the body once, FIFO.
            let line = replay_line(&name, base_seed, Strategy::Fifo);
            let report = attempt(base_seed, Plan::Fifo, strategy, "fifo".into(), line).run(body())?;
            let tokio = (report.tokio_tasks(), report.tokio_schedules());
            report.with_schedules(1, exhausted && tokio.1 == 0, tokio)
        }
    };
    if report.tokio_tasks() > 0 {
        let note = unexplored_note(
            report.tokio_tasks(),
            report.tokio_schedules(),
            report.schedules(),
            searched,
        );
        report.add_warning(note);
    }
    if shards > 1 {
        let var = env::SHARD;
        if dfs {
            report.add_warning(format!(
                "{var}={shard}/{shards}: a DFS exploration cannot be split (each schedule follows from the \
                 last run), so shard 0 runs the whole search{}",
                if shard == 0 {
                    String::new()
                } else {
                    " and this shard ran the body once, FIFO (the search's first schedule)".to_string()
                }
            ));
        }
        if b.explore_for.is_some() {
            report.add_warning(format!(
                "{var}={shard}/{shards} with explore_for: each shard runs its schedules until its own time \
                 budget runs out, so the shards together are not one unsharded exploration of that budget"
            ));
        }
    }
    Ok(report)
}

/// The note of a passing exploration whose runs had tasks that tokio schedules itself:
/// the kit ran them in tokio's order only, so the pass says nothing of their other orders.
fn unexplored_note(most: usize, runs: u32, ran: u32, searched: bool) -> String {
    format!(
        "not explored: {runs} of {ran} schedule{} had tasks that tokio schedules itself (up to {most} alive at \
         once: started with tokio::spawn, spawn_local or JoinSet straight on tokio, by the code under test or a \
         library); tokio ran them in its own order every time, so no order of theirs but that one was tried{}. \
         To explore them, depend on tokio through async-testkit-tokio with its explore feature in \
         [dev-dependencies]: tokio = {{ package = \"async-testkit-tokio\", version = \"0.1\", features = \
         [\"full\", \"explore\"] }} (README: \"Exploring code that uses tokio::spawn\"); tasks that a dependency \
         starts on tokio directly stay unexplored",
        if ran == 1 { "" } else { "s" },
        if searched {
            " (the DFS search ran out of schedules, but its space did not include their orders: not exhausted)"
        } else {
            ""
        }
    )
}

/// A passing schedule that skipped its closing panic-hook check: what it takes to run it
/// again.
struct Unchecked {
    index: u32,
    seed: u64,
    plan: Plan,
    label: String,
    /// The schedules this shard had run, this one included.
    ran: u32,
}

/// An exploration's watch over the process's panic hook (`runtime::panics`): its passing
/// schedules check the hook at their end at most once a millisecond, so a replacement
/// found by one check may have happened in any schedule since the last. Those run again,
/// each checked at both ends, as every later schedule is.
struct HookWatch {
    /// Passing schedules may skip their closing check: until a replacement is found.
    amortise: bool,
    /// This shard's passing schedules since the last check.
    unchecked: Vec<Unchecked>,
    /// The first replacement found: the first schedule it may cover, and the schedule at
    /// whose end it was found.
    first: Option<(u32, u32)>,
    /// How many later checks found the hook replaced again.
    again: u32,
}

impl Default for HookWatch {
    fn default() -> Self {
        HookWatch {
            amortise: true,
            unchecked: Vec::new(),
            first: None,
            again: 0,
        }
    }
}

/// What became of the schedules a late-found replacement covers.
#[derive(Clone, Copy)]
enum Rerun {
    /// They ran again, checked at both ends, and passed.
    Passed,
    /// They ran again, and this one failed.
    Failed(u32),
    /// The exploration ended first (its wall-clock limit).
    NotRun,
}

impl HookWatch {
    /// A check found the hook replaced at the end of schedule `at`, since `from` began.
    fn found(&mut self, from: u32, at: u32) {
        self.amortise = false;
        match self.first {
            None => self.first = Some((from, at)),
            Some(_) => self.again += 1,
        }
    }

    /// Checks the hook when the last schedules skipped their checks: the last of them if
    /// it was replaced since the check before.
    fn replaced_unchecked(&self) -> Option<u32> {
        let at = self.unchecked.last()?.index;
        crate::runtime::panics::hook_replaced_since_last_check(crate::runtime::family::current())
            .then_some(at)
    }

    /// The warning (or, on a failure, the note) that says what was found.
    fn warning(&self, rerun: Rerun) -> String {
        let Some((from, at)) = self.first else {
            return String::new();
        };
        let (from, at) = (from + 1, at + 1);
        let span = if from == at {
            "here that one only".to_string()
        } else {
            format!("here schedules {from} to {at}")
        };
        let rerun = match rerun {
            _ if from == at => String::new(),
            Rerun::Passed => {
                " Those schedules ran again, each with the hook checked at its start and end, and \
                              passed."
                    .to_string()
            }
            Rerun::Failed(k) => format!(
                " Those schedules ran again, each with the hook checked at its start and end: schedule {} \
                 failed (it had passed while the hook was not the kit's).",
                k + 1
            ),
            Rerun::NotRun => {
                " Those schedules did not run again: the exploration reached its wall-clock limit \
                              first."
                    .to_string()
            }
        };
        let again = match self.again {
            0 => String::new(),
            1 => ", and found it replaced again in 1 later schedule".to_string(),
            n => format!(", and found it replaced again in {n} later schedules"),
        };
        format!(
            "panic hook: the process's panic hook was replaced during this exploration (std::panic::set_hook, by \
             the test or by a library such as an error-report crate) and found replaced at the end of schedule \
             {at}; the kit checks its hook between schedules at most once a millisecond, so one replacement may \
             cover several schedules ({span}), during which panics in tasks started with tokio::spawn or \
             spawn_local and in spawn_blocking closures may have gone to that hook unseen (kit tasks' panics \
             were still caught).{rerun} The kit has installed its hook again, in front of the new one, and \
             checked it at every later schedule's start and end{again}: install panic hooks before the test's \
             run starts and the kit passes on to them what it does not take"
        )
    }
}

/// The failure of an exploration that reached the test's wall-clock limit between
/// schedules (every schedule it ran passed).
fn exploration_timeout(
    name: &str,
    limit: std::time::Duration,
    ran: u32,
    total: u32,
    seed: u64,
    strategy: Strategy,
) -> Failure {
    let of = if total == u32::MAX {
        String::new()
    } else {
        format!(" of {total}")
    };
    let headline = format!(
        "wall-clock timeout: the exploration ran longer than the test's limit of {limit:?} of real time; \
         {ran}{of} schedule{} ran, and passed",
        if ran == 1 { "" } else { "s" }
    );
    let lines = format!(
        "  test: {name}\n  The wall-clock limit (`timeout`, default 60s) is for the whole test: each run \
         stops at it, and no schedule starts once the test has run that long. Raise `timeout`, lower \
         `explore`, or give the exploration a time budget with `explore_for` (it stops there and passes).\n"
    );
    Failure::of_runner(
        crate::FailureKind::WallTimeout,
        headline,
        &lines,
        seed,
        &replay_line(name, seed, strategy),
    )
}

/// Whether a replayed schedule fits the run it was replayed on: every listed choice was
/// asked for, each at a step with more options than its number. A token from another
/// test, another version of the code, or invented, is still run (any list of numbers is
/// a schedule), but the report says it did not fit.
fn misfit(token: &[u32], run: &[Choice]) -> Option<String> {
    let what = if let Some((i, (&t, c))) = token
        .iter()
        .zip(run)
        .enumerate()
        .find(|(_, (t, c))| **t >= c.options)
    {
        format!(
            "its choice {} is option {} of a step with {} options (read as option {})",
            i + 1,
            t + 1,
            c.options,
            t % c.options + 1
        )
    } else if token.len() > run.len() {
        format!(
            "it lists {} choices and the run asked for {}",
            token.len(),
            run.len()
        )
    } else {
        return None;
    };
    Some(format!(
        "the replayed schedule does not fit this test: {what}; a token replays the test it was printed \
         for, on the same code: rerun that test's exploration for a fresh one"
    ))
}

#[cfg(test)]
mod tests {
    use super::{HookWatch, Rerun};

    #[test]
    fn the_hook_warning_names_the_schedules_and_what_became_of_them() {
        let mut w = HookWatch::default();
        assert_eq!(w.warning(Rerun::Passed), "");
        w.found(3, 7);
        assert!(!w.amortise);
        let text = w.warning(Rerun::NotRun);
        assert!(
            text.contains("found replaced at the end of schedule 8; ")
                && text.contains("(here schedules 4 to 8)")
                && text.contains(
                    " Those schedules did not run again: the exploration reached its wall-clock limit first. "
                )
                && text.contains("checked it at every later schedule's start and end: install"),
            "{text}"
        );
        w.found(9, 9);
        w.found(12, 12);
        let text = w.warning(Rerun::Failed(5));
        assert!(
            text.contains("schedule 6 failed (it had passed while the hook was not the kit's).")
                && text.contains("start and end, and found it replaced again in 2 later schedules: install"),
            "{text}"
        );
        let mut one = HookWatch::default();
        one.found(4, 4);
        one.found(6, 6);
        let text = one.warning(Rerun::Passed);
        assert!(
            text.contains("(here that one only), during")
                && text.contains("(kit tasks' panics were still caught). The kit")
                && text.contains("and found it replaced again in 1 later schedule: install"),
            "{text}"
        );
    }
}
