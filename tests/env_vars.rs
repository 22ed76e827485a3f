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
    // ASYNC_TESTKIT_SEED chooses the seed of a single run...
    let r = with_var("ASYNC_TESTKIT_SEED", "77", || {
        Builder::new().seed(1).try_run(|| async {})
    });
    assert_eq!(r.unwrap().seed(), 77);
    // ...and seeds an exploration without shrinking it: the same schedules as an
    // exploration from that seed in the code.
    let seeds = |r: async_testkit::Report<Vec<u64>>| (r.schedules(), r.into_value());
    let body = || async { vec![async_testkit::seed()] };
    let from_env = with_var("ASYNC_TESTKIT_SEED", "77", || {
        Builder::new().seed(1).explore(50).try_run(body)
    });
    let from_code = Builder::new().seed(77).explore(50).try_run(body);
    assert_eq!(seeds(from_env.unwrap()), seeds(from_code.unwrap()));
    assert_eq!(
        Builder::new()
            .seed(77)
            .explore(50)
            .try_run(body)
            .unwrap()
            .schedules(),
        50
    );
    // The race of the README's tour is found with the variable set, as without it.
    let racy = || async {
        let n = std::rc::Rc::new(std::cell::Cell::new(0));
        let t = async_testkit::spawn({
            let n = n.clone();
            async move {
                let v = n.get();
                async_testkit::yield_point().await;
                n.set(v + 1);
            }
        });
        let v = n.get();
        async_testkit::yield_point().await;
        n.set(v + 1);
        t.await.unwrap();
        assert_eq!(n.get(), 2, "lost update");
    };
    let f = with_var("ASYNC_TESTKIT_SEED", "7", || {
        Builder::new().explore(1000).try_run(racy)
    })
    .unwrap_err();
    assert!(f.to_string().contains("lost update"), "{f}");
    assert!(
        f.to_string().contains("replay: ASYNC_TESTKIT_REPLAY=atk1:"),
        "{f}"
    );

    // Under cargo-nextest (it sets NEXTEST=1 in each test process) the replay lines say
    // how to run the one test with nextest.
    let f = with_var("NEXTEST", "1", || Builder::new().explore(1000).try_run(racy)).unwrap_err();
    let text = f.to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("replay: ASYNC_TESTKIT_REPLAY=atk1:"))
        .unwrap_or_else(|| panic!("no replay line in {text}"));
    assert!(
        line.ends_with(" cargo nextest run -E 'test(=replay_variables_override_the_code)'"),
        "{line}"
    );
    let f = with_var("NEXTEST", "1", || {
        Builder::new().seed(3).try_run(|| async { panic!("boom") })
    })
    .unwrap_err();
    assert!(
        f.to_string().contains(
            "replay: ASYNC_TESTKIT_SEED=3 cargo nextest run -E 'test(=replay_variables_override_the_code)'"
        ),
        "{f}"
    );
    if std::env::var_os("NEXTEST").is_none() && std::env::var_os("NEXTEST_RUN_ID").is_none() {
        let f = Builder::new()
            .seed(3)
            .try_run(|| async { panic!("boom") })
            .unwrap_err();
        assert!(
            f.to_string().contains(
                "replay: ASYNC_TESTKIT_SEED=3 cargo test -- --exact replay_variables_override_the_code"
            ),
            "{f}"
        );
    }

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

    // ASYNC_TESTKIT_EXPLORE deepens every exploring test (and leaves single runs alone);
    // it never makes an exploration smaller, and a count it cannot honour is an error.
    let r = with_var("ASYNC_TESTKIT_EXPLORE", "37", || {
        Builder::new().explore(5).try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.schedules(), 37);
    let r = with_var("ASYNC_TESTKIT_EXPLORE", "3", || {
        Builder::new().explore(20).try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.schedules(), 20);
    for (value, message) in [
        (
            "0",
            "ASYNC_TESTKIT_EXPLORE=0 cannot be honoured: an exploration runs from 1 to 4294967295 schedules; \
             for a time budget instead of a count use Builder::explore_for",
        ),
        (
            "5000000000",
            "ASYNC_TESTKIT_EXPLORE=5000000000 cannot be honoured: an exploration runs from 1 to 4294967295 \
             schedules; for a time budget instead of a count use Builder::explore_for",
        ),
        (
            "-1",
            "ASYNC_TESTKIT_EXPLORE=\"-1\" is not a number: set it to the number of schedules to run, like \
             ASYNC_TESTKIT_EXPLORE=7",
        ),
    ] {
        let m = support::caught_panic(|| {
            with_var("ASYNC_TESTKIT_EXPLORE", value, || {
                Builder::new().explore(5).run(|| async {})
            });
        });
        assert_eq!(m, message);
    }
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
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    // The shards together run exactly the schedules of one unsharded exploration, each
    // in one shard, whatever the strategy learns from earlier runs.
    for strategy in ["portfolio", "urw", "pct2", "random"] {
        let strategy = Strategy::from_name(strategy).unwrap();
        let explore = |shard: Option<&str>| {
            lock(&SCHEDULES).clear();
            let b = Builder::new().strategy(strategy).explore(70);
            let r = match shard {
                Some(s) => with_var("ASYNC_TESTKIT_SHARD", s, || b.try_run(interleaving)),
                None => b.try_run(interleaving),
            }
            .unwrap();
            let mut seen = lock(&SCHEDULES).clone();
            seen.sort();
            seen.dedup();
            (r.schedules(), seen)
        };
        let (n, unsharded) = explore(None);
        assert_eq!((n, unsharded.len()), (70, 70));
        let mut union = Vec::new();
        let mut total = 0;
        for s in ["0/3", "1/3", "2/3"] {
            let (n, seen) = explore(Some(s));
            total += n;
            union.extend(seen);
        }
        union.sort();
        union.dedup();
        assert_eq!(total, 70, "{strategy}");
        assert!(union == unsharded, "{strategy}: the shards ran other schedules");
    }
    // DFS cannot be split: the first shard runs the whole search, and the others say so.
    let dfs = Builder::new()
        .strategy(Strategy::Dfs { max_preemptions: 2 })
        .explore(1000);
    let whole = dfs.clone().try_run(interleaving).unwrap().schedules();
    let first = with_var("ASYNC_TESTKIT_SHARD", "0/2", || dfs.clone().try_run(interleaving)).unwrap();
    assert_eq!(first.schedules(), whole);
    let other = with_var("ASYNC_TESTKIT_SHARD", "1/2", || dfs.clone().try_run(interleaving)).unwrap();
    assert_eq!(other.schedules(), 1);
    assert_eq!(
        other.warnings(),
        [
            "ASYNC_TESTKIT_SHARD=1/2: a DFS exploration cannot be split (each schedule follows from the last \
          run), so shard 0 runs the whole search and this shard ran the body once, FIFO (the search's first \
          schedule)"
        ]
    );
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
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());

    // A token that does not fit the test still runs, and the report says so.
    let misfit = "the replayed schedule does not fit this test";
    let token = Schedule::from_choices(vec![5]).to_token();
    let r = with_var("ASYNC_TESTKIT_REPLAY", &token, || {
        Builder::new().try_run(|| async {
            let t = async_testkit::spawn(async {});
            async_testkit::yield_point().await;
            t.await.unwrap();
        })
    })
    .unwrap();
    assert_eq!(
        r.warnings(),
        [format!(
            "{misfit}: its choice 1 is option 6 of a step with 2 options (read as option 2); a token replays \
             the test it was printed for, on the same code: rerun that test's exploration for a fresh one"
        )]
    );
    let token = Schedule::from_choices(vec![0, 1, 1]).to_token();
    let f = with_var("ASYNC_TESTKIT_REPLAY", &token, || {
        Builder::new().try_run(|| async { panic!("boom") })
    })
    .unwrap_err();
    assert!(
        f.to_string()
            .contains(&format!("{misfit}: it lists 3 choices and the run asked for 0")),
        "{f}"
    );
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

/// Each run of `interleaving`: its seed and the order its tasks' steps ran in.
static SCHEDULES: std::sync::Mutex<Vec<(u64, String)>> = std::sync::Mutex::new(Vec::new());

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Three tasks of four steps each, a yield point between steps: the order the steps ran
/// in tells the schedule.
async fn interleaving() {
    let order = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let tasks: Vec<_> = (0..3)
        .map(|t| {
            let order = order.clone();
            async_testkit::spawn(async move {
                for _ in 0..4 {
                    lock(&order).push(char::from(b'a' + t));
                    async_testkit::yield_point().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let order = lock(&order).clone();
    lock(&SCHEDULES).push((async_testkit::seed(), order));
}
