//! A test's runs: a replay, one run, or an exploration of many schedules.
//!
//! Each schedule is one run (on a runtime kept across schedules while nothing of a run
//! lives on in it). The planner (`schedule::Planner`) says what each schedule runs; the
//! first failure is minimised and reported by `failure.rs`.

use std::future::Future;
use std::panic::Location;
use std::time::Instant;

use super::builder::Builder;
use super::env;
use super::failure::{Found, replay_line, report_failure, token_line};
use crate::runtime::RunAttempt;
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
            return Err(exploration_timeout(&name, limit, ran, total, base_seed, strategy));
        }
        let seed = mix64(base_seed ^ u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // None: DFS has run every schedule within its bound.
        let Some((plan, label)) = planner.new_execution(i) else {
            break;
        };
        // Without the I/O driver until a schedule needs it; that one runs again with it.
        // Only the last schedule's report is returned, and a failure is reported from a
        // traced replay of its minimal schedule: the others run untraced.
        let final_one = final_index == Some(i);
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
        match run {
            Ok(report) => {
                planner.passed(i, &report.choices, &report.task_polls);
                if own {
                    ran += 1;
                    tokio_most = tokio_most.max(report.tokio_tasks());
                    tokio_runs += report.tokio_schedules();
                    last = Some(report);
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
                return Err(report_failure(b, body, &attempt, strategy, failure, found));
            }
        }
    }
    // A search that never chose among tokio's own tasks has not exhausted anything.
    let searched = planner.exhausted();
    let exhausted = searched && tokio_runs == 0;
    let mut report = match last {
        Some(report) => report.with_schedules(ran, exhausted, (tokio_most, tokio_runs)),
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
