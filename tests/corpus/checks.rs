//! The checks of a bug corpus, shared by every test target that runs one: the kit's own
//! (`tests/corpus.rs`, kit tasks) and async-testkit-tokio's (`tokio::spawn` through the
//! re-export). The including crate declares its corpus as a module `corpus` at its root,
//! with `all()` and `Program` (the kit corpus's type), and this file as a module beside it:
//!
//! ```ignore
//! #[path = "corpus/mod.rs"]
//! mod corpus;
//! #[path = "corpus/checks.rs"]
//! mod checks;
//! ```
//!
//! Each buggy program fails under exploration with the expected kind and symptom for 30
//! seeds within the default budget and is minimised to its `min_preemptions`, every fixed
//! twin passes ten times the budget, and FIFO agrees with each program's
//! `min_preemptions`.

use std::collections::BTreeSet;

use crate::corpus::{self, Program};
use async_testkit::{Builder, Failure, FailureKind, Report};

/// Schedules per buggy exploration (the default budget), and the seeds each is run with.
const BUGGY_BUDGET: u32 = async_testkit::DEFAULT_EXPLORE;
const BUGGY_SEEDS: std::ops::Range<u64> = 0..30;

/// Each fixed twin must pass ten times the default budget.
const FIXED_BUDGET: u32 = 10 * async_testkit::DEFAULT_EXPLORE;

/// Which schedule (1-based) of an exploration failed, from the report's line
/// `found on schedule i of n (strategy), ...`.
fn schedule_index(f: &Failure) -> u32 {
    let text = f.to_string();
    let at = text
        .find("found on schedule ")
        .unwrap_or_else(|| panic!("no schedule number in the report:\n{text}"));
    text[at + "found on schedule ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable schedule number in the report:\n{text}"))
}

fn explore(p: &Program, seed: u64, schedules: u32, fixed: bool) -> Result<Report<()>, Failure> {
    let body = if fixed { p.fixed } else { p.buggy };
    Builder::new()
        .name(p.name)
        .seed(seed)
        .explore(schedules)
        // 10,000 schedules take seconds; on a loaded machine, more than the default
        // 60 s wall limit, which is for hangs, not for slow machines.
        .timeout(std::time::Duration::from_secs(900))
        .try_run(body)
}

/// The failure is the bug: a panic whose first message carries the program's symptom
/// (`assert_eq!` puts it after "assertion `left == right` failed: ") (not an incidental panic such as a `RefCell` borrow), or a deadlock.
fn assert_symptom(p: &Program, f: &Failure) {
    match f.kind() {
        FailureKind::Panic => {
            let first = f.panic_messages().first().map(String::as_str).unwrap_or("");
            assert!(
                !p.symptom.is_empty() && first.contains(&format!("{}: ", p.symptom)),
                "{}: the first panic is not the bug's assertion ({:?}):\n{f}",
                p.name,
                p.symptom
            );
        }
        FailureKind::Deadlock => assert!(p.symptom.is_empty(), "{}: {f}", p.name),
        other => panic!("{}: unexpected failure kind {other}:\n{f}", p.name),
    }
}

fn median(mut v: Vec<u32>) -> u32 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn the_registry_has_at_least_14_programs_with_unique_names_and_notes() {
    let all = corpus::all();
    assert!(all.len() >= 14, "only {} programs", all.len());
    let names: BTreeSet<_> = all.iter().map(|p| p.name).collect();
    assert_eq!(names.len(), all.len(), "duplicate names");
    for p in &all {
        assert!(!p.note.is_empty(), "{} has no note", p.name);
        assert!(
            !p.needs_pct || p.min_preemptions > 1,
            "{}: a bug random search misses should need several preemptions",
            p.name
        );
    }
}

/// FIFO is the schedule with no preemptions: it fails exactly for the programs whose
/// `min_preemptions` is 0, and every fixed twin passes it.
#[test]
fn fifo_fails_exactly_the_programs_that_need_no_preemption() {
    for p in corpus::all() {
        let buggy = Builder::new().name(p.name).try_run(p.buggy);
        match (&buggy, p.min_preemptions) {
            (Err(f), 0) => {
                assert_eq!(f.kind(), p.fails_with, "{}: {f}", p.name);
                assert_symptom(&p, f);
            }
            (Ok(_), 0) => panic!("{}: min_preemptions is 0 but FIFO passes", p.name),
            (Err(f), n) => panic!("{}: min_preemptions is {n} but FIFO fails:\n{f}", p.name),
            (Ok(_), _) => {}
        }
        if let Err(f) = Builder::new().name(p.name).try_run(p.fixed) {
            panic!("{}: the fixed twin fails under FIFO:\n{f}", p.name);
        }
    }
}

/// Every bug is found by the default exploration (the portfolio) within the default
/// budget, for each of 30 seeds, with the bug's own failure; and the failing schedule is
/// minimised to exactly the fewest preemptions the bug needs (checked by exhaustive
/// search when the corpus was written). Prints per program the median schedule of the
/// first failure (`cargo test --test corpus -- --nocapture`).
fn found_and_minimised(programs: &[&str]) {
    for p in corpus::all().into_iter().filter(|p| programs.contains(&p.name)) {
        let mut firsts = Vec::new();
        let mut minimal = Vec::new();
        let started = std::time::Instant::now();
        for seed in BUGGY_SEEDS {
            let f = explore(&p, seed, BUGGY_BUDGET, false).err().unwrap_or_else(|| {
                panic!(
                    "{}: {BUGGY_BUDGET} schedules from seed {seed} missed the bug",
                    p.name
                )
            });
            assert_eq!(f.kind(), p.fails_with, "{}, seed {seed}: {f}", p.name);
            assert_symptom(&p, &f);
            firsts.push(schedule_index(&f));
            minimal.push(f.schedule().preemptions() as u32);
        }
        eprintln!(
            "{:<22} min_preemptions {:>2}  minimised to {:?}  first failure: median schedule {} (max {})  {:.1?}",
            p.name,
            p.min_preemptions,
            minimal.iter().collect::<BTreeSet<_>>(),
            median(firsts.clone()),
            firsts.iter().max().unwrap(),
            started.elapsed()
        );
        assert!(
            minimal.iter().all(|&m| m == p.min_preemptions),
            "{}: minimised to {minimal:?} preemptions, the bug needs {}",
            p.name,
            p.min_preemptions
        );
    }
}

fn fixed_twins_pass(programs: std::ops::Range<usize>) {
    for p in &corpus::all()[programs] {
        let started = std::time::Instant::now();
        let report = explore(p, 0, FIXED_BUDGET, true).unwrap_or_else(|f| {
            panic!(
                "{}: the fixed twin failed ({FIXED_BUDGET} schedules):\n{f}",
                p.name
            )
        });
        // Every task was the kit's to order: none ran on tokio unexplored.
        assert_eq!(
            report.tokio_tasks(),
            0,
            "{}: tasks scheduled by tokio, not explored:\n{report:?}",
            p.name
        );
        eprintln!(
            "{:<22} fixed twin passed {FIXED_BUDGET} schedules in {:.1?}",
            p.name,
            started.elapsed()
        );
    }
}

fn names(programs: std::ops::Range<usize>) -> Vec<&'static str> {
    corpus::all()[programs].iter().map(|p| p.name).collect()
}

// The corpus is split in halves so the two halves run in parallel.

#[test]
fn the_first_half_of_the_bugs_is_found_and_minimised() {
    found_and_minimised(&names(0..9));
}

#[test]
fn the_second_half_of_the_bugs_is_found_and_minimised() {
    found_and_minimised(&names(9..corpus::all().len()));
}

#[test]
fn the_first_half_of_the_fixed_twins_pass_ten_times_the_budget() {
    fixed_twins_pass(0..9);
}

#[test]
fn the_second_half_of_the_fixed_twins_pass_ten_times_the_budget() {
    fixed_twins_pass(9..corpus::all().len());
}
