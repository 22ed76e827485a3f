//! The re-export's `JoinSet` hands tasks back in tokio's order (the order their wakes
//! came), with kit tasks inside a run and with tokio's tasks outside one: each program runs
//! three ways and must give the same result as tokio's own `JoinSet` on tokio's runtime.
#![cfg(feature = "explore")]

extern crate async_testkit_tokio as tokio;

use std::time::Duration;

fn paused_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Runs `$body` (an async block naming its set type `JS`) with the re-export's `JoinSet`
/// under the kit and on tokio, and with tokio's own on tokio; all three must agree.
macro_rules! same_as_tokios_join_set {
    ($body:expr) => {{
        let kit = {
            type JS<T> = tokio::task::JoinSet<T>;
            async_testkit::Builder::new()
                .try_run(|| $body)
                .unwrap_or_else(|f| panic!("{f}"))
                .into_value()
        };
        let reexport_on_tokio = {
            type JS<T> = tokio::task::JoinSet<T>;
            paused_tokio().block_on($body)
        };
        let tokios = {
            type JS<T> = tokio::__tokio::task::JoinSet<T>;
            paused_tokio().block_on($body)
        };
        assert_eq!(
            reexport_on_tokio, tokios,
            "the re-export's set on tokio (left) against tokio's set (right)"
        );
        assert_eq!(
            kit, tokios,
            "under the kit (left) against tokio's set on tokio (right)"
        );
        kit
    }};
}

#[test]
fn tasks_that_finished_before_the_join_come_back_in_the_order_they_finished() {
    let got = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        for (name, ms) in [("a", 30u64), ("b", 20), ("c", 10)] {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                name
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    assert_eq!(got, ["c", "b", "a"]);
}

#[test]
fn without_timers_the_order_is_still_the_order_of_the_wakes() {
    let got = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
        let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
        set.spawn(async move {
            rx1.await.unwrap();
            "first spawned"
        });
        set.spawn(async move {
            rx2.await.unwrap();
            tx1.send(()).unwrap();
            "second spawned"
        });
        set.spawn(async move {
            tx2.send(()).unwrap();
            "third spawned"
        });
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    assert_eq!(got, ["third spawned", "second spawned", "first spawned"]);
}

#[test]
fn many_tasks_and_join_all_keep_the_order() {
    let got = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        for i in 0..40u64 {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(100 - i)).await;
                i
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        set.join_all().await
    });
    assert_eq!(got, (0..40).rev().collect::<Vec<_>>());
}

#[test]
fn joins_while_tasks_run_and_try_join_next_agree() {
    let got = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        for i in 0..6u64 {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * (i % 3))).await;
                tokio::task::yield_now().await;
                i
            });
        }
        let mut out = Vec::new();
        out.push(set.try_join_next().map(|r| r.unwrap()));
        tokio::task::yield_now().await;
        out.push(set.try_join_next().map(|r| r.unwrap()));
        while let Some(r) = set.join_next().await {
            out.push(Some(r.unwrap()));
            out.push(set.try_join_next().map(|r| r.unwrap()));
        }
        out
    });
    assert_eq!(
        got,
        [None, None, Some(3), Some(0), Some(4), Some(1), Some(5), Some(2)]
    );
}

#[test]
fn a_pending_join_is_polled_once_per_wake() {
    let polls = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        set.spawn(tokio::time::sleep(Duration::from_millis(5)));
        set.spawn(tokio::time::sleep(Duration::from_millis(10)));
        let mut polls = 0u32;
        let mut joined = 0;
        while joined < 2 {
            std::future::poll_fn(|cx| {
                polls += 1;
                set.poll_join_next(cx)
            })
            .await
            .unwrap()
            .unwrap();
            joined += 1;
        }
        polls
    });
    assert_eq!(polls, 4);
}

#[test]
fn aborted_tasks_come_back_in_tokios_order() {
    let got = same_as_tokios_join_set!(async {
        let mut set = JS::new();
        let mut ids = Vec::new();
        for i in 0..4u32 {
            ids.push((set.spawn(std::future::pending::<u32>()).id(), i));
        }
        set.spawn(async { 9 });
        tokio::task::yield_now().await;
        set.abort_all();
        let mut out = Vec::new();
        while let Some(r) = set.join_next_with_id().await {
            out.push(match r {
                Ok((_, v)) => format!("done {v}"),
                Err(e) => format!(
                    "cancelled {}",
                    ids.iter().find(|(id, _)| *id == e.id()).unwrap().1
                ),
            });
        }
        out
    });
    assert_eq!(
        got,
        [
            "done 9",
            "cancelled 0",
            "cancelled 1",
            "cancelled 2",
            "cancelled 3"
        ]
    );
}

/// A test that takes the first task it spawned to be the first joined is wrong (tokio joins
/// the first to finish): the kit's run fails it, as tokio's order does, and so does every
/// exploration.
#[test]
fn assuming_spawn_order_at_the_join_fails() {
    async fn first_joined_is_the_first_spawned() {
        let mut set = tokio::task::JoinSet::new();
        set.spawn(async {
            tokio::task::yield_now().await;
            "a"
        });
        set.spawn(async { "b" });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            set.join_next().await.unwrap().unwrap(),
            "a",
            "joined out of spawn order"
        );
    }
    for builder in [
        async_testkit::Builder::new(),
        async_testkit::Builder::new().explore(50),
        async_testkit::Builder::new()
            .strategy(async_testkit::Strategy::Dfs { max_preemptions: 3 })
            .explore(50),
    ] {
        let f = builder.try_run(first_joined_is_the_first_spawned).unwrap_err();
        assert!(f.panic_messages()[0].contains("joined out of spawn order"), "{f}");
    }
}
