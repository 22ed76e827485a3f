//! Mock benchmark: an `AsyncMock` returning a ready value against a mockall expectation
//! returning the same value, and against a hand-written async fn, side by side in one
//! process, all awaited in a kit run.
//!
//! Run with `cargo bench --bench mock` (add `-- --quick` for a fast smoke run). Each case
//! alternates the three and reports medians over the rounds. `-- --quick --only mock` runs
//! one case once, for `valgrind --tool=callgrind`. The mock records every call
//! (arguments, virtual start and end time, outcome), which is most of its cost; mockall
//! matches the call against its expectations and counts it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use async_testkit::mock::AsyncMock;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the cases one after the other, `rounds` times; returns their medians.
fn side_by_side<const N: usize>(
    rounds: usize,
    mut cases: [&mut dyn FnMut() -> Duration; N],
) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..rounds {
        for (case, t) in cases.iter_mut().zip(&mut times) {
            t.push(case());
        }
    }
    times.map(median)
}

/// The same dependency mocked with mockall.
#[mockall::automock]
trait Backend {
    async fn get(&self, n: u64) -> u64;
}

/// The hand-written stand-in: what a test double without a mock library looks like.
async fn hand_written(n: u64) -> u64 {
    black_box(n);
    7
}

/// Awaits `calls` calls one after the other; returns the wall time they took.
async fn time_calls<Fut: std::future::Future<Output = u64>>(
    calls: u64,
    call: impl Fn(u64) -> Fut,
) -> Duration {
    let t = Instant::now();
    let mut sum = 0u64;
    for i in 0..calls {
        sum = sum.wrapping_add(call(i).await);
    }
    black_box(sum);
    t.elapsed()
}

/// A run for one case: no I/O driver, and no slow-poll warning (a case is one long poll).
fn kit() -> async_testkit::Builder {
    async_testkit::Builder::new()
        .io(false)
        .slow_poll(Duration::from_secs(3600))
}

fn mock_run(calls: u64) -> Duration {
    kit().run(move || async move {
        let mock = AsyncMock::<u64, u64>::new().returns(7);
        time_calls(calls, |i| mock.call(i)).await
    })
}

fn mockall_run(calls: u64) -> Duration {
    kit().run(move || async move {
        let mut backend = MockBackend::new();
        backend.expect_get().return_const(7u64);
        time_calls(calls, |i| backend.get(i)).await
    })
}

fn hand_run(calls: u64) -> Duration {
    kit().run(move || async move { time_calls(calls, hand_written).await })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 7 };
    let calls: u64 = if quick { 100_000 } else { 1_000_000 };

    // `--only mock|mockall|hand`: one case, one round (for callgrind, whose instruction
    // counts are steady where wall time is not).
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let case = args.get(i + 1).map(String::as_str);
        let run: fn(u64) -> Duration = match case {
            Some("mock") => mock_run,
            Some("mockall") => mockall_run,
            Some("hand") => hand_run,
            _ => panic!("--only takes mock, mockall or hand"),
        };
        println!("{}: {calls} calls in {:.3?}", case.unwrap_or(""), run(calls));
        return;
    }

    let [mock, mockall, hand] = side_by_side(
        rounds,
        [&mut || mock_run(calls), &mut || mockall_run(calls), &mut || {
            hand_run(calls)
        }],
    );
    let per = |d: Duration| d.as_secs_f64() * 1e9 / calls as f64;
    println!(
        "{calls} calls returning a ready value, medians of {rounds} rounds:\n\
         \x20 AsyncMock::returns   {mock:>10.3?} ({:.1} ns/call)\n\
         \x20 mockall return_const {mockall:>10.3?} ({:.1} ns/call)\n\
         \x20 hand-written fn      {hand:>10.3?} ({:.1} ns/call)\n\
         \x20 AsyncMock / mockall  {:.2}x",
        per(mock),
        per(mockall),
        per(hand),
        mock.as_secs_f64() / mockall.as_secs_f64()
    );
}
