//! The determinism contract: same code, same seed, same trace.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use async_testkit::{Builder, Strategy, spawn, task, yield_point};

/// Many tasks, timers (with ties), a mutex and channels. Returns the order of events.
async fn workload() -> Vec<(u32, u32)> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let lock = Arc::new(tokio::sync::Mutex::new(0u32));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u32, u32)>(8);
    let consumer = task::Builder::new().name("consumer").spawn({
        let log = log.clone();
        async move {
            while let Some(item) = rx.recv().await {
                log.borrow_mut().push(item);
            }
        }
    });
    let workers: Vec<_> = (0..16u32)
        .map(|w| {
            let (tx, lock) = (tx.clone(), lock.clone());
            spawn(async move {
                for i in 0..5u32 {
                    // Deadlines collide across workers: the order at ties is the scheduler's.
                    tokio::time::sleep(Duration::from_millis(u64::from((w * 7 + i * 3) % 5) * 10)).await;
                    *lock.lock().await += 1;
                    yield_point().await;
                    tx.send((w, i)).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for w in workers {
        w.await.unwrap();
    }
    consumer.await.unwrap();
    assert_eq!(*lock.lock().await, 80);
    log.take()
}

fn run(strategy: Strategy, seed: u64) -> (u64, u64, Vec<(u32, u32)>) {
    run_with(Builder::new(), strategy, seed)
}

fn run_with(b: Builder, strategy: Strategy, seed: u64) -> (u64, u64, Vec<(u32, u32)>) {
    let r = b.strategy(strategy).seed(seed).try_run(workload).unwrap();
    (r.trace_hash(), r.trace_events(), r.into_value())
}

/// Exploration runs schedules without tokio's I/O driver until one needs it: for a test
/// without sockets that must change nothing, event for event.
#[test]
fn the_io_driver_changes_nothing_in_a_run_without_sockets() {
    for seed in 0..20 {
        assert_eq!(
            run_with(Builder::new().io(true), Strategy::Random, seed),
            run_with(Builder::new().io(false), Strategy::Random, seed),
            "seed {seed}"
        );
    }
}

#[test]
fn two_hundred_runs_with_one_seed_give_one_trace() {
    for strategy in [Strategy::Fifo, Strategy::Random] {
        let first = run(strategy, 7);
        assert_eq!(first.2.len(), 80);
        for i in 1..200 {
            assert_eq!(run(strategy, 7), first, "{strategy} run {i} diverged from run 0");
        }
    }
}

#[test]
fn different_seeds_give_different_interleavings_where_order_is_free() {
    let runs: Vec<_> = (0..10).map(|seed| run(Strategy::Random, seed)).collect();
    let hashes: std::collections::BTreeSet<u64> = runs.iter().map(|r| r.0).collect();
    let orders: std::collections::BTreeSet<&Vec<(u32, u32)>> = runs.iter().map(|r| &r.2).collect();
    assert_eq!(hashes.len(), 10, "ten seeds should give ten different traces");
    assert!(
        orders.len() >= 9,
        "ten seeds gave only {} event orders",
        orders.len()
    );
    // The same events happen in every run; only their order differs.
    for r in &runs {
        let mut sorted = r.2.clone();
        sorted.sort();
        let mut first = runs[0].2.clone();
        first.sort();
        assert_eq!(sorted, first);
    }
}

/// Timers that fall due at the same instants but were set at different times, from
/// different levels of tokio's timer wheel (milliseconds to days), on a clock put off
/// the millisecond grid: the order of the ties is the wheel's.
async fn timer_ties_across_wheel_levels() -> Vec<usize> {
    // Half a millisecond: two runs' worth back to back land on the grid again.
    tokio::time::advance(Duration::from_micros(500)).await;
    let start = tokio::time::Instant::now();
    let log = Rc::new(RefCell::new(Vec::new()));
    let ms = Duration::from_millis;
    let deadlines = [
        ms(70),
        ms(5_000),
        ms(300_000),
        ms(4 * 3_600_000 + 1),
        ms(2 * 86_400_000 + 7),
    ];
    // For each deadline, one task sets its timer at once and others only shortly before.
    let leads = [None, Some(ms(1)), Some(ms(50)), Some(ms(3_000))];
    let mut tasks = Vec::new();
    for (d, &deadline) in deadlines.iter().enumerate() {
        for (l, &lead) in leads.iter().enumerate() {
            let log = log.clone();
            let due = start + deadline;
            tasks.push(spawn(async move {
                if let Some(lead) = lead.filter(|&lead| lead < deadline) {
                    tokio::time::sleep_until(due - lead).await;
                }
                tokio::time::sleep_until(due).await;
                log.borrow_mut().push(d * 10 + l);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    log.take()
}

/// An exploration runs schedule after schedule on one tokio runtime, moving its clock
/// on between them: each schedule must still run exactly as it does alone on a fresh
/// runtime, or a failure found there would not replay.
#[test]
fn a_schedule_run_after_others_on_a_kept_runtime_replays_alone_event_for_event() {
    for n in 2..=6 {
        let days = Duration::from_secs(3 * 24 * 3600);
        let explored = Builder::new()
            .virtual_timeout(days)
            .strategy(Strategy::Random)
            .seed(n)
            .explore(n as u32)
            .try_run(timer_ties_across_wheel_levels)
            .unwrap();
        let alone = Builder::new()
            .virtual_timeout(days)
            .replay(explored.schedule())
            .try_run(timer_ties_across_wheel_levels)
            .unwrap();
        assert_eq!(alone.value(), explored.value(), "schedule {n}");
        assert_eq!(alone.trace_hash(), explored.trace_hash(), "schedule {n}");
    }
}
