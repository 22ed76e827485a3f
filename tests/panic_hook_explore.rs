//! The panic hook in an exploration: passing schedules check it at their end at most once
//! a millisecond, so a replacement may be found some schedules after it happened. It is
//! still found and reported, and a schedule whose panic went to the other hook meanwhile
//! does not pass: the schedules the finding covers run again, checked at both ends.
//! One test only: the hook is the whole process's. Which schedules skip their check
//! depends on the machine's speed, so the assertions hold for every split.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};

use async_testkit::{Builder, FailureKind, Strategy};

mod support;
use support::line_of;

const SRC: &str = include_str!("panic_hook_explore.rs");

/// The exploration's warning, for the span `from..=at` (1-based) it names.
fn warning(from: u32, at: u32, rerun: &str) -> String {
    let span = if from == at {
        "here that one only".to_string()
    } else {
        format!("here schedules {from} to {at}")
    };
    format!(
        "panic hook: the process's panic hook was replaced during this exploration (std::panic::set_hook, by the \
         test or by a library such as an error-report crate) and found replaced at the end of schedule {at}; the \
         kit checks its hook between schedules at most once a millisecond, so one replacement may cover several \
         schedules ({span}), during which panics in tasks started with tokio::spawn or spawn_local and in \
         spawn_blocking closures may have gone to that hook unseen (kit tasks' panics were still caught).{rerun} \
         The kit has installed its hook again, in front of the new one, and checked it at every later \
         schedule's start and end: install panic hooks before the test's run starts and the kit passes on to \
         them what it does not take"
    )
}

/// The span `(from, at)` a warning names.
fn span(text: &str) -> (u32, u32) {
    let number = |after: &str| -> u32 {
        let rest = &text[text
            .find(after)
            .unwrap_or_else(|| panic!("no {after:?} in {text}"))
            + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let at = number("found replaced at the end of schedule ");
    let from = if text.contains("(here that one only)") {
        at
    } else {
        number("(here schedules ")
    };
    (from, at)
}

/// 200 schedules, the random strategy.
fn explore() -> Builder {
    Builder::new().strategy(Strategy::Random).explore(200)
}

#[test]
fn a_hook_replaced_in_an_exploration_is_found_and_its_schedules_run_again() {
    // Schedule 31 (index 30) replaces the hook; no panic anywhere: the exploration passes
    // and says which schedules the replacement may cover, schedule 31 among them.
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let r = explore()
        .try_run(|| async {
            if RUNS.fetch_add(1, SeqCst) == 30 {
                std::panic::set_hook(Box::new(|_| {}));
            }
            let a = async_testkit::spawn(async { tokio::task::yield_now().await });
            a.await.unwrap();
        })
        .unwrap();
    assert_eq!(r.schedules(), 200);
    let [w] = r.warnings() else {
        panic!("one warning expected: {:?}", r.warnings())
    };
    let (from, at) = span(w);
    assert!(from <= 31 && 31 <= at, "{w}");
    let rerun = if from == at {
        ""
    } else {
        " Those schedules ran again, each with the hook checked at its start and end, and passed."
    };
    assert_eq!(*w, warning(from, at, rerun));
    // Every schedule ran once, but those the finding covered (other than the one that
    // replaced the hook, whose check may have found it itself) ran twice.
    let reruns = if from == at { 0 } else { at - from + 1 };
    assert_eq!(RUNS.load(SeqCst), 200 + reruns);

    // From schedule 11 (index 10) on, the hook is another's and each schedule's task
    // started with spawn_local panics (it reaches the kit only through its hook, and runs
    // in no tokio turn, so only a check at a run's start or end puts the kit's hook back
    // in front of it). Schedules that skipped their check passed while the panic went to
    // the other hook; found later, they run again, and the exploration fails.
    static SWAPPED: AtomicBool = AtomicBool::new(false);
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let line = line_of(SRC, "after-the-swap");
    let f = explore()
        .try_run(|| async {
            if STARTED.fetch_add(1, SeqCst) == 10 {
                std::panic::set_hook(Box::new(|_| {}));
                SWAPPED.store(true, SeqCst);
                return;
            }
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async {
                    let t = tokio::task::spawn_local(async {
                        assert!(!SWAPPED.load(SeqCst), "after the swap"); // after-the-swap
                    });
                    let _ = t.await;
                })
                .await;
        })
        .unwrap_err();
    // The test's own assertions print through the default hook.
    drop(std::panic::take_hook());
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert_eq!(
        f.headline(),
        format!(
            "a task started with tokio::task::spawn_local panicked at tests/panic_hook_explore.rs:{line}:25: \
             after the swap"
        )
    );
    let text = f.to_string();
    let note = text
        .lines()
        .find(|l| l.contains("panic hook: the process's panic hook was replaced during this exploration"))
        .unwrap_or_else(|| panic!("no note of the replacement:\n{text}"));
    let (from, at) = span(note);
    assert!(from <= 11 && 11 <= at, "{note}");
    // Either the schedules after the swap skipped their checks (and one of them failed
    // when run again), or the swap's own schedule checked and found it at once (and the
    // next schedule, with the kit's hook back in front, failed on its first run).
    let failed = text
        .lines()
        .find_map(|l| l.strip_prefix("found on schedule "))
        .and_then(|l| l.split(' ').next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no schedule found:\n{text}"));
    let rerun = if from == at {
        assert_eq!((at, failed), (11, 12), "{text}");
        String::new()
    } else {
        // The first of them to run again fails (with the kit's hook in front, every
        // schedule after the swap panics where the other hook took it).
        assert!(from <= failed && failed <= at, "{text}");
        format!(
            " Those schedules ran again, each with the hook checked at its start and end: schedule {failed} failed \
             (it had passed while the hook was not the kit's)."
        )
    };
    assert!(note.ends_with(&warning(from, at, &rerun)), "{note}");

    // The exploration's last schedule replaces the hook: a DFS search that runs out
    // before its budget has no schedule known to be its last in advance, so that one
    // may skip its check too, and the exploration checks once more at its end.
    static DFS_RUNS: AtomicU32 = AtomicU32::new(0);
    static LAST: AtomicU32 = AtomicU32::new(u32::MAX);
    let dfs = || {
        Builder::new()
            .strategy(Strategy::Dfs { max_preemptions: 1 })
            .explore(1000)
            .try_run(|| async {
                if DFS_RUNS.fetch_add(1, SeqCst) == LAST.load(SeqCst) {
                    std::panic::set_hook(Box::new(|_| {}));
                }
                let a = async_testkit::spawn(async { tokio::task::yield_now().await });
                let b = async_testkit::spawn(async { tokio::task::yield_now().await });
                a.await.unwrap();
                b.await.unwrap();
            })
            .unwrap()
    };
    let schedules = dfs().schedules();
    assert!(schedules > 1 && schedules < 1000, "{schedules}");
    DFS_RUNS.store(0, SeqCst);
    LAST.store(schedules - 1, SeqCst);
    let r = dfs();
    drop(std::panic::take_hook());
    assert_eq!(r.schedules(), schedules);
    let [w] = r.warnings() else {
        panic!("one warning expected: {:?}", r.warnings())
    };
    // The last schedule's own check found it (a slow machine: over a millisecond since
    // the check before): its report warns as a single run's does.
    if w.contains("replaced during this run") {
        assert!(w.starts_with("panic hook: the process's panic hook was replaced during this run (std"));
        return;
    }
    let (from, at) = span(w);
    assert_eq!(at, schedules, "{w}");
    let rerun = if from == at {
        ""
    } else {
        " Those schedules ran again, each with the hook checked at its start and end, and passed."
    };
    assert_eq!(*w, warning(from, at, rerun));
}
