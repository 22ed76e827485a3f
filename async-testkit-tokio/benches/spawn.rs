//! `tokio::spawn` and a join through async-testkit-tokio, outside any kit run, against
//! tokio's own `tokio::spawn`, side by side in one process on one runtime.
//!
//! ```sh
//! cargo bench -p async-testkit-tokio --bench spawn --features rt,explore  # routed spawn
//! cargo bench -p async-testkit-tokio --bench spawn --features rt          # plain re-export
//! ```
//!
//! Options: `--quick` (a smoke run), `--rounds N`, `--tasks N` (spawns per case and round),
//! `--only reexport|tokio` (one side only). Two cases: one task spawned and awaited at a
//! time, and a batch of tasks spawned before any is awaited. Rounds alternate the two
//! sides; the table shows medians.
//!
//! Wall clock on a shared machine moves by more than the difference measured; instruction
//! counts do not. Each side alone under callgrind, counting only its own functions (five
//! runs a side, take the medians):
//!
//! ```sh
//! cargo bench -p async-testkit-tokio --bench spawn --features rt,explore --no-run
//! B=$(ls -t target/release/deps/spawn-* | grep -v '\.d$' | head -1)
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*reexport_*' \
//!     $B --only reexport --rounds 1 --tasks 10000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*tokio_*' \
//!     $B --only tokio --rounds 1 --tasks 10000
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

/// One side of one case, a function of its own (callgrind counts it by name): `$spawn`
/// each of `n` tasks and await it at once (`sequential`) or after all are spawned
/// (`batch`), summing what the tasks return.
macro_rules! side {
    ($name:ident, $spawn:path, sequential) => {
        #[inline(never)]
        fn $name(rt: &Runtime, n: u64) -> u64 {
            rt.block_on(async move {
                let mut sum = 0;
                for i in 0..n {
                    sum += $spawn(async move { i }).await.unwrap();
                }
                sum
            })
        }
    };
    ($name:ident, $spawn:path, batch) => {
        #[inline(never)]
        fn $name(rt: &Runtime, n: u64) -> u64 {
            rt.block_on(async move {
                let handles: Vec<_> = (0..n).map(|i| $spawn(async move { i })).collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                sum
            })
        }
    };
}

// The re-export: with `explore`, a check for a kit run on this thread, then tokio's spawn,
// and the handle wrapped; without it, tokio's own function.
side!(reexport_sequential, async_testkit_tokio::spawn, sequential);
side!(reexport_batch, async_testkit_tokio::spawn, batch);
side!(tokio_sequential, tokio::spawn, sequential);
side!(tokio_batch, tokio::spawn, batch);

type Side = fn(&Runtime, u64) -> u64;

fn time(rt: &Runtime, side: Side, n: u64) -> Duration {
    let t = Instant::now();
    let sum = black_box(side(rt, black_box(n)));
    let took = t.elapsed();
    assert_eq!(sum, n * (n - 1) / 2);
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let number = |flag: &str| {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse::<u64>().ok()
    };
    let rounds = number("--rounds").unwrap_or(if quick { 3 } else { 21 });
    let n = number("--tasks").unwrap_or(if quick { 2_000 } else { 20_000 });
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let cases: [(&str, Side, Side); 2] = [
        (
            "spawn, then await, one task at a time",
            reexport_sequential,
            tokio_sequential,
        ),
        ("spawn a batch, then await each", reexport_batch, tokio_batch),
    ];
    if let Some(side) = only {
        // One side only, every case, `rounds` times: what callgrind counts.
        for _ in 0..rounds {
            for (_, reexport, own) in cases {
                match side.as_str() {
                    "reexport" => time(&rt, reexport, n),
                    "tokio" => time(&rt, own, n),
                    other => panic!("--only takes reexport or tokio, not {other:?}"),
                };
            }
        }
        return;
    }
    let routed = if cfg!(feature = "explore") {
        "with `explore`: spawn routed, outside a kit run"
    } else {
        "without `explore`: the plain re-export"
    };
    println!("async-testkit-tokio {routed}; {n} tasks per case, median of {rounds} rounds\n");
    println!("| case | re-export | tokio | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, reexport, own) in cases {
        time(&rt, reexport, n); // warm up both
        time(&rt, own, n);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            a.push(time(&rt, reexport, n));
            b.push(time(&rt, own, n));
        }
        let (a, b) = (median(a), median(b));
        println!(
            "| {name} | {a:.2?} | {b:.2?} | {:.3}x |",
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}
