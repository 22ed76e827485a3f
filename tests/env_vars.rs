//! The replay variables. Environment variables are process-wide, so this binary holds a
//! single test that sets them one after another.

mod support;

use async_testkit::{Builder, Schedule, Strategy};

fn with_var<R>(name: &str, value: &str, f: impl FnOnce() -> R) -> R {
    // SAFETY: this binary has one test, so no other thread reads the environment now.
    unsafe { std::env::set_var(name, value) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    unsafe { std::env::remove_var(name) };
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[test]
fn replay_variables_override_the_code() {
    // ASYNC_TESTKIT_SEED replays one run with that seed, even when the code explores.
    let r = with_var("ASYNC_TESTKIT_SEED", "77", || {
        Builder::new().seed(1).explore(500).try_run(|| async {})
    });
    let r = r.unwrap();
    assert_eq!(r.seed(), 77);
    assert_eq!(r.schedules(), 1);

    let r = with_var("ASYNC_TESTKIT_STRATEGY", "random", || {
        Builder::new().try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.strategy(), Strategy::Random);

    let m = support::caught_panic(|| {
        with_var("ASYNC_TESTKIT_SEED", "seven", || Builder::new().run(|| async {}));
    });
    assert_eq!(
        m,
        "ASYNC_TESTKIT_SEED=\"seven\" is not a number: set it to the seed printed in a failure report, like ASYNC_TESTKIT_SEED=7"
    );
    let m = support::caught_panic(|| {
        with_var("ASYNC_TESTKIT_STRATEGY", "chaos", || {
            Builder::new().run(|| async {})
        });
    });
    assert_eq!(
        m,
        "ASYNC_TESTKIT_STRATEGY=\"chaos\" is not a strategy async-testkit knows: use one of fifo, random, urw, \
         portfolio, pct (or pct1 to pct16), pcty (or pcty1 to pcty16), dfs (or dfs0, dfs1, ...)"
    );

    // ASYNC_TESTKIT_EXPLORE deepens every exploring test (and leaves single runs alone).
    let r = with_var("ASYNC_TESTKIT_EXPLORE", "37", || {
        Builder::new().explore(5).try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.schedules(), 37);
    let r = with_var("ASYNC_TESTKIT_EXPLORE", "37", || {
        Builder::new().try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.schedules(), 1);

    // ASYNC_TESTKIT_SHARD=i/n runs every n-th schedule from the i-th.
    let r = with_var("ASYNC_TESTKIT_SHARD", "1/4", || {
        Builder::new().explore(40).try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.schedules(), 10);
    let m = support::caught_panic(|| {
        with_var("ASYNC_TESTKIT_SHARD", "4/4", || {
            Builder::new().explore(4).run(|| async {})
        });
    });
    assert_eq!(
        m,
        "ASYNC_TESTKIT_SHARD=\"4/4\" is not a shard: write i/n with 0 <= i < n, like ASYNC_TESTKIT_SHARD=2/8 \
         for the third of eight machines"
    );

    // ASYNC_TESTKIT_REPLAY replays a token: here, the choice that keeps the body running
    // at its yield point (option 2), which FIFO would not make.
    let token = Schedule::from_choices(vec![1]).to_token();
    let r = with_var("ASYNC_TESTKIT_REPLAY", &token, || {
        Builder::new().explore(100).try_run(|| async {
            let t = async_testkit::spawn(async {});
            async_testkit::yield_point().await;
            let first = t.is_finished();
            t.await.unwrap();
            first
        })
    })
    .unwrap();
    assert!(!r.value());
    assert_eq!(r.schedules(), 1);
    let m = support::caught_panic(|| {
        with_var("ASYNC_TESTKIT_REPLAY", "atk1:0.0.0:pct2:1:0", || {
            Builder::new().run(|| async {})
        });
    });
    assert!(
        m.starts_with(
            "ASYNC_TESTKIT_REPLAY: replay token \"atk1:0.0.0:pct2:1:0\" was made by async-testkit 0.0.0, and this is"
        ),
        "{m}"
    );
}
