//! The bug corpus: every buggy program fails under exploration with the expected kind,
//! every fixed twin passes, and FIFO agrees with each program's `min_preemptions`.

// The crate root is tests/corpus.rs, so `mod corpus;` alone would be ambiguous.
#[path = "corpus/mod.rs"]
mod corpus;

use std::collections::BTreeSet;

use async_testkit::{Builder, Failure, FailureKind};
use corpus::Program;

/// Schedules per buggy exploration, and the seeds each is run with.
const BUGGY_BUDGET: u32 = 1000;
const BUGGY_SEEDS: std::ops::Range<u64> = 0..30;

/// Schedules per fixed twin in the default suite, and the seeds. One run costs about
/// 0.1 ms in a debug build here, so 10,000 schedules for several seeds of every twin
/// (about 15 s per seed) would blow the suite's ~20 s budget: the default suite runs
/// 2,000 schedules for 3 seeds (6,000 per twin), and the ignored test
/// `every_fixed_twin_passes_10_000_schedules` runs the full budget
/// (`cargo test --test corpus -- --ignored`).
const FIXED_BUDGET: u32 = 2_000;
const FIXED_SEEDS: [u64; 3] = [0, 1, 2];
const FULL_FIXED_BUDGET: u32 = 10_000;
const FULL_FIXED_SEEDS: [u64; 3] = [0, 1, 2];

/// Which schedule (1-based) of an exploration failed, from the report's seed line.
fn schedule_index(f: &Failure) -> u32 {
    let text = f.to_string();
    let at = text
        .find(", schedule ")
        .unwrap_or_else(|| panic!("no schedule number in the report:\n{text}"));
    text[at + ", schedule ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable schedule number in the report:\n{text}"))
}

fn explore(p: &Program, seed: u64, schedules: u32, fixed: bool) -> Result<(), Failure> {
    let body = if fixed { p.fixed } else { p.buggy };
    Builder::new()
        .name(p.name)
        .seed(seed)
        .explore(schedules)
        .try_run(body)
        .map(|_| ())
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

/// Random exploration finds every bug not marked `needs_pct`, for every seed, with the
/// right kind of failure. Prints the median schedule of first failure per program
/// (`cargo test --test corpus -- --nocapture`).
#[test]
fn random_exploration_finds_every_bug_not_marked_needs_pct() {
    for p in corpus::all().into_iter().filter(|p| !p.needs_pct) {
        let mut firsts = Vec::new();
        for seed in BUGGY_SEEDS {
            match explore(&p, seed, BUGGY_BUDGET, false) {
                Ok(()) => panic!(
                    "{}: {BUGGY_BUDGET} random schedules from seed {seed} did not find the bug",
                    p.name
                ),
                Err(f) => {
                    assert_eq!(f.kind(), p.fails_with, "{}, seed {seed}: {f}", p.name);
                    assert_symptom(&p, &f);
                    firsts.push(schedule_index(&f));
                }
            }
        }
        eprintln!(
            "{:<22} min_preemptions {:>2}  random: median first failure at schedule {} (max {})",
            p.name,
            p.min_preemptions,
            median(firsts.clone()),
            firsts.iter().max().unwrap()
        );
    }
}

/// The bugs marked `needs_pct` are left for PCT and the portfolio: random search within
/// the budget misses them for some seeds. This only reports how often it finds them (on
/// a few seeds, to keep the suite fast) and checks that what it finds is the bug.
#[test]
fn needs_pct_bugs_are_reported_not_required() {
    for p in corpus::all().into_iter().filter(|p| p.needs_pct) {
        let mut found = Vec::new();
        let seeds = 0..5u64;
        for seed in seeds.clone() {
            if let Err(f) = explore(&p, seed, BUGGY_BUDGET, false) {
                assert_eq!(f.kind(), p.fails_with, "{}, seed {seed}: {f}", p.name);
                assert_symptom(&p, &f);
                found.push(schedule_index(&f));
            }
        }
        eprintln!(
            "{:<22} min_preemptions {:>2}  random: found on {} of {} seeds within {BUGGY_BUDGET} (at schedules {found:?})",
            p.name,
            p.min_preemptions,
            found.len(),
            seeds.end - seeds.start
        );
    }
}

fn fixed_twins_pass(budget: u32, seeds: &[u64]) {
    for p in corpus::all() {
        for &seed in seeds {
            if let Err(f) = explore(&p, seed, budget, true) {
                panic!(
                    "{}: the fixed twin failed (seed {seed}, {budget} schedules):\n{f}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn every_fixed_twin_passes_exploration() {
    fixed_twins_pass(FIXED_BUDGET, &FIXED_SEEDS);
}

#[test]
#[ignore = "about a minute: the full 10,000 schedules for 3 seeds"]
fn every_fixed_twin_passes_10_000_schedules() {
    fixed_twins_pass(FULL_FIXED_BUDGET, &FULL_FIXED_SEEDS);
}
