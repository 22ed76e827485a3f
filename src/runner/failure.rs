//! The failure report of a test's runs: what the failing run says, plus where it was
//! found, how far it was minimised, a traced replay of the minimal schedule (and a second
//! one that checks the run is deterministic), the Chrome trace file, and the replay line.

use std::future::Future;
use std::path::PathBuf;

use super::builder::Builder;
use super::env;
use super::minimise::{Minimiser, Replayed};
use crate::runtime::RunAttempt;
use crate::schedule::{Plan, Schedule, Strategy, preemptions};
use crate::{Failure, FailureKind};

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

/// `replay: ASYNC_TESTKIT_SEED=.. cargo test -- --exact name`.
pub(crate) fn replay_line(name: &str, seed: u64, strategy: Strategy) -> String {
    let strategy = match strategy {
        Strategy::Fifo => String::new(),
        other => format!("{}={other} ", env::STRATEGY),
    };
    format!(
        "replay: {}={seed} {strategy}cargo test -- --exact {name}",
        env::SEED
    )
}

/// `replay: ASYNC_TESTKIT_REPLAY=<token> cargo test -- --exact name`.
pub(crate) fn token_line(name: &str, schedule: &Schedule) -> String {
    format!(
        "replay: {}={} cargo test -- --exact {name}",
        env::REPLAY,
        schedule.to_token()
    )
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
            let line = token_line(&name, f.schedule());
            f.set_replay_line(&line);
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
