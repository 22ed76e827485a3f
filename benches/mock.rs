//! Mock benchmark: an `AsyncMock` returning a ready value against a hand-written async fn
//! returning the same value, side by side in one process, both awaited in a kit run.
//!
//! Run with `cargo bench --bench mock` (add `-- --quick` for a fast smoke run). Each case
//! alternates the two and reports medians over the rounds. The mock records every call
//! (arguments, virtual start and end time, outcome), which is most of its cost.

use std::hint::black_box;
use std::time::{Duration, Instant};

use async_testkit::mock::AsyncMock;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `a` and `b` alternately `rounds` times; returns their medians.
fn side_by_side(
    rounds: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) -> (Duration, Duration) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        x.push(a());
        y.push(b());
    }
    (median(x), median(y))
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

fn mock_run(calls: u64) -> Duration {
    async_testkit::Builder::new().io(false).run(move || async move {
        let mock = AsyncMock::<u64, u64>::new().returns(7);
        time_calls(calls, |i| mock.call(i)).await
    })
}

fn hand_run(calls: u64) -> Duration {
    async_testkit::Builder::new()
        .io(false)
        .run(move || async move { time_calls(calls, hand_written).await })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 7 };
    let calls: u64 = if quick { 100_000 } else { 1_000_000 };

    let (mock, hand) = side_by_side(rounds, || mock_run(calls), || hand_run(calls));
    let per = |d: Duration| d.as_secs_f64() * 1e9 / calls as f64;
    println!(
        "{:<48} mock {:>10.3?} ({:.1} ns/call)   hand-written {:>10.3?} ({:.1} ns/call)   ratio {:.1}x",
        format!("{calls} calls returning a ready value"),
        mock,
        per(mock),
        hand,
        per(hand),
        mock.as_secs_f64() / hand.as_secs_f64()
    );
}
