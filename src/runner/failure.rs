//! The failure report of a test's runs: what the failing run says, plus where it was
//! found, how far it was minimised, a traced replay of the minimal schedule (and more that
//! check the run is deterministic), the Chrome trace file, and the replay line.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::builder::Builder;
use super::env;
use super::minimise::{Minimiser, Replayed};
use crate::runtime::RunAttempt;
use crate::runtime::config::MAX_RECORDED_CHOICES;
use crate::schedule::{Plan, Schedule, Strategy, preemptions};
use crate::{Failure, FailureKind, Report};

/// Where the first failure was found.
pub(crate) struct Found {
    pub(crate) index: u32,
    pub(crate) total: u32,
    pub(crate) ran: u32,
    pub(crate) seed: u64,
    pub(crate) label: String,
}

/// What makes two failures "the same": the oracle, and for a panic where it happened
/// (its message may carry values that differ between schedules), for a broken
/// expectation its message.
type Signature = (FailureKind, Option<String>);

fn signature(f: &Failure) -> Signature {
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

/// `replay: ASYNC_TESTKIT_SEED=.. cargo test -- --exact name` (or the nextest command).
pub(crate) fn replay_line(name: &str, seed: u64, strategy: Strategy) -> String {
    replay_line_for(env::test_runner(), name, seed, strategy)
}

fn replay_line_for(runner: env::TestRunner, name: &str, seed: u64, strategy: Strategy) -> String {
    let strategy = match strategy {
        Strategy::Fifo => String::new(),
        other => format!("{}={other} ", env::STRATEGY),
    };
    format!("replay: {}={seed} {strategy}{}", env::SEED, run_one(runner, name))
}

/// `replay: ASYNC_TESTKIT_REPLAY=<token> cargo test -- --exact name` (or the nextest
/// command).
pub(crate) fn token_line(name: &str, schedule: &Schedule) -> String {
    token_line_for(env::test_runner(), name, schedule)
}

fn token_line_for(runner: env::TestRunner, name: &str, schedule: &Schedule) -> String {
    format!(
        "replay: {}={} {}",
        env::REPLAY,
        schedule.to_token(),
        run_one(runner, name)
    )
}

/// The command that runs exactly the test `name` under `runner`.
fn run_one(runner: env::TestRunner, name: &str) -> String {
    match runner {
        env::TestRunner::Cargo => format!("cargo test -- --exact {name}"),
        env::TestRunner::Nextest => format!("cargo nextest run -E 'test(={name})'"),
    }
}

/// Minimises a failing schedule and assembles its report.
pub(crate) fn report_failure<'a, F, Fut>(
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
    // A failure of a wall-clock oracle is not minimised: each replay would run until the
    // wall limit (or the slow poll), and whether it fails depends on the machine's speed.
    let timed = matches!(first.kind(), FailureKind::WallTimeout | FailureKind::SlowPoll);
    let (best, replays) = if timed {
        (first.choices().to_vec(), 0)
    } else {
        Minimiser::new(&mut replay, first.choices().to_vec()).run()
    };
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
            "{}; the failing run makes {} scheduling choice{}{}",
            if timed {
                format!(
                    "not minimised: a {} depends on the machine's speed, and each replay would take its \
                     wall time, so the schedule is the one found ({} preemption{})",
                    first.kind().name(),
                    minimal.preemptions(),
                    if minimal.preemptions() == 1 { "" } else { "s" },
                )
            } else {
                format!(
                    "minimised to {} preemption{} (from {}) in {} replay{}",
                    minimal.preemptions(),
                    if minimal.preemptions() == 1 { "" } else { "s" },
                    preemptions(first.choices()),
                    replays,
                    if replays == 1 { "" } else { "s" },
                )
            },
            best.len(),
            if best.len() == 1 { "" } else { "s" },
            if best.len() >= MAX_RECORDED_CHOICES {
                " or more (the most a run records)"
            } else {
                ""
            }
        ),
    ];
    notes.push(format!(
        "chrome trace: {} (open in ui.perfetto.dev or chrome://tracing)",
        trace_path.display()
    ));
    let one = full(notes.clone());
    let mut failure = match one {
        Err(f) if signature(&f) == sig => f,
        other => {
            // The minimal schedule did not fail again the same way: the test escapes the
            // determinism contract. Report the original failure, and say so.
            let mut f = first;
            let line = token_line(&name, f.schedule());
            f.set_replay_line(&line);
            let what = match other {
                Ok(_) => "the replay passed".to_string(),
                Err(g) => format!("the replay failed with: {}", g.headline()),
            };
            if f.unrecorded_choices() > 0 || best.len() >= MAX_RECORDED_CHOICES {
                f.add_note(&format!(
                    "replaying this failure's schedule did not fail the same way ({what}); the failing run \
                     made more scheduling choices than the {MAX_RECORDED_CHOICES} a run records: a replay \
                     makes those, then runs FIFO, and may take another path than the failing run did"
                ));
            } else {
                f.add_note(&format!(
                    "nondeterminism: replaying this failure's schedule did not fail the same way ({what}); \
                     {CONTRACT}"
                ));
            }
            return f;
        }
    };
    if let Some(json) = failure.chrome_trace() {
        if let Some(dir) = trace_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&trace_path, json);
    }
    // The determinism check: more replays of the minimal schedule, each compared with the
    // first by its outcome and its trace, until one differs. A coin flip
    // (a hash order, `select!`, a clock reading) that decides a run's path or its failure
    // differs on one of them in all but about one test in 2^CHECK_REPLAYS.
    // A failure of a wall-clock oracle (a timeout, a slow poll) depends on the machine's
    // speed: one more replay only, as its outcome may differ without the code at fault.
    let started = Instant::now();
    for k in 2..=if timed { 2 } else { CHECK_REPLAYS + 1 } {
        if k > 2 && started.elapsed() >= CHECK_TIME {
            break;
        }
        if let Some(note) = differs(&failure, full(notes.clone()), &sig, k) {
            failure.add_note(&note);
            break;
        }
    }
    failure
}

/// How many replays of the minimal schedule, besides the one the report comes from, the
/// determinism check makes at most, and the wall time it may spend past its first.
const CHECK_REPLAYS: usize = 8;
const CHECK_TIME: Duration = Duration::from_secs(2);

/// The usual causes of a run that does not replay, for the nondeterminism notes.
const CONTRACT: &str = "the test escapes the determinism contract: look for HashMap or HashSet iteration \
                        order (std's RandomState), tokio::select! without `biased;` (it polls its branches in \
                        a random order), random numbers, std::time::Instant or SystemTime, real I/O, or OS \
                        threads in the code under test";

/// What replay `k` of the minimal schedule did that the first replay (`first`) did not:
/// pass, fail another way, or take another path.
fn differs(
    first: &Failure,
    replay: Result<Report<impl Sized>, Failure>,
    sig: &Signature,
    k: usize,
) -> Option<String> {
    let other = match replay {
        Ok(_) => {
            return Some(format!(
                "nondeterminism: the minimal schedule failed on its first replay and passed on replay {k}; \
                 {CONTRACT}"
            ));
        }
        Err(other) => other,
    };
    if signature(&other) != *sig {
        Some(format!(
            "nondeterminism: the minimal schedule failed another way on replay {k}: {}\n{CONTRACT}",
            other.headline()
        ))
    } else if first.clock_ran() || other.clock_ran() {
        // tokio's clock ran in real time (the failure says so and where): the times of
        // the events from then on are real-time readings, which differ between replays
        // whether or not the code under test is deterministic.
        None
    } else if other.trace_hash() != first.trace_hash() {
        divergence(first, &other, k)
    } else {
        // Same steps, same failure. Messages are not compared: they may carry what differs
        // between runs without the code under test escaping the contract (addresses).
        None
    }
}

/// Names the first event where two replays of one schedule differ.
///
/// A wall-clock limit stops each replay at whatever step it has reached, so two replays
/// of a run that hit it differ at their ends whether or not the run is deterministic: for
/// them only the first events are compared, when both replays ran past them (their traces
/// were truncated, so those events all come before the stop), and otherwise nothing is said.
fn divergence(a: &Failure, b: &Failure, k: usize) -> Option<String> {
    let (ea, eb) = (a.events().unwrap_or_default(), b.events().unwrap_or_default());
    // How many events, from the first, each trace kept without a gap; a truncated trace
    // then has a gap and its last events.
    let from_first = |e: &[(u64, String)]| e.iter().zip(1..).take_while(|((seq, _), n)| seq == n).count();
    let (ca, cb) = (from_first(ea), from_first(eb));
    let truncated = ca < ea.len() || cb < eb.len();
    let wall = a.kind() == FailureKind::WallTimeout;
    let (ea, eb) = match (wall, ca < ea.len() && cb < eb.len()) {
        (false, _) => (ea, eb),
        (true, true) => (&ea[..ca], &eb[..cb]),
        (true, false) => return None,
    };
    let at = ea
        .iter()
        .zip(eb)
        .position(|(x, y)| x != y)
        .unwrap_or(ea.len().min(eb.len()));
    let kept = ca.min(cb);
    if wall && at == ea.len().min(eb.len()) {
        None
    } else if at < kept || (at == kept && !truncated) {
        let show = |e: &[(u64, String)]| {
            e.get(at)
                .map_or_else(|| "(the run had ended)".into(), |(_, line)| line.clone())
        };
        Some(format!(
            "nondeterminism: replays 1 and {k} of this schedule diverged at event {}:\n  first replay: {}\n  \
             replay {k}:     {}\n{CONTRACT}",
            at + 1,
            show(ea),
            show(eb)
        ))
    } else {
        // Past the first events, a truncated trace has a gap: the replays may have parted
        // at any step after the last one both kept.
        Some(format!(
            "nondeterminism: replays 1 and {k} of this schedule diverged after event {kept}, at a step \
             their truncated traces did not keep;\n{CONTRACT}"
        ))
    }
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
    fn replay_lines_name_the_runner_in_use() {
        use env::TestRunner::{Cargo, Nextest};
        assert_eq!(
            replay_line_for(Cargo, "tests::races", 7, Strategy::Fifo),
            "replay: ASYNC_TESTKIT_SEED=7 cargo test -- --exact tests::races"
        );
        assert_eq!(
            replay_line_for(Nextest, "tests::races", 7, Strategy::Random),
            "replay: ASYNC_TESTKIT_SEED=7 ASYNC_TESTKIT_STRATEGY=random cargo nextest run -E 'test(=tests::races)'"
        );
        let schedule = Schedule::from_choices(vec![1, 0]);
        let token = schedule.to_token();
        assert_eq!(
            token_line_for(Cargo, "races", &schedule),
            format!("replay: ASYNC_TESTKIT_REPLAY={token} cargo test -- --exact races")
        );
        assert_eq!(
            token_line_for(Nextest, "races", &schedule),
            format!("replay: ASYNC_TESTKIT_REPLAY={token} cargo nextest run -E 'test(=races)'")
        );
    }

    #[test]
    fn trace_paths_are_file_names() {
        let p = chrome_trace_path("tests::a b/c");
        assert!(p.ends_with("async-testkit/tests__a_b_c.json"), "{}", p.display());
    }
}
