//! Runtime benchmarks: the kit's executor against a bare tokio paused current-thread
//! runtime with the same drivers, measured side by side in one process.
//!
//! Run with `cargo bench --bench runtime` (add `-- --quick` for a fast smoke run,
//! `-- --rounds 21` for more rounds, `-- tasks` to run only the cases whose name contains
//! `tasks`). Each case alternates kit and tokio runs and reports medians over the rounds;
//! `-- --side kit` (or `tokio`) runs one side only, for callgrind.

use std::hint::black_box;
use std::time::{Duration, Instant};

fn tokio_rt(io: bool) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_current_thread();
    b.enable_time().start_paused(true);
    if io {
        b.enable_io();
    }
    b.build().unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `kit` and `tokio` alternately `rounds` times; returns (kit median, tokio median).
/// With `--side kit` or `--side tokio` only that side runs (the other's median is zero):
/// for callgrind, one side a process.
fn side_by_side(
    rounds: usize,
    mut kit: impl FnMut() -> Duration,
    mut tokio: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let side = std::env::args().skip_while(|a| a != "--side").nth(1);
    let (mut a, mut b) = (vec![Duration::ZERO], vec![Duration::ZERO]);
    for _ in 0..rounds {
        if side.as_deref() != Some("tokio") {
            a.push(kit());
        }
        if side.as_deref() != Some("kit") {
            b.push(tokio());
        }
    }
    if a.len() > 1 {
        a.remove(0);
    }
    if b.len() > 1 {
        b.remove(0);
    }
    (median(a), median(b))
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let t = Instant::now();
    black_box(f());
    t.elapsed()
}

async fn yields(n: u32) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

async fn sequential_sleeps(n: u32) {
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A deterministic list of durations up to an hour.
fn durations(n: usize) -> Vec<Duration> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(x % 3_600_000)
        })
        .collect()
}

/// Two tasks taking turns on a `tokio::sync::Mutex` ten times each, holding it across a
/// yield: the body of `benches/compare`'s schedules/s table. `spawn` is the kit's or
/// tokio's (spawned tasks are joined by the body either way).
async fn lock_steps<H, F>(spawn: impl Fn(std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) -> H)
where
    H: std::future::Future<Output = F>,
{
    let m = std::rc::Rc::new(tokio::sync::Mutex::new(0u32));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            spawn(Box::pin(async move {
                for _ in 0..10 {
                    let mut g = m.lock().await;
                    tokio::task::yield_now().await;
                    *g += 1;
                }
            }))
        })
        .collect();
    for h in handles {
        h.await;
    }
    assert_eq!(*m.lock().await, 20);
}

/// Wall time per schedule of an exploration of [`lock_steps`].
fn explore_lock_steps(schedules: u32) -> Duration {
    let explore = async_testkit::Builder::new()
        .strategy(async_testkit::Strategy::Random)
        .explore(schedules);
    time(|| explore.run(|| lock_steps(async_testkit::spawn))) / schedules
}

/// Wall time per run of [`lock_steps`] on one bare tokio runtime, each run in a fresh
/// `LocalSet` (the tasks are not `Send`).
fn tokio_lock_steps(runs: u32) -> Duration {
    let rt = tokio_rt(false);
    time(|| {
        for _ in 0..runs {
            tokio::task::LocalSet::new().block_on(&rt, lock_steps(tokio::task::spawn_local));
        }
    }) / runs
}

fn report(name: &str, kit: Duration, tokio: Duration) {
    println!(
        "{name:<48} kit {:>10.3?}   tokio {:>10.3?}   ratio {:.2}x",
        kit,
        tokio,
        kit.as_secs_f64() / tokio.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(if quick { 3 } else { 7 });
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with("--") && (*i == 0 || !["--rounds", "--side"].contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a.clone());
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let sleeps = if quick { 100_000 } else { 1_000_000 };
    let tasks = if quick { 2_000 } else { 10_000 };
    let empties = if quick { 200 } else { 2_000 };

    // One exploration's schedules, per schedule, against the same body run as often on one
    // bare tokio runtime (in a LocalSet, as kit tasks need not be Send): the kit's fixed
    // cost of a schedule. For callgrind: `-- --rounds 1 exploration`.
    let schedules = if quick { 500 } else { 5_000 };
    let name = format!("exploration, {schedules} schedules of 2x10 lock steps, per schedule");
    if wanted(&name) {
        let (k, t) = side_by_side(
            rounds,
            || explore_lock_steps(schedules),
            || tokio_lock_steps(schedules),
        );
        report(&name, k, t);
    }

    for io in [true, false] {
        let drivers = if io { "time+io" } else { "time" };
        let name = format!("{sleeps} sequential sleep(1ms), {drivers}");
        if wanted(&name) {
            let (k, t) = side_by_side(
                rounds,
                || {
                    time(|| {
                        async_testkit::Builder::new()
                            .io(io)
                            .run(|| sequential_sleeps(sleeps))
                    })
                },
                || time(|| tokio_rt(io).block_on(sequential_sleeps(sleeps))),
            );
            report(&name, k, t);
        }

        // Each yield turns tokio's drivers before the task goes on, under tokio and (since
        // a yield turns the I/O driver) under the kit.
        let name = format!("{sleeps} yield_now in one task, {drivers}");
        if wanted(&name) {
            let (k, t) = side_by_side(
                rounds,
                || time(|| async_testkit::Builder::new().io(io).run(|| yields(sleeps))),
                || time(|| tokio_rt(io).block_on(yields(sleeps))),
            );
            report(&name, k, t);
        }

        let name = format!("{tasks} tasks sleeping up to 1h, {drivers}");
        if wanted(&name) {
            let ds = durations(tasks);
            let (k, t) = side_by_side(
                rounds,
                || {
                    let ds = ds.clone();
                    time(|| {
                        async_testkit::Builder::new().io(io).run(move || {
                            let ds = ds.clone();
                            async move {
                                let hs: Vec<_> = ds
                                    .into_iter()
                                    .map(|d| async_testkit::spawn(tokio::time::sleep(d)))
                                    .collect();
                                for h in hs {
                                    h.await.unwrap();
                                }
                            }
                        })
                    })
                },
                || {
                    let ds = ds.clone();
                    time(|| {
                        tokio_rt(io).block_on(async move {
                            let hs: Vec<_> = ds
                                .into_iter()
                                .map(|d| tokio::spawn(tokio::time::sleep(d)))
                                .collect();
                            for h in hs {
                                h.await.unwrap();
                            }
                        })
                    })
                },
            );
            report(&name, k, t);
        }

        let name = format!("empty test, per run, {drivers}");
        if !wanted(&name) {
            continue;
        }
        let (k, t) = side_by_side(
            rounds,
            || {
                time(|| {
                    for _ in 0..empties {
                        async_testkit::Builder::new().io(io).run(|| async {})
                    }
                }) / empties
            },
            || {
                time(|| {
                    for _ in 0..empties {
                        tokio_rt(io).block_on(async {})
                    }
                }) / empties
            },
        );
        report(&name, k, t);
        println!(
            "{:<48} {:.1} µs",
            format!("  kit overhead per run, {drivers}"),
            (k.as_secs_f64() - t.as_secs_f64()) * 1e6
        );
    }
}
