//! async-testkit against shuttle, side by side in one process.
//!
//! 1. Schedules per second on one correct test (2 tasks x 10 lock/increment/unlock steps).
//! 2. Schedules to the first bug, per corpus program, median over 30 seeds.
//! 3. The kit's time to find and minimise each corpus failure.
//!
//! `cargo run --release --manifest-path benches/compare/Cargo.toml [-- --quick]`; the tables
//! go to stdout (shuttle prints a few lines to stderr for every failure it finds).

// The kit's corpus, shared with its tests: not copied.
#[path = "../../../tests/corpus/mod.rs"]
mod corpus;
mod shuttle_corpus;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_testkit::{Builder, Failure, FailureKind, Strategy};
use shuttle::scheduler::{PctScheduler, RandomScheduler, Scheduler, UrwRandomScheduler};
use shuttle::{Config, FailurePersistence, Runner};

struct Settings {
    /// Schedules per timed exploration in measurement 1.
    schedules: usize,
    /// Timed rounds (alternating kit and shuttle) in measurement 1.
    rounds: usize,
    /// Seeds per program in measurement 2.
    seeds: u64,
    /// The most schedules either tool may spend on one seed in measurement 2.
    budget: usize,
    /// Schedules per shuttle configuration for each fixed twin (the port check).
    fixed_schedules: usize,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let s = if quick {
        Settings {
            schedules: 200,
            rounds: 3,
            seeds: 5,
            budget: 1000,
            fixed_schedules: 100,
        }
    } else {
        Settings {
            schedules: 5000,
            rounds: 7,
            seeds: 30,
            budget: 10_000,
            fixed_schedules: 1000,
        }
    };
    // `--schedules N`, `--rounds N`: override measurement 1's sizes (a run under callgrind
    // takes two sizes and subtracts, for the instructions of one schedule).
    let number = |flag: &str| {
        let args: Vec<String> = std::env::args().collect();
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse::<usize>().ok()
    };
    let s = Settings {
        schedules: number("--schedules").unwrap_or(s.schedules),
        rounds: number("--rounds").unwrap_or(s.rounds),
        ..s
    };
    // Failures are expected by the thousand: keep panic messages off the terminal (both
    // tools chain to this hook; shuttle still prints its own lines to stderr).
    std::panic::set_hook(Box::new(|_| {}));

    println!(
        "# async-testkit vs shuttle 0.9 ({} mode)\n",
        if quick { "quick" } else { "full" }
    );
    let only = |part: &str| {
        let parts: Vec<String> = std::env::args().filter(|a| a.starts_with("--part")).collect();
        parts.is_empty() || parts.iter().any(|a| a == part)
    };
    // The hook above is silent, so a panic of this harness itself is printed here.
    let run = catch_unwind(|| {
        if only("--part1") {
            throughput(&s);
        }
        if only("--part2") || only("--part3") {
            let kit = first_bug(&s);
            minimisation(&s, &kit);
        }
        if only("--part4") {
            fixed_twins(&s);
        }
    });
    if let Err(payload) = run {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        eprintln!("async-testkit-compare failed: {msg}");
        std::process::exit(1);
    }
}

fn median<T: Ord + Copy>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

fn shuttle_config() -> Config {
    let mut c = Config::new();
    c.failure_persistence = FailurePersistence::None;
    c.silence_warnings = true;
    c
}

// ---------------------------------------------------------------------------------------
// 1. Schedules per second
// ---------------------------------------------------------------------------------------

const TASKS: usize = 2;
const STEPS: u32 = 10;

/// The body of the counter test, its tasks started with `$spawn`: an async mutex held
/// across an await (a yield point) while incrementing, or with no await while held.
macro_rules! counter {
    ($spawn:path, $hold_across_yield:expr) => {{
        let hold_across_yield: bool = $hold_across_yield;
        let m = std::sync::Arc::new(tokio::sync::Mutex::new(0u32));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                $spawn(async move {
                    for _ in 0..STEPS {
                        let mut g = m.lock().await;
                        if hold_across_yield {
                            async_testkit::yield_point().await;
                        }
                        *g += 1;
                        drop(g);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().await, TASKS as u32 * STEPS);
    }};
}

/// The kit's test, with kit tasks.
async fn kit_counter(hold_across_yield: bool) {
    counter!(async_testkit::spawn, hold_across_yield)
}

/// The kit's tests once more, as code under test writes them: tasks started with
/// `tokio::spawn` through async-testkit-tokio (its `explore` feature makes them kit tasks
/// inside a run), so their futures are `Send`.
mod through_reexport {
    use async_testkit_tokio as tokio;

    use super::{STEPS, TASKS};

    /// [`super::kit_counter`] with `tokio::spawn`.
    pub async fn counter(hold_across_yield: bool) {
        counter!(tokio::spawn, hold_across_yield)
    }

    /// [`super::kit_empty`] with `tokio::spawn`.
    pub async fn empty() {
        let handles: Vec<_> = (0..TASKS).map(|_| tokio::spawn(async {})).collect();
        for h in handles {
            h.await.unwrap();
        }
    }
}

/// Shuttle's equivalent: shuttle has no async mutex, so the lock is a fair one-permit
/// batch semaphore (what tokio's `Mutex` is built on), held across `yield_now`.
fn shuttle_counter_async() {
    shuttle::future::block_on(async {
        let m = Rc::new(shuttle_corpus::AsyncMutex::new(0u32));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                shuttle::future::spawn_local(async move {
                    for _ in 0..STEPS {
                        let g = m.lock().await;
                        shuttle::future::yield_now().await;
                        g.with(|v| *v += 1);
                        drop(g);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(m.lock().await.with(|v| *v), TASKS as u32 * STEPS);
    })
}

/// Shuttle's blocking-style `shuttle::sync::Mutex`, locked and unlocked with no await in
/// between (every `lock` is a scheduling point of shuttle's).
fn shuttle_counter_sync() {
    shuttle::future::block_on(async {
        let m = shuttle::sync::Arc::new(shuttle::sync::Mutex::new(0u32));
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                shuttle::future::spawn(async move {
                    for _ in 0..STEPS {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(*m.lock().unwrap(), TASKS as u32 * STEPS);
    })
}

/// The per-schedule floor: two tasks that do nothing, spawned and joined.
async fn kit_empty() {
    let handles: Vec<_> = (0..TASKS).map(|_| async_testkit::spawn(async {})).collect();
    for h in handles {
        h.await.unwrap();
    }
}

fn shuttle_empty() {
    shuttle::future::block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| shuttle::future::spawn_local(async {}))
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    })
}

/// The kit's default builder: no I/O driver until a schedule needs one (this test never
/// does), one runtime kept across the exploration's schedules.
fn time_kit(strategy: Strategy, n: usize, seed: u64, hold: bool) -> (Duration, usize) {
    time_kit_with(Builder::new(), strategy, n, seed, hold)
}

fn time_kit_with(b: Builder, strategy: Strategy, n: usize, seed: u64, hold: bool) -> (Duration, usize) {
    time_kit_body(b, strategy, n, seed, move || kit_counter(hold))
}

/// The counter test, its tasks started with `tokio::spawn` through the re-export.
fn time_kit_tokio_spawn(strategy: Strategy, n: usize, seed: u64, hold: bool) -> (Duration, usize) {
    time_kit_body(Builder::new(), strategy, n, seed, move || {
        through_reexport::counter(hold)
    })
}

fn time_kit_body<F: Future<Output = ()> + 'static>(
    b: Builder,
    strategy: Strategy,
    n: usize,
    seed: u64,
    body: impl Fn() -> F,
) -> (Duration, usize) {
    let t = Instant::now();
    let r = b
        .strategy(strategy)
        .seed(seed)
        .explore(n as u32)
        .try_run(body)
        .unwrap_or_else(|f| panic!("the counter test failed under the kit:\n{f}"));
    let took = t.elapsed();
    assert_eq!(r.schedules() as usize, n);
    (took, r.polls() as usize)
}

fn time_shuttle(scheduler: impl Scheduler + 'static, n: usize, body: fn()) -> Duration {
    let t = Instant::now();
    let ran = Runner::new(scheduler, shuttle_config()).run(body);
    let took = t.elapsed();
    assert_eq!(ran, n);
    took
}

fn throughput(s: &Settings) {
    let n = s.schedules;
    type Case<'a> = (&'a str, Box<dyn Fn(u64) -> Duration>);
    let cases: Vec<Case> = vec![
        (
            "kit, Random (tokio Mutex held across yield_point)",
            Box::new(move |seed| time_kit(Strategy::Random, n, seed, true).0),
        ),
        (
            "kit, Portfolio (tokio Mutex held across yield_point)",
            Box::new(move |seed| time_kit(Strategy::Portfolio, n, seed, true).0),
        ),
        (
            "shuttle, check_random (batch-semaphore lock held across yield_now)",
            Box::new(move |seed| {
                time_shuttle(RandomScheduler::new_from_seed(seed, n), n, shuttle_counter_async)
            }),
        ),
        (
            "shuttle, check_pct depth 3 (batch-semaphore lock held across yield_now)",
            Box::new(move |seed| {
                time_shuttle(PctScheduler::new_from_seed(seed, 3, n), n, shuttle_counter_async)
            }),
        ),
        (
            "kit, Random (tokio Mutex, no await while held)",
            Box::new(move |seed| time_kit(Strategy::Random, n, seed, false).0),
        ),
        (
            "shuttle, check_random (shuttle::sync::Mutex, no await while held)",
            Box::new(move |seed| {
                time_shuttle(RandomScheduler::new_from_seed(seed, n), n, shuttle_counter_sync)
            }),
        ),
        (
            "shuttle, check_pct depth 3 (shuttle::sync::Mutex, no await while held)",
            Box::new(move |seed| {
                time_shuttle(PctScheduler::new_from_seed(seed, 3, n), n, shuttle_counter_sync)
            }),
        ),
        (
            "floor: kit, Random (2 empty tasks spawned and joined)",
            Box::new(move |seed| {
                let t = Instant::now();
                let r = Builder::new()
                    .strategy(Strategy::Random)
                    .seed(seed)
                    .explore(n as u32)
                    .try_run(kit_empty)
                    .unwrap_or_else(|f| panic!("the empty test failed under the kit:\n{f}"));
                assert_eq!(r.schedules() as usize, n);
                t.elapsed()
            }),
        ),
        (
            "floor: shuttle, check_random (2 empty tasks spawned and joined)",
            Box::new(move |seed| time_shuttle(RandomScheduler::new_from_seed(seed, n), n, shuttle_empty)),
        ),
        (
            "kit, Random, `.io(true)` (tokio Mutex held across yield_point)",
            Box::new(move |seed| time_kit_with(Builder::new().io(true), Strategy::Random, n, seed, true).0),
        ),
        (
            "floor: kit, Random, `.io(true)` (2 empty tasks spawned and joined)",
            Box::new(move |seed| {
                let t = Instant::now();
                let r = Builder::new()
                    .io(true)
                    .strategy(Strategy::Random)
                    .seed(seed)
                    .explore(n as u32)
                    .try_run(kit_empty)
                    .unwrap_or_else(|f| panic!("the empty test failed under the kit:\n{f}"));
                assert_eq!(r.schedules() as usize, n);
                t.elapsed()
            }),
        ),
        (
            "kit, Random, tokio::spawn via async-testkit-tokio (tokio Mutex held across yield_point)",
            Box::new(move |seed| time_kit_tokio_spawn(Strategy::Random, n, seed, true).0),
        ),
        (
            "kit, Portfolio, tokio::spawn via async-testkit-tokio (tokio Mutex held across yield_point)",
            Box::new(move |seed| time_kit_tokio_spawn(Strategy::Portfolio, n, seed, true).0),
        ),
        (
            "kit, Random, tokio::spawn via async-testkit-tokio (tokio Mutex, no await while held)",
            Box::new(move |seed| time_kit_tokio_spawn(Strategy::Random, n, seed, false).0),
        ),
        (
            "floor: kit, Random, tokio::spawn via async-testkit-tokio (2 empty tasks spawned and joined)",
            Box::new(move |seed| {
                time_kit_body(Builder::new(), Strategy::Random, n, seed, through_reexport::empty).0
            }),
        ),
    ];
    // `--only TEXT`: only the cases whose name contains TEXT (for callgrind, one case a run).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let selected = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    // Rounds alternate over every case, so load from other work on the machine spreads
    // over all of them.
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..s.rounds {
        for (i, (name, f)) in cases.iter().enumerate() {
            if selected(name) {
                times[i].push(f(round as u64));
            }
        }
    }
    if only.is_some() {
        for (i, (name, _)) in cases.iter().enumerate() {
            if selected(name) {
                println!("{name}: median {:.1?} for {n} schedules", median(&times[i]));
            }
        }
        return;
    }
    let (_, kit_polls_held) = time_kit(Strategy::Random, 2, 0, true);
    let (_, kit_polls_free) = time_kit(Strategy::Random, 2, 0, false);

    println!(
        "## 1. Schedules per second: {TASKS} tasks x {STEPS} lock/increment/unlock steps\n\n\
         {n} schedules per exploration, median of {} rounds (cases alternate within each round).\n",
        s.rounds
    );
    println!("| tool, strategy (lock) | median time for {n} | schedules/s |");
    println!("| --- | ---: | ---: |");
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let mut rates = Vec::new();
    for (i, (name, _)) in cases.iter().enumerate() {
        let m = median(&times[i]);
        rates.push(rate(m));
        println!("| {name} | {:.1?} | {:.0} |", m, rate(m));
    }
    println!(
        "\nKit task polls per schedule: {kit_polls_held} with the lock held across \
         yield_point, {kit_polls_free} without (an uncontended tokio lock is not an await that \
         suspends, so each task runs its 10 steps in one poll).\n\
         Ratio kit Random / shuttle random, lock held across a yield: {:.2}x; kit Portfolio / \
         shuttle PCT 3: {:.2}x; no await while held: {:.2}x; floor (empty tasks): {:.2}x. With tokio's I/O driver on from the \
         start (`Builder::io(true)`, as a test with sockets runs): {:.2}x with the lock held, {:.2}x floor.\n",
        rates[0] / rates[2],
        rates[1] / rates[3],
        rates[4] / rates[5],
        rates[7] / rates[8],
        rates[9] / rates[2],
        rates[10] / rates[8],
    );
    println!(
        "Tasks started with `tokio::spawn` through async-testkit-tokio (feature `explore`), \
         against shuttle: {:.2}x its random scheduler with the lock held across a yield; \
         portfolio / PCT 3: {:.2}x; no await while held: {:.2}x; floor: {:.2}x. Against the \
         kit's own `spawn` in the same shapes: {:.2}x, {:.2}x, {:.2}x, {:.2}x.\n",
        rates[11] / rates[2],
        rates[12] / rates[3],
        rates[13] / rates[5],
        rates[14] / rates[8],
        rates[11] / rates[0],
        rates[12] / rates[1],
        rates[13] / rates[4],
        rates[14] / rates[7],
    );
}

// ---------------------------------------------------------------------------------------
// 2. Schedules to the first bug
// ---------------------------------------------------------------------------------------

/// The kit's result for one program and seed.
struct KitRun {
    /// 1-based index of the failing schedule.
    found_at: usize,
    /// Wall time of the whole failing exploration (find, minimise, two replays).
    total: Duration,
    /// Wall time of exploring the schedules before the failing one.
    before: Duration,
    replays: usize,
    preemptions: usize,
}

/// Reads a number that follows `prefix` in the failure's report.
fn number_after(f: &Failure, prefix: &str) -> usize {
    let text = f.to_string();
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in the report:\n{text}"));
    text[at + prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable number after {prefix:?} in:\n{text}"))
}

fn is_the_bug(p: &corpus::Program, f: &Failure) -> bool {
    match f.kind() {
        FailureKind::Panic => f
            .panic_messages()
            .first()
            .is_some_and(|m| !p.symptom.is_empty() && m.contains(&format!("{}: ", p.symptom))),
        FailureKind::Deadlock => p.symptom.is_empty(),
        _ => false,
    }
}

fn kit_run(p: &corpus::Program, seed: u64, budget: usize) -> Option<KitRun> {
    let t = Instant::now();
    let r = Builder::new()
        .name(p.name)
        .seed(seed)
        .explore(budget as u32)
        .try_run(p.buggy);
    let total = t.elapsed();
    let f = r.err()?;
    assert!(
        is_the_bug(p, &f),
        "{}: the kit failed with something other than the bug:\n{f}",
        p.name
    );
    let found_at = number_after(&f, "found on schedule ");
    let replays = number_after(&f, ") in ");
    // The same exploration stopped just before the failing schedule: its time is the
    // time to find the bug, less one run. (explore(1) is a single FIFO run.)
    let t = Instant::now();
    let _ = Builder::new()
        .name(p.name)
        .seed(seed)
        .explore((found_at as u32 - 1).max(1))
        .try_run(p.buggy);
    let before = t.elapsed();
    Some(KitRun {
        found_at,
        total,
        before,
        replays,
        preemptions: f.schedule().preemptions(),
    })
}

/// Runs a shuttle port under `scheduler` until its first failure; returns the 1-based
/// iteration that failed (None: not within the scheduler's budget) and whether the
/// failure was the bug.
fn shuttle_run(
    p: &corpus::Program,
    body: fn(),
    scheduler: impl Scheduler + 'static,
) -> (Option<usize>, bool) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let run = catch_unwind(AssertUnwindSafe(|| {
        Runner::new(scheduler, shuttle_config()).run(move || {
            c.fetch_add(1, Ordering::Relaxed);
            body()
        })
    }));
    match run {
        Ok(_) => (None, true),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let bug = if p.symptom.is_empty() {
                msg.contains("deadlock")
            } else {
                msg.contains(&format!("{}: ", p.symptom))
            };
            (Some(count.load(Ordering::Relaxed)), bug)
        }
    }
}

/// "median (found/seeds)" where a seed that misses counts as more than the budget.
fn summary(found: &[Option<usize>], budget: usize) -> (Option<usize>, String) {
    let mut v: Vec<usize> = found.iter().map(|f| f.unwrap_or(usize::MAX)).collect();
    v.sort_unstable();
    let m = v[v.len() / 2];
    let hits = found.iter().filter(|f| f.is_some()).count();
    let med = (m != usize::MAX).then_some(m);
    let text = match med {
        Some(m) => format!("{m}"),
        None => format!(">{budget}"),
    };
    if hits == found.len() {
        (med, text)
    } else {
        (med, format!("{text} ({hits}/{})", found.len()))
    }
}

/// Shuttle's schedulers, each run with both stand-ins for `yield_point` (`y`: yield_now,
/// `s`: a plain scheduling point; see `shuttle_corpus::use_switch_points`).
const SHUTTLE_SCHEDULERS: [&str; 5] = ["random", "pct1", "pct2", "pct3", "urw"];
const STYLES: [(&str, bool); 2] = [("yield_now", false), ("switch point", true)];

/// Runs one port under the shuttle scheduler called `name`, seeded with `seed`.
fn shuttle_named(
    name: &str,
    seed: u64,
    budget: usize,
    p: &corpus::Program,
    body: fn(),
) -> (Option<usize>, bool) {
    match name {
        "random" => shuttle_run(p, body, RandomScheduler::new_from_seed(seed, budget)),
        "urw" => shuttle_run(p, body, UrwRandomScheduler::new_from_seed(seed, budget)),
        pct => {
            let depth = pct[3..].parse().expect("pct1, pct2 or pct3");
            shuttle_run(p, body, PctScheduler::new_from_seed(seed, depth, budget))
        }
    }
}

fn first_bug(s: &Settings) -> Vec<(&'static str, Vec<KitRun>)> {
    let programs = corpus::all();
    let ports = shuttle_corpus::all();
    let mut kit_all = Vec::new();
    // Per program: (name, min preemptions, kit summary, per (style, scheduler) summary).
    type Row = (
        &'static str,
        u32,
        (Option<usize>, String),
        Option<Vec<(Option<usize>, String)>>,
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut notes = Vec::new();
    for (p, port) in programs.iter().zip(&ports) {
        assert_eq!(p.name, port.name, "the ports follow the corpus's order");
        let mut kit = Vec::new();
        let mut shuttle: Vec<Vec<Option<usize>>> = vec![Vec::new(); STYLES.len() * SHUTTLE_SCHEDULERS.len()];
        let mut wrong = Vec::new();
        for seed in 0..s.seeds {
            kit.push(kit_run(p, seed, s.budget));
            if let Ok(body) = port.body {
                for (j, (style, switch)) in STYLES.iter().enumerate() {
                    if *switch && !port.switch_ok {
                        continue;
                    }
                    shuttle_corpus::use_switch_points(*switch);
                    for (i, name) in SHUTTLE_SCHEDULERS.iter().enumerate() {
                        let (at, bug) = shuttle_named(name, seed, s.budget, p, body);
                        if !bug {
                            wrong.push(format!("{name} ({style}) seed {seed}"));
                        }
                        shuttle[j * SHUTTLE_SCHEDULERS.len() + i].push(at.filter(|_| bug));
                    }
                }
                shuttle_corpus::use_switch_points(false);
            }
        }
        if !wrong.is_empty() {
            notes.push(format!(
                "- `{}`: shuttle failed with something other than the bug for {} (counted as a miss).",
                p.name,
                wrong.join(", ")
            ));
        }
        let kit_found: Vec<Option<usize>> = kit.iter().map(|k| k.as_ref().map(|k| k.found_at)).collect();
        if std::env::args().any(|a| a == "--verbose") {
            eprintln!("{}: kit found at {:?}", p.name, kit_found);
            for (i, v) in shuttle.iter().enumerate() {
                eprintln!(
                    "{}: shuttle {} ({}) found at {:?}",
                    p.name,
                    SHUTTLE_SCHEDULERS[i % SHUTTLE_SCHEDULERS.len()],
                    STYLES[i / SHUTTLE_SCHEDULERS.len()].0,
                    v
                );
            }
        }
        let sh = port.body.is_ok().then(|| {
            shuttle
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        (None, "n/a".to_string())
                    } else {
                        summary(v, s.budget)
                    }
                })
                .collect()
        });
        rows.push((p.name, p.min_preemptions, summary(&kit_found, s.budget), sh));
        kit_all.push((p.name, kit.into_iter().flatten().collect()));
    }

    let col = |style: usize, sched: &str| {
        style * SHUTTLE_SCHEDULERS.len() + SHUTTLE_SCHEDULERS.iter().position(|n| *n == sched).unwrap()
    };
    println!(
        "## 2. Schedules to the first bug, median over {} seeds\n\n\
         Budget {} schedules per seed for every tool; \"(k/n)\": only k of n seeds found the bug \
         (a miss counts as more than the budget). Kit: `Builder::new().seed(s).explore({})` with \
         its default strategy, the Portfolio. Shuttle: `Runner` with a seeded scheduler; \
         `yield_point()` ported as `yield_now()`. \"random/PCT best\" is the lowest median of \
         shuttle's random scheduler and PCT of depths 1, 2 and 3 (the issue's comparison); \
         \"best of all\" is the lowest over every scheduler (adding URW) and both stand-ins for \
         `yield_point` (table 2b). Either is picked per program after the fact.\n",
        s.seeds, s.budget, s.budget
    );
    println!(
        "| program | min preemptions | kit Portfolio | shuttle random | shuttle PCT 3 | shuttle URW | shuttle random/PCT best | kit <= it | shuttle best of all | kit <= it |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |");
    let mut met = [0usize; 2];
    let mut portable_count = 0;
    for (name, min, (kit_med, kit_text), sh) in &rows {
        let Some(sh) = sh else {
            println!(
                "| {name} | {min} | {kit_text} | not portable | not portable | not portable | - | - | - | - |"
            );
            continue;
        };
        portable_count += 1;
        // The lowest median over the configurations `keep` admits, with its name.
        let best = |keep: &dyn Fn(usize, &str) -> bool| {
            sh.iter()
                .enumerate()
                .filter(|(i, _)| {
                    keep(
                        i / SHUTTLE_SCHEDULERS.len(),
                        SHUTTLE_SCHEDULERS[i % SHUTTLE_SCHEDULERS.len()],
                    )
                })
                .filter_map(|(i, (m, _))| m.map(|m| (m, i)))
                .min()
        };
        let random_pct = best(&|style, sched| style == 0 && sched != "urw");
        let any = best(&|_, _| true);
        let mut cells = Vec::new();
        for (k, b) in [random_pct, any].into_iter().enumerate() {
            cells.push(match b {
                Some((m, i)) => format!(
                    "{m} ({}, {})",
                    SHUTTLE_SCHEDULERS[i % SHUTTLE_SCHEDULERS.len()],
                    STYLES[i / SHUTTLE_SCHEDULERS.len()].0
                ),
                None => format!(">{}", s.budget),
            });
            let verdict = match (kit_med, b) {
                (Some(k), Some((m, _))) if *k <= m => "yes".to_string(),
                (Some(_), None) => "yes".to_string(),
                (Some(k), Some((m, _))) => format!("no ({k} vs {m})"),
                (None, _) => "no".to_string(),
            };
            if verdict == "yes" {
                met[k] += 1;
            }
            cells.push(verdict);
        }
        println!(
            "| {name} | {min} | {kit_text} | {} | {} | {} | {} |",
            sh[col(0, "random")].1,
            sh[col(0, "pct3")].1,
            sh[col(0, "urw")].1,
            cells.join(" | "),
        );
    }
    println!(
        "\nKit at or below shuttle's random/PCT best on {}/{portable_count} portable programs, \
         at or below the best of all configurations on {}/{portable_count}.",
        met[0], met[1]
    );
    println!();
    for port in &ports {
        if let Err(why) = port.body {
            println!("- `{}` is not portable: {why}.", port.name);
        }
    }
    for n in &notes {
        println!("{n}");
    }

    println!("\n### 2b. Every shuttle scheduler, with each stand-in for `yield_point`\n");
    let mut header = String::from("| program |");
    let mut rule = String::from("| --- |");
    for (style, _) in STYLES {
        for sched in SHUTTLE_SCHEDULERS {
            header.push_str(&format!(" {sched}, {style} |"));
            rule.push_str(" ---: |");
        }
    }
    println!(
        "\"n/a\": the switch point is not a faithful stand-in there (`cancel_torn_write`: \
         its `yield_point` is where `select!` drops the save; a synchronous scheduling point \
         never returns control to the `select!`).\n"
    );
    println!(
        "| program | kit Portfolio |{}\n| --- | ---: |{}",
        &header[11..],
        &rule[7..]
    );
    for (name, _, (_, kit_text), sh) in &rows {
        if let Some(sh) = sh {
            let cells: Vec<&str> = sh.iter().map(|(_, t)| t.as_str()).collect();
            println!("| {name} | {kit_text} | {} |", cells.join(" | "));
        }
    }
    // How each configuration does over the portable programs as a whole.
    let portable: Vec<&Row> = rows.iter().filter(|r| r.3.is_some()).collect();
    let whole = |cells: Vec<&(Option<usize>, String)>| {
        let applicable: Vec<_> = cells.into_iter().filter(|(_, t)| t != "n/a").collect();
        let complete = applicable.iter().filter(|(_, t)| !t.contains('(')).count();
        let worst = if applicable.iter().any(|(m, _)| m.is_none()) {
            format!(">{}", s.budget)
        } else {
            applicable
                .iter()
                .filter_map(|(m, _)| *m)
                .max()
                .unwrap_or(0)
                .to_string()
        };
        (format!("{complete}/{}", applicable.len()), worst)
    };
    let kit_whole = whole(portable.iter().map(|r| &r.2).collect());
    let sh_whole: Vec<(String, String)> = (0..STYLES.len() * SHUTTLE_SCHEDULERS.len())
        .map(|i| whole(portable.iter().map(|r| &r.3.as_ref().unwrap()[i]).collect()))
        .collect();
    println!(
        "| *programs where every seed found the bug* | {} | {} |",
        kit_whole.0,
        sh_whole
            .iter()
            .map(|w| w.0.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!(
        "| *worst median* | {} | {} |",
        kit_whole.1,
        sh_whole
            .iter()
            .map(|w| w.1.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!();
    kit_all
}

// ---------------------------------------------------------------------------------------
// 3. Time to minimise
// ---------------------------------------------------------------------------------------

fn minimisation(s: &Settings, kit: &[(&'static str, Vec<KitRun>)]) {
    println!(
        "## 3. The kit's time to find and minimise each failure\n\n\
         Over the {} seeds of table 2: wall time of the whole failing `explore({})` (find, \
         minimise, replay the minimal schedule twice), and the same less the time of the \
         schedules before the failing one (minimise + replays). Replays from the report's line \
         `minimised to N preemptions (from M) in R replays`.\n",
        s.seeds, s.budget
    );
    println!(
        "| program | minimised to (preemptions) | replays median (max) | whole exploration median (max) | minimisation median (max) | under 2 s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for (name, runs) in kit {
        if runs.is_empty() {
            println!("| {name} | not found | | | | |");
            continue;
        }
        let replays: Vec<usize> = runs.iter().map(|r| r.replays).collect();
        let totals: Vec<Duration> = runs.iter().map(|r| r.total).collect();
        let mins: Vec<Duration> = runs.iter().map(|r| r.total.saturating_sub(r.before)).collect();
        let mut pre: Vec<usize> = runs.iter().map(|r| r.preemptions).collect();
        pre.sort_unstable();
        pre.dedup();
        let max_total = *totals.iter().max().unwrap();
        println!(
            "| {name} | {:?} | {} ({}) | {:.1?} ({:.1?}) | {:.1?} ({:.1?}) | {} |",
            pre,
            median(&replays),
            replays.iter().max().unwrap(),
            median(&totals),
            max_total,
            median(&mins),
            mins.iter().max().unwrap(),
            if max_total < Duration::from_secs(2) {
                "yes"
            } else {
                "no"
            }
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------
// 4. A check of the ports: the fixed twins pass under shuttle
// ---------------------------------------------------------------------------------------

fn fixed_twins(s: &Settings) {
    let n = s.fixed_schedules;
    println!(
        "## 4. Check of the ports: each ported fixed twin under every shuttle configuration\n\n\
         {n} schedules per configuration (seed 0); a port whose fixed twin failed would not be \
         a faithful port.\n"
    );
    println!("| program | result |");
    println!("| --- | --- |");
    let programs = corpus::all();
    for (p, port) in programs.iter().zip(shuttle_corpus::all()) {
        let Ok(fixed) = port.fixed else {
            continue;
        };
        let mut failed = Vec::new();
        let mut ran = 0;
        for (style, switch) in STYLES {
            if switch && !port.switch_ok {
                continue;
            }
            shuttle_corpus::use_switch_points(switch);
            for name in SHUTTLE_SCHEDULERS {
                ran += 1;
                if let (Some(at), _) = shuttle_named(name, 0, n, p, fixed) {
                    failed.push(format!("{name} ({style}) at schedule {at}"));
                }
            }
            shuttle_corpus::use_switch_points(false);
        }
        if failed.is_empty() {
            println!("| {} | passed all {ran} configurations |", p.name);
        } else {
            println!("| {} | **failed**: {} |", p.name, failed.join(", "));
        }
    }
    println!();
}
